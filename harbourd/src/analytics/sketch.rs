//! Task-time distributions of stage attempts, kept as tasks are written, so that a query
//! reads five numbers per stage instead of sorting its tasks.
//!
//! A distribution is a histogram of successful attempts' durations (ms) with buckets that
//! are exact below 1,024 ms (one bucket per millisecond) and, above, split each power of
//! two into 512 equal buckets (HDR-histogram style: 3 significant digits). Counts only
//! add, so merging batches gives the same histogram in any order, and a task counts once
//! because only new task rows are added (the same rule as the stage counters).
//!
//! How exact the figures are: min and max are exact (kept beside the histogram); the 25th,
//! 50th and 75th percentiles (nearest rank) are exact when the value is below 1,024 ms,
//! and otherwise the middle of a bucket at most 1/512 of the value wide: within 0.1%
//! (e.g. a 60 s median is right to ±32 ms).
//!
//! Stored as a BLOB of (bucket, count) pairs, each a little-endian u32, in bucket order.

/// Values below this have a bucket each.
const EXACT: u64 = 1024;
/// log2 of the buckets each power of two above [`EXACT`] is split into.
const SUB_BITS: u32 = 9;
const SUB: u32 = 1 << SUB_BITS;

/// The bucket of a duration; negative durations (clock skew) count as 0.
pub fn bucket(ms: i64) -> u32 {
    let v = u64::try_from(ms).unwrap_or(0);
    if v < EXACT {
        return v as u32;
    }
    let e = 63 - v.leading_zeros();
    let shift = e - SUB_BITS;
    let m = (v >> shift) as u32;
    EXACT as u32 + (e - 10) * SUB + (m - SUB)
}

/// The lowest and highest duration of a bucket.
pub fn bounds(b: u32) -> (i64, i64) {
    if u64::from(b) < EXACT {
        return (i64::from(b), i64::from(b));
    }
    let k = b - EXACT as u32;
    let e = 10 + k / SUB;
    let m = u64::from(SUB + k % SUB);
    let shift = e - SUB_BITS;
    let lo = i64::try_from(m << shift).unwrap_or(i64::MAX);
    let hi = i64::try_from(((m + 1) << shift) - 1).unwrap_or(i64::MAX);
    (lo, hi)
}

/// A histogram: (bucket, count), sorted by bucket, counts > 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hist(Vec<(u32, u32)>);

impl Hist {
    /// Decodes a stored histogram; `None` when the bytes are not one.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if !bytes.len().is_multiple_of(8) {
            return None;
        }
        let mut out = Vec::with_capacity(bytes.len() / 8);
        for pair in bytes.chunks_exact(8) {
            let b = u32::from_le_bytes([pair[0], pair[1], pair[2], pair[3]]);
            let n = u32::from_le_bytes([pair[4], pair[5], pair[6], pair[7]]);
            if out.last().is_some_and(|&(last, _)| last >= b) || n == 0 || b > bucket(i64::MAX) {
                return None;
            }
            out.push((b, n));
        }
        Some(Self(out))
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() * 8);
        for (b, n) in &self.0 {
            out.extend_from_slice(&b.to_le_bytes());
            out.extend_from_slice(&n.to_le_bytes());
        }
        out
    }

    /// Adds durations (any order).
    pub fn add(&mut self, durations: &[i64]) {
        if durations.is_empty() {
            return;
        }
        let mut new: Vec<u32> = durations.iter().map(|&d| bucket(d)).collect();
        new.sort_unstable();
        let mut merged = Vec::with_capacity(self.0.len() + new.len().min(64));
        let mut old = self.0.iter().copied().peekable();
        let mut i = 0;
        while i < new.len() {
            let b = new[i];
            let run = new[i..].iter().take_while(|&&x| x == b).count();
            i += run;
            while let Some(&(ob, on)) = old.peek()
                && ob < b
            {
                merged.push((ob, on));
                old.next();
            }
            let n = u32::try_from(run).unwrap_or(u32::MAX);
            match old.peek() {
                Some(&(ob, on)) if ob == b => {
                    merged.push((b, on.saturating_add(n)));
                    old.next();
                }
                _ => merged.push((b, n)),
            }
        }
        merged.extend(old);
        self.0 = merged;
    }

    pub fn count(&self) -> u64 {
        self.0.iter().map(|&(_, n)| u64::from(n)).sum()
    }

    /// min, 25th, median, 75th, max, with the exact `min` and `max` kept beside the
    /// histogram; `None` when empty. Nearest rank: the value at `round((n - 1) * p)` of the
    /// sorted durations (here, the middle of its bucket).
    pub fn quantiles(&self, min: i64, max: i64) -> Option<[i64; 5]> {
        let n = self.count();
        let last = n.checked_sub(1)?;
        let at = |p: f64| {
            let rank = ((last as f64) * p).round() as u64;
            let mut seen = 0u64;
            for &(b, c) in &self.0 {
                seen += u64::from(c);
                if seen > rank {
                    let (lo, hi) = bounds(b);
                    return (lo + (hi - lo) / 2).clamp(min, max);
                }
            }
            max
        };
        Some([min, at(0.25), at(0.5), at(0.75), max])
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The exact figures: min, 25th, median, 75th, max of sorted values, nearest rank (the
    /// value at `round((n - 1) * p)`).
    fn quantiles(sorted: &[i64]) -> Option<[i64; 5]> {
        let last = sorted.len().checked_sub(1)?;
        let at = |p: f64| sorted[((last as f64) * p).round() as usize];
        Some([sorted[0], at(0.25), at(0.5), at(0.75), sorted[last]])
    }

    #[test]
    fn buckets_are_exact_below_1024_and_tight_above() {
        for v in 0..1024 {
            assert_eq!(bounds(bucket(v)), (v, v));
        }
        let mut last = 1023;
        for b in 1024..(1024 + 40 * SUB) {
            let (lo, hi) = bounds(b);
            assert_eq!(lo, last + 1, "buckets are contiguous");
            assert!(hi >= lo);
            assert!(
                (hi - lo) as f64 <= lo as f64 / 512.0,
                "bucket {b}: {lo}..{hi}"
            );
            assert_eq!(bucket(lo), b);
            assert_eq!(bucket(hi), b);
            last = hi;
        }
        assert_eq!(bucket(-5), 0);
        // The last bucket ends at the largest duration there is.
        let (lo, hi) = bounds(bucket(i64::MAX));
        assert_eq!(hi, i64::MAX);
        assert!(lo < hi);
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        assert_eq!(quantiles(&[]), None);
        assert_eq!(quantiles(&[5]), Some([5, 5, 5, 5, 5]));
        assert_eq!(quantiles(&[1, 2, 3, 4, 100]), Some([1, 2, 3, 4, 100]));
    }

    #[test]
    fn decode_rejects_what_encode_does_not_make() {
        assert_eq!(Hist::decode(&[1, 2, 3]), None);
        let mut h = Hist::default();
        h.add(&[3, 1, 3, 5000]);
        assert_eq!(Hist::decode(&h.encode()), Some(h.clone()));
        let mut unsorted = h.encode();
        unsorted.rotate_left(8);
        assert_eq!(Hist::decode(&unsorted), None);
    }

    proptest! {
        #[test]
        fn the_histogram_agrees_with_sorting(
            values in proptest::collection::vec(0i64..200_000, 1..300),
            split in 0usize..300,
        ) {
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let exact = quantiles(&sorted).unwrap();
            // Added in two batches, in either order: the same histogram.
            let split = split.min(values.len());
            let (a, b) = values.split_at(split);
            let mut h1 = Hist::default();
            h1.add(a);
            h1.add(b);
            let mut h2 = Hist::default();
            h2.add(b);
            h2.add(a);
            prop_assert_eq!(&h1, &h2);
            prop_assert_eq!(h1.count(), values.len() as u64);
            let q = h1.quantiles(exact[0], exact[4]).unwrap();
            for (got, want) in q.iter().zip(exact) {
                if want < 1024 {
                    prop_assert_eq!(*got, want);
                } else {
                    prop_assert!((got - want).abs() as f64 <= want as f64 / 1024.0,
                        "{} vs {}", got, want);
                }
            }
        }
    }
}
