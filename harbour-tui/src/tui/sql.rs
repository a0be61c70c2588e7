//! The SQL screen: a multi-line editor with SQL highlighting, queries run on a cluster's
//! persistent Spark Connect session through the daemon, results in a scrollable table with
//! column types, row count and elapsed time, a query history, and cancel.
//!
//! Keys: `enter` (or `i`) edits; while editing, `ctrl-r`/`F5` runs, `ctrl-k` cancels the
//! running query, `ctrl-p`/`ctrl-n` walk the history, `esc` stops editing. Outside the
//! editor, `j`/`k`/page keys scroll the results and `ctrl-r` runs the query again.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use harbour_shared::{SqlResult, UnixMillis};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, Table};

use super::syntax::{self, Lang};
use super::theme::Theme;
use super::widgets;

/// The most queries the history keeps.
const HISTORY: usize = 100;

/// What the screen shows of the last query.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum SqlOutcome {
    #[default]
    Nothing,
    Running {
        since_ms: UnixMillis,
    },
    Done(Box<SqlResult>),
    Failed(String),
}

#[derive(Debug, Clone, Default)]
pub struct SqlState {
    pub text: String,
    /// Byte offset into `text`, on a char boundary.
    pub cursor: usize,
    pub editing: bool,
    /// The cluster queries go to; `None` is `local`.
    pub cluster: Option<String>,
    pub history: Vec<String>,
    /// Where ctrl-p/ctrl-n are in the history (`None`: the text being written).
    pub history_pos: Option<usize>,
    pub outcome: SqlOutcome,
    /// The first result row shown.
    pub scroll: usize,
}

/// What a key in the editor asks of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditorOutcome {
    None,
    Run(String),
    Cancel,
    Leave,
}

impl SqlState {
    pub fn running(&self) -> bool {
        matches!(self.outcome, SqlOutcome::Running { .. })
    }

    /// Starts a query: records it in the history and marks it running.
    pub fn start(&mut self, now_ms: UnixMillis) -> Option<String> {
        let query = self.text.trim().to_owned();
        if query.is_empty() || self.running() {
            return None;
        }
        if self.history.last() != Some(&query) {
            self.history.push(query.clone());
            if self.history.len() > HISTORY {
                self.history.remove(0);
            }
        }
        self.history_pos = None;
        self.outcome = SqlOutcome::Running { since_ms: now_ms };
        self.scroll = 0;
        Some(query)
    }

    pub fn finish(&mut self, result: Result<SqlResult, String>) {
        self.outcome = match result {
            Ok(r) => SqlOutcome::Done(Box::new(r)),
            Err(e) => SqlOutcome::Failed(e),
        };
    }

    pub fn rows(&self) -> usize {
        match &self.outcome {
            SqlOutcome::Done(r) => r.rows.len(),
            _ => 0,
        }
    }

    pub fn scroll_by(&mut self, delta: isize) {
        let max = self.rows().saturating_sub(1);
        self.scroll = self.scroll.saturating_add_signed(delta).min(max);
    }

    fn line_start(&self) -> usize {
        self.text[..self.cursor].rfind('\n').map_or(0, |i| i + 1)
    }

    fn set_text(&mut self, text: &str) {
        self.text = text.to_owned();
        self.cursor = self.text.len();
    }

    /// A key while editing.
    pub fn edit(&mut self, key: &KeyEvent) -> EditorOutcome {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => return EditorOutcome::Leave,
            KeyCode::F(5) => return EditorOutcome::Run(self.text.clone()),
            KeyCode::Char('r') if ctrl => return EditorOutcome::Run(self.text.clone()),
            KeyCode::Char('k') | KeyCode::Char('c') if ctrl => return EditorOutcome::Cancel,
            KeyCode::Char('p') if ctrl => {
                let pos = match self.history_pos {
                    None => self.history.len().checked_sub(1),
                    Some(p) => Some(p.saturating_sub(1)),
                };
                if let Some(p) = pos {
                    self.history_pos = Some(p);
                    let text = self.history[p].clone();
                    self.set_text(&text);
                }
            }
            KeyCode::Char('n') if ctrl => match self.history_pos {
                Some(p) if p + 1 < self.history.len() => {
                    self.history_pos = Some(p + 1);
                    let text = self.history[p + 1].clone();
                    self.set_text(&text);
                }
                Some(_) => {
                    self.history_pos = None;
                    self.set_text("");
                }
                None => {}
            },
            KeyCode::Char('u') if ctrl => self.set_text(""),
            KeyCode::Char(c) if !ctrl => {
                self.text.insert(self.cursor, c);
                self.cursor += c.len_utf8();
            }
            KeyCode::Enter => {
                self.text.insert(self.cursor, '\n');
                self.cursor += 1;
            }
            KeyCode::Tab => {
                self.text.insert_str(self.cursor, "  ");
                self.cursor += 2;
            }
            KeyCode::Backspace => {
                if let Some((i, _)) = self.text[..self.cursor].char_indices().next_back() {
                    self.text.replace_range(i..self.cursor, "");
                    self.cursor = i;
                }
            }
            KeyCode::Delete => {
                if let Some(c) = self.text[self.cursor..].chars().next() {
                    self.text
                        .replace_range(self.cursor..self.cursor + c.len_utf8(), "");
                }
            }
            KeyCode::Left => {
                if let Some((i, _)) = self.text[..self.cursor].char_indices().next_back() {
                    self.cursor = i;
                }
            }
            KeyCode::Right => {
                if let Some(c) = self.text[self.cursor..].chars().next() {
                    self.cursor += c.len_utf8();
                }
            }
            KeyCode::Home => self.cursor = self.line_start(),
            KeyCode::End => {
                self.cursor = self.text[self.cursor..]
                    .find('\n')
                    .map_or(self.text.len(), |i| self.cursor + i);
            }
            KeyCode::Up | KeyCode::Down => {
                let start = self.line_start();
                let col = self.text[start..self.cursor].chars().count();
                let target = if key.code == KeyCode::Up {
                    start.checked_sub(1).map(|end| {
                        let s = self.text[..end].rfind('\n').map_or(0, |i| i + 1);
                        (s, end)
                    })
                } else {
                    self.text[self.cursor..].find('\n').map(|i| {
                        let s = self.cursor + i + 1;
                        let e = self.text[s..].find('\n').map_or(self.text.len(), |j| s + j);
                        (s, e)
                    })
                };
                if let Some((s, e)) = target {
                    self.cursor = self.text[s..e]
                        .char_indices()
                        .nth(col)
                        .map_or(e, |(i, _)| s + i);
                }
            }
            _ => {}
        }
        EditorOutcome::None
    }

    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme, now_ms: UnixMillis) {
        let lines = self.text.split('\n').count().max(1);
        let editor_height = u16::try_from(lines.clamp(3, 10)).unwrap_or(10) + 2;
        let [editor, results] =
            Layout::vertical([Constraint::Length(editor_height), Constraint::Min(3)]).areas(area);
        let cluster = self.cluster.as_deref().unwrap_or("local");
        let title = if self.editing {
            format!(
                " SQL on {cluster} (editing: ctrl-r run, ctrl-k cancel, ctrl-p/n history, esc done) "
            )
        } else {
            format!(" SQL on {cluster} (enter edit, ctrl-r run) ")
        };
        let block = widgets::block(theme, title);
        let inner = block.inner(editor);
        frame.render_widget(block, editor);
        let text = syntax::highlight(&self.text, Lang::Sql, theme);
        // Keep the cursor's line in view.
        let cursor_line = self.text[..self.cursor].matches('\n').count();
        let top = cursor_line.saturating_sub(usize::from(inner.height.saturating_sub(1)));
        frame.render_widget(
            Paragraph::new(text).scroll((u16::try_from(top).unwrap_or(0), 0)),
            inner,
        );
        if self.editing {
            let col = self.text[self.line_start()..self.cursor].chars().count();
            frame.set_cursor_position(Position::new(
                inner.x
                    + u16::try_from(col)
                        .unwrap_or(0)
                        .min(inner.width.saturating_sub(1)),
                inner.y + u16::try_from(cursor_line - top).unwrap_or(0),
            ));
        }
        self.render_results(frame, results, theme, now_ms);
    }

    fn render_results(&self, frame: &mut Frame, area: Rect, theme: &Theme, now_ms: UnixMillis) {
        let title = match &self.outcome {
            SqlOutcome::Done(r) => format!(
                " {} row{}{} in {} ms on {} ",
                r.rows.len(),
                if r.rows.len() == 1 { "" } else { "s" },
                if r.truncated { " (more not shown)" } else { "" },
                r.elapsed_ms,
                r.cluster
            ),
            SqlOutcome::Running { since_ms } => {
                format!(
                    " running… {:.1}s (ctrl-k cancels) ",
                    (now_ms - since_ms) as f64 / 1000.0
                )
            }
            _ => " Results ".to_owned(),
        };
        let block = widgets::block(theme, title);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        match &self.outcome {
            SqlOutcome::Nothing => widgets::message(
                frame,
                inner,
                "no query yet\nenter to write one, ctrl-r to run it; tables come from \
                 `harbour tables add`",
                theme.get("dim"),
            ),
            SqlOutcome::Running { .. } => {
                widgets::message(frame, inner, "waiting for Spark…", theme.get("dim"));
            }
            SqlOutcome::Failed(e) => frame.render_widget(
                Paragraph::new(e.clone())
                    .style(theme.get("status-error"))
                    .wrap(ratatui::widgets::Wrap { trim: false }),
                inner,
            ),
            SqlOutcome::Done(r) if r.columns.is_empty() => {
                widgets::message(frame, inner, "done (no columns)", theme.get("dim"));
            }
            SqlOutcome::Done(r) => {
                let header = Row::new(
                    r.columns
                        .iter()
                        .map(|c| {
                            Line::from(vec![
                                Span::styled(c.name.clone(), theme.get("column-header")),
                                Span::styled(format!(" {}", c.data_type), theme.get("dim")),
                            ])
                        })
                        .collect::<Vec<_>>(),
                );
                let widths: Vec<Constraint> = r
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let data = r
                            .rows
                            .iter()
                            .take(200)
                            .map(|row| row[i].as_deref().map_or(4, |s| s.chars().count()))
                            .max()
                            .unwrap_or(0);
                        let head = c.name.chars().count() + 1 + c.data_type.chars().count();
                        Constraint::Length(u16::try_from(data.max(head).min(40)).unwrap_or(40))
                    })
                    .collect();
                let visible = usize::from(inner.height.saturating_sub(1));
                let rows = r.rows.iter().skip(self.scroll).take(visible).map(|row| {
                    Row::new(
                        row.iter()
                            .map(|c| match c {
                                Some(v) => Span::raw(v.clone()),
                                None => Span::styled("NULL", theme.get("dim")),
                            })
                            .collect::<Vec<_>>(),
                    )
                });
                frame.render_widget(
                    Table::new(rows, widths).header(header).column_spacing(2),
                    inner,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    #[test]
    fn the_editor_types_moves_runs_and_walks_history() {
        let mut s = SqlState::default();
        for c in "select 1".chars() {
            s.edit(&key(KeyCode::Char(c)));
        }
        s.edit(&key(KeyCode::Enter));
        s.edit(&key(KeyCode::Char('x')));
        assert_eq!(s.text, "select 1\nx");
        s.edit(&key(KeyCode::Up));
        assert_eq!(s.cursor, 1, "up keeps the column");
        assert_eq!(s.edit(&ctrl('r')), EditorOutcome::Run("select 1\nx".into()));
        assert_eq!(s.start(0).as_deref(), Some("select 1\nx"));
        assert!(s.start(0).is_none(), "one query at a time");
        s.finish(Err("bad".into()));
        s.edit(&ctrl('u'));
        assert_eq!(s.text, "");
        s.edit(&ctrl('p'));
        assert_eq!(s.text, "select 1\nx");
        s.edit(&ctrl('n'));
        assert_eq!(s.text, "");
        assert_eq!(s.edit(&ctrl('k')), EditorOutcome::Cancel);
        assert_eq!(s.edit(&key(KeyCode::Esc)), EditorOutcome::Leave);
    }
}
