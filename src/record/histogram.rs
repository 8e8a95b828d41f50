//! The arithmetic of [`LatencyHistogram`]: HdrHistogram's log-linear bucket
//! layout (own code, no dependency), built once from the stored latencies
//! after the timed run, never inside it.
//!
//! With `p = precision_bits` and `S = 2^p`: a value `v < S` is its own bucket
//! (index `v`, width 1 ns). Above, with `k` the position of `v`'s highest set
//! bit and `shift = k - p`, the index is `(shift + 1) * S + (v >> shift) - S`:
//! each power of two `[2^k, 2^(k+1))` is `S` buckets of width `2^shift`. A
//! bucket's width is at most `1/S` of its lower edge, so reporting its
//! midpoint is off by at most `1/(2S)` of the value (p = 7: 0.39 %).

use super::schema::LatencyHistogram;

/// Written precision: 128 buckets per power of two (<= 0.39 % error at the
/// midpoint, ~0.8 % if the bucket's edges are used).
pub const PRECISION_BITS: u8 = 7;
/// Lowest precision `fit` goes to (16 buckets per power of two: 3.1 %); only
/// a distribution spread over many powers of two ever needs it.
pub const MIN_PRECISION_BITS: u8 = 4;
/// Encoded size the histogram of a record aims to stay under.
pub const BYTE_BUDGET: usize = 2048;

/// Bucket index of `v` at precision `p`.
pub fn index_of(v: u64, p: u8) -> u32 {
    let s = 1u64 << p;
    if v < s {
        return v as u32;
    }
    let k = 63 - v.leading_zeros() as u64;
    let shift = k - u64::from(p);
    ((shift + 1) * s + (v >> shift) - s) as u32
}

/// The values of bucket `i` at precision `p`: `[lo, hi]` inclusive. Indices
/// past `u64::MAX`'s bucket (only in a damaged record) give `u64::MAX`.
pub fn bounds(i: u32, p: u8) -> (u64, u64) {
    let p = p.min(63);
    let s = 1u64 << p;
    let i = u64::from(i);
    if i < s {
        return (i, i);
    }
    let shift = i / s - 1;
    if shift > 63 - u64::from(p) {
        return (u64::MAX, u64::MAX);
    }
    // sub < 2^(p+1) and shift <= 63 - p: the shift cannot overflow.
    let sub = i % s + s;
    // The last bucket's upper edge is u64::MAX (saturating, no overflow).
    let lo = sub << shift;
    let hi = lo.saturating_add((1u64 << shift) - 1);
    (lo, hi)
}

/// The value that stands for bucket `i`: its midpoint.
pub fn midpoint(i: u32, p: u8) -> u64 {
    let (lo, hi) = bounds(i, p);
    lo + (hi - lo) / 2
}

impl LatencyHistogram {
    /// The histogram of `latencies_ns` at full precision, then coarsened
    /// until it fits [`BYTE_BUDGET`] (see [`LatencyHistogram::fit`]).
    pub fn from_latencies(latencies_ns: &[u64]) -> LatencyHistogram {
        let mut idx: Vec<u32> = latencies_ns
            .iter()
            .map(|&v| index_of(v, PRECISION_BITS))
            .collect();
        idx.sort_unstable();
        let mut buckets: Vec<(u32, u64)> = Vec::new();
        let mut prev = 0u32;
        let mut run: Option<(u32, u64)> = None;
        for i in idx {
            match &mut run {
                Some((cur, n)) if *cur == i => *n += 1,
                _ => {
                    if let Some((cur, n)) = run {
                        buckets.push((cur - prev, n));
                        prev = cur;
                    }
                    run = Some((i, 1));
                }
            }
        }
        if let Some((cur, n)) = run {
            buckets.push((cur - prev, n));
        }
        let h = LatencyHistogram {
            precision_bits: PRECISION_BITS,
            buckets,
        };
        h.fit(BYTE_BUDGET)
    }

    /// Non-empty buckets as (absolute index, count), ascending.
    pub fn absolute(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        let mut at = 0u32;
        self.buckets.iter().map(move |&(gap, n)| {
            at = at.wrapping_add(gap);
            (at, n)
        })
    }

    /// Non-empty buckets as (lowest value, highest value, count), ascending.
    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
        let p = self.precision_bits;
        self.absolute().map(move |(i, n)| {
            let (lo, hi) = bounds(i, p);
            (lo, hi, n)
        })
    }

    /// Number of latencies counted.
    pub fn total(&self) -> u64 {
        // Saturating: a damaged record must not overflow (and panic) here.
        self.buckets
            .iter()
            .fold(0u64, |acc, &(_, n)| acc.saturating_add(n))
    }

    /// Upper bound of the relative error of [`LatencyHistogram::quantile`]
    /// (midpoints): `2^-(precision_bits + 1)`.
    pub fn relative_error(&self) -> f64 {
        0.5f64.powi(i32::from(self.precision_bits.min(63)) + 1)
    }

    /// The `q`-quantile (0..=1) by LoadGen's rule (the value at sorted index
    /// `floor(q * n)`, clamped), as its bucket's midpoint; None when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let n = self.total();
        if n == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64) as u64).min(n - 1);
        let p = self.precision_bits;
        let mut seen = 0u64;
        for (i, c) in self.absolute() {
            seen = seen.saturating_add(c);
            if seen > rank {
                return Some(midpoint(i, p));
            }
        }
        None
    }

    /// `n` values spread over the distribution: the quantiles at
    /// `(j + 0.5) / n` for j in 0..n (bucket midpoints). Their empirical
    /// distribution is the histogram's, so percentiles taken over them agree
    /// with the histogram's to within one bucket.
    pub fn spread(&self, n: usize) -> Vec<u64> {
        let total = self.total();
        if total == 0 || n == 0 {
            return Vec::new();
        }
        let p = self.precision_bits;
        let mut out = Vec::with_capacity(n);
        let mut it = self.absolute();
        let (mut idx, mut cum) = match it.next() {
            Some((i, c)) => (i, c),
            None => return out,
        };
        for j in 0..n {
            let rank = (((j as f64 + 0.5) / n as f64) * total as f64) as u64;
            while cum <= rank {
                match it.next() {
                    Some((i, c)) => {
                        idx = i;
                        cum = cum.saturating_add(c);
                    }
                    None => break,
                }
            }
            out.push(midpoint(idx, p));
        }
        out
    }

    /// The same counts at one bit less precision (pairs of buckets merged).
    fn coarser(&self) -> LatencyHistogram {
        let p = self.precision_bits;
        let q = p - 1;
        let mut merged: Vec<(u32, u64)> = Vec::new();
        for (i, n) in self.absolute() {
            // Map through a value of the bucket: every value of a fine bucket
            // lands in the same coarse bucket (coarse edges are fine edges).
            let j = index_of(bounds(i, p).0, q);
            match merged.last_mut() {
                Some((last, c)) if *last == j => *c += n,
                _ => merged.push((j, n)),
            }
        }
        let mut prev = 0u32;
        let buckets = merged
            .into_iter()
            .map(|(j, n)| {
                let gap = j - prev;
                prev = j;
                (gap, n)
            })
            .collect();
        LatencyHistogram {
            precision_bits: q,
            buckets,
        }
    }

    /// Coarsens until the postcard encoding is at most `max_bytes` (or the
    /// precision reaches [`MIN_PRECISION_BITS`]).
    pub fn fit(self, max_bytes: usize) -> LatencyHistogram {
        let mut h = self;
        while h.precision_bits > MIN_PRECISION_BITS && h.encoded_len() > max_bytes {
            h = h.coarser();
        }
        h
    }

    /// Bytes this histogram takes in a record.
    pub fn encoded_len(&self) -> usize {
        postcard::to_stdvec(self).map_or(usize::MAX, |v| v.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_and_bounds_agree_at_every_edge() {
        for p in [MIN_PRECISION_BITS, 6, PRECISION_BITS] {
            let mut last = None;
            for v in (0u64..5000).chain([u64::MAX - 1, u64::MAX, 1 << 40, (1 << 40) - 1]) {
                let i = index_of(v, p);
                let (lo, hi) = bounds(i, p);
                assert!(
                    lo <= v && v <= hi,
                    "p {p} v {v} in bucket {i} = [{lo}, {hi}]"
                );
                if v > 0 && v < 5000 {
                    // Indices rise by at most one per ns: no gaps, no overlap.
                    assert!(i == last.unwrap() || i == last.unwrap() + 1, "p {p} v {v}");
                }
                last = Some(i);
                // Width bound: at most 1/S of the lower edge.
                assert!((hi - lo) as f64 <= lo as f64 / f64::from(1u32 << p) + 1e-9);
            }
        }
    }

    #[test]
    fn quantiles_are_within_the_stated_error() {
        // A skewed distribution spanning 3 powers of two, plus outliers.
        let mut lat: Vec<u64> = (0..100_000u64)
            .map(|i| 900_000 + (i * 7919 % 100_000) * (i % 13 + 1))
            .collect();
        lat.extend([50_000_000, 1, 3]);
        let h = LatencyHistogram::from_latencies(&lat);
        assert_eq!(h.precision_bits, PRECISION_BITS);
        assert_eq!(h.total(), lat.len() as u64);
        let mut sorted = lat.clone();
        sorted.sort_unstable();
        for q in [0.0, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            let exact = sorted[((q * lat.len() as f64) as usize).min(lat.len() - 1)];
            let got = h.quantile(q).unwrap();
            let err = (got as f64 - exact as f64).abs() / exact as f64;
            assert!(
                err <= h.relative_error(),
                "q {q}: {got} vs exact {exact} ({err})"
            );
        }
        assert!(h.encoded_len() < BYTE_BUDGET, "{}", h.encoded_len());
    }

    #[test]
    fn spread_reproduces_the_median() {
        let lat: Vec<u64> = (0..600_000u64)
            .map(|i| 950_000 + (i * 2_654_435_761 % 60_000))
            .collect();
        let h = LatencyHistogram::from_latencies(&lat);
        let s = h.spread(1000);
        assert_eq!(s.len(), 1000);
        assert!(s.windows(2).all(|w| w[0] <= w[1]));
        let mut sorted = lat.clone();
        sorted.sort_unstable();
        let exact = sorted[lat.len() / 2] as f64;
        let med = (s[499] + s[500]) as f64 / 2.0;
        assert!((med - exact).abs() / exact < 0.01, "{med} vs {exact}");
    }

    #[test]
    fn a_wide_distribution_is_coarsened_to_fit() {
        // Every bucket from 1 µs to 1 s non-empty: far more than the budget.
        let lat: Vec<u64> = (0..400_000u64)
            .map(|i| 1_000 + (i * i) % 1_000_000_000)
            .collect();
        let fine = LatencyHistogram {
            precision_bits: PRECISION_BITS,
            ..LatencyHistogram::from_latencies(&[])
        };
        assert_eq!(fine.total(), 0);
        let h = LatencyHistogram::from_latencies(&lat);
        assert!(h.precision_bits < PRECISION_BITS, "{}", h.precision_bits);
        assert!(h.encoded_len() <= BYTE_BUDGET, "{}", h.encoded_len());
        assert_eq!(h.total(), lat.len() as u64);
        let mut sorted = lat.clone();
        sorted.sort_unstable();
        let exact = sorted[lat.len() / 2] as f64;
        let got = h.quantile(0.5).unwrap() as f64;
        assert!((got - exact).abs() / exact <= h.relative_error());
    }

    #[test]
    fn damaged_histograms_do_not_panic() {
        for p in [0u8, 1, 62, 63, 64, 200, 255] {
            let h = LatencyHistogram {
                precision_bits: p,
                buckets: vec![(u32::MAX, u64::MAX), (5, u64::MAX), (u32::MAX, 1)],
            };
            assert_eq!(h.total(), u64::MAX);
            let _ = h.quantile(0.5);
            let _ = h.spread(7);
            let _ = h.ranges().count();
            assert!(h.relative_error() > 0.0);
        }
    }

    #[test]
    fn empty_histogram_has_no_quantiles() {
        let h = LatencyHistogram::from_latencies(&[]);
        assert_eq!(h.quantile(0.5), None);
        assert!(h.spread(10).is_empty());
        assert_eq!(h.ranges().count(), 0);
    }
}
