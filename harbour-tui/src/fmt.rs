//! How the clients write things for people: durations, timestamps, byte counts and run states.
//!
//! Pure functions shared by the `harbour` CLI and the TUI, so both say "1m 03s" and "failed (2)"
//! the same way. Nothing here does I/O or knows about terminals; time zones are parameters (with
//! `Local` wrappers) so the tests do not depend on the machine's zone.

use chrono::{Local, TimeZone};
use harbour_shared::{Lifecycle, Run, RunResult, TaskCounts, UnixMillis};

/// A span of milliseconds, coarsening as it grows: `850ms`, `7s`, `1m 03s`, `3h 12m`, `2d 04h`.
/// Negative spans (clock skew) read as `0ms`.
pub fn duration_ms(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        return format!("{ms}ms");
    }
    duration_secs(u64::try_from(ms / 1000).unwrap_or(0))
}

/// A span of whole seconds: `7s`, `1m 03s`, `3h 12m`, `2d 04h`. Used for uptimes and timeouts.
pub fn duration_secs(secs: u64) -> String {
    const MIN: u64 = 60;
    const HOUR: u64 = 60 * MIN;
    const DAY: u64 = 24 * HOUR;
    match secs {
        s if s < MIN => format!("{s}s"),
        s if s < HOUR => format!("{}m {:02}s", s / MIN, s % MIN),
        s if s < DAY => format!("{}h {:02}m", s / HOUR, s % HOUR / MIN),
        s => format!("{}d {:02}h", s / DAY, s % DAY / HOUR),
    }
}

/// A timestamp as `YYYY-MM-DD HH:MM:SS` in `tz`; `-` when it is out of range.
pub fn time_in<Tz: TimeZone>(ms: UnixMillis, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    match tz.timestamp_millis_opt(ms).single() {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => "-".to_owned(),
    }
}

/// A timestamp as `YYYY-MM-DD HH:MM:SS` in the machine's local time.
pub fn local_time(ms: UnixMillis) -> String {
    time_in(ms, &Local)
}

/// An optional timestamp in local time, `-` when absent.
pub fn local_time_opt(ms: Option<UnixMillis>) -> String {
    ms.map_or_else(|| "-".to_owned(), local_time)
}

/// Milliseconds since the epoch now, for durations of runs still running.
pub fn now_ms() -> UnixMillis {
    Local::now().timestamp_millis()
}

/// A byte count in binary units: `0 B`, `512 B`, `1.5 KiB`, `3.2 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    // Precision loss above 2^53 bytes is invisible at one decimal.
    #[allow(clippy::cast_precision_loss)]
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A result as users read it: `succeeded`, `failed (2)`, `failed` (killed by a signal), ...
pub fn result_label(result: RunResult) -> String {
    result.to_string()
}

/// A run's state in one word or two: its result once terminated (`failed (2)`), else its
/// lifecycle (`running`, `waiting-for-retry`).
pub fn state_label(lifecycle: Lifecycle, result: Option<RunResult>) -> String {
    match result {
        Some(result) => result_label(result),
        None => lifecycle.as_str().to_owned(),
    }
}

/// [`state_label`] of a run.
pub fn run_state(run: &Run) -> String {
    state_label(run.lifecycle, run.result)
}

/// How long a run has run (up to `now_ms` while still running), `-` before it started.
pub fn run_duration(run: &Run, now_ms: UnixMillis) -> String {
    run.duration_ms(now_ms)
        .map_or_else(|| "-".to_owned(), duration_ms)
}

/// An optional value, `-` when absent.
pub fn or_dash<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// `[####>>----]`: done (completed or skipped), running, and waiting tasks.
pub fn task_bar(t: &TaskCounts, width: usize) -> String {
    let total = t.total.max(1) as usize;
    let done = ((t.completed + t.skipped) as usize).min(total);
    let active = (t.active as usize).min(total - done);
    let filled = done * width / total;
    let running = (active * width).div_ceil(total).min(width - filled);
    format!(
        "[{}{}{}]",
        "#".repeat(filled),
        ">".repeat(running),
        "-".repeat(width - filled - running)
    )
}

/// What a run used: CPU time and peak memory over its life, and its latest sample while
/// it runs.
pub fn usage(u: &harbour_shared::RunUsage) -> String {
    let mut text = if u.cpu_ms == 0 && u.peak_rss_bytes == 0 {
        "not sampled (metrics off, or too short to sample)".to_owned()
    } else {
        format!(
            "{} CPU, peak {}",
            duration_ms(i64::try_from(u.cpu_ms).unwrap_or(i64::MAX)),
            bytes(u.peak_rss_bytes)
        )
    };
    if let Some(now) = &u.now {
        text.push_str(&format!(
            "; now {} process(es), {}, {:.1}% CPU",
            now.processes,
            bytes(now.rss_bytes),
            now.cpu_percent
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, Utc};

    #[test]
    fn durations_coarsen_as_they_grow() {
        assert_eq!(duration_ms(-5), "0ms");
        assert_eq!(duration_ms(0), "0ms");
        assert_eq!(duration_ms(850), "850ms");
        assert_eq!(duration_ms(7_400), "7s");
        assert_eq!(duration_ms(63_000), "1m 03s");
        assert_eq!(duration_ms(59_999), "59s");
        assert_eq!(duration_secs(3600), "1h 00m");
        assert_eq!(duration_secs(3 * 3600 + 12 * 60 + 59), "3h 12m");
        assert_eq!(duration_secs(2 * 86_400 + 4 * 3600 + 5), "2d 04h");
    }

    #[test]
    fn times_are_formatted_in_the_given_zone() {
        // 2026-11-21 10:58:28.123 UTC
        let ms = 1_795_258_708_123;
        assert_eq!(time_in(ms, &Utc), "2026-11-21 10:58:28");
        let plus_two = FixedOffset::east_opt(2 * 3600).expect("valid offset");
        assert_eq!(time_in(ms, &plus_two), "2026-11-21 12:58:28");
        assert_eq!(time_in(i64::MAX, &Utc), "-");
    }

    #[test]
    fn bytes_use_binary_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(bytes(u64::MAX), "16384.0 PiB");
    }

    #[test]
    fn states_prefer_the_result() {
        assert_eq!(state_label(Lifecycle::Running, None), "running");
        assert_eq!(
            state_label(Lifecycle::WaitingForRetry, None),
            "waiting-for-retry"
        );
        assert_eq!(
            state_label(
                Lifecycle::Terminated,
                Some(RunResult::Failed { exit_code: Some(2) })
            ),
            "failed (2)"
        );
        assert_eq!(
            state_label(
                Lifecycle::Terminated,
                Some(RunResult::Failed { exit_code: None })
            ),
            "failed"
        );
        assert_eq!(
            state_label(Lifecycle::Terminated, Some(RunResult::TimedOut)),
            "timed-out"
        );
    }

    #[test]
    fn absent_values_are_dashes() {
        assert_eq!(or_dash(None::<u32>), "-");
        assert_eq!(or_dash(Some(4)), "4");
        assert_eq!(local_time_opt(None), "-");
    }
}
