//! The Notebooks screen's state and keys: a list of notebooks with their kernel state, and an
//! editor over one notebook (cells stacked with their outputs) with JupyterLab's two modes.
//!
//! Command mode: `j`/`k` move, `enter` edits, `a`/`b` add above/below, `dd` deletes, `m`/`y`
//! make markdown/code, `J`/`K` move the cell, `ctrl-enter` (or `ctrl-r`) runs, `shift-enter`
//! (or `ctrl-n`) runs and advances, `R` runs all, `U` runs the cells above, `I` interrupts,
//! `00` restarts the kernel, `o` expands or collapses long outputs, `C` clears outputs, `esc`
//! goes back to the list. Edit mode: every key goes to the cell's editor (ratatui-textarea's
//! emacs-like keys; undo also `ctrl-z`, and redo `alt-z`, since its `ctrl-r` runs the cell
//! here), the run keys run, `ctrl-s` finds in the
//! cell ([`super::notebooks_find`]), `esc` leaves. Typing is saved to the daemon at most
//! [`SAVE_EVERY_MS`] apart and on leaving the cell; the app's 1 s tick saves what is left, so
//! nothing waits longer than about a second.
//!
//! `ctrl-enter` and `shift-enter` reach the app only from terminals that report them (the kitty
//! keyboard protocol, which `terminal` turns on where it can); the fallbacks work everywhere.
//! [`EDITOR_KEYS`] is what `?` lists.
//!
//! Drawing is in `notebooks_ui`. Nothing here does I/O: keys return [`NbCmd`]s.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use harbour_shared::{
    CellEdit, CellKind, Notebook, NotebookSummary, NotebookVersion, RunCells, UnixMillis,
};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui_textarea::TextArea;

use super::notebooks_find::{Find, FindOutcome};
use super::widgets::Load;

/// Typing reaches the daemon at most this often (and on leaving the cell, and on each tick).
pub const SAVE_EVERY_MS: i64 = 500;

/// The editor's keys, as `?` shows them (the list's keys come from the keymap). An entry
/// with no description starts a group.
pub const EDITOR_KEYS: [(&str, &str); 22] = [
    ("enter / i", "edit the cell"),
    ("esc", "leave edit mode / back to the list"),
    ("j / k, g / G", "select a cell"),
    ("ctrl-enter", "run (terminals that report it)"),
    ("ctrl-r", "run (every terminal)"),
    ("shift-enter", "run and go on (if reported)"),
    ("ctrl-n", "run and go on (every terminal)"),
    ("a / b", "add a cell above / below"),
    ("dd", "delete the cell"),
    ("m / y / r", "markdown / code / raw"),
    ("J / K", "move the cell down / up"),
    ("R / U", "run all / the cells above"),
    ("I / 00", "interrupt / restart the kernel"),
    ("o", "a long output whole / cut"),
    ("C", "clear all outputs"),
    (":nb-rename NEW", "rename the notebook"),
    ("edit mode", ""),
    ("ctrl-s", "find (ctrl-s/↓ next, ↑ previous)"),
    ("ctrl-z / ctrl-u", "undo"),
    ("alt-z", "redo (ctrl-shift-z if reported)"),
    ("shift-arrows", "select"),
    ("ctrl-c/x/y", "copy / cut / paste"),
];

/// How matches of a find are highlighted until the app sets its theme's.
pub const FIND_STYLE: Style = Style::new().fg(Color::Black).bg(Color::Yellow);

/// Work for the shell.
#[derive(Debug, Clone, PartialEq)]
pub enum NbCmd {
    List,
    Open(String),
    /// Long-poll the notebook past `version`.
    Watch {
        name: String,
        version: NotebookVersion,
    },
    Edit {
        name: String,
        edits: Vec<CellEdit>,
    },
    Run {
        name: String,
        cells: RunCells,
    },
    Interrupt(String),
    Restart(String),
    Create(String),
    Delete(String),
    Rename {
        from: String,
        to: String,
    },
}

/// Answers from the shell.
#[derive(Debug, Clone)]
pub enum NbMsg {
    List(Result<Vec<NotebookSummary>, String>),
    /// A notebook as it is now (open, edit or run answers), for the editor named.
    Notebook(String, Result<Box<Notebook>, String>),
    /// A watch answer: `None` when the wait ran out.
    Watched(String, Result<Option<Box<Notebook>>, String>),
    /// A rename's answer.
    Renamed {
        from: String,
        to: String,
        result: Result<(), String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Command,
    Edit,
}

/// A cell's source lines as drawn, and the kind and text they were made from.
pub type Drawn = (CellKind, String, Vec<Line<'static>>);

#[derive(Debug)]
pub struct Editor {
    pub name: String,
    pub load: Load,
    pub nb: Option<Notebook>,
    /// The selected cell's index.
    pub cell: usize,
    pub mode: Mode,
    /// The cell being edited and its text.
    pub editing: Option<(String, TextArea<'static>)>,
    /// When typing was last sent, and whether some is not yet.
    pub saved_ms: UnixMillis,
    pub unsaved: bool,
    /// The first key of `dd` or `00`.
    pub pending: Option<char>,
    /// Cells whose long outputs are shown whole.
    pub expanded: HashSet<String>,
    pub watching: bool,
    /// The find line in edit mode, when open; the last query, for the next `ctrl-s`.
    pub find: Option<Find>,
    pub last_find: String,
    pub find_style: Style,
    /// Cells' source lines as last drawn (highlighted or rendered), by cell id, with the kind
    /// and source they were made from. Drawing fills it (hence the cell): see `notebooks_ui`.
    pub drawn: RefCell<HashMap<String, Drawn>>,
}

impl Editor {
    pub fn new(name: String) -> Self {
        Self {
            name,
            load: Load::Loading,
            nb: None,
            cell: 0,
            mode: Mode::Command,
            editing: None,
            saved_ms: 0,
            unsaved: false,
            pending: None,
            expanded: HashSet::new(),
            watching: false,
            find: None,
            last_find: String::new(),
            find_style: FIND_STYLE,
            drawn: RefCell::default(),
        }
    }

    fn cells(&self) -> usize {
        self.nb.as_ref().map_or(0, |n| n.cells.len())
    }

    pub fn selected_id(&self) -> Option<String> {
        self.nb
            .as_ref()
            .and_then(|n| n.cells.get(self.cell))
            .map(|c| c.id.clone())
    }

    /// Takes a newer notebook; the selection stays on its cell, the text being edited stays.
    pub fn set(&mut self, nb: Notebook) {
        let keep = self.selected_id();
        if let Some(old) = &self.nb
            && old.version > nb.version
        {
            return;
        }
        if let Some(id) = keep
            && let Some(i) = nb.cells.iter().position(|c| c.id == id)
        {
            self.cell = i;
        }
        self.cell = self.cell.min(nb.cells.len().saturating_sub(1));
        self.nb = Some(nb);
        self.load = Load::Loaded;
    }

    fn edit(&self, edits: Vec<CellEdit>) -> NbCmd {
        NbCmd::Edit {
            name: self.name.clone(),
            edits,
        }
    }

    fn run(&self, cells: RunCells) -> NbCmd {
        NbCmd::Run {
            name: self.name.clone(),
            cells,
        }
    }

    /// The edit that sends the text being typed, if any is unsent.
    pub fn flush(&mut self, now: UnixMillis) -> Option<NbCmd> {
        if !self.unsaved {
            return None;
        }
        let (id, area) = self.editing.as_ref()?;
        let source = area.lines().join("\n");
        let cmd = self.edit(vec![CellEdit::SetSource {
            id: id.clone(),
            source: source.clone(),
        }]);
        // Shown at once, before the daemon answers.
        if let Some(nb) = &mut self.nb
            && let Some(c) = nb.cells.iter_mut().find(|c| &c.id == id)
        {
            c.source = source;
        }
        self.unsaved = false;
        self.saved_ms = now;
        Some(cmd)
    }

    fn start_editing(&mut self) {
        let Some(nb) = &self.nb else { return };
        let Some(cell) = nb.cells.get(self.cell) else {
            return;
        };
        let lines: Vec<String> = cell.source.split('\n').map(str::to_owned).collect();
        let mut area = TextArea::new(lines);
        area.move_cursor(ratatui_textarea::CursorMove::Bottom);
        area.move_cursor(ratatui_textarea::CursorMove::End);
        area.set_cursor_line_style(Style::default());
        self.editing = Some((cell.id.clone(), area));
        self.mode = Mode::Edit;
    }

    fn stop_editing(&mut self, now: UnixMillis) -> Vec<NbCmd> {
        let out = self.flush(now).into_iter().collect();
        self.find = None;
        self.editing = None;
        self.mode = Mode::Command;
        out
    }

    /// Runs the selected cell (saving its text first); `advance` moves to the next one.
    fn run_selected(&mut self, now: UnixMillis, advance: bool) -> Vec<NbCmd> {
        let mut out = Vec::new();
        let Some(nb) = &self.nb else { return out };
        let Some(cell) = nb.cells.get(self.cell) else {
            return out;
        };
        let (id, kind) = (cell.id.clone(), cell.kind);
        if self.mode == Mode::Edit {
            out.extend(self.stop_editing(now));
        }
        if kind == CellKind::Code {
            out.push(self.run(RunCells::One(id)));
        }
        if advance {
            if self.cell + 1 >= self.cells() {
                // Like JupyterLab: running the last cell adds one below.
                out.push(self.edit(vec![CellEdit::Insert {
                    index: u32::try_from(self.cells()).unwrap_or(u32::MAX),
                    kind: CellKind::Code,
                    source: String::new(),
                }]));
            }
            self.cell += 1;
        }
        out
    }

    /// A key in the editor. `None`: not the editor's (global keys like `q`, `:`, `?`).
    pub fn on_key(&mut self, key: &KeyEvent, now: UnixMillis) -> Option<Vec<NbCmd>> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let shift = key.modifiers.contains(KeyModifiers::SHIFT);
        // An open find line takes every key.
        if self.mode == Mode::Edit
            && let (Some(find), Some((_, area))) = (&mut self.find, &mut self.editing)
        {
            if find.on_key(area, key) == FindOutcome::Closed {
                self.last_find = find.input.text.clone();
                self.find = None;
            }
            return Some(Vec::new());
        }
        // The run keys, in both modes.
        match key.code {
            KeyCode::Enter if ctrl => return Some(self.run_selected(now, false)),
            KeyCode::Enter if shift => return Some(self.run_selected(now, true)),
            KeyCode::Char('r') if ctrl => return Some(self.run_selected(now, false)),
            KeyCode::Char('n') if ctrl => return Some(self.run_selected(now, true)),
            _ => {}
        }
        if self.mode == Mode::Edit {
            if key.code == KeyCode::Esc {
                return Some(self.stop_editing(now));
            }
            let Some((_, area)) = &mut self.editing else {
                self.mode = Mode::Command;
                return Some(Vec::new());
            };
            if ctrl && key.code == KeyCode::Char('s') {
                self.find = Some(Find::open(area, &self.last_find, self.find_style));
                return Some(Vec::new());
            }
            let alt = key.modifiers.contains(KeyModifiers::ALT);
            // ratatui-textarea's redo (ctrl-r) runs the cell here: redo is alt-z (or
            // ctrl-shift-z where the terminal reports it), and ctrl-z undoes too.
            let changed = match key.code {
                KeyCode::Char('z' | 'Z') if alt || (ctrl && shift) => area.redo(),
                KeyCode::Char('z') if ctrl => area.undo(),
                _ => area.input(*key),
            };
            if changed {
                self.unsaved = true;
                if now - self.saved_ms >= SAVE_EVERY_MS {
                    return Some(self.flush(now).into_iter().collect());
                }
            }
            return Some(Vec::new());
        }
        self.command_key(key)
    }

    fn command_key(&mut self, key: &KeyEvent) -> Option<Vec<NbCmd>> {
        let pending = self.pending.take();
        let n = self.cells();
        let id = self.selected_id();
        let index = u32::try_from(self.cell).unwrap_or(u32::MAX);
        let out = match (key.code, id) {
            (KeyCode::Char('j') | KeyCode::Down, _) => {
                self.cell = (self.cell + 1).min(n.saturating_sub(1));
                Vec::new()
            }
            (KeyCode::Char('k') | KeyCode::Up, _) => {
                self.cell = self.cell.saturating_sub(1);
                Vec::new()
            }
            (KeyCode::Char('g') | KeyCode::Home, _) => {
                self.cell = 0;
                Vec::new()
            }
            (KeyCode::Char('G') | KeyCode::End, _) => {
                self.cell = n.saturating_sub(1);
                Vec::new()
            }
            (KeyCode::Enter | KeyCode::Char('i'), Some(_)) => {
                self.start_editing();
                Vec::new()
            }
            (KeyCode::Char(c @ ('a' | 'b')), _) => {
                let at = if c == 'a' || n == 0 { index } else { index + 1 };
                if c == 'b' && n > 0 {
                    self.cell += 1;
                }
                vec![self.edit(vec![CellEdit::Insert {
                    index: at,
                    kind: CellKind::Code,
                    source: String::new(),
                }])]
            }
            (KeyCode::Char('d'), Some(id)) => {
                if pending == Some('d') {
                    vec![self.edit(vec![CellEdit::Delete { id }])]
                } else {
                    self.pending = Some('d');
                    Vec::new()
                }
            }
            (KeyCode::Char('0'), _) => {
                if pending == Some('0') {
                    vec![NbCmd::Restart(self.name.clone())]
                } else {
                    self.pending = Some('0');
                    Vec::new()
                }
            }
            (KeyCode::Char(c @ ('m' | 'y' | 'r')), Some(id)) => {
                let kind = match c {
                    'm' => CellKind::Markdown,
                    'y' => CellKind::Code,
                    _ => CellKind::Raw,
                };
                vec![self.edit(vec![CellEdit::SetKind { id, kind }])]
            }
            (KeyCode::Char(c @ ('J' | 'K')), Some(id)) => {
                let to = if c == 'J' {
                    (self.cell + 1).min(n.saturating_sub(1))
                } else {
                    self.cell.saturating_sub(1)
                };
                if to == self.cell {
                    return Some(Vec::new());
                }
                // Moved here at once, so the selection stays on it before the answer.
                if let Some(nb) = &mut self.nb {
                    nb.cells.swap(self.cell, to);
                }
                self.cell = to;
                vec![self.edit(vec![CellEdit::Move {
                    id,
                    index: u32::try_from(to).unwrap_or(u32::MAX),
                }])]
            }
            (KeyCode::Char('R'), _) => vec![self.run(RunCells::All)],
            (KeyCode::Char('U'), Some(id)) => vec![self.run(RunCells::Above(id))],
            (KeyCode::Char('I'), _) => vec![NbCmd::Interrupt(self.name.clone())],
            (KeyCode::Char('C'), _) => vec![self.edit(vec![CellEdit::ClearOutputs { id: None }])],
            (KeyCode::Char('o'), Some(id)) => {
                if !self.expanded.remove(&id) {
                    self.expanded.insert(id);
                }
                Vec::new()
            }
            _ => return None,
        };
        Some(out)
    }
}

#[derive(Debug, Default)]
pub struct NotebooksState {
    pub load: Load,
    pub list: Vec<NotebookSummary>,
    pub selected: usize,
    pub editor: Option<Editor>,
    /// The notebook to select when the list comes (after a rename).
    pub reselect: Option<String>,
    /// The theme's match style, for finds in the editor.
    pub find_style: Option<Style>,
}

impl NotebooksState {
    pub fn selected_name(&self) -> Option<String> {
        self.list.get(self.selected).map(|n| n.name.clone())
    }

    pub fn move_by(&mut self, delta: isize) {
        let max = self.list.len().saturating_sub(1);
        self.selected = self.selected.saturating_add_signed(delta).min(max);
    }

    pub fn open(&mut self, name: String) -> Vec<NbCmd> {
        let mut ed = Editor::new(name.clone());
        if let Some(style) = self.find_style {
            ed.find_style = style;
        }
        self.editor = Some(ed);
        vec![NbCmd::Open(name)]
    }

    /// The notebook a rename with no old name means: the open one, else the selected one.
    pub fn current_name(&self) -> Option<String> {
        match &self.editor {
            Some(ed) => Some(ed.name.clone()),
            None => self.selected_name(),
        }
    }

    /// After a rename: the editor follows the notebook to its new name; the list is fetched
    /// again with it selected.
    pub fn renamed(&mut self, from: &str, to: &str) -> Vec<NbCmd> {
        let mut out = vec![NbCmd::List];
        self.reselect = Some(to.to_owned());
        if let Some(ed) = self.editor.as_mut().filter(|e| e.name == from) {
            ed.name = to.to_owned();
            // The watch on the old name ends with an error that is ignored (its name is not
            // the editor's); a new one starts when the notebook comes.
            ed.watching = false;
            out.push(NbCmd::Open(to.to_owned()));
        }
        out
    }

    /// A key on this screen. `None`: let the keymap have it.
    pub fn on_key(&mut self, key: &KeyEvent, now: UnixMillis) -> Option<Vec<NbCmd>> {
        if let Some(ed) = &mut self.editor {
            if ed.mode == Mode::Command && key.code == KeyCode::Esc {
                self.editor = None;
                return Some(vec![NbCmd::List]);
            }
            return ed.on_key(key, now);
        }
        match key.code {
            KeyCode::Enter => Some(
                self.selected_name()
                    .map(|n| self.open(n))
                    .unwrap_or_default(),
            ),
            _ => None,
        }
    }

    /// Takes an answer; returns what to do next (keep watching).
    pub fn on_msg(&mut self, msg: NbMsg) -> (Vec<NbCmd>, Option<String>) {
        match msg {
            NbMsg::List(Ok(list)) => {
                self.list = list;
                self.load = Load::Loaded;
                if let Some(name) = self.reselect.take()
                    && let Some(i) = self.list.iter().position(|n| n.name == name)
                {
                    self.selected = i;
                }
                self.selected = self.selected.min(self.list.len().saturating_sub(1));
                (Vec::new(), None)
            }
            NbMsg::List(Err(e)) => {
                self.load = Load::Failed(e);
                (Vec::new(), None)
            }
            NbMsg::Notebook(name, r) => {
                let Some(ed) = self.editor.as_mut().filter(|e| e.name == name) else {
                    return (Vec::new(), r.err());
                };
                match r {
                    Ok(nb) => {
                        ed.set(*nb);
                        (watch(ed), None)
                    }
                    Err(e) if ed.nb.is_none() => {
                        ed.load = Load::Failed(e);
                        (Vec::new(), None)
                    }
                    Err(e) => (Vec::new(), Some(e)),
                }
            }
            NbMsg::Watched(name, r) => {
                let Some(ed) = self.editor.as_mut().filter(|e| e.name == name) else {
                    return (Vec::new(), None);
                };
                ed.watching = false;
                match r {
                    Ok(nb) => {
                        if let Some(nb) = nb {
                            ed.set(*nb);
                        }
                        (watch(ed), None)
                    }
                    // Watched again when the connection is back (`reopen`).
                    Err(e) => (Vec::new(), Some(e)),
                }
            }
            NbMsg::Renamed { from, to, result } => match result {
                Ok(()) => (self.renamed(&from, &to), None),
                Err(e) => (Vec::new(), Some(e)),
            },
        }
    }

    /// After a reconnect: the list, and the open notebook again.
    pub fn refetch(&mut self) -> Vec<NbCmd> {
        let mut out = vec![NbCmd::List];
        if let Some(ed) = &mut self.editor {
            ed.watching = false;
            out.push(NbCmd::Open(ed.name.clone()));
        }
        out
    }

    pub fn tick(&mut self, now: UnixMillis) -> Vec<NbCmd> {
        self.editor
            .as_mut()
            .and_then(|e| e.flush(now))
            .into_iter()
            .collect()
    }
}

// The app's side: answers in, and the delete confirmation.
impl super::app::App {
    pub(super) fn on_nb_msg(&mut self, msg: NbMsg) -> Vec<super::app::Command> {
        if let NbMsg::Renamed {
            from,
            to,
            result: Ok(()),
        } = &msg
        {
            self.info(format!("renamed notebook {from} to {to}"));
        }
        let (out, error) = self.nb.on_msg(msg);
        if let Some(e) = error {
            self.error(e);
        }
        out.into_iter().map(super::app::Command::Nb).collect()
    }

    pub(super) fn nb_delete(&mut self) -> Vec<super::app::Command> {
        if self.nb.editor.is_some() {
            return Vec::new();
        }
        let Some(name) = self.nb.selected_name() else {
            return Vec::new();
        };
        self.overlay = Some(super::app::Overlay::Confirm {
            prompt: format!("Delete notebook {name}? Its kernel is stopped and its file removed."),
            yes: super::app::Command::Nb(NbCmd::Delete(name)),
        });
        Vec::new()
    }

    /// `r` on the list: the palette, with the rename command and the old name typed.
    pub(super) fn nb_rename_prompt(&mut self) -> Vec<super::app::Command> {
        if self.nb.editor.is_some() {
            return Vec::new();
        }
        if let Some(name) = self.nb.selected_name() {
            self.prompt = Some((
                super::modal::Prompt::Palette,
                super::input::LineInput::new(&format!("nb-rename {name} ")),
            ));
        }
        Vec::new()
    }

    /// `:nb-rename [OLD] NEW`: without OLD, the open notebook or the selected one.
    pub(super) fn nb_rename(
        &mut self,
        from: Option<String>,
        to: String,
    ) -> Vec<super::app::Command> {
        let Some(from) = from.or_else(|| self.nb.current_name()) else {
            self.error("no notebook to rename: select one on the Notebooks screen (8), or name it: `:nb-rename OLD NEW`");
            return Vec::new();
        };
        if from == to {
            return Vec::new();
        }
        self.info(format!("renaming notebook {from} to {to}…"));
        vec![super::app::Command::Nb(NbCmd::Rename { from, to })]
    }
}

/// One watch in flight at a time.
fn watch(ed: &mut Editor) -> Vec<NbCmd> {
    if ed.watching {
        return Vec::new();
    }
    let Some(nb) = &ed.nb else {
        return Vec::new();
    };
    ed.watching = true;
    vec![NbCmd::Watch {
        name: ed.name.clone(),
        version: nb.version,
    }]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use harbour_shared::{Cell, KernelInfo, KernelState};

    pub fn sample(n: usize) -> Notebook {
        Notebook {
            name: "etl".into(),
            cluster: None,
            version: 1,
            modified_ms: 0,
            kernel: KernelInfo {
                state: KernelState::Idle,
                pid: Some(1),
                execution_count: 0,
                queued: 0,
                cluster: None,
                message: None,
            },
            cells: (0..n)
                .map(|i| Cell {
                    id: format!("c{i}"),
                    kind: CellKind::Code,
                    source: format!("x = {i}"),
                    execution_count: None,
                    outputs: Vec::new(),
                    state: None,
                })
                .collect(),
        }
    }

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn editor(n: usize) -> Editor {
        let mut e = Editor::new("etl".into());
        e.set(sample(n));
        e
    }

    #[test]
    fn dd_deletes_and_one_d_does_not() {
        let mut e = editor(3);
        e.cell = 1;
        assert_eq!(e.on_key(&key(KeyCode::Char('d')), 0), Some(vec![]));
        let out = e.on_key(&key(KeyCode::Char('d')), 0).unwrap();
        assert_eq!(
            out,
            [NbCmd::Edit {
                name: "etl".into(),
                edits: vec![CellEdit::Delete { id: "c1".into() }]
            }]
        );
        e.on_key(&key(KeyCode::Char('d')), 0);
        e.on_key(&key(KeyCode::Char('j')), 0);
        assert_eq!(
            e.on_key(&key(KeyCode::Char('d')), 0),
            Some(vec![]),
            "j broke the pair"
        );
    }

    #[test]
    fn typing_is_saved_throttled_and_on_leaving() {
        let mut e = editor(1);
        e.on_key(&key(KeyCode::Enter), 0);
        assert_eq!(e.mode, Mode::Edit);
        // The first key saves (nothing sent for a while), the next within 500 ms waits.
        let first = e.on_key(&key(KeyCode::Char('1')), 1_000).unwrap();
        assert_eq!(first.len(), 1);
        assert!(
            e.on_key(&key(KeyCode::Char('2')), 1_100)
                .unwrap()
                .is_empty()
        );
        // The tick sends what is left.
        let NbCmd::Edit { edits, .. } = &e.flush(1_900).unwrap() else {
            panic!()
        };
        assert_eq!(
            edits[0],
            CellEdit::SetSource {
                id: "c0".into(),
                source: "x = 012".into()
            }
        );
        e.on_key(&key(KeyCode::Char('3')), 2_000);
        let out = e.on_key(&key(KeyCode::Esc), 2_100).unwrap();
        assert_eq!(out.len(), 1, "leaving saves");
        assert_eq!(e.mode, Mode::Command);
        assert_eq!(e.nb.as_ref().unwrap().cells[0].source, "x = 0123");
    }

    #[test]
    fn run_keys_work_in_both_modes_and_shift_enter_advances() {
        let mut e = editor(2);
        let ctrl_enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::CONTROL);
        assert_eq!(
            e.on_key(&ctrl_enter, 0).unwrap(),
            [NbCmd::Run {
                name: "etl".into(),
                cells: RunCells::One("c0".into())
            }]
        );
        e.on_key(&key(KeyCode::Enter), 0);
        let shift_enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::SHIFT);
        let out = e.on_key(&shift_enter, 0).unwrap();
        assert!(matches!(&out[..], [NbCmd::Run { .. }]), "{out:?}");
        assert_eq!((e.cell, e.mode), (1, Mode::Command));
        // On the last cell it also adds one below.
        let out = e
            .on_key(&KeyEvent::new(KeyCode::Char('n'), KeyModifiers::CONTROL), 0)
            .unwrap();
        assert!(
            matches!(&out[1], NbCmd::Edit { edits, .. } if matches!(edits[0], CellEdit::Insert { index: 2, .. }))
        );
    }

    #[test]
    fn undo_and_redo_in_edit_mode() {
        let mut e = editor(1);
        e.on_key(&key(KeyCode::Enter), 0);
        e.on_key(&key(KeyCode::Char('9')), 0);
        let text = |e: &Editor| e.editing.as_ref().unwrap().1.lines().join("\n");
        assert_eq!(text(&e), "x = 09");
        e.on_key(&KeyEvent::new(KeyCode::Char('z'), KeyModifiers::CONTROL), 0);
        assert_eq!(text(&e), "x = 0");
        e.on_key(&KeyEvent::new(KeyCode::Char('z'), KeyModifiers::ALT), 0);
        assert_eq!(text(&e), "x = 09");
        e.on_key(&KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL), 0);
        assert_eq!(text(&e), "x = 0");
        e.on_key(
            &KeyEvent::new(
                KeyCode::Char('Z'),
                KeyModifiers::CONTROL | KeyModifiers::SHIFT,
            ),
            0,
        );
        assert_eq!(text(&e), "x = 09");
    }

    #[test]
    fn moves_and_kinds() {
        let mut e = editor(3);
        let out = e.on_key(&key(KeyCode::Char('J')), 0).unwrap();
        assert_eq!(e.cell, 1);
        assert!(
            matches!(&out[0], NbCmd::Edit { edits, .. } if edits[0] == CellEdit::Move { id: "c0".into(), index: 1 })
        );
        let out = e.on_key(&key(KeyCode::Char('m')), 0).unwrap();
        assert!(
            matches!(&out[0], NbCmd::Edit { edits, .. } if edits[0] == CellEdit::SetKind { id: "c0".into(), kind: CellKind::Markdown })
        );
        assert_eq!(e.on_key(&key(KeyCode::Char('q')), 0), None, "q is global");
    }

    #[test]
    fn watches_one_at_a_time_and_keeps_the_selection() {
        let mut s = NotebooksState::default();
        s.open("etl".into());
        let (out, _) = s.on_msg(NbMsg::Notebook("etl".into(), Ok(Box::new(sample(3)))));
        assert_eq!(
            out,
            [NbCmd::Watch {
                name: "etl".into(),
                version: 1
            }]
        );
        let (out, _) = s.on_msg(NbMsg::Notebook("etl".into(), Ok(Box::new(sample(3)))));
        assert!(out.is_empty(), "already watching");
        s.editor.as_mut().unwrap().cell = 2;
        let mut moved = sample(3);
        moved.version = 2;
        moved.cells.rotate_left(1);
        let (out, _) = s.on_msg(NbMsg::Watched("etl".into(), Ok(Some(Box::new(moved)))));
        assert_eq!(
            out,
            [NbCmd::Watch {
                name: "etl".into(),
                version: 2
            }]
        );
        assert_eq!(s.editor.as_ref().unwrap().cell, 1, "still on c2");
    }
}
