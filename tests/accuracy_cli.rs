//! `edgemark run --mode accuracy|both|performance --dataset`: the accuracy
//! pieces wired into the CLI on the shared photos and models, and the input
//! errors that must stop a run before anything is timed (exit 2).
#![cfg(feature = "tract")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn edgemark(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edgemark"));
    cmd.args(args);
    // `run` writes records by default; keep them out of the source tree.
    if args.first() == Some(&"run") && !args.contains(&"--results") {
        let dir =
            std::env::temp_dir().join(format!("edgemark-test-results-{}", std::process::id()));
        cmd.arg("--results").arg(dir);
    }
    cmd.output().expect("run edgemark")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

struct Shared {
    model: PathBuf,
    images: PathBuf,
    labels: PathBuf,
}

fn shared() -> Option<Shared> {
    Some(Shared {
        model: common::shared_path("models/mobilenetv2-fp32.onnx")?,
        images: common::shared_path("images")?,
        labels: common::shared_path("images/labels.json")?,
    })
}

fn usage_error(o: &Output, needle: &str) {
    let e = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr: {e}");
    assert!(e.contains(needle), "{needle:?} not in {e:?}");
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn accuracy_mode_scores_the_shared_photos() {
    let Some(sh) = shared() else { return };
    let o = edgemark(&[
        "run",
        "--mode",
        "accuracy",
        "--model",
        s(&sh.model),
        "--dataset",
        s(&sh.images),
        "--labels",
        s(&sh.labels),
    ]);
    let out = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(out.contains("top-1   13/15"), "{out}");
    assert!(out.contains("grace_hopper.jpg") && out.contains("horses.jpg"));
    // Accuracy only: no scenario ran.
    assert!(!out.contains("Scenario :"), "{out}");
}

#[test]
fn both_modes_in_json_with_dataset_samples_as_the_qsl() {
    let Some(sh) = shared() else { return };
    let o = edgemark(&[
        "run",
        "--mode",
        "both",
        "--json",
        "--trace",
        "--scenario",
        "single-stream",
        "--min-duration-ms",
        "0",
        "--min-query-count",
        "5",
        "--warmup-queries",
        "1",
        "--model",
        s(&sh.model),
        "--dataset",
        s(&sh.images),
        "--labels",
        s(&sh.labels),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["mode"], "Both");
    assert_eq!(v["accuracy"]["top1"], 13);
    assert_eq!(v["accuracy"]["scored"], 15);
    // The labelled files are the QSL: 18 samples, all loaded, none made up.
    let sc = &v["scenarios"][0];
    assert_eq!(sc["effective_total_sample_count"], 18);
    let mut loaded: Vec<u64> = sc["loaded_qsl_set"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    loaded.sort();
    assert_eq!(loaded, (0..18).collect::<Vec<_>>());
    assert!(
        v["sut"]["description"]
            .as_str()
            .unwrap()
            .contains("data set inputs: 18"),
        "{}",
        v["sut"]["description"]
    );
}

#[test]
fn bad_data_set_inputs_are_usage_errors_before_timing() {
    let Some(sh) = shared() else { return };
    let m = s(&sh.model);
    let d = s(&sh.images);
    let l = s(&sh.labels);
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--model", m];
        args.extend_from_slice(extra);
        edgemark(&args)
    };
    usage_error(
        &run(&[
            "--mode",
            "accuracy",
            "--dataset",
            d,
            "--labels",
            "/nonexistent/l.json",
        ]),
        "/nonexistent/l.json",
    );
    usage_error(
        &run(&[
            "--mode",
            "accuracy",
            "--dataset",
            "/nonexistent/dir",
            "--labels",
            l,
        ]),
        "/nonexistent/dir",
    );
    usage_error(&run(&["--mode", "accuracy", "--dataset", d]), "labels");
    usage_error(&run(&["--mode", "accuracy"]), "dataset");
    usage_error(&run(&["--mode", "fast"]), "mode");
    usage_error(
        &run(&["--dataset", d, "--preprocess", "imagenet-caffe"]),
        "imagenet-caffe",
    );
    // The built-in model's weights are random: nothing to score.
    usage_error(
        &edgemark(&["run", "--mode", "accuracy", "--dataset", d, "--labels", l]),
        "performance only",
    );

    // A label the 1000-class model cannot produce: found once the model is
    // loaded, still before any inference or timing.
    let dir = std::env::temp_dir().join(format!("edgemark-acc-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("labels.json");
    std::fs::write(&bad, r#"{"dog.jpg": 1000, "apple.jpg": 948}"#).unwrap();
    let o = run(&["--mode", "both", "--dataset", d, "--labels", s(&bad)]);
    usage_error(&o, "outside the model's 1000 classes");
    assert!(text(&o.stderr).contains("dog.jpg"));
    assert!(o.stdout.is_empty(), "{}", text(&o.stdout));
}
