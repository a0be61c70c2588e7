//! Code highlighting with syntect, shared by the SQL editor and notebook cells.
//!
//! The grammars and the colour theme load once, on first use. Colours come out of syntect as
//! truecolor; they go through the TUI theme's colour mode, so a 256- or 16-colour terminal gets
//! the nearest colours and `NO_COLOR` gets none (bold and italic from the grammar stay).

use std::sync::OnceLock;

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use syntect::easy::HighlightLines;
use syntect::highlighting::{FontStyle, Theme as SynTheme, ThemeSet};
use syntect::parsing::SyntaxSet;

use super::theme::Theme;

/// The languages Harbour highlights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Python,
    Sql,
    Shell,
}

impl Lang {
    /// A notebook code cell's language: Python, or SQL/shell for `%%sql`, `%%bash`/`%%sh`
    /// and `!` cells.
    pub fn of_cell(source: &str) -> Self {
        let first = source.lines().next().unwrap_or_default();
        if first.starts_with("%%sql") {
            Self::Sql
        } else if first.starts_with("%%bash") || first.starts_with("%%sh") || first.starts_with('!')
        {
            Self::Shell
        } else {
            Self::Python
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Python => "py",
            Self::Sql => "sql",
            Self::Shell => "sh",
        }
    }
}

struct Highlighter {
    syntaxes: SyntaxSet,
    theme: SynTheme,
}

fn highlighter() -> &'static Highlighter {
    static H: OnceLock<Highlighter> = OnceLock::new();
    H.get_or_init(|| {
        let mut themes = ThemeSet::load_defaults();
        let theme = themes
            .themes
            .remove("base16-ocean.dark")
            .unwrap_or_default();
        Highlighter {
            syntaxes: SyntaxSet::load_defaults_newlines(),
            theme,
        }
    })
}

/// `source` as styled lines, one per `\n`-separated line (an empty source is one empty
/// line), the text unchanged.
pub fn highlight(source: &str, lang: Lang, theme: &Theme) -> Vec<Line<'static>> {
    let h = highlighter();
    let syntax = h
        .syntaxes
        .find_syntax_by_extension(lang.extension())
        .unwrap_or_else(|| h.syntaxes.find_syntax_plain_text());
    let mut hl = HighlightLines::new(syntax, &h.theme);
    let mut out = Vec::new();
    let mut with_nl = String::new();
    for line in source.split('\n') {
        with_nl.clear();
        with_nl.push_str(line);
        with_nl.push('\n');
        let spans = match hl.highlight_line(&with_nl, &h.syntaxes) {
            Ok(ranges) => ranges
                .into_iter()
                .filter_map(|(style, text)| {
                    let text = text.trim_end_matches('\n');
                    (!text.is_empty()).then(|| Span::styled(text.to_owned(), adapt(style, theme)))
                })
                .collect(),
            Err(_) => vec![Span::raw(line.to_owned())],
        };
        out.push(Line::from(spans));
    }
    out
}

fn adapt(style: syntect::highlighting::Style, theme: &Theme) -> Style {
    let f = style.foreground;
    let mut out = Style::default();
    if let Some(fg) = theme.color(Color::Rgb(f.r, f.g, f.b)) {
        out = out.fg(fg);
    }
    if style.font_style.contains(FontStyle::BOLD) {
        out = out.add_modifier(Modifier::BOLD);
    }
    if style.font_style.contains(FontStyle::ITALIC) {
        out = out.add_modifier(Modifier::ITALIC);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::config::Config;
    use crate::tui::theme::ColorMode;

    fn texts(lines: &[Line<'_>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    fn theme(mode: ColorMode) -> Theme {
        Config::defaults(mode).theme
    }

    #[test]
    fn sql_keywords_strings_and_comments_differ_and_the_text_is_kept() {
        let src = "SELECT 'a b', 42 FROM t -- note\nWHERE x = 1";
        let lines = highlight(src, Lang::Sql, &theme(ColorMode::Truecolor));
        assert_eq!(texts(&lines), src.split('\n').collect::<Vec<_>>());
        let style_of = |word: &str| {
            lines[0]
                .spans
                .iter()
                .find(|s| s.content.contains(word))
                .map(|s| s.style)
                .unwrap()
        };
        assert_ne!(style_of("SELECT"), style_of("a b"));
        assert_ne!(style_of("SELECT"), style_of("note"));
        assert!(matches!(style_of("SELECT").fg, Some(Color::Rgb(..))));
    }

    #[test]
    fn colours_follow_the_terminal_colour_mode() {
        let src = "def f(x):\n    return 'y'";
        let fgs = |mode| {
            highlight(src, Lang::Python, &theme(mode))
                .iter()
                .flat_map(|l| l.spans.iter().map(|s| s.style.fg))
                .collect::<Vec<_>>()
        };
        assert!(
            fgs(ColorMode::Ansi256)
                .iter()
                .all(|c| matches!(c, Some(Color::Indexed(_))))
        );
        assert!(
            fgs(ColorMode::Ansi16)
                .iter()
                .all(|c| !matches!(c, Some(Color::Rgb(..) | Color::Indexed(_))))
        );
        assert!(fgs(ColorMode::None).iter().all(Option::is_none));
    }

    #[test]
    fn cell_magics_pick_the_language() {
        assert_eq!(Lang::of_cell("%%sql\nSELECT 1"), Lang::Sql);
        assert_eq!(Lang::of_cell("!ls -l"), Lang::Shell);
        assert_eq!(Lang::of_cell("%%bash\nls"), Lang::Shell);
        assert_eq!(Lang::of_cell("print(1)"), Lang::Python);
        assert_eq!(Lang::of_cell(""), Lang::Python);
    }

    #[test]
    fn empty_and_odd_input_keep_one_line_per_line() {
        let t = theme(ColorMode::Truecolor);
        assert_eq!(highlight("", Lang::Sql, &t).len(), 1);
        assert_eq!(
            texts(&highlight("'unterminated\n\n", Lang::Sql, &t)),
            ["'unterminated", "", ""]
        );
    }
}
