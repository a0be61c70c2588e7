//! Ingestion benchmark (issue 7), against real Spark and a real harbourd, written into the
//! `## Issue 7` section of docs/benchmarks.md:
//!
//! - an ingestion run taking N CSV files (default 1,000 files, 1 GiB) into parquet, vs a plain
//!   PySpark batch job reading and writing the same files with the same schema, submitted
//!   through the same daemon (so both pay one JVM start and the same event logging); rows/s
//!   for both, end to end and inside Spark;
//! - a no-new-files run: the daemon's discovery (no Spark), and, for comparison, the same run
//!   forced through Spark (a glob only Spark understands), i.e. what it would cost without it.
//!
//! Knobs: `HARBOUR_BENCH_INGEST_FILES` (1000), `HARBOUR_BENCH_INGEST_MB` (1024).
//! Run: `cargo build --release --bins && HARBOUR_BIN_DIR=target/release
//! HARBOUR_RUNTIME_DIR=.cache/harbour-runtime cargo bench -p harbour-tests --bench ingest`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use harbour_shared::{
    IngestRun, IngestRunState, IngestSpec, JobKind, JobSource, JobSpec, RunResult, SourceFormat,
    parse_schema,
};
use harbour_tests::{Daemon, wait_terminated};
use harbour_tui::client::{self, Client, Flatten as _};

const START: &str = "<!-- bench:ingest:start -->";
const END: &str = "<!-- bench:ingest:end -->";
const SCHEMA: &str = "id bigint, customer string, amount double, region string, note string";

/// The plain batch job: the same read (CSV, header, the same schema) and parquet write.
const PLAIN: &str = r#"
import sys, time
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
t = time.time()
df = spark.read.option("header", "true").schema(sys.argv[3]).csv(sys.argv[1])
df.write.mode("overwrite").parquet(sys.argv[2])
print("PLAIN_SECS", time.time() - t, flush=True)
spark.stop()
"#;

use harbour_tests::runtime_dir;

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ctx() -> tarpc::context::Context {
    let mut ctx = client::ctx();
    ctx.deadline = Instant::now() + Duration::from_secs(600);
    ctx
}

/// Writes `files` CSV files of about `bytes` in all; returns the row count.
fn generate(dir: &Path, files: u64, bytes: u64) -> u64 {
    std::fs::create_dir_all(dir).unwrap();
    let per_file = bytes / files.max(1);
    let mut id = 0u64;
    for f in 0..files {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(dir.join(format!("part-{f:05}.csv"))).unwrap(),
        );
        let mut written = 0u64;
        let header = "id,customer,amount,region,note\n";
        out.write_all(header.as_bytes()).unwrap();
        written += header.len() as u64;
        while written < per_file {
            let line = format!(
                "{id},customer-{},{}.{:02},{},some free text for row {id} of file {f}\n",
                id % 9973,
                id % 100_000,
                id % 100,
                ["north", "south", "east", "west"][(id % 4) as usize]
            );
            out.write_all(line.as_bytes()).unwrap();
            written += line.len() as u64;
            id += 1;
        }
    }
    id
}

async fn finished(client: &Client, name: &str, id: i64) -> IngestRun {
    loop {
        let runs = client
            .rpc
            .ingestion_runs(ctx(), name.into(), 10)
            .await
            .flat()
            .unwrap();
        if let Some(r) = runs.into_iter().find(|r| r.id == id)
            && !r.state.is_active()
        {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The seconds of micro-batch time a run reported (its Spark work, no JVM start).
fn batch_secs(daemon: &Daemon, ingestion_id: i64, run: i64) -> f64 {
    let path = daemon
        .data_dir
        .join(format!("ingest/{ingestion_id}/runs/{run}/events.jsonl"));
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("duration_ms").and_then(serde_json::Value::as_f64))
        .sum::<f64>()
        / 1000.0
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(bench());
}

async fn bench() {
    let files = knob("HARBOUR_BENCH_INGEST_FILES", 1000);
    let mb = knob("HARBOUR_BENCH_INGEST_MB", 1024);
    let daemon = Daemon::start_with(&format!(
        "[spark]\nruntime_dir = \"{}\"\nlocal_cores = 2\n",
        runtime_dir().display()
    ));
    let client = daemon.client().await;
    let root = daemon.root.path().to_owned();
    let src = root.join("in");
    let started = Instant::now();
    let rows = generate(&src, files, mb * 1024 * 1024);
    let total: u64 = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    eprintln!(
        "generated {files} files, {rows} rows, {total} bytes in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // Plain batch job first (it warms nothing the ingestion uses but the page cache, which
    // the generation warmed already).
    let mut plain = JobSpec::new(JobKind::Pyspark, JobSource::Code(PLAIN.into()));
    plain.name = "plain-batch".into();
    plain.args = vec![
        src.display().to_string(),
        root.join("plain-out").display().to_string(),
        SCHEMA.into(),
    ];
    let t = Instant::now();
    let run = client.rpc.submit(ctx(), plain).await.flat().unwrap();
    let done = wait_terminated(&client, run.id, Duration::from_secs(3600)).await;
    let plain_wall = t.elapsed().as_secs_f64();
    assert_eq!(
        done.run.result,
        Some(RunResult::Succeeded),
        "{:?}",
        done.run
    );
    let log = std::fs::read_to_string(&done.stdout_path).unwrap_or_default();
    let plain_inner: f64 = log
        .lines()
        .find_map(|l| l.strip_prefix("PLAIN_SECS "))
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(f64::NAN);

    // The ingestion.
    let mut spec = IngestSpec::new("bench", src.to_str().unwrap(), SourceFormat::Csv, "bench");
    spec.target_path = Some(root.join("table").display().to_string());
    spec.schema = Some(parse_schema(SCHEMA).unwrap());
    let made = client
        .rpc
        .create_ingestion(ctx(), spec.clone())
        .await
        .flat()
        .unwrap();
    let t = Instant::now();
    let r = client
        .rpc
        .run_ingestion(ctx(), "bench".into())
        .await
        .flat()
        .unwrap();
    let r = finished(&client, "bench", r.id).await;
    let ingest_wall = t.elapsed().as_secs_f64();
    assert_eq!(r.state, IngestRunState::Succeeded, "{r:?}");
    assert_eq!(r.rows, rows, "every row ingested once");
    let ingest_inner = batch_secs(&daemon, made.id, r.id);

    // No new files: the daemon's discovery, several times.
    let mut quiet = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let r = client
            .rpc
            .run_ingestion(ctx(), "bench".into())
            .await
            .flat()
            .unwrap();
        quiet.push(t.elapsed().as_secs_f64());
        assert_eq!(r.state, IngestRunState::NoNewFiles);
    }
    quiet.sort_by(f64::total_cmp);
    // The same through Spark: a glob the daemon leaves to Spark, over the same checkpoint.
    client
        .rpc
        .update_ingestion(
            ctx(),
            "bench".into(),
            harbour_shared::IngestPatch {
                glob: Some("*.{csv}".into()),
                ..Default::default()
            },
        )
        .await
        .flat()
        .unwrap();
    let t = Instant::now();
    let r = client
        .rpc
        .run_ingestion(ctx(), "bench".into())
        .await
        .flat()
        .unwrap();
    let r = finished(&client, "bench", r.id).await;
    let spark_quiet = t.elapsed().as_secs_f64();
    assert_eq!((r.state, r.rows), (IngestRunState::Succeeded, 0), "{r:?}");

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let mib = total as f64 / (1024.0 * 1024.0);
    let section = format!(
        "{START}\n## Issue 7: ingestion\n\n\
         Measured by `tests/benches/ingest.rs` (`cargo build --release --bins && \
         HARBOUR_BIN_DIR=target/release HARBOUR_RUNTIME_DIR=.cache/harbour-runtime \
         HARBOUR_BENCH_INGEST_FILES={files} HARBOUR_BENCH_INGEST_MB={mb} cargo bench -p \
         harbour-tests --bench ingest`) on this machine (2 CPUs, load average {} while it ran), \
         Spark 4.3.0, `local[2]`: {files} CSV files, {mib:.0} MiB, {rows} rows, into parquet, \
         schema given to both sides. Both are pyspark runs submitted through the same daemon \
         (one JVM start each, same event logging). One sample each.\n\n\
         | measurement | result | target |\n|---|---|---|\n\
         | plain batch job, submit to end | {plain_wall:.1} s ({:.0} rows/s) | |\n\
         | ingestion run, run to end | {ingest_wall:.1} s ({:.0} rows/s) | |\n\
         | ingestion / plain, end to end | **{:.2}x** | <= 1.2x |\n\
         | plain job inside Spark (read + write) | {plain_inner:.1} s | |\n\
         | ingestion micro-batch time inside Spark | {ingest_inner:.1} s | |\n\
         | ingestion / plain, inside Spark | **{:.2}x** | |\n\
         | no-new-files run (daemon discovery, no Spark), median of 5 | **{:.3} s** | <= 2 s |\n\
         | the same run forced through Spark (JVM start, stream over the checkpoint) | {spark_quiet:.1} s | |\n\
         {END}\n",
        load.join(" "),
        rows as f64 / plain_wall,
        rows as f64 / ingest_wall,
        ingest_wall / plain_wall,
        ingest_inner / plain_inner,
        quiet[quiet.len() / 2],
    );
    print!("{section}");
    if std::env::var_os("HARBOUR_BENCH_WRITE").is_some() {
        let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/benchmarks.md");
        let text = std::fs::read_to_string(&doc).unwrap_or_else(|_| "# Benchmarks\n".into());
        let text = match (text.find(START), text.find(END)) {
            (Some(a), Some(b)) if a < b => format!(
                "{}{}{}",
                &text[..a],
                section,
                text[b + END.len()..].trim_start_matches('\n')
            ),
            _ => format!("{}\n\n{section}", text.trim_end()),
        };
        std::fs::write(&doc, text).unwrap();
    }
}
