//! The cost estimate: the backlog (files not yet ingested), the recent arrival rate, the
//! expected run time from the throughput measured on earlier runs (or the calibrated default
//! in `[ingest]`), and a cost at the configured rate per core-hour, with a sentence saying
//! how it was worked out.

use std::collections::HashSet;

use harbour_shared::{ClusterKind, Error, IngestEstimate, IngestSpec, LOCAL_CLUSTER};

use super::{Ingest, discover, internal, validate};
use crate::clock::now_ms;
use crate::store::ingest as rows;

const DAY_MS: i64 = 86_400_000;

/// The arithmetic, apart from where its inputs come from.
#[derive(Debug, Clone, Copy)]
pub struct Inputs {
    pub backlog_bytes: u64,
    pub throughput_bytes_per_sec: f64,
    pub startup_secs: f64,
    pub cores: u32,
    pub rate_per_core_hour: f64,
}

/// (expected seconds, cost). No backlog: no Spark start, so nothing.
pub fn compute(i: Inputs) -> (f64, f64) {
    if i.backlog_bytes == 0 {
        return (0.0, 0.0);
    }
    let secs = i.startup_secs + i.backlog_bytes as f64 / i.throughput_bytes_per_sec.max(1.0);
    (
        secs,
        f64::from(i.cores) * secs / 3600.0 * i.rate_per_core_hour,
    )
}

impl Ingest {
    pub async fn estimate(&self, spec: IngestSpec) -> Result<IngestEstimate, Error> {
        let spec = validate::spec(spec)?;
        if !discover::listable(&spec.source_dir, &spec.glob) {
            return Err(Error::unavailable(
                "estimate",
                "harbourd estimates sources it can list itself: a local directory and a glob \
                 of '*' and '?'",
            ));
        }
        let name = spec.name.clone();
        let (seen, measured, startup) = self
            .db(move |c| {
                let id = rows::get(c, &name)?.map(|s| s.id);
                let seen = match id {
                    Some(id) => rows::seen_paths(c, id)?,
                    None => Vec::new(),
                };
                // This ingestion's runs first, else every ingestion's.
                let mut measured = id.map(|id| rows::throughput(c, Some(id))).transpose()?;
                if measured.is_none_or(|(b, ms, _)| b == 0 || ms == 0) {
                    measured = Some(rows::throughput(c, None)?);
                }
                let startup = rows::mean_run_ms(c, None)?;
                Ok((seen, measured, startup))
            })
            .await?;
        let (dir, glob) = (spec.source_dir.clone(), spec.glob.clone());
        let files = tokio::task::spawn_blocking(move || discover::list(&dir, &glob))
            .await
            .map_err(internal)?
            .map_err(|e| Error::invalid("source_dir", format!("cannot list it: {e}")))?;
        let seen: HashSet<String> = seen.into_iter().collect();
        let backlog = discover::unseen(&files, &seen);
        let backlog_files = backlog.len() as u64;
        let backlog_bytes: u64 = backlog.iter().map(|f| f.bytes).sum();
        let since = now_ms() - DAY_MS;
        let recent: Vec<_> = files.iter().filter(|f| f.modified_ms >= since).collect();
        let arrival_files_per_hour = recent.len() as f64 / 24.0;
        let arrival_bytes_per_hour = recent.iter().map(|f| f.bytes).sum::<u64>() as f64 / 24.0;

        let cluster = spec.cluster.clone().unwrap_or_else(|| LOCAL_CLUSTER.into());
        let found = self.spark.get_cluster(&cluster).await?;
        let cores = match (&found.kind, &found.spec) {
            (ClusterKind::Local, _) => self.spark.config.local_cores,
            (_, Some(s)) => s.workers.saturating_mul(s.cores).max(1),
            _ => self.config.default_cores,
        };
        let cfg = &self.config;
        let (throughput, measured_ok, how_fast) = match measured {
            Some((bytes, ms, runs)) if bytes > 0 && ms > 0 => {
                let t = bytes as f64 / (ms as f64 / 1000.0);
                (
                    t,
                    true,
                    format!(
                        "{:.1} MB/s measured over {runs} earlier run(s) ({:.1} MB in {:.1}s of \
                         batch time)",
                        t / 1e6,
                        bytes as f64 / 1e6,
                        ms as f64 / 1000.0
                    ),
                )
            }
            _ => (
                cfg.default_mb_per_sec * 1e6,
                false,
                format!(
                    "{:.1} MB/s, the calibrated default ([ingest] default_mb_per_sec; no earlier \
                     run has measured one)",
                    cfg.default_mb_per_sec
                ),
            ),
        };
        let startup_secs = match startup {
            Some(ms) if measured_ok => {
                // The measured wall time of a run less its batch time is its fixed cost.
                let per_run_batch = measured
                    .filter(|(_, _, runs)| *runs > 0)
                    .map_or(0.0, |(_, ms, runs)| ms as f64 / runs as f64 / 1000.0);
                (ms as f64 / 1000.0 - per_run_batch).max(cfg.startup_secs.min(5.0))
            }
            _ => cfg.startup_secs,
        };
        let (expected_secs, cost) = compute(Inputs {
            backlog_bytes,
            throughput_bytes_per_sec: throughput,
            startup_secs,
            cores,
            rate_per_core_hour: cfg.cost_per_core_hour,
        });
        let how = if backlog_files == 0 {
            format!(
                "Nothing to ingest: all {} file(s) in the source were taken before, so a run \
                 ends without starting Spark and costs nothing.",
                files.len()
            )
        } else {
            format!(
                "{backlog_files} new file(s), {:.1} MB, at {how_fast}, plus {startup_secs:.0}s to \
                 start Spark, on '{cluster}' with {cores} core(s) at {:.3} per core-hour.",
                backlog_bytes as f64 / 1e6,
                cfg.cost_per_core_hour
            )
        };
        Ok(IngestEstimate {
            backlog_files,
            backlog_bytes,
            arrival_files_per_hour,
            arrival_bytes_per_hour,
            throughput_bytes_per_sec: throughput,
            measured: measured_ok,
            cluster,
            cores,
            expected_secs,
            rate_per_core_hour: cfg.cost_per_core_hour,
            cost,
            how,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_cores_times_hours_times_rate() {
        let (secs, cost) = compute(Inputs {
            backlog_bytes: 100_000_000,
            throughput_bytes_per_sec: 10_000_000.0,
            startup_secs: 15.0,
            cores: 4,
            rate_per_core_hour: 0.36,
        });
        assert!((secs - 25.0).abs() < 1e-9);
        assert!((cost - 4.0 * 25.0 / 3600.0 * 0.36).abs() < 1e-12);
        let nothing = compute(Inputs {
            backlog_bytes: 0,
            throughput_bytes_per_sec: 1.0,
            startup_secs: 15.0,
            cores: 4,
            rate_per_core_hour: 1.0,
        });
        assert_eq!(nothing, (0.0, 0.0));
    }
}
