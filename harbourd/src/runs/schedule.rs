//! Cron schedules: fires each unpaused scheduled job on time, skipping a fire while an
//! earlier run is active unless the job allows overlap.
//!
//! Each job remembers the last fire it handled (`last_fire_ms`). The next fire is the first
//! schedule time after the later of that and this daemon's start, so a fire is never
//! handled twice and times missed while the daemon was down are not made up for (as cron).

use std::sync::Arc;
use std::time::Duration;

use harbour_shared::{EventKind, JobRef, Lifecycle, Trigger};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::cron;
use super::supervisor::Runs;
use crate::clock::now_ms;
use crate::events::EventBus;
use crate::store::Store;
use crate::store::jobs::{self, Scheduled};
use crate::store::runs::NewRun;

/// The longest the scheduler sleeps without looking again (clock changes, DST).
const MAX_SLEEP: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct Scheduler {
    pub store: Store,
    pub runs: Runs,
    pub events: Arc<EventBus>,
    pub changed: Arc<Notify>,
    pub boot_ms: i64,
}

impl Scheduler {
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            let next_due = match self.store.call(|c| jobs::scheduled(c)).await {
                Ok(scheduled) => self.fire_due(scheduled).await,
                Err(e) => {
                    tracing::error!("scheduler cannot read jobs: {e}");
                    Some(now_ms() + 5_000)
                }
            };
            let sleep = next_due
                .map(|at| Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0)))
                .unwrap_or(MAX_SLEEP)
                .min(MAX_SLEEP);
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.changed.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// Fires what is due; returns when the next fire is.
    async fn fire_due(&self, scheduled: Vec<Scheduled>) -> Option<i64> {
        let now = now_ms();
        let mut earliest: Option<i64> = None;
        for job in scheduled.into_iter().filter(|j| !j.paused) {
            let Ok(cron) = cron::parse(&job.schedule) else {
                continue;
            };
            let base = job.last_fire_ms.unwrap_or(self.boot_ms).max(self.boot_ms);
            let Some(mut due) = cron::next_after(&cron, base) else {
                continue;
            };
            if due <= now {
                self.fire(&job, due).await;
                match cron::next_after(&cron, due.max(now - 1)) {
                    Some(next) => due = next,
                    None => continue,
                }
            }
            earliest = Some(earliest.map_or(due, |e| e.min(due)));
        }
        earliest
    }

    async fn fire(&self, job: &Scheduled, fire_ms: i64) {
        let id = job.id;
        let now = now_ms();
        let loaded = self
            .store
            .call(move |c| {
                jobs::set_last_fire(c, id, fire_ms)?;
                jobs::get(c, &JobRef::Id(id), now)
            })
            .await;
        let current = match loaded {
            Ok(Some(current)) => current,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(job = %id, "cannot fire the schedule: {e}");
                return;
            }
        };
        if current.active_runs > 0 && !job.allow_overlap {
            let reason = format!(
                "schedule fire skipped: {} run(s) of '{}' still active (allow_overlap is off)",
                current.active_runs,
                current.name()
            );
            tracing::info!(job = %id, "{reason}");
            self.events
                .publish(EventKind::ScheduleSkipped { job: id, reason });
            return;
        }
        let new = NewRun {
            job_id: id,
            spec: current.spec,
            trigger: Trigger::Schedule,
            attempt: 1,
            parent: None,
            lifecycle: Lifecycle::Queued,
            retry_at_ms: None,
            message: format!("queued by its schedule '{}'", job.schedule),
        };
        if let Err(e) = self.runs.create(new).await {
            tracing::error!(job = %id, "cannot queue the scheduled run: {e}");
        }
    }
}
