//! The spin transport's shared mapping (docs/sut-protocol.md, "The spin
//! transport"): a memfd of one page the SUT inherits (its number in
//! `EDGEMARK_SUT_SHM`), through which SingleStream queries go instead of the
//! pipes. edgemark writes one 64-bit request word (sequence number, op and
//! sample index together, so a reader without fences, the Python SDK, never
//! sees half a request) with a release store; the SUT spins on it, runs the
//! sample and stores the request's sequence number in the `done` word, on
//! which edgemark spins. Everything else (handshake, loading, Offline,
//! accuracy, errors, bye) stays on the pipes.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

/// First 8 bytes of the mapping.
pub const MAGIC: [u8; 8] = *b"EDGEMSPN";
/// The mapping's own layout version.
pub const LAYOUT_VERSION: u32 = 1;
/// Bytes mapped (one page on every box edgemark targets).
pub const SIZE: usize = 4096;
/// Environment variable naming the mapping's descriptor in the SUT.
pub const SHM_ENV: &str = "EDGEMARK_SUT_SHM";
/// How long (µs) the SUT spins without a request before it sleeps on the pipe.
pub const DEFAULT_SPIN_US: u32 = 2000;

// Byte offsets (docs/sut-protocol.md has the table).
const OFF_MAGIC: usize = 0;
const OFF_VERSION: usize = 8;
const OFF_SIZE: usize = 12;
const OFF_SPIN_US: usize = 16;
const OFF_ATTACHED: usize = 20;
/// edgemark's request word, on its own 128 bytes (two cache lines: no false
/// sharing with the SUT's words, even with adjacent-line prefetch).
const OFF_REQUEST: usize = 128;
/// The SUT's words: `done` and `sleeping`.
const OFF_DONE: usize = 256;
const OFF_SLEEPING: usize = 260;

/// Request ops (bits 30-31 of the request word's low half).
pub mod op {
    /// Run the sample, then store the sequence number in `done`.
    pub const QUERY: u64 = 0;
    /// Complete without running the model (the round-trip calibration).
    pub const NULL: u64 = 1;
    /// Frames follow on the pipe: read them (blocking) until a DOORBELL.
    pub const PIPE: u64 = 2;
}

/// Sequence numbers are 30 bits; the op sits above them.
pub const SEQ_MASK: u32 = (1 << 30) - 1;

/// The request word: bits 0-29 sequence, 30-31 op, 32-63 sample index.
#[inline]
pub fn request_word(seq: u32, op: u64, index: u32) -> u64 {
    (seq & SEQ_MASK) as u64 | op << 30 | (index as u64) << 32
}

/// edgemark's side of the mapping.
pub struct Shm {
    base: *mut u8,
    fd: OwnedFd,
}

// SAFETY: the mapping lives as long as Shm; every access to the shared words
// goes through atomics.
unsafe impl Send for Shm {}

impl Shm {
    /// A fresh mapping: header written, request and done 0, nobody attached.
    pub fn create(spin_us: u32) -> std::io::Result<Shm> {
        use nix::libc;
        // SAFETY: plain syscalls; the results are checked.
        let fd = unsafe { libc::memfd_create(c"edgemark-sut".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is ours, just created.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        if unsafe { libc::ftruncate(fd.as_raw_fd(), SIZE as libc::off_t) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let base = base as *mut u8;
        // SAFETY: a fresh zeroed mapping of SIZE bytes; nobody else has it yet.
        unsafe {
            std::ptr::copy_nonoverlapping(MAGIC.as_ptr(), base.add(OFF_MAGIC), 8);
            std::ptr::copy_nonoverlapping(
                LAYOUT_VERSION.to_le_bytes().as_ptr(),
                base.add(OFF_VERSION),
                4,
            );
            std::ptr::copy_nonoverlapping(
                (SIZE as u32).to_le_bytes().as_ptr(),
                base.add(OFF_SIZE),
                4,
            );
            std::ptr::copy_nonoverlapping(spin_us.to_le_bytes().as_ptr(), base.add(OFF_SPIN_US), 4);
        }
        Ok(Shm { base, fd })
    }

    pub fn fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    // The words are naturally aligned in a page-aligned mapping; the
    // protocol is little-endian and so are the targets (x86-64, aarch64,
    // armv7 little-endian), so native atomics are the documented bytes.
    fn u32_at(&self, off: usize) -> &AtomicU32 {
        // SAFETY: in bounds, 4-aligned, shared memory only accessed atomically.
        unsafe { &*(self.base.add(off) as *const AtomicU32) }
    }

    fn request(&self) -> &AtomicU64 {
        // SAFETY: in bounds, 8-aligned.
        unsafe { &*(self.base.add(OFF_REQUEST) as *const AtomicU64) }
    }

    /// The SUT wrote 1 here before its HELLO_REPLY (read after that frame).
    pub fn attached(&self) -> u32 {
        self.u32_at(OFF_ATTACHED).load(Ordering::Acquire)
    }

    /// Publishes a request (release: the SUT that sees it sees all before).
    #[inline]
    pub fn post(&self, word: u64) {
        self.request().store(word, Ordering::Release);
    }

    /// Whether the SUT said it sleeps on the pipe. The full fence orders our
    /// request store before this load (Dekker with the SUT's own
    /// sleeping-store, fence, request-load): one of us sees the other.
    #[inline]
    pub fn sleeping_after_post(&self) -> bool {
        fence(Ordering::SeqCst);
        self.u32_at(OFF_SLEEPING).load(Ordering::Relaxed) != 0
    }

    #[inline]
    pub fn done(&self) -> u32 {
        self.u32_at(OFF_DONE).load(Ordering::Acquire)
    }
}

impl Drop for Shm {
    fn drop(&mut self) {
        // SAFETY: the mapping made in create, unmapped once.
        unsafe {
            nix::libc::munmap(self.base as *mut _, SIZE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_word_is_the_documented_bits() {
        assert_eq!(request_word(5, op::QUERY, 7), 5 | 7 << 32);
        assert_eq!(request_word(1, op::NULL, 0), 1 | 1 << 30);
        assert_eq!(
            request_word(SEQ_MASK + 3, op::PIPE, u32::MAX),
            2 | 2 << 30 | 0xffff_ffff << 32
        );
    }

    #[test]
    fn a_fresh_mapping_has_the_documented_header() {
        let s = Shm::create(1234).unwrap();
        let mut b = [0u8; 24];
        // SAFETY: reading our own mapping's header.
        unsafe { std::ptr::copy_nonoverlapping(s.base, b.as_mut_ptr(), 24) };
        assert_eq!(&b[0..8], b"EDGEMSPN");
        assert_eq!(b[8..12], 1u32.to_le_bytes());
        assert_eq!(b[12..16], 4096u32.to_le_bytes());
        assert_eq!(b[16..20], 1234u32.to_le_bytes());
        assert_eq!(b[20..24], [0; 4]);
        assert_eq!((s.attached(), s.done()), (0, 0));
    }
}
