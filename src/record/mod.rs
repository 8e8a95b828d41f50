//! One compact, checksummed result file per scenario run.
//!
//! Framing (all integers little-endian), documented in `docs/record-format.md`:
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `EDGEMREC` |
//! | 2 | schema version (u16) |
//! | 4 | payload length (u32) |
//! | 4 | CRC-32 (IEEE) of the payload |
//! | n | payload: [`Record`] in postcard |
//!
//! Decoding checks each in that order and never panics: every way a file can
//! be wrong is a [`DecodeError`].

mod convert;
pub mod histogram;
mod schema;
pub mod series;
#[cfg(test)]
mod tests;
pub mod writer;

use std::path::{Path, PathBuf};

pub use convert::RunFacts;
pub use schema::*;

pub const MAGIC: [u8; 8] = *b"EDGEMREC";
/// The schema version this build writes (and the newest it reads).
pub const SCHEMA_VERSION: u16 = 4;
/// The oldest schema version this build still reads.
pub const OLDEST_SCHEMA_VERSION: u16 = 1;
pub const HEADER_LEN: usize = 8 + 2 + 4 + 4;
/// File extension of record files (`report` looks for it in directories).
pub const EXTENSION: &str = "emrec";

/// The tract version every tract crate is pinned to in Cargo.toml (checked by a test).
pub use crate::version::TRACT_VERSION;

/// Why bytes are not a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("empty file (0 bytes)")]
    Empty,
    #[error("not an edgemark record (bad magic bytes)")]
    BadMagic,
    #[error(
        "record schema version {found} is {}; this edgemark reads versions {OLDEST_SCHEMA_VERSION} to {supported}",
        if *found > *supported { "newer (upgrade edgemark to read it)" } else { "older and no longer supported" }
    )]
    UnsupportedVersion { found: u16, supported: u16 },
    #[error("truncated: {needed} bytes needed, {got} present")]
    Truncated { needed: u64, got: u64 },
    #[error("{extra} unexpected trailing bytes after the record")]
    TrailingBytes { extra: u64 },
    #[error(
        "checksum mismatch (stored {stored:08x}, computed {computed:08x}): the file is corrupt"
    )]
    Checksum { stored: u32, computed: u32 },
    #[error("payload does not decode: {0}")]
    Payload(String),
}

/// A record file that could not be read, with its path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Decode { path: PathBuf, source: DecodeError },
}

impl Record {
    /// The framed bytes of this record.
    pub fn encode(&self) -> Vec<u8> {
        // Serialising plain data structs into a Vec cannot fail.
        let payload = postcard::to_stdvec(self).expect("postcard serialises records into a Vec");
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&SCHEMA_VERSION.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        out.extend_from_slice(&payload);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
        if bytes.is_empty() {
            return Err(DecodeError::Empty);
        }
        let m = bytes.len().min(MAGIC.len());
        if bytes[..m] != MAGIC[..m] {
            return Err(DecodeError::BadMagic);
        }
        if bytes.len() < HEADER_LEN {
            return Err(DecodeError::Truncated {
                needed: HEADER_LEN as u64,
                got: bytes.len() as u64,
            });
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        if !(OLDEST_SCHEMA_VERSION..=SCHEMA_VERSION).contains(&version) {
            return Err(DecodeError::UnsupportedVersion {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let len = u32::from_le_bytes([bytes[10], bytes[11], bytes[12], bytes[13]]) as u64;
        let stored = u32::from_le_bytes([bytes[14], bytes[15], bytes[16], bytes[17]]);
        let body = &bytes[HEADER_LEN..];
        let have = body.len() as u64;
        if have < len {
            return Err(DecodeError::Truncated {
                needed: HEADER_LEN as u64 + len,
                got: bytes.len() as u64,
            });
        }
        if have > len {
            return Err(DecodeError::TrailingBytes { extra: have - len });
        }
        let computed = crc32fast::hash(body);
        if computed != stored {
            return Err(DecodeError::Checksum { stored, computed });
        }
        let payload = |e: postcard::Error| DecodeError::Payload(e.to_string());
        let (rec, rest) = match version {
            1 => postcard::take_from_bytes::<RecordV1>(body)
                .map(|(r, rest)| (Record::from(r), rest))
                .map_err(payload)?,
            2 => postcard::take_from_bytes::<RecordV2>(body)
                .map(|(r, rest)| (Record::from(r), rest))
                .map_err(payload)?,
            3 => postcard::take_from_bytes::<RecordV3>(body)
                .map(|(r, rest)| (Record::from(r), rest))
                .map_err(payload)?,
            _ => postcard::take_from_bytes::<Record>(body).map_err(payload)?,
        };
        if !rest.is_empty() {
            return Err(DecodeError::Payload(format!(
                "{} bytes left over inside the payload",
                rest.len()
            )));
        }
        Ok(rec)
    }

    pub fn read(path: &Path) -> Result<Record, ReadError> {
        use std::io::Read as _;
        let io = |source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        };
        // Never more than the largest record plus one byte: a huge stray file
        // named *.emrec is reported as trailing bytes, not read into memory.
        let limit = HEADER_LEN as u64 + u64::from(u32::MAX) + 1;
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(limit).read_to_end(&mut bytes))
            .map_err(io)?;
        Record::decode(&bytes).map_err(|source| ReadError::Decode {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Whether a power figure was measured by a sensor or estimated from the
/// board profile's nominal power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PowerBasis {
    Measured,
    Estimated,
}

impl PowerBasis {
    pub fn name(self) -> &'static str {
        match self {
            PowerBasis::Measured => "measured",
            PowerBasis::Estimated => "estimated",
        }
    }
}

impl Tool {
    /// Facts about this binary.
    pub fn current() -> Tool {
        Tool {
            version: env!("CARGO_PKG_VERSION").to_string(),
            git_hash: env!("EDGEMARK_GIT_HASH").to_string(),
            target: env!("EDGEMARK_TARGET").to_string(),
            tract_version: if cfg!(feature = "tract") {
                TRACT_VERSION.to_string()
            } else {
                String::new()
            },
        }
    }
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::SingleStream => "SingleStream",
            Scenario::Offline => "Offline",
        }
    }
}

impl InvalidReason {
    pub fn describe(self) -> &'static str {
        match self {
            InvalidReason::MinDurationNotMet => "min duration not met",
            InvalidReason::MinQueriesNotMet => "min queries not met",
            InvalidReason::EarlyStoppingNotMet => "early stopping not met",
            InvalidReason::OfflineExpectedQpsTooLow => {
                "finished before min duration: increase expected QPS"
            }
            InvalidReason::Aborted => "aborted",
            InvalidReason::LatencyStoreFull => "latency store full before the stop rules were met",
            InvalidReason::SutError => "SUT error",
        }
    }
}

impl Results {
    /// The latency percentiles in LoadGen's key spelling (`90.00`), ascending.
    pub fn percentile_rows(&self) -> [(&'static str, u64); 6] {
        [
            ("50.00", self.p50_ns),
            ("90.00", self.p90_ns),
            ("95.00", self.p95_ns),
            ("97.00", self.p97_ns),
            ("99.00", self.p99_ns),
            ("99.90", self.p999_ns),
        ]
    }
}

impl Record {
    /// The record's headline metric: SingleStream's early-stopping estimate
    /// at the plan's target percentile in ns (the raw target-percentile
    /// latency when there is none), Offline's samples/s, and for an accuracy
    /// record (no scenario result) the top-1 fraction (None when no sample
    /// was scored). The name says the percentile (`p99 ...` for 0.99).
    pub fn metric(&self) -> (String, Option<f64>) {
        let Some(res) = &self.result else {
            return (
                "top-1 accuracy".into(),
                self.accuracy.as_ref().and_then(Accuracy::top1_fraction),
            );
        };
        match self.plan.scenario {
            Scenario::SingleStream => {
                let p = crate::stats::percent_label(self.plan.settings.target_percentile);
                // `early_stopping_90` is the estimate at the target percentile.
                match res.early_stopping_90.as_ref().and_then(|e| e.estimate_ns) {
                    Some(ns) => (format!("p{p} early-stopping latency ns"), Some(ns as f64)),
                    None => (
                        format!("p{p} latency ns"),
                        Some(res.target_percentile_ns as f64),
                    ),
                }
            }
            Scenario::Offline => ("samples/s".into(), Some(res.samples_per_second)),
        }
    }

    /// True for the record of an accuracy run (no performance scenario ran).
    pub fn is_accuracy_only(&self) -> bool {
        self.result.is_none()
    }

    fn samples_per_second(&self) -> Option<f64> {
        self.result.as_ref().map(|r| r.samples_per_second)
    }

    /// Average watts over the sensor span (informative).
    pub fn average_watts(&self) -> Option<f64> {
        let e = self.sensors.energy.as_ref()?;
        let uj = e.total_uj?;
        (e.span_ns > 0).then(|| uj as f64 / 1e6 / (e.span_ns as f64 / 1e9))
    }

    /// Inferences per joule = samples/s divided by average watts (informative:
    /// the energy span also covers the sampler's edges around the timed run).
    pub fn inferences_per_joule(&self) -> Option<f64> {
        let w = self.average_watts()?;
        let sps = self.samples_per_second()?;
        (w > 0.0).then(|| sps / w)
    }

    /// Watts for per-watt figures: measured (average over the sensor span)
    /// when a sensor gave total energy, else the board profile's nominal
    /// power, flagged as estimated. Never a mix of the two.
    pub fn watts(&self) -> Option<(f64, PowerBasis)> {
        if let Some(w) = self.average_watts() {
            return Some((w, PowerBasis::Measured));
        }
        let e = self.power_estimate.as_ref()?;
        (e.milliwatts > 0).then(|| (e.milliwatts as f64 / 1000.0, PowerBasis::Estimated))
    }

    /// Samples/s per watt on [`Record::watts`]'s basis.
    pub fn samples_per_watt(&self) -> Option<(f64, PowerBasis)> {
        let (w, basis) = self.watts()?;
        let sps = self.samples_per_second()?;
        Some((sps / w, basis))
    }

    pub fn samples_per_second_per_core(&self) -> Option<f64> {
        let sps = self.samples_per_second()?;
        (self.host.cores > 0).then(|| sps / self.host.cores as f64)
    }

    pub fn max_temp_millicelsius(&self) -> Option<i64> {
        self.sensors.zones.iter().map(|z| z.max_millicelsius).max()
    }

    pub fn model_name(&self) -> String {
        match (&self.sut.model, &self.plan.sut) {
            (Some(m), _) => m.file_name.clone(),
            (None, SutSpec::Synthetic(s)) => format!("synthetic:{s}"),
            (None, SutSpec::Model(p)) => p.rsplit('/').next().unwrap_or(p).to_string(),
            (None, SutSpec::BuiltIn) => "built-in".to_string(),
            (None, SutSpec::Exec(c)) => format!("exec:{}", c.join(" ")),
        }
    }
}

/// A record with every field set, for tests, examples and fuzz seeds. Not
/// measured data: deterministic in `seed`.
#[doc(hidden)]
pub fn example_record(seed: u64) -> Record {
    Record {
        tool: Tool {
            version: "0.1.0".into(),
            git_hash: "0123456789ab".into(),
            target: "aarch64-unknown-linux-musl".into(),
            tract_version: TRACT_VERSION.into(),
        },
        run_id: 0x1234_5678_9abc_def0 ^ seed,
        wall_start_ns: 1_790_000_000_000_000_000 + seed,
        wall_end_ns: 1_790_000_600_000_000_000 + seed,
        host: Host {
            hostname: "pi4-lab".into(),
            board: Some("Raspberry Pi 4 Model B Rev 1.4".into()),
            cpu_model: Some("Cortex-A72".into()),
            cores: 4,
            clusters: vec![Cluster {
                max_freq_khz: 1_800_000,
                cpus: vec![0, 1, 2, 3],
            }],
            kernel: Some("6.6.31+rpt-rpi-v8".into()),
            mem_total_bytes: Some(3_978_485_760),
            cpufreq: vec![CpuFreqPolicy {
                cpu: 0,
                governor: Some("ondemand".into()),
                min_khz: Some(600_000),
                max_khz: Some(1_800_000),
                hw_max_khz: Some(1_800_000),
            }],
            thermal_zones: vec![ThermalZone {
                index: 0,
                kind: "cpu-thermal".into(),
            }],
        },
        sut: Sut {
            kind: "tract".into(),
            description: "tract 0.23.9, 1 thread".into(),
            model: Some(Model {
                file_name: "mobilenet_v2.onnx".into(),
                size_bytes: 13_964_571,
                sha256: [0xab; 32],
                format: ModelFormat::Onnx,
                built_in: false,
                inputs: vec![Tensor {
                    name: "input".into(),
                    shape: vec![1, 3, 224, 224],
                    dtype: "f32".into(),
                }],
                outputs: vec![Tensor {
                    name: "output".into(),
                    shape: vec![1, 1000],
                    dtype: "f32".into(),
                }],
            }),
            instances: 1,
            threads: 4,
            offline_threads: 1,
            cpus: vec![2, 3],
        },
        plan: Plan {
            preset: "official".into(),
            scenario: Scenario::SingleStream,
            mode: Mode::Performance,
            sut: SutSpec::Model("models/mobilenet_v2.onnx".into()),
            input_shapes: vec![("input".into(), vec![1, 3, 224, 224])],
            inputs: vec!["inputs/".into()],
            instances: 1,
            threads: 4,
            cpus: vec![2, 3],
            settings: Settings {
                min_duration_ns: 600_000_000_000,
                max_duration_ns: 0,
                min_query_count: 100,
                max_query_count: 0,
                performance_sample_count: 1024,
                total_sample_count: 5000,
                qsl_rng_seed: 2085463073848966840,
                sample_index_rng_seed: 2747215439041700203,
                target_percentile: 0.9,
                offline_expected_qps: 0.0,
                warm_up: WarmUp::Queries(10),
                max_stored_queries: 10_000_000,
            },
            trace: true,
        },
        result: Some(Results {
            query_count: 3,
            sample_count: 3,
            duration_ns: 600_000_123_456,
            min_ns: 9_000_000,
            max_ns: 12_500_000,
            mean_ns: 10_200_000,
            p50_ns: 10_000_000,
            p90_ns: 11_000_000,
            p95_ns: 11_500_000,
            p97_ns: 12_000_000,
            p99_ns: 12_400_000,
            p999_ns: 12_500_000,
            target_percentile_ns: 11_000_000,
            early_stopping_90: Some(EarlyStopping {
                percentile: 0.9,
                min_queries: 64,
                met: true,
                t: 5829,
                estimate_ns: Some(11_100_000),
            }),
            early_stopping_99: Some(EarlyStopping {
                percentile: 0.99,
                min_queries: 662,
                met: false,
                t: 0,
                estimate_ns: None,
            }),
            qps_with_overhead: 97.5,
            qps_without_overhead: 98.0392156862745,
            samples_per_second: 97.5,
            min_duration_met: true,
            min_queries_met: true,
            valid: false,
            invalid_reasons: vec![InvalidReason::EarlyStoppingNotMet, InvalidReason::SutError],
        }),
        timing: Timing {
            load_ns: 812_000_000,
            first_inference_ns: 45_000_000,
            warm_up_queries: 10,
            warm_up_ns: 105_000_000,
            aborted: false,
            store_full: true,
        },
        memory: Memory {
            rss_before_load_bytes: Some(4_194_304),
            peak_rss_bytes: Some(96_468_992),
        },
        sensors: Sensors {
            period_ns: 100_000_000,
            samples: 6001,
            zones: vec![ZoneTemps {
                index: 0,
                kind: "cpu-thermal".into(),
                min_millicelsius: 41_381,
                max_millicelsius: 79_878,
            }],
            cores: vec![CoreFreqs {
                cpu: 0,
                min_khz: 1_000_000,
                max_khz: 1_800_000,
            }],
            throttle: Some(Throttle {
                first: 0,
                last: 0x20002,
                now_seen: 0x2,
            }),
            energy: Some(Energy {
                source: EnergySource::Ina3221,
                total_uj: Some(3_600_000_000),
                span_ns: 600_100_000_000,
                rails: vec![
                    Rail {
                        label: "VDD_IN".into(),
                        energy_uj: 3_600_000_000,
                        in_total: true,
                    },
                    Rail {
                        label: "VDD_CPU_GPU_CV".into(),
                        energy_uj: 1_200_000_000,
                        in_total: false,
                    },
                ],
            }),
        },
        warnings: vec!["CPU frequency changed during the run: cpu0 1000-1800 MHz".into()],
        trace: Some(Trace {
            issued_sample_index: vec![7, 1023, 0],
            latency_ns: vec![10_000_000, 9_000_000, 12_500_000],
        }),
        accuracy: Some(Accuracy {
            dataset: "../shared/images".into(),
            labels: Some("../shared/images/labels.json".into()),
            preprocess: "imagenet-torch".into(),
            samples: 16,
            scored: 15,
            unscored: 1,
            failed: vec![FailedSample {
                sample: "broken.jpg".into(),
                reason: "broken.jpg: cannot decode image".into(),
            }],
            top1: 13,
            top5: 14,
            num_classes: 1000,
            worst_classes: vec![ClassScore {
                class: 281,
                samples: 2,
                top1_correct: 1,
                confused_with: vec![(285, 1)],
            }],
            load_ns: 160_000_000,
            inference_ns: 300_000_000,
        }),
        latency_histogram: Some(LatencyHistogram::from_latencies(&[
            10_000_000, 9_000_000, 12_500_000,
        ])),
        series: Some(SensorSeries {
            start_ns: 0,
            step_ns: 1_000_000_000,
            tracks: vec![
                SeriesTrack {
                    quantity: Quantity::TemperatureDeciCelsius,
                    sensor: 0,
                    values: vec![414, 520, 655, 798],
                },
                SeriesTrack {
                    quantity: Quantity::FrequencyMhz,
                    sensor: 0,
                    values: vec![1800, 1800, 1500, 1000],
                },
                SeriesTrack {
                    quantity: Quantity::PowerMilliwatts,
                    sensor: u32::MAX,
                    values: vec![5_950, 6_020, 6_000, 5_100],
                },
                SeriesTrack {
                    quantity: Quantity::ThrottleBits,
                    sensor: 0,
                    values: vec![0, 0, 2, 2],
                },
            ],
        }),
        power_estimate: Some(PowerEstimate {
            board: "rpi4".into(),
            milliwatts: 6_400,
            source: "Raspberry Pi 4 power under load, vendor product brief".into(),
        }),
        engine: Some(Engine {
            name: "tract".into(),
            version: TRACT_VERSION.into(),
            command: vec![],
            protocol_version: 0,
            round_trip_ns: 0,
            stderr_tail: vec![],
        }),
        input_set: Some(InputSet {
            budget_bytes: 64 << 20,
            distinct_samples: 1024,
            sample_bytes: 602_112,
            loaded_samples: 1024,
        }),
        accuracy_details: Some(AccuracyDetails {
            misclassified: vec![
                Misclassified {
                    sample: "cat_2.jpg".into(),
                    accept: vec![281],
                    top5: vec![285, 281, 282, 287, 283],
                    score_bits: 9.25f32.to_bits(),
                },
                Misclassified {
                    sample: "broken.jpg".into(),
                    accept: vec![9],
                    top5: vec![],
                    score_bits: f32::NAN.to_bits(),
                },
            ],
            class_names: vec![(281, "tabby".into()), (285, "Egyptian cat".into())],
        }),
        // The example's engine is in-process tract.
        sut_transport: None,
    }
}
