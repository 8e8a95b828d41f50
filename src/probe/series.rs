//! Sensor readings over time, kept by the sampler thread in fixed time bins
//! (1 s, doubled whenever the run outgrows [`MAX_BINS`], so memory stays
//! bounded on runs of any length). The record turns them into its
//! downsampled, difference-coded `SensorSeries`.

/// Bin width a series starts with: about one point a second.
pub const START_BIN_NS: u64 = 1_000_000_000;
/// At most this many bins are kept; beyond, neighbours are merged in pairs.
pub const MAX_BINS: usize = 1024;

/// A weighted sum: temperatures and frequencies weigh 1 per reading, energy
/// weighs the seconds it covered (so the mean is watts).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Acc {
    pub sum: f64,
    pub weight: f64,
}

impl Acc {
    pub fn mean(self) -> Option<f64> {
        (self.weight > 0.0).then(|| self.sum / self.weight)
    }

    fn add(&mut self, other: Acc) {
        self.sum += other.sum;
        self.weight += other.weight;
    }
}

/// What one track measures, in the sampler's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesKind {
    /// A thermal zone (by index), m°C.
    TemperatureMillicelsius { zone: u32 },
    /// One core's `scaling_cur_freq`, kHz.
    FrequencyKhz { cpu: u32 },
    /// One energy channel (by position in the summary's rails), µW.
    PowerMicrowatts { rail: u32 },
    /// Raspberry Pi throttle "now" bits, OR over the bin (`sum` holds the bits).
    ThrottleBits,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeriesTrack {
    pub kind: SeriesKind,
    pub bins: Vec<Acc>,
}

/// Every sampled sensor over the run, bin `i` covering
/// `[i * bin_ns, (i + 1) * bin_ns)` from the sampler's start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProbeSeries {
    pub bin_ns: u64,
    pub tracks: Vec<SeriesTrack>,
}

impl ProbeSeries {
    pub fn new() -> ProbeSeries {
        ProbeSeries {
            bin_ns: START_BIN_NS,
            tracks: Vec::new(),
        }
    }

    /// Number of bins spanned so far.
    pub fn len(&self) -> usize {
        self.tracks.iter().map(|t| t.bins.len()).max().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn track(&mut self, kind: SeriesKind) -> &mut SeriesTrack {
        let at = match self.tracks.iter().position(|t| t.kind == kind) {
            Some(i) => i,
            None => {
                self.tracks.push(SeriesTrack {
                    kind,
                    bins: Vec::new(),
                });
                self.tracks.len() - 1
            }
        };
        &mut self.tracks[at]
    }

    /// Adds a reading at `now_ns` (from the sampler's start).
    pub fn add(&mut self, kind: SeriesKind, now_ns: u64, value: Acc) {
        let mut bin = (now_ns / self.bin_ns.max(1)) as usize;
        while bin >= MAX_BINS {
            self.halve();
            bin = (now_ns / self.bin_ns) as usize;
        }
        let t = self.track(kind);
        if t.bins.len() <= bin {
            t.bins.resize(bin + 1, Acc::default());
        }
        if let SeriesKind::ThrottleBits = kind {
            let b = &mut t.bins[bin];
            b.sum = ((b.sum as u32) | (value.sum as u32)) as f64;
            b.weight += value.weight;
        } else {
            t.bins[bin].add(value);
        }
    }

    /// Doubles the bin width, merging neighbours.
    fn halve(&mut self) {
        self.bin_ns *= 2;
        for t in &mut self.tracks {
            let throttle = matches!(t.kind, SeriesKind::ThrottleBits);
            t.bins = t
                .bins
                .chunks(2)
                .map(|c| {
                    let mut a = c[0];
                    if let Some(&b) = c.get(1) {
                        if throttle {
                            a.sum = ((a.sum as u32) | (b.sum as u32)) as f64;
                            a.weight += b.weight;
                        } else {
                            a.add(b);
                        }
                    }
                    a
                })
                .collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(v: f64) -> Acc {
        Acc {
            sum: v,
            weight: 1.0,
        }
    }

    #[test]
    fn readings_land_in_their_second_and_average() {
        let mut s = ProbeSeries::new();
        let z = SeriesKind::TemperatureMillicelsius { zone: 0 };
        s.add(z, 0, one(40_000.0));
        s.add(z, 500_000_000, one(42_000.0));
        s.add(z, 2_100_000_000, one(50_000.0));
        assert_eq!(s.len(), 3);
        let t = &s.tracks[0];
        assert_eq!(t.bins[0].mean(), Some(41_000.0));
        assert_eq!(t.bins[1].mean(), None);
        assert_eq!(t.bins[2].mean(), Some(50_000.0));
    }

    #[test]
    fn long_runs_stay_bounded_and_keep_means() {
        let mut s = ProbeSeries::new();
        let f = SeriesKind::FrequencyKhz { cpu: 0 };
        let th = SeriesKind::ThrottleBits;
        // Three hours at 4 Hz.
        for i in 0..(3 * 3600 * 4u64) {
            let now = i * 250_000_000;
            s.add(f, now, one(if i % 2 == 0 { 1000.0 } else { 2000.0 }));
            s.add(
                th,
                now,
                Acc {
                    sum: if i == 5 { 2.0 } else { 0.0 },
                    weight: 1.0,
                },
            );
        }
        assert!(s.len() <= MAX_BINS, "{}", s.len());
        assert!(s.bin_ns > START_BIN_NS);
        assert!(s.tracks[0].bins.iter().all(|b| b.mean() == Some(1500.0)));
        // The throttle bit of sample 5 survives every merge, in the first bin only.
        assert_eq!(s.tracks[1].bins[0].sum, 2.0);
        assert!(s.tracks[1].bins[1..].iter().all(|b| b.sum == 0.0));
    }
}
