//! Rows of metric history and health transitions. The tiering and averaging are
//! `monitor::history`'s; this only stores and reads points.

use harbour_shared::{HealthStatus, HealthTransition};
use rusqlite::{Connection, OptionalExtension as _, params};

use super::{StoreError, StoreResult};

/// One stored point.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub series: String,
    pub tier: u8,
    pub at_ms: i64,
    pub value: f64,
}

fn series_id(c: &Connection, name: &str) -> StoreResult<i64> {
    if let Some(id) = c
        .prepare_cached("SELECT id FROM metric_series WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?
    {
        return Ok(id);
    }
    c.prepare_cached("INSERT INTO metric_series (name) VALUES (?1)")?
        .execute([name])?;
    Ok(c.last_insert_rowid())
}

/// Writes `points` in one transaction (a point already there is replaced).
pub fn insert(c: &mut Connection, points: &[Point]) -> StoreResult<()> {
    let tx = c.transaction()?;
    {
        let mut ids = std::collections::HashMap::new();
        let mut stmt = tx.prepare_cached(
            "INSERT OR REPLACE INTO metric_points (series, tier, at_ms, value) \
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for p in points {
            let id = match ids.get(&p.series) {
                Some(id) => *id,
                None => {
                    let id = series_id(&tx, &p.series)?;
                    ids.insert(p.series.clone(), id);
                    id
                }
            };
            stmt.execute(params![id, p.tier, p.at_ms, p.value])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// The points of `series` in `tier` with `from_ms <= at_ms < to_ms`, oldest first.
pub fn range(
    c: &Connection,
    series: &str,
    tier: u8,
    from_ms: i64,
    to_ms: i64,
) -> StoreResult<Vec<(i64, f64)>> {
    let mut stmt = c.prepare_cached(
        "SELECT p.at_ms, p.value FROM metric_points p \
         WHERE p.series = (SELECT id FROM metric_series WHERE name = ?1) \
           AND p.tier = ?2 AND p.at_ms >= ?3 AND p.at_ms < ?4 ORDER BY p.at_ms",
    )?;
    let rows = stmt.query_map(params![series, tier, from_ms, to_ms], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn series_names(c: &Connection) -> StoreResult<Vec<String>> {
    let mut stmt = c.prepare_cached("SELECT name FROM metric_series ORDER BY name")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes the points of `tier` older than `cutoff_ms`; answers how many.
pub fn prune(c: &mut Connection, tier: u8, cutoff_ms: i64) -> StoreResult<usize> {
    let tx = c.transaction()?;
    let ids: Vec<i64> = {
        let mut stmt = tx.prepare_cached("SELECT id FROM metric_series")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut deleted = 0;
    {
        // Per series, so each delete is a range of the primary key.
        let mut stmt = tx.prepare_cached(
            "DELETE FROM metric_points WHERE series = ?1 AND tier = ?2 AND at_ms < ?3",
        )?;
        for id in ids {
            deleted += stmt.execute(params![id, tier, cutoff_ms])?;
        }
    }
    tx.commit()?;
    Ok(deleted)
}

fn status_of(text: &str) -> StoreResult<HealthStatus> {
    match text {
        "pending" => Ok(HealthStatus::Pending),
        "up" => Ok(HealthStatus::Up),
        "down" => Ok(HealthStatus::Down),
        other => Err(StoreError::Corrupt(format!("health status '{other}'"))),
    }
}

pub fn insert_transition(c: &Connection, t: &HealthTransition) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO health_transitions \
         (check_name, at_ms, from_state, to_state, message, latency_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        t.check,
        t.at_ms,
        t.from.as_str(),
        t.to.as_str(),
        t.message,
        t.latency_ms.and_then(|l| i64::try_from(l).ok())
    ])?;
    Ok(())
}

/// The latest transitions, newest first.
pub fn transitions(c: &Connection, limit: u32) -> StoreResult<Vec<HealthTransition>> {
    let mut stmt = c.prepare_cached(
        "SELECT check_name, at_ms, from_state, to_state, message, latency_ms \
         FROM health_transitions ORDER BY at_ms DESC, id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, Option<i64>>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (check, at_ms, from, to, message, latency) = row?;
        out.push(HealthTransition {
            check,
            at_ms,
            from: status_of(&from)?,
            to: status_of(&to)?,
            message,
            latency_ms: latency.and_then(|l| u64::try_from(l).ok()),
        });
    }
    Ok(out)
}

/// The status each check had last, from its latest transition, so a restarted daemon
/// reports "back up" as a transition instead of from nothing.
pub fn last_status(c: &Connection, check: &str) -> StoreResult<Option<HealthStatus>> {
    let found: Option<String> = c
        .prepare_cached(
            "SELECT to_state FROM health_transitions WHERE check_name = ?1 \
             ORDER BY at_ms DESC, id DESC LIMIT 1",
        )?
        .query_row([check], |r| r.get(0))
        .optional()?;
    found.as_deref().map(status_of).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn p(series: &str, tier: u8, at_ms: i64, value: f64) -> Point {
        Point {
            series: series.into(),
            tier,
            at_ms,
            value,
        }
    }

    #[tokio::test]
    async fn points_round_trip_and_prune_by_tier() {
        let store = Store::open_in_memory().unwrap();
        let (ranged, names, pruned, left) = store
            .call(|c| {
                insert(
                    c,
                    &[
                        p("cpu", 0, 1_000, 1.0),
                        p("cpu", 0, 2_000, 2.0),
                        p("cpu", 1, 0, 1.5),
                        p("mem.used", 0, 1_000, 9.0),
                    ],
                )?;
                let ranged = range(c, "cpu", 0, 0, 10_000)?;
                let names = series_names(c)?;
                let pruned = prune(c, 0, 1_500)?;
                let left = range(c, "cpu", 0, 0, 10_000)?;
                Ok((ranged, names, pruned, left))
            })
            .await
            .unwrap();
        assert_eq!(ranged, [(1_000, 1.0), (2_000, 2.0)]);
        assert_eq!(names, ["cpu", "mem.used"]);
        // cpu@1000 and mem.used@1000 of tier 0; the tier-1 point stays.
        assert_eq!(pruned, 2);
        assert_eq!(left, [(2_000, 2.0)]);
    }
}
