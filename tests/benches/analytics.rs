//! Event-log analytics benchmarks (issue 8), written into the `bench:analytics` section of
//! docs/benchmarks.md:
//!
//! - replaying a large event log through a release harbourd vs Spark's History Server from
//!   the runtime, in one run: time until each answers the application's jobs, events/s and
//!   peak RSS;
//! - pushed-event ingestion over the socket (`spark_push_events`, batches of at most 10,000
//!   lines and 4 MB, two calls in flight, as `harbour events ingest` sends them).
//!
//! The large log is synthesized from a real one: a real pyspark application (a 2-stage
//! shuffle, 200 + 50 tasks, and a task retried once) is run first, and its job blocks (from
//! each JobStart to its JobEnd, with every stage and task event between) are repeated with
//! job, stage and task ids and times shifted, until there are `ANALYTICS_BENCH_TASKS` task
//! ends (default 1,000,000). Header and ApplicationEnd are kept once, so both readers see
//! one long application with the real events' shapes and sizes. The lines are shifted as
//! text, so they keep Spark's key order (a round trip through `serde_json::Value` sorts
//! keys, as the first version of this bench did).
//!
//! Run: `cargo build --release --bins -p harbourd -p harbour-tui &&
//! HARBOUR_RUNTIME_DIR=.cache/harbour-runtime cargo bench -p harbour-tests --bench analytics`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::fs;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use harbour_tests::{Daemon, bench_doc};
use harbour_tui::client::{self, Flatten as _};
use serde_json::Value;

/// The History Server keeps 1,000 jobs and stages of an application by default and drops
/// the rest; harbourd keeps them all, so the History Server is told to as well.
const KEEP_ALL: &str = "-Dspark.ui.retainedJobs=1000000 -Dspark.ui.retainedStages=1000000";
/// The History Server's heap (`SPARK_DAEMON_MEMORY`).
const HS_HEAP: &str = "4g";

const APP: &str = r#"
import sys
from operator import add
from pyspark import SparkConf, TaskContext
from pyspark.sql import SparkSession
conf = (SparkConf().setAppName("bench-base").setMaster("local[2,3]")
        .set("spark.eventLog.enabled", "true").set("spark.eventLog.dir", "file://" + sys.argv[1])
        .set("spark.eventLog.compress", "false").set("spark.eventLog.rolling.enabled", "false")
        .set("spark.ui.enabled", "false"))
spark = SparkSession.builder.config(conf=conf).getOrCreate()
sc = spark.sparkContext
def flaky(it):
    ctx = TaskContext.get()
    if ctx.partitionId() == 0 and ctx.attemptNumber() == 0:
        raise RuntimeError("retried")
    return [sum(it)]
sc.parallelize(range(20000), 200).map(lambda x: (x % 97, 1)).reduceByKey(add, 50).collect()
sc.parallelize(range(1000), 20).mapPartitions(flaky).collect()
spark.stop()
"#;

fn runtime() -> harbourd::spark::SparkRuntime {
    let dir = std::env::var_os("HARBOUR_RUNTIME_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/harbour-runtime"),
        PathBuf::from,
    );
    let config = harbourd::config::SparkConfig {
        runtime_dir: Some(dir),
        ..Default::default()
    };
    harbourd::spark::runtime::locate(&config, Path::new("/nonexistent"))
        .expect("a Spark runtime (HARBOUR_RUNTIME_DIR)")
}

/// A release binary, or one from `HARBOUR_BIN_DIR` when set (a quick check of the bench
/// itself with debug builds; its figures mean nothing then).
fn release_bin(name: &str) -> PathBuf {
    let dir = std::env::var_os(harbour_tests::BIN_DIR_ENV).map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release"),
        PathBuf::from,
    );
    let p = dir.join(name);
    assert!(
        p.is_file(),
        "{} is missing: cargo build --release --bins -p harbourd -p harbour-tui",
        p.display()
    );
    p
}

fn peak_rss_kb(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// `line` with the integer after each key of `shifts` (or each integer of an array after
/// it) moved by that key's amount; times that are 0 (Spark's "not yet") stay 0. Nothing else
/// changes: the synthesized log keeps Spark's own key order, spacing and sizes (going
/// through `serde_json::Value` would sort the keys). A pattern `"Key":` with both quotes
/// bare is a key: a quote inside a string is escaped. `Parent IDs` are a stage's only
/// where they follow its `RDD Info` array (an RDD's own parent ids are RDD ids).
fn shifted(line: &str, shifts: &[(&str, i64)]) -> String {
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for (key, by) in shifts {
        let pattern = format!("\"{key}\":");
        for (at, _) in line.match_indices(&pattern) {
            if *key == "Parent IDs" && !line[..at].ends_with("],") {
                continue;
            }
            let start = at + pattern.len();
            let rest = &line[start..];
            let (array, body) = match rest.strip_prefix('[') {
                Some(body) => (true, &body[..body.find(']').unwrap()]),
                None => {
                    let len = rest
                        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
                        .unwrap_or(rest.len());
                    (false, &rest[..len])
                }
            };
            if body.is_empty() {
                continue;
            }
            let time = key.ends_with("Time");
            let moved: Vec<String> = body
                .split(',')
                .map(|n| {
                    let n: i64 = n.trim().parse().unwrap();
                    let moved = if time && n == 0 { 0 } else { n + by };
                    moved.to_string()
                })
                .collect();
            let from = start + usize::from(array);
            edits.push((from, from + body.len(), moved.join(",")));
        }
    }
    edits.sort_by_key(|e| e.0);
    let mut out = String::with_capacity(line.len() + 32);
    let mut done = 0;
    for (from, to, text) in edits {
        out.push_str(&line[done..from]);
        out.push_str(&text);
        done = to;
    }
    out.push_str(&line[done..]);
    out
}

/// Writes the synthesized log; answers (app id, lines, task ends, jobs).
fn synthesize(base: &Path, out: &Path, want_tasks: u64) -> (String, u64, u64, u64) {
    let lines: Vec<String> = BufReader::new(fs::File::open(base).unwrap())
        .lines()
        .map(Result::unwrap)
        .collect();
    let kind = |l: &str| -> String {
        serde_json::from_str::<Value>(l).unwrap()["Event"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    let first = lines
        .iter()
        .position(|l| kind(l) == "SparkListenerJobStart")
        .unwrap();
    let last = lines
        .iter()
        .rposition(|l| kind(l) == "SparkListenerJobEnd")
        .unwrap();
    let block: Vec<Value> = lines[first..=last]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let count = |k: &str| block.iter().filter(|v| v["Event"] == k).count() as i64;
    let (jobs, task_ends) = (
        count("SparkListenerJobStart"),
        count("SparkListenerTaskEnd"),
    );
    let max = |f: &dyn Fn(&Value) -> Option<i64>| block.iter().filter_map(f).max().unwrap_or(0);
    let stages = 1 + max(&|v| v.get("Stage Info")?.get("Stage ID")?.as_i64());
    let tasks = 1 + max(&|v| v.get("Task Info")?.get("Task ID")?.as_i64());
    let t0 = max(&|v| v.get("Submission Time")?.as_i64().map(|t| -t)).abs();
    let span = max(&|v| v.get("Completion Time")?.as_i64()) - t0 + 1;
    let reps = (want_tasks as i64 + task_ends - 1) / task_ends.max(1);
    let app_id = lines
        .iter()
        .find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            (v["Event"] == "SparkListenerApplicationStart")
                .then(|| v["App ID"].as_str().map(str::to_owned))?
        })
        .unwrap();
    let mut w = BufWriter::with_capacity(1 << 20, fs::File::create(out.join(&app_id)).unwrap());
    let mut written = 0u64;
    for l in &lines[..first] {
        writeln!(w, "{l}").unwrap();
        written += 1;
    }
    for r in 0..reps {
        let (dt, stage_ids) = (r * span, r * stages);
        let shifts = [
            ("Job ID", r * jobs),
            ("Stage ID", stage_ids),
            ("Stage IDs", stage_ids),
            ("Parent IDs", stage_ids),
            ("Task ID", r * tasks),
            ("Submission Time", dt),
            ("Completion Time", dt),
            ("Launch Time", dt),
            ("Finish Time", dt),
        ];
        for line in &lines[first..=last] {
            writeln!(w, "{}", shifted(line, &shifts)).unwrap();
            written += 1;
        }
    }
    for l in &lines[last + 1..] {
        // Keep the application's end after every repeated job.
        if kind(l) == "SparkListenerApplicationEnd" {
            writeln!(w, "{}", shifted(l, &[("Timestamp", reps * span)])).unwrap();
        } else {
            writeln!(w, "{l}").unwrap();
        }
        written += 1;
    }
    w.flush().unwrap();
    (
        app_id,
        written,
        (reps * task_ends) as u64,
        (reps * jobs) as u64,
    )
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(bench());
}

async fn bench() {
    let want: u64 = std::env::var("ANALYTICS_BENCH_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let load_at_start = bench_doc::load_average();
    let rt = runtime();
    let root = tempfile::Builder::new()
        .prefix("harbour-analytics-bench-")
        .tempdir()
        .unwrap();
    let base_dir = root.path().join("base");
    let logs = root.path().join("logs");
    fs::create_dir_all(&base_dir).unwrap();
    fs::create_dir_all(&logs).unwrap();
    let script = root.path().join("app.py");
    fs::write(&script, APP).unwrap();
    eprintln!("running the base application on real Spark...");
    let status = Command::new(rt.spark_submit())
        .envs(rt.env())
        .arg(&script)
        .arg(&base_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let base = fs::read_dir(&base_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    eprintln!("synthesizing {want} task ends from {}...", base.display());
    let (app_id, lines, task_ends, jobs) = synthesize(&base, &logs, want);
    let size = fs::metadata(logs.join(&app_id)).unwrap().len();
    eprintln!("{lines} events, {task_ends} task ends, {jobs} jobs, {size} bytes");

    // harbourd: from start until the app answers with every task.
    let daemon_bin = release_bin("harbourd");
    let t = Instant::now();
    let daemon = Daemon::start_with_bin(
        &daemon_bin,
        &format!(
            "[analytics]\nlog_dirs = [\"{}\"]\npoll = \"100ms\"\n",
            logs.display()
        ),
    );
    let client = daemon.client().await;
    let mut ctx = client::ctx();
    loop {
        ctx.deadline = Instant::now() + Duration::from_secs(600);
        // The cheap list (counters) while it replays; the full query once, below.
        if let Ok(a) = client.rpc.spark_apps(ctx).await.flat()
            && a.apps
                .iter()
                .any(|a| a.app_id == app_id && a.tasks.ended == task_ends && a.jobs == jobs)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let replayed_secs = t.elapsed().as_secs_f64();
    let query = Instant::now();
    let mut ctx = client::ctx();
    ctx.deadline = Instant::now() + Duration::from_secs(600);
    let detail = client
        .rpc
        .spark_app(ctx, app_id.clone())
        .await
        .flat()
        .unwrap();
    let query_secs = query.elapsed().as_secs_f64();
    // Queryable = replayed and the jobs' figures answered.
    let harbour_secs = replayed_secs + query_secs;
    let harbour_rss = peak_rss_kb(daemon.pid());
    assert_eq!(detail.jobs.len() as u64, jobs);
    drop(client);
    drop(daemon);

    // The History Server: from start until /applications/<id>/jobs lists every job.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t = Instant::now();
    let mut hs = Command::new(rt.spark_class())
        .arg("org.apache.spark.deploy.history.HistoryServer")
        .envs(rt.env())
        // Its default 1 GB heap is not enough for a million tasks in its in-memory store.
        .env("SPARK_DAEMON_MEMORY", HS_HEAP)
        .env(
            "SPARK_HISTORY_OPTS",
            format!(
                "-Dspark.history.fs.logDirectory=file://{} -Dspark.history.ui.port={port} \
                 -Dspark.history.fs.update.interval=1s {KEEP_ALL}",
                logs.display()
            ),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/api/v1/applications/{app_id}/jobs");
    let mut hs_rss = 0;
    let hs_secs = loop {
        hs_rss = hs_rss.max(peak_rss_kb(hs.id()));
        if let Ok(r) = http.get(&url).send().await
            && r.status().is_success()
            && let Ok(v) = r.json::<Value>().await
            && v.as_array().map_or(0, Vec::len) as u64 == jobs
        {
            break t.elapsed().as_secs_f64();
        }
        assert!(
            t.elapsed() < Duration::from_secs(3600),
            "History Server gave up"
        );
        if let Ok(Some(status)) = hs.try_wait() {
            panic!("the History Server exited ({status}) before it listed the application");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    hs_rss = hs_rss.max(peak_rss_kb(hs.id()));
    let _ = hs.kill();
    let _ = hs.wait();

    // Pushed events over the socket, into a fresh daemon.
    let daemon = Daemon::start_with_bin(&daemon_bin, "[analytics]\nenabled = false\n");
    let client = daemon.client().await;
    // Batches of up to 10,000 lines and 4 MB (as `harbour events ingest` sends them), read
    // as they are sent.
    let mut log = BufReader::with_capacity(1 << 20, fs::File::open(logs.join(&app_id)).unwrap())
        .lines()
        .map(Result::unwrap)
        .peekable();
    let batches = std::iter::from_fn(move || {
        log.peek()?;
        let mut batch = Vec::new();
        let mut bytes = 0;
        while let Some(line) = log.next_if(|_| batch.len() < 10_000 && bytes < 4 << 20) {
            bytes += line.len();
            batch.push(line);
        }
        Some(batch)
    });
    // Two calls in flight, as `harbour events ingest` keeps them.
    let t = Instant::now();
    let rpc = &client.rpc;
    let mut pushes = futures::stream::iter(batches.into_iter().map(|batch| async move {
        let mut ctx = client::ctx();
        ctx.deadline = Instant::now() + Duration::from_secs(120);
        rpc.spark_push_events(ctx, Some("pushed-1".into()), batch)
            .await
            .flat()
            .unwrap()
    }))
    .buffered(2);
    let mut stored = 0;
    while let Some(report) = pushes.next().await {
        stored += report.stored;
    }
    drop(pushes);
    let push_secs = t.elapsed().as_secs_f64();
    assert!(stored > 0);
    let push_rss = peak_rss_kb(daemon.pid());
    drop(client);
    drop(daemon);

    let rate = |n: u64, s: f64| format!("{:.0}", n as f64 / s);
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let command = match std::env::var(harbour_tests::BIN_DIR_ENV) {
        Ok(dir) if !dir.is_empty() && !Path::new(&dir).ends_with("target/release") => format!(
            "harbourd from `HARBOUR_BIN_DIR` (not a release build: {}), \
             `ANALYTICS_BENCH_TASKS={want}`",
            std::env::var("ANALYTICS_BENCH_NOTE").unwrap_or_else(|_| "see the notes".into())
        ),
        _ => format!(
            "`cargo build --release --bins -p harbourd -p harbour-tui && \
             ANALYTICS_BENCH_TASKS={want} cargo bench -p harbour-tests --bench analytics`"
        ),
    };
    let section = format!(
        "Run on {}: harbourd built from {commit}; {} CPUs, load average {} at the \
         start and {} at the end (1, 5, 15 min).\n\n\
         Command: {command}\n\n\
         Log: {lines} events ({task_ends} task ends, {jobs} jobs), {:.0} MB of JSON lines, \
         synthesized from a real pyspark application's events (their text kept as Spark wrote \
         it, ids and times shifted).\n\n\
         | reader | time to a queryable result | events/s | peak RSS |\n\
         | --- | --- | --- | --- |\n\
         | harbourd (replay) | {harbour_secs:.1} s | {} | {} MB |\n\
         | Spark History Server (in-memory store, {HS_HEAP} heap, every job and stage retained) | {hs_secs:.1} s | {} | {} MB |\n\
         | harbourd / History Server | **{:.1}x faster** | | |\n\n\
         | pushed over the socket | time | events/s | peak RSS |\n\
         | --- | --- | --- | --- |\n\
         | harbourd (`spark_push_events`: batches of <= 10,000 lines and 4 MB, 2 in flight) \
         | {push_secs:.1} s | **{}** | {} MB |\n\n\
         harbourd's time includes its start, the replay ({replayed_secs:.1} s: {} events/s) \
         and the first query of the application's {jobs} jobs ({:.2} s; stage task-time \
         quantiles are kept as tasks are written, so it reads them).\n",
        chrono_now(),
        std::thread::available_parallelism().map_or(0, std::num::NonZero::get),
        load_at_start,
        bench_doc::load_average(),
        size as f64 / 1e6,
        rate(lines, harbour_secs),
        harbour_rss / 1024,
        rate(lines, hs_secs),
        hs_rss / 1024,
        hs_secs / harbour_secs,
        rate(lines, push_secs),
        push_rss / 1024,
        rate(lines, replayed_secs),
        query_secs,
    );
    print!("{section}");
    if bench_doc::requested() {
        let doc = bench_doc::write(
            "analytics",
            "## Issue 8: Spark event-log analytics",
            &section,
        )
        .unwrap();
        eprintln!("wrote {}", doc.display());
    }
}

fn chrono_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
