//! `edgemark inspect MODEL` end to end: real models list their ops and support;
//! bad input exits 1 naming the file.
#![cfg(feature = "tract")]

mod common;

use std::process::Command;

fn inspect(path: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_edgemark"))
        .arg("inspect")
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn iris_landmark_lists_interface_histogram_and_rewrites() {
    let Some(path) = common::shared_path("models/field/iris_landmark.tflite") else {
        return;
    };
    let (code, out, err) = inspect(&path);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("inputs:\n  input_1 float32 [1, 64, 64, 3]"),
        "{out}"
    );
    assert!(out.contains("outputs:"), "{out}");
    let prelu = out
        .lines()
        .find(|l| l.trim_start().starts_with("PRELU"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        prelu.contains("53") && prelu.contains("rewritten (prelu)"),
        "{prelu}"
    );
    assert!(
        out.contains("verdict: edgemark can run this model"),
        "{out}"
    );
}

#[test]
fn int8_model_shows_quantisation_of_its_interface() {
    let Some(path) = common::shared_path("models/mobilenetv2-int8.tflite") else {
        return;
    };
    let (code, out, err) = inspect(&path);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("int8 [1, 224, 224, 3] (scale 0.018658448, zero point -14)"),
        "{out}"
    );
    assert!(out.contains("quantized-add-requantize"), "{out}");
}

#[test]
fn garbage_and_wrong_format_exit_1_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("edgemark-inspect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("broken.tflite");
    std::fs::write(&bad, b"not a flatbuffer at all").unwrap();
    let (code, _, err) = inspect(&bad);
    assert_eq!(code, 1);
    assert!(
        err.contains("broken.tflite") && err.contains("not a valid TFLite flatbuffer"),
        "{err}"
    );
    let onnx = dir.join("model.onnx");
    std::fs::write(&onnx, b"x").unwrap();
    let (code, _, err) = inspect(&onnx);
    assert_eq!(code, 1);
    assert!(
        err.contains("model.onnx") && err.contains("only .tflite"),
        "{err}"
    );
    let (code, _, err) = inspect(&dir.join("missing.tflite"));
    assert_eq!(code, 1);
    assert!(err.contains("missing.tflite"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
