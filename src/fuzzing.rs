//! One entry point per parser of untrusted bytes, shared by the cargo-fuzz
//! targets (`fuzz/`, nightly, libFuzzer) and the corpus replay test
//! (`tests/fuzz_corpus.rs`, stable, in CI), so both exercise exactly the same
//! code. Each takes arbitrary bytes and must return without panicking; where a
//! parser has an inverse, what it accepts must survive the round trip.
//!
//! Not part of the supported API.

use std::path::Path;

/// An entry point: the fuzz target's name (its `fuzz/corpus/<name>/` folder)
/// and the function it calls.
pub type Target = (&'static str, fn(&[u8]));

/// Every target; the model loaders only with the tract engine.
pub const TARGETS: &[Target] = &[
    ("record", record),
    ("settings_toml", settings_toml),
    ("daemon_config", daemon_config),
    ("board_profile", board_profile),
    ("npy", npy),
    ("jpeg", jpeg),
    ("image", image),
    ("labels", labels),
    #[cfg(feature = "tract")]
    ("onnx", onnx),
    #[cfg(feature = "tract")]
    ("tflite", tflite),
];

/// Where untrusted text is expected: files that are not UTF-8 are refused
/// before parsing (as `read_to_string` does), so only text reaches the parser.
fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// A record file (`report`, `export`), whole and as a payload behind a valid
/// header and CRC, so the fuzzer reaches the postcard decoding behind the
/// checksum. A record that decodes re-encodes to bytes that decode to the same
/// encoding (compared as bytes, so NaN floats compare equal).
pub fn record(data: &[u8]) {
    use crate::record::{MAGIC, Record, SCHEMA_VERSION};
    let check = |bytes: &[u8]| {
        if let Ok(rec) = Record::decode(bytes) {
            let once = rec.encode();
            let twice = Record::decode(&once)
                .expect("an encoded record decodes")
                .encode();
            assert_eq!(once, twice);
        }
    };
    check(data);
    let mut framed = Vec::with_capacity(18 + data.len());
    framed.extend_from_slice(&MAGIC);
    framed.extend_from_slice(&SCHEMA_VERSION.to_le_bytes());
    framed.extend_from_slice(&(data.len() as u32).to_le_bytes());
    framed.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    framed.extend_from_slice(data);
    check(&framed);
}

/// A settings file (`run --config`) or a daemon job: TOML, then validation
/// into a plan. The root has no board, so validation reads nothing real.
pub fn settings_toml(data: &[u8]) {
    let Some(t) = text(data) else { return };
    if let Ok(raw) = crate::settings::RawSettings::from_toml(t) {
        let _ = crate::settings::validate(raw, Path::new("/nonexistent-fuzz-root"));
    }
}

/// The daemon's configuration file.
pub fn daemon_config(data: &[u8]) {
    let Some(t) = text(data) else { return };
    let _ = crate::daemon::config::DaemonConfig::parse(t, Path::new("/etc/edgemark/fuzz.toml"));
}

/// A board profile (built in, or a drop-in file).
pub fn board_profile(data: &[u8]) {
    let Some(t) = text(data) else { return };
    if let Ok(b) = crate::boards::Board::from_toml(t, "fuzz.toml") {
        let _ = crate::boards::format_list(std::slice::from_ref(&b), Some(&b.name));
    }
}

/// A `.npy` tensor (`--inputs`, preprocessed data sets). What parses writes
/// back to the same bytes' meaning: parse(write(a)) writes as write(a).
pub fn npy(data: &[u8]) {
    if let Ok(a) = crate::tensor::npy::parse(data) {
        let bytes = crate::tensor::npy::to_bytes(&a);
        let again = crate::tensor::npy::parse(&bytes).expect("written .npy parses");
        assert_eq!(crate::tensor::npy::to_bytes(&again), bytes);
    }
    let _ = crate::dataset::npy::parse(data);
}

/// edgemark's own baseline JPEG decoder (data set images).
pub fn jpeg(data: &[u8]) {
    if let Ok(Some((w, h, rgb))) = crate::dataset::jpeg::decode(data) {
        assert_eq!(rgb.len(), w * h * 3, "{w}x{h}");
    }
}

/// A data set image as the data set reads it: format sniffing, the JPEG
/// decoder or the `image` crate's PNG/JPEG decoders.
pub fn image(data: &[u8]) {
    if let Ok(img) = crate::dataset::image::decode_bytes(data, Path::new("fuzz.img")) {
        assert_eq!(img.data.len(), img.width * img.height * 3);
    }
}

/// A labels file; the first byte picks the format (JSON, CSV, val_map text),
/// as the file's extension would.
pub fn labels(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let Some(t) = text(rest) else { return };
    let name = match kind % 3 {
        0 => "labels.json",
        1 => "labels.csv",
        _ => "val_map.txt",
    };
    if let Ok(l) = crate::dataset::labels::Labels::parse(Path::new(name), t) {
        let _ = l.check_classes(1000);
    }
}

/// An ONNX model file: tract's protobuf import, analysis and optimisation,
/// as `run --model x.onnx` loads it.
#[cfg(feature = "tract")]
pub fn onnx(data: &[u8]) {
    let _ = crate::engine::tract::load::load_model("fuzz.onnx", data, &[], false);
}

/// A TFLite model file: the inspection (`inspect`), then the load path with
/// edgemark's rewrite pass before tract-tflite's import.
#[cfg(feature = "tract")]
pub fn tflite(data: &[u8]) {
    let _ = crate::engine::tract::tflite::inspect(data);
    let _ = crate::engine::tract::load::load_model("fuzz.tflite", data, &[], false);
}

/// Panics in edgemark's own code seen by the hook since the last call (the
/// replay test checks this after every file: a guard may have caught them).
pub fn take_own_panics() -> Vec<String> {
    std::mem::take(&mut *OWN_PANICS.lock().unwrap_or_else(|e| e.into_inner()))
}

static OWN_PANICS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// A panic hook for fuzzing: panics inside dependencies (tract, flatbuffers,
/// prost) are caught by edgemark's guards around model loading and become
/// errors naming the file, so they are printed (once per place) and tolerated;
/// a panic in edgemark's own code, or anywhere not attributable to a
/// dependency, is a bug even when a guard catches it: with `abort` (libFuzzer)
/// the process aborts so the fuzzer reports the input, else it is kept for
/// [`take_own_panics`]. A panic no guard catches fails either way.
pub fn install_panic_hook(abort: bool) {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    std::panic::set_hook(Box::new(move |info| {
        let loc = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        if !loc.contains("registry/src/") {
            eprintln!("edgemark fuzz: panic in edgemark's own code: {info}");
            if abort {
                std::process::abort();
            }
            OWN_PANICS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(info.to_string());
            return;
        }
        let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
        if seen.get_or_insert_with(HashSet::new).insert(loc) {
            eprintln!("edgemark fuzz: panic inside a dependency, caught by the guard: {info}");
        }
    }));
}

#[cfg(test)]
mod tests {
    /// Writes small ONNX models as seeds of the `onnx` fuzz target, one per
    /// path through edgemark's graph passes: an f32 block (convolution with a
    /// Clip, depthwise convolution, residual Add, pooling, Gemm) for the fp32
    /// rewrite, and the same in QDQ int8 form for the int8 rewrite:
    /// `EDGEMARK_FUZZ_SEEDS=fuzz/corpus cargo test --lib --features tract
    /// write_onnx_fuzz_seeds -- --ignored`.
    #[cfg(feature = "tract")]
    #[test]
    #[ignore = "writes fuzz seeds; run by hand"]
    fn write_onnx_fuzz_seeds() {
        use prost::Message;
        use tract_onnx::pb::attribute_proto::AttributeType;
        use tract_onnx::pb::tensor_proto::DataType;
        use tract_onnx::pb::tensor_shape_proto::{Dimension, dimension};
        use tract_onnx::pb::{
            AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
            TensorShapeProto, TypeProto, ValueInfoProto, type_proto,
        };
        let Some(dir) = std::env::var_os("EDGEMARK_FUZZ_SEEDS") else {
            return;
        };
        let dir = std::path::PathBuf::from(dir).join("onnx");
        std::fs::create_dir_all(&dir).unwrap();
        let value = |name: &str, ty: DataType, dims: &[i64]| ValueInfoProto {
            name: name.into(),
            r#type: Some(TypeProto {
                value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                    elem_type: ty as i32,
                    shape: Some(TensorShapeProto {
                        dim: dims
                            .iter()
                            .map(|&d| Dimension {
                                value: Some(dimension::Value::DimValue(d)),
                                ..Default::default()
                            })
                            .collect(),
                    }),
                })),
                ..Default::default()
            }),
            ..Default::default()
        };
        let floats = |name: &str, dims: &[i64], v: &[f32]| TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: DataType::Float as i32,
            float_data: v.to_vec(),
            ..Default::default()
        };
        let bytes8 = |name: &str, dims: &[i64], ty: DataType, v: Vec<u8>| TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: ty as i32,
            raw_data: v,
            ..Default::default()
        };
        let ramp = |n: usize, k: f32| -> Vec<f32> {
            (0..n).map(|i| ((i * 7 % 13) as f32 - 6.0) * k).collect()
        };
        let ints = |name: &str, v: &[i64]| AttributeProto {
            name: name.into(),
            r#type: AttributeType::Ints as i32,
            ints: v.to_vec(),
            ..Default::default()
        };
        let int = |name: &str, v: i64| AttributeProto {
            name: name.into(),
            r#type: AttributeType::Int as i32,
            i: v,
            ..Default::default()
        };
        let node =
            |op: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>| NodeProto {
                op_type: op.into(),
                name: output.into(),
                input: inputs.iter().map(|s| s.to_string()).collect(),
                output: vec![output.into()],
                attribute,
                ..Default::default()
            };
        let conv3 = || vec![ints("kernel_shape", &[3, 3]), ints("pads", &[1, 1, 1, 1])];
        let model = |graph: GraphProto| {
            ModelProto {
                ir_version: 8,
                opset_import: vec![OperatorSetIdProto {
                    domain: String::new(),
                    version: 13,
                }],
                producer_name: "edgemark write_onnx_fuzz_seeds".into(),
                graph: Some(graph),
                ..Default::default()
            }
            .encode_to_vec()
        };
        let f32_block = GraphProto {
            name: "f32-block".into(),
            node: vec![
                node("Conv", &["x", "w", "b"], "c", conv3()),
                node("Clip", &["c", "lo", "hi"], "r", vec![]),
                {
                    let mut a = conv3();
                    a.push(int("group", 4));
                    node("Conv", &["r", "dw", "db"], "d", a)
                },
                node("Add", &["d", "r"], "e", vec![]),
                node("GlobalAveragePool", &["e"], "g", vec![]),
                node("Flatten", &["g"], "f", vec![]),
                node("Gemm", &["f", "fw", "fb"], "z", vec![int("transB", 1)]),
                node("Softmax", &["z"], "y", vec![]),
            ],
            initializer: vec![
                floats("w", &[4, 3, 3, 3], &ramp(108, 0.05)),
                floats("b", &[4], &[0.1, -0.2, 0.0, 0.3]),
                floats("lo", &[], &[0.0]),
                floats("hi", &[], &[6.0]),
                floats("dw", &[4, 1, 3, 3], &ramp(36, 0.1)),
                floats("db", &[4], &[0.0, 0.5, -0.5, 0.25]),
                floats("fw", &[5, 4], &ramp(20, 0.2)),
                floats("fb", &[5], &[0.0; 5]),
            ],
            input: vec![value("x", DataType::Float, &[1, 3, 8, 8])],
            output: vec![value("y", DataType::Float, &[1, 5])],
            ..Default::default()
        };
        // QDQ: every activation quantised and dequantised around the ops, the
        // weights int8 per channel behind a DequantizeLinear.
        let (q, dq) = ("QuantizeLinear", "DequantizeLinear");
        let i8s = |n: usize| -> Vec<u8> { (0..n).map(|i| (i * 37 % 255) as u8).collect() };
        let qdq = GraphProto {
            name: "qdq-int8-block".into(),
            node: vec![
                node(q, &["x", "s", "z"], "xq", vec![]),
                node(dq, &["xq", "s", "z"], "xd", vec![]),
                {
                    let mut n = node(dq, &["wq", "ws", "wz"], "wd", vec![int("axis", 0)]);
                    n.name = "w_dq".into();
                    n
                },
                node("Conv", &["xd", "wd", "b"], "c", conv3()),
                node(q, &["c", "s", "z"], "cq", vec![]),
                node(dq, &["cq", "s", "z"], "cd", vec![]),
                node("Add", &["cd", "cd"], "a", vec![]),
                node(q, &["a", "s", "z"], "aq", vec![]),
                node(dq, &["aq", "s", "z"], "ad", vec![]),
                node("GlobalAveragePool", &["ad"], "g", vec![]),
                node(q, &["g", "s", "z"], "gq", vec![]),
                node(dq, &["gq", "s", "z"], "gd", vec![]),
                node("Flatten", &["gd"], "f", vec![]),
                node(dq, &["fwq", "fs", "z"], "fw", vec![]),
                node("Gemm", &["f", "fw", "fb"], "o", vec![int("transB", 1)]),
                node(q, &["o", "os", "oz"], "oq", vec![]),
                node(dq, &["oq", "os", "oz"], "y", vec![]),
            ],
            initializer: vec![
                floats("s", &[], &[0.05]),
                bytes8("z", &[], DataType::Int8, vec![3]),
                bytes8("wq", &[4, 3, 3, 3], DataType::Int8, i8s(108)),
                floats("ws", &[4], &[0.01, 0.02, 0.015, 0.03]),
                bytes8("wz", &[4], DataType::Int8, vec![0; 4]),
                floats("b", &[4], &[0.1, -0.2, 0.0, 0.3]),
                bytes8("fwq", &[5, 4], DataType::Int8, i8s(20)),
                floats("fs", &[], &[0.02]),
                floats("fb", &[5], &[0.0, 0.1, 0.2, 0.3, 0.4]),
                floats("os", &[], &[0.1]),
                bytes8("oz", &[], DataType::Uint8, vec![128]),
            ],
            input: vec![value("x", DataType::Float, &[1, 3, 6, 6])],
            output: vec![value("y", DataType::Float, &[1, 5])],
            ..Default::default()
        };
        for (name, graph) in [("f32-block.onnx", f32_block), ("qdq-int8-block.onnx", qdq)] {
            let bytes = model(graph);
            // Seeds that load (with edgemark's passes run) lead the fuzzer
            // into the rewrites rather than the import's error paths.
            let loaded =
                crate::engine::tract::load::load_model(name, &bytes, &[], false).map(|m| m.notes);
            println!("{name}: {} bytes, {loaded:?}", bytes.len());
            assert!(loaded.is_ok());
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }

    /// Writes small JPEG and PNG files as seeds of the `jpeg` and `image`
    /// fuzz targets: `EDGEMARK_FUZZ_SEEDS=fuzz/corpus cargo test --lib
    /// write_image_fuzz_seeds -- --ignored`.
    #[test]
    #[ignore = "writes fuzz seeds; run by hand"]
    fn write_image_fuzz_seeds() {
        use image::codecs::{jpeg::JpegEncoder, png::PngEncoder};
        use image::{ExtendedColorType, ImageEncoder};
        let Some(dir) = std::env::var_os("EDGEMARK_FUZZ_SEEDS") else {
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        let pixels = |w: u32, h: u32, ch: u32| -> Vec<u8> {
            (0..w * h * ch).map(|i| (i * 37 % 251) as u8).collect()
        };
        let mut seeds: Vec<(&str, Vec<u8>)> = Vec::new();
        for (name, w, h, color, ch, quality) in [
            ("rgb-8x8-q90.jpg", 8, 8, ExtendedColorType::Rgb8, 3, 90),
            ("rgb-17x13-q50.jpg", 17, 13, ExtendedColorType::Rgb8, 3, 50),
            ("grey-16x9-q75.jpg", 16, 9, ExtendedColorType::L8, 1, 75),
        ] {
            let mut out = Vec::new();
            JpegEncoder::new_with_quality(&mut out, quality)
                .write_image(&pixels(w, h, ch), w, h, color)
                .unwrap();
            seeds.push((name, out));
        }
        for (name, w, h, color, ch) in [
            ("rgb-5x3.png", 5, 3, ExtendedColorType::Rgb8, 3),
            ("rgba-4x4.png", 4, 4, ExtendedColorType::Rgba8, 4),
            ("grey-3x3.png", 3, 3, ExtendedColorType::L8, 1),
            ("rgb16-2x2.png", 2, 2, ExtendedColorType::Rgb16, 6),
        ] {
            let mut out = Vec::new();
            PngEncoder::new(&mut out)
                .write_image(&pixels(w, h, ch), w, h, color)
                .unwrap();
            seeds.push((name, out));
        }
        for target in ["jpeg", "image"] {
            let d = dir.join(target);
            std::fs::create_dir_all(&d).unwrap();
            for (name, bytes) in &seeds {
                if target == "image" || name.ends_with(".jpg") {
                    std::fs::write(d.join(name), bytes).unwrap();
                }
            }
        }
    }
}
