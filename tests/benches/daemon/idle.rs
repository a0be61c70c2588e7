//! The daemon at rest: a fresh harbourd with no runs and no clients, its memory and its CPU
//! over a minute (`HARBOUR_BENCH_IDLE_SECS`), with the memory of the daemons the other
//! measurements loaded beside it.

use std::path::Path;
use std::time::Duration;

use harbour_tests::Daemon;

use crate::machine::{ProcSample, clock_ticks, cpu_percent, mb};
use crate::report::{Table, verdict};

const RSS_TARGET_MB: f64 = 30.0;
/// "About zero": a tenth of a percent of a core.
const CPU_TARGET_PERCENT: f64 = 0.1;
/// Startup work (opening the store, recovery) is not idleness.
const SETTLE: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub struct IdleResults {
    secs: u64,
    before: ProcSample,
    after: ProcSample,
    ticks: u64,
}

pub fn run(bin: &Path, secs: u64) -> IdleResults {
    let daemon = Daemon::start_with_bin(bin, "");
    std::thread::sleep(SETTLE);
    let pid = daemon.pid();
    let before = ProcSample::take(pid).expect("harbourd's /proc entry");
    std::thread::sleep(Duration::from_secs(secs));
    let after = ProcSample::take(pid).expect("harbourd's /proc entry");
    IdleResults {
        secs,
        before,
        after,
        ticks: clock_ticks(),
    }
}

impl IdleResults {
    pub fn table(&self, after_rpc: Option<&ProcSample>, after_logs: Option<&ProcSample>) -> Table {
        let mut t = Table::new(
            &format!(
                "Daemon idle: a fresh harbourd, no runs, no clients, over {} s",
                self.secs
            ),
            &["measure", "value", "target", "result"],
        );
        let (b, a) = (&self.before, &self.after);
        let rss = mb(a.rss_kib);
        t.row(vec![
            "RSS (VmRSS) at the start / the end".into(),
            format!("{:.1} MB / {rss:.1} MB", mb(b.rss_kib)),
            format!("<= {RSS_TARGET_MB} MB"),
            verdict(rss <= RSS_TARGET_MB && mb(b.rss_kib) <= RSS_TARGET_MB),
        ]);
        t.row(vec![
            "peak RSS (VmHWM)".into(),
            format!("{:.1} MB", mb(a.hwm_kib)),
            String::new(),
            String::new(),
        ]);
        let cpu = cpu_percent(b, a, self.ticks);
        let cpu_secs = a.cpu_ticks.saturating_sub(b.cpu_ticks) as f64 / self.ticks as f64;
        t.row(vec![
            "CPU (utime + stime)".into(),
            format!("{cpu:.3}% of a core ({cpu_secs:.2} s CPU)"),
            format!("~0 (<= {CPU_TARGET_PERCENT}%)"),
            verdict(cpu <= CPU_TARGET_PERCENT),
        ]);
        let wall = a.at.duration_since(b.at).as_secs_f64();
        t.row(vec![
            "wake-ups (context switches, all threads)".into(),
            format!(
                "{:.1}/s",
                a.switches.saturating_sub(b.switches) as f64 / wall
            ),
            String::new(),
            String::new(),
        ]);
        t.row(vec![
            "threads".into(),
            a.threads.to_string(),
            String::new(),
            String::new(),
        ]);
        for (what, sample) in [
            ("after the RPC load", after_rpc),
            ("after the log-capture runs", after_logs),
        ] {
            if let Some(s) = sample {
                t.row(vec![
                    format!("RSS / peak RSS {what} (another daemon)"),
                    format!("{:.1} MB / {:.1} MB", mb(s.rss_kib), mb(s.hwm_kib)),
                    String::new(),
                    String::new(),
                ]);
            }
        }
        t
    }
}
