//! Docker containers through the Engine API (bollard): list with state, health, ports and
//! compose project; live stats; logs (tail and follow); restart, stop, start; inspect.
//!
//! The engine is found through `DOCKER_HOST` or the default socket and the API version is
//! negotiated. When no engine answers, every call says "Docker unavailable: <why>" (an
//! `Unavailable` error, never made-up data) and a background task keeps trying to connect.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::query_parameters::{
    InspectContainerOptions, ListContainersOptions, LogsOptions, RestartContainerOptions,
    StartContainerOptions, StatsOptions, StopContainerOptions,
};
use futures::StreamExt as _;
use harbour_shared::{
    Container, ContainerAction, ContainerLogChunk, ContainerStats, Error, MAX_LOG_CHUNK_BYTES,
};
use tokio_util::sync::CancellationToken;

/// How often a missing engine is looked for again.
const RETRY: Duration = Duration::from_secs(10);
/// How long one engine call may take before we call the engine unavailable.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Stop and restart wait for the container's stop timeout (10 s unless it set its own).
const ACTION_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
enum Engine {
    Connected(Docker),
    Unavailable(String),
}

/// The Docker engine as harbourd sees it. Shared by the API, health checks and the
/// reconnect task.
#[derive(Debug)]
pub struct Containers {
    engine: Mutex<Engine>,
    /// Becomes true once the first connection attempt has ended, either way.
    first_attempt: tokio::sync::watch::Sender<bool>,
}

fn unavailable(why: impl Into<String>) -> Error {
    Error::unavailable("Docker", why)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Says what went wrong in words a person can act on.
fn explain(e: &bollard::errors::Error) -> String {
    use bollard::errors::Error as E;
    match e {
        E::DockerResponseServerError {
            status_code,
            message,
        } => format!("the engine answered {status_code}: {message}"),
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}

/// Where the engine is looked for, for messages.
fn host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned())
}

async fn connect() -> Result<Docker, String> {
    let docker = Docker::connect_with_defaults()
        .map_err(|e| format!("no engine answers at {}: {}", host(), explain(&e)))?;
    let docker = tokio::time::timeout(CALL_TIMEOUT, docker.negotiate_version())
        .await
        .map_err(|_| format!("{} did not answer within 10 s", host()))?
        .map_err(|e| format!("no engine answers at {}: {}", host(), explain(&e)))?;
    tokio::time::timeout(CALL_TIMEOUT, docker.ping())
        .await
        .map_err(|_| format!("{} did not answer within 10 s", host()))?
        .map_err(|e| format!("no engine answers at {}: {}", host(), explain(&e)))?;
    Ok(docker)
}

impl Containers {
    /// Starts connecting in the background, so a slow or black-holed `DOCKER_HOST` never
    /// delays the daemon; calls made before the first attempt ends wait for it.
    pub fn start(shutdown: CancellationToken) -> Arc<Self> {
        let this = Arc::new(Self {
            engine: Mutex::new(Engine::Unavailable(format!(
                "still connecting to {}",
                host()
            ))),
            first_attempt: tokio::sync::watch::Sender::new(false),
        });
        tokio::spawn(this.clone().keep_connected(shutdown));
        this
    }

    #[cfg(test)]
    pub fn unavailable_for_tests() -> Self {
        Self {
            engine: Mutex::new(Engine::Unavailable("not connected in unit tests".into())),
            first_attempt: tokio::sync::watch::Sender::new(true),
        }
    }

    /// Retries a missing engine; notices an engine that went away.
    async fn keep_connected(self: Arc<Self>, shutdown: CancellationToken) {
        let first = tokio::select! {
            () = shutdown.cancelled() => return,
            first = connect() => first,
        };
        *lock(&self.engine) = match first {
            Ok(docker) => {
                tracing::info!("Docker engine at {}", host());
                Engine::Connected(docker)
            }
            Err(why) => {
                tracing::info!(
                    "Docker unavailable: {why}; retrying every {}s",
                    RETRY.as_secs()
                );
                Engine::Unavailable(why)
            }
        };
        self.first_attempt.send_replace(true);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(RETRY) => {}
            }
            let current = lock(&self.engine).clone();
            let next = match current {
                Engine::Connected(docker) => match docker.ping().await {
                    Ok(_) => continue,
                    Err(e) => {
                        let why = format!(
                            "the engine at {} stopped answering: {}",
                            host(),
                            explain(&e)
                        );
                        tracing::warn!("Docker unavailable: {why}");
                        Engine::Unavailable(why)
                    }
                },
                Engine::Unavailable(_) => match connect().await {
                    Ok(docker) => {
                        tracing::info!("Docker engine at {} is back", host());
                        Engine::Connected(docker)
                    }
                    Err(why) => Engine::Unavailable(why),
                },
            };
            *lock(&self.engine) = next;
        }
    }

    async fn docker(&self) -> Result<Docker, Error> {
        let mut first = self.first_attempt.subscribe();
        // connect() gives up within 20 s; this bounds the wait all the same.
        let _ = tokio::time::timeout(2 * CALL_TIMEOUT + RETRY, first.wait_for(|done| *done)).await;
        match &*lock(&self.engine) {
            Engine::Connected(docker) => Ok(docker.clone()),
            Engine::Unavailable(why) => Err(unavailable(why.clone())),
        }
    }

    /// Turns an engine error into an answer: 404 is NotFound, a broken connection makes the
    /// engine unavailable (and the reconnect task looks for it again).
    fn fail(&self, id: &str, e: &bollard::errors::Error) -> Error {
        use bollard::errors::Error as E;
        match e {
            E::DockerResponseServerError {
                status_code: 404, ..
            } => Error::not_found(
                format!("container '{id}'"),
                "`harbour containers` lists the containers there are",
            ),
            E::DockerResponseServerError {
                status_code: 304, ..
            } => Error::conflict(format!("container '{id}' is already in that state")),
            E::DockerResponseServerError { .. } => Error::conflict(explain(e)),
            other => {
                let why = format!("the engine at {} failed: {}", host(), explain(other));
                *lock(&self.engine) = Engine::Unavailable(why.clone());
                unavailable(why)
            }
        }
    }

    async fn timed<T>(
        &self,
        id: &str,
        call: impl Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T, Error> {
        self.timed_for(CALL_TIMEOUT, id, call).await
    }

    async fn timed_for<T>(
        &self,
        limit: Duration,
        id: &str,
        call: impl Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T, Error> {
        match tokio::time::timeout(limit, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.fail(id, &e)),
            Err(_) => Err(unavailable(format!(
                "the engine at {} did not answer within {} s",
                host(),
                limit.as_secs()
            ))),
        }
    }

    /// Every container, running or not; with `stats`, the running ones' CPU and memory.
    pub async fn list(&self, stats: bool) -> Result<Vec<Container>, Error> {
        let docker = self.docker().await?;
        let options = ListContainersOptions {
            all: true,
            ..Default::default()
        };
        let summaries = self
            .timed("", docker.list_containers(Some(options)))
            .await?;
        let mut containers: Vec<Container> = summaries.into_iter().map(from_summary).collect();
        if stats {
            let running: Vec<usize> = containers
                .iter()
                .enumerate()
                .filter(|(_, c)| c.state == "running")
                .map(|(i, _)| i)
                .collect();
            let found = futures::future::join_all(
                running
                    .iter()
                    .map(|i| self.stats(&docker, containers[*i].id.clone())),
            )
            .await;
            for (i, stats) in running.into_iter().zip(found) {
                containers[i].stats = stats;
            }
        }
        // Compose projects together, then by name.
        containers.sort_by(|a, b| (&a.project, &a.name).cmp(&(&b.project, &b.name)));
        Ok(containers)
    }

    /// One stats reading (the engine takes about a second to measure CPU).
    async fn stats(&self, docker: &Docker, id: String) -> Option<ContainerStats> {
        let options = StatsOptions {
            stream: false,
            one_shot: false,
        };
        let mut stream = docker.stats(&id, Some(options));
        let reading = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .ok()??
            .ok()?;
        Some(stats_of(&reading))
    }

    /// One container, found by id, id prefix or name.
    pub async fn get(&self, id: &str) -> Result<Container, Error> {
        let docker = self.docker().await?;
        let inspect = self
            .timed(
                id,
                docker.inspect_container(id, None::<InspectContainerOptions>),
            )
            .await?;
        let full_id = inspect.id.clone().unwrap_or_default();
        let options = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([("id".to_owned(), vec![full_id.clone()])])),
            ..Default::default()
        };
        let found = self
            .timed(id, docker.list_containers(Some(options)))
            .await?;
        let mut container = found
            .into_iter()
            .map(from_summary)
            .find(|c| c.id == full_id)
            .ok_or_else(|| {
                Error::not_found(
                    format!("container '{id}'"),
                    "`harbour containers` lists the containers there are",
                )
            })?;
        if container.state == "running" {
            container.stats = self.stats(&docker, full_id).await;
        }
        Ok(container)
    }

    /// The state and health (from the engine's HEALTHCHECK) of one container.
    pub async fn state_of(&self, id: &str) -> Result<(String, Option<String>), Error> {
        let docker = self.docker().await?;
        let inspect = self
            .timed(
                id,
                docker.inspect_container(id, None::<InspectContainerOptions>),
            )
            .await?;
        let state = inspect.state.unwrap_or_default();
        let status = state
            .status
            .map_or_else(|| "unknown".to_owned(), |s| s.to_string());
        let health = state
            .health
            .and_then(|h| h.status)
            .map(|s| s.to_string())
            .filter(|s| !s.is_empty() && s != "none");
        Ok((status, health))
    }

    pub async fn inspect(&self, id: &str) -> Result<String, Error> {
        let docker = self.docker().await?;
        let inspect = self
            .timed(
                id,
                docker.inspect_container(id, None::<InspectContainerOptions>),
            )
            .await?;
        serde_json::to_string_pretty(&inspect).map_err(|e| Error::Internal {
            id: format!("inspect-json: {e}"),
        })
    }

    pub async fn act(&self, id: &str, action: ContainerAction) -> Result<Container, Error> {
        let docker = self.docker().await?;
        match action {
            // No `t`: the container's own stop timeout applies (`docker run --stop-timeout`).
            ContainerAction::Restart => {
                let options = RestartContainerOptions::default();
                self.timed_for(
                    ACTION_TIMEOUT,
                    id,
                    docker.restart_container(id, Some(options)),
                )
                .await?;
            }
            ContainerAction::Stop => {
                let options = StopContainerOptions::default();
                self.timed_for(ACTION_TIMEOUT, id, docker.stop_container(id, Some(options)))
                    .await?;
            }
            ContainerAction::Start => {
                self.timed(
                    id,
                    docker.start_container(id, None::<StartContainerOptions>),
                )
                .await?;
            }
        }
        tracing::info!("container {id}: {} done", action.as_str());
        self.get(id).await
    }

    /// The last `tail` lines (after_ns 0) or the lines after `after_ns`; with `wait`, waits
    /// that long for a first new line when there is none yet.
    pub async fn logs(
        &self,
        id: &str,
        tail: u32,
        after_ns: i64,
        wait: Duration,
    ) -> Result<ContainerLogChunk, Error> {
        let docker = self.docker().await?;
        let (state, _) = self.state_of(id).await?;
        let running = state == "running";
        let since = i32::try_from(after_ns / 1_000_000_000).unwrap_or(0);
        let base = LogsOptions {
            stdout: true,
            stderr: true,
            timestamps: true,
            since,
            tail: if after_ns == 0 {
                tail.to_string()
            } else {
                "all".to_owned()
            },
            ..Default::default()
        };
        let mut out = ContainerLogChunk {
            data: Vec::new(),
            cursor_ns: after_ns,
            running,
        };
        let mut stream = docker.logs(id, Some(base.clone()));
        while let Some(item) = tokio::time::timeout(CALL_TIMEOUT, stream.next())
            .await
            .map_err(|_| unavailable("the engine did not send logs within 10 s"))?
        {
            let item = item.map_err(|e| self.fail(id, &e))?;
            if take_line(&mut out, &item) {
                break;
            }
        }
        if out.data.is_empty() && running && !wait.is_zero() {
            // Follow for up to `wait`, ending early soon after the first new line.
            let follow = LogsOptions {
                follow: true,
                tail: "all".to_owned(),
                since: i32::try_from(out.cursor_ns / 1_000_000_000).unwrap_or(0),
                ..base
            };
            let mut stream = docker.logs(id, Some(follow));
            let deadline = tokio::time::Instant::now() + wait;
            loop {
                let until = if out.data.is_empty() {
                    deadline
                } else {
                    deadline.min(tokio::time::Instant::now() + Duration::from_millis(50))
                };
                match tokio::time::timeout_at(until, stream.next()).await {
                    Ok(Some(Ok(item))) => {
                        if take_line(&mut out, &item) {
                            break;
                        }
                    }
                    Ok(Some(Err(e))) => return Err(self.fail(id, &e)),
                    Ok(None) | Err(_) => break,
                }
            }
        }
        Ok(out)
    }
}

/// Appends a line if it is newer than the cursor. True when the chunk is full.
fn take_line(out: &mut ContainerLogChunk, item: &LogOutput) -> bool {
    let bytes: &[u8] = item.as_ref();
    let (stamp, text) = split_timestamp(bytes);
    let Some(at_ns) = stamp else {
        // A line without a timestamp (a continuation): keep it with the last one.
        out.data.extend_from_slice(text);
        return false;
    };
    if at_ns <= out.cursor_ns {
        return false;
    }
    out.cursor_ns = at_ns;
    out.data.extend_from_slice(text);
    if !text.ends_with(b"\n") {
        out.data.push(b'\n');
    }
    out.data.len() as u64 >= MAX_LOG_CHUNK_BYTES / 4
}

/// Splits the engine's `2026-11-21T10:00:00.123456789Z ` prefix off a line.
fn split_timestamp(line: &[u8]) -> (Option<i64>, &[u8]) {
    let Some(space) = line.iter().position(|b| *b == b' ') else {
        return (None, line);
    };
    let stamp = std::str::from_utf8(&line[..space]).ok().and_then(|s| {
        chrono::DateTime::parse_from_rfc3339(s)
            .ok()?
            .timestamp_nanos_opt()
    });
    match stamp {
        Some(ns) => (Some(ns), &line[space + 1..]),
        None => (None, line),
    }
}

fn from_summary(s: bollard::models::ContainerSummary) -> Container {
    let labels = s.labels.unwrap_or_default();
    let status = s.status.unwrap_or_default();
    let health = s
        .health
        .and_then(|h| h.status)
        .map(|h| h.to_string())
        .filter(|h| !h.is_empty() && h != "none")
        .or_else(|| health_from_status(&status).map(str::to_owned));
    let mut ports: Vec<String> = s
        .ports
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            let proto = p.typ.map_or_else(|| "tcp".to_owned(), |t| t.to_string());
            match p.public_port {
                Some(public) => format!(
                    "{}:{public}->{}/{proto}",
                    p.ip.unwrap_or_default(),
                    p.private_port
                ),
                None => format!("{}/{proto}", p.private_port),
            }
        })
        .collect();
    ports.sort();
    ports.dedup();
    Container {
        id: s.id.unwrap_or_default(),
        name: s
            .names
            .unwrap_or_default()
            .first()
            .map(|n| n.trim_start_matches('/').to_owned())
            .unwrap_or_default(),
        image: s.image.unwrap_or_default(),
        state: s
            .state
            .map_or_else(|| "unknown".to_owned(), |st| st.to_string()),
        status,
        health,
        ports,
        created_ms: s.created.unwrap_or(0).saturating_mul(1000),
        project: labels.get("com.docker.compose.project").cloned(),
        service: labels.get("com.docker.compose.service").cloned(),
        stats: None,
    }
}

/// Older engines put the health only in the status text: `Up 2 minutes (unhealthy)`.
fn health_from_status(status: &str) -> Option<&'static str> {
    if status.ends_with("(healthy)") {
        Some("healthy")
    } else if status.ends_with("(unhealthy)") {
        Some("unhealthy")
    } else if status.contains("(health: starting)") {
        Some("starting")
    } else {
        None
    }
}

/// CPU % as `docker stats` computes it: the container's share of the host's CPU time
/// since the previous reading, times the number of CPUs.
fn stats_of(s: &bollard::models::ContainerStatsResponse) -> ContainerStats {
    let cpu = s.cpu_stats.clone().unwrap_or_default();
    let pre = s.precpu_stats.clone().unwrap_or_default();
    let used = |c: &bollard::models::ContainerCpuStats| {
        c.cpu_usage
            .as_ref()
            .and_then(|u| u.total_usage)
            .unwrap_or(0)
    };
    let cpu_delta = used(&cpu).saturating_sub(used(&pre)) as f64;
    let system_delta = cpu
        .system_cpu_usage
        .unwrap_or(0)
        .saturating_sub(pre.system_cpu_usage.unwrap_or(0)) as f64;
    let cpus = f64::from(cpu.online_cpus.unwrap_or(1).max(1));
    let cpu_percent = if system_delta > 0.0 {
        cpu_delta / system_delta * cpus * 100.0
    } else {
        0.0
    };
    let memory = s.memory_stats.clone().unwrap_or_default();
    // Like `docker stats`: usage less the page cache that can be dropped.
    let cache = memory
        .stats
        .as_ref()
        .and_then(|st| {
            st.get("inactive_file")
                .or_else(|| st.get("total_inactive_file"))
        })
        .copied()
        .unwrap_or(0);
    ContainerStats {
        cpu_percent,
        memory_bytes: memory.usage.unwrap_or(0).saturating_sub(cache),
        memory_limit_bytes: memory.limit.unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_split_off_lines() {
        let (ns, text) = split_timestamp(b"2026-11-21T10:00:00.000000001Z hello world\n");
        assert_eq!(ns, Some(1_795_255_200_000_000_001));
        assert_eq!(text, b"hello world\n");
        assert_eq!(split_timestamp(b"no stamp\n"), (None, &b"no stamp\n"[..]));
    }

    #[test]
    fn health_is_read_from_old_engines_status_text() {
        assert_eq!(
            health_from_status("Up 3 minutes (healthy)"),
            Some("healthy")
        );
        assert_eq!(
            health_from_status("Up 3 minutes (unhealthy)"),
            Some("unhealthy")
        );
        assert_eq!(
            health_from_status("Up 1 second (health: starting)"),
            Some("starting")
        );
        assert_eq!(health_from_status("Exited (0) 2 hours ago"), None);
    }

    #[test]
    fn lines_at_or_before_the_cursor_are_skipped() {
        let mut out = ContainerLogChunk {
            data: Vec::new(),
            cursor_ns: 1_795_255_200_000_000_001,
            running: true,
        };
        let old = LogOutput::StdOut {
            message: "2026-11-21T10:00:00.000000001Z old\n".into(),
        };
        let new = LogOutput::StdErr {
            message: "2026-11-21T10:00:00.000000002Z new\n".into(),
        };
        take_line(&mut out, &old);
        take_line(&mut out, &new);
        assert_eq!(out.data, b"new\n");
        assert_eq!(out.cursor_ns, 1_795_255_200_000_000_002);
    }

    #[tokio::test]
    async fn no_engine_is_unavailable_with_the_reason() {
        let c = Containers::unavailable_for_tests();
        let err = c.list(false).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "Docker unavailable: not connected in unit tests"
        );
    }
}
