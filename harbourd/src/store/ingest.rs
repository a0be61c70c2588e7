//! Ingestion rows: definitions, runs, committed micro-batches, files and schema versions
//! (migration 0006). Run totals are sums over the batches a run committed, so a batch a
//! retry replays is counted once, under the retry.

use harbour_shared::{
    IngestFile, IngestRun, IngestRunState, IngestRunTrigger, IngestSpec, Ingestion, JobId, RunId,
    SchemaField, SchemaVersion,
};
use rusqlite::{Connection, OptionalExtension as _, Row, params};

use super::{StoreError, StoreResult};

/// An ingestion as stored, before what its runs add.
#[derive(Debug, Clone)]
pub struct Stored {
    pub id: i64,
    pub spec: IngestSpec,
    pub target_path: String,
    pub job_id: JobId,
    pub paused: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub last_fire_ms: Option<i64>,
}

fn stored_of(row: &Row<'_>) -> rusqlite::Result<Stored> {
    let spec: String = row.get(1)?;
    let spec = serde_json::from_str(&spec).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(Stored {
        id: row.get(0)?,
        spec,
        target_path: row.get(2)?,
        job_id: JobId(row.get(3)?),
        paused: row.get(4)?,
        created_ms: row.get(5)?,
        updated_ms: row.get(6)?,
        last_fire_ms: row.get(7)?,
    })
}

const STORED_COLS: &str =
    "id, spec, target_path, job_id, paused, created_ms, updated_ms, last_fire_ms";

pub fn get(conn: &Connection, name: &str) -> StoreResult<Option<Stored>> {
    Ok(conn
        .query_row(
            &format!("SELECT {STORED_COLS} FROM ingestions WHERE name = ?1"),
            params![name],
            stored_of,
        )
        .optional()?)
}

pub fn get_by_id(conn: &Connection, id: i64) -> StoreResult<Option<Stored>> {
    Ok(conn
        .query_row(
            &format!("SELECT {STORED_COLS} FROM ingestions WHERE id = ?1"),
            params![id],
            stored_of,
        )
        .optional()?)
}

pub fn list_stored(conn: &Connection) -> StoreResult<Vec<Stored>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {STORED_COLS} FROM ingestions ORDER BY name"
    ))?;
    let rows = stmt
        .query_map([], stored_of)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn insert(
    conn: &Connection,
    spec: &IngestSpec,
    target_path: &str,
    job_id: JobId,
    now_ms: i64,
) -> StoreResult<i64> {
    conn.execute(
        "INSERT INTO ingestions (name, spec, target_path, job_id, created_ms, updated_ms, last_fire_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5)",
        params![
            spec.name,
            serde_json::to_string(spec)?,
            target_path,
            job_id.0,
            now_ms
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn save_spec(conn: &Connection, id: i64, spec: &IngestSpec, now_ms: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE ingestions SET spec = ?2, updated_ms = ?3 WHERE id = ?1",
        params![id, serde_json::to_string(spec)?, now_ms],
    )?;
    Ok(())
}

pub fn set_paused(conn: &Connection, id: i64, paused: bool, now_ms: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE ingestions SET paused = ?2, updated_ms = ?3 WHERE id = ?1",
        params![id, paused, now_ms],
    )?;
    Ok(())
}

pub fn set_last_fire(conn: &Connection, id: i64, fire_ms: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE ingestions SET last_fire_ms = ?2 WHERE id = ?1",
        params![id, fire_ms],
    )?;
    Ok(())
}

pub fn delete(conn: &mut Connection, id: i64) -> StoreResult<()> {
    let tx = conn.transaction()?;
    for table in [
        "ingest_files",
        "ingest_batches",
        "ingest_schemas",
        "ingest_runs",
    ] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE ingestion_id = ?1"),
            params![id],
        )?;
    }
    tx.execute("DELETE FROM ingestions WHERE id = ?1", params![id])?;
    tx.commit()?;
    Ok(())
}

/// Whether another ingestion writes to this table name or path.
pub fn target_taken(conn: &Connection, table: &str, path: &str) -> StoreResult<Option<String>> {
    for s in list_stored(conn)? {
        if s.spec.target_table.eq_ignore_ascii_case(table) || s.target_path == path {
            return Ok(Some(s.spec.name));
        }
    }
    Ok(None)
}

// --- runs ---

const RUN_COLS: &str = "r.id, i.name, r.run_id, r.trigger, r.state, r.started_ms, r.ended_ms, \
     r.schema_version, r.message, \
     (SELECT COUNT(*) FROM ingest_batches b WHERE b.ingest_run_id = r.id), \
     (SELECT COALESCE(SUM(files), 0) FROM ingest_batches b WHERE b.ingest_run_id = r.id), \
     (SELECT COALESCE(SUM(rows), 0) FROM ingest_batches b WHERE b.ingest_run_id = r.id), \
     (SELECT COALESCE(SUM(bytes), 0) FROM ingest_batches b WHERE b.ingest_run_id = r.id), \
     (SELECT COALESCE(SUM(malformed_rows), 0) FROM ingest_batches b WHERE b.ingest_run_id = r.id), \
     (SELECT COALESCE(SUM(rescued_rows), 0) FROM ingest_batches b WHERE b.ingest_run_id = r.id)";

fn trigger_of(s: &str) -> IngestRunTrigger {
    match s {
        "schedule" => IngestRunTrigger::Schedule,
        "retry" => IngestRunTrigger::Retry,
        _ => IngestRunTrigger::Manual,
    }
}

pub fn state_of(s: &str) -> StoreResult<IngestRunState> {
    Ok(match s {
        "running" => IngestRunState::Running,
        "succeeded" => IngestRunState::Succeeded,
        "no-new-files" => IngestRunState::NoNewFiles,
        "failed" => IngestRunState::Failed,
        "cancelled" => IngestRunState::Cancelled,
        other => return Err(StoreError::Corrupt(format!("ingest run state '{other}'"))),
    })
}

fn run_of(row: &Row<'_>) -> rusqlite::Result<(IngestRun, String)> {
    let u = |i: usize| -> rusqlite::Result<u64> {
        Ok(u64::try_from(row.get::<_, i64>(i)?).unwrap_or(0))
    };
    Ok((
        IngestRun {
            id: row.get(0)?,
            ingestion: row.get(1)?,
            run_id: row.get::<_, Option<i64>>(2)?.map(RunId),
            trigger: trigger_of(&row.get::<_, String>(3)?),
            state: IngestRunState::Running,
            started_ms: row.get(5)?,
            ended_ms: row.get(6)?,
            schema_version: row.get(7)?,
            message: row.get(8)?,
            batches: u32::try_from(row.get::<_, i64>(9)?).unwrap_or(0),
            files: u(10)?,
            rows: u(11)?,
            bytes: u(12)?,
            malformed_rows: u(13)?,
            rescued_rows: u(14)?,
        },
        row.get(4)?,
    ))
}

fn runs_where(
    conn: &Connection,
    clause: &str,
    p: impl rusqlite::Params,
) -> StoreResult<Vec<IngestRun>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {RUN_COLS} FROM ingest_runs r JOIN ingestions i ON i.id = r.ingestion_id {clause}"
    ))?;
    let rows = stmt.query_map(p, run_of)?.collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(mut run, state)| {
            run.state = state_of(&state)?;
            Ok(run)
        })
        .collect()
}

pub fn run(conn: &Connection, id: i64) -> StoreResult<Option<IngestRun>> {
    Ok(runs_where(conn, "WHERE r.id = ?1", params![id])?.pop())
}

pub fn runs(conn: &Connection, ingestion_id: i64, limit: u32) -> StoreResult<Vec<IngestRun>> {
    runs_where(
        conn,
        "WHERE r.ingestion_id = ?1 ORDER BY r.id DESC LIMIT ?2",
        params![ingestion_id, limit],
    )
}

/// Runs whose end has not been recorded, with their ingestion's id.
pub fn active_runs(conn: &Connection) -> StoreResult<Vec<(i64, IngestRun)>> {
    let runs = runs_where(conn, "WHERE r.state = 'running' ORDER BY r.id", params![])?;
    runs.into_iter()
        .map(|r| {
            let ingestion: i64 = conn.query_row(
                "SELECT ingestion_id FROM ingest_runs WHERE id = ?1",
                params![r.id],
                |row| row.get(0),
            )?;
            Ok((ingestion, r))
        })
        .collect()
}

pub fn insert_run(
    conn: &Connection,
    ingestion_id: i64,
    trigger: IngestRunTrigger,
    state: IngestRunState,
    now_ms: i64,
    message: &str,
) -> StoreResult<i64> {
    let ended = (!state.is_active()).then_some(now_ms);
    conn.execute(
        "INSERT INTO ingest_runs (ingestion_id, trigger, state, started_ms, ended_ms, message,
             schema_version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6,
             (SELECT MAX(version) FROM ingest_schemas WHERE ingestion_id = ?1))",
        params![
            ingestion_id,
            trigger.as_str(),
            state.as_str(),
            now_ms,
            ended,
            message
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn set_run_spark(conn: &Connection, id: i64, run: RunId) -> StoreResult<()> {
    conn.execute(
        "UPDATE ingest_runs SET run_id = ?2 WHERE id = ?1",
        params![id, run.0],
    )?;
    Ok(())
}

pub fn finish_run(
    conn: &Connection,
    id: i64,
    state: IngestRunState,
    ended_ms: i64,
    message: &str,
) -> StoreResult<()> {
    conn.execute(
        "UPDATE ingest_runs SET state = ?2, ended_ms = ?3, message = ?4,
             schema_version = (SELECT MAX(version) FROM ingest_schemas
                               WHERE ingestion_id = ingest_runs.ingestion_id)
         WHERE id = ?1",
        params![id, state.as_str(), ended_ms, message],
    )?;
    Ok(())
}

pub fn set_run_message(conn: &Connection, id: i64, message: &str) -> StoreResult<()> {
    conn.execute(
        "UPDATE ingest_runs SET message = ?2 WHERE id = ?1",
        params![id, message],
    )?;
    Ok(())
}

/// A micro-batch a run reported as committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub batch_id: u64,
    pub files: Vec<(String, u64, i64)>,
    pub rows: u64,
    pub bytes: u64,
    pub malformed_rows: u64,
    pub rescued_rows: u64,
    pub duration_ms: u64,
}

/// Records a committed batch (replacing an earlier attempt's record of the same batch).
pub fn record_batch(
    conn: &mut Connection,
    ingestion_id: i64,
    ingest_run: i64,
    batch: &Batch,
) -> StoreResult<()> {
    let tx = conn.transaction()?;
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    tx.execute(
        "INSERT OR REPLACE INTO ingest_batches (ingestion_id, batch_id, ingest_run_id, files, rows,
             bytes, malformed_rows, rescued_rows, duration_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            ingestion_id,
            n(batch.batch_id),
            ingest_run,
            batch.files.len() as i64,
            n(batch.rows),
            n(batch.bytes),
            n(batch.malformed_rows),
            n(batch.rescued_rows),
            n(batch.duration_ms)
        ],
    )?;
    for (path, bytes, modified) in &batch.files {
        tx.execute(
            "INSERT OR REPLACE INTO ingest_files (ingestion_id, path, bytes, modified_ms, batch_id,
                 ingest_run_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                ingestion_id,
                path,
                n(*bytes),
                modified,
                n(batch.batch_id),
                ingest_run
            ],
        )?;
    }
    tx.commit()?;
    Ok(())
}

pub fn files_of_run(conn: &Connection, ingest_run: i64) -> StoreResult<Vec<IngestFile>> {
    let mut stmt = conn.prepare(
        "SELECT path, bytes, modified_ms, batch_id, ingest_run_id FROM ingest_files
         WHERE ingest_run_id = ?1 ORDER BY batch_id, path",
    )?;
    let rows = stmt
        .query_map(params![ingest_run], |r| {
            Ok(IngestFile {
                path: r.get(0)?,
                bytes: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                modified_ms: r.get(2)?,
                batch_id: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                ingest_run: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Every path the ingestion has committed.
pub fn seen_paths(conn: &Connection, ingestion_id: i64) -> StoreResult<Vec<String>> {
    let mut stmt = conn.prepare("SELECT path FROM ingest_files WHERE ingestion_id = ?1")?;
    let rows = stmt
        .query_map(params![ingestion_id], |r| r.get(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// (files, rows) committed over the ingestion's life.
pub fn totals(conn: &Connection, ingestion_id: i64) -> StoreResult<(u64, u64)> {
    let (files, rows): (i64, i64) = conn.query_row(
        "SELECT COALESCE(SUM(files), 0), COALESCE(SUM(rows), 0) FROM ingest_batches
         WHERE ingestion_id = ?1",
        params![ingestion_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((
        u64::try_from(files).unwrap_or(0),
        u64::try_from(rows).unwrap_or(0),
    ))
}

/// (bytes, milliseconds) of the Spark runs that committed data: the measured throughput.
pub fn throughput(conn: &Connection, ingestion_id: Option<i64>) -> StoreResult<(u64, u64, u64)> {
    let (bytes, ms, runs): (i64, i64, i64) = conn.query_row(
        "SELECT COALESCE(SUM(b.bytes), 0), COALESCE(SUM(b.duration_ms), 0),
                COUNT(DISTINCT b.ingest_run_id)
         FROM ingest_batches b WHERE (?1 IS NULL OR b.ingestion_id = ?1) AND b.bytes > 0",
        params![ingestion_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let u = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok((u(bytes), u(ms), u(runs)))
}

/// Mean wall time of successful Spark-backed runs (JVM start included), in ms.
pub fn mean_run_ms(conn: &Connection, ingestion_id: Option<i64>) -> StoreResult<Option<u64>> {
    let mean: Option<f64> = conn.query_row(
        "SELECT AVG(ended_ms - started_ms) FROM ingest_runs
         WHERE state = 'succeeded' AND run_id IS NOT NULL AND (?1 IS NULL OR ingestion_id = ?1)",
        params![ingestion_id],
        |r| r.get(0),
    )?;
    Ok(mean.map(|m| m.max(0.0) as u64))
}

// --- schemas ---

pub fn schemas(conn: &Connection, ingestion_id: i64) -> StoreResult<Vec<SchemaVersion>> {
    let mut stmt = conn.prepare(
        "SELECT version, fields, created_ms, ingest_run_id, change FROM ingest_schemas
         WHERE ingestion_id = ?1 ORDER BY version",
    )?;
    let rows = stmt
        .query_map(params![ingestion_id], |r| {
            Ok((
                r.get::<_, u32>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(version, fields, created_ms, ingest_run, change)| {
            Ok(SchemaVersion {
                version,
                fields: serde_json::from_str(&fields)?,
                created_ms,
                ingest_run,
                change,
            })
        })
        .collect()
}

pub fn latest_schema(conn: &Connection, ingestion_id: i64) -> StoreResult<Option<SchemaVersion>> {
    Ok(schemas(conn, ingestion_id)?.pop())
}

/// Records `version` unless it is recorded already (a replayed batch reports it again).
pub fn record_schema(
    conn: &Connection,
    ingestion_id: i64,
    version: u32,
    fields: &[SchemaField],
    ingest_run: Option<i64>,
    change: &str,
    now_ms: i64,
) -> StoreResult<bool> {
    let n = conn.execute(
        "INSERT OR IGNORE INTO ingest_schemas (ingestion_id, version, fields, created_ms,
             ingest_run_id, change) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            ingestion_id,
            version,
            serde_json::to_string(fields)?,
            now_ms,
            ingest_run,
            change
        ],
    )?;
    Ok(n > 0)
}

/// An ingestion as the API shows it.
pub fn view(conn: &Connection, s: Stored, next_fire_ms: Option<i64>) -> StoreResult<Ingestion> {
    let last_run = runs(conn, s.id, 1)?.pop();
    let schema_version = latest_schema(conn, s.id)?.map(|v| v.version);
    let (files_total, rows_total) = totals(conn, s.id)?;
    Ok(Ingestion {
        id: s.id,
        target_path: s.target_path,
        spec: s.spec,
        paused: s.paused,
        created_ms: s.created_ms,
        updated_ms: s.updated_ms,
        next_fire_ms,
        last_run,
        schema_version,
        files_total,
        rows_total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use harbour_shared::{JobKind, JobSource, JobSpec, SourceFormat};

    #[tokio::test]
    async fn a_replayed_batch_counts_once_under_the_retry() {
        let store = Store::open_in_memory().unwrap();
        store
            .call(|c| {
                let mut job = JobSpec::new(JobKind::Pyspark, JobSource::Code(String::new()));
                job.name = "ingest:orders".into();
                let job = crate::store::jobs::insert(c, &job, true, 1)?;
                let spec = IngestSpec::new("orders", "/in", SourceFormat::Csv, "orders");
                let id = insert(c, &spec, "/t/orders", job, 1)?;
                let first = insert_run(
                    c,
                    id,
                    IngestRunTrigger::Manual,
                    IngestRunState::Running,
                    2,
                    "",
                )?;
                let batch = |b: u64, file: &str| Batch {
                    batch_id: b,
                    files: vec![(file.into(), 10, 1)],
                    rows: 5,
                    bytes: 10,
                    malformed_rows: 0,
                    rescued_rows: 1,
                    duration_ms: 100,
                };
                record_batch(c, id, first, &batch(0, "/in/a.csv"))?;
                record_batch(c, id, first, &batch(1, "/in/b.csv"))?;
                finish_run(c, first, IngestRunState::Failed, 3, "killed")?;
                let retry = insert_run(
                    c,
                    id,
                    IngestRunTrigger::Retry,
                    IngestRunState::Running,
                    4,
                    "",
                )?;
                record_batch(c, id, retry, &batch(1, "/in/b.csv"))?;
                record_batch(c, id, retry, &batch(2, "/in/c.csv"))?;
                assert_eq!(totals(c, id)?, (3, 15));
                let r1 = run(c, first)?.unwrap();
                let r2 = run(c, retry)?.unwrap();
                assert_eq!((r1.batches, r1.rows), (1, 5));
                assert_eq!((r2.batches, r2.rows, r2.rescued_rows), (2, 10, 2));
                assert_eq!(files_of_run(c, retry)?.len(), 2);
                assert_eq!(seen_paths(c, id)?.len(), 3);
                assert!(record_schema(c, id, 1, &[], Some(first), "inferred", 5)?);
                assert!(!record_schema(c, id, 1, &[], Some(retry), "inferred", 6)?);
                assert_eq!(active_runs(c)?.len(), 1);
                Ok(())
            })
            .await
            .unwrap();
    }
}
