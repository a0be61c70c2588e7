//! The SQLite store: one connection on a dedicated thread, so no tokio worker ever blocks on
//! disk. Callers send closures with [`Store::call`] and await their answer.
//!
//! The database is in WAL mode with `synchronous = FULL`: a change is on disk before the call
//! that made it returns, so a state the daemon announced survives a crash or `kill -9`.
//! Migrations are the numbered SQL files in `harbourd/migrations`, tracked by `user_version`.

pub mod clusters;
pub mod ingest;
pub mod jobs;
pub mod metrics;
pub mod runs;

use std::path::Path;
use std::sync::mpsc;
use std::thread;

use rusqlite::Connection;
use tokio::sync::oneshot;

/// The migrations, in order. `user_version` counts how many have been applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_init.sql"),
    include_str!("../../migrations/0002_spark.sql"),
    include_str!("../../migrations/0003_monitor.sql"),
    include_str!("../../migrations/0004_run_usage.sql"),
    include_str!("../../migrations/0005_analytics.sql"),
    include_str!("../../migrations/0006_ingest.sql"),
    include_str!("../../migrations/0007_notebooks.sql"),
    include_str!("../../migrations/0008_analytics_stats.sql"),
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("a stored value is malformed: {0}")]
    Corrupt(String),
    #[error(
        "the database is at schema version {found}, newer than this harbourd knows ({known}); \
         run the newer harbourd or restore a backup"
    )]
    TooNew { found: i64, known: i64 },
    #[error("the store thread has stopped")]
    Closed,
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        Self::Corrupt(e.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

type Work = Box<dyn FnOnce(&mut Connection) + Send>;

/// A handle to the store thread. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    tx: mpsc::Sender<Work>,
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`, then hands the
    /// connection to its thread. The thread ends when the last handle is dropped.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        migrate(&mut conn)?;
        Ok(Self::spawn(conn))
    }

    /// An in-memory store, for tests.
    pub fn open_in_memory() -> StoreResult<Self> {
        let mut conn = Connection::open_in_memory()?;
        configure(&conn)?;
        migrate(&mut conn)?;
        Ok(Self::spawn(conn))
    }

    fn spawn(mut conn: Connection) -> Self {
        let (tx, rx) = mpsc::channel::<Work>();
        let spawned = thread::Builder::new()
            .name("harbour-store".into())
            .spawn(move || {
                for work in rx {
                    work(&mut conn);
                }
            });
        if let Err(e) = spawned {
            // Without a thread every call answers `Closed`, which callers report.
            tracing::error!("cannot start the store thread: {e}");
        }
        Self { tx }
    }

    /// Runs `f` on the store thread and returns its answer.
    pub async fn call<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<R> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let work: Work = Box::new(move |conn| {
            let _ = reply.send(f(conn));
        });
        self.tx.send(work).map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

fn configure(conn: &Connection) -> StoreResult<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Every module's statements stay prepared (analytics alone writes with ~17); the
    // default 16 would recompile some in each batch.
    conn.set_prepared_statement_cache_capacity(128);
    Ok(())
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let known = MIGRATIONS.len() as i64;
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
        tracing::info!("store migrated to schema version {}", index + 1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn migrates_once_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let store = Store::open(&path).unwrap();
        let version: i64 = store
            .call(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        drop(store);
        // Reopening an up-to-date database applies nothing and keeps working.
        let store = Store::open(&path).unwrap();
        let mode: String = store
            .call(|c| Ok(c.pragma_query_value(None, "journal_mode", |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        drop(Store::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
    }
}
