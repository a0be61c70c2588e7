//! Jobs: definitions of work. A job says what to run and how (kind, code or file, args, env,
//! schedule, retries, timeout); each execution of it is a run.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::runs::{Lifecycle, RunId};
use crate::{Error, UnixMillis, runs::RunResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub i64);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A job named by id or by name, as a user types it: digits are an id, anything else a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobRef {
    Id(JobId),
    Name(String),
}

impl FromStr for JobRef {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.parse::<i64>() {
            Ok(id) => Self::Id(JobId(id)),
            Err(_) => Self::Name(s.to_owned()),
        })
    }
}

impl fmt::Display for JobRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "job {id}"),
            Self::Name(name) => write!(f, "job '{name}'"),
        }
    }
}

/// What runs a job's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// `/bin/sh -c CODE` or `/bin/sh FILE`, with args as `$1..`.
    Shell,
    /// The configured Python: `python -c CODE` or `python FILE`.
    Python,
    /// `spark-submit` of a Python application (needs a Spark runtime).
    Pyspark,
}

impl JobKind {
    pub const ALL: [JobKind; 3] = [Self::Shell, Self::Python, Self::Pyspark];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shell => "shell",
            Self::Python => "python",
            Self::Pyspark => "pyspark",
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "kind",
                    format!("'{s}' is not a job kind; use shell, python or pyspark"),
                )
            })
    }
}

/// Where a job's code comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobSource {
    /// Code given inline (`-c`), kept with the job.
    Code(String),
    /// An absolute path to a script the daemon can read when the run starts.
    File(String),
}

/// One environment variable of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvVar {
    pub key: String,
    pub value: String,
    /// A secret's value reaches the run, but never a client: answers carry it empty, and
    /// the run's logs show it masked. A patch that sends a secret back empty keeps it.
    #[serde(default)]
    pub secret: bool,
}

impl EnvVar {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
            secret: false,
        }
    }

    pub fn secret(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            secret: true,
            ..Self::new(key, value)
        }
    }
}

impl FromStr for EnvVar {
    type Err = Error;

    /// Parses `KEY=VALUE`; the key must be a shell-style identifier.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (key, value) = s.split_once('=').ok_or_else(|| {
            Error::invalid("env", format!("'{s}' has no '='; write it as KEY=VALUE"))
        })?;
        let ok = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(Error::invalid(
                "env",
                format!(
                    "'{key}' is not a variable name; use letters, digits and '_', not starting \
                     with a digit"
                ),
            ));
        }
        Ok(Self {
            key: key.to_owned(),
            value: value.to_owned(),
            secret: false,
        })
    }
}

/// Everything that defines a job. Also the snapshot a run keeps of what it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    /// Unique among jobs; empty for a one-off submission (the daemon names it).
    pub name: String,
    pub kind: JobKind,
    pub source: JobSource,
    /// Passed to the program as argv, never through a shell.
    pub args: Vec<String>,
    pub env: Vec<EnvVar>,
    /// Working directory of the run; the daemon's run directory when unset.
    pub cwd: Option<String>,
    /// A cron expression (5 fields, or 6 with seconds, or `@hourly`-style).
    pub schedule: Option<String>,
    /// Whether a scheduled fire may start while an earlier run of the job is still active.
    pub allow_overlap: bool,
    /// How many times a failed run is retried.
    pub retries: u32,
    /// Wait before the first retry; doubles with each further attempt.
    pub retry_backoff_secs: u64,
    pub timeout_secs: Option<u64>,
    /// Spark configuration (`--conf k=v`) for pyspark runs.
    pub spark_conf: Vec<(String, String)>,
    /// The cluster a pyspark run is submitted to; `local` when unset.
    #[serde(default)]
    pub cluster: Option<String>,
    /// Python files (`--py-files`) for pyspark runs: absolute paths.
    #[serde(default)]
    pub py_files: Vec<String>,
    /// Jars (`--jars`) for pyspark runs: absolute paths.
    #[serde(default)]
    pub jars: Vec<String>,
}

impl JobSpec {
    /// A spec with defaults for everything but what to run.
    pub fn new(kind: JobKind, source: JobSource) -> Self {
        Self {
            name: String::new(),
            kind,
            source,
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            schedule: None,
            allow_overlap: false,
            retries: 0,
            retry_backoff_secs: 10,
            timeout_secs: None,
            spark_conf: Vec::new(),
            cluster: None,
            py_files: Vec::new(),
            jars: Vec::new(),
        }
    }

    /// The spec as a client may see it: secret values emptied.
    #[must_use]
    pub fn redacted(mut self) -> Self {
        for var in &mut self.env {
            if var.secret {
                var.value.clear();
            }
        }
        self
    }

    /// The values of its secrets, for masking them in logs.
    pub fn secret_values(&self) -> Vec<String> {
        self.env
            .iter()
            .filter(|v| v.secret && !v.value.is_empty())
            .map(|v| v.value.clone())
            .collect()
    }
}

/// A change to a job: `None` leaves a field as it is. For the optional fields the inner
/// `None` clears them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobPatch {
    pub name: Option<String>,
    pub kind: Option<JobKind>,
    pub source: Option<JobSource>,
    pub args: Option<Vec<String>>,
    pub env: Option<Vec<EnvVar>>,
    pub cwd: Option<Option<String>>,
    pub schedule: Option<Option<String>>,
    pub allow_overlap: Option<bool>,
    pub retries: Option<u32>,
    pub retry_backoff_secs: Option<u64>,
    pub timeout_secs: Option<Option<u64>>,
    pub spark_conf: Option<Vec<(String, String)>>,
    pub cluster: Option<Option<String>>,
}

impl JobPatch {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The latest run of a job, in brief.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastRun {
    pub id: RunId,
    pub lifecycle: Lifecycle,
    pub result: Option<RunResult>,
    pub queued_ms: UnixMillis,
}

/// A job as stored, with what the scheduler knows of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    pub spec: JobSpec,
    /// Made by `submit` for a single run; hidden from job lists by default.
    pub one_off: bool,
    /// A paused job's schedule does not fire; it can still be run by hand.
    pub paused: bool,
    pub created_ms: UnixMillis,
    pub updated_ms: UnixMillis,
    /// When the schedule fires next (none when unscheduled or paused).
    pub next_fire_ms: Option<UnixMillis>,
    pub last_run: Option<LastRun>,
    /// Runs of this job that have not terminated.
    pub active_runs: u32,
}

impl Job {
    pub fn name(&self) -> &str {
        &self.spec.name
    }
}
