//! `tui.toml`: keymap, theme and log settings. Defaults are compiled in; the file (found in
//! `$HARBOUR_CONFIG_DIR`, else `$XDG_CONFIG_HOME/harbour/`) overrides them key by key, and an
//! unknown key is an error that names it. `harbour-tui --print-config` prints the result.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::keymap::{self, Keymap, KeymapConfig};
use super::theme::{self, ColorMode, Theme, ThemeConfig};

pub const FILE_NAME: &str = "tui.toml";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// How much of the end of a log to load when opening it.
    pub tail_kib: u64,
    /// The most lines kept in memory; older ones are paged in again from the daemon.
    pub max_lines: usize,
    /// Where `ctrl-s` writes logs (the current directory when unset).
    pub save_dir: Option<String>,
    /// How many of a container's last lines to load when opening its output.
    pub container_tail: u32,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            tail_kib: 512,
            max_lines: 50_000,
            save_dir: None,
            container_tail: 1000,
        }
    }
}

/// The file's shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConfigFile {
    pub color: ColorMode,
    /// Capture the mouse (off by default, so the terminal's own selection works).
    pub mouse: bool,
    pub keys: KeymapConfig,
    pub theme: ThemeConfig,
    pub logs: LogSettings,
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: ConfigFile,
    pub keymap: Keymap,
    pub theme: Theme,
    /// Where it was read from, if a file was there.
    pub source: Option<PathBuf>,
}

impl Config {
    /// The defaults, for tests and when there is no file.
    pub fn defaults(mode: ColorMode) -> Self {
        Self::from_file(ConfigFile::default(), None, mode).unwrap_or_else(|_| Self {
            file: ConfigFile::default(),
            keymap: Keymap::default(),
            theme: Theme::default(),
            source: None,
        })
    }

    fn from_file(
        file: ConfigFile,
        source: Option<PathBuf>,
        mode: ColorMode,
    ) -> Result<Self, String> {
        let mut keys = keymap::default_config();
        for (section, overrides) in &file.keys {
            let entry = keys.entry(section.clone()).or_default();
            for (k, a) in overrides {
                entry.insert(k.clone(), *a);
            }
        }
        let keymap = Keymap::new(keys.clone())?;
        let mut theme_cfg = theme::default_config();
        theme_cfg.extend(file.theme.clone());
        let mode = if file.color == ColorMode::Auto {
            mode
        } else {
            file.color
        };
        let theme = Theme::new(&theme_cfg, mode)?;
        let file = ConfigFile {
            keys,
            theme: theme_cfg,
            ..file
        };
        Ok(Self {
            file,
            keymap,
            theme,
            source,
        })
    }

    /// Reads `path` if it exists; defaults otherwise.
    pub fn load(path: &Path, mode: ColorMode) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let file: ConfigFile =
                    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                Self::from_file(file, Some(path.to_owned()), mode)
                    .map_err(|e| format!("{}: {e}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Self::from_file(ConfigFile::default(), None, mode)
            }
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// The effective configuration as TOML, ready to copy into `tui.toml`.
    pub fn to_toml(&self) -> String {
        let header = match &self.source {
            Some(p) => format!(
                "# effective harbour-tui config (defaults + {})\n",
                p.display()
            ),
            None => "# effective harbour-tui config (compiled-in defaults; no tui.toml found)\n"
                .to_owned(),
        };
        header
            + &toml::to_string_pretty(&self.file)
                .unwrap_or_else(|e| format!("# cannot print: {e}\n"))
    }
}

/// Where `tui.toml` is looked for.
pub fn default_path() -> PathBuf {
    if let Some(dir) = std::env::var_os("HARBOUR_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join(FILE_NAME);
    }
    directories::BaseDirs::new()
        .map(|b| b.config_dir().join("harbour").join(FILE_NAME))
        .unwrap_or_else(|| PathBuf::from(FILE_NAME))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::action::{Action, Screen};
    use crate::tui::keymap::KeyCombo;

    #[test]
    fn file_overrides_defaults_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(
            &path,
            "color = \"16\"\n[keys.runs]\n\"x\" = \"kill\"\n[theme]\nselected = \"black on yellow\"\n[logs]\ntail_kib = 64\n",
        )
        .unwrap();
        let cfg = Config::load(&path, ColorMode::Truecolor).unwrap();
        assert_eq!(
            cfg.keymap
                .lookup(Screen::Runs, "x".parse::<KeyCombo>().unwrap()),
            Some(Action::Kill)
        );
        // Defaults are still there.
        assert_eq!(
            cfg.keymap
                .lookup(Screen::Runs, "ctrl-k".parse::<KeyCombo>().unwrap()),
            Some(Action::Kill)
        );
        assert_eq!(cfg.file.logs.tail_kib, 64);
        assert_eq!(cfg.theme.mode, ColorMode::Ansi16);
        // What --print-config prints loads back to the same thing.
        std::fs::write(&path, cfg.to_toml()).unwrap();
        let again = Config::load(&path, ColorMode::Truecolor).unwrap();
        assert_eq!(again.file, cfg.file);
    }

    #[test]
    fn unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "colour = \"16\"\n").unwrap();
        let err = Config::load(&path, ColorMode::Auto).unwrap_err();
        assert!(err.contains("colour"), "{err}");
        std::fs::write(&path, "[keys.runs]\n\"x\" = \"explode\"\n").unwrap();
        let err = Config::load(&path, ColorMode::Auto).unwrap_err();
        assert!(err.contains("explode"), "{err}");
        std::fs::write(&path, "[theme]\nshiny = \"red\"\n").unwrap();
        let err = Config::load(&path, ColorMode::Auto).unwrap_err();
        assert!(err.contains("shiny"), "{err}");
    }

    #[test]
    fn missing_file_gives_defaults() {
        let cfg = Config::load(Path::new("/nonexistent/tui.toml"), ColorMode::None).unwrap();
        assert!(cfg.source.is_none());
        assert_eq!(
            cfg.keymap
                .lookup(Screen::Runs, "q".parse::<KeyCombo>().unwrap()),
            Some(Action::Quit)
        );
    }
}
