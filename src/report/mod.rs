//! `edgemark report PATH...`: read many records (files, or directories walked
//! recursively for `*.emrec`), then present them in one of several formats,
//! one file per format (hyperfine's export layout). Reading is separate from
//! presenting: [`collect`] returns good records and named bad files; each
//! format turns rows into text.
//!
//! A bad file never stops the report: it is named with its reason on stderr,
//! the good ones are still reported, and the exit code is 1 (the command is
//! `commands::report`).

pub mod accuracy;
pub mod compare;
pub mod csv;
pub mod engines;
pub mod html;
pub mod hyperfine;
pub mod json;
pub mod mlperf;
pub mod prom;
pub mod run_json;
pub mod short;
pub mod svg;
pub mod table;
pub mod terminal;

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use serde::Serialize;

use crate::record::{self, Record, writer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
    /// mlperf_log_summary.txt and mlperf_log_detail.txt per record, under --out.
    Mlperf,
    /// hyperfine's --export-json shape.
    Hyperfine,
    /// Prometheus text format for node_exporter's textfile collector.
    Prom,
    /// One self-contained HTML page (tables, inline SVG charts), to --out FILE.
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Key {
    Host,
    Board,
    Model,
    Scenario,
    /// Wall-clock start of the run.
    Time,
    /// The scenario's metric (the early-stopping latency at the target percentile, or samples/s).
    Metric,
    P90,
    SamplesPerSecond,
    /// Top-1 accuracy (records without accuracy sort first).
    Top1,
    Temperature,
    Path,
}

impl Key {
    /// The key as spelled on the command line.
    pub fn name(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }
}

/// An export that could not be written, naming the folder or file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    #[error("cannot create {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Writes `text` to `path` whole (a temp file beside it, then a rename), so a
/// reader never sees half a page.
pub fn write_whole(path: &Path, text: &str) -> Result<(), ExportError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|source| ExportError::Write {
            path: path.to_path_buf(),
            source,
        })
}

/// A file that is not a readable record, and why.
#[derive(Debug, Clone, Serialize)]
pub struct BadFile {
    pub path: PathBuf,
    pub error: String,
}

/// The outcome of reading the report's inputs.
#[derive(Debug, Default)]
pub struct Collected {
    pub good: Vec<(PathBuf, Record)>,
    pub bad: Vec<BadFile>,
}

/// Reads every record under `paths`. Files named explicitly are always read;
/// directories contribute their `*.emrec` files, never temp files.
pub fn collect(paths: &[PathBuf]) -> Collected {
    let mut files = Vec::new();
    let mut c = Collected::default();
    for p in paths {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => walk(p, &mut files, &mut c.bad),
            Ok(_) => files.push(p.clone()),
            Err(e) => c.bad.push(BadFile {
                path: p.clone(),
                error: format!("cannot read: {e}"),
            }),
        }
    }
    files.sort();
    files.dedup();
    for f in files {
        match Record::read(&f) {
            Ok(r) => c.good.push((f, r)),
            Err(e) => c.bad.push(BadFile {
                path: f,
                error: error_reason(&e),
            }),
        }
    }
    c
}

fn error_reason(e: &record::ReadError) -> String {
    match e {
        record::ReadError::Io { source, .. } => format!("cannot read: {source}"),
        record::ReadError::Decode { source, .. } => source.to_string(),
    }
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, bad: &mut Vec<BadFile>) {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            bad.push(BadFile {
                path: dir.to_path_buf(),
                error: format!("cannot list directory: {e}"),
            });
            return;
        }
    };
    for entry in rd {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                bad.push(BadFile {
                    path: dir.to_path_buf(),
                    error: format!("cannot list directory: {e}"),
                });
                continue;
            }
        };
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        // Symlinked directories are not followed (no loops); symlinked files are.
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            walk(&path, files, bad);
        } else if !name.ends_with(writer::TMP_SUFFIX)
            && !name.starts_with('.')
            && path.extension().is_some_and(|e| e == record::EXTENSION)
        {
            files.push(path);
        }
    }
}

/// One record as the presentation formats see it. Derived figures (per core,
/// per watt, inferences per joule) are informative.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Position of the record in `Collected::good`.
    #[serde(skip)]
    pub index: usize,
    pub path: String,
    pub host: String,
    pub board: String,
    pub model: String,
    pub scenario: &'static str,
    pub mode: &'static str,
    pub preset: String,
    /// Wall-clock start, RFC 3339-like UTC stamp.
    pub started: String,
    pub wall_start_ns: u64,
    pub run_id: String,
    pub metric_name: String,
    pub metric_value: Option<f64>,
    /// LoadGen validity; None for an accuracy record (no scenario ran).
    pub valid: Option<bool>,
    pub invalid_reasons: Vec<&'static str>,
    pub p50_ns: Option<u64>,
    pub p90_ns: Option<u64>,
    pub early_stopping_p90_ns: Option<u64>,
    pub mean_ns: Option<u64>,
    pub query_count: Option<u64>,
    pub samples_per_second: Option<f64>,
    pub cores: u32,
    pub samples_per_second_per_core: Option<f64>,
    pub average_watts: Option<f64>,
    pub samples_per_second_per_watt: Option<f64>,
    pub inferences_per_joule: Option<f64>,
    pub temperature_max_celsius: Option<f64>,
    /// The board profile's nominal power when no sensor measured energy
    /// (`average_watts` is then None): kept apart, never mixed in.
    pub estimated_watts: Option<f64>,
    /// Samples/s per estimated watt.
    pub estimated_samples_per_second_per_watt: Option<f64>,
    pub warnings: Vec<String>,
    /// The run's accuracy (accuracy records, and performance records of
    /// `--mode both`): data set folder, preset, counts and fractions.
    pub dataset: Option<String>,
    pub preprocess: Option<String>,
    pub accuracy_samples: Option<u64>,
    pub accuracy_scored: Option<u64>,
    pub accuracy_failed: Vec<String>,
    pub top1: Option<u64>,
    pub top5: Option<u64>,
    pub top1_fraction: Option<f64>,
    pub top5_fraction: Option<f64>,
}

impl Row {
    pub fn new(index: usize, path: &Path, r: &Record) -> Row {
        let (metric_name, metric_value) = r.metric();
        let stamp = writer::utc_stamp(r.wall_start_ns);
        let inf_j = r.inferences_per_joule();
        let res = r.result.as_ref();
        let acc = r.accuracy.as_ref();
        Row {
            index,
            path: path.display().to_string(),
            host: r.host.hostname.clone(),
            board: r.host.board.clone().unwrap_or_default(),
            model: r.model_name(),
            // An accuracy record ran no scenario (its plan names the one it would).
            scenario: if r.is_accuracy_only() {
                "accuracy"
            } else {
                r.plan.scenario.name()
            },
            mode: r.plan.mode.name(),
            preset: r.plan.preset.clone(),
            started: format!(
                "{}-{}-{}T{}:{}:{}Z",
                &stamp[0..4],
                &stamp[4..6],
                &stamp[6..8],
                &stamp[9..11],
                &stamp[11..13],
                &stamp[13..15]
            ),
            wall_start_ns: r.wall_start_ns,
            run_id: format!("{:016x}", r.run_id),
            metric_name,
            metric_value,
            valid: res.map(|x| x.valid),
            invalid_reasons: res
                .map(|x| x.invalid_reasons.iter().map(|i| i.describe()).collect())
                .unwrap_or_default(),
            p50_ns: res.map(|x| x.p50_ns),
            p90_ns: res.map(|x| x.p90_ns),
            early_stopping_p90_ns: res
                .and_then(|x| x.early_stopping_90.as_ref())
                .and_then(|e| e.estimate_ns),
            mean_ns: res.map(|x| x.mean_ns),
            query_count: res.map(|x| x.query_count),
            samples_per_second: res.map(|x| x.samples_per_second),
            cores: r.host.cores,
            samples_per_second_per_core: r.samples_per_second_per_core(),
            average_watts: r.average_watts(),
            samples_per_second_per_watt: inf_j,
            inferences_per_joule: inf_j,
            temperature_max_celsius: r.max_temp_millicelsius().map(|m| m as f64 / 1000.0),
            estimated_watts: r
                .watts()
                .filter(|(_, b)| *b == record::PowerBasis::Estimated)
                .map(|(w, _)| w),
            estimated_samples_per_second_per_watt: r
                .samples_per_watt()
                .filter(|(_, b)| *b == record::PowerBasis::Estimated)
                .map(|(x, _)| x),
            warnings: r.warnings.clone(),
            dataset: acc.map(|a| a.dataset.clone()),
            preprocess: acc.map(|a| a.preprocess.clone()),
            accuracy_samples: acc.map(|a| a.samples),
            accuracy_scored: acc.map(|a| a.scored),
            accuracy_failed: acc
                .map(|a| a.failed.iter().map(|f| f.sample.clone()).collect())
                .unwrap_or_default(),
            top1: acc.map(|a| a.top1),
            top5: acc.map(|a| a.top5),
            top1_fraction: acc.and_then(|a| a.top1_fraction()),
            top5_fraction: acc.and_then(|a| a.top5_fraction()),
        }
    }

    fn key(&self, k: Key) -> KeyValue<'_> {
        match k {
            Key::Host => KeyValue::Text(&self.host),
            Key::Board => KeyValue::Text(&self.board),
            Key::Model => KeyValue::Text(&self.model),
            Key::Scenario => KeyValue::Text(self.scenario),
            Key::Path => KeyValue::Text(&self.path),
            Key::Time => KeyValue::Num(self.wall_start_ns as f64),
            Key::Metric => KeyValue::Num(self.metric_value.unwrap_or(f64::NEG_INFINITY)),
            Key::P90 => KeyValue::Num(self.p90_ns.map_or(f64::NEG_INFINITY, |p| p as f64)),
            Key::SamplesPerSecond => {
                KeyValue::Num(self.samples_per_second.unwrap_or(f64::NEG_INFINITY))
            }
            Key::Top1 => KeyValue::Num(self.top1_fraction.unwrap_or(f64::NEG_INFINITY)),
            Key::Temperature => {
                KeyValue::Num(self.temperature_max_celsius.unwrap_or(f64::NEG_INFINITY))
            }
        }
    }

    /// The group heading for `k`.
    pub fn group_label(&self, k: Key) -> String {
        match self.key(k) {
            KeyValue::Text(t) => t.to_string(),
            // Grouping by time means by UTC day.
            KeyValue::Num(_) if k == Key::Time => self.started[..10].to_string(),
            KeyValue::Num(x) => x.to_string(),
        }
    }
}

#[derive(Debug, PartialEq, PartialOrd)]
enum KeyValue<'a> {
    Text(&'a str),
    Num(f64),
}

fn cmp_key(a: &Row, b: &Row, k: Key) -> Ordering {
    a.key(k).partial_cmp(&b.key(k)).unwrap_or(Ordering::Equal)
}

/// Rows in presentation order: by group (ascending), then by the sort key.
pub fn rows(c: &Collected, group_by: Option<Key>, sort: Key, reverse: bool) -> Vec<Row> {
    let mut rows: Vec<Row> = c
        .good
        .iter()
        .enumerate()
        .map(|(i, (p, r))| Row::new(i, p, r))
        .collect();
    rows.sort_by(|a, b| {
        let g = group_by.map_or(Ordering::Equal, |g| a.group_label(g).cmp(&b.group_label(g)));
        let s = cmp_key(a, b, sort).then_with(|| a.path.cmp(&b.path));
        g.then(if reverse { s.reverse() } else { s })
    });
    rows
}

/// LoadGen's row names for the six logged percentiles, with our values.
pub fn percentile_rows(p: &crate::stats::Percentiles) -> [(&'static str, u64); 6] {
    [
        ("50.00", p.p50),
        ("90.00", p.p90),
        ("95.00", p.p95),
        ("97.00", p.p97),
        ("99.00", p.p99),
        ("99.90", p.p999),
    ]
}

pub use crate::stats::percent_label;

/// `12.345 ms` style durations for humans.
pub fn human_ns(ns: u64) -> String {
    let f = ns as f64;
    if ns >= 1_000_000_000 {
        format!("{:.3} s", f / 1e9)
    } else if ns >= 1_000_000 {
        format!("{:.3} ms", f / 1e6)
    } else if ns >= 1_000 {
        format!("{:.3} µs", f / 1e3)
    } else {
        format!("{ns} ns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::example_record;

    fn collected(hosts: &[(&str, f64)]) -> Collected {
        let mut c = Collected::default();
        for (i, (h, sps)) in hosts.iter().enumerate() {
            let mut r = example_record(i as u64);
            r.host.hostname = h.to_string();
            r.result.as_mut().unwrap().samples_per_second = *sps;
            c.good.push((PathBuf::from(format!("r{i}.emrec")), r));
        }
        c
    }

    #[test]
    fn sorting_and_grouping() {
        let c = collected(&[("b", 3.0), ("a", 1.0), ("b", 2.0), ("a", 4.0)]);
        let r = rows(&c, None, Key::SamplesPerSecond, false);
        let sps: Vec<f64> = r.iter().map(|r| r.samples_per_second.unwrap()).collect();
        assert_eq!(sps, vec![1.0, 2.0, 3.0, 4.0]);
        let r = rows(&c, Some(Key::Host), Key::SamplesPerSecond, true);
        let got: Vec<(String, f64)> = r
            .iter()
            .map(|r| (r.host.clone(), r.samples_per_second.unwrap()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a".into(), 4.0),
                ("a".into(), 1.0),
                ("b".into(), 3.0),
                ("b".into(), 2.0)
            ]
        );
    }

    #[test]
    fn sort_by_top1_puts_records_without_accuracy_first() {
        let mut c = collected(&[("a", 1.0), ("b", 1.0), ("c", 1.0)]);
        c.good[0].1.accuracy.as_mut().unwrap().top1 = 14;
        c.good[1].1.accuracy = None;
        c.good[2].1.accuracy.as_mut().unwrap().top1 = 9;
        let r = rows(&c, None, Key::Top1, false);
        let hosts: Vec<&str> = r.iter().map(|r| r.host.as_str()).collect();
        assert_eq!(hosts, vec!["b", "c", "a"]);
        assert_eq!(r[0].top1_fraction, None);
        assert_eq!(r[2].top1_fraction, Some(14.0 / 15.0));
    }

    #[test]
    fn derived_columns() {
        let c = collected(&[("h", 97.5)]);
        let r = &rows(&c, None, Key::Time, false)[0];
        // example: 4 cores, 3600 J over 600.1 s.
        assert_eq!(r.samples_per_second_per_core, Some(97.5 / 4.0));
        let w = 3600.0 / 600.1;
        assert!((r.average_watts.unwrap() - w).abs() < 1e-9);
        assert!((r.inferences_per_joule.unwrap() - 97.5 / w).abs() < 1e-9);
        assert_eq!(r.temperature_max_celsius, Some(79.878));
        assert_eq!(r.metric_value, Some(11_100_000.0));
        assert_eq!(r.started, "2026-09-21T14:13:20Z");
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_ns(11_100_000), "11.100 ms");
        assert_eq!(human_ns(999), "999 ns");
        assert_eq!(human_ns(2_500_000_000), "2.500 s");
    }
}
