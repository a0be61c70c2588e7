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
//! Knobs: `HARBOUR_BENCH_INGEST_FILES` (1000), `HARBOUR_BENCH_INGEST_MB` (1024),
//! `HARBOUR_BENCH_INGEST_SAMPLES` (1; each sample is one run of each side, alternating which
//! goes first), `HARBOUR_BENCH_WRITE` (set: the section goes into docs/benchmarks.md).
//! Run: `cargo bench -p harbour-tests --bench ingest --profile dev` (debug binaries are fine:
//! Spark does the work, not harbourd), with the runtime `scripts/test` installs in
//! `.cache/harbour-runtime` (or an absolute `HARBOUR_RUNTIME_DIR`).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use harbour_shared::{
    IngestRun, IngestRunState, IngestSpec, JobKind, JobSource, JobSpec, RunResult, SourceFormat,
    parse_schema,
};
use harbour_tests::{Daemon, bench_doc, wait_terminated};
use harbour_tui::client::{self, Client, Flatten as _};

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

/// The micro-batch time a run reported (its Spark work, no JVM start), in seconds, and the
/// sum of each phase the driver timed (list, plan, write, commit, ...).
fn batch_secs(daemon: &Daemon, ingestion_id: i64, run: i64) -> (f64, BTreeMap<String, f64>) {
    let path = daemon
        .data_dir
        .join(format!("ingest/{ingestion_id}/runs/{run}/events.jsonl"));
    let mut total = 0.0;
    let mut phases = BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        total += v
            .get("duration_ms")
            .and_then(serde_json::Value::as_f64)
            .unwrap_or(0.0)
            / 1000.0;
        if let Some(map) = v.get("phases_ms").and_then(serde_json::Value::as_object) {
            for (k, ms) in map {
                *phases.entry(k.clone()).or_insert(0.0) += ms.as_f64().unwrap_or(0.0) / 1000.0;
            }
        }
    }
    (total, phases)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn secs(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.1}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One sample of each side.
#[derive(Default)]
struct Samples {
    plain_wall: Vec<f64>,
    plain_inner: Vec<f64>,
    ingest_wall: Vec<f64>,
    ingest_inner: Vec<f64>,
    phases: Vec<BTreeMap<String, f64>>,
}

async fn plain_sample(client: &Client, src: &Path, out: &Path) -> (f64, f64) {
    let mut plain = JobSpec::new(JobKind::Pyspark, JobSource::Code(PLAIN.into()));
    plain.name = "plain-batch".into();
    plain.args = vec![
        src.display().to_string(),
        out.display().to_string(),
        SCHEMA.into(),
    ];
    let t = Instant::now();
    let run = client.rpc.submit(ctx(), plain).await.flat().unwrap();
    let done = wait_terminated(client, run.id, Duration::from_secs(3600)).await;
    let wall = t.elapsed().as_secs_f64();
    assert_eq!(
        done.run.result,
        Some(RunResult::Succeeded),
        "{:?}",
        done.run
    );
    let log = std::fs::read_to_string(&done.stdout_path).unwrap_or_default();
    let inner = log
        .lines()
        .find_map(|l| l.strip_prefix("PLAIN_SECS "))
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(f64::NAN);
    (wall, inner)
}

/// Creates ingestion `name` over `src` and runs it once: wall time, batch time, phases.
async fn ingest_sample(
    client: &Client,
    daemon: &Daemon,
    name: &str,
    src: &Path,
    rows: u64,
) -> (f64, f64, BTreeMap<String, f64>) {
    let mut spec = IngestSpec::new(name, src.to_str().unwrap(), SourceFormat::Csv, name);
    spec.target_path = Some(daemon.root.path().join(name).display().to_string());
    spec.schema = Some(parse_schema(SCHEMA).unwrap());
    let made = client
        .rpc
        .create_ingestion(ctx(), spec)
        .await
        .flat()
        .unwrap();
    let t = Instant::now();
    let r = client
        .rpc
        .run_ingestion(ctx(), name.into())
        .await
        .flat()
        .unwrap();
    let r = finished(client, name, r.id).await;
    let wall = t.elapsed().as_secs_f64();
    assert_eq!(r.state, IngestRunState::Succeeded, "{r:?}");
    assert_eq!(r.rows, rows, "every row ingested once");
    let (inner, phases) = batch_secs(daemon, made.id, r.id);
    (wall, inner, phases)
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(bench());
}

async fn bench() {
    let files = knob("HARBOUR_BENCH_INGEST_FILES", 1000);
    let mb = knob("HARBOUR_BENCH_INGEST_MB", 1024);
    let samples = knob("HARBOUR_BENCH_INGEST_SAMPLES", 1).max(1);
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
    let load_before = bench_doc::load_average();

    // Alternating which side goes first, so neither always runs on a page cache the other
    // warmed (each side is its own JVM: nothing else carries over).
    let mut s = Samples::default();
    for i in 0..samples {
        let plain_out = root.join(format!("plain-out-{i}"));
        let name = format!("bench{i}");
        if i % 2 == 0 {
            let (w, n) = plain_sample(&client, &src, &plain_out).await;
            s.plain_wall.push(w);
            s.plain_inner.push(n);
        }
        let (w, n, phases) = ingest_sample(&client, &daemon, &name, &src, rows).await;
        eprintln!("sample {i}: ingestion {w:.1} s (batches {n:.1} s, {phases:?})");
        s.ingest_wall.push(w);
        s.ingest_inner.push(n);
        s.phases.push(phases);
        if i % 2 == 1 {
            let (w, n) = plain_sample(&client, &src, &plain_out).await;
            s.plain_wall.push(w);
            s.plain_inner.push(n);
        }
        eprintln!(
            "sample {i}: plain {:.1} s (inside Spark {:.1} s); load {}",
            s.plain_wall[i as usize],
            s.plain_inner[i as usize],
            bench_doc::load_average()
        );
    }
    let load_after = bench_doc::load_average();

    // No new files: the daemon's discovery, several times.
    let mut quiet = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let r = client
            .rpc
            .run_ingestion(ctx(), "bench0".into())
            .await
            .flat()
            .unwrap();
        quiet.push(t.elapsed().as_secs_f64());
        assert_eq!(r.state, IngestRunState::NoNewFiles);
    }
    // The same through Spark: a glob the daemon leaves to Spark, over the same checkpoint.
    client
        .rpc
        .update_ingestion(
            ctx(),
            "bench0".into(),
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
        .run_ingestion(ctx(), "bench0".into())
        .await
        .flat()
        .unwrap();
    let r = finished(&client, "bench0", r.id).await;
    let spark_quiet = t.elapsed().as_secs_f64();
    assert_eq!((r.state, r.rows), (IngestRunState::Succeeded, 0), "{r:?}");

    let mib = total as f64 / (1024.0 * 1024.0);
    let (pw, pi) = (median(&s.plain_wall), median(&s.plain_inner));
    let (iw, ii) = (median(&s.ingest_wall), median(&s.ingest_inner));
    let mut phase_names: Vec<&String> = s.phases.iter().flat_map(BTreeMap::keys).collect();
    phase_names.sort();
    phase_names.dedup();
    let phases = phase_names
        .iter()
        .map(|k| {
            let v: Vec<f64> = s
                .phases
                .iter()
                .map(|p| p.get(*k).copied().unwrap_or(0.0))
                .collect();
            format!("{k} {:.1} s", median(&v))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("/"));
    let build = match std::env::var(harbour_tests::BIN_DIR_ENV) {
        Ok(dir) => match Path::new(&dir).strip_prefix(workspace) {
            Ok(inside) => format!("harbourd from `{}`", inside.display()),
            Err(_) => format!("harbourd from `${}`", harbour_tests::BIN_DIR_ENV),
        },
        Err(_) => "debug binaries (Spark does the work, not harbourd)".to_owned(),
    };
    let profile = if cfg!(debug_assertions) {
        " --profile dev"
    } else {
        ""
    };
    let section = format!(
        "## Issue 7: ingestion\n\n\
         Measured by `tests/benches/ingest.rs` (`HARBOUR_BENCH_INGEST_FILES={files} HARBOUR_BENCH_INGEST_MB={mb} \
         HARBOUR_BENCH_INGEST_SAMPLES={samples} HARBOUR_BENCH_WRITE=1 cargo bench -p \
         harbour-tests --bench ingest{profile}`, {build}) on this machine (2 CPUs; load \
         average {load_before} before the samples, {load_after} after), Spark 4.3.0, `local[2]`: {files} CSV files, {mib:.0} MiB, {rows} rows \
         ({:.0} rows per file), into parquet, schema given to both sides. Both sides are \
         pyspark runs submitted through the same daemon (one JVM start each, same event \
         logging), {samples} sample(s) each, alternating which goes first; ratios are of \
         the medians.\n\n\
         | measurement | result | target |\n|---|---|---|\n\
         | plain batch job, submit to end | {} s; median {pw:.1} s ({:.0} rows/s) | |\n\
         | ingestion run, run to end | {} s; median {iw:.1} s ({:.0} rows/s) | |\n\
         | ingestion / plain, end to end | **{:.2}x** | <= 1.2x |\n\
         | plain job inside Spark (read + write) | {} s; median {pi:.1} s | |\n\
         | ingestion micro-batch time inside Spark | {} s; median {ii:.1} s ({phases}) | |\n\
         | ingestion / plain, inside Spark | **{:.2}x** | |\n\
         | no-new-files run (daemon discovery, no Spark), median of 5 | **{:.3} s** | <= 2 s |\n\
         | the same run forced through Spark (JVM start, stream over the checkpoint) | {spark_quiet:.1} s | |\n",
        rows as f64 / files.max(1) as f64,
        secs(&s.plain_wall),
        rows as f64 / pw,
        secs(&s.ingest_wall),
        rows as f64 / iw,
        iw / pw,
        secs(&s.plain_inner),
        secs(&s.ingest_inner),
        ii / pi,
        median(&quiet),
    );
    print!("{section}");
    if bench_doc::requested() {
        let doc = bench_doc::write("ingest", "## Issue 7: ingestion", &section).unwrap();
        eprintln!("wrote {}", doc.display());
    }
}
