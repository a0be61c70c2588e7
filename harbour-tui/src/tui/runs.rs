//! The Runs screen: every run the client knows of (the newest pages from `list_runs`, then
//! kept current by `RunChanged` events), filtered and sorted into a view that the table draws
//! a screenful of. The filter is kept across screens and reconnects.

use std::cmp::Ordering;
use std::collections::HashMap;

use harbour_shared::{Run, RunId, UnixMillis};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};

use super::format;
use super::theme::Theme;
use super::widgets::{self, Load};

/// The most runs fetched at start (newest first); older ones are not shown.
pub const FETCH_LIMIT: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Id,
    Job,
    Kind,
    State,
    Started,
    Duration,
    Exit,
}

impl Column {
    pub const ALL: [Column; 7] = [
        Self::Id,
        Self::Job,
        Self::Kind,
        Self::State,
        Self::Started,
        Self::Duration,
        Self::Exit,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Self::Id => "ID",
            Self::Job => "JOB",
            Self::Kind => "KIND",
            Self::State => "STATE",
            Self::Started => "STARTED",
            Self::Duration => "DURATION",
            Self::Exit => "EXIT",
        }
    }
}

/// A filter as typed: a case-insensitive substring, `!` in front inverts it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub text: String,
}

impl Filter {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.trim().to_owned(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.needle().is_empty()
    }

    fn inverted(&self) -> bool {
        self.text.starts_with('!')
    }

    fn needle(&self) -> String {
        self.text.trim_start_matches('!').to_lowercase()
    }

    /// Whether any of `fields` contains the needle (or none does, inverted).
    pub fn accepts<'a>(&self, fields: impl IntoIterator<Item = &'a str>) -> bool {
        let needle = self.needle();
        if needle.is_empty() {
            return true;
        }
        let hit = fields
            .into_iter()
            .any(|f| f.to_lowercase().contains(&needle));
        hit != self.inverted()
    }
}

#[derive(Debug, Clone, Default)]
pub struct RunsState {
    pub load: Load,
    pub runs: Vec<Run>,
    index: HashMap<RunId, usize>,
    /// Indices into `runs`, filtered and sorted.
    pub view: Vec<usize>,
    pub filter: Filter,
    pub sort: Option<(Column, bool)>,
    pub selected: usize,
    pub top: usize,
}

fn cmp_runs(a: &Run, b: &Run, col: Column) -> Ordering {
    match col {
        Column::Id => a.id.cmp(&b.id),
        Column::Job => a.job_name.cmp(&b.job_name),
        Column::Kind => a.kind.as_str().cmp(b.kind.as_str()),
        Column::State => a.state_label().cmp(b.state_label()),
        Column::Started => a.started_ms.cmp(&b.started_ms),
        Column::Duration => {
            let d = |r: &Run| r.started_ms.map(|s| r.ended_ms.unwrap_or(i64::MAX) - s);
            d(a).cmp(&d(b))
        }
        Column::Exit => a.exit_code.cmp(&b.exit_code),
    }
    .then(b.id.cmp(&a.id))
}

impl RunsState {
    pub fn selected_run(&self) -> Option<&Run> {
        self.view.get(self.selected).and_then(|i| self.runs.get(*i))
    }

    pub fn get(&self, id: RunId) -> Option<&Run> {
        self.index.get(&id).and_then(|i| self.runs.get(*i))
    }

    /// Records how much a run has logged (from `LogGrew`), so its log opens at the tail.
    pub fn set_log_sizes(&mut self, id: RunId, stdout: u64, stderr: u64) {
        if let Some(i) = self.index.get(&id)
            && let Some(r) = self.runs.get_mut(*i)
        {
            r.stdout_bytes = r.stdout_bytes.max(stdout);
            r.stderr_bytes = r.stderr_bytes.max(stderr);
        }
    }

    /// Replaces everything (after a fetch or a lost-events refetch).
    pub fn set_all(&mut self, mut runs: Vec<Run>) {
        let keep = self.selected_run().map(|r| r.id);
        runs.truncate(FETCH_LIMIT);
        self.index = runs.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
        self.runs = runs;
        self.load = Load::Loaded;
        self.rebuild(keep);
    }

    /// Adds or updates runs (from events). Call `rebuild` after a batch.
    pub fn upsert(&mut self, run: Run) {
        match self.index.get(&run.id) {
            Some(i) => self.runs[*i] = run,
            None => {
                self.index.insert(run.id, self.runs.len());
                self.runs.push(run);
            }
        }
    }

    /// Recomputes the view; keeps the selection on `keep` when it is still shown.
    pub fn rebuild(&mut self, keep: Option<RunId>) {
        // A long session keeps hearing of new runs: keep the newest, bounded.
        if self.runs.len() > 2 * FETCH_LIMIT {
            self.runs.sort_by_key(|r| std::cmp::Reverse(r.id));
            self.runs.truncate(FETCH_LIMIT);
            self.index = self
                .runs
                .iter()
                .enumerate()
                .map(|(i, r)| (r.id, i))
                .collect();
        }
        let f = &self.filter;
        let mut view: Vec<usize> = (0..self.runs.len())
            .filter(|i| {
                let r = &self.runs[*i];
                let id = r.id.to_string();
                f.accepts([
                    id.as_str(),
                    r.job_name.as_str(),
                    r.kind.as_str(),
                    r.state_label(),
                    r.state_message.as_str(),
                ])
            })
            .collect();
        let runs = &self.runs;
        match self.sort {
            Some((col, desc)) => view.sort_by(|a, b| {
                let o = cmp_runs(&runs[*a], &runs[*b], col);
                if desc { o.reverse() } else { o }
            }),
            None => view.sort_by(|a, b| runs[*b].id.cmp(&runs[*a].id)),
        }
        self.view = view;
        if let Some(id) = keep
            && let Some(pos) = self.view.iter().position(|i| self.runs[*i].id == id)
        {
            self.selected = pos;
        }
        self.selected = self.selected.min(self.view.len().saturating_sub(1));
    }

    pub fn set_filter(&mut self, text: &str) {
        let keep = self.selected_run().map(|r| r.id);
        self.filter = Filter::new(text);
        self.rebuild(keep);
    }

    /// `o`: sort by the next column (the first press sorts by id).
    pub fn sort_next(&mut self) {
        let keep = self.selected_run().map(|r| r.id);
        self.sort = Some(match self.sort {
            None => (Column::Job, false),
            Some((c, desc)) => {
                let i = Column::ALL.iter().position(|x| *x == c).unwrap_or(0);
                (Column::ALL[(i + 1) % Column::ALL.len()], desc)
            }
        });
        self.rebuild(keep);
    }

    pub fn sort_reverse(&mut self) {
        let keep = self.selected_run().map(|r| r.id);
        self.sort = Some(match self.sort {
            None => (Column::Id, false),
            Some((c, desc)) => (c, !desc),
        });
        self.rebuild(keep);
    }

    pub fn select_id(&mut self, id: RunId) {
        if let Some(pos) = self.view.iter().position(|i| self.runs[*i].id == id) {
            self.selected = pos;
        }
    }

    pub fn move_by(&mut self, delta: isize, height: usize) {
        let len = self.view.len();
        if len == 0 {
            return;
        }
        self.selected = self.selected.saturating_add_signed(delta).min(len - 1);
        self.top = widgets::scroll_top(self.top, self.selected, height, len);
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme, now_ms: UnixMillis) {
        // A lone `!` filters nothing and is not shown as a filter.
        let filter = if self.filter.is_empty() {
            ""
        } else {
            self.filter.text.as_str()
        };
        let title = widgets::list_title("Runs", self.view.len(), self.runs.len(), filter);
        let Some(inner) = widgets::list_frame(frame, area, theme, title, &self.load, "runs") else {
            return;
        };
        if self.view.is_empty() {
            let none = "no runs yet\ns submits one";
            widgets::empty_list(
                frame,
                inner,
                theme,
                self.runs.is_empty(),
                none,
                "run",
                &self.filter.text,
            );
            return;
        }
        let wide = inner.width >= 120;
        let narrow = inner.width < 70;
        let mut cols: Vec<(Column, Constraint)> = vec![
            (Column::Id, Constraint::Length(6)),
            (Column::Job, Constraint::Min(10)),
            (Column::Kind, Constraint::Length(7)),
            (
                Column::State,
                Constraint::Length(if wide { 17 } else { 12 }),
            ),
        ];
        if !narrow {
            cols.push((Column::Started, Constraint::Length(14)));
        }
        cols.push((Column::Duration, Constraint::Length(8)));
        cols.push((Column::Exit, Constraint::Length(4)));
        let header_cells: Vec<Cell> = cols
            .iter()
            .map(|(c, _)| {
                let arrow = match self.sort {
                    Some((s, desc)) if s == *c => {
                        if desc {
                            "▼"
                        } else {
                            "▲"
                        }
                    }
                    _ => "",
                };
                Cell::from(format!("{}{arrow}", c.title()))
            })
            .chain(wide.then(|| Cell::from("MESSAGE")))
            .collect();
        let mut widths: Vec<Constraint> = cols.iter().map(|(_, w)| *w).collect();
        if wide {
            widths[1] = Constraint::Length(24);
            widths.push(Constraint::Min(20));
        }
        let height = usize::from(inner.height.saturating_sub(1));
        let top = widgets::scroll_top(self.top, self.selected, height, self.view.len());
        let rows = self
            .view
            .iter()
            .enumerate()
            .skip(top)
            .take(height)
            .map(|(pos, i)| {
                let r = &self.runs[*i];
                // "waiting-for-retry" does not fit a narrow column; "waiting" says it.
                let label = match r.state_label() {
                    "waiting-for-retry" if !wide => "waiting",
                    l => l,
                };
                let state = Span::styled(label, widgets::state_style(theme, r.lifecycle, r.result));
                let mut cells: Vec<Cell> = Vec::with_capacity(cols.len() + 1);
                for (c, _) in &cols {
                    cells.push(match c {
                        Column::Id => Cell::from(r.id.to_string()),
                        Column::Job => Cell::from(r.job_name.clone()),
                        Column::Kind => Cell::from(r.kind.as_str()),
                        Column::State => Cell::from(Line::from(state.clone())),
                        Column::Started => Cell::from(
                            r.started_ms
                                .map_or_else(|| "-".to_owned(), |t| format::when(t, now_ms)),
                        ),
                        Column::Duration => Cell::from(
                            r.duration_ms(now_ms)
                                .map_or_else(|| "-".to_owned(), format::duration_ms),
                        ),
                        Column::Exit => Cell::from(
                            r.exit_code
                                .map_or_else(|| "-".to_owned(), |c| c.to_string()),
                        ),
                    });
                }
                if wide {
                    cells.push(Cell::from(r.state_message.clone()).style(theme.get("dim")));
                }
                let row = Row::new(cells);
                if pos == self.selected {
                    row.style(theme.get("selected"))
                } else {
                    row
                }
            });
        let table = Table::new(rows, widths)
            .header(Row::new(header_cells).style(theme.get("column-header")))
            .column_spacing(1);
        frame.render_widget(table, inner);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use harbour_shared::{JobId, JobKind, Lifecycle, RunResult, Trigger};

    pub fn run(id: i64, job: &str, lifecycle: Lifecycle, result: Option<RunResult>) -> Run {
        Run {
            id: RunId(id),
            job_id: JobId(id),
            job_name: job.to_owned(),
            kind: JobKind::Shell,
            trigger: Trigger::Submit,
            attempt: 1,
            parent: None,
            lifecycle,
            result,
            state_message: String::new(),
            queued_ms: 1_000_000,
            started_ms: Some(1_000_000 + id * 1000),
            ended_ms: result.map(|_| 1_000_000 + id * 1000 + 5000),
            retry_at_ms: None,
            pid: None,
            exit_code: match result {
                Some(RunResult::Succeeded) => Some(0),
                Some(RunResult::Failed { exit_code }) => exit_code,
                _ => None,
            },
            stdout_bytes: 0,
            stderr_bytes: 0,
            spark: None,
        }
    }

    #[test]
    fn filter_and_invert() {
        let mut s = RunsState::default();
        s.set_all(vec![
            run(3, "etl", Lifecycle::Running, None),
            run(
                2,
                "report",
                Lifecycle::Terminated,
                Some(RunResult::Failed { exit_code: Some(1) }),
            ),
            run(1, "etl", Lifecycle::Terminated, Some(RunResult::Succeeded)),
        ]);
        assert_eq!(s.view.len(), 3);
        s.set_filter("etl");
        assert_eq!(s.view.len(), 2);
        s.set_filter("!etl");
        assert_eq!(s.view.len(), 1);
        assert_eq!(s.selected_run().unwrap().job_name, "report");
        s.set_filter("FAILED");
        assert_eq!(s.view.len(), 1);
        s.set_filter("");
        assert_eq!(s.view.len(), 3);
    }

    #[test]
    fn selection_follows_the_run_through_updates_and_sorts() {
        let mut s = RunsState::default();
        s.set_all(vec![
            run(2, "b", Lifecycle::Running, None),
            run(1, "a", Lifecycle::Queued, None),
        ]);
        s.select_id(RunId(1));
        s.upsert(run(3, "c", Lifecycle::Queued, None));
        s.rebuild(Some(RunId(1)));
        assert_eq!(s.view.len(), 3);
        assert_eq!(s.selected_run().unwrap().id, RunId(1));
        assert_eq!(s.runs[s.view[0]].id, RunId(3), "newest first");
        s.sort_next();
        assert_eq!(s.sort, Some((Column::Job, false)));
        assert_eq!(s.runs[s.view[0]].job_name, "a");
        assert_eq!(s.selected_run().unwrap().id, RunId(1));
        s.sort_reverse();
        assert_eq!(s.runs[s.view[0]].job_name, "c");
    }
}
