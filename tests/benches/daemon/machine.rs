//! The machine a run was on, and what `/proc` says about a process: its memory, its CPU
//! time and how often it woke up.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Where and when the figures were taken.
#[derive(Debug)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub kernel: String,
    pub memory: String,
    pub date: String,
    /// The commit the daemon was built from, and whether its sources had local changes.
    pub commit: String,
}

impl Machine {
    pub fn describe(repo: &Path) -> Self {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown".to_owned(), |(_, m)| m.trim().to_owned());
        let memory = fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| kib_field(&m, "MemTotal:"))
            .map_or_else(
                || "unknown".to_owned(),
                |kib| format!("{:.1} GiB", kib as f64 / (1024.0 * 1024.0)),
            );
        let commit = match output(Command::new("git").current_dir(repo).args([
            "rev-parse",
            "--short",
            "HEAD",
        ])) {
            Some(head) => {
                let dirty = output(Command::new("git").current_dir(repo).args([
                    "status",
                    "--porcelain",
                    "--",
                    "harbourd",
                    "shared",
                ]))
                .is_some_and(|s| !s.is_empty());
                if dirty {
                    format!("{head} (with uncommitted changes in harbourd/ or shared/)")
                } else {
                    head
                }
            }
            None => "unknown".to_owned(),
        };
        Self {
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            cpu_model,
            kernel: output(Command::new("uname").args(["-sr"])).unwrap_or_else(|| "unknown".into()),
            memory,
            date: output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]))
                .unwrap_or_else(|| "unknown".into()),
            commit,
        }
    }
}

/// The 1-minute load average: other work on the machine skews every figure.
pub fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok().filter(|o| o.status.success())?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A `kB` field of a `/proc` status-like file, in KiB.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Clock ticks per second, the unit of `/proc/PID/stat`'s CPU times. Asked of `getconf`,
/// since this crate forbids the `unsafe` a direct `sysconf` needs; Linux reports 100.
pub fn clock_ticks() -> u64 {
    output(Command::new("getconf").arg("CLK_TCK"))
        .and_then(|t| t.parse().ok())
        .unwrap_or(100)
}

/// What `/proc` says about a process at one moment.
#[derive(Debug, Clone, Copy)]
pub struct ProcSample {
    pub at: Instant,
    pub rss_kib: u64,
    pub hwm_kib: u64,
    pub threads: u64,
    /// utime + stime of all its threads, living and dead, in clock ticks.
    pub cpu_ticks: u64,
    /// cutime + cstime: the CPU of the children it has waited for (and of theirs).
    pub children_ticks: u64,
    /// Context switches of its living threads, voluntary and not: how often it woke up.
    pub switches: u64,
}

impl ProcSample {
    pub fn take(pid: u32) -> Option<Self> {
        Self::of(&pid.to_string())
    }

    /// This process.
    pub fn own() -> Option<Self> {
        Self::of("self")
    }

    fn of(pid: &str) -> Option<Self> {
        let at = Instant::now();
        let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name, which may hold spaces: state is field 3, utime 14,
        // stime 15.
        let rest = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        let cutime: u64 = fields.get(13)?.parse().ok()?;
        let cstime: u64 = fields.get(14)?.parse().ok()?;
        let mut switches = 0;
        if let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) {
            for task in tasks.filter_map(Result::ok) {
                let text = fs::read_to_string(task.path().join("status")).unwrap_or_default();
                switches += plain_field(&text, "voluntary_ctxt_switches:").unwrap_or(0);
                switches += plain_field(&text, "nonvoluntary_ctxt_switches:").unwrap_or(0);
            }
        }
        Some(Self {
            at,
            rss_kib: kib_field(&status, "VmRSS:")?,
            hwm_kib: kib_field(&status, "VmHWM:")?,
            threads: plain_field(&status, "Threads:").unwrap_or(0),
            cpu_ticks: utime + stime,
            children_ticks: cutime + cstime,
            switches,
        })
    }
}

fn plain_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().parse().ok())
}

/// The share of one core a process used between two samples, in percent.
pub fn cpu_percent(before: &ProcSample, after: &ProcSample, ticks_per_sec: u64) -> f64 {
    let cpu = after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64 / ticks_per_sec as f64;
    let wall = after.at.duration_since(before.at).as_secs_f64();
    if wall > 0.0 { 100.0 * cpu / wall } else { 0.0 }
}

/// KiB as MB (10^6 bytes), the unit the targets are given in.
pub fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

pub fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}
