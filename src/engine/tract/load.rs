//! Loading a model file into an optimised tract graph: format detection (by
//! content, then extension), input-shape overrides, and turning tract's errors
//! (and, as a last resort, its panics) into one clear message that names the file
//! and what is wrong with it: the unsupported operator and node, the truncated
//! buffer, the dynamic dimension to fix.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

use super::TractError;
use crate::engine::{ModelFormat, ModelInfo, TensorInfo};

pub use crate::version::TRACT_VERSION;

/// An optimised model, ready to be turned into plans, and what is known about it.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    pub model: Arc<TypedModel>,
    pub info: ModelInfo,
    /// Things the loader decided on the user's behalf (e.g. a batch dim set to 1).
    pub notes: Vec<String>,
}

/// Why a model could not be loaded: the message names what is wrong (the
/// caller prefixes the file). Each variant displays its text unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// Empty, or neither TFLite nor recognisably ONNX.
    #[error("{0}")]
    Format(String),
    /// The file does not parse as the format it claims.
    #[error("{0}")]
    Corrupt(String),
    /// Operators tract cannot import or run.
    #[error("{0}")]
    Unsupported(String),
    /// The TFLite rewrite pass refused the file (its message as is).
    #[error(transparent)]
    Tflite(#[from] super::tflite::TfliteFixError),
    /// An `--input-shape` that does not fit the model, or a dynamic
    /// dimension only one can fix.
    #[error("{0}")]
    InputShape(String),
    /// tract failed analysing, rewriting or optimising the graph.
    #[error("{0}")]
    Tract(String),
}

/// Which file format `bytes` (named `path`) holds. TFLite flatbuffers carry the
/// file identifier "TFL3" at bytes 4..8; ONNX has no magic, so it is recognised
/// by extension or by starting like a ModelProto (field 1, `ir_version`, varint).
pub fn detect_format(path: &str, bytes: &[u8]) -> Result<ModelFormat, LoadError> {
    let ext = Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    if bytes.get(4..8) == Some(b"TFL3") {
        return Ok(ModelFormat::Tflite);
    }
    if bytes.is_empty() {
        return Err(LoadError::Format("the file is empty".into()));
    }
    match ext.as_str() {
        "tflite" => Err(LoadError::Format(format!(
            "not a TFLite model: no \"TFL3\" identifier at bytes 4..8 (found {}); \
             the file is truncated at the start or is something else",
            bytes
                .get(4..8)
                .map(hex)
                .unwrap_or_else(|| format!("only {} bytes", bytes.len()))
        ))),
        "onnx" => Ok(ModelFormat::Onnx),
        _ if bytes[0] == 0x08 => Ok(ModelFormat::Onnx),
        _ => Err(LoadError::Format(format!(
            "unknown model format: not TFLite (no \"TFL3\" identifier at bytes 4..8) and not \
             recognisably ONNX (extension {ext:?}); edgemark runs .onnx and .tflite files"
        ))),
    }
}

/// Loads, fixes input shapes and optimises a model held in `bytes`. `path` is
/// only used for messages and `ModelInfo` (the built-in model passes its name).
pub fn load_model(
    path: &str,
    bytes: &[u8],
    input_shapes: &[(String, Vec<u64>)],
    built_in: bool,
) -> Result<LoadedModel, TractError> {
    let err = |why: String| TractError::Model {
        path: path.to_string(),
        why,
    };
    let load_err = |e: LoadError| err(e.to_string());
    let format = detect_format(path, bytes).map_err(load_err)?;
    // Named for the panic line of abort builds (`panic_report`).
    let _doing = crate::panic_report::doing(format!("loading model {path}"));
    let mut notes = vec![];
    // tract is not meant to panic on bad input, but a fuzzed flatbuffer or
    // protobuf can reach an unwrap inside it; a panic here must still become
    // an error naming the file rather than take the process down.
    let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match format {
        ModelFormat::Onnx => load_onnx(bytes, input_shapes, &mut notes),
        ModelFormat::Tflite => load_tflite(bytes, input_shapes, &mut notes),
    }));
    let model = match loaded {
        Ok(Ok(m)) => m,
        Ok(Err(why)) => return Err(load_err(why)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            return Err(err(format!(
                "tract failed while loading the model ({what})"
            )));
        }
    };
    if model.inputs.is_empty() || model.outputs.is_empty() {
        return Err(err(format!(
            "the model has {} inputs and {} outputs; nothing to run (corrupt file?)",
            model.inputs.len(),
            model.outputs.len()
        )));
    }
    let info = ModelInfo {
        file_name: Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.to_string()),
        size_bytes: bytes.len() as u64,
        sha256: Sha256::digest(bytes).into(),
        format,
        built_in,
        inputs: tensor_infos(
            &model,
            model.input_outlets().map_err(|e| err(e.to_string()))?,
        ),
        outputs: tensor_infos(
            &model,
            model.output_outlets().map_err(|e| err(e.to_string()))?,
        ),
    };
    Ok(LoadedModel {
        model: Arc::new(model),
        info,
        notes,
    })
}

fn tensor_infos(model: &TypedModel, outlets: &[OutletId]) -> Vec<TensorInfo> {
    outlets
        .iter()
        .map(|&o| {
            let fact = model.outlet_fact(o).ok();
            TensorInfo {
                name: outlet_name(model, o),
                shape: fact
                    .and_then(|f| f.shape.as_concrete())
                    .map(|s| s.iter().map(|&d| d as u64).collect())
                    .unwrap_or_default(),
                dtype: fact.map(|f| dtype_name(f.datum_type)).unwrap_or_default(),
            }
        })
        .collect()
}

/// The name users know a model input or output by: the tensor label if the
/// importer kept one, else the node name.
pub fn outlet_name(model: &TypedModel, o: OutletId) -> String {
    model
        .outlet_label(o)
        .map(str::to_string)
        .unwrap_or_else(|| model.node(o.node).name.clone())
}

/// Short dtype name as in `TensorInfo::dtype`. Quantized types are named by their
/// storage type ("i8" for int8 with scale/zero point).
pub fn dtype_name(dt: DatumType) -> String {
    match dt.unquantized() {
        DatumType::F16 => "f16",
        DatumType::F32 => "f32",
        DatumType::F64 => "f64",
        DatumType::I8 => "i8",
        DatumType::U8 => "u8",
        DatumType::I16 => "i16",
        DatumType::U16 => "u16",
        DatumType::I32 => "i32",
        DatumType::U32 => "u32",
        DatumType::I64 => "i64",
        DatumType::U64 => "u64",
        DatumType::Bool => "bool",
        other => return format!("{other:?}").to_lowercase(),
    }
    .to_string()
}

fn load_onnx(
    bytes: &[u8],
    input_shapes: &[(String, Vec<u64>)],
    notes: &mut Vec<String>,
) -> Result<TypedModel, LoadError> {
    let mut model = tract_onnx::onnx()
        .model_for_read(&mut &*bytes)
        .map_err(|e| LoadError::Corrupt(format!("not a valid ONNX model: {}", summarize(&e))))?;
    let unimplemented: Vec<String> = model
        .nodes()
        .iter()
        .filter_map(|n| {
            let name = n.op().name();
            let op = name
                .strip_prefix("Unimplemented(")?
                .strip_suffix(')')?
                .to_string();
            Some(format!("{op} (node '{}')", n.name))
        })
        .collect();
    if !unimplemented.is_empty() {
        return Err(LoadError::Unsupported(format!(
            "unsupported ONNX operator(s) for tract {TRACT_VERSION}: {}",
            unimplemented.join(", ")
        )));
    }
    let names: Vec<String> = (0..model.inputs.len())
        .map(|i| model.node(model.inputs[i].node).name.clone())
        .collect();
    for (name, dims) in input_shapes {
        let ix = input_index(&names, name)?;
        let dt = model
            .input_fact(ix)
            .map_err(|e| LoadError::Tract(e.to_string()))?
            .datum_type
            .concretize()
            .ok_or_else(|| {
                LoadError::InputShape(format!("input '{name}' has no element type in the model"))
            })?;
        let shape: TVec<usize> = dims.iter().map(|&d| d as usize).collect();
        model
            .set_input_fact(ix, InferenceFact::dt_shape(dt, shape))
            .map_err(|e| LoadError::InputShape(summarize(&e)))?;
    }
    let typed = model.into_typed().map_err(|e| {
        LoadError::Tract(format!(
            "could not analyse the ONNX graph: {}",
            summarize(&e)
        ))
    })?;
    let typed = default_batch_dims(typed, notes)?;
    let typed = int8_rewrite(typed, super::quant::Source::Onnx, notes)?;
    let typed = fp32_rewrite(typed, super::quant::Source::Onnx, notes)?;
    optimise(typed)
}

fn load_tflite(
    bytes: &[u8],
    input_shapes: &[(String, Vec<u64>)],
    notes: &mut Vec<String>,
) -> Result<TypedModel, LoadError> {
    tract_tflite::tflite::root_as_model(bytes).map_err(|e| {
        let first = e.to_string().lines().next().unwrap_or_default().to_string();
        LoadError::Corrupt(format!(
            "not a valid TFLite flatbuffer (truncated or corrupt): {first}"
        ))
    })?;
    // tract-tflite 0.23.9 mishandles ops that real converters emit; the fix-up pass
    // rewrites those (or refuses, listing every op it cannot run) before import.
    let (fixed, report) = super::tflite::prepare(bytes)?;
    if !report.rewritten.is_empty() {
        let mut rewrites: Vec<&str> = report.rewritten.iter().map(|r| r.2).collect();
        rewrites.sort_unstable();
        rewrites.dedup();
        notes.push(format!(
            "{} TFLite operator(s) rewritten for tract-tflite {TRACT_VERSION}: {}",
            report.rewritten.len(),
            rewrites.join(", ")
        ));
    }
    let bytes = &fixed[..];
    let mut model = tract_tflite::tflite()
        .model_for_read(&mut &*bytes)
        .map_err(|e| LoadError::Unsupported(explain_tflite_error(bytes, &e)))?;
    super::tflite::splice(&mut model, report.cuts).map_err(|e| {
        LoadError::Tract(format!(
            "could not join the quantisation cuts: {}",
            summarize(&e)
        ))
    })?;
    let names: Vec<String> = model
        .input_outlets()
        .map_err(|e| LoadError::Tract(e.to_string()))?
        .iter()
        .map(|&o| outlet_name(&model, o))
        .collect();
    let mut subs: HashMap<Symbol, TDim> = HashMap::new();
    for (name, dims) in input_shapes {
        let ix = input_index(&names, name)?;
        let fact = model
            .input_fact(ix)
            .map_err(|e| LoadError::Tract(e.to_string()))?;
        if fact.rank() != dims.len() {
            return Err(LoadError::InputShape(format!(
                "--input-shape {name}: the model's input has rank {}, {} dims given",
                fact.rank(),
                dims.len()
            )));
        }
        for (axis, (d, &v)) in fact.shape.iter().zip(dims).enumerate() {
            match d {
                TDim::Sym(s) => {
                    subs.insert(s.clone(), TDim::Val(v as i64));
                }
                TDim::Val(x) if *x == v as i64 => {}
                other => {
                    return Err(LoadError::InputShape(format!(
                        "--input-shape {name}: axis {axis} is {other} in the model, not {v}"
                    )));
                }
            }
        }
    }
    let model = if subs.is_empty() {
        model
    } else {
        model
            .set_symbols(&subs)
            .map_err(|e| LoadError::InputShape(summarize(&e)))?
    };
    let model = default_batch_dims(model, notes)?;
    let model = int8_rewrite(model, super::quant::Source::Tflite, notes)?;
    let model = fp32_rewrite(model, super::quant::Source::Tflite, notes)?;
    optimise(model)
}

/// tract's optimisation, then edgemark's own graph passes (the hooks of the
/// fp32 and int8 work): the one place every ONNX and TFLite model goes through.
fn optimise(model: TypedModel) -> Result<TypedModel, LoadError> {
    model.into_optimized().map_err(|e| {
        LoadError::Tract(format!(
            "tract could not optimise the model: {}",
            summarize(&e)
        ))
    })
}

/// Quantised regions onto edgemark's integer kernels (see `quant`).
fn int8_rewrite(
    model: TypedModel,
    source: super::quant::Source,
    notes: &mut Vec<String>,
) -> Result<TypedModel, LoadError> {
    let (model, summary) = super::quant::rewrite(model, source)
        .map_err(|e| LoadError::Tract(format!("the int8 rewrite failed: {}", summarize(&e))))?;
    if summary.total() > 0 {
        notes.push(format!(
            "int8: {} convolution(s), {} add(s), {} mean(s) on edgemark's integer kernels",
            summary.convs, summary.adds, summary.means
        ));
    }
    Ok(model)
}

/// f32 convolutions onto edgemark's NHWC kernels (see `fp32`), after the
/// int8 pass so quantised regions are already taken.
fn fp32_rewrite(
    model: TypedModel,
    source: super::quant::Source,
    notes: &mut Vec<String>,
) -> Result<TypedModel, LoadError> {
    let (model, summary) = super::fp32::rewrite(model, source)
        .map_err(|e| LoadError::Tract(format!("the fp32 rewrite failed: {}", summarize(&e))))?;
    if summary.convs + summary.dense > 0 {
        notes.push(format!(
            "fp32: {} convolution(s) and {} fully connected layer(s) on edgemark's kernels \
             ({} with the activation, {} with the residual sum fused)",
            summary.convs, summary.dense, summary.fused_clamps, summary.fused_adds
        ));
    }
    Ok(model)
}

fn input_index(names: &[String], name: &str) -> Result<usize, LoadError> {
    names.iter().position(|n| n == name).ok_or_else(|| {
        LoadError::InputShape(format!(
            "--input-shape names input '{name}', the model's inputs are: {}",
            names.join(", ")
        ))
    })
}

/// A symbolic leading (batch) dimension is set to 1, the single-sample batch
/// LoadGen issues; any other dynamic dimension must be given by the user.
fn default_batch_dims(model: TypedModel, notes: &mut Vec<String>) -> Result<TypedModel, LoadError> {
    let mut subs: HashMap<Symbol, TDim> = HashMap::new();
    for (ix, &o) in model
        .input_outlets()
        .map_err(|e| LoadError::Tract(e.to_string()))?
        .iter()
        .enumerate()
    {
        let fact = model
            .input_fact(ix)
            .map_err(|e| LoadError::Tract(e.to_string()))?;
        if let Some(TDim::Sym(s)) = fact.shape.iter().next()
            && !subs.contains_key(s)
        {
            notes.push(format!(
                "input '{}': dynamic batch dimension {s} set to 1",
                outlet_name(&model, o)
            ));
            subs.insert(s.clone(), TDim::Val(1));
        }
    }
    let model = if subs.is_empty() {
        model
    } else {
        model
            .set_symbols(&subs)
            .map_err(|e| LoadError::InputShape(summarize(&e)))?
    };
    for (ix, &o) in model
        .input_outlets()
        .map_err(|e| LoadError::Tract(e.to_string()))?
        .iter()
        .enumerate()
    {
        let fact = model
            .input_fact(ix)
            .map_err(|e| LoadError::Tract(e.to_string()))?;
        if !fact.shape.is_concrete() {
            let name = outlet_name(&model, o);
            return Err(LoadError::InputShape(format!(
                "input '{name}' has dynamic shape {:?}; fix it with --input-shape {name}=D1,D2,...",
                fact.shape
            )));
        }
    }
    Ok(model)
}

/// tract's error chain, one line per level, without the multi-page debug dumps
/// some of its contexts carry, capped so a message stays readable.
pub fn summarize(e: &anyhow::Error) -> String {
    let parts: Vec<String> = e
        .chain()
        .map(|c| {
            let s = c.to_string();
            let first = s.lines().next().unwrap_or("").trim().to_string();
            if first.chars().count() > 200 {
                first.chars().take(200).collect::<String>() + "..."
            } else {
                first
            }
        })
        .filter(|s| !s.is_empty())
        .collect();
    parts.join(": ")
}

/// Turns a tract-tflite load failure into "which operator, why". tract's own
/// message embeds flatbuffer debug dumps; the operator code is recovered from
/// them, and the operator itself is found again in the flatbuffer.
fn explain_tflite_error(bytes: &[u8], e: &anyhow::Error) -> String {
    let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    let root = chain.last().cloned().unwrap_or_default();
    let root_line = root.lines().next().unwrap_or("").trim().to_string();
    // The failing operator's first output tensor, from the "Translating proto-op"
    // context (an `Operator { .. outputs: Some([N]) .. }` dump).
    let output_tensor = chain
        .iter()
        .find(|c| c.starts_with("Translating proto-op"))
        .and_then(|c| first_int_after(c, "outputs:"));
    let opcode_index = chain
        .iter()
        .find(|c| c.starts_with("Translating proto-op"))
        .and_then(|c| first_int_after(c, "opcode_index:"));
    let Some(opcode_index) = opcode_index else {
        return format!(
            "tract-tflite {TRACT_VERSION} could not load the model: {}",
            summarize(e)
        );
    };
    let Ok(root_model) = tract_tflite::tflite::root_as_model(bytes) else {
        return format!(
            "tract-tflite {TRACT_VERSION} could not load the model: {}",
            summarize(e)
        );
    };
    let mut what = format!("operator code #{opcode_index}");
    if let Some(code) = root_model
        .operator_codes()
        .and_then(|c| (opcode_index < c.len()).then(|| c.get(opcode_index)))
    {
        let builtin = {
            let dep = code.deprecated_builtin_code() as i32;
            // Codes above 127 live in `builtin_code`; the deprecated byte then
            // holds the placeholder 127.
            if dep == 127 {
                code.builtin_code()
            } else {
                tract_tflite::tflite::BuiltinOperator(dep)
            }
        };
        let name = builtin.variant_name().unwrap_or("UNKNOWN");
        what = match code.custom_code() {
            Some(custom) => format!("custom operator '{custom}' (builtin code {})", builtin.0),
            None => format!("operator {name} (builtin code {})", builtin.0),
        };
    }
    let mut place = String::new();
    if let Some(t) = output_tensor {
        let tensor_name = root_model
            .subgraphs()
            .filter(|s| !s.is_empty())
            .and_then(|s| s.get(0).tensors())
            .and_then(|ts| (t < ts.len()).then(|| ts.get(t)))
            .and_then(|t| t.name().map(str::to_string));
        if let Some(n) = tensor_name {
            place = format!(" at node '{n}'");
        }
    }
    if root_line.starts_with("Unsupported:") {
        format!("TFLite {what}{place} is not supported by tract-tflite {TRACT_VERSION}")
    } else {
        format!(
            "TFLite {what}{place} could not be loaded by tract-tflite {TRACT_VERSION}: {root_line}"
        )
    }
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn first_int_after(text: &str, key: &str) -> Option<usize> {
    let rest = &text[text.find(key)? + key.len()..];
    let start = rest.find(|c: char| c.is_ascii_digit())?;
    let digits: String = rest[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_comes_from_content_first() {
        let tfl = b"\x1c\0\0\0TFL3\0\0\0\0";
        assert_eq!(detect_format("m.onnx", tfl).unwrap(), ModelFormat::Tflite);
        assert_eq!(detect_format("m.bin", tfl).unwrap(), ModelFormat::Tflite);
        assert_eq!(
            detect_format("m.onnx", b"\x08\x07").unwrap(),
            ModelFormat::Onnx
        );
        assert_eq!(
            detect_format("model", b"\x08\x07\x12").unwrap(),
            ModelFormat::Onnx
        );
        let e = detect_format("m.tflite", b"\x1c\0\0\0XXXX").unwrap_err();
        assert!(
            matches!(e, LoadError::Format(_)) && e.to_string().contains("TFL3"),
            "{e}"
        );
        let e = detect_format("m.bin", b"hello world").unwrap_err();
        assert!(e.to_string().contains("unknown model format"), "{e}");
        let e = detect_format("m.onnx", b"").unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }

    #[test]
    fn ints_are_found_in_debug_dumps() {
        let dump = "Operator {\n    opcode_index: 3,\n    inputs: Some(\n        [\n            0,\n        ],\n    ),\n    outputs: Some(\n        [\n            12,\n        ],\n    ),";
        assert_eq!(first_int_after(dump, "opcode_index:"), Some(3));
        assert_eq!(first_int_after(dump, "outputs:"), Some(12));
        assert_eq!(first_int_after(dump, "nothing:"), None);
    }
}
