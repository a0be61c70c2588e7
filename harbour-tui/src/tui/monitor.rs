//! The Monitor screen: charts of CPU (total, and per core when expanded), memory, network and
//! disk I/O over a window from 1 minute to 30 days, drawn from the daemon's stored history
//! (gaps stay gaps); the Services panel (health checks); the Containers panel with logs,
//! restart and stop. `+`/`-` zoom, `f` freezes the charts, `e` expands one chart in turn.
//!
//! State and drawing only: what to fetch is decided in `app.rs`, fetching is the shell's.

use harbour_shared::{
    Container, HealthReport, HealthStatus, MetricHistory, MetricsNow, UnixMillis,
};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart as RChart, Dataset, GraphType, Paragraph};

use super::action::{Action, Screen};
use super::app::{App, Command, Msg, Overlay};
use super::theme::Theme;
use super::widgets::{self, Load};
use crate::fmt;
use harbour_shared::ContainerAction;

/// How often services and containers are fetched while Monitor is shown.
const LIVE_EVERY_MS: i64 = 2_000;
/// How often the dashboard is fetched while shown, for its host gauges.
const GAUGES_EVERY_MS: i64 = 5_000;

impl App {
    /// What Monitor fetches: the charts when due (or `force`d), unless frozen; the live
    /// panels when due (or forced). Nothing while another screen is shown or a fetch is out.
    pub(super) fn monitor_fetch(&mut self, force: bool) -> Vec<Command> {
        self.monitor_fetch_parts(force, force)
    }

    /// The charts again now (a new window, say); the panels only when due.
    fn monitor_fetch_charts(&mut self) -> Vec<Command> {
        self.monitor_fetch_parts(false, true)
    }

    fn monitor_fetch_parts(&mut self, force_live: bool, force: bool) -> Vec<Command> {
        if self.screen != Screen::Monitor || !self.connected() {
            return Vec::new();
        }
        let now = self.now_ms;
        let m = &mut self.monitor;
        let mut out = Vec::new();
        if !m.live_in_flight && (force_live || now - m.live_fetched_ms >= LIVE_EVERY_MS) {
            m.live_in_flight = true;
            m.live_fetched_ms = now;
            out.push(Command::FetchMonitorLive);
        }
        if !m.history_in_flight
            && (force || (!m.frozen && now - m.history_fetched_ms >= m.history_every_ms()))
        {
            m.history_in_flight = true;
            m.history_fetched_ms = now;
            out.push(Command::FetchMonitorHistory {
                series: m.series(),
                window_ms: m.window_ms(),
            });
        }
        out
    }

    /// Each second: Monitor's fetches when due, and the dashboard's gauges when shown.
    pub(super) fn monitor_tick(&mut self) -> Vec<Command> {
        if self.screen == Screen::Dashboard
            && self.connected()
            && self.dash.data.is_some()
            && self.now_ms - self.dash.fetched_ms >= GAUGES_EVERY_MS
        {
            return self.fetch_dashboard();
        }
        self.monitor_fetch(false)
    }

    pub(super) fn on_monitor_msg(&mut self, msg: Msg) -> Vec<Command> {
        let m = &mut self.monitor;
        match msg {
            Msg::MonitorHistory(r) => {
                m.history_in_flight = false;
                match r {
                    Ok(h) => {
                        m.history = Some(h);
                        m.history_load = Load::Loaded;
                    }
                    Err(e) => m.history_load = Load::Failed(e),
                }
            }
            Msg::MonitorLive {
                now,
                health,
                containers,
            } => {
                m.live_in_flight = false;
                let first = m.now.is_none();
                // A failed sample keeps the last good one; the panels say what failed.
                if let Ok(now) = now {
                    m.now = Some(*now);
                }
                m.health = Some(health);
                m.containers = Some(containers);
                m.move_by(0);
                // The first sample names the interfaces and cores: fetch the charts with them.
                if first && m.now.is_some() {
                    return self.monitor_fetch_charts();
                }
            }
            Msg::ContainerDone(r) => {
                match r {
                    Ok(t) => self.info(t),
                    Err(e) => self.error(e),
                }
                self.monitor.live_fetched_ms = 0;
                return self.monitor_fetch(false);
            }
            _ => {}
        }
        Vec::new()
    }

    /// Monitor's meaning of an action, or `None` to use the global one.
    pub(super) fn monitor_apply(&mut self, action: Action) -> Option<Vec<Command>> {
        let m = &mut self.monitor;
        match action {
            Action::ZoomIn | Action::ZoomOut => {
                m.zoom(action == Action::ZoomOut);
                m.history = None;
                m.history_load = Load::Loading;
                let label = m.window_label();
                self.info(format!("charts: last {label}"));
                Some(self.monitor_fetch_charts())
            }
            Action::Freeze => {
                m.frozen = !m.frozen;
                let said = if m.frozen {
                    "charts frozen (f resumes)"
                } else {
                    "charts live"
                };
                self.info(said);
                Some(if self.monitor.frozen {
                    Vec::new()
                } else {
                    self.monitor_fetch_charts()
                })
            }
            Action::Expand => {
                m.expand_next();
                Some(self.monitor_fetch_charts())
            }
            Action::Refresh => {
                m.live_fetched_ms = 0;
                Some(self.monitor_fetch(true))
            }
            Action::Logs => {
                let c = m.selected_container()?.clone();
                Some(self.open_container_logs(c.id, c.name))
            }
            Action::Restart | Action::Kill => {
                let c = m.selected_container()?.clone();
                let (verb, what) = if action == Action::Restart {
                    ("Restart", ContainerAction::Restart)
                } else {
                    ("Stop", ContainerAction::Stop)
                };
                self.overlay = Some(Overlay::Confirm {
                    prompt: format!("{verb} container {} ({})?", c.name, c.state),
                    yes: Command::Container(c.id, what),
                });
                Some(Vec::new())
            }
            _ => None,
        }
    }
}

/// The windows `+` and `-` walk, with their labels.
pub const WINDOWS: [(u64, &str); 8] = [
    (60_000, "1m"),
    (300_000, "5m"),
    (900_000, "15m"),
    (3_600_000, "1h"),
    (6 * 3_600_000, "6h"),
    (24 * 3_600_000, "24h"),
    (7 * 24 * 3_600_000, "7d"),
    (30 * 24 * 3_600_000, "30d"),
];

/// The charts, in the order `e` expands them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chart {
    Cpu,
    Memory,
    Network,
    Disk,
}

impl Chart {
    pub const ALL: [Chart; 4] = [Self::Cpu, Self::Memory, Self::Network, Self::Disk];

    fn title(self) -> &'static str {
        match self {
            Self::Cpu => "CPU %",
            Self::Memory => "Memory %",
            Self::Network => "Network",
            Self::Disk => "Disk I/O",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct MonitorState {
    /// Index into [`WINDOWS`].
    pub window: usize,
    pub frozen: bool,
    pub expanded: Option<Chart>,
    pub history: Option<Vec<MetricHistory>>,
    pub history_load: Load,
    pub now: Option<MetricsNow>,
    pub health: Option<Result<HealthReport, String>>,
    /// `Err` says why there are none (`Docker unavailable: ...`).
    pub containers: Option<Result<Vec<Container>, String>>,
    pub selected: usize,
    pub history_fetched_ms: UnixMillis,
    pub live_fetched_ms: UnixMillis,
    pub history_in_flight: bool,
    pub live_in_flight: bool,
}

impl MonitorState {
    pub fn new() -> Self {
        Self {
            // An hour: what a user opening Monitor after a while wants to see first.
            window: 3,
            ..Self::default()
        }
    }

    pub fn window_ms(&self) -> u64 {
        WINDOWS[self.window.min(WINDOWS.len() - 1)].0
    }

    pub fn window_label(&self) -> &'static str {
        WINDOWS[self.window.min(WINDOWS.len() - 1)].1
    }

    /// How often the charts are fetched again: about once per step, at least every 2 s.
    pub fn history_every_ms(&self) -> i64 {
        i64::try_from((self.window_ms() / 300).max(2_000)).unwrap_or(2_000)
    }

    /// The series the charts need, given what the last sample showed.
    pub fn series(&self) -> Vec<String> {
        let mut s: Vec<String> = ["cpu", "mem.used", "mem.total", "disk.read", "disk.write"]
            .iter()
            .map(|n| (*n).to_owned())
            .collect();
        if let Some(now) = &self.now {
            if self.expanded == Some(Chart::Cpu) {
                s.extend((0..now.cores.len()).map(|i| format!("cpu.{i}")));
            }
            for n in &now.networks {
                s.push(format!("net.{}.rx", n.interface));
                s.push(format!("net.{}.tx", n.interface));
            }
        }
        s
    }

    pub fn zoom(&mut self, out: bool) {
        self.window = if out {
            (self.window + 1).min(WINDOWS.len() - 1)
        } else {
            self.window.saturating_sub(1)
        };
    }

    pub fn expand_next(&mut self) {
        self.expanded = match self.expanded {
            None => Some(Chart::Cpu),
            Some(c) => {
                let i = Chart::ALL.iter().position(|x| *x == c).unwrap_or(0);
                Chart::ALL.get(i + 1).copied()
            }
        };
    }

    pub fn container_list(&self) -> &[Container] {
        match &self.containers {
            Some(Ok(list)) => list,
            _ => &[],
        }
    }

    pub fn selected_container(&self) -> Option<&Container> {
        self.container_list().get(self.selected)
    }

    pub fn move_by(&mut self, delta: isize) {
        let n = self.container_list().len();
        if n == 0 {
            self.selected = 0;
            return;
        }
        self.selected = self.selected.saturating_add_signed(delta).min(n - 1);
    }

    fn history_of(&self, name: &str) -> Option<&MetricHistory> {
        self.history.as_ref()?.iter().find(|h| h.series == name)
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme, now_ms: UnixMillis) {
        let title = format!(
            " Monitor: last {}{}  (+/- zoom, f freeze, e expand) ",
            self.window_label(),
            if self.frozen { "  FROZEN" } else { "" }
        );
        let block = widgets::block(theme, title);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let panels_h = if inner.height >= 30 { 10 } else { 7 };
        let [charts, panels] =
            Layout::vertical([Constraint::Min(6), Constraint::Length(panels_h)]).areas(inner);
        self.render_charts(frame, charts, theme);
        let [services, containers] =
            Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)])
                .areas(panels);
        self.render_services(frame, services, theme, now_ms);
        self.render_containers(frame, containers, theme);
    }

    fn render_charts(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        if self.history.is_none() {
            let (msg, err) = widgets::load_message(&self.history_load, "metric history")
                .unwrap_or_else(|| ("loading metric history…".to_owned(), false));
            widgets::message(
                frame,
                area,
                &msg,
                theme.get(if err { "status-error" } else { "dim" }),
            );
            return;
        }
        if let Some(c) = self.expanded {
            self.render_chart(frame, area, theme, c);
            return;
        }
        let [top, bottom] =
            Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
        let [a, b] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
        let [c, d] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(bottom);
        for (chart, rect) in Chart::ALL.into_iter().zip([a, b, c, d]) {
            self.render_chart(frame, rect, theme, chart);
        }
    }

    /// The lines of a chart: (label, style, value per step).
    fn lines(&self, chart: Chart, theme: &Theme) -> Vec<(String, Style, Vec<Option<f64>>)> {
        let values = |name: &str| {
            self.history_of(name)
                .map(|h| h.values.clone())
                .unwrap_or_default()
        };
        let styles = [
            "state-running",
            "state-succeeded",
            "state-queued",
            "state-failed",
            "title",
            "state-cancelled",
        ];
        match chart {
            Chart::Cpu => {
                let mut out = vec![(
                    "total".to_owned(),
                    theme.get("state-running"),
                    values("cpu"),
                )];
                if self.expanded == Some(Chart::Cpu) {
                    let cores = self.now.as_ref().map_or(0, |n| n.cores.len());
                    for i in 0..cores {
                        out.push((
                            format!("cpu{i}"),
                            theme.get(styles[(i + 1) % styles.len()]),
                            values(&format!("cpu.{i}")),
                        ));
                    }
                }
                out
            }
            Chart::Memory => {
                let used = values("mem.used");
                let total = values("mem.total");
                let pct = used
                    .iter()
                    .zip(total.iter().chain(std::iter::repeat(&None)))
                    .map(|(u, t)| match (u, t) {
                        (Some(u), Some(t)) if *t > 0.0 => Some(u / t * 100.0),
                        _ => None,
                    })
                    .collect();
                vec![("used".to_owned(), theme.get("state-succeeded"), pct)]
            }
            Chart::Network => {
                let sum = |suffix: &str| {
                    let all: Vec<&MetricHistory> = self
                        .history
                        .iter()
                        .flatten()
                        .filter(|h| h.series.starts_with("net.") && h.series.ends_with(suffix))
                        .collect();
                    let steps = all.first().map_or(0, |h| h.values.len());
                    (0..steps)
                        .map(|i| {
                            let vals: Vec<f64> = all
                                .iter()
                                .filter_map(|h| h.values.get(i).copied().flatten())
                                .collect();
                            (!vals.is_empty()).then(|| vals.iter().sum())
                        })
                        .collect::<Vec<_>>()
                };
                vec![
                    ("rx".to_owned(), theme.get("state-running"), sum(".rx")),
                    ("tx".to_owned(), theme.get("state-queued"), sum(".tx")),
                ]
            }
            Chart::Disk => vec![
                (
                    "read".to_owned(),
                    theme.get("state-running"),
                    values("disk.read"),
                ),
                (
                    "write".to_owned(),
                    theme.get("state-queued"),
                    values("disk.write"),
                ),
            ],
        }
    }

    fn render_chart(&self, frame: &mut Frame, area: Rect, theme: &Theme, chart: Chart) {
        let lines = self.lines(chart, theme);
        let step_s = self
            .history
            .as_ref()
            .and_then(|h| h.first())
            .map_or(1.0, |h| h.step_ms as f64 / 1000.0);
        let steps = lines.iter().map(|l| l.2.len()).max().unwrap_or(0);
        let percent = matches!(chart, Chart::Cpu | Chart::Memory);
        // Contiguous runs of values become one dataset each, so a gap is drawn as a gap.
        let mut segments: Vec<(usize, Vec<(f64, f64)>)> = Vec::new();
        let mut max = 0.0_f64;
        let mut latest = Vec::new();
        for (li, (_, _, values)) in lines.iter().enumerate() {
            let mut current: Vec<(f64, f64)> = Vec::new();
            for (i, v) in values.iter().enumerate() {
                let x = (i as f64 - steps as f64 + 1.0) * step_s;
                match v {
                    Some(v) => {
                        max = max.max(*v);
                        current.push((x, *v));
                    }
                    None if !current.is_empty() => {
                        segments.push((li, std::mem::take(&mut current)))
                    }
                    None => {}
                }
            }
            if !current.is_empty() {
                segments.push((li, current));
            }
            latest.push(values.iter().rev().flatten().next().copied());
        }
        let top = if percent { 100.0 } else { (max * 1.1).max(1.0) };
        let fmt_value = |v: f64| {
            if percent {
                format!("{v:.0}%")
            } else {
                format!("{}/s", fmt::bytes(v.max(0.0) as u64))
            }
        };
        let mut title = vec![Span::raw(format!(" {} ", chart.title()))];
        for ((label, style, _), last) in lines.iter().zip(&latest).take(6) {
            title.push(Span::styled(
                format!(
                    "{label} {} ",
                    last.map_or_else(|| "-".to_owned(), fmt_value)
                ),
                *style,
            ));
        }
        let block = widgets::block(theme, Line::from(title));
        let datasets: Vec<Dataset> = segments
            .iter()
            .map(|(li, points)| {
                Dataset::default()
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .style(lines[*li].1)
                    .data(points)
            })
            .collect();
        let span_s = steps as f64 * step_s;
        let x = Axis::default()
            .bounds([-span_s, 0.0])
            .labels([
                Span::styled(format!("-{}", self.window_label()), theme.get("dim")),
                Span::styled("now", theme.get("dim")),
            ])
            .style(theme.get("dim"));
        let y = Axis::default()
            .bounds([0.0, top])
            .labels([
                Span::styled("0", theme.get("dim")),
                Span::styled(
                    if percent {
                        "100".to_owned()
                    } else {
                        fmt::bytes(top as u64)
                    },
                    theme.get("dim"),
                ),
            ])
            .style(theme.get("dim"));
        if segments.is_empty() {
            let inner = block.inner(area);
            frame.render_widget(block, area);
            widgets::message(frame, inner, "no data in this window", theme.get("dim"));
            return;
        }
        frame.render_widget(RChart::new(datasets).block(block).x_axis(x).y_axis(y), area);
    }

    fn render_services(&self, frame: &mut Frame, area: Rect, theme: &Theme, now_ms: UnixMillis) {
        let block = widgets::block(theme, " Services ");
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let report = match &self.health {
            None => {
                widgets::message(frame, inner, "loading…", theme.get("dim"));
                return;
            }
            Some(Err(e)) => {
                widgets::message(frame, inner, e, theme.get("status-error"));
                return;
            }
            Some(Ok(r)) => r,
        };
        let width = usize::from(inner.width);
        let lines: Vec<Line> = report
            .checks
            .iter()
            .take(usize::from(inner.height))
            .map(|c| {
                let (mark, style) = match c.status {
                    HealthStatus::Up => ("●", theme.get("state-succeeded")),
                    HealthStatus::Down => ("✖", theme.get("state-failed")),
                    HealthStatus::Pending => ("○", theme.get("state-queued")),
                };
                let head = format!(
                    " {:<16} {:<7} {:>5} ",
                    widgets::ellipsize(&c.name, 16),
                    c.status.as_str(),
                    fmt::duration_ms(now_ms - c.since_ms)
                );
                let used = head.chars().count() + 1;
                Line::from(vec![
                    Span::styled(mark, style),
                    Span::styled(head, style),
                    Span::styled(
                        widgets::ellipsize(&c.message, width.saturating_sub(used)),
                        theme.get("dim"),
                    ),
                ])
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), inner);
    }

    fn render_containers(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let block = widgets::block(theme, " Containers (l logs, r restart, ctrl-k stop) ");
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let list = match &self.containers {
            None => {
                widgets::message(frame, inner, "loading…", theme.get("dim"));
                return;
            }
            Some(Err(e)) => {
                widgets::message(frame, inner, e, theme.get("status-warn"));
                return;
            }
            Some(Ok(list)) if list.is_empty() => {
                widgets::message(frame, inner, "no containers", theme.get("dim"));
                return;
            }
            Some(Ok(list)) => list,
        };
        let height = usize::from(inner.height);
        let top = widgets::scroll_top(0, self.selected, height, list.len());
        let width = usize::from(inner.width);
        let mut project: Option<&str> = None;
        let lines: Vec<Line> = list
            .iter()
            .enumerate()
            .skip(top)
            .take(height)
            .map(|(i, c)| {
                let health = c.health.as_deref().unwrap_or("-");
                let style = match (c.state.as_str(), health) {
                    ("running", "unhealthy") => theme.get("state-failed"),
                    ("running", "starting") => theme.get("state-queued"),
                    ("running", _) => theme.get("state-succeeded"),
                    _ => theme.get("state-cancelled"),
                };
                // A compose project's containers sit together, named once.
                let group = c.project.as_deref();
                let proj = if group.is_some() && group != project {
                    group.unwrap_or_default().to_owned()
                } else if group.is_some() {
                    "·".to_owned()
                } else {
                    String::new()
                };
                project = group;
                let text = format!(
                    "{:<10} {:<20} {:<8} {:<9} {}",
                    widgets::ellipsize(&proj, 10),
                    widgets::ellipsize(&c.name, 20),
                    widgets::ellipsize(&c.state, 8),
                    widgets::ellipsize(health, 9),
                    c.status
                );
                let line = Line::from(Span::styled(widgets::ellipsize(&text, width), style));
                if i == self.selected {
                    line.style(theme.get("selected"))
                } else {
                    line
                }
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoom_walks_the_windows_and_stops_at_the_ends() {
        let mut m = MonitorState::new();
        assert_eq!(m.window_label(), "1h");
        m.zoom(true);
        assert_eq!(m.window_label(), "6h");
        for _ in 0..10 {
            m.zoom(true);
        }
        assert_eq!(m.window_label(), "30d");
        for _ in 0..10 {
            m.zoom(false);
        }
        assert_eq!(m.window_label(), "1m");
        assert_eq!(m.history_every_ms(), 2_000);
    }

    #[test]
    fn expanding_cycles_through_the_charts_and_back() {
        let mut m = MonitorState::new();
        let seen: Vec<Option<Chart>> = (0..5)
            .map(|_| {
                m.expand_next();
                m.expanded
            })
            .collect();
        assert_eq!(
            seen,
            [
                Some(Chart::Cpu),
                Some(Chart::Memory),
                Some(Chart::Network),
                Some(Chart::Disk),
                None
            ]
        );
    }
}
