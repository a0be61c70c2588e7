//! Monitoring: the host's metrics now and over time, health checks, and Docker containers.
//!
//! Metric history crosses the wire as columns with explicit gaps: a start, a step and one
//! `Option<f64>` per step, `None` where nothing was recorded (the daemon was down, say). A chart
//! draws a gap there instead of a line that was never measured.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::runs::RunId;
use crate::{Error, UnixMillis};

/// CPU and memory of one process or process tree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessCost {
    /// Resident memory, summed over the processes.
    pub rss_bytes: u64,
    /// Percent of one core (200 = two cores busy), over the last sampling interval.
    pub cpu_percent: f64,
    pub processes: u32,
}

/// What one run's process group costs right now.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RunCost {
    pub run: RunId,
    pub cost: ProcessCost,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiskNow {
    pub mount: String,
    pub used_bytes: u64,
    pub total_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkNow {
    pub interface: String,
    pub rx_bytes_per_sec: f64,
    pub tx_bytes_per_sec: f64,
}

/// The latest sample of the host, harbourd itself and the active runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsNow {
    pub at_ms: UnixMillis,
    /// How often the daemon samples.
    pub interval_ms: u64,
    /// All cores, 0-100.
    pub cpu_percent: f64,
    /// Each core, 0-100.
    pub cores: Vec<f64>,
    /// 1, 5 and 15 minute load averages.
    pub load: [f64; 3],
    pub memory_used_bytes: u64,
    pub memory_total_bytes: u64,
    pub swap_used_bytes: u64,
    pub swap_total_bytes: u64,
    pub disks: Vec<DiskNow>,
    /// Summed over the disks.
    pub disk_read_bytes_per_sec: f64,
    pub disk_write_bytes_per_sec: f64,
    pub networks: Vec<NetworkNow>,
    pub processes: u64,
    pub harbourd: ProcessCost,
    pub runs: Vec<RunCost>,
}

/// One series over a window, as columns: the value of step `i` covers
/// `[start_ms + i * step_ms, start_ms + (i + 1) * step_ms)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricHistory {
    pub series: String,
    pub start_ms: UnixMillis,
    pub step_ms: u64,
    /// The resolution of the stored data the answer was made from.
    pub resolution_ms: u64,
    /// The mean of the stored points in each step; `None` where there were none.
    pub values: Vec<Option<f64>>,
}

impl MetricHistory {
    /// (time, value) of each step that has a value.
    pub fn points(&self) -> impl Iterator<Item = (UnixMillis, f64)> + '_ {
        let step = i64::try_from(self.step_ms).unwrap_or(i64::MAX);
        self.values
            .iter()
            .enumerate()
            .filter_map(move |(i, v)| Some((self.start_ms + step * i as i64, (*v)?)))
    }
}

/// Whether a check passes, as its thresholds judge it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Not yet checked often enough to say.
    Pending,
    Up,
    Down,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Up => "up",
            Self::Down => "down",
        }
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One health check and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub name: String,
    /// `http`, `tcp`, `process`, `container` or `builtin`.
    pub kind: String,
    /// What is checked: a URL, an address, a process or container name, a part of harbourd.
    pub target: String,
    pub status: HealthStatus,
    /// When the check entered its status.
    pub since_ms: UnixMillis,
    pub last_checked_ms: Option<UnixMillis>,
    /// How long the last attempt took.
    pub latency_ms: Option<u64>,
    /// What the last attempt found, in words.
    pub message: String,
    /// Failed attempts in a row.
    pub failures: u32,
}

/// A check changed status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthTransition {
    pub check: String,
    pub at_ms: UnixMillis,
    pub from: HealthStatus,
    pub to: HealthStatus,
    pub message: String,
    pub latency_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    pub checks: Vec<HealthCheck>,
    /// The latest transitions, newest first.
    pub transitions: Vec<HealthTransition>,
}

impl HealthReport {
    pub fn any_down(&self) -> bool {
        self.checks.iter().any(|c| c.status == HealthStatus::Down)
    }
}

/// The dashboard's host gauges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostGauges {
    pub cpu_percent: f64,
    pub memory_used_bytes: u64,
    pub memory_total_bytes: u64,
    pub load1: f64,
    /// The fullest disk: its mount and how full it is, 0-100.
    pub fullest_disk: Option<(String, f64)>,
}

/// The dashboard's health summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthSummary {
    pub up: u32,
    pub down: u32,
    pub pending: u32,
    /// The names of the checks that are down.
    pub down_checks: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ContainerStats {
    /// Percent of one core, as `docker stats` shows it.
    pub cpu_percent: f64,
    pub memory_bytes: u64,
    pub memory_limit_bytes: u64,
}

/// A container as the Docker engine lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub image: String,
    /// `running`, `exited`, `restarting`, ...
    pub state: String,
    /// The engine's words: `Up 5 minutes (healthy)`.
    pub status: String,
    /// From the image's HEALTHCHECK: `healthy`, `unhealthy`, `starting`; none without one.
    pub health: Option<String>,
    /// `0.0.0.0:8080->80/tcp`, or `80/tcp` when not published.
    pub ports: Vec<String>,
    pub created_ms: UnixMillis,
    /// The compose project and service it belongs to, from its labels.
    pub project: Option<String>,
    pub service: Option<String>,
    /// Filled when asked for, for running containers.
    pub stats: Option<ContainerStats>,
}

/// Lines of a container's output after a cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerLogChunk {
    /// stdout and stderr lines as the engine interleaved them, each ending in `\n`.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// Pass as `after_ns` next time: the engine's timestamp of the last line, in ns.
    pub cursor_ns: i64,
    /// The container is running, so more may come.
    pub running: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerAction {
    Restart,
    Stop,
    Start,
}

impl ContainerAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Restart => "restart",
            Self::Stop => "stop",
            Self::Start => "start",
        }
    }
}

impl FromStr for ContainerAction {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "restart" => Ok(Self::Restart),
            "stop" => Ok(Self::Stop),
            "start" => Ok(Self::Start),
            _ => Err(Error::invalid(
                "action",
                format!("'{s}' is not a container action; use restart, stop or start"),
            )),
        }
    }
}

/// Parses a duration as users write windows and steps: `90`, `30s`, `5m`, `1h`, `7d`.
/// Answers milliseconds.
pub fn parse_span_ms(s: &str) -> Result<u64, Error> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().map_err(|_| {
        Error::invalid(
            "duration",
            format!("'{s}' is not a duration; write e.g. 30s, 5m, 1h or 7d"),
        )
    })?;
    let scale = match unit {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(Error::invalid(
                "duration",
                format!("'{s}' has an unknown unit; use ms, s, m, h or d"),
            ));
        }
    };
    n.checked_mul(scale)
        .ok_or_else(|| Error::invalid("duration", format!("'{s}' is too long")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_parse() {
        assert_eq!(parse_span_ms("90").unwrap(), 90_000);
        assert_eq!(parse_span_ms("10s").unwrap(), 10_000);
        assert_eq!(parse_span_ms("5m").unwrap(), 300_000);
        assert_eq!(parse_span_ms("1h").unwrap(), 3_600_000);
        assert_eq!(parse_span_ms("30d").unwrap(), 2_592_000_000);
        assert!(parse_span_ms("1w").is_err());
        assert!(parse_span_ms("h").is_err());
    }

    #[test]
    fn history_points_skip_gaps() {
        let h = MetricHistory {
            series: "cpu".into(),
            start_ms: 1_000,
            step_ms: 10,
            resolution_ms: 10,
            values: vec![Some(1.0), None, Some(3.0)],
        };
        assert_eq!(h.points().collect::<Vec<_>>(), [(1_000, 1.0), (1_020, 3.0)]);
    }
}
