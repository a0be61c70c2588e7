//! How times read on screen (durations and sizes come from the clients' shared `crate::fmt`). Every function takes "now" as an argument
//! so drawing stays a pure function of state (and snapshots stay stable).

use chrono::{DateTime, Local, TimeZone};
use harbour_shared::UnixMillis;

pub use crate::fmt::{bytes, duration_ms};

/// How long ago, coarse: `5s ago`, `3m ago`, `2h ago`, `4d ago`.
pub fn ago(at_ms: UnixMillis, now_ms: UnixMillis) -> String {
    let s = (now_ms - at_ms).max(0) / 1000;
    match s {
        0..60 => format!("{s}s ago"),
        60..3600 => format!("{}m ago", s / 60),
        3600..86_400 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86_400),
    }
}

fn local(at_ms: UnixMillis) -> Option<DateTime<Local>> {
    Local.timestamp_millis_opt(at_ms).single()
}

/// `14:03:22` for today, `11-19 14:03` otherwise.
pub fn when(at_ms: UnixMillis, now_ms: UnixMillis) -> String {
    match (local(at_ms), local(now_ms)) {
        (Some(t), Some(now)) if t.date_naive() == now.date_naive() => {
            t.format("%H:%M:%S").to_string()
        }
        (Some(t), _) => t.format("%m-%d %H:%M").to_string(),
        _ => "-".to_owned(),
    }
}

/// Full local time with zone, for details.
pub fn timestamp(at_ms: UnixMillis) -> String {
    local(at_ms).map_or_else(
        || "-".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M:%S%.3f %Z").to_string(),
    )
}

/// `HH:MM:SS.mmm`, for log line arrival times.
pub fn clock(at_ms: UnixMillis) -> String {
    local(at_ms).map_or_else(
        || "--:--:--.---".to_owned(),
        |t| t.format("%H:%M:%S%.3f").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(ago(0, 90_000), "1m ago");
    }
}
