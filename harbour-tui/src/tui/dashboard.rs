//! The Dashboard: counts of jobs, runs by state, notebooks and clusters; the last 7 days of
//! runs by result as a bar chart; recent failures with their message; and the host (CPU,
//! memory, load, the fullest disk) with the health checks' summary.

use harbour_shared::{Dashboard, HealthSummary, HostGauges, UnixMillis};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Paragraph};

use super::format;
use super::theme::Theme;
use super::widgets::{self, Load};

#[derive(Debug, Clone, Default)]
pub struct DashState {
    pub load: Load,
    pub data: Option<Dashboard>,
    /// A fetch is out; another change while it is out fetches again when it returns.
    pub in_flight: bool,
    pub stale: bool,
    /// When the last fetch went out: the host gauges are refreshed every few seconds.
    pub fetched_ms: UnixMillis,
}

impl DashState {
    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme, now_ms: UnixMillis) {
        let Some(d) = &self.data else {
            let block = widgets::block(theme, " Dashboard ");
            let inner = block.inner(area);
            frame.render_widget(block, area);
            let (msg, err) = widgets::load_message(&self.load, "the dashboard").unwrap_or_default();
            widgets::message(
                frame,
                inner,
                &msg,
                theme.get(if err { "status-error" } else { "dim" }),
            );
            return;
        };
        let tall = area.height >= 30;
        let [counts_area, mid, host] = Layout::vertical([
            Constraint::Length(5),
            Constraint::Min(8),
            Constraint::Length(if tall { 6 } else { 3 }),
        ])
        .areas(area);
        self.render_counts(frame, counts_area, theme, d);
        let [chart_area, fail_area] = if mid.width >= 100 {
            Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(mid)
        } else {
            Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(mid)
        };
        render_trend(frame, chart_area, theme, d);
        render_failures(frame, fail_area, theme, d, now_ms);
        render_host(frame, host, theme, d.host.as_ref(), &d.health);
    }

    fn render_counts(&self, frame: &mut Frame, area: Rect, theme: &Theme, d: &Dashboard) {
        let block = widgets::block(theme, " Overview ");
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let r = &d.runs;
        let n = |label: &'static str, v: u64, style: &str| {
            vec![
                Span::styled(format!("{v}"), theme.get(style).bold()),
                Span::raw(format!(" {label}  ")),
            ]
        };
        let line1: Vec<Span> = [
            n("jobs", d.jobs, "title"),
            n("scheduled", d.scheduled_jobs, "title"),
            n("notebooks", d.notebooks, "title"),
            n("clusters", d.clusters, "title"),
            n("runs", r.total(), "title"),
        ]
        .concat();
        let line2: Vec<Span> = [
            n(
                "running",
                r.running + r.starting + r.terminating,
                "state-running",
            ),
            n("queued", r.queued, "state-queued"),
            n("waiting", r.waiting_for_retry, "state-queued"),
        ]
        .concat();
        let line3: Vec<Span> = [
            n("succeeded", r.succeeded, "state-succeeded"),
            n("failed", r.failed, "state-failed"),
            n("timed out", r.timed_out, "state-failed"),
            n("lost", r.lost, "state-failed"),
            n("cancelled", r.cancelled, "state-cancelled"),
        ]
        .concat();
        frame.render_widget(
            Paragraph::new(vec![
                Line::from(line1),
                Line::from(line2),
                Line::from(line3),
            ]),
            inner,
        );
    }
}

fn render_trend(frame: &mut Frame, area: Rect, theme: &Theme, d: &Dashboard) {
    let block = widgets::block(
        theme,
        Line::from(vec![
            Span::raw(" Runs, last 7 days: "),
            Span::styled("■ ok ", theme.get("chart-succeeded")),
            Span::styled("■ failed ", theme.get("chart-failed")),
            Span::styled("■ cancelled ", theme.get("state-cancelled")),
        ]),
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if d.trend
        .iter()
        .all(|t| t.succeeded + t.failed + t.cancelled == 0)
    {
        widgets::message(
            frame,
            inner,
            "no run ended in the last 7 days",
            theme.get("dim"),
        );
        return;
    }
    let groups = d.trend.iter().map(|t| {
        let label = t.date.get(5..).unwrap_or(&t.date).to_owned();
        BarGroup::with_label(
            Line::from(label),
            vec![
                Bar::new(t.succeeded)
                    .style(theme.get("chart-succeeded"))
                    .value_style(theme.get("chart-succeeded").reversed()),
                Bar::new(t.failed)
                    .style(theme.get("chart-failed"))
                    .value_style(theme.get("chart-failed").reversed()),
                Bar::new(t.cancelled)
                    .style(theme.get("state-cancelled"))
                    .value_style(theme.get("state-cancelled").reversed()),
            ],
        )
    });
    // Seven groups of three bars with gaps must fit the width.
    let bar_width = ((inner.width.saturating_sub(7 * 2)) / 21).clamp(1, 5);
    let mut chart = BarChart::default()
        .bar_width(bar_width)
        .bar_gap(0)
        .group_gap(2);
    for g in groups {
        chart = chart.data(g);
    }
    frame.render_widget(chart, inner);
}

fn render_failures(
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    d: &Dashboard,
    now_ms: UnixMillis,
) {
    let block = widgets::block(theme, " Recent failures ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if d.recent_failures.is_empty() {
        widgets::message(frame, inner, "no failures", theme.get("state-succeeded"));
        return;
    }
    let width = usize::from(inner.width);
    let lines: Vec<Line> = d
        .recent_failures
        .iter()
        .take(usize::from(inner.height))
        .map(|r| {
            let head = format!("#{} {} ", r.id, widgets::ellipsize(&r.job_name, 20));
            let when = r
                .ended_ms
                .map_or_else(String::new, |t| format!(" {}", format::ago(t, now_ms)));
            let label = r
                .result
                .map_or_else(|| r.state_label().to_owned(), |x| x.to_string());
            let used = head.chars().count() + label.chars().count() + when.chars().count() + 1;
            Line::from(vec![
                Span::raw(head),
                Span::styled(label, widgets::state_style(theme, r.lifecycle, r.result)),
                Span::styled(when, theme.get("dim")),
                Span::raw(" "),
                Span::styled(
                    widgets::ellipsize(&r.state_message, width.saturating_sub(used)),
                    theme.get("dim"),
                ),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// A bar of `width` cells, `percent` full: `████░░░░`.
pub fn bar(percent: f64, width: usize) -> String {
    let full = ((percent.clamp(0.0, 100.0) / 100.0) * width as f64).round() as usize;
    format!(
        "{}{}",
        "█".repeat(full),
        "░".repeat(width.saturating_sub(full))
    )
}

fn level_style(theme: &Theme, percent: f64) -> ratatui::style::Style {
    theme.get(match percent {
        p if p >= 90.0 => "state-failed",
        p if p >= 70.0 => "state-queued",
        _ => "state-succeeded",
    })
}

/// Host gauges and the health summary; one line each when there is room for two.
fn render_host(
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    host: Option<&HostGauges>,
    health: &HealthSummary,
) {
    let block = widgets::block(theme, " Host & health ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut gauges: Vec<Span> = Vec::new();
    match host {
        None => gauges.push(Span::styled("host: no sample yet", theme.get("dim"))),
        Some(h) => {
            let mem = if h.memory_total_bytes > 0 {
                h.memory_used_bytes as f64 / h.memory_total_bytes as f64 * 100.0
            } else {
                0.0
            };
            let mut gauge = |label: &str, percent: f64, extra: String| {
                gauges.push(Span::raw(format!("{label} ")));
                gauges.push(Span::styled(bar(percent, 8), level_style(theme, percent)));
                gauges.push(Span::raw(format!(" {percent:>3.0}%{extra}  ")));
            };
            gauge("cpu", h.cpu_percent, String::new());
            gauge(
                "mem",
                mem,
                format!(
                    " {}/{}",
                    crate::fmt::bytes(h.memory_used_bytes),
                    crate::fmt::bytes(h.memory_total_bytes)
                ),
            );
            if let Some((mount, full)) = &h.fullest_disk {
                gauge(&format!("disk {mount}"), *full, String::new());
            }
            gauges.push(Span::raw(format!("load {:.2}", h.load1)));
        }
    }
    let mut checks = vec![
        Span::raw("health: "),
        Span::styled(format!("{} up", health.up), theme.get("state-succeeded")),
        Span::raw(", "),
        Span::styled(
            format!("{} down", health.down),
            theme.get(if health.down > 0 {
                "state-failed"
            } else {
                "dim"
            }),
        ),
        Span::raw(format!(", {} pending", health.pending)),
    ];
    if !health.down_checks.is_empty() {
        checks.push(Span::styled(
            format!("  down: {}", health.down_checks.join(", ")),
            theme.get("state-failed"),
        ));
    }
    let lines = if inner.height >= 2 {
        vec![Line::from(gauges), Line::from(checks)]
    } else {
        // One line: the health summary first, since a down check matters most.
        let mut one = checks;
        one.push(Span::raw("  "));
        one.extend(gauges);
        vec![Line::from(one)]
    };
    frame.render_widget(Paragraph::new(lines), inner);
}
