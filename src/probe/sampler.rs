//! Sensors sampled on their own thread at a fixed period while a scenario runs,
//! outside the timed path: per-zone temperature, per-core current frequency,
//! Raspberry Pi throttle bits, and energy (Intel RAPL counters, hwmon energy or
//! power inputs, Jetson INA3221 rails).
//!
//! [`Sampler::sample_once`] is the whole measurement step and takes the time
//! as an argument, so tests drive it by hand on a fixture tree (rewriting files
//! between steps) without threads or sleeps; [`Sampler::start`] only adds the
//! thread and the clock.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::energy::{self, Channel, Reading};
use super::series::{Acc, ProbeSeries, SeriesKind};
use super::summary::{
    CoreFreqRange, EnergySource, EnergySummary, ProbeSummary, RailEnergy, ThrottleSummary,
    ZoneTemps,
};
use super::{
    ProbeWarning, ProbeWarnings, Read, Unreadable, numbered_entries, read_i64, read_text, read_u64,
    rooted, throttle_bits,
};

/// Where the Raspberry Pi firmware driver exposes `get_throttled` (Raspberry Pi
/// OS kernels, `drivers/firmware/raspberrypi.c`), as a hex word.
pub const PI_THROTTLED_PATH: &str = "/sys/devices/platform/soc/soc:firmware/get_throttled";

/// A period that sees thermal and frequency changes (sysfs updates them every
/// few hundred ms at most) while costing the timed thread next to nothing.
pub const DEFAULT_PERIOD: Duration = Duration::from_millis(250);
#[derive(Debug)]
struct Zone {
    index: u32,
    kind: String,
    path: PathBuf,
    range: Option<(i64, i64)>,
}

#[derive(Debug)]
struct Core {
    cpu: u32,
    path: PathBuf,
    range: Option<(u64, u64)>,
}

/// The sensors found under a root, and what they have shown so far.
#[derive(Debug)]
pub struct Sampler {
    zones: Vec<Zone>,
    cores: Vec<Core>,
    throttle_path: Option<PathBuf>,
    throttle: Option<ThrottleSummary>,
    energy_source: Option<EnergySource>,
    channels: Vec<Channel>,
    first_ns: Option<u64>,
    last_ns: u64,
    samples: u32,
    period_ns: u64,
    broken: HashSet<PathBuf>,
    warnings: ProbeWarnings,
    series: ProbeSeries,
}

/// The running sampler thread; `stop` ends it and returns the summary.
#[derive(Debug)]
pub struct SamplerHandle {
    stop: mpsc::Sender<()>,
    /// Err: the thread could not be started.
    thread: std::io::Result<JoinHandle<ProbeSummary>>,
}

impl SamplerHandle {
    pub fn stop(self) -> ProbeSummary {
        let _ = self.stop.send(());
        let warning = |w: String| ProbeSummary {
            warnings: vec![w],
            ..ProbeSummary::default()
        };
        match self.thread {
            Ok(t) => t.join().unwrap_or_else(|_| {
                warning("the sensor sampler thread panicked; no sensor figures".into())
            }),
            // No thread, no sensors: the run itself must not fail for that.
            Err(e) => warning(format!("cannot start the sensor sampler thread: {e}")),
        }
    }
}

impl Sampler {
    /// Finds the sensors under `root`. Absent sensors are simply not sampled.
    pub fn new(root: &Path) -> Sampler {
        let mut s = Sampler {
            zones: Vec::new(),
            cores: Vec::new(),
            throttle_path: None,
            throttle: None,
            energy_source: None,
            channels: Vec::new(),
            first_ns: None,
            last_ns: 0,
            samples: 0,
            period_ns: 0,
            broken: HashSet::new(),
            warnings: ProbeWarnings::default(),
            series: ProbeSeries::new(),
        };
        for (index, dir) in numbered_entries(&rooted(root, "/sys/class/thermal"), "thermal_zone") {
            let path = dir.join("temp");
            if path.exists() {
                let kind = read_text(&dir.join("type"))
                    .ok(&mut s.warnings)
                    .unwrap_or_default();
                s.zones.push(Zone {
                    index,
                    kind,
                    path,
                    range: None,
                });
            }
        }
        for (cpu, dir) in numbered_entries(&rooted(root, "/sys/devices/system/cpu"), "cpu") {
            let path = dir.join("cpufreq/scaling_cur_freq");
            if path.exists() {
                s.cores.push(Core {
                    cpu,
                    path,
                    range: None,
                });
            }
        }
        s.throttle_path = find_throttled(root);
        if let Some((source, channels)) = energy::find(root, &mut s.warnings) {
            s.energy_source = Some(source);
            s.channels = channels;
        }
        s
    }

    /// Starts sampling `root` every `period` on a new thread (one sample right
    /// away, one at stop, so energy covers the whole run).
    pub fn start(root: &Path, period: Duration) -> SamplerHandle {
        let root = root.to_path_buf();
        let (tx, rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("edgemark-probe".into())
            .spawn(move || {
                let mut s = Sampler::new(&root);
                s.period_ns = period.as_nanos() as u64;
                let t0 = Instant::now();
                s.sample_once(0);
                while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(period) {
                    s.sample_once(t0.elapsed().as_nanos() as u64);
                }
                s.sample_once(t0.elapsed().as_nanos() as u64);
                s.finish()
            });
        SamplerHandle { stop: tx, thread }
    }

    /// `why`, once per file.
    fn note(&mut self, path: &Path, why: ProbeWarning) {
        if self.broken.insert(path.to_path_buf()) {
            self.warnings.push(why);
        }
    }

    fn take<T>(&mut self, path: &Path, r: Read<T>) -> Option<T> {
        match r {
            Read::Value(v) => Some(v),
            Read::Absent => None,
            Read::Broken(m) => {
                self.note(path, ProbeWarning::Unreadable(m));
                None
            }
        }
    }

    /// One reading of every sensor at monotonic time `now_ns`.
    pub fn sample_once(&mut self, now_ns: u64) {
        self.samples += 1;
        // Energy read now covers the time since the previous sample.
        let since_ns = self
            .first_ns
            .map_or(0, |_| now_ns.saturating_sub(self.last_ns));
        if self.first_ns.is_none() {
            self.first_ns = Some(now_ns);
        }
        self.last_ns = now_ns;
        let one = |v: f64| Acc {
            sum: v,
            weight: 1.0,
        };

        for i in 0..self.zones.len() {
            let path = self.zones[i].path.clone();
            let r = read_i64(&path);
            if let Some(t) = self.take(&path, r) {
                let z = &mut self.zones[i];
                z.range = Some(z.range.map_or((t, t), |(lo, hi)| (lo.min(t), hi.max(t))));
                let kind = SeriesKind::TemperatureMillicelsius { zone: z.index };
                self.series.add(kind, now_ns, one(t as f64));
            }
        }
        for i in 0..self.cores.len() {
            let path = self.cores[i].path.clone();
            let r = read_u64(&path);
            if let Some(f) = self.take(&path, r) {
                let c = &mut self.cores[i];
                c.range = Some(c.range.map_or((f, f), |(lo, hi)| (lo.min(f), hi.max(f))));
                let kind = SeriesKind::FrequencyKhz { cpu: c.cpu };
                self.series.add(kind, now_ns, one(f as f64));
            }
        }
        if let Some(path) = self.throttle_path.clone() {
            let r = match read_text(&path) {
                Read::Value(s) => {
                    let hex = s.trim_start_matches("0x");
                    match u32::from_str_radix(hex, 16) {
                        Ok(v) => Read::Value(v),
                        Err(_) => Read::Broken(Unreadable::NotHex {
                            path: path.clone(),
                            found: s,
                        }),
                    }
                }
                Read::Absent => Read::Absent,
                Read::Broken(m) => Read::Broken(m),
            };
            if let Some(word) = self.take(&path, r) {
                let t = self.throttle.get_or_insert(ThrottleSummary {
                    first: word,
                    last: word,
                    now_seen: 0,
                });
                t.last = word;
                t.now_seen |= word & throttle_bits::NOW_MASK;
                let bits = f64::from(word & throttle_bits::NOW_MASK);
                self.series.add(SeriesKind::ThrottleBits, now_ns, one(bits));
            }
        }
        for i in 0..self.channels.len() {
            let before = self.channels[i].energy_uj;
            self.sample_channel(i, now_ns);
            if since_ns > 0 {
                // µJ over seconds: the bin's mean is µW.
                let added = self.channels[i].energy_uj - before;
                let kind = SeriesKind::PowerMicrowatts { rail: i as u32 };
                let covered = Acc {
                    sum: added,
                    weight: since_ns as f64 / 1e9,
                };
                self.series.add(kind, now_ns, covered);
            }
        }
    }

    fn sample_channel(&mut self, i: usize, now_ns: u64) {
        match &self.channels[i].reading {
            Reading::Counter {
                path,
                max_range_uj,
                last,
            } => {
                let (path, max, last) = (path.clone(), *max_range_uj, *last);
                let r = read_u64(&path);
                let Some(now) = self.take(&path, r) else {
                    return;
                };
                let mut add = 0u64;
                if let Some(prev) = last {
                    if now >= prev {
                        add = now - prev;
                    } else if let Some(max) = max {
                        // The counter wrapped at max_energy_range_uj back to 0.
                        add = max.saturating_sub(prev) + now;
                    } else {
                        let why = ProbeWarning::CounterBackwards {
                            path: path.clone(),
                            prev,
                            now,
                        };
                        self.note(&path, why);
                    }
                }
                let ch = &mut self.channels[i];
                ch.energy_uj += add as f64;
                if let Reading::Counter { last, .. } = &mut ch.reading {
                    *last = Some(now);
                }
            }
            Reading::PowerUw { path, to_uw, last } => {
                let (path, to_uw, last) = (path.clone(), *to_uw, *last);
                let r = read_u64(&path);
                let Some(p) = self.take(&path, r) else {
                    return;
                };
                self.integrate(i, last, now_ns, p.saturating_mul(to_uw));
            }
            Reading::VoltCurr { mv, ma, last } => {
                let (mv, ma, last) = (mv.clone(), ma.clone(), *last);
                let (rv, ra) = (read_u64(&mv), read_u64(&ma));
                let (Some(v), Some(a)) = (self.take(&mv, rv), self.take(&ma, ra)) else {
                    return;
                };
                self.integrate(i, last, now_ns, v.saturating_mul(a));
            }
        }
    }

    /// Trapezoid rule between the previous and this power reading.
    fn integrate(&mut self, i: usize, last: Option<(u64, u64)>, now_ns: u64, uw: u64) {
        let ch = &mut self.channels[i];
        if let Some((t0, p0)) = last
            && now_ns > t0
        {
            ch.energy_uj += (p0 as f64 + uw as f64) / 2.0 * ((now_ns - t0) as f64 / 1e9);
        }
        match &mut ch.reading {
            Reading::PowerUw { last, .. } | Reading::VoltCurr { last, .. } => {
                *last = Some((now_ns, uw))
            }
            Reading::Counter { .. } => {}
        }
    }

    /// What was seen, ready for the record.
    pub fn finish(self) -> ProbeSummary {
        let span_ns = self
            .last_ns
            .saturating_sub(self.first_ns.unwrap_or(self.last_ns));
        let energy = self.energy_source.map(|source| {
            let rails: Vec<RailEnergy> = self
                .channels
                .iter()
                .map(|c| RailEnergy {
                    label: c.label.clone(),
                    energy_uj: c.energy_uj.round() as u64,
                    in_total: c.in_total,
                })
                .collect();
            let total_uj = rails.iter().any(|r| r.in_total).then(|| {
                rails
                    .iter()
                    .filter(|r| r.in_total)
                    .map(|r| r.energy_uj)
                    .sum()
            });
            EnergySummary {
                source,
                total_uj,
                span_ns,
                rails,
            }
        });
        ProbeSummary {
            period_ns: self.period_ns,
            samples: self.samples,
            zones: self
                .zones
                .into_iter()
                .filter_map(|z| {
                    let (lo, hi) = z.range?;
                    Some(ZoneTemps {
                        index: z.index,
                        kind: z.kind,
                        min_millicelsius: lo,
                        max_millicelsius: hi,
                    })
                })
                .collect(),
            cores: self
                .cores
                .into_iter()
                .filter_map(|c| {
                    let (lo, hi) = c.range?;
                    Some(CoreFreqRange {
                        cpu: c.cpu,
                        min_khz: lo,
                        max_khz: hi,
                    })
                })
                .collect(),
            throttle: self.throttle,
            energy,
            warnings: self.warnings.texts(),
            series: self.series,
        }
    }
}

/// The Raspberry Pi firmware's `get_throttled`: at [`PI_THROTTLED_PATH`] on
/// Pi 4 and earlier kernels; other SoC layouts put the firmware node elsewhere
/// under `/sys/devices/platform`, so a `*firmware*` directory up to two levels
/// down is accepted too.
fn find_throttled(root: &Path) -> Option<PathBuf> {
    let pi = rooted(root, PI_THROTTLED_PATH);
    if pi.exists() {
        return Some(pi);
    }
    let platform = rooted(root, "/sys/devices/platform");
    let subdirs = |d: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    for d1 in subdirs(&platform) {
        for d in std::iter::once(d1.clone()).chain(subdirs(&d1)) {
            let firmware = d
                .file_name()
                .is_some_and(|n| n.to_string_lossy().contains("firmware"));
            if firmware && d.join("get_throttled").is_file() {
                return Some(d.join("get_throttled"));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_found_under_another_firmware_node() {
        let root = std::env::temp_dir().join(format!("edgemark-thr-{}", std::process::id()));
        let node = root.join("sys/devices/platform/soc@107c000000/soc@107c000000:firmware");
        std::fs::create_dir_all(&node).unwrap();
        assert_eq!(find_throttled(&root), None);
        std::fs::write(node.join("get_throttled"), "0\n").unwrap();
        assert_eq!(find_throttled(&root), Some(node.join("get_throttled")));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
