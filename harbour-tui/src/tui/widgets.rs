//! Small pieces the screens share: the loading state every screen has, the colour of a run
//! state, and helpers for drawing messages and boxes.

use harbour_shared::{Lifecycle, RunResult};
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Wrap};

use super::theme::Theme;

/// Where a screen's data is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Load {
    #[default]
    Loading,
    Loaded,
    Failed(String),
}

/// The theme style for a run's state.
pub fn state_style(theme: &Theme, lifecycle: Lifecycle, result: Option<RunResult>) -> Style {
    match (lifecycle, result) {
        (_, Some(RunResult::Succeeded)) => theme.get("state-succeeded"),
        (_, Some(RunResult::Failed { .. } | RunResult::TimedOut | RunResult::Lost)) => {
            theme.get("state-failed")
        }
        (_, Some(RunResult::Cancelled)) => theme.get("state-cancelled"),
        (Lifecycle::Running | Lifecycle::Starting | Lifecycle::Terminating, None) => {
            theme.get("state-running")
        }
        _ => theme.get("state-queued"),
    }
}

/// A bordered block with a title, in the theme's colours.
pub fn block<'a>(theme: &Theme, title: impl Into<Line<'a>>) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(theme.get("border"))
        .title(title.into().style(theme.get("title")))
}

/// A message in the middle of `area`: what a screen shows while loading, when empty or after
/// an error.
pub fn message(frame: &mut Frame, area: Rect, text: &str, style: Style) {
    let lines: Vec<Line> = text
        .lines()
        .map(|l| Line::from(Span::styled(l.to_owned(), style)))
        .collect();
    let height = u16::try_from(lines.len()).unwrap_or(1).min(area.height);
    let [mid] = Layout::vertical([Constraint::Length(height + 1)])
        .flex(Flex::Center)
        .areas(area);
    frame.render_widget(
        Paragraph::new(lines)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        mid,
    );
}

/// The standard message for a screen's load state; `None` when loaded.
/// Draws a list screen's frame and, while its data is loading or failed to load, says so
/// inside it. Returns the inner area when the list itself is to be drawn.
pub fn list_frame(
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    title: String,
    load: &Load,
    what: &str,
) -> Option<Rect> {
    let block = block(theme, title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if let Some((msg, err)) = load_message(load, what) {
        let style = theme.get(if err { "status-error" } else { "dim" });
        message(frame, inner, &msg, style);
        return None;
    }
    Some(inner)
}

/// A filterable list's title: ` Runs (12) `, or ` Runs (3/12) /etl ` while filtered.
pub fn list_title(noun: &str, shown: usize, total: usize, filter: &str) -> String {
    if filter.is_empty() {
        format!(" {noun} ({shown}) ")
    } else {
        format!(" {noun} ({shown}/{total}) /{filter} ")
    }
}

/// What an empty list says: `none` when there is nothing at all, else that the filter
/// matches nothing (`one` names a single item).
pub fn empty_list(
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    nothing: bool,
    none: &str,
    one: &str,
    filter: &str,
) {
    let msg = if nothing {
        none.to_owned()
    } else {
        format!("no {one} matches /{filter}\nesc clears the filter")
    };
    message(frame, area, &msg, theme.get("dim"));
}

pub fn load_message(load: &Load, what: &str) -> Option<(String, bool)> {
    match load {
        Load::Loading => Some((format!("loading {what}…"), false)),
        Load::Loaded => None,
        Load::Failed(why) => Some((
            format!("could not load {what}:\n{why}\nctrl-r retries"),
            true,
        )),
    }
}

/// A rectangle of at most `w` x `h` centred in `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// Cuts `s` to `width` columns, ending with `…` when cut.
pub fn ellipsize(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The first row to draw so that `selected` is visible in `height` rows, starting from the
/// remembered `top`.
pub fn scroll_top(top: usize, selected: usize, height: usize, len: usize) -> usize {
    let height = height.max(1);
    let mut top = top.min(selected);
    if selected >= top + height {
        top = selected + 1 - height;
    }
    top.min(len.saturating_sub(height)).min(selected)
}
