//! The static description of the box, read once before a run: CPU model and
//! cores (with big/little clusters), board, kernel, memory, cpufreq policy per
//! core and the thermal zones.

use std::collections::BTreeMap;
use std::path::Path;

use super::{ProbeWarnings, kb_bytes, numbered_entries, read_text, read_u64, rooted};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SystemInfo {
    pub hostname: Option<String>,
    /// Device-tree model (ARM boards), else DMI "vendor product" (x86).
    pub board: Option<String>,
    /// "model name" (x86, armv7), else the ARM core names from "CPU part".
    pub cpu_model: Option<String>,
    /// Logical CPUs listed in /proc/cpuinfo (or present in sysfs).
    pub cores: u32,
    /// CPUs grouped by cpufreq maximum frequency, fastest first (big.LITTLE).
    pub clusters: Vec<CpuCluster>,
    /// /proc/sys/kernel/osrelease.
    pub kernel: Option<String>,
    /// MemTotal, bytes.
    pub mem_total_bytes: Option<u64>,
    pub cpufreq: Vec<CoreFreqPolicy>,
    pub thermal_zones: Vec<ThermalZone>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuCluster {
    pub max_freq_khz: u64,
    pub cpus: Vec<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreFreqPolicy {
    pub cpu: u32,
    pub governor: Option<String>,
    /// scaling_min_freq / scaling_max_freq, kHz.
    pub min_khz: Option<u64>,
    pub max_khz: Option<u64>,
    /// cpuinfo_max_freq, kHz: the hardware maximum (clusters are built from it).
    pub hw_max_khz: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThermalZone {
    pub index: u32,
    /// The zone's `type` (e.g. "cpu-thermal", "x86_pkg_temp").
    pub kind: String,
}

impl SystemInfo {
    /// Warnings about the box's setup that make figures less comparable.
    pub fn setup_warnings(&self) -> Vec<String> {
        let mut slow: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        for p in &self.cpufreq {
            if let Some(g) = p.governor.as_deref()
                && g != "performance"
            {
                slow.entry(g).or_default().push(p.cpu);
            }
        }
        slow.into_iter()
            .map(|(g, cpus)| {
                format!(
                    "cpufreq governor is {g:?}, not \"performance\", on cpu {}: frequency may vary during the run",
                    cpu_list(&cpus)
                )
            })
            .collect()
    }
}

/// "0-3,6" style list.
pub fn cpu_list(cpus: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        let mut end = start;
        while i + 1 < cpus.len() && cpus[i + 1] == end + 1 {
            i += 1;
            end = cpus[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// Reads the system description under `root`. Never fails: absent files leave
/// fields empty; broken ones add a warning naming the path.
pub fn describe(root: &Path) -> (SystemInfo, Vec<String>) {
    let mut w = ProbeWarnings::default();
    let mut info = SystemInfo {
        hostname: read_text(&rooted(root, "/proc/sys/kernel/hostname")).ok(&mut w),
        kernel: read_text(&rooted(root, "/proc/sys/kernel/osrelease")).ok(&mut w),
        board: board(root, &mut w),
        ..SystemInfo::default()
    };
    info.hostname = info.hostname.filter(|s| !s.is_empty());

    if let Some(text) = read_text(&rooted(root, "/proc/cpuinfo")).ok(&mut w) {
        let (model, n) = parse_cpuinfo(&text);
        info.cpu_model = model;
        info.cores = n;
    }
    if let Some(text) = read_text(&rooted(root, "/proc/meminfo")).ok(&mut w) {
        info.mem_total_bytes = text
            .lines()
            .find_map(|l| kb_bytes(l.strip_prefix("MemTotal:")?));
    }

    let cpu_dir = rooted(root, "/sys/devices/system/cpu");
    let cpus = numbered_entries(&cpu_dir, "cpu");
    if info.cores == 0 {
        info.cores = cpus.len() as u32;
    }
    for (n, dir) in &cpus {
        let f = dir.join("cpufreq");
        if !f.is_dir() {
            continue;
        }
        info.cpufreq.push(CoreFreqPolicy {
            cpu: *n,
            governor: read_text(&f.join("scaling_governor")).ok(&mut w),
            min_khz: read_u64(&f.join("scaling_min_freq")).ok(&mut w),
            max_khz: read_u64(&f.join("scaling_max_freq")).ok(&mut w),
            hw_max_khz: read_u64(&f.join("cpuinfo_max_freq")).ok(&mut w),
        });
    }
    let mut by_freq: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
    for p in &info.cpufreq {
        if let Some(f) = p.hw_max_khz {
            by_freq.entry(f).or_default().push(p.cpu);
        }
    }
    info.clusters = by_freq
        .into_iter()
        .rev()
        .map(|(max_freq_khz, cpus)| CpuCluster { max_freq_khz, cpus })
        .collect();

    for (index, dir) in numbered_entries(&rooted(root, "/sys/class/thermal"), "thermal_zone") {
        let kind = read_text(&dir.join("type")).ok(&mut w).unwrap_or_default();
        info.thermal_zones.push(ThermalZone { index, kind });
    }
    (info, w.texts())
}

fn board(root: &Path, w: &mut ProbeWarnings) -> Option<String> {
    if let Some(m) = read_text(&rooted(root, "/proc/device-tree/model"))
        .ok(w)
        .filter(|s| !s.is_empty())
    {
        return Some(m);
    }
    let dmi = |f: &str, w: &mut ProbeWarnings| {
        read_text(&rooted(root, &format!("/sys/class/dmi/id/{f}")))
            .ok(w)
            .filter(|s| !s.is_empty() && !is_placeholder(s))
    };
    let vendor = dmi("sys_vendor", w);
    let product = dmi("product_name", w);
    match (vendor, product) {
        (Some(v), Some(p)) if p.starts_with(&v) => Some(p),
        (Some(v), Some(p)) => Some(format!("{v} {p}")),
        (None, Some(p)) => Some(p),
        (Some(v), None) => Some(v),
        (None, None) => None,
    }
}

/// DMI fields that firmware left at their template value say nothing.
fn is_placeholder(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.contains("to be filled")
        || l == "default string"
        || l == "system product name"
        || l == "not specified"
}

/// (CPU model, number of logical CPUs).
fn parse_cpuinfo(text: &str) -> (Option<String>, u32) {
    let mut model = None;
    let mut parts: Vec<String> = Vec::new();
    let mut count = 0u32;
    let mut implementer = String::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "processor" if v.parse::<u32>().is_ok() => count += 1,
            "model name" if model.is_none() && !v.is_empty() => model = Some(v.to_string()),
            "CPU implementer" => implementer = v.to_string(),
            "CPU part" => {
                let name = arm_core_name(&implementer, v);
                if !parts.contains(&name) {
                    parts.push(name);
                }
            }
            _ => {}
        }
    }
    // aarch64 kernels print no "model name": name the cores from their part numbers.
    let model = model.or_else(|| (!parts.is_empty()).then(|| parts.join(" + ")));
    (model, count)
}

fn arm_core_name(implementer: &str, part: &str) -> String {
    let known = match (implementer, part) {
        ("0x41", "0xd03") => "Cortex-A53",
        ("0x41", "0xd04") => "Cortex-A35",
        ("0x41", "0xd05") => "Cortex-A55",
        ("0x41", "0xd07") => "Cortex-A57",
        ("0x41", "0xd08") => "Cortex-A72",
        ("0x41", "0xd09") => "Cortex-A73",
        ("0x41", "0xd0a") => "Cortex-A75",
        ("0x41", "0xd0b") => "Cortex-A76",
        ("0x41", "0xd0d") => "Cortex-A77",
        ("0x41", "0xd41") => "Cortex-A78",
        ("0x41", "0xd42") => "Cortex-A78AE",
        ("0x41", "0xd46") => "Cortex-A510",
        ("0x41", "0xd47") => "Cortex-A710",
        ("0x41", "0xc07") => "Cortex-A7",
        ("0x41", "0xc0f") => "Cortex-A15",
        ("0x4e", "0x004") => "NVIDIA Carmel",
        _ => "",
    };
    if known.is_empty() {
        format!("ARM part {implementer}/{part}")
    } else {
        known.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_are_compact() {
        assert_eq!(cpu_list(&[0, 1, 2, 3, 6]), "0-3,6");
        assert_eq!(cpu_list(&[4]), "4");
        assert_eq!(cpu_list(&[]), "");
    }

    #[test]
    fn arm_cpuinfo_names_each_core_type_once() {
        let text = "processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xd05\n\n\
                    processor\t: 1\nCPU implementer\t: 0x41\nCPU part\t: 0xd05\n\n\
                    processor\t: 2\nCPU implementer\t: 0x41\nCPU part\t: 0xd0b\n";
        assert_eq!(
            parse_cpuinfo(text),
            (Some("Cortex-A55 + Cortex-A76".into()), 3)
        );
    }

    #[test]
    fn governor_warning_names_cpus() {
        let mut s = SystemInfo::default();
        for cpu in 0..4 {
            s.cpufreq.push(CoreFreqPolicy {
                cpu,
                governor: Some(if cpu < 3 { "ondemand" } else { "performance" }.into()),
                ..Default::default()
            });
        }
        let w = s.setup_warnings();
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains("\"ondemand\"") && w[0].contains("cpu 0-2"),
            "{}",
            w[0]
        );
    }
}
