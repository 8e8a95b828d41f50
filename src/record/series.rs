//! From the sampler's time bins to the record's [`SensorSeries`]: sensors
//! grouped the way a reader plots them (each thermal zone, each CPU cluster,
//! total power), in coarse integer units, downsampled to at most
//! [`MAX_POINTS`] points and further until the series fits [`BYTE_BUDGET`].

use crate::probe::series::{ProbeSeries, SeriesKind};
use crate::probe::{CpuCluster, EnergySummary};

use super::schema::{Quantity, SensorSeries, SeriesTrack};

/// At most this many points per track (a 10-minute run at 1 Hz is 600 bins).
pub const MAX_POINTS: usize = 300;
/// Fewest points the budget may bring a series down to.
pub const MIN_POINTS: usize = 16;
/// Encoded size the series of a record aims to stay under, so a default
/// record of a 10-minute run on a sensor-rich board stays below 4 KiB.
pub const BYTE_BUDGET: usize = 1536;

/// `sensor` value of the total power track.
pub const TOTAL_POWER: u32 = u32::MAX;

/// One track before downsampling: a value per bin (None: no reading there).
struct Raw {
    quantity: Quantity,
    sensor: u32,
    /// Record unit per sampler unit.
    scale: f64,
    bins: Vec<Option<f64>>,
}

fn means(s: &ProbeSeries, kind: SeriesKind) -> Option<Vec<Option<f64>>> {
    s.tracks
        .iter()
        .find(|t| t.kind == kind)
        .map(|t| t.bins.iter().map(|b| b.mean()).collect())
}

/// Per bin, the mean (or, with `sum`, the total) of the tracks that have a
/// reading there; None where none has.
fn combine(parts: &[Vec<Option<f64>>], len: usize, sum: bool) -> Vec<Option<f64>> {
    (0..len)
        .map(|i| {
            let vals: Vec<f64> = parts
                .iter()
                .filter_map(|p| p.get(i).copied().flatten())
                .collect();
            if vals.is_empty() {
                None
            } else if sum {
                Some(vals.iter().sum())
            } else {
                Some(vals.iter().sum::<f64>() / vals.len() as f64)
            }
        })
        .collect()
}

/// One track per thermal zone.
fn temperature_tracks(s: &ProbeSeries) -> Vec<Raw> {
    s.tracks
        .iter()
        .filter_map(|t| match t.kind {
            SeriesKind::TemperatureMillicelsius { zone } => Some(Raw {
                quantity: Quantity::TemperatureDeciCelsius,
                sensor: zone,
                scale: 0.01,
                bins: t.bins.iter().map(|b| b.mean()).collect(),
            }),
            _ => None,
        })
        .collect()
}

/// One track per CPU cluster (all cores one group when the clusters are
/// unknown), the mean of its cores' frequencies, named by its first CPU.
fn frequency_tracks(s: &ProbeSeries, clusters: &[CpuCluster], len: usize) -> Vec<Raw> {
    let cores: Vec<u32> = s
        .tracks
        .iter()
        .filter_map(|t| match t.kind {
            SeriesKind::FrequencyKhz { cpu } => Some(cpu),
            _ => None,
        })
        .collect();
    let groups: Vec<Vec<u32>> = if clusters.is_empty() {
        vec![cores]
    } else {
        clusters.iter().map(|c| c.cpus.clone()).collect()
    };
    let mut raw = Vec::new();
    for g in groups {
        let parts: Vec<_> = g
            .iter()
            .filter_map(|&cpu| means(s, SeriesKind::FrequencyKhz { cpu }))
            .collect();
        if let (false, Some(&first)) = (parts.is_empty(), g.iter().min()) {
            raw.push(Raw {
                quantity: Quantity::FrequencyMhz,
                sensor: first,
                scale: 1e-3,
                bins: combine(&parts, len, false),
            });
        }
    }
    raw
}

/// The total of the `in_total` rails, or each rail when none is.
fn power_tracks(s: &ProbeSeries, e: &EnergySummary, len: usize) -> Vec<Raw> {
    let rail = |i: usize| means(s, SeriesKind::PowerMicrowatts { rail: i as u32 });
    let total: Vec<_> = (0..e.rails.len())
        .filter(|&i| e.rails[i].in_total)
        .filter_map(rail)
        .collect();
    if !total.is_empty() {
        return vec![Raw {
            quantity: Quantity::PowerMilliwatts,
            sensor: TOTAL_POWER,
            scale: 1e-3,
            bins: combine(&total, len, true),
        }];
    }
    (0..e.rails.len())
        .filter_map(|i| {
            rail(i).map(|bins| Raw {
                quantity: Quantity::PowerMilliwatts,
                sensor: i as u32,
                scale: 1e-3,
                bins,
            })
        })
        .collect()
}

fn throttle_track(s: &ProbeSeries) -> Option<Raw> {
    let t = s
        .tracks
        .iter()
        .find(|t| t.kind == SeriesKind::ThrottleBits)?;
    // Bits are OR-ed, not averaged: `sum` is the word.
    Some(Raw {
        quantity: Quantity::ThrottleBits,
        sensor: 0,
        scale: 1.0,
        bins: t
            .bins
            .iter()
            .map(|b| (b.weight > 0.0).then_some(b.sum))
            .collect(),
    })
}

/// The tracks downsampled to at most [`MAX_POINTS`] points, and further until
/// the series fits [`BYTE_BUDGET`] (or is down to [`MIN_POINTS`]).
fn within_budget(raw: &[Raw], len: usize, bin_ns: u64) -> SensorSeries {
    let mut factor = len.div_ceil(MAX_POINTS).max(1);
    loop {
        let series = SensorSeries {
            start_ns: 0,
            step_ns: bin_ns.saturating_mul(factor as u64),
            tracks: raw.iter().map(|r| downsample(r, factor)).collect(),
        };
        let points = len.div_ceil(factor);
        if points <= MIN_POINTS || encoded_len(&series) <= BYTE_BUDGET {
            return series;
        }
        // Small steps: the fewest points lost to meet the budget.
        factor += (factor / 4).max(1);
    }
}

impl SensorSeries {
    /// The record's series, or None when no sensor was sampled.
    /// `clusters` groups the cores (one frequency track each, named by its
    /// first CPU; all cores are one group when unknown); power is the total
    /// of the `in_total` rails, or each rail when none is.
    pub fn from_probe(
        s: &ProbeSeries,
        clusters: &[CpuCluster],
        energy: Option<&EnergySummary>,
    ) -> Option<SensorSeries> {
        let len = s.len();
        if len == 0 {
            return None;
        }
        let mut raw = temperature_tracks(s);
        raw.extend(frequency_tracks(s, clusters, len));
        if let Some(e) = energy {
            raw.extend(power_tracks(s, e, len));
        }
        raw.extend(throttle_track(s));
        for r in &mut raw {
            // Tracks that stopped early repeat their last point.
            r.bins.resize(len, None);
        }
        raw.retain(|r| r.bins.iter().any(Option::is_some));
        if raw.is_empty() {
            return None;
        }
        Some(within_budget(&raw, len, s.bin_ns))
    }

    /// Number of points per track.
    pub fn points(&self) -> usize {
        self.tracks
            .iter()
            .map(|t| t.values.len())
            .max()
            .unwrap_or(0)
    }

    /// The tracks of one quantity.
    pub fn of(&self, q: Quantity) -> impl Iterator<Item = &SeriesTrack> {
        self.tracks.iter().filter(move |t| t.quantity == q)
    }
}

fn encoded_len(s: &SensorSeries) -> usize {
    postcard::to_stdvec(s).map_or(usize::MAX, |v| v.len())
}

/// Groups of `factor` bins into one point: the mean of their readings (the
/// OR for throttle bits); a group without readings repeats the previous
/// point (the first ones take the first reading).
fn downsample(r: &Raw, factor: usize) -> SeriesTrack {
    let throttle = r.quantity == Quantity::ThrottleBits;
    let mut pts: Vec<Option<f64>> = r
        .bins
        .chunks(factor)
        .map(|c| {
            let vals: Vec<f64> = c.iter().filter_map(|v| *v).collect();
            if vals.is_empty() {
                None
            } else if throttle {
                Some(vals.iter().fold(0u32, |a, &v| a | v as u32) as f64)
            } else {
                Some(vals.iter().sum::<f64>() / vals.len() as f64)
            }
        })
        .collect();
    let first = pts.iter().find_map(|v| *v).unwrap_or(0.0);
    let mut prev = first;
    for p in &mut pts {
        match p {
            Some(v) => prev = *v,
            None => *p = Some(prev),
        }
    }
    SeriesTrack {
        quantity: r.quantity,
        sensor: r.sensor,
        values: pts
            .into_iter()
            .map(|v| (v.unwrap_or(first) * r.scale).round() as i64)
            .collect(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::probe::series::Acc;
    use crate::probe::{EnergySource, RailEnergy};

    fn one(v: f64) -> Acc {
        Acc {
            sum: v,
            weight: 1.0,
        }
    }

    /// `seconds` of sampling at 4 Hz on a big.LITTLE board with `zones`
    /// thermal zones heating up, a frequency drop at two thirds (throttling)
    /// and an INA3221-like input rail plus a CPU rail.
    pub(crate) fn board_run(
        seconds: u64,
        zones: u32,
    ) -> (ProbeSeries, Vec<CpuCluster>, EnergySummary) {
        let mut s = ProbeSeries::new();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut noise = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 1000) as f64 / 1000.0 - 0.5
        };
        let throttle_at = seconds * 2 / 3;
        for i in 0..seconds * 4 {
            let now = i * 250_000_000;
            let t = i as f64 / 4.0;
            let hot = t >= throttle_at as f64;
            for z in 0..zones {
                let c = 40.0 + 35.0 * (1.0 - (-t / 120.0).exp()) + z as f64 * 0.7 + noise();
                s.add(
                    SeriesKind::TemperatureMillicelsius { zone: z },
                    now,
                    one(c * 1000.0),
                );
            }
            for cpu in 0..8u32 {
                let khz = match (cpu < 4, hot) {
                    (true, _) => 1_800_000.0,
                    (false, false) => 2_400_000.0,
                    (false, true) => 1_608_000.0,
                };
                s.add(SeriesKind::FrequencyKhz { cpu }, now, one(khz));
            }
            if i > 0 {
                for (rail, w) in [(0u32, 6.5), (1, 3.2)] {
                    let uw = (w + noise() * 0.3) * 1e6;
                    s.add(
                        SeriesKind::PowerMicrowatts { rail },
                        now,
                        Acc {
                            sum: uw * 0.25,
                            weight: 0.25,
                        },
                    );
                }
            }
        }
        let clusters = vec![
            CpuCluster {
                max_freq_khz: 2_400_000,
                cpus: vec![4, 5, 6, 7],
            },
            CpuCluster {
                max_freq_khz: 1_800_000,
                cpus: vec![0, 1, 2, 3],
            },
        ];
        let energy = EnergySummary {
            source: EnergySource::Ina3221,
            total_uj: Some(1),
            span_ns: 1,
            rails: vec![
                RailEnergy {
                    label: "VDD_IN".into(),
                    energy_uj: 1,
                    in_total: true,
                },
                RailEnergy {
                    label: "VDD_CPU".into(),
                    energy_uj: 1,
                    in_total: false,
                },
            ],
        };
        (s, clusters, energy)
    }

    #[test]
    fn ten_minutes_on_a_sensor_rich_board_fit_the_budget() {
        let (s, clusters, energy) = board_run(600, 10);
        let series = SensorSeries::from_probe(&s, &clusters, Some(&energy)).unwrap();
        let bytes = encoded_len(&series);
        eprintln!(
            "series, 10 minutes, 10 zones + 2 clusters + total power: {} tracks x {} points, step {} s, {} bytes",
            series.tracks.len(),
            series.points(),
            series.step_ns as f64 / 1e9,
            bytes
        );
        assert!(bytes <= BYTE_BUDGET, "{bytes}");
        assert!(series.points() >= 60, "{}", series.points());
        assert_eq!(series.of(Quantity::TemperatureDeciCelsius).count(), 10);
        // Clusters named by their first CPU; the big one drops at two thirds.
        let big = series
            .of(Quantity::FrequencyMhz)
            .find(|t| t.sensor == 4)
            .unwrap();
        assert_eq!(big.values[0], 2400);
        assert_eq!(*big.values.last().unwrap(), 1608);
        let little = series
            .of(Quantity::FrequencyMhz)
            .find(|t| t.sensor == 0)
            .unwrap();
        assert!(little.values.iter().all(|&v| v == 1800));
        // Total power is the input rail only, ~6.5 W, not input + CPU.
        let p: Vec<_> = series.of(Quantity::PowerMilliwatts).collect();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].sensor, TOTAL_POWER);
        let mid = p[0].values[p[0].values.len() / 2];
        assert!((6_300..=6_700).contains(&mid), "{mid}");
        // Temperature rises from ~40 °C toward 75 °C.
        let z0 = series
            .of(Quantity::TemperatureDeciCelsius)
            .find(|t| t.sensor == 0)
            .unwrap();
        assert!((395..=420).contains(&z0.values[0]), "{}", z0.values[0]);
        assert!(*z0.values.last().unwrap() > 700);
    }

    #[test]
    fn short_runs_keep_one_point_a_second_and_gaps_repeat() {
        let mut s = ProbeSeries::new();
        let z = SeriesKind::TemperatureMillicelsius { zone: 3 };
        s.add(z, 1_200_000_000, one(50_000.0));
        s.add(z, 3_500_000_000, one(52_000.0));
        s.add(SeriesKind::ThrottleBits, 0, one(0.0));
        s.add(SeriesKind::ThrottleBits, 2_000_000_000, one(4.0));
        s.add(SeriesKind::ThrottleBits, 2_100_000_000, one(2.0));
        let series = SensorSeries::from_probe(&s, &[], None).unwrap();
        assert_eq!(series.step_ns, 1_000_000_000);
        let t = series.of(Quantity::TemperatureDeciCelsius).next().unwrap();
        assert_eq!(t.sensor, 3);
        assert_eq!(t.values, vec![500, 500, 500, 520]);
        let th = series.of(Quantity::ThrottleBits).next().unwrap();
        assert_eq!(th.values, vec![0, 0, 6, 6]);
    }

    #[test]
    fn nothing_sampled_is_no_series() {
        assert!(SensorSeries::from_probe(&ProbeSeries::new(), &[], None).is_none());
    }
}
