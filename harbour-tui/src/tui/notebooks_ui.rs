//! Drawing the Notebooks screen: the list (with kernel states), and the editor: a header with
//! the kernel's state and count, then the cells from the one that keeps the selection in view,
//! each with a gutter (`[n]`, a bar on the selected cell), code highlighted with syntect,
//! markdown rendered (headings, emphasis, lists, code) unless it is being edited, and outputs
//! below, long ones cut to [`OUTPUT_LINES`] with a note that `o` shows them whole.
//!
//! Only the cells on screen are laid out, and a cell's highlighted (or rendered) source is kept
//! until its text changes ([`Editor::drawn`]), so 500 cells draw as fast as 5 and a frame
//! after a key costs no syntect work unless that key changed a cell. A long output is cut
//! without splitting all of it into lines.

use harbour_shared::{Cell, CellKind, ExecState, KernelState, Notebook, Output};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell as TableCell, Paragraph, Row, Table};

use super::notebooks::{Editor, Mode, NotebooksState};
use super::syntax::{self, Lang};
use super::theme::Theme;
use super::widgets::{self, Load};

/// Output lines shown before a cell's output is cut (`o` shows it whole).
pub const OUTPUT_LINES: usize = 8;
/// The gutter: `[12]:` and the selection bar.
const GUTTER: u16 = 7;

/// Inline `**bold**`, `*emphasis*` / `_emphasis_` and `` `code` ``.
fn inline(text: &str, base: Style, code: Style) -> Line<'static> {
    let mut spans = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let next = ["**", "`", "*", "_"]
            .iter()
            .filter_map(|m| rest.find(m).map(|i| (i, *m)))
            .min_by_key(|(i, m)| (*i, usize::MAX - m.len()));
        let Some((i, mark)) = next else {
            spans.push(Span::styled(rest.to_owned(), base));
            break;
        };
        let after = &rest[i + mark.len()..];
        let Some(end) = after.find(mark) else {
            spans.push(Span::styled(rest.to_owned(), base));
            break;
        };
        if i > 0 {
            spans.push(Span::styled(rest[..i].to_owned(), base));
        }
        let style = match mark {
            "**" => base.add_modifier(Modifier::BOLD),
            "`" => base.patch(code),
            _ => base.add_modifier(Modifier::ITALIC),
        };
        spans.push(Span::styled(after[..end].to_owned(), style));
        rest = &after[end + mark.len()..];
    }
    Line::from(spans)
}

/// Markdown as a terminal shows it: headings bold (level 1 also underlined), bullets,
/// fenced code dimmed, inline emphasis.
pub fn markdown(source: &str, theme: &Theme) -> Vec<Line<'static>> {
    let code = theme.get("code");
    let mut out = Vec::new();
    let mut fenced = false;
    for line in source.split('\n') {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            out.push(Line::from(Span::styled(format!("  {line}"), code)));
            continue;
        }
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
            let mut style = Style::default().add_modifier(Modifier::BOLD);
            if hashes == 1 {
                style = style.add_modifier(Modifier::UNDERLINED);
            }
            out.push(inline(line[hashes..].trim(), style, code));
            continue;
        }
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some(item) = trimmed
            .strip_prefix("* ")
            .or_else(|| trimmed.strip_prefix("- "))
            .or_else(|| trimmed.strip_prefix("+ "))
        {
            let mut l = inline(item, Style::default(), code);
            l.spans
                .insert(0, Span::raw(format!("{}• ", " ".repeat(indent))));
            out.push(l);
            continue;
        }
        out.push(inline(line, Style::default(), code));
    }
    out
}

/// Appends at most `room` lines of an output to `out`; answers how many more it has.
fn output_lines(o: &Output, theme: &Theme, room: usize, out: &mut Vec<Line<'static>>) -> usize {
    let (text, style): (std::borrow::Cow<str>, Style) = match o {
        Output::Stream { name, text } if name == "stderr" => (text.into(), theme.get("stderr")),
        Output::Stream { text, .. } | Output::Data { text, .. } => (text.into(), Style::default()),
        Output::Error { .. } => (
            crate::cli::notebooks::output_text(o).into(),
            theme.get("state-failed"),
        ),
    };
    let text = text.strip_suffix('\n').unwrap_or(&text);
    let mut rest = text;
    for _ in 0..room {
        let (line, next) = match rest.find('\n') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        out.push(Line::from(Span::styled(line.replace('\t', "    "), style)));
        match next {
            Some(n) => rest = n,
            None => return 0,
        }
    }
    // No room left: the rest is only counted.
    rest.bytes().filter(|b| *b == b'\n').count() + 1
}

/// A cell's source as drawn: highlighted code, rendered markdown, raw text; kept until the
/// cell's kind or text changes.
fn source_lines(cell: &Cell, editor: &Editor, theme: &Theme) -> Vec<Line<'static>> {
    let mut drawn = editor.drawn.borrow_mut();
    if let Some((kind, source, lines)) = drawn.get(&cell.id)
        && *kind == cell.kind
        && *source == cell.source
    {
        return lines.clone();
    }
    let lines = match cell.kind {
        CellKind::Code => syntax::highlight(&cell.source, Lang::of_cell(&cell.source), theme),
        CellKind::Markdown if !cell.source.is_empty() => markdown(&cell.source, theme),
        CellKind::Markdown | CellKind::Raw => cell
            .source
            .split('\n')
            .map(|l| Line::from(l.to_owned()))
            .collect(),
    };
    // Deleted cells' entries go now and then.
    if drawn.len() > 4 * 1024 {
        drawn.clear();
    }
    drawn.insert(
        cell.id.clone(),
        (cell.kind, cell.source.clone(), lines.clone()),
    );
    lines
}

/// A cell's lines: source (or nothing when the editor is drawn there), then outputs.
struct Laid {
    source: Vec<Line<'static>>,
    outputs: Vec<Line<'static>>,
}

fn lay_out(cell: &Cell, editor: &Editor, theme: &Theme, editing: bool) -> Laid {
    let source = if editing {
        let rows = editor
            .editing
            .as_ref()
            .map_or(1, |(_, a)| a.lines().len().max(1));
        vec![Line::default(); rows]
    } else {
        source_lines(cell, editor, theme)
    };
    let whole = editor.expanded.contains(&cell.id);
    let mut outputs: Vec<Line> = Vec::new();
    let mut more = 0;
    for o in &cell.outputs {
        let room = if whole {
            usize::MAX
        } else {
            (OUTPUT_LINES + 1).saturating_sub(outputs.len())
        };
        more += output_lines(o, theme, room, &mut outputs);
    }
    if !whole && outputs.len() + more > OUTPUT_LINES {
        more += outputs.len() - OUTPUT_LINES;
        outputs.truncate(OUTPUT_LINES);
        outputs.push(Line::from(Span::styled(
            format!("… {more} more lines (o shows them)"),
            theme.get("dim"),
        )));
    }
    Laid { source, outputs }
}

fn gutter(cell: &Cell) -> String {
    match (cell.kind, cell.state, cell.execution_count) {
        (CellKind::Code, Some(ExecState::Running), _) => "[*]:".into(),
        (CellKind::Code, Some(ExecState::Queued), _) => "[-]:".into(),
        (CellKind::Code, _, Some(n)) => format!("[{n}]:"),
        (CellKind::Code, _, None) => "[ ]:".into(),
        (CellKind::Markdown, ..) => " md ".into(),
        (CellKind::Raw, ..) => "raw ".into(),
    }
}

impl NotebooksState {
    pub fn render(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        match &self.editor {
            Some(ed) => render_editor(ed, frame, area, theme),
            None => self.render_list(frame, area, theme),
        }
    }

    fn render_list(&self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let title = format!(" Notebooks ({}) ", self.list.len());
        let Some(inner) = widgets::list_frame(frame, area, theme, title, &self.load, "notebooks")
        else {
            return;
        };
        if self.list.is_empty() {
            widgets::message(
                frame,
                inner,
                "no notebooks yet\ns makes one (or :nb-create NAME); `harbour nb import` brings .ipynb files",
                theme.get("dim"),
            );
            return;
        }
        let header = Row::new(
            ["NAME", "CELLS", "KERNEL", "CLUSTER", "MODIFIED"]
                .map(|h| TableCell::from(Span::styled(h, theme.get("column-header")))),
        );
        let height = usize::from(inner.height.saturating_sub(1));
        let top = widgets::scroll_top(0, self.selected, height, self.list.len());
        let rows = self
            .list
            .iter()
            .enumerate()
            .skip(top)
            .take(height)
            .map(|(i, n)| {
                let row = Row::new(vec![
                    TableCell::from(n.name.clone()),
                    TableCell::from(n.cells.to_string()),
                    TableCell::from(Span::styled(
                        n.kernel.label(),
                        kernel_style(&n.kernel, theme),
                    )),
                    TableCell::from(n.cluster.clone().unwrap_or_else(|| "-".into())),
                    TableCell::from(crate::fmt::local_time(n.modified_ms)),
                ]);
                if i == self.selected {
                    row.style(theme.get("selected"))
                } else {
                    row
                }
            });
        let widths = [
            Constraint::Min(16),
            Constraint::Length(6),
            Constraint::Length(9),
            Constraint::Length(12),
            Constraint::Length(20),
        ];
        frame.render_widget(Table::new(rows, widths).header(header), inner);
    }
}

fn kernel_style(k: &KernelState, theme: &Theme) -> Style {
    match k {
        KernelState::Idle => theme.get("state-succeeded"),
        KernelState::Busy | KernelState::Starting => theme.get("state-running"),
        KernelState::Dead { .. } => theme.get("state-failed"),
        KernelState::Stopped => theme.get("dim"),
    }
}

fn header_line(nb: &Notebook, ed: &Editor, theme: &Theme) -> Line<'static> {
    let k = &nb.kernel;
    let mut spans = vec![
        Span::styled(format!(" {} ", nb.name), theme.get("title")),
        Span::raw(" kernel "),
        Span::styled(k.state.label(), kernel_style(&k.state, theme)),
        Span::raw(format!(" [{}]", k.execution_count)),
    ];
    if k.queued > 0 {
        spans.push(Span::raw(format!("  {} queued", k.queued)));
    }
    if let Some(c) = &nb.cluster {
        spans.push(Span::raw(format!("  spark:{c}")));
    }
    spans.push(Span::raw(format!(
        "  cell {}/{}",
        (ed.cell + 1).min(nb.cells.len()),
        nb.cells.len()
    )));
    let mode = match ed.mode {
        Mode::Command => Span::styled("  COMMAND", theme.get("dim")),
        Mode::Edit => Span::styled("  EDIT", theme.get("key")),
    };
    spans.push(mode);
    Line::from(spans)
}

fn render_editor(ed: &Editor, frame: &mut Frame, area: Rect, theme: &Theme) {
    let block = widgets::block(theme, format!(" Notebook {} ", ed.name));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let nb = match (&ed.load, &ed.nb) {
        (_, Some(nb)) => nb,
        (Load::Failed(e), None) => {
            widgets::message(
                frame,
                inner,
                &format!("cannot open {}: {e}\nesc goes back to the list", ed.name),
                theme.get("status-error"),
            );
            return;
        }
        _ => {
            widgets::message(frame, inner, "opening…", theme.get("dim"));
            return;
        }
    };
    let [head, note, body] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::from(
            matches!(nb.kernel.state, KernelState::Dead { .. }) || nb.kernel.message.is_some(),
        )),
        Constraint::Min(1),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(header_line(nb, ed, theme)), head);
    let note_text = match &nb.kernel.state {
        KernelState::Dead { why } => format!(
            "kernel died: {}  (00 restarts)",
            why.lines().next().unwrap_or_default()
        ),
        _ => nb.kernel.message.clone().unwrap_or_default(),
    };
    frame.render_widget(
        Paragraph::new(Span::styled(note_text, theme.get("status-warn"))),
        note,
    );
    if nb.cells.is_empty() {
        widgets::message(frame, body, "no cells: a or b adds one", theme.get("dim"));
        return;
    }
    // The find line, under the cells.
    let body = match (&ed.find, &ed.editing) {
        (Some(find), Some((_, area))) if body.height > 1 => {
            let [cells, line] =
                Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(body);
            render_find(find, area, frame, line, theme);
            cells
        }
        _ => body,
    };
    // Lay out from the selected cell backwards until the screen is full, so it is in view.
    let height = usize::from(body.height);
    let selected = ed.cell.min(nb.cells.len() - 1);
    let editing_id = ed.editing.as_ref().map(|(id, _)| id.as_str());
    let lay = |i: usize| {
        let c = &nb.cells[i];
        lay_out(c, ed, theme, editing_id == Some(c.id.as_str()))
    };
    let size = |l: &Laid| l.source.len() + l.outputs.len() + 1;
    let mut top = selected;
    let mut used = size(&lay(selected));
    while top > 0 {
        let s = size(&lay(top - 1));
        if used + s > height {
            break;
        }
        used += s;
        top -= 1;
    }
    let mut y = body.y;
    for (i, cell) in nb.cells.iter().enumerate().skip(top) {
        if y >= body.bottom() {
            break;
        }
        let laid = lay(i);
        let is_sel = i == selected;
        let bar = if is_sel {
            Span::styled(
                "▌",
                theme.get(if ed.mode == Mode::Edit {
                    "key"
                } else {
                    "title"
                }),
            )
        } else {
            Span::raw(" ")
        };
        let g = gutter(cell);
        let gutter_style = match cell.state {
            Some(ExecState::Error) => theme.get("state-failed"),
            Some(ExecState::Running) => theme.get("state-running"),
            _ => theme.get("dim"),
        };
        let rows = laid.source.len() + laid.outputs.len();
        let mut lines: Vec<Line> = Vec::with_capacity(rows);
        for (j, l) in laid.source.into_iter().enumerate() {
            let mut spans = vec![
                bar.clone(),
                Span::styled(
                    if j == 0 {
                        format!("{g:>5} ")
                    } else {
                        "      ".into()
                    },
                    gutter_style,
                ),
            ];
            spans.extend(l.spans);
            lines.push(Line::from(spans));
        }
        for l in laid.outputs {
            let mut spans = vec![bar.clone(), Span::raw("      ")];
            spans.extend(l.spans);
            lines.push(Line::from(spans));
        }
        let h = u16::try_from(rows)
            .unwrap_or(u16::MAX)
            .min(body.bottom() - y);
        let rect = Rect::new(body.x, y, body.width, h);
        frame.render_widget(Paragraph::new(lines), rect);
        if let Some((id, area)) = &ed.editing
            && *id == cell.id
        {
            let rows = u16::try_from(area.lines().len().max(1)).unwrap_or(u16::MAX);
            let r = Rect::new(
                body.x + GUTTER,
                y,
                body.width.saturating_sub(GUTTER),
                rows.min(body.bottom() - y),
            );
            frame.render_widget(area, r);
        }
        y = y.saturating_add(h).saturating_add(1);
    }
}

fn render_find(
    find: &super::notebooks_find::Find,
    area: &ratatui_textarea::TextArea<'static>,
    frame: &mut Frame,
    line: Rect,
    theme: &Theme,
) {
    let n = find.count(area);
    let status = match (find.input.text.is_empty(), n) {
        (true, _) => String::new(),
        (false, 0) => "no match".to_owned(),
        (false, 1) => "1 match".to_owned(),
        (false, n) => format!("{n} matches"),
    };
    let status_style = if n == 0 && !find.input.text.is_empty() {
        theme.get("status-warn")
    } else {
        theme.get("status")
    };
    let text = Line::from(vec![
        Span::styled("find: ", theme.get("key")),
        Span::raw(find.input.text.clone()),
        Span::raw("  "),
        Span::styled(status, status_style),
        Span::styled(
            "  enter done  ↓/ctrl-s next  ↑ previous  esc cancel",
            theme.get("dim"),
        ),
    ]);
    frame.render_widget(Paragraph::new(text).style(theme.get("status")), line);
    let x = line.x + 6 + find.input.cursor_col();
    frame.set_cursor_position(Position {
        x: x.min(line.right().saturating_sub(1)),
        y: line.y,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn markdown_renders_headings_lists_and_emphasis() {
        let lines = markdown(
            "# Title\n\n* one\n  - **two** and `x`\n```\ncode\n```",
            &Theme::default(),
        );
        assert_eq!(
            text(&lines),
            ["Title", "", "• one", "  • two and x", "  code"]
        );
        let two = &lines[3].spans[1];
        assert!(two.style.add_modifier.contains(Modifier::BOLD));
        assert!(
            lines[0].spans[0]
                .style
                .add_modifier
                .contains(Modifier::UNDERLINED)
        );
    }

    fn code_cell(id: &str, source: &str, outputs: Vec<Output>) -> Cell {
        Cell {
            id: id.into(),
            kind: CellKind::Code,
            source: source.into(),
            execution_count: None,
            outputs,
            state: None,
        }
    }

    fn theme() -> Theme {
        super::super::config::Config::defaults(super::super::theme::ColorMode::Truecolor).theme
    }

    #[test]
    fn long_outputs_are_cut_and_counted_and_shown_whole_on_o() {
        let big: String = (0..10_000).map(|i| format!("line {i}\n")).collect();
        let cell = code_cell(
            "c",
            "x",
            vec![
                Output::Stream {
                    name: "stdout".into(),
                    text: "first\nsecond\n".into(),
                },
                Output::Stream {
                    name: "stderr".into(),
                    text: big,
                },
            ],
        );
        let mut ed = Editor::new("n".into());
        let laid = lay_out(&cell, &ed, &theme(), false);
        let shown = text(&laid.outputs);
        assert_eq!(shown.len(), OUTPUT_LINES + 1);
        assert_eq!(shown[..3], ["first", "second", "line 0"]);
        assert_eq!(shown[OUTPUT_LINES], "… 9994 more lines (o shows them)");
        ed.expanded.insert("c".into());
        let laid = lay_out(&cell, &ed, &theme(), false);
        assert_eq!(laid.outputs.len(), 10_002);
        // Exactly as many lines as fit: nothing is cut.
        let cell = code_cell(
            "d",
            "x",
            vec![Output::Stream {
                name: "stdout".into(),
                text: "1\n2\n3\n4\n5\n6\n7\n8\n".into(),
            }],
        );
        let laid = lay_out(&cell, &Editor::new("n".into()), &theme(), false);
        assert_eq!(
            text(&laid.outputs),
            ["1", "2", "3", "4", "5", "6", "7", "8"]
        );
    }

    #[test]
    fn drawn_sources_are_kept_until_the_text_or_kind_changes() {
        let ed = Editor::new("n".into());
        let mut cell = code_cell("c", "def f():\n    return 1", vec![]);
        let first = lay_out(&cell, &ed, &theme(), false).source;
        assert_eq!(text(&first), ["def f():", "    return 1"]);
        assert_eq!(ed.drawn.borrow().len(), 1);
        assert_eq!(lay_out(&cell, &ed, &theme(), false).source, first);
        cell.source = "# Title".into();
        assert_eq!(
            text(&lay_out(&cell, &ed, &theme(), false).source),
            ["# Title"]
        );
        cell.kind = CellKind::Markdown;
        let md = lay_out(&cell, &ed, &theme(), false).source;
        assert_eq!(text(&md), ["Title"], "rendered as markdown now");
        assert_eq!(ed.drawn.borrow().len(), 1, "one entry per cell");
    }
}
