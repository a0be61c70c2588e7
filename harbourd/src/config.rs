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
    pub metrics: MetricsConfig,
    pub health: HealthConfig,
    // --- Analytics ---
    pub analytics: AnalyticsConfig,
    // --- Ingestion ---
    pub ingest: IngestConfig,
    // --- Notebooks ---
    pub notebooks: NotebooksConfig,
}

// --- Analytics ---

/// `[analytics]`: Spark event-log replay. Harbour's own runs' event logs are always
/// replayed; `log_dirs` adds directories other Spark applications write to.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalyticsConfig {
    pub enabled: bool,
    /// More event-log directories (like the History Server's `spark.history.fs.logDirectory`).
    pub log_dirs: Vec<PathBuf>,
    /// How often the directories are looked at for new or grown logs.
    pub poll: Span,
    /// Analytics of applications older than this are removed, and so are harbour's own
    /// event logs of that age. `0` keeps them forever.
    pub retention: Span,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            log_dirs: Vec::new(),
            poll: Span::secs(2),
            retention: Span::secs(30 * 86_400),
        }
    }
}

// --- Ingestion ---
/// `[ingest]`: what the cost estimate assumes until runs have measured better.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// The price of one core for one hour, in whatever currency you bill in.
    pub cost_per_core_hour: f64,
    /// Throughput assumed before any run measured one (MB of source files per second).
    pub default_mb_per_sec: f64,
    /// Seconds a Spark run takes to start (JVM, session) before it reads anything.
    pub startup_secs: f64,
    /// Cores assumed for an external cluster, whose size harbourd does not know.
    pub default_cores: u32,
}

impl Default for IngestConfig {
    fn default() -> Self {
        // Calibrated on a 2-core machine with `local[2]`: ~14 s to start, ~20 MB/s of CSV.
        Self {
            cost_per_core_hour: 0.05,
            default_mb_per_sec: 20.0,
            startup_secs: 14.0,
            default_cores: 2,
        }
    }
}

/// `[notebooks]`: the kernels notebooks run on.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotebooksConfig {
    /// A kernel idle this long is stopped (its notebook and outputs stay); 0 keeps kernels.
    pub idle_cull: Span,
}

impl Default for NotebooksConfig {
    fn default() -> Self {
        Self {
            idle_cull: Span::secs(3600),
        }
    }
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
    /// A connection that has not said `hello` by then is closed, so idle or half-open
    /// connections cannot hold the slots of `max_connections`.
    pub hello_timeout: Span,
    /// An optional TCP listener (`127.0.0.1:7411`, say) besides the Unix socket. Every
    /// connection must present the token first; unset, harbourd listens on no TCP port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<std::net::SocketAddr>,
    /// The TCP listener's token file (default `DATA_DIR/tcp.token`, created 0600 with a
    /// random token when missing; it must not be readable by group or others).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// The user harbourd becomes when it is started as root, before it opens anything: its
    /// runs, kernels and Spark processes are then that user's too. Unset, a harbourd started
    /// as root stays root (and says so in its log). Ignored when harbourd already runs as
    /// this user; refused when it runs as another user, who cannot switch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            socket_group: "harbour".into(),
            event_buffer: 10_000,
            max_connections: 1024,
            hello_timeout: Span::secs(10),
            listen: None,
            token_file: None,
            user: None,
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
    /// Resource limits (rlimits) every run starts under.
    pub limits: RunLimits,
}

/// `[runs.limits]`: the rlimits a run starts under (its soft and hard limit both), inherited
/// by everything it starts. Unset entries leave the daemon's own limit in place.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunLimits {
    /// Open file descriptors (`RLIMIT_NOFILE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_files: Option<u64>,
    /// Processes and threads of the run's user (`RLIMIT_NPROC`; not enforced for root).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processes: Option<u64>,
    /// CPU seconds per process (`RLIMIT_CPU`); past it the process gets SIGXCPU, and
    /// SIGKILL a second later (the hard limit is one second above).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_secs: Option<u64>,
    /// Largest file a process may write, in MiB (`RLIMIT_FSIZE`); past it, SIGXFSZ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_size_mib: Option<u64>,
    /// Virtual memory per process, in MiB (`RLIMIT_AS`). The JVM reserves far more address
    /// space than it uses: leave it unset, or generous, for Spark runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_space_mib: Option<u64>,
    /// Largest core dump, in MiB (`RLIMIT_CORE`); 0 turns core dumps off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub core_mib: Option<u64>,
}

impl RunLimits {
    /// Each set limit as (the `exec-run` name, its value in the kernel's unit, its key).
    pub fn entries(&self) -> Vec<(&'static str, u64, &'static str)> {
        const MIB: u64 = 1 << 20;
        let mib = |v: Option<u64>| v.map(|v| v.saturating_mul(MIB));
        [
            ("nofile", self.open_files, "open_files"),
            ("nproc", self.processes, "processes"),
            ("cpu", self.cpu_secs, "cpu_secs"),
            ("fsize", mib(self.file_size_mib), "file_size_mib"),
            ("as", mib(self.address_space_mib), "address_space_mib"),
            ("core", mib(self.core_mib), "core_mib"),
        ]
        .into_iter()
        .filter_map(|(name, value, key)| Some((name, value?, key)))
        .collect()
    }

    fn validate(&self) -> Result<(), String> {
        let at_least = |key: &str, value: Option<u64>, min: u64| match value {
            Some(v) if v < min => Err(format!(
                "runs.limits.{key} = {v} is too low for any run to start; it must be at \
                 least {min} (or unset)"
            )),
            _ => Ok(()),
        };
        at_least("open_files", self.open_files, 16)?;
        at_least("processes", self.processes, 1)?;
        at_least("cpu_secs", self.cpu_secs, 1)?;
        at_least("file_size_mib", self.file_size_mib, 1)?;
        at_least("address_space_mib", self.address_space_mib, 64)
    }
}

impl Default for RunsConfig {
    fn default() -> Self {
        Self {
            max_concurrent: 4,
            kill_grace_secs: 10,
            shell: "/bin/sh".into(),
            python: "python3".into(),
            limits: RunLimits::default(),
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
    /// External clusters registered at start (`[[spark.clusters]]`), e.g. a compose cluster.
    pub clusters: Vec<ExternalCluster>,
}

/// An external cluster from the config file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalCluster {
    pub name: String,
    /// `spark://HOST:PORT`, `k8s://...` or `yarn`.
    pub master: String,
    /// Its Spark Connect endpoint, `sc://HOST:PORT`.
    pub connect: Option<String>,
}

impl Default for SparkConfig {
    fn default() -> Self {
        Self {
            home: None,
            python: None,
            runtime_dir: None,
            local_cores: 2,
            jars: Vec::new(),
            clusters: Vec::new(),
        }
    }
}

/// A length of time in the config: seconds as a number, or text like `500ms`, `10s`, `5m`,
/// `1h`, `30d`. Held in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub u64);

impl Span {
    pub fn secs(secs: u64) -> Self {
        Self(secs * 1_000)
    }

    pub fn duration(self) -> Duration {
        Duration::from_millis(self.0)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(secs) => Ok(Self::secs(secs)),
            Raw::Text(text) => harbour_shared::parse_span_ms(&text)
                .map(Self)
                .map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for Span {
    /// In the largest unit that divides it: `1h`, `90s`, `250ms`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let units = [
            (86_400_000, "d"),
            (3_600_000, "h"),
            (60_000, "m"),
            (1_000, "s"),
        ];
        let text = units
            .iter()
            .find(|(n, _)| self.0 != 0 && self.0.is_multiple_of(*n))
            .map_or_else(
                || format!("{}ms", self.0),
                |(n, u)| format!("{}{u}", self.0 / n),
            );
        s.serialize_str(&text)
    }
}

/// `[metrics]`: host sampling and how long its history is kept.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    pub enabled: bool,
    /// How often the host is sampled (at least 250ms).
    pub interval: Span,
    /// How long every sample is kept.
    pub raw_keep: Span,
    /// Coarser history: the mean of each `step`, kept for `keep`. Steps must be multiples of
    /// each other and grow, as must the retentions.
    pub tiers: Vec<TierConfig>,
    /// How often samples are written to the database (they are served from memory before).
    pub flush: Span,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TierConfig {
    pub step: Span,
    pub keep: Span,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        const HOUR: u64 = 3_600;
        Self {
            enabled: true,
            interval: Span::secs(1),
            raw_keep: Span::secs(HOUR),
            tiers: vec![
                TierConfig {
                    step: Span::secs(10),
                    keep: Span::secs(24 * HOUR),
                },
                TierConfig {
                    step: Span::secs(300),
                    keep: Span::secs(30 * 24 * HOUR),
                },
            ],
            flush: Span::secs(10),
        }
    }
}

impl MetricsConfig {
    /// Tier 0 (every sample) first, then the configured ones.
    pub fn tiers(&self) -> Vec<crate::monitor::history::Tier> {
        use crate::monitor::history::Tier;
        std::iter::once(Tier {
            step_ms: self.interval.0,
            keep_ms: self.raw_keep.0,
        })
        .chain(self.tiers.iter().map(|t| Tier {
            step_ms: t.step.0,
            keep_ms: t.keep.0,
        }))
        .collect()
    }

    fn validate(&self) -> Result<(), String> {
        if self.interval.0 < 250 {
            return Err(
                "metrics.interval must be at least 250ms (CPU usage needs the time)".into(),
            );
        }
        if self.tiers.len() > 8 {
            return Err("metrics.tiers: at most 8 tiers".into());
        }
        let tiers = self.tiers();
        for pair in tiers.windows(2) {
            let (fine, coarse) = (pair[0], pair[1]);
            if coarse.step_ms <= fine.step_ms || coarse.step_ms % fine.step_ms != 0 {
                return Err(format!(
                    "metrics.tiers: a step of {}ms does not follow {}ms; each step must be a \
                     larger multiple of the one before (the first of the interval)",
                    coarse.step_ms, fine.step_ms
                ));
            }
            if coarse.keep_ms < fine.keep_ms {
                return Err(
                    "metrics.tiers: a coarser tier must be kept at least as long as a finer one"
                        .into(),
                );
            }
        }
        if self.flush.0 < 1_000 {
            return Err("metrics.flush must be at least 1s".into());
        }
        Ok(())
    }
}

/// `[health]`: checks of services harbourd watches, and of its own parts.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Check harbourd's own parts (store, run supervisor).
    pub builtin: bool,
    /// How often the built-in checks run.
    pub builtin_interval: Span,
    pub checks: Vec<CheckConfig>,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            builtin: true,
            builtin_interval: Span::secs(10),
            checks: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckKind {
    /// GET `url`; up when the status is `expect_status` (default: any 2xx).
    Http,
    /// Connect to `address` (`host:port`).
    Tcp,
    /// A process whose name is `process` is running.
    Process,
    /// The Docker container `container` is running and, if it has a HEALTHCHECK, healthy.
    Container,
}

/// One `[[health.checks]]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    pub name: String,
    pub kind: CheckKind,
    pub url: Option<String>,
    pub expect_status: Option<u16>,
    pub address: Option<String>,
    pub process: Option<String>,
    pub container: Option<String>,
    #[serde(default = "default_check_interval")]
    pub interval: Span,
    #[serde(default = "default_check_timeout")]
    pub timeout: Span,
    /// Failed attempts in a row before the check is down.
    #[serde(default = "default_fall")]
    pub fall: u32,
    /// Passed attempts in a row before a down check is up again.
    #[serde(default = "default_rise")]
    pub rise: u32,
}

fn default_check_interval() -> Span {
    Span::secs(10)
}

fn default_check_timeout() -> Span {
    Span::secs(2)
}

fn default_fall() -> u32 {
    3
}

fn default_rise() -> u32 {
    1
}

impl CheckConfig {
    /// What the check looks at, for people.
    pub fn target(&self) -> &str {
        match self.kind {
            CheckKind::Http => self.url.as_deref(),
            CheckKind::Tcp => self.address.as_deref(),
            CheckKind::Process => self.process.as_deref(),
            CheckKind::Container => self.container.as_deref(),
        }
        .unwrap_or_default()
    }

    fn validate(&self) -> Result<(), String> {
        let name = &self.name;
        if name.trim().is_empty() {
            return Err("health.checks: every check needs a name".into());
        }
        let (key, given) = match self.kind {
            CheckKind::Http => ("url", &self.url),
            CheckKind::Tcp => ("address", &self.address),
            CheckKind::Process => ("process", &self.process),
            CheckKind::Container => ("container", &self.container),
        };
        if given.as_deref().is_none_or(|v| v.trim().is_empty()) {
            return Err(format!(
                "health check '{name}' of kind {:?} needs `{key}`",
                self.kind
            )
            .to_lowercase());
        }
        let stray = [
            ("url", self.url.is_some() && key != "url"),
            ("address", self.address.is_some() && key != "address"),
            ("process", self.process.is_some() && key != "process"),
            ("container", self.container.is_some() && key != "container"),
            (
                "expect_status",
                self.expect_status.is_some() && self.kind != CheckKind::Http,
            ),
        ];
        if let Some((key, _)) = stray.iter().find(|(_, s)| *s) {
            return Err(format!(
                "health check '{name}': `{key}` does not apply to this kind of check"
            ));
        }
        if self.kind == CheckKind::Http
            && let Some(url) = &self.url
            && !url.starts_with("http://")
        {
            return Err(format!(
                "health check '{name}': url must start with http:// (no TLS support yet)"
            ));
        }
        if self.kind == CheckKind::Tcp
            && let Some(address) = &self.address
            && !address.contains(':')
        {
            return Err(format!(
                "health check '{name}': address must be host:port, not '{address}'"
            ));
        }
        if self.interval.0 < 100 || self.timeout.0 == 0 {
            return Err(format!(
                "health check '{name}': interval must be at least 100ms and timeout more than 0"
            ));
        }
        if self.fall == 0 || self.rise == 0 {
            return Err(format!(
                "health check '{name}': fall and rise must be at least 1"
            ));
        }
        Ok(())
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
        Self::from_toml(&text).map_err(|message| ConfigError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses and validates harbourd.toml's text.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let config: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if self.runs.max_concurrent == 0 {
            return Err("runs.max_concurrent must be at least 1".into());
        }
        self.runs.limits.validate()?;
        if let Some(user) = &self.daemon.user
            && (user.is_empty() || user == "root")
        {
            return Err(format!(
                "daemon.user = '{user}': name the unprivileged user harbourd becomes when \
                 started as root (`harbour`, say), or remove the setting"
            ));
        }
        if self.daemon.event_buffer < 16 {
            return Err("daemon.event_buffer must be at least 16".into());
        }
        if self.daemon.max_connections == 0 {
            return Err("daemon.max_connections must be at least 1".into());
        }
        if self.daemon.hello_timeout.0 < 100 {
            return Err("daemon.hello_timeout must be at least 100ms".into());
        }
        if self.spark.local_cores == 0 {
            return Err("spark.local_cores must be at least 1".into());
        }
        self.metrics.validate()?;
        let mut names = std::collections::HashSet::new();
        for check in &self.health.checks {
            check.validate()?;
            if !names.insert(check.name.as_str()) {
                return Err(format!("two health checks are named '{}'", check.name));
            }
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
    fn run_limits_and_the_daemon_user_parse_and_check() {
        let config = load(
            "[daemon]\nuser = \"harbour\"\n\
             [runs.limits]\nopen_files = 1024\nfile_size_mib = 2\ncore_mib = 0\n",
        )
        .unwrap();
        assert_eq!(config.daemon.user.as_deref(), Some("harbour"));
        assert_eq!(
            config.runs.limits.entries(),
            [
                ("nofile", 1024, "open_files"),
                ("fsize", 2 << 20, "file_size_mib"),
                ("core", 0, "core_mib")
            ]
        );
        assert!(Config::default().runs.limits.entries().is_empty());
        let err = load("[runs.limits]\nopen_files = 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("runs.limits.open_files = 3"), "{err}");
        let err = load("[runs.limits]\nopen_file = 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("open_file"), "{err}");
        let err = load("[daemon]\nuser = \"root\"\n").unwrap_err().to_string();
        assert!(err.contains("unprivileged user"), "{err}");
    }

    #[test]
    fn monitoring_sections_parse_and_check() {
        let config = load(
            "[metrics]\ninterval = \"2s\"\nraw_keep = \"2h\"\n\
             tiers = [{ step = \"1m\", keep = \"7d\" }]\n\
             [[health.checks]]\nname = \"web\"\nkind = \"http\"\n\
             url = \"http://127.0.0.1:1/\"\nfall = 2\n",
        )
        .unwrap();
        let tiers = config.metrics.tiers();
        assert_eq!(tiers.len(), 2);
        assert_eq!(tiers[0].step_ms, 2_000);
        assert_eq!(tiers[1].keep_ms, 7 * 86_400_000);
        assert_eq!(config.health.checks[0].fall, 2);
        assert_eq!(config.health.checks[0].interval.0, 10_000);

        let err = load("[[health.checks]]\nname = \"db\"\nkind = \"tcp\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs `address`"), "{err}");
        let err = load("[[health.checks]]\nname = \"db\"\nkind = \"tcp\"\nadress = \"x:1\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("adress"), "{err}");
        let err = load("[metrics]\ninterval = \"1s\"\ntiers = [{ step = \"15s\", keep = \"1d\" }, { step = \"20s\", keep = \"2d\" }]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("multiple"), "{err}");
        let err = load("[metrics]\ninterval = \"10ms\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("250ms"), "{err}");
        // check-config prints spans as they are written.
        let printed = toml::to_string(&Config::default()).unwrap();
        assert!(printed.contains("raw_keep = \"1h\""), "{printed}");
        assert!(printed.contains("keep = \"30d\""), "{printed}");
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
