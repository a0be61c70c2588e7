//! The Jobs screen: job definitions with their schedule, next fire time, last result and
//! whether they are paused; kept current by `JobChanged`/`JobDeleted` events.

use harbour_shared::{Job, JobId, UnixMillis};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row, Table};

use super::format;
use super::runs::Filter;
use super::theme::Theme;
use super::widgets::{self, Load};

#[derive(Debug, Clone, Default)]
pub struct JobsState {
    pub load: Load,
    pub jobs: Vec<Job>,
    pub view: Vec<usize>,
    pub filter: Filter,
    pub selected: usize,
    pub top: usize,
}

impl JobsState {
    pub fn selected_job(&self) -> Option<&Job> {
        self.view.get(self.selected).and_then(|i| self.jobs.get(*i))
    }

    pub fn set_all(&mut self, jobs: Vec<Job>) {
        let keep = self.selected_job().map(|j| j.id);
        self.jobs = jobs.into_iter().filter(|j| !j.one_off).collect();
        self.load = Load::Loaded;
        self.rebuild(keep);
    }

    pub fn upsert(&mut self, job: Job) {
        if job.one_off {
            return;
        }
        let keep = self.selected_job().map(|j| j.id);
        match self.jobs.iter_mut().find(|j| j.id == job.id) {
            Some(j) => *j = job,
            None => self.jobs.push(job),
        }
        self.rebuild(keep);
    }

    pub fn remove(&mut self, id: JobId) {
        let keep = self.selected_job().map(|j| j.id);
        self.jobs.retain(|j| j.id != id);
        self.rebuild(keep);
    }

    pub fn set_filter(&mut self, text: &str) {
        let keep = self.selected_job().map(|j| j.id);
        self.filter = Filter::new(text);
        self.rebuild(keep);
    }

    fn rebuild(&mut self, keep: Option<JobId>) {
        let mut view: Vec<usize> = (0..self.jobs.len())
            .filter(|i| {
                let j = &self.jobs[*i];
                let state = if j.paused { "paused" } else { "" };
                self.filter.accepts([
                    j.name(),
                    j.spec.kind.as_str(),
                    j.spec.schedule.as_deref().unwrap_or(""),
                    state,
                ])
            })
            .collect();
        view.sort_by(|a, b| self.jobs[*a].name().cmp(self.jobs[*b].name()));
        self.view = view;
        if let Some(id) = keep
            && let Some(pos) = self.view.iter().position(|i| self.jobs[*i].id == id)
        {
            self.selected = pos;
        }
        self.selected = self.selected.min(self.view.len().saturating_sub(1));
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
        let title = widgets::list_title("Jobs", self.view.len(), self.jobs.len(), filter);
        let Some(inner) = widgets::list_frame(frame, area, theme, title, &self.load, "jobs") else {
            return;
        };
        if self.view.is_empty() {
            let none = "no jobs defined\ncreate one with `harbour jobs create`";
            widgets::empty_list(
                frame,
                inner,
                theme,
                self.jobs.is_empty(),
                none,
                "job",
                &self.filter.text,
            );
            return;
        }
        let wide = inner.width >= 100;
        let mut widths = vec![
            Constraint::Min(12),
            Constraint::Length(7),
            Constraint::Length(14),
            Constraint::Length(12),
            Constraint::Length(12),
            Constraint::Length(8),
        ];
        let mut header = vec!["NAME", "KIND", "SCHEDULE", "NEXT", "LAST", "STATE"];
        if wide {
            widths.push(Constraint::Length(12));
            header.push("LAST RUN");
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
                let j = &self.jobs[*i];
                let last = match &j.last_run {
                    Some(l) => Span::styled(
                        l.result.map_or(l.lifecycle.as_str(), |r| r.as_str()),
                        widgets::state_style(theme, l.lifecycle, l.result),
                    ),
                    None => Span::styled("never", theme.get("dim")),
                };
                let state = if j.paused {
                    "paused".to_owned()
                } else if j.active_runs > 0 {
                    format!("{} active", j.active_runs)
                } else {
                    "idle".to_owned()
                };
                let mut cells = vec![
                    Cell::from(j.name().to_owned()),
                    Cell::from(j.spec.kind.as_str()),
                    Cell::from(j.spec.schedule.clone().unwrap_or_else(|| "-".to_owned())),
                    Cell::from(
                        j.next_fire_ms
                            .map_or_else(|| "-".to_owned(), |t| format::when(t, now_ms)),
                    ),
                    Cell::from(last),
                    Cell::from(state),
                ];
                if wide {
                    cells.push(Cell::from(j.last_run.as_ref().map_or_else(
                        || "-".to_owned(),
                        |l| format!("#{} {}", l.id, format::ago(l.queued_ms, now_ms)),
                    )));
                }
                let row = Row::new(cells);
                if pos == self.selected {
                    row.style(theme.get("selected"))
                } else {
                    row
                }
            });
        let table = Table::new(rows, widths)
            .header(Row::new(header).style(theme.get("column-header")))
            .column_spacing(1);
        frame.render_widget(table, inner);
    }
}
