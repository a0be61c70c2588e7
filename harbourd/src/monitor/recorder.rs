//! Metric history in the daemon: the latest sample, the points not yet written, and the loop
//! that samples, rolls up, writes in batches and prunes by age.
//!
//! Samples are written every `metrics.flush` in one transaction; until then queries read them
//! from memory, so a chart never lags. Every point of every tier is made from the raw
//! samples (the mean of a tier's step), so tiers never depend on each other's rounding.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use harbour_shared::{MetricHistory, MetricsNow, RunId, RunUsage};
use tokio_util::sync::CancellationToken;

use super::history::{self, Rollup, Tier};
use super::metrics::{Sampler, series};
use crate::clock::now_ms;
use crate::runs::supervisor::Runs;
use crate::store::metrics::{self as rows, Point};
use crate::store::{Store, StoreResult};

/// Points waiting for the next write are capped, so a store that cannot write (a full disk)
/// costs bounded memory; the oldest go first.
const MAX_PENDING: usize = 200_000;

/// Samples in, points out: the rollups of each series and tier, and what is not yet stored.
#[derive(Debug)]
pub struct Recorder {
    tiers: Vec<Tier>,
    rollups: HashMap<(String, u8), Rollup>,
    pending: Vec<Point>,
}

impl Recorder {
    pub fn new(tiers: Vec<Tier>) -> Self {
        Self {
            tiers,
            rollups: HashMap::new(),
            pending: Vec::new(),
        }
    }

    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }

    /// Records one sample's values taken at `at_ms`.
    pub fn record(&mut self, at_ms: i64, values: &[(String, f64)]) {
        for (name, value) in values {
            if !value.is_finite() {
                continue;
            }
            self.pending.push(Point {
                series: name.clone(),
                tier: 0,
                at_ms,
                value: *value,
            });
            for (tier, spec) in self.tiers.iter().enumerate().skip(1) {
                let tier = u8::try_from(tier).unwrap_or(u8::MAX);
                let rollup = self
                    .rollups
                    .entry((name.clone(), tier))
                    .or_insert_with(|| Rollup::new(spec.step_ms));
                if let Some((bucket, mean)) = rollup.push(at_ms, *value) {
                    self.pending.push(Point {
                        series: name.clone(),
                        tier,
                        at_ms: bucket,
                        value: mean,
                    });
                }
            }
        }
        if self.pending.len() > MAX_PENDING {
            let excess = self.pending.len() - MAX_PENDING;
            self.pending.drain(..excess);
        }
    }

    /// Closes every open bucket (on shutdown), so the last partial step is kept too.
    pub fn close(&mut self) {
        for ((series, tier), rollup) in &mut self.rollups {
            if let Some((at_ms, value)) = rollup.take() {
                self.pending.push(Point {
                    series: series.clone(),
                    tier: *tier,
                    at_ms,
                    value,
                });
            }
        }
    }

    pub fn take_pending(&mut self) -> Vec<Point> {
        std::mem::take(&mut self.pending)
    }

    /// Puts back points a failed write did not store, ahead of newer ones.
    pub fn restore(&mut self, mut points: Vec<Point>) {
        points.append(&mut self.pending);
        self.pending = points;
    }

    /// Pending points of `series` in `tier` within `[from, to)`.
    pub fn pending_in(&self, series: &str, tier: u8, from: i64, to: i64) -> Vec<(i64, f64)> {
        self.pending
            .iter()
            .filter(|p| p.tier == tier && p.series == series && p.at_ms >= from && p.at_ms < to)
            .map(|p| (p.at_ms, p.value))
            .collect()
    }
}

/// The daemon's metrics: the latest sample and the history. Shared by the API and the loop.
#[derive(Debug)]
pub struct Metrics {
    store: Store,
    latest: Mutex<Option<MetricsNow>>,
    /// Per run, what the samples since the last write add: (CPU ms, peak RSS bytes).
    usage: Mutex<HashMap<RunId, (f64, u64)>>,
    recorder: Mutex<Recorder>,
    interval: Duration,
    flush_every: Duration,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its data consistent; a panic elsewhere does not matter.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Metrics {
    pub fn new(store: Store, tiers: Vec<Tier>, interval: Duration, flush_every: Duration) -> Self {
        Self {
            store,
            latest: Mutex::new(None),
            usage: Mutex::new(HashMap::new()),
            recorder: Mutex::new(Recorder::new(tiers)),
            interval,
            flush_every,
        }
    }

    pub fn latest(&self) -> Option<MetricsNow> {
        lock(&self.latest).clone()
    }

    /// Records values that are not host samples (health check latencies, say).
    pub fn record(&self, at_ms: i64, values: &[(String, f64)]) {
        lock(&self.recorder).record(at_ms, values);
    }

    /// Takes a sample in: the latest for `metrics_now`, its values for history, and each
    /// active run's share of CPU over the interval and its memory for the run's usage.
    pub fn take_sample(&self, sample: MetricsNow) {
        let at_ms = sample.at_ms;
        lock(&self.recorder).record(at_ms, &series(&sample));
        {
            let mut usage = lock(&self.usage);
            for r in &sample.runs {
                let u = usage.entry(r.run).or_default();
                u.0 += r.cost.cpu_percent / 100.0 * sample.interval_ms as f64;
                u.1 = u.1.max(r.cost.rss_bytes);
            }
        }
        *lock(&self.latest) = Some(sample);
    }

    /// A run's usage: what is stored plus what is not written yet, and its latest sample.
    pub fn usage_of(&self, run: RunId, stored_cpu_ms: u64, stored_peak: u64) -> RunUsage {
        let (cpu, peak) = lock(&self.usage).get(&run).copied().unwrap_or_default();
        let now = lock(&self.latest)
            .as_ref()
            .and_then(|s| s.runs.iter().find(|r| r.run == run).map(|r| r.cost));
        RunUsage {
            cpu_ms: stored_cpu_ms + cpu.round() as u64,
            peak_rss_bytes: stored_peak.max(peak),
            now,
        }
    }

    /// Writes the pending points and run usage. On failure they stay pending for the next
    /// try.
    pub async fn flush(&self) -> StoreResult<usize> {
        let points = lock(&self.recorder).take_pending();
        let usage: Vec<(RunId, u64, u64)> = lock(&self.usage)
            .drain()
            .map(|(run, (cpu, peak))| (run, cpu.round() as u64, peak))
            .collect();
        if points.is_empty() && usage.is_empty() {
            return Ok(0);
        }
        let n = points.len();
        let (wrote_points, wrote_usage, points, usage) = self
            .store
            .call(move |c| {
                let p = rows::insert(c, &points);
                let u = crate::store::runs::add_usage(c, &usage);
                Ok((p, u, points, usage))
            })
            .await?;
        if wrote_points.is_err() {
            lock(&self.recorder).restore(points);
        }
        if wrote_usage.is_err() {
            let mut pending = lock(&self.usage);
            for (run, cpu, peak) in usage {
                let u = pending.entry(run).or_default();
                u.0 += cpu as f64;
                u.1 = u.1.max(peak);
            }
        }
        wrote_points.and(wrote_usage).map(|()| n)
    }

    /// Deletes points older than each tier's retention.
    pub async fn prune(&self, now_ms: i64) -> StoreResult<usize> {
        let tiers = lock(&self.recorder).tiers().to_vec();
        self.store
            .call(move |c| {
                let mut deleted = 0;
                for (i, tier) in tiers.iter().enumerate() {
                    let i = u8::try_from(i).unwrap_or(u8::MAX);
                    deleted += rows::prune(c, i, history::cutoff(tier, now_ms))?;
                }
                Ok(deleted)
            })
            .await
    }

    pub async fn series_names(&self) -> StoreResult<Vec<String>> {
        let mut names = self.store.call(|c| rows::series_names(c)).await?;
        // Series seen but not written yet.
        {
            let recorder = lock(&self.recorder);
            for p in &recorder.pending {
                if !names.contains(&p.series) {
                    names.push(p.series.clone());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// Each series over the window ending at `now_ms`, from the cheapest tier that answers.
    pub async fn history(
        &self,
        series: Vec<String>,
        window_ms: u64,
        step_ms: u64,
        now_ms: i64,
    ) -> StoreResult<Vec<MetricHistory>> {
        let (tier, resolution, pending) = {
            let recorder = lock(&self.recorder);
            let tiers = recorder.tiers();
            let tier = history::choose_tier(tiers, window_ms, step_ms);
            let resolution = tiers.get(tier).map_or(1_000, |t| t.step_ms);
            let grid = history::grid(now_ms, window_ms, step_ms, resolution);
            let end = grid_end(&grid);
            let tier_u8 = u8::try_from(tier).unwrap_or(u8::MAX);
            let pending: Vec<Vec<(i64, f64)>> = series
                .iter()
                .map(|s| recorder.pending_in(s, tier_u8, grid.start_ms, end))
                .collect();
            (tier_u8, resolution, pending)
        };
        let grid = history::grid(now_ms, window_ms, step_ms, resolution);
        let end = grid_end(&grid);
        let names = series.clone();
        let stored = self
            .store
            .call(move |c| {
                names
                    .iter()
                    .map(|s| rows::range(c, s, tier, grid.start_ms, end))
                    .collect::<StoreResult<Vec<_>>>()
            })
            .await?;
        Ok(series
            .into_iter()
            .zip(stored.into_iter().zip(pending))
            .map(|(name, (stored, pending))| MetricHistory {
                series: name,
                start_ms: grid.start_ms,
                step_ms: grid.step_ms,
                resolution_ms: resolution,
                values: history::bucket(stored.into_iter().chain(pending), grid),
            })
            .collect())
    }

    /// Samples every interval until `shutdown`, writing every `flush_every` and pruning
    /// every minute; on shutdown closes the open steps and writes what is left.
    pub async fn run(self: Arc<Self>, runs: Runs, shutdown: CancellationToken) {
        let interval_ms = u64::try_from(self.interval.as_millis()).unwrap_or(1_000);
        let mut sampler = match tokio::task::spawn_blocking(move || Sampler::new(interval_ms)).await
        {
            Ok(Ok(sampler)) => Some(sampler),
            Ok(Err(e)) => {
                tracing::error!("cannot read the host's metrics: {e}; metrics are off");
                None
            }
            Err(e) => {
                tracing::error!("the metrics sampler failed to start: {e}; metrics are off");
                None
            }
        };
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        // The first tick is immediate; CPU usage needs an interval since the baseline.
        tick.tick().await;
        let mut flush = tokio::time::interval(self.flush_every);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        flush.tick().await;
        let mut prune = tokio::time::interval(Duration::from_secs(60));
        prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = tick.tick() => {
                    let Some(mut s) = sampler.take() else { continue };
                    let groups = runs.active_groups();
                    let at = now_ms();
                    match tokio::task::spawn_blocking(move || {
                        let m = s.sample(at, &groups);
                        (s, m)
                    })
                    .await
                    {
                        Ok((s, m)) => {
                            sampler = Some(s);
                            self.take_sample(m);
                        }
                        Err(e) => {
                            tracing::error!("the metrics sampler failed: {e}; host sampling stops");
                        }
                    }
                }
                _ = flush.tick() => {
                    if let Err(e) = self.flush().await {
                        tracing::warn!("cannot write metrics: {e}; will retry");
                    }
                }
                _ = prune.tick() => match self.prune(now_ms()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!("pruned {n} metric points past retention"),
                    Err(e) => tracing::warn!("cannot prune metrics: {e}"),
                },
            }
        }
        lock(&self.recorder).close();
        if let Err(e) = self.flush().await {
            tracing::warn!("cannot write the last metrics: {e}");
        }
    }
}

fn grid_end(grid: &history::Grid) -> i64 {
    grid.start_ms + i64::try_from(grid.step_ms).unwrap_or(i64::MAX) * grid.steps as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000;
    const H: u64 = 3_600_000;

    fn tiers() -> Vec<Tier> {
        vec![
            Tier {
                step_ms: 1_000,
                keep_ms: H,
            },
            Tier {
                step_ms: 10_000,
                keep_ms: 24 * H,
            },
            Tier {
                step_ms: 300_000,
                keep_ms: 30 * 24 * H,
            },
        ]
    }

    fn metrics() -> Metrics {
        Metrics::new(
            Store::open_in_memory().unwrap(),
            tiers(),
            Duration::from_secs(1),
            Duration::from_secs(10),
        )
    }

    fn v(name: &str, value: f64) -> Vec<(String, f64)> {
        vec![(name.to_owned(), value)]
    }

    #[tokio::test]
    async fn samples_become_history_in_every_tier_and_survive_a_flush() {
        let m = metrics();
        let t0: i64 = 1_700_000_000_000 - 1_700_000_000_000 % 300_000;
        // 20 minutes of one sample a second; the value is the minute it was taken in.
        for s in 0..1_200 {
            m.record(t0 + s * S, &v("cpu", (s / 60) as f64));
        }
        let now = t0 + 1_200 * S;
        // Before any write, queries read the pending points.
        let minute = m
            .history(vec!["cpu".into()], 60_000, 1_000, now - 1)
            .await
            .unwrap();
        assert_eq!(minute[0].resolution_ms, 1_000);
        assert_eq!(minute[0].values.len(), 60);
        assert!(minute[0].values.iter().all(|v| *v == Some(19.0)));

        let written = m.flush().await.unwrap();
        // 1200 raw points, 119 closed 10 s steps, 3 closed 5 min steps.
        assert_eq!(written, 1_200 + 119 + 3);

        // 20 minutes in 10 s steps comes from tier 1, all in the store now.
        let h = m
            .history(vec!["cpu".into()], 20 * 60_000, 10_000, now - 1)
            .await
            .unwrap();
        assert_eq!(h[0].resolution_ms, 10_000);
        assert_eq!(h[0].step_ms, 10_000);
        let values = &h[0].values;
        assert_eq!(values.len(), 120);
        assert_eq!(values[0], Some(0.0));
        assert_eq!(values[6], Some(1.0));
        // The last step is still open: a gap until it closes.
        assert_eq!(values[119], None);

        // A week asked: only tier 2 has it; the minutes before t0 are gaps.
        let week = m
            .history(
                vec!["cpu".into(), "nope".into()],
                7 * 24 * H,
                300_000,
                now - 1,
            )
            .await
            .unwrap();
        assert_eq!(week[0].resolution_ms, 300_000);
        let filled: Vec<f64> = week[0].values.iter().flatten().copied().collect();
        assert_eq!(filled, [2.0, 7.0, 12.0]);
        assert!(week[1].values.iter().all(Option::is_none));
    }

    #[tokio::test]
    async fn a_gap_in_sampling_stays_a_gap() {
        let m = metrics();
        let t0: i64 = 1_800_000_000_000;
        for s in 0..10 {
            m.record(t0 + s * S, &v("cpu", 1.0));
        }
        // The daemon was down for 30 s.
        for s in 40..60 {
            m.record(t0 + s * S, &v("cpu", 2.0));
        }
        m.flush().await.unwrap();
        let h = m
            .history(vec!["cpu".into()], 60_000, 1_000, t0 + 59_999)
            .await
            .unwrap();
        let values = &h[0].values;
        assert_eq!(h[0].start_ms, t0);
        assert_eq!(values[..10], [Some(1.0); 10]);
        assert!(values[10..40].iter().all(Option::is_none));
        assert_eq!(values[40..], [Some(2.0); 20]);
    }

    #[tokio::test]
    async fn retention_drops_each_tier_at_its_own_age() {
        let m = metrics();
        let t0: i64 = 1_700_000_000_000 - 1_700_000_000_000 % 300_000;
        for s in 0..700 {
            m.record(t0 + s * S, &v("cpu", 1.0));
        }
        m.flush().await.unwrap();
        let count = |tier: u8| {
            let store = m.store.clone();
            async move {
                store
                    .call(move |c| Ok(rows::range(c, "cpu", tier, 0, i64::MAX)?.len()))
                    .await
                    .unwrap()
            }
        };
        assert_eq!(
            (count(0).await, count(1).await, count(2).await),
            (700, 69, 2)
        );
        // Two hours later, raw samples (kept 1 h) are gone; the rest is kept.
        m.prune(t0 + 2 * H as i64).await.unwrap();
        assert_eq!((count(0).await, count(1).await, count(2).await), (0, 69, 2));
        // Two days later, the 10 s tier is gone too.
        m.prune(t0 + 48 * H as i64).await.unwrap();
        assert_eq!((count(1).await, count(2).await), (0, 2));
        // After 31 days, nothing.
        m.prune(t0 + 31 * 24 * H as i64).await.unwrap();
        assert_eq!(count(2).await, 0);
    }

    #[tokio::test]
    async fn closing_keeps_the_open_steps() {
        let mut r = Recorder::new(tiers());
        r.record(0, &v("cpu", 4.0));
        r.record(1_000, &v("cpu", 6.0));
        assert_eq!(r.take_pending().len(), 2);
        r.close();
        let closed = r.take_pending();
        assert_eq!(closed.len(), 2, "{closed:?}");
        assert!(closed.iter().all(|p| p.value == 5.0 && p.at_ms == 0));
    }
}
