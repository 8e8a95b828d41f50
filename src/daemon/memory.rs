//! Keep the idle daemon's resident set small. The binary carries the whole
//! inference engine (tens of MB of code); start-up and each job fault parts of
//! it in, and the kernel maps neighbouring cached pages too (fault-around), so
//! an idle daemon would keep ~10 MB of code it is not running resident. When it
//! goes idle it drops its own code and constant pages; the few the idle loop uses come back
//! from the page cache on the next wake-up (minor faults, no I/O).

use std::os::unix::fs::MetadataExt;

/// Which allocator this binary uses and how it is told to give memory back.
pub const ALLOCATOR: &str = if cfg!(feature = "mimalloc") {
    "mimalloc (mi_collect)"
} else if cfg!(target_env = "gnu") {
    "glibc malloc (malloc_trim)"
} else {
    "libc malloc"
};

#[cfg(feature = "mimalloc")]
unsafe extern "C" {
    // Part of the mimalloc library the `mimalloc` crate links in (mimalloc.h);
    // the crate exposes it only through its `extended` feature's extra dependency.
    fn mi_collect(force: bool);
}

/// Called once at daemon start, before any thread exists. glibc gives each
/// new thread its own malloc arena; a job's worker and engine threads then
/// leave their freed memory in those arenas' top chunks, which `malloc_trim`
/// does not reach (it trims only the main arena's top): measured on the ci
/// build, 31 MB stayed resident after a MobileNetV2 job with 58 MB free in the
/// arenas. With one arena everything goes back (6.9 MB idle after the same
/// job). Other allocators need nothing here.
pub fn configure_allocator() {
    #[cfg(all(not(feature = "mimalloc"), target_env = "gnu"))]
    // SAFETY: plain parameter setting; no allocation has been made by other threads.
    unsafe {
        nix::libc::mallopt(nix::libc::M_ARENA_MAX, 1);
    }
}

/// Hand the heap memory a finished job freed back to the kernel. The job's
/// model, inputs, arenas and engine threads are dropped by then, but
/// allocators keep freed memory for reuse: glibc in its arena (a MobileNetV2
/// job left a release daemon at 310 MB idle, its peak was 324 MB), mimalloc in
/// its segments until a later allocation purges them. glibc's `malloc_trim(0)`
/// returns the free pages of the arena (also those in the middle of the heap,
/// by `MADV_DONTNEED`); mimalloc's `mi_collect(true)` frees this thread's and
/// the exited threads' (abandoned) segments. musl's own malloc unmaps freed
/// memory by itself.
pub fn release_heap() {
    #[cfg(feature = "mimalloc")]
    // SAFETY: mi_collect only walks mimalloc's own bookkeeping; callable any time.
    unsafe {
        mi_collect(true);
    }
    #[cfg(all(not(feature = "mimalloc"), target_env = "gnu"))]
    // SAFETY: malloc_trim takes the arena locks itself; callable any time.
    unsafe {
        nix::libc::malloc_trim(0);
    }
}

/// This process's resident set in kB (`VmRSS`), for the log.
pub fn resident_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Why the idle daemon could not give its code pages back (a warning only).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReleaseError {
    #[error("{path}: {source}")]
    Read {
        path: &'static str,
        source: std::io::Error,
    },
    #[error("madvise: {0}")]
    Madvise(std::io::Error),
}

/// Drop the resident pages of this executable's read-only mappings (code,
/// constants, the relocation tables the loader read once). Returns the bytes
/// of mapping advised. Only mappings of our own file (by inode) with no
/// private copies (`Anonymous: 0 kB` in smaps) are touched: every resident
/// page there is the file's page-cache page, so dropping it loses nothing.
/// The relocated RELRO segment has private copies and is left alone.
pub fn release_code_pages() -> Result<usize, ReleaseError> {
    let read = |path: &'static str| move |source| ReleaseError::Read { path, source };
    let exe = std::fs::metadata("/proc/self/exe").map_err(read("/proc/self/exe"))?;
    let smaps = std::fs::read_to_string("/proc/self/smaps").map_err(read("/proc/self/smaps"))?;
    let mut advised = 0;
    for (start, end) in clean_file_ranges(&smaps, exe.ino()) {
        // SAFETY: [start, end) is a whole read-only mapping of our own binary
        // without private pages, as the kernel listed it just now; read-only
        // means none can appear meanwhile. MADV_DONTNEED on it only unmaps
        // pages that refault from the file.
        let r = unsafe {
            nix::libc::madvise(
                start as *mut nix::libc::c_void,
                end - start,
                nix::libc::MADV_DONTNEED,
            )
        };
        if r != 0 {
            return Err(ReleaseError::Madvise(std::io::Error::last_os_error()));
        }
        advised += end - start;
    }
    Ok(advised)
}

/// Read-only (`r-xp`, `r--p`) mappings of the file with inode `ino` that hold
/// no anonymous (copied-on-write) pages, from a `/proc/PID/smaps` text.
fn clean_file_ranges(smaps: &str, ino: u64) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.first()
            .is_some_and(|r| r.contains('-') && !r.ends_with(':'))
            && f.len() >= 5
        {
            // Header: start-end perms offset dev inode [path]
            current = None;
            if (f[1] == "r-xp" || f[1] == "r--p")
                && f[4].parse::<u64>() == Ok(ino)
                && let Some((a, b)) = f[0].split_once('-')
                && let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            {
                current = Some((a, b));
            }
        } else if f.first() == Some(&"Anonymous:")
            && let Some(range) = current.take()
            && f.get(1) == Some(&"0")
        {
            v.push(range);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_only_clean_read_only_mappings_of_the_file() {
        let smaps = "\
c0000000-c0100000 r--p 00000000 fd:01 4242 /usr/bin/edgemark
Rss:                 100 kB
Anonymous:             0 kB
c0100000-c0900000 r-xp 00100000 fd:01 4242 /usr/bin/edgemark
Rss:                2000 kB
Anonymous:             0 kB
c0900000-c0a00000 r--p 00900000 fd:01 4242 /usr/bin/edgemark
Anonymous:          1024 kB
c0a00000-c0a10000 rw-p 00a00000 fd:01 4242 /usr/bin/edgemark
Anonymous:             0 kB
f0000000-f0100000 r-xp 00026000 fd:01 777 /usr/lib/libc.so.6
Anonymous:             0 kB
f0200000-f0300000 rw-p 00000000 00:00 0 [heap]
Anonymous:            64 kB
";
        assert_eq!(
            clean_file_ranges(smaps, 4242),
            [(0xc0000000, 0xc0100000), (0xc0100000, 0xc0900000)],
            "the relocated (anonymous) RELRO and the writable data stay"
        );
        assert!(clean_file_ranges(smaps, 1).is_empty());
    }

    #[test]
    fn releasing_our_own_code_pages_leaves_the_process_working() {
        let advised = release_code_pages().unwrap();
        assert!(advised > 0, "the test binary has a code mapping");
        // Code runs again after the drop (it faults back from the file):
        // parsing /proc/self/maps once more finds the same mapping.
        assert_eq!(release_code_pages().unwrap(), advised);
    }
}
