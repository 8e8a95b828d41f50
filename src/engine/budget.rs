//! How much memory random inputs may take on this box (issue 13 item 4).
//!
//! LoadGen loads `performance_sample_count` samples (1024 in the presets):
//! 600 MiB of MobileNet inputs, more than many edge boards have. Distinct
//! random tensors only need to be numerous enough that no query finds its
//! input still in the last-level cache; beyond that, loaded samples share
//! them. Two bounds, the smaller wins:
//!
//! - the cache bound: between two uses of the same input, the other queries
//!   stream their own traffic (weights read, activations written and read,
//!   the input) through the cache; [`CACHE_FACTOR`] x the LLC of that traffic
//!   evicts it. So `distinct = CACHE_FACTOR x LLC / traffic per query`.
//! - the memory bound: [`MEM_SHARE`] of MemAvailable, so a benchmark never
//!   pushes a small board into swap or the OOM killer.
//!
//! Both facts are read through `--root` (`/proc/meminfo`, the CPU cache
//! sizes in sysfs) so tests run on fixture trees.

use std::path::Path;

/// Distinct samples never drop below this (a handful of different inputs, so
/// no kernel can profit from the same data twice in a row).
pub const MIN_DISTINCT: u64 = 4;
/// Inputs may take this fraction (1/N) of MemAvailable at most.
pub const MEM_SHARE: u64 = 16;
/// Traffic between two uses of an input, in LLC sizes, that evicts it.
pub const CACHE_FACTOR: u64 = 2;
/// LLC assumed when sysfs does not say (a typical edge SoC's shared L2/L3).
pub const DEFAULT_LLC_BYTES: u64 = 4 << 20;
/// MemAvailable assumed when /proc/meminfo does not say.
pub const DEFAULT_MEM_AVAILABLE: u64 = 1 << 30;

/// The box facts the budget is derived from (None = not readable).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryFacts {
    pub mem_available_bytes: Option<u64>,
    pub llc_bytes: Option<u64>,
}

/// The random-input set a SUT loaded: what the record's `input_set` holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InputSetInfo {
    pub budget_bytes: u64,
    pub distinct_samples: u64,
    pub sample_bytes: u64,
    pub loaded_samples: u64,
}

impl MemoryFacts {
    /// Reads MemAvailable and the largest CPU cache of cpu0 under `root`.
    pub fn read(root: &Path) -> MemoryFacts {
        MemoryFacts {
            mem_available_bytes: mem_available(root),
            llc_bytes: llc_bytes(root),
        }
    }
}

fn mem_available(root: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(root.join("proc/meminfo")).ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line
        .trim_start_matches("MemAvailable:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kb.checked_mul(1024)
}

/// The last-level cache: the data or unified cache of the highest level
/// listed for cpu0 (`index*/level`, `type`, `size` like `2048K`).
fn llc_bytes(root: &Path) -> Option<u64> {
    let dir = root.join("sys/devices/system/cpu/cpu0/cache");
    let mut best: Option<(u32, u64)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let p = entry.path();
        if !p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("index"))
        {
            continue;
        }
        let read = |f: &str| std::fs::read_to_string(p.join(f)).ok();
        let Some(level) = read("level").and_then(|s| s.trim().parse::<u32>().ok()) else {
            continue;
        };
        if read("type").is_some_and(|t| t.trim() == "Instruction") {
            continue;
        }
        let Some(size) = read("size").and_then(|s| parse_size(s.trim())) else {
            continue;
        };
        if best.is_none_or(|(l, s)| level > l || (level == l && size > s)) {
            best = Some((level, size));
        }
    }
    best.map(|(_, s)| s)
}

/// `2048K`, `32M`, `512` (bytes) as bytes.
fn parse_size(s: &str) -> Option<u64> {
    let (num, mult) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1 << 10),
        'M' | 'm' => (&s[..s.len() - 1], 1 << 20),
        'G' | 'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.trim().parse::<u64>().ok()?.checked_mul(mult)
}

/// The random-input budget for samples of `sample_bytes` when one query moves
/// `traffic_bytes` through the cache: (budget bytes, distinct samples).
pub fn random_input_budget(
    facts: MemoryFacts,
    sample_bytes: u64,
    traffic_bytes: u64,
) -> (u64, u64) {
    let sample = sample_bytes.max(1);
    let llc = facts.llc_bytes.unwrap_or(DEFAULT_LLC_BYTES);
    let mem = facts.mem_available_bytes.unwrap_or(DEFAULT_MEM_AVAILABLE);
    let for_cache = (CACHE_FACTOR * llc).div_ceil(traffic_bytes.max(sample)) * sample;
    let budget = for_cache.min(mem / MEM_SHARE);
    (budget, (budget / sample).max(MIN_DISTINCT))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(meminfo: Option<&str>, caches: &[(&str, &str, &str)]) -> std::path::PathBuf {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let root = std::env::temp_dir().join(format!(
            "edgemark-budget-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("proc")).unwrap();
        if let Some(m) = meminfo {
            std::fs::write(root.join("proc/meminfo"), m).unwrap();
        }
        for (i, (level, ty, size)) in caches.iter().enumerate() {
            let d = root.join(format!("sys/devices/system/cpu/cpu0/cache/index{i}"));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("level"), format!("{level}\n")).unwrap();
            std::fs::write(d.join("type"), format!("{ty}\n")).unwrap();
            std::fs::write(d.join("size"), format!("{size}\n")).unwrap();
        }
        root
    }

    #[test]
    fn facts_come_from_meminfo_and_the_highest_cache_level() {
        let root = tree(
            Some("MemTotal:  3900000 kB\nMemFree: 100 kB\nMemAvailable:    2000000 kB\n"),
            &[
                ("1", "Data", "32K"),
                ("1", "Instruction", "48K"),
                ("2", "Unified", "512K"),
                ("3", "Unified", "4096K"),
            ],
        );
        let f = MemoryFacts::read(&root);
        assert_eq!(f.mem_available_bytes, Some(2_000_000 * 1024));
        assert_eq!(f.llc_bytes, Some(4 << 20));
        // A Raspberry Pi 4: no L3, the 1 MiB L2 is the LLC.
        let pi = tree(None, &[("1", "Data", "32K"), ("2", "Unified", "1024K")]);
        let f = MemoryFacts::read(&pi);
        assert_eq!(
            f,
            MemoryFacts {
                mem_available_bytes: None,
                llc_bytes: Some(1 << 20)
            }
        );
        assert_eq!(
            MemoryFacts::read(&root.join("nothing")),
            MemoryFacts::default()
        );
        std::fs::remove_dir_all(root).unwrap();
        std::fs::remove_dir_all(pi).unwrap();
    }

    #[test]
    fn budget_is_the_smaller_of_the_cache_and_memory_bounds() {
        let mb = 1u64 << 20;
        // 32 MiB LLC, 20 MiB traffic a query, 1 MiB samples: 64/20 -> 4 samples.
        let big = MemoryFacts {
            mem_available_bytes: Some(16 << 30),
            llc_bytes: Some(32 * mb),
        };
        assert_eq!(random_input_budget(big, mb, 20 * mb), (4 * mb, 4));
        // Light models move little data a query: more distinct inputs needed.
        assert_eq!(random_input_budget(big, mb, 2 * mb), (32 * mb, 32));
        // A small board: 256 MiB available caps inputs at 16 MiB.
        let small = MemoryFacts {
            mem_available_bytes: Some(256 * mb),
            llc_bytes: Some(32 * mb),
        };
        assert_eq!(random_input_budget(small, mb, 2 * mb), (16 * mb, 16));
        // Never fewer than MIN_DISTINCT, even when one sample exceeds the budget.
        let tiny = MemoryFacts {
            mem_available_bytes: Some(16 * mb),
            llc_bytes: Some(mb),
        };
        assert_eq!(random_input_budget(tiny, 8 * mb, 8 * mb).1, MIN_DISTINCT);
        // Unknown facts fall back to the documented defaults.
        let (b, _) = random_input_budget(MemoryFacts::default(), mb, mb);
        assert_eq!(b, CACHE_FACTOR * DEFAULT_LLC_BYTES);
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("2048K"), Some(2 << 20));
        assert_eq!(parse_size("32M"), Some(32 << 20));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("x"), None);
    }
}
