//! Accuracy results persisted and reported: `run --mode accuracy --results DIR`
//! on the shared fp32 model and photos writes an accuracy record (no scenario
//! result), and `report DIR` shows its top-1 of 13/15 in every format.
#![cfg(feature = "tract")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use edgemark::record::Record;

fn edgemark(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edgemark"))
        .args(args)
        .output()
        .expect("run edgemark")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A fresh directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("edgemark-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn accuracy_run_writes_a_record_that_report_shows() {
    let (Some(model), Some(images), Some(labels)) = (
        common::shared_path("models/mobilenetv2-fp32.onnx"),
        common::shared_path("images"),
        common::shared_path("images/labels.json"),
    ) else {
        return;
    };
    let dir = TempDir::new("accuracy-records");
    let o = edgemark(&[
        "run",
        "--mode",
        "accuracy",
        "--model",
        s(&model),
        "--dataset",
        s(&images),
        "--labels",
        s(&labels),
        "--results",
        s(&dir.0),
    ]);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", text(&o.stderr));

    // Exactly one record: the accuracy run's (no scenario ran).
    let files: Vec<PathBuf> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.contains("_accuracy_") && name.ends_with(".emrec"),
        "{name}"
    );
    assert!(
        out.contains(&format!("Record written to : {}", files[0].display())),
        "{out}"
    );
    let rec = Record::read(&files[0]).expect("the record decodes");
    assert!(rec.result.is_none() && rec.trace.is_none());
    // The summary lists the misclassified files; without --trace the file
    // does not keep them.
    assert!(out.contains("  misclassified:"), "{out}");
    assert!(rec.accuracy_details.is_none());
    let a = rec.accuracy.as_ref().expect("accuracy in the record");
    assert_eq!((a.top1, a.scored), (13, 15));
    assert_eq!(a.samples, 18);
    assert!(a.failed.is_empty(), "{:?}", a.failed);
    assert_eq!(a.preprocess, "imagenet-torch");
    assert_eq!(a.num_classes, 1000);
    assert_eq!(a.labels.as_deref(), Some(s(&labels)));
    assert_eq!(a.worst_classes.len(), 2, "{:?}", a.worst_classes);
    assert_eq!(
        rec.sut.model.as_ref().unwrap().file_name,
        "mobilenetv2-fp32.onnx"
    );

    let o = edgemark(&["report", s(&dir.0)]);
    let t = text(&o.stdout);
    assert!(o.status.success(), "{t}\n{}", text(&o.stderr));
    let row = t
        .lines()
        .find(|l| l.contains("mobilenetv2-fp32.onnx"))
        .unwrap_or_else(|| panic!("no row for the model in\n{t}"));
    assert!(row.contains("13/15 86.7%"), "{t}");
    assert!(
        row.contains("accuracy") && row.contains("top-1 86.7%"),
        "{t}"
    );
    // One model only: nothing to put side by side.
    assert!(!t.contains("side by side"), "{t}");

    let o = edgemark(&["report", "--format", "json", s(&dir.0)]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["records"][0]["top1"], 13);
    assert_eq!(v["records"][0]["accuracy_scored"], 15);
    assert_eq!(v["records"][0]["scenario"], "accuracy");
    assert!(v["records"][0]["valid"].is_null());

    let o = edgemark(&["report", "--format", "csv", s(&dir.0)]);
    let csv = text(&o.stdout);
    let lines: Vec<&str> = csv.lines().collect();
    let header = csv_fields(lines[0]);
    let row = csv_fields(lines[1]);
    assert_eq!(header.len(), row.len(), "{csv}");
    let col = |name: &str| row[header.iter().position(|h| h == name).unwrap()].as_str();
    assert_eq!((col("top1"), col("accuracy_scored")), ("13", "15"), "{csv}");
    assert_eq!(col("validity"), "", "{csv}");
}

#[test]
fn both_mode_performance_record_carries_the_accuracy_result() {
    let (Some(model), Some(images), Some(labels)) = (
        common::shared_path("models/mobilenetv2-fp32.onnx"),
        common::shared_path("images"),
        common::shared_path("images/labels.json"),
    ) else {
        return;
    };
    let dir = TempDir::new("both-records");
    // A short performance run: what is tested is the record, not the figures.
    let o = edgemark(&[
        "run",
        "--mode",
        "both",
        "--scenario",
        "single-stream",
        "--min-duration-ms",
        "50",
        "--min-query-count",
        "5",
        "--warmup-queries",
        "1",
        "--model",
        s(&model),
        "--dataset",
        s(&images),
        "--labels",
        s(&labels),
        "--results",
        s(&dir.0),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let mut recs: Vec<Record> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| Record::read(&e.unwrap().path()).unwrap())
        .collect();
    recs.sort_by_key(|r| r.result.is_some());
    assert_eq!(recs.len(), 2);
    let (acc, perf) = (&recs[0], &recs[1]);
    assert!(acc.result.is_none() && perf.result.is_some());
    assert_eq!(perf.accuracy, acc.accuracy, "same accuracy block in both");
    assert_eq!(perf.accuracy.as_ref().unwrap().top1, 13);
    assert!(perf.result.as_ref().unwrap().query_count >= 5);

    let o = edgemark(&["report", s(&dir.0)]);
    let t = text(&o.stdout);
    let rows: Vec<&str> = t
        .lines()
        .filter(|l| l.contains("mobilenetv2-fp32"))
        .collect();
    assert_eq!(rows.len(), 2, "{t}");
    assert!(rows.iter().all(|r| r.contains("13/15 86.7%")), "{t}");
    assert!(rows.iter().any(|r| r.contains("SingleStream")), "{t}");
}

#[test]
fn traced_accuracy_record_keeps_what_the_summary_printed() {
    let (Some(model), Some(images), Some(labels), Some(classes)) = (
        common::shared_path("models/mobilenetv2-fp32.onnx"),
        common::shared_path("images"),
        common::shared_path("images/labels.json"),
        common::shared_path("models/imagenet_classes.txt"),
    ) else {
        return;
    };
    let dir = TempDir::new("accuracy-details");
    let o = edgemark(&[
        "run",
        "--mode",
        "accuracy",
        "--trace",
        "--model",
        s(&model),
        "--dataset",
        s(&images),
        "--labels",
        s(&labels),
        "--classes",
        s(&classes),
        "--results",
        s(&dir.0),
    ]);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", text(&o.stderr));
    let file = std::fs::read_dir(&dir.0).unwrap().next().unwrap().unwrap();
    let rec = Record::read(&file.path()).expect("the record decodes");
    let d = rec.accuracy_details.as_ref().expect("details with --trace");
    // 15 scored, 13 right: two misses, each named with its predicted class.
    assert_eq!(d.misclassified.len(), 2, "{:?}", d.misclassified);
    for m in &d.misclassified {
        let p = m.top5[0];
        let line = format!(
            "{}: want {:?}, predicted {p} ({}) (score {:.3}); top-5 {:?}",
            m.sample,
            m.accept,
            d.class_name(p).expect("the predicted class is named"),
            m.score(),
            m.top5
        );
        assert!(out.contains(&line), "{line}\n{out}");
    }
    // The worst classes' names come from the record too.
    let worst = &rec.accuracy.as_ref().unwrap().worst_classes;
    assert!(
        worst.iter().all(|c| d.class_name(c.class).is_some()),
        "{d:?}"
    );
}

/// RFC 4180 fields of one line (warnings may hold quoted commas).
fn csv_fields(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}
