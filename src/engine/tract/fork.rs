//! The kernels' [`Fork`] for the ops edgemark swaps into tract's plan (f32
//! and int8 alike), sized by tract's intra-op executor for the run.

use std::cell::RefCell;

use tract_linalg::multithread::{Executor, current_tract_executor};

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
            *p = SpinPool::new(n).ok();
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
