//! The SUT process: spawned in its own process group with the protocol on a
//! pipe pair or a socketpair, its stdout+stderr captured (the last lines are
//! kept for error messages and records), a watchdog that kills it when a
//! request goes unanswered, and kill + reap on every way out, so edgemark
//! never hangs on a SUT and never leaves one running.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::proto::{self, HEADER_LEN, MAX_PAYLOAD};
use super::spin::{self, Shm};

/// Lines of the SUT's stderr kept for messages and records.
pub const TAIL_LINES: usize = 20;
/// Longest kept line (bytes); longer ones are cut.
const TAIL_LINE_MAX: usize = 400;

/// How the protocol travels (defined with the plan, which carries it).
pub use crate::plan::SutTransport as Transport;

impl Transport {
    /// The transport the environment asks for (`EDGEMARK_SUT_TRANSPORT`,
    /// for the benchmark), else the default.
    pub fn from_env() -> Transport {
        std::env::var("EDGEMARK_SUT_TRANSPORT")
            .ok()
            .and_then(|s| Transport::parse(&s))
            .unwrap_or(Transport::Pipes)
    }
}

/// What went wrong with a SUT. Append-only in spirit: the record stores the
/// message, this only picks the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Could not be started.
    Spawn,
    /// Killed by a signal it did not get from us.
    Crash,
    /// Exited on its own.
    Exit,
    /// No answer within the timeout: killed by the watchdog.
    Hang,
    /// Bytes that are not the protocol.
    Garbage,
    /// Completed a sample id that was not in flight.
    UnknownId,
    /// Sent an ERROR frame.
    Reported,
    /// Speaks another protocol version.
    Version,
    /// Lacks what the chosen transport needs (the spin transport's mapping).
    Capability,
}

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Spawn => "spawn",
            FaultKind::Crash => "crash",
            FaultKind::Exit => "exit",
            FaultKind::Hang => "hang",
            FaultKind::Garbage => "garbage",
            FaultKind::UnknownId => "unknown sample id",
            FaultKind::Reported => "error reported by the SUT",
            FaultKind::Version => "protocol version",
            FaultKind::Capability => "transport not supported",
        }
    }
}

/// A SUT failure, with the SUT's last stderr lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    pub message: String,
    pub stderr_tail: Vec<String>,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if !self.stderr_tail.is_empty() {
            write!(f, "\nlast lines of the SUT's stderr:")?;
            for l in &self.stderr_tail {
                write!(f, "\n  | {l}")?;
            }
        }
        Ok(())
    }
}

/// The watchdog's view of the current request: `seq` is odd while one is in
/// flight; the timed path only moves it (a relaxed load and store per arm and disarm).
struct Watch {
    seq: AtomicU64,
    limit_ms: AtomicU64,
    fired: AtomicBool,
    stop: Mutex<bool>,
    wake: Condvar,
}

/// A running SUT and its end of the protocol.
pub struct Child {
    proc: std::process::Child,
    pgid: Pid,
    rx: File,
    tx: File,
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    tail: Arc<Mutex<VecDeque<String>>>,
    tail_thread: Option<JoinHandle<()>>,
    watch: Arc<Watch>,
    watch_thread: Option<JoinHandle<()>>,
    status: Option<ExitStatus>,
    program: String,
    /// What the current request is, for the fault message (set untimed).
    doing: &'static str,
    /// The spin transport's mapping, its last request's sequence number,
    /// and whether the SUT was told to read the pipe (after the hello it does).
    shm: Option<Shm>,
    seq: u32,
    pipe_mode: bool,
}

/// Spins between two looks at the pipe (an ERROR frame, EOF of a dead SUT):
/// a poll costs a syscall, a spin a few ns.
const SPINS_PER_POLL: u32 = 512;
/// Looks at the pipe before edgemark also yields the core at every look
/// (some tens of µs of spinning).
const YIELD_AFTER_POLLS: u32 = 4;

/// A pipe whose ends no other child inherits (only the SUT gets its two,
/// by clearing the flag between fork and exec): a leaked write end would keep
/// a reader from ever seeing EOF.
fn cloexec_pipe() -> nix::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
}

/// Lets the child inherit `fd` (Rust opens everything close-on-exec).
fn inheritable(fd: i32) -> std::io::Result<()> {
    // SAFETY: fcntl on a valid descriptor, in the child between fork and exec.
    if unsafe { nix::libc::fcntl(fd, nix::libc::F_SETFD, 0) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The protocol's channel on `transport`: (ours to read, ours to write,
/// theirs to read, theirs to write), all close-on-exec.
fn channel(transport: Transport) -> std::io::Result<(OwnedFd, OwnedFd, OwnedFd, OwnedFd)> {
    Ok(match transport {
        // Spin: pipes, plus the mapping made in spawn.
        Transport::Pipes | Transport::Spin => {
            let (to_us_r, to_us_w) = cloexec_pipe()?;
            let (to_sut_r, to_sut_w) = cloexec_pipe()?;
            (to_us_r, to_sut_w, to_sut_r, to_us_w)
        }
        Transport::SocketPair => {
            use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
            let (a, b) = socketpair(
                AddressFamily::Unix,
                SockType::Stream,
                None,
                SockFlag::SOCK_CLOEXEC,
            )?;
            let a2 = a.try_clone()?;
            let b2 = b.try_clone()?;
            (a, a2, b, b2)
        }
    })
}

/// The SUT's command: stdout and stderr to `out`/`err` (the tail), the
/// channel's descriptors `(cr, cw)` inherited and named in the environment,
/// its own process group, killed when edgemark dies.
fn sut_command(
    command: &[String],
    out: Stdio,
    err: Stdio,
    (cr, cw): (i32, i32),
    shm: Option<i32>,
) -> Command {
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..])
        .stdin(Stdio::null())
        // A library that prints to stdout cannot corrupt the protocol: it
        // is not on stdout. Both go to the tail.
        .stdout(out)
        .stderr(err)
        .env(proto::FDS_ENV, format!("{cr},{cw}"))
        // Its own group: killed as a whole (helpers included), and the
        // terminal's Ctrl-C reaches edgemark only, which ends it cleanly.
        .process_group(0);
    if let Some(fd) = shm {
        cmd.env(spin::SHM_ENV, fd.to_string());
    }
    // SAFETY: only async-signal-safe calls (fcntl, prctl) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            inheritable(cr)?;
            inheritable(cw)?;
            if let Some(fd) = shm {
                inheritable(fd)?;
            }
            // If edgemark dies (even by SIGKILL) the SUT goes with it.
            #[cfg(target_os = "linux")]
            nix::libc::prctl(nix::libc::PR_SET_PDEATHSIG, nix::libc::SIGKILL);
            Ok(())
        });
    }
    cmd
}

/// The spin transport's mapping (None for the others).
fn spin_mapping(transport: Transport) -> Result<Option<Shm>, Fault> {
    if transport != Transport::Spin {
        return Ok(None);
    }
    Shm::create(spin::DEFAULT_SPIN_US)
        .map(Some)
        .map_err(|e| Fault {
            kind: FaultKind::Spawn,
            message: format!(
                "cannot set up the spin transport's shared memory (memfd_create, mmap): {e}"
            ),
            stderr_tail: Vec::new(),
        })
}

impl Child {
    /// Starts `command` (program and arguments) with the protocol on
    /// `transport`. `echo`: copy its stderr lines to ours as they come.
    pub fn spawn(command: &[String], transport: Transport, echo: bool) -> Result<Child, Fault> {
        let program = command.first().cloned().unwrap_or_default();
        let spawn_err = |what: String| Fault {
            kind: FaultKind::Spawn,
            message: what,
            stderr_tail: Vec::new(),
        };
        if program.is_empty() {
            return Err(spawn_err("exec: SUT needs a program".into()));
        }
        let io = |e: std::io::Error| spawn_err(format!("cannot set up the SUT's channel: {e}"));
        let (rx, tx, child_r, child_w) = channel(transport).map_err(io)?;
        let (err_r, err_w) = cloexec_pipe().map_err(|e| io(e.into()))?;
        let err_w2 = err_w.try_clone().map_err(io)?;
        let (cr, cw) = (child_r.as_raw_fd(), child_w.as_raw_fd());
        let shm = spin_mapping(transport)?;
        let mut cmd = sut_command(
            command,
            Stdio::from(err_w),
            Stdio::from(err_w2),
            (cr, cw),
            shm.as_ref().map(Shm::fd),
        );
        let proc = cmd
            .spawn()
            .map_err(|e| spawn_err(format!("cannot start SUT {program:?}: {e}")))?;
        // Our copies of its ends go, so its exit is our EOF.
        drop(cmd);
        drop(child_r);
        drop(child_w);
        let pgid = Pid::from_raw(proc.id() as i32);

        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
        let tail_thread = {
            let tail = tail.clone();
            let name = short_name(&program);
            std::thread::Builder::new()
                .name("sut-stderr".into())
                .spawn(move || collect_tail(File::from(err_r), &tail, echo.then_some(name)))
                .map_err(|e| spawn_err(format!("cannot start the SUT's stderr reader: {e}")))?
        };
        let watch = Arc::new(Watch {
            seq: AtomicU64::new(0),
            limit_ms: AtomicU64::new(u64::MAX),
            fired: AtomicBool::new(false),
            stop: Mutex::new(false),
            wake: Condvar::new(),
        });
        let watch_thread = {
            let watch = watch.clone();
            std::thread::Builder::new()
                .name("sut-watchdog".into())
                .spawn(move || watchdog(&watch, pgid))
                .map_err(|e| spawn_err(format!("cannot start the SUT watchdog: {e}")))?
        };
        Ok(Child {
            proc,
            pgid,
            rx: File::from(rx),
            tx: File::from(tx),
            rbuf: vec![0; 64 * 1024],
            rstart: 0,
            rend: 0,
            tail,
            tail_thread: Some(tail_thread),
            watch,
            watch_thread: Some(watch_thread),
            status: None,
            program,
            doing: "its hello",
            shm,
            seq: 0,
            pipe_mode: true,
        })
    }

    /// The spin transport's mapping (None on pipes and socketpairs).
    pub fn shm(&self) -> Option<&Shm> {
        self.shm.as_ref()
    }

    /// Spin transport: a SUT spinning on the mapping is told to read the
    /// pipe (an op PIPE request) before edgemark writes a frame there. It
    /// stays on the pipe until a DOORBELL.
    #[inline]
    fn enter_pipe_mode(&mut self) {
        if let Some(shm) = &self.shm
            && !self.pipe_mode
        {
            self.seq = self.seq.wrapping_add(1) & spin::SEQ_MASK;
            shm.post(spin::request_word(self.seq, spin::op::PIPE, 0));
            self.pipe_mode = true;
        }
    }

    /// Spin transport, the timed path: posts a request (`op` QUERY or NULL
    /// on sample `index`) and spins until the SUT stores its sequence number
    /// in `done`. Every SPINS_PER_POLL spins it looks at the pipe: a frame
    /// there (an ERROR, garbage) is returned for the caller to name, EOF (a
    /// crash, an exit, the watchdog's kill after the per-query timeout) is a
    /// fault. So a dead or hung SUT never keeps edgemark spinning.
    #[inline]
    pub fn spin_query(
        &mut self,
        op: u64,
        index: u32,
    ) -> Result<Option<(u32, std::ops::Range<usize>)>, Fault> {
        let Some(shm) = &self.shm else {
            unreachable!("spin_query without the spin transport");
        };
        let seq = self.seq.wrapping_add(1) & spin::SEQ_MASK;
        self.seq = seq;
        shm.post(spin::request_word(seq, op, index));
        // Sleeping on the pipe (told to, or idle too long): ring.
        let ring = self.pipe_mode || shm.sleeping_after_post();
        if ring {
            self.pipe_mode = false;
            let mut bell = [0u8; 8];
            bell[..4].copy_from_slice(&proto::kind::DOORBELL.to_le_bytes());
            if let Err(e) = self.tx.write_all(&bell) {
                return Err(self.died(&format!("writing to it failed: {e}")));
            }
        }
        let mut spins = 0u32;
        let mut polls = 0u32;
        loop {
            // The shm borrow ends before the pipe is read below.
            let done = self.shm.as_ref().map_or(seq, Shm::done);
            if done == seq {
                return Ok(None);
            }
            std::hint::spin_loop();
            spins += 1;
            if spins == SPINS_PER_POLL {
                spins = 0;
                if self.rx_ready()? {
                    return self.frame().map(Some);
                }
                // A long wait (a real model, or a SUT without a core of its
                // own): offer the core at every look, so a SUT sharing it runs
                // now instead of after our time slice. On an idle core the
                // yield returns at once.
                polls += 1;
                if polls > YIELD_AFTER_POLLS {
                    std::thread::yield_now();
                }
            }
        }
    }

    /// Whether the SUT wrote something (or closed its end): poll, no wait.
    #[cold]
    fn rx_ready(&mut self) -> Result<bool, Fault> {
        let mut p = nix::libc::pollfd {
            fd: self.rx.as_raw_fd(),
            events: nix::libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        let n = unsafe { nix::libc::poll(&mut p, 1, 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == ErrorKind::Interrupted {
                return Ok(false);
            }
            return Err(self.died(&format!("polling it failed: {e}")));
        }
        Ok(n > 0 && p.revents != 0 || self.rstart != self.rend)
    }

    pub fn pid(&self) -> u32 {
        self.proc.id()
    }

    /// Starts the watchdog's clock on a request (`what` names it in messages).
    #[inline]
    pub fn arm(&mut self, limit_ms: u64, what: &'static str) {
        self.doing = what;
        if self.watch.limit_ms.load(Ordering::Relaxed) != limit_ms {
            self.watch.limit_ms.store(limit_ms, Ordering::Relaxed);
        }
        // Odd = in flight, whatever came before: even -> odd, and arming
        // while armed (a caller's own arm around a step that arms itself)
        // moves to the next odd value, restarting the clock. Counting
        // arms and disarms instead let an unbalanced pair flip the parity,
        // and the watchdog then slept through a hang (sut-check hung for
        // ever on a SUT that stopped answering). Only this thread writes.
        let s = self.watch.seq.load(Ordering::Relaxed);
        self.watch.seq.store(s + 1 + (s & 1), Ordering::Relaxed);
    }

    /// The request was answered (or made progress: Offline re-arms per
    /// frame). Disarming twice is harmless: even stays even.
    #[inline]
    pub fn disarm(&mut self) {
        let s = self.watch.seq.load(Ordering::Relaxed);
        self.watch.seq.store(s + (s & 1), Ordering::Relaxed);
    }

    /// Writes a whole frame (or several).
    #[inline]
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), Fault> {
        self.enter_pipe_mode();
        match self.tx.write_all(bytes) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.died(&format!("writing to it failed: {e}"))),
        }
    }

    /// Reads the next frame; returns its kind and the payload's range in
    /// [`Child::buf`]. Large frames grow the buffer (never on the timed path:
    /// COMPLETE frames are small and the Offline size is reserved beforehand).
    #[inline]
    pub fn frame(&mut self) -> Result<(u32, std::ops::Range<usize>), Fault> {
        loop {
            if self.rstart == self.rend {
                self.rstart = 0;
                self.rend = 0;
            }
            let avail = self.rend - self.rstart;
            if avail >= HEADER_LEN {
                let h = &self.rbuf[self.rstart..self.rstart + HEADER_LEN];
                let kind = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
                let len = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
                if len > MAX_PAYLOAD || kind == 0 || kind > 0xff {
                    let shown = proto::show_bytes(&self.rbuf[self.rstart..self.rend]);
                    return Err(self.garbage(format!(
                        "it sent bytes that are not a frame header: {shown}"
                    )));
                }
                let need = HEADER_LEN + len as usize;
                if avail >= need {
                    let r = self.rstart + HEADER_LEN..self.rstart + need;
                    self.rstart += need;
                    return Ok((kind, r));
                }
                if self.rbuf.len() - self.rstart < need {
                    self.rbuf.copy_within(self.rstart..self.rend, 0);
                    self.rend -= self.rstart;
                    self.rstart = 0;
                    if self.rbuf.len() < need {
                        self.rbuf.resize(need, 0);
                    }
                }
            } else if self.rbuf.len() - self.rstart < HEADER_LEN {
                self.rbuf.copy_within(self.rstart..self.rend, 0);
                self.rend -= self.rstart;
                self.rstart = 0;
            }
            match self.rx.read(&mut self.rbuf[self.rend..]) {
                Ok(0) => return Err(self.died("it closed the channel")),
                Ok(n) => self.rend += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.died(&format!("reading from it failed: {e}"))),
            }
        }
    }

    /// The read buffer ([`Child::frame`]'s ranges point into it).
    #[inline]
    pub fn buf(&self) -> &[u8] {
        &self.rbuf
    }

    /// Makes room so a frame of `payload` bytes is read without growing.
    pub fn reserve_frame(&mut self, payload: usize) {
        let need = HEADER_LEN + payload;
        if self.rbuf.len() < need {
            self.rbuf.resize(need, 0);
        }
    }

    /// A fault for bytes that are not the protocol: the SUT is killed.
    pub fn garbage(&mut self, what: String) -> Fault {
        self.kill();
        Fault {
            kind: FaultKind::Garbage,
            message: format!(
                "SUT {} sent garbage while edgemark waited for {}: {what}; killed it",
                self.program, self.doing
            ),
            stderr_tail: self.stderr_tail(),
        }
    }

    /// A fault of another kind the caller found (unknown id, ERROR frame,
    /// version): the SUT is killed.
    pub fn fault(&mut self, kind: FaultKind, message: String) -> Fault {
        self.kill();
        Fault {
            kind,
            message,
            stderr_tail: self.stderr_tail(),
        }
    }

    /// The channel broke: say whether the watchdog killed it (hang), it
    /// crashed (signal) or exited, and how.
    fn died(&mut self, how: &str) -> Fault {
        let hung = self.watch.fired.load(Ordering::SeqCst);
        self.kill();
        let status = self.status;
        let doing = self.doing;
        let program = &self.program;
        let (kind, message) = if hung {
            let ms = self.watch.limit_ms.load(Ordering::Relaxed);
            (
                FaultKind::Hang,
                format!(
                    "SUT {program} hung: no answer to {doing} within {ms} ms (sut_timeout_ms); killed it"
                ),
            )
        } else {
            match status {
                Some(s) if s.signal().is_some() => {
                    let sig = s.signal().unwrap();
                    let name = Signal::try_from(sig)
                        .map(|s| s.as_str())
                        .unwrap_or("unknown signal");
                    (
                        FaultKind::Crash,
                        format!(
                            "SUT {program} crashed ({name}, signal {sig}) during {doing} ({how})"
                        ),
                    )
                }
                Some(s) => (
                    FaultKind::Exit,
                    format!(
                        "SUT {program} exited with status {} during {doing} ({how})",
                        s.code().unwrap_or(-1)
                    ),
                ),
                None => (
                    FaultKind::Exit,
                    format!("SUT {program} stopped answering during {doing} ({how})"),
                ),
            }
        };
        Fault {
            kind,
            message,
            stderr_tail: self.stderr_tail(),
        }
    }

    /// Its last stderr lines; waits briefly for the reader to drain what a
    /// dead SUT left in the pipe.
    pub fn stderr_tail(&mut self) -> Vec<String> {
        if self.status.is_some()
            && let Some(t) = self.tail_thread.take()
        {
            let deadline = Instant::now() + Duration::from_millis(500);
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if t.is_finished() {
                let _ = t.join();
            } else {
                self.tail_thread = Some(t);
            }
        }
        self.tail
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Kills the whole process group and reaps the SUT. Idempotent.
    pub fn kill(&mut self) {
        if self.status.is_some() {
            return;
        }
        // The SUT may have exited on its own: reap without killing a reused pid's group.
        if let Ok(Some(s)) = self.proc.try_wait() {
            // Helpers it left in its group go too.
            let _ = killpg(self.pgid, Signal::SIGKILL);
            self.status = Some(s);
            return;
        }
        let _ = killpg(self.pgid, Signal::SIGKILL);
        self.status = self.proc.wait().ok();
    }

    /// Ends the session politely: BYE, wait for BYE_REPLY and the exit (up to
    /// `grace`), then kill whatever is left. Returns its exit status.
    pub fn close(&mut self, grace: Duration) -> Option<ExitStatus> {
        if self.status.is_none() {
            let mut bye = Vec::with_capacity(8);
            proto::put_header(&mut bye, proto::kind::BYE, 0);
            self.arm(grace.as_millis() as u64, "BYE");
            self.enter_pipe_mode();
            if self.tx.write_all(&bye).is_ok() {
                let _ = self.frame();
            }
            self.disarm();
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline {
                if let Ok(Some(s)) = self.proc.try_wait() {
                    let _ = killpg(self.pgid, Signal::SIGKILL);
                    self.status = Some(s);
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            self.kill();
        }
        self.status
    }

    /// Waits up to `limit` for the SUT to exit on its own (then reaps it).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        if self.status.is_some() {
            return self.status;
        }
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.proc.try_wait() {
                let _ = killpg(self.pgid, Signal::SIGKILL);
                self.status = Some(s);
                return self.status;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    /// Closes edgemark's sending side, as if edgemark had gone away.
    pub fn shut_write(&mut self) {
        self.enter_pipe_mode();
        use nix::sys::socket::{Shutdown, shutdown};
        if shutdown(self.tx.as_raw_fd(), Shutdown::Write).is_err()
            && let Ok(null) = File::options().write(true).open("/dev/null")
        {
            // A pipe: dropping our end is its EOF.
            self.tx = null;
        }
    }

    pub fn program(&self) -> &str {
        &self.program
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill();
        if let Ok(mut s) = self.watch.stop.lock() {
            *s = true;
        }
        self.watch.wake.notify_all();
        if let Some(t) = self.watch_thread.take() {
            let _ = t.join();
        }
        // The stderr reader ends at EOF, which the kill brought (unless a
        // helper escaped the group; then it is left to finish on its own).
        if let Some(t) = self.tail_thread.take()
            && t.is_finished()
        {
            let _ = t.join();
        }
    }
}

fn short_name(program: &str) -> String {
    program.rsplit('/').next().unwrap_or(program).to_string()
}

/// Wakes every quarter of the limit; a request seen in flight (same odd
/// `seq`) for the whole limit gets the SUT's group killed. So a hang is
/// detected between 1x and 1.25x the limit, at no cost to the timed path.
fn watchdog(w: &Watch, pgid: Pid) {
    let mut seen = (0u64, Instant::now());
    loop {
        let limit = w.limit_ms.load(Ordering::Relaxed);
        let step = Duration::from_millis((limit / 4).clamp(5, 1000));
        let Ok(stop) = w.stop.lock() else { return };
        let Ok((stop, _)) = w.wake.wait_timeout(stop, step) else {
            return;
        };
        if *stop {
            return;
        }
        drop(stop);
        let s = w.seq.load(Ordering::Relaxed);
        if s.is_multiple_of(2) || s != seen.0 {
            seen = (s, Instant::now());
            continue;
        }
        if seen.1.elapsed() >= Duration::from_millis(limit) {
            w.fired.store(true, Ordering::SeqCst);
            let _ = killpg(pgid, Signal::SIGKILL);
            return;
        }
    }
}

/// Keeps the last lines of the SUT's output; optionally echoes them.
fn collect_tail(f: File, tail: &Mutex<VecDeque<String>>, echo: Option<String>) {
    let mut r = BufReader::new(f);
    let mut line = Vec::new();
    loop {
        line.clear();
        match r.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut text = String::from_utf8_lossy(&line).trim_end().to_string();
        if text.len() > TAIL_LINE_MAX {
            let mut cut = TAIL_LINE_MAX;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str(" [...]");
        }
        if let Some(name) = &echo {
            eprintln!("[{name}] {text}");
        }
        if let Ok(mut t) = tail.lock() {
            if t.len() == TAIL_LINES {
                t.pop_front();
            }
            t.push_back(text);
        }
    }
}
