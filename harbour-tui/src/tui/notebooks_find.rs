//! Find in the cell being edited: `ctrl-s` in edit mode opens a `find:` line under the cell.
//! Typing searches as you type (plain text, not a regex) from where the cursor was; `ctrl-s`
//! or `down` goes to the next match, `up` to the previous one (both wrap); `enter` keeps the
//! cursor at the match; `esc` puts it back where it was. Matches stay highlighted by
//! ratatui-textarea until the next search or the end of the edit.
//!
//! Only the editor's text is searched: outputs and other cells are not.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Style;
use ratatui_textarea::{CursorMove, DataCursor, TextArea};

use super::input::{InputOutcome, LineInput};

/// An open find line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Find {
    pub input: LineInput,
    /// The cursor when the find line opened, for `esc`.
    origin: DataCursor,
    /// Whether the query has a match.
    pub found: bool,
}

/// What a key did to the find line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindOutcome {
    Open,
    /// Closed with `enter` (the cursor stays) or `esc` (the cursor goes back).
    Closed,
}

impl Find {
    /// Opens on `area` with the last query, highlighted in `style`.
    pub fn open(area: &mut TextArea<'static>, last: &str, style: Style) -> Self {
        area.set_search_style(style);
        let mut f = Self {
            input: LineInput::new(last),
            origin: area.cursor(),
            found: false,
        };
        f.search(area);
        f
    }

    /// Searches for the query from where the find line opened.
    fn search(&mut self, area: &mut TextArea<'static>) {
        let pattern = regex_escape(&self.input.text);
        if area.set_search_pattern(&pattern).is_err() {
            self.found = false;
            return;
        }
        if self.input.text.is_empty() {
            self.found = false;
            return;
        }
        jump(area, self.origin);
        self.found = area.search_forward(true);
    }

    pub fn on_key(&mut self, area: &mut TextArea<'static>, key: &KeyEvent) -> FindOutcome {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('s') if ctrl => {
                self.found = area.search_forward(false);
                return FindOutcome::Open;
            }
            KeyCode::Down => {
                self.found = area.search_forward(false);
                return FindOutcome::Open;
            }
            KeyCode::Up => {
                self.found = area.search_back(false);
                return FindOutcome::Open;
            }
            _ => {}
        }
        match self.input.handle(key) {
            InputOutcome::Submit => FindOutcome::Closed,
            InputOutcome::Cancel => {
                let _ = area.set_search_pattern("");
                jump(area, self.origin);
                FindOutcome::Closed
            }
            InputOutcome::Edited => {
                self.search(area);
                FindOutcome::Open
            }
            InputOutcome::Moved | InputOutcome::Ignored => FindOutcome::Open,
        }
    }

    /// How many matches the query has in `area`.
    pub fn count(&self, area: &TextArea<'static>) -> usize {
        match area.search_pattern() {
            Some(re) if !self.input.text.is_empty() => {
                area.lines().iter().map(|l| re.find_iter(l).count()).sum()
            }
            _ => 0,
        }
    }
}

fn jump(area: &mut TextArea<'static>, to: DataCursor) {
    let DataCursor(row, col) = to;
    area.move_cursor(CursorMove::Jump(
        u16::try_from(row).unwrap_or(u16::MAX),
        u16::try_from(col).unwrap_or(u16::MAX),
    ));
}

/// The query as a regex that matches it literally.
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn area(text: &str) -> TextArea<'static> {
        TextArea::new(text.split('\n').map(str::to_owned).collect())
    }

    fn typed(f: &mut Find, a: &mut TextArea<'static>, text: &str) {
        for c in text.chars() {
            assert_eq!(f.on_key(a, &key(KeyCode::Char(c))), FindOutcome::Open);
        }
    }

    #[test]
    fn finds_as_you_type_next_previous_and_wraps() {
        let mut a = area("x = f(1)\ny = f(2)\nprint(x + y)");
        let mut f = Find::open(&mut a, "", Style::default());
        assert!(!f.found);
        // Plain text: brackets are not regex syntax here.
        typed(&mut f, &mut a, "f(");
        assert!(f.found);
        assert_eq!(a.cursor(), (0, 4));
        assert_eq!(f.count(&a), 2);
        f.on_key(&mut a, &key(KeyCode::Down));
        assert_eq!(a.cursor(), (1, 4));
        f.on_key(
            &mut a,
            &KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL),
        );
        assert_eq!(a.cursor(), (0, 4), "wraps to the first");
        f.on_key(&mut a, &key(KeyCode::Up));
        assert_eq!(a.cursor(), (1, 4));
        typed(&mut f, &mut a, "9");
        assert!(!f.found);
        assert_eq!(f.count(&a), 0);
        // Enter keeps the cursor where the last match was.
        for _ in 0..3 {
            f.on_key(&mut a, &key(KeyCode::Backspace));
        }
        typed(&mut f, &mut a, "print");
        assert_eq!(f.on_key(&mut a, &key(KeyCode::Enter)), FindOutcome::Closed);
        assert_eq!(a.cursor(), (2, 0));
    }

    #[test]
    fn esc_puts_the_cursor_back_and_clears_the_highlight() {
        let mut a = area("alpha\nbeta\ngamma");
        a.move_cursor(CursorMove::Jump(0, 2));
        let mut f = Find::open(&mut a, "gam", Style::default());
        assert!(f.found, "the last query is searched again");
        assert_eq!(a.cursor(), (2, 0));
        assert_eq!(f.on_key(&mut a, &key(KeyCode::Esc)), FindOutcome::Closed);
        assert_eq!(a.cursor(), (0, 2));
        assert!(
            a.search_pattern().is_none(),
            "{:?}",
            a.search_pattern().map(|r| r.as_str().to_owned())
        );
    }

    #[test]
    fn escapes_regex_syntax() {
        assert_eq!(regex_escape("a.b*(c)"), "a\\.b\\*\\(c\\)");
        let mut a = area("a.b\naxb");
        let mut f = Find::open(&mut a, "", Style::default());
        typed(&mut f, &mut a, "a.b");
        assert_eq!(f.count(&a), 1, "the dot is a dot");
    }
}
