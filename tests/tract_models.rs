//! The tract backend on real models (../shared/models) and on broken ones:
//! reference outputs reproduced, int8 agreeing with fp32, clear errors for bad
//! files, the built-in model, and multi-instance Offline.
#![cfg(feature = "tract")]

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use edgemark::cli::InferArgs;
use edgemark::engine::tract::load;
use edgemark::loadgen::Clock;
use edgemark::plan::{BuiltInSpec, ModelSpec, Pinning, SutSpec};
use edgemark::sut::Sut;
use edgemark::sut::tract::{TractSut, build_tract};
use edgemark::tensor::{Tensor, TensorData, npy};

use common::PHOTOS;

/// A fresh folder per call: tests run in parallel and some share tags.
fn tmp_dir(tag: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("edgemark-tract-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn infer_one(
    model: &Path,
    input: &Path,
    out: &Path,
) -> Result<edgemark::commands::infer::InferOutput, String> {
    let args = InferArgs {
        model: model.to_owned(),
        inputs: vec![input.to_owned()],
        output_dir: out.to_owned(),
        input_shape: vec![],
        labels: None,
    };
    edgemark::commands::infer::run(&args).map_err(|e| e.to_string())
}

fn f32s(a: &Tensor) -> Vec<f32> {
    match &a.data {
        TensorData::F32(v) => v.clone(),
        other => panic!("expected f32, got {:?}", other.dtype()),
    }
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap()
}

/// (photo, our output, reference output).
type Row = (String, Vec<f32>, Vec<f32>);

/// Runs `model` on each photo's reference input.
fn against_reference(model_file: &str) -> Option<Vec<Row>> {
    let model = common::shared_path(&format!("models/{model_file}"))?;
    let refs = common::shared_path(&format!("models/reference/{model_file}"))?;
    let out = tmp_dir(&model_file.replace('.', "-"));
    let mut rows = vec![];
    for photo in PHOTOS {
        let input = refs.join(format!("{photo}.input.npy"));
        let got =
            infer_one(&model, &input, &out).unwrap_or_else(|e| panic!("{model_file} {photo}: {e}"));
        assert_eq!(got.outputs.len(), 1);
        let written = npy::read(&got.outputs[0].file).unwrap();
        assert_eq!(
            written, got.outputs[0].array,
            "the .npy written is what was computed"
        );
        let reference = npy::read(&refs.join(format!("{photo}.output.npy"))).unwrap();
        assert_eq!(written.shape, reference.shape, "{photo}");
        rows.push((photo.to_string(), f32s(&written), f32s(&reference)));
    }
    let _ = std::fs::remove_dir_all(&out);
    Some(rows)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn fp32_onnx_reproduces_onnxruntime_within_1e4() {
    let Some(rows) = against_reference("mobilenetv2-fp32.onnx") else {
        return;
    };
    for (photo, ours, reference) in rows {
        let d = max_abs_diff(&ours, &reference);
        eprintln!("mobilenetv2-fp32.onnx {photo}: max |diff| = {d:e}");
        assert!(d <= 1e-4, "{photo}: max abs diff {d}");
        assert_eq!(argmax(&ours), argmax(&reference));
    }
}

#[test]
fn fp32_tflite_reproduces_tflite_within_1e4() {
    // tract-tflite 0.23.9 computes this model correctly (checked here), so no
    // expected failure is pinned for it.
    let Some(rows) = against_reference("mobilenetv2-fp32.tflite") else {
        return;
    };
    for (photo, ours, reference) in rows {
        let d = max_abs_diff(&ours, &reference);
        eprintln!("mobilenetv2-fp32.tflite {photo}: max |diff| = {d:e}");
        assert!(d <= 1e-4, "{photo}: max abs diff {d}");
    }
}

#[test]
fn int8_qdq_onnx_top1_agrees_with_fp32() {
    let Some(fp32) = against_reference("mobilenetv2-fp32.onnx") else {
        return;
    };
    let Some(int8) = against_reference("mobilenetv2-int8-qdq.onnx") else {
        return;
    };
    let mut agree = 0;
    for ((photo, f, _), (_, q, q_ref)) in fp32.iter().zip(&int8) {
        eprintln!(
            "{photo}: fp32 top1 {} int8 top1 {} (onnxruntime int8 {})",
            argmax(f),
            argmax(q),
            argmax(q_ref)
        );
        agree += usize::from(argmax(f) == argmax(q));
    }
    assert!(
        agree >= 5,
        "int8 top-1 equals fp32 top-1 on only {agree} of 6 photos"
    );
}

#[test]
fn int8_qdq_onnx_top1_agrees_with_onnxruntime_int8() {
    // The model's logits are dequantised from int8 with this scale (its last
    // DequantizeLinear); onnxruntime's int8 kernels are the reference.
    const LOGIT_SCALE: f32 = 0.104_579_35;
    let Some(int8) = against_reference("mobilenetv2-int8-qdq.onnx") else {
        return;
    };
    // The stored outputs came from onnxruntime on another CPU: onnxruntime
    // 1.32 on this project's CI machine differs from them by 15-50 int8 steps
    // itself (its integer kernels depend on the CPU), so here only top-1 is
    // asserted and the step distance printed. The 20-step bound of issue 13 is
    // checked against onnxruntime run on the same machine by
    // scripts/check_int8_onnxruntime.sh, a step of .ci/run.
    let mut worst = 0;
    for (photo, q, q_ref) in &int8 {
        let steps = q
            .iter()
            .zip(q_ref)
            .map(|(a, b)| ((a - b).abs() / LOGIT_SCALE).round() as i32)
            .max()
            .unwrap();
        eprintln!("mobilenetv2-int8-qdq.onnx {photo}: max int8 step diff {steps}");
        assert_eq!(argmax(q), argmax(q_ref), "{photo}: top-1");
        worst = worst.max(steps);
    }
    eprintln!("mobilenetv2-int8-qdq.onnx: worst logit difference {worst} int8 steps");
}

#[test]
fn int8_tflite_runs_through_the_product_path_with_tflite_top1() {
    // tract-tflite 0.23.9 alone cannot load this model (int8 ADD with differing
    // input scales); `edgemark infer` goes through the TFLite rewrite pass, so it must
    // load and agree with TensorFlow Lite on every photo, within 20 int8 steps.
    let Some(model) = common::shared_path("models/mobilenetv2-int8.tflite") else {
        return;
    };
    let Some(refs) = common::shared_path("models/reference/mobilenetv2-int8.tflite") else {
        return;
    };
    let out = tmp_dir("int8-tflite");
    let i8s = |a: &Tensor| match &a.data {
        TensorData::I8(v) => v.clone(),
        other => panic!("expected i8, got {:?}", other.dtype()),
    };
    // Ties are common in int8 logits: the first maximum wins, as numpy's argmax.
    let argmax_i8 = |v: &[i8]| (0..v.len()).rev().max_by_key(|&i| v[i]).unwrap();
    for photo in PHOTOS {
        let input = refs.join(format!("{photo}.input.npy"));
        let got = infer_one(&model, &input, &out).unwrap_or_else(|e| panic!("{photo}: {e}"));
        let ours = i8s(&got.outputs[0].array);
        let reference = i8s(&npy::read(&refs.join(format!("{photo}.output.npy"))).unwrap());
        assert_eq!(ours.len(), reference.len(), "{photo}");
        let steps = ours
            .iter()
            .zip(&reference)
            .map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs())
            .max()
            .unwrap();
        eprintln!("mobilenetv2-int8.tflite {photo}: max int8 step diff {steps}");
        assert_eq!(argmax_i8(&ours), argmax_i8(&reference), "{photo}: top-1");
        assert!(
            steps <= 20,
            "{photo}: logits {steps} int8 steps from TFLite"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn unsupported_operators_are_named_with_their_node() {
    let onnx = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models/unknown-op.onnx");
    let bytes = std::fs::read(&onnx).unwrap();
    let e = load::load_model("unknown-op.onnx", &bytes, &[], false)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("unknown-op.onnx: "), "{e}");
    assert!(e.contains("EdgemarkFrobnicate (node 'frob_node')"), "{e}");

    // A TFLite model whose first operator code is patched to LSH_PROJECTION
    // (builtin code 15), which tract-tflite does not implement.
    let Some(tfl) = common::shared_path("models/mobilenetv2-fp32.tflite") else {
        return;
    };
    let mut bytes = std::fs::read(tfl).unwrap();
    patch_first_opcode(&mut bytes, 15);
    let e = load::load_model("patched.tflite", &bytes, &[], false)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("patched.tflite: TFLite operator LSH_PROJECTION (builtin code 15) at node '"),
        "{e}"
    );
    assert!(e.contains("is not supported by tract-tflite 0.23.9"), "{e}");
}

/// Rewrites the `deprecated_builtin_code` of the model's first OperatorCode by
/// walking the flatbuffer by hand (root table -> field 1 vector -> table -> field 0).
fn patch_first_opcode(buf: &mut [u8], code: i8) {
    let u32_at = |b: &[u8], p: usize| u32::from_le_bytes(b[p..p + 4].try_into().unwrap()) as usize;
    let i32_at = |b: &[u8], p: usize| i32::from_le_bytes(b[p..p + 4].try_into().unwrap()) as isize;
    let u16_at = |b: &[u8], p: usize| u16::from_le_bytes(b[p..p + 2].try_into().unwrap()) as usize;
    let field = |b: &[u8], table: usize, ix: usize| {
        let vtable = (table as isize - i32_at(b, table)) as usize;
        let off = u16_at(b, vtable + 4 + 2 * ix);
        assert!(off != 0, "field {ix} absent");
        table + off
    };
    let root = u32_at(buf, 0);
    let codes_ref = field(buf, root, 1);
    let codes = codes_ref + u32_at(buf, codes_ref);
    assert!(u32_at(buf, codes) > 0);
    let first_ref = codes + 4;
    let first = first_ref + u32_at(buf, first_ref);
    let dep = field(buf, first, 0);
    buf[dep] = code as u8;
}

#[test]
fn broken_model_files_give_errors_naming_file_and_problem() {
    let dir = tmp_dir("broken");
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_string_lossy().into_owned()
    };
    let mut rng = 0x1234_5678_u64;
    let random: Vec<u8> = (0..50_000)
        .map(|_| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng >> 24) as u8
        })
        .collect();
    let mut cases: Vec<(String, &str)> = vec![
        (write("empty.onnx", b""), "empty"),
        (write("random.onnx", &random), "not a valid ONNX model"),
        (write("random.tflite", &random), "no \"TFL3\" identifier"),
        (write("random.bin", &random[1..]), "unknown model format"),
        (
            dir.join("missing.onnx").to_string_lossy().into_owned(),
            "No such file",
        ),
    ];
    if let Some(m) = common::shared_path("models/mobilenetv2-fp32.onnx") {
        let b = std::fs::read(m).unwrap();
        cases.push((
            write("truncated.onnx", &b[..b.len() / 3]),
            "not a valid ONNX model",
        ));
    }
    if let Some(m) = common::shared_path("models/mobilenetv2-fp32.tflite") {
        let b = std::fs::read(m).unwrap();
        cases.push((
            write("truncated.tflite", &b[..b.len() / 3]),
            "truncated or corrupt",
        ));
        let mut head_cut = b[..8].to_vec();
        head_cut.extend_from_slice(&random[..1000]);
        cases.push((write("garbage-after-header.tflite", &head_cut), "TFLite"));
    }
    for (path, want) in cases {
        let spec = SutSpec::Model(ModelSpec {
            path: path.clone(),
            input_shapes: vec![],
            inputs: vec![],
            instances: 1,
            threads: 1,
            cpus: Pinning::default(),
        });
        let e = match build_tract(&spec, Default::default()) {
            Ok(_) => panic!("{path} loaded"),
            Err(e) => e.to_string(),
        };
        assert!(e.starts_with(&path), "error must start with the path: {e}");
        assert!(e.contains(want), "{path}: expected {want:?} in {e:?}");
        assert!(e.len() < 600, "error should be one readable line: {e}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_binary_exits_1_for_broken_models_and_2_for_usage_errors() {
    let dir = tmp_dir("cli");
    let bad = dir.join("bad.onnx");
    std::fs::write(&bad, b"\x08\x07garbage garbage").unwrap();
    let x = dir.join("x.npy");
    npy::write(
        &x,
        &Tensor::new(vec![1, 4], TensorData::F32(vec![0.0; 4])).unwrap(),
    )
    .unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_edgemark"))
            .args(args)
            .output()
            .unwrap()
    };
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let o = run(&[
        "infer",
        &s(&bad),
        "--input",
        &s(&x),
        "--output-dir",
        &s(&dir),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.onnx") && !err.contains("panicked"),
        "{err}"
    );

    let dynamic =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models/dynamic-batch.onnx");
    let o = run(&[
        "infer",
        &s(&dynamic),
        "--input",
        &s(&x),
        "--output-dir",
        &s(&dir),
        "--input-shape",
        "x=oops",
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dynamic_dims_default_batch_to_1_and_ask_for_the_rest() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models/dynamic-batch.onnx");
    let bytes = std::fs::read(&p).unwrap();
    let e = load::load_model("dynamic-batch.onnx", &bytes, &[], false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("input 'x' has dynamic shape") && e.contains("--input-shape x="),
        "{e}"
    );
    let m = load::load_model(
        "dynamic-batch.onnx",
        &bytes,
        &[("x".into(), vec![1, 4, 7])],
        false,
    )
    .unwrap();
    assert_eq!(m.info.inputs[0].shape, vec![1, 4, 7]);
    assert_eq!(m.info.outputs[0].shape, vec![1, 4, 7]);
    let e = load::load_model(
        "dynamic-batch.onnx",
        &bytes,
        &[("nope".into(), vec![1])],
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("inputs are: x"), "{e}");
}

struct Monotonic(Instant);
impl Clock for Monotonic {
    fn now_ns(&self) -> u64 {
        self.0.elapsed().as_nanos() as u64 + 1
    }
}

#[test]
fn builtin_model_takes_instances_and_threads_from_the_plan() {
    // `edgemark run --instances 3 --threads 1` without a model.
    let plan = edgemark::settings::validate(
        edgemark::settings::RawSettings::from_toml("instances = 3\nthreads = 1").unwrap(),
        &common::bare_root(),
    )
    .unwrap();
    assert!(matches!(
        plan.sut,
        SutSpec::BuiltIn(BuiltInSpec { instances: 3, .. })
    ));
    let sut = TractSut::new(&plan.sut).unwrap();
    let info = sut.info();
    assert!(info.model.as_ref().unwrap().built_in);
    assert_eq!((info.instances, info.threads), (3, 1));
}

#[test]
fn builtin_model_loads_describes_itself_and_runs() {
    let mut sut = TractSut::new(&SutSpec::BuiltIn(Default::default())).unwrap();
    let info = sut.info();
    assert_eq!(info.kind, "tract");
    assert!(
        info.description.contains("built-in, performance only"),
        "{}",
        info.description
    );
    let m = info.model.as_ref().unwrap();
    assert!(m.built_in);
    assert!(m.size_bytes <= 2 * 1024 * 1024);
    assert_eq!(m.inputs[0].shape, vec![1, 3, 224, 224]);
    assert_eq!(m.inputs[0].dtype, "f32");
    assert_eq!(m.outputs[0].shape, vec![1, 1000]);
    assert!(info.load_ns > 0 && info.first_inference_ns > 0);
    let cores = edgemark::engine::tract::affinity::allowed_cpus().len() as u32;
    assert_eq!(info.threads, cores, "SingleStream defaults to all cores");
    assert_eq!(
        info.instances, cores,
        "Offline defaults to one instance per core"
    );
    assert_eq!(info.offline_threads, 1);

    sut.load_samples(&[0, 3]).unwrap();
    sut.warm_up(3).unwrap();
    sut.issue(0).unwrap();
    let out = sut.run_sample(3).unwrap();
    let probs = out[0]
        .try_as_plain_ram()
        .unwrap()
        .as_slice::<f32>()
        .unwrap()
        .to_vec();
    let sum: f32 = probs.iter().sum();
    assert!((sum - 1.0).abs() < 1e-3, "softmax output sums to {sum}");
    assert!(
        sut.issue(1)
            .unwrap_err()
            .to_string()
            .contains("sample 1 was not loaded")
    );
}

#[test]
fn offline_multi_instance_fills_every_completion_slot() {
    let cpus = edgemark::engine::tract::affinity::allowed_cpus();
    for instances in [2u32, 3] {
        // An empty path: the built-in model, with these settings.
        let spec = SutSpec::Model(ModelSpec {
            path: String::new(),
            input_shapes: vec![],
            inputs: vec![],
            instances,
            threads: 0,
            cpus: Pinning::both(cpus.clone()),
        });
        let mut sut = TractSut::new(&spec).unwrap();
        assert_eq!(sut.info().instances, instances);
        assert_eq!(sut.info().cpus, Pinning::both(cpus.clone()));
        let loaded: Vec<usize> = (0..5).collect();
        sut.load_samples(&loaded).unwrap();
        sut.warm_up(0).unwrap();
        let samples: Vec<usize> = (0..13).map(|i| i % 5).collect();
        let mut completed = vec![0u64; samples.len()];
        let clock = Monotonic(Instant::now());
        let start = clock.now_ns();
        let progress = std::sync::atomic::AtomicU64::new(0);
        sut.issue_all(&samples, &clock, &mut completed, &progress)
            .unwrap();
        let end = clock.now_ns();
        // Every worker counted each of its completions.
        assert_eq!(
            progress.load(std::sync::atomic::Ordering::Relaxed),
            samples.len() as u64
        );
        assert!(
            completed.iter().all(|&t| t > start && t <= end),
            "{completed:?}"
        );
        // An unloaded sample is an error, not a hole in the output.
        let mut c = vec![0u64; 2];
        assert!(sut.issue_all(&[0, 7], &clock, &mut c, &progress).is_err());
    }
}

#[test]
fn npy_inputs_feed_samples_and_wrong_files_are_rejected() {
    let Some(refs) = common::shared_path("models/reference/mobilenetv2-fp32.onnx") else {
        return;
    };
    let Some(model) = common::shared_path("models/mobilenetv2-fp32.onnx") else {
        return;
    };
    let spec = |inputs: Vec<String>| {
        SutSpec::Model(ModelSpec {
            path: model.to_string_lossy().into_owned(),
            input_shapes: vec![],
            inputs,
            instances: 1,
            threads: 1,
            cpus: Pinning::default(),
        })
    };
    let files = vec![
        refs.join("chelsea.input.npy")
            .to_string_lossy()
            .into_owned(),
    ];
    let mut sut = TractSut::new(&spec(files)).unwrap();
    sut.load_samples(&[0, 1]).unwrap();
    let out = sut.run_sample(1).unwrap();
    let logits = out[0]
        .try_as_plain_ram()
        .unwrap()
        .as_slice::<f32>()
        .unwrap()
        .to_vec();
    assert_eq!(argmax(&logits), 285, "chelsea is an Egyptian cat");
    let m = sut.info().model.unwrap();
    assert_eq!(m.inputs[0].name, "input");
    assert_eq!(m.outputs[0].name, "logits");
    assert_eq!(m.sha256, {
        use sha2::Digest;
        let d: [u8; 32] = sha2::Sha256::digest(std::fs::read(&model).unwrap()).into();
        d
    });

    // A file of the wrong shape (the NHWC TFLite input) is named in the error.
    let wrong =
        common::shared_path("models/reference/mobilenetv2-fp32.tflite/chelsea.input.npy").unwrap();
    let e = match TractSut::new(&spec(vec![wrong.to_string_lossy().into_owned()])) {
        Ok(_) => panic!("wrong input shape accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("mobilenetv2-fp32.tflite/chelsea.input.npy")
            && e.contains("expects f32 [1, 3, 224, 224]"),
        "{e}"
    );
}

#[test]
fn single_stream_pins_the_issuing_thread_only_when_cpus_are_given_and_restores_it() {
    use edgemark::engine::tract::affinity;
    std::thread::spawn(|| {
        let allowed = affinity::allowed_cpus();
        let last = *allowed.last().unwrap();
        let spec = |cpus: Vec<u32>| {
            SutSpec::Model(ModelSpec {
                path: String::new(),
                input_shapes: vec![],
                inputs: vec![],
                instances: 1,
                threads: 1,
                cpus: Pinning::both(cpus),
            })
        };
        let e = TractSut::new(&spec(vec![4096]))
            .err()
            .expect("cpu 4096 accepted")
            .to_string();
        assert!(e.contains("cpu 4096 is not available"), "{e}");

        let mut free = TractSut::new(&spec(vec![])).unwrap();
        free.load_samples(&[0]).unwrap();
        assert_eq!(
            affinity::allowed_cpus(),
            allowed,
            "no --cpus: the thread stays free"
        );
        drop(free);

        let mut pinned = TractSut::new(&spec(vec![last])).unwrap();
        assert_eq!(pinned.info().cpus, Pinning::both(vec![last]));
        assert_eq!(pinned.info().threads, 1);
        pinned.load_samples(&[0]).unwrap();
        assert_eq!(
            affinity::allowed_cpus(),
            vec![last],
            "SingleStream thread pinned before timing"
        );
        pinned.issue(0).unwrap();
        drop(pinned);
        assert_eq!(
            affinity::allowed_cpus(),
            allowed,
            "affinity restored when the SUT goes"
        );
    })
    .join()
    .unwrap();
}

#[test]
fn each_scenario_gets_its_own_cores_and_default_parallelism() {
    // A board profile's pinning: SingleStream on one set (the big cores),
    // Offline on another. Threads and instances default to each set's size.
    use edgemark::engine::tract::affinity;
    std::thread::spawn(|| {
        let allowed = affinity::allowed_cpus();
        let (first, last) = (allowed[0], *allowed.last().unwrap());
        // The built-in model, threads and instances left to their defaults.
        let spec = |single_stream: Vec<u32>, offline: Vec<u32>| {
            SutSpec::Model(ModelSpec {
                path: String::new(),
                input_shapes: vec![],
                inputs: vec![],
                instances: 0,
                threads: 0,
                cpus: Pinning {
                    single_stream,
                    offline,
                },
            })
        };
        let mut sut = TractSut::new(&spec(vec![last], allowed.clone())).unwrap();
        let info = sut.info();
        assert_eq!(info.cpus.single_stream, vec![last]);
        assert_eq!(info.cpus.offline, allowed);
        assert_eq!(
            info.threads, 1,
            "one SingleStream core, one intra-op thread"
        );
        assert_eq!(info.instances as usize, allowed.len());
        sut.load_samples(&[0]).unwrap();
        assert_eq!(affinity::allowed_cpus(), vec![last]);
        drop(sut);

        // SingleStream unpinned, Offline pinned: one intra-op thread per
        // allowed core; with two or more, each pool thread gets one of them
        // (the issuing thread the first, while it issues), else the issuing
        // thread stays free. The record still says unpinned.
        let mut sut = TractSut::new(&spec(vec![], vec![first])).unwrap();
        assert_eq!(sut.info().instances, 1);
        assert_eq!(sut.info().threads as usize, allowed.len());
        assert!(sut.info().cpus.single_stream.is_empty());
        sut.load_samples(&[0]).unwrap();
        if allowed.len() >= 2 {
            assert_eq!(affinity::allowed_cpus(), vec![first]);
        } else {
            assert_eq!(affinity::allowed_cpus(), allowed);
        }
        drop(sut);
        assert_eq!(affinity::allowed_cpus(), allowed, "affinity restored");
    })
    .join()
    .unwrap();
}

/// The kernel pool's threads of the current process: (name, allowed cpus
/// list as /proc prints it).
fn pool_threads() -> Vec<(String, String)> {
    let mut out = vec![];
    for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        let status = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
        let cpus = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .unwrap_or("")
            .trim()
            .to_string();
        if comm.trim().starts_with("edgemark-k") {
            out.push((comm.trim().to_string(), cpus));
        }
    }
    out
}

#[test]
fn two_singlestream_threads_on_two_pinned_cores_get_one_core_each() {
    // SingleStream pinned to two cores with two intra-op threads: the
    // issuing thread sits on the first core while it issues, the kernel
    // pool's worker on the second (pool tasks go to their owner thread, so
    // each core keeps its half of every operator), and the issuing thread's
    // affinity comes back when the SUT goes.
    use edgemark::engine::tract::affinity;
    let allowed = affinity::allowed_cpus();
    if allowed.len() < 2 {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs two cpus for this test"
        );
        eprintln!("SKIPPED: one cpu allowed, two-core pinning not testable here");
        return;
    }
    let (a, b) = (allowed[0], allowed[1]);
    std::thread::spawn(move || {
        let spec = SutSpec::Model(ModelSpec {
            path: String::new(),
            input_shapes: vec![],
            inputs: vec![],
            instances: 0,
            threads: 2,
            cpus: Pinning {
                single_stream: vec![a, b],
                offline: vec![],
            },
        });
        let mut sut = TractSut::new(&spec).unwrap();
        assert_eq!(
            sut.info().cpus.single_stream,
            vec![a, b],
            "the record keeps both"
        );
        sut.load_samples(&[0]).unwrap();
        assert_eq!(
            affinity::allowed_cpus(),
            vec![a],
            "issuer on the first core"
        );
        sut.issue(0).unwrap();
        let workers: Vec<_> = pool_threads()
            .into_iter()
            .filter(|(n, _)| n == "edgemark-k1")
            .collect();
        assert!(
            workers.iter().any(|(_, cpus)| *cpus == b.to_string()),
            "a pool worker pinned to cpu {b}: {workers:?}"
        );
        drop(sut);
        assert_eq!(affinity::allowed_cpus(), allowed, "affinity restored");
    })
    .join()
    .unwrap();
}

#[test]
fn random_inputs_are_seeded_per_sample_and_bounded_in_memory() {
    use edgemark::engine::budget::MemoryFacts;
    // A box with 64 MiB available and a huge cache: inputs may take 1/16 of
    // it, 4 MiB, i.e. 6 of the built-in model's 602112-byte inputs; loading
    // 1024 samples shares those instead of taking 616 MB.
    let facts = MemoryFacts {
        mem_available_bytes: Some(64 << 20),
        llc_bytes: Some(1 << 30),
    };
    let mut sut = TractSut::with_facts(&SutSpec::BuiltIn(Default::default()), facts).unwrap();
    let all: Vec<usize> = (0..1024).collect();
    sut.load_samples(&all).unwrap();
    let a = sut.loaded_sample(0).unwrap()[0].clone();
    let b = sut.loaded_sample(1).unwrap()[0].clone();
    assert_ne!(a, b, "different samples get different data");
    let distinct = (4usize << 20) / (3 * 224 * 224 * 4);
    assert_eq!(distinct, 6);
    assert_ne!(sut.loaded_sample(distinct - 1).unwrap()[0], a);
    let again = sut.loaded_sample(distinct).unwrap()[0].clone();
    assert_eq!(a, again);
    assert!(
        std::sync::Arc::ptr_eq(a.as_arc_tensor().unwrap(), again.as_arc_tensor().unwrap()),
        "shared, not copied"
    );
    let info = sut.info();
    let set = info.input_set.unwrap();
    assert_eq!(
        (
            set.budget_bytes,
            set.distinct_samples,
            set.sample_bytes,
            set.loaded_samples
        ),
        (4 << 20, 6, 602_112, 1024)
    );
    assert!(
        info.description.contains(
            "random inputs: 6 distinct samples of 0.6 MiB shared by 1024 loaded (budget 4.0 MiB"
        ),
        "{}",
        info.description
    );
    // Loading again (the next scenario) states the set once, not twice.
    sut.load_samples(&all[..10]).unwrap();
    let d = sut.info().description;
    assert_eq!(d.matches("random inputs:").count(), 1, "{d}");
    assert!(d.contains("shared by 10 loaded"), "{d}");
    // A small cache and plenty of memory: the cache bound decides, and a heavy
    // query's own traffic leaves only the minimum of distinct inputs.
    let cache_bound = MemoryFacts {
        mem_available_bytes: Some(16 << 30),
        llc_bytes: Some(1 << 20),
    };
    let mut small =
        TractSut::with_facts(&SutSpec::BuiltIn(Default::default()), cache_bound).unwrap();
    small.load_samples(&all).unwrap();
    let set = small.info().input_set.unwrap();
    assert_eq!(set.distinct_samples, edgemark::engine::budget::MIN_DISTINCT);
    // Same seed, same data: a second SUT sees identical inputs.
    let mut other = TractSut::new(&SutSpec::BuiltIn(Default::default())).unwrap();
    other.load_samples(&[1]).unwrap();
    assert_eq!(other.loaded_sample(1).unwrap()[0], b);
    assert_eq!(other.info().input_set.unwrap().distinct_samples, 1);
}
