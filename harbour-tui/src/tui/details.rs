//! Run details: the spec the run ran, its state history, environment, timing, log files and,
//! for pyspark runs, the Spark application: its UI link and its jobs and stages as progress
//! bars (polled from the daemon while the run is active; from the event log after).

use harbour_shared::{
    JobKind, JobSource, ProgressSource, RunDetail, RunId, SparkProgress, TaskCounts, UnixMillis,
};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::format;
use super::theme::Theme;
use super::widgets::{self, Load};

#[derive(Debug, Clone, Default)]
pub struct DetailsState {
    pub run: Option<RunId>,
    pub load: Load,
    pub detail: Option<RunDetail>,
    pub scroll: u16,
    /// The Spark progress of a pyspark run, once asked for.
    pub spark: Option<Result<SparkProgress, String>>,
    pub spark_in_flight: bool,
    pub spark_fetched_ms: UnixMillis,
    /// When an active run's details (and so its usage) were last asked for.
    pub fetched_ms: UnixMillis,
}

/// How often a running Spark run's progress is asked for.
const SPARK_POLL_MS: i64 = 1_000;

/// How often an active run's details are asked for again, for its usage now.
const USAGE_POLL_MS: i64 = 2_000;

impl DetailsState {
    /// The command that refreshes an active run's details (its usage), when one is due.
    pub fn usage_poll(&mut self, now_ms: UnixMillis) -> Option<super::app::Command> {
        let d = self.detail.as_ref()?;
        if !d.run.is_active() || now_ms - self.fetched_ms < USAGE_POLL_MS {
            return None;
        }
        self.fetched_ms = now_ms;
        Some(super::app::Command::FetchRun(d.run.id))
    }

    /// The command that refreshes a running Spark run's progress, when one is due.
    pub fn spark_poll(&mut self, now_ms: UnixMillis) -> Option<super::app::Command> {
        let d = self.detail.as_ref()?;
        let due = d.run.kind == JobKind::Pyspark
            && d.run.is_active()
            && !self.spark_in_flight
            && now_ms - self.spark_fetched_ms >= SPARK_POLL_MS;
        if !due {
            return None;
        }
        self.spark_in_flight = true;
        self.spark_fetched_ms = now_ms;
        Some(super::app::Command::FetchSparkProgress(d.run.id))
    }

    fn spark_lines(&self, theme: &Theme, out: &mut Vec<Line<'static>>) {
        let Some(d) = &self.detail else { return };
        if d.run.kind != JobKind::Pyspark {
            return;
        }
        let key = |k: &str| Span::styled(format!("{k:<12}"), theme.get("column-header"));
        out.push(Line::default());
        out.push(Line::from(Span::styled(
            "Spark".to_owned(),
            theme.get("title"),
        )));
        if let Some(app) = &d.run.spark {
            out.push(Line::from(vec![
                key("cluster"),
                Span::raw(app.cluster.clone()),
            ]));
            out.push(Line::from(vec![
                key("app"),
                Span::raw(app.app_id.clone().unwrap_or_else(|| "(starting)".into())),
            ]));
            out.push(Line::from(vec![key("ui"), Span::raw(app.ui_url.clone())]));
            if let Some(id) = &app.app_id {
                out.push(Line::from(vec![
                    key("analytics"),
                    Span::styled(
                        format!(":spark {id}  (9: the Spark screen)"),
                        theme.get("dim"),
                    ),
                ]));
            }
        }
        match &self.spark {
            None => out.push(Line::from(Span::styled(
                "  loading progress…",
                theme.get("dim"),
            ))),
            Some(Err(e)) => out.push(Line::from(Span::styled(format!("  {e}"), theme.get("dim")))),
            Some(Ok(p)) => {
                let source = match p.source {
                    ProgressSource::Live => "live from the driver",
                    ProgressSource::EventLog => "from the event log",
                };
                out.push(Line::from(vec![key("progress"), Span::raw(source)]));
                let status_style = |s: &str| match s {
                    "FAILED" => theme.get("status-error"),
                    "RUNNING" | "ACTIVE" => theme.get("status-warn"),
                    _ => theme.get("dim"),
                };
                let counts = |t: &TaskCounts| {
                    let mut s = format!("{}/{}", t.completed, t.total);
                    if t.active > 0 {
                        s.push_str(&format!(" ({} running)", t.active));
                    }
                    if t.failed > 0 {
                        s.push_str(&format!(" ({} failed)", t.failed));
                    }
                    if t.skipped > 0 {
                        s.push_str(&format!(" ({} skipped)", t.skipped));
                    }
                    s
                };
                for j in &p.jobs {
                    out.push(Line::from(vec![
                        Span::raw(format!("  job {:<4}", j.id)),
                        Span::styled(format!("{:<10}", j.status), status_style(&j.status)),
                        Span::raw(format!(
                            "{} {:<18} {}",
                            crate::fmt::task_bar(&j.tasks, 20),
                            counts(&j.tasks),
                            j.name
                        )),
                    ]));
                }
                for s in &p.stages {
                    out.push(Line::from(vec![
                        Span::raw(format!(
                            "    stage {:<5}",
                            format!("{}.{}", s.id, s.attempt)
                        )),
                        Span::styled(format!("{:<10}", s.status), status_style(&s.status)),
                        Span::raw(format!(
                            "{} {:<18} {}",
                            crate::fmt::task_bar(&s.tasks, 20),
                            counts(&s.tasks),
                            s.name
                        )),
                    ]));
                    if let Some(why) = &s.failure_reason {
                        out.push(Line::from(Span::styled(
                            format!("      failed: {}", why.lines().next().unwrap_or_default()),
                            theme.get("status-error"),
                        )));
                    }
                }
                for e in &p.executors {
                    out.push(Line::from(Span::styled(
                        format!(
                            "  executor {} {} {} cores, {} active, {} done, {} failed{}",
                            e.id,
                            e.host_port,
                            e.cores,
                            e.active_tasks,
                            e.completed_tasks,
                            e.failed_tasks,
                            if e.active { "" } else { " (removed)" }
                        ),
                        theme.get("dim"),
                    )));
                }
            }
        }
    }

    /// The text of the screen, also what `y` copies.
    pub fn lines(&self, theme: &Theme, now_ms: UnixMillis) -> Vec<Line<'static>> {
        let Some(d) = &self.detail else {
            return Vec::new();
        };
        let r = &d.run;
        let key = |k: &str| Span::styled(format!("{k:<12}"), theme.get("column-header"));
        let kv = |k: &str, v: String| Line::from(vec![key(k), Span::raw(v)]);
        let section = |t: &str| Line::from(Span::styled(t.to_owned(), theme.get("title")));
        let mut out = vec![
            Line::from(vec![
                key("state"),
                Span::styled(
                    r.result
                        .map_or_else(|| r.state_label().to_owned(), |x| x.to_string()),
                    widgets::state_style(theme, r.lifecycle, r.result),
                ),
                Span::raw(if r.state_message.is_empty() {
                    String::new()
                } else {
                    format!("  {}", r.state_message)
                }),
            ]),
            kv("job", format!("{} (#{})", r.job_name, r.job_id)),
            kv("kind", r.kind.to_string()),
            kv(
                "trigger",
                format!("{} (attempt {})", r.trigger.as_str(), r.attempt),
            ),
        ];
        if let Some(p) = r.parent {
            out.push(kv("parent", format!("run {p}")));
        }
        out.push(kv(
            "pid",
            r.pid.map_or_else(|| "-".to_owned(), |p| p.to_string()),
        ));
        out.push(kv(
            "exit code",
            r.exit_code
                .map_or_else(|| "-".to_owned(), |c| c.to_string()),
        ));
        out.push(Line::default());
        out.push(section("Timing"));
        out.push(kv("queued", format::timestamp(r.queued_ms)));
        out.push(kv(
            "started",
            r.started_ms
                .map_or_else(|| "-".to_owned(), format::timestamp),
        ));
        out.push(kv(
            "ended",
            r.ended_ms.map_or_else(|| "-".to_owned(), format::timestamp),
        ));
        out.push(kv(
            "duration",
            r.duration_ms(now_ms)
                .map_or_else(|| "-".to_owned(), format::duration_ms),
        ));
        if let Some(t) = r.retry_at_ms {
            out.push(kv("retry at", format::timestamp(t)));
        }
        out.push(Line::default());
        out.push(section("Logs"));
        out.push(kv(
            "stdout",
            format!("{} ({})", d.stdout_path, format::bytes(r.stdout_bytes)),
        ));
        out.push(kv(
            "stderr",
            format!("{} ({})", d.stderr_path, format::bytes(r.stderr_bytes)),
        ));
        if d.logs_pruned {
            out.push(Line::from(Span::styled(
                "  removed by the retention policy",
                theme.get("status-warn"),
            )));
        }
        out.push(kv("usage", crate::fmt::usage(&d.usage)));
        out.push(Line::default());
        out.push(section("History"));
        for t in &d.transitions {
            out.push(Line::from(vec![
                Span::styled(
                    format!("  {}  ", format::timestamp(t.at_ms)),
                    theme.get("dim"),
                ),
                Span::styled(
                    t.result
                        .map_or_else(|| t.lifecycle.as_str().to_owned(), |x| x.to_string()),
                    widgets::state_style(theme, t.lifecycle, t.result),
                ),
                Span::raw(if t.message.is_empty() {
                    String::new()
                } else {
                    format!("  {}", t.message)
                }),
            ]));
        }
        out.push(Line::default());
        out.push(section("Spec"));
        match &d.spec.source {
            JobSource::Code(code) => {
                out.push(kv("code", String::new()));
                for l in code.lines() {
                    out.push(Line::from(format!("  {l}")));
                }
            }
            JobSource::File(f) => out.push(kv("file", f.clone())),
        }
        if !d.spec.args.is_empty() {
            out.push(kv("args", d.spec.args.join(" ")));
        }
        if !d.argv.is_empty() {
            out.push(kv(
                "argv",
                d.argv
                    .iter()
                    .map(|a| {
                        if a.is_empty() || a.contains(char::is_whitespace) {
                            format!("{a:?}")
                        } else {
                            a.clone()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
            ));
        }
        out.push(kv(
            "cwd",
            d.spec
                .cwd
                .clone()
                .unwrap_or_else(|| "(run directory)".to_owned()),
        ));
        out.push(kv(
            "retries",
            format!(
                "{} (backoff {}s)",
                d.spec.retries, d.spec.retry_backoff_secs
            ),
        ));
        out.push(kv(
            "timeout",
            d.spec
                .timeout_secs
                .map_or_else(|| "none".to_owned(), |t| format!("{t}s")),
        ));
        if let Some(s) = &d.spec.schedule {
            out.push(kv("schedule", s.clone()));
        }
        for (k, v) in &d.spec.spark_conf {
            out.push(kv("spark conf", format!("{k}={v}")));
        }
        self.spark_lines(theme, &mut out);
        out.push(Line::default());
        out.push(section("Environment"));
        if d.spec.env.is_empty() {
            out.push(Line::from(Span::styled("  (none set)", theme.get("dim"))));
        }
        for e in &d.spec.env {
            let value = if e.secret {
                "<secret>"
            } else {
                e.value.as_str()
            };
            out.push(Line::from(format!("  {}={value}", e.key)));
        }
        out
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme, now_ms: UnixMillis) {
        let title = self
            .run
            .map_or_else(|| " Run ".to_owned(), |id| format!(" Run {id} "));
        let block = widgets::block(theme, title);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        if self.run.is_none() {
            widgets::message(
                frame,
                inner,
                "no run selected\nEnter on a run in the Runs screen shows it here",
                theme.get("dim"),
            );
            return;
        }
        if let Some((msg, err)) = widgets::load_message(&self.load, "the run") {
            widgets::message(
                frame,
                inner,
                &msg,
                theme.get(if err { "status-error" } else { "dim" }),
            );
            return;
        }
        frame.render_widget(
            Paragraph::new(self.lines(theme, now_ms))
                .wrap(Wrap { trim: false })
                .scroll((self.scroll, 0)),
            inner,
        );
    }
}
