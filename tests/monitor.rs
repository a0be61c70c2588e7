//! Monitoring end to end against the real `harbourd`: metrics sampled and kept across a
//! restart, a run's process tree costed, health checks against real local servers (an HTTP
//! server that flips to 500, a TCP port that closes) seen through the API, events, the daemon
//! log and `harbour health`'s exit code; Docker unavailable, or going away and coming back; and
//! real containers through the engine, from an image the test builds with `docker import` of
//! Debian's busybox-static.
//!
//! With no engine running the container test is skipped, except in CI (`CI=true`), where it
//! fails: CI's machine has an engine, so its absence is a defect to see, not to hide.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{Read as _, Write as _};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use harbour_shared::{
    ContainerAction, Error, EventKind, HealthReport, HealthStatus, JobKind, JobSource, JobSpec,
};
use harbour_tests::tmux::{self, Tmux};
use harbour_tests::{Daemon, bin, run_detail};
use harbour_tui::client::{self, Client, ClientError, Flatten as _};

const LONG: Duration = Duration::from_secs(30);

fn harbour(daemon: &Daemon, args: &[&str]) -> Output {
    Command::new(bin("harbour"))
        .env("HARBOUR_SOCKET", &daemon.socket)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run harbour")
}

/// Polls `check` every 50 ms until it gives a value, or panics with `what` after `within`.
async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const FAST_METRICS: &str = "[metrics]\ninterval = \"250ms\"\nflush = \"1s\"\n";

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_sampled_costed_per_run_and_kept_across_a_restart() {
    let mut daemon = Daemon::start_with(FAST_METRICS);
    let client = daemon.client().await;
    let now = eventually(LONG, "a first sample", || async {
        client.rpc.metrics_now(client::ctx()).await.flat().ok()
    })
    .await;
    assert!(now.memory_total_bytes > 0 && !now.cores.is_empty());
    assert!(now.harbourd.rss_bytes > 0);

    // A run's process group shows up with what it costs (one of its processes spins).
    let spec = JobSpec::new(
        JobKind::Shell,
        JobSource::Code("sleep 30 & (while :; do :; done) & wait".into()),
    );
    let run = client
        .rpc
        .submit(client::ctx(), spec)
        .await
        .flat()
        .unwrap()
        .id;
    let cost = eventually(LONG, "the run's cost", || async {
        let m = client.rpc.metrics_now(client::ctx()).await.flat().ok()?;
        m.runs
            .into_iter()
            .find(|r| r.run == run && r.cost.processes >= 3)
    })
    .await;
    assert!(cost.cost.rss_bytes > 0, "{cost:?}");
    // ... and its details add up what it used.
    let used = eventually(LONG, "the run's usage", || async {
        let d = client.rpc.get_run(client::ctx(), run).await.flat().ok()?;
        (d.usage.cpu_ms >= 500 && d.usage.now.is_some()).then_some(d.usage)
    })
    .await;
    assert!(used.peak_rss_bytes > 0, "{used:?}");
    client
        .rpc
        .kill_run(client::ctx(), run)
        .await
        .flat()
        .unwrap();

    // History of the last minute, at the sampling resolution.
    let series = vec!["cpu".to_owned(), "mem.used".to_owned()];
    let before = eventually(LONG, "a few seconds of history", || async {
        let h = client
            .rpc
            .metrics_history(client::ctx(), series.clone(), 60_000, 0)
            .await
            .flat()
            .ok()?;
        (h[1].values.iter().flatten().count() >= 4).then_some(h)
    })
    .await;
    assert_eq!(before[0].resolution_ms, 250);
    let recorded_before: Vec<i64> = before[1].points().map(|(t, _)| t).collect();
    let names = client
        .rpc
        .metrics_series(client::ctx())
        .await
        .flat()
        .unwrap();
    for name in [
        "cpu",
        "cpu.0",
        "mem.used",
        "load.1",
        "procs",
        "harbourd.rss",
    ] {
        assert!(
            names.iter().any(|n| n == name),
            "{name} missing from {names:?}"
        );
    }

    // A restart keeps what was recorded (written at shutdown at the latest).
    drop(client);
    assert!(daemon.terminate().success());
    daemon.spawn();
    let client = daemon.client().await;
    let after = client
        .rpc
        .metrics_history(client::ctx(), series.clone(), 60_000, 0)
        .await
        .flat()
        .unwrap();
    let recorded_after: Vec<i64> = after[1].points().map(|(t, _)| t).collect();
    let kept = run_detail(&client, run).await.usage;
    assert!(
        kept.cpu_ms >= used.cpu_ms && kept.peak_rss_bytes >= used.peak_rss_bytes,
        "the run's usage was lost across the restart: {kept:?} < {used:?}"
    );
    assert_eq!(kept.now, None, "an ended run has no usage now");
    for t in &recorded_before {
        assert!(
            recorded_after.contains(t),
            "the step at {t} was lost across the restart"
        );
    }

    // Bad requests are refused with the field named.
    let err = client
        .rpc
        .metrics_history(client::ctx(), vec![], 60_000, 0)
        .await
        .flat()
        .unwrap_err();
    assert!(matches!(err, ClientError::Api(Error::Invalid { ref field, .. }) if field == "series"));

    // The CLI prints the same.
    let out = harbour(&daemon, &["metrics", "history", "cpu", "--window", "1m"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("TIME"));
    // A daemon just started has no sample for a moment: that is an error, then it is there.
    let now: harbour_shared::MetricsNow = eventually(LONG, "metrics --json", || async {
        let out = harbour(&daemon, &["metrics", "--json"]);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).unwrap())
    })
    .await;
    assert!(now.memory_total_bytes > 0);
}

/// A real HTTP server on loopback answering every request with the status in `code`.
fn http_server(code: Arc<AtomicU16>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let status = code.load(Ordering::SeqCst);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
            );
        }
    });
    format!("http://{addr}/healthz")
}

fn health_json(daemon: &Daemon) -> (i32, HealthReport) {
    let out = harbour(daemon, &["health", "--json"]);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    (out.status.code().unwrap(), report)
}

fn status_of(report: &HealthReport, name: &str) -> HealthStatus {
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .map(|c| c.status)
        .unwrap_or_else(|| panic!("no check {name} in {report:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn health_checks_follow_real_servers_and_harbour_health_exits_accordingly() {
    let code = Arc::new(AtomicU16::new(200));
    let url = http_server(code.clone());
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = tcp.local_addr().unwrap().to_string();
    let config = format!(
        "[health]\nbuiltin_interval = \"200ms\"\n\
         [[health.checks]]\nname = \"web\"\nkind = \"http\"\nurl = \"{url}\"\n\
         interval = \"200ms\"\nfall = 2\n\
         [[health.checks]]\nname = \"db\"\nkind = \"tcp\"\naddress = \"{address}\"\n\
         interval = \"200ms\"\nfall = 1\n"
    );
    let daemon = Daemon::start_with(&config);
    let client = daemon.client().await;
    let start = client
        .rpc
        .events(client::ctx(), 0, 0)
        .await
        .flat()
        .unwrap()
        .last_seq;

    let report = eventually(LONG, "everything up", || async {
        let (code, report) = health_json(&daemon);
        let up = report.checks.iter().all(|c| c.status == HealthStatus::Up);
        (up && code == 0).then_some(report)
    })
    .await;
    let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "harbourd.store",
            "harbourd.runs",
            "harbourd.kernels",
            "web",
            "db"
        ]
    );

    // The server starts failing: down after two failures, and harbour health says so.
    code.store(500, Ordering::SeqCst);
    let report = eventually(LONG, "web down", || async {
        let (code, report) = health_json(&daemon);
        (code == 1 && status_of(&report, "web") == HealthStatus::Down).then_some(report)
    })
    .await;
    let web = report.checks.iter().find(|c| c.name == "web").unwrap();
    assert_eq!(web.message, "HTTP 500 (expected 2xx)");
    let t = &report.transitions[0];
    assert_eq!(
        (t.check.as_str(), t.from, t.to),
        ("web", HealthStatus::Up, HealthStatus::Down)
    );
    let text = harbour(&daemon, &["health"]);
    assert_eq!(text.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&text.stdout).contains("DOWN"));

    // The port closes: down at the first failure.
    drop(tcp);
    eventually(LONG, "db down", || async {
        let (_, report) = health_json(&daemon);
        (status_of(&report, "db") == HealthStatus::Down).then_some(())
    })
    .await;

    // The server recovers; db stays down, so harbour health still fails.
    code.store(200, Ordering::SeqCst);
    eventually(LONG, "web up again", || async {
        let (code, report) = health_json(&daemon);
        (code == 1 && status_of(&report, "web") == HealthStatus::Up).then_some(())
    })
    .await;

    // Each transition was an event, in order.
    let batch = client
        .rpc
        .events(client::ctx(), start, 0)
        .await
        .flat()
        .unwrap();
    let changes: Vec<(String, HealthStatus)> = batch
        .events
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::HealthChanged(t) if t.check == "web" || t.check == "db" => {
                Some((t.check, t.to))
            }
            _ => None,
        })
        .collect();
    let web: Vec<HealthStatus> = changes
        .iter()
        .filter(|(c, _)| c == "web")
        .map(|(_, s)| *s)
        .collect();
    // The first check can pass before `start` was read, so its Up may come before the batch.
    let (up, down) = (HealthStatus::Up, HealthStatus::Down);
    assert!(
        web == [up, down, up] || web == [down, up],
        "web's transitions after the start: {web:?}"
    );
    assert!(changes.contains(&("db".to_owned(), HealthStatus::Down)));
    // And in the daemon log.
    assert!(
        daemon.log().contains("health check web is down"),
        "{}",
        daemon.log()
    );
    // The dashboard's summary counts them.
    let dash = client.rpc.dashboard(client::ctx()).await.flat().unwrap();
    assert_eq!(dash.health.down_checks, ["db"]);
    assert!(dash.host.is_some() || dash.health.up >= 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_docker_containers_are_unavailable_with_the_reason_and_nothing_breaks() {
    let daemon = Daemon::start_with_env(
        "",
        &[(
            "DOCKER_HOST",
            "unix:///nonexistent/harbour-test/docker.sock",
        )],
    );
    let client = daemon.client().await;
    let err = client
        .rpc
        .containers(client::ctx(), true)
        .await
        .flat()
        .unwrap_err();
    let ClientError::Api(err @ Error::Unavailable { .. }) = err else {
        panic!("expected Unavailable, got {err:?}")
    };
    let message = err.to_string();
    assert!(
        message.starts_with("Docker unavailable: no engine answers at unix:///nonexistent/"),
        "{message}"
    );
    for result in [
        client
            .rpc
            .container_logs(client::ctx(), "web".into(), 10, 0, 0)
            .await
            .flat()
            .map(|_| ()),
        client
            .rpc
            .container_action(client::ctx(), "web".into(), ContainerAction::Restart)
            .await
            .flat()
            .map(|_| ()),
    ] {
        assert!(matches!(
            result,
            Err(ClientError::Api(Error::Unavailable { .. }))
        ));
    }
    // The CLI says it and exits 5; the daemon is fine.
    let out = harbour(&daemon, &["containers"]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("harbour: Docker unavailable: "),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    client.rpc.status(client::ctx()).await.flat().unwrap();
    client.rpc.dashboard(client::ctx()).await.flat().unwrap();
}

/// The real engine's socket, from `DOCKER_HOST` when it names one.
fn engine_socket() -> std::path::PathBuf {
    std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(Into::into))
        .unwrap_or_else(|| "/var/run/docker.sock".into())
}

/// A socket that leads to the real engine while it is up: the test's way to make the engine
/// go away (and come back) under a running daemon without stopping the machine's Docker.
struct EngineDoor {
    path: std::path::PathBuf,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl EngineDoor {
    fn new(path: std::path::PathBuf) -> Self {
        let mut door = Self { path, task: None };
        door.open();
        door
    }

    fn open(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let listener = tokio::net::UnixListener::bind(&self.path).expect("bind the door");
        let engine = engine_socket();
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let engine = engine.clone();
                conns.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::UnixStream::connect(&engine).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    /// Drops every open connection and the socket: as if the engine stopped.
    fn close(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_docker_engine_that_goes_away_is_reported_and_found_again() {
    if !docker_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut door = EngineDoor::new(dir.path().join("docker.sock"));
    let host = format!("unix://{}", door.path.display());
    let daemon = Daemon::start_with_env("", &[("DOCKER_HOST", &host)]);
    let client = daemon.client().await;
    client
        .rpc
        .containers(client::ctx(), false)
        .await
        .flat()
        .expect("the engine answers through the door");

    door.close();
    // A call may notice first, or the daemon's ping (every few seconds): either way the answer
    // becomes "unavailable", naming the engine.
    let message = eventually(LONG, "Docker unavailable", || async {
        match client.rpc.containers(client::ctx(), false).await.flat() {
            Err(ClientError::Api(e @ Error::Unavailable { .. })) => Some(e.to_string()),
            _ => None,
        }
    })
    .await;
    assert!(message.starts_with("Docker unavailable: "), "{message}");
    assert!(message.contains(&host), "names where it looked: {message}");
    client.rpc.status(client::ctx()).await.flat().unwrap();
    client.rpc.dashboard(client::ctx()).await.flat().unwrap();
    let out = harbour(&daemon, &["containers"]);
    assert_eq!(out.status.code(), Some(5), "{out:?}");

    door.open();
    eventually(LONG, "the engine to be found again", || async {
        client
            .rpc
            .containers(client::ctx(), false)
            .await
            .flat()
            .ok()
    })
    .await;
    assert!(
        daemon.log().contains("is back"),
        "the daemon log says the engine came back"
    );
}

// --- Real containers ---

/// Whether an engine answers; in CI its absence fails the test.
fn docker_ready() -> bool {
    let ok = Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "`docker info` fails in CI: the container tests need the Docker engine running"
        );
        eprintln!("SKIPPED: no Docker engine answers `docker info`");
    }
    ok
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker");
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

const IMAGE: &str = "harbour-test-busybox:1";

/// Builds the test image from the static busybox (Debian's busybox-static): a root with
/// `/bin/busybox` and a link per applet, imported with `docker import`. No registry needed.
fn build_image() {
    let exists = Command::new("docker")
        .args(["image", "inspect", IMAGE])
        .output()
        .is_ok_and(|o| o.status.success());
    if exists {
        return;
    }
    let busybox = std::path::Path::new("/bin/busybox");
    assert!(
        busybox.is_file(),
        "/bin/busybox is missing: install Debian's busybox-static (scripts/test does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
    let list = Command::new(busybox).arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" && !applet.is_empty() {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
        }
    }
    let tar = dir.path().join("root.tar");
    let status = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    docker(&["import", tar.to_str().unwrap(), IMAGE]);
}

/// Removes the test's containers however the test ends.
struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = Command::new("docker").args(["rm", "-f", name]).output();
        }
    }
}

fn run_container(name: &str, health_cmd: &str) {
    docker(&[
        "run",
        "-d",
        "--name",
        name,
        "--label",
        "com.docker.compose.project=harbourtest",
        "--label",
        &format!("com.docker.compose.service={name}"),
        "--health-cmd",
        health_cmd,
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        // sh as pid 1 ignores SIGTERM: do not wait 10 s for it on restart and stop.
        "--stop-timeout",
        "1",
        IMAGE,
        "/bin/sh",
        "-c",
        "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done",
    ]);
}

async fn container(client: &Client, name: &str) -> harbour_shared::Container {
    client
        .rpc
        .containers(client::long_poll_ctx(10_000), true)
        .await
        .flat()
        .unwrap()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn real_containers_states_health_stats_logs_and_restart() {
    if !docker_ready() {
        return;
    }
    build_image();
    let tag = std::process::id();
    let healthy = format!("harbour-test-{tag}-ok");
    let sick = format!("harbour-test-{tag}-sick");
    let _cleanup = Cleanup(vec![healthy.clone(), sick.clone()]);
    run_container(&healthy, "true");
    run_container(&sick, "false");

    let config = format!(
        "[[health.checks]]\nname = \"ok\"\nkind = \"container\"\ncontainer = \"{healthy}\"\n\
         interval = \"500ms\"\nfall = 1\n\
         [[health.checks]]\nname = \"sick\"\nkind = \"container\"\ncontainer = \"{sick}\"\n\
         interval = \"500ms\"\nfall = 1\n"
    );
    let daemon = Daemon::start_with(&config);
    let client = daemon.client().await;

    // The engine's HEALTHCHECK results come through.
    eventually(LONG, "both health results", || async {
        let ok = container(&client, &healthy).await;
        let bad = container(&client, &sick).await;
        (ok.health.as_deref() == Some("healthy") && bad.health.as_deref() == Some("unhealthy"))
            .then_some(())
    })
    .await;
    let ok = container(&client, &healthy).await;
    assert_eq!(ok.state, "running");
    assert_eq!(ok.image, IMAGE);
    assert_eq!(ok.project.as_deref(), Some("harbourtest"));
    let stats = ok.stats.expect("stats of a running container");
    assert!(stats.memory_bytes > 0, "{stats:?}");

    // Health checks of kind container agree.
    eventually(LONG, "container checks", || async {
        let report = client.rpc.health(client::ctx()).await.flat().ok()?;
        (status_of(&report, "ok") == HealthStatus::Up
            && status_of(&report, "sick") == HealthStatus::Down)
            .then_some(())
    })
    .await;

    // Logs: the tail, then following from the cursor gives only new lines.
    let first = client
        .rpc
        .container_logs(client::ctx(), healthy.clone(), 5, 0, 0)
        .await
        .flat()
        .unwrap();
    let text = String::from_utf8_lossy(&first.data).into_owned();
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(text.lines().all(|l| l.starts_with("tick ")), "{text}");
    let last: u64 = text.lines().last().unwrap()[5..].parse().unwrap();
    let next = client
        .rpc
        .container_logs(
            client::long_poll_ctx(5_000),
            healthy.clone(),
            5,
            first.cursor_ns,
            5_000,
        )
        .await
        .flat()
        .unwrap();
    let more = String::from_utf8_lossy(&next.data).into_owned();
    let n: u64 = more.lines().next().expect("a new line")[5..]
        .parse()
        .unwrap();
    assert_eq!(
        n,
        last + 1,
        "following continues right after the tail: {more}"
    );

    // Restart: a new start, still running, its output starts again from tick 0.
    let restarted = client
        .rpc
        .container_action(
            client::long_poll_ctx(60_000),
            sick.clone(),
            ContainerAction::Restart,
        )
        .await
        .flat()
        .unwrap();
    assert_eq!(restarted.state, "running");
    // Stop through the CLI.
    let out = harbour(&daemon, &["containers", "stop", &sick]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(container(&client, &sick).await.state, "exited");
    let out = harbour(&daemon, &["containers", "inspect", &sick]);
    let inspect: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inspect["State"]["Status"], "exited");
    // Unknown containers are NotFound.
    let err = client
        .rpc
        .container_action(
            client::ctx(),
            "no-such-container-x".into(),
            ContainerAction::Stop,
        )
        .await
        .flat()
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Api(Error::NotFound { .. })),
        "{err:?}"
    );
}

// --- The Monitor screen, end to end in tmux ---

fn started_at(name: &str) -> String {
    docker(&["inspect", "-f", "{{.State.StartedAt}}", name])
}

#[test]
fn the_monitor_screen_shows_a_container_go_unhealthy_and_restarts_it() {
    if !docker_ready() {
        return;
    }
    if !tmux::available() {
        return;
    }
    build_image();
    // No compose project and a leading 0: first in the list, so it is the one selected.
    let name = format!("0-harbour-tui-{}", std::process::id());
    let _cleanup = Cleanup(vec![name.clone()]);
    docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--health-cmd",
        "test -f /tmp/ok",
        "--health-interval",
        "1s",
        "--health-retries",
        "1",
        "--stop-timeout",
        "1",
        IMAGE,
        "/bin/sh",
        "-c",
        "touch /tmp/ok; i=0; while true; do echo beat $i; i=$((i+1)); sleep 0.2; done",
    ]);
    let daemon = Daemon::start_with(FAST_METRICS);
    let cmd = daemon.tui_command();
    let tmux = Tmux::start(&cmd, 120, 40);
    tmux.wait_for(&["● harbourd"], LONG);
    tmux.keys(&["7"]);
    tmux.wait_for(
        &[
            "Monitor: last 1h",
            "CPU %",
            "harbourd.store",
            &name,
            "healthy",
        ],
        LONG,
    );

    // The container's check starts failing: the panel says so within a few seconds.
    docker(&["exec", &name, "rm", "/tmp/ok"]);
    tmux.wait_for(&[&name, "unhealthy"], LONG);

    // r asks first; y restarts it (the container's command makes it healthy again).
    let before = started_at(&name);
    tmux.keys(&["r"]);
    tmux.wait_for(&[&format!("Restart container {name}")], LONG);
    tmux.keys(&["y"]);
    tmux.wait_for(&[&format!("restart {name}: Up")], LONG);
    assert_ne!(started_at(&name), before, "the container was restarted");

    // l follows its output in the log viewer; esc goes back.
    tmux.keys(&["l"]);
    tmux.wait_for(
        &[&format!("Logs: container {name}"), "follow", "beat 1"],
        LONG,
    );
    tmux.keys(&["Escape"]);
    tmux.wait_for(&["Monitor: last 1h"], LONG);

    // Zoom and freeze as the keys say.
    tmux.keys(&["+"]);
    tmux.wait_for(&["Monitor: last 6h"], LONG);
    tmux.keys(&["f"]);
    tmux.wait_for(&["FROZEN"], LONG);
    tmux.keys(&["q"]);
}
