//! Spark's HTTP APIs on loopback: a standalone master's `/json/` (health and capacity) and a
//! running driver's REST API (`/api/v1/applications/{id}/jobs|stages|executors`), turned
//! into the wire types. Plain HTTP with short timeouts: these are local processes.

use std::time::Duration;

use harbour_shared::{
    ClusterHealth, ProgressSource, SparkExecutor, SparkJob, SparkProgress, SparkStage, TaskCounts,
    WorkerInfo,
};
use serde::Deserialize;

use crate::clock::now_ms;

/// One HTTP client for the daemon's Spark calls.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .connect_timeout(Duration::from_millis(500))
        .no_proxy()
        .build()
        .unwrap_or_default()
}

#[derive(Debug, thiserror::Error)]
#[error("{url}: {why}")]
pub struct RestError {
    pub url: String,
    pub why: String,
}

async fn get<T: for<'de> Deserialize<'de>>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, RestError> {
    let err = |why: String| RestError {
        url: url.to_owned(),
        why,
    };
    let resp = http.get(url).send().await.map_err(|e| err(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(err(format!("HTTP {}", resp.status())));
    }
    resp.json::<T>().await.map_err(|e| err(e.to_string()))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
struct MasterJson {
    #[serde(default)]
    workers: Vec<MasterWorker>,
    #[serde(default)]
    cores: u32,
    #[serde(default)]
    coresused: u32,
    #[serde(default)]
    memory: u64,
    #[serde(default)]
    memoryused: u64,
    #[serde(default)]
    activeapps: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
struct MasterWorker {
    id: String,
    host: String,
    #[serde(default)]
    port: u16,
    state: String,
    #[serde(default)]
    cores: u32,
    #[serde(default)]
    coresused: u32,
    #[serde(default)]
    memory: u64,
    #[serde(default)]
    memoryused: u64,
}

/// Health of a standalone master from its web UI's `/json/`. `expected_workers` is how many
/// workers the cluster should have; fewer alive is a problem worth showing.
pub async fn master_health(
    http: &reqwest::Client,
    web_ui: &str,
    expected_workers: u32,
) -> ClusterHealth {
    let url = format!("{}/json/", web_ui.trim_end_matches('/'));
    match get::<MasterJson>(http, &url).await {
        Ok(json) => {
            let workers: Vec<WorkerInfo> = json
                .workers
                .into_iter()
                .map(|w| WorkerInfo {
                    id: w.id,
                    host: format!("{}:{}", w.host, w.port),
                    state: w.state,
                    cores: w.cores,
                    cores_used: w.coresused,
                    memory_mb: w.memory,
                    memory_used_mb: w.memoryused,
                })
                .collect();
            let alive = workers.iter().filter(|w| w.state == "ALIVE").count() as u32;
            let dead = workers.iter().filter(|w| w.state == "DEAD").count() as u32;
            let missing = expected_workers.saturating_sub(alive);
            let problem = (missing > 0).then(|| {
                format!(
                    "{alive} of {expected_workers} workers alive{}",
                    if dead > 0 {
                        format!(" ({dead} died)")
                    } else {
                        String::new()
                    }
                )
            });
            ClusterHealth {
                checked_ms: now_ms(),
                master_alive: true,
                workers_alive: alive,
                workers_missing: missing,
                cores: json.cores,
                cores_used: json.coresused,
                memory_mb: json.memory,
                memory_used_mb: json.memoryused,
                running_apps: json.activeapps.len() as u32,
                workers,
                problem,
            }
        }
        Err(e) => ClusterHealth {
            checked_ms: now_ms(),
            master_alive: false,
            workers_missing: expected_workers,
            problem: Some(format!("the master does not answer: {e}")),
            ..ClusterHealth::default()
        },
    }
}

#[derive(Debug, Deserialize)]
struct AppJson {
    id: String,
    name: String,
}

/// The application a driver's UI serves: (id, name), once it answers.
pub async fn driver_app(http: &reqwest::Client, ui: &str) -> Result<(String, String), RestError> {
    let url = format!("{}/api/v1/applications", ui.trim_end_matches('/'));
    let apps: Vec<AppJson> = get(http, &url).await?;
    apps.into_iter()
        .next()
        .map(|a| (a.id, a.name))
        .ok_or(RestError {
            url,
            why: "no application yet".into(),
        })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobJson {
    job_id: i64,
    name: String,
    status: String,
    #[serde(default)]
    stage_ids: Vec<i64>,
    submission_time: Option<String>,
    completion_time: Option<String>,
    #[serde(default)]
    num_tasks: u32,
    #[serde(default)]
    num_active_tasks: u32,
    #[serde(default)]
    num_completed_tasks: u32,
    #[serde(default)]
    num_skipped_tasks: u32,
    #[serde(default)]
    num_failed_tasks: u32,
    #[serde(default)]
    num_killed_tasks: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StageJson {
    status: String,
    stage_id: i64,
    attempt_id: i64,
    name: String,
    #[serde(default)]
    num_tasks: u32,
    #[serde(default)]
    num_active_tasks: u32,
    #[serde(default)]
    num_complete_tasks: u32,
    #[serde(default)]
    num_failed_tasks: u32,
    #[serde(default)]
    num_killed_tasks: u32,
    submission_time: Option<String>,
    completion_time: Option<String>,
    failure_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecutorJson {
    id: String,
    host_port: String,
    is_active: bool,
    #[serde(default)]
    total_cores: u32,
    #[serde(default)]
    active_tasks: u32,
    #[serde(default)]
    completed_tasks: u32,
    #[serde(default)]
    failed_tasks: u32,
}

/// Spark's REST times: `2026-11-21T11:24:47.123GMT`.
pub fn parse_time(text: &str) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.3fGMT")
        .ok()
        .map(|t| t.and_utc().timestamp_millis())
}

/// Jobs, stages and executors of the application a running driver serves.
pub async fn driver_progress(
    http: &reqwest::Client,
    ui: &str,
    app_id: &str,
) -> Result<SparkProgress, RestError> {
    let base = format!("{}/api/v1/applications/{app_id}", ui.trim_end_matches('/'));
    let (jobs_url, stages_url, executors_url) = (
        format!("{base}/jobs"),
        format!("{base}/stages"),
        format!("{base}/executors"),
    );
    let (jobs, stages, executors) = tokio::join!(
        get::<Vec<JobJson>>(http, &jobs_url),
        get::<Vec<StageJson>>(http, &stages_url),
        get::<Vec<ExecutorJson>>(http, &executors_url),
    );
    let mut jobs: Vec<SparkJob> = jobs?
        .into_iter()
        .map(|j| SparkJob {
            id: j.job_id,
            name: j.name,
            status: j.status,
            stage_ids: j.stage_ids,
            tasks: TaskCounts {
                total: j.num_tasks,
                active: j.num_active_tasks,
                completed: j.num_completed_tasks,
                failed: j.num_failed_tasks,
                skipped: j.num_skipped_tasks,
                killed: j.num_killed_tasks,
            },
            submitted_ms: j.submission_time.as_deref().and_then(parse_time),
            completed_ms: j.completion_time.as_deref().and_then(parse_time),
        })
        .collect();
    jobs.sort_by_key(|j| j.id);
    let mut stages: Vec<SparkStage> = stages?
        .into_iter()
        .map(|s| SparkStage {
            id: s.stage_id,
            attempt: s.attempt_id,
            name: s.name,
            status: s.status,
            tasks: TaskCounts {
                total: s.num_tasks,
                active: s.num_active_tasks,
                completed: s.num_complete_tasks,
                failed: s.num_failed_tasks,
                skipped: 0,
                killed: s.num_killed_tasks,
            },
            failure_reason: s.failure_reason,
            submitted_ms: s.submission_time.as_deref().and_then(parse_time),
            completed_ms: s.completion_time.as_deref().and_then(parse_time),
        })
        .collect();
    stages.sort_by_key(|s| (s.id, s.attempt));
    let executors = executors
        .unwrap_or_default()
        .into_iter()
        .map(|e| SparkExecutor {
            id: e.id,
            host_port: e.host_port,
            active: e.is_active,
            cores: e.total_cores,
            active_tasks: e.active_tasks,
            completed_tasks: e.completed_tasks,
            failed_tasks: e.failed_tasks,
        })
        .collect();
    Ok(SparkProgress {
        app_id: Some(app_id.to_owned()),
        app_name: None,
        source: ProgressSource::Live,
        jobs,
        stages,
        executors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spark_rest_times() {
        assert_eq!(
            parse_time("1970-01-01T00:00:01.500GMT"),
            Some(1_500),
            "Spark's REST API writes GMT with milliseconds"
        );
        assert_eq!(parse_time("yesterday"), None);
    }
}
