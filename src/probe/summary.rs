//! What the sensors saw during one scenario, and the warning policy over it
//! (throttling, frequency changes): the sampler's result, apart from how it
//! was sampled.

use super::series::ProbeSeries;
use super::throttle_bits;

/// Which kind of sensor the energy figure came from. Persisted via the record's
/// own enum; this one is in-memory only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnergySource {
    /// `/sys/class/powercap/intel-rapl:N/energy_uj` counters (CPU package, or psys).
    Rapl,
    /// hwmon `energy*_input` counters (µJ).
    HwmonEnergy,
    /// Jetson INA3221 hwmon: voltage x current per rail; total from the input rail.
    Ina3221,
    /// hwmon `power*_input` (µW), integrated over the samples.
    HwmonPower,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RailEnergy {
    pub label: String,
    pub energy_uj: u64,
    /// Counted in the total (RAPL packages or psys, the INA3221 input rail).
    pub in_total: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnergySummary {
    pub source: EnergySource,
    /// Energy of the channels marked `in_total`; None when none could be (e.g. a
    /// Jetson whose input rail is not labelled).
    pub total_uj: Option<u64>,
    /// Time between the first and last energy reading.
    pub span_ns: u64,
    pub rails: Vec<RailEnergy>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ZoneTemps {
    pub index: u32,
    pub kind: String,
    pub min_millicelsius: i64,
    pub max_millicelsius: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreFreqRange {
    pub cpu: u32,
    pub min_khz: u64,
    pub max_khz: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleSummary {
    /// The word at the first and the last sample.
    pub first: u32,
    pub last: u32,
    /// OR of the "now" bits over all samples.
    pub now_seen: u32,
}

/// What the sensors saw during one scenario.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProbeSummary {
    pub period_ns: u64,
    pub samples: u32,
    pub zones: Vec<ZoneTemps>,
    pub cores: Vec<CoreFreqRange>,
    pub throttle: Option<ThrottleSummary>,
    pub energy: Option<EnergySummary>,
    /// Sensor files that exist but could not be read or parsed (named).
    pub warnings: Vec<String>,
    /// The same readings over time, in time bins (for the record's series).
    pub series: ProbeSeries,
}

impl ProbeSummary {
    /// Average power over the sampled span, watts (informative).
    pub fn average_watts(&self) -> Option<f64> {
        let e = self.energy.as_ref()?;
        let uj = e.total_uj?;
        (e.span_ns > 0).then(|| uj as f64 / 1e6 / (e.span_ns as f64 / 1e9))
    }

    pub fn max_temp_millicelsius(&self) -> Option<i64> {
        self.zones.iter().map(|z| z.max_millicelsius).max()
    }

    /// Warnings about conditions during the run: throttling, frequency changes.
    pub fn condition_warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if let Some(t) = self.throttle {
            let new_since_boot = (t.last & !t.first) & throttle_bits::SINCE_BOOT_MASK;
            let seen = (t.now_seen & throttle_bits::NOW_MASK) | new_since_boot;
            if seen != 0 {
                w.push(format!(
                    "the board throttled during the run ({}; get_throttled 0x{:x} -> 0x{:x})",
                    throttle_bits::describe(seen).join(", "),
                    t.first,
                    t.last
                ));
            }
        }
        let changed: Vec<String> = self
            .cores
            .iter()
            .filter(|c| c.min_khz != c.max_khz)
            .map(|c| format!("cpu{} {}-{} MHz", c.cpu, c.min_khz / 1000, c.max_khz / 1000))
            .collect();
        if !changed.is_empty() {
            w.push(format!(
                "CPU frequency changed during the run: {}",
                changed.join(", ")
            ));
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condition_warnings_for_throttle_and_frequency() {
        let s = ProbeSummary {
            throttle: Some(ThrottleSummary {
                first: 0,
                last: 0x40000,
                now_seen: 0,
            }),
            cores: vec![
                CoreFreqRange {
                    cpu: 0,
                    min_khz: 600_000,
                    max_khz: 1_500_000,
                },
                CoreFreqRange {
                    cpu: 1,
                    min_khz: 1_500_000,
                    max_khz: 1_500_000,
                },
            ],
            ..Default::default()
        };
        let w = s.condition_warnings();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("throttled"), "{}", w[0]);
        assert!(
            w[1].contains("cpu0 600-1500 MHz") && !w[1].contains("cpu1"),
            "{}",
            w[1]
        );

        // Since-boot bits already set at the start are history, not this run.
        let quiet = ProbeSummary {
            throttle: Some(ThrottleSummary {
                first: 0x50000,
                last: 0x50000,
                now_seen: 0,
            }),
            ..Default::default()
        };
        assert!(quiet.condition_warnings().is_empty());
    }

    #[test]
    fn average_watts_needs_a_total_and_a_span() {
        let mut s = ProbeSummary {
            energy: Some(EnergySummary {
                source: EnergySource::Rapl,
                total_uj: Some(10_000_000),
                span_ns: 2_000_000_000,
                rails: vec![],
            }),
            ..Default::default()
        };
        assert_eq!(s.average_watts(), Some(5.0));
        s.energy.as_mut().unwrap().span_ns = 0;
        assert_eq!(s.average_watts(), None);
    }
}
