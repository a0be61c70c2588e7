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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::jobs;
    use crate::store::runs::{NewRun, StateChange};
    use harbour_shared::{JobKind, JobSource, JobSpec, Lifecycle, LogStream, RunResult, Trigger};

    async fn ended_run(store: &Store, ended_ms: i64) -> harbour_shared::RunId {
        store
            .call(move |c| {
                let spec = JobSpec::new(JobKind::Shell, JobSource::Code("true".into()));
                let job_id = jobs::insert(c, &spec, true, 0)?;
                let new = NewRun {
                    job_id,
                    spec,
                    trigger: Trigger::Submit,
                    attempt: 1,
                    parent: None,
                    lifecycle: Lifecycle::Queued,
                    retry_at_ms: None,
                    message: String::new(),
                };
                let run = runs::insert(c, &new, 0)?;
                let done = StateChange {
                    lifecycle: Some(Lifecycle::Terminated),
                    result: Some(RunResult::Succeeded),
                    ended_ms: Some(ended_ms),
                    ..StateChange::default()
                };
                Ok(runs::change_state(c, run.id, &done, ended_ms)?.id)
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn removes_only_old_run_directories_and_remembers_it() {
        let data = tempfile::tempdir().unwrap();
        let dirs = RunDirs::new(data.path());
        let store = Store::open_in_memory().unwrap();
        let old = ended_run(&store, 1_000).await;
        let recent = ended_run(&store, 9_000).await;
        for id in [old, recent] {
            std::fs::create_dir_all(dirs.work(id)).unwrap();
            std::fs::write(dirs.log(id, LogStream::Stdout), b"output").unwrap();
        }
        assert_eq!(prune(&store, &dirs, 5_000).await.unwrap(), 1);
        assert!(!dirs.dir(old).exists());
        assert!(dirs.log(recent, LogStream::Stdout).exists());
        let pruned = store
            .call(move |c| runs::extras(c, old))
            .await
            .unwrap()
            .unwrap();
        assert!(pruned.logs_pruned);
        // Already pruned runs are not visited again.
        assert_eq!(prune(&store, &dirs, 5_000).await.unwrap(), 0);
    }
}
