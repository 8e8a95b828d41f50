//! Engines side by side: performance records of one model and scenario on one
//! host from different engines (tract in-process, an `exec:` SUT wrapping
//! onnxruntime or LiteRT, ...), the latest of each engine, with ratios
//! against the first engine: tract when it is in the group (the built-in
//! engine is the common reference), else the first by name.
//!
//! "One model" is the file the record names, and its SHA-256 when the
//! record has one (an exec: SUT that names a file gets it hashed, so its
//! records meet tract's); two files of the same name and different bytes
//! never share a group.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::human_ns;
use crate::record::{Record, Transport};

/// One engine's latest record in a group.
#[derive(Debug, Clone, Serialize)]
pub struct EngineRun {
    /// "tract 0.23.9", "onnxruntime 1.32.0".
    pub engine: String,
    pub path: String,
    pub valid: bool,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub samples_per_second: f64,
    /// The exec: protocol's measured null round trip (0 in-process).
    pub round_trip_ns: u64,
    /// This engine's p50 / the first engine's (SingleStream: < 1 is faster).
    pub p50_ratio: Option<f64>,
    /// This engine's samples/s / the first engine's (> 1 is faster).
    pub samples_per_second_ratio: Option<f64>,
}

/// Two or more engines on one host, model and scenario; `runs[0]` is the
/// reference the ratios are against.
#[derive(Debug, Clone, Serialize)]
pub struct EngineGroup {
    pub host: String,
    pub model: String,
    pub scenario: &'static str,
    pub runs: Vec<EngineRun>,
}

/// The engine's name and version, and the transport when it is not the
/// default pipes: a spin run's round trip is ~40x shorter, so one engine over
/// two transports is two rows, never one row picking the newer.
fn engine_label(r: &Record) -> Option<String> {
    let e = r.engine.as_ref()?;
    let mut label = if e.version.is_empty() {
        e.name.clone()
    } else {
        format!("{} {}", e.name, e.version)
    };
    if let Some(t) = r.sut_transport.filter(|t| *t != Transport::Pipes) {
        label.push_str(&format!(" ({})", t.name()));
    }
    Some(label)
}

fn ratio(x: f64, base: f64) -> Option<f64> {
    (base > 0.0 && x.is_finite()).then(|| x / base)
}

/// The groups with at least two engines, sorted by host, model, scenario.
pub fn groups(records: &[(PathBuf, Record)]) -> Vec<EngineGroup> {
    // Scenario by name (the record's enum has no order).
    type Key = (String, String, String, &'static str);
    let mut by: BTreeMap<Key, BTreeMap<String, (&PathBuf, &Record)>> = BTreeMap::new();
    for (path, r) in records {
        let (Some(_), Some(engine)) = (&r.result, engine_label(r)) else {
            continue;
        };
        let (model, sha) = match &r.sut.model {
            Some(m) if m.sha256 != [0; 32] => (
                m.file_name.clone(),
                m.sha256.iter().map(|b| format!("{b:02x}")).collect(),
            ),
            Some(m) => (m.file_name.clone(), String::new()),
            // Without a model (synthetic SUTs) there is nothing to compare.
            None => continue,
        };
        let slot = by
            .entry((r.host.hostname.clone(), model, sha, r.plan.scenario.name()))
            .or_default()
            .entry(engine)
            .or_insert((path, r));
        if (r.wall_start_ns, r.run_id) > (slot.1.wall_start_ns, slot.1.run_id) {
            *slot = (path, r);
        }
    }
    let mut out = Vec::new();
    for ((host, model, _, scenario), engines) in by {
        if engines.len() < 2 {
            continue;
        }
        let mut runs: Vec<EngineRun> = engines
            .into_iter()
            .map(|(engine, (path, r))| {
                let res = r.result.as_ref().expect("performance records only");
                EngineRun {
                    engine,
                    path: path.display().to_string(),
                    valid: res.valid,
                    p50_ns: res.p50_ns,
                    p90_ns: res.p90_ns,
                    samples_per_second: res.samples_per_second,
                    round_trip_ns: r.engine.as_ref().map_or(0, |e| e.round_trip_ns),
                    p50_ratio: None,
                    samples_per_second_ratio: None,
                }
            })
            .collect();
        // tract first when present; the rest stay in name order.
        if let Some(i) = runs.iter().position(|x| x.engine.starts_with("tract ")) {
            let t = runs.remove(i);
            runs.insert(0, t);
        }
        let (p50, sps) = (runs[0].p50_ns as f64, runs[0].samples_per_second);
        for x in &mut runs {
            x.p50_ratio = ratio(x.p50_ns as f64, p50);
            x.samples_per_second_ratio = ratio(x.samples_per_second, sps);
        }
        out.push(EngineGroup {
            host,
            model,
            scenario,
            runs,
        });
    }
    out
}

impl EngineRun {
    /// The row's figures as both renderers print them: p50, p90, samples/s,
    /// the two ratios against the first engine ("-" for none) and the round
    /// trip ("-" in-process).
    pub fn figures(&self) -> [String; 6] {
        let x = |v: Option<f64>| v.map_or_else(|| "-".into(), |r| format!("{r:.2}x"));
        [
            human_ns(self.p50_ns),
            human_ns(self.p90_ns),
            format!("{:.2}", self.samples_per_second),
            x(self.p50_ratio),
            x(self.samples_per_second_ratio),
            if self.round_trip_ns == 0 {
                "-".into()
            } else {
                human_ns(self.round_trip_ns)
            },
        ]
    }
}

/// The text form: one small table per group.
pub fn render(groups: &[EngineGroup]) -> String {
    const HEAD: [&str; 8] = [
        "engine",
        "validity",
        "p50",
        "p90",
        "samples/s",
        "p50 vs first",
        "samples/s vs first",
        "round trip",
    ];
    let mut out = String::new();
    for g in groups {
        out.push_str(&format!("== {} {} on {} ==\n", g.model, g.scenario, g.host));
        let body: Vec<[String; 8]> = g
            .runs
            .iter()
            .map(|r| {
                let [p50, p90, sps, p50_ratio, sps_ratio, rt] = r.figures();
                [
                    r.engine.clone(),
                    if r.valid { "VALID" } else { "INVALID" }.into(),
                    p50,
                    p90,
                    sps,
                    p50_ratio,
                    sps_ratio,
                    rt,
                ]
            })
            .collect();
        let mut w: Vec<usize> = HEAD.iter().map(|h| h.chars().count()).collect();
        for row in &body {
            for (w, c) in w.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cols: &[String]| {
            let mut s = String::new();
            for (i, (c, w)) in cols.iter().zip(&w).enumerate() {
                let pad = " ".repeat(w - c.chars().count());
                // Names left, figures right.
                if i < 2 {
                    s.push_str(c);
                    s.push_str(&pad);
                } else {
                    s.push_str(&pad);
                    s.push_str(c);
                }
                s.push_str("  ");
            }
            s.trim_end().to_string() + "\n"
        };
        out.push_str(&line(&HEAD.map(String::from)));
        for row in &body {
            out.push_str(&line(row));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Engine, Scenario, example_record};

    fn rec(seed: u64, engine: &str, version: &str, p50: u64, sps: f64) -> (PathBuf, Record) {
        let mut r = example_record(seed);
        r.host.hostname = "pi5".into();
        r.plan.scenario = Scenario::SingleStream;
        r.engine = Some(Engine {
            name: engine.into(),
            version: version.into(),
            command: Vec::new(),
            protocol_version: if engine == "tract" { 0 } else { 1 },
            round_trip_ns: if engine == "tract" { 0 } else { 7_250 },
            stderr_tail: Vec::new(),
        });
        let res = r.result.as_mut().unwrap();
        res.p50_ns = p50;
        res.samples_per_second = sps;
        r.wall_start_ns = 1_000 + seed;
        (PathBuf::from(format!("r{seed}.emrec")), r)
    }

    #[test]
    fn engines_of_one_model_meet_with_ratios_against_tract() {
        let recs = vec![
            rec(1, "onnxruntime", "1.32.0", 6_000_000, 160.0),
            rec(2, "tract", "0.23.9", 12_000_000, 80.0),
            rec(3, "litert", "1.4.0", 9_000_000, 100.0),
            // A later onnxruntime run (wall clock): it replaces r1.
            rec(4, "onnxruntime", "1.32.0", 3_000_000, 320.0),
        ];
        let g = groups(&recs);
        assert_eq!(g.len(), 1);
        let names: Vec<&str> = g[0].runs.iter().map(|r| r.engine.as_str()).collect();
        assert_eq!(
            names,
            ["tract 0.23.9", "litert 1.4.0", "onnxruntime 1.32.0"]
        );
        assert_eq!(g[0].runs[0].p50_ratio, Some(1.0));
        assert_eq!(g[0].runs[1].p50_ratio, Some(0.75));
        assert_eq!(g[0].runs[2].p50_ratio, Some(0.25));
        assert_eq!(g[0].runs[2].samples_per_second_ratio, Some(4.0));
        assert_eq!(g[0].runs[2].path, "r4.emrec");
        let t = render(&g);
        assert!(
            t.contains("== mobilenet_v2.onnx SingleStream on pi5 =="),
            "{t}"
        );
        let ort = t.lines().find(|l| l.starts_with("onnxruntime")).unwrap();
        assert!(
            ort.contains("3.000 ms") && ort.contains("0.25x") && ort.contains("4.00x"),
            "{t}"
        );
        assert!(ort.ends_with("7.250 µs"), "{t}");
        let tract = t.lines().find(|l| l.starts_with("tract")).unwrap();
        assert!(tract.contains("1.00x") && tract.ends_with('-'), "{t}");
    }

    #[test]
    fn one_engine_over_two_transports_is_two_rows_named_by_transport() {
        let pipes = rec(1, "null", "1.0", 4_400, 200_000.0);
        let mut spin = rec(2, "null", "1.0", 100, 9_000_000.0);
        spin.1.sut_transport = Some(Transport::Spin);
        let mut explicit_pipes = rec(3, "null", "1.0", 4_300, 210_000.0);
        explicit_pipes.1.sut_transport = Some(Transport::Pipes);
        let g = groups(&[pipes, spin, explicit_pipes]);
        assert_eq!(g.len(), 1);
        let names: Vec<&str> = g[0].runs.iter().map(|r| r.engine.as_str()).collect();
        // Pipes (the default) stays unnamed; its later record replaces the first.
        assert_eq!(names, ["null 1.0", "null 1.0 (spin)"]);
        assert_eq!(g[0].runs[0].path, "r3.emrec");
    }

    #[test]
    fn other_hosts_scenarios_files_and_lone_engines_stay_apart() {
        let mut other_host = rec(2, "tract", "0.23.9", 1, 1.0);
        other_host.1.host.hostname = "jetson".into();
        let mut other_bytes = rec(3, "tract", "0.23.9", 1, 1.0);
        other_bytes.1.sut.model.as_mut().unwrap().sha256[0] ^= 1;
        let mut offline = rec(4, "tract", "0.23.9", 1, 1.0);
        offline.1.plan.scenario = Scenario::Offline;
        let mut accuracy_only = rec(5, "tract", "0.23.9", 1, 1.0);
        accuracy_only.1.result = None;
        let recs = vec![
            rec(1, "onnxruntime", "1.32.0", 1, 1.0),
            other_host,
            other_bytes,
            offline,
            accuracy_only,
        ];
        assert!(groups(&recs).is_empty());
        // The same engine twice is one engine, not a comparison.
        let recs = vec![
            rec(1, "tract", "0.23.9", 1, 1.0),
            rec(2, "tract", "0.23.9", 2, 1.0),
        ];
        assert!(groups(&recs).is_empty());
    }

    #[test]
    fn without_tract_the_first_engine_by_name_is_the_reference() {
        let recs = vec![
            rec(1, "onnxruntime", "1.32.0", 4_000_000, 250.0),
            rec(2, "litert", "1.4.0", 8_000_000, 125.0),
        ];
        let g = groups(&recs);
        assert_eq!(g[0].runs[0].engine, "litert 1.4.0");
        assert_eq!(g[0].runs[1].p50_ratio, Some(0.5));
        assert_eq!(g[0].runs[1].samples_per_second_ratio, Some(2.0));
    }
}
