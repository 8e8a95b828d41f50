//! Which samples LoadGen loads and in which order it issues them, from the seeds
//! alone. Computed before timing; the timed loops only read the results.

use crate::plan::LoadGenSettings;
use crate::rng::{Mt19937, shuffle, uniform};

/// LoadGen's `loaded_qsl_set`: `[0, min(P, total))` shuffled by the qsl rng.
pub fn loaded_set(settings: &LoadGenSettings) -> Vec<usize> {
    let n = settings
        .performance_sample_count
        .min(settings.total_sample_count) as usize;
    let mut set: Vec<usize> = (0..n).collect();
    let mut rng = Mt19937::new(settings.qsl_rng_seed);
    shuffle(&mut rng, &mut set);
    set
}

/// How many unused shuffles of `[0, P)` LoadGen draws from the sample-index rng
/// before the first SingleStream sample: one, plus one per started block of P
/// in min_query_count (just one when min_query_count is 0).
pub fn single_stream_skipped_shuffles(min_query_count: u64, p: u64) -> u64 {
    if min_query_count == 0 {
        1
    } else {
        1 + min_query_count.div_ceil(p)
    }
}

/// The first `count` SingleStream sample indices: `loaded[uniform(0, P-1)]` per
/// query, with replacement, after the skipped shuffles. Returned as u32 (QSL
/// indices fit) to halve the reserved store.
pub fn single_stream_order(settings: &LoadGenSettings, loaded: &[usize], count: usize) -> Vec<u32> {
    if loaded.is_empty() {
        return Vec::new();
    }
    let p = loaded.len() as u64;
    let mut rng = Mt19937::new(settings.sample_index_rng_seed);
    // Only the draws matter, not what is shuffled.
    let mut scratch: Vec<u32> = (0..p as u32).collect();
    for _ in 0..single_stream_skipped_shuffles(settings.min_query_count, p) {
        shuffle(&mut rng, &mut scratch);
    }
    let mut order = Vec::with_capacity(count);
    order.extend((0..count).map(|_| loaded[uniform(&mut rng, 0, p - 1) as usize] as u32));
    order
}

/// Offline's single query: the loaded set in its order, repeated and cut to
/// `samples` (no further randomness).
pub fn offline_order(loaded: &[usize], samples: usize) -> Vec<u32> {
    loaded
        .iter()
        .cycle()
        .take(if loaded.is_empty() { 0 } else { samples })
        .map(|&s| s as u32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_shuffles_per_started_block() {
        assert_eq!(single_stream_skipped_shuffles(0, 64), 1);
        assert_eq!(single_stream_skipped_shuffles(1, 64), 2);
        assert_eq!(single_stream_skipped_shuffles(64, 64), 2);
        assert_eq!(single_stream_skipped_shuffles(65, 64), 3);
        assert_eq!(single_stream_skipped_shuffles(200, 64), 5);
    }

    #[test]
    fn offline_order_repeats_and_cuts() {
        assert_eq!(offline_order(&[3, 1, 2], 7), vec![3, 1, 2, 3, 1, 2, 3]);
        assert_eq!(offline_order(&[3, 1, 2], 2), vec![3, 1]);
        assert!(offline_order(&[], 5).is_empty());
    }
}
