//! Notebooks end to end: a real harbourd, real ipykernel kernels from the runtime
//! `scripts/test` provisions (`HARBOUR_RUNTIME_DIR`), real `.ipynb` files.
//!
//! Executing cells (stream order, results, errors, counts, stop on error), interrupting a
//! `time.sleep`, a kernel that crashes or is killed mid-cell and is restarted, a client that goes away and comes
//! back to the outputs made meanwhile, idle culling, a Spark cell on `local`, edits on disk
//! by another program, import/export round trips of varied notebooks, broken inputs, and
//! `harbour nb run`'s exit codes.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use harbour_shared::{
    CellEdit, CellKind, Error, ExecState, KernelState, Notebook, NotebookSpec, Output, RunCells,
};
use harbour_tests::{Daemon, bin};
use harbour_tui::client::{self, Client};

use harbour_tests::runtime_dir;

fn start(extra: &str) -> Daemon {
    Daemon::start_with(&format!(
        "[spark]\nruntime_dir = \"{}\"\nlocal_cores = 1\n{extra}",
        runtime_dir().display()
    ))
}

fn api(r: Result<Result<Notebook, Error>, tarpc::client::RpcError>) -> Notebook {
    r.expect("rpc").expect("api")
}

/// A notebook with these code cells (and nothing else).
async fn notebook(c: &Client, name: &str, cells: &[&str]) -> Notebook {
    let nb = api(c
        .rpc
        .notebook_create(
            client::ctx(),
            NotebookSpec {
                name: name.into(),
                cluster: None,
            },
        )
        .await);
    let first = nb.cells[0].id.clone();
    let mut edits = vec![CellEdit::Delete { id: first }];
    for (i, code) in cells.iter().enumerate() {
        edits.push(CellEdit::Insert {
            index: i as u32,
            kind: CellKind::Code,
            source: (*code).into(),
        });
    }
    api(c.rpc.notebook_edit(client::ctx(), name.into(), edits).await)
}

/// Follows the notebook (long-poll) until `done`, or panics after `within`.
async fn wait_for(
    c: &Client,
    name: &str,
    within: Duration,
    done: impl Fn(&Notebook) -> bool,
) -> Notebook {
    let deadline = Instant::now() + within;
    let mut nb = api(c.rpc.notebook_get(client::ctx(), name.into()).await);
    while !done(&nb) {
        assert!(
            Instant::now() < deadline,
            "notebook not as expected within {within:?}: {nb:#?}"
        );
        if let Some(next) = c
            .rpc
            .notebook_watch(client::long_poll_ctx(2_000), name.into(), nb.version, 2_000)
            .await
            .expect("rpc")
            .expect("watch")
        {
            assert!(next.version > nb.version);
            nb = next;
        }
    }
    nb
}

/// The notebook's file once `done` says so: a kernel's outputs are written in the background,
/// moments after the notebook shows them.
async fn file_when(
    d: &Daemon,
    name: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let file = d.data_dir.join(format!("notebooks/{name}.ipynb"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&file).unwrap();
        let saved: serde_json::Value = serde_json::from_str(&text).unwrap();
        if done(&saved) {
            return saved;
        }
        assert!(
            Instant::now() < deadline,
            "{} never got there:\n{text}",
            file.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn settled(nb: &Notebook) -> bool {
    nb.cells
        .iter()
        .all(|c| !matches!(c.state, Some(ExecState::Queued | ExecState::Running)))
}

fn text(outputs: &[Output]) -> String {
    outputs
        .iter()
        .map(|o| match o {
            Output::Stream { name, text } => format!("{name}:{text}"),
            Output::Data { text, .. } => format!("data:{text}\n"),
            Output::Error { ename, evalue, .. } => format!("error:{ename}:{evalue}\n"),
        })
        .collect()
}

#[tokio::test]
async fn cells_run_in_order_with_streams_results_errors_and_counts() {
    let d = start("");
    let c = d.client().await;
    notebook(
        &c,
        "basics",
        &[
            "import sys\nprint('a', flush=True)\nprint('b', file=sys.stderr, flush=True)\nprint('c')",
            "x = 40\nx + 2",
            "from IPython.display import display, HTML\ndisplay(HTML('<b>bold</b>'))",
            "raise ValueError('boom')",
            "print('never')",
        ],
    )
    .await;
    let nb = api(c
        .rpc
        .notebook_run(client::ctx(), "basics".into(), RunCells::All)
        .await);
    assert!(nb.cells.iter().all(|c| c.state.is_some()), "{nb:#?}");
    let nb = wait_for(&c, "basics", Duration::from_secs(90), settled).await;
    let states: Vec<_> = nb.cells.iter().map(|c| c.state).collect();
    assert_eq!(
        states,
        [
            Some(ExecState::Done),
            Some(ExecState::Done),
            Some(ExecState::Done),
            Some(ExecState::Error),
            Some(ExecState::Cancelled)
        ]
    );
    // stdout and stderr keep their order; consecutive writes to one stream are one output.
    assert_eq!(text(&nb.cells[0].outputs), "stdout:a\nstderr:b\nstdout:c\n");
    assert_eq!(text(&nb.cells[1].outputs), "data:42\n");
    let counts: Vec<_> = nb.cells.iter().map(|c| c.execution_count).collect();
    assert_eq!(counts, [Some(1), Some(2), Some(3), Some(4), None]);
    let Output::Data { mimes, .. } = &nb.cells[2].outputs[0] else {
        panic!("{:?}", nb.cells[2].outputs)
    };
    assert!(mimes.contains(&"text/html".to_owned()), "{mimes:?}");
    let Output::Error {
        ename, traceback, ..
    } = &nb.cells[3].outputs[0]
    else {
        panic!("{:?}", nb.cells[3].outputs)
    };
    assert_eq!(ename, "ValueError");
    assert!(traceback.iter().any(|l| l.contains("boom")));
    assert!(!traceback.iter().any(|l| l.contains('\u{1b}')), "ANSI left");
    assert_eq!(nb.kernel.state, KernelState::Idle);
    assert_eq!(nb.kernel.execution_count, 4);

    // The outputs are in the file, as Jupyter would read them.
    let saved = file_when(&d, "basics", |f| {
        f["cells"][3]["outputs"][0]["output_type"] == "error"
    })
    .await;
    assert_eq!(saved["cells"][1]["outputs"][0]["data"]["text/plain"], "42");
    assert_eq!(saved["cells"][1]["execution_count"], 2);
    assert_eq!(saved["cells"][3]["outputs"][0]["output_type"], "error");

    // Running one cell again keeps the kernel's state.
    let id = nb.cells[1].id.clone();
    api(c
        .rpc
        .notebook_edit(
            client::ctx(),
            "basics".into(),
            vec![CellEdit::SetSource {
                id: id.clone(),
                source: "x * 2".into(),
            }],
        )
        .await);
    api(c
        .rpc
        .notebook_run(client::ctx(), "basics".into(), RunCells::One(id))
        .await);
    let nb = wait_for(&c, "basics", Duration::from_secs(30), |nb| {
        settled(nb) && nb.cells[1].execution_count == Some(5)
    })
    .await;
    assert_eq!(text(&nb.cells[1].outputs), "data:80\n");
}

/// Notebook `name` with a first cell that prints `working` and sleeps for two minutes, and
/// `then` after it, run as a whole; returns once the first cell is running and has printed.
async fn running_sleeper(c: &Client, name: &str, then: &str) -> Notebook {
    notebook(
        c,
        name,
        &[
            "import time\nprint('working', flush=True)\ntime.sleep(120)",
            then,
        ],
    )
    .await;
    api(c
        .rpc
        .notebook_run(client::ctx(), name.into(), RunCells::All)
        .await);
    wait_for(c, name, Duration::from_secs(60), |nb| {
        nb.cells[0].state == Some(ExecState::Running) && !nb.cells[0].outputs.is_empty()
    })
    .await
}

#[tokio::test]
async fn interrupt_stops_a_sleeping_cell_and_cancels_the_queue() {
    let d = start("");
    let c = d.client().await;
    running_sleeper(&c, "sleepy", "print('after')").await;
    let started = Instant::now();
    let k = c
        .rpc
        .notebook_interrupt(client::ctx(), "sleepy".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(k.queued, 0);
    let nb = wait_for(&c, "sleepy", Duration::from_secs(30), settled).await;
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(nb.cells[0].state, Some(ExecState::Error));
    assert!(
        text(&nb.cells[0].outputs).contains("KeyboardInterrupt"),
        "{nb:#?}"
    );
    assert_eq!(nb.cells[1].state, Some(ExecState::Cancelled));
    assert_eq!(nb.kernel.state, KernelState::Idle, "the kernel survives");
}

/// Restarts the notebook's dead kernel and runs its second cell on the new one.
async fn restart_and_run_second_cell(c: &Client, name: &str) -> Notebook {
    let k = c
        .rpc
        .notebook_restart(client::ctx(), name.into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(k.state, KernelState::Starting);
    let nb = api(c.rpc.notebook_get(client::ctx(), name.into()).await);
    let second = nb.cells[1].id.clone();
    api(c
        .rpc
        .notebook_run(client::ctx(), name.into(), RunCells::One(second))
        .await);
    wait_for(c, name, Duration::from_secs(60), |nb| {
        nb.cells[1].state == Some(ExecState::Done)
    })
    .await
}

#[tokio::test]
async fn a_crashed_kernel_is_reported_and_restarts() {
    let d = start("");
    let c = d.client().await;
    notebook(&c, "crash", &["import os\nos._exit(1)", "1 + 1"]).await;
    api(c
        .rpc
        .notebook_run(client::ctx(), "crash".into(), RunCells::All)
        .await);
    let nb = wait_for(&c, "crash", Duration::from_secs(60), |nb| {
        matches!(nb.kernel.state, KernelState::Dead { .. })
    })
    .await;
    let KernelState::Dead { why } = &nb.kernel.state else {
        unreachable!()
    };
    assert!(why.contains("exit status: 1"), "{why}");
    // The kernel's own last output lines (the launcher's, here) come with the report.
    assert!(why.contains("its last output:\n[IPKernelApp]"), "{why}");
    assert_eq!(nb.cells[0].state, Some(ExecState::Error));
    assert!(text(&nb.cells[0].outputs).contains("DeadKernel"));
    assert_eq!(nb.cells[1].state, Some(ExecState::Cancelled));

    let nb = restart_and_run_second_cell(&c, "crash").await;
    assert_eq!(text(&nb.cells[1].outputs), "data:2\n");
    assert_eq!(
        nb.cells[1].execution_count,
        Some(1),
        "a fresh kernel counts from 1"
    );
}

/// A kernel killed from outside (the OOM killer, an operator's `kill -9`) while a cell runs:
/// the cell ends in an error that says so, the queue is cancelled, the kernel is reported dead
/// with the signal, and a restart runs cells again.
#[tokio::test]
async fn a_kernel_killed_mid_cell_is_reported_and_restarts() {
    let d = start("");
    let c = d.client().await;
    let nb = running_sleeper(&c, "killed", "print('next')").await;
    let pid = nb.kernel.pid.expect("a running kernel has a pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let nb = wait_for(&c, "killed", Duration::from_secs(30), |nb| {
        matches!(nb.kernel.state, KernelState::Dead { .. }) && settled(nb)
    })
    .await;
    let KernelState::Dead { why } = &nb.kernel.state else {
        unreachable!()
    };
    assert!(
        why.contains("SIGKILL") || why.contains("signal: 9"),
        "{why}"
    );
    assert_eq!(nb.cells[0].state, Some(ExecState::Error));
    let out = text(&nb.cells[0].outputs);
    assert!(
        out.starts_with("stdout:working\n"),
        "kept what it printed: {out}"
    );
    assert!(out.contains("DeadKernel"), "{out}");
    assert_eq!(nb.cells[1].state, Some(ExecState::Cancelled));

    let nb = restart_and_run_second_cell(&c, "killed").await;
    assert_eq!(text(&nb.cells[1].outputs), "stdout:next\n");
    assert_ne!(nb.kernel.pid, Some(pid), "a new kernel process");
}

#[tokio::test]
async fn outputs_made_while_the_client_was_away_are_there_when_it_comes_back() {
    let d = start("");
    {
        let c = d.client().await;
        notebook(
            &c,
            "away",
            &["import time\nfor i in range(4):\n    print(i, flush=True)\n    time.sleep(0.5)\n'done'"],
        )
        .await;
        api(c
            .rpc
            .notebook_run(client::ctx(), "away".into(), RunCells::All)
            .await);
        wait_for(&c, "away", Duration::from_secs(60), |nb| {
            nb.cells[0].state == Some(ExecState::Running)
        })
        .await;
        // The client (and its connection) goes away mid-cell.
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let c = d.client().await;
    let nb = wait_for(&c, "away", Duration::from_secs(30), settled).await;
    assert_eq!(nb.cells[0].state, Some(ExecState::Done));
    assert_eq!(
        text(&nb.cells[0].outputs),
        "stdout:0\n1\n2\n3\ndata:'done'\n"
    );
    let list = c.rpc.notebooks(client::ctx()).await.unwrap().unwrap();
    assert_eq!(
        list[0].kernel,
        KernelState::Idle,
        "the kernel is still there"
    );
}

#[tokio::test]
async fn kernels_start_under_the_run_limits_and_idle_ones_are_culled() {
    let d = start("[notebooks]\nidle_cull = \"1s\"\n[runs.limits]\nopen_files = 512\n");
    let c = d.client().await;
    let limit = "import resource; resource.getrlimit(resource.RLIMIT_NOFILE)";
    notebook(&c, "idle", &[limit]).await;
    api(c
        .rpc
        .notebook_run(client::ctx(), "idle".into(), RunCells::All)
        .await);
    let nb = wait_for(&c, "idle", Duration::from_secs(60), |nb| {
        nb.cells[0].state == Some(ExecState::Done)
    })
    .await;
    let pid = nb.kernel.pid.expect("a kernel pid");
    let nb = wait_for(&c, "idle", Duration::from_secs(20), |nb| {
        nb.kernel.state == KernelState::Stopped
    })
    .await;
    assert!(nb.kernel.message.unwrap().contains("idle"));
    // The process is gone (reaped: no zombie either).
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{pid}")).exists() {
        assert!(Instant::now() < deadline, "kernel {pid} still there");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        text(&nb.cells[0].outputs),
        "data:(512, 512)\n",
        "outputs stay"
    );
}

#[tokio::test]
async fn a_spark_cell_runs_on_local() {
    let d = start("");
    let c = d.client().await;
    let nb = api(c
        .rpc
        .notebook_create(
            client::ctx(),
            NotebookSpec {
                name: "sparky".into(),
                cluster: Some("local".into()),
            },
        )
        .await);
    let id = nb.cells[0].id.clone();
    api(c
        .rpc
        .notebook_edit(
            client::ctx(),
            "sparky".into(),
            vec![CellEdit::SetSource {
                id: id.clone(),
                source: "df = spark.range(5).selectExpr('id * 2 AS x')\ndf.show()\ndf.count()"
                    .into(),
            }],
        )
        .await);
    api(c
        .rpc
        .notebook_run(client::ctx(), "sparky".into(), RunCells::All)
        .await);
    let nb = wait_for(&c, "sparky", Duration::from_secs(240), settled).await;
    assert_eq!(nb.kernel.message, None, "{nb:#?}");
    assert_eq!(nb.cells[0].state, Some(ExecState::Done), "{nb:#?}");
    let out = text(&nb.cells[0].outputs);
    assert!(out.contains("|  x|"), "df.show() is a text table: {out}");
    assert!(out.contains("|  8|"), "{out}");
    assert!(out.ends_with("data:5\n"), "{out}");
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/notebooks")
            .join(name),
    )
    .unwrap()
}

#[tokio::test]
async fn import_export_round_trips_keep_everything() {
    let d = Daemon::start();
    let c = d.client().await;
    for file in ["plots.ipynb", "widgets.ipynb", "analysis.ipynb"] {
        let text = fixture(file);
        let name = file.trim_end_matches(".ipynb");
        api(c
            .rpc
            .notebook_import(client::ctx(), name.into(), text.clone(), None)
            .await);
        let out = c
            .rpc
            .notebook_export(client::ctx(), name.into())
            .await
            .unwrap()
            .unwrap();
        // Written by Python's json as nbformat does: byte for byte the same.
        assert_eq!(out, text, "{file}");
        // And the file on disk is that too.
        let disk = std::fs::read_to_string(d.data_dir.join(format!("notebooks/{file}"))).unwrap();
        assert_eq!(disk, text);
    }
    let nb = api(c.rpc.notebook_get(client::ctx(), "plots".into()).await);
    let Output::Data { mimes, text, .. } = &nb.cells[1].outputs[1] else {
        panic!()
    };
    assert_eq!(mimes, &["image/png", "text/plain"]);
    assert_eq!(text, "<Figure size 640x480 with 1 Axes>");

    // An nbformat 4.4 file gains cell ids (4.5) and keeps the rest.
    api(c
        .rpc
        .notebook_import(client::ctx(), "old".into(), fixture("old-4.4.ipynb"), None)
        .await);
    let out = c
        .rpc
        .notebook_export(client::ctx(), "old".into())
        .await
        .unwrap()
        .unwrap();
    let mut before: serde_json::Value = serde_json::from_str(&fixture("old-4.4.ipynb")).unwrap();
    let mut after: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(after["nbformat_minor"], 5);
    for cell in after["cells"].as_array_mut().unwrap() {
        let id = cell.as_object_mut().unwrap().remove("id").unwrap();
        assert_eq!(id.as_str().unwrap().len(), 8);
    }
    before["nbformat_minor"] = 5.into();
    assert_eq!(before, after);
}

#[tokio::test]
async fn broken_notebooks_are_refused_saying_where() {
    let d = Daemon::start();
    let c = d.client().await;
    let cases = [
        ("{\"cells\": [\n  {\"cell_type\": \"code\",", "line 2"),
        (
            r#"{"nbformat": 3, "nbformat_minor": 0, "worksheets": []}"#,
            "nbformat",
        ),
        (
            r#"{"nbformat": 4, "nbformat_minor": 5, "metadata": {}}"#,
            "cells",
        ),
        (
            r#"{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", "id": "a", "metadata": {}, "source": "", "outputs": [{"output_type": "display_data"}]}]}"#,
            "cells[0].outputs[0].data",
        ),
        (
            r#"{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "markdown", "id": "a", "metadata": {}, "source": ["x", 2]}]}"#,
            "cells[0].source[1]",
        ),
        ("", "line 1"),
    ];
    for (text, at) in cases {
        let err = c
            .rpc
            .notebook_import(client::ctx(), "broken".into(), text.into(), None)
            .await
            .unwrap()
            .unwrap_err();
        let Error::Invalid { field, why } = &err else {
            panic!("{err:?}")
        };
        assert!(field.contains(at), "{text}: {field}: {why}");
    }
    assert!(
        c.rpc
            .notebooks(client::ctx())
            .await
            .unwrap()
            .unwrap()
            .is_empty()
    );
    // Bad names and unknown clusters are refused too.
    let err = c
        .rpc
        .notebook_create(
            client::ctx(),
            NotebookSpec {
                name: "../x".into(),
                cluster: None,
            },
        )
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    let err = c
        .rpc
        .notebook_create(
            client::ctx(),
            NotebookSpec {
                name: "x".into(),
                cluster: Some("nope".into()),
            },
        )
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn edits_renames_and_changes_made_on_disk() {
    let d = Daemon::start();
    let c = d.client().await;
    let nb = notebook(&c, "ed", &["a", "b", "c"]).await;
    let ids: Vec<String> = nb.cells.iter().map(|c| c.id.clone()).collect();
    let nb = api(c
        .rpc
        .notebook_edit(
            client::ctx(),
            "ed".into(),
            vec![
                CellEdit::Move {
                    id: ids[2].clone(),
                    index: 0,
                },
                CellEdit::SetKind {
                    id: ids[1].clone(),
                    kind: CellKind::Markdown,
                },
            ],
        )
        .await);
    let order: Vec<&str> = nb.cells.iter().map(|c| c.source.as_str()).collect();
    assert_eq!(order, ["c", "a", "b"]);
    assert_eq!(nb.cells[2].kind, CellKind::Markdown);
    // All or none: a bad edit in a batch changes nothing.
    let err = c
        .rpc
        .notebook_edit(
            client::ctx(),
            "ed".into(),
            vec![
                CellEdit::Delete { id: ids[0].clone() },
                CellEdit::Delete { id: "nope".into() },
            ],
        )
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid { field, .. } if field == "edits[1].id"),
        "{err:?}"
    );
    assert_eq!(
        api(c.rpc.notebook_get(client::ctx(), "ed".into()).await)
            .cells
            .len(),
        3
    );

    // Another program edits the file: Harbour loads it instead of overwriting it.
    let file = d.data_dir.join("notebooks/ed.ipynb");
    let edited = std::fs::read_to_string(&file)
        .unwrap()
        .replace("\"c\"", "\"changed on disk\"");
    std::fs::write(&file, edited).unwrap();
    let nb = api(c.rpc.notebook_get(client::ctx(), "ed".into()).await);
    assert_eq!(nb.cells[0].source, "changed on disk");
    let nb = api(c
        .rpc
        .notebook_edit(
            client::ctx(),
            "ed".into(),
            vec![CellEdit::SetSource {
                id: ids[0].clone(),
                source: "mine".into(),
            }],
        )
        .await);
    assert_eq!(
        nb.cells[0].source, "changed on disk",
        "the disk edit is kept"
    );
    // A file broken on disk is a conflict that says what to do, not a silent overwrite.
    std::fs::write(&file, "{ not json").unwrap();
    let err = c
        .rpc
        .notebook_get(client::ctx(), "ed".into())
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&err, Error::Conflict(m) if m.contains("no longer parses")),
        "{err:?}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{ not json");

    // Rename and delete.
    let nb = notebook(&c, "other", &["1"]).await;
    assert_eq!(nb.cells.len(), 1);
    let s = c
        .rpc
        .notebook_rename(client::ctx(), "other".into(), "renamed".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.name, "renamed");
    assert!(d.data_dir.join("notebooks/renamed.ipynb").is_file());
    assert!(!d.data_dir.join("notebooks/other.ipynb").exists());
    c.rpc
        .notebook_delete(client::ctx(), "ed".into())
        .await
        .unwrap()
        .unwrap();
    let names: Vec<String> = c
        .rpc
        .notebooks(client::ctx())
        .await
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(names, ["renamed"]);
    let err = c
        .rpc
        .notebook_get(client::ctx(), "ed".into())
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }));
}

#[tokio::test]
async fn notebooks_survive_a_daemon_restart() {
    let mut d = Daemon::start();
    let c = d.client().await;
    notebook(&c, "kept", &["print(1)"]).await;
    drop(c);
    d.kill9();
    d.spawn();
    let c = d.client().await;
    let nb = api(c.rpc.notebook_get(client::ctx(), "kept".into()).await);
    assert_eq!(nb.cells[0].source, "print(1)");
}

#[test]
fn harbour_nb_run_exits_non_zero_on_the_first_error() {
    let d = start("");
    let harbour = |args: &[&str]| {
        let out = std::process::Command::new(bin("harbour"))
            .arg("--socket")
            .arg(&d.socket)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(harbour(&["nb", "create", "cli"]).0, 0);
    let nb = harbour(&["nb", "show", "cli", "--json"]).1;
    let nb: serde_json::Value = serde_json::from_str(&nb).unwrap();
    let first = nb["cells"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        harbour(&["nb", "cell", "set", "cli", &first, "print('hi')"]).0,
        0
    );
    let (code, out, err) = harbour(&["nb", "run", "cli"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("hi"), "{out}");
    let (code, id, _) = harbour(&["nb", "cell", "add", "cli", "--source", "1/0"]);
    assert_eq!(code, 0);
    harbour(&[
        "nb",
        "cell",
        "add",
        "cli",
        "--source",
        "print('not reached')",
    ]);
    let (code, out, err) = harbour(&["nb", "run", "cli"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("ZeroDivisionError"), "{out}");
    assert!(err.contains(id.trim()), "{err}");
    assert!(!out.contains("--- out\nnot reached"), "{out}");
    let (code, ipynb, _) = harbour(&["nb", "export", "cli"]);
    assert_eq!(code, 0);
    assert!(ipynb.contains("\"ename\": \"ZeroDivisionError\""));
    let (code, _, err) = harbour(&["nb", "show", "missing"]);
    assert_eq!(code, 3, "{err}");
}

#[tokio::test]
async fn display_updates_change_earlier_outputs_by_display_id() {
    let d = start("");
    let c = d.client().await;
    notebook(
        &c,
        "displays",
        &[
            "from IPython.display import display, update_display\nh = display('step 1 of 3', display_id=True)\ndisplay('fixed')",
            "display('log A', display_id='log');",
            // Updates a display made by an earlier cell, and one made by this cell.
            "h.update('step 3 of 3')\ndisplay('log B', display_id='log')\nupdate_display('log C', display_id='log')\nprint('updated')",
        ],
    )
    .await;
    api(c
        .rpc
        .notebook_run(client::ctx(), "displays".into(), RunCells::All)
        .await);
    let nb = wait_for(&c, "displays", Duration::from_secs(60), settled).await;
    assert!(
        nb.cells.iter().all(|c| c.state == Some(ExecState::Done)),
        "{nb:#?}"
    );
    assert_eq!(
        text(&nb.cells[0].outputs),
        "data:'step 3 of 3'\ndata:'fixed'\n"
    );
    // Every display with the id changes, in whichever cell it is.
    assert_eq!(text(&nb.cells[1].outputs), "data:'log C'\n");
    assert_eq!(text(&nb.cells[2].outputs), "data:'log C'\nstdout:updated\n");
    // Saved as Jupyter saves it: the updated data, and no display ids.
    let saved = file_when(&d, "displays", |f| {
        f["cells"][2]["outputs"][1]["text"] == "updated\n"
    })
    .await;
    assert_eq!(
        saved["cells"][0]["outputs"][0]["data"]["text/plain"],
        "'step 3 of 3'"
    );
    assert!(!saved.to_string().contains("transient"), "{saved}");
}

/// The real harbour-tui in tmux: make a notebook, type a cell, run it with the fallback key
/// (tmux does not pass ctrl-enter), see its output; find in the cell; rename the notebook.
#[tokio::test]
async fn the_tui_edits_and_runs_a_cell_in_tmux() {
    if !harbour_tests::tmux::available() {
        return;
    }
    let d = start("");
    let cmd = d.tui_command();
    let long = Duration::from_secs(60);
    let tmux = harbour_tests::tmux::Tmux::start(&cmd, 100, 30);
    tmux.wait_for(&["● harbourd"], long);
    tmux.keys(&["8"]);
    tmux.wait_for(&["Notebooks (0)", "no notebooks yet"], long);

    // s: the palette with `nb-create ` typed; a name and enter make it.
    tmux.keys(&["s"]);
    tmux.wait_for(&[":nb-create"], long);
    tmux.type_text("e2e");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Notebooks (1)", "e2e"], long);

    // Open it, edit its one cell, run it with ctrl-r.
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Notebook e2e", "cell 1/1", "COMMAND"], long);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["EDIT"], long);
    tmux.type_text("x = 40");
    tmux.keys(&["Enter"]);
    tmux.type_text("print('sum is', x + 2)");
    tmux.keys(&["C-r"]);
    let s = tmux.wait_for(&["sum is 42", "[1]:", "COMMAND"], long);
    assert!(s.contains("kernel idle"), "{s}");

    // The daemon has the cell's source and output (saved, not only drawn).
    let c = d.client().await;
    let nb = wait_for(&c, "e2e", long, settled).await;
    assert_eq!(nb.cells[0].source, "x = 40\nprint('sum is', x + 2)");
    assert_eq!(text(&nb.cells[0].outputs), "stdout:sum is 42\n");

    // Find in the cell: ctrl-s, a query, the count; esc closes.
    tmux.keys(&["Enter"]);
    tmux.keys(&["C-s"]);
    tmux.type_text("x");
    tmux.wait_for(&["find: x", "2 matches"], long);
    tmux.keys(&["Escape"]);
    tmux.keys(&["Escape"]);
    let s = tmux.wait_for(&["COMMAND"], long);
    assert!(!s.contains("find:"), "{s}");

    // ? lists the editor's keys, fallbacks included.
    tmux.keys(&["?"]);
    tmux.wait_for(&["In a notebook", "ctrl-r", "ctrl-n"], long);
    tmux.keys(&["Escape"]);

    // Back to the list; r renames (the palette, with the old name typed).
    tmux.keys(&["Escape"]);
    tmux.wait_for(&["Notebooks (1)"], long);
    tmux.keys(&["r"]);
    tmux.wait_for(&[":nb-rename e2e"], long);
    tmux.type_text("e2e-renamed");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["renamed notebook e2e to e2e-renamed"], long);
    let list = c.rpc.notebooks(client::ctx()).await.unwrap().unwrap();
    assert_eq!(
        list.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
        ["e2e-renamed"]
    );
    assert!(d.data_dir.join("notebooks/e2e-renamed.ipynb").is_file());

    tmux.keys(&["q"]);
    tmux.wait_for(&["HARBOUR-TUI-EXIT=0"], long);
}
