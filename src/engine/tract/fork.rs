//! The kernels' [`Fork`] for the ops edgemark swaps into tract's plan (f32
//! and int8 alike), sized by tract's intra-op executor for the run.

use std::cell::RefCell;

use tract_linalg::multithread::{Executor, current_tract_executor};

use super::affinity;
use crate::engine::kernels_f32::pool::SpinPool;
use crate::engine::kernels_f32::{Fork, Serial};

/// Runs `f` with the kernels' [`Fork`] for tract's intra-op executor (the
/// plan installs it for the run): one thread for a single-thread executor,
/// else edgemark's spinning pool with as many threads, the calling thread
/// among them. The pool is made on first use and kept per calling thread
/// (a runner's inferences all come from one thread), so forking in the timed
/// path neither allocates nor starts threads.
pub fn with_fork<R>(f: impl FnOnce(&dyn Fork) -> R) -> R {
    let n = match current_tract_executor() {
        Executor::MultiThread(pool) => pool.current_num_threads(),
        _ => 1,
    };
    if n <= 1 {
        return f(&Serial);
    }
    POOL.with_borrow_mut(|p| {
        if p.as_ref().map(|p| p.threads()) != Some(n) {
            *p = None;
            *p = pinned_pool(n);
        }
        match p {
            Some(pool) => f(pool),
            None => f(&Serial),
        }
    })
}

thread_local! {
    static POOL: RefCell<Option<SpinPool>> = const { RefCell::new(None) };
}

/// A pool of `n` threads, each pinned to its own core when the calling
/// thread may run on at least `n` cores: the caller to the first of them,
/// worker i to the i-th. Pool tasks are handed out by owner (task i on
/// thread i), so each core keeps reading what it wrote; two threads left to
/// float over the same two cores were sometimes placed on one of them, and
/// SingleStream p50 on two threads came out bimodal from run to run
/// (MobileNetV2 fp32 .tflite: 1.9 or 2.5 ms against 3.7 ms on one thread).
/// Runs once per pool, at the first inference (a warm-up query).
fn pinned_pool(n: usize) -> Option<SpinPool> {
    let cpus: Vec<u32> = affinity::current()
        .map(|set| {
            (0..nix::sched::CpuSet::count())
                .filter(|&c| set.is_set(c).unwrap_or(false))
                .map(|c| c as u32)
                .collect()
        })
        .unwrap_or_default();
    if cpus.len() < n {
        return SpinPool::new(n).ok();
    }
    // Best effort: a core refused here only costs placement, not results.
    let _ = affinity::pin_current(&cpus[..1]);
    let worker_cpus = cpus.clone();
    SpinPool::with_start(n, move |i| {
        let _ = affinity::pin_current(&worker_cpus[i..=i]);
    })
    .ok()
}
