//! harbour-tui benchmarks (issue 3), recorded in docs/benchmarks.md:
//!
//! - **render**: frame render time at 200x50 (`ui::render` into ratatui's `TestBackend`, which
//!   includes building the widgets and diffing into the buffer but not writing escape codes to
//!   a tty) on the Runs screen with 10,000 runs (selection moving, a run changing state every
//!   10 frames) and on the Logs screen following a run that prints 10,000 lines/s (167 lines
//!   arrive before each frame, as at 60 frames/s). `update` time for those messages is
//!   reported beside it.
//! - **memory**: 1 GiB of log lines fed through the log view in follow mode (1 MiB chunks,
//!   a frame drawn every 16 chunks): lines and bytes held, and the process's VmRSS/VmHWM.
//! - **latency**: event to screen. A real `harbourd` on a temp socket; runs of `true` are
//!   submitted 100 ms apart; a task long-polls `events` exactly as the TUI's supervisor does and
//!   hands batches to the app loop, which updates and draws with the TUI's 16 ms frame
//!   coalescing. Latency = the frame showing the run's new state drawn - the event's `at_ms`.
//! - **follow**: the real `harbour-tui` in tmux follows a real run writing 1 GiB of 80-byte
//!   lines: its VmRSS/VmHWM, and when the log's last line reached the screen.
//! - **idle**: the real `harbour-tui` in a tmux pane on the Dashboard for 60 s against an idle
//!   daemon: utime + stime from `/proc/PID/stat`, VmRSS/VmHWM.
//!
//! Run: `cargo build --release --bins -p harbourd -p harbour-tui && cargo bench -p harbour-tui
//! --bench tui`. Knobs: `HARBOUR_BENCH_ONLY` (comma-separated: render, memory, latency, follow, idle),
//! `HARBOUR_BENCH_IDLE_SECS` (60), `HARBOUR_BENCH_WRITE=1` rewrites this benchmark's section of
//! docs/benchmarks.md. Timings are reported, never pass/fail.

// A benchmark that cannot measure stops and says why.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::cast_precision_loss)]

// The other benchmarks' helper for their sections of docs/benchmarks.md (harbour-tests
// depends on this crate, so it is shared by path rather than as a dependency).
#[path = "../../tests/support/bench_doc.rs"]
mod bench_doc;

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use harbour_shared::{
    Event, EventBatch, EventKind, JobId, JobKind, JobSource, JobSpec, Lifecycle, LogChunk,
    LogStream, Run, RunId, RunResult, Trigger,
};
use harbour_tui::client::{self, Flatten as _};
use harbour_tui::tui::action::Screen;
use harbour_tui::tui::app::{App, Msg};
use harbour_tui::tui::config::Config;
use harbour_tui::tui::logs::ChunkKind;
use harbour_tui::tui::theme::ColorMode;
use harbour_tui::tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const COMMAND: &str = "cargo build --release --bins -p harbourd -p harbour-tui && cargo bench -p harbour-tui --bench tui";

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

fn stats(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    (
        pct(&v, 0.5),
        pct(&v, 0.99),
        *v.last().unwrap_or(&Duration::ZERO),
    )
}

/// Nanoseconds this thread has spent on a CPU (`CLOCK_THREAD_CPUTIME_ID`), so that time spent
/// preempted by other work on a busy machine is not counted as render time.
fn thread_cpu_ns() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID).map_or(0, |t| {
        u64::try_from(t.tv_sec()).unwrap_or(0) * 1_000_000_000
            + u64::try_from(t.tv_nsec()).unwrap_or(0)
    })
}

/// Draws one frame; returns (wall, on-CPU) time.
fn timed_draw(term: &mut Terminal<TestBackend>, a: &App) -> (Duration, Duration) {
    let c0 = thread_cpu_ns();
    let t = Instant::now();
    term.draw(|f| ui::render(a, f)).unwrap();
    let wall = t.elapsed();
    (
        wall,
        Duration::from_nanos(thread_cpu_ns().saturating_sub(c0)),
    )
}

fn run(id: i64, now: i64) -> Run {
    let (lifecycle, result) = match id % 5 {
        0 => (Lifecycle::Running, None),
        1 => (Lifecycle::Terminated, Some(RunResult::Succeeded)),
        2 => (
            Lifecycle::Terminated,
            Some(RunResult::Failed { exit_code: Some(1) }),
        ),
        3 => (Lifecycle::Queued, None),
        _ => (Lifecycle::Terminated, Some(RunResult::Cancelled)),
    };
    Run {
        id: RunId(id),
        job_id: JobId(id % 40),
        job_name: format!(
            "job-{}-{}",
            id % 40,
            ["etl", "report", "backfill", "train"][(id % 4) as usize]
        ),
        kind: JobKind::ALL[(id % 3) as usize],
        trigger: Trigger::Schedule,
        attempt: 1,
        parent: None,
        lifecycle,
        result,
        state_message: format!("state message of run {id}"),
        queued_ms: now - 3_600_000 + id,
        started_ms: Some(now - 3_500_000 + id),
        ended_ms: result.map(|_| now - 3_000_000 + id),
        retry_at_ms: None,
        pid: None,
        exit_code: None,
        stdout_bytes: 0,
        stderr_bytes: 0,
        spark: None,
    }
}

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn app(w: u16, h: u16) -> App {
    let mut a = App::new(
        &Config::defaults(ColorMode::Truecolor),
        PathBuf::from("/tmp"),
        now_ms(),
    );
    a.update(Msg::Resize(w, h));
    a.update(Msg::Connected {
        version: "bench".into(),
        socket: "/bench".into(),
    });
    a
}

fn bench_render(out: &mut String) {
    let now = now_ms();
    let mut a = app(200, 50);
    a.update(Msg::Runs(Ok((1..=10_000)
        .rev()
        .map(|i| run(i, now))
        .collect())));
    assert_eq!(a.runs.view.len(), 10_000);
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
    let (mut render, mut update, mut render_cpu) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..3_000i64 {
        let t = Instant::now();
        if i % 10 == 0 {
            let mut r = run(10_000 - (i % 500), now);
            r.lifecycle = Lifecycle::Terminated;
            r.result = Some(RunResult::Succeeded);
            a.update(Msg::Events(EventBatch {
                events: vec![Event {
                    seq: i as u64,
                    at_ms: now,
                    kind: EventKind::RunChanged(r),
                }],
                last_seq: i as u64,
                lost: None,
            }));
        } else {
            a.update(key(if (i / 200) % 2 == 0 { 'j' } else { 'k' }));
        }
        update.push(t.elapsed());
        let (wall, cpu) = timed_draw(&mut term, &a);
        render.push(wall);
        render_cpu.push(cpu);
    }
    let (rp50, rp99, rmax) = stats(render);
    let (_, cp99, _) = stats(std::mem::take(&mut render_cpu));
    let (up50, up99, umax) = stats(update);
    writeln!(
        out,
        "| Runs, 10,000 runs, 200x50 | {} | {} | {} | {} | {} | {} | {} |",
        ms(rp50),
        ms(rp99),
        ms(cp99),
        ms(rmax),
        ms(up50),
        ms(up99),
        ms(umax)
    )
    .unwrap();

    // Logs: a run printing 10,000 lines/s, 167 lines per frame.
    let mut a = app(200, 50);
    a.update(Msg::Runs(Ok(vec![run(10, now)])));
    a.update(key('l'));
    assert_eq!(a.screen, Screen::Logs);
    let epoch = a.logs.as_ref().unwrap().epoch;
    let (mut render, mut update, mut render_cpu) = (Vec::new(), Vec::new(), Vec::new());
    let mut off = 0u64;
    let mut n = 0u64;
    for _ in 0..3_000 {
        let mut chunk = String::new();
        for _ in 0..167 {
            n += 1;
            writeln!(chunk, "2026-11-21T10:00:00.{:03}Z INFO worker-{} processed batch {n} rows=1000 bytes=65536 elapsed=12ms", n % 1000, n % 8).unwrap();
        }
        let len = chunk.len() as u64;
        let t = Instant::now();
        a.update(Msg::LogChunk {
            epoch,
            stream: LogStream::Stdout,
            kind: ChunkKind::Append,
            chunk: LogChunk {
                offset: off,
                data: chunk.into_bytes(),
                size: off + len,
                complete: false,
                marks: Vec::new(),
            },
            at_ms: now,
        });
        update.push(t.elapsed());
        off += len;
        let (wall, cpu) = timed_draw(&mut term, &a);
        render.push(wall);
        render_cpu.push(cpu);
    }
    let v = a.logs.as_ref().unwrap();
    assert_eq!(
        v.shown(v.cursor)
            .map(|l| l.text.contains(&format!("batch {n} "))),
        Some(true),
        "the last line is on screen"
    );
    let (rp50, rp99, rmax) = stats(render);
    let (_, cp99, _) = stats(std::mem::take(&mut render_cpu));
    let (up50, up99, umax) = stats(update);
    writeln!(out, "| Logs, following 10,000 lines/s (167 lines/frame), 200x50 | {} | {} | {} | {} | {} | {} | {} |", ms(rp50), ms(rp99), ms(cp99), ms(rmax), ms(up50), ms(up99), ms(umax)).unwrap();
    // And with search highlighting, wrapping and timestamps on.
    a.update(key('w'));
    a.update(key('t'));
    if let Some(v) = a.logs.as_mut() {
        v.search = Some("batch".into());
    }
    let (mut render, mut render_cpu) = (Vec::new(), Vec::new());
    for _ in 0..1_000 {
        let (wall, cpu) = timed_draw(&mut term, &a);
        render.push(wall);
        render_cpu.push(cpu);
    }
    let (rp50, rp99, rmax) = stats(render);
    let (_, cp99, _) = stats(render_cpu);
    writeln!(
        out,
        "| Logs, same, with wrap + timestamps + search highlight | {} | {} | {} | {} | - | - | - |",
        ms(rp50),
        ms(rp99),
        ms(cp99),
        ms(rmax)
    )
    .unwrap();
}

fn proc_status(pid: u32, field: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn bench_memory(out: &mut String) {
    let me = std::process::id();
    let rss0 = proc_status(me, "VmRSS:");
    let now = now_ms();
    let mut a = app(200, 50);
    a.update(Msg::Runs(Ok(vec![run(10, now)])));
    a.update(key('l'));
    let epoch = a.logs.as_ref().unwrap().epoch;
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
    let line = "2026-11-21T10:00:00.000Z INFO worker-3 processed batch rows=1000 bytes=65536 elapsed=12ms padding=xxxxxxxx\n";
    let mib: Vec<u8> = line
        .as_bytes()
        .iter()
        .copied()
        .cycle()
        .take(1 << 20)
        .collect();
    let total: u64 = 1 << 30;
    let mut off = 0u64;
    let mut i = 0;
    let mut peak_held = 0;
    let t = Instant::now();
    while off < total {
        a.update(Msg::LogChunk {
            epoch,
            stream: LogStream::Stdout,
            kind: ChunkKind::Append,
            chunk: LogChunk {
                offset: off,
                data: mib.clone(),
                size: off + mib.len() as u64,
                complete: false,
                marks: Vec::new(),
            },
            at_ms: now,
        });
        off += mib.len() as u64;
        i += 1;
        peak_held = peak_held.max(a.logs.as_ref().unwrap().held_bytes());
        if i % 16 == 0 {
            term.draw(|f| ui::render(&a, f)).unwrap();
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let v = a.logs.as_ref().unwrap();
    writeln!(
        out,
        "| 1 GiB followed in 1 MiB chunks | {} lines ({:.1} MiB of text) | {:.1} MiB | {:.1} MiB -> {:.1} MiB | {:.1} MiB | {:.0} MiB/s ({:.2} M lines/s) |",
        v.shown_len(),
        v.held_bytes() as f64 / 1_048_576.0,
        peak_held as f64 / 1_048_576.0,
        rss0 as f64 / 1024.0,
        proc_status(me, "VmRSS:") as f64 / 1024.0,
        proc_status(me, "VmHWM:") as f64 / 1024.0,
        1024.0 / secs,
        (total as f64 / line.len() as f64) / secs / 1e6,
    )
    .unwrap();
}

fn bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HARBOUR_BIN_DIR") {
        return PathBuf::from(d);
    }
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_owned()
}

struct Daemon {
    child: Child,
    socket: PathBuf,
    _root: tempfile::TempDir,
}

impl Daemon {
    fn start() -> Self {
        let root = tempfile::Builder::new()
            .prefix("harbour-tui-bench-")
            .tempdir()
            .unwrap();
        fs::set_permissions(root.path(), fs::Permissions::from_mode(0o700)).unwrap();
        fs::create_dir_all(root.path().join("config")).unwrap();
        let socket = root.path().join("harbourd.sock");
        let bin = bin_dir().join("harbourd");
        assert!(bin.is_file(), "{} is missing: {COMMAND}", bin.display());
        let child = Command::new(bin)
            .env("HARBOUR_SOCKET", &socket)
            .env("HARBOUR_DATA_DIR", root.path().join("data"))
            .env("HARBOUR_CONFIG_DIR", root.path().join("config"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            assert!(Instant::now() < deadline, "harbourd did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            socket,
            _root: root,
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bench_latency(out: &mut String) {
    let daemon = Daemon::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let lat = rt.block_on(async {
        let c = client::connect(&daemon.socket).await.unwrap();
        let mut after = c
            .rpc
            .events(client::long_poll_ctx(0), 0, 0)
            .await
            .flat()
            .unwrap()
            .last_seq;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<EventBatch>(256);
        let poller = {
            let c = c.clone();
            tokio::spawn(async move {
                loop {
                    let Ok(b) = c
                        .rpc
                        .events(client::long_poll_ctx(25_000), after, 25_000)
                        .await
                        .flat()
                    else {
                        return;
                    };
                    after = b.last_seq;
                    if !b.events.is_empty() && tx.send(b).await.is_err() {
                        return;
                    }
                }
            })
        };
        let submitter = {
            let c = c.clone();
            tokio::spawn(async move {
                for _ in 0..100 {
                    c.rpc
                        .submit(
                            client::ctx(),
                            JobSpec::new(JobKind::Shell, JobSource::Code("true".into())),
                        )
                        .await
                        .flat()
                        .unwrap();
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        let mut a = app(200, 50);
        a.update(Msg::Runs(Ok(Vec::new())));
        let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
        let frame = Duration::from_millis(16);
        let mut last_draw = Instant::now() - frame;
        let mut pending: Vec<(RunId, &'static str, i64)> = Vec::new();
        let mut lat = Vec::new();
        let mut terminated = 0;
        while terminated < 100 {
            let wait = (last_draw + frame).saturating_duration_since(Instant::now());
            let got = if pending.is_empty() {
                rx.recv().await.map(Some)
            } else {
                tokio::time::timeout(wait, rx.recv())
                    .await
                    .ok()
                    .flatten()
                    .map(Some)
                    .or(Some(None))
            };
            let Some(batch) = got else { break };
            if let Some(b) = batch {
                for ev in &b.events {
                    if let EventKind::RunChanged(r) = &ev.kind {
                        pending.push((r.id, r.state_label(), ev.at_ms));
                        if !r.is_active() {
                            terminated += 1;
                        }
                    }
                }
                a.update(Msg::Events(b));
            }
            if last_draw.elapsed() >= frame && !pending.is_empty() {
                let completed = term.draw(|f| ui::render(&a, f)).unwrap();
                let drawn = now_ms();
                last_draw = Instant::now();
                let screen: String = completed
                    .buffer
                    .content()
                    .iter()
                    .map(|c| c.symbol())
                    .collect();
                for (id, state, at) in pending.drain(..) {
                    // Only a state still current is on screen; superseded ones count as shown
                    // when their successor is.
                    if a.runs.get(id).map(Run::state_label) == Some(state) {
                        assert!(screen.contains(state), "run {id} {state} not on screen");
                    }
                    lat.push(Duration::from_millis(
                        u64::try_from(drawn - at).unwrap_or(0),
                    ));
                }
            }
        }
        poller.abort();
        submitter.await.unwrap();
        lat
    });
    let n = lat.len();
    let (p50, p99, max) = stats(lat);
    writeln!(
        out,
        "| run state change -> frame showing it ({n} events, 100 runs) | {} | {} | {} |",
        ms(p50),
        ms(p99),
        ms(max)
    )
    .unwrap();
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat; rest starts at field 3.
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

fn bench_idle(out: &mut String) {
    if !Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        writeln!(out, "| (tmux is not installed: idle not measured) | | | |").unwrap();
        return;
    }
    let secs: u64 = std::env::var("HARBOUR_BENCH_IDLE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let daemon = Daemon::start();
    let tui = bin_dir().join("harbour-tui");
    assert!(tui.is_file(), "{} is missing: {COMMAND}", tui.display());
    let server = format!("harbour-bench-{}", std::process::id());
    let cmd = format!(
        "exec env TERM=xterm-256color {} --socket {} --log-file /dev/null",
        tui.display(),
        daemon.socket.display()
    );
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .args(["-L", &server])
            .args(args)
            .output()
            .unwrap()
    };
    tmux(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "b",
        "-x",
        "200",
        "-y",
        "50",
        &cmd,
    ]);
    std::thread::sleep(Duration::from_secs(2));
    tmux(&["send-keys", "-t", "b", "1"]);
    std::thread::sleep(Duration::from_secs(1));
    let pid: u32 =
        String::from_utf8_lossy(&tmux(&["display-message", "-p", "-t", "b", "#{pane_pid}"]).stdout)
            .trim()
            .parse()
            .unwrap();
    let screen =
        String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", "b"]).stdout).into_owned();
    assert!(
        screen.contains("Overview"),
        "not on the dashboard:\n{screen}"
    );
    let t0 = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(secs));
    let t1 = cpu_ticks(pid);
    // Linux reports these in USER_HZ, 100 per second.
    let cpu = (t1 - t0) as f64 / 100.0 / secs as f64 * 100.0;
    writeln!(
        out,
        "| Dashboard, idle daemon, {secs} s, 200x50 | {cpu:.2}% | {:.1} MiB | {:.1} MiB |",
        proc_status(pid, "VmRSS:") as f64 / 1024.0,
        proc_status(pid, "VmHWM:") as f64 / 1024.0
    )
    .unwrap();
    tmux(&["kill-server"]);
}

/// The real `harbour-tui` in tmux follows a real run that writes 1 GiB to stdout: its peak
/// memory, and how long after the run ended the last line was on screen.
fn bench_follow_real(out: &mut String) {
    if !Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        writeln!(out, "| (tmux is not installed: not measured) | | | |").unwrap();
        return;
    }
    let daemon = Daemon::start();
    let tui = bin_dir().join("harbour-tui");
    assert!(tui.is_file(), "{} is missing: {COMMAND}", tui.display());
    let server = format!("harbour-bench-follow-{}", std::process::id());
    let cmd = format!(
        "exec env TERM=xterm-256color {} --socket {} --log-file /dev/null",
        tui.display(),
        daemon.socket.display()
    );
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .args(["-L", &server])
            .args(args)
            .output()
            .unwrap()
    };
    let screen =
        || String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", "b"]).stdout).into_owned();
    tmux(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "b",
        "-x",
        "200",
        "-y",
        "50",
        &cmd,
    ]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !screen().contains("Runs (0)") {
        assert!(
            Instant::now() < deadline,
            "harbour-tui did not come up:\n{}",
            screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid: u32 =
        String::from_utf8_lossy(&tmux(&["display-message", "-p", "-t", "b", "#{pane_pid}"]).stdout)
            .trim()
            .parse()
            .unwrap();
    let rss0 = proc_status(pid, "VmRSS:");
    // 80-byte lines, 1 GiB, then a marker.
    let code = "yes 0123456789012345678901234567890123456789012345678901234567890123456789012345678 | head -c 1073741824; echo; echo END-OF-LOG";
    tmux(&["send-keys", "-t", "b", "s"]);
    std::thread::sleep(Duration::from_millis(300));
    tmux(&["send-keys", "-t", "b", "-l", code]);
    tmux(&["send-keys", "-t", "b", "Enter"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !screen().contains("Runs (1)") {
        assert!(
            Instant::now() < deadline,
            "the run did not show up:\n{}",
            screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    tmux(&["send-keys", "-t", "b", "l"]);
    let t = Instant::now();
    let mut ended = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let s = screen();
        if ended.is_none() && s.contains("succeeded") {
            ended = Some(t.elapsed());
        }
        if s.contains("END-OF-LOG") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the end of the log never showed:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let shown = t.elapsed();
    let hwm = proc_status(pid, "VmHWM:");
    let rss = proc_status(pid, "VmRSS:");
    writeln!(
        out,
        "| 1 GiB of 80-byte lines (`yes \\| head -c 1G`), followed from the start | {:.1} MiB -> {:.1} MiB | {:.1} MiB | run ended after {:.1} s; its last line on screen after {:.1} s |",
        rss0 as f64 / 1024.0,
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
        ended.unwrap_or(shown).as_secs_f64(),
        shown.as_secs_f64(),
    )
    .unwrap();
    tmux(&["kill-server"]);
}

fn main() {
    let only = std::env::var("HARBOUR_BENCH_ONLY")
        .unwrap_or_else(|_| "render,memory,latency,follow,idle".into());
    let on = |s: &str| only.split(',').any(|x| x.trim() == s);
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let mut out = format!(
        "Measured {} on {} ({} cores), `{profile}` build, with `{COMMAND}`.\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(
                |c| c.lines().find(|l| l.starts_with("model name")).map(|l| l
                    .split(':')
                    .nth(1)
                    .unwrap_or("")
                    .trim()
                    .to_owned())
            )
            .unwrap_or_default(),
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
    );
    let load = bench_doc::load_average;
    let load_before = load();
    if on("render") {
        out.push_str("\n| frame | render p50 ms | render p99 ms | render p99 on-CPU ms | render max ms | update p50 ms | update p99 ms | update max ms |\n|---|---|---|---|---|---|---|---|\n");
        bench_render(&mut out);
    }
    if on("memory") {
        out.push_str("\n| log | held at the end | most held | VmRSS before -> after | VmHWM | throughput |\n|---|---|---|---|---|---|\n");
        bench_memory(&mut out);
    }
    if on("latency") {
        out.push_str("\n| event to screen | p50 ms | p99 ms | max ms |\n|---|---|---|---|\n");
        bench_latency(&mut out);
    }
    if on("follow") {
        out.push_str("\n| real binary follows a real run | VmRSS before -> after | VmHWM | time |\n|---|---|---|---|\n");
        bench_follow_real(&mut out);
    }
    if on("idle") {
        out.push_str("\n| idle | CPU (of one core) | VmRSS | VmHWM |\n|---|---|---|---|\n");
        bench_idle(&mut out);
    }
    writeln!(
        out,
        "\nLoad average (1, 5, 15 min) before: {load_before}; after: {}. Wall-clock percentiles on a \
         loaded machine include time the frame was preempted; the on-CPU column does not.",
        load()
    )
    .unwrap();
    println!("{out}");
    if bench_doc::requested() {
        let path = bench_doc::write("tui", "## Issue 3: harbour-tui", &out).unwrap();
        eprintln!("wrote {}", path.display());
    }
}
