//! Log retention: run directories (logs and scratch space) of runs that ended more than
//! `logs.retention_days` ago are removed, hourly. The runs themselves stay in the history,
//! marked as having no logs.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::logs::RunDirs;
use crate::clock::now_ms;
use crate::store::{Store, runs};

pub async fn run(store: Store, dirs: RunDirs, retention_days: u64, shutdown: CancellationToken) {
    if retention_days == 0 {
        return;
    }
    let keep_ms = i64::try_from(retention_days.saturating_mul(86_400_000)).unwrap_or(i64::MAX);
    loop {
        if let Err(e) = prune(&store, &dirs, now_ms().saturating_sub(keep_ms)).await {
            tracing::error!("log retention: {e}");
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
    }
}

/// Removes the directories of runs that ended before `before_ms`; returns how many.
pub async fn prune(
    store: &Store,
    dirs: &RunDirs,
    before_ms: i64,
) -> Result<usize, crate::store::StoreError> {
    let mut removed = 0;
    loop {
        let ids = store.call(move |c| runs::prunable(c, before_ms)).await?;
        if ids.is_empty() {
            return Ok(removed);
        }
        for id in ids {
            let dir = dirs.dir(id);
            let gone = tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&dir) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(format!("{}: {e}", dir.display())),
            })
            .await;
            match gone {
                Ok(Ok(())) => {
                    store.call(move |c| runs::mark_pruned(c, id)).await?;
                    removed += 1;
                }
                Ok(Err(e)) => {
                    tracing::warn!(run = %id, "cannot remove old logs: {e}");
                    // Marked anyway, or the same failure would stop every later prune.
                    store.call(move |c| runs::mark_pruned(c, id)).await?;
                }
                Err(e) => tracing::warn!(run = %id, "log removal task failed: {e}"),
            }
        }
    }
}
