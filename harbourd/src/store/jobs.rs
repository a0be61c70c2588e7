//! Job rows: definitions, soft deletion, pause, and what the scheduler remembers.

use harbour_shared::{Job, JobId, JobRef, JobSpec, LastRun, RunId};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::StoreResult;
use super::runs::{lifecycle_from_sql, result_from_sql};
use crate::runs::cron;

const SELECT_JOB: &str = "
    SELECT j.id, j.spec, j.one_off, j.paused, j.created_ms, j.updated_ms,
           (SELECT COUNT(*) FROM runs r WHERE r.job_id = j.id AND r.lifecycle != 'terminated'),
           lr.id, lr.lifecycle, lr.result, lr.exit_code, lr.queued_ms
    FROM jobs j
    LEFT JOIN runs lr ON lr.id = (SELECT MAX(id) FROM runs WHERE job_id = j.id)
    WHERE j.deleted_ms IS NULL";

fn job_from_row(row: &Row<'_>, now_ms: i64) -> StoreResult<Job> {
    let spec: JobSpec = serde_json::from_str(&row.get::<_, String>(1)?)?;
    let paused: bool = row.get(3)?;
    let last_run = match row.get::<_, Option<i64>>(7)? {
        Some(id) => Some(LastRun {
            id: RunId(id),
            lifecycle: lifecycle_from_sql(&row.get::<_, String>(8)?)?,
            result: result_from_sql(row.get::<_, Option<String>>(9)?.as_deref(), row.get(10)?)?,
            queued_ms: row.get(11)?,
        }),
        None => None,
    };
    let next_fire_ms = match (&spec.schedule, paused) {
        (Some(schedule), false) => cron::next_fire_ms(schedule, now_ms),
        _ => None,
    };
    Ok(Job {
        id: JobId(row.get(0)?),
        one_off: row.get(2)?,
        paused,
        created_ms: row.get(4)?,
        updated_ms: row.get(5)?,
        next_fire_ms,
        last_run,
        active_runs: row.get(6)?,
        spec,
    })
}

/// A live (not deleted) job by id or name.
pub fn get(conn: &Connection, job: &JobRef, now_ms: i64) -> StoreResult<Option<Job>> {
    let mut stmt;
    let mut rows = match job {
        JobRef::Id(id) => {
            stmt = conn.prepare_cached(&format!("{SELECT_JOB} AND j.id = ?1"))?;
            stmt.query(params![id.0])?
        }
        JobRef::Name(name) => {
            // A defined job wins over one-off submissions that happen to share its name.
            stmt = conn.prepare_cached(&format!(
                "{SELECT_JOB} AND j.name = ?1 ORDER BY j.one_off ASC, j.id DESC LIMIT 1"
            ))?;
            stmt.query(params![name])?
        }
    };
    match rows.next()? {
        Some(row) => Ok(Some(job_from_row(row, now_ms)?)),
        None => Ok(None),
    }
}

pub fn list(conn: &Connection, include_one_off: bool, now_ms: i64) -> StoreResult<Vec<Job>> {
    let filter = if include_one_off {
        ""
    } else {
        " AND j.one_off = 0"
    };
    let mut stmt = conn.prepare_cached(&format!("{SELECT_JOB}{filter} ORDER BY j.id"))?;
    let mut rows = stmt.query([])?;
    let mut jobs = Vec::new();
    while let Some(row) = rows.next()? {
        jobs.push(job_from_row(row, now_ms)?);
    }
    Ok(jobs)
}

/// Whether a defined job other than `except` already has `name`.
pub fn name_taken(conn: &Connection, name: &str, except: Option<JobId>) -> StoreResult<bool> {
    let found: Option<i64> = conn
        .query_row(
            "SELECT id FROM jobs WHERE name = ?1 AND deleted_ms IS NULL AND one_off = 0 \
             AND id != ?2",
            params![name, except.map_or(-1, |id| id.0)],
            |row| row.get(0),
        )
        .optional()?;
    Ok(found.is_some())
}

/// Whether a job with this id or name exists or existed (deleted jobs count).
pub fn ever_existed(conn: &Connection, job: &JobRef) -> StoreResult<bool> {
    let found: Option<i64> = match job {
        JobRef::Id(id) => conn
            .query_row("SELECT id FROM jobs WHERE id = ?1", params![id.0], |r| {
                r.get(0)
            })
            .optional()?,
        JobRef::Name(name) => conn
            .query_row(
                "SELECT id FROM jobs WHERE name = ?1 LIMIT 1",
                params![name],
                |r| r.get(0),
            )
            .optional()?,
    };
    Ok(found.is_some())
}

pub fn insert(conn: &Connection, spec: &JobSpec, one_off: bool, now_ms: i64) -> StoreResult<JobId> {
    conn.execute(
        "INSERT INTO jobs (name, spec, one_off, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?4)",
        params![spec.name, serde_json::to_string(spec)?, one_off, now_ms],
    )?;
    Ok(JobId(conn.last_insert_rowid()))
}

/// Stores a job's changed spec (and the name it carries).
pub fn save_spec(conn: &Connection, id: JobId, spec: &JobSpec, now_ms: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE jobs SET name = ?2, spec = ?3, updated_ms = ?4 WHERE id = ?1",
        params![id.0, spec.name, serde_json::to_string(spec)?, now_ms],
    )?;
    Ok(())
}

pub fn set_paused(conn: &Connection, id: JobId, paused: bool, now_ms: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE jobs SET paused = ?2, updated_ms = ?3 WHERE id = ?1",
        params![id.0, paused, now_ms],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, id: JobId, now_ms: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE jobs SET deleted_ms = ?2 WHERE id = ?1",
        params![id.0, now_ms],
    )?;
    Ok(())
}

/// A job the scheduler watches: live, defined, scheduled.
#[derive(Debug, Clone)]
pub struct Scheduled {
    pub id: JobId,
    pub schedule: String,
    pub paused: bool,
    pub allow_overlap: bool,
    pub last_fire_ms: Option<i64>,
}

pub fn scheduled(conn: &Connection) -> StoreResult<Vec<Scheduled>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, spec, paused, last_fire_ms FROM jobs \
         WHERE deleted_ms IS NULL AND one_off = 0 ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let spec: JobSpec = serde_json::from_str(&row.get::<_, String>(1)?)?;
        if let Some(schedule) = spec.schedule {
            out.push(Scheduled {
                id: JobId(row.get(0)?),
                schedule,
                paused: row.get(2)?,
                allow_overlap: spec.allow_overlap,
                last_fire_ms: row.get(3)?,
            });
        }
    }
    Ok(out)
}

pub fn set_last_fire(conn: &Connection, id: JobId, fire_ms: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE jobs SET last_fire_ms = ?2 WHERE id = ?1",
        params![id.0, fire_ms],
    )?;
    Ok(())
}

/// The stored spec of a job, deleted or not (runs of deleted jobs can still be restarted
/// by their own snapshot).
pub fn spec(conn: &Connection, id: JobId) -> StoreResult<Option<(JobSpec, bool)>> {
    let row: Option<(String, Option<i64>)> = conn
        .query_row(
            "SELECT spec, deleted_ms FROM jobs WHERE id = ?1",
            params![id.0],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    match row {
        Some((json, deleted)) => Ok(Some((serde_json::from_str(&json)?, deleted.is_some()))),
        None => Ok(None),
    }
}

pub fn count(conn: &Connection) -> StoreResult<(u64, u64)> {
    let mut stmt =
        conn.prepare_cached("SELECT spec FROM jobs WHERE deleted_ms IS NULL AND one_off = 0")?;
    let mut rows = stmt.query([])?;
    let (mut jobs, mut scheduled) = (0, 0);
    while let Some(row) = rows.next()? {
        jobs += 1;
        let spec: JobSpec = serde_json::from_str(&row.get::<_, String>(0)?)?;
        scheduled += u64::from(spec.schedule.is_some());
    }
    Ok((jobs, scheduled))
}
