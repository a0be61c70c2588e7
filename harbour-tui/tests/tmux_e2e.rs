//! End to end, as a person would use it: a real `harbourd` on a temp socket, the real
//! `harbour-tui` in a tmux pane (`send-keys` to type, `capture-pane` to read the screen).
//! Submits a run from the form, follows its logs, searches them, kills the run, survives a
//! daemon restart, and quits.
//!
//! Needs tmux (the README's test command installs it) and the workspace's binaries
//! (`cargo build --workspace --bins`, which that command runs first).

// Helpers outside #[test] fns: a panic is the failure message here too.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn target_bin(name: &str) -> PathBuf {
    // This test's executable is target/debug/deps/tmux_e2e-HASH.
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(Path::parent).unwrap().join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the binaries first with `cargo build --workspace --bins`",
        path.display()
    );
    path
}

fn have_tmux() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

struct Daemon {
    child: Option<Child>,
    socket: PathBuf,
    root: PathBuf,
}

impl Daemon {
    fn start(root: &Path) -> Self {
        let mut d = Self {
            child: None,
            socket: root.join("harbourd.sock"),
            root: root.to_owned(),
        };
        d.spawn();
        d
    }

    fn spawn(&mut self) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("harbourd.log"))
            .unwrap();
        let child = Command::new(target_bin("harbourd"))
            .env("HARBOUR_SOCKET", &self.socket)
            .env("HARBOUR_DATA_DIR", self.root.join("data"))
            .env("HARBOUR_CONFIG_DIR", self.root.join("config"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::os::unix::net::UnixStream::connect(&self.socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "harbourd did not start: {}",
                fs::read_to_string(self.root.join("harbourd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A private tmux server with one pane running harbour-tui.
struct Tmux {
    server: String,
}

impl Tmux {
    fn start(cmd: &str, w: u16, h: u16) -> Self {
        // One tmux server per pane: tests run in parallel and each kills its own server.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let t = Self {
            server: format!("harbour-e2e-{}-{n}", std::process::id()),
        };
        let ok = Command::new("tmux")
            .args([
                "-L",
                &t.server,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "e2e",
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
                cmd,
            ])
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux new-session failed");
        t
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["-L", &self.server, "send-keys", "-t", "e2e"];
        args.extend_from_slice(keys);
        assert!(Command::new("tmux").args(&args).status().unwrap().success());
        std::thread::sleep(Duration::from_millis(150));
    }

    /// Types text literally.
    fn type_text(&self, text: &str) {
        assert!(
            Command::new("tmux")
                .args(["-L", &self.server, "send-keys", "-t", "e2e", "-l", text])
                .status()
                .unwrap()
                .success()
        );
        std::thread::sleep(Duration::from_millis(150));
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.server, "capture-pane", "-p", "-t", "e2e"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows every one of `wanted`; panics with the screen if not.
    fn wait_for(&self, wanted: &[&str], within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let s = self.screen();
            if wanted.iter().all(|w| s.contains(w)) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "the screen never showed {wanted:?}; it shows:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.server, "kill-server"])
            .status();
    }
}

#[test]
fn submit_follow_search_kill_reconnect_quit() {
    if !have_tmux() {
        eprintln!(
            "\n\n*** SKIPPED: tmux is not installed, so the harbour-tui end-to-end test did not run. ***\n*** Install tmux (apt-get install tmux); the README's test command does. ***\n"
        );
        return;
    }
    let root = tempfile::Builder::new()
        .prefix("harbour-tui-e2e-")
        .tempdir()
        .unwrap();
    fs::set_permissions(root.path(), fs::Permissions::from_mode(0o700)).unwrap();
    fs::create_dir_all(root.path().join("config")).unwrap();
    // Keep only the last KiB of a log in view when opening it, so the search below has to
    // find its line in the daemon's copy and page it in.
    fs::write(
        root.path().join("config").join("tui.toml"),
        "[logs]\ntail_kib = 1\n",
    )
    .unwrap();
    let mut daemon = Daemon::start(root.path());
    let tui = target_bin("harbour-tui");
    let cmd = format!(
        "env TERM=xterm-256color HARBOUR_CONFIG_DIR={cfg} {tui} --socket {sock} --log-file {log}; echo HARBOUR-TUI-EXIT=$?; sleep 60",
        cfg = root.path().join("config").display(),
        tui = tui.display(),
        sock = daemon.socket.display(),
        log = root.path().join("tui.log").display(),
    );
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
    daemon.stop();
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
    if !have_tmux() {
        eprintln!(
            "\n\n*** SKIPPED: tmux is not installed, so the harbour-tui end-to-end test did not run. ***\n"
        );
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
        tui = target_bin("harbour-tui").display(),
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
