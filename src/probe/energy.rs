//! Where a box's energy figures come from, found once before sampling:
//! Intel RAPL counters, hwmon energy or power inputs, Jetson INA3221 rails
//! (hwmon, or the older iio driver). The sampler reads the channels found.

use std::path::{Path, PathBuf};

use super::summary::EnergySource;
use super::{ProbeWarning, ProbeWarnings, Read, numbered_entries, read_text, read_u64, rooted};

#[derive(Debug)]
pub(super) enum Reading {
    /// A cumulative µJ counter; wraps at `max_range_uj` when known.
    Counter {
        path: PathBuf,
        max_range_uj: Option<u64>,
        last: Option<u64>,
    },
    /// Instantaneous power: the file's value times `to_uw` is µW (hwmon: 1;
    /// the older Jetson iio driver reports mW: 1000).
    PowerUw {
        path: PathBuf,
        to_uw: u64,
        last: Option<(u64, u64)>,
    },
    /// INA3221: mV and mA, so µW = mV * mA.
    VoltCurr {
        mv: PathBuf,
        ma: PathBuf,
        last: Option<(u64, u64)>,
    },
}

#[derive(Debug)]
pub(super) struct Channel {
    pub(super) label: String,
    pub(super) in_total: bool,
    pub(super) reading: Reading,
    /// Counters accumulate exactly; integrated power in f64 µJ.
    pub(super) energy_uj: f64,
}

/// The energy channels under `root`, the first kind found of: RAPL, hwmon
/// energy counters, INA3221 rails, hwmon power inputs. None: no energy sensor.
pub(super) fn find(
    root: &Path,
    warnings: &mut ProbeWarnings,
) -> Option<(EnergySource, Vec<Channel>)> {
    if let Some(ch) = rapl_channels(root, warnings)
        && !ch.is_empty()
    {
        return Some((EnergySource::Rapl, ch));
    }
    let Hwmon {
        energy,
        mut ina,
        power,
    } = hwmon_channels(root, warnings);
    ina.extend(jetson_iio_rails(root, warnings));
    let (source, channels) = if !energy.is_empty() {
        (EnergySource::HwmonEnergy, energy)
    } else if !ina.is_empty() {
        if !ina.iter().any(|c| c.in_total) {
            let rails = ina.iter().map(|c| c.label.clone()).collect();
            warnings.push(ProbeWarning::NoInputRail { rails });
        }
        (EnergySource::Ina3221, ina)
    } else if !power.is_empty() {
        (EnergySource::HwmonPower, power)
    } else {
        return None;
    };
    Some((source, channels))
}

/// hwmon's channels by kind: energy counters, INA3221 rails, power inputs.
#[derive(Default)]
struct Hwmon {
    energy: Vec<Channel>,
    ina: Vec<Channel>,
    power: Vec<Channel>,
}

fn hwmon_channels(root: &Path, warnings: &mut ProbeWarnings) -> Hwmon {
    let Hwmon {
        mut energy,
        mut ina,
        mut power,
    } = Hwmon::default();
    for (n, dir) in numbered_entries(&rooted(root, "/sys/class/hwmon"), "hwmon") {
        let name = read_text(&dir.join("name"))
            .ok(warnings)
            .unwrap_or_else(|| format!("hwmon{n}"));
        if name == "ina3221" {
            for i in 1..=3 {
                let (mv, ma) = (
                    dir.join(format!("in{i}_input")),
                    dir.join(format!("curr{i}_input")),
                );
                if !(mv.exists() && ma.exists()) {
                    continue;
                }
                let label = read_text(&dir.join(format!("in{i}_label")))
                    .ok(warnings)
                    .unwrap_or_else(|| format!("{name} channel {i}"));
                let in_total = is_input_rail(&label);
                ina.push(Channel {
                    label,
                    in_total,
                    reading: Reading::VoltCurr { mv, ma, last: None },
                    energy_uj: 0.0,
                });
            }
            continue;
        }
        for (kind, list) in [("energy", &mut energy), ("power", &mut power)] {
            for i in 1..=16 {
                let path = dir.join(format!("{kind}{i}_input"));
                if !path.exists() {
                    continue;
                }
                let label = read_text(&dir.join(format!("{kind}{i}_label")))
                    .ok(warnings)
                    .map(|l| format!("{name} {l}"))
                    .unwrap_or_else(|| format!("{name} {kind}{i}"));
                let reading = if kind == "energy" {
                    Reading::Counter {
                        path,
                        max_range_uj: None,
                        last: None,
                    }
                } else {
                    Reading::PowerUw {
                        path,
                        to_uw: 1,
                        last: None,
                    }
                };
                list.push(Channel {
                    label,
                    in_total: true,
                    reading,
                    energy_uj: 0.0,
                });
            }
        }
    }
    Hwmon { energy, ina, power }
}

/// Older Jetson kernels (L4T 32, e.g. Jetson Nano, TX2) expose the INA3221
/// through the `ina3221x` iio driver: `rail_name_N` and `in_power{N}_input` (mW).
fn jetson_iio_rails(root: &Path, warnings: &mut ProbeWarnings) -> Vec<Channel> {
    let mut out = Vec::new();
    let drv = rooted(root, "/sys/bus/i2c/drivers/ina3221x");
    let mut chips: Vec<PathBuf> = std::fs::read_dir(&drv)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    chips.sort();
    for chip in chips {
        for (_, dev) in numbered_entries(&chip, "iio:device") {
            for n in 0..3 {
                let path = dev.join(format!("in_power{n}_input"));
                if !path.exists() {
                    continue;
                }
                let label = read_text(&dev.join(format!("rail_name_{n}")))
                    .ok(warnings)
                    .unwrap_or_else(|| format!("ina3221x rail {n}"));
                out.push(Channel {
                    in_total: is_input_rail(&label),
                    label,
                    reading: Reading::PowerUw {
                        path,
                        to_uw: 1000,
                        last: None,
                    },
                    energy_uj: 0.0,
                });
            }
        }
    }
    out
}

/// Jetson boards name their input rail VDD_IN (Orin, Xavier) or POM_5V_IN (Nano, TX2).
fn is_input_rail(label: &str) -> bool {
    let l = label.to_ascii_uppercase();
    l == "VDD_IN" || l.ends_with("_IN")
}

/// Top-level RAPL zones (`intel-rapl:N`, not the `intel-rapl:N:M` subzones,
/// which are parts of a package). The total is `psys` (whole platform) when
/// present, else the sum of the packages. None when there is no powercap.
fn rapl_channels(root: &Path, warnings: &mut ProbeWarnings) -> Option<Vec<Channel>> {
    let dir = rooted(root, "/sys/class/powercap");
    let mut zones = numbered_entries(&dir, "intel-rapl:");
    if zones.is_empty() {
        return None;
    }
    zones.retain(|(_, p)| p.join("energy_uj").exists());
    let mut out = Vec::new();
    for (n, zdir) in zones {
        let path = zdir.join("energy_uj");
        // Since Linux 5.10 energy_uj is 0400 root: say so once, clearly.
        match read_u64(&path) {
            Read::Value(_) => {}
            Read::Absent => continue,
            Read::Broken(m) => {
                warnings.push(ProbeWarning::Unreadable(m));
                continue;
            }
        }
        let name = read_text(&zdir.join("name"))
            .ok(warnings)
            .unwrap_or_else(|| format!("intel-rapl:{n}"));
        let max = read_u64(&zdir.join("max_energy_range_uj")).ok(warnings);
        out.push(Channel {
            label: name,
            in_total: false,
            reading: Reading::Counter {
                path,
                max_range_uj: max,
                last: None,
            },
            energy_uj: 0.0,
        });
    }
    let has_psys = out.iter().any(|c| c.label == "psys");
    for c in &mut out {
        c.in_total = if has_psys {
            c.label == "psys"
        } else {
            c.label.starts_with("package")
        };
    }
    if !out.is_empty() && !out.iter().any(|c| c.in_total) {
        for c in &mut out {
            c.in_total = true;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_rails() {
        assert!(is_input_rail("VDD_IN"));
        assert!(is_input_rail("POM_5V_IN"));
        assert!(!is_input_rail("VDD_CPU_GPU_CV"));
        assert!(!is_input_rail("VDD_SOC"));
    }
}
