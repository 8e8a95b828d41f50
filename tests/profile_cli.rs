//! `edgemark profile [MODEL]` end to end: the built-in model and the shared
//! ONNX and TFLite models give a per-node and a per-op-type table that account
//! for every node and add up; bad input exits 2 (usage) or 1 (runtime) naming
//! the problem. The sum-vs-whole-run ratio is printed, not asserted (timing).
#![cfg(feature = "tract")]

mod common;

use std::process::Command;

use serde_json::Value;

fn profile(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_edgemark"))
        .arg("profile")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Checks the JSON report's internal consistency and returns it.
fn check_report(args: &[&str], expect_op: &str) -> Value {
    let mut all = args.to_vec();
    all.extend(["--runs", "3", "--json"]);
    let (code, out, err) = profile(&all);
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let nodes = r["nodes"].as_array().unwrap();
    let ops = r["ops"].as_array().unwrap();
    assert!(nodes.len() > 10, "{out}");
    // Every node is counted under exactly one op type, with its time.
    let counted: u64 = ops.iter().map(|o| o["count"].as_u64().unwrap()).sum();
    assert_eq!(counted as usize, nodes.len());
    let node_us: f64 = nodes.iter().map(|n| n["mean_us"].as_f64().unwrap()).sum();
    let op_us: f64 = ops.iter().map(|o| o["mean_us"].as_f64().unwrap()).sum();
    assert!(
        (node_us - op_us).abs() <= 1e-6 * node_us.max(1.0),
        "{node_us} {op_us}"
    );
    let shares: f64 = nodes.iter().map(|n| n["share_pct"].as_f64().unwrap()).sum();
    assert!((shares - 100.0).abs() < 1e-6, "{shares}");
    // Op types sorted by time, the named kernel among them.
    let times: Vec<f64> = ops.iter().map(|o| o["mean_us"].as_f64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    assert!(
        ops.iter().any(|o| o["op"].as_str() == Some(expect_op)),
        "no {expect_op} in {out}"
    );
    let (sum, whole, ratio) = (
        r["summed_us"].as_f64().unwrap(),
        r["whole_run_us"].as_f64().unwrap(),
        r["ratio"].as_f64().unwrap(),
    );
    assert!(sum > 0.0 && whole > 0.0, "{out}");
    assert!((ratio - sum / whole).abs() < 1e-9);
    assert_eq!(r["runs"], 3);
    println!(
        "{}: sum of nodes {sum:.0} us, whole run {whole:.0} us, ratio {ratio:.3}",
        r["model"]
    );
    r
}

#[test]
fn builtin_model_tables() {
    // Its convolutions run on edgemark's own f32 kernels (engine::tract::fp32).
    let r = check_report(&[], "EdgemarkDepthwise");
    assert_eq!(r["model"], "builtin-mobilenet-v1.onnx");
    // The text form: both tables and the check line.
    let (code, out, err) = profile(&["--runs", "2"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("by op type:"), "{out}");
    assert!(out.contains("whole run without profiling"), "{out}");
    let softmax = out
        .lines()
        .find(|l| l.contains("Softmax") && l.contains("softmax"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(softmax.contains("1,1000"), "{softmax}");
}

#[test]
fn shared_onnx_and_tflite_models() {
    for (m, op) in [
        ("models/mobilenetv2-fp32.onnx", "EdgemarkPointwise"),
        ("models/mobilenetv2-fp32.tflite", "EdgemarkDepthwise"),
    ] {
        let Some(path) = common::shared_path(m) else {
            return;
        };
        let r = check_report(&[path.to_str().unwrap()], op);
        assert!(r["model"].as_str().unwrap().ends_with(&m[7..]), "{r}");
    }
}

#[test]
fn threads_are_reported() {
    let (code, out, err) = profile(&["--runs", "1", "--threads", "2", "--json"]);
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["threads"], 2);
}

#[test]
fn bad_input_exits_with_the_right_code() {
    let dir = std::env::temp_dir().join(format!("edgemark-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Runtime (1): a missing file, a corrupt model; the message names the file.
    let missing = dir.join("missing.onnx");
    let (code, _, err) = profile(&[missing.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("missing.onnx"), "{err}");
    let bad = dir.join("bad.tflite");
    std::fs::write(&bad, b"not a model at all").unwrap();
    let (code, _, err) = profile(&[bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("bad.tflite") && err.contains("TFLite"),
        "{err}"
    );
    // Usage (2): zero runs, a malformed --input-shape.
    let (code, _, err) = profile(&["--runs", "0"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = profile(&["--input-shape", "input=1,x"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--input-shape"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
