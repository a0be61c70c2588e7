//! What a key can ask for. Actions are data (serde, kebab-case names) so the keymap in
//! `tui.toml` can name them; `App::update` gives each its meaning on the current screen.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The screens, in the order `[` and `]` and the number keys walk them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Screen {
    Dashboard,
    Runs,
    Jobs,
    Logs,
    Details,
    Sql,
    Clusters,
    Monitor,
    // --- Notebooks ---
    Notebooks,
    // --- Analytics ---
    Spark,
    // --- Ingestion ---
    Ingest,
}

impl Screen {
    /// The screens `[`/`]` cycle through. Details is reached from a run, not by cycling.
    pub const CYCLE: [Screen; 10] = [
        Self::Dashboard,
        Self::Runs,
        Self::Jobs,
        Self::Logs,
        Self::Sql,
        Self::Clusters,
        Self::Monitor,
        Self::Notebooks,
        Self::Spark,
        Self::Ingest,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Self::Dashboard => "Dashboard",
            Self::Runs => "Runs",
            Self::Jobs => "Jobs",
            Self::Logs => "Logs",
            Self::Details => "Run details",
            Self::Monitor => "Monitor",
            Self::Sql => "SQL",
            Self::Clusters => "Clusters",
            Self::Notebooks => "Notebooks",
            Self::Spark => "Spark",
            Self::Ingest => "Ingest",
        }
    }

    /// The keymap section whose keys apply on this screen (besides `global`).
    pub fn keymap_section(self) -> &'static str {
        match self {
            Self::Dashboard => "dashboard",
            Self::Runs => "runs",
            Self::Jobs => "jobs",
            Self::Logs => "logs",
            Self::Details => "details",
            Self::Monitor => "monitor",
            Self::Sql => "sql",
            Self::Clusters => "clusters",
            Self::Notebooks => "notebooks",
            Self::Spark => "spark",
            Self::Ingest => "ingest",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Quit,
    Back,
    Help,
    Palette,
    NextScreen,
    PrevScreen,
    GoDashboard,
    GoRuns,
    GoJobs,
    GoLogs,
    GoMonitor,
    GoSql,
    GoClusters,
    // --- Analytics ---
    GoSpark,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Open the selected thing (run details, a job's runs).
    Select,
    Filter,
    /// Runs: sort by the next column; pressing on the same column flips the order.
    SortNext,
    SortReverse,
    Refresh,
    Yank,
    Logs,
    Kill,
    Restart,
    Submit,
    RunJob,
    TogglePause,
    Delete,
    // Logs
    Search,
    SearchNext,
    SearchPrev,
    ToggleWrap,
    ToggleTimestamps,
    ToggleStream,
    ToggleFollow,
    SaveLog,
    // Monitor
    ZoomIn,
    ZoomOut,
    Freeze,
    Expand,
    // --- Ingestion ---
    GoIngest,
    Edit,
    Schemas,
    // --- Notebooks ---
    GoNotebooks,
    Rename,
}

impl Action {
    pub const ALL: [Action; 52] = [
        Self::Quit,
        Self::Back,
        Self::Help,
        Self::Palette,
        Self::NextScreen,
        Self::PrevScreen,
        Self::GoDashboard,
        Self::GoRuns,
        Self::GoJobs,
        Self::GoLogs,
        Self::GoMonitor,
        Self::GoSql,
        Self::GoClusters,
        Self::GoSpark,
        Self::Up,
        Self::Down,
        Self::Left,
        Self::Right,
        Self::PageUp,
        Self::PageDown,
        Self::Top,
        Self::Bottom,
        Self::Select,
        Self::Filter,
        Self::SortNext,
        Self::SortReverse,
        Self::Refresh,
        Self::Yank,
        Self::Logs,
        Self::Kill,
        Self::Restart,
        Self::Submit,
        Self::RunJob,
        Self::TogglePause,
        Self::Delete,
        Self::Search,
        Self::SearchNext,
        Self::SearchPrev,
        Self::ToggleWrap,
        Self::ToggleTimestamps,
        Self::ToggleStream,
        Self::ToggleFollow,
        Self::SaveLog,
        Self::ZoomIn,
        Self::ZoomOut,
        Self::Freeze,
        Self::Expand,
        Self::GoIngest,
        Self::Edit,
        Self::Schemas,
        Self::GoNotebooks,
        Self::Rename,
    ];

    /// The name used in `tui.toml`.
    pub fn name(self) -> String {
        // serde gives the kebab-case name; a unit variant always serializes to a string.
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(s)) => s,
            _ => String::new(),
        }
    }

    /// A few words for the help overlay.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Quit => "quit",
            Self::Back => "back / close",
            Self::Help => "this help",
            Self::Palette => "command palette",
            Self::NextScreen => "next screen",
            Self::PrevScreen => "previous screen",
            Self::GoDashboard => "dashboard",
            Self::GoRuns => "runs",
            Self::GoJobs => "jobs",
            Self::GoLogs => "logs",
            Self::GoMonitor => "monitor",
            Self::GoSql => "SQL console",
            Self::GoClusters => "clusters",
            Self::GoSpark => "Spark applications (event-log analytics)",
            Self::Up => "up",
            Self::Down => "down",
            Self::Left => "left / scroll left",
            Self::Right => "right / scroll right",
            Self::PageUp => "page up",
            Self::PageDown => "page down",
            Self::Top => "top",
            Self::Bottom => "bottom (logs: follow)",
            Self::Select => "open",
            Self::Filter => "filter (! inverts)",
            Self::SortNext => "sort by next column",
            Self::SortReverse => "reverse sort",
            Self::Refresh => "refresh",
            Self::Yank => "copy row/line (OSC 52)",
            Self::Logs => "logs of the run",
            Self::Kill => "kill the run",
            Self::Restart => "restart the run",
            Self::Submit => "submit a new run",
            Self::RunJob => "run the job now",
            Self::TogglePause => "pause / resume",
            Self::Delete => "delete",
            Self::Search => "search",
            Self::SearchNext => "next match",
            Self::SearchPrev => "previous match",
            Self::ToggleWrap => "wrap lines",
            Self::ToggleTimestamps => "timestamps",
            Self::ToggleStream => "stdout / stderr / both",
            Self::ToggleFollow => "follow",
            Self::SaveLog => "save the log to a file",
            Self::ZoomIn => "charts: shorter window",
            Self::ZoomOut => "charts: longer window",
            Self::Freeze => "charts: freeze / unfreeze",
            Self::Expand => "charts: expand the next one",
            Self::GoIngest => "ingestions",
            Self::Edit => "edit the selected one",
            Self::Schemas => "schema versions",
            Self::GoNotebooks => "notebooks",
            Self::Rename => "rename the selected one",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| format!("'{s}' is not an action"))
    }
}
