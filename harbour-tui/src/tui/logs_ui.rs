//! Drawing the log view: only the rows on screen are built, so a frame costs the same for a
//! ten-line log and a gigabyte one.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use harbour_shared::{LogStream, UnixMillis};

use super::format;
use super::logs::{LogLine, LogSource, LogView, StreamView};
use super::theme::Theme;
use super::widgets;

/// Splits `text` into spans, the matches of `query` in the match style.
fn highlight<'a>(text: &'a str, query: Option<&str>, base: Style, hit: Style) -> Vec<Span<'a>> {
    let Some(q) = query.filter(|q| !q.is_empty()) else {
        return vec![Span::styled(text, base)];
    };
    let case_sensitive = q.chars().any(char::is_uppercase);
    let hay = if case_sensitive {
        text.to_owned()
    } else {
        text.to_lowercase()
    };
    // Lowercasing can change byte lengths; fall back to no highlight rather than mis-cut.
    if hay.len() != text.len() {
        return vec![Span::styled(text, base)];
    }
    let mut spans = Vec::new();
    let mut last = 0;
    for (i, m) in hay.match_indices(q) {
        if !text.is_char_boundary(i) || !text.is_char_boundary(i + m.len()) {
            continue;
        }
        if i > last {
            spans.push(Span::styled(&text[last..i], base));
        }
        spans.push(Span::styled(&text[i..i + m.len()], hit));
        last = i + m.len();
    }
    if last < text.len() {
        spans.push(Span::styled(&text[last..], base));
    }
    spans
}

fn skip_cols(text: &str, cols: usize) -> &str {
    match text.char_indices().nth(cols) {
        Some((i, _)) => &text[i..],
        None => "",
    }
}

fn line_spans<'a>(v: &'a LogView, line: &'a LogLine, selected: bool, theme: &Theme) -> Line<'a> {
    let mut spans = Vec::with_capacity(4);
    if v.timestamps {
        let ts = line.at_ms.map_or_else(|| " ".repeat(12), format::clock);
        spans.push(Span::styled(ts, theme.get("dim")));
        spans.push(Span::raw(" "));
    }
    if v.show == StreamView::Both {
        spans.push(if line.stream == LogStream::Stderr {
            Span::styled("▌", theme.get("stderr"))
        } else {
            Span::raw(" ")
        });
    }
    let base = if selected {
        theme.get("selected")
    } else {
        Style::default()
    };
    let text = if v.wrap {
        line.text.as_str()
    } else {
        skip_cols(&line.text, v.hscroll)
    };
    spans.extend(highlight(
        text,
        v.search.as_deref(),
        base,
        theme.get("match"),
    ));
    let l = Line::from(spans);
    if selected {
        l.style(theme.get("selected"))
    } else {
        l
    }
}

/// Cuts a line into rows of `width` characters, keeping each piece's style.
fn split_rows(line: Line<'_>, width: usize) -> Vec<Line<'_>> {
    let style = line.style;
    let mut rows = vec![Line::default().style(style)];
    let mut used = 0;
    for span in line.spans {
        let mut rest: &str = &span.content;
        while !rest.is_empty() {
            if used == width {
                rows.push(Line::default().style(style));
                used = 0;
            }
            let take = width - used;
            let cut = rest.char_indices().nth(take).map_or(rest.len(), |(b, _)| b);
            let piece = &rest[..cut];
            used += piece.chars().count();
            if let Some(row) = rows.last_mut() {
                row.spans.push(Span::styled(piece.to_owned(), span.style));
            }
            rest = &rest[cut..];
        }
    }
    rows
}

pub fn render(
    v: Option<&LogView>,
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    _now_ms: UnixMillis,
) {
    let Some(v) = v else {
        let block = widgets::block(theme, " Logs ");
        let inner = block.inner(area);
        frame.render_widget(block, area);
        widgets::message(
            frame,
            inner,
            "no run's logs open\nl on a run in the Runs screen opens them",
            theme.get("dim"),
        );
        return;
    };
    let state = v.run_info.as_ref().map_or_else(String::new, |r| {
        format!(
            " {} {}",
            widgets::ellipsize(&r.job_name, 24),
            r.state_label()
        )
    });
    let mut flags = vec![v.show.label().to_owned()];
    if v.follow {
        flags.push("follow".into());
    }
    if v.wrap {
        flags.push("wrap".into());
    }
    match (v.search.as_deref(), v.search_hits) {
        (Some(q), Some((at, total))) => flags.push(format!("/{q} {at}/{total}")),
        (Some(q), None) => flags.push(format!("/{q}")),
        _ => {}
    }
    let whose = match &v.source {
        LogSource::Run(run) => format!(" Logs: run {run}"),
        LogSource::Container { name, .. } => format!(" Logs: container {name}"),
    };
    let title = Line::from(vec![
        Span::raw(whose),
        Span::styled(
            state,
            v.run_info.as_ref().map_or(Style::default(), |r| {
                widgets::state_style(theme, r.lifecycle, r.result)
            }),
        ),
        Span::styled(format!(" [{}] ", flags.join(", ")), theme.get("dim")),
    ]);
    let block = widgets::block(theme, title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if let Some(e) = &v.error {
        widgets::message(
            frame,
            inner,
            &format!("cannot read the log:\n{e}"),
            theme.get("status-error"),
        );
        return;
    }
    if v.shown_len() == 0 {
        let done = v.run_info.as_ref().is_some_and(|r| !r.is_active());
        let msg = if done {
            "the run printed nothing"
        } else if v.win[0].complete && v.run().is_none() {
            "the container printed nothing"
        } else {
            "waiting for output…"
        };
        widgets::message(frame, inner, msg, theme.get("dim"));
        return;
    }
    let height = usize::from(inner.height);
    if v.wrap {
        // Logs wrap at the column, like `less`, not at words: each line becomes exactly
        // ceil(len / width) rows, so a followed log's last line is always the bottom row.
        let width = usize::from(inner.width.max(1));
        let row_lines = |i: usize| {
            v.shown(i).map_or_else(Vec::new, |l| {
                split_rows(line_spans(v, l, !v.follow && i == v.cursor, theme), width)
            })
        };
        let mut rows: Vec<Line> = Vec::with_capacity(height);
        if v.follow {
            let mut i = v.shown_len();
            while i > 0 && rows.len() < height {
                i -= 1;
                let mut r = row_lines(i);
                r.append(&mut rows);
                rows = r;
            }
            let extra = rows.len().saturating_sub(height);
            rows.drain(..extra);
        } else {
            let mut i = v.top_for(height);
            while i < v.shown_len() && rows.len() < height {
                rows.extend(row_lines(i));
                i += 1;
            }
            rows.truncate(height);
        }
        frame.render_widget(Paragraph::new(rows), inner);
    } else {
        let top = v.top_for(height);
        let lines: Vec<Line> = (top..(top + height).min(v.shown_len()))
            .filter_map(|i| {
                v.shown(i)
                    .map(|l| line_spans(v, l, !v.follow && i == v.cursor, theme))
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_the_column_keeping_styles() {
        let bold = Style::default().add_modifier(ratatui::style::Modifier::BOLD);
        let line = Line::from(vec![Span::raw("abcd"), Span::styled("efghij", bold)]);
        let rows = split_rows(line, 4);
        let text: Vec<String> = rows
            .iter()
            .map(|r| r.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        assert_eq!(text, ["abcd", "efgh", "ij"]);
        assert_eq!(rows[1].spans[0].style, bold);
        assert_eq!(
            split_rows(Line::from(""), 4).len(),
            1,
            "an empty line is one row"
        );
    }

    #[test]
    fn highlights_every_match() {
        let spans = highlight(
            "an error and an ERROR",
            Some("error"),
            Style::default(),
            Style::default().add_modifier(ratatui::style::Modifier::BOLD),
        );
        let texts: Vec<&str> = spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(texts, ["an ", "error", " and an ", "ERROR"]);
    }
}
