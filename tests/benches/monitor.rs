//! Benchmarks of monitoring (issue 6): the idle daemon with metrics on beside metrics off,
//! `metrics_history` over the real socket for 24 h of 1 s data downsampled to 300 points, and
//! the size of a database holding 30 days of history at the default retention.
//!
//! ```text
//! cargo build --release --bins -p harbourd && cargo bench -p harbour-tests --bench monitor
//! ```
//!
//! Prints markdown tables; `HARBOUR_BENCH_WRITE=1` also rewrites this benchmark's section of
//! docs/benchmarks.md (between its marker comments). Timings are never pass/fail.
//!
//! Knobs: `HARBOUR_BENCH_IDLE_SECS` (60), `HARBOUR_BENCH_SERIES` (the series a host records;
//! default: as many as this machine's harbourd records), `HARBOUR_BIN_DIR`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "daemon/machine.rs"]
#[allow(dead_code)]
mod machine;
#[path = "daemon/report.rs"]
#[allow(dead_code)]
mod report;

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use harbour_tests::{Daemon, bench_doc};
use harbour_tui::client::{self, Flatten as _};
use harbourd::monitor::history::Tier;
use harbourd::monitor::recorder::Metrics;
use harbourd::store::Store;
use harbourd::store::metrics::{self as rows, Point};
use machine::{Machine, ProcSample, clock_ticks, cpu_percent, mb};
use report::{Table, verdict};

const HEADING: &str = "## Issue 6: monitoring";
const COMMAND: &str =
    "cargo build --release --bins -p harbourd && cargo bench -p harbour-tests --bench monitor";

const H: u64 = 3_600_000;
const DAY: u64 = 24 * H;

fn number(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU and RSS of a daemon started with `config`, over `secs` after it settled.
fn idle(bin: &Path, config: &str, secs: u64) -> (f64, f64, f64) {
    let daemon = Daemon::start_with_bin(bin, config);
    std::thread::sleep(Duration::from_secs(3));
    let pid = daemon.pid();
    let before = ProcSample::take(pid).expect("/proc of harbourd");
    std::thread::sleep(Duration::from_secs(secs));
    let after = ProcSample::take(pid).expect("/proc of harbourd");
    (
        cpu_percent(&before, &after, clock_ticks()),
        mb(after.rss_kib),
        mb(after.hwm_kib),
    )
}

/// The series a daemon on this machine records, by asking one.
async fn live_series(bin: &Path) -> Vec<String> {
    let daemon = Daemon::start_with_bin(bin, "[metrics]\nflush = \"1s\"\n");
    let client = daemon.client().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    client
        .rpc
        .metrics_series(client::ctx())
        .await
        .flat()
        .expect("metrics_series")
}

fn names(n: usize, live: &[String]) -> Vec<String> {
    (0..n)
        .map(|i| live.get(i).cloned().unwrap_or_else(|| format!("bench.{i}")))
        .collect()
}

/// Fills `db` with 24 h of one sample a second for `series`, through the daemon's own
/// recorder (so every tier is rolled up as the daemon would), ending at `end_ms`.
async fn fill_day(db: &Path, series: &[String], tiers: Vec<Tier>, end_ms: i64) -> Duration {
    let store = Store::open(db).expect("store");
    let metrics = Metrics::new(
        store,
        tiers,
        Duration::from_secs(1),
        Duration::from_secs(10),
    );
    let started = Instant::now();
    let start = end_ms - DAY as i64;
    for s in 0..(DAY / 1000) as i64 {
        let at = start + s * 1000;
        let values: Vec<(String, f64)> = series
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), ((s + i as i64) % 100) as f64))
            .collect();
        metrics.record(at, &values);
        if s % 3_600 == 3_599 {
            metrics.flush().await.expect("flush");
        }
    }
    metrics.flush().await.expect("flush");
    started.elapsed()
}

/// Size of a 30-day database at the default tiers: every tier full for `series`.
async fn month_size(dir: &Path, series: &[String]) -> (f64, u64) {
    let db = dir.join("month.db");
    let store = Store::open(&db).expect("store");
    let now: i64 = 1_800_000_000_000;
    let tiers: [(u8, u64, u64); 3] = [(0, 1_000, H), (1, 10_000, DAY), (2, 300_000, 30 * DAY)];
    let mut total = 0;
    for (tier, step, keep) in tiers {
        let n = keep / step;
        let step = step as i64;
        for chunk in 0..n.div_ceil(10_000) {
            let points: Vec<Point> = (chunk * 10_000..((chunk + 1) * 10_000).min(n))
                .flat_map(|k| {
                    series.iter().map(move |name| Point {
                        series: name.clone(),
                        tier,
                        at_ms: now - k as i64 * step,
                        value: (k % 97) as f64 * 1.5,
                    })
                })
                .collect();
            total += points.len() as u64;
            store
                .call(move |c| rows::insert(c, &points))
                .await
                .expect("insert");
        }
    }
    // Everything in the main file, as after a checkpoint.
    store
        .call(|c| {
            c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
            Ok(())
        })
        .await
        .expect("checkpoint");
    drop(store);
    let bytes = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    (bytes as f64 / 1e6, total)
}

fn main() -> ExitCode {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned();
    let bin = harbour_tests::bin("harbourd");
    if !bin.parent().is_some_and(|d| d.ends_with("release")) {
        eprintln!(
            "warning: {} is not a release build (set HARBOUR_BIN_DIR=target/release)",
            bin.display()
        );
    }
    let machine = Machine::describe(&repo);
    let load_before = machine::load_average();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let idle_secs = number("HARBOUR_BENCH_IDLE_SECS", 60);
    let mut tables = Vec::new();

    eprintln!("idle: metrics off, then on, {idle_secs} s each...");
    let (cpu_off, rss_off, _) = idle(&bin, "[metrics]\nenabled = false\n", idle_secs);
    let (cpu_on, rss_on, hwm_on) = idle(&bin, "", idle_secs);
    let mut t = Table::new(
        &format!("Idle harbourd, metrics sampled every second vs off, over {idle_secs} s"),
        &["measure", "metrics off", "metrics on", "target", "result"],
    );
    t.row(vec![
        "CPU (% of one core)".into(),
        format!("{cpu_off:.2}%"),
        format!("{cpu_on:.2}%"),
        "<= 1%".into(),
        verdict(cpu_on <= 1.0),
    ]);
    t.row(vec![
        "RSS at the end (peak)".into(),
        format!("{rss_off:.1} MB"),
        format!("{rss_on:.1} MB ({hwm_on:.1} MB)"),
        "<= 40 MB".into(),
        verdict(rss_on <= 40.0 && hwm_on <= 40.0),
    ]);
    tables.push(t);

    let live = rt.block_on(live_series(&bin));
    let n = usize::try_from(number("HARBOUR_BENCH_SERIES", live.len() as u64)).unwrap_or(30);
    let series = names(n.max(1), &live);
    eprintln!(
        "history: 24 h of 1 s samples for {} series...",
        series.len()
    );

    // A daemon keeping 1 s samples for 24 h, on a store filled with a day of them.
    let config = "[metrics]\nraw_keep = \"24h\"\n";
    let mut daemon = Daemon::start_with_bin(&bin, config);
    daemon.terminate();
    let db = daemon.data_dir.join("harbour.db");
    let end = chrono_now();
    let tiers = vec![
        Tier {
            step_ms: 1_000,
            keep_ms: DAY,
        },
        Tier {
            step_ms: 10_000,
            keep_ms: DAY,
        },
        Tier {
            step_ms: 300_000,
            keep_ms: 30 * DAY,
        },
    ];
    let fill = rt.block_on(fill_day(&db, &series, tiers, end));
    daemon.spawn();
    let (tier_auto, tier_raw, points, resolution) = rt.block_on(async {
        let client = daemon.client().await;
        let time = |step: u64| {
            let client = client.clone();
            async move {
                let mut best = Duration::MAX;
                let mut answer = Vec::new();
                for _ in 0..20 {
                    let t = Instant::now();
                    answer = client
                        .rpc
                        .metrics_history(client::ctx(), vec!["cpu".into()], DAY, step)
                        .await
                        .flat()
                        .expect("metrics_history");
                    best = best.min(t.elapsed());
                }
                (best, answer)
            }
        };
        // Default step (~300 points): the 10 s tier answers.
        let (auto, answer) = time(0).await;
        // A 1 s step forces the raw tier: all 86,400 samples read, capped at 10,000 steps.
        let (raw, _) = time(1_000).await;
        (auto, raw, answer[0].values.len(), answer[0].resolution_ms)
    });
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut t = Table::new(
        "metrics_history over the socket: 24 h of one series, best of 20",
        &["query", "time", "target", "result"],
    );
    t.row(vec![
        format!("24 h -> {points} points (served from the {resolution} ms tier)"),
        format!("{:.2} ms", ms(tier_auto)),
        "<= 20 ms".into(),
        verdict(ms(tier_auto) <= 20.0),
    ]);
    t.row(vec![
        "24 h of raw 1 s samples (86,400 rows read) -> 10,000 points".into(),
        format!("{:.2} ms", ms(tier_raw)),
        "<= 20 ms".into(),
        verdict(ms(tier_raw) <= 20.0),
    ]);
    t.row(vec![
        format!(
            "filling a day of 1 s samples for {} series (all tiers)",
            series.len()
        ),
        format!("{:.1} s", fill.as_secs_f64()),
        String::new(),
        String::new(),
    ]);
    tables.push(t);
    drop(daemon);

    eprintln!("30-day database size...");
    let dir = tempfile::tempdir().expect("temp dir");
    let big: Vec<String> = names(series.len().max(1) * 3, &live);
    let (size, rows_n) = rt.block_on(month_size(dir.path(), &series));
    let big_dir = dir.path().join("big");
    std::fs::create_dir_all(&big_dir).expect("dir");
    let (size_big, rows_big) = rt.block_on(month_size(&big_dir, &big));
    let mut t = Table::new(
        "Database after 30 days at the default retention (1 s for 1 h, 10 s for 24 h, 5 min for 30 d)",
        &["host", "points", "file size", "target", "result"],
    );
    t.row(vec![
        format!("this machine: {} series", series.len()),
        rows_n.to_string(),
        format!("{size:.1} MB"),
        "< 100 MB".into(),
        verdict(size < 100.0),
    ]);
    t.row(vec![
        format!("3x the series ({}; a host with ~40 cores)", big.len()),
        rows_big.to_string(),
        format!("{size_big:.1} MB"),
        "< 100 MB".into(),
        verdict(size_big < 100.0),
    ]);
    tables.push(t);

    let commit = machine.commit.clone();
    let preamble = vec![
        format!(
            "Run on {}: {} CPUs ({}), {} RAM, {}; harbourd built from {commit}.",
            machine.date, machine.cpus, machine.cpu_model, machine.memory, machine.kernel
        ),
        String::new(),
        format!("Command: `{COMMAND}`"),
        String::new(),
        format!(
            "Load average (1 min) at the start {load_before}, at the end {}: the machine is \
             shared, so CPU figures include waiting for it.",
            machine::load_average()
        ),
    ];
    let body = report::section(&preamble, &tables);
    println!("\n{body}");
    if bench_doc::requested() {
        match bench_doc::write("monitor", HEADING, &body) {
            Ok(doc) => eprintln!("wrote {}", doc.display()),
            Err(e) => {
                eprintln!("cannot write docs/benchmarks.md: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0))
}
