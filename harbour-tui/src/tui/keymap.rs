//! Keys to actions. The keymap is data: sections (`global` and one per screen) mapping key
//! names like `ctrl-k`, `G`, `pgdn` to action names. A screen's section is looked up first,
//! then `global`, so a screen can give a key its own meaning.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::{Action, Screen};

/// A key with its modifiers, normalised so `G` and `shift-g` are the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyCombo {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl KeyCombo {
    pub fn new(code: KeyCode, mods: KeyModifiers) -> Self {
        let mut mods = mods & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let mut code = code;
        if let KeyCode::Char(c) = code {
            // Terminals report shifted characters as the character itself, sometimes with
            // SHIFT: the case carries the shift.
            if mods.contains(KeyModifiers::SHIFT) {
                code = KeyCode::Char(c.to_ascii_uppercase());
                mods.remove(KeyModifiers::SHIFT);
            }
            if mods.contains(KeyModifiers::CONTROL) {
                code = KeyCode::Char(c.to_ascii_lowercase());
            }
        }
        if code == KeyCode::BackTab {
            mods.remove(KeyModifiers::SHIFT);
        }
        Self { code, mods }
    }

    pub fn from_event(ev: &KeyEvent) -> Self {
        Self::new(ev.code, ev.modifiers)
    }
}

impl FromStr for KeyCombo {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = s;
        // A lone "-" is the minus key, not a separator.
        while rest.len() > 1 {
            let Some((prefix, tail)) = rest.split_once('-') else {
                break;
            };
            match prefix.to_ascii_lowercase().as_str() {
                "ctrl" | "c" => mods |= KeyModifiers::CONTROL,
                "alt" | "a" | "meta" | "m" => mods |= KeyModifiers::ALT,
                "shift" | "s" => mods |= KeyModifiers::SHIFT,
                _ => break,
            }
            rest = tail;
        }
        let code = match rest.to_ascii_lowercase().as_str() {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "space" => KeyCode::Char(' '),
            "backspace" | "bs" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "insert" | "ins" => KeyCode::Insert,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pgup" | "pageup" => KeyCode::PageUp,
            "pgdn" | "pagedown" => KeyCode::PageDown,
            f if f.len() > 1 && f.starts_with('f') && f[1..].parse::<u8>().is_ok() => {
                KeyCode::F(f[1..].parse::<u8>().map_err(|e| e.to_string())?)
            }
            _ => {
                let mut chars = rest.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => KeyCode::Char(c),
                    _ => {
                        return Err(format!(
                            "'{s}' is not a key; write keys like q, G, ctrl-k, pgdn, enter, f5"
                        ));
                    }
                }
            }
        };
        Ok(Self::new(code, mods))
    }
}

impl fmt::Display for KeyCombo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("shift-")?;
        }
        match self.code {
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("backtab"),
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("delete"),
            KeyCode::Insert => f.write_str("insert"),
            KeyCode::Up => f.write_str("up"),
            KeyCode::Down => f.write_str("down"),
            KeyCode::Left => f.write_str("left"),
            KeyCode::Right => f.write_str("right"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// The keymap as written: section -> key name -> action name.
pub type KeymapConfig = BTreeMap<String, BTreeMap<String, Action>>;

/// The sections a keymap may have.
pub const SECTIONS: [&str; 12] = [
    "global",
    "dashboard",
    "runs",
    "jobs",
    "logs",
    "details",
    "sql",
    "clusters",
    "notebooks",
    "monitor",
    "spark",
    "ingest",
];

/// The compiled-in keys.
pub fn default_config() -> KeymapConfig {
    use Action as A;
    let mut map = KeymapConfig::new();
    let mut put = |section: &str, keys: &[(&str, Action)]| {
        let entry = map.entry(section.to_owned()).or_default();
        for (k, a) in keys {
            entry.insert((*k).to_owned(), *a);
        }
    };
    put(
        "global",
        &[
            ("q", A::Quit),
            ("ctrl-c", A::Quit),
            ("esc", A::Back),
            ("?", A::Help),
            (":", A::Palette),
            ("]", A::NextScreen),
            ("[", A::PrevScreen),
            ("1", A::GoDashboard),
            ("2", A::GoRuns),
            ("3", A::GoJobs),
            ("4", A::GoLogs),
            ("5", A::GoSql),
            ("6", A::GoClusters),
            ("7", A::GoMonitor),
            ("8", A::GoNotebooks),
            ("9", A::GoSpark),
            ("0", A::GoIngest),
            ("k", A::Up),
            ("up", A::Up),
            ("j", A::Down),
            ("down", A::Down),
            ("h", A::Left),
            ("left", A::Left),
            ("l", A::Right),
            ("right", A::Right),
            ("pgup", A::PageUp),
            ("ctrl-b", A::PageUp),
            ("ctrl-u", A::PageUp),
            ("pgdn", A::PageDown),
            ("ctrl-f", A::PageDown),
            ("ctrl-d", A::PageDown),
            ("space", A::PageDown),
            ("g", A::Top),
            ("home", A::Top),
            ("G", A::Bottom),
            ("end", A::Bottom),
            ("enter", A::Select),
            ("/", A::Filter),
            ("ctrl-r", A::Refresh),
            ("y", A::Yank),
        ],
    );
    put("dashboard", &[]);
    put(
        "runs",
        &[
            ("l", A::Logs),
            ("ctrl-k", A::Kill),
            ("r", A::Restart),
            ("s", A::Submit),
            ("o", A::SortNext),
            ("O", A::SortReverse),
        ],
    );
    put(
        "jobs",
        &[
            ("r", A::RunJob),
            ("p", A::TogglePause),
            ("ctrl-d", A::Delete),
            ("s", A::Submit),
        ],
    );
    put(
        "logs",
        &[
            ("/", A::Search),
            ("n", A::SearchNext),
            ("N", A::SearchPrev),
            ("w", A::ToggleWrap),
            ("t", A::ToggleTimestamps),
            ("e", A::ToggleStream),
            ("f", A::ToggleFollow),
            ("ctrl-s", A::SaveLog),
            ("ctrl-k", A::Kill),
            ("r", A::Restart),
        ],
    );
    put(
        "details",
        &[("l", A::Logs), ("ctrl-k", A::Kill), ("r", A::Restart)],
    );
    put("sql", &[("i", A::Select), ("ctrl-k", A::Kill)]);
    put("clusters", &[("ctrl-d", A::Delete), ("s", A::Submit)]);
    put("spark", &[("r", A::Refresh)]);
    // --- Notebooks --- (the editor takes its keys itself; these are the list's)
    put(
        "notebooks",
        &[("ctrl-d", A::Delete), ("s", A::Submit), ("r", A::Rename)],
    );
    put(
        "monitor",
        &[
            ("+", A::ZoomOut),
            ("=", A::ZoomOut),
            ("-", A::ZoomIn),
            ("f", A::Freeze),
            ("e", A::Expand),
            ("l", A::Logs),
            ("r", A::Restart),
            ("ctrl-k", A::Kill),
        ],
    );
    // --- Ingestion ---
    put(
        "ingest",
        &[
            ("s", A::Submit),
            ("e", A::Edit),
            ("r", A::RunJob),
            ("R", A::Restart),
            ("p", A::TogglePause),
            ("v", A::Schemas),
            ("ctrl-d", A::Delete),
        ],
    );
    map
}

/// The keymap, resolved for lookups.
#[derive(Debug, Clone)]
pub struct Keymap {
    map: HashMap<(String, KeyCombo), Action>,
    config: KeymapConfig,
}

impl Keymap {
    /// Builds a keymap from its written form; names an unknown section or key.
    pub fn new(config: KeymapConfig) -> Result<Self, String> {
        let mut map = HashMap::new();
        for (section, keys) in &config {
            if !SECTIONS.contains(&section.as_str()) {
                return Err(format!(
                    "unknown keymap section [keys.{section}]; sections are {}",
                    SECTIONS.join(", ")
                ));
            }
            for (key, action) in keys {
                let combo: KeyCombo = key.parse().map_err(|e| format!("[keys.{section}]: {e}"))?;
                map.insert((section.clone(), combo), *action);
            }
        }
        Ok(Self { map, config })
    }

    pub fn lookup(&self, screen: Screen, key: KeyCombo) -> Option<Action> {
        self.map
            .get(&(screen.keymap_section().to_owned(), key))
            .or_else(|| self.map.get(&("global".to_owned(), key)))
            .copied()
    }

    /// The keys that do something on `screen`, for the help overlay: one entry per action
    /// (its keys joined), the screen's own first, each group in the actions' order.
    pub fn bindings(&self, screen: Screen) -> Vec<(String, Action, bool)> {
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<(String, Action, bool)> = Vec::new();
        for (section, local) in [(screen.keymap_section(), true), ("global", false)] {
            let mut group: Vec<(Action, Vec<String>)> = Vec::new();
            if let Some(keys) = self.config.get(section) {
                for (key, action) in keys {
                    let Ok(combo) = key.parse::<KeyCombo>() else {
                        continue;
                    };
                    if !seen.insert(combo) {
                        continue;
                    }
                    match group.iter_mut().find(|(a, _)| a == action) {
                        Some((_, ks)) => ks.push(combo.to_string()),
                        None => group.push((*action, vec![combo.to_string()])),
                    }
                }
            }
            group.sort_by_key(|(a, _)| Action::ALL.iter().position(|x| x == a));
            out.extend(group.into_iter().map(|(a, ks)| (ks.join(" "), a, local)));
        }
        out
    }

    pub fn config(&self) -> &KeymapConfig {
        &self.config
    }
}

impl Default for Keymap {
    fn default() -> Self {
        // The compiled-in keymap is checked by a test; an error here is a bug in this file.
        Self::new(default_config()).unwrap_or_else(|_| Self {
            map: HashMap::new(),
            config: KeymapConfig::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse() {
        Keymap::new(default_config()).unwrap();
    }

    #[test]
    fn key_names_round_trip() {
        for name in [
            "q", "G", "ctrl-k", "pgdn", "enter", "esc", "?", "f5", "space", "-", "alt-x",
        ] {
            let combo: KeyCombo = name.parse().unwrap();
            assert_eq!(combo.to_string(), name, "{name}");
        }
        assert_eq!("shift-g".parse::<KeyCombo>().unwrap(), "G".parse().unwrap());
        assert!("nokey".parse::<KeyCombo>().is_err());
    }

    #[test]
    fn screen_keys_shadow_global() {
        let km = Keymap::default();
        let l = KeyCombo::new(KeyCode::Char('l'), KeyModifiers::NONE);
        assert_eq!(km.lookup(Screen::Runs, l), Some(Action::Logs));
        assert_eq!(km.lookup(Screen::Dashboard, l), Some(Action::Right));
        let shifted = KeyCombo::new(KeyCode::Char('g'), KeyModifiers::SHIFT);
        assert_eq!(km.lookup(Screen::Runs, shifted), Some(Action::Bottom));
    }
}
