//! Writes a sample fleet of 50 records into a directory, for the HTML
//! report's browser test (`scripts/ci-browser.sh`) and for trying the report:
//!
//!     cargo run --example fleet_sample -- DIR
//!
//! Hosts are the fixture boards under `tests/fixtures/` (their sysfs trees
//! give the host description, clusters and thermal zones; the board profile
//! they are detected as gives the nominal power where they have no power
//! sensor). Latencies and sensor readings are synthetic and deterministic:
//! this is sample data for presentation, not a measurement.

use std::path::{Path, PathBuf};

use edgemark::boards;
use edgemark::probe::series::{Acc, ProbeSeries, SeriesKind};
use edgemark::probe::{self, EnergySource, EnergySummary, RailEnergy};
use edgemark::record::{
    self, Host, LatencyHistogram, Mode, PowerEstimate, Record, Scenario, SensorSeries, writer,
};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// (fixture, hosts, speed factor vs the Pi 4, measured power W if it has a sensor)
const BOARDS: [(&str, [&str; 2], f64, Option<f64>); 5] = [
    ("rpi4", ["pi4-lab-1", "pi4-lab-2"], 1.0, None),
    ("rk3588", ["rock5b-a", "rock5b-b"], 2.6, None),
    (
        "jetson-orin",
        ["orin-nano-1", "orin-nano-2"],
        3.1,
        Some(9.4),
    ),
    ("jetson-nano", ["jnano-1", "jnano-2"], 0.8, Some(5.2)),
    ("x86-rapl", ["nuc-1", "nuc-2"], 6.0, Some(14.5)),
];

fn main() {
    let out = match std::env::args_os().nth(1) {
        Some(d) => PathBuf::from(d),
        None => {
            eprintln!("usage: fleet_sample DIR");
            std::process::exit(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("fleet_sample: cannot create {}: {e}", out.display());
        std::process::exit(1);
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut rng = Rng(0x5eed_f1ee7);
    let mut written = 0;
    let t0: u64 = 1_796_000_000_000_000_000;
    for (b, (fixture, hosts, speed, watts)) in BOARDS.iter().enumerate() {
        let root = fixtures.join(fixture);
        let (sys, _) = probe::describe(&root);
        // The RK3588 fixture tree is a generic one: name its profile.
        let board = boards::detect(&root)
            .ok()
            .flatten()
            .or_else(|| boards::find(fixture).ok());
        for (h, host) in hosts.iter().enumerate() {
            for (m, model) in ["mobilenetv2-fp32.onnx", "mobilenetv2-int8-qdq.onnx"]
                .iter()
                .enumerate()
            {
                // int8 is faster and loses a little accuracy.
                let model_speed = speed * if m == 1 { 2.3 } else { 1.0 };
                let top1 = if m == 1 { 688 } else { 716 };
                let mut base = record::example_record((b * 100 + h * 10 + m) as u64);
                base.host = Host::from(&sys);
                base.host.hostname = host.to_string();
                base.sut.model.as_mut().unwrap().file_name = model.to_string();
                base.plan.mode = Mode::Both;
                base.plan.trace = false;
                base.trace = None;
                base.warnings.clear();
                let acc = base.accuracy.as_mut().unwrap();
                acc.dataset = "imagenet-val-1000".into();
                acc.labels = None;
                acc.samples = 1000;
                acc.scored = 1000;
                acc.unscored = 0;
                acc.failed.clear();
                acc.top1 = top1;
                acc.top5 = top1 + 180;
                let throttles = b == 0 && h == 1;
                let start = t0 + (written as u64) * 900_000_000_000;
                for scenario in [Scenario::SingleStream, Scenario::Offline] {
                    let mut r = base.clone();
                    r.run_id = rng.next();
                    r.plan.scenario = scenario;
                    r.wall_start_ns = start
                        + if scenario == Scenario::Offline {
                            700
                        } else {
                            0
                        } * 1_000_000_000;
                    let secs = 600;
                    r.wall_end_ns = r.wall_start_ns + secs * 1_000_000_000;
                    fill_result(&mut r, &mut rng, model_speed, throttles, secs);
                    let energy = sensors(&mut r, &mut rng, &sys, *watts, throttles, secs);
                    r.sensors.energy = energy;
                    r.power_estimate = match (&r.sensors.energy, board) {
                        (None, Some(bd)) => bd.power.nominal_load_w.map(|w| PowerEstimate {
                            board: bd.name.clone(),
                            milliwatts: (w * 1000.0) as u64,
                            source: bd.power.nominal_load_source.clone().unwrap_or_default(),
                        }),
                        _ => None,
                    };
                    write(&out, &r);
                    written += 1;
                }
                // The accuracy record of the same run.
                let mut a = base.clone();
                a.run_id = rng.next();
                a.result = None;
                a.latency_histogram = None;
                a.series = None;
                a.sensors.energy = None;
                a.power_estimate = None;
                a.wall_start_ns = start + 1_400 * 1_000_000_000;
                a.wall_end_ns = a.wall_start_ns + 40 * 1_000_000_000;
                if h == 0 {
                    write(&out, &a);
                    written += 1;
                }
            }
        }
    }
    println!("{written} records in {}", out.display());
}

fn write(dir: &Path, r: &Record) {
    if let Err(e) = writer::write_record(dir, r) {
        eprintln!("fleet_sample: {e}");
        std::process::exit(1);
    }
}

/// A lognormal-ish latency distribution around 25 ms / speed; the results
/// are computed from it the way LoadGen does (sorted index floor(q * n)).
fn fill_result(r: &mut Record, rng: &mut Rng, speed: f64, throttles: bool, secs: u64) {
    let median_ns = 25_000_000.0 / speed;
    let n = match r.plan.scenario {
        Scenario::SingleStream => ((secs as f64 * 1e9 / median_ns) as usize).min(200_000),
        Scenario::Offline => 24_000,
    };
    let mut lat: Vec<u64> = (0..n)
        .map(|i| {
            let z = (rng.unit() + rng.unit() + rng.unit() - 1.5) * 2.0;
            let slow = if throttles && i > n * 2 / 3 {
                1.35
            } else {
                1.0
            };
            let tail = if rng.next().is_multiple_of(200) {
                1.8
            } else {
                1.0
            };
            (median_ns * (0.08 * z).exp() * slow * tail) as u64
        })
        .collect();
    if r.plan.scenario == Scenario::Offline {
        // Completion times of one big query rise steadily.
        lat.sort_unstable();
    }
    r.latency_histogram = Some(LatencyHistogram::from_latencies(&lat));
    let mut s = lat.clone();
    s.sort_unstable();
    let q = |p: f64| s[((p * n as f64) as usize).min(n - 1)];
    let res = r.result.as_mut().unwrap();
    res.query_count = if r.plan.scenario == Scenario::Offline {
        1
    } else {
        n as u64
    };
    res.sample_count = n as u64;
    res.duration_ns = secs * 1_000_000_000;
    res.min_ns = s[0];
    res.max_ns = s[n - 1];
    res.mean_ns = s.iter().sum::<u64>() / n as u64;
    res.p50_ns = q(0.5);
    res.p90_ns = q(0.9);
    res.p95_ns = q(0.95);
    res.p97_ns = q(0.97);
    res.p99_ns = q(0.99);
    res.p999_ns = q(0.999);
    res.target_percentile_ns = res.p90_ns;
    if let Some(es) = res.early_stopping_90.as_mut() {
        es.estimate_ns = Some(q(0.9005));
        es.met = true;
    }
    res.samples_per_second = match r.plan.scenario {
        Scenario::SingleStream => n as f64 / secs as f64,
        // Offline keeps every core busy, at 80 % scaling.
        Scenario::Offline => r.host.cores.max(1) as f64 * 0.8 * 1e9 / median_ns,
    };
    res.qps_with_overhead = res.samples_per_second;
    res.qps_without_overhead = res.samples_per_second;
    res.valid = !(throttles && r.plan.scenario == Scenario::SingleStream);
    res.invalid_reasons = if res.valid {
        vec![]
    } else {
        vec![record::InvalidReason::EarlyStoppingNotMet]
    };
}

/// Ten minutes of sensor readings at 4 Hz on this host's zones and cores.
fn sensors(
    r: &mut Record,
    rng: &mut Rng,
    sys: &probe::SystemInfo,
    watts: Option<f64>,
    throttles: bool,
    secs: u64,
) -> Option<record::Energy> {
    let mut ps = ProbeSeries::new();
    let one = |v: f64| Acc {
        sum: v,
        weight: 1.0,
    };
    let mut energy_uj = 0.0;
    let mut throttle_word = 0u32;
    for i in 0..secs * 4 {
        let now = i * 250_000_000;
        let t = i as f64 / 4.0;
        let hot = throttles && t > secs as f64 * 2.0 / 3.0;
        for (k, z) in sys.thermal_zones.iter().enumerate() {
            let c = 42.0 + 36.0 * (1.0 - (-t / 150.0).exp()) + k as f64 + rng.unit() - 0.5
                + if throttles { 6.0 } else { 0.0 };
            ps.add(
                SeriesKind::TemperatureMillicelsius { zone: z.index },
                now,
                one(c * 1000.0),
            );
        }
        for c in &sys.clusters {
            for &cpu in &c.cpus {
                let f = if hot {
                    c.max_freq_khz as f64 * 0.6
                } else {
                    c.max_freq_khz as f64
                };
                ps.add(SeriesKind::FrequencyKhz { cpu }, now, one(f));
            }
        }
        if r.host.board.as_deref().unwrap_or("").contains("Raspberry") {
            let bits = if hot { 0x2 } else { 0 };
            throttle_word |= bits;
            ps.add(SeriesKind::ThrottleBits, now, one(bits as f64));
        }
        if let (Some(w), true) = (watts, i > 0) {
            let uw = (w + (rng.unit() - 0.5) * 0.6) * 1e6;
            energy_uj += uw * 0.25;
            ps.add(
                SeriesKind::PowerMicrowatts { rail: 0 },
                now,
                Acc {
                    sum: uw * 0.25,
                    weight: 0.25,
                },
            );
        }
    }
    let energy = watts.map(|_| EnergySummary {
        source: if r.host.board.is_some() {
            EnergySource::Ina3221
        } else {
            EnergySource::Rapl
        },
        total_uj: Some(energy_uj as u64),
        span_ns: secs * 1_000_000_000,
        rails: vec![RailEnergy {
            label: "VDD_IN".into(),
            energy_uj: energy_uj as u64,
            in_total: true,
        }],
    });
    r.series = SensorSeries::from_probe(&ps, &sys.clusters, energy.as_ref());
    r.sensors.throttle = None;
    if throttles {
        r.warnings.push(format!(
            "the board throttled during the run (arm frequency capped; get_throttled 0x0 -> 0x{:x})",
            throttle_word | 0x20000
        ));
        r.warnings
            .push("CPU frequency changed during the run: cpu0 900-1500 MHz".into());
    }
    r.sensors.zones = sys
        .thermal_zones
        .iter()
        .map(|z| record::ZoneTemps {
            index: z.index,
            kind: z.kind.clone(),
            min_millicelsius: 42_000,
            max_millicelsius: if throttles { 84_000 } else { 78_000 },
        })
        .collect();
    energy.map(|e| record::Energy {
        source: match e.source {
            EnergySource::Rapl => record::EnergySource::Rapl,
            _ => record::EnergySource::Ina3221,
        },
        total_uj: e.total_uj,
        span_ns: e.span_ns,
        rails: vec![record::Rail {
            label: "VDD_IN".into(),
            energy_uj: e.total_uj.unwrap_or(0),
            in_total: true,
        }],
    })
}
