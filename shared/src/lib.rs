//! The Harbour contract: everything `harbourd` and its clients agree on, and nothing else.
//!
//! This crate holds the [`Harbour`] tarpc service, the plain serde types that cross the
//! socket, the typed [`Error`] every call returns, the protocol version and frame limits,
//! and where a daemon's socket lives by default. It has no runtime, no storage and no UI:
//! the daemon and the clients bring those.

mod analytics;
mod error;
mod events;
mod ingest;
mod jobs;
mod logs;
mod monitor;
mod notebooks;
pub mod paths;
mod runs;
mod service;
mod spark;
mod status;

// --- Analytics ---
pub use analytics::{
    AppDetail, AppSummary, DaySummary, ExecutorSummary, FailedTask, JobDetail, JobSummary,
    LogProblem, MAX_PUSH_EVENTS, PushReport, SparkApps, StageSummary, TaskTotals,
};
pub use error::Error;
pub use events::{Event, EventBatch, EventKind, EventsLost};
// --- Ingestion ---
pub use ingest::{
    EvolutionMode, IngestEstimate, IngestFile, IngestPatch, IngestPreview, IngestRun,
    IngestRunState, IngestRunTrigger, IngestSpec, IngestTrigger, Ingestion, RESCUED_COLUMN,
    SchemaField, SchemaVersion, SourceFormat, parse_schema, schema_text,
};
pub use jobs::{EnvVar, Job, JobId, JobKind, JobPatch, JobRef, JobSource, JobSpec, LastRun};
pub use logs::{LogChunk, LogMark, LogStream};
pub use monitor::{
    Container, ContainerAction, ContainerLogChunk, ContainerStats, DiskNow, HealthCheck,
    HealthReport, HealthStatus, HealthSummary, HealthTransition, HostGauges, MetricHistory,
    MetricsNow, NetworkNow, ProcessCost, RunCost, parse_span_ms,
};
pub use notebooks::{
    Cell, CellEdit, CellKind, ExecState, KernelInfo, KernelState, Notebook, NotebookSpec,
    NotebookSummary, NotebookVersion, NotebookWatch, Output, RunCells,
};
pub use runs::{
    Lifecycle, Run, RunCounts, RunDetail, RunFilter, RunId, RunResult, RunStateFilter, RunUsage,
    Transition, Trigger,
};
pub use service::{Harbour, HarbourClient, HarbourRequest, HarbourResponse, ServeHarbour};
pub use spark::{
    Cluster, ClusterCheck, ClusterHealth, ClusterKind, ClusterSpec, ClusterState,
    ExternalClusterSpec, LOCAL_CLUSTER, ProgressSource, RuntimeInfo, SparkAppRef, SparkExecutor,
    SparkJob, SparkProgress, SparkStage, SqlColumn, SqlRequest, SqlResult, Table, TableFormat,
    TableSpec, TaskCounts, WorkerInfo,
};
pub use status::{Dashboard, DayTrend, Hello, Status};

/// Bumped whenever a request or response changes shape. `hello` is the first method and its
/// argument and answer never change shape, so a mismatch is always reported, never misread.
pub const PROTOCOL_VERSION: u32 = 5;

/// The largest frame either side accepts. Log pages are capped well below it.
pub const MAX_FRAME_BYTES: usize = 8 * 1024 * 1024;

/// The most bytes one `read_log` answer carries.
pub const MAX_LOG_CHUNK_BYTES: u64 = 4 * 1024 * 1024;

/// The longest a long-poll (`events`, `read_log`) waits before answering with nothing new.
pub const MAX_WAIT_MS: u64 = 60_000;

/// Milliseconds since the Unix epoch, UTC. Every timestamp on the wire is one of these.
pub type UnixMillis = i64;
