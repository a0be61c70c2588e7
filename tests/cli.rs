//! The `harbour` CLI end to end: the real binary against a real `harbourd` on a temp socket.
//! What a script would rely on: ids on stdout, `--wait` exit codes, `logs -f` giving every byte,
//! `--json` that parses into the shared types, jobs management, and errors with their codes.

// Test code: a failed expectation is the test's failure message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use harbour_shared::{Job, Run, RunDetail, RunResult};
use harbour_tests::{Daemon, bin};

/// `harbour ARGS` against `daemon`, run in `cwd`.
fn harbour_in(daemon: &Daemon, cwd: &Path, args: &[&str]) -> Output {
    Command::new(bin("harbour"))
        .env("HARBOUR_SOCKET", &daemon.socket)
        .current_dir(cwd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run harbour")
}

fn harbour(daemon: &Daemon, args: &[&str]) -> Output {
    harbour_in(daemon, daemon.root.path(), args)
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("harbour exited, not killed")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `harbour ARGS`, asserts it succeeded, and returns its stdout.
fn ok(daemon: &Daemon, args: &[&str]) -> String {
    let out = harbour(daemon, args);
    assert_eq!(
        code(&out),
        0,
        "harbour {args:?} failed: {}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

fn run_detail(daemon: &Daemon, id: &str) -> RunDetail {
    serde_json::from_str(&ok(daemon, &["--json", "run", "show", id])).expect("RunDetail JSON")
}

fn wait_ended(daemon: &Daemon, id: &str) -> RunDetail {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let detail = run_detail(daemon, id);
        if !detail.run.is_active() {
            return detail;
        }
        assert!(Instant::now() < deadline, "run {id} did not end in 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn submit_prints_just_the_id_and_runs_json_lists_it() {
    let daemon = Daemon::start();
    let id = ok(&daemon, &["submit", "--kind", "shell", "-c", "echo hi"]);
    let id = id.trim();
    assert!(id.parse::<i64>().is_ok(), "stdout was {id:?}, not a run id");
    wait_ended(&daemon, id);

    let runs: Vec<Run> =
        serde_json::from_str(&ok(&daemon, &["runs", "--json"])).expect("Vec<Run> JSON");
    let run = runs
        .iter()
        .find(|r| r.id.to_string() == id)
        .expect("the run is listed");
    assert_eq!(run.result, Some(RunResult::Succeeded));

    let table = ok(&daemon, &["runs", "--state", "succeeded"]);
    assert!(table.starts_with("ID "), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().next() == Some(id)),
        "{table}"
    );

    let one: Run = serde_json::from_str(&ok(
        &daemon,
        &["--json", "submit", "--kind", "shell", "-c", "true"],
    ))
    .expect("Run JSON");
    assert!(one.id.0 > run.id.0);
    let before = one.id.to_string();
    let older: Vec<Run> =
        serde_json::from_str(&ok(&daemon, &["runs", "--json", "--before", &before])).unwrap();
    let ids: Vec<_> = older.iter().map(|r| r.id).collect();
    assert_eq!(ids, [run.id], "--before pages back past the newer run");
}

#[test]
fn submit_wait_copies_output_and_exits_with_the_result() {
    let daemon = Daemon::start();
    let out = harbour(
        &daemon,
        &[
            "submit",
            "--kind",
            "shell",
            "-c",
            "echo to-out; echo to-err >&2; echo \"arg=$1 env=$GREETING\"; exit 7",
            "--env",
            "GREETING=hello there",
            "--wait",
            "--",
            "first",
        ],
    );
    assert_eq!(code(&out), 7, "{}", stderr(&out));
    assert_eq!(stdout(&out), "to-out\narg=first env=hello there\n");
    assert_eq!(stderr(&out), "to-err\n");

    let out = harbour(
        &daemon,
        &["submit", "--kind", "shell", "-c", "exit 0", "--wait"],
    );
    assert_eq!(code(&out), 0);

    let out = harbour(
        &daemon,
        &[
            "submit",
            "--kind",
            "shell",
            "-c",
            "sleep 30",
            "--timeout",
            "1",
            "--wait",
        ],
    );
    assert_eq!(code(&out), 124, "timed out");

    // Killed by a signal: failed without an exit code.
    let out = harbour(
        &daemon,
        &["submit", "--kind", "shell", "-c", "kill -9 $$", "--wait"],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));

    // --wait --json prints the finished run instead of its output.
    let out = harbour(
        &daemon,
        &[
            "--json",
            "submit",
            "--kind",
            "shell",
            "-c",
            "echo x; exit 3",
            "--wait",
        ],
    );
    assert_eq!(code(&out), 3);
    let run: Run = serde_json::from_slice(&out.stdout).expect("Run JSON");
    assert_eq!(run.result, Some(RunResult::Failed { exit_code: Some(3) }));
}

#[test]
fn submit_of_a_file_resolves_it_against_the_cwd() {
    let daemon = Daemon::start();
    let dir = daemon.root.path().join("scripts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hello.sh"), "echo \"from file $1\"\n").unwrap();
    let out = harbour_in(
        &daemon,
        &dir,
        &["submit", "--kind", "shell", "hello.sh", "--wait", "--", "x"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "from file x\n");
}

#[test]
fn logs_follow_prints_every_byte_once() {
    let daemon = Daemon::start();
    // Binary output, more than one 4 MiB page, written in bursts while we follow.
    let id = ok(
        &daemon,
        &[
            "submit",
            "--kind",
            "shell",
            "-c",
            "for i in 1 2 3 4 5 6; do head -c 1000000 /dev/urandom; sleep 0.2; done",
        ],
    );
    let id = id.trim();
    let followed = harbour(&daemon, &["logs", "-f", id]);
    assert_eq!(code(&followed), 0, "{}", stderr(&followed));
    let detail = wait_ended(&daemon, id);
    assert_eq!(detail.run.result, Some(RunResult::Succeeded));
    let on_disk = std::fs::read(&detail.stdout_path).expect("the daemon's stdout file");
    assert_eq!(on_disk.len(), 6_000_000);
    assert_eq!(followed.stdout.len(), on_disk.len(), "byte count");
    assert!(
        followed.stdout == on_disk,
        "followed bytes differ from the log"
    );

    // Without -f, from an offset: the rest of the stream, once.
    let rest = harbour(&daemon, &["logs", "--from", "5999990", id]);
    assert_eq!(rest.stdout, on_disk[5_999_990..]);
}

#[test]
fn logs_selects_the_stream_and_survives_a_closed_pipe() {
    let daemon = Daemon::start();
    let id = ok(
        &daemon,
        &[
            "submit",
            "--kind",
            "shell",
            "-c",
            "echo out; echo err >&2; seq 1 300000",
        ],
    );
    let id = id.trim();
    wait_ended(&daemon, id);
    assert_eq!(ok(&daemon, &["logs", "--stderr", id]), "err\n");

    // `harbour logs ID | head -c 10`: the reader goes away; harbour exits 0, silently.
    let mut child = Command::new(bin("harbour"))
        .env("HARBOUR_SOCKET", &daemon.socket)
        .args(["logs", id])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start harbour logs");
    let mut first = [0u8; 10];
    child
        .stdout
        .take()
        .expect("piped")
        .read_exact(&mut first)
        .expect("read");
    assert_eq!(&first, b"out\n1\n2\n3\n");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
}

#[test]
fn jobs_are_created_listed_changed_run_and_deleted() {
    let daemon = Daemon::start();
    let id = ok(
        &daemon,
        &[
            "jobs",
            "create",
            "--name",
            "nightly",
            "--kind",
            "shell",
            "-c",
            "echo \"nightly $1\"; exit 5",
            "--schedule",
            "0 3 * * *",
            "--",
            "arg",
        ],
    );
    assert!(id.trim().parse::<i64>().is_ok(), "{id:?}");

    let list = ok(&daemon, &["jobs", "list"]);
    let row = list
        .lines()
        .find(|l| l.contains("nightly"))
        .expect("listed");
    assert!(row.contains("0 3 * * *") && row.ends_with("no"), "{list}");

    let job: Job = serde_json::from_str(&ok(
        &daemon,
        &[
            "--json",
            "jobs",
            "update",
            "nightly",
            "--no-schedule",
            "--timeout",
            "1h",
            "--env",
            "A=1",
        ],
    ))
    .expect("Job JSON");
    assert_eq!(job.spec.schedule, None);
    assert_eq!(job.spec.timeout_secs, Some(3600));
    assert_eq!(job.spec.env.len(), 1);

    let empty = harbour(&daemon, &["jobs", "update", "nightly"]);
    assert_eq!(code(&empty), 2);
    assert!(
        stderr(&empty).contains("--no-schedule"),
        "{}",
        stderr(&empty)
    );

    let paused: Job =
        serde_json::from_str(&ok(&daemon, &["--json", "jobs", "pause", "nightly"])).unwrap();
    assert!(paused.paused);
    let resumed: Job =
        serde_json::from_str(&ok(&daemon, &["--json", "jobs", "resume", "nightly"])).unwrap();
    assert!(!resumed.paused);

    let run = harbour(&daemon, &["jobs", "run", "nightly", "--wait"]);
    assert_eq!(code(&run), 5, "the run's exit code: {}", stderr(&run));
    assert_eq!(stdout(&run), "nightly arg\n");

    let shown = ok(&daemon, &["jobs", "show", "nightly"]);
    assert!(shown.contains("failed (5)"), "{shown}");

    ok(&daemon, &["jobs", "delete", "nightly"]);
    let gone = harbour(&daemon, &["jobs", "show", "nightly"]);
    assert_eq!(code(&gone), 3);
}

#[test]
fn kill_and_restart() {
    let daemon = Daemon::start();
    let id = ok(
        &daemon,
        &["submit", "--kind", "shell", "-c", "echo started; sleep 30"],
    );
    let id = id.trim();
    ok(&daemon, &["kill", id]);
    let detail = wait_ended(&daemon, id);
    assert_eq!(detail.run.result, Some(RunResult::Cancelled));

    let again = ok(&daemon, &["restart", id]);
    let again = again.trim();
    assert_ne!(again, id);
    let detail = run_detail(&daemon, again);
    assert_eq!(
        detail.run.parent.map(|p| p.to_string()).as_deref(),
        Some(id)
    );
    ok(&daemon, &["kill", again]);
    wait_ended(&daemon, again);
}

#[test]
fn errors_have_their_exit_codes_and_messages() {
    let daemon = Daemon::start();

    let out = harbour(&daemon, &["run", "show", "999999"]);
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).starts_with("harbour: "), "{}", stderr(&out));

    let out = harbour(&daemon, &["--json", "logs", "999999"]);
    assert_eq!(code(&out), 3);
    let error: serde_json::Value = serde_json::from_slice(&out.stdout).expect("error JSON");
    assert_eq!(error["error"]["kind"], "not_found");
    assert_eq!(error["error"]["exit_code"], 3);

    let out = harbour(
        &daemon,
        &[
            "submit", "--kind", "shell", "-c", "true", "--env", "NOEQUALS",
        ],
    );
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("KEY=VALUE"), "{}", stderr(&out));
    let out = harbour(
        &daemon,
        &[
            "--json", "submit", "--kind", "shell", "-c", "true", "--env", "1BAD=x",
        ],
    );
    assert_eq!(code(&out), 2);
    let error: serde_json::Value = serde_json::from_slice(&out.stdout).expect("error JSON");
    assert_eq!(error["error"]["kind"], "usage");
    assert!(stderr(&out).starts_with("harbour: "), "{}", stderr(&out));

    let out = harbour(&daemon, &["submit", "--kind", "shell", "missing.sh"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("missing.sh"), "{}", stderr(&out));

    let out = harbour(
        &daemon,
        &[
            "jobs",
            "create",
            "--name",
            "bad",
            "--kind",
            "shell",
            "-c",
            "true",
            "--schedule",
            "never",
        ],
    );
    assert_eq!(code(&out), 2, "the daemon's Invalid: {}", stderr(&out));

    ok(
        &daemon,
        &[
            "jobs", "create", "--name", "dup", "--kind", "shell", "-c", "true",
        ],
    );
    let out = harbour(
        &daemon,
        &[
            "jobs", "create", "--name", "dup", "--kind", "shell", "-c", "true",
        ],
    );
    assert_eq!(
        code(&out),
        4,
        "a duplicate name conflicts: {}",
        stderr(&out)
    );

    let nowhere = daemon.root.path().join("nobody-here.sock");
    let out = Command::new(bin("harbour"))
        .env_remove("HARBOUR_SOCKET")
        .arg("--socket")
        .arg(&nowhere)
        .args(["--json", "status"])
        .output()
        .expect("run harbour");
    assert_eq!(code(&out), 5);
    assert!(
        stderr(&out).contains("cannot reach harbourd"),
        "{}",
        stderr(&out)
    );
    let error: serde_json::Value = serde_json::from_slice(&out.stdout).expect("error JSON");
    assert_eq!(error["error"]["kind"], "unreachable");
}

#[test]
fn status_describes_the_daemon() {
    let daemon = Daemon::start();
    let text = ok(&daemon, &["status"]);
    for key in [
        "version",
        "uptime",
        "mode",
        "pid",
        "data dir",
        "socket",
        "config file",
        "spark home",
        "runs",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(key)),
            "no {key} in:\n{text}"
        );
    }
    let status: harbour_shared::Status =
        serde_json::from_str(&ok(&daemon, &["--json", "status"])).expect("Status JSON");
    assert_eq!(status.pid, daemon.pid());
}

#[test]
fn wait_outlives_a_daemon_crash_and_reports_the_run_lost() {
    let mut daemon = Daemon::start();
    let mut child = Command::new(bin("harbour"))
        .env("HARBOUR_SOCKET", &daemon.socket)
        .args([
            "submit",
            "--kind",
            "shell",
            "-c",
            "echo before; sleep 30",
            "--wait",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start harbour submit --wait");
    let mut stdout = child.stdout.take().expect("piped");
    let mut before = [0u8; 7];
    stdout
        .read_exact(&mut before)
        .expect("the run's first line");
    assert_eq!(&before, b"before\n");

    // The daemon dies under the run and comes back: the follower reconnects, picks up where it
    // was, and learns that the run was lost.
    daemon.kill9();
    daemon.spawn();
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).expect("read the rest");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(rest.is_empty(), "no byte twice: {rest:?}");
}
