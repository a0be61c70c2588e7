//! `harbourd`, the Harbour daemon, as a library: [`run`] starts everything and serves until
//! its shutdown token is cancelled. The binary's `main` only parses flags, sets up logging
//! and signals, and calls it.
//!
//! Modules by domain: [`config`] (paths and settings), [`store`] (SQLite), [`runs`] (state
//! machine, supervisor, logs, schedules), [`events`] (the long-poll bus), [`monitor`]
//! (metrics, health checks, containers), [`api`] (the tarpc service), [`socket`] (the Unix
//! socket and its permissions), [`privileges`] (who harbourd and its runs are, and the runs'
//! rlimits) and [`spark`] (runtime, clusters, Spark runs' progress, SQL over Spark Connect).

pub mod analytics;
pub mod api;
pub mod backup;
pub mod clock;
pub mod config;
pub mod events;
#[cfg(test)]
mod fuzz;
pub mod ingest;
pub mod monitor;
pub mod notebooks;
pub mod privileges;
pub mod runs;
pub mod socket;
pub mod spark;
pub mod store;
pub mod tcp;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api::Daemon;
use crate::config::{Config, Paths};
use crate::events::EventBus;
use crate::runs::logs::{LiveLogs, RunDirs};
use crate::runs::process::Runtime;
use crate::runs::schedule::Scheduler;
use crate::runs::supervisor::{Runs, Shared, SupervisorConfig};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Socket(#[from] socket::SocketError),
    #[error(transparent)]
    Tcp(#[from] tcp::TcpError),
    #[error("cannot open the store {}: {source}", path.display())]
    Store {
        path: std::path::PathBuf,
        source: store::StoreError,
    },
}

/// Runs the daemon until `shutdown` is cancelled, then drains: no new runs start, active
/// runs are stopped (recorded as `Lost`, so retry policies apply), connections close and the
/// socket file is removed. `ready` is called once the socket accepts connections.
pub async fn run(
    config: Config,
    paths: Paths,
    shutdown: CancellationToken,
    ready: impl FnOnce(),
) -> Result<(), DaemonError> {
    let started_ms = clock::now_ms();
    let _lock = socket::lock_data_dir(&paths.data_dir)?;
    let db = paths.database();
    let store = Store::open(&db).map_err(|source| DaemonError::Store {
        path: db.clone(),
        source,
    })?;
    let events = Arc::new(EventBus::new(config.daemon.event_buffer));
    let live = Arc::new(LiveLogs::default());
    let dirs = RunDirs::new(&paths.data_dir);
    let spark = spark::Spark::new(
        config.spark.clone(),
        paths.data_dir.clone(),
        store.clone(),
        events.clone(),
        config.runs.kill_grace(),
        shutdown.clone(),
    );
    let shared = Shared {
        store: store.clone(),
        events: events.clone(),
        live: live.clone(),
    };
    let supervisor = SupervisorConfig {
        max_concurrent: config.runs.max_concurrent,
        kill_grace: config.runs.kill_grace(),
        runtime: Runtime {
            shell: config.runs.shell.clone(),
            python: config.runs.python.clone(),
            spark_home: spark.runtime.as_ref().map(|r| r.spark_home.clone()),
            limits: privileges::limit_args(&config.runs.limits),
        },
        dirs: dirs.clone(),
        spark: Some(spark.clone()),
    };
    // Recover before listening, so no client sees what a dead daemon left as "running".
    let (runs, supervisor_task) =
        Runs::start(shared, supervisor)
            .await
            .map_err(|source| DaemonError::Store {
                path: db.clone(),
                source,
            })?;
    // The TCP door opens first, so a daemon whose socket answers is fully listening.
    let door = match config.daemon.listen {
        Some(addr) => {
            let token_file = config
                .daemon
                .token_file
                .clone()
                .unwrap_or_else(|| paths.data_dir.join("tcp.token"));
            Some(tcp::Door::open(addr, &token_file).await?)
        }
        None => None,
    };
    let mut listener = socket::listen(paths.mode, &paths.socket, &config.daemon.socket_group)?;

    let tracker = TaskTracker::new();
    let schedule_changed = Arc::new(Notify::new());
    let scheduler = Scheduler {
        store: store.clone(),
        runs: runs.clone(),
        events: events.clone(),
        changed: schedule_changed.clone(),
        boot_ms: started_ms,
    };
    tracker.spawn(scheduler.run(shutdown.clone()));
    spark.recover().await;
    tracker.spawn(spark.clone().monitor());
    tracker.spawn(runs::retention::run(
        store.clone(),
        dirs.clone(),
        config.logs.retention_days,
        shutdown.clone(),
    ));

    // --- Analytics ---
    let analytics =
        analytics::Analytics::new(store.clone(), config.analytics.clone(), spark.event_dir());
    tracker.spawn(analytics.clone().run(shutdown.clone()));

    // --- Ingestion ---
    let ingest = ingest::Ingest::new(
        store.clone(),
        runs.clone(),
        spark.clone(),
        config.ingest.clone(),
        paths.data_dir.clone(),
        started_ms,
    );
    tracker.spawn(ingest.clone().background(shutdown.clone()));

    // --- Notebooks ---
    let notebooks = notebooks::Notebooks::new(
        store.clone(),
        spark.clone(),
        notebooks::Settings {
            data_dir: paths.data_dir.clone(),
            python: config.runs.python.clone(),
            idle_cull: config.notebooks.idle_cull.duration(),
            limits: privileges::limit_args(&config.runs.limits),
        },
        shutdown.clone(),
    );
    tracker.spawn(notebooks.clone().cull_idle());

    let watched = monitor::Watched {
        store: &store,
        runs: &runs,
        spark: &spark,
        notebooks: &notebooks,
    };
    let monitor =
        monitor::Monitor::start(&config, watched, events.clone(), &tracker, &shutdown).await;

    let grace = config.runs.kill_grace();
    let daemon = Arc::new(Daemon {
        analytics,
        ingest,
        monitor,
        store,
        events,
        live,
        runs: runs.clone(),
        spark: spark.clone(),
        dirs,
        config,
        paths: paths.clone(),
        started_ms,
        schedule_changed,
        notebooks,
    });
    tracing::info!(
        socket = %paths.socket.display(),
        data_dir = %paths.data_dir.display(),
        mode = paths.mode.as_str(),
        "harbourd {} ready",
        env!("CARGO_PKG_VERSION")
    );
    ready();
    let connections = TaskTracker::new();
    api::serve(&mut listener, door, daemon, shutdown.clone(), &connections).await;

    tracing::info!("shutting down: no new connections; stopping active runs");
    drop(listener);
    runs.drain(grace + Duration::from_secs(5)).await;
    spark.shutdown_all().await;
    connections.close();
    tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        connections.wait().await;
        tracker.wait().await;
    })
    .await;
    supervisor_task.abort();
    tracing::info!("harbourd stopped");
    Ok(())
}
