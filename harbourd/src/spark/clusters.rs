//! Clusters: the built-in `local` one, managed standalone clusters (a real Spark master and
//! workers started with `spark-class`, bound to loopback, on ports allocated here, logs under
//! `<data_dir>/clusters/<name>/`), and external ones registered by URL.
//!
//! A managed cluster goes `Pending -> Running -> Terminating -> Terminated`, or `Error` with
//! why. Its row (spec, ports, process groups) is in SQLite, so after a daemon restart it is
//! started again (leftover processes stopped first) or marked `Error`: never silently gone.
//! A monitor task reads each master's `/json/` for health and notices dead processes.

use std::sync::Arc;
use std::time::Duration;

use harbour_shared::{
    Cluster, ClusterCheck, ClusterKind, ClusterSpec, ClusterState, Error, EventKind,
    ExternalClusterSpec, LOCAL_CLUSTER,
};

use super::procs::{self, Owned};
use super::{Spark, rest, valid_name};
use crate::clock::now_ms;
use crate::store::clusters::{self as rows, ClusterRow, Ports};

/// How long a new cluster has to get its master up and every worker registered.
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// How often running managed clusters are checked.
const MONITOR_EVERY: Duration = Duration::from_secs(2);
const MAX_WORKERS: u32 = 32;

/// The processes of a running managed cluster.
#[derive(Debug)]
pub struct Live {
    master: Owned,
    workers: Vec<Owned>,
}

impl Live {
    pub async fn stop(self, grace: Duration) {
        // Workers first, so the master does not log them as lost.
        for w in self.workers {
            procs::stop(w.proc, grace).await;
        }
        procs::stop(self.master.proc, grace).await;
    }
}

fn store_err(e: impl std::fmt::Display) -> Error {
    tracing::error!("cluster store: {e}");
    Error::Internal {
        id: "cluster-store".into(),
    }
}

fn not_found(name: &str) -> Error {
    Error::not_found(
        format!("cluster '{name}'"),
        "`harbour clusters list` shows the clusters there are",
    )
}

impl Spark {
    pub fn local_master(&self) -> String {
        format!("local[{}]", self.config.local_cores)
    }

    fn local_cluster(&self) -> Cluster {
        Cluster {
            name: LOCAL_CLUSTER.into(),
            kind: ClusterKind::Local,
            state: if self.runtime.is_some() {
                ClusterState::Running
            } else {
                ClusterState::Error("no Spark runtime; run `harbourd runtime install`".into())
            },
            state_message: "built in: Spark runs in the driver".into(),
            master_url: self.local_master(),
            web_ui_url: None,
            connect_url: self.connects.url_of(LOCAL_CLUSTER),
            spec: None,
            created_ms: 0,
            log_dir: Some(self.cluster_dir(LOCAL_CLUSTER).display().to_string()),
            health: None,
        }
    }

    fn to_cluster(&self, row: ClusterRow) -> Cluster {
        let web_ui_url = row
            .ports
            .map(|p| format!("http://127.0.0.1:{}", p.master_ui));
        let connect_url = row
            .connect_url
            .clone()
            .or_else(|| self.connects.url_of(&row.name));
        let health = self.health_of(&row.name);
        let log_dir = (row.kind == ClusterKind::Managed)
            .then(|| self.cluster_dir(&row.name).display().to_string());
        Cluster {
            name: row.name,
            kind: row.kind,
            state: row.state,
            state_message: row.state_message,
            master_url: row.master_url,
            web_ui_url,
            connect_url,
            spec: row.spec,
            created_ms: row.created_ms,
            log_dir,
            health,
        }
    }

    async fn row(&self, name: &str) -> Result<Option<ClusterRow>, Error> {
        let name = name.to_owned();
        self.store
            .call(move |c| rows::get(c, &name))
            .await
            .map_err(store_err)
    }

    async fn save(&self, row: ClusterRow) -> Result<Cluster, Error> {
        let stored = row.clone();
        self.store
            .call(move |c| rows::save(c, &stored, now_ms()))
            .await
            .map_err(store_err)?;
        let cluster = self.to_cluster(row);
        self.announce(&cluster);
        Ok(cluster)
    }

    pub async fn list_clusters(&self) -> Result<Vec<Cluster>, Error> {
        let rows = self
            .store
            .call(|c| rows::list(c))
            .await
            .map_err(store_err)?;
        let mut out = vec![self.local_cluster()];
        out.extend(rows.into_iter().map(|r| self.to_cluster(r)));
        Ok(out)
    }

    pub async fn get_cluster(&self, name: &str) -> Result<Cluster, Error> {
        if name == LOCAL_CLUSTER {
            return Ok(self.local_cluster());
        }
        let row = self.row(name).await?.ok_or_else(|| not_found(name))?;
        Ok(self.to_cluster(row))
    }

    /// The master URL a run on `name` is submitted to, and the managed spec if any. The
    /// cluster must be running.
    pub async fn master_for_run(&self, name: &str) -> Result<(String, Option<ClusterSpec>), Error> {
        let cluster = self.get_cluster(name).await?;
        match &cluster.state {
            ClusterState::Running => Ok((cluster.master_url, cluster.spec)),
            // External clusters are not watched: their state is what was registered.
            _ if cluster.kind == ClusterKind::External => Ok((cluster.master_url, None)),
            state => Err(Error::conflict(format!(
                "cluster '{name}' is {state}, not running; `harbour clusters show {name}` says \
                 why, `harbour clusters restart {name}` starts it again"
            ))),
        }
    }

    pub async fn create_cluster(self: &Arc<Self>, spec: ClusterSpec) -> Result<Cluster, Error> {
        valid_name("name", &spec.name)?;
        if spec.name == LOCAL_CLUSTER {
            return Err(Error::conflict(
                "'local' is the built-in cluster; pick another name",
            ));
        }
        if spec.workers == 0 || spec.workers > MAX_WORKERS {
            return Err(Error::invalid(
                "workers",
                format!("{} is out of range; give 1 to {MAX_WORKERS}", spec.workers),
            ));
        }
        if spec.cores == 0 {
            return Err(Error::invalid("cores", "each worker needs at least 1 core"));
        }
        match super::memory_mb(&spec.memory) {
            Some(mb) if mb >= 256 => {}
            _ => {
                return Err(Error::invalid(
                    "memory",
                    format!(
                        "'{}' is not a worker memory size Spark can use; write it like 512m or 2g \
                         (at least 256m)",
                        spec.memory
                    ),
                ));
            }
        }
        self.runtime()?;
        if self.row(&spec.name).await?.is_some() {
            return Err(Error::conflict(format!(
                "a cluster named '{}' exists already; `harbour clusters delete {}` first, or pick \
                 another name",
                spec.name, spec.name
            )));
        }
        let ports = allocate_ports(None)?;
        let now = now_ms();
        let row = ClusterRow {
            name: spec.name.clone(),
            kind: ClusterKind::Managed,
            master_url: format!("spark://127.0.0.1:{}", ports.master),
            spec: Some(spec),
            connect_url: None,
            state: ClusterState::Pending,
            state_message: "starting the master and workers".into(),
            ports: Some(ports),
            procs: Vec::new(),
            created_ms: now,
        };
        let cluster = self.save(row.clone()).await?;
        let this = self.clone();
        tokio::spawn(async move { this.bring_up(row).await });
        Ok(cluster)
    }

    pub async fn add_external(&self, spec: ExternalClusterSpec) -> Result<Cluster, Error> {
        valid_name("name", &spec.name)?;
        if spec.name == LOCAL_CLUSTER {
            return Err(Error::conflict(
                "'local' is the built-in cluster; pick another name",
            ));
        }
        let master = spec.master.trim().to_owned();
        let known = ["spark://", "k8s://", "mesos://", "local"];
        if !(known.iter().any(|p| master.starts_with(p)) || master == "yarn") {
            return Err(Error::invalid(
                "master",
                format!(
                    "'{master}' is not a Spark master URL; use spark://HOST:PORT, k8s://https://HOST, \
                     yarn or local[N]"
                ),
            ));
        }
        if let Some(connect) = &spec.connect
            && !connect.starts_with("sc://")
        {
            return Err(Error::invalid(
                "connect",
                format!("'{connect}' is not a Spark Connect URL; use sc://HOST:PORT"),
            ));
        }
        if self.row(&spec.name).await?.is_some() {
            return Err(Error::conflict(format!(
                "a cluster named '{}' exists already",
                spec.name
            )));
        }
        self.save(ClusterRow {
            name: spec.name,
            kind: ClusterKind::External,
            spec: None,
            master_url: master,
            connect_url: spec.connect,
            state: ClusterState::Running,
            state_message: "external: registered, not managed by harbourd".into(),
            ports: None,
            procs: Vec::new(),
            created_ms: now_ms(),
        })
        .await
    }

    pub async fn delete_cluster(&self, name: &str) -> Result<Cluster, Error> {
        if name == LOCAL_CLUSTER {
            return Err(Error::conflict(
                "the built-in 'local' cluster cannot be deleted",
            ));
        }
        let mut row = self.row(name).await?.ok_or_else(|| not_found(name))?;
        if row.kind == ClusterKind::Managed {
            row.state = ClusterState::Terminating;
            row.state_message = "stopping the Connect server, workers and master".into();
            self.save(row.clone()).await?;
            self.bring_down(&row).await;
        } else {
            self.connects.stop(name, self.grace).await;
        }
        let owned = name.to_owned();
        self.store
            .call(move |c| rows::delete(c, &owned))
            .await
            .map_err(store_err)?;
        self.set_health(name, None);
        row.state = ClusterState::Terminated;
        row.state_message = "deleted".into();
        row.procs.clear();
        self.events
            .publish(EventKind::ClusterDeleted(name.to_owned()));
        Ok(self.to_cluster(row))
    }

    pub async fn restart_cluster(self: &Arc<Self>, name: &str) -> Result<Cluster, Error> {
        let mut row = self.row(name).await?.ok_or_else(|| not_found(name))?;
        if row.kind != ClusterKind::Managed {
            return Err(Error::conflict(format!(
                "cluster '{name}' is not managed by harbourd; only its Connect session can be \
                 restarted, which happens on the next query"
            )));
        }
        if row.state == ClusterState::Pending {
            return Err(Error::conflict(format!(
                "cluster '{name}' is starting already"
            )));
        }
        row.state = ClusterState::Terminating;
        row.state_message = "restarting: stopping".into();
        self.save(row.clone()).await?;
        self.bring_down(&row).await;
        row.procs.clear();
        row.ports = Some(allocate_ports(row.ports)?);
        if let Some(p) = row.ports {
            row.master_url = format!("spark://127.0.0.1:{}", p.master);
        }
        row.state = ClusterState::Pending;
        row.state_message = "restarting: starting the master and workers".into();
        let cluster = self.save(row.clone()).await?;
        let this = self.clone();
        tokio::spawn(async move { this.bring_up(row).await });
        Ok(cluster)
    }

    /// Says what of a cluster answers.
    pub async fn test_cluster(&self, name: &str) -> Result<Vec<ClusterCheck>, Error> {
        let cluster = self.get_cluster(name).await?;
        let mut checks = Vec::new();
        let runtime = self.runtime.is_some();
        checks.push(ClusterCheck {
            what: "spark runtime".into(),
            ok: runtime,
            detail: self.runtime.as_ref().map_or_else(
                || "none: run `harbourd runtime install`".to_owned(),
                |r| r.spark_home.display().to_string(),
            ),
        });
        if let Some(hostport) = cluster.master_url.strip_prefix("spark://") {
            let ok = tcp_reachable(hostport).await;
            checks.push(ClusterCheck {
                what: "master".into(),
                ok: ok.is_ok(),
                detail: match ok {
                    Ok(()) => format!("{} accepts connections", cluster.master_url),
                    Err(e) => format!("{}: {e}", cluster.master_url),
                },
            });
        } else {
            checks.push(ClusterCheck {
                what: "master".into(),
                ok: true,
                detail: format!(
                    "{} is passed to spark-submit as it is (not probed)",
                    cluster.master_url
                ),
            });
        }
        if let Some(ui) = &cluster.web_ui_url {
            let expected = cluster.spec.as_ref().map_or(0, |s| s.workers);
            let health = rest::master_health(&self.http, ui, expected).await;
            checks.push(ClusterCheck {
                what: "master web UI".into(),
                ok: health.master_alive,
                detail: if health.master_alive {
                    format!(
                        "{ui}: {} workers alive, {}/{} cores used, {} running apps",
                        health.workers_alive, health.cores_used, health.cores, health.running_apps
                    )
                } else {
                    health.problem.unwrap_or_default()
                },
            });
        }
        match &cluster.connect_url {
            Some(url) => {
                let hostport = url
                    .trim_start_matches("sc://")
                    .split(['/', ';'])
                    .next()
                    .unwrap_or_default();
                let ok = tcp_reachable(hostport).await;
                checks.push(ClusterCheck {
                    what: "spark connect".into(),
                    ok: ok.is_ok(),
                    detail: match ok {
                        Ok(()) => format!("{url} accepts connections"),
                        Err(e) => format!("{url}: {e}"),
                    },
                });
            }
            None => checks.push(ClusterCheck {
                what: "spark connect".into(),
                ok: true,
                detail: "not started yet: harbourd starts one on the first SQL query".into(),
            }),
        }
        Ok(checks)
    }

    /// Starts the processes of a pending managed cluster and waits for them to be healthy.
    async fn bring_up(self: Arc<Self>, mut row: ClusterRow) {
        let result = self.start_processes(&mut row).await;
        let (state, message) = match result {
            Ok(()) => (
                ClusterState::Running,
                format!(
                    "running: master {} and {} worker(s)",
                    row.master_url,
                    row.spec.as_ref().map_or(0, |s| s.workers)
                ),
            ),
            Err(why) => {
                let live = self
                    .managed
                    .lock()
                    .ok()
                    .and_then(|mut m| m.remove(&row.name));
                if let Some(live) = live {
                    live.stop(self.grace).await;
                }
                (ClusterState::Error(why.clone()), why)
            }
        };
        // Deleted (or restarted) meanwhile: that call owns the row now.
        match self.row(&row.name).await {
            Ok(Some(current)) if current.state == ClusterState::Pending => {}
            _ => return,
        }
        row.state = state;
        row.state_message = message;
        if let Err(e) = self.save(row).await {
            tracing::error!("cannot record a cluster's state: {e}");
        }
    }

    async fn start_processes(&self, row: &mut ClusterRow) -> Result<(), String> {
        let rt = self.runtime().map_err(|e| e.to_string())?.clone();
        let spec = row.spec.clone().ok_or("a managed cluster without a spec")?;
        let ports = row.ports.ok_or("a managed cluster without ports")?;
        let dir = self.cluster_dir(&row.name);
        let spark_class = rt.spark_class().display().to_string();
        let mut env = rt.env();
        env.push(("SPARK_LOG_DIR".into(), dir.display().to_string()));
        let master_argv = vec![
            spark_class.clone(),
            "org.apache.spark.deploy.master.Master".into(),
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            ports.master.to_string(),
            "--webui-port".into(),
            ports.master_ui.to_string(),
        ];
        let master = procs::start(&master_argv, env.clone(), &dir, &dir.join("master.log"))
            .map_err(|e| format!("cannot start the master ({spark_class}): {e}"))?;
        row.procs.push(master.proc);
        let mut workers = Vec::new();
        for i in 0..spec.workers {
            let work = dir.join(format!("worker-{i}"));
            let argv = vec![
                spark_class.clone(),
                "org.apache.spark.deploy.worker.Worker".into(),
                "--host".into(),
                "127.0.0.1".into(),
                "--cores".into(),
                spec.cores.to_string(),
                "--memory".into(),
                spec.memory.clone(),
                "--webui-port".into(),
                "0".into(),
                "--work-dir".into(),
                work.display().to_string(),
                row.master_url.clone(),
            ];
            let worker = procs::start(
                &argv,
                env.clone(),
                &dir,
                &dir.join(format!("worker-{i}.log")),
            )
            .map_err(|e| format!("cannot start worker {i}: {e}"))?;
            row.procs.push(worker.proc);
            workers.push(worker);
        }
        let master_exited = master.exited.clone();
        if let Ok(mut m) = self.managed.lock() {
            m.insert(row.name.clone(), Live { master, workers });
        }
        // Record the process groups now, so a daemon crash during start-up can find them.
        let stored = row.clone();
        let _ = self
            .store
            .call(move |c| rows::save(c, &stored, now_ms()))
            .await;
        let ui = format!("http://127.0.0.1:{}", ports.master_ui);
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if *master_exited.borrow() {
                return Err(format!(
                    "the master exited while starting; see {}",
                    dir.join("master.log").display()
                ));
            }
            let health = rest::master_health(&self.http, &ui, spec.workers).await;
            if health.master_alive && health.workers_alive >= spec.workers {
                self.set_health(&row.name, Some(health));
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!(
                    "not healthy within {}s ({}); logs in {}",
                    START_TIMEOUT.as_secs(),
                    health.problem.unwrap_or_default(),
                    dir.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Stops a managed cluster's Connect server and processes (live or left over).
    async fn bring_down(&self, row: &ClusterRow) {
        self.connects.stop(&row.name, self.grace).await;
        let live = self
            .managed
            .lock()
            .ok()
            .and_then(|mut m| m.remove(&row.name));
        match live {
            Some(live) => live.stop(self.grace).await,
            None => {
                for p in &row.procs {
                    procs::stop_leftover(*p, self.grace).await;
                }
            }
        }
    }

    /// After a daemon start: managed clusters that were pending or running start again
    /// (whatever an earlier daemon left of them is stopped first).
    pub async fn recover(self: &Arc<Self>) {
        for c in self.config.clusters.clone() {
            let spec = ExternalClusterSpec {
                name: c.name.clone(),
                master: c.master,
                connect: c.connect,
            };
            // The config is the truth for these: replace what an earlier start registered.
            let name = c.name.clone();
            let _ = self.store.call(move |conn| rows::delete(conn, &name)).await;
            if let Err(e) = self.add_external(spec).await {
                tracing::error!(cluster = %c.name, "[[spark.clusters]] entry refused: {e}");
            }
        }
        let rows = match self.store.call(|c| rows::list(c)).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!("cannot read clusters: {e}");
                return;
            }
        };
        for mut row in rows {
            if row.kind != ClusterKind::Managed {
                continue;
            }
            let leftover = row.procs.clone();
            for p in leftover {
                procs::stop_leftover(p, self.grace).await;
            }
            row.procs.clear();
            match row.state {
                ClusterState::Pending | ClusterState::Running | ClusterState::Terminating => {}
                _ => continue,
            }
            if row.state == ClusterState::Terminating {
                // It was being deleted or restarted when the daemon stopped: finish as a restart.
                tracing::info!(cluster = %row.name, "was terminating when harbourd stopped");
            }
            if self.runtime.is_none() {
                row.state = ClusterState::Error(
                    "no Spark runtime after the daemon restart; run `harbourd runtime install`"
                        .into(),
                );
                row.state_message = "could not be restarted".into();
                let _ = self.save(row).await;
                continue;
            }
            match allocate_ports(row.ports) {
                Ok(ports) => {
                    row.master_url = format!("spark://127.0.0.1:{}", ports.master);
                    row.ports = Some(ports);
                }
                Err(e) => {
                    row.state = ClusterState::Error(e.to_string());
                    let _ = self.save(row).await;
                    continue;
                }
            }
            row.state = ClusterState::Pending;
            row.state_message = "restarting after a daemon restart".into();
            tracing::info!(cluster = %row.name, "restarting a managed cluster");
            if self.save(row.clone()).await.is_ok() {
                let this = self.clone();
                tokio::spawn(async move { this.bring_up(row).await });
            }
        }
    }

    /// Watches running managed clusters: their health from the master, and processes that
    /// died. Runs until shutdown.
    pub async fn monitor(self: Arc<Self>) {
        let mut tick = tokio::time::interval(MONITOR_EVERY);
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let Ok(rows) = self.store.call(|c| rows::list(c)).await else {
                continue;
            };
            for mut row in rows {
                if row.kind != ClusterKind::Managed || row.state != ClusterState::Running {
                    continue;
                }
                let (master_dead, dead_workers) = self
                    .managed
                    .lock()
                    .ok()
                    .and_then(|m| {
                        m.get(&row.name).map(|l| {
                            (
                                l.master.has_exited(),
                                l.workers.iter().filter(|w| w.has_exited()).count(),
                            )
                        })
                    })
                    .unwrap_or((true, 0));
                if master_dead {
                    row.state = ClusterState::Error(format!(
                        "the master process exited; see {}/master.log, then `harbour clusters \
                         restart {}`",
                        self.cluster_dir(&row.name).display(),
                        row.name
                    ));
                    row.state_message = "master down".into();
                    self.set_health(&row.name, None);
                    let _ = self.save(row).await;
                    continue;
                }
                let Some(ports) = row.ports else { continue };
                let expected = row.spec.as_ref().map_or(0, |s| s.workers);
                let mut health = rest::master_health(
                    &self.http,
                    &format!("http://127.0.0.1:{}", ports.master_ui),
                    expected,
                )
                .await;
                if dead_workers > 0 {
                    health.problem = Some(format!(
                        "{dead_workers} worker process(es) exited; {} of {expected} workers \
                         alive (logs in {})",
                        health.workers_alive,
                        self.cluster_dir(&row.name).display()
                    ));
                }
                let changed = self.health_of(&row.name).is_none_or(|old| {
                    (
                        old.workers_alive,
                        old.cores_used,
                        old.running_apps,
                        &old.problem,
                    ) != (
                        health.workers_alive,
                        health.cores_used,
                        health.running_apps,
                        &health.problem,
                    )
                });
                self.set_health(&row.name, Some(health));
                if changed {
                    let cluster = self.to_cluster(row);
                    self.announce(&cluster);
                }
            }
        }
    }
}

/// Ports for a managed cluster: the previous ones when they are free, else new ones.
fn allocate_ports(previous: Option<Ports>) -> Result<Ports, Error> {
    let free = |want: Option<u16>| -> Result<u16, Error> {
        if let Some(port) = want
            && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
        {
            return Ok(port);
        }
        procs::free_port().map_err(|e| {
            Error::unavailable("ports", format!("cannot find a free loopback port: {e}"))
        })
    };
    let ports = Ports {
        master: free(previous.map(|p| p.master))?,
        master_ui: free(previous.map(|p| p.master_ui))?,
        connect: free(previous.map(|p| p.connect))?,
    };
    if ports.master == ports.master_ui
        || ports.master == ports.connect
        || ports.master_ui == ports.connect
    {
        // The OS handed the same free port out twice: try once more with fresh ones.
        return Ok(Ports {
            master: procs::free_port().map_err(|e| Error::unavailable("ports", e.to_string()))?,
            master_ui: procs::free_port()
                .map_err(|e| Error::unavailable("ports", e.to_string()))?,
            connect: procs::free_port().map_err(|e| Error::unavailable("ports", e.to_string()))?,
        });
    }
    Ok(ports)
}

async fn tcp_reachable(hostport: &str) -> Result<(), String> {
    match tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(hostport),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 2 s".into()),
    }
}
