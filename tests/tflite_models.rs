//! Real TFLite models through `engine::tract::tflite::load_tflite` and tract, against the
//! TensorFlow Lite 2.21 references in `../shared/models`.
#![cfg(feature = "tract")]

mod common;

use std::path::Path;

use edgemark::engine::tract::tflite::load_tflite;
use edgemark::tensor::TensorData;
use tract_tflite::prelude::*;

/// A reference tensor, read by edgemark's `.npy` reader.
fn read_npy(path: &Path) -> Tensor {
    let array = edgemark::tensor::npy::read(path).unwrap_or_else(|e| panic!("{e}"));
    match &array.data {
        TensorData::F32(v) => Tensor::from_shape(&array.shape, v),
        TensorData::I8(v) => Tensor::from_shape(&array.shape, v),
        other => panic!("{}: unexpected dtype {:?}", path.display(), other.dtype()),
    }
    .unwrap()
}

fn runnable(path: &Path) -> Arc<TypedRunnableModel> {
    let bytes = std::fs::read(path).unwrap();
    let (model, report) = load_tflite(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    eprintln!("{}: rewrites: {}", path.display(), report.summary());
    model.into_optimized().unwrap().into_runnable().unwrap()
}

/// Runs with inputs given the model's (possibly quantised) input types.
fn run(model: &Arc<TypedRunnableModel>, inputs: Vec<Tensor>) -> TVec<TValue> {
    let inputs = inputs
        .into_iter()
        .enumerate()
        .map(|(i, mut t)| {
            let dt = model.model().input_fact(i).unwrap().datum_type;
            assert_eq!(dt.unquantized(), t.datum_type());
            unsafe { t.set_datum_type(dt) };
            t.into()
        })
        .collect();
    model.run(inputs).unwrap()
}

use common::PHOTOS;

#[test]
fn mobilenetv2_fp32_tflite_matches_reference() {
    let Some(model_path) = common::shared_path("models/mobilenetv2-fp32.tflite") else {
        return;
    };
    let Some(refs) = common::shared_path("models/reference/mobilenetv2-fp32.tflite") else {
        return;
    };
    let model = runnable(&model_path);
    let mut worst = 0f32;
    for photo in PHOTOS {
        let input = read_npy(&refs.join(format!("{photo}.input.npy")));
        let expected = read_npy(&refs.join(format!("{photo}.output.npy")));
        let out = run(&model, vec![input]);
        assert_eq!(out[0].shape(), expected.shape(), "{photo}");
        let got = out[0]
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<f32>()
            .unwrap()
            .to_vec();
        let want = expected
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<f32>()
            .unwrap()
            .to_vec();
        let err = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        worst = worst.max(err);
        assert!(err <= 1e-4, "{photo}: max abs error {err}");
    }
    eprintln!("mobilenetv2-fp32.tflite: worst abs error {worst:e}");
}

fn argmax_i8(v: &[i8]) -> usize {
    // First maximum, as numpy's argmax.
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

#[test]
fn mobilenetv2_int8_tflite_top1_and_logits() {
    let Some(model_path) = common::shared_path("models/mobilenetv2-int8.tflite") else {
        return;
    };
    let Some(refs) = common::shared_path("models/reference/mobilenetv2-int8.tflite") else {
        return;
    };
    let model = runnable(&model_path);
    let mut worst = 0i32;
    for photo in PHOTOS {
        let input = read_npy(&refs.join(format!("{photo}.input.npy")));
        let expected = read_npy(&refs.join(format!("{photo}.output.npy")));
        let out = run(&model, vec![input]);
        let got = out[0]
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<i8>()
            .unwrap()
            .to_vec();
        let want = expected
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<i8>()
            .unwrap()
            .to_vec();
        assert_eq!(got.len(), want.len());
        let steps = got
            .iter()
            .zip(&want)
            .map(|(&a, &b)| (a as i32 - b as i32).abs())
            .max()
            .unwrap();
        worst = worst.max(steps);
        let mean = got
            .iter()
            .zip(&want)
            .map(|(&a, &b)| (a as i32 - b as i32).abs())
            .sum::<i32>() as f32
            / got.len() as f32;
        eprintln!(
            "{photo}: max {steps} int8 steps, mean {mean:.2}, top-1 {} (reference {})",
            argmax_i8(&got),
            argmax_i8(&want)
        );
        assert_eq!(argmax_i8(&got), argmax_i8(&want), "{photo}: top-1 differs");
        assert!(steps <= 20, "{photo}: logits differ by {steps} int8 steps");
    }
    eprintln!("mobilenetv2-int8.tflite: worst logit difference {worst} int8 steps");
}

/// Every output within 1e-3 absolute or 1e-3 relative of TFLite 2.21's.
fn check_field_model(name: &str) {
    let Some(model_path) = common::shared_path(&format!("models/field/{name}.tflite")) else {
        return;
    };
    let Some(refs) = common::shared_path(&format!("models/field/reference/{name}")) else {
        return;
    };
    let model = runnable(&model_path);
    let n_in = model.model().inputs.len();
    let n_out = model.model().outputs.len();
    let inputs = (0..n_in)
        .map(|i| read_npy(&refs.join(format!("input{i}.npy"))))
        .collect();
    let outs = run(&model, inputs);
    let mut report = vec![];
    for i in 0..n_out {
        let expected = read_npy(&refs.join(format!("output{i}.npy")));
        assert_eq!(outs[i].shape(), expected.shape(), "{name} output {i}");
        let got = outs[i]
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<f32>()
            .unwrap()
            .to_vec();
        let want = expected
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<f32>()
            .unwrap()
            .to_vec();
        let (mut worst_abs, mut worst_rel) = (0f32, 0f32);
        for (j, (a, b)) in got.iter().zip(&want).enumerate() {
            let abs = (a - b).abs();
            let rel = abs / b.abs().max(f32::MIN_POSITIVE);
            assert!(
                abs <= 1e-3 || rel <= 1e-3,
                "{name} output {i}[{j}]: got {a}, want {b}"
            );
            worst_abs = worst_abs.max(abs);
            worst_rel = worst_rel.max(abs.min(rel));
        }
        report.push(format!(
            "output{i}: max abs {worst_abs:.2e}, worst min(abs,rel) {worst_rel:.2e}"
        ));
    }
    eprintln!("{name}: {}", report.join("; "));
}

#[test]
fn face_detection_short_range_matches_reference() {
    check_field_model("face_detection_short_range");
}

#[test]
fn face_landmark_matches_reference() {
    check_field_model("face_landmark");
}

#[test]
fn hand_landmark_lite_matches_reference() {
    check_field_model("hand_landmark_lite");
}

#[test]
fn iris_landmark_matches_reference() {
    check_field_model("iris_landmark");
}
