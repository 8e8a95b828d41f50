//! Signal handling and the daemon's one blocking wait. Handlers only set a flag
//! and write a byte to a socketpair (the self-pipe trick); the main loop blocks
//! in `recv` with a timeout on the other end, so it sleeps until a signal, a
//! finished job or its next deadline — no busy polling, no C library.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
static TERM: AtomicBool = AtomicBool::new(false);
static HUP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: nix::libc::c_int) {
    // Only async-signal-safe work here: atomics and write(2), errno preserved.
    let errno = nix::errno::Errno::last_raw();
    if sig == Signal::SIGHUP as nix::libc::c_int {
        HUP.store(true, Ordering::SeqCst);
    } else {
        TERM.store(true, Ordering::SeqCst);
    }
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: fd is the non-blocking write end owned by the `Waker` for the
        // process lifetime; a full buffer just means a wake-up is already pending.
        unsafe {
            nix::libc::write(fd, b"s".as_ptr().cast(), 1);
        }
    }
    nix::errno::Errno::set_raw(errno);
}

/// The read end the main loop sleeps on, and a writer other threads use to wake it.
#[derive(Debug)]
pub struct Waker {
    rx: UnixStream,
    tx: UnixStream,
}

/// Cloneable handle that wakes the main loop (e.g. a finished job thread).
#[derive(Debug)]
pub struct WakeHandle(UnixStream);

impl WakeHandle {
    pub fn wake(&self) {
        use std::io::Write;
        let _ = (&self.0).write(b"w");
    }
}

impl Waker {
    /// Create the socketpair and install SIGTERM/SIGINT/SIGHUP handlers. Once per process.
    pub fn install() -> std::io::Result<Waker> {
        let (rx, tx) = UnixStream::pair()?;
        tx.set_nonblocking(true)?;
        WAKE_FD.store(tx.as_raw_fd(), Ordering::SeqCst);
        let action = SigAction::new(
            SigHandler::Handler(on_signal),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        for sig in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
            // SAFETY: the handler above is async-signal-safe.
            unsafe { sigaction(sig, &action) }.map_err(std::io::Error::from)?;
        }
        Ok(Waker { rx, tx })
    }

    pub fn handle(&self) -> std::io::Result<WakeHandle> {
        Ok(WakeHandle(self.tx.try_clone()?))
    }

    /// Block until woken or `timeout` passes; drains pending wake bytes.
    pub fn wait(&self, timeout: Duration) {
        let timeout = timeout.max(Duration::from_millis(1));
        if self.rx.set_read_timeout(Some(timeout)).is_err() {
            std::thread::sleep(timeout);
            return;
        }
        let mut buf = [0u8; 64];
        // One read returns every byte queued so far; timeouts and EINTR both
        // simply end the wait.
        let _ = (&self.rx).read(&mut buf);
    }
}

/// SIGTERM or SIGINT arrived (stays set: the daemon is stopping).
pub fn term_requested() -> bool {
    TERM.load(Ordering::SeqCst)
}

/// SIGHUP arrived since the last call.
pub fn take_hup() -> bool {
    HUP.swap(false, Ordering::SeqCst)
}
