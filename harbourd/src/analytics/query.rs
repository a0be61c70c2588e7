//! Reading analytics back: applications, jobs with their task totals, stages with task-time
//! quantiles and skew, failed task attempts, and the per-date summary.
//!
//! A stage attempt's tasks count for the jobs that list the stage and were running when it
//! started (as Spark's status listener counts them), so a stage whose output a later job
//! reused is not counted twice. Without times, the lowest job listing it gets it.

use std::collections::BTreeMap;

use harbour_shared::{
    AppSummary, DaySummary, ExecutorSummary, FailedTask, JobSummary, LogProblem, StageSummary,
    TaskTotals,
};
use rusqlite::{Connection, OptionalExtension as _, Row, params};

use super::store::rebuild_times;
use crate::store::StoreResult;

/// Failed attempts a job detail lists at most.
const MAX_FAILED_TASKS: usize = 200;

fn app_row(r: &Row<'_>) -> rusqlite::Result<AppSummary> {
    let start: Option<i64> = r.get(2)?;
    let end: Option<i64> = r.get(3)?;
    Ok(AppSummary {
        app_id: r.get(0)?,
        name: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
        status: if end.is_some() { "FINISHED" } else { "RUNNING" }.into(),
        start_ms: start,
        end_ms: end,
        duration_ms: start.zip(end).map(|(s, e)| e - s),
        source: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
        jobs: r.get::<_, i64>(5)? as u64,
        failed_jobs: r.get::<_, i64>(6)? as u64,
        tasks: TaskTotals {
            ended: r.get::<_, i64>(7)? as u64,
            succeeded: r.get::<_, i64>(8)? as u64,
            failed: r.get::<_, i64>(9)? as u64,
            killed: r.get::<_, i64>(10)? as u64,
            retries: r.get::<_, i64>(11)? as u64,
        },
    })
}

const APP_COLUMNS: &str = "a.app_id, a.name, a.start_ms, a.end_ms, a.source,
    (SELECT count(*) FROM analytics_jobs j WHERE j.app = a.id),
    (SELECT count(*) FROM analytics_jobs j WHERE j.app = a.id AND j.result = 'JobFailed'),
    a.ended, a.succeeded, a.failed, a.killed, a.retries";

/// Every application, the latest first.
pub fn apps(conn: &Connection) -> StoreResult<Vec<AppSummary>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {APP_COLUMNS} FROM analytics_apps a
         ORDER BY coalesce(a.start_ms, a.updated_ms) DESC, a.app_id"
    ))?;
    let rows = stmt.query_map([], app_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn app(conn: &Connection, app_id: &str) -> StoreResult<Option<(i64, AppSummary)>> {
    Ok(conn
        .query_row(
            &format!("SELECT {APP_COLUMNS}, a.id FROM analytics_apps a WHERE a.app_id = ?1"),
            [app_id],
            |r| Ok((r.get(12)?, app_row(r)?)),
        )
        .optional()?)
}

pub fn problems(conn: &Connection, limit: usize) -> StoreResult<Vec<LogProblem>> {
    let mut stmt = conn.prepare(
        "SELECT path, line, why FROM analytics_problems ORDER BY at_ms DESC, path, line LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit as i64], |r| {
        Ok(LogProblem {
            path: r.get(0)?,
            line: r.get::<_, i64>(1)? as u64,
            why: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn executors(conn: &Connection, app: i64) -> StoreResult<Vec<ExecutorSummary>> {
    let mut stmt = conn.prepare(
        "SELECT executor_id, host, cores, added_ms, removed_ms, removed_reason
         FROM analytics_executors WHERE app = ?1 ORDER BY added_ms, executor_id",
    )?;
    let rows = stmt.query_map([app], |r| {
        Ok(ExecutorSummary {
            id: r.get(0)?,
            host: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            cores: r.get::<_, Option<i64>>(2)?.unwrap_or(0) as u32,
            added_ms: r.get(3)?,
            removed_ms: r.get(4)?,
            removed_reason: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn skew(q: Option<[i64; 5]>) -> Option<f64> {
    q.and_then(|q| (q[2] > 0).then(|| q[4] as f64 / q[2] as f64))
}

/// A stage attempt as stored.
struct StageRow {
    job_id: i64,
    summary: StageSummary,
}

const STAGE_COLUMNS: &str = "s.stage_id, s.attempt, s.name, s.num_tasks, s.submitted,
    s.completed, s.submit_ms, s.end_ms, s.failure, s.ended, s.succeeded, s.failed, s.killed,
    s.retries, s.gc_ms, s.input_bytes, s.shuffle_read_bytes, s.shuffle_write_bytes, s.q_min,
    s.q_25, s.q_50, s.q_75, s.q_max";

fn stage_row(r: &Row<'_>, job_running: bool) -> rusqlite::Result<StageSummary> {
    let submitted: bool = r.get(4)?;
    let completed: bool = r.get(5)?;
    let failure: Option<String> = r.get(8)?;
    let start: Option<i64> = r.get(6)?;
    let end: Option<i64> = r.get(7)?;
    let ended = r.get::<_, i64>(9)? as u64;
    let status = match (submitted || ended > 0, completed, failure.is_some()) {
        (_, true, true) => "FAILED",
        (_, true, false) => "COMPLETE",
        (true, false, _) => "ACTIVE",
        (false, false, _) if job_running => "PENDING",
        (false, false, _) => "SKIPPED",
    };
    let q: Option<[i64; 5]> = match (
        r.get::<_, Option<i64>>(18)?,
        r.get::<_, Option<i64>>(19)?,
        r.get::<_, Option<i64>>(20)?,
        r.get::<_, Option<i64>>(21)?,
        r.get::<_, Option<i64>>(22)?,
    ) {
        (Some(a), Some(b), Some(c), Some(d), Some(e)) => Some([a, b, c, d, e]),
        _ => None,
    };
    Ok(StageSummary {
        stage_id: r.get(0)?,
        attempt: r.get(1)?,
        name: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
        status: status.into(),
        planned_tasks: r.get::<_, Option<i64>>(3)?.unwrap_or(0) as u64,
        tasks: TaskTotals {
            ended,
            succeeded: r.get::<_, i64>(10)? as u64,
            failed: r.get::<_, i64>(11)? as u64,
            killed: r.get::<_, i64>(12)? as u64,
            retries: r.get::<_, i64>(13)? as u64,
        },
        start_ms: start,
        end_ms: end,
        duration_ms: start.zip(end).map(|(s, e)| e - s),
        task_ms: q,
        skew: skew(q),
        gc_ms: r.get::<_, i64>(14)? as u64,
        input_bytes: r.get::<_, i64>(15)? as u64,
        shuffle_read_bytes: r.get::<_, i64>(16)? as u64,
        shuffle_write_bytes: r.get::<_, i64>(17)? as u64,
        failure,
    })
}

/// `AND`-ed to a query over jobs `j`: all of them (`?2` NULL), or job `?2`. Two texts, so
/// SQLite looks the one job up by its key instead of reading every job.
fn job_filter(job: Option<i64>) -> &'static str {
    if job.is_some() {
        "j.job_id = ?2"
    } else {
        "?2 IS NULL"
    }
}

/// The stage attempts counted for the jobs of `app` (all jobs, or one). The joins are
/// written in the order SQLite must take them (`CROSS JOIN`): each job's stage ids, then
/// each stage's attempts by key; left to itself the planner read every stage of the
/// application for every job.
fn job_stages(conn: &Connection, app: i64, job: Option<i64>) -> StoreResult<Vec<StageRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {STAGE_COLUMNS}, j.job_id, j.result IS NULL
         FROM analytics_jobs j
         CROSS JOIN analytics_job_stages x ON x.app = j.app AND x.job_id = j.job_id
         CROSS JOIN analytics_stages s ON s.app = x.app AND s.stage_id = x.stage_id
         WHERE j.app = ?1 AND {} AND (
             CASE WHEN j.submit_ms IS NULL OR coalesce(s.submit_ms, s.first_launch_ms) IS NULL
             THEN j.job_id = (SELECT min(y.job_id) FROM analytics_job_stages y
                              WHERE y.app = s.app AND y.stage_id = s.stage_id)
             ELSE j.submit_ms <= coalesce(s.submit_ms, s.first_launch_ms)
                  AND (j.end_ms IS NULL OR j.end_ms >= coalesce(s.submit_ms, s.first_launch_ms))
             END
             -- Stages that never ran are listed (as skipped or pending) under every job.
             OR (s.submitted = 0 AND s.ended = 0))
         ORDER BY j.job_id, s.stage_id, s.attempt",
        job_filter(job)
    ))?;
    let rows = stmt.query_map(params![app, job], |r| {
        let running: bool = r.get(24)?;
        Ok(StageRow {
            job_id: r.get(23)?,
            summary: stage_row(r, running)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Jobs of `app` (or one of them) with their totals, slowest stage and skew.
pub fn jobs(
    conn: &mut Connection,
    app: i64,
    app_id: &str,
    job: Option<i64>,
) -> StoreResult<Vec<(JobSummary, Vec<StageSummary>)>> {
    rebuild_times(conn, app)?;
    let mut out: BTreeMap<i64, (JobSummary, Vec<StageSummary>)> = BTreeMap::new();
    {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT j.job_id, j.name, j.submit_ms, j.end_ms, j.result, j.failure, j.planned,
                 (SELECT count(*) FROM analytics_job_stages x
                  WHERE x.app = j.app AND x.job_id = j.job_id)
             FROM analytics_jobs j WHERE j.app = ?1 AND {}",
            job_filter(job)
        ))?;
        let rows = stmt.query_map(params![app, job], |r| {
            let start: Option<i64> = r.get(2)?;
            let end: Option<i64> = r.get(3)?;
            let result: Option<String> = r.get(4)?;
            Ok(JobSummary {
                app_id: app_id.to_owned(),
                job_id: r.get(0)?,
                name: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                status: match (result.as_deref(), start) {
                    (Some("JobSucceeded"), _) => "SUCCEEDED",
                    (Some(_), _) => "FAILED",
                    (None, Some(_)) => "RUNNING",
                    (None, None) => "UNKNOWN",
                }
                .into(),
                start_ms: start,
                end_ms: end,
                duration_ms: start.zip(end).map(|(s, e)| e - s),
                stages: r.get::<_, i64>(7)? as u64,
                planned_tasks: r.get::<_, Option<i64>>(6)?.unwrap_or(0) as u64,
                tasks: TaskTotals::default(),
                slowest_stage: None,
                max_skew: None,
                failure: r.get(5)?,
            })
        })?;
        for j in rows {
            let j = j?;
            out.insert(j.job_id, (j, Vec::new()));
        }
    }
    for row in job_stages(conn, app, job)? {
        let Some((job, stages)) = out.get_mut(&row.job_id) else {
            continue;
        };
        let s = row.summary;
        let t = &mut job.tasks;
        t.ended += s.tasks.ended;
        t.succeeded += s.tasks.succeeded;
        t.failed += s.tasks.failed;
        t.killed += s.tasks.killed;
        t.retries += s.tasks.retries;
        if let Some(d) = s.duration_ms
            && job
                .slowest_stage
                .as_ref()
                .is_none_or(|(_, _, _, max)| d > *max)
        {
            job.slowest_stage = Some((s.stage_id, s.attempt, s.name.clone(), d));
        }
        if let Some(k) = s.skew
            && job.max_skew.is_none_or(|m| k > m)
        {
            job.max_skew = Some(k);
        }
        stages.push(s);
    }
    Ok(out.into_values().collect())
}

/// The failed and killed attempts of the given stage attempts, latest first.
pub fn failed_tasks(
    conn: &Connection,
    app: i64,
    stages: &[(i64, i64)],
) -> StoreResult<Vec<FailedTask>> {
    let mut out = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT task_id, stage_id, stage_attempt, idx, attempt, executor, host, reason,
             message, finish_ms
         FROM analytics_tasks
         WHERE app = ?1 AND stage_id = ?2 AND stage_attempt = ?3 AND status != 'SUCCESS'",
    )?;
    for (stage, attempt) in stages {
        let rows = stmt.query_map(params![app, stage, attempt], |r| {
            Ok(FailedTask {
                task_id: r.get(0)?,
                stage_id: r.get(1)?,
                stage_attempt: r.get(2)?,
                index: r.get(3)?,
                attempt: r.get(4)?,
                executor: r.get(5)?,
                host: r.get(6)?,
                reason: r.get(7)?,
                message: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
                finish_ms: r.get(9)?,
            })
        })?;
        for row in rows {
            out.push(row?);
        }
    }
    out.sort_by(|a, b| {
        b.finish_ms
            .cmp(&a.finish_ms)
            .then(b.task_id.cmp(&a.task_id))
    });
    out.truncate(MAX_FAILED_TASKS);
    Ok(out)
}

/// The jobs that started in `[from_ms, to_ms)`, with the seeds' summary figures.
pub fn summary(
    conn: &mut Connection,
    date: &str,
    from_ms: i64,
    to_ms: i64,
) -> StoreResult<DaySummary> {
    let apps: Vec<(i64, String)> = {
        let mut stmt = conn.prepare(
            "SELECT DISTINCT a.id, a.app_id FROM analytics_jobs j
             JOIN analytics_apps a ON a.id = j.app
             WHERE j.submit_ms >= ?1 AND j.submit_ms < ?2",
        )?;
        let rows = stmt.query_map([from_ms, to_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut list = Vec::new();
    for (app, app_id) in apps {
        for (job, _) in jobs(conn, app, &app_id, None)? {
            if job.start_ms.is_some_and(|s| s >= from_ms && s < to_ms) {
                list.push(job);
            }
        }
    }
    list.sort_by(|a, b| {
        a.start_ms
            .cmp(&b.start_ms)
            .then_with(|| a.app_id.cmp(&b.app_id))
            .then(a.job_id.cmp(&b.job_id))
    });
    let rates: Vec<f64> = list.iter().filter_map(|j| j.tasks.success_rate()).collect();
    let durations: Vec<i64> = list.iter().filter_map(|j| j.duration_ms).collect();
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    Ok(DaySummary {
        date: date.to_owned(),
        total_jobs: list.len() as u64,
        total_tasks: list.iter().map(|j| j.tasks.ended).sum(),
        failed_tasks: list.iter().map(|j| j.tasks.failed).sum(),
        avg_success_rate: mean(&rates),
        avg_duration_ms: mean(&durations.iter().map(|d| *d as f64).collect::<Vec<_>>()),
        jobs: list,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_is_max_over_median() {
        assert_eq!(skew(Some([1, 2, 3, 4, 100])), Some(100.0 / 3.0));
        assert_eq!(skew(Some([0, 0, 0, 0, 5])), None);
    }
}
