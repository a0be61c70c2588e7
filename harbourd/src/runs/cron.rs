//! Cron expressions: parsing (5 fields, 6 with seconds, or `@daily`-style) and the next fire
//! time in the daemon's local time zone, as cron itself does.

use std::str::FromStr as _;

use chrono::{DateTime, Local};
use croner::Cron;
use croner::parser::{CronParser, Seconds};

/// Parses `expr`, or says what is wrong with it.
pub fn parse(expr: &str) -> Result<Cron, String> {
    let expr = expr.trim();
    if expr.is_empty() {
        return Err("the schedule is empty; write a cron expression like '*/5 * * * *'".into());
    }
    let parsed = if expr.starts_with('@') {
        Cron::from_str(expr)
    } else {
        CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(expr)
    };
    parsed.map_err(|e| {
        format!(
            "'{expr}' is not a cron expression ({e}); use 5 fields 'min hour day month weekday' \
             (e.g. '0 3 * * *'), 6 with seconds first, or @hourly/@daily/@weekly/@monthly"
        )
    })
}

/// The first fire strictly after `after_ms`, in Unix milliseconds.
pub fn next_fire_ms(expr: &str, after_ms: i64) -> Option<i64> {
    let cron = parse(expr).ok()?;
    next_after(&cron, after_ms)
}

pub fn next_after(cron: &Cron, after_ms: i64) -> Option<i64> {
    let after: DateTime<Local> = DateTime::from_timestamp_millis(after_ms)?.with_timezone(&Local);
    cron.find_next_occurrence(&after, false)
        .ok()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_usual_forms() {
        for ok in [
            "*/5 * * * *",
            "0 3 * * 1-5",
            "*/2 * * * * *",
            "@hourly",
            "@daily",
        ] {
            assert!(parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_nonsense_with_a_hint() {
        for bad in ["", "every day", "61 * * * *", "* * *"] {
            let err = parse(bad).unwrap_err();
            assert!(
                err.contains("cron expression") || err.contains("empty"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn next_fire_is_strictly_later_and_aligned() {
        let now = 1_700_000_000_123;
        let next = next_fire_ms("*/2 * * * * *", now).unwrap();
        assert!(next > now && next - now <= 2_000, "{next} vs {now}");
        assert_eq!(next % 1000, 0);
        let minutely = next_fire_ms("* * * * *", now).unwrap();
        assert_eq!(minutely % 60_000, 0);
    }
}
