//! Sampling the host: CPU (total and per core), load, memory and swap, disks (space per mount,
//! I/O summed), network per interface, the process count, and what harbourd and each active
//! run's process group cost. [`Sampler::sample`] blocks (it reads `/proc`), so it runs on a
//! blocking thread; [`series`] turns a sample into the named values history records.
//!
//! sysinfo covers CPU, memory, disks and networks. Process costs come straight from
//! `/proc/PID/stat` (a run's group is found by its pgid), so a sample never refreshes every
//! process on the host: that is what keeps sampling well under 1% of a core.

use std::collections::HashMap;
use std::fs;
use std::time::Instant;

use harbour_shared::{DiskNow, MetricsNow, NetworkNow, ProcessCost, RunCost, RunId};
use sysinfo::{CpuRefreshKind, DiskRefreshKind, Disks, MemoryRefreshKind, Networks, System};

/// CPU ticks and resident pages of one process, from `/proc/PID/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ProcStat {
    pgrp: u32,
    state: char,
    /// utime + stime, in clock ticks.
    cpu_ticks: u64,
    rss_pages: u64,
}

/// Parses `/proc/PID/stat`. The command name (field 2) may hold spaces and parentheses, so
/// fields are counted from after its last ')'.
fn parse_stat(stat: &str) -> Option<ProcStat> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); field N is fields[N - 3].
    let num = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        pgrp: u32::try_from(num(5)?).ok()?,
        cpu_ticks: num(14)? + num(15)?,
        rss_pages: num(24)?,
    })
}

fn read_stat(pid: &str) -> Option<ProcStat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// CPU ticks seen last time, to turn totals into a percentage.
#[derive(Debug, Default)]
struct Ticks {
    last: HashMap<u64, u64>,
}

impl Ticks {
    /// Percent of one core since the last call for `key`; 0 the first time.
    fn percent(&mut self, key: u64, ticks: u64, secs: f64, hz: f64) -> f64 {
        let before = self.last.insert(key, ticks);
        match before {
            // A member that exited takes its ticks along: never report a negative.
            Some(before) if secs > 0.0 => ticks.saturating_sub(before) as f64 / hz / secs * 100.0,
            _ => 0.0,
        }
    }
}

/// What the sampler keeps between samples. Owned by one blocking task at a time.
#[derive(Debug)]
pub struct Sampler {
    system: System,
    disks: Option<Disks>,
    networks: Option<Networks>,
    last: Option<Instant>,
    disk_totals: HashMap<String, (u64, u64)>,
    net_totals: HashMap<String, (u64, u64)>,
    ticks: Ticks,
    hz: f64,
    page: u64,
    interval_ms: u64,
}

const SELF_KEY: u64 = 0;

fn sysconf(var: nix::unistd::SysconfVar, default: i64) -> i64 {
    nix::unistd::sysconf(var).ok().flatten().unwrap_or(default)
}

impl Sampler {
    /// Fails only when sysinfo cannot read the host at all.
    pub fn new(interval_ms: u64) -> Result<Self, sysinfo::Error> {
        let mut system = System::new()?;
        // The first CPU refresh only sets a baseline: usage needs two, an interval apart.
        system.refresh_cpu_usage();
        let disks = Disks::new_with_refreshed_list_specifics(
            DiskRefreshKind::nothing().with_storage().with_io_usage(),
        )
        .map_err(|e| tracing::warn!("cannot list disks: {e}; disk metrics are off"))
        .ok();
        let networks = Networks::new_with_refreshed_list()
            .map_err(|e| {
                tracing::warn!("cannot list network interfaces: {e}; network metrics are off")
            })
            .ok();
        Ok(Self {
            system,
            disks,
            networks,
            last: None,
            disk_totals: HashMap::new(),
            net_totals: HashMap::new(),
            ticks: Ticks::default(),
            hz: sysconf(nix::unistd::SysconfVar::CLK_TCK, 100) as f64,
            page: u64::try_from(sysconf(nix::unistd::SysconfVar::PAGE_SIZE, 4096)).unwrap_or(4096),
            interval_ms,
        })
    }

    /// Samples everything. `runs` are the active runs' process groups.
    pub fn sample(&mut self, at_ms: i64, runs: &[(RunId, u32)]) -> MetricsNow {
        let now = Instant::now();
        let secs = self
            .last
            .replace(now)
            .map_or(0.0, |l| now.duration_since(l).as_secs_f64());
        let rate = |delta: u64| if secs > 0.0 { delta as f64 / secs } else { 0.0 };

        self.system
            .refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
        self.system
            .refresh_memory_specifics(MemoryRefreshKind::everything());
        let load = System::load_average().ok();

        let mut disks = Vec::new();
        let (mut read, mut written) = (0, 0);
        let mut seen_devices = std::collections::HashSet::new();
        if let Some(all) = &mut self.disks {
            all.refresh_specifics(
                true,
                DiskRefreshKind::nothing().with_storage().with_io_usage(),
            );
        }
        for disk in self.disks.iter().flat_map(|d| d.iter()) {
            let mount = disk.mount_point().to_string_lossy().into_owned();
            disks.push(DiskNow {
                mount,
                used_bytes: disk.total_space().saturating_sub(disk.available_space()),
                total_bytes: disk.total_space(),
            });
            // One device mounted in several places is counted once.
            let device = disk.name().to_string_lossy().into_owned();
            if seen_devices.insert(device.clone()) {
                let usage = disk.usage();
                let totals = (usage.total_read_bytes, usage.total_written_bytes);
                if let Some(before) = self.disk_totals.insert(device, totals) {
                    read += totals.0.saturating_sub(before.0);
                    written += totals.1.saturating_sub(before.1);
                }
            }
        }
        disks.sort_by(|a, b| a.mount.cmp(&b.mount));

        if let Some(all) = &mut self.networks {
            all.refresh(true);
        }
        let mut networks = Vec::new();
        for (name, data) in self.networks.iter().flat_map(|n| n.iter()) {
            let name = name.to_string_lossy().into_owned();
            // Loopback is not traffic; veth pairs come and go with every container.
            if name == "lo" || name.starts_with("veth") {
                continue;
            }
            let totals = (data.total_received(), data.total_transmitted());
            let before = self.net_totals.insert(name.clone(), totals);
            let (rx, tx) = before.map_or((0, 0), |b| {
                (totals.0.saturating_sub(b.0), totals.1.saturating_sub(b.1))
            });
            networks.push(NetworkNow {
                interface: name,
                rx_bytes_per_sec: rate(rx),
                tx_bytes_per_sec: rate(tx),
            });
        }
        networks.sort_by(|a, b| a.interface.cmp(&b.interface));

        let (processes, groups) = self.scan_proc(runs);
        let harbourd = read_stat("self").map_or_else(ProcessCost::default, |s| ProcessCost {
            rss_bytes: s.rss_pages * self.page,
            cpu_percent: self.ticks.percent(SELF_KEY, s.cpu_ticks, secs, self.hz),
            processes: 1,
        });
        let mut run_costs = Vec::new();
        for (run, pgid) in runs {
            let (ticks, rss, count) = groups.get(pgid).copied().unwrap_or_default();
            let key = u64::try_from(run.0).unwrap_or(0).saturating_add(1);
            run_costs.push(RunCost {
                run: *run,
                cost: ProcessCost {
                    rss_bytes: rss * self.page,
                    cpu_percent: self.ticks.percent(key, ticks, secs, self.hz),
                    processes: count,
                },
            });
        }
        // Forget runs that ended.
        let live: std::collections::HashSet<u64> = runs
            .iter()
            .map(|(r, _)| u64::try_from(r.0).unwrap_or(0).saturating_add(1))
            .chain([SELF_KEY])
            .collect();
        self.ticks.last.retain(|k, _| live.contains(k));

        MetricsNow {
            at_ms,
            interval_ms: self.interval_ms,
            cpu_percent: f64::from(self.system.global_cpu_usage()),
            cores: self
                .system
                .cpus()
                .iter()
                .map(|c| f64::from(c.usage()))
                .collect(),
            load: load.map_or([0.0; 3], |l| [l.one, l.five, l.fifteen]),
            memory_used_bytes: self.system.used_memory(),
            memory_total_bytes: self.system.total_memory(),
            swap_used_bytes: self.system.used_swap(),
            swap_total_bytes: self.system.total_swap(),
            disks,
            disk_read_bytes_per_sec: rate(read),
            disk_write_bytes_per_sec: rate(written),
            networks,
            processes,
            harbourd,
            runs: run_costs,
        }
    }

    /// Counts processes and, when there are runs, sums (ticks, rss pages, members) per
    /// process group of theirs. Only then is each process's stat read.
    fn scan_proc(&self, runs: &[(RunId, u32)]) -> (u64, HashMap<u32, (u64, u64, u32)>) {
        let mut groups: HashMap<u32, (u64, u64, u32)> = HashMap::new();
        let mut count = 0;
        let Ok(entries) = fs::read_dir("/proc") else {
            return (0, groups);
        };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            count += 1;
            if runs.is_empty() {
                continue;
            }
            if let Some(stat) = read_stat(pid)
                && stat.state != 'Z'
                && runs.iter().any(|(_, g)| *g == stat.pgrp)
            {
                let slot = groups.entry(stat.pgrp).or_default();
                slot.0 += stat.cpu_ticks;
                slot.1 += stat.rss_pages;
                slot.2 += 1;
            }
        }
        (count, groups)
    }
}

/// The named values of a sample, as history records them.
pub fn series(m: &MetricsNow) -> Vec<(String, f64)> {
    let mut out = vec![
        ("cpu".to_owned(), m.cpu_percent),
        ("load.1".to_owned(), m.load[0]),
        ("load.5".to_owned(), m.load[1]),
        ("load.15".to_owned(), m.load[2]),
        ("mem.used".to_owned(), m.memory_used_bytes as f64),
        ("mem.total".to_owned(), m.memory_total_bytes as f64),
        ("swap.used".to_owned(), m.swap_used_bytes as f64),
        ("disk.read".to_owned(), m.disk_read_bytes_per_sec),
        ("disk.write".to_owned(), m.disk_write_bytes_per_sec),
        ("procs".to_owned(), m.processes as f64),
        ("harbourd.rss".to_owned(), m.harbourd.rss_bytes as f64),
        ("harbourd.cpu".to_owned(), m.harbourd.cpu_percent),
    ];
    out.extend(
        m.cores
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("cpu.{i}"), *v)),
    );
    for d in &m.disks {
        out.push((format!("disk.used:{}", d.mount), d.used_bytes as f64));
    }
    for n in &m.networks {
        out.push((format!("net.{}.rx", n.interface), n.rx_bytes_per_sec));
        out.push((format!("net.{}.tx", n.interface), n.tx_bytes_per_sec));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_even_with_odd_names() {
        let line = "4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    25 17 0 0 20 0 1 0 12345 1000000 256 18446744073709551615";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.state, 'S');
        assert_eq!(s.pgrp, 4242);
        assert_eq!(s.cpu_ticks, 42);
        assert_eq!(s.rss_pages, 256);
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn cpu_percent_is_ticks_over_time_and_never_negative() {
        let mut t = Ticks::default();
        assert_eq!(t.percent(1, 100, 1.0, 100.0), 0.0);
        assert_eq!(t.percent(1, 150, 1.0, 100.0), 50.0);
        assert_eq!(t.percent(1, 120, 1.0, 100.0), 0.0);
    }

    #[test]
    fn a_real_sample_sees_this_process_and_its_group() {
        let mut s = Sampler::new(1_000).unwrap();
        let own_group = nix::unistd::getpgrp().as_raw() as u32;
        let runs = [(RunId(7), own_group)];
        s.sample(0, &runs);
        std::hint::black_box((0..2_000_000u64).sum::<u64>());
        let m = s.sample(1_000, &runs);
        assert!(m.memory_total_bytes > 0 && m.memory_used_bytes <= m.memory_total_bytes);
        assert!(!m.cores.is_empty());
        assert!(m.processes > 1);
        assert!(m.harbourd.rss_bytes > 1_000_000, "{:?}", m.harbourd);
        let run = &m.runs[0];
        assert_eq!(run.run, RunId(7));
        assert!(run.cost.processes >= 1 && run.cost.rss_bytes > 0, "{run:?}");
        let names: Vec<String> = series(&m).into_iter().map(|(n, _)| n).collect();
        assert!(names.contains(&"cpu".to_owned()) && names.contains(&"cpu.0".to_owned()));
    }
}
