//! The app: all state the TUI shows, and `update`, which takes one message (a key, an RPC
//! answer, an event batch, a tick) and changes the state. `update` does no I/O: what it needs
//! done comes back as [`Command`]s that the shell (`shell.rs`) runs as tasks, whose answers
//! come back as further messages.

use std::path::PathBuf;

use crossterm::event::KeyEvent;
use harbour_shared::Cluster;
use harbour_shared::{
    Container, ContainerAction, ContainerLogChunk, Dashboard, EventBatch, EventKind, HealthReport,
    Job, JobId, JobKind, JobSpec, LogChunk, LogStream, MetricHistory, MetricsNow, Run, RunDetail,
    RunId, SparkProgress, SqlResult, UnixMillis,
};

use super::action::{Action, Screen};
use super::clusters::ClustersState;
use super::config::{Config, LogSettings};
use super::dashboard::DashState;
use super::details::DetailsState;
use super::input::LineInput;
use super::jobs::JobsState;
use super::keymap::Keymap;
use super::logs::{ChunkKind, LogRequest, LogSource, LogView};
use super::monitor::MonitorState;
use super::runs::RunsState;
use super::sql::{EditorOutcome, SqlState};
use super::theme::Theme;
use super::widgets::Load;

pub use super::modal::{FormField, Overlay, Prompt, SubmitForm};

/// Something for the shell to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    FetchRuns,
    FetchJobs,
    FetchDashboard,
    FetchRun(RunId),
    /// A pyspark run's jobs, stages and executors.
    FetchSparkProgress(RunId),
    /// Run SQL on a cluster's Connect session (`None`: local).
    RunSql {
        query: String,
        cluster: Option<String>,
    },
    /// Interrupt the queries running on a cluster's session.
    CancelSql(String),
    FetchClusters,
    CreateCluster(harbour_shared::ClusterSpec),
    DeleteCluster(String),
    Kill(RunId),
    Restart(RunId),
    Submit(Box<JobSpec>),
    RunJob(JobId, String),
    SetPaused(JobId, bool),
    DeleteJob(JobId, String),
    /// Follow a stream from an offset until the run ends, sending `Msg::LogChunk`s.
    FollowLog {
        epoch: u64,
        run: RunId,
        stream: LogStream,
        offset: u64,
    },
    StopFollow,
    ReadLog {
        epoch: u64,
        run: RunId,
        stream: LogStream,
        offset: u64,
        max: u64,
        kind: ChunkKind,
    },
    /// Look for the next line matching `query` beyond the window: in each of `from`'s
    /// streams in turn, from its offset, forward or backward.
    SearchLog {
        epoch: u64,
        run: RunId,
        from: Vec<(LogStream, u64)>,
        query: String,
        forward: bool,
    },
    /// Write whole streams to files in `dir`.
    SaveLog {
        run: RunId,
        streams: Vec<LogStream>,
        dir: PathBuf,
    },
    /// Copy text to the clipboard with OSC 52.
    Yank(String),
    /// Monitor: these series over the last `window_ms`.
    FetchMonitorHistory {
        series: Vec<String>,
        window_ms: u64,
    },
    /// Monitor: the latest sample, the health checks and the containers.
    FetchMonitorLive,
    /// Restart, stop or start a container (by id).
    Container(String, ContainerAction),
    /// Follow a container's output after the engine's timestamp `after_ns` (from its last
    /// `tail` lines when 0), sending `Msg::ContainerLogChunk`s until it stops.
    FollowContainerLog {
        epoch: u64,
        id: String,
        after_ns: i64,
        tail: u32,
    },
    /// Write `text` to the file `name` in `dir`.
    SaveText {
        name: String,
        text: String,
        dir: PathBuf,
    },
    // --- Analytics ---
    FetchSparkApps,
    FetchSparkApp(String),
    FetchSparkJob(String, i64),
    // --- Ingestion ---
    Ingest(super::ingest::IngestCmd),
    // --- Notebooks ---
    Nb(super::notebooks::NbCmd),
    Quit,
}

/// Something that happened.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    /// The mouse wheel (only with `mouse = true` in tui.toml): lines, up negative.
    Scroll(isize),
    Resize(u16, u16),
    Tick(UnixMillis),
    Connected {
        version: String,
        socket: String,
    },
    /// The shell started a daemon because none answered.
    DaemonStarted(String),
    Disconnected(String),
    Events(EventBatch),
    Runs(Result<Vec<Run>, String>),
    Jobs(Result<Vec<Job>, String>),
    Dashboard(Result<Box<Dashboard>, String>),
    RunDetail(RunId, Result<Box<RunDetail>, String>),
    SparkProgress(RunId, Result<Box<SparkProgress>, String>),
    SqlDone(Result<Box<SqlResult>, String>),
    Clusters(Result<Vec<Cluster>, String>),
    // --- Ingestion ---
    Ingest(super::ingest::IngestMsg),
    LogChunk {
        epoch: u64,
        stream: LogStream,
        kind: ChunkKind,
        chunk: LogChunk,
        at_ms: UnixMillis,
    },
    /// Where `Command::SearchLog` found a match (the stream and the line's offset).
    SearchResult {
        epoch: u64,
        found: Result<Option<(LogStream, u64)>, String>,
    },
    LogFailed {
        epoch: u64,
        why: String,
    },
    /// A run was made (submit, restart, run now).
    RunMade(Result<Box<Run>, String>),
    /// The outcome of an action, for the status line.
    Done(Result<String, String>),
    MonitorHistory(Result<Vec<MetricHistory>, String>),
    MonitorLive {
        now: Result<Box<MetricsNow>, String>,
        health: Result<HealthReport, String>,
        containers: Result<Vec<Container>, String>,
    },
    /// A container action finished: what to say, and whether to fetch the list again.
    ContainerDone(Result<String, String>),
    ContainerLogChunk {
        epoch: u64,
        chunk: ContainerLogChunk,
        at_ms: UnixMillis,
    },
    // --- Analytics ---
    SparkApps(Result<harbour_shared::SparkApps, String>),
    SparkApp(String, Result<Box<harbour_shared::AppDetail>, String>),
    SparkJob(String, i64, Result<Box<harbour_shared::JobDetail>, String>),
    // --- Notebooks ---
    Nb(super::notebooks::NbMsg),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conn {
    Connecting,
    Connected { version: String, socket: String },
    Reconnecting { why: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub level: Level,
    pub at_ms: UnixMillis,
}

#[derive(Debug)]
pub struct App {
    pub screen: Screen,
    history: Vec<Screen>,
    pub keymap: Keymap,
    pub theme: Theme,
    pub log_settings: LogSettings,
    pub conn: Conn,
    pub status: Option<Status>,
    pub now_ms: UnixMillis,
    /// Terminal size, for paging.
    pub size: (u16, u16),
    pub runs: RunsState,
    pub jobs: JobsState,
    pub dash: DashState,
    pub details: DetailsState,
    pub sql: SqlState,
    pub clusters: ClustersState,
    pub ingest: super::ingest::IngestState,
    pub monitor: MonitorState,
    pub spark: super::spark::SparkState,
    // --- Notebooks ---
    pub nb: super::notebooks::NotebooksState,
    pub logs: Option<LogView>,
    pub overlay: Option<Overlay>,
    pub prompt: Option<(Prompt, LineInput)>,
    pub help_scroll: u16,
    pub cwd: PathBuf,
    pub quit: bool,
    /// Whether the terminal reports keys like ctrl-enter (the kitty keyboard protocol is on).
    pub keyboard_enhanced: bool,
    next_epoch: u64,
}

impl App {
    pub fn new(config: &Config, cwd: PathBuf, now_ms: UnixMillis) -> Self {
        Self {
            screen: Screen::Runs,
            history: Vec::new(),
            keymap: config.keymap.clone(),
            theme: config.theme.clone(),
            log_settings: config.file.logs.clone(),
            conn: Conn::Connecting,
            status: None,
            now_ms,
            size: (80, 24),
            runs: RunsState::default(),
            jobs: JobsState::default(),
            dash: DashState::default(),
            details: DetailsState::default(),
            sql: SqlState::default(),
            clusters: ClustersState::default(),
            ingest: super::ingest::IngestState::default(),
            monitor: MonitorState::new(),
            spark: super::spark::SparkState::default(),
            nb: super::notebooks::NotebooksState {
                find_style: Some(config.theme.get("match")),
                ..Default::default()
            },
            logs: None,
            overlay: None,
            prompt: None,
            help_scroll: 0,
            cwd,
            quit: false,
            keyboard_enhanced: false,
            next_epoch: 1,
        }
    }

    /// Rows in the body of a screen, for paging (header, borders, table header, status).
    pub fn body_height(&self) -> usize {
        usize::from(self.size.1.saturating_sub(6)).max(1)
    }

    pub(super) fn connected(&self) -> bool {
        matches!(self.conn, Conn::Connected { .. })
    }

    pub fn info(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            level: Level::Info,
            at_ms: self.now_ms,
        });
    }

    pub fn warn(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            level: Level::Warn,
            at_ms: self.now_ms,
        });
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            level: Level::Error,
            at_ms: self.now_ms,
        });
    }

    /// The one entry point: a message in, commands out.
    pub fn update(&mut self, msg: Msg) -> Vec<Command> {
        match msg {
            Msg::Key(key) => self.on_key(key),
            Msg::Scroll(delta) if self.overlay.is_none() => self.move_by(delta),
            Msg::Scroll(_) => Vec::new(),
            Msg::Resize(w, h) => {
                self.size = (w, h);
                Vec::new()
            }
            Msg::Tick(now) => {
                self.now_ms = now;
                // An active run's details (its usage now) and a running Spark run's progress
                // are polled while its details are shown.
                let poll: Vec<Command> = if self.screen == Screen::Details {
                    let spark = self.details.spark_poll(now);
                    spark
                        .into_iter()
                        .chain(self.details.usage_poll(now))
                        .collect()
                } else {
                    Vec::new()
                };
                // Messages fade after a while; errors stay until replaced.
                if let Some(s) = &self.status
                    && s.level == Level::Info
                    && now - s.at_ms > 8_000
                {
                    self.status = None;
                }
                let mut out = poll;
                out.extend(self.monitor_tick());
                out.extend(self.ingest_tick());
                out.extend(self.nb.tick(now).into_iter().map(Command::Nb));
                out
            }
            Msg::Connected { version, socket } => {
                let was_down = matches!(self.conn, Conn::Reconnecting { .. });
                self.conn = Conn::Connected { version, socket };
                if was_down {
                    self.info("reconnected to harbourd");
                }
                let mut out = self.refetch_all();
                // A page that failed while the daemon was away: load the log again.
                if let Some(v) = &mut self.logs
                    && v.error.is_some()
                {
                    let sizes = v
                        .run_info
                        .as_ref()
                        .map_or([v.win[0].size, v.win[1].size], |r| {
                            [r.stdout_bytes, r.stderr_bytes]
                        });
                    let reqs = v.reload(sizes);
                    out.extend(self.log_commands(reqs));
                }
                out
            }
            Msg::DaemonStarted(what) => {
                // Stays until something else is said: starting a daemon is worth noticing.
                self.warn(what);
                Vec::new()
            }
            Msg::Disconnected(why) => {
                self.conn = Conn::Reconnecting { why };
                Vec::new()
            }
            Msg::Events(batch) => self.on_events(batch),
            Msg::Runs(r) => {
                match r {
                    Ok(runs) => self.runs.set_all(runs),
                    Err(e) => self.runs.load = Load::Failed(e),
                }
                Vec::new()
            }
            Msg::Jobs(r) => {
                match r {
                    Ok(jobs) => self.jobs.set_all(jobs),
                    Err(e) => self.jobs.load = Load::Failed(e),
                }
                Vec::new()
            }
            Msg::Dashboard(r) => {
                self.dash.in_flight = false;
                match r {
                    Ok(d) => {
                        self.dash.data = Some(*d);
                        self.dash.load = Load::Loaded;
                    }
                    Err(e) => self.dash.load = Load::Failed(e),
                }
                if std::mem::take(&mut self.dash.stale) && self.screen == Screen::Dashboard {
                    return self.fetch_dashboard();
                }
                Vec::new()
            }
            Msg::RunDetail(id, r) => {
                if self.details.run == Some(id) {
                    match r {
                        Ok(d) => {
                            let spark = d.run.kind == JobKind::Pyspark;
                            self.details.detail = Some(*d);
                            self.details.load = Load::Loaded;
                            self.details.fetched_ms = self.now_ms;
                            if spark && !self.details.spark_in_flight {
                                self.details.spark_in_flight = true;
                                self.details.spark_fetched_ms = self.now_ms;
                                return vec![Command::FetchSparkProgress(id)];
                            }
                        }
                        Err(e) => self.details.load = Load::Failed(e),
                    }
                }
                Vec::new()
            }
            Msg::Ingest(m) => self.ingest_msg(m),
            Msg::Clusters(r) => {
                match r {
                    Ok(c) => self.clusters.set_all(c),
                    Err(e) => self.clusters.load = Load::Failed(e),
                }
                Vec::new()
            }
            Msg::SqlDone(r) => {
                self.sql.finish(r.map(|b| *b));
                Vec::new()
            }
            Msg::SparkProgress(id, r) => {
                if self.details.run == Some(id) {
                    self.details.spark_in_flight = false;
                    self.details.spark = Some(r.map(|p| *p));
                }
                Vec::new()
            }
            Msg::LogChunk {
                epoch,
                stream,
                kind,
                chunk,
                at_ms,
            } => {
                let height = self.body_height();
                match &mut self.logs {
                    Some(v) if v.epoch == epoch => {
                        let reqs = v.take_chunk(stream, kind, chunk, at_ms);
                        if !v.follow {
                            v.keep_cursor_visible(height);
                        }
                        self.log_commands(reqs)
                    }
                    _ => Vec::new(),
                }
            }
            Msg::SearchResult { epoch, found } => self.on_search_result(epoch, found),
            Msg::LogFailed { epoch, why } => {
                if let Some(v) = &mut self.logs
                    && v.epoch == epoch
                {
                    v.error = Some(why);
                    v.win.iter_mut().for_each(|w| w.loading = false);
                }
                Vec::new()
            }
            Msg::RunMade(r) => {
                match r {
                    Ok(run) => {
                        self.info(format!("run {} queued ({})", run.id, run.job_name));
                        let id = run.id;
                        self.runs.upsert(*run);
                        self.runs.rebuild(Some(id));
                        self.runs.select_id(id);
                    }
                    Err(e) => self.error(e),
                }
                Vec::new()
            }
            Msg::Done(r) => {
                match r {
                    Ok(t) => self.info(t),
                    Err(e) => self.error(e),
                }
                Vec::new()
            }
            Msg::ContainerLogChunk {
                epoch,
                chunk,
                at_ms,
            } => {
                let height = self.body_height();
                match &mut self.logs {
                    Some(v) if v.epoch == epoch => {
                        let reqs = v.take_container_chunk(chunk, at_ms);
                        if !v.follow {
                            v.keep_cursor_visible(height);
                        }
                        self.log_commands(reqs)
                    }
                    _ => Vec::new(),
                }
            }
            // --- Analytics ---
            Msg::SparkApps(r) => {
                self.spark.set_apps(r);
                Vec::new()
            }
            Msg::SparkApp(id, r) => {
                self.spark.set_app(&id, r.map(|b| *b));
                Vec::new()
            }
            Msg::SparkJob(id, job, r) => {
                self.spark.set_job(&id, job, r.map(|b| *b));
                Vec::new()
            }
            Msg::MonitorHistory(_) | Msg::MonitorLive { .. } | Msg::ContainerDone(_) => {
                self.on_monitor_msg(msg)
            }
            Msg::Nb(m) => self.on_nb_msg(m),
        }
    }

    pub(super) fn refetch_all(&mut self) -> Vec<Command> {
        let mut out = vec![
            Command::FetchRuns,
            Command::FetchJobs,
            Command::FetchClusters,
        ];
        if self.screen == Screen::Spark {
            out.extend(self.spark.fetch());
        }
        out.extend(self.fetch_dashboard());
        out.extend(self.nb.refetch().into_iter().map(Command::Nb));
        if let Some(id) = self.details.run {
            out.push(Command::FetchRun(id));
        }
        out
    }

    pub(super) fn fetch_dashboard(&mut self) -> Vec<Command> {
        if self.dash.in_flight {
            self.dash.stale = true;
            return Vec::new();
        }
        self.dash.in_flight = true;
        self.dash.fetched_ms = self.now_ms;
        vec![Command::FetchDashboard]
    }

    pub(super) fn on_events(&mut self, batch: EventBatch) -> Vec<Command> {
        let mut out = Vec::new();
        if let Some(lost) = batch.lost {
            tracing::info!(from = lost.from, to = lost.to, "events lost; refetching");
            out.extend(self.refetch_all());
        }
        // A selection on the first row stays on the first row, so new runs come into view
        // (like `tail -f`); anywhere else it stays on its run as rows move around it.
        let keep = self
            .runs
            .selected_run()
            .map(|r| r.id)
            .filter(|_| self.runs.selected > 0);
        let mut runs_changed = false;
        let mut dash_changed = false;
        for ev in batch.events {
            match ev.kind {
                EventKind::RunChanged(run) => {
                    if self.details.run == Some(run.id)
                        && let Some(d) = &mut self.details.detail
                    {
                        // The history grows with each change: fetch it again.
                        if d.run.lifecycle != run.lifecycle {
                            out.push(Command::FetchRun(run.id));
                        }
                        d.run = run.clone();
                    }
                    if let Some(v) = &mut self.logs
                        && v.run() == Some(run.id)
                    {
                        v.run_info = Some(run.clone());
                    }
                    self.runs.upsert(run);
                    runs_changed = true;
                    dash_changed = true;
                }
                EventKind::LogGrew {
                    run,
                    stdout_bytes,
                    stderr_bytes,
                } => {
                    self.runs.set_log_sizes(run, stdout_bytes, stderr_bytes);
                    // Lets a view that is not following know there is more to page in.
                    if let Some(v) = &mut self.logs
                        && v.run() == Some(run)
                    {
                        v.win[0].size = v.win[0].size.max(stdout_bytes);
                        v.win[1].size = v.win[1].size.max(stderr_bytes);
                    }
                }
                EventKind::JobChanged(job) => {
                    self.jobs.upsert(job);
                    dash_changed = true;
                }
                EventKind::JobDeleted(id) => {
                    self.jobs.remove(id);
                    dash_changed = true;
                }
                EventKind::ScheduleSkipped { job, reason } => {
                    let name = self
                        .jobs
                        .jobs
                        .iter()
                        .find(|j| j.id == job)
                        .map_or_else(|| format!("job {job}"), |j| j.name().to_owned());
                    self.warn(format!("{name}: scheduled run skipped: {reason}"));
                }
                EventKind::ClusterChanged(c) => {
                    self.clusters.upsert(c);
                    dash_changed = true;
                }
                EventKind::ClusterDeleted(name) => {
                    self.clusters.remove(&name);
                    dash_changed = true;
                }
                // The dashboard's health summary changed.
                EventKind::HealthChanged(_) => dash_changed = true,
            }
        }
        if runs_changed {
            self.runs.rebuild(keep);
        }
        if dash_changed {
            if self.screen == Screen::Dashboard {
                out.extend(self.fetch_dashboard());
            } else {
                self.dash.stale = true;
            }
        }
        out
    }

    pub(super) fn log_commands(&mut self, reqs: Vec<LogRequest>) -> Vec<Command> {
        let Some(v) = &self.logs else {
            return Vec::new();
        };
        let epoch = v.epoch;
        let tail = self.log_settings.container_tail;
        reqs.into_iter()
            .filter_map(|r| match (r, &v.source) {
                (LogRequest::StopFollow, _) => Some(Command::StopFollow),
                (
                    LogRequest::Read {
                        stream,
                        offset,
                        max,
                        kind,
                    },
                    LogSource::Run(run),
                ) => Some(Command::ReadLog {
                    epoch,
                    run: *run,
                    stream,
                    offset,
                    max,
                    kind,
                }),
                (LogRequest::Follow { stream, offset }, LogSource::Run(run)) => {
                    Some(Command::FollowLog {
                        epoch,
                        run: *run,
                        stream,
                        offset,
                    })
                }
                (
                    LogRequest::Follow {
                        stream: LogStream::Stdout,
                        ..
                    },
                    LogSource::Container { id, cursor_ns, .. },
                ) => Some(Command::FollowContainerLog {
                    epoch,
                    id: id.clone(),
                    after_ns: *cursor_ns,
                    tail,
                }),
                // A container has no history to page in and one stream.
                (
                    LogRequest::Read { .. } | LogRequest::Follow { .. },
                    LogSource::Container { .. },
                ) => None,
            })
            .collect()
    }

    pub(super) fn go(&mut self, screen: Screen) -> Vec<Command> {
        if self.screen != screen {
            self.history.push(self.screen);
            if self.history.len() > 50 {
                self.history.remove(0);
            }
            self.screen = screen;
        }
        let mut out = Vec::new();
        if screen == Screen::Dashboard
            && (self.dash.stale || self.dash.data.is_none())
            && self.connected()
        {
            self.dash.stale = false;
            out.extend(self.fetch_dashboard());
        }
        if screen == Screen::Monitor {
            out.extend(self.monitor_fetch(true));
        }
        if screen == Screen::Spark && self.connected() {
            out.extend(self.spark.fetch());
        }
        if screen == Screen::Ingest && self.connected() {
            out.extend(self.ingest_refresh());
        }
        if screen == Screen::Notebooks && self.connected() {
            out.push(Command::Nb(super::notebooks::NbCmd::List));
        }
        out
    }

    pub(super) fn back(&mut self) -> Vec<Command> {
        if let Some(prev) = self.history.pop() {
            self.screen = prev;
        }
        Vec::new()
    }

    /// Opens the log view of `id`, following its tail.
    pub fn open_logs(&mut self, id: RunId) -> Vec<Command> {
        let mut out = Vec::new();
        let reuse = self.logs.as_ref().is_some_and(|v| v.run() == Some(id));
        if !reuse {
            self.next_epoch += 1;
            let mut v = LogView::new(
                LogSource::Run(id),
                self.next_epoch * 1_000_000,
                self.log_settings.max_lines,
                self.log_settings.tail_kib * 1024,
            );
            let listed = self.runs.get(id);
            let detailed = self
                .details
                .detail
                .as_ref()
                .map(|d| &d.run)
                .filter(|r| r.id == id);
            // The larger of what the list and the details know: the tail starts near the end.
            let sizes = [listed, detailed]
                .into_iter()
                .flatten()
                .fold([0, 0], |acc, r| {
                    [acc[0].max(r.stdout_bytes), acc[1].max(r.stderr_bytes)]
                });
            let info = listed.or(detailed).cloned();
            v.run_info = info;
            let reqs = v.start_tail(sizes);
            self.logs = Some(v);
            out.extend(self.log_commands(reqs));
        }
        out.extend(self.go(Screen::Logs));
        out
    }

    /// Opens the log view on a container's output, following it.
    pub fn open_container_logs(&mut self, id: String, name: String) -> Vec<Command> {
        let same =
            |v: &LogView| matches!(&v.source, LogSource::Container { id: i, .. } if *i == id);
        let mut out = Vec::new();
        if !self.logs.as_ref().is_some_and(same) {
            self.next_epoch += 1;
            let mut v = LogView::new(
                LogSource::Container {
                    id,
                    name,
                    cursor_ns: 0,
                },
                self.next_epoch * 1_000_000,
                self.log_settings.max_lines,
                self.log_settings.tail_kib * 1024,
            );
            let reqs = v.reload([0, 0]);
            self.logs = Some(v);
            out.extend(self.log_commands(reqs));
        }
        out.extend(self.go(Screen::Logs));
        out
    }

    pub(super) fn open_details(&mut self, id: RunId) -> Vec<Command> {
        if self.details.run != Some(id) {
            self.details = DetailsState {
                run: Some(id),
                ..DetailsState::default()
            };
        }
        let mut out = vec![Command::FetchRun(id)];
        out.extend(self.go(Screen::Details));
        out
    }

    /// The run the current screen is about.
    pub(super) fn current_run(&self) -> Option<RunId> {
        match self.screen {
            Screen::Runs => self.runs.selected_run().map(|r| r.id),
            Screen::Details => self.details.run,
            Screen::Sql | Screen::Clusters | Screen::Notebooks | Screen::Spark | Screen::Ingest => {
                None
            }
            Screen::Logs => self.logs.as_ref().and_then(LogView::run),
            Screen::Jobs => self
                .jobs
                .selected_job()
                .and_then(|j| j.last_run.as_ref().map(|l| l.id)),
            Screen::Dashboard | Screen::Monitor => None,
        }
    }

    /// Gives an action its meaning on the current screen.
    pub fn apply(&mut self, action: Action) -> Vec<Command> {
        if self.screen == Screen::Monitor
            && let Some(out) = self.monitor_apply(action)
        {
            return out;
        }
        if self.screen == Screen::Ingest
            && let Some(out) = self.ingest_apply(action)
        {
            return out;
        }
        let height = self.body_height();
        let page = height.saturating_sub(1).max(1) as isize;
        match action {
            // --- Analytics ---
            Action::GoSpark => self.go(Screen::Spark),
            Action::Back | Action::Left
                if self.screen == Screen::Spark
                    && self.spark.level != super::spark::Level::Apps =>
            {
                self.spark.up();
                self.spark.fetch()
            }
            Action::Select | Action::Right if self.screen == Screen::Spark => self.spark.select(),
            Action::Refresh if self.screen == Screen::Spark => self.spark.fetch(),
            Action::Quit => {
                self.quit = true;
                vec![Command::Quit]
            }
            Action::Back => {
                // Esc first clears a filter or search, then goes back.
                match self.screen {
                    Screen::Runs if !self.runs.filter.is_empty() => {
                        self.runs.set_filter("");
                        Vec::new()
                    }
                    Screen::Jobs if !self.jobs.filter.is_empty() => {
                        self.jobs.set_filter("");
                        Vec::new()
                    }
                    Screen::Logs if self.logs.as_ref().is_some_and(|v| v.search.is_some()) => {
                        if let Some(v) = &mut self.logs {
                            v.search = None;
                            v.search_hits = None;
                        }
                        Vec::new()
                    }
                    _ => self.back(),
                }
            }
            Action::Help => {
                self.help_scroll = 0;
                self.overlay = Some(Overlay::Help);
                Vec::new()
            }
            Action::Palette => {
                self.prompt = Some((Prompt::Palette, LineInput::default()));
                Vec::new()
            }
            Action::NextScreen | Action::PrevScreen => {
                let i = Screen::CYCLE
                    .iter()
                    .position(|s| *s == self.screen)
                    .unwrap_or(1);
                let n = Screen::CYCLE.len();
                let next = if action == Action::NextScreen {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                self.go(Screen::CYCLE[next])
            }
            Action::GoDashboard => self.go(Screen::Dashboard),
            Action::GoRuns => self.go(Screen::Runs),
            Action::GoJobs => self.go(Screen::Jobs),
            Action::GoMonitor => self.go(Screen::Monitor),
            // Only the Monitor screen has charts (handled above).
            Action::ZoomIn | Action::ZoomOut | Action::Freeze | Action::Expand => Vec::new(),
            Action::GoLogs => match (&self.logs, self.runs.selected_run().map(|r| r.id)) {
                (Some(_), _) => self.go(Screen::Logs),
                (None, Some(id)) => self.open_logs(id),
                (None, None) => self.go(Screen::Logs),
            },
            Action::GoSql => self.go(Screen::Sql),
            Action::GoClusters => self.go(Screen::Clusters),
            Action::GoNotebooks => self.go(Screen::Notebooks),
            Action::Delete if self.screen == Screen::Notebooks => self.nb_delete(),
            Action::Submit if self.screen == Screen::Notebooks => {
                self.prompt = Some((Prompt::Palette, LineInput::new("nb-create ")));
                Vec::new()
            }
            Action::Refresh if self.screen == Screen::Notebooks => {
                self.nb.refetch().into_iter().map(Command::Nb).collect()
            }
            Action::Rename if self.screen == Screen::Notebooks => self.nb_rename_prompt(),
            Action::Rename => Vec::new(),
            Action::GoIngest => self.go(Screen::Ingest),
            // Ingest-only actions (handled above on that screen).
            Action::Edit | Action::Schemas => Vec::new(),
            Action::Delete if self.screen == Screen::Clusters => {
                match self.clusters.selected_cluster().map(|c| c.name.clone()) {
                    Some(name) => self.confirm_delete_cluster(name),
                    None => Vec::new(),
                }
            }
            Action::Submit if self.screen == Screen::Clusters => {
                self.prompt = Some((Prompt::Palette, LineInput::new("cluster-create ")));
                Vec::new()
            }
            Action::Refresh if self.screen == Screen::Sql => self.run_sql(),
            Action::Kill if self.screen == Screen::Sql => self.cancel_sql(),
            Action::Up | Action::Down | Action::PageUp | Action::PageDown => {
                let delta = match action {
                    Action::Up => -1,
                    Action::Down => 1,
                    Action::PageUp => -page,
                    _ => page,
                };
                self.move_by(delta)
            }
            Action::Top => match self.screen {
                Screen::Logs => {
                    let reqs = self.logs.as_mut().map(LogView::go_top).unwrap_or_default();
                    self.log_commands(reqs)
                }
                _ => self.move_by(-isize::MAX / 2),
            },
            Action::Bottom => match self.screen {
                Screen::Logs => {
                    let reqs = self
                        .logs
                        .as_mut()
                        .map(LogView::follow_tail)
                        .unwrap_or_default();
                    self.log_commands(reqs)
                }
                _ => self.move_by(isize::MAX / 2),
            },
            Action::Left | Action::Right => {
                let right = action == Action::Right;
                match self.screen {
                    Screen::Logs => {
                        if let Some(v) = &mut self.logs
                            && !v.wrap
                        {
                            v.hscroll = if right {
                                v.hscroll + 8
                            } else {
                                v.hscroll.saturating_sub(8)
                            };
                        }
                        Vec::new()
                    }
                    _ if right => self.apply(Action::Select),
                    _ => self.back(),
                }
            }
            Action::Select => match self.screen {
                Screen::Runs => match self.runs.selected_run().map(|r| r.id) {
                    Some(id) => self.open_details(id),
                    None => Vec::new(),
                },
                Screen::Jobs => match self.jobs.selected_job().map(|j| j.name().to_owned()) {
                    Some(name) => {
                        self.runs.set_filter(&name);
                        self.go(Screen::Runs)
                    }
                    None => Vec::new(),
                },
                Screen::Dashboard => self.go(Screen::Runs),
                Screen::Sql => {
                    self.sql.editing = true;
                    Vec::new()
                }
                Screen::Clusters => {
                    match self.clusters.selected_cluster().map(|c| c.name.clone()) {
                        Some(name) => {
                            self.sql.cluster = Some(name);
                            self.go(Screen::Sql)
                        }
                        None => Vec::new(),
                    }
                }
                _ => Vec::new(),
            },
            Action::Filter => {
                match self.screen {
                    Screen::Runs | Screen::Jobs => {
                        let current = if self.screen == Screen::Jobs {
                            &self.jobs.filter.text
                        } else {
                            &self.runs.filter.text
                        };
                        self.prompt = Some((Prompt::Filter, LineInput::new(current)));
                    }
                    Screen::Logs => return self.apply(Action::Search),
                    _ => {}
                }
                Vec::new()
            }
            Action::Search => {
                if self.screen == Screen::Logs {
                    let current = self
                        .logs
                        .as_ref()
                        .and_then(|v| v.search.clone())
                        .unwrap_or_default();
                    self.prompt = Some((Prompt::Search, LineInput::new(&current)));
                }
                Vec::new()
            }
            Action::SearchNext | Action::SearchPrev => {
                if self.logs.as_ref().is_some_and(|v| v.search.is_none()) {
                    self.info("no search: / searches");
                    return Vec::new();
                }
                self.search_step(action == Action::SearchNext, false)
            }
            Action::SortNext => {
                self.runs.sort_next();
                Vec::new()
            }
            Action::SortReverse => {
                self.runs.sort_reverse();
                Vec::new()
            }
            Action::Refresh => {
                let mut out = self.refetch_all();
                if self.screen == Screen::Logs
                    && let Some(v) = &mut self.logs
                {
                    let sizes = v
                        .run_info
                        .as_ref()
                        .map_or([v.win[0].size, v.win[1].size], |r| {
                            [r.stdout_bytes, r.stderr_bytes]
                        });
                    let reqs = v.reload(sizes);
                    out.extend(self.log_commands(reqs));
                }
                out
            }
            Action::Yank => match self.yank_text() {
                Some(text) => {
                    self.info("copied (OSC 52)");
                    vec![Command::Yank(text)]
                }
                None => Vec::new(),
            },
            Action::Logs => match self.current_run() {
                Some(id) => self.open_logs(id),
                None => Vec::new(),
            },
            Action::Kill => match self.current_run() {
                Some(id) => self.confirm_kill(id),
                None => Vec::new(),
            },
            Action::Restart => match self.current_run() {
                Some(id) => vec![Command::Restart(id)],
                None => Vec::new(),
            },
            Action::Submit => {
                self.overlay = Some(Overlay::Submit(SubmitForm {
                    kind: JobKind::Shell,
                    file: false,
                    text: LineInput::default(),
                    field: FormField::Text,
                    error: None,
                }));
                Vec::new()
            }
            Action::RunJob => match self.jobs.selected_job() {
                Some(j) if self.screen == Screen::Jobs => {
                    vec![Command::RunJob(j.id, j.name().to_owned())]
                }
                _ => Vec::new(),
            },
            Action::TogglePause => match self.jobs.selected_job() {
                Some(j) if self.screen == Screen::Jobs => vec![Command::SetPaused(j.id, !j.paused)],
                _ => Vec::new(),
            },
            Action::Delete => match self.jobs.selected_job() {
                Some(j) if self.screen == Screen::Jobs => {
                    self.overlay = Some(Overlay::Confirm {
                        prompt: format!("Delete job '{}'? Its runs stay in the history.", j.name()),
                        yes: Command::DeleteJob(j.id, j.name().to_owned()),
                    });
                    Vec::new()
                }
                _ => Vec::new(),
            },
            Action::ToggleWrap => {
                if let Some(v) = &mut self.logs {
                    v.wrap = !v.wrap;
                    v.hscroll = 0;
                }
                Vec::new()
            }
            Action::ToggleTimestamps => {
                if let Some(v) = &mut self.logs {
                    v.timestamps = !v.timestamps;
                }
                Vec::new()
            }
            Action::ToggleStream => {
                let Some(v) = &mut self.logs else {
                    return Vec::new();
                };
                let reqs = v.toggle_stream();
                let label = v.show.label();
                self.info(format!("showing {label}"));
                self.log_commands(reqs)
            }
            Action::ToggleFollow => {
                let reqs = match &mut self.logs {
                    Some(v) if v.follow => {
                        v.follow = false;
                        vec![LogRequest::StopFollow]
                    }
                    Some(v) => v.follow_tail(),
                    None => Vec::new(),
                };
                self.log_commands(reqs)
            }
            Action::SaveLog => {
                let dir = self
                    .log_settings
                    .save_dir
                    .as_ref()
                    .map_or_else(|| self.cwd.clone(), PathBuf::from);
                match &self.logs {
                    Some(v) => match &v.source {
                        LogSource::Run(run) => vec![Command::SaveLog {
                            run: *run,
                            streams: v.show.streams().to_vec(),
                            dir,
                        }],
                        // The engine's output beyond the tail is not held: save what is.
                        LogSource::Container { name, .. } => vec![Command::SaveText {
                            name: format!("harbour-container-{name}.log"),
                            text: (0..v.shown_len()).filter_map(|i| v.shown(i)).fold(
                                String::new(),
                                |mut text, line| {
                                    text.push_str(&line.text);
                                    text.push('\n');
                                    text
                                },
                            ),
                            dir,
                        }],
                    },
                    None => Vec::new(),
                }
            }
        }
    }

    /// Jumps to the next match in the window; past its edge, asks the daemon's log for
    /// one; with nothing beyond, wraps around the window.
    pub(super) fn search_step(&mut self, forward: bool, include_current: bool) -> Vec<Command> {
        let height = self.body_height();
        let Some(v) = &mut self.logs else {
            return Vec::new();
        };
        let was_following = v.follow;
        let mut out = Vec::new();
        if v.find_in(forward, include_current, false, height) {
            if was_following {
                out.push(Command::StopFollow);
            }
            return out;
        }
        let from = v.beyond(forward);
        if let Some(run) = v.run()
            && !from.is_empty()
            && v.searching.is_none()
        {
            v.searching = Some(forward);
            let cmd = Command::SearchLog {
                epoch: v.epoch,
                run,
                from,
                query: v.search.clone().unwrap_or_default(),
                forward,
            };
            self.info(format!(
                "searching {} the loaded lines…",
                if forward { "after" } else { "before" }
            ));
            return vec![cmd];
        }
        self.wrap_search(forward, was_following)
    }

    pub(super) fn wrap_search(&mut self, forward: bool, was_following: bool) -> Vec<Command> {
        let height = self.body_height();
        let Some(v) = &mut self.logs else {
            return Vec::new();
        };
        if v.find_in(forward, false, true, height) {
            self.info("search wrapped around");
            if was_following {
                return vec![Command::StopFollow];
            }
        } else {
            let q = v.search.clone().unwrap_or_default();
            self.warn(format!("'{q}' is not in the log"));
        }
        Vec::new()
    }

    pub(super) fn on_search_result(
        &mut self,
        epoch: u64,
        found: Result<Option<(LogStream, u64)>, String>,
    ) -> Vec<Command> {
        let Some(v) = &mut self.logs else {
            return Vec::new();
        };
        if v.epoch != epoch {
            return Vec::new();
        }
        let forward = v.searching.take().unwrap_or(true);
        match found {
            Ok(Some((stream, offset))) => {
                let reqs = v.jump_to(stream, offset);
                self.info(format!("match at byte {offset} of {stream}"));
                self.log_commands(reqs)
            }
            Ok(None) => {
                let was_following = v.follow;
                self.wrap_search(forward, was_following)
            }
            Err(e) => {
                self.error(format!("search: {e}"));
                Vec::new()
            }
        }
    }

    pub(super) fn move_by(&mut self, delta: isize) -> Vec<Command> {
        let height = self.body_height();
        match self.screen {
            Screen::Runs => self.runs.move_by(delta, height),
            Screen::Jobs => self.jobs.move_by(delta, height),
            Screen::Details => {
                self.details.scroll = if delta < 0 {
                    self.details
                        .scroll
                        .saturating_sub(u16::try_from(delta.unsigned_abs()).unwrap_or(u16::MAX))
                } else {
                    self.details
                        .scroll
                        .saturating_add(u16::try_from(delta).unwrap_or(u16::MAX))
                        .min(500)
                };
            }
            Screen::Logs => {
                let reqs = self
                    .logs
                    .as_mut()
                    .map(|v| v.scroll(delta, height))
                    .unwrap_or_default();
                return self.log_commands(reqs);
            }
            Screen::Sql => self.sql.scroll_by(delta),
            Screen::Clusters => self.clusters.move_by(delta),
            Screen::Spark => self.spark.move_by(delta),
            Screen::Monitor => self.monitor.move_by(delta),
            Screen::Notebooks => self.nb.move_by(delta),
            Screen::Dashboard | Screen::Ingest => {}
        }
        Vec::new()
    }

    /// Runs the SQL screen's query, unless one is running or it is empty.
    pub(super) fn run_sql(&mut self) -> Vec<Command> {
        if !self.connected() {
            self.warn("not connected to harbourd");
            return Vec::new();
        }
        match self.sql.start(self.now_ms) {
            Some(query) => vec![Command::RunSql {
                query,
                cluster: self.sql.cluster.clone(),
            }],
            None => Vec::new(),
        }
    }

    pub(super) fn cancel_sql(&mut self) -> Vec<Command> {
        if !self.sql.running() {
            return Vec::new();
        }
        self.info("cancelling the query");
        vec![Command::CancelSql(
            self.sql.cluster.clone().unwrap_or_else(|| "local".into()),
        )]
    }

    /// A key while the SQL editor has focus.
    pub(super) fn on_sql_key(&mut self, key: &KeyEvent) -> Vec<Command> {
        match self.sql.edit(key) {
            EditorOutcome::None => Vec::new(),
            EditorOutcome::Run(_) => self.run_sql(),
            EditorOutcome::Cancel => self.cancel_sql(),
            EditorOutcome::Leave => {
                self.sql.editing = false;
                Vec::new()
            }
        }
    }

    pub(super) fn yank_text(&self) -> Option<String> {
        match self.screen {
            Screen::Runs => self.runs.selected_run().map(|r| {
                format!(
                    "{}\t{}\t{}\t{}\t{}",
                    r.id,
                    r.job_name,
                    r.kind,
                    r.state_label(),
                    r.exit_code
                        .map_or_else(|| "-".to_owned(), |c| c.to_string())
                )
            }),
            Screen::Jobs => self.jobs.selected_job().map(|j| j.name().to_owned()),
            Screen::Logs => self
                .logs
                .as_ref()
                .and_then(|v| v.shown(v.cursor))
                .map(|l| l.text.clone()),
            Screen::Details => self.details.detail.as_ref().map(|_| {
                self.details
                    .lines(&self.theme, self.now_ms)
                    .iter()
                    .map(|l| {
                        l.spans
                            .iter()
                            .map(|s| s.content.as_ref())
                            .collect::<String>()
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            }),
            Screen::Sql => Some(self.sql.text.clone()),
            Screen::Clusters => self
                .clusters
                .selected_cluster()
                .map(|c| c.master_url.clone()),
            Screen::Monitor => self.monitor.selected_container().map(|c| c.id.clone()),
            Screen::Notebooks => self.nb.selected_name(),
            Screen::Spark => self.spark.yank(),
            Screen::Ingest => self.ingest.selected().map(|i| i.spec.name.clone()),
            Screen::Dashboard => None,
        }
    }
}
