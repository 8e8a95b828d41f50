//! Untimed warm-up before a scenario: a number of queries or a duration, on the
//! loaded samples in load order. Nothing here reaches the statistics.

use std::sync::atomic::Ordering;

use super::{Clock, Control};
use crate::plan::WarmUp;
use crate::sut::{Sut, SutError};

/// What the warm-up did (recorded, never part of the metric).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WarmUpDone {
    pub queries: u64,
    pub ns: u64,
}

/// Runs the warm-up; stops early on `Control::abort`.
pub fn warm_up(
    sut: &mut dyn Sut,
    how: WarmUp,
    loaded: &[usize],
    clock: &dyn Clock,
    control: &Control,
) -> Result<WarmUpDone, SutError> {
    let start = clock.now_ns();
    let mut queries = 0u64;
    if loaded.is_empty() {
        return Ok(WarmUpDone::default());
    }
    loop {
        let more = match how {
            WarmUp::Queries(n) => queries < n,
            WarmUp::DurationNs(d) => clock.now_ns().saturating_sub(start) < d,
        };
        if !more || control.abort.load(Ordering::Relaxed) {
            break;
        }
        sut.warm_up(loaded[(queries % loaded.len() as u64) as usize])?;
        queries += 1;
    }
    Ok(WarmUpDone {
        queries,
        ns: clock.now_ns().saturating_sub(start),
    })
}
