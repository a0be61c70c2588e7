//! Metric history as pure functions over time-stamped points: rolling samples up into coarser
//! tiers, choosing which tier answers a query, and averaging points into a window's steps with
//! explicit gaps. Nothing here reads a clock or a database, so tests drive time by hand.
//!
//! The shape follows bottom's `time_series`: columns of values, `None` where nothing was
//! recorded, pruning by age. Tiers are like an RRD's: tier 0 holds every sample, each further
//! tier the mean of a fixed step, each kept for its own retention.

use serde::{Deserialize, Serialize};

/// One resolution of stored history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Milliseconds one point covers (tier 0: the sampling interval).
    pub step_ms: u64,
    /// How long points of this tier are kept.
    pub keep_ms: u64,
}

/// Averages the samples of one series into consecutive buckets of `step_ms`, aligned to
/// multiples of the step. A bucket is finished when a sample lands in a later one; a bucket
/// with no samples (the daemon was down) is simply never emitted: a gap.
#[derive(Debug, Clone)]
pub struct Rollup {
    step_ms: i64,
    bucket: Option<i64>,
    sum: f64,
    count: u32,
}

impl Rollup {
    pub fn new(step_ms: u64) -> Self {
        Self {
            step_ms: i64::try_from(step_ms.max(1)).unwrap_or(i64::MAX),
            bucket: None,
            sum: 0.0,
            count: 0,
        }
    }

    fn bucket_of(&self, at_ms: i64) -> i64 {
        at_ms - at_ms.rem_euclid(self.step_ms)
    }

    /// Adds a sample; returns the previous bucket's (start, mean) when this sample closes it.
    /// Samples older than the open bucket are ignored (the clock went back).
    pub fn push(&mut self, at_ms: i64, value: f64) -> Option<(i64, f64)> {
        let bucket = self.bucket_of(at_ms);
        match self.bucket {
            Some(open) if bucket == open => {
                self.sum += value;
                self.count += 1;
                None
            }
            Some(open) if bucket < open => None,
            _ => {
                let done = self.take();
                self.bucket = Some(bucket);
                self.sum = value;
                self.count = 1;
                done
            }
        }
    }

    /// The open bucket's (start, mean) so far, closing it (on shutdown).
    pub fn take(&mut self) -> Option<(i64, f64)> {
        let bucket = self.bucket.take()?;
        let count = std::mem::take(&mut self.count);
        let sum = std::mem::take(&mut self.sum);
        (count > 0).then(|| (bucket, sum / f64::from(count)))
    }
}

/// Which tier answers a query for the last `window_ms` in steps of `step_ms`: the coarsest
/// tier that still has the whole window and is at least as fine as the step (fewest rows to
/// read); else the finest tier that has the whole window; else the one kept longest.
pub fn choose_tier(tiers: &[Tier], window_ms: u64, step_ms: u64) -> usize {
    let step_ms = wanted_step(window_ms, step_ms);
    let covering = |t: &Tier| t.keep_ms >= window_ms;
    if let Some((i, _)) = tiers
        .iter()
        .enumerate()
        .filter(|(_, t)| covering(t) && t.step_ms <= step_ms)
        .max_by_key(|(_, t)| t.step_ms)
    {
        return i;
    }
    if let Some((i, _)) = tiers
        .iter()
        .enumerate()
        .filter(|(_, t)| covering(t))
        .min_by_key(|(_, t)| t.step_ms)
    {
        return i;
    }
    tiers
        .iter()
        .enumerate()
        .max_by_key(|(_, t)| t.keep_ms)
        .map_or(0, |(i, _)| i)
}

/// How a window is cut into steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    pub start_ms: i64,
    pub step_ms: u64,
    pub steps: usize,
}

/// The most steps one answer holds, so a silly request cannot make a huge answer.
pub const MAX_STEPS: u64 = 10_000;

/// The step asked for, with 0 meaning "about 300 steps".
fn wanted_step(window_ms: u64, step_ms: u64) -> u64 {
    if step_ms == 0 {
        window_ms / 300
    } else {
        step_ms
    }
}

/// The steps for the window ending at `now_ms`: `step_ms` (0: about 300 steps), never finer
/// than the data (`resolution_ms`) nor more than [`MAX_STEPS`]. Steps are aligned to
/// multiples of the step, so successive answers line up.
pub fn grid(now_ms: i64, window_ms: u64, step_ms: u64, resolution_ms: u64) -> Grid {
    let wanted = wanted_step(window_ms, step_ms);
    let resolution = resolution_ms.max(1);
    // A whole number of the data's steps, so each step averages the same count of points.
    let step = wanted
        .max(window_ms.div_ceil(MAX_STEPS))
        .div_ceil(resolution)
        .max(1)
        * resolution;
    let step_i = i64::try_from(step).unwrap_or(i64::MAX);
    let end = now_ms - now_ms.rem_euclid(step_i) + step_i;
    let steps = usize::try_from(window_ms.div_ceil(step).max(1)).unwrap_or(1);
    let start = end - step_i * steps as i64;
    Grid {
        start_ms: start,
        step_ms: step,
        steps,
    }
}

/// The mean of `points` (time-ordered or not) in each step of `grid`; `None` for a step
/// without points. Points outside the grid are ignored.
pub fn bucket(points: impl IntoIterator<Item = (i64, f64)>, grid: Grid) -> Vec<Option<f64>> {
    let mut sums = vec![(0.0_f64, 0_u32); grid.steps];
    let step = i64::try_from(grid.step_ms).unwrap_or(i64::MAX);
    for (at, value) in points {
        if at < grid.start_ms {
            continue;
        }
        let Ok(i) = usize::try_from((at - grid.start_ms) / step) else {
            continue;
        };
        if let Some(slot) = sums.get_mut(i) {
            slot.0 += value;
            slot.1 += 1;
        }
    }
    sums.into_iter()
        .map(|(sum, n)| (n > 0).then(|| sum / f64::from(n)))
        .collect()
}

/// Points of a tier older than this are deleted.
pub fn cutoff(tier: &Tier, now_ms: i64) -> i64 {
    now_ms.saturating_sub(i64::try_from(tier.keep_ms).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_rollup_emits_the_mean_of_each_bucket_when_the_next_begins() {
        let mut r = Rollup::new(10_000);
        assert_eq!(r.push(100_000, 1.0), None);
        assert_eq!(r.push(105_000, 3.0), None);
        assert_eq!(r.push(109_999, 5.0), None);
        assert_eq!(r.push(110_000, 7.0), Some((100_000, 3.0)));
        // A gap of several buckets emits only the one that had samples.
        assert_eq!(r.push(150_500, 1.0), Some((110_000, 7.0)));
        // The clock going back does not reopen a closed bucket.
        assert_eq!(r.push(120_000, 100.0), None);
        assert_eq!(r.take(), Some((150_000, 1.0)));
        assert_eq!(r.take(), None);
    }

    #[test]
    fn the_tier_is_the_cheapest_that_answers() {
        let t = tiers();
        // A minute at 1 s steps: raw samples.
        assert_eq!(choose_tier(&t, 60_000, 1_000), 0);
        // An hour in 300 steps of 12 s: the 10 s tier has it all and is fine enough.
        assert_eq!(choose_tier(&t, H, 12_000), 1);
        // An hour at 1 s: raw.
        assert_eq!(choose_tier(&t, H, 1_000), 0);
        // A day in 300 steps (288 s): the 10 s tier; the 5 min tier is too coarse.
        assert_eq!(choose_tier(&t, 24 * H, 288_000), 1);
        // Step 0 means about 300 steps: the same choice.
        assert_eq!(choose_tier(&t, 24 * H, 0), 1);
        assert_eq!(choose_tier(&t, H, 0), 1);
        assert_eq!(choose_tier(&t, 60_000, 0), 0);
        // A week: only the 5 min tier has it, however fine the step asked.
        assert_eq!(choose_tier(&t, 7 * 24 * H, 1_000), 2);
        // Longer than anything is kept: the longest kept.
        assert_eq!(choose_tier(&t, 365 * 24 * H, 1_000), 2);
    }

    #[test]
    fn a_grid_is_aligned_and_never_finer_than_the_data() {
        let g = grid(1_000_500, 60_000, 0, 1_000);
        assert_eq!(g.step_ms, 1_000); // 60 s / 300 = 200 ms, but data is 1 s
        assert_eq!(g.steps, 60);
        assert_eq!(g.start_ms, 1_001_000 - 60_000);
        let g = grid(1_000_500, 60_000, 10_000, 1_000);
        assert_eq!((g.step_ms, g.steps), (10_000, 6));
        assert_eq!(g.start_ms % 10_000, 0);
        // Steps are whole multiples of the data's resolution.
        assert_eq!(grid(0, 7 * 24 * H, 0, 300_000).step_ms, 2_100_000);
        // A silly step count is capped.
        let g = grid(0, 30 * 24 * H, 1, 1);
        assert!(g.steps as u64 <= MAX_STEPS);
    }

    #[test]
    fn buckets_average_and_keep_gaps() {
        let g = Grid {
            start_ms: 0,
            step_ms: 10,
            steps: 4,
        };
        let values = bucket([(0, 1.0), (5, 3.0), (25, 8.0), (39, 4.0), (40, 99.0)], g);
        assert_eq!(values, [Some(2.0), None, Some(8.0), Some(4.0)]);
    }

    #[test]
    fn cutoff_is_now_minus_retention() {
        assert_eq!(cutoff(&tiers()[0], 10 * H as i64), 9 * H as i64);
    }
}
