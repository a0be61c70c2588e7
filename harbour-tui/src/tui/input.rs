//! A one-line text editor for the filter, search, palette and form fields: insert, delete,
//! move by char or word, `ctrl-u` to clear. Byte cursor, always on a char boundary.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineInput {
    pub text: String,
    pub cursor: usize,
}

/// What a key did to the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputOutcome {
    Edited,
    Moved,
    Submit,
    Cancel,
    /// Not a key the editor uses (tab, up, down, ...).
    Ignored,
}

impl LineInput {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            cursor: text.len(),
        }
    }

    pub fn set(&mut self, text: &str) {
        self.text = text.to_owned();
        self.cursor = text.len();
    }

    fn prev_boundary(&self) -> usize {
        self.text[..self.cursor]
            .char_indices()
            .next_back()
            .map_or(0, |(i, _)| i)
    }

    fn next_boundary(&self) -> usize {
        self.text[self.cursor..]
            .chars()
            .next()
            .map_or(self.cursor, |c| self.cursor + c.len_utf8())
    }

    pub fn handle(&mut self, key: &KeyEvent) -> InputOutcome {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Enter => InputOutcome::Submit,
            KeyCode::Esc => InputOutcome::Cancel,
            KeyCode::Char('c') if ctrl => InputOutcome::Cancel,
            KeyCode::Char('u') if ctrl => {
                self.text.replace_range(..self.cursor, "");
                self.cursor = 0;
                InputOutcome::Edited
            }
            KeyCode::Char('w') if ctrl => {
                let before = &self.text[..self.cursor];
                let trimmed = before.trim_end();
                let start = trimmed.rfind(char::is_whitespace).map_or(0, |i| i + 1);
                self.text.replace_range(start..self.cursor, "");
                self.cursor = start;
                InputOutcome::Edited
            }
            KeyCode::Char('a') if ctrl => {
                self.cursor = 0;
                InputOutcome::Moved
            }
            KeyCode::Char('e') if ctrl => {
                self.cursor = self.text.len();
                InputOutcome::Moved
            }
            KeyCode::Char(c) if !ctrl => {
                self.text.insert(self.cursor, c);
                self.cursor += c.len_utf8();
                InputOutcome::Edited
            }
            KeyCode::Backspace => {
                if self.cursor > 0 {
                    let p = self.prev_boundary();
                    self.text.replace_range(p..self.cursor, "");
                    self.cursor = p;
                }
                InputOutcome::Edited
            }
            KeyCode::Delete => {
                let n = self.next_boundary();
                self.text.replace_range(self.cursor..n, "");
                InputOutcome::Edited
            }
            KeyCode::Left => {
                self.cursor = self.prev_boundary();
                InputOutcome::Moved
            }
            KeyCode::Right => {
                self.cursor = self.next_boundary();
                InputOutcome::Moved
            }
            KeyCode::Home => {
                self.cursor = 0;
                InputOutcome::Moved
            }
            KeyCode::End => {
                self.cursor = self.text.len();
                InputOutcome::Moved
            }
            _ => InputOutcome::Ignored,
        }
    }

    /// The column of the cursor, for placing the terminal cursor.
    pub fn cursor_col(&self) -> u16 {
        u16::try_from(self.text[..self.cursor].chars().count()).unwrap_or(u16::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn edits() {
        let mut l = LineInput::default();
        for c in "héllo wörld".chars() {
            l.handle(&key(KeyCode::Char(c)));
        }
        l.handle(&key(KeyCode::Backspace));
        assert_eq!(l.text, "héllo wörl");
        l.handle(&key(KeyCode::Left));
        l.handle(&key(KeyCode::Left));
        l.handle(&key(KeyCode::Backspace));
        assert_eq!(l.text, "héllo wrl");
        l.handle(&KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL));
        assert_eq!(l.text, "héllo rl");
        assert_eq!(l.handle(&key(KeyCode::Enter)), InputOutcome::Submit);
    }
}
