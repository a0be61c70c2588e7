//! Answers about the daemon itself and the dashboard summary.

use serde::{Deserialize, Serialize};

use crate::UnixMillis;
use crate::monitor::{HealthSummary, HostGauges};
use crate::runs::{Run, RunCounts};

/// The answer to `hello`. Its shape never changes (see `PROTOCOL_VERSION`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: u32,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub version: String,
    pub protocol: u32,
    pub pid: u32,
    pub started_ms: UnixMillis,
    pub uptime_secs: u64,
    /// `user` or `system`.
    pub mode: String,
    pub config_file: String,
    pub data_dir: String,
    pub socket: String,
    pub jobs: u64,
    pub runs: RunCounts,
    pub max_concurrent_runs: u32,
    /// The `SPARK_HOME` pyspark runs use, when one is configured.
    pub spark_home: Option<String>,
}

/// Runs that ended on one local day, by result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayTrend {
    /// `YYYY-MM-DD` in the daemon's local time.
    pub date: String,
    pub succeeded: u64,
    /// Failed, timed out or lost.
    pub failed: u64,
    pub cancelled: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    /// Defined jobs (not one-off submissions).
    pub jobs: u64,
    pub scheduled_jobs: u64,
    pub runs: RunCounts,
    /// Filled by the notebooks feature; 0 until it lands.
    pub notebooks: u64,
    /// Filled by the Spark clusters feature; 0 until it lands.
    pub clusters: u64,
    /// The last 7 days, oldest first, today last.
    pub trend: Vec<DayTrend>,
    /// The latest failed, timed-out or lost runs, newest first.
    pub recent_failures: Vec<Run>,
    /// The host now; none until the first sample (or with metrics off).
    pub host: Option<HostGauges>,
    pub health: HealthSummary,
}
