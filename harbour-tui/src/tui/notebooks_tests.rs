//! The Notebooks screen through the whole app: keys to commands, daemon answers to state, and
//! insta snapshots of the list and the editor (command and edit mode) at 80x24 and wide, in
//! their loading, empty and error states.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use harbour_shared::{
    Cell, CellKind, ExecState, KernelInfo, KernelState, Notebook, NotebookSummary, Output,
};

use super::action::Screen;
use super::app::{App, Command, Msg, Overlay};
use super::notebooks::{NbCmd, NbMsg};

use super::tests::{NOW, app, code as key, ctrl, draw, typed};

macro_rules! snap {
    ($name:expr, $text:expr) => {
        insta::with_settings!({
            filters => vec![(r"\b\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?\b", "[time]")],
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!($name, $text);
        });
    };
}

fn summary(name: &str, kernel: KernelState) -> NotebookSummary {
    NotebookSummary {
        name: name.into(),
        cells: 12,
        cluster: Some("local".into()),
        kernel,
        modified_ms: NOW,
        version: 1,
    }
}

pub fn notebook() -> Notebook {
    let code = |id: &str, source: &str, n: Option<u32>, outputs: Vec<Output>, state| Cell {
        id: id.into(),
        kind: CellKind::Code,
        source: source.into(),
        execution_count: n,
        outputs,
        state,
    };
    Notebook {
        name: "sales".into(),
        cluster: Some("local".into()),
        version: 7,
        modified_ms: NOW,
        kernel: KernelInfo {
            state: KernelState::Busy,
            pid: Some(4242),
            execution_count: 3,
            queued: 1,
            cluster: Some("local".into()),
            message: None,
        },
        cells: vec![
            Cell {
                id: "md".into(),
                kind: CellKind::Markdown,
                source: "# Sales\nRevenue by **region**, see `sales.parquet`:\n* daily\n* weekly"
                    .into(),
                execution_count: None,
                outputs: vec![],
                state: None,
            },
            code(
                "load",
                "df = spark.read.parquet('sales.parquet')\ndf.groupBy('region').count().show()",
                Some(2),
                vec![Output::Stream {
                    name: "stdout".into(),
                    text: "+------+-----+\n|region|count|\n+------+-----+\n|  east|   10|\n|  west|    7|\n| north|    3|\n| south|    1|\n|    eu|    2|\n|  asia|    4|\n+------+-----+\n".into(),
                }],
                Some(ExecState::Done),
            ),
            code(
                "boom",
                "1/0",
                Some(3),
                vec![Output::Error {
                    ename: "ZeroDivisionError".into(),
                    evalue: "division by zero".into(),
                    traceback: vec!["ZeroDivisionError: division by zero".into()],
                }],
                Some(ExecState::Error),
            ),
            code("slow", "import time; time.sleep(10)", None, vec![], Some(ExecState::Running)),
            code("next", "df.count()", None, vec![], Some(ExecState::Queued)),
        ],
    }
}

fn opened() -> App {
    let mut a = app();
    a.update(key(KeyCode::Char('8')));
    a.update(Msg::Nb(NbMsg::List(Ok(vec![summary(
        "sales",
        KernelState::Busy,
    )]))));
    let out = a.update(key(KeyCode::Enter));
    assert_eq!(out, [Command::Nb(NbCmd::Open("sales".into()))]);
    a
}

#[test]
fn the_list_in_its_states() {
    let mut a = app();
    let out = a.update(key(KeyCode::Char('8')));
    assert_eq!(a.screen, Screen::Notebooks);
    assert!(out.contains(&Command::Nb(NbCmd::List)), "{out:?}");
    snap!("notebooks_loading", draw(&a, 80, 24));
    a.update(Msg::Nb(NbMsg::List(Err("harbourd unavailable".into()))));
    snap!("notebooks_error", draw(&a, 80, 24));
    a.update(Msg::Nb(NbMsg::List(Ok(vec![]))));
    snap!("notebooks_empty", draw(&a, 80, 24));
    a.update(Msg::Nb(NbMsg::List(Ok(vec![
        summary("sales", KernelState::Busy),
        summary("etl", KernelState::Idle),
        summary(
            "broken",
            KernelState::Dead {
                why: "exit status: 1".into(),
            },
        ),
    ]))));
    snap!("notebooks_list", draw(&a, 80, 24));
    // ctrl-d asks first.
    a.update(key(KeyCode::Char('j')));
    a.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('d'),
        KeyModifiers::CONTROL,
    )));
    let Some(Overlay::Confirm { yes, .. }) = &a.overlay else {
        panic!("{:?}", a.overlay)
    };
    assert_eq!(yes, &Command::Nb(NbCmd::Delete("etl".into())));
}

#[test]
fn the_editor_in_command_and_edit_mode() {
    let mut a = opened();
    snap!("notebook_opening", draw(&a, 80, 24));
    let out = a.update(Msg::Nb(NbMsg::Notebook(
        "sales".into(),
        Ok(Box::new(notebook())),
    )));
    assert_eq!(
        out,
        [Command::Nb(NbCmd::Watch {
            name: "sales".into(),
            version: 7
        })]
    );
    snap!("notebook_command_80x24", draw(&a, 80, 24));
    snap!("notebook_command_wide", draw(&a, 140, 40));
    a.update(key(KeyCode::Char('j')));
    a.update(key(KeyCode::Char('o')));
    snap!("notebook_output_expanded", draw(&a, 80, 30));
    a.update(key(KeyCode::Char('j')));
    a.update(key(KeyCode::Enter));
    for c in " + 1".chars() {
        a.update(key(KeyCode::Char(c)));
    }
    snap!("notebook_edit_80x24", draw(&a, 80, 24));
    snap!("notebook_edit_wide", draw(&a, 140, 40));
    let out = a.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('r'),
        KeyModifiers::CONTROL,
    )));
    assert!(
        matches!(
            &out[..],
            [
                Command::Nb(NbCmd::Edit { .. }),
                Command::Nb(NbCmd::Run { .. })
            ]
        ),
        "{out:?}"
    );
    // esc leaves the editor, then the notebook.
    a.update(key(KeyCode::Esc));
    assert!(a.nb.editor.is_none());
}

#[test]
fn the_editor_error_and_a_dead_kernel() {
    let mut a = opened();
    a.update(Msg::Nb(NbMsg::Notebook(
        "sales".into(),
        Err("notebook 'sales' not found".into()),
    )));
    snap!("notebook_error", draw(&a, 80, 24));
    let mut nb = notebook();
    nb.kernel.state = KernelState::Dead {
        why: "the kernel exited (exit status: 1); its last output:\nSegmentation fault".into(),
    };
    a.update(Msg::Nb(NbMsg::Notebook("sales".into(), Ok(Box::new(nb)))));
    snap!("notebook_dead_kernel", draw(&a, 80, 24));
}

#[test]
fn the_palette_makes_notebooks() {
    let mut a = app();
    a.update(key(KeyCode::Char(':')));
    for c in "nb-create etl".chars() {
        a.update(key(KeyCode::Char(c)));
    }
    let out = a.update(key(KeyCode::Enter));
    assert!(
        out.contains(&Command::Nb(NbCmd::Create("etl".into()))),
        "{out:?}"
    );
    assert_eq!(a.screen, Screen::Notebooks);
}

#[test]
fn rename_from_the_list_and_from_the_editor() {
    let mut a = app();
    a.update(key(KeyCode::Char('8')));
    a.update(Msg::Nb(NbMsg::List(Ok(vec![
        summary("etl", KernelState::Idle),
        summary("sales", KernelState::Idle),
    ]))));
    a.update(key(KeyCode::Char('j')));
    // r: the palette with the command and the old name typed.
    a.update(key(KeyCode::Char('r')));
    let Some((super::app::Prompt::Palette, input)) = &a.prompt else {
        panic!("{:?}", a.prompt)
    };
    assert_eq!(input.text, "nb-rename sales ");
    typed(&mut a, "sales-2");
    let out = a.update(key(KeyCode::Enter));
    assert_eq!(
        out,
        [Command::Nb(NbCmd::Rename {
            from: "sales".into(),
            to: "sales-2".into()
        })]
    );
    let out = a.update(Msg::Nb(NbMsg::Renamed {
        from: "sales".into(),
        to: "sales-2".into(),
        result: Ok(()),
    }));
    assert_eq!(out, [Command::Nb(NbCmd::List)]);
    assert_eq!(
        a.status.as_ref().unwrap().text,
        "renamed notebook sales to sales-2"
    );
    // The list comes back in name order; the renamed one stays selected.
    a.update(Msg::Nb(NbMsg::List(Ok(vec![
        summary("etl", KernelState::Idle),
        summary("aaa", KernelState::Idle),
        summary("sales-2", KernelState::Idle),
    ]))));
    assert_eq!(a.nb.selected_name().as_deref(), Some("sales-2"));

    // In the editor, `:nb-rename NEW` renames the open one, and the editor follows it.
    a.update(key(KeyCode::Enter));
    a.update(Msg::Nb(NbMsg::Notebook(
        "sales-2".into(),
        Ok(Box::new(notebook())),
    )));
    a.update(key(KeyCode::Char(':')));
    typed(&mut a, "nbr sales-3");
    let out = a.update(key(KeyCode::Enter));
    assert_eq!(
        out,
        [Command::Nb(NbCmd::Rename {
            from: "sales-2".into(),
            to: "sales-3".into()
        })]
    );
    let out = a.update(Msg::Nb(NbMsg::Renamed {
        from: "sales-2".into(),
        to: "sales-3".into(),
        result: Ok(()),
    }));
    assert_eq!(
        out,
        [
            Command::Nb(NbCmd::List),
            Command::Nb(NbCmd::Open("sales-3".into()))
        ]
    );
    assert_eq!(a.nb.editor.as_ref().unwrap().name, "sales-3");
    // The old name's watch ends with an error nobody sees; the new one is watched.
    let out = a.update(Msg::Nb(NbMsg::Watched(
        "sales-2".into(),
        Err("notebook 'sales-2' not found".into()),
    )));
    assert!(out.is_empty(), "{out:?}");
    let out = a.update(Msg::Nb(NbMsg::Notebook(
        "sales-3".into(),
        Ok(Box::new(notebook())),
    )));
    assert_eq!(
        out,
        [Command::Nb(NbCmd::Watch {
            name: "sales-3".into(),
            version: 7
        })]
    );
    // A refused rename is an error on the status line.
    a.update(Msg::Nb(NbMsg::Renamed {
        from: "sales-3".into(),
        to: "etl".into(),
        result: Err("a notebook named 'etl' exists; pick another name".into()),
    }));
    let s = a.status.as_ref().unwrap();
    assert!(s.text.contains("exists"), "{s:?}");
    assert_eq!(a.nb.editor.as_ref().unwrap().name, "sales-3");
}

#[test]
fn find_in_the_cell_being_edited() {
    let mut a = opened();
    a.update(Msg::Nb(NbMsg::Notebook(
        "sales".into(),
        Ok(Box::new(notebook())),
    )));
    a.update(key(KeyCode::Char('j')));
    a.update(key(KeyCode::Enter));
    a.update(ctrl('s'));
    typed(&mut a, "df");
    let s = draw(&a, 80, 24);
    assert!(s.contains("find: df") && s.contains("2 matches"), "{s}");
    snap!("notebook_find_80x24", s);
    // Enter closes the find line and keeps editing; esc then leaves the cell.
    a.update(key(KeyCode::Enter));
    let ed = a.nb.editor.as_ref().unwrap();
    assert!(ed.find.is_none() && ed.editing.is_some());
    assert_eq!(ed.last_find, "df");
    a.update(key(KeyCode::Esc));
    assert!(a.nb.editor.as_ref().unwrap().editing.is_none());
    // Not found says so.
    a.update(key(KeyCode::Enter));
    a.update(ctrl('s'));
    typed(&mut a, "zz");
    assert!(draw(&a, 80, 24).contains("find: dfzz  no match"));
}

#[test]
fn help_lists_the_editor_keys_and_says_what_the_terminal_reports() {
    let mut a = opened();
    a.update(Msg::Nb(NbMsg::Notebook(
        "sales".into(),
        Ok(Box::new(notebook())),
    )));
    a.update(key(KeyCode::Char('?')));
    let s = draw(&a, 80, 40);
    for want in [
        "In a notebook (command mode)",
        "ctrl-enter",
        "ctrl-r",
        "run (every terminal)",
        "ctrl-n",
        "this terminal does not report ctrl-enter",
    ] {
        assert!(s.contains(want), "{want}:\n{s}");
    }
    a.keyboard_enhanced = true;
    let s = draw(&a, 80, 40);
    assert!(s.contains("kitty keyboard protocol on"), "{s}");
}
