//! Spark event-log analytics end to end, against real Spark: one `spark-submit` (shared by
//! the tests of this binary, since a JVM start costs 10-15 s) runs the same pyspark jobs as
//! five applications, one per way Spark writes an event log: Spark 4's rolling zstd
//! directory, a plain JSON-lines file, and single files in each of Spark's other codecs
//! (lz4, snappy, lzf). The jobs: a multi-stage shuffle, the same shuffle again (its map
//! stage is skipped), a task whose first attempt fails and is retried, and a job whose tasks
//! always fail.
//!
//! harbourd's figures are compared with what Spark's own History Server reports for the same
//! applications; pushed events (through `harbour events ingest` and the RPC) duplicated and
//! shuffled must give the same figures; in-progress logs cut mid-line and mid-block are
//! followed; and a pyspark run harbour itself ran is replayed and linked to its run.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use harbour_shared::{AppDetail, JobDetail, JobKind, JobSource, JobSpec, SparkApps};
use harbour_tests::{Daemon, bin, wait_terminated};
use harbour_tui::client::{self, Client, Flatten as _};
use serde_json::Value;

use harbour_tests::runtime_dir;

fn runtime() -> harbourd::spark::SparkRuntime {
    let config = harbourd::config::SparkConfig {
        runtime_dir: Some(runtime_dir()),
        ..Default::default()
    };
    harbourd::spark::runtime::locate(&config, Path::new("/nonexistent")).expect("a Spark runtime")
}

/// Each application runs these jobs, in this order.
const JOBS: &str = r#"
import sys
from operator import add
from pyspark import SparkConf, TaskContext
from pyspark.sql import SparkSession

def flaky(it):
    ctx = TaskContext.get()
    if ctx.partitionId() == 0 and ctx.attemptNumber() == 0:
        raise RuntimeError("first attempt fails on purpose")
    return [sum(it)]

def always_fails(x):
    raise ValueError("this job always fails")

def run(name, extra):
    conf = SparkConf().setAppName(name).setMaster("local[2,3]")
    for k, v in extra.items():
        conf.set(k, v)
    spark = SparkSession.builder.config(conf=conf).getOrCreate()
    sc = spark.sparkContext
    print("APP", sc.applicationId, flush=True)
    # job 0: map -> shuffle -> reduce (two stages)
    counts = sc.parallelize(range(2000), 4).map(lambda x: (x % 7, 1)).reduceByKey(add, 3)
    counts.collect()
    # job 1: the same shuffle again: its map stage is skipped
    counts.count()
    # job 2: partition 0's first attempt fails, its retry succeeds
    sc.parallelize(range(100), 2).mapPartitions(flaky).collect()
    # job 3: fails after 3 attempts of a task
    try:
        sc.parallelize(range(10), 2).map(always_fails).collect()
    except Exception:
        pass
    spark.stop()

events = sys.argv[1]
common = {"spark.eventLog.enabled": "true", "spark.eventLog.dir": "file://" + events,
          "spark.ui.enabled": "false"}
run("analytics-zstd", dict(common, **{"spark.eventLog.rolling.enabled": "true",
                                       "spark.eventLog.compress": "true",
                                       "spark.eventLog.compression.codec": "zstd"}))
run("analytics-plain", dict(common, **{"spark.eventLog.rolling.enabled": "false",
                                        "spark.eventLog.compress": "false"}))
for codec in ("lz4", "snappy", "lzf"):
    run("analytics-" + codec, dict(common, **{"spark.eventLog.rolling.enabled": "false",
                                              "spark.eventLog.compress": "true",
                                              "spark.eventLog.compression.codec": codec}))
"#;

/// How each application's log is written, in the order `JOBS` runs them.
const CODECS: [&str; 5] = ["zstd", "plain", "lz4", "snappy", "lzf"];

/// The two applications' logs, made once per test binary.
#[derive(Debug)]
struct Logs {
    /// The event logs, in a temp dir kept for the whole test binary.
    events: PathBuf,
    /// The applications' ids, in `CODECS` order.
    apps: Vec<String>,
}

impl Logs {
    /// The id of the application whose log is written with `codec` (one of `CODECS`).
    fn app(&self, codec: &str) -> &str {
        let i = CODECS
            .iter()
            .position(|c| *c == codec)
            .expect("a codec of CODECS");
        &self.apps[i]
    }
}

fn logs() -> &'static Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let rt = runtime();
        // Under cargo's temp dir for tests, made afresh by each run of this binary.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("analytics-logs");
        let _ = fs::remove_dir_all(&dir);
        let events = dir.join("events");
        fs::create_dir_all(&events).unwrap();
        let script = dir.join("jobs.py");
        fs::write(&script, JOBS).unwrap();
        let output = Command::new(rt.spark_submit())
            .envs(rt.env())
            .arg("--master")
            .arg("local[2,3]")
            .arg(&script)
            .arg(&events)
            .stdin(Stdio::null())
            .output()
            .expect("spark-submit");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "spark-submit failed: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let apps: Vec<String> = stdout
            .lines()
            .filter_map(|l| l.strip_prefix("APP "))
            .map(str::to_owned)
            .collect();
        assert_eq!(apps.len(), CODECS.len(), "{stdout}");
        let listing = || fs::read_dir(&events).unwrap().collect::<Vec<_>>();
        assert!(
            events.join(format!("eventlog_v2_{}", apps[0])).is_dir(),
            "a rolling log directory: {:?}",
            listing()
        );
        assert!(events.join(&apps[1]).is_file(), "a plain log file");
        for (codec, app) in CODECS.iter().zip(&apps).skip(2) {
            let file = events.join(format!("{app}.{codec}"));
            assert!(file.is_file(), "{}: {:?}", file.display(), listing());
        }
        Logs { events, apps }
    })
}

fn start_daemon(log_dir: &Path) -> Daemon {
    Daemon::start_with(&format!(
        "[analytics]\nlog_dirs = [\"{}\"]\npoll = \"200ms\"\n",
        log_dir.display()
    ))
}

fn slow() -> tarpc::context::Context {
    let mut ctx = client::ctx();
    ctx.deadline = Instant::now() + Duration::from_secs(60);
    ctx
}

async fn apps(client: &Client) -> SparkApps {
    client
        .rpc
        .spark_apps(slow())
        .await
        .flat()
        .expect("spark_apps")
}

async fn app(client: &Client, id: &str) -> AppDetail {
    client
        .rpc
        .spark_app(slow(), id.to_owned())
        .await
        .flat()
        .expect("spark_app")
}

async fn job(client: &Client, app: &str, job: i64) -> JobDetail {
    client
        .rpc
        .spark_job(slow(), app.to_owned(), job)
        .await
        .flat()
        .expect("spark_job")
}

/// Waits until `app` is known with `tasks` ended task attempts.
async fn wait_app(client: &Client, id: &str, done: impl Fn(&AppDetail) -> bool) -> AppDetail {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(d) = client.rpc.spark_app(slow(), id.to_owned()).await.flat()
            && done(&d)
        {
            return d;
        }
        assert!(
            Instant::now() < deadline,
            "application {id} not replayed as expected within 60 s; apps: {:#?}",
            apps(client).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Spark's History Server from the runtime, on a free loopback port, over `dir`.
struct HistoryServer {
    child: Child,
    url: String,
}

impl HistoryServer {
    fn start(dir: &Path) -> Self {
        let rt = runtime();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(rt.spark_class())
            .arg("org.apache.spark.deploy.history.HistoryServer")
            .envs(rt.env())
            .env(
                "SPARK_HISTORY_OPTS",
                format!(
                    "-Dspark.history.fs.logDirectory=file://{} -Dspark.history.ui.port={port} \
                     -Dspark.history.fs.update.interval=1s",
                    dir.display()
                ),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the History Server");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}/api/v1"),
        }
    }

    /// `/applications/<app>/<what>` once the server has the application.
    async fn get(&self, app: &str, what: &str) -> Value {
        let http = reqwest::Client::new();
        let url = format!("{}/applications/{app}/{what}", self.url);
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(r) = http.get(&url).send().await
                && r.status().is_success()
                && let Ok(v) = r.json::<Value>().await
            {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "the History Server never served {url}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for HistoryServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn n(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} in {v}"))
}

/// Every job's figures equal what the History Server reports for the same application.
async fn compare_with_spark(client: &Client, hs: &HistoryServer, app_id: &str) {
    let ours = wait_app(client, app_id, |d| {
        d.app.status == "FINISHED" && d.jobs.len() == 4 && d.jobs.iter().all(|j| j.end_ms.is_some())
    })
    .await;
    let theirs = hs.get(app_id, "jobs").await;
    let theirs: BTreeMap<i64, &Value> = theirs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["jobId"].as_i64().unwrap(), j))
        .collect();
    assert_eq!(ours.jobs.len(), theirs.len(), "{theirs:#?}");
    for j in &ours.jobs {
        let t = theirs[&j.job_id];
        let what = format!("job {} of {app_id}: ours {j:#?}\nSpark's {t:#}", j.job_id);
        assert_eq!(j.status, t["status"].as_str().unwrap(), "{what}");
        assert_eq!(j.tasks.succeeded, n(t, "numCompletedTasks"), "{what}");
        assert_eq!(j.tasks.failed, n(t, "numFailedTasks"), "{what}");
        assert_eq!(j.tasks.killed, n(t, "numKilledTasks"), "{what}");
        assert_eq!(j.planned_tasks, n(t, "numTasks"), "{what}");
        assert_eq!(j.name, t["name"].as_str().unwrap(), "{what}");
    }
    // Stage by stage too: attempts' task counts.
    let stages = hs.get(app_id, "stages").await;
    for s in stages.as_array().unwrap() {
        let (id, attempt) = (
            s["stageId"].as_i64().unwrap(),
            s["attemptId"].as_i64().unwrap(),
        );
        if s["status"] == "SKIPPED" {
            continue;
        }
        let Some(ours) = find_stage(client, app_id, &ours, id, attempt).await else {
            panic!("stage {id}.{attempt} of {app_id} is missing: {s:#}");
        };
        assert_eq!(
            ours.tasks.succeeded,
            n(s, "numCompleteTasks"),
            "stage {id}: {s:#}"
        );
        assert_eq!(
            ours.tasks.failed,
            n(s, "numFailedTasks"),
            "stage {id}: {s:#}"
        );
        assert_eq!(
            ours.status,
            s["status"].as_str().unwrap(),
            "stage {id}: {s:#}"
        );
    }
}

async fn find_stage(
    client: &Client,
    app_id: &str,
    detail: &AppDetail,
    id: i64,
    attempt: i64,
) -> Option<harbour_shared::StageSummary> {
    for j in &detail.jobs {
        let d = job(client, app_id, j.job_id).await;
        if let Some(s) = d
            .stages
            .into_iter()
            .find(|s| s.stage_id == id && s.attempt == attempt)
        {
            return Some(s);
        }
    }
    None
}

/// What the jobs are: checked on both formats.
async fn check_story(client: &Client, app_id: &str) {
    let d = app(client, app_id).await;
    let statuses: Vec<&str> = d.jobs.iter().map(|j| j.status.as_str()).collect();
    assert_eq!(statuses, ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "FAILED"]);
    assert_eq!(d.app.failed_jobs, 1);
    // job 0: two stages, 4 + 3 tasks, nothing failed, skew known.
    let j0 = &d.jobs[0];
    assert_eq!((j0.stages, j0.tasks.succeeded, j0.tasks.failed), (2, 7, 0));
    assert!(j0.max_skew.is_some_and(|k| k >= 1.0));
    assert!(j0.slowest_stage.is_some());
    // job 1: its map stage was skipped: only the 3 reduce tasks ran.
    let j1 = job(client, app_id, 1).await;
    assert_eq!(j1.job.tasks.succeeded, 3, "{j1:#?}");
    assert!(j1.stages.iter().any(|s| s.status == "SKIPPED"), "{j1:#?}");
    // job 2: one failed attempt, retried.
    let j2 = job(client, app_id, 2).await;
    assert_eq!(
        (j2.job.tasks.failed, j2.job.tasks.retries),
        (1, 1),
        "{j2:#?}"
    );
    assert_eq!(j2.failed_tasks.len(), 1);
    assert_eq!(j2.failed_tasks[0].reason, "ExceptionFailure");
    assert!(
        j2.failed_tasks[0]
            .message
            .ends_with("RuntimeError: first attempt fails on purpose"),
        "{:?}",
        j2.failed_tasks[0]
    );
    let rate = j2.job.tasks.success_rate().unwrap();
    assert!((rate - 2.0 / 3.0).abs() < 1e-9, "{rate}");
    // job 3: failed, with Spark's reason, and its failed attempts listed.
    let j3 = job(client, app_id, 3).await;
    assert_eq!(
        j3.job.failure.as_deref(),
        Some("ValueError: this job always fails"),
        "{j3:#?}"
    );
    assert!(j3.failed_tasks.len() >= 3, "{j3:#?}");
    assert!(j3.stages.iter().any(|s| s.status == "FAILED"), "{j3:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_logs_match_the_history_server_in_every_format() {
    let logs = logs();
    let hs = HistoryServer::start(&logs.events);
    let daemon = start_daemon(&logs.events);
    let client = daemon.client().await;
    for app_id in &logs.apps {
        compare_with_spark(&client, &hs, app_id).await;
        check_story(&client, app_id).await;
    }
    let listed = apps(&client).await;
    assert!(listed.problems.is_empty(), "{:#?}", listed.problems);
    let names: Vec<&str> = listed.apps.iter().map(|a| a.name.as_str()).collect();
    for codec in CODECS {
        let name = format!("analytics-{codec}");
        assert!(names.contains(&name.as_str()), "{name} in {names:?}");
    }

    // The date summary counts the jobs of all.
    let start = listed.apps[0].start_ms.unwrap();
    let date = chrono_date(start);
    let day = client
        .rpc
        .spark_summary(slow(), date.clone())
        .await
        .flat()
        .unwrap();
    assert_eq!(day.total_jobs, 4 * CODECS.len() as u64, "{day:#?}");
    assert_eq!(
        day.jobs.iter().filter(|j| j.status == "FAILED").count(),
        CODECS.len()
    );
    let bad = client
        .rpc
        .spark_summary(slow(), "21/11/2026".into())
        .await
        .flat();
    assert!(format!("{bad:?}").contains("YYYY-MM-DD"), "{bad:?}");

    // A restarted daemon reads nothing again: figures stay the same.
    let before = app(&client, logs.app("plain")).await;
    drop(client);
    let mut daemon = daemon;
    daemon.kill9();
    daemon.spawn();
    let client = daemon.client().await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(app(&client, logs.app("plain")).await, before);
}

fn chrono_date(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    format!("{:04}-{m:02}-{d:02}", if m <= 2 { y + 1 } else { y })
}

/// The plain log's lines.
fn plain_lines() -> Vec<String> {
    let logs = logs();
    fs::read_to_string(logs.events.join(logs.app("plain")))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn without_app_id(mut d: AppDetail) -> AppDetail {
    d.app.app_id.clear();
    d.app.source.clear();
    for j in &mut d.jobs {
        j.app_id.clear();
    }
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_events_duplicated_and_shuffled_give_the_same_figures() {
    let logs = logs();
    let empty = tempfile::tempdir().unwrap();
    let daemon = start_daemon(empty.path());
    let client = daemon.client().await;

    // In order, through the CLI: the app is named by the log's ApplicationStart.
    let out = Command::new(bin("harbour"))
        .env("HARBOUR_SOCKET", &daemon.socket)
        .args(["events", "ingest"])
        .arg(logs.events.join(logs.app("plain")))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(logs.app("plain")), "{text}");
    let ordered = app(&client, logs.app("plain")).await;

    // Every line twice, shuffled, in small batches, under another id.
    let mut lines = plain_lines();
    lines.extend(plain_lines());
    // A fixed permutation: deterministic, far from the original order.
    let len = lines.len();
    let mut shuffled: Vec<String> = (0..len).map(|i| lines[(i * 7919) % len].clone()).collect();
    shuffled.reverse();
    for chunk in shuffled.chunks(37) {
        client
            .rpc
            .spark_push_events(slow(), Some("shuffled-1".into()), chunk.to_vec())
            .await
            .flat()
            .unwrap();
    }
    let mixed = app(&client, "shuffled-1").await;
    assert_eq!(without_app_id(mixed), without_app_id(ordered.clone()));
    for j in &ordered.jobs {
        let mut a = job(&client, logs.app("plain"), j.job_id).await;
        let mut b = job(&client, "shuffled-1", j.job_id).await;
        a.job.app_id.clear();
        b.job.app_id.clear();
        assert_eq!(a, b);
    }

    // The CLI's text views.
    let out = Command::new(bin("harbour"))
        .env("HARBOUR_SOCKET", &daemon.socket)
        .args(["spark", "job", logs.app("plain"), "2"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ExceptionFailure"), "{text}");
    assert!(text.contains("66.7%"), "{text}");

    // Bad input is refused with a reason, not stored.
    let report = client
        .rpc
        .spark_push_events(slow(), Some("x-1".into()), vec!["not json".into()])
        .await
        .flat()
        .unwrap();
    assert_eq!(report.stored, 0);
    assert_eq!(report.rejected.len(), 1);
    let err = client
        .rpc
        .spark_push_events(
            slow(),
            None,
            lines
                .iter()
                .filter(|l| l.contains("SparkListenerTaskEnd"))
                .take(3)
                .cloned()
                .collect(),
        )
        .await
        .flat();
    assert!(format!("{err:?}").contains("--app"), "{err:?}");
    let err = client
        .rpc
        .spark_push_events(slow(), Some("a b".into()), vec![])
        .await
        .flat();
    assert!(format!("{err:?}").contains("app_id"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_progress_log_is_followed_and_a_cut_line_waits() {
    let logs = logs();
    let dir = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(logs.events.join(logs.app("plain"))).unwrap();
    // Cut in the middle of a TaskEnd line, after a bad line.
    let cut_at = text
        .match_indices("{\"Event\":\"SparkListenerTaskEnd\"")
        .nth(5)
        .map(|(i, _)| i + 40)
        .unwrap();
    let first = &text[..cut_at];
    let whole_lines = first.matches('\n').count();
    let task_ends = first.matches("SparkListenerTaskEnd").count() - 1;
    let live = dir.path().join(format!("{}.inprogress", logs.app("plain")));
    fs::write(&live, format!("garbage line\n{first}")).unwrap();

    let daemon = start_daemon(dir.path());
    let client = daemon.client().await;
    let partial = wait_app(&client, logs.app("plain"), |d| d.app.tasks.ended > 0).await;
    assert_eq!(partial.app.status, "RUNNING");
    assert_eq!(partial.app.tasks.ended as usize, task_ends);
    let problems = apps(&client).await.problems;
    assert_eq!(problems.len(), 1, "only the garbage line: {problems:#?}");
    assert_eq!(problems[0].line, 1);
    assert!(
        problems[0].path.ends_with(logs.app("plain")),
        "{problems:?}"
    );
    assert!(whole_lines > 5);

    // The rest arrives, then Spark renames the finished log.
    use std::io::Write as _;
    let mut f = fs::OpenOptions::new().append(true).open(&live).unwrap();
    f.write_all(&text.as_bytes()[cut_at..]).unwrap();
    drop(f);
    fs::rename(&live, dir.path().join(logs.app("plain"))).unwrap();
    let done = wait_app(&client, logs.app("plain"), |d| d.app.status == "FINISHED").await;
    assert!(
        done.app.source.ends_with(logs.app("plain")),
        "renamed: {}",
        done.app.source
    );
    let all_task_ends = text.matches("SparkListenerTaskEnd").count() as u64;
    assert_eq!(done.app.tasks.ended, all_task_ends);
    assert_eq!(apps(&client).await.problems.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_progress_compressed_log_is_followed_block_by_block() {
    let logs = logs();
    let dir = tempfile::tempdir().unwrap();
    // Spark's lz4 codec writes 32 KiB blocks (~4 KiB packed; this log is ~60 KiB): without
    // its last 2,000 bytes the file is whole blocks with tasks in them, then a cut block
    // (or the edge before the last one), and no ApplicationEnd.
    let app_id = logs.app("lz4");
    let bytes = fs::read(logs.events.join(format!("{app_id}.lz4"))).unwrap();
    let live = dir.path().join(format!("{app_id}.lz4.inprogress"));
    let cut = bytes.len() - 2000;
    fs::write(&live, &bytes[..cut]).unwrap();

    let daemon = start_daemon(dir.path());
    let client = daemon.client().await;
    let partial = wait_app(&client, app_id, |d| d.app.tasks.ended > 0).await;
    assert_eq!(partial.app.status, "RUNNING");
    assert!(apps(&client).await.problems.is_empty(), "a cut block waits");

    use std::io::Write as _;
    let mut f = fs::OpenOptions::new().append(true).open(&live).unwrap();
    f.write_all(&bytes[cut..]).unwrap();
    drop(f);
    fs::rename(&live, dir.path().join(format!("{app_id}.lz4"))).unwrap();
    let done = wait_app(&client, app_id, |d| d.app.status == "FINISHED").await;
    assert!(done.app.tasks.ended > partial.app.tasks.ended, "{done:#?}");
    assert!(apps(&client).await.problems.is_empty());
    // The same figures as the whole file read at once (checked against the History Server
    // by the test above).
    let whole = start_daemon(&logs.events);
    let whole_client = whole.client().await;
    let mut read_at_once = wait_app(&whole_client, app_id, |d| d.app.status == "FINISHED").await;
    let mut done = done;
    assert!(done.app.source.ends_with(".lz4"), "{}", done.app.source);
    (done.app.source, read_at_once.app.source) = (String::new(), String::new());
    assert_eq!(done, read_at_once);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harbours_own_pyspark_runs_are_replayed_and_linked() {
    let daemon = Daemon::start_with(&format!(
        "[spark]\nruntime_dir = \"{}\"\nlocal_cores = 2\n[analytics]\npoll = \"200ms\"\n",
        runtime_dir().display()
    ));
    let client = daemon.client().await;
    let mut spec = JobSpec::new(
        JobKind::Pyspark,
        JobSource::Code(
            "from pyspark.sql import SparkSession\n\
             spark = SparkSession.builder.getOrCreate()\n\
             print(spark.sparkContext.parallelize(range(10), 2).sum())\n\
             spark.stop()\n"
                .into(),
        ),
    );
    spec.name = "own-run".into();
    let run = client.rpc.submit(client::ctx(), spec).await.flat().unwrap();
    let detail = wait_terminated(&client, run.id, Duration::from_secs(180)).await;
    let app_id = detail
        .run
        .spark
        .as_ref()
        .and_then(|s| s.app_id.clone())
        .expect("the run's application");
    let d = wait_app(&client, &app_id, |d| d.app.status == "FINISHED").await;
    assert_eq!(d.run, Some(run.id));
    assert_eq!(d.app.name, "own-run");
    assert_eq!(d.jobs.len(), 1);
    assert_eq!(d.jobs[0].tasks.succeeded, 2);
    // `harbour run show` names the application and where its analytics are.
    let out = Command::new(bin("harbour"))
        .env("HARBOUR_SOCKET", &daemon.socket)
        .args(["run", "show", &run.id.to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("harbour spark app {app_id}")),
        "{text}"
    );
}
