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
    /// The file is there but unusable: which file and why.
    Broken(Unreadable),
}

impl<T> Read<T> {
    /// The value, adding a broken file to `warnings` (once).
    pub(crate) fn ok(self, warnings: &mut ProbeWarnings) -> Option<T> {
        match self {
            Read::Absent => None,
            Read::Value(v) => Some(v),
            Read::Broken(w) => {
                warnings.push_once(ProbeWarning::Unreadable(w));
                None
            }
        }
    }
}

/// Why an existing probe file gave no value. Its `Display` is the warning
/// the run shows, naming the path and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unreadable {
    /// Permission denied: readable only by root (RAPL since Linux 5.10).
    RootOnly(PathBuf),
    /// Any other read error, as the OS words it.
    Io {
        path: PathBuf,
        error: String,
    },
    /// Not a decimal integer (`found`: the first 40 characters).
    NotInteger {
        path: PathBuf,
        found: String,
    },
    Negative {
        path: PathBuf,
        value: i64,
    },
    /// Not the hex word of the Raspberry Pi's `get_throttled`.
    NotHex {
        path: PathBuf,
        found: String,
    },
}

impl Unreadable {
    /// Why the existing file `path` could not be read.
    pub(crate) fn io(path: &Path, err: &io::Error) -> Unreadable {
        if err.kind() == io::ErrorKind::PermissionDenied {
            Unreadable::RootOnly(path.to_path_buf())
        } else {
            Unreadable::Io {
                path: path.to_path_buf(),
                error: err.to_string(),
            }
        }
    }
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreadable::RootOnly(path) => write!(
                f,
                "{} is readable only by root (permission denied); run as root or make it readable to get this figure",
                path.display()
            ),
            Unreadable::Io { path, error } => write!(f, "cannot read {}: {error}", path.display()),
            Unreadable::NotInteger { path, found } => {
                write!(
                    f,
                    "{}: expected an integer, found {found:?}",
                    path.display()
                )
            }
            Unreadable::Negative { path, value } => write!(
                f,
                "{}: expected a non-negative integer, found {value}",
                path.display()
            ),
            Unreadable::NotHex { path, found } => {
                write!(
                    f,
                    "{}: expected a hex word, found {found:?}",
                    path.display()
                )
            }
        }
    }
}

/// What the probes found wrong with the box's sensors; `Display` is the
/// warning's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProbeWarning {
    Unreadable(Unreadable),
    /// INA3221 rails, none labelled as the board's input: no total energy.
    NoInputRail {
        rails: Vec<String>,
    },
    /// An energy counter without a known range went backwards.
    CounterBackwards {
        path: PathBuf,
        prev: u64,
        now: u64,
    },
}

impl std::fmt::Display for ProbeWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeWarning::Unreadable(u) => u.fmt(f),
            ProbeWarning::NoInputRail { rails } => write!(
                f,
                "INA3221 rails found ({}) but none is labelled as the input rail; no total energy",
                rails.join(", ")
            ),
            ProbeWarning::CounterBackwards { path, prev, now } => write!(
                f,
                "{}: energy counter went backwards ({prev} -> {now}) and its range is unknown; that interval is not counted",
                path.display()
            ),
        }
    }
}

/// The probes' warnings, typed while collected, in order; they become text
/// only where they leave the probes ([`ProbeWarnings::texts`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ProbeWarnings(Vec<ProbeWarning>);

impl ProbeWarnings {
    pub(crate) fn push(&mut self, w: ProbeWarning) {
        self.0.push(w);
    }

    /// Adds `w` unless an equal warning is already there (the same file
    /// failing the same way is said once).
    pub(crate) fn push_once(&mut self, w: ProbeWarning) {
        if !self.0.contains(&w) {
            self.0.push(w);
        }
    }

    pub(crate) fn texts(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

/// `root` joined with an absolute system path such as `/proc/cpuinfo`.
pub(crate) fn rooted(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
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
        Err(e) => Read::Broken(Unreadable::io(path, &e)),
    }
}

/// A decimal integer file (sysfs style). Non-numeric content is Broken, naming the path.
pub(crate) fn read_i64(path: &Path) -> Read<i64> {
    match read_text(path) {
        Read::Absent => Read::Absent,
        Read::Broken(w) => Read::Broken(w),
        Read::Value(s) => match s.parse::<i64>() {
            Ok(v) => Read::Value(v),
            Err(_) => Read::Broken(Unreadable::NotInteger {
                path: path.to_path_buf(),
                found: clip(&s),
            }),
        },
    }
}

pub(crate) fn read_u64(path: &Path) -> Read<u64> {
    match read_i64(path) {
        Read::Value(v) if v < 0 => Read::Broken(Unreadable::Negative {
            path: path.to_path_buf(),
            value: v,
        }),
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
        let m = Unreadable::io(p, &io::Error::from(io::ErrorKind::PermissionDenied)).to_string();
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
            Read::Broken(u) => {
                let m = u.to_string();
                assert!(
                    m.contains(&f.display().to_string()) && m.contains("hot"),
                    "{m}"
                );
                assert!(matches!(u, Unreadable::NotInteger { .. }), "{u:?}");
            }
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
