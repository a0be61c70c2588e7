//! Whole-system benchmarks of harbourd (issue 2): RPC round trips beside a raw Unix-socket
//! echo, log capture of a gigabyte beside the same command writing to a file, and the idle
//! daemon's memory and CPU. Each figure is taken in the same run as its peer.
//!
//! ```text
//! cargo build --release --bins -p harbourd && cargo bench -p harbour-tests --bench daemon
//! ```
//!
//! Prints markdown tables; `HARBOUR_BENCH_WRITE=1` also rewrites this benchmark's section of
//! docs/benchmarks.md (between its marker comments). Timings are never pass/fail: a missed
//! target is reported, not fatal. A wrong result (a follower missing a byte) is fatal.
//!
//! Knobs (environment): `HARBOUR_BENCH_ONLY` (comma-separated: rpc, logs, idle),
//! `HARBOUR_BENCH_RPC_CALLS` (20000), `HARBOUR_BENCH_RPC_SECS` (5), `HARBOUR_BENCH_LOG_MIB`
//! (1024), `HARBOUR_BENCH_LOG_REPEATS` (5), `HARBOUR_BENCH_IDLE_SECS` (60), `HARBOUR_BIN_DIR`.

// A benchmark that cannot measure stops and says why.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "daemon/idle.rs"]
mod idle;
#[path = "daemon/logs.rs"]
mod logs;
#[path = "daemon/machine.rs"]
mod machine;
#[path = "daemon/report.rs"]
mod report;
#[path = "daemon/rpc.rs"]
mod rpc;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use harbour_tests::bench_doc;

use machine::Machine;

pub const COMMAND: &str =
    "cargo build --release --bins -p harbourd && cargo bench -p harbour-tests --bench daemon";

/// What to measure and for how long, from the environment.
#[derive(Debug)]
pub struct Options {
    rpc: bool,
    logs: bool,
    idle: bool,
    pub rpc_calls: usize,
    pub rpc_secs: Duration,
    pub log_bytes: u64,
    pub log_repeats: usize,
    pub idle_secs: u64,
    write: bool,
}

impl Options {
    fn from_env() -> Self {
        let only = std::env::var("HARBOUR_BENCH_ONLY").unwrap_or_default();
        let wanted = |name: &str| only.is_empty() || only.split(',').any(|o| o.trim() == name);
        Self {
            rpc: wanted("rpc"),
            logs: wanted("logs"),
            idle: wanted("idle"),
            rpc_calls: number("HARBOUR_BENCH_RPC_CALLS", 20_000),
            rpc_secs: Duration::from_secs(number("HARBOUR_BENCH_RPC_SECS", 5)),
            log_bytes: number("HARBOUR_BENCH_LOG_MIB", 1024) << 20,
            log_repeats: number("HARBOUR_BENCH_LOG_REPEATS", 5).max(1),
            idle_secs: number("HARBOUR_BENCH_IDLE_SECS", 60),
            write: bench_doc::requested(),
        }
    }

    fn is_default_run(&self) -> bool {
        self.rpc
            && self.logs
            && self.idle
            && self.rpc_calls == 20_000
            && self.rpc_secs == Duration::from_secs(5)
            && self.log_bytes == 1 << 30
            && self.log_repeats == 5
            && self.idle_secs == 60
    }
}

fn number<T: std::str::FromStr>(var: &str, default: T) -> T {
    match std::env::var(var) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{var}={v} is not a number")),
        Err(_) => default,
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_owned()
}

/// The release `harbourd`, and why it might not be the code in the tree.
fn harbourd(repo: &Path) -> (PathBuf, Option<String>) {
    let bin = harbour_tests::bin("harbourd");
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .expect("harbourd's mtime");
    let newest_source = [
        "harbourd/src",
        "shared/src",
        "harbourd/Cargo.toml",
        "Cargo.lock",
    ]
    .iter()
    .filter_map(|p| newest(&repo.join(p)))
    .max();
    let mut warning = None;
    if newest_source.is_some_and(|s| s > built) {
        warning = Some(format!(
            "{} is older than the sources: rebuild it with `cargo build --release --bins -p harbourd`",
            bin.display()
        ));
    }
    if !bin.parent().is_some_and(|d| d.ends_with("release")) {
        warning = Some(format!("{} is not a release build", bin.display()));
    }
    (bin, warning)
}

fn newest(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| newest(&e.path()))
        .max()
}

fn main() -> ExitCode {
    let opts = Options::from_env();
    let repo = repo_root();
    let (bin, stale) = harbourd(&repo);
    if let Some(warning) = &stale {
        eprintln!("warning: {warning}");
    }
    let machine = Machine::describe(&repo);
    let load_before = machine::load_average();
    eprintln!("harbourd: {}", bin.display());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");

    let mut tables = Vec::new();
    let mut after_rpc = None;
    let mut after_logs = None;
    if opts.rpc {
        eprintln!(
            "RPC: {} sequential calls per server, then {} s of throughput at 1 and 16 clients...",
            opts.rpc_calls,
            opts.rpc_secs.as_secs()
        );
        let results = runtime.block_on(rpc::run(&bin, &opts));
        after_rpc = results.daemon_after;
        tables.push(results.table());
    }
    if opts.logs {
        eprintln!(
            "log capture: {} MiB per run, {} repeats...",
            opts.log_bytes >> 20,
            opts.log_repeats
        );
        let results = runtime.block_on(logs::run(&bin, &opts));
        after_logs = results.daemon_after;
        tables.extend(results.tables());
    }
    if opts.idle {
        eprintln!("idle: {} s...", opts.idle_secs);
        let results = idle::run(&bin, opts.idle_secs);
        tables.push(results.table(after_rpc.as_ref(), after_logs.as_ref()));
    }

    let mut preamble = vec![
        format!(
            "Run on {}: {} CPUs ({}), {} RAM, {}; harbourd built from {}.",
            machine.date,
            machine.cpus,
            machine.cpu_model,
            machine.memory,
            machine.kernel,
            machine.commit
        ),
        String::new(),
        format!("Command: `{COMMAND}`"),
        String::new(),
        format!(
            "Load average (1 min) at the start {load_before}, at the end {}: anything else \
             running on the machine skews the figures.",
            machine::load_average()
        ),
    ];
    if !opts.is_default_run() {
        preamble.push(String::new());
        preamble.push(format!("Not the default run: {opts:?}."));
    }
    if let Some(warning) = &stale {
        preamble.push(String::new());
        preamble.push(format!("**Warning**: {warning}."));
    }
    let body = report::section(&preamble, &tables);
    println!("\n{body}");

    if opts.write {
        if stale.is_some() || !opts.is_default_run() {
            eprintln!(
                "not writing docs/benchmarks.md: only a default run of a fresh release build is recorded"
            );
            return ExitCode::FAILURE;
        }
        match bench_doc::write("daemon", "## Issue 2: harbourd core", &body) {
            Ok(doc) => eprintln!("wrote {}", doc.display()),
            Err(e) => {
                eprintln!("cannot write docs/benchmarks.md: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
