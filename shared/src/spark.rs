//! Spark: clusters (the built-in `local`, managed standalone clusters harbourd starts, and
//! external masters), the progress of a Spark application (jobs, stages, executors), SQL
//! results from a cluster's Spark Connect session, and the tables SQL can name.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::UnixMillis;

/// The name of the cluster that always exists: `local[N]` in the driver.
pub const LOCAL_CLUSTER: &str = "local";

/// What kind of cluster, and so who owns its processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClusterKind {
    /// `local[N]`: the driver is the cluster. Always there, cannot be deleted.
    Local,
    /// A standalone master and workers that harbourd started and owns.
    Managed,
    /// A master someone else runs (`spark://`, `k8s://`, `yarn`), optionally with a Connect
    /// endpoint.
    External,
}

impl ClusterKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Managed => "standalone-managed",
            Self::External => "external",
        }
    }
}

/// `Pending -> Running -> Terminating -> Terminated`, or `Error` with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClusterState {
    Pending,
    Running,
    Terminating,
    Terminated,
    Error(String),
}

impl ClusterState {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Terminating => "terminating",
            Self::Terminated => "terminated",
            Self::Error(_) => "error",
        }
    }
}

impl fmt::Display for ClusterState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Error(why) => write!(f, "error: {why}"),
            other => f.write_str(other.label()),
        }
    }
}

/// What `clusters create` asks for: a managed standalone cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSpec {
    pub name: String,
    pub workers: u32,
    /// Cores each worker offers.
    pub cores: u32,
    /// Memory each worker offers, as Spark spells it (`512m`, `2g`).
    pub memory: String,
}

/// What `clusters add` registers: a cluster harbourd does not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalClusterSpec {
    pub name: String,
    /// Passed to `spark-submit --master` as it is: `spark://h:7077`, `k8s://https://...`, `yarn`.
    pub master: String,
    /// A Spark Connect endpoint (`sc://host:port`) for SQL, when the cluster has one.
    pub connect: Option<String>,
}

/// A worker as the master sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerInfo {
    pub id: String,
    pub host: String,
    /// `ALIVE`, `DEAD`, `DECOMMISSIONED`, ... as the master says.
    pub state: String,
    pub cores: u32,
    pub cores_used: u32,
    pub memory_mb: u64,
    pub memory_used_mb: u64,
}

/// Health and capacity from the master's `/json/`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterHealth {
    pub checked_ms: UnixMillis,
    /// The master answered.
    pub master_alive: bool,
    pub workers_alive: u32,
    /// Workers the cluster should have that are not alive (died, or never registered).
    pub workers_missing: u32,
    pub cores: u32,
    pub cores_used: u32,
    pub memory_mb: u64,
    pub memory_used_mb: u64,
    pub running_apps: u32,
    pub workers: Vec<WorkerInfo>,
    /// What is wrong, in words, when something is.
    pub problem: Option<String>,
}

/// A cluster as harbourd knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    pub name: String,
    pub kind: ClusterKind,
    pub state: ClusterState,
    pub state_message: String,
    /// What `spark-submit --master` gets.
    pub master_url: String,
    /// The master's web UI, for managed and standalone clusters.
    pub web_ui_url: Option<String>,
    /// The cluster's Spark Connect endpoint, once one is known or running.
    pub connect_url: Option<String>,
    /// Managed clusters: what was asked for.
    pub spec: Option<ClusterSpec>,
    pub created_ms: UnixMillis,
    /// Managed clusters: the directory with the master's and workers' logs.
    pub log_dir: Option<String>,
    pub health: Option<ClusterHealth>,
}

/// One check of `clusters test`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterCheck {
    pub what: String,
    pub ok: bool,
    pub detail: String,
}

/// The Spark application a run started, once its driver answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SparkAppRef {
    /// The cluster the run was submitted to.
    pub cluster: String,
    pub app_id: Option<String>,
    /// The driver's UI (and REST API) while the application runs.
    pub ui_url: String,
    /// Where its event log is written.
    pub event_log_dir: String,
}

/// Task counts of a job or stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCounts {
    pub total: u32,
    pub active: u32,
    pub completed: u32,
    pub failed: u32,
    pub skipped: u32,
    pub killed: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SparkJob {
    pub id: i64,
    pub name: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `UNKNOWN`.
    pub status: String,
    pub stage_ids: Vec<i64>,
    pub tasks: TaskCounts,
    pub submitted_ms: Option<UnixMillis>,
    pub completed_ms: Option<UnixMillis>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SparkStage {
    pub id: i64,
    pub attempt: i64,
    pub name: String,
    /// `ACTIVE`, `COMPLETE`, `FAILED`, `PENDING`, `SKIPPED`.
    pub status: String,
    pub tasks: TaskCounts,
    pub failure_reason: Option<String>,
    pub submitted_ms: Option<UnixMillis>,
    pub completed_ms: Option<UnixMillis>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SparkExecutor {
    pub id: String,
    pub host_port: String,
    pub active: bool,
    pub cores: u32,
    pub active_tasks: u32,
    pub completed_tasks: u32,
    pub failed_tasks: u32,
}

/// Where a progress view came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProgressSource {
    /// The running driver's REST API.
    Live,
    /// The application's event log, replayed.
    EventLog,
}

/// Jobs, stages and executors of one Spark application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SparkProgress {
    pub app_id: Option<String>,
    pub app_name: Option<String>,
    pub source: ProgressSource,
    pub jobs: Vec<SparkJob>,
    pub stages: Vec<SparkStage>,
    pub executors: Vec<SparkExecutor>,
}

/// A SQL statement to run on a cluster's Connect session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlRequest {
    pub query: String,
    /// `local` when unset.
    pub cluster: Option<String>,
    /// At most this many rows come back (0: the daemon's default).
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlColumn {
    pub name: String,
    /// Spark's (Arrow's) type, as text: `Int64`, `Utf8`, `Float64`, ...
    pub data_type: String,
}

/// The answer to a query: columns, rows as text (`None` for SQL NULL), and timing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlResult {
    pub cluster: String,
    pub columns: Vec<SqlColumn>,
    pub rows: Vec<Vec<Option<String>>>,
    /// More rows existed than `limit` let through.
    pub truncated: bool,
    pub elapsed_ms: u64,
}

/// The formats a table can be read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TableFormat {
    Parquet,
    Csv,
    Json,
    Orc,
    Delta,
    Jdbc,
}

impl TableFormat {
    pub const ALL: [TableFormat; 6] = [
        Self::Parquet,
        Self::Csv,
        Self::Json,
        Self::Orc,
        Self::Delta,
        Self::Jdbc,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Parquet => "parquet",
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Orc => "orc",
            Self::Delta => "delta",
            Self::Jdbc => "jdbc",
        }
    }
}

impl fmt::Display for TableFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TableFormat {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                crate::Error::invalid(
                    "format",
                    format!(
                        "'{s}' is not a table format; use parquet, csv, json, orc, delta or jdbc"
                    ),
                )
            })
    }
}

/// A table SQL can name: files at a path, or a JDBC table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSpec {
    pub name: String,
    pub format: TableFormat,
    /// Files: an absolute path (or URI). JDBC: the `jdbc:` URL.
    pub location: String,
    /// Reader options (`header=true`; for JDBC `dbtable`, `user`, `password`, ...).
    pub options: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub spec: TableSpec,
    pub created_ms: UnixMillis,
}

/// The Spark runtime the daemon found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeInfo {
    pub spark_home: Option<String>,
    pub python: Option<String>,
    pub spark_version: Option<String>,
    pub java: Option<String>,
    /// What is missing and how to fix it, when something is.
    pub problem: Option<String>,
}
