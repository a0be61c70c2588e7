//! Health checks: the configured ones (HTTP, TCP, process, container) and harbourd's own
//! parts (store, run supervisor, Spark runtime, managed clusters, notebook kernels). Each check runs on its own task at its interval; a
//! [`Judge`] turns attempts into a status with thresholds (`fall` failures in a row before
//! down, `rise` passes before up). A change of status is stored, published as an event and
//! written to the daemon log; each attempt's latency is recorded as the metric series
//! `health.<name>.latency`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use harbour_shared::{
    Cluster, ClusterKind, ClusterState, EventKind, HealthCheck, HealthReport, HealthStatus,
    HealthSummary, HealthTransition, KernelState, NotebookSummary,
};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::containers::Containers;
use super::recorder::Metrics;
use crate::clock::now_ms;
use crate::config::{CheckConfig, CheckKind, HealthConfig};
use crate::events::EventBus;
use crate::runs::supervisor::Runs;
use crate::spark::Spark;
use crate::store::{Store, metrics as rows};

/// Turns pass/fail attempts into a status.
#[derive(Debug, Clone)]
pub struct Judge {
    fall: u32,
    rise: u32,
    status: HealthStatus,
    failures: u32,
    passes: u32,
}

impl Judge {
    pub fn new(fall: u32, rise: u32) -> Self {
        Self {
            fall: fall.max(1),
            rise: rise.max(1),
            status: HealthStatus::Pending,
            failures: 0,
            passes: 0,
        }
    }

    pub fn status(&self) -> HealthStatus {
        self.status
    }

    /// Takes one attempt; returns `(from, to)` when the status changes.
    pub fn observe(&mut self, passed: bool) -> Option<(HealthStatus, HealthStatus)> {
        if passed {
            self.passes += 1;
            self.failures = 0;
        } else {
            self.failures += 1;
            self.passes = 0;
        }
        let next = match self.status {
            HealthStatus::Up | HealthStatus::Pending if self.failures >= self.fall => {
                HealthStatus::Down
            }
            HealthStatus::Down | HealthStatus::Pending if self.passes >= self.rise => {
                HealthStatus::Up
            }
            same => same,
        };
        let from = std::mem::replace(&mut self.status, next);
        (from != next).then_some((from, next))
    }
}

/// What one attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub passed: bool,
    pub message: String,
    pub latency_ms: u64,
}

/// What a check looks at.
#[derive(Debug, Clone)]
pub enum Probe {
    Http {
        url: String,
        expect: Option<u16>,
    },
    Tcp {
        address: String,
    },
    Process {
        name: String,
    },
    Container {
        name: String,
    },
    Store,
    Runs,
    /// The Spark runtime harbourd found at start: its files and a Java it can run.
    SparkRuntime,
    /// Every managed cluster: running, master answering, no worker missing.
    Clusters,
    /// No notebook's kernel has died.
    Kernels,
}

/// The parts attempts need.
#[derive(Debug, Clone)]
pub struct Parts {
    pub store: Store,
    pub runs: Option<Runs>,
    pub containers: Arc<Containers>,
    pub http: reqwest::Client,
    pub spark: Option<Arc<Spark>>,
    pub notebooks: Option<Arc<crate::notebooks::Notebooks>>,
}

impl Probe {
    fn of(config: &CheckConfig) -> Self {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        match config.kind {
            CheckKind::Http => Self::Http {
                url: text(&config.url),
                expect: config.expect_status,
            },
            CheckKind::Tcp => Self::Tcp {
                address: text(&config.address),
            },
            CheckKind::Process => Self::Process {
                name: text(&config.process),
            },
            CheckKind::Container => Self::Container {
                name: text(&config.container),
            },
        }
    }

    /// Makes one attempt, giving up after `timeout`.
    pub async fn attempt(&self, parts: &Parts, timeout: Duration) -> Attempt {
        let started = Instant::now();
        let result = match tokio::time::timeout(timeout, self.try_once(parts, timeout)).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
        };
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match result {
            Ok(message) => Attempt {
                passed: true,
                message,
                latency_ms,
            },
            Err(message) => Attempt {
                passed: false,
                message,
                latency_ms,
            },
        }
    }

    async fn try_once(&self, parts: &Parts, timeout: Duration) -> Result<String, String> {
        match self {
            Self::Http { url, expect } => {
                let response = parts
                    .http
                    .get(url)
                    .timeout(timeout)
                    .send()
                    .await
                    .map_err(|e| format!("GET {url}: {}", error_chain(&e)))?;
                let status = response.status();
                let ok = match expect {
                    Some(code) => status.as_u16() == *code,
                    None => status.is_success(),
                };
                let wanted = expect.map_or_else(|| "2xx".to_owned(), |c| c.to_string());
                if ok {
                    Ok(format!("HTTP {}", status.as_u16()))
                } else {
                    Err(format!("HTTP {} (expected {wanted})", status.as_u16()))
                }
            }
            Self::Tcp { address } => tokio::net::TcpStream::connect(address.as_str())
                .await
                .map(|_| format!("connected to {address}"))
                .map_err(|e| format!("connect {address}: {e}")),
            Self::Process { name } => {
                let wanted = name.clone();
                let found = tokio::task::spawn_blocking(move || count_processes(&wanted))
                    .await
                    .map_err(|e| e.to_string())?;
                match found {
                    0 => Err(format!("no process named {name}")),
                    n => Ok(format!("{n} process(es) named {name}")),
                }
            }
            Self::Container { name } => {
                let (state, health) = parts
                    .containers
                    .state_of(name)
                    .await
                    .map_err(|e| e.to_string())?;
                match (state.as_str(), health.as_deref()) {
                    ("running", None | Some("healthy")) => Ok(match health {
                        Some(h) => format!("running, {h}"),
                        None => "running".to_owned(),
                    }),
                    ("running", Some(h)) => Err(format!("running but {h}")),
                    (state, _) => Err(format!("container is {state}")),
                }
            }
            Self::Store => parts
                .store
                .call(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
                .await
                .map(|_| "answers queries".to_owned())
                .map_err(|e| e.to_string()),
            Self::Runs => match &parts.runs {
                Some(runs) if runs.is_alive() => Ok("supervising runs".to_owned()),
                _ => Err("the run supervisor has stopped".to_owned()),
            },
            Self::SparkRuntime => {
                let runtime = parts
                    .spark
                    .as_ref()
                    .and_then(|s| s.runtime.clone())
                    .ok_or("no Spark runtime; run `harbourd runtime install`")?;
                tokio::task::spawn_blocking(move || runtime_verdict(&runtime))
                    .await
                    .map_err(|e| e.to_string())?
            }
            Self::Clusters => {
                let spark = parts.spark.as_ref().ok_or("Spark is not set up")?;
                let clusters = spark.list_clusters().await.map_err(|e| e.to_string())?;
                clusters_verdict(&clusters)
            }
            Self::Kernels => {
                let notebooks = parts.notebooks.as_ref().ok_or("notebooks are not set up")?;
                let list = notebooks.list().await.map_err(|e| e.to_string())?;
                kernels_verdict(&list)
            }
        }
    }
}

/// The runtime's launchers are there and its Java runs.
fn runtime_verdict(runtime: &crate::spark::SparkRuntime) -> Result<String, String> {
    let submit = runtime.spark_submit();
    if !submit.is_file() {
        return Err(format!(
            "{} is gone; run `harbourd runtime install` again",
            submit.display()
        ));
    }
    let (java, _) = crate::spark::runtime::java()?;
    Ok(format!("{} with {java}", runtime.spark_home.display()))
}

/// Up unless a notebook's kernel died (it stays down until the kernel is restarted or
/// shut down), naming each such notebook and why.
fn kernels_verdict(notebooks: &[NotebookSummary]) -> Result<String, String> {
    let dead: Vec<String> = notebooks
        .iter()
        .filter_map(|n| match &n.kernel {
            KernelState::Dead { why } => Some(format!("{}: kernel died ({why})", n.name)),
            _ => None,
        })
        .collect();
    if !dead.is_empty() {
        return Err(dead.join("; "));
    }
    let live = notebooks
        .iter()
        .filter(|n| n.kernel != KernelState::Stopped)
        .count();
    Ok(format!("{live} kernel(s) running"))
}

/// Up when every managed cluster is running with its master answering and every worker
/// alive; down naming each cluster that is not. External clusters are `clusters test`'s job.
fn clusters_verdict(clusters: &[Cluster]) -> Result<String, String> {
    let managed: Vec<&Cluster> = clusters
        .iter()
        .filter(|c| c.kind == ClusterKind::Managed)
        .collect();
    let mut problems = Vec::new();
    for c in &managed {
        match (&c.state, &c.health) {
            (ClusterState::Running, Some(h)) if !h.master_alive => {
                problems.push(format!("{}: the master does not answer", c.name));
            }
            (ClusterState::Running, Some(h)) if h.workers_missing > 0 => {
                let why = h.problem.as_deref().unwrap_or("workers are missing");
                problems.push(format!("{}: {why}", c.name));
            }
            (ClusterState::Error(why), _) => problems.push(format!("{}: {why}", c.name)),
            _ => {}
        }
    }
    if problems.is_empty() {
        Ok(match managed.len() {
            0 => "no managed clusters".to_owned(),
            1 => "1 managed cluster, no problems".to_owned(),
            n => format!("{n} managed clusters, no problems"),
        })
    } else {
        Err(problems.join("; "))
    }
}

/// The error and its causes, which is where reqwest says what actually failed.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Processes whose name (`/proc/PID/comm`, or the basename of argv[0]) is `name`.
fn count_processes(name: &str) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    // The kernel cuts comm to 15 bytes.
    let short: String = name.chars().take(15).collect();
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter(|e| {
            let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
            if comm.trim_end() == short {
                return true;
            }
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
            let argv0 = String::from_utf8_lossy(argv0);
            argv0.rsplit('/').next() == Some(name)
        })
        .count()
}

/// One check as configured, with its probe.
#[derive(Debug, Clone)]
struct Spec {
    name: String,
    kind: &'static str,
    target: String,
    probe: Probe,
    interval: Duration,
    timeout: Duration,
    fall: u32,
    rise: u32,
}

/// All checks and where they stand. Shared by the API and the check tasks.
#[derive(Debug)]
pub struct Health {
    checks: Mutex<Vec<HealthCheck>>,
    store: Store,
    events: Arc<EventBus>,
    metrics: Option<Arc<Metrics>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Health {
    /// Starts a task per check on `tracker`.
    pub fn start(
        config: &HealthConfig,
        parts: Parts,
        events: Arc<EventBus>,
        metrics: Option<Arc<Metrics>>,
        tracker: &TaskTracker,
        shutdown: &CancellationToken,
    ) -> Arc<Self> {
        let mut specs: Vec<Spec> = Vec::new();
        if config.builtin {
            let interval = config.builtin_interval.duration();
            let mut builtin = vec![
                ("harbourd.store", "the SQLite store", Probe::Store),
                ("harbourd.runs", "the run supervisor", Probe::Runs),
            ];
            if parts.notebooks.is_some() {
                builtin.push(("harbourd.kernels", "notebook kernels", Probe::Kernels));
            }
            // A daemon without a runtime has no Spark to watch; `harbour status` says why.
            if parts.spark.as_ref().is_some_and(|s| s.runtime.is_some()) {
                builtin.push(("harbourd.spark", "the Spark runtime", Probe::SparkRuntime));
                builtin.push(("harbourd.clusters", "managed clusters", Probe::Clusters));
            }
            for (name, target, probe) in builtin {
                specs.push(Spec {
                    name: name.to_owned(),
                    kind: "builtin",
                    target: target.to_owned(),
                    probe,
                    interval,
                    timeout: Duration::from_secs(5),
                    fall: 1,
                    rise: 1,
                });
            }
        }
        for c in &config.checks {
            specs.push(Spec {
                name: c.name.clone(),
                kind: match c.kind {
                    CheckKind::Http => "http",
                    CheckKind::Tcp => "tcp",
                    CheckKind::Process => "process",
                    CheckKind::Container => "container",
                },
                target: c.target().to_owned(),
                probe: Probe::of(c),
                interval: c.interval.duration(),
                timeout: c.timeout.duration(),
                fall: c.fall,
                rise: c.rise,
            });
        }
        let started = now_ms();
        let health = Arc::new(Self {
            checks: Mutex::new(
                specs
                    .iter()
                    .map(|s| HealthCheck {
                        name: s.name.clone(),
                        kind: s.kind.to_owned(),
                        target: s.target.clone(),
                        status: HealthStatus::Pending,
                        since_ms: started,
                        last_checked_ms: None,
                        latency_ms: None,
                        message: "not checked yet".to_owned(),
                        failures: 0,
                    })
                    .collect(),
            ),
            store: parts.store.clone(),
            events,
            metrics,
        });
        for (index, spec) in specs.into_iter().enumerate() {
            tracker.spawn(
                health
                    .clone()
                    .watch(index, spec, parts.clone(), shutdown.clone()),
            );
        }
        health
    }

    async fn watch(
        self: Arc<Self>,
        index: usize,
        spec: Spec,
        parts: Parts,
        shutdown: CancellationToken,
    ) {
        let mut judge = Judge::new(spec.fall, spec.rise);
        // What an earlier daemon last recorded, so a restart does not log "up" again.
        let name = spec.name.clone();
        let mut recorded = self
            .store
            .call(move |c| rows::last_status(c, &name))
            .await
            .ok()
            .flatten();
        let mut tick = tokio::time::interval(spec.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let attempt = tokio::select! {
                () = shutdown.cancelled() => return,
                attempt = spec.probe.attempt(&parts, spec.timeout) => attempt,
            };
            let at = now_ms();
            if let Some(metrics) = &self.metrics {
                metrics.record(
                    at,
                    &[(
                        format!("health.{}.latency", spec.name),
                        attempt.latency_ms as f64,
                    )],
                );
            }
            let change = judge.observe(attempt.passed);
            {
                let mut checks = lock(&self.checks);
                if let Some(check) = checks.get_mut(index) {
                    check.status = judge.status();
                    check.last_checked_ms = Some(at);
                    check.latency_ms = Some(attempt.latency_ms);
                    check.message.clone_from(&attempt.message);
                    check.failures = if attempt.passed {
                        0
                    } else {
                        check.failures + 1
                    };
                    if change.is_some() {
                        check.since_ms = at;
                    }
                }
            }
            let Some((from, to)) = change else { continue };
            if from == HealthStatus::Pending && recorded == Some(to) {
                // Where the last daemon left it: not news.
                continue;
            }
            let from = match from {
                HealthStatus::Pending => recorded.unwrap_or(HealthStatus::Pending),
                other => other,
            };
            recorded = Some(to);
            let transition = HealthTransition {
                check: spec.name.clone(),
                at_ms: at,
                from,
                to,
                message: attempt.message.clone(),
                latency_ms: Some(attempt.latency_ms),
            };
            match to {
                HealthStatus::Down => tracing::warn!(
                    check = %spec.name,
                    "health check {} is down ({}): {}",
                    spec.name,
                    spec.target,
                    attempt.message
                ),
                _ => tracing::info!(
                    check = %spec.name,
                    "health check {} is {to}: {}",
                    spec.name,
                    attempt.message
                ),
            }
            let stored = transition.clone();
            if let Err(e) = self
                .store
                .call(move |c| rows::insert_transition(c, &stored))
                .await
            {
                tracing::warn!("cannot store a health transition: {e}");
            }
            self.events.publish(EventKind::HealthChanged(transition));
        }
    }

    pub fn checks(&self) -> Vec<HealthCheck> {
        lock(&self.checks).clone()
    }

    pub fn summary(&self) -> HealthSummary {
        let checks = lock(&self.checks);
        let mut summary = HealthSummary::default();
        for c in checks.iter() {
            match c.status {
                HealthStatus::Up => summary.up += 1,
                HealthStatus::Pending => summary.pending += 1,
                HealthStatus::Down => {
                    summary.down += 1;
                    summary.down_checks.push(c.name.clone());
                }
            }
        }
        summary
    }

    pub async fn report(&self) -> crate::store::StoreResult<HealthReport> {
        let transitions = self.store.call(|c| rows::transitions(c, 50)).await?;
        Ok(HealthReport {
            checks: self.checks(),
            transitions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read as _, Write as _};
    use std::sync::atomic::{AtomicU16, Ordering};

    use HealthStatus::{Down, Pending, Up};
    use harbour_shared::ClusterHealth;

    #[test]
    fn a_judge_needs_fall_failures_for_down_and_rise_passes_for_up() {
        let mut j = Judge::new(3, 2);
        assert_eq!(j.observe(false), None);
        assert_eq!(j.observe(false), None);
        assert_eq!(j.observe(false), Some((Pending, Down)));
        assert_eq!(j.observe(true), None);
        assert_eq!(j.observe(false), None, "one pass then a fail is still down");
        assert_eq!(j.observe(true), None);
        assert_eq!(j.observe(true), Some((Down, Up)));
        assert_eq!(j.observe(false), None);
        assert_eq!(
            j.observe(true),
            None,
            "a blip under the threshold is ignored"
        );
        assert_eq!(j.observe(false), None);
        assert_eq!(j.observe(false), None);
        assert_eq!(j.observe(false), Some((Up, Down)));
    }

    fn parts() -> Parts {
        Parts {
            store: Store::open_in_memory().unwrap(),
            runs: None,
            containers: Arc::new(Containers::unavailable_for_tests()),
            http: reqwest::Client::new(),
            spark: None,
            notebooks: None,
        }
    }

    fn managed(name: &str, state: ClusterState, health: Option<ClusterHealth>) -> Cluster {
        Cluster {
            name: name.to_owned(),
            kind: ClusterKind::Managed,
            state,
            state_message: String::new(),
            master_url: "spark://127.0.0.1:7077".to_owned(),
            web_ui_url: None,
            connect_url: None,
            spec: None,
            created_ms: 0,
            log_dir: None,
            health,
        }
    }

    #[test]
    fn the_kernels_check_names_each_dead_kernel() {
        let nb = |name: &str, kernel| NotebookSummary {
            name: name.to_owned(),
            cells: 1,
            cluster: None,
            kernel,
            modified_ms: 0,
            version: 0,
        };
        let fine = [
            nb("a", KernelState::Idle),
            nb("b", KernelState::Stopped),
            nb("c", KernelState::Busy),
        ];
        assert_eq!(kernels_verdict(&fine), Ok("2 kernel(s) running".to_owned()));
        let dead = [
            nb("a", KernelState::Idle),
            nb(
                "b",
                KernelState::Dead {
                    why: "exit status 1".to_owned(),
                },
            ),
        ];
        assert_eq!(
            kernels_verdict(&dead),
            Err("b: kernel died (exit status 1)".to_owned())
        );
    }

    #[test]
    fn the_clusters_check_names_each_cluster_in_trouble() {
        let fine = ClusterHealth {
            master_alive: true,
            workers_alive: 2,
            ..ClusterHealth::default()
        };
        let mut local = managed("local", ClusterState::Running, None);
        local.kind = ClusterKind::Local;
        let ok = [
            local.clone(),
            managed("a", ClusterState::Running, Some(fine.clone())),
            managed("b", ClusterState::Pending, None),
        ];
        assert_eq!(
            clusters_verdict(&ok),
            Ok("2 managed clusters, no problems".to_owned())
        );
        assert_eq!(
            clusters_verdict(&[local]),
            Ok("no managed clusters".to_owned())
        );

        let hurt = ClusterHealth {
            workers_missing: 1,
            problem: Some("worker 0 exited".to_owned()),
            ..fine.clone()
        };
        let dead_master = ClusterHealth {
            master_alive: false,
            ..fine
        };
        let bad = [
            managed("a", ClusterState::Running, Some(hurt)),
            managed("b", ClusterState::Running, Some(dead_master)),
            managed(
                "c",
                ClusterState::Error("the master exited".to_owned()),
                None,
            ),
        ];
        assert_eq!(
            clusters_verdict(&bad),
            Err(
                "a: worker 0 exited; b: the master does not answer; c: the master exited"
                    .to_owned()
            )
        );
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
        format!("http://{addr}/health")
    }

    #[tokio::test]
    async fn http_checks_follow_a_server_that_flips_to_500() {
        let code = Arc::new(AtomicU16::new(200));
        let url = http_server(code.clone());
        let probe = Probe::Http {
            url: url.clone(),
            expect: None,
        };
        let parts = parts();
        let t = Duration::from_secs(2);
        let a = probe.attempt(&parts, t).await;
        assert!(a.passed, "{a:?}");
        assert_eq!(a.message, "HTTP 200");
        code.store(500, Ordering::SeqCst);
        let a = probe.attempt(&parts, t).await;
        assert!(!a.passed);
        assert_eq!(a.message, "HTTP 500 (expected 2xx)");
        let expect_500 = Probe::Http {
            url,
            expect: Some(500),
        };
        assert!(expect_500.attempt(&parts, t).await.passed);
        // Nothing listening: a failure that says why.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let a = Probe::Http {
            url: format!("http://127.0.0.1:{port}/"),
            expect: None,
        }
        .attempt(&parts, t)
        .await;
        assert!(!a.passed);
        assert!(a.message.contains("refused"), "{}", a.message);
    }

    #[tokio::test]
    async fn tcp_checks_see_a_port_close() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let probe = Probe::Tcp {
            address: address.clone(),
        };
        let parts = parts();
        let t = Duration::from_secs(2);
        assert!(probe.attempt(&parts, t).await.passed);
        drop(listener);
        let a = probe.attempt(&parts, t).await;
        assert!(!a.passed);
        assert!(
            a.message.starts_with(&format!("connect {address}")),
            "{a:?}"
        );
    }

    #[tokio::test]
    async fn process_checks_find_processes_by_name() {
        let parts = parts();
        let t = Duration::from_secs(5);
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let a = Probe::Process {
            name: "sleep".into(),
        }
        .attempt(&parts, t)
        .await;
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(a.passed, "{a:?}");
        let a = Probe::Process {
            name: "no-such-process-here".into(),
        }
        .attempt(&parts, t)
        .await;
        assert!(!a.passed);
    }

    #[tokio::test]
    async fn the_store_check_passes_on_a_live_store() {
        assert!(
            Probe::Store
                .attempt(&parts(), Duration::from_secs(5))
                .await
                .passed
        );
        let a = Probe::Runs.attempt(&parts(), Duration::from_secs(5)).await;
        assert!(!a.passed);
    }

    #[tokio::test]
    async fn transitions_are_stored_published_and_not_repeated_after_a_restart() {
        let code = Arc::new(AtomicU16::new(200));
        let url = http_server(code.clone());
        let config: HealthConfig = toml::from_str(&format!(
            "builtin = false\n[[checks]]\nname = \"web\"\nkind = \"http\"\nurl = \"{url}\"\n\
             interval = \"100ms\"\nfall = 2\n"
        ))
        .unwrap();
        let parts = parts();
        let events = Arc::new(EventBus::new(100));
        let start = events.next(0, Duration::ZERO).await.last_seq;
        let tracker = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let health = Health::start(
            &config,
            parts.clone(),
            events.clone(),
            None,
            &tracker,
            &shutdown,
        );
        let next = |after| {
            let events = events.clone();
            async move { events.next(after, Duration::from_secs(10)).await }
        };
        let batch = next(start).await;
        let EventKind::HealthChanged(t) = &batch.events[0].kind else {
            panic!("{batch:?}")
        };
        assert_eq!((t.from, t.to), (Pending, Up));
        code.store(500, Ordering::SeqCst);
        let batch = next(batch.last_seq).await;
        let EventKind::HealthChanged(t) = &batch.events[0].kind else {
            panic!("{batch:?}")
        };
        assert_eq!((t.from, t.to), (Up, Down));
        assert_eq!(t.message, "HTTP 500 (expected 2xx)");
        assert_eq!(health.summary().down_checks, ["web"]);
        let report = health.report().await.unwrap();
        assert!(report.any_down());
        assert_eq!(report.transitions.len(), 2);
        shutdown.cancel();
        tracker.close();
        tracker.wait().await;

        // A new daemon on the same store: still down, so no Pending -> Down transition;
        // recovering is Down -> Up.
        let tracker = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let after = events.next(0, Duration::ZERO).await.last_seq;
        let health = Health::start(&config, parts, events.clone(), None, &tracker, &shutdown);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(health.checks()[0].status, Down);
        assert!(events.next(after, Duration::ZERO).await.events.is_empty());
        code.store(200, Ordering::SeqCst);
        let batch = next(after).await;
        let EventKind::HealthChanged(t) = &batch.events[0].kind else {
            panic!("{batch:?}")
        };
        assert_eq!((t.from, t.to), (Down, Up));
        shutdown.cancel();
    }
}
