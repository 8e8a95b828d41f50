//! The TTY-only progress line of `edgemark run`: a thread outside the timed
//! path that reads the engine's `Control` counters.

use std::io::{self, IsTerminal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::loadgen::Control;

/// Runs `f` while a separate thread shows "N done" on stderr, only when stderr
/// is a terminal. The thread reads `Control` with relaxed loads and sleeps
/// between updates; it never touches the engine's timed path.
pub fn with_progress<T>(control: &Control, f: impl FnOnce() -> T) -> T {
    if !io::stderr().is_terminal() {
        return f();
    }
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let start = Instant::now();
            let mut shown = false;
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(250));
                let n = control.completed.load(Ordering::Relaxed);
                eprint!(
                    "\r\x1b[2Kedgemark: {n} completed, {:.1} s",
                    start.elapsed().as_secs_f64()
                );
                shown = true;
            }
            if shown {
                eprint!("\r\x1b[2K");
            }
        });
        let result = f();
        done.store(true, Ordering::Relaxed);
        result
    })
}
