//! Writing events into SQLite: one transaction per batch, prepared statements reused, rows
//! keyed by Spark's ids so a repeated event changes nothing and any order gives the same
//! rows. App and stage counters, and stages' task-time histograms ([`super::sketch`]), grow
//! only when a task row is new, in the same transaction.

use std::collections::HashMap;

use harbour_shared::LogProblem;
use rusqlite::{Connection, OptionalExtension as _, params};

use super::events::{Event, StageInfo, TaskEnd};
use super::sketch::Hist;
use crate::store::StoreResult;

/// Where a batch leaves a file: saved with the events it carries, so a crash never stores
/// events twice or skips them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMark {
    pub path: String,
    pub offset: u64,
    pub line: u64,
    pub size: u64,
    pub done: bool,
}

/// Events of one application, written together.
#[derive(Debug, Default)]
pub struct Batch {
    pub app_id: String,
    /// A log file or directory, or `pushed`.
    pub source: String,
    pub events: Vec<Event>,
    pub mark: Option<FileMark>,
    pub problems: Vec<LogProblem>,
}

#[derive(Debug, Default, Clone)]
struct Counts {
    ended: i64,
    succeeded: i64,
    failed: i64,
    killed: i64,
    retries: i64,
    gc_ms: i64,
    input: i64,
    shuffle_read: i64,
    shuffle_write: i64,
    first_launch: Option<i64>,
    /// Durations of the new successful attempts.
    durations: Vec<i64>,
}

impl Counts {
    fn add(&mut self, t: &TaskEnd) {
        self.ended += 1;
        match t.status {
            "SUCCESS" => self.succeeded += 1,
            "KILLED" => self.killed += 1,
            _ => self.failed += 1,
        }
        self.retries += i64::from(t.attempt > 0);
        // Saturating: the figures come from input.
        self.gc_ms = self.gc_ms.saturating_add(t.gc_ms);
        self.input = self.input.saturating_add(t.input_bytes);
        self.shuffle_read = self.shuffle_read.saturating_add(t.shuffle_read_bytes);
        self.shuffle_write = self.shuffle_write.saturating_add(t.shuffle_write_bytes);
        if let Some(l) = t.launch_ms {
            self.first_launch = Some(self.first_launch.map_or(l, |f| f.min(l)));
        }
        if t.status == "SUCCESS"
            && let Some(d) = t.duration_ms()
        {
            self.durations.push(d);
        }
    }
}

/// The row id of an application, created when new. Its source stays the first one seen,
/// unless that was the same log still being written (`X.inprogress`, which Spark renames to
/// `X` when the application ends).
pub fn app_key(conn: &Connection, app_id: &str, source: &str, now: i64) -> StoreResult<i64> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO analytics_apps(app_id, source, updated_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT(app_id) DO UPDATE SET updated_ms = excluded.updated_ms,
                 source = CASE WHEN analytics_apps.source = excluded.source || '.inprogress'
                     THEN excluded.source
                     ELSE coalesce(analytics_apps.source, excluded.source) END
             RETURNING id",
        )?
        .query_row(params![app_id, source, now], |r| r.get(0))?)
}

/// Writes a batch in one transaction. Answers how many task rows were new.
pub fn write(conn: &mut Connection, batch: &Batch, now: i64) -> StoreResult<u64> {
    let tx = conn.transaction()?;
    let app = app_key(&tx, &batch.app_id, &batch.source, now)?;
    let mut stages: HashMap<(i64, i64), Counts> = HashMap::new();
    let mut new_tasks = 0u64;
    // Most events of a batch are task ends: their statements are looked up once.
    let mut insert_task = tx.prepare_cached(INSERT_TASK)?;
    let mut insert_success = tx.prepare_cached(INSERT_SUCCESS)?;
    for event in &batch.events {
        match event {
            Event::AppStart {
                name,
                time_ms,
                user,
                ..
            } => {
                tx.prepare_cached(
                    "UPDATE analytics_apps SET name = ?2, start_ms = coalesce(?3, start_ms),
                         user = coalesce(?4, user) WHERE id = ?1",
                )?
                .execute(params![app, name, time_ms, user])?;
            }
            Event::AppEnd { time_ms } => {
                tx.prepare_cached(
                    "UPDATE analytics_apps SET end_ms = coalesce(?2, end_ms, 0) WHERE id = ?1",
                )?
                .execute(params![app, time_ms])?;
            }
            Event::JobStart {
                job_id,
                time_ms,
                stages: infos,
            } => {
                // Spark names a job after its last stage and plans the tasks of all of them.
                let name = infos
                    .iter()
                    .max_by_key(|s| s.stage_id)
                    .and_then(|s| s.name.clone());
                let planned: i64 = infos.iter().filter_map(|s| s.num_tasks).sum();
                tx.prepare_cached(
                    "INSERT INTO analytics_jobs(app, job_id, name, submit_ms, planned)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(app, job_id) DO UPDATE SET name = excluded.name,
                         submit_ms = excluded.submit_ms, planned = excluded.planned",
                )?
                .execute(params![app, job_id, name, time_ms, planned])?;
                for info in infos {
                    tx.prepare_cached(
                        "INSERT OR IGNORE INTO analytics_job_stages(app, job_id, stage_id)
                         VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![app, job_id, info.stage_id])?;
                    stage(&tx, app, info, false, false)?;
                }
            }
            Event::JobEnd {
                job_id,
                time_ms,
                succeeded,
                failure,
            } => {
                let result = if *succeeded {
                    "JobSucceeded"
                } else {
                    "JobFailed"
                };
                tx.prepare_cached(
                    "INSERT INTO analytics_jobs(app, job_id, end_ms, result, failure)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(app, job_id) DO UPDATE SET end_ms = excluded.end_ms,
                         result = excluded.result, failure = excluded.failure",
                )?
                .execute(params![app, job_id, time_ms, result, failure])?;
            }
            Event::StageSubmitted(info) => stage(&tx, app, info, true, false)?,
            Event::StageCompleted(info) => stage(&tx, app, info, true, true)?,
            Event::TaskEnd(t) => {
                let inserted = insert_task_row(&mut insert_success, &mut insert_task, app, t)?;
                if inserted {
                    new_tasks += 1;
                    stages
                        .entry((t.stage_id, t.stage_attempt))
                        .or_default()
                        .add(t);
                }
            }
            Event::ExecutorAdded {
                id,
                host,
                cores,
                time_ms,
            } => {
                tx.prepare_cached(
                    "INSERT INTO analytics_executors(app, executor_id, host, cores, added_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(app, executor_id) DO UPDATE SET host = excluded.host,
                         cores = excluded.cores, added_ms = excluded.added_ms",
                )?
                .execute(params![app, id, host, cores, time_ms])?;
            }
            Event::ExecutorRemoved {
                id,
                time_ms,
                reason,
            } => {
                tx.prepare_cached(
                    "INSERT INTO analytics_executors(app, executor_id, removed_ms, removed_reason)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(app, executor_id) DO UPDATE SET removed_ms = excluded.removed_ms,
                         removed_reason = excluded.removed_reason",
                )?
                .execute(params![app, id, time_ms, reason])?;
            }
        }
    }
    drop((insert_task, insert_success));
    let mut total = Counts::default();
    for ((stage_id, attempt), c) in &stages {
        tx.prepare_cached(
            "INSERT INTO analytics_stages(app, stage_id, attempt, first_launch_ms, ended,
                 succeeded, failed, killed, retries, gc_ms, input_bytes, shuffle_read_bytes,
                 shuffle_write_bytes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT(app, stage_id, attempt) DO UPDATE SET
                 first_launch_ms = min(coalesce(first_launch_ms, excluded.first_launch_ms),
                                       coalesce(excluded.first_launch_ms, first_launch_ms)),
                 ended = ended + excluded.ended, succeeded = succeeded + excluded.succeeded,
                 failed = failed + excluded.failed, killed = killed + excluded.killed,
                 retries = retries + excluded.retries, gc_ms = gc_ms + excluded.gc_ms,
                 input_bytes = input_bytes + excluded.input_bytes,
                 shuffle_read_bytes = shuffle_read_bytes + excluded.shuffle_read_bytes,
                 shuffle_write_bytes = shuffle_write_bytes + excluded.shuffle_write_bytes",
        )?
        .execute(params![
            app,
            stage_id,
            attempt,
            c.first_launch,
            c.ended,
            c.succeeded,
            c.failed,
            c.killed,
            c.retries,
            c.gc_ms,
            c.input,
            c.shuffle_read,
            c.shuffle_write,
        ])?;
        add_times(&tx, app, *stage_id, *attempt, &c.durations)?;
        total.ended += c.ended;
        total.succeeded += c.succeeded;
        total.failed += c.failed;
        total.killed += c.killed;
        total.retries += c.retries;
    }
    if total.ended > 0 {
        tx.prepare_cached(
            "UPDATE analytics_apps SET ended = ended + ?2, succeeded = succeeded + ?3,
                 failed = failed + ?4, killed = killed + ?5, retries = retries + ?6
             WHERE id = ?1",
        )?
        .execute(params![
            app,
            total.ended,
            total.succeeded,
            total.failed,
            total.killed,
            total.retries
        ])?;
    }
    if let Some(m) = &batch.mark {
        save_mark(&tx, m, &batch.app_id, now)?;
    }
    for p in &batch.problems {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO analytics_problems(path, line, why, at_ms)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![p.path, p.line as i64, p.why, now])?;
    }
    tx.commit()?;
    Ok(new_tasks)
}

const INSERT_TASK: &str =
    "INSERT INTO analytics_tasks(app, task_id, stage_id, stage_attempt, idx, attempt, executor,
         host, launch_ms, finish_ms, duration_ms, run_ms, gc_ms, input_bytes, shuffle_read_bytes,
         shuffle_write_bytes, speculative, status, reason, message)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
         ?19, ?20)
     ON CONFLICT(app, task_id) DO NOTHING";

/// A successful attempt (nearly all of them): its outcome is written by the statement, not
/// bound for every row.
const INSERT_SUCCESS: &str =
    "INSERT INTO analytics_tasks(app, task_id, stage_id, stage_attempt, idx, attempt, executor,
         host, launch_ms, finish_ms, duration_ms, run_ms, gc_ms, input_bytes, shuffle_read_bytes,
         shuffle_write_bytes, speculative, status, reason, message)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
         'SUCCESS', 'Success', NULL)
     ON CONFLICT(app, task_id) DO NOTHING";

/// Inserts a task attempt unless it is there; answers whether it was new. Parameters are
/// bound one by one (the task rows are the bulk of a replay's writes).
fn insert_task_row<'c>(
    success: &mut rusqlite::CachedStatement<'c>,
    other: &mut rusqlite::CachedStatement<'c>,
    app: i64,
    t: &TaskEnd,
) -> StoreResult<bool> {
    let plain = t.status == "SUCCESS" && t.reason == "Success" && t.message.is_none();
    let stmt: &mut rusqlite::Statement<'c> = if plain { success } else { other };
    stmt.raw_bind_parameter(1, app)?;
    stmt.raw_bind_parameter(2, t.task_id)?;
    stmt.raw_bind_parameter(3, t.stage_id)?;
    stmt.raw_bind_parameter(4, t.stage_attempt)?;
    stmt.raw_bind_parameter(5, t.index)?;
    stmt.raw_bind_parameter(6, t.attempt)?;
    stmt.raw_bind_parameter(7, &t.executor)?;
    stmt.raw_bind_parameter(8, &t.host)?;
    stmt.raw_bind_parameter(9, t.launch_ms)?;
    stmt.raw_bind_parameter(10, t.finish_ms)?;
    stmt.raw_bind_parameter(11, t.duration_ms())?;
    stmt.raw_bind_parameter(12, t.run_ms)?;
    stmt.raw_bind_parameter(13, t.gc_ms)?;
    stmt.raw_bind_parameter(14, t.input_bytes)?;
    stmt.raw_bind_parameter(15, t.shuffle_read_bytes)?;
    stmt.raw_bind_parameter(16, t.shuffle_write_bytes)?;
    stmt.raw_bind_parameter(17, t.speculative)?;
    if !plain {
        stmt.raw_bind_parameter(18, t.status)?;
        stmt.raw_bind_parameter(19, &t.reason)?;
        stmt.raw_bind_parameter(20, &t.message)?;
    }
    Ok(stmt.raw_execute()? == 1)
}

/// Adds new successful attempts' durations to a stage attempt's histogram and task-time
/// figures. A stage marked `stats_dirty` (written before histograms were kept) is left for
/// [`rebuild_times`], which reads its task rows, these included.
fn add_times(
    conn: &Connection,
    app: i64,
    stage_id: i64,
    attempt: i64,
    durations: &[i64],
) -> StoreResult<()> {
    let (Some(&lo), Some(&hi)) = (durations.iter().min(), durations.iter().max()) else {
        return Ok(());
    };
    let (dirty, bytes, min, max): (bool, Option<Vec<u8>>, Option<i64>, Option<i64>) = conn
        .prepare_cached(
            "SELECT stats_dirty, task_ms_hist, q_min, q_max FROM analytics_stages
             WHERE app = ?1 AND stage_id = ?2 AND attempt = ?3",
        )?
        .query_row(params![app, stage_id, attempt], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
    if dirty {
        return Ok(());
    }
    let Some(mut hist) = bytes.map_or(Some(Hist::default()), |b| Hist::decode(&b)) else {
        tracing::warn!(
            app,
            stage_id,
            attempt,
            "a stored task-time histogram is malformed; rebuilding it"
        );
        conn.prepare_cached(
            "UPDATE analytics_stages SET stats_dirty = 1
             WHERE app = ?1 AND stage_id = ?2 AND attempt = ?3",
        )?
        .execute(params![app, stage_id, attempt])?;
        return Ok(());
    };
    hist.add(durations);
    let min = min.map_or(lo, |m| m.min(lo));
    let max = max.map_or(hi, |m| m.max(hi));
    save_times(conn, app, stage_id, attempt, &hist, min, max)
}

fn save_times(
    conn: &Connection,
    app: i64,
    stage_id: i64,
    attempt: i64,
    hist: &Hist,
    min: i64,
    max: i64,
) -> StoreResult<()> {
    let q = hist.quantiles(min, max);
    conn.prepare_cached(
        "UPDATE analytics_stages SET stats_dirty = 0, task_ms_hist = ?4, q_min = ?5,
             q_25 = ?6, q_50 = ?7, q_75 = ?8, q_max = ?9
         WHERE app = ?1 AND stage_id = ?2 AND attempt = ?3",
    )?
    .execute(params![
        app,
        stage_id,
        attempt,
        hist.encode(),
        q.map(|q| q[0]),
        q.map(|q| q[1]),
        q.map(|q| q[2]),
        q.map(|q| q[3]),
        q.map(|q| q[4]),
    ])?;
    Ok(())
}

/// Builds the histograms of `app`'s stage attempts marked `stats_dirty` from their task
/// rows, in one pass over the application's tasks. Only databases written before
/// histograms were kept (or with a malformed one) have such stages.
pub fn rebuild_times(conn: &mut Connection, app: i64) -> StoreResult<()> {
    let dirty: Vec<(i64, i64)> = {
        let mut stmt = conn.prepare_cached(
            "SELECT stage_id, attempt FROM analytics_stages WHERE app = ?1 AND stats_dirty = 1",
        )?;
        let rows = stmt.query_map([app], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    if dirty.is_empty() {
        return Ok(());
    }
    let mut times: HashMap<(i64, i64), Vec<i64>> =
        dirty.into_iter().map(|k| (k, Vec::new())).collect();
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "SELECT stage_id, stage_attempt, duration_ms FROM analytics_tasks
             WHERE app = ?1 AND status = 'SUCCESS' AND duration_ms IS NOT NULL",
        )?;
        let mut rows = stmt.query([app])?;
        while let Some(r) = rows.next()? {
            if let Some(v) = times.get_mut(&(r.get(0)?, r.get(1)?)) {
                v.push(r.get(2)?);
            }
        }
    }
    for ((stage_id, attempt), durations) in times {
        let mut hist = Hist::default();
        hist.add(&durations);
        match (durations.iter().min(), durations.iter().max()) {
            (Some(&min), Some(&max)) => save_times(&tx, app, stage_id, attempt, &hist, min, max)?,
            _ => {
                tx.prepare_cached(
                    "UPDATE analytics_stages SET stats_dirty = 0, task_ms_hist = NULL,
                         q_min = NULL, q_25 = NULL, q_50 = NULL, q_75 = NULL, q_max = NULL
                     WHERE app = ?1 AND stage_id = ?2 AND attempt = ?3",
                )?
                .execute(params![app, stage_id, attempt])?;
            }
        }
    }
    tx.commit()?;
    Ok(())
}

/// Upserts what a stage info says, keeping what is known when it says nothing.
fn stage(
    conn: &Connection,
    app: i64,
    info: &StageInfo,
    submitted: bool,
    completed: bool,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO analytics_stages(app, stage_id, attempt, name, num_tasks, submitted,
             completed, submit_ms, end_ms, failure)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT(app, stage_id, attempt) DO UPDATE SET
             name = coalesce(excluded.name, name),
             num_tasks = coalesce(excluded.num_tasks, num_tasks),
             submitted = max(submitted, excluded.submitted),
             completed = max(completed, excluded.completed),
             submit_ms = coalesce(excluded.submit_ms, submit_ms),
             end_ms = coalesce(excluded.end_ms, end_ms),
             failure = coalesce(excluded.failure, failure)",
    )?
    .execute(params![
        app,
        info.stage_id,
        info.attempt,
        info.name,
        info.num_tasks,
        submitted,
        completed,
        info.submit_ms,
        if completed { info.end_ms } else { None },
        if completed {
            info.failure.as_deref()
        } else {
            None
        },
    ])?;
    Ok(())
}

pub fn save_mark(conn: &Connection, m: &FileMark, app_id: &str, now: i64) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO analytics_files(path, app_id, offset, line, size, done, updated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(path) DO UPDATE SET app_id = excluded.app_id, offset = excluded.offset,
             line = excluded.line, size = excluded.size, done = excluded.done,
             updated_ms = excluded.updated_ms",
    )?
    .execute(params![
        m.path,
        app_id,
        m.offset as i64,
        m.line as i64,
        m.size as i64,
        m.done,
        now
    ])?;
    Ok(())
}

/// Every file's saved position, with the application it feeds.
pub fn marks(conn: &Connection) -> StoreResult<Vec<(FileMark, Option<String>)>> {
    let mut stmt =
        conn.prepare("SELECT path, offset, line, size, done, app_id FROM analytics_files")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            FileMark {
                path: r.get(0)?,
                offset: r.get::<_, i64>(1)? as u64,
                line: r.get::<_, i64>(2)? as u64,
                size: r.get::<_, i64>(3)? as u64,
                done: r.get(4)?,
            },
            r.get(5)?,
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Removes applications that ended (or were last heard of) before `cutoff_ms`; their files
/// stay marked as read so they are not replayed again. Answers the removed app ids.
pub fn expire(conn: &mut Connection, cutoff_ms: i64) -> StoreResult<Vec<String>> {
    let tx = conn.transaction()?;
    let ids: Vec<(i64, String)> = {
        let mut stmt = tx.prepare(
            "SELECT id, app_id FROM analytics_apps
             WHERE coalesce(end_ms, updated_ms) < ?1 AND updated_ms < ?1",
        )?;
        let rows = stmt.query_map([cutoff_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (id, _) in &ids {
        for table in [
            "analytics_tasks",
            "analytics_stages",
            "analytics_job_stages",
            "analytics_jobs",
            "analytics_executors",
        ] {
            tx.execute(&format!("DELETE FROM {table} WHERE app = ?1"), [id])?;
        }
        tx.execute("DELETE FROM analytics_apps WHERE id = ?1", [id])?;
    }
    tx.execute(
        "DELETE FROM analytics_problems WHERE at_ms < ?1",
        [cutoff_ms],
    )?;
    tx.commit()?;
    Ok(ids.into_iter().map(|(_, a)| a).collect())
}

/// The file rows of expired applications whose files are gone: forgotten.
pub fn forget_file(conn: &Connection, path: &str) -> StoreResult<()> {
    conn.execute("DELETE FROM analytics_files WHERE path = ?1", [path])?;
    Ok(())
}

/// The app row id of `app_id`, if known.
pub fn find_app(conn: &Connection, app_id: &str) -> StoreResult<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT id FROM analytics_apps WHERE app_id = ?1",
            [app_id],
            |r| r.get(0),
        )
        .optional()?)
}
