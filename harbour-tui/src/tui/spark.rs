//! The Spark screen: what harbourd learned from Spark event logs and pushed events. Three
//! levels, `enter` going down and `esc` up: the applications; an application's jobs with
//! success-rate bars, durations, slowest stage and skew; a job's stages with task-time
//! quantiles and its failed task attempts with their reasons. `:spark APP` opens an
//! application directly (a run's details name theirs).

use harbour_shared::{AppDetail, AppSummary, JobDetail, SparkApps, TaskTotals};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};

use super::app::Command;
use super::theme::Theme;
use super::widgets::{self, Load};

/// Which level the screen shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Level {
    #[default]
    Apps,
    App(String),
    Job(String, i64),
}

#[derive(Debug, Clone, Default)]
pub struct SparkState {
    pub level: Level,
    pub apps_load: Load,
    pub apps: Option<SparkApps>,
    pub app_selected: usize,
    pub app_load: Load,
    pub app: Option<AppDetail>,
    pub job_selected: usize,
    pub job_load: Load,
    pub job: Option<JobDetail>,
    pub scroll: u16,
}

impl SparkState {
    /// What to fetch for the level shown.
    pub fn fetch(&mut self) -> Vec<Command> {
        match self.level.clone() {
            Level::Apps => vec![Command::FetchSparkApps],
            Level::App(id) => vec![Command::FetchSparkApp(id)],
            Level::Job(id, job) => vec![Command::FetchSparkJob(id, job)],
        }
    }

    pub fn open_app(&mut self, id: String) -> Vec<Command> {
        if self.app.as_ref().is_none_or(|a| a.app.app_id != id) {
            self.app = None;
            self.app_load = Load::Loading;
            self.job_selected = 0;
        }
        self.level = Level::App(id);
        self.fetch()
    }

    /// `enter`: down a level.
    pub fn select(&mut self) -> Vec<Command> {
        match &self.level {
            Level::Apps => match self
                .apps
                .as_ref()
                .and_then(|a| a.apps.get(self.app_selected))
            {
                Some(a) => {
                    let id = a.app_id.clone();
                    self.open_app(id)
                }
                None => Vec::new(),
            },
            Level::App(id) => {
                let Some(job) = self
                    .app
                    .as_ref()
                    .and_then(|a| a.jobs.get(self.job_selected))
                else {
                    return Vec::new();
                };
                let (id, job) = (id.clone(), job.job_id);
                if self
                    .job
                    .as_ref()
                    .is_none_or(|j| j.job.job_id != job || j.job.app_id != id)
                {
                    self.job = None;
                    self.job_load = Load::Loading;
                }
                self.scroll = 0;
                self.level = Level::Job(id, job);
                self.fetch()
            }
            Level::Job(..) => Vec::new(),
        }
    }

    /// `esc`: up a level (at the top, the app goes back a screen instead).
    pub fn up(&mut self) {
        self.level = match &self.level {
            Level::Apps | Level::App(_) => Level::Apps,
            Level::Job(id, _) => Level::App(id.clone()),
        };
    }

    pub fn move_by(&mut self, delta: isize) {
        match &self.level {
            Level::Apps => {
                let n = self.apps.as_ref().map_or(0, |a| a.apps.len());
                self.app_selected = self
                    .app_selected
                    .saturating_add_signed(delta)
                    .min(n.saturating_sub(1));
            }
            Level::App(_) => {
                let n = self.app.as_ref().map_or(0, |a| a.jobs.len());
                self.job_selected = self
                    .job_selected
                    .saturating_add_signed(delta)
                    .min(n.saturating_sub(1));
            }
            Level::Job(..) => {
                self.scroll = self
                    .scroll
                    .saturating_add_signed(i16::try_from(delta).unwrap_or(i16::MAX))
                    .min(1000);
            }
        }
    }

    pub fn set_apps(&mut self, r: Result<SparkApps, String>) {
        match r {
            Ok(a) => {
                self.app_selected = self.app_selected.min(a.apps.len().saturating_sub(1));
                self.apps = Some(a);
                self.apps_load = Load::Loaded;
            }
            Err(e) => self.apps_load = Load::Failed(e),
        }
    }

    pub fn set_app(&mut self, id: &str, r: Result<AppDetail, String>) {
        if self.level != Level::App(id.to_owned()) {
            return;
        }
        match r {
            Ok(a) => {
                self.job_selected = self.job_selected.min(a.jobs.len().saturating_sub(1));
                self.app = Some(a);
                self.app_load = Load::Loaded;
            }
            Err(e) => self.app_load = Load::Failed(e),
        }
    }

    pub fn set_job(&mut self, id: &str, job: i64, r: Result<JobDetail, String>) {
        if self.level != Level::Job(id.to_owned(), job) {
            return;
        }
        match r {
            Ok(j) => {
                self.job = Some(j);
                self.job_load = Load::Loaded;
            }
            Err(e) => self.job_load = Load::Failed(e),
        }
    }

    /// The id of what is selected, for `y`.
    pub fn yank(&self) -> Option<String> {
        match &self.level {
            Level::Apps => self
                .apps
                .as_ref()
                .and_then(|a| a.apps.get(self.app_selected))
                .map(|a| a.app_id.clone()),
            Level::App(id) | Level::Job(id, _) => Some(id.clone()),
        }
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        match &self.level {
            Level::Apps => self.render_apps(frame, area, theme),
            Level::App(id) => self.render_app(frame, area, theme, id),
            Level::Job(id, job) => self.render_job(frame, area, theme, id, *job),
        }
    }

    fn render_apps(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let n = self.apps.as_ref().map_or(0, |a| a.apps.len());
        let title = format!(" Spark applications ({n}) ");
        let Some(inner) =
            widgets::list_frame(frame, area, theme, title, &self.apps_load, "applications")
        else {
            return;
        };
        let Some(apps) = &self.apps else { return };
        let problems = apps.problems.len();
        let [table_area, foot] = Layout::vertical([
            Constraint::Min(1),
            Constraint::Length(u16::from(problems > 0)),
        ])
        .areas(inner);
        if apps.apps.is_empty() {
            widgets::message(
                frame,
                table_area,
                "No Spark applications yet.\nharbourd replays its pyspark runs' event logs and \
                 [analytics] log_dirs;\n`harbour events ingest FILE` sends others.",
                theme.get("dim"),
            );
        } else {
            let header = header(
                theme,
                &[
                    "APP", "STATUS", "DURATION", "JOBS", "SUCCESS", "TASKS", "NAME",
                ],
            );
            let rows = apps.apps.iter().enumerate().map(|(i, a)| {
                let row = Row::new(vec![
                    Cell::from(a.app_id.clone()),
                    Cell::from(Span::styled(a.status.clone(), app_style(theme, a))),
                    Cell::from(duration(a.duration_ms)),
                    Cell::from(if a.failed_jobs > 0 {
                        format!("{} ({} ✗)", a.jobs, a.failed_jobs)
                    } else {
                        a.jobs.to_string()
                    }),
                    Cell::from(rate_bar(theme, &a.tasks, 6)),
                    Cell::from(tasks(&a.tasks)),
                    Cell::from(a.name.clone()),
                ]);
                selected(row, i == self.app_selected, theme)
            });
            let widths = [
                Constraint::Length(19),
                Constraint::Length(8),
                Constraint::Length(7),
                Constraint::Length(7),
                Constraint::Length(15),
                Constraint::Length(9),
                Constraint::Min(6),
            ];
            frame.render_widget(
                Table::new(rows, widths).header(header).column_spacing(1),
                table_area,
            );
        }
        if problems > 0 {
            let p = &apps.problems[0];
            frame.render_widget(
                Paragraph::new(Span::styled(
                    format!(
                        "{problems} unreadable log line(s); latest {}:{}: {}",
                        p.path, p.line, p.why
                    ),
                    theme.get("status-warn"),
                )),
                foot,
            );
        }
    }

    fn render_app(&self, frame: &mut Frame, area: Rect, theme: &Theme, id: &str) {
        let Some(inner) = widgets::list_frame(
            frame,
            area,
            theme,
            format!(" Spark application {id} "),
            &self.app_load,
            "the application",
        ) else {
            return;
        };
        let Some(d) = &self.app else { return };
        let a = &d.app;
        let [top, table_area] =
            Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(inner);
        let run = d
            .run
            .map_or_else(String::new, |r| format!("  harbour run {r}"));
        let lines = vec![
            Line::from(vec![
                Span::styled(a.name.clone(), theme.get("title")),
                Span::raw("  "),
                Span::styled(a.status.clone(), app_style(theme, a)),
                Span::raw(format!("  {}", duration(a.duration_ms))),
                Span::styled(run, theme.get("dim")),
            ]),
            Line::from(vec![
                Span::raw(format!(
                    "jobs {} ({} failed)  tasks {}  retries {}  ",
                    a.jobs,
                    a.failed_jobs,
                    tasks(&a.tasks),
                    a.tasks.retries
                )),
                rate_bar(theme, &a.tasks, 10),
            ]),
        ];
        frame.render_widget(Paragraph::new(lines), top);
        if d.jobs.is_empty() {
            widgets::message(frame, table_area, "No jobs yet.", theme.get("dim"));
            return;
        }
        let header = header(
            theme,
            &[
                "JOB", "STATUS", "SUCCESS", "DURATION", "TASKS", "SLOWEST", "SKEW", "NAME",
            ],
        );
        let rows = d.jobs.iter().enumerate().map(|(i, j)| {
            let status_style = match j.status.as_str() {
                "SUCCEEDED" => theme.get("state-succeeded"),
                "FAILED" => theme.get("state-failed"),
                _ => theme.get("state-running"),
            };
            let row = Row::new(vec![
                Cell::from(j.job_id.to_string()),
                Cell::from(Span::styled(j.status.clone(), status_style)),
                Cell::from(rate_bar(theme, &j.tasks, 6)),
                Cell::from(duration(j.duration_ms)),
                Cell::from(tasks(&j.tasks)),
                Cell::from(
                    j.slowest_stage
                        .as_ref()
                        .map_or_else(|| "-".into(), |(s, a, _, _)| format!("{s}.{a}")),
                ),
                Cell::from(
                    j.max_skew
                        .map_or_else(|| "-".into(), |k| format!("{k:.1}x")),
                ),
                Cell::from(j.name.clone()),
            ]);
            selected(row, i == self.job_selected, theme)
        });
        let widths = [
            Constraint::Length(4),
            Constraint::Length(9),
            Constraint::Length(15),
            Constraint::Length(8),
            Constraint::Length(9),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Min(8),
        ];
        frame.render_widget(
            Table::new(rows, widths).header(header).column_spacing(1),
            table_area,
        );
    }

    fn render_job(&self, frame: &mut Frame, area: Rect, theme: &Theme, id: &str, job: i64) {
        let Some(inner) = widgets::list_frame(
            frame,
            area,
            theme,
            format!(" {id} · job {job} "),
            &self.job_load,
            "the job",
        ) else {
            return;
        };
        let Some(d) = &self.job else { return };
        let j = &d.job;
        let key = |k: &str| Span::styled(format!("{k:<9}"), theme.get("column-header"));
        let mut lines = vec![
            Line::from(vec![
                Span::styled(j.name.clone(), theme.get("title")),
                Span::raw(format!("  {}  {}", j.status, duration(j.duration_ms))),
            ]),
            Line::from(vec![
                Span::raw(format!(
                    "tasks {}  retries {}  ",
                    tasks(&j.tasks),
                    j.tasks.retries
                )),
                rate_bar(theme, &j.tasks, 10),
            ]),
        ];
        if let Some(f) = &j.failure {
            lines.push(Line::from(vec![
                key("failure"),
                Span::styled(f.clone(), theme.get("state-failed")),
            ]));
        }
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            "STAGE  STATUS   TASKS   FAIL TASK TIME min/p25/med/p75/max SKEW   NAME",
            theme.get("column-header"),
        )));
        for s in &d.stages {
            let q = s.task_ms.map_or_else(
                || "-".to_owned(),
                |q| q.iter().map(|v| short_ms(*v)).collect::<Vec<_>>().join("/"),
            );
            let style = match s.status.as_str() {
                "FAILED" => theme.get("state-failed"),
                "SKIPPED" | "PENDING" => theme.get("dim"),
                _ => ratatui::style::Style::default(),
            };
            lines.push(Line::from(Span::styled(
                format!(
                    "{:<6} {:<8} {:<7} {:<4} {:<28} {:<6} {}",
                    format!("{}.{}", s.stage_id, s.attempt),
                    s.status,
                    format!("{}/{}", s.tasks.ended, s.planned_tasks),
                    s.tasks.failed,
                    q,
                    s.skew.map_or_else(|| "-".into(), |k| format!("{k:.1}x")),
                    s.name
                ),
                style,
            )));
        }
        lines.push(Line::default());
        if d.failed_tasks.is_empty() {
            lines.push(Line::from(Span::styled(
                "No failed tasks.",
                theme.get("dim"),
            )));
        } else {
            lines.push(Line::from(Span::styled(
                format!("Failed tasks ({})", d.failed_tasks.len()),
                theme.get("title"),
            )));
            for t in &d.failed_tasks {
                lines.push(Line::from(vec![
                    Span::styled(
                        format!(
                            "task {} stage {}.{} index {} attempt {} on {}: ",
                            t.task_id, t.stage_id, t.stage_attempt, t.index, t.attempt, t.executor
                        ),
                        theme.get("dim"),
                    ),
                    Span::styled(t.reason.clone(), theme.get("state-failed")),
                ]));
                lines.push(Line::from(format!("  {}", t.message)));
            }
        }
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .scroll((self.scroll, 0)),
            inner,
        );
    }
}

fn header<'a>(theme: &Theme, names: &[&'a str]) -> Row<'a> {
    Row::new(
        names
            .iter()
            .map(|h| Cell::from(Span::styled(*h, theme.get("column-header")))),
    )
}

fn selected<'a>(row: Row<'a>, is: bool, theme: &Theme) -> Row<'a> {
    if is {
        row.style(theme.get("selected"))
    } else {
        row
    }
}

fn app_style(theme: &Theme, a: &AppSummary) -> ratatui::style::Style {
    if a.failed_jobs > 0 {
        theme.get("state-failed")
    } else if a.status == "RUNNING" {
        theme.get("state-running")
    } else {
        theme.get("state-succeeded")
    }
}

fn duration(ms: Option<i64>) -> String {
    ms.map_or_else(|| "-".to_owned(), crate::fmt::duration_ms)
}

fn short_ms(ms: i64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

fn tasks(t: &TaskTotals) -> String {
    if t.failed > 0 {
        format!("{} ({} ✗)", t.ended, t.failed)
    } else {
        t.ended.to_string()
    }
}

/// `[#######---] 70.0%`, coloured by how healthy the rate is.
fn rate_bar(theme: &Theme, t: &TaskTotals, width: usize) -> Span<'static> {
    let Some(rate) = t.success_rate() else {
        return Span::styled("-", theme.get("dim"));
    };
    let filled = ((rate * width as f64).round() as usize).min(width);
    let style = if rate >= 0.999 {
        theme.get("state-succeeded")
    } else if rate >= 0.9 {
        theme.get("status-warn")
    } else {
        theme.get("state-failed")
    };
    Span::styled(
        format!(
            "[{}{}] {:>5.1}%",
            "#".repeat(filled),
            "-".repeat(width - filled),
            rate * 100.0
        ),
        style,
    )
}
