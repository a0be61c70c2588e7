//! Runs: single executions of a job, and the state they are in.
//!
//! A run's state is a lifecycle plus, once it has terminated, a result (the Databricks shape):
//! `Queued -> Starting -> Running -> Terminating -> Terminated`, or `WaitingForRetry` before a
//! retry is queued. The rules for moving between them live in the daemon (`runs::state`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::jobs::{JobId, JobKind, JobRef, JobSpec};
use crate::{Error, UnixMillis};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for RunId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim_start_matches('r')
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(RunId)
            .ok_or_else(|| {
                Error::invalid(
                    "run id",
                    format!("'{s}' is not a run id; run ids are numbers like 42"),
                )
            })
    }
}

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Lifecycle {
    Queued,
    Starting,
    Running,
    Terminating,
    Terminated,
    WaitingForRetry,
}

impl Lifecycle {
    pub fn is_terminal(self) -> bool {
        self == Self::Terminated
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Starting => "starting",
            Self::Running => "running",
            Self::Terminating => "terminating",
            Self::Terminated => "terminated",
            Self::WaitingForRetry => "waiting-for-retry",
        }
    }
}

impl fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a terminated run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RunResult {
    Succeeded,
    /// Non-zero exit, death by a signal (`exit_code` none), or a start that failed.
    Failed {
        exit_code: Option<i32>,
    },
    TimedOut,
    Cancelled,
    /// The daemon stopped or died while the run was active.
    Lost,
}

impl RunResult {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed { .. } => "failed",
            Self::TimedOut => "timed-out",
            Self::Cancelled => "cancelled",
            Self::Lost => "lost",
        }
    }

    /// Whether a retry policy applies to this result. A cancelled run was stopped on purpose.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Failed { .. } | Self::TimedOut | Self::Lost)
    }
}

impl fmt::Display for RunResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed {
                exit_code: Some(code),
            } => write!(f, "failed ({code})"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// What made a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Trigger {
    /// A one-off `submit`.
    Submit,
    /// `jobs run`.
    Manual,
    /// The job's cron schedule.
    Schedule,
    /// The job's retry policy, after an earlier attempt failed.
    Retry,
    /// `restart` of an earlier run.
    Restart,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submit => "submit",
            Self::Manual => "manual",
            Self::Schedule => "schedule",
            Self::Retry => "retry",
            Self::Restart => "restart",
        }
    }
}

/// One execution of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub id: RunId,
    pub job_id: JobId,
    pub job_name: String,
    pub kind: JobKind,
    pub trigger: Trigger,
    /// 1 for a first attempt, 2 for its first retry, and so on.
    pub attempt: u32,
    /// The run this one retries or restarts.
    pub parent: Option<RunId>,
    pub lifecycle: Lifecycle,
    /// Set exactly when `lifecycle` is `Terminated`.
    pub result: Option<RunResult>,
    /// Why the run is where it is, in words.
    pub state_message: String,
    pub queued_ms: UnixMillis,
    pub started_ms: Option<UnixMillis>,
    pub ended_ms: Option<UnixMillis>,
    /// When a `WaitingForRetry` run will be queued.
    pub retry_at_ms: Option<UnixMillis>,
    pub pid: Option<u32>,
    pub exit_code: Option<i32>,
    pub stdout_bytes: u64,
    pub stderr_bytes: u64,
    /// The Spark application of a pyspark run, once its driver answered.
    pub spark: Option<crate::spark::SparkAppRef>,
}

impl Run {
    /// `lifecycle` and `result` as one word, as users see it (`running`, `failed`, ...).
    pub fn state_label(&self) -> &'static str {
        match self.result {
            Some(result) => result.as_str(),
            None => self.lifecycle.as_str(),
        }
    }

    pub fn is_active(&self) -> bool {
        !self.lifecycle.is_terminal()
    }

    /// Milliseconds the run has run for, up to `now_ms` while it is still running.
    pub fn duration_ms(&self, now_ms: UnixMillis) -> Option<i64> {
        let start = self.started_ms?;
        Some(self.ended_ms.unwrap_or(now_ms).saturating_sub(start).max(0))
    }
}

/// One recorded change of a run's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub at_ms: UnixMillis,
    pub lifecycle: Lifecycle,
    pub result: Option<RunResult>,
    pub message: String,
}

/// What a run's processes used, as harbourd's metrics sampler saw them each interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunUsage {
    /// CPU time summed over the samples (a process that lived less than one interval may
    /// be missed); 0 with metrics off.
    pub cpu_ms: u64,
    pub peak_rss_bytes: u64,
    /// The latest sample, while the run is active.
    pub now: Option<crate::ProcessCost>,
}

/// A run with what it ran and how it got to its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDetail {
    pub run: Run,
    /// The job's spec as it was when the run was made.
    pub spec: JobSpec,
    pub transitions: Vec<Transition>,
    /// The program and arguments the run executed (once started).
    pub argv: Vec<String>,
    pub stdout_path: String,
    pub stderr_path: String,
    /// The log files were removed by the retention policy.
    pub logs_pruned: bool,
    pub usage: RunUsage,
}

/// A state as users filter by it: a lifecycle, a result, or `active`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunStateFilter {
    Lifecycle(Lifecycle),
    Result(RunResult),
    /// Any run that has not terminated.
    Active,
}

impl FromStr for RunStateFilter {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use Lifecycle as L;
        Ok(match s.to_ascii_lowercase().as_str() {
            "queued" => Self::Lifecycle(L::Queued),
            "starting" => Self::Lifecycle(L::Starting),
            "running" => Self::Lifecycle(L::Running),
            "terminating" => Self::Lifecycle(L::Terminating),
            "terminated" => Self::Lifecycle(L::Terminated),
            "waiting" | "waiting-for-retry" => Self::Lifecycle(L::WaitingForRetry),
            "active" => Self::Active,
            "succeeded" => Self::Result(RunResult::Succeeded),
            "failed" => Self::Result(RunResult::Failed { exit_code: None }),
            "timed-out" | "timedout" => Self::Result(RunResult::TimedOut),
            "cancelled" | "canceled" => Self::Result(RunResult::Cancelled),
            "lost" => Self::Result(RunResult::Lost),
            _ => {
                return Err(Error::invalid(
                    "state",
                    format!(
                        "'{s}' is not a run state; use one of active, queued, starting, running, \
                         terminating, terminated, waiting, succeeded, failed, timed-out, \
                         cancelled, lost"
                    ),
                ));
            }
        })
    }
}

/// Which runs `list_runs` returns, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFilter {
    pub state: Option<RunStateFilter>,
    pub job: Option<JobRef>,
    /// Case-insensitive substring of the job name, kind, state or message.
    pub search: Option<String>,
    /// At most this many (the daemon caps it; 0 means its default).
    pub limit: u32,
    /// Only runs with a smaller id, for paging back.
    pub before: Option<RunId>,
}

/// How many runs are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    pub queued: u64,
    pub starting: u64,
    pub running: u64,
    pub terminating: u64,
    pub waiting_for_retry: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub cancelled: u64,
    pub lost: u64,
}

impl RunCounts {
    pub fn total(&self) -> u64 {
        self.active() + self.succeeded + self.failed + self.timed_out + self.cancelled + self.lost
    }

    pub fn active(&self) -> u64 {
        self.queued + self.starting + self.running + self.terminating + self.waiting_for_retry
    }

    /// The counts as (label, count) pairs in a stable order, for printing.
    pub fn labelled(&self) -> [(&'static str, u64); 10] {
        [
            ("queued", self.queued),
            ("starting", self.starting),
            ("running", self.running),
            ("terminating", self.terminating),
            ("waiting-for-retry", self.waiting_for_retry),
            ("succeeded", self.succeeded),
            ("failed", self.failed),
            ("timed-out", self.timed_out),
            ("cancelled", self.cancelled),
            ("lost", self.lost),
        ]
    }
}
