//! Configuration: where things live (paths by mode, each overridable by flag and env var)
//! and the settings in `harbourd.toml`, defaults compiled in, unknown keys refused by name.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the daemon was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Per-user, XDG paths, socket in a private 0700 directory.
    User,
    /// The systemd service: /etc, /var/lib, /run, socket 0660 for a group.
    System,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::System => "system",
        }
    }
}

/// Paths given on the command line or in the environment; `None` means "the mode's default".
#[derive(Debug, Clone, Default)]
pub struct PathOverrides {
    pub config_dir: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub socket: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Paths {
    pub mode: Mode,
    pub config_file: PathBuf,
    pub data_dir: PathBuf,
    pub socket: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "cannot find a home directory for the user paths; set HARBOUR_CONFIG_DIR and \
         HARBOUR_DATA_DIR (or --config-dir and --data-dir)"
    )]
    NoHome,
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not valid: {message}", path.display())]
    Parse { path: PathBuf, message: String },
}

impl Paths {
    pub fn resolve(mode: Mode, o: PathOverrides) -> Result<Self, ConfigError> {
        let (config_dir, data_dir, socket) = match mode {
            Mode::System => (
                o.config_dir.unwrap_or_else(|| "/etc/harbour".into()),
                o.data_dir.unwrap_or_else(|| "/var/lib/harbour".into()),
                o.socket
                    .unwrap_or_else(|| harbour_shared::paths::SYSTEM_SOCKET.into()),
            ),
            Mode::User => {
                let dirs = directories::BaseDirs::new();
                let config_dir = match o.config_dir {
                    Some(dir) => dir,
                    None => dirs
                        .as_ref()
                        .ok_or(ConfigError::NoHome)?
                        .config_dir()
                        .join("harbour"),
                };
                let data_dir = match o.data_dir {
                    Some(dir) => dir,
                    None => dirs
                        .as_ref()
                        .ok_or(ConfigError::NoHome)?
                        .data_dir()
                        .join("harbour"),
                };
                let socket = o.socket.unwrap_or_else(|| {
                    harbour_shared::paths::user_socket_dir()
                        .join(harbour_shared::paths::SOCKET_FILE)
                });
                (config_dir, data_dir, socket)
            }
        };
        Ok(Self {
            mode,
            config_file: config_dir.join("harbourd.toml"),
            data_dir,
            socket,
        })
    }

    pub fn database(&self) -> PathBuf {
        self.data_dir.join("harbour.db")
    }
}

/// `harbourd.toml`. Every section and key is optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub daemon: DaemonConfig,
    pub runs: RunsConfig,
    pub logs: LogsConfig,
    pub spark: SparkConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// In system mode, the group that may use the socket.
    pub socket_group: String,
    /// Size of the event buffer clients follow; a client further behind is told to refetch.
    pub event_buffer: usize,
    /// Most client connections served at once.
    pub max_connections: usize,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            socket_group: "harbour".into(),
            event_buffer: 10_000,
            max_connections: 1024,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunsConfig {
    /// Runs executing at once; more wait in the queue.
    pub max_concurrent: usize,
    /// Seconds between SIGTERM and SIGKILL when a run is stopped.
    pub kill_grace_secs: u64,
    /// The shell for `shell` jobs.
    pub shell: PathBuf,
    /// The interpreter for `python` jobs.
    pub python: PathBuf,
}

impl Default for RunsConfig {
    fn default() -> Self {
        Self {
            max_concurrent: 4,
            kill_grace_secs: 10,
            shell: "/bin/sh".into(),
            python: "python3".into(),
        }
    }
}

impl RunsConfig {
    pub fn kill_grace(&self) -> Duration {
        Duration::from_secs(self.kill_grace_secs)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogsConfig {
    /// Run directories (logs and scratch space) of runs that ended longer ago are removed.
    /// 0 keeps them forever.
    pub retention_days: u64,
}

impl Default for LogsConfig {
    fn default() -> Self {
        Self { retention_days: 30 }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SparkConfig {
    /// A Spark install (`SPARK_HOME`) for pyspark runs. Unset: the provisioned runtime
    /// (`harbourd runtime install`) is used when there is one.
    pub home: Option<PathBuf>,
    /// The Python Spark's Python side runs on (`PYSPARK_PYTHON`). Unset: the runtime's.
    pub python: Option<PathBuf>,
    /// Where `harbourd runtime install` put the runtime. Unset: `HARBOUR_RUNTIME_DIR`, else
    /// `<data_dir>/runtime`.
    pub runtime_dir: Option<PathBuf>,
    /// N of the built-in `local[N]` cluster.
    pub local_cores: u32,
    /// Extra jars for every Connect server and Spark run (JDBC drivers, Delta). The Debian
    /// PostgreSQL and MariaDB drivers under /usr/share/java are added when present.
    pub jars: Vec<PathBuf>,
}

impl Default for SparkConfig {
    fn default() -> Self {
        Self {
            home: None,
            python: None,
            runtime_dir: None,
            local_cores: 2,
            jars: Vec::new(),
        }
    }
}

impl Config {
    /// Reads `path`; a missing file means all defaults.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let config: Self = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        config.validate().map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if self.runs.max_concurrent == 0 {
            return Err("runs.max_concurrent must be at least 1".into());
        }
        if self.daemon.event_buffer < 16 {
            return Err("daemon.event_buffer must be at least 16".into());
        }
        if self.daemon.max_connections == 0 {
            return Err("daemon.max_connections must be at least 1".into());
        }
        if self.spark.local_cores == 0 {
            return Err("spark.local_cores must be at least 1".into());
        }
        if let Some(home) = &self.spark.home
            && !home.join("bin/spark-submit").is_file()
        {
            return Err(format!(
                "spark.home = {} has no bin/spark-submit; point it at a Spark install",
                home.display()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("harbourd.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(&path)
    }

    #[test]
    fn a_missing_file_means_defaults() {
        let config = Config::load(Path::new("/nonexistent/harbourd.toml")).unwrap();
        assert_eq!(config.runs.max_concurrent, 4);
    }

    #[test]
    fn reads_what_it_is_given() {
        let config = load("[runs]\nmax_concurrent = 2\n[logs]\nretention_days = 7\n").unwrap();
        assert_eq!(config.runs.max_concurrent, 2);
        assert_eq!(config.logs.retention_days, 7);
        assert_eq!(config.runs.kill_grace_secs, 10);
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = load("[runs]\nmax_concurent = 2\n").unwrap_err().to_string();
        assert!(err.contains("max_concurent"), "{err}");
        let err = load("[nope]\n").unwrap_err().to_string();
        assert!(err.contains("nope"), "{err}");
    }

    #[test]
    fn nonsense_values_are_refused() {
        let err = load("[runs]\nmax_concurrent = 0\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_concurrent must be at least 1"), "{err}");
        let err = load("[spark]\nhome = \"/nowhere\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("spark-submit"), "{err}");
    }

    #[test]
    fn overrides_win_over_mode_defaults() {
        let o = PathOverrides {
            config_dir: Some("/c".into()),
            data_dir: Some("/d".into()),
            socket: Some("/s.sock".into()),
        };
        let paths = Paths::resolve(Mode::System, o).unwrap();
        assert_eq!(paths.config_file, Path::new("/c/harbourd.toml"));
        assert_eq!(paths.data_dir, Path::new("/d"));
        assert_eq!(paths.socket, Path::new("/s.sock"));
        let system = Paths::resolve(Mode::System, PathOverrides::default()).unwrap();
        assert_eq!(system.socket, Path::new("/run/harbour/harbourd.sock"));
    }
}
