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
        let fits = CORES.with_borrow(|c| {
            p.as_ref()
                .is_some_and(|q| q.pool.threads() == n && q.cores == pool_cores(c, n))
        });
        if !fits {
            *p = None;
            let cores = CORES.with_borrow(|c| pool_cores(c, n).to_vec());
            *p = pinned_pool(n, &cores).map(|pool| Pooled { pool, cores });
        }
        match p {
            Some(q) => f(&q.pool),
            None => f(&Serial),
        }
    })
}

/// Pins the pools this thread makes from now on: worker i to `cores[i]`
/// (the caller, thread 0, is expected on `cores[0]`: its affinity is the
/// SUT's to set and restore). Empty, or fewer cores than a pool's threads:
/// workers are not pinned. Set outside the timed path (the SUT sets it for
/// its SingleStream thread when it loads the model).
///
/// Why: pool tasks are handed out by owner (task i on thread i), so each
/// core keeps reading what it wrote in the operator before; with the threads
/// left to float over the same cores, two of them were sometimes placed on
/// one core, and SingleStream p50 on two threads came out bimodal from run
/// to run (MobileNetV2 fp32 .onnx: 2.1 or 2.7 ms against 3.9 ms on one
/// thread; pinning only the worker did not stop it).
pub fn pin_pools_to(cores: &[u32]) {
    CORES.with_borrow_mut(|c| {
        c.clear();
        c.extend_from_slice(cores);
    });
}

fn pool_cores(cores: &[u32], n: usize) -> &[u32] {
    if cores.len() >= n { &cores[..n] } else { &[] }
}

struct Pooled {
    pool: SpinPool,
    cores: Vec<u32>,
}

thread_local! {
    static POOL: RefCell<Option<Pooled>> = const { RefCell::new(None) };
    static CORES: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

/// A pool of `n` threads, worker i pinned to `cores[i]` when `cores` names
/// one core per thread.
fn pinned_pool(n: usize, cores: &[u32]) -> Option<SpinPool> {
    if cores.len() < n {
        return SpinPool::new(n).ok();
    }
    let cores = cores.to_vec();
    SpinPool::with_start(n, move |i| {
        // Best effort: a core refused here only costs placement, not results.
        let _ = affinity::pin_current(&cores[i..=i]);
    })
    .ok()
}
