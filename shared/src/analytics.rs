//! Spark event-log analytics: what harbourd learned from replayed and pushed listener events,
//! per application, job, stage and date. Counts are task attempts, as Spark's own REST API
//! counts them (`numCompletedTasks`, `numFailedTasks`, `numKilledTasks`).

use serde::{Deserialize, Serialize};

use crate::UnixMillis;

/// The most event lines one `spark_push_events` call may carry.
pub const MAX_PUSH_EVENTS: usize = 50_000;

/// Task attempts that ended, by outcome, and the share that succeeded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskTotals {
    /// Task attempts that ended (succeeded + failed + killed).
    pub ended: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub killed: u64,
    /// Attempts after the first of a task (retries and speculative copies).
    pub retries: u64,
}

impl TaskTotals {
    /// Succeeded / ended, `None` when nothing ended.
    pub fn success_rate(&self) -> Option<f64> {
        (self.ended > 0).then(|| self.succeeded as f64 / self.ended as f64)
    }
}

/// One application, as its events tell it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppSummary {
    pub app_id: String,
    pub name: String,
    /// `RUNNING` (no ApplicationEnd yet) or `FINISHED`.
    pub status: String,
    pub start_ms: Option<UnixMillis>,
    pub end_ms: Option<UnixMillis>,
    pub duration_ms: Option<i64>,
    pub jobs: u64,
    pub failed_jobs: u64,
    pub tasks: TaskTotals,
    /// Where its events came from: a log file or directory, or `pushed`.
    pub source: String,
}

/// One job of an application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSummary {
    pub app_id: String,
    pub job_id: i64,
    pub name: String,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, or `UNKNOWN` (task events arrived, its JobStart not).
    pub status: String,
    pub start_ms: Option<UnixMillis>,
    pub end_ms: Option<UnixMillis>,
    pub duration_ms: Option<i64>,
    pub stages: u64,
    /// Tasks its stages planned (skipped stages included), as Spark's `numTasks`.
    pub planned_tasks: u64,
    pub tasks: TaskTotals,
    /// The stage that ran longest: id, attempt, name, duration.
    pub slowest_stage: Option<(i64, i64, String, i64)>,
    /// The largest max/median task time over its stages.
    pub max_skew: Option<f64>,
    /// Why it failed, when it did.
    pub failure: Option<String>,
}

/// One stage attempt of a job, with the spread of its successful tasks' durations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageSummary {
    pub stage_id: i64,
    pub attempt: i64,
    pub name: String,
    /// `PENDING`, `ACTIVE`, `COMPLETE`, `FAILED` or `SKIPPED`.
    pub status: String,
    pub planned_tasks: u64,
    pub tasks: TaskTotals,
    pub start_ms: Option<UnixMillis>,
    pub end_ms: Option<UnixMillis>,
    pub duration_ms: Option<i64>,
    /// Task durations (ms) of successful attempts: min, 25th, median, 75th percentile, max.
    pub task_ms: Option<[i64; 5]>,
    /// max / median task time.
    pub skew: Option<f64>,
    pub gc_ms: u64,
    pub input_bytes: u64,
    pub shuffle_read_bytes: u64,
    pub shuffle_write_bytes: u64,
    pub failure: Option<String>,
}

/// A task attempt that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedTask {
    pub task_id: i64,
    pub stage_id: i64,
    pub stage_attempt: i64,
    pub index: i64,
    pub attempt: i64,
    pub executor: String,
    pub host: String,
    /// Spark's reason (`ExceptionFailure`, `ExecutorLostFailure`, `TaskKilled`, ...).
    pub reason: String,
    /// Its description (the exception's message), first line.
    pub message: String,
    pub finish_ms: Option<UnixMillis>,
}

/// One executor of an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutorSummary {
    pub id: String,
    pub host: String,
    pub cores: u32,
    pub added_ms: Option<UnixMillis>,
    pub removed_ms: Option<UnixMillis>,
    pub removed_reason: Option<String>,
}

/// A line of an event log harbourd could not read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogProblem {
    pub path: String,
    /// 1-based line, 0 for a problem with the whole file.
    pub line: u64,
    pub why: String,
}

/// `spark_apps`: every application, and the log lines that could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SparkApps {
    pub apps: Vec<AppSummary>,
    pub problems: Vec<LogProblem>,
}

/// `spark_app`: an application and its jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppDetail {
    pub app: AppSummary,
    pub jobs: Vec<JobSummary>,
    pub executors: Vec<ExecutorSummary>,
    /// Harbour's run of this application, when harbour ran it.
    pub run: Option<crate::RunId>,
}

/// `spark_job`: a job, its stages and its failed task attempts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDetail {
    pub job: JobSummary,
    pub stages: Vec<StageSummary>,
    pub failed_tasks: Vec<FailedTask>,
}

/// `spark_summary`: the jobs that started on one UTC date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaySummary {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub total_jobs: u64,
    pub total_tasks: u64,
    pub failed_tasks: u64,
    /// The mean of the jobs' success rates (jobs with ended tasks).
    pub avg_success_rate: Option<f64>,
    /// The mean duration of the jobs that ended.
    pub avg_duration_ms: Option<f64>,
    pub jobs: Vec<JobSummary>,
}

/// What one `spark_push_events` call did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushReport {
    /// The application the events were stored under.
    pub app_id: String,
    /// Lines read as listener events harbour keeps.
    pub stored: u64,
    /// Well-formed events of kinds harbour does not keep (block updates, SQL, ...).
    pub ignored: u64,
    /// Lines that were not listener events: (0-based index in the batch, why). At most 20.
    pub rejected: Vec<(u64, String)>,
}
