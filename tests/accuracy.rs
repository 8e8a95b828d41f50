//! Accuracy mode against the shared photos and models: preprocessing equals the
//! reference tensors, MobileNetV2's top-1 is what the labels file documents, and
//! bad data (corrupt images, missing or impossible labels) is handled as specified.

mod common;

use std::path::PathBuf;

use edgemark::accuracy::classification::ClassificationScorer;
use edgemark::accuracy::{self, AccuracyError, ModelError};
use edgemark::dataset::image::{ImageFolder, Preprocess, PreprocessConfig, Preset};
use edgemark::dataset::labels::Labels;
use edgemark::dataset::{DType, InputSpec, Quant, Tensor, TensorData, npy};

const REFERENCE_PHOTOS: [&str; 6] = [
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "messi5.jpg",
    "baboon.jpg",
    "grace_hopper.jpg",
];

fn nchw_f32() -> InputSpec {
    InputSpec {
        shape: vec![1, 3, 224, 224],
        dtype: DType::F32,
        quant: None,
    }
}

fn torch(spec: &InputSpec) -> Preprocess {
    Preprocess::new(&PreprocessConfig::preset(Preset::ImagenetTorch), spec).unwrap()
}

fn stem(file: &str) -> &str {
    file.rsplit_once('.').unwrap().0
}

/// A fresh, empty scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("edgemark-acc-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn preprocessing_matches_reference_inputs() {
    let (Some(images), Some(refs)) = (
        common::shared_path("images"),
        common::shared_path("models/reference/mobilenetv2-fp32.onnx"),
    ) else {
        return;
    };
    let prep = torch(&nchw_f32());
    let mut worst = 0f32;
    for file in REFERENCE_PHOTOS {
        let img = edgemark::dataset::image::decode(&images.join(file)).unwrap();
        let got = prep.apply(&img);
        let want = npy::read(&refs.join(format!("{}.input.npy", stem(file)))).unwrap();
        assert_eq!(got.shape, want.shape, "{file}");
        let (TensorData::F32(g), TensorData::F32(w)) = (&got.data, &want.data) else {
            panic!("{file}: expected f32 tensors");
        };
        let max = g
            .iter()
            .zip(w)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        let off = g
            .iter()
            .zip(w)
            .filter(|(a, b)| (*a - *b).abs() > 1e-5)
            .count();
        println!(
            "{file}: max |diff| {max:.3e} ({:.3}/255), {off} of {} elements differ by > 1e-5",
            max * 255.0,
            g.len()
        );
        assert!(max <= 2.0 / 255.0, "{file}: max difference {max} > 2/255");
        worst = worst.max(max);
    }
    println!("max preprocessing difference over the six photos: {worst:.3e}");
}

#[test]
fn int8_nhwc_input_matches_tflite_reference() {
    // Same pipeline, NHWC and quantised with the int8 TFLite model's input
    // parameters (README: q = round(x / 0.018658448) - 14).
    let (Some(images), Some(refs)) = (
        common::shared_path("images"),
        common::shared_path("models/reference/mobilenetv2-int8.tflite"),
    ) else {
        return;
    };
    let spec = InputSpec {
        shape: vec![1, 224, 224, 3],
        dtype: DType::I8,
        quant: Some(Quant {
            scale: 0.018658448,
            zero_point: -14,
        }),
    };
    let prep = torch(&spec);
    for file in REFERENCE_PHOTOS {
        let img = edgemark::dataset::image::decode(&images.join(file)).unwrap();
        let got = prep.apply(&img);
        let want = npy::read(&refs.join(format!("{}.input.npy", stem(file)))).unwrap();
        let (TensorData::I8(g), TensorData::I8(w)) = (&got.data, &want.data) else {
            panic!("{file}: expected i8 tensors");
        };
        assert_eq!(got.shape, want.shape);
        let max = g
            .iter()
            .zip(w)
            .map(|(a, b)| (*a as i32 - *b as i32).abs())
            .max()
            .unwrap();
        let off = g.iter().zip(w).filter(|(a, b)| a != b).count();
        println!("{file}: int8 NHWC max code difference {max}, {off} codes differ");
        assert!(max <= 1, "{file}: int8 input differs by {max} codes");
    }
}

fn shared_labels() -> Option<(PathBuf, Labels)> {
    let images = common::shared_path("images")?;
    let labels = Labels::load(&images.join("labels.json")).unwrap();
    Some((images, labels))
}

/// A stand-in model for data-path tests: always the same 1000 scores.
fn constant_model(_: &Tensor) -> Result<Vec<Tensor>, ModelError> {
    let mut v = vec![0f32; 1000];
    v[281] = 1.0;
    Ok(vec![Tensor::f32(vec![1, 1000], v)])
}

#[test]
fn corrupt_image_is_named_and_counted_failed() {
    let Some((images, _)) = shared_labels() else {
        return;
    };
    let dir = scratch("corrupt");
    std::fs::copy(images.join("chelsea.png"), dir.join("chelsea.png")).unwrap();
    let mut bytes = std::fs::read(images.join("rocket.jpg")).unwrap();
    bytes.truncate(600); // a JPEG cut off inside its headers
    std::fs::write(dir.join("broken.jpg"), bytes).unwrap();
    std::fs::write(dir.join("notes.png"), b"this is text, not a PNG").unwrap();
    std::fs::write(
        dir.join("labels.txt"),
        "chelsea.png 281\nbroken.jpg 657\nnotes.png 1\nmissing.png 2\n",
    )
    .unwrap();
    let labels = Labels::load(&dir.join("labels.txt")).unwrap();
    let data = ImageFolder::new(&dir, labels.files(), torch(&nchw_f32()));
    let scorer = ClassificationScorer::new(labels, 1000).unwrap();
    let r = accuracy::run(&mut constant_model, &data, scorer).unwrap();
    let failed: Vec<&str> = r.failed.iter().map(|f| f.sample.as_str()).collect();
    assert_eq!(failed, vec!["broken.jpg", "notes.png", "missing.png"]);
    for f in &r.failed {
        assert!(
            f.reason.contains(&f.sample),
            "reason must name the file: {}",
            f.reason
        );
        println!("failed as expected: {}", f.reason);
    }
    assert_eq!((r.ran(), r.summary.scored, r.summary.failed), (1, 4, 3));
    assert_eq!(r.summary.top1, 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_labels_file_is_an_error_naming_it() {
    let dir = scratch("nolabels");
    let path = dir.join("val_map.txt");
    let err = Labels::load(&path).unwrap_err().to_string();
    assert!(err.contains("val_map.txt"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn label_outside_the_model_classes_is_an_error_before_running() {
    let dir = scratch("range");
    std::fs::write(dir.join("labels.csv"), "file,label\na.png,12\nb.png,1000\n").unwrap();
    let labels = Labels::load(&dir.join("labels.csv")).unwrap();
    let err = ClassificationScorer::new(labels, 1000).unwrap_err();
    assert!(matches!(err, AccuracyError::Dataset(_)));
    let text = err.to_string();
    assert!(
        text.contains("b.png") && text.contains("1000") && text.contains("labels.csv"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(feature = "tract")]
mod models {
    use std::path::Path;

    use super::*;
    use edgemark::accuracy::AccuracyResult;
    use edgemark::accuracy::classification::ClassificationSummary;
    use edgemark::engine::tract::TractModel;
    use edgemark::record::{Accuracy as AccuracyRecord, AccuracyDetails};
    use edgemark::report::accuracy::{Variant, write_comparison, write_summary};

    /// What a record keeps of the run, for the printers.
    fn persisted(r: &AccuracyResult<ClassificationSummary>) -> AccuracyRecord {
        AccuracyRecord::from_result("images", None, "imagenet-torch".into(), r)
    }

    fn run_model(model: &Path) -> AccuracyResult<ClassificationSummary> {
        let (images, labels) = shared_labels().unwrap();
        let mut m = TractModel::load(model, &[]).unwrap();
        let prep =
            Preprocess::new(&PreprocessConfig::preset(Preset::ImagenetTorch), &m.input).unwrap();
        let data = ImageFolder::new(&images, labels.files(), prep);
        let scorer = ClassificationScorer::new(labels, m.output_len).unwrap();
        let r = accuracy::run(&mut |t: &Tensor| Ok(m.infer(t)?), &data, scorer).unwrap();
        let names = edgemark::dataset::labels::load_class_names(
            &common::shared_path("models/imagenet_classes.txt").unwrap(),
        )
        .unwrap();
        let mut out = Vec::new();
        let title = model.file_name().unwrap().to_string_lossy();
        let a = persisted(&r);
        let details = AccuracyDetails::from_result(&r, Some(&names), &a);
        write_summary(&mut out, &title, &a, Some(&details)).unwrap();
        println!("{}", String::from_utf8(out).unwrap());
        r
    }

    #[test]
    fn mobilenetv2_fp32_tflite_nhwc_accuracy() {
        // The same network as TFLite takes NHWC input: the layout comes from its shape.
        let Some(model) = common::shared_path("models/mobilenetv2-fp32.tflite") else {
            return;
        };
        let r = run_model(&model);
        assert_eq!((r.summary.top1, r.summary.scored), (13, 15));
    }

    #[test]
    fn mobilenetv2_fp32_and_int8_qdq_accuracy() {
        let (Some(fp32), Some(int8), Some(_)) = (
            common::shared_path("models/mobilenetv2-fp32.onnx"),
            common::shared_path("models/mobilenetv2-int8-qdq.onnx"),
            common::shared_path("images/labels.json"),
        ) else {
            return;
        };
        let a = run_model(&fp32);
        // labels.json documents 13 of 15 scored photos right, missing these two.
        assert_eq!((a.summary.top1, a.summary.scored), (13, 15));
        assert!(a.failed.is_empty());
        let mut missed: Vec<&str> = a
            .summary
            .misclassified
            .iter()
            .map(|m| m.sample.as_str())
            .collect();
        missed.sort();
        assert_eq!(missed, vec!["grace_hopper.jpg", "horses.jpg"]);
        // Top-5 from onnxruntime's reference for the six reference photos.
        let refs =
            common::shared_path("models/reference/mobilenetv2-fp32.onnx/reference.json").unwrap();
        let refj: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(refs).unwrap()).unwrap();
        for (file, top5) in &a.summary.predictions {
            if let Some(want) = refj["images"][file.as_str()]["top5"].as_array() {
                let want: Vec<usize> = want.iter().map(|v| v.as_u64().unwrap() as usize).collect();
                assert_eq!(top5, &want, "{file}: top-5 differs from onnxruntime's");
            }
        }

        let b = run_model(&int8);
        // Engines round int8 arithmetic differently (README): report, don't assert,
        // how often tract's top-1 agrees with onnxruntime's on the reference photos.
        let refs = common::shared_path("models/reference/mobilenetv2-int8-qdq.onnx/reference.json")
            .unwrap();
        let refj: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(refs).unwrap()).unwrap();
        let (mut agree, mut total) = (0, 0);
        for (file, top5) in &b.summary.predictions {
            if let Some(want) = refj["images"][file.as_str()]["top5"].as_array() {
                total += 1;
                agree += (want[0].as_u64() == Some(top5[0] as u64)) as usize;
            }
        }
        println!(
            "int8 QDQ top-1 agreement with onnxruntime on the reference photos: {agree}/{total}"
        );
        assert_eq!(b.summary.scored, 15);
        assert!(b.failed.is_empty());
        let mut out = Vec::new();
        let (a, b) = (persisted(&a), persisted(&b));
        write_comparison(
            &mut out,
            &Variant::from_accuracy("mobilenetv2-fp32.onnx", &a),
            &Variant::from_accuracy("mobilenetv2-int8-qdq.onnx", &b),
        )
        .unwrap();
        println!("{}", String::from_utf8(out).unwrap());
    }
}

#[test]
fn npy_folder_feeds_preprocessed_tensors_and_checks_their_shape() {
    use edgemark::dataset::npy_folder::NpyFolder;
    let (Some(refs), Some((_, labels))) = (
        common::shared_path("models/reference/mobilenetv2-fp32.onnx"),
        shared_labels(),
    ) else {
        return;
    };
    let dir = scratch("npy");
    for file in REFERENCE_PHOTOS {
        let s = stem(file);
        std::fs::copy(
            refs.join(format!("{s}.input.npy")),
            dir.join(format!("{s}.npy")),
        )
        .unwrap();
    }
    let data = NpyFolder::open(&dir, nchw_f32()).unwrap();
    // The stand-in model checks each tensor arrives intact (the reference itself).
    let mut seen = Vec::new();
    let mut model = |t: &Tensor| -> Result<Vec<Tensor>, ModelError> {
        let TensorData::F32(v) = &t.data else {
            return Err("not f32".into());
        };
        seen.push(v.iter().map(|x| *x as f64).sum::<f64>());
        constant_model(t)
    };
    // `chelsea.npy` finds `chelsea.png`'s label by stem.
    let scorer = ClassificationScorer::new(labels, 1000).unwrap();
    let r = accuracy::run(&mut model, &data, scorer).unwrap();
    assert_eq!((r.samples, r.ran(), r.summary.scored), (6, 6, 6));
    assert_eq!(
        r.summary.top1, 1,
        "constant class 281 is right only for chelsea"
    );
    let want = npy::read(&refs.join("baboon.input.npy")).unwrap();
    let TensorData::F32(w) = &want.data else {
        panic!()
    };
    assert_eq!(
        seen[0],
        w.iter().map(|x| *x as f64).sum::<f64>(),
        "sorted: baboon first"
    );

    let nhwc = InputSpec {
        shape: vec![1, 224, 224, 3],
        dtype: DType::F32,
        quant: None,
    };
    let data = NpyFolder::open(&dir, nhwc).unwrap();
    let err = edgemark::dataset::Dataset::load(&data, 0)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("baboon.npy") && err.contains("[1, 3, 224, 224]"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn damaged_jpegs_give_errors_or_images_never_panics() {
    let Some(images) = common::shared_path("images") else {
        return;
    };
    let good = std::fs::read(images.join("messi5.jpg")).unwrap();
    let path = std::path::Path::new("damaged.jpg");
    let mut errors = 0;
    // Cuts through headers, tables and entropy data; then deterministic byte damage.
    for cut in (2..good.len()).step_by(good.len() / 23) {
        errors += edgemark::dataset::image::decode_bytes(&good[..cut], path).is_err() as usize;
    }
    let mut seed = 0x2545_f491_u32;
    for _ in 0..12 {
        let mut bad = good.clone();
        for _ in 0..8 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let at = seed as usize % bad.len();
            bad[at] ^= (seed >> 24) as u8 | 1;
        }
        if let Err(e) = edgemark::dataset::image::decode_bytes(&bad, path) {
            assert!(e.to_string().contains("damaged.jpg"), "{e}");
            errors += 1;
        }
    }
    println!("{errors} of the damaged variants were rejected, the rest decoded");
    assert!(errors >= 20, "truncated files must be errors");
}

#[test]
fn open_picks_images_or_npy_and_names_a_missing_folder() {
    let Some((images, labels)) = shared_labels() else {
        return;
    };
    let cfg = PreprocessConfig::preset(Preset::ImagenetTorch);
    let d = edgemark::dataset::open(&images, Some(&labels), &cfg, &nchw_f32()).unwrap();
    assert_eq!((d.len(), d.name(0)), (18, "chelsea.png"));
    let d = edgemark::dataset::open(&images, None, &cfg, &nchw_f32()).unwrap();
    assert_eq!((d.len(), d.name(0)), (18, "apple.jpg"));
    let dir = scratch("open");
    std::fs::write(dir.join("x.npy"), b"").unwrap();
    let d = edgemark::dataset::open(&dir, None, &cfg, &nchw_f32()).unwrap();
    assert!(d.load(0).unwrap_err().to_string().contains("x.npy"));
    let Err(err) = edgemark::dataset::open(&dir.join("nope"), None, &cfg, &nchw_f32()) else {
        panic!("a missing folder must be an error");
    };
    assert!(err.to_string().contains("nope"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn jpeg_decoder_agrees_with_the_image_crate_on_every_shared_jpeg() {
    // The six reference photos pin the libjpeg-exact paths (4:4:4, 4:2:2, 4:2:0);
    // the others add 4:4:0 sampling and restart intervals (dog, eagle, horses).
    // Decoders differ in rounding, so this is a closeness check against an
    // independent decoder: a desynchronised restart or a wrong upsampling
    // direction would show as large errors.
    let Some(images) = common::shared_path("images") else {
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&images)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    files.sort();
    assert!(files.len() >= 12, "expected the shared JPEGs");
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let (w, h, mine) = edgemark::dataset::jpeg::decode(&bytes).unwrap().unwrap();
        let other = image::load_from_memory(&bytes).unwrap().into_rgb8();
        assert_eq!((w as u32, h as u32), other.dimensions());
        let diffs: Vec<i32> = mine
            .iter()
            .zip(other.as_raw())
            .map(|(a, b)| (*a as i32 - *b as i32).abs())
            .collect();
        let max = *diffs.iter().max().unwrap();
        let mean = diffs.iter().sum::<i32>() as f64 / diffs.len() as f64;
        println!(
            "{}: vs image crate max {max}, mean {mean:.3}",
            path.display()
        );
        assert!(
            mean < 0.5 && max <= 8,
            "{}: max {max}, mean {mean}",
            path.display()
        );
    }
}

/// imagenet-tf places the centre crop like TF's `central_crop` and MLPerf's
/// reference (truncated offset), imagenet-torch like torchvision (half to even):
/// butterfly.jpg (493x356 -> 355x256) is cropped at x = 65 vs x = 66 from the
/// same resized pixels; `--crop-rounding` switches either preset.
#[test]
fn imagenet_tf_crops_like_tf_central_crop() {
    let Some(path) = common::shared_path("images/butterfly.jpg") else {
        return;
    };
    use edgemark::dataset::image::{CropRounding, decode, resize_bilinear, short_side_size};
    let img = decode(&path).unwrap();
    assert_eq!((img.width, img.height), (493, 356));
    let (w, h) = short_side_size(img.width, img.height, 256);
    assert_eq!((w, h), (355, 256));
    let resized = resize_bilinear(&img, w, h);
    // The 224x224 window of `resized` whose top-left corner is (left, 16).
    let window = |left: usize| -> Vec<u8> {
        (16..16 + 224)
            .flat_map(|y| resized.data[(y * w + left) * 3..(y * w + left + 224) * 3].to_vec())
            .collect()
    };
    let nhwc = InputSpec {
        shape: vec![1, 224, 224, 3],
        dtype: DType::F32,
        quant: None,
    };
    let geometry =
        |cfg: PreprocessConfig| Preprocess::new(&cfg, &nhwc).unwrap().geometry(&img).data;
    let tf = geometry(PreprocessConfig::preset(Preset::ImagenetTf));
    let torch = geometry(PreprocessConfig::preset(Preset::ImagenetTorch));
    assert_eq!(tf, window(65));
    assert_eq!(torch, window(66));
    assert_ne!(tf, torch);
    let mut switched = PreprocessConfig::preset(Preset::ImagenetTorch);
    switched.crop_rounding = Some(CropRounding::Truncate);
    assert_eq!(geometry(switched), tf);
}
