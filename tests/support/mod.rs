//! Test support: starts the real `harbourd` binary on a private temp dir (its own socket,
//! data and config), connects clients to it, and stops it the way a user or a crash would.
//!
//! [`tmux`] drives the real `harbour-tui` in a tmux pane.
//!
//! The binaries come from the workspace's target dir; the README's test command builds them
//! first (`cargo build --workspace --bins`). `HARBOUR_BIN_DIR` points elsewhere (benchmarks
//! use `target/release`), and [`Daemon::start_with_bin`] takes one binary explicitly.

// Test support: a failed expectation is the test's failure message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use harbour_shared::{JobSpec, LogStream, Run, RunDetail, RunId};
use harbour_tui::client::{self, Client, Flatten as _};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tempfile::TempDir;

pub mod bench_doc;
pub mod tmux;

/// Environment variable naming the directory the binaries are taken from.
pub const BIN_DIR_ENV: &str = "HARBOUR_BIN_DIR";

/// The Spark/Python runtime the tests share: `HARBOUR_RUNTIME_DIR`, else the workspace's
/// cache (where scripts/test installs it).
pub fn runtime_dir() -> PathBuf {
    let dir = std::env::var_os("HARBOUR_RUNTIME_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/harbour-runtime"),
        PathBuf::from,
    );
    assert!(
        dir.join("venv/bin/python").is_file(),
        "no runtime in {}: run `harbourd runtime install --dir {}` first (scripts/test does)",
        dir.display(),
        dir.display()
    );
    dir
}

/// The directory the binaries are taken from: `HARBOUR_BIN_DIR`, else where cargo put the
/// workspace's binaries for this profile (next to this executable's `deps/` dir).
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_owned()
}

/// A workspace binary, from [`bin_dir`].
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the binaries first with `cargo build --workspace --bins` \
         (the README's test command, scripts/test, does), or point {BIN_DIR_ENV} at them",
        path.display()
    );
    path
}

/// A running `harbourd` on a temp dir. Stopped (gracefully, then by force) when dropped.
#[derive(Debug)]
pub struct Daemon {
    pub root: TempDir,
    pub socket: PathBuf,
    pub data_dir: PathBuf,
    pub config_dir: PathBuf,
    /// The `harbourd` binary this daemon runs.
    pub bin: PathBuf,
    /// Extra environment for the daemon (`DOCKER_HOST`, say).
    pub env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Daemon {
    /// A daemon with default settings.
    pub fn start() -> Self {
        Self::start_with("")
    }

    /// A daemon whose harbourd.toml is `config`.
    pub fn start_with(config: &str) -> Self {
        Self::start_with_bin(&bin("harbourd"), config)
    }

    /// A daemon running the `harbourd` binary at `bin` (a release build, say), whose
    /// harbourd.toml is `config`.
    pub fn start_with_bin(bin: &Path, config: &str) -> Self {
        Self::start_full(bin, config, &[])
    }

    /// A daemon whose harbourd.toml is `config`, with extra environment variables.
    pub fn start_with_env(config: &str, env: &[(&str, &str)]) -> Self {
        Self::start_full(&bin("harbourd"), config, env)
    }

    fn start_full(bin: &Path, config: &str, env: &[(&str, &str)]) -> Self {
        let mut daemon = Self::prepare_full(bin, config, env);
        daemon.spawn();
        daemon
    }

    /// A daemon laid out on a temp dir with `config` as its harbourd.toml but not started,
    /// for tests that change its paths or permissions first; [`Daemon::spawn`] starts it.
    pub fn prepare(config: &str) -> Self {
        Self::prepare_full(&bin("harbourd"), config, &[])
    }

    fn prepare_full(bin: &Path, config: &str, env: &[(&str, &str)]) -> Self {
        let root = tempfile::Builder::new()
            .prefix("harbour-test-")
            .tempdir()
            .expect("temp dir");
        // The socket's directory must be private, as the daemon checks.
        fs::set_permissions(root.path(), fs::Permissions::from_mode(0o700)).expect("chmod");
        let config_dir = root.path().join("config");
        fs::create_dir_all(&config_dir).expect("config dir");
        fs::write(config_dir.join("harbourd.toml"), config).expect("config");
        Self {
            socket: root.path().join("harbourd.sock"),
            data_dir: root.path().join("data"),
            config_dir,
            bin: bin.to_owned(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            root,
            child: None,
        }
    }

    /// The command that starts this daemon (for tests that want to see it fail).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.env("HARBOUR_SOCKET", &self.socket)
            .env("HARBOUR_DATA_DIR", &self.data_dir)
            .env("HARBOUR_CONFIG_DIR", &self.config_dir)
            .env("RUST_LOG", "info,tarpc=warn")
            // A daemon gets a Spark runtime only when its config names one (tests/spark.rs).
            .env_remove("HARBOUR_RUNTIME_DIR")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        cmd
    }

    /// Starts the daemon (again) on the same dirs and waits until it answers.
    pub fn spawn(&mut self) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.path().join("harbourd.log"))
            .expect("daemon log");
        let child = self
            .command()
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("start harbourd");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::os::unix::net::UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "harbourd exited with {status} before it was ready; its log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "harbourd was not ready within 20 s; its log:\n{}",
            self.log()
        );
    }

    /// The shell command that runs the real `harbour-tui` against this daemon in a tmux pane
    /// (its config dir, a log file in the temp dir), prints `HARBOUR-TUI-EXIT=<code>` when it
    /// exits, and keeps the pane open a minute for a test to read.
    pub fn tui_command(&self) -> String {
        format!(
            "env TERM=xterm-256color HARBOUR_CONFIG_DIR={cfg} {tui} --socket {sock} --log-file \
             {log}; echo HARBOUR-TUI-EXIT=$?; sleep 60",
            cfg = self.config_dir.display(),
            tui = bin("harbour-tui").display(),
            sock = self.socket.display(),
            log = self.root.path().join("tui.log").display(),
        )
    }

    /// What the daemon wrote to stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.root.path().join("harbourd.log")).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("daemon running").id()
    }

    pub async fn client(&self) -> Client {
        client::connect(&self.socket)
            .await
            .expect("connect to harbourd")
    }

    /// `kill -9`: the daemon dies mid-work, as in a crash.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits for the daemon to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("daemon running");
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "harbourd did not stop within 30 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.is_some() {
            // Graceful first, so the daemon stops its runs and no test leaves processes behind.
            let mut child = self.child.take().expect("checked");
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(15);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Submits a one-off run of `spec`.
pub async fn submit(client: &Client, spec: JobSpec) -> RunId {
    client
        .rpc
        .submit(client::ctx(), spec)
        .await
        .flat()
        .expect("submit")
        .id
}

/// Everything a follower gets reading `stream` from 0 until the run is complete.
pub async fn follow(client: &Client, run: RunId, stream: LogStream) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let chunk = client
            .rpc
            .read_log(
                client::long_poll_ctx(2_000),
                run,
                stream,
                out.len() as u64,
                1 << 20,
                2_000,
            )
            .await
            .flat()
            .expect("read_log");
        assert_eq!(chunk.offset, out.len() as u64);
        out.extend_from_slice(&chunk.data);
        if chunk.complete {
            return out;
        }
    }
}

/// Polls a run until `done` says so, or panics after `within`.
pub async fn wait_run(
    client: &Client,
    id: RunId,
    within: Duration,
    done: impl Fn(&Run) -> bool,
) -> RunDetail {
    let deadline = Instant::now() + within;
    loop {
        let detail = client
            .rpc
            .get_run(client::ctx(), id)
            .await
            .flat()
            .expect("get_run");
        if done(&detail.run) {
            return detail;
        }
        assert!(
            Instant::now() < deadline,
            "run {id} did not reach the expected state within {within:?}; it is {} ({})",
            detail.run.state_label(),
            detail.run.state_message
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The run as the daemon has it now.
pub async fn run_detail(client: &Client, id: RunId) -> RunDetail {
    client
        .rpc
        .get_run(client::ctx(), id)
        .await
        .flat()
        .expect("get_run")
}

/// Waits until the run has terminated.
pub async fn wait_terminated(client: &Client, id: RunId, within: Duration) -> RunDetail {
    wait_run(client, id, within, |r| !r.is_active()).await
}

/// Processes (pid) whose process group is `pgid`.
pub fn processes_in_group(pgid: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                return false;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // Zombies waiting to be reaped by init are dead already.
            fields.first() != Some(&"Z")
                && fields.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid)
        })
        .collect()
}
