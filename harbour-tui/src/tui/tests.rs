//! Tests of the whole app without a terminal or a daemon: `update` driven by keys and
//! messages (checking the commands it asks for), and insta snapshots of every screen drawn on
//! ratatui's `TestBackend` in its loaded, empty, error and 80x24 states.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use harbour_shared::{
    Dashboard, DayTrend, EnvVar, Event, EventBatch, EventKind, EventsLost, Job, JobId, JobKind,
    JobSource, JobSpec, LastRun, Lifecycle, LogChunk, LogStream, RunCounts, RunDetail, RunId,
    RunResult, Transition,
};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::action::Screen;
use super::app::{App, Command, Conn, Msg, Overlay};
use super::config::Config;
use super::logs::ChunkKind;
use super::runs::tests::run;
use super::theme::ColorMode;
use super::ui;
use super::widgets::Load;

pub(super) const NOW: i64 = 1_000_000 + 60_000;

pub(super) fn app() -> App {
    let mut a = App::new(
        &Config::defaults(ColorMode::Truecolor),
        PathBuf::from("/work"),
        NOW,
    );
    a.update(Msg::Resize(80, 24));
    a.update(Msg::Connected {
        version: "0.1.0".into(),
        socket: "/run/harbour.sock".into(),
    });
    a
}

pub(super) fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

pub(super) fn code(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

pub(super) fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

pub(super) fn typed(a: &mut App, text: &str) -> Vec<Command> {
    text.chars().flat_map(|c| a.update(key(c))).collect()
}

fn runs() -> Vec<harbour_shared::Run> {
    let mut v = vec![
        run(5, "nightly-etl", Lifecycle::Running, None),
        run(
            4,
            "report",
            Lifecycle::Terminated,
            Some(RunResult::Failed { exit_code: Some(2) }),
        ),
        run(
            3,
            "nightly-etl",
            Lifecycle::Terminated,
            Some(RunResult::Succeeded),
        ),
        run(2, "backfill", Lifecycle::Queued, None),
        run(
            1,
            "report",
            Lifecycle::Terminated,
            Some(RunResult::Cancelled),
        ),
    ];
    v[1].state_message = "exited with code 2".into();
    v[3].started_ms = None;
    v
}

fn job(id: i64, name: &str, schedule: Option<&str>, paused: bool) -> Job {
    let mut spec = JobSpec::new(JobKind::Python, JobSource::File("/srv/etl.py".into()));
    spec.name = name.into();
    spec.schedule = schedule.map(str::to_owned);
    Job {
        id: JobId(id),
        spec,
        one_off: false,
        paused,
        created_ms: 1_000_000,
        updated_ms: 1_000_000,
        next_fire_ms: schedule.filter(|_| !paused).map(|_| NOW + 3_600_000),
        last_run: Some(LastRun {
            id: RunId(id * 10),
            lifecycle: Lifecycle::Terminated,
            result: Some(RunResult::Succeeded),
            queued_ms: NOW - 120_000,
        }),
        active_runs: 0,
    }
}

fn dashboard() -> Dashboard {
    let days = [
        "2026-11-15",
        "2026-11-16",
        "2026-11-17",
        "2026-11-18",
        "2026-11-19",
        "2026-11-20",
        "2026-11-21",
    ];
    Dashboard {
        jobs: 4,
        scheduled_jobs: 2,
        runs: RunCounts {
            running: 1,
            queued: 2,
            succeeded: 40,
            failed: 3,
            cancelled: 1,
            ..RunCounts::default()
        },
        notebooks: 0,
        clusters: 0,
        trend: days
            .iter()
            .enumerate()
            .map(|(i, d)| DayTrend {
                date: (*d).into(),
                succeeded: 3 + i as u64,
                failed: (i % 3) as u64,
                cancelled: u64::from(i == 4),
            })
            .collect(),
        recent_failures: vec![runs()[1].clone()],
        host: Some(harbour_shared::HostGauges {
            cpu_percent: 37.0,
            memory_used_bytes: 6 << 30,
            memory_total_bytes: 16 << 30,
            load1: 0.82,
            fullest_disk: Some(("/".into(), 91.0)),
        }),
        health: harbour_shared::HealthSummary {
            up: 4,
            down: 1,
            pending: 0,
            down_checks: vec!["web".into()],
        },
    }
}

fn detail() -> RunDetail {
    let mut spec = JobSpec::new(JobKind::Shell, JobSource::Code("echo start\nexit 2".into()));
    spec.env = vec![EnvVar::new("STAGE", "prod")];
    spec.name = "report".into();
    RunDetail {
        run: runs()[1].clone(),
        spec,
        transitions: vec![
            Transition {
                at_ms: 1_000_000,
                lifecycle: Lifecycle::Queued,
                result: None,
                message: "submitted".into(),
            },
            Transition {
                at_ms: 1_004_000,
                lifecycle: Lifecycle::Running,
                result: None,
                message: String::new(),
            },
            Transition {
                at_ms: 1_009_000,
                lifecycle: Lifecycle::Terminated,
                result: Some(RunResult::Failed { exit_code: Some(2) }),
                message: "exited with code 2".into(),
            },
        ],
        argv: vec!["/bin/sh".into(), "-c".into(), "echo start\nexit 2".into()],
        stdout_path: "/data/runs/4/stdout".into(),
        stderr_path: "/data/runs/4/stderr".into(),
        logs_pruned: false,
        usage: harbour_shared::RunUsage::default(),
    }
}

fn loaded() -> App {
    let mut a = app();
    a.update(Msg::Runs(Ok(runs())));
    a.update(Msg::Jobs(Ok(vec![
        job(1, "nightly-etl", Some("0 2 * * *"), false),
        job(2, "report", None, true),
    ])));
    a.update(Msg::Dashboard(Ok(Box::new(dashboard()))));
    a
}

fn log_chunk(a: &mut App, stream: LogStream, offset: u64, text: &str) {
    let epoch = a.logs.as_ref().unwrap().epoch;
    let size = offset + text.len() as u64;
    a.update(Msg::LogChunk {
        epoch,
        stream,
        kind: ChunkKind::Append,
        chunk: LogChunk {
            offset,
            data: text.as_bytes().to_vec(),
            size,
            complete: false,
            marks: Vec::new(),
        },
        at_ms: NOW,
    });
}

pub(super) fn draw(a: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::render(a, f)).unwrap();
    t.backend().to_string()
}

macro_rules! snap {
    ($name:expr, $text:expr) => {
        insta::with_settings!({
            filters => vec![
                (r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \S+", "[timestamp]"),
                (r"\b\d\d-\d\d \d\d:\d\d\b", "MM-DD hh:mm"),
                (r"\b\d\d:\d\d:\d\d\b", "hh:mm:ss"),
            ],
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!($name, $text);
        });
    };
}

// ---- update: navigation, filtering, confirmation flows --------------------------------

#[test]
fn navigation_by_number_brackets_palette_and_esc() {
    let mut a = loaded();
    assert_eq!(a.screen, Screen::Runs);
    a.update(key('3'));
    assert_eq!(a.screen, Screen::Jobs);
    a.update(key(']'));
    assert_eq!(a.screen, Screen::Logs);
    a.update(key(']'));
    assert_eq!(a.screen, Screen::Sql);
    a.update(key(']'));
    assert_eq!(a.screen, Screen::Clusters);
    a.update(key(']'));
    assert_eq!(a.screen, Screen::Monitor);
    a.update(key(']'));
    assert_eq!(a.screen, Screen::Notebooks);
    a.update(key(']'));
    assert_eq!(a.screen, Screen::Spark);
    a.update(key(']'));
    assert_eq!(a.screen, Screen::Ingest);
    a.update(key(']'));
    assert_eq!(a.screen, Screen::Dashboard);
    a.update(key('['));
    assert_eq!(a.screen, Screen::Ingest);
    a.update(key('['));
    assert_eq!(a.screen, Screen::Spark);
    a.update(key('['));
    assert_eq!(a.screen, Screen::Notebooks);
    a.update(key('['));
    assert_eq!(a.screen, Screen::Monitor);
    a.update(key('['));
    assert_eq!(a.screen, Screen::Clusters);
    a.update(key(':'));
    typed(&mut a, "jobs");
    a.update(code(KeyCode::Enter));
    assert_eq!(a.screen, Screen::Jobs);
    a.update(code(KeyCode::Esc));
    assert_eq!(a.screen, Screen::Clusters, "esc goes back");
    a.update(code(KeyCode::Esc));
    assert_eq!(a.screen, Screen::Monitor);
    a.update(code(KeyCode::Esc));
    assert_eq!(a.screen, Screen::Notebooks);
    a.update(code(KeyCode::Esc));
    assert_eq!(a.screen, Screen::Spark);
    a.update(code(KeyCode::Esc));
    assert_eq!(a.screen, Screen::Ingest);
    a.update(code(KeyCode::Esc));
    assert_eq!(a.screen, Screen::Dashboard);
    // Palette with completion and an alias.
    a.update(key(':'));
    typed(&mut a, "ru");
    a.update(code(KeyCode::Tab));
    assert_eq!(a.prompt.as_ref().unwrap().1.text, "runs ");
    a.update(code(KeyCode::Enter));
    assert_eq!(a.screen, Screen::Runs);
    let cmds = a.update(key('q'));
    assert!(a.quit && cmds == [Command::Quit]);
}

#[test]
fn selection_moves_with_hjkl_and_arrows() {
    let mut a = loaded();
    assert_eq!(a.runs.selected_run().unwrap().id, RunId(5));
    a.update(key('j'));
    a.update(code(KeyCode::Down));
    assert_eq!(a.runs.selected_run().unwrap().id, RunId(3));
    a.update(key('k'));
    assert_eq!(a.runs.selected_run().unwrap().id, RunId(4));
    a.update(key('G'));
    assert_eq!(a.runs.selected_run().unwrap().id, RunId(1));
    a.update(key('g'));
    assert_eq!(a.runs.selected_run().unwrap().id, RunId(5));
    let cmds = a.update(code(KeyCode::Enter));
    assert_eq!(a.screen, Screen::Details);
    assert_eq!(cmds, [Command::FetchRun(RunId(5))]);
}

#[test]
fn filter_is_live_inverts_and_survives_screen_changes() {
    let mut a = loaded();
    a.update(key('/'));
    typed(&mut a, "etl");
    assert_eq!(a.runs.view.len(), 2, "filters as you type");
    a.update(code(KeyCode::Enter));
    assert!(a.prompt.is_none());
    a.update(key('1'));
    a.update(key('2'));
    assert_eq!(a.runs.filter.text, "etl", "the filter is kept");
    assert_eq!(a.runs.view.len(), 2);
    a.update(key('/'));
    a.update(code(KeyCode::Home));
    typed(&mut a, "!");
    assert_eq!(a.runs.filter.text, "!etl");
    assert_eq!(a.runs.view.len(), 3);
    a.update(code(KeyCode::Enter));
    // A new run that matches the filter shows up; one that does not stays hidden.
    a.update(Msg::Events(EventBatch {
        events: vec![
            Event {
                seq: 1,
                at_ms: NOW,
                kind: EventKind::RunChanged(run(6, "nightly-etl", Lifecycle::Queued, None)),
            },
            Event {
                seq: 2,
                at_ms: NOW,
                kind: EventKind::RunChanged(run(7, "adhoc", Lifecycle::Queued, None)),
            },
        ],
        last_seq: 2,
        lost: None,
    }));
    assert_eq!(a.runs.view.len(), 4);
    // Esc clears the filter before it goes back.
    a.update(code(KeyCode::Esc));
    assert!(a.runs.filter.is_empty());
    assert_eq!(a.screen, Screen::Runs);
    assert_eq!(a.runs.view.len(), 7);
}

#[test]
fn kill_asks_first() {
    let mut a = loaded();
    assert!(a.update(ctrl('k')).is_empty());
    assert!(
        matches!(&a.overlay, Some(Overlay::Confirm { prompt, .. }) if prompt.contains("run 5"))
    );
    assert!(a.update(key('n')).is_empty(), "no kills without a yes");
    assert!(a.overlay.is_none());
    a.update(ctrl('k'));
    assert_eq!(a.update(key('y')), [Command::Kill(RunId(5))]);
    assert!(a.overlay.is_none());
    a.update(Msg::Done(Ok("run 5: terminating".into())));
    assert_eq!(a.status.as_ref().unwrap().text, "run 5: terminating");
}

#[test]
fn jobs_run_pause_and_delete_with_confirmation() {
    let mut a = loaded();
    a.update(key('3'));
    assert_eq!(a.jobs.selected_job().unwrap().name(), "nightly-etl");
    assert_eq!(
        a.update(key('r')),
        [Command::RunJob(JobId(1), "nightly-etl".into())]
    );
    assert_eq!(a.update(key('p')), [Command::SetPaused(JobId(1), true)]);
    a.update(key('j'));
    assert_eq!(
        a.update(key('p')),
        [Command::SetPaused(JobId(2), false)],
        "paused jobs resume"
    );
    assert!(a.update(ctrl('d')).is_empty());
    assert_eq!(
        a.update(code(KeyCode::Enter)),
        [Command::DeleteJob(JobId(2), "report".into())]
    );
    a.update(Msg::Events(EventBatch {
        events: vec![Event {
            seq: 3,
            at_ms: NOW,
            kind: EventKind::JobDeleted(JobId(2)),
        }],
        last_seq: 3,
        lost: None,
    }));
    assert_eq!(a.jobs.view.len(), 1);
    // Enter on a job shows its runs.
    a.update(key('g'));
    a.update(code(KeyCode::Enter));
    assert_eq!(a.screen, Screen::Runs);
    assert_eq!(a.runs.filter.text, "nightly-etl");
}

#[test]
fn submit_form_makes_a_spec() {
    let mut a = loaded();
    a.update(key('s'));
    assert!(matches!(a.overlay, Some(Overlay::Submit(_))));
    assert!(
        a.update(code(KeyCode::Enter)).is_empty(),
        "empty code is refused"
    );
    typed(&mut a, "etl.py");
    a.update(code(KeyCode::Up)); // source
    a.update(code(KeyCode::Right)); // file
    a.update(code(KeyCode::Up)); // kind
    a.update(code(KeyCode::Right)); // python
    let cmds = a.update(code(KeyCode::Enter));
    let mut want = JobSpec::new(JobKind::Python, JobSource::File("/work/etl.py".into()));
    want.name = String::new();
    assert_eq!(cmds, [Command::Submit(Box::new(want))]);
    let mut made = run(9, "etl.py", Lifecycle::Queued, None);
    made.started_ms = None;
    a.update(Msg::RunMade(Ok(Box::new(made))));
    assert_eq!(
        a.runs.selected_run().unwrap().id,
        RunId(9),
        "the new run is selected"
    );
}

#[test]
fn logs_open_follow_and_search() {
    let mut a = loaded();
    a.update(Msg::Resize(80, 12));
    let cmds = a.update(key('l'));
    assert_eq!(a.screen, Screen::Logs);
    let epoch = a.logs.as_ref().unwrap().epoch;
    assert!(cmds.contains(&Command::FollowLog {
        epoch,
        run: RunId(5),
        stream: LogStream::Stdout,
        offset: 0
    }));
    assert!(cmds.contains(&Command::FollowLog {
        epoch,
        run: RunId(5),
        stream: LogStream::Stderr,
        offset: 0
    }));
    let text: String = (1..=50).map(|i| format!("line {i}\n")).collect();
    log_chunk(&mut a, LogStream::Stdout, 0, &text);
    let v = a.logs.as_ref().unwrap();
    assert!(v.follow);
    assert_eq!(v.shown(v.cursor).unwrap().text, "line 50");
    // A chunk for an older view of the log is ignored.
    a.update(Msg::LogChunk {
        epoch: epoch - 1,
        stream: LogStream::Stdout,
        kind: ChunkKind::Append,
        chunk: LogChunk {
            offset: 0,
            data: b"stale\n".to_vec(),
            size: 6,
            complete: false,
            marks: Vec::new(),
        },
        at_ms: NOW,
    });
    assert_eq!(a.logs.as_ref().unwrap().shown_len(), 50);
    a.update(key('/'));
    typed(&mut a, "line 2");
    let cmds = a.update(code(KeyCode::Enter));
    assert_eq!(cmds, [Command::StopFollow], "a search stops following");
    let v = a.logs.as_ref().unwrap();
    assert_eq!(
        v.shown(v.cursor).unwrap().text,
        "line 29",
        "the nearest match above"
    );
    a.update(key('n'));
    let v = a.logs.as_ref().unwrap();
    assert_eq!(
        v.shown(v.cursor).unwrap().text,
        "line 2",
        "n wraps to the first match"
    );
    a.update(key('N'));
    let v = a.logs.as_ref().unwrap();
    assert_eq!(v.shown(v.cursor).unwrap().text, "line 29");
    // G follows again from where the window ends.
    let cmds = a.update(key('G'));
    assert!(cmds.contains(&Command::FollowLog {
        epoch,
        run: RunId(5),
        stream: LogStream::Stdout,
        offset: text.len() as u64
    }));
    assert!(a.logs.as_ref().unwrap().follow);
    // Save writes both streams of the merged view.
    let cmds = a.update(ctrl('s'));
    assert_eq!(
        cmds,
        [Command::SaveLog {
            run: RunId(5),
            streams: vec![LogStream::Stdout, LogStream::Stderr],
            dir: PathBuf::from("/work")
        }]
    );
}

#[test]
fn disconnect_keeps_the_screen_and_reconnect_refetches() {
    let mut a = loaded();
    a.update(key('3'));
    a.update(Msg::Disconnected("connection reset".into()));
    assert!(matches!(a.conn, Conn::Reconnecting { .. }));
    assert_eq!(a.screen, Screen::Jobs);
    let cmds = a.update(Msg::Connected {
        version: "0.1.0".into(),
        socket: "/s".into(),
    });
    assert_eq!(a.screen, Screen::Jobs);
    assert!(cmds.contains(&Command::FetchRuns) && cmds.contains(&Command::FetchJobs));
    // Lost events refetch too.
    a.update(Msg::Dashboard(Ok(Box::new(dashboard()))));
    let cmds = a.update(Msg::Events(EventBatch {
        events: vec![],
        last_seq: 9,
        lost: Some(EventsLost { from: 1, to: 8 }),
    }));
    assert!(cmds.contains(&Command::FetchRuns));
}

#[test]
fn run_state_changes_reach_the_row() {
    let mut a = loaded();
    let mut done = run(
        5,
        "nightly-etl",
        Lifecycle::Terminated,
        Some(RunResult::Succeeded),
    );
    done.exit_code = Some(0);
    a.update(Msg::Events(EventBatch {
        events: vec![Event {
            seq: 4,
            at_ms: NOW,
            kind: EventKind::RunChanged(done),
        }],
        last_seq: 4,
        lost: None,
    }));
    assert_eq!(a.runs.get(RunId(5)).unwrap().state_label(), "succeeded");
    assert!(draw(&a, 80, 24).contains("succeeded"));
}

// ---- snapshots -------------------------------------------------------------------------

#[test]
fn snapshot_runs() {
    let mut a = loaded();
    snap!("runs_loaded_120x30", draw(&a, 120, 30));
    snap!("runs_narrow_80x24", draw(&a, 80, 24));
    a.update(key('/'));
    typed(&mut a, "etl");
    snap!("runs_filtering_80x24", draw(&a, 80, 24));
    typed(&mut a, "zzz");
    a.update(code(KeyCode::Enter));
    snap!("runs_filter_matches_nothing", draw(&a, 80, 24));
    let mut e = app();
    e.update(Msg::Runs(Ok(vec![])));
    snap!("runs_empty", draw(&e, 80, 24));
    let mut f = app();
    f.update(Msg::Runs(Err(
        "harbourd unavailable: the store is locked".into()
    )));
    snap!("runs_error", draw(&f, 80, 24));
    let loading = app();
    snap!("runs_loading", draw(&loading, 80, 24));
}

#[test]
fn snapshot_jobs() {
    let mut a = loaded();
    a.update(key('3'));
    snap!("jobs_loaded_120x30", draw(&a, 120, 30));
    snap!("jobs_narrow_80x24", draw(&a, 80, 24));
    let mut e = app();
    e.update(key('3'));
    e.update(Msg::Jobs(Ok(vec![])));
    snap!("jobs_empty", draw(&e, 80, 24));
    e.jobs.load = Load::Failed("the call to harbourd failed: deadline exceeded".into());
    snap!("jobs_error", draw(&e, 80, 24));
}

#[test]
fn snapshot_dashboard() {
    let mut a = loaded();
    a.update(key('1'));
    snap!("dashboard_loaded_120x30", draw(&a, 120, 30));
    snap!("dashboard_narrow_80x24", draw(&a, 80, 24));
    let mut e = app();
    e.update(key('1'));
    let mut empty = dashboard();
    empty.trend.iter_mut().for_each(|t| {
        t.succeeded = 0;
        t.failed = 0;
        t.cancelled = 0;
    });
    empty.recent_failures.clear();
    empty.runs = RunCounts::default();
    empty.host = None;
    empty.health = harbour_shared::HealthSummary::default();
    e.update(Msg::Dashboard(Ok(Box::new(empty))));
    snap!("dashboard_empty", draw(&e, 80, 24));
    let mut f = app();
    f.update(key('1'));
    f.update(Msg::Dashboard(Err(
        "internal error 7f3a in harbourd; its log has the details under that id".into(),
    )));
    snap!("dashboard_error", draw(&f, 80, 24));
}

#[test]
fn snapshot_details() {
    let mut a = loaded();
    a.update(key('j'));
    a.update(code(KeyCode::Enter));
    snap!("details_loading", draw(&a, 80, 24));
    a.update(Msg::RunDetail(RunId(4), Ok(Box::new(detail()))));
    snap!("details_loaded_120x40", draw(&a, 120, 40));
    snap!("details_narrow_80x24", draw(&a, 80, 24));
    a.update(Msg::RunDetail(
        RunId(4),
        Err("run 4 not found; harbour runs lists runs".into()),
    ));
    snap!("details_error", draw(&a, 80, 24));
    let mut e = app();
    e.update(key('['));
    e.update(key('['));
    e.screen = Screen::Details;
    snap!("details_empty", draw(&e, 80, 24));
}

#[test]
fn snapshot_logs() {
    let mut e = app();
    e.update(key('4'));
    snap!("logs_none_open", draw(&e, 80, 24));
    let mut a = loaded();
    a.update(key('l'));
    snap!("logs_waiting", draw(&a, 80, 24));
    let out: String = (1..=40)
        .map(|i| format!("{i:>3} INFO processed batch {i} of 40 rows=1000\n"))
        .collect();
    log_chunk(&mut a, LogStream::Stdout, 0, &out);
    log_chunk(
        &mut a,
        LogStream::Stderr,
        0,
        "WARN slow partition 7 (12.3s)\n",
    );
    snap!("logs_following_80x24", draw(&a, 80, 24));
    snap!("logs_following_120x30", draw(&a, 120, 30));
    a.update(key('/'));
    typed(&mut a, "batch 1");
    a.update(code(KeyCode::Enter));
    a.update(key('t'));
    snap!("logs_search_timestamps", draw(&a, 80, 24));
    a.update(key('e'));
    a.update(key('e'));
    snap!("logs_stderr_only", draw(&a, 80, 24));
    let epoch = a.logs.as_ref().unwrap().epoch;
    a.update(Msg::LogFailed {
        epoch,
        why: "logs of run 5 not found; they were removed by the retention policy".into(),
    });
    snap!("logs_error", draw(&a, 80, 24));
}

#[test]
fn snapshot_overlays_and_connection() {
    let mut a = loaded();
    a.update(key('?'));
    snap!("help_runs", draw(&a, 80, 24));
    a.update(code(KeyCode::Esc));
    a.update(ctrl('k'));
    snap!("confirm_kill", draw(&a, 80, 24));
    a.update(key('n'));
    a.update(key('s'));
    typed(&mut a, "echo hi");
    snap!("submit_form", draw(&a, 80, 24));
    a.update(code(KeyCode::Esc));
    a.update(key(':'));
    typed(&mut a, "re");
    snap!("palette", draw(&a, 80, 24));
    a.update(code(KeyCode::Esc));
    a.update(Msg::Disconnected("the connection was reset".into()));
    snap!("reconnecting", draw(&a, 80, 24));
    let mut big = loaded();
    big.update(Msg::DaemonStarted(
        "no harbourd was running: started one (pid 42, log /data/harbourd.log)".into(),
    ));
    snap!("daemon_started_250x70", draw(&big, 250, 70));
}

#[test]
fn no_color_keeps_the_selection_visible() {
    let mut a = App::new(&Config::defaults(ColorMode::None), PathBuf::from("/"), NOW);
    a.update(Msg::Runs(Ok(runs())));
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    t.draw(|f| ui::render(&a, f)).unwrap();
    let buf = t.backend().buffer();
    // Row 3 is the selected run; no cell anywhere has a colour.
    assert!(
        buf[(3, 3)]
            .modifier
            .contains(ratatui::style::Modifier::REVERSED)
    );
    for cell in buf.content() {
        assert!(matches!(cell.fg, ratatui::style::Color::Reset), "{cell:?}");
        assert!(matches!(cell.bg, ratatui::style::Color::Reset), "{cell:?}");
    }
}

#[test]
fn paused_view_pages_in_what_the_run_printed_since() {
    let mut a = loaded();
    a.update(Msg::Resize(80, 12));
    a.update(key('l'));
    let text: String = (1..=20).map(|i| format!("line {i}\n")).collect();
    log_chunk(&mut a, LogStream::Stdout, 0, &text);
    // Scrolling up stops following.
    assert_eq!(a.update(key('k')), [Command::StopFollow]);
    // The run prints more; the daemon says so.
    a.update(Msg::Events(EventBatch {
        events: vec![Event {
            seq: 5,
            at_ms: NOW,
            kind: EventKind::LogGrew {
                run: RunId(5),
                stdout_bytes: 500,
                stderr_bytes: 0,
            },
        }],
        last_seq: 5,
        lost: None,
    }));
    // Reaching the bottom asks for the next page from where the window ends.
    let epoch = a.logs.as_ref().unwrap().epoch;
    let cmds = a.update(key('j'));
    assert_eq!(
        cmds,
        [Command::ReadLog {
            epoch,
            run: RunId(5),
            stream: LogStream::Stdout,
            offset: text.len() as u64,
            max: super::logs::PAGE_BYTES,
            kind: ChunkKind::Append
        }]
    );
    // A failed page (the daemon went away) is retried from the tail on reconnect.
    a.update(Msg::LogFailed {
        epoch,
        why: "the connection was reset".into(),
    });
    a.update(Msg::Disconnected("reset".into()));
    let cmds = a.update(Msg::Connected {
        version: "0.1.0".into(),
        socket: "/s".into(),
    });
    assert!(
        cmds.iter().any(|c| matches!(
            c,
            Command::FollowLog {
                stream: LogStream::Stdout,
                ..
            }
        )),
        "{cmds:?}"
    );
    assert!(a.logs.as_ref().unwrap().error.is_none());
}

#[test]
fn help_lists_this_screens_keys_and_closes() {
    let mut a = loaded();
    a.update(key('3'));
    a.update(key('?'));
    let s = draw(&a, 80, 24);
    assert!(
        s.contains("Jobs keys") && s.contains("pause / resume"),
        "{s}"
    );
    a.update(key('q'));
    assert!(
        a.overlay.is_none() && !a.quit,
        "q closes the help, it does not quit"
    );
}

#[test]
fn new_runs_come_into_view_unless_a_run_is_selected_below_the_top() {
    let mut a = loaded();
    let ev = |id: i64| {
        Msg::Events(EventBatch {
            events: vec![Event {
                seq: id as u64,
                at_ms: NOW,
                kind: EventKind::RunChanged(run(id, "new", Lifecycle::Queued, None)),
            }],
            last_seq: id as u64,
            lost: None,
        })
    };
    a.update(ev(6));
    assert_eq!(
        a.runs.selected_run().unwrap().id,
        RunId(6),
        "at the top, the newest is selected"
    );
    a.update(key('j'));
    a.update(ev(7));
    assert_eq!(
        a.runs.selected_run().unwrap().id,
        RunId(5),
        "below the top, the selection stays on its run"
    );
}

#[test]
fn search_goes_on_beyond_the_lines_in_memory() {
    let mut a = loaded();
    a.update(Msg::Resize(80, 24));
    // Run 5 has written 100 KiB of stdout; the view opens on its last 1 KiB.
    let mut r = run(5, "nightly-etl", Lifecycle::Running, None);
    r.stdout_bytes = 100 * 1024;
    r.stderr_bytes = 10;
    a.runs.set_all(vec![r]);
    a.log_settings.tail_kib = 1;
    let cmds = a.update(key('l'));
    let epoch = a.logs.as_ref().unwrap().epoch;
    assert!(cmds.contains(&Command::FollowLog {
        epoch,
        run: RunId(5),
        stream: LogStream::Stdout,
        offset: 99 * 1024
    }));
    log_chunk(
        &mut a,
        LogStream::Stdout,
        99 * 1024,
        "tail a\ntail b\ntail c\n",
    );
    // Not in memory: the search asks the daemon's log, backward from the window's start.
    a.update(key('/'));
    typed(&mut a, "needle");
    let cmds = a.update(code(KeyCode::Enter));
    let start = a.logs.as_ref().unwrap().win[0].start;
    assert_eq!(
        cmds,
        [Command::SearchLog {
            epoch,
            run: RunId(5),
            from: vec![(LogStream::Stdout, start)],
            query: "needle".into(),
            forward: false
        }]
    );
    // Found at byte 5000 of stdout: the view loads the page around it, on stdout alone.
    let cmds = a.update(Msg::SearchResult {
        epoch,
        found: Ok(Some((LogStream::Stdout, 5000))),
    });
    let v = a.logs.as_ref().unwrap();
    let new_epoch = v.epoch;
    assert_ne!(new_epoch, epoch);
    assert!(!v.follow);
    assert_eq!(v.show, super::logs::StreamView::Stdout);
    assert!(cmds.contains(&Command::StopFollow));
    assert!(cmds.contains(&Command::ReadLog {
        epoch: new_epoch,
        run: RunId(5),
        stream: LogStream::Stdout,
        offset: 0,
        max: super::logs::PAGE_BYTES,
        kind: ChunkKind::Append
    }));
    // The page arrives: the cursor is on the matching line, with lines around it.
    let mut page = String::new();
    let mut off = 0u64;
    while off < 6000 {
        let line = if (off..off + 20).contains(&5000) {
            "the needle is here\n".to_owned()
        } else {
            format!("hay {off:>14}\n")
        };
        off += line.len() as u64;
        page.push_str(&line);
    }
    a.update(Msg::LogChunk {
        epoch: new_epoch,
        stream: LogStream::Stdout,
        kind: ChunkKind::Append,
        chunk: LogChunk {
            offset: 0,
            data: page.into_bytes(),
            size: 100 * 1024,
            complete: false,
            marks: Vec::new(),
        },
        at_ms: NOW,
    });
    let v = a.logs.as_ref().unwrap();
    assert_eq!(v.shown(v.cursor).unwrap().text, "the needle is here");
    assert!(v.cursor > 5, "lines before the match are loaded too");
    assert_eq!(v.search_hits, Some((1, 1)));
    // N again: nothing before the start of the log, so it wraps within memory.
    let cmds = a.update(key('N'));
    assert!(cmds.is_empty(), "{cmds:?}");
    assert_eq!(a.status.as_ref().unwrap().text, "search wrapped around");
}

#[test]
fn palette_commands_with_arguments() {
    let mut a = loaded();
    let palette = |a: &mut App, line: &str| {
        a.update(key(':'));
        typed(a, line);
        a.update(code(KeyCode::Enter))
    };
    assert!(palette(&mut a, "kill 3").is_empty());
    assert!(
        matches!(&a.overlay, Some(Overlay::Confirm { prompt, .. }) if prompt.contains("run 3"))
    );
    assert_eq!(a.update(key('y')), [Command::Kill(RunId(3))]);
    assert_eq!(palette(&mut a, "desc 2"), [Command::FetchRun(RunId(2))]);
    assert_eq!(a.screen, Screen::Details);
    let cmds = palette(&mut a, "logs 4");
    assert_eq!(a.screen, Screen::Logs);
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Command::FollowLog { run: RunId(4), .. }))
    );
    palette(&mut a, "grep !etl");
    assert_eq!(a.screen, Screen::Runs);
    assert_eq!(a.runs.filter.text, "!etl");
    assert!(palette(&mut a, "launch").is_empty());
    assert!(a.status.as_ref().unwrap().text.contains("not a command"));
    palette(&mut a, "q");
    assert!(a.quit);
}

// --- Monitor ---

fn metrics_now() -> harbour_shared::MetricsNow {
    harbour_shared::MetricsNow {
        at_ms: NOW,
        interval_ms: 1_000,
        cpu_percent: 42.0,
        cores: vec![40.0, 44.0],
        load: [0.8, 0.6, 0.5],
        memory_used_bytes: 6 << 30,
        memory_total_bytes: 16 << 30,
        swap_used_bytes: 0,
        swap_total_bytes: 0,
        disks: vec![],
        disk_read_bytes_per_sec: 1024.0,
        disk_write_bytes_per_sec: 4096.0,
        networks: vec![harbour_shared::NetworkNow {
            interface: "eth0".into(),
            rx_bytes_per_sec: 2048.0,
            tx_bytes_per_sec: 512.0,
        }],
        processes: 120,
        harbourd: harbour_shared::ProcessCost::default(),
        runs: vec![],
    }
}

/// An hour in 300 steps of a shape that shows on a chart, with a gap (the daemon was down)
/// from step 100 to 140.
fn history(series: &[String]) -> Vec<harbour_shared::MetricHistory> {
    series
        .iter()
        .enumerate()
        .map(|(k, name)| harbour_shared::MetricHistory {
            series: name.clone(),
            start_ms: NOW - 3_600_000,
            step_ms: 12_000,
            resolution_ms: 10_000,
            values: (0..300)
                .map(|i| {
                    let v = match name.as_str() {
                        "mem.total" => 16.0 * 1024.0 * 1024.0 * 1024.0,
                        "mem.used" => (5.0 + (i % 50) as f64 / 25.0) * 1024.0 * 1024.0 * 1024.0,
                        _ => 20.0 + ((i + 7 * k) % 60) as f64,
                    };
                    (!(100..140).contains(&i)).then_some(v)
                })
                .collect(),
        })
        .collect()
}

fn containers() -> Vec<harbour_shared::Container> {
    let c = |id: &str, name: &str, project: Option<&str>, state: &str, health: Option<&str>| {
        harbour_shared::Container {
            id: id.into(),
            name: name.into(),
            image: "busybox".into(),
            state: state.into(),
            status: match (state, health) {
                ("running", Some(h)) => format!("Up 5 minutes ({h})"),
                ("running", None) => "Up 5 minutes".into(),
                _ => "Exited (0) 2 hours ago".into(),
            },
            health: health.map(Into::into),
            ports: vec![],
            created_ms: NOW,
            project: project.map(Into::into),
            service: None,
            stats: None,
        }
    };
    vec![
        c(
            "aaa",
            "shop-web-1",
            Some("shop"),
            "running",
            Some("unhealthy"),
        ),
        c("bbb", "shop-db-1", Some("shop"), "running", Some("healthy")),
        c("ccc", "scratch", None, "exited", None),
    ]
}

fn health_report() -> harbour_shared::HealthReport {
    use harbour_shared::{HealthCheck, HealthStatus};
    let check = |name: &str, status, message: &str| HealthCheck {
        name: name.into(),
        kind: "http".into(),
        target: String::new(),
        status,
        since_ms: NOW - 300_000,
        last_checked_ms: Some(NOW),
        latency_ms: Some(3),
        message: message.into(),
        failures: 0,
    };
    harbour_shared::HealthReport {
        checks: vec![
            check("harbourd.store", HealthStatus::Up, "answers queries"),
            check("web", HealthStatus::Down, "HTTP 500 (expected 2xx)"),
            check("db", HealthStatus::Pending, "not checked yet"),
        ],
        transitions: vec![],
    }
}

/// Monitor open and fed what the daemon would answer.
fn monitor() -> App {
    let mut a = loaded();
    let out = a.update(key('7'));
    assert_eq!(a.screen, Screen::Monitor);
    assert!(out.contains(&Command::FetchMonitorLive), "{out:?}");
    a.update(Msg::MonitorLive {
        now: Ok(Box::new(metrics_now())),
        health: Ok(health_report()),
        containers: Ok(containers()),
    });
    let series = a.monitor.series();
    a.update(Msg::MonitorHistory(Ok(history(&series))));
    a
}

#[test]
fn monitor_asks_for_history_by_window_and_zooms() {
    let mut a = loaded();
    let out = a.update(key('7'));
    let Some(Command::FetchMonitorHistory { window_ms, series }) = out
        .iter()
        .find(|c| matches!(c, Command::FetchMonitorHistory { .. }))
        .cloned()
    else {
        panic!("{out:?}")
    };
    assert_eq!(window_ms, 3_600_000, "an hour by default");
    assert!(series.contains(&"cpu".to_owned()));
    // The first sample names the interfaces: the charts are fetched again with them.
    a.update(Msg::MonitorHistory(Ok(history(&series))));
    let out = a.update(Msg::MonitorLive {
        now: Ok(Box::new(metrics_now())),
        health: Ok(health_report()),
        containers: Ok(containers()),
    });
    assert!(
        out.iter().any(|c| matches!(c,
        Command::FetchMonitorHistory { series, .. } if series.contains(&"net.eth0.rx".to_owned())))
    );
    a.update(Msg::MonitorHistory(Ok(history(&series))));
    // + widens the window, - narrows it.
    let out = a.update(key('+'));
    assert!(out.iter().any(|c| matches!(
        c,
        Command::FetchMonitorHistory {
            window_ms: 21_600_000,
            ..
        }
    )));
    a.update(Msg::MonitorHistory(Ok(history(&series))));
    let out = a.update(key('-'));
    assert!(out.iter().any(|c| matches!(
        c,
        Command::FetchMonitorHistory {
            window_ms: 3_600_000,
            ..
        }
    )));
    a.update(Msg::MonitorHistory(Ok(history(&series))));
    // Frozen: ticks fetch no history, the panels still refresh.
    a.update(key('f'));
    let out = a.update(Msg::Tick(NOW + 60_000));
    assert_eq!(out, [Command::FetchMonitorLive]);
    // Unfreezing catches up at once.
    let out = a.update(key('f'));
    assert!(
        out.iter()
            .any(|c| matches!(c, Command::FetchMonitorHistory { .. }))
    );
}

#[test]
fn monitor_restarts_and_stops_containers_only_after_confirmation() {
    let mut a = monitor();
    assert!(a.update(key('r')).is_empty());
    let Some(Overlay::Confirm { prompt, .. }) = &a.overlay else {
        panic!("no confirmation")
    };
    assert_eq!(prompt, "Restart container shop-web-1 (running)?");
    let out = a.update(key('y'));
    assert_eq!(
        out,
        [Command::Container(
            "aaa".into(),
            harbour_shared::ContainerAction::Restart
        )]
    );
    a.update(key('j'));
    a.update(ctrl('k'));
    let out = a.update(key('n'));
    assert!(out.is_empty(), "n declines");
    assert!(a.overlay.is_none());
    // l opens the selected container's output in the log viewer, following it.
    let out = a.update(key('l'));
    let epoch = a.logs.as_ref().unwrap().epoch;
    assert_eq!(a.screen, Screen::Logs);
    assert_eq!(
        out,
        [
            Command::StopFollow,
            Command::FollowContainerLog {
                epoch,
                id: "bbb".into(),
                after_ns: 0,
                tail: 1000,
            }
        ]
    );
    let lines = |data: &str, cursor_ns| Msg::ContainerLogChunk {
        epoch,
        chunk: harbour_shared::ContainerLogChunk {
            data: data.as_bytes().to_vec(),
            cursor_ns,
            running: true,
        },
        at_ms: NOW,
    };
    a.update(lines("ready\nlistening on 5432\n", 7));
    a.update(lines("checkpoint starting\n", 9));
    snap!("monitor_container_logs", draw(&a, 80, 24));
    // The viewer's own keys work on it: search jumps to a match, and leaving follow and
    // coming back goes on from the engine's cursor, not from the start.
    a.update(key('/'));
    for c in "listening".chars() {
        a.update(key(c));
    }
    a.update(Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    let v = a.logs.as_ref().unwrap();
    assert_eq!(v.shown(v.cursor).unwrap().text, "listening on 5432");
    let out = a.update(key('f'));
    assert!(
        out.contains(&Command::FollowContainerLog {
            epoch,
            id: "bbb".into(),
            after_ns: 9,
            tail: 1000,
        }),
        "{out:?}"
    );
    // ctrl-s saves what the viewer holds.
    let out = a.update(ctrl('s'));
    assert!(
        matches!(&out[..], [Command::SaveText { name, text, .. }]
            if name == "harbour-container-shop-db-1.log"
                && text == "ready\nlistening on 5432\ncheckpoint starting\n"),
        "{out:?}"
    );
}

#[test]
fn the_dashboard_refreshes_its_gauges_while_shown() {
    let mut a = loaded();
    a.update(key('1'));
    let later = a.dash.fetched_ms + 5_000;
    assert!(a.update(Msg::Tick(later - 1_000)).is_empty());
    assert_eq!(a.update(Msg::Tick(later)), [Command::FetchDashboard]);
    // Elsewhere, no.
    a.update(Msg::Dashboard(Ok(Box::new(dashboard()))));
    a.update(key('2'));
    assert!(a.update(Msg::Tick(later + 60_000)).is_empty());
}

#[test]
fn snapshot_monitor() {
    let mut a = monitor();
    snap!("monitor_loaded_120x40", draw(&a, 120, 40));
    snap!("monitor_narrow_80x24", draw(&a, 80, 24));
    a.update(key('e'));
    let series = a.monitor.series();
    assert!(
        series.contains(&"cpu.1".to_owned()),
        "expanded CPU asks per core"
    );
    a.update(Msg::MonitorHistory(Ok(history(&series))));
    a.update(key('f'));
    snap!("monitor_cpu_expanded_frozen", draw(&a, 120, 40));

    // No Docker, a failed health call, no history yet.
    let mut e = loaded();
    e.update(key('7'));
    snap!("monitor_loading", draw(&e, 80, 24));
    e.update(Msg::MonitorLive {
        now: Err("metrics unavailable: the first sample is not taken yet".into()),
        health: Err("the call to harbourd failed: deadline exceeded".into()),
        containers: Err(
            "Docker unavailable: no engine answers at unix:///var/run/docker.sock: \
             Socket not found"
                .into(),
        ),
    });
    e.update(Msg::MonitorHistory(Ok(vec![])));
    snap!("monitor_no_docker", draw(&e, 120, 30));
}

// ---- Spark: the SQL screen and a pyspark run's progress ---------------------------------

fn sql_result() -> harbour_shared::SqlResult {
    let col = |name: &str, ty: &str| harbour_shared::SqlColumn {
        name: name.into(),
        data_type: ty.into(),
    };
    harbour_shared::SqlResult {
        cluster: "local".into(),
        columns: vec![
            col("region", "Utf8"),
            col("n", "Int64"),
            col("total", "Float64"),
        ],
        rows: vec![
            vec![
                Some("east".into()),
                Some("25000".into()),
                Some("1237500".into()),
            ],
            vec![Some("north".into()), Some("25000".into()), None],
        ],
        truncated: false,
        elapsed_ms: 214,
    }
}

#[test]
fn sql_screen_edits_runs_shows_results_and_cancels() {
    let mut a = loaded();
    a.update(key('5'));
    assert_eq!(a.screen, Screen::Sql);
    snap!("sql_empty", draw(&a, 80, 24));
    a.update(code(KeyCode::Enter));
    assert!(a.sql.editing, "enter starts editing");
    typed(&mut a, "SELECT region, count(*) AS n FROM sales");
    a.update(code(KeyCode::Enter));
    typed(&mut a, "GROUP BY region");
    // `q` is text while editing, not quit.
    assert!(!a.quit);
    let cmds = a.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('r'),
        KeyModifiers::CONTROL,
    )));
    assert_eq!(
        cmds,
        [Command::RunSql {
            query: "SELECT region, count(*) AS n FROM sales\nGROUP BY region".into(),
            cluster: None,
        }]
    );
    snap!("sql_running", draw(&a, 80, 24));
    let cancel = a.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('k'),
        KeyModifiers::CONTROL,
    )));
    assert_eq!(cancel, [Command::CancelSql("local".into())]);
    a.update(Msg::SqlDone(Ok(Box::new(sql_result()))));
    a.update(code(KeyCode::Esc));
    assert!(!a.sql.editing);
    snap!("sql_results_100x24", draw(&a, 100, 24));
    a.update(Msg::SqlDone(Err(
        "invalid query: [PARSE_SYNTAX_ERROR] Syntax error at or near 'SELEC'. (line 1, pos 0)"
            .into(),
    )));
    snap!("sql_error", draw(&a, 80, 24));
    assert_eq!(a.sql.history.len(), 1);
}

#[test]
fn a_pyspark_run_shows_its_stages_and_polls_while_running() {
    let mut a = loaded();
    a.update(key('j'));
    a.update(code(KeyCode::Enter));
    let mut d = detail();
    d.run.kind = JobKind::Pyspark;
    d.run.lifecycle = Lifecycle::Running;
    d.run.result = None;
    d.run.spark = Some(harbour_shared::SparkAppRef {
        cluster: "etl".into(),
        app_id: Some("app-20261121-0001".into()),
        ui_url: "http://127.0.0.1:4050".into(),
        event_log_dir: "/data/spark-events".into(),
    });
    let id = d.run.id;
    let cmds = a.update(Msg::RunDetail(id, Ok(Box::new(d))));
    assert_eq!(cmds, [Command::FetchSparkProgress(id)]);
    let tasks = |total, completed, active, failed| harbour_shared::TaskCounts {
        total,
        completed,
        active,
        failed,
        ..harbour_shared::TaskCounts::default()
    };
    let progress = harbour_shared::SparkProgress {
        app_id: Some("app-20261121-0001".into()),
        app_name: Some("report".into()),
        source: harbour_shared::ProgressSource::Live,
        jobs: vec![harbour_shared::SparkJob {
            id: 0,
            name: "collect at app.py:9".into(),
            status: "RUNNING".into(),
            stage_ids: vec![0, 1],
            tasks: tasks(6, 4, 2, 1),
            submitted_ms: None,
            completed_ms: None,
        }],
        stages: vec![harbour_shared::SparkStage {
            id: 0,
            attempt: 0,
            name: "map at app.py:7".into(),
            status: "ACTIVE".into(),
            tasks: tasks(4, 2, 2, 1),
            failure_reason: None,
            submitted_ms: None,
            completed_ms: None,
        }],
        executors: vec![],
    };
    a.update(Msg::SparkProgress(id, Ok(Box::new(progress))));
    let text = a
        .details
        .lines(&a.theme, NOW)
        .iter()
        .map(|l| {
            l.spans
                .iter()
                .map(|s| s.content.as_ref())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.contains("app-20261121-0001"), "{text}");
    assert!(text.contains("[#############>>>>>>>]"), "{text}");
    assert!(text.contains("4/6 (2 running) (1 failed)"), "{text}");
    // While it runs, progress is asked for again once a second, and the details (for the
    // run's usage now) every two.
    assert!(a.update(Msg::Tick(NOW + 500)).is_empty());
    assert_eq!(
        a.update(Msg::Tick(NOW + 1_500)),
        [Command::FetchSparkProgress(id)]
    );
    assert_eq!(a.update(Msg::Tick(NOW + 2_100)), [Command::FetchRun(id)]);
}

fn clusters() -> Vec<harbour_shared::Cluster> {
    let base = |name: &str, kind, state, master: &str| harbour_shared::Cluster {
        name: name.into(),
        kind,
        state,
        state_message: String::new(),
        master_url: master.into(),
        web_ui_url: None,
        connect_url: None,
        spec: None,
        created_ms: 0,
        log_dir: None,
        health: None,
    };
    let mut etl = base(
        "etl",
        harbour_shared::ClusterKind::Managed,
        harbour_shared::ClusterState::Running,
        "spark://127.0.0.1:41234",
    );
    etl.health = Some(harbour_shared::ClusterHealth {
        workers_alive: 1,
        workers_missing: 1,
        cores: 2,
        cores_used: 1,
        running_apps: 1,
        master_alive: true,
        problem: Some("1 worker process(es) exited; 1 of 2 workers alive".into()),
        ..harbour_shared::ClusterHealth::default()
    });
    vec![
        base(
            "local",
            harbour_shared::ClusterKind::Local,
            harbour_shared::ClusterState::Running,
            "local[2]",
        ),
        etl,
        base(
            "broken",
            harbour_shared::ClusterKind::Managed,
            harbour_shared::ClusterState::Error("the master exited".into()),
            "spark://127.0.0.1:41300",
        ),
    ]
}

#[test]
fn clusters_screen_lists_creates_deletes_and_opens_sql() {
    let mut a = loaded();
    a.update(key('6'));
    assert_eq!(a.screen, Screen::Clusters);
    a.update(Msg::Clusters(Ok(clusters())));
    snap!("clusters_120x24", draw(&a, 120, 24));
    a.update(key('j'));
    // ctrl-d asks first, then deletes.
    let none = a.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('d'),
        KeyModifiers::CONTROL,
    )));
    assert!(none.is_empty());
    assert_eq!(a.update(key('y')), [Command::DeleteCluster("etl".into())]);
    a.update(Msg::Events(EventBatch {
        events: vec![Event {
            seq: 1,
            at_ms: NOW,
            kind: EventKind::ClusterDeleted("etl".into()),
        }],
        last_seq: 1,
        lost: None,
    }));
    assert_eq!(a.clusters.clusters.len(), 2);
    // `s` opens the palette on cluster-create.
    a.update(key('s'));
    typed(&mut a, "tmp 1 2 1g");
    assert_eq!(
        a.update(code(KeyCode::Enter)),
        [Command::CreateCluster(harbour_shared::ClusterSpec {
            name: "tmp".into(),
            workers: 1,
            cores: 2,
            memory: "1g".into(),
        })]
    );
    // enter opens the SQL screen on the selected cluster.
    a.update(key('g'));
    a.update(code(KeyCode::Enter));
    assert_eq!(a.screen, Screen::Sql);
    assert_eq!(a.sql.cluster.as_deref(), Some("local"));
}

// --- Analytics ---

fn totals(ended: u64, failed: u64, retries: u64) -> harbour_shared::TaskTotals {
    harbour_shared::TaskTotals {
        ended,
        succeeded: ended - failed,
        failed,
        killed: 0,
        retries,
    }
}

fn spark_apps() -> harbour_shared::SparkApps {
    let app = |id: &str, name: &str, failed_jobs: u64, t| harbour_shared::AppSummary {
        app_id: id.into(),
        name: name.into(),
        status: "FINISHED".into(),
        start_ms: Some(NOW - 50_000),
        end_ms: Some(NOW - 20_000),
        duration_ms: Some(30_000),
        jobs: 4,
        failed_jobs,
        tasks: t,
        source: "/data/spark-events/x".into(),
    };
    harbour_shared::SparkApps {
        apps: vec![
            app("local-1763712000000", "nightly-etl", 1, totals(20, 4, 2)),
            app("app-20261121-0001", "report", 0, totals(12, 0, 0)),
        ],
        problems: vec![harbour_shared::LogProblem {
            path: "/logs/broken".into(),
            line: 7,
            why: "not a JSON object with an \"Event\" name".into(),
        }],
    }
}

fn spark_job(id: i64, status: &str, t: harbour_shared::TaskTotals) -> harbour_shared::JobSummary {
    harbour_shared::JobSummary {
        app_id: "local-1763712000000".into(),
        job_id: id,
        name: format!("collect at etl.py:{}", 10 + id),
        status: status.into(),
        start_ms: Some(NOW - 40_000),
        end_ms: Some(NOW - 38_500),
        duration_ms: Some(1_500),
        stages: 2,
        planned_tasks: t.ended,
        tasks: t,
        slowest_stage: Some((id * 2, 0, "map".into(), 900)),
        max_skew: Some(2.5),
        failure: (status == "FAILED").then(|| "ValueError: this job always fails".into()),
    }
}

fn spark_app_detail() -> harbour_shared::AppDetail {
    harbour_shared::AppDetail {
        app: spark_apps().apps[0].clone(),
        jobs: vec![
            spark_job(0, "SUCCEEDED", totals(7, 0, 0)),
            spark_job(1, "SUCCEEDED", totals(3, 1, 1)),
            spark_job(2, "FAILED", totals(3, 3, 2)),
        ],
        executors: vec![],
        run: Some(RunId(5)),
    }
}

fn spark_job_detail() -> harbour_shared::JobDetail {
    let stage = |id: i64, status: &str, t, q: Option<[i64; 5]>| harbour_shared::StageSummary {
        stage_id: id,
        attempt: 0,
        name: format!("stage {id} at etl.py:12"),
        status: status.into(),
        planned_tasks: 4,
        tasks: t,
        start_ms: Some(NOW - 40_000),
        end_ms: Some(NOW - 39_000),
        duration_ms: Some(1_000),
        task_ms: q,
        skew: q.map(|q| q[4] as f64 / q[2] as f64),
        gc_ms: 3,
        input_bytes: 0,
        shuffle_read_bytes: 0,
        shuffle_write_bytes: 0,
        failure: None,
    };
    harbour_shared::JobDetail {
        job: spark_job(1, "SUCCEEDED", totals(3, 1, 1)),
        stages: vec![
            stage(2, "SKIPPED", totals(0, 0, 0), None),
            stage(
                3,
                "COMPLETE",
                totals(3, 1, 1),
                Some([40, 45, 60, 80, 1_500]),
            ),
        ],
        failed_tasks: vec![harbour_shared::FailedTask {
            task_id: 13,
            stage_id: 3,
            stage_attempt: 0,
            index: 0,
            attempt: 0,
            executor: "driver".into(),
            host: "localhost".into(),
            reason: "ExceptionFailure".into(),
            message: "RuntimeError: first attempt fails on purpose".into(),
            finish_ms: Some(NOW - 39_500),
        }],
    }
}

#[test]
fn spark_screen_walks_apps_jobs_and_stages() {
    let mut a = loaded();
    assert_eq!(a.update(key('9')), [Command::FetchSparkApps]);
    assert_eq!(a.screen, Screen::Spark);
    snap!("spark_loading_80x24", draw(&a, 80, 24));
    a.update(Msg::SparkApps(Err(
        "Spark analytics unavailable: the store is closed".into(),
    )));
    snap!("spark_error_80x24", draw(&a, 80, 24));
    a.update(Msg::SparkApps(Ok(harbour_shared::SparkApps {
        apps: vec![],
        problems: vec![],
    })));
    snap!("spark_empty_80x24", draw(&a, 80, 24));
    a.update(Msg::SparkApps(Ok(spark_apps())));
    snap!("spark_apps_80x24", draw(&a, 80, 24));
    snap!("spark_apps_140x30", draw(&a, 140, 30));

    // enter opens the selected application; its jobs arrive.
    assert_eq!(
        a.update(code(KeyCode::Enter)),
        [Command::FetchSparkApp("local-1763712000000".into())]
    );
    a.update(Msg::SparkApp(
        "local-1763712000000".into(),
        Ok(Box::new(spark_app_detail())),
    ));
    snap!("spark_app_80x24", draw(&a, 80, 24));
    snap!("spark_app_140x30", draw(&a, 140, 30));

    // j, enter: job 1's stages and failed tasks.
    a.update(key('j'));
    assert_eq!(
        a.update(code(KeyCode::Enter)),
        [Command::FetchSparkJob("local-1763712000000".into(), 1)]
    );
    a.update(Msg::SparkJob(
        "local-1763712000000".into(),
        1,
        Ok(Box::new(spark_job_detail())),
    ));
    snap!("spark_job_80x24", draw(&a, 80, 24));
    snap!("spark_job_140x30", draw(&a, 140, 30));

    // esc goes up a level at a time, then back to the previous screen.
    assert_eq!(
        a.update(code(KeyCode::Esc)),
        [Command::FetchSparkApp("local-1763712000000".into())]
    );
    assert_eq!(a.update(code(KeyCode::Esc)), [Command::FetchSparkApps]);
    a.update(code(KeyCode::Esc));
    assert_eq!(a.screen, Screen::Runs);

    // `:spark APP` opens an application directly (a run's details name theirs).
    a.update(key(':'));
    typed(&mut a, "spark app-20261121-0001");
    let out = a.update(code(KeyCode::Enter));
    assert_eq!(a.screen, Screen::Spark);
    assert!(
        out.contains(&Command::FetchSparkApp("app-20261121-0001".into())),
        "{out:?}"
    );
}
