//! The Ingest screen: ingestions with their state and last run; `enter` opens an
//! ingestion's run history (files, rows, bytes, duration, result) and `enter` on a run its
//! files; `v` shows the schema versions. `s` opens the form to create an ingestion, `e` the
//! same form to edit the selected one; `r` runs it now, `R` retries, `p` pauses or resumes,
//! `ctrl-d` deletes (asking whether to keep the table). Polled every 2 s while shown.
//!
//! State and drawing live here; `App` only routes messages and keys to it, and the shell
//! runs its [`IngestCmd`]s with [`exec`].

use crossterm::event::{KeyCode, KeyEvent};
use harbour_shared::{
    EvolutionMode, IngestFile, IngestPatch, IngestRun, IngestRunState, IngestSpec, IngestTrigger,
    Ingestion, SchemaVersion, SourceFormat, parse_schema, schema_text,
};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Clear, Paragraph, Row, Table};

use super::action::{Action, Screen};
use super::app::{App, Command};
use super::input::LineInput;
use super::theme::Theme;
use super::widgets::{self, Load};
use crate::client::{Client, Flatten as _, ctx};
use crate::fmt;

/// How often the screen refetches while shown.
pub const POLL_MS: i64 = 2_000;

/// What the screen asks the shell for.
#[derive(Debug, Clone, PartialEq)]
pub enum IngestCmd {
    List,
    Runs(String),
    Files(i64),
    Schemas(String),
    Create(Box<IngestSpec>),
    Update(String, Box<IngestPatch>),
    Run(String),
    Retry(String),
    Pause(String, bool),
    Delete { name: String, keep_table: bool },
}

/// What came back.
#[derive(Debug, Clone)]
pub enum IngestMsg {
    List(Result<Vec<Ingestion>, String>),
    Runs(String, Result<Vec<IngestRun>, String>),
    Files(i64, Result<Vec<IngestFile>, String>),
    Schemas(String, Result<Vec<SchemaVersion>, String>),
    /// An action finished: what to tell the user (or why it failed).
    Done(Result<String, String>),
    /// The form was refused by the daemon: it stays open with the message.
    FormRefused(String),
}

/// Runs a command against the daemon. Called by the shell on its own task.
pub async fn exec(client: &Client, cmd: IngestCmd) -> IngestMsg {
    let e = |e: crate::client::ClientError| e.to_string();
    let rpc = &client.rpc;
    match cmd {
        IngestCmd::List => IngestMsg::List(rpc.list_ingestions(ctx()).await.flat().map_err(e)),
        IngestCmd::Runs(name) => {
            let r = rpc.ingestion_runs(ctx(), name.clone(), 100).await.flat();
            IngestMsg::Runs(name, r.map_err(e))
        }
        IngestCmd::Files(id) => IngestMsg::Files(
            id,
            rpc.ingestion_run_files(ctx(), id).await.flat().map_err(e),
        ),
        IngestCmd::Schemas(name) => {
            let r = rpc.ingestion_schemas(ctx(), name.clone()).await.flat();
            IngestMsg::Schemas(name, r.map_err(e))
        }
        IngestCmd::Create(spec) => match rpc.create_ingestion(ctx(), *spec).await.flat() {
            Ok(i) => IngestMsg::Done(Ok(format!("created ingestion {}", i.spec.name))),
            Err(err) => IngestMsg::FormRefused(e(err)),
        },
        IngestCmd::Update(name, patch) => {
            match rpc.update_ingestion(ctx(), name, *patch).await.flat() {
                Ok(i) => IngestMsg::Done(Ok(format!("updated ingestion {}", i.spec.name))),
                Err(err) => IngestMsg::FormRefused(e(err)),
            }
        }
        IngestCmd::Run(name) => IngestMsg::Done(
            rpc.run_ingestion(ctx(), name)
                .await
                .flat()
                .map(|run| format!("ingest run {} of {}: {}", run.id, run.ingestion, run.state))
                .map_err(e),
        ),
        IngestCmd::Retry(name) => IngestMsg::Done(
            rpc.retry_ingestion(ctx(), name)
                .await
                .flat()
                .map(|run| {
                    format!(
                        "retry: ingest run {} of {}: {}",
                        run.id, run.ingestion, run.state
                    )
                })
                .map_err(e),
        ),
        IngestCmd::Pause(name, paused) => IngestMsg::Done(
            rpc.set_ingestion_paused(ctx(), name, paused)
                .await
                .flat()
                .map(|i| {
                    format!(
                        "{} {}",
                        if i.paused { "paused" } else { "resumed" },
                        i.spec.name
                    )
                })
                .map_err(e),
        ),
        IngestCmd::Delete { name, keep_table } => IngestMsg::Done(
            rpc.delete_ingestion(ctx(), name, keep_table)
                .await
                .flat()
                .map(|i| {
                    if keep_table {
                        format!(
                            "deleted {}; table {} kept",
                            i.spec.name, i.spec.target_table
                        )
                    } else {
                        format!("deleted {} and table {}", i.spec.name, i.spec.target_table)
                    }
                })
                .map_err(e),
        ),
    }
}

/// Which part of the screen is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    List,
    Runs { name: String },
    Files { name: String, run: i64 },
    Schemas { name: String },
}

/// A list that is loaded on demand.
#[derive(Debug, Clone)]
pub struct Part<T> {
    pub load: Load,
    pub items: Vec<T>,
    pub selected: usize,
}

impl<T> Default for Part<T> {
    fn default() -> Self {
        Self {
            load: Load::Loading,
            items: Vec::new(),
            selected: 0,
        }
    }
}

impl<T> Part<T> {
    fn set(&mut self, r: Result<Vec<T>, String>) {
        match r {
            Ok(items) => {
                self.items = items;
                self.load = Load::Loaded;
                self.selected = self.selected.min(self.items.len().saturating_sub(1));
            }
            Err(e) => self.load = Load::Failed(e),
        }
    }

    fn move_by(&mut self, delta: isize) {
        let max = self.items.len().saturating_sub(1);
        self.selected = self.selected.saturating_add_signed(delta).min(max);
    }
}

/// The fields of the create/edit form, in order.
pub const FORM_FIELDS: [&str; 10] = [
    "name",
    "source dir",
    "glob",
    "format",
    "table",
    "schema",
    "hints",
    "evolution",
    "trigger",
    "options",
];

/// The create/edit form: one line per field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    /// `Some(name)` when editing that ingestion.
    pub editing: Option<String>,
    pub values: Vec<LineInput>,
    pub field: usize,
    pub error: Option<String>,
}

impl Form {
    pub fn new() -> Self {
        let mut values: Vec<LineInput> = FORM_FIELDS.iter().map(|_| LineInput::new("")).collect();
        values[3] = LineInput::new("csv");
        values[7] = LineInput::new("addNewColumns");
        values[8] = LineInput::new("manual");
        Self {
            editing: None,
            values,
            field: 0,
            error: None,
        }
    }

    pub fn edit(i: &Ingestion) -> Self {
        let s = &i.spec;
        let texts = [
            s.name.clone(),
            s.source_dir.clone(),
            s.glob.clone(),
            s.format.to_string(),
            s.target_table.clone(),
            s.schema.as_deref().map(schema_text).unwrap_or_default(),
            schema_text(&s.schema_hints),
            s.evolution.to_string(),
            trigger_text(&s.trigger),
            s.options
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
        ];
        Self {
            editing: Some(s.name.clone()),
            values: texts.iter().map(|t| LineInput::new(t)).collect(),
            // Name, source, format and table are fixed once created.
            field: 2,
            error: None,
        }
    }

    fn fixed(&self, field: usize) -> bool {
        self.editing.is_some() && matches!(field, 0 | 1 | 3 | 4)
    }

    fn text(&self, i: usize) -> &str {
        self.values[i].text.trim()
    }

    /// The command the form stands for, or what is wrong with it.
    pub fn command(&self) -> Result<IngestCmd, String> {
        let schema = match self.text(5) {
            "" => None,
            t => Some(parse_schema(t).map_err(|e| e.to_string())?),
        };
        let hints = parse_schema(self.text(6)).map_err(|e| e.to_string())?;
        let evolution: EvolutionMode = self
            .text(7)
            .parse()
            .map_err(|e: harbour_shared::Error| e.to_string())?;
        let trigger = parse_trigger(self.text(8))?;
        let mut options = Vec::new();
        for word in self.text(9).split_whitespace() {
            let (k, v) = word
                .split_once('=')
                .ok_or_else(|| format!("option '{word}' has no '='; write KEY=VALUE"))?;
            options.push((k.to_owned(), v.to_owned()));
        }
        if let Some(name) = &self.editing {
            let patch = IngestPatch {
                glob: Some(self.text(2).to_owned()),
                options: Some(options),
                schema,
                schema_hints: Some(hints),
                evolution: Some(evolution),
                trigger: Some(trigger),
                ..IngestPatch::default()
            };
            return Ok(IngestCmd::Update(name.clone(), Box::new(patch)));
        }
        let name = self.text(0);
        if name.is_empty() {
            return Err("give the ingestion a name".into());
        }
        if self.text(1).is_empty() {
            return Err("give the source directory files arrive in".into());
        }
        let format: SourceFormat = self
            .text(3)
            .parse()
            .map_err(|e: harbour_shared::Error| e.to_string())?;
        let table = match self.text(4) {
            "" => name.replace('-', "_"),
            t => t.to_owned(),
        };
        let mut spec = IngestSpec::new(name, self.text(1), format, &table);
        spec.glob = self.text(2).to_owned();
        spec.schema = schema;
        spec.schema_hints = hints;
        spec.evolution = evolution;
        spec.trigger = trigger;
        spec.options = options;
        Ok(IngestCmd::Create(Box::new(spec)))
    }
}

impl Default for Form {
    fn default() -> Self {
        Self::new()
    }
}

/// `manual`, `every 5m`, `cron */15 * * * *`.
pub fn parse_trigger(text: &str) -> Result<IngestTrigger, String> {
    let text = text.trim();
    if text.is_empty() || text == "manual" {
        return Ok(IngestTrigger::Manual);
    }
    if let Some(span) = text.strip_prefix("every ") {
        let span = span.trim();
        let split = span
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(span.len());
        let (n, unit) = span.split_at(split);
        let n: u64 = n
            .parse()
            .map_err(|_| format!("'{span}' is not a span like 5m"))?;
        let scale = match unit {
            "" | "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(format!("'{span}' is not a span like 90s, 5m, 2h")),
        };
        return Ok(IngestTrigger::Every { secs: n * scale });
    }
    if let Some(expr) = text.strip_prefix("cron ") {
        return Ok(IngestTrigger::Cron(expr.trim().to_owned()));
    }
    Err(format!(
        "'{text}' is not a trigger; write manual, every 5m or cron */15 * * * *"
    ))
}

fn trigger_text(t: &IngestTrigger) -> String {
    match t {
        IngestTrigger::Manual => "manual".into(),
        IngestTrigger::Every { secs } => format!("every {secs}s"),
        IngestTrigger::Cron(expr) => format!("cron {expr}"),
    }
}

#[derive(Debug, Clone, Default)]
pub struct IngestState {
    pub list: Part<Ingestion>,
    pub runs: Part<IngestRun>,
    pub files: Part<IngestFile>,
    pub schemas: Part<SchemaVersion>,
    pub view: Option<View>,
    pub form: Option<Form>,
    /// A delete waiting for its answer: keep the table (k), drop it (d), or cancel.
    pub deleting: Option<String>,
    pub fetched_ms: i64,
}

/// What a key on the screen came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Cmds(Vec<IngestCmd>),
    /// Not ours: the app's own meaning applies.
    NotConsumed,
}

impl IngestState {
    pub fn view(&self) -> View {
        self.view.clone().unwrap_or(View::List)
    }

    pub fn selected(&self) -> Option<&Ingestion> {
        self.list.items.get(self.list.selected)
    }

    /// What to fetch for the current view.
    pub fn refresh(&mut self, now_ms: i64) -> Vec<IngestCmd> {
        self.fetched_ms = now_ms;
        match self.view() {
            View::List => vec![IngestCmd::List],
            View::Runs { name } => vec![IngestCmd::List, IngestCmd::Runs(name)],
            View::Files { run, .. } => vec![IngestCmd::Files(run)],
            View::Schemas { name } => vec![IngestCmd::Schemas(name)],
        }
    }

    /// Refetches when the last fetch is older than the poll interval.
    pub fn tick(&mut self, now_ms: i64) -> Vec<IngestCmd> {
        if now_ms - self.fetched_ms >= POLL_MS {
            self.refresh(now_ms)
        } else {
            Vec::new()
        }
    }

    /// Takes an answer; returns a message for the status line, if any (`Err` for errors).
    pub fn on_msg(&mut self, msg: IngestMsg) -> (Option<Result<String, String>>, Vec<IngestCmd>) {
        match msg {
            IngestMsg::List(r) => self.list.set(r),
            IngestMsg::Runs(name, r) => {
                if matches!(self.view(), View::Runs { name: n } if n == name) {
                    self.runs.set(r);
                }
            }
            IngestMsg::Files(id, r) => {
                if matches!(self.view(), View::Files { run, .. } if run == id) {
                    self.files.set(r);
                }
            }
            IngestMsg::Schemas(name, r) => {
                if matches!(self.view(), View::Schemas { name: n } if n == name) {
                    self.schemas.set(r);
                }
            }
            IngestMsg::Done(r) => {
                return (Some(r), self.refresh(self.fetched_ms));
            }
            IngestMsg::FormRefused(why) => match &mut self.form {
                Some(form) => form.error = Some(why),
                None => return (Some(Err(why)), Vec::new()),
            },
        }
        (None, Vec::new())
    }

    fn open(&mut self, view: View) -> Vec<IngestCmd> {
        match &view {
            View::Runs { .. } => self.runs = Part::default(),
            View::Files { .. } => self.files = Part::default(),
            View::Schemas { .. } => self.schemas = Part::default(),
            View::List => {}
        }
        self.view = Some(view);
        self.refresh(self.fetched_ms)
    }

    /// An action on the screen.
    pub fn apply(&mut self, action: Action) -> Outcome {
        let name = self.selected().map(|i| i.spec.name.clone());
        let view = self.view();
        let cmds = match (action, &view) {
            (Action::Up | Action::Down | Action::PageUp | Action::PageDown, _) => {
                let delta = match action {
                    Action::Up => -1,
                    Action::Down => 1,
                    Action::PageUp => -10,
                    _ => 10,
                };
                match self.view() {
                    View::List => self.list.move_by(delta),
                    View::Runs { .. } => self.runs.move_by(delta),
                    View::Files { .. } => self.files.move_by(delta),
                    View::Schemas { .. } => self.schemas.move_by(delta),
                }
                Vec::new()
            }
            (Action::Select | Action::Right, View::List) => match name {
                Some(name) => self.open(View::Runs { name }),
                None => Vec::new(),
            },
            (Action::Select | Action::Right, View::Runs { name }) => {
                match self.runs.items.get(self.runs.selected).map(|r| r.id) {
                    Some(run) => self.open(View::Files {
                        name: name.clone(),
                        run,
                    }),
                    None => Vec::new(),
                }
            }
            (Action::Back | Action::Left, View::Files { name, .. }) => {
                self.open(View::Runs { name: name.clone() })
            }
            (Action::Back | Action::Left, View::Runs { .. } | View::Schemas { .. }) => {
                self.open(View::List)
            }
            (Action::Refresh, _) => self.refresh(self.fetched_ms),
            (Action::Submit, View::List) => {
                self.form = Some(Form::new());
                Vec::new()
            }
            (Action::Edit, View::List) => {
                if let Some(i) = self.selected() {
                    self.form = Some(Form::edit(i));
                }
                Vec::new()
            }
            (Action::Schemas, View::List | View::Runs { .. }) => match self.current_name() {
                Some(name) => self.open(View::Schemas { name }),
                None => Vec::new(),
            },
            (Action::RunJob, _) => self
                .current_name()
                .map(IngestCmd::Run)
                .into_iter()
                .collect(),
            (Action::Restart, _) => self
                .current_name()
                .map(IngestCmd::Retry)
                .into_iter()
                .collect(),
            (Action::TogglePause, View::List) => match self.selected() {
                Some(i) => vec![IngestCmd::Pause(i.spec.name.clone(), !i.paused)],
                None => Vec::new(),
            },
            (Action::Delete, View::List) => {
                self.deleting = name;
                Vec::new()
            }
            _ => return Outcome::NotConsumed,
        };
        Outcome::Cmds(cmds)
    }

    fn current_name(&self) -> Option<String> {
        match self.view() {
            View::List => self.selected().map(|i| i.spec.name.clone()),
            View::Runs { name } | View::Files { name, .. } | View::Schemas { name } => Some(name),
        }
    }

    /// Keys while the form or the delete question is open; `None` when neither is.
    pub fn on_modal_key(&mut self, key: &KeyEvent) -> Option<Vec<IngestCmd>> {
        if let Some(name) = self.deleting.take() {
            return Some(match key.code {
                KeyCode::Char('k') => vec![IngestCmd::Delete {
                    name,
                    keep_table: true,
                }],
                KeyCode::Char('d') => vec![IngestCmd::Delete {
                    name,
                    keep_table: false,
                }],
                KeyCode::Esc | KeyCode::Char('n' | 'q') => Vec::new(),
                _ => {
                    self.deleting = Some(name);
                    Vec::new()
                }
            });
        }
        let form = self.form.as_mut()?;
        match key.code {
            KeyCode::Esc => self.form = None,
            KeyCode::Tab | KeyCode::Down => {
                form.field = next_field(form, 1);
            }
            KeyCode::BackTab | KeyCode::Up => {
                form.field = next_field(form, -1);
            }
            KeyCode::Enter => match form.command() {
                Ok(cmd) => {
                    form.error = None;
                    return Some(vec![cmd]);
                }
                Err(why) => form.error = Some(why),
            },
            _ => {
                let field = form.field;
                if !form.fixed(field) {
                    let _ = form.values[field].handle(key);
                }
            }
        }
        Some(Vec::new())
    }

    /// The form closes once the daemon accepted it.
    pub fn form_accepted(&mut self) {
        self.form = None;
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme, now_ms: i64) {
        match self.view() {
            View::List => self.render_list(frame, area, theme, now_ms),
            View::Runs { name } => self.render_runs(frame, area, theme, &name, now_ms),
            View::Files { name, run } => self.render_files(frame, area, theme, &name, run),
            View::Schemas { name } => self.render_schemas(frame, area, theme, &name),
        }
        if let Some(form) = &self.form {
            render_form(frame, area, theme, form);
        }
        if let Some(name) = &self.deleting {
            let text = format!(
                "Delete ingestion {name}?\n\nk  delete it, keep the table and its files\nd  \
                 delete it and drop the table with its files\nesc  cancel"
            );
            let rect = widgets::centered(area, 60, 8);
            frame.render_widget(Clear, rect);
            let block = widgets::block(theme, " Delete ");
            let inner = block.inner(rect);
            frame.render_widget(block, rect);
            frame.render_widget(Paragraph::new(text), inner);
        }
    }

    fn render_list(&self, frame: &mut Frame, area: Rect, theme: &Theme, now_ms: i64) {
        let title = format!(" Ingest ({}) ", self.list.items.len());
        let Some(inner) =
            widgets::list_frame(frame, area, theme, title, &self.list.load, "ingestions")
        else {
            return;
        };
        if self.list.items.is_empty() {
            widgets::message(
                frame,
                inner,
                "no ingestions yet\ns defines one (or `harbour ingest create`)",
                theme.get("dim"),
            );
            return;
        }
        let header = header(
            theme,
            &[
                "NAME", "STATE", "FORMAT", "TABLE", "TRIGGER", "LAST RUN", "TOOK", "FILES", "ROWS",
            ],
        );
        let rows = self.list.items.iter().enumerate().map(|(i, ing)| {
            let last = ing.last_run.as_ref();
            let state = ing.state_label();
            let row = Row::new(vec![
                Cell::from(ing.spec.name.clone()),
                Cell::from(Span::styled(state, state_style(theme, state))),
                Cell::from(ing.spec.format.as_str()),
                Cell::from(ing.spec.target_table.clone()),
                Cell::from(trigger_text(&ing.spec.trigger)),
                Cell::from(last.map_or_else(|| "-".into(), |r| r.state.to_string())),
                Cell::from(
                    last.map_or_else(|| "-".into(), |r| fmt::duration_ms(r.duration_ms(now_ms))),
                ),
                Cell::from(ing.files_total.to_string()),
                Cell::from(ing.rows_total.to_string()),
            ]);
            selected_row(row, i == self.list.selected, theme)
        });
        let widths = [
            Constraint::Min(10),
            Constraint::Length(8),
            Constraint::Length(7),
            Constraint::Length(12),
            Constraint::Length(12),
            Constraint::Length(12),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(8),
        ];
        let selected_top = widgets::scroll_top(
            0,
            self.list.selected,
            inner.height.saturating_sub(1) as usize,
            self.list.items.len(),
        );
        let rows: Vec<Row> = rows.skip(selected_top).collect();
        frame.render_widget(
            Table::new(rows, widths).header(header).column_spacing(1),
            inner,
        );
    }

    fn render_runs(&self, frame: &mut Frame, area: Rect, theme: &Theme, name: &str, now_ms: i64) {
        let title = format!(" Ingest › {name} › runs ({}) ", self.runs.items.len());
        let Some(inner) = widgets::list_frame(frame, area, theme, title, &self.runs.load, "runs")
        else {
            return;
        };
        let [summary, body] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
        if let Some(i) = self.list.items.iter().find(|i| i.spec.name == name) {
            let line = format!(
                "{} → {}  {}  schema v{}  {} files, {} rows",
                i.spec.source_dir,
                i.spec.target_table,
                i.spec.evolution,
                fmt::or_dash(i.schema_version),
                i.files_total,
                i.rows_total
            );
            frame.render_widget(
                Paragraph::new(Span::styled(line, theme.get("dim"))),
                summary,
            );
        }
        if self.runs.items.is_empty() {
            widgets::message(frame, body, "no runs yet\nr runs it now", theme.get("dim"));
            return;
        }
        let header = header(
            theme,
            &[
                "ID", "RESULT", "STARTED", "TOOK", "FILES", "ROWS", "BYTES", "BAD", "RESC",
                "MESSAGE",
            ],
        );
        let top = widgets::scroll_top(
            0,
            self.runs.selected,
            body.height.saturating_sub(1) as usize,
            self.runs.items.len(),
        );
        let rows: Vec<Row> = self
            .runs
            .items
            .iter()
            .enumerate()
            .skip(top)
            .map(|(i, r)| {
                let row = Row::new(vec![
                    Cell::from(r.id.to_string()),
                    Cell::from(Span::styled(r.state.as_str(), run_style(theme, r.state))),
                    Cell::from(short_time(r.started_ms)),
                    Cell::from(fmt::duration_ms(r.duration_ms(now_ms))),
                    Cell::from(r.files.to_string()),
                    Cell::from(r.rows.to_string()),
                    Cell::from(fmt::bytes(r.bytes)),
                    Cell::from(r.malformed_rows.to_string()),
                    Cell::from(r.rescued_rows.to_string()),
                    Cell::from(r.message.clone()),
                ]);
                selected_row(row, i == self.runs.selected, theme)
            })
            .collect();
        let widths = [
            Constraint::Length(4),
            Constraint::Length(12),
            Constraint::Length(11),
            Constraint::Length(6),
            Constraint::Length(5),
            Constraint::Length(7),
            Constraint::Length(8),
            Constraint::Length(3),
            Constraint::Length(4),
            Constraint::Min(10),
        ];
        frame.render_widget(
            Table::new(rows, widths).header(header).column_spacing(1),
            body,
        );
    }

    fn render_files(&self, frame: &mut Frame, area: Rect, theme: &Theme, name: &str, run: i64) {
        let title = format!(
            " Ingest › {name} › run {run} › files ({}) ",
            self.files.items.len()
        );
        let Some(inner) = widgets::list_frame(frame, area, theme, title, &self.files.load, "files")
        else {
            return;
        };
        if self.files.items.is_empty() {
            widgets::message(frame, inner, "this run took no files", theme.get("dim"));
            return;
        }
        let header = header(theme, &["BATCH", "BYTES", "MODIFIED", "PATH"]);
        let top = widgets::scroll_top(
            0,
            self.files.selected,
            inner.height.saturating_sub(1) as usize,
            self.files.items.len(),
        );
        let rows: Vec<Row> = self
            .files
            .items
            .iter()
            .enumerate()
            .skip(top)
            .map(|(i, f)| {
                let row = Row::new(vec![
                    Cell::from(f.batch_id.to_string()),
                    Cell::from(fmt::bytes(f.bytes)),
                    Cell::from(short_time(f.modified_ms)),
                    Cell::from(f.path.clone()),
                ]);
                selected_row(row, i == self.files.selected, theme)
            })
            .collect();
        let widths = [
            Constraint::Length(5),
            Constraint::Length(9),
            Constraint::Length(11),
            Constraint::Min(10),
        ];
        frame.render_widget(
            Table::new(rows, widths).header(header).column_spacing(1),
            inner,
        );
    }

    fn render_schemas(&self, frame: &mut Frame, area: Rect, theme: &Theme, name: &str) {
        let title = format!(
            " Ingest › {name} › schema versions ({}) ",
            self.schemas.items.len()
        );
        let Some(inner) = widgets::list_frame(
            frame,
            area,
            theme,
            title,
            &self.schemas.load,
            "schema versions",
        ) else {
            return;
        };
        if self.schemas.items.is_empty() {
            widgets::message(
                frame,
                inner,
                "no schema yet: the first run infers it",
                theme.get("dim"),
            );
            return;
        }
        let mut lines = Vec::new();
        for v in self.schemas.items.iter().rev() {
            lines.push(Line::from(vec![
                Span::styled(format!("v{}  ", v.version), theme.get("title")),
                Span::styled(short_time(v.created_ms), theme.get("dim")),
                Span::raw(format!("  {}", v.change)),
            ]));
            for f in &v.fields {
                lines.push(Line::from(format!("    {:<24} {}", f.name, f.data_type)));
            }
        }
        frame.render_widget(
            Paragraph::new(lines).scroll((u16::try_from(self.schemas.selected).unwrap_or(0), 0)),
            inner,
        );
    }
}

/// `MM-DD hh:mm` in local time: enough to tell runs apart in a narrow column.
fn short_time(ms: i64) -> String {
    let full = fmt::local_time(ms);
    full.get(5..16).map_or(full.clone(), str::to_owned)
}

fn next_field(form: &Form, step: isize) -> usize {
    let n = FORM_FIELDS.len();
    let mut f = form.field;
    for _ in 0..n {
        f = (f as isize + step).rem_euclid(n as isize) as usize;
        if !form.fixed(f) {
            break;
        }
    }
    f
}

fn header<'a>(theme: &Theme, names: &[&'a str]) -> Row<'a> {
    Row::new(
        names
            .iter()
            .map(|h| Cell::from(Span::styled(*h, theme.get("column-header"))))
            .collect::<Vec<_>>(),
    )
}

fn selected_row<'a>(row: Row<'a>, selected: bool, theme: &Theme) -> Row<'a> {
    if selected {
        row.style(theme.get("selected"))
    } else {
        row
    }
}

fn state_style(theme: &Theme, state: &str) -> ratatui::style::Style {
    match state {
        "running" => theme.get("state-running"),
        "failing" => theme.get("state-failed"),
        "paused" => theme.get("status-warn"),
        _ => theme.get("state-succeeded"),
    }
}

fn run_style(theme: &Theme, state: IngestRunState) -> ratatui::style::Style {
    match state {
        IngestRunState::Running => theme.get("state-running"),
        IngestRunState::Succeeded | IngestRunState::NoNewFiles => theme.get("state-succeeded"),
        IngestRunState::Failed => theme.get("state-failed"),
        IngestRunState::Cancelled => theme.get("state-cancelled"),
    }
}

fn render_form(frame: &mut Frame, area: Rect, theme: &Theme, form: &Form) {
    let height = u16::try_from(FORM_FIELDS.len()).unwrap_or(10) + 5;
    let rect = widgets::centered(area, 76, height);
    frame.render_widget(Clear, rect);
    let title = match &form.editing {
        Some(name) => format!(" Edit ingestion {name} "),
        None => " New ingestion ".to_owned(),
    };
    let block = widgets::block(theme, title);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let mut lines = Vec::new();
    for (i, label) in FORM_FIELDS.iter().enumerate() {
        let style = if i == form.field {
            theme.get("selected")
        } else if form.fixed(i) {
            theme.get("dim")
        } else {
            ratatui::style::Style::default()
        };
        let width = usize::from(inner.width.saturating_sub(14));
        lines.push(Line::from(vec![
            Span::styled(format!("{label:>11}  "), theme.get("column-header")),
            Span::styled(widgets::ellipsize(&form.values[i].text, width), style),
        ]));
    }
    lines.push(Line::from(""));
    match &form.error {
        Some(e) => lines.push(Line::from(Span::styled(
            e.clone(),
            theme.get("status-error"),
        ))),
        None => lines.push(Line::from(Span::styled(
            "tab field  enter save  esc cancel  trigger: manual|every 5m|cron EXPR",
            theme.get("dim"),
        ))),
    }
    frame.render_widget(
        Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: false }),
        inner,
    );
}

// --- The app's side: routing messages, keys and ticks to the screen ---------------------

impl App {
    fn ingest_cmds(cmds: Vec<IngestCmd>) -> Vec<Command> {
        cmds.into_iter().map(Command::Ingest).collect()
    }

    pub(super) fn ingest_refresh(&mut self) -> Vec<Command> {
        let now = self.now_ms;
        Self::ingest_cmds(self.ingest.refresh(now))
    }

    pub(super) fn ingest_tick(&mut self) -> Vec<Command> {
        if self.screen != Screen::Ingest || !self.connected() {
            return Vec::new();
        }
        let now = self.now_ms;
        Self::ingest_cmds(self.ingest.tick(now))
    }

    pub(super) fn ingest_msg(&mut self, msg: IngestMsg) -> Vec<Command> {
        let accepted = matches!(msg, IngestMsg::Done(Ok(_))) && self.ingest.form.is_some();
        let (status, cmds) = self.ingest.on_msg(msg);
        if accepted {
            self.ingest.form_accepted();
        }
        match status {
            Some(Ok(text)) => self.info(text),
            Some(Err(text)) => self.error(text),
            None => {}
        }
        Self::ingest_cmds(cmds)
    }

    pub(super) fn ingest_apply(&mut self, action: Action) -> Option<Vec<Command>> {
        match self.ingest.apply(action) {
            Outcome::Cmds(cmds) => Some(Self::ingest_cmds(cmds)),
            Outcome::NotConsumed => None,
        }
    }

    pub(super) fn ingest_modal_key(&mut self, key: &KeyEvent) -> Option<Vec<Command>> {
        self.ingest.on_modal_key(key).map(Self::ingest_cmds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use harbour_shared::{IngestRunTrigger, SchemaField};

    use crate::tui::app::Msg;

    use crate::tui::tests::{app, code, draw, key};

    macro_rules! snap {
        ($name:expr, $text:expr) => {
            insta::with_settings!({
                filters => vec![
                    (r"\b\d\d-\d\d \d\d:\d\d\b", "MM-DD hh:mm"),
                ],
                prepend_module_to_snapshot => false,
            }, {
                insta::assert_snapshot!($name, $text);
            });
        };
    }

    fn run(id: i64, state: IngestRunState, files: u64, rows: u64, message: &str) -> IngestRun {
        IngestRun {
            id,
            ingestion: "orders".into(),
            run_id: (state != IngestRunState::NoNewFiles).then_some(harbour_shared::RunId(id + 10)),
            trigger: IngestRunTrigger::Manual,
            state,
            started_ms: 1_000_000 + id * 1000,
            ended_ms: (state != IngestRunState::Running).then_some(1_000_000 + id * 1000 + 15_500),
            batches: 1,
            files,
            rows,
            bytes: files * 2_500_000,
            malformed_rows: u64::from(id == 2),
            rescued_rows: u64::from(id == 3) * 4,
            schema_version: Some(1),
            message: message.into(),
        }
    }

    fn ingestions() -> Vec<Ingestion> {
        let mut orders = IngestSpec::new("orders", "/data/in/orders", SourceFormat::Csv, "orders");
        orders.trigger = IngestTrigger::Every { secs: 300 };
        let mut events = IngestSpec::new("events", "/data/in/events", SourceFormat::Json, "events");
        events.evolution = EvolutionMode::Rescue;
        let view = |id, spec: IngestSpec, paused, last: Option<IngestRun>| Ingestion {
            id,
            target_path: format!("/var/lib/harbour/tables/{}", spec.target_table),
            spec,
            paused,
            created_ms: 1_000_000,
            updated_ms: 1_000_000,
            next_fire_ms: None,
            last_run: last,
            schema_version: Some(2),
            files_total: 41,
            rows_total: 120_345,
        };
        vec![
            view(
                1,
                orders,
                false,
                Some(run(
                    3,
                    IngestRunState::Succeeded,
                    3,
                    4000,
                    "committed 4000 row(s)",
                )),
            ),
            view(
                2,
                events,
                true,
                Some(run(
                    4,
                    IngestRunState::Failed,
                    0,
                    0,
                    "new column(s) channel",
                )),
            ),
        ]
    }

    fn loaded() -> App {
        let mut a = app();
        a.update(key('0'));
        a.update(Msg::Ingest(IngestMsg::List(Ok(ingestions()))));
        a
    }

    #[test]
    fn the_screen_loads_lists_and_drills_into_runs_files_and_schemas() {
        let mut a = app();
        let cmds = a.update(key('0'));
        assert_eq!(a.screen, Screen::Ingest);
        assert_eq!(cmds, [Command::Ingest(IngestCmd::List)]);
        snap!("ingest_loading_80x24", draw(&a, 80, 24));
        a.update(Msg::Ingest(IngestMsg::List(Ok(Vec::new()))));
        snap!("ingest_empty_80x24", draw(&a, 80, 24));
        a.update(Msg::Ingest(IngestMsg::List(Err(
            "harbourd unavailable".into()
        ))));
        snap!("ingest_error_80x24", draw(&a, 80, 24));

        let mut a = loaded();
        snap!("ingest_list_80x24", draw(&a, 80, 24));
        snap!("ingest_list_140x30", draw(&a, 140, 30));
        let cmds = a.update(code(KeyCode::Enter));
        assert!(cmds.contains(&Command::Ingest(IngestCmd::Runs("orders".into()))));
        a.update(Msg::Ingest(IngestMsg::Runs(
            "orders".into(),
            Ok(vec![
                run(
                    3,
                    IngestRunState::Succeeded,
                    3,
                    4000,
                    "committed 4000 row(s)",
                ),
                run(
                    2,
                    IngestRunState::NoNewFiles,
                    0,
                    0,
                    "no new files in /data/in/orders (2 ingested before); Spark was not started",
                ),
                run(
                    1,
                    IngestRunState::Succeeded,
                    2,
                    116_345,
                    "committed 116345 row(s)",
                ),
            ]),
        )));
        snap!("ingest_runs_80x24", draw(&a, 80, 24));
        snap!("ingest_runs_140x30", draw(&a, 140, 30));
        let cmds = a.update(code(KeyCode::Enter));
        assert_eq!(cmds, [Command::Ingest(IngestCmd::Files(3))]);
        a.update(Msg::Ingest(IngestMsg::Files(
            3,
            Ok((0..3)
                .map(|n| IngestFile {
                    path: format!("/data/in/orders/part-{n}.csv"),
                    bytes: 2_500_000,
                    modified_ms: 1_000_000,
                    batch_id: 4,
                    ingest_run: 3,
                })
                .collect()),
        )));
        snap!("ingest_files_80x24", draw(&a, 80, 24));
        a.update(code(KeyCode::Esc));
        assert!(matches!(a.ingest.view(), View::Runs { .. }));
        let cmds = a.update(key('v'));
        assert_eq!(cmds, [Command::Ingest(IngestCmd::Schemas("orders".into()))]);
        let field = |n: &str, t: &str| SchemaField {
            name: n.into(),
            data_type: t.into(),
        };
        a.update(Msg::Ingest(IngestMsg::Schemas(
            "orders".into(),
            Ok(vec![
                SchemaVersion {
                    version: 1,
                    fields: vec![field("id", "int"), field("amount", "double")],
                    created_ms: 1_000_000,
                    ingest_run: Some(1),
                    change: "inferred from 2 file(s)".into(),
                },
                SchemaVersion {
                    version: 2,
                    fields: vec![
                        field("id", "int"),
                        field("amount", "double"),
                        field("channel", "string"),
                    ],
                    created_ms: 1_003_000,
                    ingest_run: Some(3),
                    change: "added channel string".into(),
                },
            ]),
        )));
        snap!("ingest_schemas_80x24", draw(&a, 80, 24));
        a.update(code(KeyCode::Esc));
        assert_eq!(a.ingest.view(), View::List);
        assert_eq!(
            a.screen,
            Screen::Ingest,
            "esc walks back within the screen first"
        );
    }

    #[test]
    fn run_retry_pause_and_delete_ask_the_daemon() {
        let mut a = loaded();
        assert_eq!(
            a.update(key('r')),
            [Command::Ingest(IngestCmd::Run("orders".into()))]
        );
        assert_eq!(
            a.update(key('R')),
            [Command::Ingest(IngestCmd::Retry("orders".into()))]
        );
        assert_eq!(
            a.update(key('p')),
            [Command::Ingest(IngestCmd::Pause("orders".into(), true))]
        );
        a.update(key('j'));
        assert_eq!(
            a.update(key('p')),
            [Command::Ingest(IngestCmd::Pause("events".into(), false))],
            "a paused one resumes"
        );
        let ctrl_d = Msg::Key(KeyEvent::new(
            KeyCode::Char('d'),
            crossterm::event::KeyModifiers::CONTROL,
        ));
        assert!(a.update(ctrl_d).is_empty(), "delete asks first");
        snap!("ingest_delete_80x24", draw(&a, 80, 24));
        assert!(
            a.update(key('x')).is_empty(),
            "other keys keep the question"
        );
        assert_eq!(
            a.update(key('k')),
            [Command::Ingest(IngestCmd::Delete {
                name: "events".into(),
                keep_table: true
            })]
        );
        let cmds = a.update(Msg::Ingest(IngestMsg::Done(Ok(
            "deleted events; table events kept".into(),
        ))));
        assert_eq!(cmds, [Command::Ingest(IngestCmd::List)]);
    }

    #[test]
    fn the_form_creates_and_edits() {
        let mut a = loaded();
        a.update(key('s'));
        snap!("ingest_form_80x24", draw(&a, 80, 24));
        for c in "clicks".chars() {
            a.update(key(c));
        }
        a.update(code(KeyCode::Tab));
        for c in "/data/in/clicks".chars() {
            a.update(key(c));
        }
        let cmds = a.update(code(KeyCode::Enter));
        let [Command::Ingest(IngestCmd::Create(spec))] = cmds.as_slice() else {
            panic!("a create: {cmds:?}");
        };
        assert_eq!(
            (spec.name.as_str(), spec.source_dir.as_str()),
            ("clicks", "/data/in/clicks")
        );
        a.update(Msg::Ingest(IngestMsg::FormRefused(
            "invalid source_dir: /data/in/clicks does not exist".into(),
        )));
        assert!(
            a.ingest.form.as_ref().unwrap().error.is_some(),
            "a refusal keeps the form open"
        );
        snap!("ingest_form_refused_80x24", draw(&a, 80, 24));
        a.update(Msg::Ingest(IngestMsg::Done(Ok(
            "created ingestion clicks".into()
        ))));
        assert!(a.ingest.form.is_none(), "accepted: the form closes");

        // Edit: name, source, format and table are fixed; the rest becomes a patch.
        a.update(key('e'));
        let form = a.ingest.form.as_ref().unwrap();
        assert_eq!(form.editing.as_deref(), Some("orders"));
        assert_eq!(form.field, 2, "starts on the first field that can change");
        a.update(code(KeyCode::Tab));
        assert_eq!(
            a.ingest.form.as_ref().unwrap().field,
            5,
            "skips format and table"
        );
        let cmds = a.update(code(KeyCode::Enter));
        let [Command::Ingest(IngestCmd::Update(name, patch))] = cmds.as_slice() else {
            panic!("an update: {cmds:?}");
        };
        assert_eq!(name, "orders");
        assert_eq!(patch.trigger, Some(IngestTrigger::Every { secs: 300 }));
    }

    #[test]
    fn the_form_makes_a_spec_and_says_what_is_wrong() {
        let mut form = Form::new();
        assert!(form.command().unwrap_err().contains("name"));
        form.values[0] = LineInput::new("web-orders");
        form.values[1] = LineInput::new("/data/in");
        form.values[2] = LineInput::new("*.csv");
        form.values[6] = LineInput::new("amount double");
        form.values[8] = LineInput::new("every 5m");
        form.values[9] = LineInput::new("sep=; header=true");
        let IngestCmd::Create(spec) = form.command().unwrap() else {
            panic!("a create");
        };
        assert_eq!(spec.target_table, "web_orders");
        assert_eq!(spec.trigger, IngestTrigger::Every { secs: 300 });
        assert_eq!(spec.options.len(), 2);
        assert_eq!(spec.schema_hints[0].data_type, "double");
        form.values[3] = LineInput::new("xml");
        assert!(form.command().unwrap_err().contains("not a source format"));
        assert!(parse_trigger("sometimes").is_err());
        assert_eq!(
            parse_trigger("cron */5 * * * *").unwrap(),
            IngestTrigger::Cron("*/5 * * * *".into())
        );
    }
}
