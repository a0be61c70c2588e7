//! The app's modal parts and how keys reach them: overlays (help, a confirmation, the submit
//! form) take every key while open; then the prompt line (`/` filter, log search, `:`
//! palette); only then does the keymap turn a key into an action (`App::apply`).

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent};
use harbour_shared::{JobKind, JobSource, JobSpec, RunId};

use super::action::{Action, Screen};
use super::app::{App, Command};
use super::input::{InputOutcome, LineInput};
use super::keymap::KeyCombo;
use super::palette;

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

impl App {
    pub(super) fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if let Some(overlay) = self.overlay.take() {
            return self.on_overlay_key(overlay, key);
        }
        if let Some((prompt, mut input)) = self.prompt.take() {
            return self.on_prompt_key(prompt, &mut input, key);
        }
        if self.screen == Screen::Sql && self.sql.editing {
            return self.on_sql_key(&key);
        }
        if self.screen == Screen::Ingest
            && let Some(out) = self.ingest_modal_key(&key)
        {
            return out;
        }
        if self.screen == Screen::Notebooks
            && let Some(out) = self.nb.on_key(&key, self.now_ms)
        {
            return out.into_iter().map(Command::Nb).collect();
        }
        let combo = KeyCombo::from_event(&key);
        match self.keymap.lookup(self.screen, combo) {
            Some(action) => self.apply(action),
            None => Vec::new(),
        }
    }

    pub(super) fn on_overlay_key(&mut self, overlay: Overlay, key: KeyEvent) -> Vec<Command> {
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

    pub(super) fn on_form_key(&mut self, mut form: SubmitForm, key: KeyEvent) -> Vec<Command> {
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
                    return vec![Command::Submit(Box::new(JobSpec::new(form.kind, source)))];
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

    pub(super) fn on_prompt_key(
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
                let Some(v) = &mut self.logs else {
                    return Vec::new();
                };
                v.search = Some(input.text.clone()).filter(|s| !s.is_empty());
                v.search_hits = None;
                if v.search.is_none() {
                    return Vec::new();
                }
                // From the end of a followed log, the nearest match is above.
                let forward = !v.follow;
                self.search_step(forward, true)
            }
            (Prompt::Palette, InputOutcome::Submit) => self.run_palette(&input.text.clone()),
            _ => {
                self.prompt = Some((prompt, input.clone()));
                Vec::new()
            }
        }
    }

    pub(super) fn set_filter(&mut self, text: &str) {
        match self.screen {
            Screen::Jobs => self.jobs.set_filter(text),
            _ => self.runs.set_filter(text),
        }
    }

    pub(super) fn run_palette(&mut self, line: &str) -> Vec<Command> {
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
            Ok(palette::PaletteCmd::CreateCluster(spec)) => {
                self.info(format!("creating cluster {}", spec.name));
                vec![Command::CreateCluster(spec)]
            }
            Ok(palette::PaletteCmd::DeleteCluster(name)) => self.confirm_delete_cluster(name),
            // --- Analytics ---
            Ok(palette::PaletteCmd::Spark(app)) => {
                let mut out = match app {
                    Some(id) => self.spark.open_app(id),
                    None => Vec::new(),
                };
                out.extend(self.go(Screen::Spark));
                out
            }
            Ok(palette::PaletteCmd::CreateNotebook(name)) => {
                let mut out = self.go(Screen::Notebooks);
                out.push(Command::Nb(super::notebooks::NbCmd::Create(name)));
                out
            }
            Ok(palette::PaletteCmd::RenameNotebook { from, to }) => self.nb_rename(from, to),
            Ok(palette::PaletteCmd::Nothing) => Vec::new(),
            Err(e) => {
                self.error(e);
                Vec::new()
            }
        }
    }

    pub(super) fn confirm_delete_cluster(&mut self, name: String) -> Vec<Command> {
        self.overlay = Some(Overlay::Confirm {
            prompt: format!("Delete cluster {name}? Its master and workers are stopped."),
            yes: Command::DeleteCluster(name),
        });
        Vec::new()
    }

    pub(super) fn confirm_kill(&mut self, id: RunId) -> Vec<Command> {
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
}
