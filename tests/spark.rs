//! Spark end to end, against real Apache Spark: the runtime `scripts/test` provisioned
//! (`HARBOUR_RUNTIME_DIR`, default `.cache/harbour-runtime`), a real harbourd, a managed
//! standalone cluster, PySpark runs with live progress and event logs, kill, SQL over Spark
//! Connect on parquet and on a throwaway PostgreSQL through JDBC, and bad SQL.
//!
//! Spark JVMs are slow to start, so one test walks through the steps on one daemon, one
//! cluster and one Connect server rather than paying for them per test.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harbour_shared::{
    ClusterSpec, ClusterState, Error, JobKind, JobSource, JobSpec, ProgressSource, RunId,
    RunResult, SparkProgress, SqlRequest, SqlResult, TableFormat, TableSpec,
};
use harbour_tests::{
    Daemon, bin, processes_in_group, run_detail, submit, wait_run, wait_terminated,
};
use harbour_tui::client::{self, Client, ClientError, Flatten as _};

use harbour_tests::runtime_dir;

fn python() -> PathBuf {
    runtime_dir().join("venv/bin/python")
}

fn start_daemon() -> Daemon {
    Daemon::start_with(&format!(
        "[runs]\nkill_grace_secs = 5\n[health]\nbuiltin_interval = \"1s\"\n\
         [spark]\nruntime_dir = \"{}\"\nlocal_cores = 2\n",
        runtime_dir().display()
    ))
}

fn slow_ctx() -> tarpc::context::Context {
    let mut ctx = client::ctx();
    ctx.deadline = Instant::now() + Duration::from_secs(300);
    ctx
}

fn pyspark(code: &str, cluster: Option<&str>) -> JobSpec {
    let mut spec = JobSpec::new(JobKind::Pyspark, JobSource::Code(code.into()));
    spec.cluster = cluster.map(str::to_owned);
    spec
}

async fn progress(client: &Client, run: RunId) -> Result<SparkProgress, ClientError> {
    client.rpc.spark_progress(client::ctx(), run).await.flat()
}

async fn sql(client: &Client, query: &str) -> Result<SqlResult, ClientError> {
    client
        .rpc
        .sql(
            slow_ctx(),
            SqlRequest {
                query: query.into(),
                cluster: None,
                limit: 0,
            },
        )
        .await
        .flat()
}

fn api_error<T: std::fmt::Debug>(r: Result<T, ClientError>) -> Error {
    match r {
        Err(ClientError::Api(e)) => e,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Two stages (a shuffle) of slow tasks, so progress can be seen while it runs.
const MULTI_STAGE: &str = r#"
import time
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
def slow(x):
    time.sleep(0.4)
    return (x % 3, x)
rdd = spark.sparkContext.parallelize(range(24), 4).map(slow).reduceByKey(lambda a, b: a + b, 2)
print("RESULT", sorted(rdd.collect()))
spark.stop()
"#;

/// Partition 0's first attempt fails; its retry succeeds.
const FAIL_ONCE: &str = r#"
from pyspark import TaskContext
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
def flaky(it):
    ctx = TaskContext.get()
    if ctx.partitionId() == 0 and ctx.attemptNumber() == 0:
        raise RuntimeError("first attempt fails on purpose")
    return [sum(it)]
print("SUM", sum(spark.sparkContext.parallelize(range(100), 2).mapPartitions(flaky).collect()))
spark.stop()
"#;

/// Four tasks of 8 s each on the cluster's two cores: long enough to lose the master mid-run.
const SLOW_TASKS: &str = r#"
import time
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
done = spark.sparkContext.parallelize(range(4), 4).map(lambda x: time.sleep(8) or 1).sum()
print("SLOW", done)
spark.stop()
"#;

const FOREVER: &str = r#"
import time
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
spark.sparkContext.parallelize(range(2), 1).map(lambda x: time.sleep(600)).collect()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spark_end_to_end() {
    let daemon = start_daemon();
    let client = daemon.client().await;

    // The runtime is found.
    let rt = client
        .rpc
        .spark_runtime(client::ctx())
        .await
        .flat()
        .unwrap();
    assert_eq!(rt.spark_version.as_deref(), Some("4.3.0"), "{rt:?}");
    assert!(rt.problem.is_none(), "{rt:?}");

    // A managed cluster starts while a local multi-stage run is watched.
    let created = client
        .rpc
        .create_cluster(
            client::ctx(),
            ClusterSpec {
                name: "t1".into(),
                workers: 1,
                cores: 2,
                memory: "1g".into(),
            },
        )
        .await
        .flat()
        .unwrap();
    assert_eq!(created.state, ClusterState::Pending);

    let run = submit(&client, pyspark(MULTI_STAGE, None)).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen_live = None;
    while Instant::now() < deadline {
        if let Ok(p) = progress(&client, run).await
            && p.source == ProgressSource::Live
            && p.stages
                .iter()
                .any(|s| s.tasks.active > 0 || s.status == "ACTIVE")
        {
            seen_live = Some(p);
            break;
        }
        let detail = run_detail(&client, run).await;
        assert!(
            detail.run.is_active(),
            "run ended before progress was seen: {:?}\n{}",
            detail.run,
            std::fs::read_to_string(&detail.stderr_path).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let live = seen_live.expect("live progress while the run was active");
    assert!(
        live.app_id
            .as_deref()
            .is_some_and(|id| id.starts_with("local-"))
    );
    let detail = wait_terminated(&client, run, Duration::from_secs(120)).await;
    assert_eq!(
        detail.run.result,
        Some(RunResult::Succeeded),
        "{}",
        std::fs::read_to_string(&detail.stderr_path).unwrap_or_default()
    );
    let app = detail
        .run
        .spark
        .clone()
        .expect("the run records its Spark app");
    assert!(app.ui_url.starts_with("http://127.0.0.1:"));
    assert!(
        detail
            .argv
            .iter()
            .any(|a| a == "spark.eventLog.enabled=true")
    );
    let after = progress(&client, run).await.unwrap();
    assert_eq!(after.source, ProgressSource::EventLog);
    assert_eq!(after.jobs.len(), 1, "{after:?}");
    assert_eq!(after.jobs[0].status, "SUCCEEDED");
    assert_eq!(
        after.jobs[0].tasks.completed, 6,
        "4 map tasks + 2 reduce tasks"
    );
    assert_eq!(after.stages.len(), 2);
    assert!(after.stages.iter().all(|s| s.status == "COMPLETE"));

    // The cluster is running by now, with its worker.
    let cluster = wait_cluster(&client, "t1", |c| c.state != ClusterState::Pending).await;
    assert_eq!(cluster.state, ClusterState::Running, "{cluster:?}");
    let health = cluster.health.clone().expect("health");
    assert_eq!(health.workers_alive, 1);
    assert_eq!(health.cores, 2);

    // A task that fails once and then succeeds, on the cluster.
    let run = submit(&client, pyspark(FAIL_ONCE, Some("t1"))).await;
    let detail = wait_terminated(&client, run, Duration::from_secs(180)).await;
    assert_eq!(
        detail.run.result,
        Some(RunResult::Succeeded),
        "{}",
        std::fs::read_to_string(&detail.stderr_path).unwrap_or_default()
    );
    let stdout = std::fs::read_to_string(&detail.stdout_path).unwrap();
    assert!(stdout.contains("SUM 4950"), "{stdout}");
    let p = progress(&client, run).await.unwrap();
    assert!(
        p.app_id.as_deref().is_some_and(|id| id.starts_with("app-")),
        "{p:?}"
    );
    assert_eq!(p.jobs[0].status, "SUCCEEDED");
    assert_eq!(p.stages[0].tasks.failed, 1, "{p:?}");
    assert_eq!(p.stages[0].tasks.completed, 2, "{p:?}");

    // Kill of a Spark run stops the driver and frees the cluster's cores.
    let run = submit(&client, pyspark(FOREVER, Some("t1"))).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let c = client
            .rpc
            .get_cluster(client::ctx(), "t1".into())
            .await
            .flat()
            .unwrap();
        if c.health.as_ref().is_some_and(|h| h.cores_used > 0) {
            break;
        }
        assert!(Instant::now() < deadline, "the run never got cores: {c:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let running = wait_run(&client, run, Duration::from_secs(10), |r| r.pid.is_some()).await;
    client
        .rpc
        .kill_run(client::ctx(), run)
        .await
        .flat()
        .unwrap();
    let killed = wait_terminated(&client, run, Duration::from_secs(60)).await;
    assert_eq!(killed.run.result, Some(RunResult::Cancelled));
    let pgid = running.run.pid.unwrap();
    assert!(
        processes_in_group(pgid).is_empty(),
        "the driver's group is gone"
    );
    wait_cluster(&client, "t1", |c| {
        c.health
            .as_ref()
            .is_some_and(|h| h.cores_used == 0 && h.running_apps == 0)
    })
    .await;

    // A managed cluster comes back after a daemon restart: started again, not forgotten.
    let mut daemon = daemon;
    daemon.terminate();
    daemon.spawn();
    let client = daemon.client().await;
    let back = wait_cluster(&client, "t1", |c| c.state != ClusterState::Pending).await;
    assert_eq!(back.state, ClusterState::Running, "{back:?}");
    assert_eq!(back.health.as_ref().map(|h| h.workers_alive), Some(1));

    // SQL over parquet through the local cluster's Connect session.
    let data = daemon.root.path().join("sales.parquet");
    make_parquet(&data, 100_000);
    client
        .rpc
        .add_table(
            slow_ctx(),
            TableSpec {
                name: "sales".into(),
                format: TableFormat::Parquet,
                location: data.display().to_string(),
                options: vec![],
            },
        )
        .await
        .flat()
        .unwrap();
    let result = sql(
        &client,
        "SELECT region, count(*) AS n, sum(amount) AS total FROM sales GROUP BY region ORDER BY region",
    )
    .await
    .unwrap();
    assert_eq!(result.columns.len(), 3);
    assert_eq!(result.columns[1].name, "n");
    assert_eq!(result.columns[1].data_type, "Int64");
    assert_eq!(result.rows.len(), 4);
    assert_eq!(result.rows[0][0].as_deref(), Some("east"));
    assert_eq!(result.rows[0][1].as_deref(), Some("25000"));
    let again = Instant::now();
    sql(&client, "SELECT count(*) FROM sales").await.unwrap();
    assert!(
        again.elapsed() < Duration::from_secs(5),
        "a warm session answers fast"
    );
    let limited = client
        .rpc
        .sql(
            slow_ctx(),
            SqlRequest {
                query: "SELECT * FROM sales".into(),
                cluster: Some("local".into()),
                limit: 10,
            },
        )
        .await
        .flat()
        .unwrap();
    assert_eq!(limited.rows.len(), 10);
    assert!(limited.truncated);

    // Bad SQL: Spark's message, with the position.
    let err = api_error(sql(&client, "SELEC region FROM sales").await);
    let Error::Invalid { field, why } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(field, "query");
    assert!(
        why.contains("PARSE_SYNTAX_ERROR") || why.contains("syntax"),
        "{why}"
    );
    assert!(why.contains("pos") || why.contains("position"), "{why}");
    let err = api_error(sql(&client, "SELECT * FROM no_such_table").await);
    assert!(err.to_string().contains("no_such_table"), "{err}");

    // A long query is cancelled; the session goes on working.
    let other = daemon.client().await;
    let long = tokio::spawn(async move {
        sql(
            &other,
            "SELECT count(*) FROM range(100000) a CROSS JOIN range(10000000) b WHERE a.id + b.id > 7",
        )
        .await
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    let interrupted = client
        .rpc
        .cancel_sql(client::ctx(), "local".into())
        .await
        .flat()
        .unwrap();
    assert!(interrupted >= 1, "the running query was interrupted");
    let cancelled = tokio::time::timeout(Duration::from_secs(30), long)
        .await
        .expect("a cancelled query answers promptly")
        .unwrap();
    assert!(cancelled.is_err(), "{cancelled:?}");
    assert_eq!(
        sql(&client, "SELECT 1 AS one").await.unwrap().rows[0][0].as_deref(),
        Some("1")
    );

    // A real PostgreSQL table through JDBC.
    let pg = Postgres::start();
    pg.psql(
        "CREATE TABLE orders (id int, item text, qty int); \
             INSERT INTO orders VALUES (1, 'apple', 3), (2, 'pear', 5), (3, 'fig', 7);",
    );
    client
        .rpc
        .add_table(
            slow_ctx(),
            TableSpec {
                name: "orders".into(),
                format: TableFormat::Jdbc,
                location: format!("jdbc:postgresql://127.0.0.1:{}/postgres", pg.port),
                options: vec![
                    ("dbtable".into(), "public.orders".into()),
                    ("user".into(), "postgres".into()),
                    ("driver".into(), "org.postgresql.Driver".into()),
                ],
            },
        )
        .await
        .flat()
        .unwrap();
    let result = sql(
        &client,
        "SELECT item, qty FROM orders WHERE qty > 4 ORDER BY id",
    )
    .await
    .unwrap();
    assert_eq!(
        result.rows,
        vec![
            vec![Some("pear".into()), Some("5".into())],
            vec![Some("fig".into()), Some("7".into())]
        ]
    );

    // A worker that dies is noticed and shown.
    let log_dir = cluster.log_dir.clone().unwrap();
    let worker = worker_pid(&log_dir).expect("the cluster's worker process");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(worker).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let hurt = wait_cluster(&client, "t1", |c| {
        c.health
            .as_ref()
            .and_then(|h| h.problem.as_deref())
            .is_some_and(|p| p.contains("exited"))
    })
    .await;
    assert_eq!(hurt.state, ClusterState::Running, "the master still runs");
    // ... and the built-in clusters check goes down, naming the cluster.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let report = client.rpc.health(client::ctx()).await.flat().unwrap();
        let check = report
            .checks
            .iter()
            .find(|c| c.name == "harbourd.clusters")
            .expect("a built-in clusters check");
        let runtime = report.checks.iter().find(|c| c.name == "harbourd.spark");
        assert_eq!(
            runtime.map(|c| c.status),
            Some(harbour_shared::HealthStatus::Up),
            "{runtime:?}"
        );
        if check.status == harbour_shared::HealthStatus::Down {
            assert!(check.message.contains("t1:"), "{}", check.message);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the clusters check never went down: {check:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // A restart brings the lost worker back.
    let healed = restart_cluster(&client, "t1").await;

    // A master that dies mid-run: the cluster says so and how to recover, the run still ends
    // with a result (Spark keeps the executors it already has), and a restart brings it back.
    let run = submit(&client, pyspark(SLOW_TASKS, Some("t1"))).await;
    wait_cluster(&client, "t1", |c| {
        c.health.as_ref().is_some_and(|h| h.cores_used > 0)
    })
    .await;
    let master_url = healed.master_url.clone();
    let port = master_url.rsplit(':').next().unwrap().to_owned();
    let master = spark_pid(
        "org.apache.spark.deploy.master.Master",
        &format!("--port\0{port}"),
    )
    .expect("the cluster's master process");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(master).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let down = wait_cluster(&client, "t1", |c| matches!(c.state, ClusterState::Error(_))).await;
    let ClusterState::Error(why) = &down.state else {
        unreachable!()
    };
    assert!(
        why.contains("master process exited") && why.contains("master.log"),
        "{why}"
    );
    assert!(why.contains("harbour clusters restart t1"), "{why}");
    let ended = wait_terminated(&client, run, Duration::from_secs(180)).await;
    let stdout = std::fs::read_to_string(&ended.stdout_path).unwrap_or_default();
    assert_eq!(
        ended.run.result,
        Some(RunResult::Succeeded),
        "{stdout}{}",
        std::fs::read_to_string(&ended.stderr_path).unwrap_or_default()
    );
    assert!(stdout.contains("SLOW 4"), "{stdout}");
    restart_cluster(&client, "t1").await;
    let run = submit(&client, pyspark(FAIL_ONCE, Some("t1"))).await;
    let after = wait_terminated(&client, run, Duration::from_secs(180)).await;
    assert_eq!(after.run.result, Some(RunResult::Succeeded));

    // Deleting the cluster stops its processes.
    client
        .rpc
        .delete_cluster(slow_ctx(), "t1".into())
        .await
        .flat()
        .unwrap();
    let left = Command::new("pgrep")
        .args(["-f", &log_dir])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&left.stdout).trim().is_empty(),
        "no process of the cluster is left"
    );
    let err = api_error(
        client
            .rpc
            .get_cluster(client::ctx(), "t1".into())
            .await
            .flat(),
    );
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

/// Restarts a one-worker managed cluster and waits until it runs with its worker.
async fn restart_cluster(client: &Client, name: &str) -> harbour_shared::Cluster {
    client
        .rpc
        .restart_cluster(slow_ctx(), name.into())
        .await
        .flat()
        .unwrap();
    let back = wait_cluster(client, name, |c| {
        c.state != ClusterState::Pending
            && c.state != ClusterState::Terminating
            && c.health.as_ref().is_some_and(|h| h.workers_alive == 1)
    })
    .await;
    assert_eq!(back.state, ClusterState::Running, "{back:?}");
    back
}

async fn wait_cluster(
    client: &Client,
    name: &str,
    done: impl Fn(&harbour_shared::Cluster) -> bool,
) -> harbour_shared::Cluster {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let c = client
            .rpc
            .get_cluster(client::ctx(), name.into())
            .await
            .flat()
            .unwrap();
        if done(&c) {
            return c;
        }
        assert!(Instant::now() < deadline, "cluster {name} is {c:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The worker JVM of the cluster whose directory is `dir` (its `--work-dir` is under it).
fn worker_pid(dir: &str) -> Option<u32> {
    spark_pid(
        "org.apache.spark.deploy.worker.Worker",
        &format!("{dir}/worker-0"),
    )
}

/// A JVM running Spark's `class` whose NUL-separated command line contains `marker`.
fn spark_pid(class: &str, marker: &str) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .filter_map(Result::ok)
        .find_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline);
            (cmdline.contains(class) && cmdline.contains(marker)).then_some(pid)
        })
}

/// `rows` rows over four regions, written with the runtime's pyarrow.
fn make_parquet(path: &Path, rows: usize) {
    let code = format!(
        "import pyarrow as pa, pyarrow.parquet as pq\n\
         n = {rows}\n\
         regions = ['east', 'north', 'south', 'west']\n\
         t = pa.table({{'id': list(range(n)), 'region': [regions[i % 4] for i in range(n)], \
         'amount': [float(i % 100) for i in range(n)]}})\n\
         pq.write_table(t, '{}')\n",
        path.display()
    );
    let status = Command::new(python()).args(["-c", &code]).status().unwrap();
    assert!(status.success());
}

/// A throwaway PostgreSQL on loopback, removed when dropped.
struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
}

impl Postgres {
    fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL is installed (scripts/test installs it)")
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .find(|p| p.join("initdb").is_file())
            .expect("initdb");
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("harbour-pg-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pg = Self { dir, bin, port };
        let root = nix::unistd::Uid::effective().is_root();
        if root {
            // PostgreSQL refuses to run as root: its files and processes belong to `postgres`.
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&pg.dir)
                .status()
                .unwrap();
            assert!(status.success());
        }
        let data = pg.dir.join("data");
        pg.run(&[
            pg.bin.join("initdb").to_str().unwrap(),
            "-D",
            data.to_str().unwrap(),
            "-U",
            "postgres",
            "--auth=trust",
        ]);
        pg.run(&[
            pg.bin.join("pg_ctl").to_str().unwrap(),
            "-D",
            data.to_str().unwrap(),
            "-l",
            pg.dir.join("log").to_str().unwrap(),
            "-w",
            "-o",
            &format!(
                "-p {port} -c listen_addresses=127.0.0.1 -k {}",
                pg.dir.display()
            ),
            "start",
        ]);
        pg
    }

    fn run(&self, argv: &[&str]) {
        let mut cmd = if nix::unistd::Uid::effective().is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).args(argv);
            c
        } else {
            let mut c = Command::new(argv[0]);
            c.args(&argv[1..]);
            c
        };
        let out = cmd
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{argv:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn psql(&self, sql: &str) {
        let psql = self.bin.join("psql");
        self.run(&[
            psql.to_str().unwrap(),
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ]);
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let pg_ctl = self.bin.join("pg_ctl");
        let mut cmd = if nix::unistd::Uid::effective().is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&pg_ctl);
            c
        } else {
            Command::new(&pg_ctl)
        };
        let _ = cmd
            .args([
                "-D",
                data.to_str().unwrap_or_default(),
                "-m",
                "immediate",
                "stop",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `harbourd runtime install` twice is a no-op the second time, and `runtime status` reports.
#[test]
fn runtime_install_is_idempotent() {
    let dir = runtime_dir();
    let started = Instant::now();
    let out = Command::new(bin("harbourd"))
        .args(["runtime", "install", "--dir"])
        .arg(&dir)
        .env("HARBOUR_DATA_DIR", std::env::temp_dir())
        .env("HARBOUR_CONFIG_DIR", "/nonexistent")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("already installed"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(60));
    let out = Command::new(bin("harbourd"))
        .args(["runtime", "status", "--json"])
        .env("HARBOUR_RUNTIME_DIR", &dir)
        .env("HARBOUR_DATA_DIR", std::env::temp_dir())
        .env("HARBOUR_CONFIG_DIR", "/nonexistent")
        .output()
        .unwrap();
    let info: harbour_shared::RuntimeInfo = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info.spark_version.as_deref(), Some("4.3.0"));
    assert!(
        info.java
            .is_some_and(|j| j.contains("17") || j.contains("21"))
    );
}

/// Wrong cluster requests are refused with what to do, before anything starts.
#[tokio::test]
async fn cluster_requests_are_checked() {
    let daemon = start_daemon();
    let client = daemon.client().await;
    let bad = |name: &str, workers, memory: &str| ClusterSpec {
        name: name.into(),
        workers,
        cores: 1,
        memory: memory.into(),
    };
    for spec in [
        bad("x y", 1, "1g"),
        bad("ok", 0, "1g"),
        bad("ok", 1, "lots"),
    ] {
        let err = api_error(client.rpc.create_cluster(client::ctx(), spec).await.flat());
        assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    }
    let err = api_error(
        client
            .rpc
            .create_cluster(client::ctx(), bad("local", 1, "1g"))
            .await
            .flat(),
    );
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    let err = api_error(
        client
            .rpc
            .delete_cluster(client::ctx(), "local".into())
            .await
            .flat(),
    );
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    // External clusters: registered, tested, listed.
    let ext = client
        .rpc
        .add_cluster(
            client::ctx(),
            harbour_shared::ExternalClusterSpec {
                name: "ext".into(),
                master: "spark://127.0.0.1:1".into(),
                connect: Some("sc://127.0.0.1:1".into()),
            },
        )
        .await
        .flat()
        .unwrap();
    assert_eq!(ext.kind, harbour_shared::ClusterKind::External);
    let checks = client
        .rpc
        .test_cluster(client::ctx(), "ext".into())
        .await
        .flat()
        .unwrap();
    let master = checks.iter().find(|c| c.what == "master").unwrap();
    assert!(!master.ok, "nothing listens on port 1: {checks:?}");
    let names: Vec<String> = client
        .rpc
        .list_clusters(client::ctx())
        .await
        .flat()
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["local", "ext"]);
    let err = api_error(
        client
            .rpc
            .add_cluster(
                client::ctx(),
                harbour_shared::ExternalClusterSpec {
                    name: "bad".into(),
                    master: "http://x".into(),
                    connect: None,
                },
            )
            .await
            .flat(),
    );
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
}
