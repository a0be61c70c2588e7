//! Monitoring: host metrics with history ([`metrics`] samples, [`history`] is the pure
//! tiering and averaging, [`recorder`] keeps and stores it), health checks ([`health`]) and
//! Docker containers ([`containers`]). [`Monitor::start`] wires them on the daemon's tracker.

pub mod containers;
pub mod health;
pub mod history;
pub mod metrics;
pub mod recorder;

use std::sync::Arc;

use harbour_shared::HostGauges;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::events::EventBus;
use crate::notebooks::Notebooks;
use crate::runs::supervisor::Runs;
use crate::spark::Spark;
use crate::store::Store;
use containers::Containers;
use health::{Health, Parts};
use recorder::Metrics;

/// The monitoring parts the API answers from.
#[derive(Debug, Clone)]
pub struct Monitor {
    /// None with `[metrics] enabled = false`.
    pub metrics: Option<Arc<Metrics>>,
    pub health: Arc<Health>,
    pub containers: Arc<Containers>,
}

/// The daemon's parts monitoring samples and checks.
#[derive(Debug, Clone, Copy)]
pub struct Watched<'a> {
    pub store: &'a Store,
    pub runs: &'a Runs,
    pub spark: &'a Arc<Spark>,
    pub notebooks: &'a Arc<Notebooks>,
}

impl Monitor {
    pub async fn start(
        config: &Config,
        watched: Watched<'_>,
        events: Arc<EventBus>,
        tracker: &TaskTracker,
        shutdown: &CancellationToken,
    ) -> Self {
        let Watched {
            store,
            runs,
            spark,
            notebooks,
        } = watched;
        let metrics = config.metrics.enabled.then(|| {
            Arc::new(Metrics::new(
                store.clone(),
                config.metrics.tiers(),
                config.metrics.interval.duration(),
                config.metrics.flush.duration(),
            ))
        });
        if let Some(metrics) = &metrics {
            tracker.spawn(metrics.clone().run(runs.clone(), shutdown.clone()));
        }
        let containers = Containers::start(shutdown.clone());
        let parts = Parts {
            store: store.clone(),
            runs: Some(runs.clone()),
            containers: containers.clone(),
            http: reqwest::Client::new(),
            spark: Some(spark.clone()),
            notebooks: Some(notebooks.clone()),
        };
        let health = Health::start(
            &config.health,
            parts,
            events,
            metrics.clone(),
            tracker,
            shutdown,
        );
        Self {
            metrics,
            health,
            containers,
        }
    }

    /// The dashboard's host gauges, from the latest sample.
    pub fn gauges(&self) -> Option<HostGauges> {
        let m = self.metrics.as_ref()?.latest()?;
        let fullest_disk = m
            .disks
            .iter()
            .filter(|d| d.total_bytes > 0)
            .map(|d| {
                (
                    d.mount.clone(),
                    d.used_bytes as f64 / d.total_bytes as f64 * 100.0,
                )
            })
            .max_by(|a, b| a.1.total_cmp(&b.1));
        Some(HostGauges {
            cpu_percent: m.cpu_percent,
            memory_used_bytes: m.memory_used_bytes,
            memory_total_bytes: m.memory_total_bytes,
            load1: m.load[0],
            fullest_disk,
        })
    }
}
