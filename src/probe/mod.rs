//! What machine measured: a static system description (CPU, board, kernel,
//! memory, cpufreq policy, thermal zones) and sensors sampled during a run
//! (temperatures, frequencies, throttle bits, energy).
//!
//! Everything is read through a root directory (`/` in production, a fixture
//! tree under `tests/fixtures/` in tests), so every probe runs on fake sysfs.
//! Absent files are normal (a bare box has none of them) and yield `None`; a
//! file that exists but cannot be read or parsed yields a warning naming its
//! path. Nothing here panics on what it reads.

mod energy;
pub mod sampler;
pub mod series;
pub mod summary;
pub mod system;

use std::io;
use std::path::{Path, PathBuf};

pub use sampler::{Sampler, SamplerHandle};
pub use summary::{
    CoreFreqRange, EnergySource, EnergySummary, ProbeSummary, RailEnergy, ThrottleSummary,
    ZoneTemps,
};
pub use system::{CoreFreqPolicy, CpuCluster, SystemInfo, ThermalZone, describe};

/// Bit meanings of the Raspberry Pi firmware's `get_throttled` word.
pub mod throttle_bits {
    pub const UNDER_VOLTAGE_NOW: u32 = 1 << 0;
    pub const FREQ_CAPPED_NOW: u32 = 1 << 1;
    pub const THROTTLED_NOW: u32 = 1 << 2;
    pub const SOFT_TEMP_LIMIT_NOW: u32 = 1 << 3;
    /// The "now" bits; bits 16..19 are the same conditions "since boot".
    pub const NOW_MASK: u32 = 0xF;
    pub const SINCE_BOOT_MASK: u32 = 0xF << 16;

    /// Human names of the set "now" bits (or their since-boot twins when `since_boot`).
    pub fn describe(word: u32) -> Vec<&'static str> {
        let names = [
            "under-voltage",
            "arm frequency capped",
            "throttled",
            "soft temperature limit",
        ];
        let mut out = Vec::new();
        for (i, n) in names.iter().enumerate() {
            if word & (1 << i) != 0 || word & (1 << (i + 16)) != 0 {
                out.push(*n);
            }
        }
        out
    }
}

/// Outcome of reading one probe file.
#[derive(Debug)]
pub(crate) enum Read<T> {
    /// The file is not there: the sensor does not exist on this box.
    Absent,
    Value(T),
    /// The file is there but unusable; the message names the path and why.
    Broken(String),
}

impl<T> Read<T> {
    /// The value, pushing a broken file's message into `warnings`.
    pub(crate) fn ok(self, warnings: &mut Vec<String>) -> Option<T> {
        match self {
            Read::Absent => None,
            Read::Value(v) => Some(v),
            Read::Broken(w) => {
                if !warnings.contains(&w) {
                    warnings.push(w);
                }
                None
            }
        }
    }
}

/// `root` joined with an absolute system path such as `/proc/cpuinfo`.
pub(crate) fn rooted(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

/// Why an existing file could not be read, in words that tell the user what to do.
pub(crate) fn read_error_message(path: &Path, err: &io::Error) -> String {
    if err.kind() == io::ErrorKind::PermissionDenied {
        format!(
            "{} is readable only by root (permission denied); run as root or make it readable to get this figure",
            path.display()
        )
    } else {
        format!("cannot read {}: {err}", path.display())
    }
}

pub(crate) fn read_text(path: &Path) -> Read<String> {
    match std::fs::read(path) {
        Ok(bytes) => {
            // Device-tree strings end in NUL; sysfs values end in a newline.
            let s = String::from_utf8_lossy(&bytes);
            Read::Value(
                s.trim_matches(|c: char| c == '\0' || c.is_whitespace())
                    .to_string(),
            )
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Read::Absent,
        Err(e) => Read::Broken(read_error_message(path, &e)),
    }
}

/// A decimal integer file (sysfs style). Non-numeric content is Broken, naming the path.
pub(crate) fn read_i64(path: &Path) -> Read<i64> {
    match read_text(path) {
        Read::Absent => Read::Absent,
        Read::Broken(w) => Read::Broken(w),
        Read::Value(s) => match s.parse::<i64>() {
            Ok(v) => Read::Value(v),
            Err(_) => Read::Broken(format!(
                "{}: expected an integer, found {:?}",
                path.display(),
                clip(&s)
            )),
        },
    }
}

pub(crate) fn read_u64(path: &Path) -> Read<u64> {
    match read_i64(path) {
        Read::Value(v) if v < 0 => Read::Broken(format!(
            "{}: expected a non-negative integer, found {v}",
            path.display()
        )),
        Read::Value(v) => Read::Value(v as u64),
        Read::Absent => Read::Absent,
        Read::Broken(w) => Read::Broken(w),
    }
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Numbered entries `prefix<N>` in `dir`, sorted by N (cpu0, cpu1, ..., cpu10).
pub(crate) fn numbered_entries(dir: &Path, prefix: &str) -> Vec<(u32, PathBuf)> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(n) = name
                .strip_prefix(prefix)
                .and_then(|r| r.parse::<u32>().ok())
            {
                out.push((n, e.path()));
            }
        }
    }
    out.sort_by_key(|(n, _)| *n);
    out
}

/// Memory use of this process from `/proc/self/status`, for the record's
/// "RSS before model load" and "peak RSS".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RssReading {
    /// VmRSS, bytes.
    pub rss_bytes: Option<u64>,
    /// VmHWM (peak resident set), bytes.
    pub peak_rss_bytes: Option<u64>,
}

/// Reads VmRSS and VmHWM through `root` (absent fields stay None).
/// A `/proc` figure such as `  123456 kB` in bytes.
fn kb_bytes(rest: &str) -> Option<u64> {
    rest.trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .ok()
        .map(|k| k * 1024)
}

pub fn read_rss(root: &Path) -> RssReading {
    let path = rooted(root, "/proc/self/status");
    let mut r = RssReading::default();
    if let Read::Value(text) = read_text(&path) {
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("VmRSS:") {
                r.rss_bytes = kb_bytes(rest);
            } else if let Some(rest) = line.strip_prefix("VmHWM:") {
                r.peak_rss_bytes = kb_bytes(rest);
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_denied_says_root_only_and_names_the_path() {
        let p = Path::new("/sys/class/powercap/intel-rapl:0/energy_uj");
        let m = read_error_message(p, &io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(m.contains("intel-rapl:0/energy_uj"), "{m}");
        assert!(m.contains("only by root"), "{m}");
    }

    #[test]
    fn non_numeric_value_names_the_path() {
        let dir = std::env::temp_dir().join(format!("edgemark-probe-nn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("temp");
        std::fs::write(&f, "hot\n").unwrap();
        match read_i64(&f) {
            Read::Broken(m) => assert!(
                m.contains(&f.display().to_string()) && m.contains("hot"),
                "{m}"
            ),
            other => panic!("expected Broken, got {other:?}"),
        }
        assert!(matches!(read_i64(&dir.join("missing")), Read::Absent));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn throttle_bits_are_named() {
        assert_eq!(
            throttle_bits::describe(0x50005),
            vec!["under-voltage", "throttled"]
        );
        assert!(throttle_bits::describe(0).is_empty());
    }

    #[test]
    fn rss_from_status() {
        let dir = std::env::temp_dir().join(format!("edgemark-probe-rss-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("proc/self")).unwrap();
        std::fs::write(
            dir.join("proc/self/status"),
            "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n",
        )
        .unwrap();
        let r = read_rss(&dir);
        assert_eq!(r.rss_bytes, Some(1024 * 1024));
        assert_eq!(r.peak_rss_bytes, Some(2048 * 1024));
        assert_eq!(read_rss(&dir.join("nowhere")), RssReading::default());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
