//! The run supervisor: one task owns every unfinished run, so their state changes happen in
//! one order, each committed to the store before it is announced on the event bus.
//!
//! It keeps the queue (FIFO, a concurrency limit), starts runs, watches them (a per-run task
//! waits for the process and samples log sizes), stops them (SIGTERM to the process group,
//! SIGKILL after the grace period), enforces timeouts, schedules retries with exponential
//! backoff, recovers after a crash (runs a dead daemon left active become `Lost`, and their
//! leftover processes are stopped), and drains on shutdown.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use harbour_shared::{Error, EventKind, JobSpec, Lifecycle, LogStream, Run, RunId, Trigger};
use nix::sys::signal::Signal;
use tokio::process::Child;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use super::logs::{LiveLogs, MarkWriter, RunDirs, size_of};
use super::process::{self, Launch, Runtime};
use super::state::{self, Exit, RunState, Step, StopReason};
use crate::clock::now_ms;
use crate::events::EventBus;
use crate::spark::Spark;
use crate::spark::submit::SparkLaunch;
use crate::store::runs::{self as run_rows, NewRun, StateChange};
use crate::store::{Store, StoreResult};

/// How often an active run's log sizes are sampled (the follow latency).
const LOG_POLL: Duration = Duration::from_millis(50);
/// The least time between two `LogGrew` events of one run.
const LOG_EVENT_INTERVAL: Duration = Duration::from_millis(250);
/// The longest wait before a retry, however many attempts came before.
const MAX_BACKOFF: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    pub max_concurrent: usize,
    pub kill_grace: Duration,
    pub runtime: Runtime,
    pub dirs: RunDirs,
    /// Resolves what pyspark runs are submitted with, and watches their applications.
    pub spark: Option<Arc<Spark>>,
}

/// What the supervisor's handle needs of the daemon's shared parts.
#[derive(Debug, Clone)]
pub struct Shared {
    pub store: Store,
    pub events: Arc<EventBus>,
    pub live: Arc<LiveLogs>,
}

impl Shared {
    /// Stores a new run, tracks its logs and announces it.
    async fn insert(&self, new: NewRun) -> StoreResult<Run> {
        let now = now_ms();
        let run = self
            .store
            .call(move |c| run_rows::insert(c, &new, now))
            .await?;
        self.live.track(run.id);
        self.events.publish(EventKind::RunChanged(run.clone()));
        Ok(run)
    }
}

#[derive(Debug)]
enum Msg {
    Queued(RunId),
    Waiting {
        id: RunId,
        at_ms: i64,
    },
    Kill {
        id: RunId,
        reply: oneshot::Sender<Result<Run, Error>>,
    },
    Exited {
        id: RunId,
        exit: Exit,
        sizes: (u64, u64),
    },
    TimedOut(RunId),
    RetryDue(RunId),
    Drain(oneshot::Sender<()>),
}

/// The handle the API and the scheduler use.
#[derive(Debug, Clone)]
pub struct Runs {
    shared: Shared,
    tx: mpsc::UnboundedSender<Msg>,
    groups: ActiveGroups,
}

/// The process group of each run that has a process, for the metrics sampler.
#[derive(Debug, Clone, Default)]
struct ActiveGroups(Arc<std::sync::Mutex<HashMap<RunId, u32>>>);

impl ActiveGroups {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<RunId, u32>) -> R) -> R {
        f(&mut self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

impl Runs {
    /// Recovers what an earlier daemon left unfinished, then starts the supervisor task.
    pub async fn start(
        shared: Shared,
        config: SupervisorConfig,
    ) -> StoreResult<(Self, JoinHandle<()>)> {
        let (tx, rx) = mpsc::unbounded_channel();
        let groups = ActiveGroups::default();
        let mut actor = Actor {
            groups: groups.clone(),
            shared: shared.clone(),
            config,
            tx: tx.clone(),
            states: HashMap::new(),
            queue: VecDeque::new(),
            active: HashMap::new(),
            retry_timers: HashMap::new(),
            drained: None,
        };
        actor.recover().await?;
        let task = tokio::spawn(actor.run(rx));
        Ok((Self { shared, tx, groups }, task))
    }

    /// (run, process group) of every run that has a process now.
    pub fn active_groups(&self) -> Vec<(RunId, u32)> {
        self.groups.with(|g| {
            let mut groups: Vec<_> = g.iter().map(|(r, p)| (*r, *p)).collect();
            groups.sort_unstable();
            groups
        })
    }

    /// Whether the supervisor task is still there to take commands.
    pub fn is_alive(&self) -> bool {
        !self.tx.is_closed()
    }

    /// Makes a run (queued, or waiting for a retry) and hands it to the supervisor.
    pub async fn create(&self, new: NewRun) -> StoreResult<Run> {
        let run = self.shared.insert(new).await?;
        let msg = match (run.lifecycle, run.retry_at_ms) {
            (Lifecycle::WaitingForRetry, Some(at_ms)) => Msg::Waiting { id: run.id, at_ms },
            _ => Msg::Queued(run.id),
        };
        // A closed channel means the daemon is stopping; the run stays queued in the store
        // and starts with the next daemon.
        let _ = self.tx.send(msg);
        Ok(run)
    }

    /// Stops a run: cancels it if it has not started, terminates it if it has.
    pub async fn kill(&self, id: RunId) -> Result<Run, Error> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Msg::Kill { id, reply })
            .map_err(|_| Error::unavailable("run supervisor", "harbourd is shutting down"))?;
        answer
            .await
            .map_err(|_| Error::unavailable("run supervisor", "harbourd is shutting down"))?
    }

    /// Stops starting runs and terminates the active ones (recorded as `Lost`, so their retry
    /// policy applies). Resolves when none is left, or after the grace period and a margin.
    pub async fn drain(&self, within: Duration) {
        let (reply, done) = oneshot::channel();
        if self.tx.send(Msg::Drain(reply)).is_ok() {
            let _ = tokio::time::timeout(within, done).await;
        }
    }
}

#[derive(Debug)]
struct Active {
    pgid: u32,
    spec: JobSpec,
    timeout: Option<JoinHandle<()>>,
    escalation: Option<JoinHandle<()>>,
}

struct Actor {
    groups: ActiveGroups,
    shared: Shared,
    config: SupervisorConfig,
    tx: mpsc::UnboundedSender<Msg>,
    /// Every run that has not terminated.
    states: HashMap<RunId, RunState>,
    queue: VecDeque<RunId>,
    /// Runs with a process (starting, running or terminating).
    active: HashMap<RunId, Active>,
    retry_timers: HashMap<RunId, JoinHandle<()>>,
    /// Set while draining: answered when no run is active any more.
    drained: Option<oneshot::Sender<()>>,
}

impl Actor {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        self.start_more().await;
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Queued(id) => {
                    self.states.insert(id, RunState::new(Lifecycle::Queued));
                    self.queue.push_back(id);
                }
                Msg::Waiting { id, at_ms } => {
                    self.states
                        .insert(id, RunState::new(Lifecycle::WaitingForRetry));
                    self.arm_retry(id, at_ms);
                }
                Msg::Kill { id, reply } => {
                    let answer = self.kill(id, StopReason::Cancelled).await;
                    let _ = reply.send(answer);
                }
                Msg::Exited { id, exit, sizes } => self.exited(id, exit, sizes).await,
                Msg::TimedOut(id) => {
                    if let Err(e) = self.kill(id, StopReason::TimedOut).await {
                        tracing::debug!(run = %id, "timeout of a run that already ended: {e}");
                    }
                }
                Msg::RetryDue(id) => {
                    self.retry_timers.remove(&id);
                    if self
                        .apply(id, Step::RetryDue, "queued for its retry".into())
                        .await
                        .is_some()
                    {
                        self.queue.push_back(id);
                    }
                }
                Msg::Drain(reply) => {
                    self.drained = Some(reply);
                    // Retry timers are in the store; the next daemon re-arms them.
                    for (_, timer) in self.retry_timers.drain() {
                        timer.abort();
                    }
                    let active: Vec<RunId> = self.active.keys().copied().collect();
                    for id in active {
                        let _ = self.kill(id, StopReason::DaemonStopping).await;
                    }
                }
            }
            self.start_more().await;
            if self.drained.is_some() && self.active.is_empty() {
                if let Some(reply) = self.drained.take() {
                    let _ = reply.send(());
                }
                break;
            }
        }
    }

    /// Moves a run one step, commits it, then announces it. `None` when the step does not
    /// apply (the run moved on) or the store refused (logged).
    async fn apply(&mut self, id: RunId, step: Step, message: String) -> Option<Run> {
        self.apply_with(
            id,
            step,
            StateChange {
                message,
                ..StateChange::default()
            },
        )
        .await
    }

    async fn apply_with(&mut self, id: RunId, step: Step, mut change: StateChange) -> Option<Run> {
        let current = *self.states.get(&id)?;
        let next = match state::next(current, step) {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!(run = %id, "{e}");
                return None;
            }
        };
        let now = now_ms();
        change.lifecycle = Some(next.lifecycle);
        change.result = next.result;
        if next.lifecycle.is_terminal() {
            change.ended_ms.get_or_insert(now);
        }
        let store_change = change.clone();
        let stored = self
            .shared
            .store
            .call(move |c| run_rows::change_state(c, id, &store_change, now))
            .await;
        let mut run = match stored {
            Ok(run) => run,
            Err(e) => {
                tracing::error!(run = %id, "cannot record the run's state {:?}: {e}", next.lifecycle);
                return None;
            }
        };
        if next.lifecycle.is_terminal() {
            self.states.remove(&id);
            self.shared.live.finish(id);
        } else {
            self.states.insert(id, next);
            if let Some((stdout, stderr)) = self.shared.live.sizes(id) {
                run.stdout_bytes = stdout;
                run.stderr_bytes = stderr;
            }
        }
        tracing::info!(run = %id, state = run.state_label(), "{}", run.state_message);
        self.shared
            .events
            .publish(EventKind::RunChanged(run.clone()));
        Some(run)
    }

    async fn start_more(&mut self) {
        while self.drained.is_none() && self.active.len() < self.config.max_concurrent {
            let Some(id) = self.queue.pop_front() else {
                break;
            };
            self.start(id).await;
        }
    }

    async fn start(&mut self, id: RunId) {
        if self
            .apply(id, Step::Start, "starting".into())
            .await
            .is_none()
        {
            return;
        }
        let spec = match self
            .shared
            .store
            .call(move |c| run_rows::extras(c, id))
            .await
        {
            Ok(Some(extras)) => extras.spec,
            Ok(None) => return,
            Err(e) => {
                self.spawn_failed(id, format!("cannot read the run's spec: {e}"))
                    .await;
                return;
            }
        };
        let run = self
            .shared
            .store
            .call(move |c| run_rows::get(c, id))
            .await
            .ok()
            .flatten();
        let launch = match (&self.config.spark, spec.kind) {
            (Some(spark), harbour_shared::JobKind::Pyspark) => {
                match spark.launch_for(&spec).await {
                    Ok(launch) => Some(launch),
                    Err(why) => {
                        self.spawn_failed(id, why).await;
                        return;
                    }
                }
            }
            _ => None,
        };
        let mut env = launch.as_ref().map(|l| l.env.clone()).unwrap_or_default();
        env.extend(run_env(id, &spec, run.as_ref()));
        let (dirs, runtime, spec_for_spawn, launch_for_spawn) = (
            self.config.dirs.clone(),
            self.config.runtime.clone(),
            spec.clone(),
            launch.clone(),
        );
        let spawned = tokio::task::spawn_blocking(move || {
            prepare_and_spawn(
                id,
                &spec_for_spawn,
                &dirs,
                &runtime,
                env,
                launch_for_spawn.as_ref(),
            )
        })
        .await
        .unwrap_or_else(|e| Err(format!("the start task failed: {e}")));
        let (spawned, argv) = match spawned {
            Ok(ok) => ok,
            Err(why) => {
                self.spawn_failed(id, why).await;
                return;
            }
        };
        let pgid = spawned.pid;
        if let (Some(launch), Some(spark)) = (&launch, &self.config.spark) {
            let app = launch.app_ref();
            let stored = app.clone();
            if let Err(e) = self
                .shared
                .store
                .call(move |c| run_rows::set_spark(c, id, &stored))
                .await
            {
                tracing::error!(run = %id, "cannot record its Spark application: {e}");
            }
            tokio::spawn(spark.clone().watch_app(id, pgid, app));
        }
        let timeout = spec.timeout_secs.map(|secs| {
            let tx = self.tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(secs)).await;
                let _ = tx.send(Msg::TimedOut(id));
            })
        });
        self.groups.with(|g| g.insert(id, pgid));
        self.active.insert(
            id,
            Active {
                pgid,
                spec,
                timeout,
                escalation: None,
            },
        );
        let dirs = &self.config.dirs;
        let watcher = Watcher {
            id,
            pgid,
            stdout: dirs.log(id, LogStream::Stdout),
            stderr: dirs.log(id, LogStream::Stderr),
            marks: [
                MarkWriter::new(dirs.index(id, LogStream::Stdout)),
                MarkWriter::new(dirs.index(id, LogStream::Stderr)),
            ],
            shared: self.shared.clone(),
            tx: self.tx.clone(),
            grace: self.config.kill_grace,
        };
        tokio::spawn(watcher.watch(spawned.child));
        let change = StateChange {
            message: format!("running (pid {pgid})"),
            started_ms: Some(now_ms()),
            pid: Some(pgid),
            proc_start_ticks: spawned.start_ticks,
            argv: Some(argv),
            ..StateChange::default()
        };
        self.apply_with(id, Step::Spawned, change).await;
    }

    async fn spawn_failed(&mut self, id: RunId, why: String) {
        if let Some(run) = self
            .apply(id, Step::SpawnFailed, format!("could not start: {why}"))
            .await
        {
            self.after_terminated(&run).await;
        }
    }

    async fn kill(&mut self, id: RunId, reason: StopReason) -> Result<Run, Error> {
        let Some(current) = self.states.get(&id).copied() else {
            return Err(self.not_active(id).await);
        };
        let why = match reason {
            StopReason::Cancelled => "cancelled by a user".to_owned(),
            StopReason::TimedOut => {
                let secs = self
                    .active
                    .get(&id)
                    .and_then(|a| a.spec.timeout_secs)
                    .unwrap_or(0);
                format!("ran past its timeout of {secs}s")
            }
            StopReason::DaemonStopping => "harbourd is stopping".to_owned(),
        };
        match current.lifecycle {
            Lifecycle::Queued | Lifecycle::WaitingForRetry => {
                self.queue.retain(|q| *q != id);
                if let Some(timer) = self.retry_timers.remove(&id) {
                    timer.abort();
                }
                let run = self
                    .apply(id, Step::Stop(reason), format!("{why} before it started"))
                    .await
                    .ok_or_else(|| internal(id))?;
                Ok(run)
            }
            Lifecycle::Terminating => {
                // Asked again: stop waiting for a graceful end.
                if let Some(active) = self.active.get(&id) {
                    process::signal_group(active.pgid, Signal::SIGKILL);
                }
                self.current_run(id).await
            }
            Lifecycle::Starting | Lifecycle::Running => {
                let grace = self.config.kill_grace;
                let message = format!(
                    "terminating: {why}; SIGTERM sent to its process group, SIGKILL in {}s",
                    grace.as_secs()
                );
                let run = self
                    .apply(id, Step::Stop(reason), message)
                    .await
                    .ok_or_else(|| internal(id))?;
                if let Some(active) = self.active.get_mut(&id) {
                    let pgid = active.pgid;
                    process::signal_group(pgid, Signal::SIGTERM);
                    active.escalation = Some(tokio::spawn(async move {
                        tokio::time::sleep(grace).await;
                        if process::signal_group(pgid, Signal::SIGKILL) {
                            tracing::warn!(run = %id, "still alive {}s after SIGTERM: SIGKILL sent", grace.as_secs());
                        }
                    }));
                }
                Ok(run)
            }
            Lifecycle::Terminated => Err(self.not_active(id).await),
        }
    }

    async fn exited(&mut self, id: RunId, exit: Exit, sizes: (u64, u64)) {
        let Some(active) = self.active.remove(&id) else {
            return;
        };
        self.groups.with(|g| g.remove(&id));
        for task in [active.timeout, active.escalation].into_iter().flatten() {
            task.abort();
        }
        let stopping = self.states.get(&id).and_then(|s| s.stopping);
        let how = match exit {
            Exit::Code(code) => format!("exited with code {code}"),
            Exit::Signal(signal) => format!("killed by {}", process::signal_name(signal)),
        };
        let message = match stopping {
            None => how,
            Some(StopReason::Cancelled) => format!("cancelled by a user (the process {how})"),
            Some(StopReason::TimedOut) => format!(
                "timed out after {}s (the process {how})",
                active.spec.timeout_secs.unwrap_or(0)
            ),
            Some(StopReason::DaemonStopping) => {
                format!("lost: harbourd stopped while the run was active (the process {how})")
            }
        };
        let change = StateChange {
            message,
            exit_code: match exit {
                Exit::Code(code) => Some(code),
                Exit::Signal(_) => None,
            },
            log_bytes: Some(sizes),
            ..StateChange::default()
        };
        if let Some(run) = self.apply_with(id, Step::Exited(exit), change).await {
            self.after_terminated(&run).await;
        }
    }

    /// Applies the retry policy to a run that just terminated.
    async fn after_terminated(&mut self, run: &Run) {
        let Some(result) = run.result.filter(|r| r.is_retryable()) else {
            return;
        };
        let id = run.id;
        let spec = match self
            .shared
            .store
            .call(move |c| run_rows::extras(c, id))
            .await
        {
            Ok(Some(extras)) => extras.spec,
            _ => return,
        };
        if run.attempt > spec.retries {
            return;
        }
        let backoff = backoff(spec.retry_backoff_secs, run.attempt);
        let at_ms = now_ms() + i64::try_from(backoff.as_millis()).unwrap_or(i64::MAX / 2);
        let message = format!(
            "waiting {}s to retry run {} ({result}); attempt {} of {}",
            backoff.as_secs(),
            run.id,
            run.attempt + 1,
            spec.retries + 1,
        );
        let new = NewRun {
            job_id: run.job_id,
            spec,
            trigger: Trigger::Retry,
            attempt: run.attempt + 1,
            parent: Some(run.id),
            lifecycle: Lifecycle::WaitingForRetry,
            retry_at_ms: Some(at_ms),
            message,
        };
        match self.shared.insert(new).await {
            Ok(retry) => {
                self.states
                    .insert(retry.id, RunState::new(Lifecycle::WaitingForRetry));
                if self.drained.is_none() {
                    self.arm_retry(retry.id, at_ms);
                }
            }
            Err(e) => tracing::error!(run = %id, "cannot record its retry: {e}"),
        }
    }

    fn arm_retry(&mut self, id: RunId, at_ms: i64) {
        let tx = self.tx.clone();
        let wait = Duration::from_millis(u64::try_from(at_ms - now_ms()).unwrap_or(0));
        self.retry_timers.insert(
            id,
            tokio::spawn(async move {
                tokio::time::sleep(wait).await;
                let _ = tx.send(Msg::RetryDue(id));
            }),
        );
    }

    /// Takes over what the previous daemon left: queued runs queue again, retries re-arm,
    /// and runs that were active are `Lost` (their leftover processes are stopped first).
    async fn recover(&mut self) -> StoreResult<()> {
        let unfinished = self.shared.store.call(|c| run_rows::unfinished(c)).await?;
        for (run, start_ticks) in unfinished {
            self.states.insert(run.id, RunState::new(run.lifecycle));
            self.shared.live.track(run.id);
            match run.lifecycle {
                Lifecycle::Queued => self.queue.push_back(run.id),
                Lifecycle::WaitingForRetry => {
                    self.arm_retry(run.id, run.retry_at_ms.unwrap_or_else(now_ms));
                }
                _ => {
                    let mut stopped = "";
                    if let Some(pgid) = run.pid
                        && process::group_is_ours(pgid, start_ticks)
                    {
                        stop_group(pgid, self.config.kill_grace).await;
                        stopped = "; its leftover processes were stopped";
                    }
                    let sizes = (
                        size_of(&self.config.dirs.log(run.id, LogStream::Stdout)),
                        size_of(&self.config.dirs.log(run.id, LogStream::Stderr)),
                    );
                    let change = StateChange {
                        message: format!(
                            "lost: harbourd was not running when this run ended (it died or was \
                             killed while the run was {}){stopped}",
                            run.lifecycle
                        ),
                        log_bytes: Some(sizes),
                        ..StateChange::default()
                    };
                    if let Some(lost) = self.apply_with(run.id, Step::Orphaned, change).await {
                        self.after_terminated(&lost).await;
                    }
                }
            }
        }
        Ok(())
    }

    async fn current_run(&self, id: RunId) -> Result<Run, Error> {
        match self.shared.store.call(move |c| run_rows::get(c, id)).await {
            Ok(Some(mut run)) => {
                if let Some((stdout, stderr)) = self.shared.live.sizes(id) {
                    run.stdout_bytes = stdout;
                    run.stderr_bytes = stderr;
                }
                Ok(run)
            }
            Ok(None) => Err(no_such_run(id)),
            Err(e) => {
                tracing::error!(run = %id, "{e}");
                Err(internal(id))
            }
        }
    }

    async fn not_active(&self, id: RunId) -> Error {
        match self.current_run(id).await {
            Ok(run) => Error::conflict(format!(
                "run {id} has already ended ({}): nothing to kill; `harbour restart {id}` runs \
                 it again",
                run.state_label()
            )),
            Err(e) => e,
        }
    }
}

pub fn no_such_run(id: RunId) -> Error {
    Error::not_found(
        format!("run {id}"),
        "`harbour runs` lists the runs there are",
    )
}

fn internal(id: RunId) -> Error {
    Error::Internal {
        id: format!("run-{id}-state"),
    }
}

/// The wait before retry number `attempt` (1 for the first retry): backoff · 2^(attempt-1).
pub fn backoff(base_secs: u64, attempt: u32) -> Duration {
    let factor = 1u64
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u64::MAX);
    Duration::from_secs(base_secs.saturating_mul(factor)).min(MAX_BACKOFF)
}

/// The variables every run gets, then the job's own (which win).
fn run_env(id: RunId, spec: &JobSpec, run: Option<&Run>) -> Vec<(String, String)> {
    let mut env = vec![
        ("PYTHONUNBUFFERED".to_owned(), "1".to_owned()),
        ("HARBOUR_RUN_ID".to_owned(), id.to_string()),
        ("HARBOUR_JOB_NAME".to_owned(), spec.name.clone()),
    ];
    if let Some(run) = run {
        env.push(("HARBOUR_JOB_ID".to_owned(), run.job_id.to_string()));
        env.push(("HARBOUR_ATTEMPT".to_owned(), run.attempt.to_string()));
    }
    env.extend(spec.env.iter().map(|v| (v.key.clone(), v.value.clone())));
    env
}

/// Makes the run's directories, builds its argv and starts it. Blocking: call it off the
/// runtime's workers.
fn prepare_and_spawn(
    id: RunId,
    spec: &JobSpec,
    dirs: &RunDirs,
    runtime: &Runtime,
    env: Vec<(String, String)>,
    spark: Option<&SparkLaunch>,
) -> Result<(process::Spawned, Vec<String>), String> {
    let work = dirs.work(id);
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let argv = process::argv(spec, runtime, &dirs.dir(id), spark).map_err(|e| e.to_string())?;
    let cwd = spec.cwd.as_ref().map_or(work, PathBuf::from);
    let stdout = dirs.log(id, LogStream::Stdout);
    let stderr = dirs.log(id, LogStream::Stderr);
    let launch = Launch {
        argv: &argv,
        env,
        cwd: &cwd,
        stdout: &stdout,
        stderr: &stderr,
        limits: &runtime.limits,
    };
    let spawned = process::spawn(&launch).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            format!(
                "{} was not found ({e}); check the job's kind and the daemon's PATH",
                argv[0]
            )
        }
        _ => format!("{}: {e}", argv[0]),
    })?;
    Ok((spawned, argv))
}

/// SIGTERM to a group, then SIGKILL if it outlives `grace`; returns when the group is gone
/// (or a further few seconds have passed).
async fn stop_group(pgid: u32, grace: Duration) {
    if !process::signal_group(pgid, Signal::SIGTERM) {
        return;
    }
    if !wait_group_gone(pgid, grace).await {
        process::signal_group(pgid, Signal::SIGKILL);
        wait_group_gone(pgid, Duration::from_secs(5)).await;
    }
}

async fn wait_group_gone(pgid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while process::group_alive(pgid) {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// Waits for one run's process, sampling its log sizes meanwhile.
struct Watcher {
    id: RunId,
    pgid: u32,
    stdout: PathBuf,
    stderr: PathBuf,
    /// The streams' time indexes: when each stretch of bytes was first seen.
    marks: [MarkWriter; 2],
    shared: Shared,
    tx: mpsc::UnboundedSender<Msg>,
    grace: Duration,
}

impl Watcher {
    async fn watch(mut self, mut child: Child) {
        let mut tick = tokio::time::interval(LOG_POLL);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_event = Instant::now();
        let mut unannounced = false;
        let status = loop {
            tokio::select! {
                status = child.wait() => break status,
                _ = tick.tick() => {
                    unannounced |= self.sample();
                    if unannounced && last_event.elapsed() >= LOG_EVENT_INTERVAL {
                        self.announce();
                        unannounced = false;
                        last_event = Instant::now();
                    }
                }
            }
        };
        let exit = match status {
            Ok(status) => process::exit_of(status),
            Err(e) => {
                tracing::error!(run = %self.id, "cannot wait for the run's process: {e}");
                Exit::Code(-1)
            }
        };
        // The leader is gone; whatever it left behind in its group goes too. No orphans.
        stop_group(self.pgid, self.grace).await;
        self.sample();
        self.announce();
        let sizes = (size_of(&self.stdout), size_of(&self.stderr));
        let _ = self.tx.send(Msg::Exited {
            id: self.id,
            exit,
            sizes,
        });
    }

    /// Records the current sizes (and when they were reached); true when they grew.
    fn sample(&mut self) -> bool {
        let (stdout, stderr) = (size_of(&self.stdout), size_of(&self.stderr));
        let now = now_ms();
        self.marks[0].mark(stdout, now);
        self.marks[1].mark(stderr, now);
        self.shared.live.grew(self.id, stdout, stderr)
    }

    fn announce(&self) {
        if let Some((stdout_bytes, stderr_bytes)) = self.shared.live.sizes(self.id) {
            self.shared.events.publish(EventKind::LogGrew {
                run: self.id,
                stdout_bytes,
                stderr_bytes,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(10, 1), Duration::from_secs(10));
        assert_eq!(backoff(10, 2), Duration::from_secs(20));
        assert_eq!(backoff(10, 4), Duration::from_secs(80));
        assert_eq!(backoff(10, 200), MAX_BACKOFF);
        assert_eq!(backoff(0, 3), Duration::ZERO);
    }
}
