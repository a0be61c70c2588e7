//! Spark event logs, replayed into the same progress view the driver's REST API gives while
//! an application runs: jobs and stages with task counts, failure reasons, executors.
//!
//! Harbour's own runs write one uncompressed JSON-lines file per application
//! (`<dir>/<app id>[.inprogress]`); Spark 4's rolling directories
//! (`eventlog_v2_<app id>/events_N_<app id>[.zstd]`) and zstd files are read too, through the
//! same streaming reader the analytics replay uses ([`crate::analytics::reader`]).

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufRead as _};
use std::path::{Path, PathBuf};

use harbour_shared::{
    ProgressSource, SparkExecutor, SparkJob, SparkProgress, SparkStage, TaskCounts,
};
use serde_json::Value;

/// The event log files of `app_id` under `dir`, in order.
pub fn files_of(dir: &Path, app_id: &str) -> io::Result<Vec<PathBuf>> {
    for name in [
        app_id.to_owned(),
        format!("{app_id}.inprogress"),
        format!("{app_id}.zstd"),
        format!("{app_id}.zstd.inprogress"),
    ] {
        let path = dir.join(name);
        if path.is_file() {
            return Ok(vec![path]);
        }
    }
    let rolling = dir.join(format!("eventlog_v2_{app_id}"));
    if rolling.is_dir() {
        let mut files: Vec<(u64, PathBuf)> = fs::read_dir(&rolling)?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let n = name
                    .strip_prefix("events_")?
                    .split('_')
                    .next()?
                    .parse()
                    .ok()?;
                Some((n, e.path()))
            })
            .collect();
        files.sort();
        return Ok(files.into_iter().map(|(_, p)| p).collect());
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("no event log for {app_id} in {}", dir.display()),
    ))
}

#[derive(Debug, Default)]
struct StageAcc {
    name: String,
    total: u32,
    active: u32,
    completed: u32,
    failed: u32,
    killed: u32,
    submitted: bool,
    completed_stage: bool,
    failure: Option<String>,
    submitted_ms: Option<i64>,
    completed_ms: Option<i64>,
}

#[derive(Debug, Default)]
struct JobAcc {
    name: String,
    stages: Vec<(i64, i64)>,
    status: String,
    submitted_ms: Option<i64>,
    completed_ms: Option<i64>,
}

/// How much of a log's head is read to recognise its application: the environment update,
/// which holds the Spark properties, is among the first events.
const HEAD_BYTES: u64 = 1 << 20;

/// The application whose driver has its UI on `ui_port`, found in the event logs under `dir`
/// that Spark is writing (`<app id>.inprogress`); with `ended`, also the finished ones
/// modified since `since`. Its environment update carries `spark.ui.port`, which harbourd
/// gives every run a port of its own for. Spark writes the environment update and the
/// application's start as the driver starts (the start is flushed at once).
pub fn app_with_ui_port(
    dir: &Path,
    ui_port: u16,
    since: std::time::SystemTime,
    ended: bool,
) -> Option<String> {
    let needle = format!("\"spark.ui.port\":\"{ui_port}\"");
    fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .find_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let app_id = match name.strip_suffix(".inprogress") {
                Some(id) => id.to_owned(),
                None if ended => {
                    let modified = entry.metadata().ok()?.modified().ok()?;
                    (modified >= since).then(|| name.clone())?
                }
                None => return None,
            };
            if !entry.file_type().ok()?.is_file() || app_id.ends_with(".zstd") {
                return None;
            }
            let file = fs::File::open(entry.path()).ok()?;
            let head = io::BufReader::new(io::Read::take(file, HEAD_BYTES));
            head.lines()
                .map_while(Result::ok)
                .find(|line| {
                    line.starts_with("{\"Event\":\"SparkListenerEnvironmentUpdate\"")
                        && line.contains(&needle)
                })
                .map(|_| app_id)
        })
}

/// Replays the event log of `app_id` in `dir`.
pub fn replay(dir: &Path, app_id: &str) -> io::Result<SparkProgress> {
    let mut state = Replay::default();
    for file in files_of(dir, app_id)? {
        let reader = crate::analytics::reader::open(&file)?;
        for line in reader.lines() {
            // A zstd stream still being written ends mid-frame: what came before counts.
            let Ok(line) = line else { break };
            // A line cut short by a driver that died mid-write is skipped, not fatal.
            if let Ok(event) = serde_json::from_str::<Value>(&line) {
                state.apply(&event);
            }
        }
    }
    Ok(state.finish(app_id))
}

#[derive(Debug, Default)]
struct Replay {
    app_name: Option<String>,
    jobs: BTreeMap<i64, JobAcc>,
    stages: BTreeMap<(i64, i64), StageAcc>,
    executors: BTreeMap<String, SparkExecutor>,
}

fn int(v: &Value, key: &str) -> Option<i64> {
    v.get(key)?.as_i64()
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)?.as_str().map(str::to_owned)
}

impl Replay {
    fn stage_key(info: &Value) -> Option<(i64, i64)> {
        Some((
            int(info, "Stage ID")?,
            int(info, "Stage Attempt ID").unwrap_or(0),
        ))
    }

    fn stage_from_info(&mut self, info: &Value) -> Option<&mut StageAcc> {
        let key = Self::stage_key(info)?;
        let stage = self.stages.entry(key).or_default();
        if let Some(name) = text(info, "Stage Name") {
            stage.name = name;
        }
        if let Some(n) = int(info, "Number of Tasks") {
            stage.total = u32::try_from(n).unwrap_or(0);
        }
        Some(stage)
    }

    fn apply(&mut self, e: &Value) {
        let Some(kind) = e.get("Event").and_then(Value::as_str) else {
            return;
        };
        match kind {
            "SparkListenerApplicationStart" => self.app_name = text(e, "App Name"),
            "SparkListenerJobStart" => {
                let Some(id) = int(e, "Job ID") else { return };
                let mut job = JobAcc {
                    status: "RUNNING".into(),
                    submitted_ms: int(e, "Submission Time"),
                    ..JobAcc::default()
                };
                for info in e
                    .get("Stage Infos")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(key) = Self::stage_key(info) {
                        job.stages.push(key);
                    }
                    if job.name.is_empty() {
                        job.name = text(info, "Stage Name").unwrap_or_default();
                    }
                    self.stage_from_info(info);
                }
                // The job is named after its last stage, as Spark's UI does.
                if let Some(last) = job.stages.iter().max().and_then(|k| self.stages.get(k)) {
                    job.name.clone_from(&last.name);
                }
                self.jobs.insert(id, job);
            }
            "SparkListenerStageSubmitted" => {
                if let Some(info) = e.get("Stage Info")
                    && let Some(stage) = self.stage_from_info(info)
                {
                    stage.submitted = true;
                    stage.submitted_ms = int(info, "Submission Time");
                }
            }
            "SparkListenerTaskStart" => {
                if let Some(key) = Self::task_stage(e) {
                    self.stages.entry(key).or_default().active += 1;
                }
            }
            "SparkListenerTaskEnd" => {
                let Some(key) = Self::task_stage(e) else {
                    return;
                };
                let stage = self.stages.entry(key).or_default();
                stage.active = stage.active.saturating_sub(1);
                let reason = e
                    .get("Task End Reason")
                    .and_then(|r| text(r, "Reason"))
                    .unwrap_or_default();
                match reason.as_str() {
                    "Success" => stage.completed += 1,
                    "TaskKilled" => stage.killed += 1,
                    _ => stage.failed += 1,
                }
                if let Some(exec) = e
                    .get("Task Info")
                    .and_then(|t| text(t, "Executor ID"))
                    .and_then(|id| self.executors.get_mut(&id))
                {
                    match reason.as_str() {
                        "Success" => exec.completed_tasks += 1,
                        "TaskKilled" => {}
                        _ => exec.failed_tasks += 1,
                    }
                }
            }
            "SparkListenerStageCompleted" => {
                if let Some(info) = e.get("Stage Info")
                    && let Some(stage) = self.stage_from_info(info)
                {
                    stage.completed_stage = true;
                    stage.completed_ms = int(info, "Completion Time");
                    stage.failure = text(info, "Failure Reason");
                    stage.active = 0;
                }
            }
            "SparkListenerJobEnd" => {
                let Some(job) = int(e, "Job ID").and_then(|id| self.jobs.get_mut(&id)) else {
                    return;
                };
                job.completed_ms = int(e, "Completion Time");
                let result = e
                    .get("Job Result")
                    .and_then(|r| text(r, "Result"))
                    .unwrap_or_default();
                job.status = if result == "JobSucceeded" {
                    "SUCCEEDED".into()
                } else {
                    "FAILED".into()
                };
            }
            "SparkListenerExecutorAdded" => {
                let Some(id) = text(e, "Executor ID") else {
                    return;
                };
                let info = e.get("Executor Info");
                let host = info.and_then(|i| text(i, "Host")).unwrap_or_default();
                let cores = info.and_then(|i| int(i, "Total Cores")).unwrap_or(0);
                self.executors.insert(
                    id.clone(),
                    SparkExecutor {
                        id,
                        host_port: host,
                        active: true,
                        cores: u32::try_from(cores).unwrap_or(0),
                        active_tasks: 0,
                        completed_tasks: 0,
                        failed_tasks: 0,
                    },
                );
            }
            "SparkListenerExecutorRemoved" => {
                if let Some(exec) =
                    text(e, "Executor ID").and_then(|id| self.executors.get_mut(&id))
                {
                    exec.active = false;
                }
            }
            _ => {}
        }
    }

    fn task_stage(e: &Value) -> Option<(i64, i64)> {
        Some((int(e, "Stage ID")?, int(e, "Stage Attempt ID").unwrap_or(0)))
    }

    fn finish(self, app_id: &str) -> SparkProgress {
        let stage_status = |s: &StageAcc| -> &'static str {
            match (s.submitted, s.completed_stage, s.failure.is_some()) {
                (_, true, true) => "FAILED",
                (_, true, false) => "COMPLETE",
                (true, false, _) => "ACTIVE",
                (false, false, _) => "PENDING",
            }
        };
        let mut jobs = Vec::new();
        for (id, job) in &self.jobs {
            let mut tasks = TaskCounts::default();
            for key in &job.stages {
                let Some(s) = self.stages.get(key) else {
                    continue;
                };
                tasks.total += s.total;
                if !s.submitted && job.status != "RUNNING" {
                    tasks.skipped += s.total;
                    continue;
                }
                tasks.active += s.active;
                tasks.completed += s.completed;
                tasks.failed += s.failed;
                tasks.killed += s.killed;
            }
            jobs.push(SparkJob {
                id: *id,
                name: job.name.clone(),
                status: job.status.clone(),
                stage_ids: job.stages.iter().map(|(s, _)| *s).collect(),
                tasks,
                submitted_ms: job.submitted_ms,
                completed_ms: job.completed_ms,
            });
        }
        // Stages of a finished job that never ran were skipped (their output was reused).
        let finished_stages: Vec<(i64, i64)> = self
            .jobs
            .values()
            .filter(|j| j.status != "RUNNING")
            .flat_map(|j| j.stages.iter().copied())
            .collect();
        let stages = self
            .stages
            .iter()
            .map(|(key, s)| {
                let status = if !s.submitted && finished_stages.contains(key) {
                    "SKIPPED"
                } else {
                    stage_status(s)
                };
                SparkStage {
                    id: key.0,
                    attempt: key.1,
                    name: s.name.clone(),
                    status: status.into(),
                    tasks: TaskCounts {
                        total: s.total,
                        active: s.active,
                        completed: s.completed,
                        failed: s.failed,
                        skipped: 0,
                        killed: s.killed,
                    },
                    failure_reason: s.failure.clone(),
                    submitted_ms: s.submitted_ms,
                    completed_ms: s.completed_ms,
                }
            })
            .collect();
        SparkProgress {
            app_id: Some(app_id.to_owned()),
            app_name: self.app_name,
            source: ProgressSource::EventLog,
            jobs,
            stages,
            executors: self.executors.into_values().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_application_is_found_by_its_ui_port() {
        use std::time::{Duration, SystemTime};
        let dir = tempfile::tempdir().unwrap();
        let log = |port: u16| {
            format!(
                "{{\"Event\":\"SparkListenerLogStart\",\"Spark Version\":\"4.3.0\"}}\n\
                 {{\"Event\":\"SparkListenerEnvironmentUpdate\",\"Spark Properties\":\
                 {{\"spark.app.name\":\"x\",\"spark.ui.port\":\"{port}\"}}}}\n"
            )
        };
        let before = SystemTime::now() - Duration::from_secs(60);
        fs::write(dir.path().join("local-1.inprogress"), log(4100)).unwrap();
        fs::write(dir.path().join("local-2.inprogress"), log(41000)).unwrap();
        fs::write(dir.path().join("local-3"), log(4200)).unwrap();
        let find = |port, ended| app_with_ui_port(dir.path(), port, before, ended);
        assert_eq!(find(4100, false).as_deref(), Some("local-1"));
        assert_eq!(find(41000, false).as_deref(), Some("local-2"));
        // Finished logs count only when asked for, and only recent ones.
        assert_eq!(find(4200, false), None);
        assert_eq!(find(4200, true).as_deref(), Some("local-3"));
        let later = SystemTime::now() + Duration::from_secs(60);
        assert_eq!(app_with_ui_port(dir.path(), 4200, later, true), None);
        assert_eq!(find(4300, true), None);
        assert_eq!(
            app_with_ui_port(&dir.path().join("none"), 4100, before, true),
            None
        );
    }

    const LOG: &str = r#"{"Event":"SparkListenerApplicationStart","App Name":"demo","App ID":"local-1"}
{"Event":"SparkListenerExecutorAdded","Executor ID":"driver","Executor Info":{"Host":"127.0.0.1","Total Cores":2}}
{"Event":"SparkListenerJobStart","Job ID":0,"Submission Time":10,"Stage Infos":[{"Stage ID":0,"Stage Attempt ID":0,"Stage Name":"map at x.py:3","Number of Tasks":4},{"Stage ID":1,"Stage Attempt ID":0,"Stage Name":"collect at x.py:4","Number of Tasks":2}],"Stage IDs":[0,1]}
{"Event":"SparkListenerStageSubmitted","Stage Info":{"Stage ID":0,"Stage Attempt ID":0,"Stage Name":"map at x.py:3","Number of Tasks":4,"Submission Time":11}}
{"Event":"SparkListenerTaskStart","Stage ID":0,"Stage Attempt ID":0}
{"Event":"SparkListenerTaskEnd","Stage ID":0,"Stage Attempt ID":0,"Task End Reason":{"Reason":"ExceptionFailure"},"Task Info":{"Executor ID":"driver"}}
{"Event":"SparkListenerTaskEnd","Stage ID":0,"Stage Attempt ID":0,"Task End Reason":{"Reason":"Success"},"Task Info":{"Executor ID":"driver"}}
{"Event":"SparkListenerStageCompleted","Stage Info":{"Stage ID":0,"Stage Attempt ID":0,"Stage Name":"map at x.py:3","Number of Tasks":4,"Completion Time":20,"Failure Reason":"boom"}}
{"Event":"SparkListenerJobEnd","Job ID":0,"Completion Time":21,"Job Result":{"Result":"JobFailed"}}
{"Event":"SparkListenerTaskEnd","Stage ID":0,"Stage Attempt ID":0,"Task End Reason":{"Reason":"Succ"#;

    #[test]
    fn replays_jobs_stages_failures_and_executors() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("local-1.inprogress"), LOG).unwrap();
        let p = replay(dir.path(), "local-1").unwrap();
        assert_eq!(p.app_name.as_deref(), Some("demo"));
        assert_eq!(p.source, ProgressSource::EventLog);
        let job = &p.jobs[0];
        assert_eq!(job.status, "FAILED");
        assert_eq!(job.name, "collect at x.py:4");
        assert_eq!(job.tasks.total, 6);
        assert_eq!(job.tasks.failed, 1);
        assert_eq!(job.tasks.completed, 1);
        assert_eq!(job.tasks.skipped, 2, "stage 1 never ran");
        assert_eq!(p.stages[0].status, "FAILED");
        assert_eq!(p.stages[0].failure_reason.as_deref(), Some("boom"));
        assert_eq!(p.stages[1].status, "SKIPPED");
        assert_eq!(p.executors[0].completed_tasks, 1);
        assert_eq!(p.executors[0].failed_tasks, 1);
    }

    #[test]
    fn a_missing_log_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let err = replay(dir.path(), "app-x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
