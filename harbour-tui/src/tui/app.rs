//! The app: all state the TUI shows, and `update`, which takes one message (a key, an RPC
//! answer, an event batch, a tick) and changes the state. `update` does no I/O: what it needs
//! done comes back as [`Command`]s that the shell (`shell.rs`) runs as tasks, whose answers
//! come back as further messages.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use harbour_shared::{
    Dashboard, EventBatch, EventKind, Job, JobId, JobKind, JobSource, JobSpec, LogChunk, LogStream,
    Run, RunDetail, RunId, UnixMillis,
};

use super::action::{Action, Screen};
use super::config::{Config, LogSettings};
use super::dashboard::DashState;
use super::details::DetailsState;
use super::input::{InputOutcome, LineInput};
use super::jobs::JobsState;
use super::keymap::{KeyCombo, Keymap};
use super::logs::{ChunkKind, LogRequest, LogView};
use super::palette;
use super::runs::RunsState;
use super::theme::Theme;
use super::widgets::Load;

/// Something for the shell to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    FetchRuns,
    FetchJobs,
    FetchDashboard,
    FetchRun(RunId),
    Kill(RunId),
    Restart(RunId),
    Submit(JobSpec),
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
    /// Write whole streams to files in `dir`.
    SaveLog {
        run: RunId,
        streams: Vec<LogStream>,
        dir: PathBuf,
    },
    /// Copy text to the clipboard with OSC 52.
    Yank(String),
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
    LogChunk {
        epoch: u64,
        stream: LogStream,
        kind: ChunkKind,
        chunk: LogChunk,
        at_ms: UnixMillis,
    },
    LogFailed {
        epoch: u64,
        why: String,
    },
    /// A run was made (submit, restart, run now).
    RunMade(Result<Run, String>),
    /// The outcome of an action, for the status line.
    Done(Result<String, String>),
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

/// What the one-line input at the bottom is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    Filter,
    Search,
    Palette,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormField {
    Kind,
    Source,
    Text,
}

/// The submit form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitForm {
    pub kind: JobKind,
    pub file: bool,
    pub text: LineInput,
    pub field: FormField,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    Help,
    Confirm { prompt: String, yes: Command },
    Submit(SubmitForm),
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
    pub logs: Option<LogView>,
    pub overlay: Option<Overlay>,
    pub prompt: Option<(Prompt, LineInput)>,
    pub help_scroll: u16,
    pub cwd: PathBuf,
    pub quit: bool,
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
            logs: None,
            overlay: None,
            prompt: None,
            help_scroll: 0,
            cwd,
            quit: false,
            next_epoch: 1,
        }
    }

    /// Rows in the body of a screen, for paging (header, borders, table header, status).
    pub fn body_height(&self) -> usize {
        usize::from(self.size.1.saturating_sub(6)).max(1)
    }

    fn connected(&self) -> bool {
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
                // Messages fade after a while; errors stay until replaced.
                if let Some(s) = &self.status
                    && s.level == Level::Info
                    && now - s.at_ms > 8_000
                {
                    self.status = None;
                }
                Vec::new()
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
                    let reqs = v.start_tail(sizes);
                    out.extend(self.log_commands(reqs));
                }
                out
            }
            Msg::DaemonStarted(what) => {
                self.info(what);
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
                            self.details.detail = Some(*d);
                            self.details.load = Load::Loaded;
                        }
                        Err(e) => self.details.load = Load::Failed(e),
                    }
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
                        self.runs.upsert(run);
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
        }
    }

    fn refetch_all(&mut self) -> Vec<Command> {
        let mut out = vec![Command::FetchRuns, Command::FetchJobs];
        out.extend(self.fetch_dashboard());
        if let Some(id) = self.details.run {
            out.push(Command::FetchRun(id));
        }
        out
    }

    fn fetch_dashboard(&mut self) -> Vec<Command> {
        if self.dash.in_flight {
            self.dash.stale = true;
            return Vec::new();
        }
        self.dash.in_flight = true;
        vec![Command::FetchDashboard]
    }

    fn on_events(&mut self, batch: EventBatch) -> Vec<Command> {
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
                        && v.run == run.id
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
                    // Lets a view that is not following know there is more to page in.
                    if let Some(v) = &mut self.logs
                        && v.run == run
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

    fn log_commands(&mut self, reqs: Vec<LogRequest>) -> Vec<Command> {
        let Some(v) = &self.logs else {
            return Vec::new();
        };
        reqs.into_iter()
            .map(|r| match r {
                LogRequest::Read {
                    stream,
                    offset,
                    max,
                    kind,
                } => Command::ReadLog {
                    epoch: v.epoch,
                    run: v.run,
                    stream,
                    offset,
                    max,
                    kind,
                },
                LogRequest::Follow { stream, offset } => Command::FollowLog {
                    epoch: v.epoch,
                    run: v.run,
                    stream,
                    offset,
                },
                LogRequest::StopFollow => Command::StopFollow,
            })
            .collect()
    }

    fn go(&mut self, screen: Screen) -> Vec<Command> {
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
        out
    }

    fn back(&mut self) -> Vec<Command> {
        if let Some(prev) = self.history.pop() {
            self.screen = prev;
        }
        Vec::new()
    }

    /// Opens the log view of `id`, following its tail.
    pub fn open_logs(&mut self, id: RunId) -> Vec<Command> {
        let mut out = Vec::new();
        let reuse = self.logs.as_ref().is_some_and(|v| v.run == id);
        if !reuse {
            self.next_epoch += 1;
            let mut v = LogView::new(
                id,
                self.next_epoch * 1_000_000,
                self.log_settings.max_lines,
                self.log_settings.tail_kib * 1024,
            );
            let info = self.runs.get(id).cloned().or_else(|| {
                self.details
                    .detail
                    .as_ref()
                    .filter(|d| d.run.id == id)
                    .map(|d| d.run.clone())
            });
            let sizes = info
                .as_ref()
                .map_or([0, 0], |r| [r.stdout_bytes, r.stderr_bytes]);
            v.run_info = info;
            let reqs = v.start_tail(sizes);
            self.logs = Some(v);
            out.extend(self.log_commands(reqs));
        }
        out.extend(self.go(Screen::Logs));
        out
    }

    fn open_details(&mut self, id: RunId) -> Vec<Command> {
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
    fn current_run(&self) -> Option<RunId> {
        match self.screen {
            Screen::Runs => self.runs.selected_run().map(|r| r.id),
            Screen::Details => self.details.run,
            Screen::Logs => self.logs.as_ref().map(|v| v.run),
            Screen::Jobs => self
                .jobs
                .selected_job()
                .and_then(|j| j.last_run.as_ref().map(|l| l.id)),
            Screen::Dashboard => None,
        }
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if let Some(overlay) = self.overlay.take() {
            return self.on_overlay_key(overlay, key);
        }
        if let Some((prompt, mut input)) = self.prompt.take() {
            return self.on_prompt_key(prompt, &mut input, key);
        }
        let combo = KeyCombo::from_event(&key);
        match self.keymap.lookup(self.screen, combo) {
            Some(action) => self.apply(action),
            None => Vec::new(),
        }
    }

    fn on_overlay_key(&mut self, overlay: Overlay, key: KeyEvent) -> Vec<Command> {
        match overlay {
            Overlay::Help => {
                match key.code {
                    KeyCode::Char('j') | KeyCode::Down => {
                        self.help_scroll = self.help_scroll.saturating_add(1);
                        self.overlay = Some(Overlay::Help);
                    }
                    KeyCode::Char('k') | KeyCode::Up => {
                        self.help_scroll = self.help_scroll.saturating_sub(1);
                        self.overlay = Some(Overlay::Help);
                    }
                    _ => {}
                }
                Vec::new()
            }
            Overlay::Confirm { prompt, yes } => match key.code {
                KeyCode::Char('y' | 'Y') | KeyCode::Enter => vec![yes],
                KeyCode::Char('n' | 'N') | KeyCode::Esc | KeyCode::Char('q') => {
                    self.info("cancelled");
                    Vec::new()
                }
                _ => {
                    self.overlay = Some(Overlay::Confirm { prompt, yes });
                    Vec::new()
                }
            },
            Overlay::Submit(form) => self.on_form_key(form, key),
        }
    }

    fn on_form_key(&mut self, mut form: SubmitForm, key: KeyEvent) -> Vec<Command> {
        match key.code {
            KeyCode::Esc => return Vec::new(),
            KeyCode::Tab | KeyCode::Down => {
                form.field = match form.field {
                    FormField::Kind => FormField::Source,
                    FormField::Source => FormField::Text,
                    FormField::Text => FormField::Kind,
                };
            }
            KeyCode::BackTab | KeyCode::Up => {
                form.field = match form.field {
                    FormField::Kind => FormField::Text,
                    FormField::Source => FormField::Kind,
                    FormField::Text => FormField::Source,
                };
            }
            KeyCode::Enter => {
                let text = form.text.text.trim().to_owned();
                if text.is_empty() {
                    form.error = Some(
                        if form.file {
                            "give the path of a script"
                        } else {
                            "give the code to run"
                        }
                        .to_owned(),
                    );
                } else {
                    let source = if form.file {
                        let p = PathBuf::from(&text);
                        let abs = if p.is_absolute() { p } else { self.cwd.join(p) };
                        JobSource::File(abs.to_string_lossy().into_owned())
                    } else {
                        JobSource::Code(text)
                    };
                    self.info("submitting…");
                    return vec![Command::Submit(JobSpec::new(form.kind, source))];
                }
            }
            _ => match form.field {
                FormField::Kind | FormField::Source
                    if matches!(
                        key.code,
                        KeyCode::Left | KeyCode::Right | KeyCode::Char(' ' | 'h' | 'l')
                    ) =>
                {
                    let fwd = matches!(key.code, KeyCode::Right | KeyCode::Char(' ' | 'l'));
                    if form.field == FormField::Kind {
                        let i = JobKind::ALL
                            .iter()
                            .position(|k| *k == form.kind)
                            .unwrap_or(0);
                        let n = JobKind::ALL.len();
                        form.kind = JobKind::ALL[if fwd { (i + 1) % n } else { (i + n - 1) % n }];
                    } else {
                        form.file = !form.file;
                    }
                }
                FormField::Text => {
                    form.text.handle(&key);
                    form.error = None;
                }
                _ => {}
            },
        }
        self.overlay = Some(Overlay::Submit(form));
        Vec::new()
    }

    fn on_prompt_key(
        &mut self,
        prompt: Prompt,
        input: &mut LineInput,
        key: KeyEvent,
    ) -> Vec<Command> {
        if prompt == Prompt::Palette && key.code == KeyCode::Tab {
            input.set(&palette::complete(&input.text));
            self.prompt = Some((prompt, input.clone()));
            return Vec::new();
        }
        let outcome = input.handle(&key);
        match (prompt, outcome) {
            (_, InputOutcome::Cancel) => {
                // Esc on a live filter clears it; on the others it just closes.
                if prompt == Prompt::Filter {
                    self.set_filter("");
                }
                Vec::new()
            }
            (Prompt::Filter, InputOutcome::Edited) => {
                self.set_filter(&input.text);
                self.prompt = Some((prompt, input.clone()));
                Vec::new()
            }
            (Prompt::Filter, InputOutcome::Submit) => {
                self.set_filter(&input.text);
                Vec::new()
            }
            (Prompt::Search, InputOutcome::Submit) => {
                let height = self.body_height();
                let mut out = Vec::new();
                if let Some(v) = &mut self.logs {
                    let was_following = v.follow;
                    v.search = Some(input.text.clone()).filter(|s| !s.is_empty());
                    if v.search.is_some() {
                        if v.find(false, true, height) {
                            if was_following {
                                out.push(Command::StopFollow);
                            }
                        } else {
                            let q = input.text.clone();
                            self.warn(format!("'{q}' is not in the loaded part of the log"));
                        }
                    }
                }
                out
            }
            (Prompt::Palette, InputOutcome::Submit) => self.run_palette(&input.text.clone()),
            _ => {
                self.prompt = Some((prompt, input.clone()));
                Vec::new()
            }
        }
    }

    fn set_filter(&mut self, text: &str) {
        match self.screen {
            Screen::Jobs => self.jobs.set_filter(text),
            _ => self.runs.set_filter(text),
        }
    }

    fn run_palette(&mut self, line: &str) -> Vec<Command> {
        match palette::parse(line) {
            Ok(palette::PaletteCmd::Go(screen)) => self.go(screen),
            Ok(palette::PaletteCmd::Action(a)) => self.apply(a),
            Ok(palette::PaletteCmd::Logs(Some(id))) => self.open_logs(id),
            Ok(palette::PaletteCmd::Logs(None)) => self.apply(Action::Logs),
            Ok(palette::PaletteCmd::Details(id)) => self.open_details(id),
            Ok(palette::PaletteCmd::Kill(id)) => self.confirm_kill(id),
            Ok(palette::PaletteCmd::Restart(id)) => vec![Command::Restart(id)],
            Ok(palette::PaletteCmd::Filter(text)) => {
                if !matches!(self.screen, Screen::Runs | Screen::Jobs) {
                    self.go(Screen::Runs);
                }
                self.set_filter(&text);
                Vec::new()
            }
            Ok(palette::PaletteCmd::Nothing) => Vec::new(),
            Err(e) => {
                self.error(e);
                Vec::new()
            }
        }
    }

    fn confirm_kill(&mut self, id: RunId) -> Vec<Command> {
        let what = self.runs.get(id).map_or_else(
            || format!("run {id}"),
            |r| format!("run {id} ({}, {})", r.job_name, r.state_label()),
        );
        self.overlay = Some(Overlay::Confirm {
            prompt: format!("Kill {what}?"),
            yes: Command::Kill(id),
        });
        Vec::new()
    }

    /// Gives an action its meaning on the current screen.
    pub fn apply(&mut self, action: Action) -> Vec<Command> {
        let height = self.body_height();
        let page = height.saturating_sub(1).max(1) as isize;
        match action {
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
            Action::GoLogs => match (&self.logs, self.runs.selected_run().map(|r| r.id)) {
                (Some(_), _) => self.go(Screen::Logs),
                (None, Some(id)) => self.open_logs(id),
                (None, None) => self.go(Screen::Logs),
            },
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
                let mut out = Vec::new();
                if let Some(v) = &mut self.logs {
                    let was_following = v.follow;
                    if v.search.is_none() {
                        self.info("no search: / searches");
                    } else if v.find(action == Action::SearchNext, false, height) {
                        if was_following {
                            out.push(Command::StopFollow);
                        }
                    } else {
                        self.warn("no match in the loaded part of the log");
                    }
                }
                out
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
                    let reqs = v.start_tail(sizes);
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
                if let Some(v) = &mut self.logs {
                    v.toggle_stream();
                    let label = v.show.label();
                    self.info(format!("showing {label}"));
                }
                Vec::new()
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
            Action::SaveLog => match &self.logs {
                Some(v) => {
                    let dir = self
                        .log_settings
                        .save_dir
                        .as_ref()
                        .map_or_else(|| self.cwd.clone(), PathBuf::from);
                    vec![Command::SaveLog {
                        run: v.run,
                        streams: v.show.streams().to_vec(),
                        dir,
                    }]
                }
                None => Vec::new(),
            },
        }
    }

    fn move_by(&mut self, delta: isize) -> Vec<Command> {
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
            Screen::Dashboard => {}
        }
        Vec::new()
    }

    fn yank_text(&self) -> Option<String> {
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
            Screen::Dashboard => None,
        }
    }
}

/// Whether a key is ctrl-c, which always quits even inside prompts.
pub fn is_interrupt(key: &KeyEvent) -> bool {
    key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL)
}
