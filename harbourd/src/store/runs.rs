//! Run rows and their state history. A state change and its transition row are written in
//! one transaction.

use harbour_shared::{
    DayTrend, JobId, JobKind, JobRef, JobSpec, Lifecycle, Run, RunCounts, RunFilter, RunId,
    RunResult, RunStateFilter, SparkAppRef, Transition, Trigger,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::{StoreError, StoreResult};

const RUN_COLUMNS: &str = "id, job_id, job_name, kind, trigger, attempt, parent_id, lifecycle, \
    result, exit_code, state_message, queued_ms, started_ms, ended_ms, retry_at_ms, pid, \
    stdout_bytes, stderr_bytes, spark";

pub fn lifecycle_from_sql(s: &str) -> StoreResult<Lifecycle> {
    use Lifecycle as L;
    [
        L::Queued,
        L::Starting,
        L::Running,
        L::Terminating,
        L::Terminated,
        L::WaitingForRetry,
    ]
    .into_iter()
    .find(|l| l.as_str() == s)
    .ok_or_else(|| StoreError::Corrupt(format!("unknown lifecycle '{s}'")))
}

pub fn result_from_sql(s: Option<&str>, exit_code: Option<i32>) -> StoreResult<Option<RunResult>> {
    Ok(Some(match s {
        None => return Ok(None),
        Some("succeeded") => RunResult::Succeeded,
        Some("failed") => RunResult::Failed { exit_code },
        Some("timed-out") => RunResult::TimedOut,
        Some("cancelled") => RunResult::Cancelled,
        Some("lost") => RunResult::Lost,
        Some(other) => return Err(StoreError::Corrupt(format!("unknown result '{other}'"))),
    }))
}

fn kind_from_sql(s: &str) -> StoreResult<JobKind> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("unknown job kind '{s}'")))
}

fn trigger_from_sql(s: &str) -> StoreResult<Trigger> {
    use Trigger as T;
    [T::Submit, T::Manual, T::Schedule, T::Retry, T::Restart]
        .into_iter()
        .find(|t| t.as_str() == s)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown trigger '{s}'")))
}

/// A non-negative integer column (SQLite integers are signed).
fn count_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    Ok(u64::try_from(row.get::<_, i64>(idx)?).unwrap_or(0))
}

fn run_from_row(row: &Row<'_>) -> StoreResult<Run> {
    let exit_code: Option<i32> = row.get(9)?;
    Ok(Run {
        id: RunId(row.get(0)?),
        job_id: JobId(row.get(1)?),
        job_name: row.get(2)?,
        kind: kind_from_sql(&row.get::<_, String>(3)?)?,
        trigger: trigger_from_sql(&row.get::<_, String>(4)?)?,
        attempt: row.get(5)?,
        parent: row.get::<_, Option<i64>>(6)?.map(RunId),
        lifecycle: lifecycle_from_sql(&row.get::<_, String>(7)?)?,
        result: result_from_sql(row.get::<_, Option<String>>(8)?.as_deref(), exit_code)?,
        exit_code,
        state_message: row.get(10)?,
        queued_ms: row.get(11)?,
        started_ms: row.get(12)?,
        ended_ms: row.get(13)?,
        retry_at_ms: row.get(14)?,
        pid: row.get(15)?,
        stdout_bytes: count_col(row, 16)?,
        stderr_bytes: count_col(row, 17)?,
        spark: row
            .get::<_, Option<String>>(18)?
            .map(|json| serde_json::from_str(&json))
            .transpose()?,
    })
}

/// Records the Spark application of a run (cluster, UI, event log, and its id once known).
pub fn set_spark(conn: &Connection, id: RunId, app: &SparkAppRef) -> StoreResult<Option<Run>> {
    conn.execute(
        "UPDATE runs SET spark = ?2 WHERE id = ?1",
        params![id.0, serde_json::to_string(app)?],
    )?;
    get_in(conn, id)
}

/// A run about to be made.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub job_id: JobId,
    pub spec: JobSpec,
    pub trigger: Trigger,
    pub attempt: u32,
    pub parent: Option<RunId>,
    /// `Queued`, or `WaitingForRetry` with `retry_at_ms`.
    pub lifecycle: Lifecycle,
    pub retry_at_ms: Option<i64>,
    pub message: String,
}

pub fn insert(conn: &mut Connection, new: &NewRun, now_ms: i64) -> StoreResult<Run> {
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO runs (job_id, job_name, kind, spec, trigger, attempt, parent_id, lifecycle, \
         state_message, queued_ms, retry_at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            new.job_id.0,
            new.spec.name,
            new.spec.kind.as_str(),
            serde_json::to_string(&new.spec)?,
            new.trigger.as_str(),
            new.attempt,
            new.parent.map(|p| p.0),
            new.lifecycle.as_str(),
            new.message,
            now_ms,
            new.retry_at_ms,
        ],
    )?;
    let id = RunId(tx.last_insert_rowid());
    insert_transition(&tx, id, now_ms, new.lifecycle, None, &new.message)?;
    let run = get_in(&tx, id)?.ok_or_else(|| StoreError::Corrupt(format!("run {id} vanished")))?;
    tx.commit()?;
    Ok(run)
}

fn insert_transition(
    conn: &Connection,
    id: RunId,
    at_ms: i64,
    lifecycle: Lifecycle,
    result: Option<RunResult>,
    message: &str,
) -> StoreResult<()> {
    let (result_text, exit_code) = result_to_sql(result);
    conn.execute(
        "INSERT INTO run_transitions (run_id, at_ms, lifecycle, result, exit_code, message) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            id.0,
            at_ms,
            lifecycle.as_str(),
            result_text,
            exit_code,
            message
        ],
    )?;
    Ok(())
}

fn result_to_sql(result: Option<RunResult>) -> (Option<&'static str>, Option<i32>) {
    match result {
        Some(RunResult::Failed { exit_code }) => (Some("failed"), exit_code),
        Some(other) => (Some(other.as_str()), None),
        None => (None, None),
    }
}

/// A change of a run's state and what came with it. `None` fields are left as they are.
#[derive(Debug, Clone, Default)]
pub struct StateChange {
    pub lifecycle: Option<Lifecycle>,
    pub result: Option<RunResult>,
    pub message: String,
    pub started_ms: Option<i64>,
    pub ended_ms: Option<i64>,
    pub pid: Option<u32>,
    pub proc_start_ticks: Option<u64>,
    pub argv: Option<Vec<String>>,
    pub exit_code: Option<i32>,
    pub log_bytes: Option<(u64, u64)>,
}

/// Applies `change` and records the transition, atomically; returns the run as it now is.
pub fn change_state(
    conn: &mut Connection,
    id: RunId,
    change: &StateChange,
    now_ms: i64,
) -> StoreResult<Run> {
    let tx = conn.transaction()?;
    let current = get_in(&tx, id)?.ok_or_else(|| StoreError::Corrupt(format!("no run {id}")))?;
    let lifecycle = change.lifecycle.unwrap_or(current.lifecycle);
    let (result_text, result_code) = result_to_sql(change.result);
    let argv = change
        .argv
        .as_ref()
        .map(serde_json::to_string)
        .transpose()?;
    tx.execute(
        "UPDATE runs SET lifecycle = ?2, state_message = ?3,
             result = COALESCE(?4, result),
             exit_code = COALESCE(?5, ?6, exit_code),
             started_ms = COALESCE(?7, started_ms), ended_ms = COALESCE(?8, ended_ms),
             pid = COALESCE(?9, pid), proc_start_ticks = COALESCE(?10, proc_start_ticks),
             argv = COALESCE(?11, argv),
             stdout_bytes = COALESCE(?12, stdout_bytes), stderr_bytes = COALESCE(?13, stderr_bytes),
             retry_at_ms = CASE WHEN ?2 = 'waiting-for-retry' THEN retry_at_ms ELSE NULL END
         WHERE id = ?1",
        params![
            id.0,
            lifecycle.as_str(),
            change.message,
            result_text,
            change.exit_code,
            result_code,
            change.started_ms,
            change.ended_ms,
            change.pid,
            change.proc_start_ticks.map(|t| t as i64),
            argv,
            change.log_bytes.map(|b| b.0 as i64),
            change.log_bytes.map(|b| b.1 as i64),
        ],
    )?;
    insert_transition(&tx, id, now_ms, lifecycle, change.result, &change.message)?;
    let run = get_in(&tx, id)?.ok_or_else(|| StoreError::Corrupt(format!("run {id} vanished")))?;
    tx.commit()?;
    Ok(run)
}

fn get_in(conn: &Connection, id: RunId) -> StoreResult<Option<Run>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"))?;
    let mut rows = stmt.query(params![id.0])?;
    match rows.next()? {
        Some(row) => Ok(Some(run_from_row(row)?)),
        None => Ok(None),
    }
}

pub fn get(conn: &Connection, id: RunId) -> StoreResult<Option<Run>> {
    get_in(conn, id)
}

/// What `get_run` shows besides the run itself.
#[derive(Debug, Clone)]
pub struct RunExtras {
    pub spec: JobSpec,
    pub argv: Vec<String>,
    pub transitions: Vec<Transition>,
    pub logs_pruned: bool,
    pub proc_start_ticks: Option<u64>,
    pub cpu_ms: u64,
    pub peak_rss_bytes: u64,
}

/// The values of a run's secret env vars (none for most runs: the spec is parsed only when
/// its JSON holds a secret).
pub fn secrets(conn: &Connection, id: RunId) -> StoreResult<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT spec FROM runs WHERE id = ?1 AND instr(spec, '\"secret\":true') > 0",
    )?;
    let spec: Option<String> = stmt.query_row(params![id.0], |r| r.get(0)).optional()?;
    Ok(match spec {
        Some(spec) => serde_json::from_str::<JobSpec>(&spec)?.secret_values(),
        None => Vec::new(),
    })
}

pub fn extras(conn: &Connection, id: RunId) -> StoreResult<Option<RunExtras>> {
    type Row = (String, Option<String>, bool, Option<i64>, i64, i64);
    let row: Option<Row> = conn
        .query_row(
            "SELECT spec, argv, logs_pruned, proc_start_ticks, cpu_ms, peak_rss_bytes \
             FROM runs WHERE id = ?1",
            params![id.0],
            |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                ))
            },
        )
        .optional()?;
    let Some((spec, argv, logs_pruned, proc_start_ticks, cpu_ms, peak_rss_bytes)) = row else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT at_ms, lifecycle, result, exit_code, message FROM run_transitions \
         WHERE run_id = ?1 ORDER BY rowid",
    )?;
    let mut rows = stmt.query(params![id.0])?;
    let mut transitions = Vec::new();
    while let Some(row) = rows.next()? {
        transitions.push(Transition {
            at_ms: row.get(0)?,
            lifecycle: lifecycle_from_sql(&row.get::<_, String>(1)?)?,
            result: result_from_sql(row.get::<_, Option<String>>(2)?.as_deref(), row.get(3)?)?,
            message: row.get(4)?,
        });
    }
    Ok(Some(RunExtras {
        spec: serde_json::from_str(&spec)?,
        argv: argv
            .map(|a| serde_json::from_str(&a))
            .transpose()?
            .unwrap_or_default(),
        transitions,
        logs_pruned,
        proc_start_ticks: proc_start_ticks.map(|t| t as u64),
        cpu_ms: u64::try_from(cpu_ms).unwrap_or(0),
        peak_rss_bytes: u64::try_from(peak_rss_bytes).unwrap_or(0),
    }))
}

/// Adds what the sampler saw of runs since the last write: CPU time and a peak memory.
pub fn add_usage(conn: &mut Connection, usage: &[(RunId, u64, u64)]) -> StoreResult<()> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "UPDATE runs SET cpu_ms = cpu_ms + ?2, peak_rss_bytes = MAX(peak_rss_bytes, ?3) \
             WHERE id = ?1",
        )?;
        for (run, cpu_ms, peak) in usage {
            stmt.execute(params![
                run.0,
                i64::try_from(*cpu_ms).unwrap_or(i64::MAX),
                i64::try_from(*peak).unwrap_or(i64::MAX)
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// The most runs one `list` returns.
pub const MAX_LIST: u32 = 10_000;
const DEFAULT_LIST: u32 = 200;

pub fn list(conn: &Connection, filter: &RunFilter) -> StoreResult<Vec<Run>> {
    let mut sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE 1 = 1");
    let mut args: Vec<Value> = Vec::new();
    // Pushes a parameter and names its placeholder.
    let mut param = |value: Value| {
        args.push(value);
        format!("?{}", args.len())
    };
    match filter.state {
        Some(RunStateFilter::Active) => sql.push_str(" AND lifecycle != 'terminated'"),
        Some(RunStateFilter::Lifecycle(l)) => {
            sql += &format!(" AND lifecycle = {}", param(Value::Text(l.as_str().into())));
        }
        Some(RunStateFilter::Result(r)) => {
            sql += &format!(" AND result = {}", param(Value::Text(r.as_str().into())));
        }
        None => {}
    }
    match &filter.job {
        Some(JobRef::Id(id)) => sql += &format!(" AND job_id = {}", param(Value::Integer(id.0))),
        Some(JobRef::Name(name)) => {
            sql += &format!(" AND job_name = {}", param(Value::Text(name.clone())));
        }
        None => {}
    }
    if let Some(search) = filter.search.as_deref().filter(|s| !s.is_empty()) {
        let like = param(Value::Text(format!("%{}%", escape_like(search))));
        let exact = param(Value::Text(search.to_owned()));
        sql += &format!(
            " AND (job_name LIKE {like} ESCAPE '\\' OR kind LIKE {like} ESCAPE '\\' \
             OR lifecycle LIKE {like} ESCAPE '\\' OR IFNULL(result, '') LIKE {like} ESCAPE '\\' \
             OR state_message LIKE {like} ESCAPE '\\' OR CAST(id AS TEXT) = {exact})"
        );
    }
    if let Some(before) = filter.before {
        sql += &format!(" AND id < {}", param(Value::Integer(before.0)));
    }
    let limit = match filter.limit {
        0 => DEFAULT_LIST,
        n => n.min(MAX_LIST),
    };
    sql += &format!(" ORDER BY id DESC LIMIT {limit}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(args))?;
    let mut runs = Vec::new();
    while let Some(row) = rows.next()? {
        runs.push(run_from_row(row)?);
    }
    Ok(runs)
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Runs that were not terminated, oldest first, with what identifies their processes.
pub fn unfinished(conn: &Connection) -> StoreResult<Vec<(Run, Option<u64>)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS}, proc_start_ticks FROM runs WHERE lifecycle != 'terminated' \
         ORDER BY id"
    ))?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let ticks: Option<i64> = row.get(19)?;
        out.push((run_from_row(row)?, ticks.map(|t| t as u64)));
    }
    Ok(out)
}

pub fn counts(conn: &Connection) -> StoreResult<RunCounts> {
    let mut stmt = conn.prepare_cached(
        "SELECT lifecycle, IFNULL(result, ''), COUNT(*) FROM runs GROUP BY lifecycle, result",
    )?;
    let mut rows = stmt.query([])?;
    let mut c = RunCounts::default();
    while let Some(row) = rows.next()? {
        let n = count_col(row, 2)?;
        let lifecycle: String = row.get(0)?;
        let result: String = row.get(1)?;
        let slot = match (lifecycle.as_str(), result.as_str()) {
            ("queued", _) => &mut c.queued,
            ("starting", _) => &mut c.starting,
            ("running", _) => &mut c.running,
            ("terminating", _) => &mut c.terminating,
            ("waiting-for-retry", _) => &mut c.waiting_for_retry,
            (_, "succeeded") => &mut c.succeeded,
            (_, "timed-out") => &mut c.timed_out,
            (_, "cancelled") => &mut c.cancelled,
            (_, "lost") => &mut c.lost,
            _ => &mut c.failed,
        };
        *slot += n;
    }
    Ok(c)
}

/// Runs ended per local day over the last `days` days (today included), oldest first.
pub fn trend(conn: &Connection, days: u32, now_ms: i64) -> StoreResult<Vec<DayTrend>> {
    let today = chrono::DateTime::from_timestamp_millis(now_ms)
        .map(|t| t.with_timezone(&chrono::Local).date_naive())
        .ok_or_else(|| StoreError::Corrupt(format!("clock reads {now_ms} ms")))?;
    let mut out: Vec<DayTrend> = (0..days)
        .rev()
        .map(|back| DayTrend {
            date: (today - chrono::Days::new(u64::from(back)))
                .format("%Y-%m-%d")
                .to_string(),
            succeeded: 0,
            failed: 0,
            cancelled: 0,
        })
        .collect();
    let since_ms = now_ms - i64::from(days + 1) * 86_400_000;
    let mut stmt = conn.prepare_cached(
        "SELECT date(ended_ms / 1000, 'unixepoch', 'localtime'), result, COUNT(*) FROM runs \
         WHERE lifecycle = 'terminated' AND ended_ms >= ?1 GROUP BY 1, 2",
    )?;
    let mut rows = stmt.query(params![since_ms])?;
    while let Some(row) = rows.next()? {
        let date: String = row.get(0)?;
        let result: Option<String> = row.get(1)?;
        let n = count_col(row, 2)?;
        if let Some(day) = out.iter_mut().find(|d| d.date == date) {
            match result.as_deref() {
                Some("succeeded") => day.succeeded += n,
                Some("cancelled") => day.cancelled += n,
                _ => day.failed += n,
            }
        }
    }
    Ok(out)
}

pub fn recent_failures(conn: &Connection, limit: u32) -> StoreResult<Vec<Run>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE result IN ('failed', 'timed-out', 'lost') \
         ORDER BY id DESC LIMIT ?1"
    ))?;
    let mut rows = stmt.query(params![limit])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(run_from_row(row)?);
    }
    Ok(out)
}

/// Terminated runs whose logs are older than `before_ms` and still on disk.
pub fn prunable(conn: &Connection, before_ms: i64) -> StoreResult<Vec<RunId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM runs WHERE lifecycle = 'terminated' AND logs_pruned = 0 \
         AND ended_ms < ?1 ORDER BY id LIMIT 1000",
    )?;
    let ids = stmt.query_map(params![before_ms], |row| Ok(RunId(row.get(0)?)))?;
    Ok(ids.collect::<Result<_, _>>()?)
}

pub fn mark_pruned(conn: &Connection, id: RunId) -> StoreResult<()> {
    conn.execute(
        "UPDATE runs SET logs_pruned = 1 WHERE id = ?1",
        params![id.0],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use harbour_shared::JobSource;

    fn conn() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrate(&mut conn).unwrap();
        conn
    }

    fn new_run(conn: &mut Connection, name: &str) -> Run {
        let mut spec = JobSpec::new(JobKind::Shell, JobSource::Code("true".into()));
        spec.name = name.into();
        let job = super::super::jobs::insert(conn, &spec, false, 1).unwrap();
        let new = NewRun {
            job_id: job,
            spec,
            trigger: Trigger::Manual,
            attempt: 1,
            parent: None,
            lifecycle: Lifecycle::Queued,
            retry_at_ms: None,
            message: "queued".into(),
        };
        insert(conn, &new, 1_000).unwrap()
    }

    #[test]
    fn state_changes_are_recorded_with_history() {
        let mut c = conn();
        let run = new_run(&mut c, "etl");
        let change = StateChange {
            lifecycle: Some(Lifecycle::Terminated),
            result: Some(RunResult::Failed { exit_code: Some(3) }),
            message: "exited with code 3".into(),
            ended_ms: Some(2_000),
            ..StateChange::default()
        };
        let done = change_state(&mut c, run.id, &change, 2_000).unwrap();
        assert_eq!(done.result, Some(RunResult::Failed { exit_code: Some(3) }));
        assert_eq!(done.exit_code, Some(3));
        let extras = extras(&c, run.id).unwrap().unwrap();
        let states: Vec<_> = extras.transitions.iter().map(|t| t.lifecycle).collect();
        assert_eq!(states, [Lifecycle::Queued, Lifecycle::Terminated]);
        assert_eq!(counts(&c).unwrap().failed, 1);
    }

    #[test]
    fn list_filters_by_state_job_and_search() {
        let mut c = conn();
        let a = new_run(&mut c, "nightly_etl");
        let b = new_run(&mut c, "report");
        let by_search = list(
            &c,
            &RunFilter {
                search: Some("etl".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(by_search.iter().map(|r| r.id).collect::<Vec<_>>(), [a.id]);
        // `_` is literal, not a LIKE wildcard.
        let literal = list(
            &c,
            &RunFilter {
                search: Some("y_e".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(literal.len(), 1);
        let none = list(
            &c,
            &RunFilter {
                search: Some("r%t".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(none.is_empty());
        let by_job = list(
            &c,
            &RunFilter {
                job: Some(JobRef::Name("report".into())),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(by_job.iter().map(|r| r.id).collect::<Vec<_>>(), [b.id]);
        let active = list(
            &c,
            &RunFilter {
                state: Some(RunStateFilter::Active),
                search: Some("report".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(active.len(), 1);
        let newest_first = list(&c, &RunFilter::default()).unwrap();
        assert_eq!(
            newest_first.iter().map(|r| r.id).collect::<Vec<_>>(),
            [b.id, a.id]
        );
    }
}
