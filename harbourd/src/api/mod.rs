//! The tarpc server: accepting connections on the socket, and the `Harbour` service itself,
//! which validates every request and turns it into store reads, run-supervisor commands and
//! event-bus waits.
//!
//! Each connection gets its own service value, so `hello` is enforced per connection. Frames
//! are capped at `MAX_FRAME_BYTES`; an oversized frame or bytes that do not decode end that
//! connection only.

pub(crate) mod frames;
pub(crate) mod validate;

pub use validate::is_job_name;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt as _;
use harbour_shared::{
    Cluster, ClusterCheck, ClusterSpec, Container, ContainerAction, ContainerLogChunk, Dashboard,
    EnvVar, Error, EventBatch, EventKind, ExternalClusterSpec, Harbour, HealthReport, Hello, Job,
    JobId, JobPatch, JobRef, JobSpec, LogChunk, LogStream, MAX_FRAME_BYTES, MAX_LOG_CHUNK_BYTES,
    MAX_WAIT_MS, MetricHistory, MetricsNow, PROTOCOL_VERSION, Run, RunDetail, RunFilter, RunId,
    RunUsage, RuntimeInfo, SparkProgress, SqlRequest, SqlResult, Status, Table, TableSpec, Trigger,
};
use tarpc::context::Context;
use tarpc::server::{BaseChannel, Channel as _};
use tarpc::tokio_util::codec::{Framed, LengthDelimitedCodec};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

// --- Ingestion ---
use harbour_shared::{
    IngestEstimate, IngestFile, IngestPatch, IngestPreview, IngestRun, IngestSpec, Ingestion,
    SchemaVersion,
};

use crate::clock::now_ms;
use crate::config::{Config, Paths};
use crate::events::EventBus;
use crate::monitor::Monitor;
use crate::runs::logs::{LiveLogs, RunDirs, read_marks, read_masked};
use crate::runs::supervisor::{Runs, no_such_run};
use crate::spark::Spark;
use crate::store::runs::{self as run_rows, NewRun};
use crate::store::{Store, StoreError, jobs};
use crate::{socket, tcp};
// --- Notebooks ---
use harbour_shared::{
    CellEdit, KernelInfo, Notebook, NotebookSpec, NotebookSummary, NotebookVersion, NotebookWatch,
    RunCells,
};

/// Requests one connection may have in flight at once.
const MAX_IN_FLIGHT_PER_CONNECTION: usize = 64;
/// A follower's page smaller than this waits up to [`LOG_SAMPLE_WAIT`] to grow.
const MIN_FOLLOW_PAGE: u64 = 64 * 1024;
/// A little more than the supervisor's log sampling interval (50 ms).
const LOG_SAMPLE_WAIT: Duration = Duration::from_millis(60);
/// A `read_log` with no `max_bytes` gets this much.
const DEFAULT_LOG_CHUNK: u64 = 256 * 1024;

/// Everything the service needs, shared by all connections.
#[derive(Debug)]
pub struct Daemon {
    pub analytics: Arc<crate::analytics::Analytics>,
    pub ingest: Arc<crate::ingest::Ingest>,
    pub monitor: Monitor,
    pub store: Store,
    pub events: Arc<EventBus>,
    pub live: Arc<LiveLogs>,
    pub runs: Runs,
    pub spark: Arc<Spark>,
    pub dirs: RunDirs,
    pub config: Config,
    pub paths: Paths,
    pub started_ms: i64,
    /// Wakes the scheduler when a job's schedule may have changed.
    pub schedule_changed: Arc<Notify>,
    pub notebooks: Arc<crate::notebooks::Notebooks>,
}

/// How often the daemon checks that its socket file is still there.
const SOCKET_CHECK: Duration = Duration::from_secs(2);

/// Accepts connections until `shutdown`, serving each on its own task. A socket file that
/// disappears (deleted by hand or by a tmp cleaner) is put back, with the same checks and
/// permissions as at start; connections already open are not affected.
pub async fn serve(
    listener: &mut socket::Listener,
    door: Option<tcp::Door>,
    daemon: Arc<Daemon>,
    shutdown: CancellationToken,
    tracker: &TaskTracker,
) {
    let slots = Arc::new(Semaphore::new(daemon.config.daemon.max_connections));
    if let Some(door) = door {
        tracing::info!(addr = %door.addr, "also listening on TCP (token required)");
        tracker.spawn(serve_tcp(
            door,
            daemon.clone(),
            slots.clone(),
            shutdown.clone(),
            tracker.clone(),
        ));
    }
    let mut check = tokio::time::interval(SOCKET_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            _ = check.tick() => {
                if !listener.in_place() {
                    relisten(listener, &daemon);
                }
                continue;
            }
            accepted = listener.listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, say: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(slot) = take_slot(&slots, &daemon) else {
            continue;
        };
        tracker.spawn(connection(stream, daemon.clone(), slot, shutdown.clone()));
    }
}

/// Accepts TCP connections until `shutdown`; each must present the token first.
async fn serve_tcp(
    door: tcp::Door,
    daemon: Arc<Daemon>,
    slots: Arc<Semaphore>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = door.listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("TCP accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(slot) = take_slot(&slots, &daemon) else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (daemon, shutdown, token) = (daemon.clone(), shutdown.clone(), door.token.clone());
        tracker.spawn(async move {
            match tcp::handshake(stream, &token).await {
                Ok(stream) => connection(stream, daemon, slot, shutdown).await,
                Err(why) => tracing::warn!(%peer, "refused a TCP connection: {why}"),
            }
        });
    }
}

fn take_slot(slots: &Arc<Semaphore>, daemon: &Daemon) -> Option<OwnedSemaphorePermit> {
    let slot = slots.clone().try_acquire_owned().ok();
    if slot.is_none() {
        tracing::warn!(
            "refusing a connection: {} are open (daemon.max_connections)",
            daemon.config.daemon.max_connections
        );
    }
    slot
}

/// Serves one connection's requests until it closes or the daemon shuts down.
async fn connection<S>(
    stream: S,
    daemon: Arc<Daemon>,
    slot: OwnedSemaphorePermit,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let greeted = Arc::new(AtomicBool::new(false));
    let hello_timeout = daemon.config.daemon.hello_timeout.duration();
    let api = Api {
        daemon,
        greeted: greeted.clone(),
    };
    let requests = BaseChannel::with_defaults(transport(stream))
        .execute(api.serve())
        .for_each_concurrent(MAX_IN_FLIGHT_PER_CONNECTION, |response| response);
    // A connection that never says hello (idle, half a frame, a port scanner) gives its
    // slot back after `daemon.hello_timeout`.
    let unfriendly = async {
        tokio::time::sleep(hello_timeout).await;
        if greeted.load(Ordering::Acquire) {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = requests => {}
        () = shutdown.cancelled() => {}
        () = unfriendly => tracing::debug!("closing a connection that did not say hello in time"),
    }
    drop(slot);
}

fn relisten(listener: &mut socket::Listener, daemon: &Daemon) {
    let paths = &daemon.paths;
    match socket::listen(
        paths.mode,
        &paths.socket,
        &daemon.config.daemon.socket_group,
    ) {
        Ok(new) => {
            tracing::warn!(
                socket = %paths.socket.display(),
                "the socket file was removed; listening on a new one"
            );
            *listener = new;
        }
        Err(e) => tracing::error!("the socket file was removed and cannot be put back: {e}"),
    }
}

type ServerTransport<S> = tarpc::serde_transport::Transport<
    S,
    tarpc::ClientMessage<harbour_shared::HarbourRequest>,
    tarpc::Response<harbour_shared::HarbourResponse>,
    frames::ServerCodec,
>;

fn transport<S: AsyncRead + AsyncWrite>(stream: S) -> ServerTransport<S> {
    let codec = LengthDelimitedCodec::builder()
        .max_frame_length(MAX_FRAME_BYTES)
        .new_codec();
    tarpc::serde_transport::new(Framed::new(stream, codec), frames::ServerCodec::default())
}

/// A job as clients see it: secret values emptied.
fn redact(mut job: Job) -> Job {
    job.spec = job.spec.redacted();
    job
}

/// A patch's env, where a secret sent back empty (as clients see it) keeps its value.
fn keep_secrets(old: &[EnvVar], new: Vec<EnvVar>) -> Vec<EnvVar> {
    new.into_iter()
        .map(|mut var| {
            if var.secret
                && var.value.is_empty()
                && let Some(prev) = old.iter().find(|o| o.secret && o.key == var.key)
            {
                var.value.clone_from(&prev.value);
            }
            var
        })
        .collect()
}

/// Logs a failure the client cannot act on and answers with an id that finds it in the log.
pub(crate) fn internal(e: impl std::fmt::Display) -> Error {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    // A full disk is not a bug, and the user can fix it: say so. These are SQLite's and the
    // OS's own words for it, whichever layer hit it first.
    let text = e.to_string();
    if text.contains("database or disk is full") || text.contains("No space left on device") {
        tracing::error!("{text}");
        return Error::unavailable(
            "storage",
            format!(
                "the disk holding harbourd's data dir is full ({text}); free space there and \
                 try again: nothing committed was lost"
            ),
        );
    }
    let id = format!(
        "E{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    tracing::error!(error_id = %id, "{e}");
    Error::Internal { id }
}

fn job_not_found(job: &JobRef) -> Error {
    Error::not_found(
        job.to_string(),
        "`harbour jobs list` shows the jobs there are",
    )
}

/// One connection's view of the service.
#[derive(Clone, Debug)]
pub struct Api {
    daemon: Arc<Daemon>,
    greeted: Arc<AtomicBool>,
}

impl Api {
    fn greeted(&self) -> Result<&Daemon, Error> {
        if self.greeted.load(Ordering::Acquire) {
            Ok(&self.daemon)
        } else {
            Err(Error::invalid(
                "request",
                "call hello with your protocol version first",
            ))
        }
    }

    /// Runs `f` on the store thread; store failures become `Internal`.
    async fn store<R, F>(&self, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> Result<Result<R, Error>, StoreError>
            + Send
            + 'static,
    {
        self.greeted()?.store.call(f).await.map_err(internal)?
    }

    async fn job(&self, job: JobRef) -> Result<Job, Error> {
        let now = now_ms();
        self.store(move |c| Ok(jobs::get(c, &job, now)?.ok_or_else(|| job_not_found(&job))))
            .await
    }

    async fn new_run(&self, new: NewRun) -> Result<Run, Error> {
        self.greeted()?.runs.create(new).await.map_err(internal)
    }

    fn spark_configured(&self) -> bool {
        self.daemon.spark.runtime.is_some()
    }

    /// Announces a job as it now is and tells the scheduler.
    async fn job_changed(&self, id: JobId) -> Result<Job, Error> {
        let job = redact(self.job(JobRef::Id(id)).await?);
        self.daemon
            .events
            .publish(EventKind::JobChanged(job.clone()));
        self.daemon.schedule_changed.notify_one();
        Ok(job)
    }

    fn metrics(&self) -> Result<&crate::monitor::recorder::Metrics, Error> {
        self.greeted()?.monitor.metrics.as_deref().ok_or_else(|| {
            Error::unavailable(
                "metrics",
                "metrics are off in harbourd.toml ([metrics] enabled = false)",
            )
        })
    }

    fn with_live_sizes(&self, mut run: Run) -> Run {
        if let Some((stdout, stderr)) = self.daemon.live.sizes(run.id) {
            run.stdout_bytes = stdout;
            run.stderr_bytes = stderr;
        }
        run
    }
}

impl Harbour for Api {
    async fn hello(self, _: Context, client_protocol: u32) -> Result<Hello, Error> {
        if client_protocol != PROTOCOL_VERSION {
            return Err(Error::ProtocolMismatch {
                client: client_protocol,
                daemon: PROTOCOL_VERSION,
            });
        }
        self.greeted.store(true, Ordering::Release);
        Ok(Hello {
            protocol: PROTOCOL_VERSION,
            version: env!("CARGO_PKG_VERSION").to_owned(),
        })
    }

    async fn status(self, _: Context) -> Result<Status, Error> {
        let d = self.greeted()?;
        let (runs, (jobs, _)) = self
            .store(|c| Ok(Ok((run_rows::counts(c)?, jobs::count(c)?))))
            .await?;
        let now = now_ms();
        Ok(Status {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol: PROTOCOL_VERSION,
            pid: std::process::id(),
            started_ms: d.started_ms,
            uptime_secs: u64::try_from((now - d.started_ms) / 1000).unwrap_or(0),
            mode: d.paths.mode.as_str().to_owned(),
            config_file: d.paths.config_file.display().to_string(),
            data_dir: d.paths.data_dir.display().to_string(),
            socket: d.paths.socket.display().to_string(),
            jobs,
            runs,
            max_concurrent_runs: u32::try_from(d.config.runs.max_concurrent).unwrap_or(u32::MAX),
            spark_home: d
                .spark
                .runtime
                .as_ref()
                .map(|r| r.spark_home.display().to_string()),
        })
    }

    async fn dashboard(self, _: Context) -> Result<Dashboard, Error> {
        let now = now_ms();
        let monitor = &self.greeted()?.monitor;
        let (host, health) = (monitor.gauges(), monitor.health.summary());
        let notebooks = self.daemon.notebooks.count().await;
        self.store(move |c| {
            let (jobs, scheduled_jobs) = jobs::count(c)?;
            Ok(Ok(Dashboard {
                jobs,
                scheduled_jobs,
                runs: run_rows::counts(c)?,
                notebooks,
                clusters: crate::store::clusters::list(c)?.len() as u64 + 1,
                trend: run_rows::trend(c, 7, now)?,
                recent_failures: run_rows::recent_failures(c, 10)?,
                host,
                health,
            }))
        })
        .await
    }

    async fn submit(self, _: Context, spec: JobSpec) -> Result<Run, Error> {
        let mut spec = validate::spec(spec, self.spark_configured())?;
        spec.name = match spec.name.trim() {
            "" => validate::one_off_name(&spec),
            name => name.to_owned(),
        };
        spec.schedule = None;
        let now = now_ms();
        let stored = spec.clone();
        let job_id = self
            .store(move |c| Ok(Ok(jobs::insert(c, &stored, true, now)?)))
            .await?;
        self.new_run(NewRun {
            job_id,
            spec,
            trigger: Trigger::Submit,
            attempt: 1,
            parent: None,
            lifecycle: harbour_shared::Lifecycle::Queued,
            retry_at_ms: None,
            message: "queued".into(),
        })
        .await
    }

    async fn create_job(self, _: Context, spec: JobSpec) -> Result<Job, Error> {
        let mut spec = validate::spec(spec, self.spark_configured())?;
        spec.name = spec.name.trim().to_owned();
        validate::job_name(&spec.name)?;
        let now = now_ms();
        let id = self
            .store(move |c| {
                if jobs::name_taken(c, &spec.name, None)? {
                    return Ok(Err(Error::conflict(format!(
                        "a job named '{}' exists already; pick another name or `harbour jobs update {}`",
                        spec.name, spec.name
                    ))));
                }
                let id = jobs::insert(c, &spec, false, now)?;
                // The schedule counts from now: no fire for times before the job existed.
                jobs::set_last_fire(c, id, now)?;
                Ok(Ok(id))
            })
            .await?;
        self.job_changed(id).await
    }

    async fn update_job(self, _: Context, job: JobRef, patch: JobPatch) -> Result<Job, Error> {
        if patch.is_empty() {
            return Err(Error::invalid(
                "update",
                "nothing to change; give at least one field to update",
            ));
        }
        let current = self.job(job).await?;
        if current.one_off {
            return Err(Error::conflict(format!(
                "job {} is a one-off submission; define a job with `harbour jobs create` to keep and change it",
                current.id
            )));
        }
        let mut spec = current.spec.clone();
        let schedule_changed = patch.schedule.is_some();
        if let Some(name) = patch.name {
            spec.name = name.trim().to_owned();
            validate::job_name(&spec.name)?;
        }
        if let Some(kind) = patch.kind {
            spec.kind = kind;
        }
        if let Some(source) = patch.source {
            spec.source = source;
        }
        if let Some(args) = patch.args {
            spec.args = args;
        }
        if let Some(env) = patch.env {
            spec.env = keep_secrets(&spec.env, env);
        }
        if let Some(cwd) = patch.cwd {
            spec.cwd = cwd;
        }
        if let Some(schedule) = patch.schedule {
            spec.schedule = schedule;
        }
        if let Some(allow) = patch.allow_overlap {
            spec.allow_overlap = allow;
        }
        if let Some(retries) = patch.retries {
            spec.retries = retries;
        }
        if let Some(backoff) = patch.retry_backoff_secs {
            spec.retry_backoff_secs = backoff;
        }
        if let Some(timeout) = patch.timeout_secs {
            spec.timeout_secs = timeout;
        }
        if let Some(conf) = patch.spark_conf {
            spec.spark_conf = conf;
        }
        if let Some(cluster) = patch.cluster {
            spec.cluster = cluster;
        }
        let spec = validate::spec(spec, self.spark_configured())?;
        let id = current.id;
        let now = now_ms();
        self.store(move |c| {
            if jobs::name_taken(c, &spec.name, Some(id))? {
                return Ok(Err(Error::conflict(format!(
                    "a job named '{}' exists already",
                    spec.name
                ))));
            }
            jobs::save_spec(c, id, &spec, now)?;
            if schedule_changed {
                jobs::set_last_fire(c, id, now)?;
            }
            Ok(Ok(()))
        })
        .await?;
        self.job_changed(id).await
    }

    async fn delete_job(self, _: Context, job: JobRef) -> Result<JobId, Error> {
        let current = self.job(job).await?;
        if current.active_runs > 0 {
            return Err(Error::conflict(format!(
                "job '{}' has {} active run(s); kill them first (`harbour runs --job {} --state active`)",
                current.name(),
                current.active_runs,
                current.id
            )));
        }
        let id = current.id;
        let now = now_ms();
        self.store(move |c| Ok(Ok(jobs::delete(c, id, now)?)))
            .await?;
        self.daemon.events.publish(EventKind::JobDeleted(id));
        self.daemon.schedule_changed.notify_one();
        Ok(id)
    }

    async fn get_job(self, _: Context, job: JobRef) -> Result<Job, Error> {
        self.job(job).await.map(redact)
    }

    async fn list_jobs(self, _: Context, include_one_off: bool) -> Result<Vec<Job>, Error> {
        let now = now_ms();
        let jobs = self
            .store(move |c| Ok(Ok(jobs::list(c, include_one_off, now)?)))
            .await?;
        Ok(jobs.into_iter().map(redact).collect())
    }

    async fn run_job(self, _: Context, job: JobRef) -> Result<Run, Error> {
        let job = self.job(job).await?;
        let spec = validate::spec(job.spec, self.spark_configured())?;
        self.new_run(NewRun {
            job_id: job.id,
            spec,
            trigger: Trigger::Manual,
            attempt: 1,
            parent: None,
            lifecycle: harbour_shared::Lifecycle::Queued,
            retry_at_ms: None,
            message: "queued".into(),
        })
        .await
    }

    async fn set_job_paused(self, _: Context, job: JobRef, paused: bool) -> Result<Job, Error> {
        let job = self.job(job).await?;
        let (id, now) = (job.id, now_ms());
        self.store(move |c| {
            jobs::set_paused(c, id, paused, now)?;
            if !paused {
                // Resuming does not fire the times missed while paused.
                jobs::set_last_fire(c, id, now)?;
            }
            Ok(Ok(()))
        })
        .await?;
        self.job_changed(id).await
    }

    async fn list_runs(self, _: Context, filter: RunFilter) -> Result<Vec<Run>, Error> {
        let runs = self
            .store(move |c| {
                // A job that never existed is a typo, not "no runs"; a deleted one has runs.
                if let Some(job) = &filter.job
                    && !jobs::ever_existed(c, job)?
                {
                    return Ok(Err(job_not_found(job)));
                }
                Ok(Ok(run_rows::list(c, &filter)?))
            })
            .await?;
        Ok(runs.into_iter().map(|r| self.with_live_sizes(r)).collect())
    }

    async fn get_run(self, _: Context, run: RunId) -> Result<RunDetail, Error> {
        let (found, extras) = self
            .store(move |c| {
                let found = run_rows::get(c, run)?;
                let extras = run_rows::extras(c, run)?;
                Ok(found.zip(extras).ok_or_else(|| no_such_run(run)))
            })
            .await?;
        let dirs = &self.daemon.dirs;
        let usage = match &self.daemon.monitor.metrics {
            Some(m) => m.usage_of(run, extras.cpu_ms, extras.peak_rss_bytes),
            None => RunUsage {
                cpu_ms: extras.cpu_ms,
                peak_rss_bytes: extras.peak_rss_bytes,
                now: None,
            },
        };
        Ok(RunDetail {
            run: self.with_live_sizes(found),
            spec: extras.spec.redacted(),
            transitions: extras.transitions,
            argv: extras.argv,
            stdout_path: dirs.log(run, LogStream::Stdout).display().to_string(),
            stderr_path: dirs.log(run, LogStream::Stderr).display().to_string(),
            logs_pruned: extras.logs_pruned,
            usage,
        })
    }

    async fn kill_run(self, _: Context, run: RunId) -> Result<Run, Error> {
        // Unknown ids get NotFound here; the supervisor answers for the rest.
        self.store(move |c| {
            Ok(run_rows::get(c, run)?
                .map(|_| ())
                .ok_or_else(|| no_such_run(run)))
        })
        .await?;
        self.daemon.runs.kill(run).await
    }

    async fn restart_run(self, _: Context, run: RunId) -> Result<Run, Error> {
        let (old, snapshot, current) = self
            .store(move |c| {
                let Some(old) = run_rows::get(c, run)? else {
                    return Ok(Err(no_such_run(run)));
                };
                let snapshot = run_rows::extras(c, run)?.map(|x| x.spec);
                let current = jobs::spec(c, old.job_id)?;
                Ok(Ok((old, snapshot, current)))
            })
            .await?;
        if old.is_active() {
            return Err(Error::conflict(format!(
                "run {run} is still {}; kill it first (`harbour kill {run}`) or wait for it",
                old.state_label()
            )));
        }
        // The job as it is now; a deleted job's run is repeated as it was.
        let spec = match (current, snapshot) {
            (Some((spec, false)), _) | (Some((_, true)) | None, Some(spec)) => spec,
            _ => return Err(internal(format!("run {run} has no spec to restart from"))),
        };
        let spec = validate::spec(spec, self.spark_configured())?;
        self.new_run(NewRun {
            job_id: old.job_id,
            spec,
            trigger: Trigger::Restart,
            attempt: 1,
            parent: Some(run),
            lifecycle: harbour_shared::Lifecycle::Queued,
            retry_at_ms: None,
            message: format!("queued (restart of run {run})"),
        })
        .await
    }

    async fn read_log(
        self,
        _: Context,
        run: RunId,
        stream: LogStream,
        offset: u64,
        max_bytes: u64,
        wait_ms: u64,
    ) -> Result<LogChunk, Error> {
        let d = self.greeted()?;
        let max = match max_bytes {
            0 => DEFAULT_LOG_CHUNK,
            n => n.min(MAX_LOG_CHUNK_BYTES),
        };
        let deadline =
            tokio::time::Instant::now() + Duration::from_millis(wait_ms.min(MAX_WAIT_MS));
        let mut progress = d.live.subscribe(run);
        if progress.is_none() {
            let pruned = self
                .store(move |c| {
                    let exists = run_rows::get(c, run)?.is_some();
                    let pruned = run_rows::extras(c, run)?.is_some_and(|x| x.logs_pruned);
                    Ok(if exists {
                        Ok(pruned)
                    } else {
                        Err(no_such_run(run))
                    })
                })
                .await?;
            if pruned {
                return Err(Error::not_found(
                    format!("the logs of run {run}"),
                    "they were removed by the retention policy (logs.retention_days in harbourd.toml)",
                ));
            }
        }
        let path = d.dirs.log(run, stream);
        let index = d.dirs.index(run, stream);
        // Secret env values never leave the daemon, not even in the run's own output.
        let secrets: Arc<[String]> = self
            .store(move |c| Ok(Ok(run_rows::secrets(c, run)?)))
            .await?
            .into();
        let mut topped_up = false;
        loop {
            // Read "terminated" before the file: if it was final then, what we read is all.
            // Marking the value seen makes the wait below wait for the next sample.
            let terminated = progress
                .as_mut()
                .is_none_or(|p| p.borrow_and_update().terminated);
            let (read_path, index, secrets) = (path.clone(), index.clone(), secrets.clone());
            let (data, size, marks) = tokio::task::spawn_blocking(move || {
                let (data, size) = read_masked(&read_path, offset, max, &secrets)?;
                let marks = match data.len() as u64 {
                    0 => Vec::new(),
                    n => read_marks(&index, offset, offset + n)?,
                };
                Ok::<_, std::io::Error>((data, size, marks))
            })
            .await
            .map_err(internal)?
            .map_err(|e| internal(format!("reading {}: {e}", path.display())))?;
            // A follower that keeps up with a fast run would otherwise get a page of a few
            // KiB per call: a small page waits one size sample (at most) to grow first.
            let small = (data.len() as u64) < MIN_FOLLOW_PAGE.min(max);
            let has_page = !data.is_empty() && (!small || topped_up || wait_ms == 0);
            if has_page || terminated || tokio::time::Instant::now() >= deadline {
                if terminated && offset > size {
                    return Err(Error::invalid(
                        "offset",
                        format!("{offset} is past the end of run {run}'s {stream} ({size} bytes)"),
                    ));
                }
                let complete = terminated && offset + data.len() as u64 >= size;
                return Ok(LogChunk {
                    offset,
                    data,
                    size,
                    complete,
                    marks,
                });
            }
            let Some(rx) = progress.as_mut() else {
                continue;
            };
            let until = if data.is_empty() {
                deadline
            } else {
                topped_up = true;
                deadline.min(tokio::time::Instant::now() + LOG_SAMPLE_WAIT)
            };
            match tokio::time::timeout_at(until, rx.changed()).await {
                Ok(Ok(())) | Err(_) => {}
                // The run terminated and stopped being tracked.
                Ok(Err(_)) => progress = None,
            }
        }
    }

    async fn events(self, _: Context, after_seq: u64, wait_ms: u64) -> Result<EventBatch, Error> {
        let d = self.greeted()?;
        Ok(d.events
            .next(after_seq, Duration::from_millis(wait_ms.min(MAX_WAIT_MS)))
            .await)
    }

    // --- Spark ---

    async fn spark_runtime(self, _: Context) -> Result<RuntimeInfo, Error> {
        let d = self.greeted()?;
        let (config, data_dir) = (d.config.spark.clone(), d.paths.data_dir.clone());
        tokio::task::spawn_blocking(move || crate::spark::runtime::info(&config, &data_dir))
            .await
            .map_err(internal)
    }

    async fn list_clusters(self, _: Context) -> Result<Vec<Cluster>, Error> {
        self.greeted()?.spark.list_clusters().await
    }

    async fn get_cluster(self, _: Context, name: String) -> Result<Cluster, Error> {
        self.greeted()?.spark.get_cluster(name.trim()).await
    }

    async fn create_cluster(self, _: Context, spec: ClusterSpec) -> Result<Cluster, Error> {
        self.greeted()?.spark.create_cluster(spec).await
    }

    async fn add_cluster(self, _: Context, spec: ExternalClusterSpec) -> Result<Cluster, Error> {
        self.greeted()?.spark.add_external(spec).await
    }

    async fn delete_cluster(self, _: Context, name: String) -> Result<Cluster, Error> {
        self.greeted()?.spark.delete_cluster(name.trim()).await
    }

    async fn restart_cluster(self, _: Context, name: String) -> Result<Cluster, Error> {
        self.greeted()?.spark.restart_cluster(name.trim()).await
    }

    async fn test_cluster(self, _: Context, name: String) -> Result<Vec<ClusterCheck>, Error> {
        self.greeted()?.spark.test_cluster(name.trim()).await
    }

    async fn spark_progress(self, _: Context, run: RunId) -> Result<SparkProgress, Error> {
        let found = self
            .store(move |c| Ok(run_rows::get(c, run)?.ok_or_else(|| no_such_run(run))))
            .await?;
        self.daemon.spark.progress(&found).await
    }

    async fn sql(self, _: Context, request: SqlRequest) -> Result<SqlResult, Error> {
        self.greeted()?.spark.sql(request).await
    }

    async fn cancel_sql(self, _: Context, cluster: String) -> Result<u32, Error> {
        self.greeted()?.spark.cancel_sql(cluster.trim()).await
    }

    async fn list_tables(self, _: Context) -> Result<Vec<Table>, Error> {
        self.greeted()?.spark.list_tables().await
    }

    async fn add_table(self, _: Context, spec: TableSpec) -> Result<Table, Error> {
        self.greeted()?.spark.add_table(spec).await
    }

    async fn drop_table(self, _: Context, name: String) -> Result<Table, Error> {
        self.greeted()?.spark.drop_table(name.trim()).await
    }

    // --- Monitoring ---

    async fn metrics_now(self, _: Context) -> Result<MetricsNow, Error> {
        self.metrics()?.latest().ok_or_else(|| {
            Error::unavailable(
                "metrics",
                "the first sample is not taken yet; ask again in a second",
            )
        })
    }

    async fn metrics_series(self, _: Context) -> Result<Vec<String>, Error> {
        self.metrics()?.series_names().await.map_err(internal)
    }

    async fn metrics_history(
        self,
        _: Context,
        series: Vec<String>,
        window_ms: u64,
        step_ms: u64,
    ) -> Result<Vec<MetricHistory>, Error> {
        const MAX_SERIES: usize = 512;
        const MAX_WINDOW_MS: u64 = 400 * 86_400_000;
        if series.is_empty() || series.len() > MAX_SERIES {
            return Err(Error::invalid(
                "series",
                format!("ask for 1 to {MAX_SERIES} series; `harbour metrics series` lists them"),
            ));
        }
        if !(1_000..=MAX_WINDOW_MS).contains(&window_ms) {
            return Err(Error::invalid(
                "window",
                "the window must be between 1s and 400d",
            ));
        }
        self.metrics()?
            .history(series, window_ms, step_ms, now_ms())
            .await
            .map_err(internal)
    }

    async fn health(self, _: Context) -> Result<HealthReport, Error> {
        self.greeted()?
            .monitor
            .health
            .report()
            .await
            .map_err(internal)
    }

    async fn containers(self, _: Context, stats: bool) -> Result<Vec<Container>, Error> {
        self.greeted()?.monitor.containers.list(stats).await
    }

    async fn container_logs(
        self,
        _: Context,
        id: String,
        tail: u32,
        after_ns: i64,
        wait_ms: u64,
    ) -> Result<ContainerLogChunk, Error> {
        let id = validate::container_id(&id)?;
        self.greeted()?
            .monitor
            .containers
            .logs(
                &id,
                tail.min(100_000),
                after_ns,
                Duration::from_millis(wait_ms.min(MAX_WAIT_MS)),
            )
            .await
    }

    async fn container_action(
        self,
        _: Context,
        id: String,
        action: ContainerAction,
    ) -> Result<Container, Error> {
        let id = validate::container_id(&id)?;
        self.greeted()?.monitor.containers.act(&id, action).await
    }

    async fn inspect_container(self, _: Context, id: String) -> Result<String, Error> {
        let id = validate::container_id(&id)?;
        self.greeted()?.monitor.containers.inspect(&id).await
    }

    // --- Analytics ---

    async fn spark_push_events(
        self,
        _: Context,
        app_id: Option<String>,
        lines: Vec<String>,
    ) -> Result<harbour_shared::PushReport, Error> {
        self.greeted()?.analytics.push(app_id, lines).await
    }

    async fn spark_apps(self, _: Context) -> Result<harbour_shared::SparkApps, Error> {
        self.greeted()?.analytics.apps().await
    }

    async fn spark_app(
        self,
        _: Context,
        app_id: String,
    ) -> Result<harbour_shared::AppDetail, Error> {
        self.greeted()?.analytics.app(app_id).await
    }

    async fn spark_job(
        self,
        _: Context,
        app_id: String,
        job_id: i64,
    ) -> Result<harbour_shared::JobDetail, Error> {
        self.greeted()?.analytics.job(app_id, job_id).await
    }

    async fn spark_summary(
        self,
        _: Context,
        date: String,
    ) -> Result<harbour_shared::DaySummary, Error> {
        self.greeted()?.analytics.summary(date).await
    }

    // --- Ingestion ---

    async fn create_ingestion(self, _: Context, spec: IngestSpec) -> Result<Ingestion, Error> {
        self.greeted()?.ingest.create(spec).await
    }

    async fn update_ingestion(
        self,
        _: Context,
        name: String,
        patch: IngestPatch,
    ) -> Result<Ingestion, Error> {
        self.greeted()?.ingest.update(&name, patch).await
    }

    async fn delete_ingestion(
        self,
        _: Context,
        name: String,
        keep_table: bool,
    ) -> Result<Ingestion, Error> {
        self.greeted()?.ingest.delete(&name, keep_table).await
    }

    async fn get_ingestion(self, _: Context, name: String) -> Result<Ingestion, Error> {
        self.greeted()?.ingest.get(&name).await
    }

    async fn list_ingestions(self, _: Context) -> Result<Vec<Ingestion>, Error> {
        self.greeted()?.ingest.list().await
    }

    async fn run_ingestion(self, _: Context, name: String) -> Result<IngestRun, Error> {
        self.greeted()?.ingest.run_now(&name).await
    }

    async fn retry_ingestion(self, _: Context, name: String) -> Result<IngestRun, Error> {
        self.greeted()?.ingest.retry(&name).await
    }

    async fn set_ingestion_paused(
        self,
        _: Context,
        name: String,
        paused: bool,
    ) -> Result<Ingestion, Error> {
        self.greeted()?.ingest.set_paused(&name, paused).await
    }

    async fn ingestion_runs(
        self,
        _: Context,
        name: String,
        limit: u32,
    ) -> Result<Vec<IngestRun>, Error> {
        self.greeted()?.ingest.runs_of(&name, limit).await
    }

    async fn ingestion_run_files(
        self,
        _: Context,
        ingest_run: i64,
    ) -> Result<Vec<IngestFile>, Error> {
        self.greeted()?.ingest.files_of(ingest_run).await
    }

    async fn ingestion_schemas(
        self,
        _: Context,
        name: String,
    ) -> Result<Vec<SchemaVersion>, Error> {
        self.greeted()?.ingest.schemas(&name).await
    }

    async fn preview_ingestion(
        self,
        _: Context,
        spec: IngestSpec,
        rows: u32,
    ) -> Result<IngestPreview, Error> {
        self.greeted()?.ingest.preview(spec, rows).await
    }

    async fn estimate_ingestion(
        self,
        _: Context,
        spec: IngestSpec,
    ) -> Result<IngestEstimate, Error> {
        self.greeted()?.ingest.estimate(spec).await
    }

    // --- Notebooks ---

    async fn notebooks(self, _: Context) -> Result<Vec<NotebookSummary>, Error> {
        self.greeted()?.notebooks.list().await
    }

    async fn notebook_create(self, _: Context, spec: NotebookSpec) -> Result<Notebook, Error> {
        self.greeted()?.notebooks.create(spec).await
    }

    async fn notebook_get(self, _: Context, name: String) -> Result<Notebook, Error> {
        self.greeted()?.notebooks.get(&name).await
    }

    async fn notebook_watch(
        self,
        _: Context,
        name: String,
        after_version: NotebookVersion,
        wait_ms: u64,
    ) -> Result<NotebookWatch, Error> {
        let wait = Duration::from_millis(wait_ms.min(MAX_WAIT_MS));
        self.greeted()?
            .notebooks
            .watch(&name, after_version, wait)
            .await
    }

    async fn notebook_rename(
        self,
        _: Context,
        name: String,
        new_name: String,
    ) -> Result<NotebookSummary, Error> {
        self.greeted()?.notebooks.rename(&name, new_name).await
    }

    async fn notebook_delete(self, _: Context, name: String) -> Result<NotebookSummary, Error> {
        self.greeted()?.notebooks.delete(&name).await
    }

    async fn notebook_edit(
        self,
        _: Context,
        name: String,
        edits: Vec<CellEdit>,
    ) -> Result<Notebook, Error> {
        self.greeted()?.notebooks.edit(&name, edits).await
    }

    async fn notebook_import(
        self,
        _: Context,
        name: String,
        ipynb: String,
        cluster: Option<String>,
    ) -> Result<Notebook, Error> {
        self.greeted()?
            .notebooks
            .import(name, &ipynb, cluster)
            .await
    }

    async fn notebook_export(self, _: Context, name: String) -> Result<String, Error> {
        self.greeted()?.notebooks.export(&name).await
    }

    async fn notebook_run(
        self,
        _: Context,
        name: String,
        cells: RunCells,
    ) -> Result<Notebook, Error> {
        self.greeted()?.notebooks.run(&name, cells).await
    }

    async fn notebook_interrupt(self, _: Context, name: String) -> Result<KernelInfo, Error> {
        self.greeted()?.notebooks.interrupt(&name).await
    }

    async fn notebook_restart(self, _: Context, name: String) -> Result<KernelInfo, Error> {
        self.greeted()?.notebooks.restart(&name).await
    }

    async fn notebook_shutdown(self, _: Context, name: String) -> Result<KernelInfo, Error> {
        self.greeted()?.notebooks.shutdown_kernel(&name).await
    }
}
