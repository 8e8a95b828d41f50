//! A small persistent thread pool for the kernels' tasks: the calling thread
//! takes part, and the workers spin for a while between jobs before they
//! sleep, so handing out one convolution's halves costs about a cache-line
//! round trip instead of a futex wake-up per operator (rayon's `join` from
//! outside its pool costs tens of microseconds on a small box, which made
//! two threads slower than one on MobileNetV2).
//!
//! A job is published as a thin pointer to the caller's closure, its task
//! count and a generation; tasks are claimed with one compare-and-swap on a
//! word holding (generation, claimed tasks), so a worker that wakes late can
//! never run a task of a job that has already finished: `run` returns only
//! when every claimed task has completed.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Fork;

/// How long an idle worker spins before it sleeps: long enough to bridge the
/// gaps between the operators of one inference and between inferences.
const SPIN: Duration = Duration::from_millis(2);

/// Spinning threads (an idle worker, a caller waiting for the tasks workers
/// claimed) give their CPU away once every this many polls. When the box is
/// busy the scheduler may put the caller and a worker on one CPU: a pure
/// spinner then holds that CPU for a whole time slice while the thread it
/// waits for cannot run, and two threads took twice as long as one (p50
/// 27-36 ms against 16 ms under load 7 on 2 vCPUs). `sched_yield` with
/// nothing else runnable returns at once (well under a microsecond), so on
/// a quiet box the handoff stays a cache-line round trip.
const POLLS_PER_YIELD: u32 = 64;

/// One poll of a spin-wait: mostly a pause instruction, sometimes a yield.
#[inline]
fn relax(polls: &mut u32) {
    *polls = polls.wrapping_add(1);
    if polls.is_multiple_of(POLLS_PER_YIELD) {
        std::thread::yield_now();
    } else {
        std::hint::spin_loop();
    }
}

struct Shared {
    /// Generation (high 32 bits) and, low 32 bits, the claimed tasks (one
    /// bit each, jobs of up to [`OWNED_TASKS`]) or the next unclaimed task.
    state: AtomicU64,
    /// Task count of the current job.
    tasks: AtomicUsize,
    /// Address of a `&(dyn Fn(usize) + Sync)` on the caller's stack.
    job: AtomicUsize,
    done: AtomicUsize,
    /// A task panicked (the panic is caught so `run` still waits for every
    /// task, then raised again on the caller).
    panicked: AtomicBool,
    quit: AtomicBool,
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

/// `threads - 1` workers plus the caller.
pub struct SpinPool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// Serialises `run` calls (the pool runs one job at a time).
    busy: Mutex<()>,
}

fn gen_of(v: u64) -> u32 {
    (v >> 32) as u32
}

impl SpinPool {
    /// A pool running jobs on `threads` threads (the caller and
    /// `threads - 1` workers, which inherit the caller's CPU affinity).
    pub fn new(threads: usize) -> std::io::Result<SpinPool> {
        SpinPool::with_start(threads, |_| {})
    }

    /// [`SpinPool::new`], with `start(i)` run first on worker `i` (1 ..
    /// threads; the caller is thread 0), e.g. to pin each worker to its own
    /// core.
    pub fn with_start(
        threads: usize,
        start: impl Fn(usize) + Send + Sync + 'static,
    ) -> std::io::Result<SpinPool> {
        let start = Arc::new(start);
        let shared = Arc::new(Shared {
            state: AtomicU64::new(0),
            tasks: AtomicUsize::new(0),
            job: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            quit: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        });
        let mut workers = vec![];
        for i in 1..threads.max(1) {
            let s = shared.clone();
            let start = start.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("edgemark-k{i}"))
                .spawn(move || {
                    start(i);
                    worker(&s, i)
                });
            match spawned {
                Ok(h) => workers.push(h),
                Err(e) => {
                    let pool = SpinPool {
                        shared,
                        workers,
                        busy: Mutex::new(()),
                    };
                    drop(pool);
                    return Err(e);
                }
            }
        }
        Ok(SpinPool {
            shared,
            workers,
            busy: Mutex::new(()),
        })
    }
}

/// Largest task count whose tasks are handed out by owner (one bit each in
/// the state word); bigger jobs hand tasks out in order.
const OWNED_TASKS: usize = 32;

/// Claims and runs tasks of generation `g` until none is left. The low 32
/// bits of the state word are, for a job of at most [`OWNED_TASKS`] tasks,
/// the set of claimed tasks: each thread first takes its own task (`own`:
/// 0 for the caller, i for worker i), then any task still unclaimed. So
/// with every thread awake, task i always runs on the same thread, and the
/// kernels, which split every operator's pixels the same way (`split`),
/// read mostly what the same core wrote in the operator before. With the
/// tasks handed out in arrival order instead, whichever thread came first
/// took task 0, and the halves swapped cores from one operator to the next:
/// a 56x56x144 depthwise on two threads took 1.5x its one-thread time. A
/// late thread's task is still taken by whoever is free (no waiting for a
/// sleeping worker). Larger jobs: the low bits count the next task.
fn claim_and_run(s: &Shared, g: u32, own: usize, caller_job: Option<&(dyn Fn(usize) + Sync)>) {
    loop {
        let v = s.state.load(Acquire);
        if gen_of(v) != g {
            return;
        }
        let tasks = s.tasks.load(Acquire);
        let low = v & 0xffff_ffff;
        let (next, claimed) = if tasks <= OWNED_TASKS {
            let free = !low & ((1u64 << tasks) - 1);
            if free == 0 {
                return;
            }
            let i = if own < tasks && free & (1 << own) != 0 {
                own
            } else {
                free.trailing_zeros() as usize
            };
            (i, v | (1 << i))
        } else {
            let next = low as usize;
            if next >= tasks {
                return;
            }
            (next, v + 1)
        };
        // The generation is part of the word: a worker that read an old
        // job's state cannot claim a task of a newer one.
        if s.state
            .compare_exchange_weak(v, claimed, AcqRel, Relaxed)
            .is_err()
        {
            continue;
        }
        let f = match caller_job {
            Some(f) => f,
            None => unsafe { *(s.job.load(Acquire) as *const &(dyn Fn(usize) + Sync)) },
        };
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(next))).is_err() {
            s.panicked.store(true, Release);
        }
        s.done.fetch_add(1, Release);
    }
}

fn worker(s: &Shared, own: usize) {
    let mut seen = gen_of(s.state.load(Acquire));
    loop {
        // Wait for a new generation: spin, then sleep.
        let start = Instant::now();
        let mut spins = 0u32;
        let g = loop {
            if s.quit.load(Acquire) {
                return;
            }
            let g = gen_of(s.state.load(Acquire));
            if g != seen {
                break g;
            }
            if !(spins + 1).is_multiple_of(1024) || start.elapsed() < SPIN {
                relax(&mut spins);
                continue;
            }
            spins += 1;
            let guard = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.sleepers.fetch_add(1, SeqCst);
            let g = gen_of(s.state.load(SeqCst));
            if g == seen && !s.quit.load(SeqCst) {
                drop(s.wake.wait(guard).unwrap_or_else(|e| e.into_inner()));
            }
            s.sleepers.fetch_sub(1, SeqCst);
        };
        seen = g;
        claim_and_run(s, g, own, None);
    }
}

impl Fork for SpinPool {
    fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    fn run(&self, n: usize, f: &(dyn Fn(usize) + Sync)) {
        if n <= 1 || self.workers.is_empty() {
            return (0..n).for_each(f);
        }
        let _one_job = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        let s = &*self.shared;
        let job: &(dyn Fn(usize) + Sync) = f;
        s.job.store(&job as *const _ as usize, Release);
        s.tasks.store(n, Release);
        s.done.store(0, Release);
        // Publishing the next generation with task 0 unclaimed opens the job.
        let g = gen_of(s.state.load(Acquire)).wrapping_add(1);
        s.state.store((g as u64) << 32, SeqCst);
        if s.sleepers.load(SeqCst) > 0 {
            let _guard = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.wake.notify_all();
        }
        claim_and_run(s, g, 0, Some(f));
        let mut polls = 0u32;
        while s.done.load(Acquire) < n {
            relax(&mut polls);
        }
        if s.panicked.swap(false, AcqRel) {
            panic!("a kernel task panicked");
        }
    }
}

impl Drop for SpinPool {
    fn drop(&mut self) {
        self.shared.quit.store(true, SeqCst);
        {
            let _guard = self.shared.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_all();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}
