//! Drawing: `render(&App, &mut Frame)` is a pure function of the state. The frame is a header
//! with the screen tabs and the connection, the current screen, and a status line that is
//! also where `/` and `:` are typed; help, confirmations and the submit form draw on top.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::action::Screen;
use super::app::{App, Conn, FormField, Level, Overlay, Prompt};
use super::logs_ui;
use super::palette;
use super::widgets;

pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    let [header, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    render_header(app, frame, header);
    let theme = &app.theme;
    match app.screen {
        Screen::Dashboard => app.dash.render(frame, body, theme, app.now_ms),
        Screen::Runs => app.runs.render(frame, body, theme, app.now_ms),
        Screen::Jobs => app.jobs.render(frame, body, theme, app.now_ms),
        Screen::Logs => logs_ui::render(app.logs.as_ref(), frame, body, theme, app.now_ms),
        Screen::Details => app.details.render(frame, body, theme, app.now_ms),
        Screen::Sql => app.sql.render(frame, body, theme, app.now_ms),
        Screen::Clusters => app.clusters.render(frame, body, theme),
        Screen::Monitor => app.monitor.render(frame, body, theme, app.now_ms),
        Screen::Notebooks => app.nb.render(frame, body, theme),
        Screen::Spark => app.spark.render(frame, body, theme),
        Screen::Ingest => app.ingest.render(frame, body, theme, app.now_ms),
    }
    render_status(app, frame, status);
    if let Some((Prompt::Palette, input)) = &app.prompt {
        render_palette_candidates(app, frame, body, &input.text);
    }
    match &app.overlay {
        Some(Overlay::Help) => render_help(app, frame, body),
        Some(Overlay::Confirm { prompt, .. }) => render_confirm(app, frame, body, prompt),
        Some(Overlay::Submit(_)) => render_submit(app, frame, body),
        None => {}
    }
}

fn render_header(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let (conn, style) = match &app.conn {
        Conn::Connecting => ("connecting…".to_owned(), theme.get("status-warn")),
        Conn::Connected { version, .. } => (
            format!("● harbourd {version}"),
            theme.get("state-succeeded"),
        ),
        Conn::Reconnecting { .. } => ("○ reconnecting…".to_owned(), theme.get("status-error")),
    };
    let right_w = u16::try_from(conn.chars().count() + 1).unwrap_or(0);
    let show_conn = area.width > right_w + 40;
    let room = usize::from(if show_conn {
        area.width - right_w
    } else {
        area.width
    });
    // Each screen's key: its place, but Ingest's is 0 (after 9).
    let tabs: Vec<(usize, Screen)> = Screen::CYCLE
        .iter()
        .enumerate()
        .map(|(i, s)| (if *s == Screen::Ingest { 0 } else { i + 1 }, *s))
        .collect();
    let full: usize = 10
        + tabs
            .iter()
            .map(|(_, s)| s.title().chars().count() + 3)
            .sum::<usize>();
    // Too narrow for every name: the digits, and the name of the screen shown.
    let compact = full > room;
    let mut spans = vec![
        Span::styled(" harbour ", theme.get("tab-active")),
        Span::raw(" "),
    ];
    for (digit, s) in tabs {
        let active = s == app.screen;
        let style = if active {
            theme.get("tab-active")
        } else {
            theme.get("tab")
        };
        let text = if compact && !active {
            digit.to_string()
        } else {
            format!("{digit} {}", s.title())
        };
        spans.push(Span::styled(text, style));
        spans.push(Span::raw(" "));
    }
    if app.screen == Screen::Details {
        spans.push(Span::styled(
            Screen::Details.title(),
            theme.get("tab-active"),
        ));
    }
    let left = Line::from(spans);
    frame.render_widget(Paragraph::new(left).style(theme.get("header")), area);
    if show_conn {
        let r = Rect {
            x: area.x + area.width - right_w,
            width: right_w,
            ..area
        };
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(conn, style))).style(theme.get("header")),
            r,
        );
    }
}

fn hints(app: &App) -> &'static str {
    match app.screen {
        Screen::Runs => "enter details  l logs  ctrl-k kill  r restart  s submit  / filter  ? help",
        Screen::Jobs => "r run now  p pause  ctrl-d delete  enter runs  / filter  ? help",
        Screen::Logs => {
            "/ search  n/N next  e streams  w wrap  t time  G follow  ctrl-s save  ? help"
        }
        Screen::Details => "l logs  ctrl-k kill  r restart  esc back  ? help",
        Screen::Sql if app.sql.editing => "ctrl-r run  ctrl-k cancel  ctrl-p/n history  esc done",
        Screen::Sql => "enter edit  ctrl-r run  j/k scroll  ctrl-k cancel  ? help",
        Screen::Clusters => "s create  ctrl-d delete  enter SQL on it  ? help",
        Screen::Dashboard => "1-7 screens  : palette  ? help  q quit",
        Screen::Notebooks => notebook_hints(app),
        Screen::Ingest => {
            "s new  e edit  r run  R retry  p pause  v schemas  enter runs/files  ctrl-d del"
        }
        Screen::Monitor => {
            "+/- window  f freeze  e expand  j/k container  l logs  r restart  ctrl-k stop  ? help"
        }
        Screen::Spark => "enter open  esc up  j/k move  r refresh  y copy id  ? help",
    }
}

// --- Notebooks ---
fn notebook_hints(app: &App) -> &'static str {
    use super::notebooks::Mode;
    match &app.nb.editor {
        None => "enter open  s new  r rename  ctrl-d delete  j/k move  ? help",
        Some(e) if e.mode == Mode::Edit => {
            "ctrl-enter/ctrl-r run  shift-enter/ctrl-n run+next  ctrl-s find  esc done"
        }
        Some(_) => {
            "enter edit  ctrl-r run  R all  a/b add  dd del  m/y type  J/K move  I intr  00 restart  o out  esc"
        }
    }
}

fn render_status(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    if let Some((prompt, input)) = &app.prompt {
        let lead = match prompt {
            Prompt::Filter => "/",
            Prompt::Search => "search /",
            Prompt::Palette => ":",
        };
        let line = Line::from(vec![
            Span::styled(lead, theme.get("key")),
            Span::raw(input.text.clone()),
        ]);
        frame.render_widget(Paragraph::new(line).style(theme.get("status")), area);
        let x = area.x + u16::try_from(lead.chars().count()).unwrap_or(0) + input.cursor_col();
        frame.set_cursor_position(Position {
            x: x.min(area.right().saturating_sub(1)),
            y: area.y,
        });
        return;
    }
    let (text, style) = match (&app.conn, &app.status) {
        (Conn::Reconnecting { why }, _) => (
            format!("harbourd went away, reconnecting… ({why})"),
            theme.get("status-error"),
        ),
        (_, Some(s)) => (
            s.text.clone(),
            match s.level {
                Level::Info => theme.get("status"),
                Level::Warn => theme.get("status-warn"),
                Level::Error => theme.get("status-error"),
            },
        ),
        _ => (hints(app).to_owned(), theme.get("status")),
    };
    let text = widgets::ellipsize(&text, usize::from(area.width));
    frame.render_widget(
        Paragraph::new(Line::from(Span::styled(text, style))).style(theme.get("status")),
        area,
    );
}

fn render_palette_candidates(app: &App, frame: &mut Frame, body: Rect, text: &str) {
    let cands = palette::candidates(text);
    if cands.is_empty() || text.contains(' ') {
        return;
    }
    let h = u16::try_from(cands.len())
        .unwrap_or(0)
        .min(body.height.saturating_sub(2))
        + 2;
    let w = 50.min(body.width);
    let r = Rect {
        x: body.x,
        y: body.bottom().saturating_sub(h),
        width: w,
        height: h,
    };
    frame.render_widget(Clear, r);
    let block = widgets::block(&app.theme, " commands (tab completes) ");
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let lines: Vec<Line> = cands
        .iter()
        .map(|(name, help)| {
            Line::from(vec![
                Span::styled(format!("{name:<10}"), app.theme.get("key")),
                Span::styled(*help, app.theme.get("dim")),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn render_help(app: &App, frame: &mut Frame, body: Rect) {
    let theme = &app.theme;
    let bindings = app.keymap.bindings(app.screen);
    let mut lines = vec![Line::from(Span::styled(
        format!("{} keys", app.screen.title()),
        theme.get("title"),
    ))];
    let mut in_global = false;
    for (key, action, local) in bindings {
        if !local && !in_global {
            in_global = true;
            // The notebook editor takes its keys itself: they come before the global ones.
            if app.screen == Screen::Notebooks {
                notebook_help(app, &mut lines);
            }
            lines.push(Line::default());
            lines.push(Line::from(Span::styled("Everywhere", theme.get("title"))));
        }
        lines.push(Line::from(vec![
            Span::styled(format!("  {key:<16} "), theme.get("key")),
            Span::raw(action.describe()),
        ]));
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        "keys are set in tui.toml; harbour-tui --print-config shows them",
        theme.get("dim"),
    )));
    let r = widgets::centered(body, 60, body.height.saturating_sub(2).max(5));
    frame.render_widget(Clear, r);
    let block = widgets::block(theme, " Help (esc closes, j/k scroll) ");
    let inner = block.inner(r);
    frame.render_widget(block, r);
    frame.render_widget(Paragraph::new(lines).scroll((app.help_scroll, 0)), inner);
}

/// The notebook editor's keys (it takes them itself, so they are not in the keymap), and
/// whether this terminal reports ctrl-enter and shift-enter.
fn notebook_help(app: &App, lines: &mut Vec<Line<'static>>) {
    let theme = &app.theme;
    let heading = |what: &str| {
        Line::from(Span::styled(
            format!("In a notebook ({what})"),
            theme.get("title"),
        ))
    };
    lines.push(Line::default());
    lines.push(heading("command mode"));
    for (key, what) in super::notebooks::EDITOR_KEYS {
        if what.is_empty() {
            lines.push(heading(key));
            continue;
        }
        lines.push(Line::from(vec![
            Span::styled(format!("  {key:<16} "), theme.get("key")),
            Span::raw(what),
        ]));
    }
    let note = if app.keyboard_enhanced {
        [
            "kitty keyboard protocol on: ctrl-enter",
            "and shift-enter reach the editor",
        ]
    } else {
        [
            "this terminal does not report ctrl-enter",
            "or shift-enter: use ctrl-r / ctrl-n",
        ]
    };
    for n in note {
        lines.push(Line::from(Span::styled(format!("  {n}"), theme.get("dim"))));
    }
}

fn render_confirm(app: &App, frame: &mut Frame, body: Rect, prompt: &str) {
    let theme = &app.theme;
    let r = widgets::centered(body, 56, 6);
    frame.render_widget(Clear, r);
    let block = widgets::block(theme, " Confirm ");
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let lines = vec![
        Line::from(prompt.to_owned()),
        Line::default(),
        Line::from(vec![
            Span::styled("y", theme.get("key")),
            Span::raw(" yes   "),
            Span::styled("n", theme.get("key")),
            Span::raw(" no"),
        ]),
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
}

fn render_submit(app: &App, frame: &mut Frame, body: Rect) {
    let Some(Overlay::Submit(form)) = &app.overlay else {
        return;
    };
    let theme = &app.theme;
    let r = widgets::centered(body, 70, 10);
    frame.render_widget(Clear, r);
    let block = widgets::block(
        theme,
        " Submit a run (tab next field, enter submits, esc cancels) ",
    );
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let mark = |f: FormField| {
        if form.field == f {
            Span::styled("▶ ", theme.get("key"))
        } else {
            Span::raw("  ")
        }
    };
    let choice = |label: &str, on: bool| -> Span<'static> {
        if on {
            Span::styled(format!("[{label}]"), theme.get("selected"))
        } else {
            Span::raw(format!(" {label} "))
        }
    };
    let mut kinds = vec![
        mark(FormField::Kind),
        Span::styled("kind    ", theme.get("column-header")),
    ];
    for k in harbour_shared::JobKind::ALL {
        kinds.push(choice(k.as_str(), form.kind == k));
        kinds.push(Span::raw(" "));
    }
    let source = vec![
        mark(FormField::Source),
        Span::styled("source  ", theme.get("column-header")),
        choice("code", !form.file),
        Span::raw(" "),
        choice("file", form.file),
    ];
    let label = if form.file { "path    " } else { "code    " };
    let text = vec![
        mark(FormField::Text),
        Span::styled(label, theme.get("column-header")),
        Span::raw(form.text.text.clone()),
    ];
    let mut lines = vec![
        Line::from(kinds),
        Line::from(source),
        Line::from(text),
        Line::default(),
    ];
    match &form.error {
        Some(e) => lines.push(Line::from(Span::styled(
            e.clone(),
            theme.get("status-error"),
        ))),
        None => lines.push(Line::from(Span::styled(
            "←/→ change kind and source",
            theme.get("dim"),
        ))),
    }
    frame.render_widget(Paragraph::new(lines).style(Style::default()), inner);
    if form.field == FormField::Text {
        let x = inner.x + 10 + form.text.cursor_col();
        frame.set_cursor_position(Position {
            x: x.min(inner.right().saturating_sub(1)),
            y: inner.y + 2,
        });
    }
}
