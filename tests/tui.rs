//! The TUI end to end, as a person would use it: a real `harbourd` on a temp socket, the real
//! `harbour-tui` in a tmux pane (`send-keys` to type, `capture-pane` to read the screen).
//! Submits a run from the form, follows its logs, searches them, kills the run, survives a
//! daemon restart, and quits; and starts a daemon itself when none runs on the user socket.
//!
//! Needs tmux (the README's test command installs it) and the workspace's binaries
//! (`cargo build --workspace --bins`, which that command runs first).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use harbour_tests::tmux::{self, Tmux};
use harbour_tests::{Daemon, bin};

#[test]
fn submit_follow_search_kill_reconnect_quit() {
    if !tmux::available() {
        return;
    }
    let mut daemon = Daemon::start();
    // Keep only the last KiB of a log in view when opening it, so the search below has to
    // find its line in the daemon's copy and page it in.
    fs::write(daemon.config_dir.join("tui.toml"), "[logs]\ntail_kib = 1\n").unwrap();
    let cmd = daemon.tui_command();
    let tmux = Tmux::start(&cmd, 100, 30);
    tmux.wait_for(
        &["Runs (0)", "no runs yet", "● harbourd"],
        Duration::from_secs(30),
    );

    // Submit a run from the form: shell code that prints numbered rows, then waits.
    tmux.keys(&["s"]);
    tmux.wait_for(&["Submit a run"], Duration::from_secs(30));
    tmux.type_text("for i in $(seq 1 300); do echo row-$i-end; done; echo err-line >&2; sleep 120");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Runs (1)", "running"], Duration::from_secs(30));

    // Its details: spec, history, and (ctrl-r refreshes) how much it has printed.
    tmux.keys(&["Enter"]);
    tmux.wait_for(
        &["Run 1", "History", "for i in $(seq 1 300)"],
        Duration::from_secs(30),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !tmux.screen().contains("(3.4 KiB)") {
        assert!(
            Instant::now() < deadline,
            "details never showed the log size:\n{}",
            tmux.screen()
        );
        tmux.keys(&["C-r"]);
    }

    // Follow its logs: the last KiB arrives. (Where stderr's line sits among stdout's in the
    // merged view depends on which follower read first, so it is checked alone below.)
    tmux.keys(&["l"]);
    tmux.wait_for(
        &["Logs: run 1", "row-300-end", "follow"],
        Duration::from_secs(30),
    );

    let s = tmux.screen();
    assert!(!s.contains("row-42-end"), "row 42 is not in view yet:\n{s}");

    // Search: finds the line beyond the lines in memory, jumps to it on stdout, keeps the
    // lines around it, counts matches.
    tmux.keys(&["/"]);
    tmux.type_text("row-42-end");
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for(
        &["row-42-end", "[stdout, /row-42-end 1/1]"],
        Duration::from_secs(30),
    );
    assert!(
        s.contains("row-41-end") && s.contains("row-43-end"),
        "context around the match:\n{s}"
    );
    assert!(
        !s.contains("row-300-end"),
        "the view moved to the match:\n{s}"
    );

    // Only stderr (loaded when shown), then both again.
    tmux.keys(&["e"]);
    let s = tmux.wait_for(&["[stderr", "err-line"], Duration::from_secs(30));
    assert!(s.contains("err-line") && !s.contains("row-41-end"), "{s}");
    tmux.keys(&["e", "G"]);
    tmux.wait_for(&["stdout+stderr", "row-300-end"], Duration::from_secs(30));

    // Kill it, with a confirmation first.
    tmux.keys(&["C-k"]);
    tmux.wait_for(&["Kill run 1", "y yes"], Duration::from_secs(30));
    tmux.keys(&["y"]);
    tmux.wait_for(&["cancelled"], Duration::from_secs(30));
    tmux.keys(&["2"]);
    let s = tmux.wait_for(&["Runs (1)", "cancelled"], Duration::from_secs(30));
    assert!(!s.contains("running"), "{s}");

    // The daemon goes away and comes back: the screen says so and recovers by itself.
    daemon.terminate();
    tmux.wait_for(&["reconnecting"], Duration::from_secs(30));
    daemon.spawn();
    let s = tmux.wait_for(&["● harbourd", "Runs (1)"], Duration::from_secs(30));
    assert!(!s.contains("reconnecting…"), "{s}");

    // And a run made while connected again shows up live.
    tmux.keys(&["s"]);
    tmux.type_text("echo second");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Runs (2)", "succeeded"], Duration::from_secs(30));

    tmux.keys(&["q"]);
    tmux.wait_for(&["HARBOUR-TUI-EXIT=0"], Duration::from_secs(30));
}

/// Stops the daemon harbour-tui started, by the pid it reported, however the test ends.
struct StartedDaemon(Option<u32>);

impl Drop for StartedDaemon {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

#[test]
fn starts_a_daemon_when_none_runs_on_the_user_socket() {
    if !tmux::available() {
        return;
    }
    let root = tempfile::Builder::new()
        .prefix("harbour-tui-e2e-")
        .tempdir()
        .unwrap();
    fs::set_permissions(root.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let runtime = root.path().join("runtime");
    fs::create_dir_all(&runtime).unwrap();
    fs::set_permissions(&runtime, fs::Permissions::from_mode(0o700)).unwrap();
    // No --socket and no HARBOUR_SOCKET: the user socket, under this XDG_RUNTIME_DIR.
    let cmd = format!(
        "env -u HARBOUR_SOCKET TERM=xterm-256color XDG_RUNTIME_DIR={rt} HARBOUR_DATA_DIR={data} HARBOUR_CONFIG_DIR={cfg} {tui} --log-file {log}; echo HARBOUR-TUI-EXIT=$?; sleep 60",
        rt = runtime.display(),
        data = root.path().join("data").display(),
        cfg = root.path().join("config").display(),
        tui = bin("harbour-tui").display(),
        log = root.path().join("tui.log").display(),
    );
    let tmux = Tmux::start(&cmd, 120, 30);
    let s = tmux.wait_for(&["started one (pid "], Duration::from_secs(30));
    let pid = s
        .split("started one (pid ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|p| p.trim().parse::<u32>().ok());
    let _daemon = StartedDaemon(pid);
    assert!(pid.is_some(), "no pid in:\n{s}");
    tmux.wait_for(&["● harbourd", "Runs (0)"], Duration::from_secs(30));
    assert!(
        runtime.join("harbour").join("harbourd.sock").exists(),
        "the daemon listens on the user socket"
    );
    tmux.keys(&["q"]);
    tmux.wait_for(&["HARBOUR-TUI-EXIT=0"], Duration::from_secs(30));
    // The daemon outlives the TUI that started it.
    assert!(Path::new(&format!("/proc/{}", pid.unwrap_or(0))).exists());
}
