//! What a TFLite file holds, read without tract: inputs, outputs, each operator with
//! its resolved code, and whether edgemark can run it (tract-tflite 0.23.9 as is,
//! through one of our rewrites, or not at all). Used by `edgemark inspect` and by
//! `prepare` to fail before timing.

use std::collections::BTreeMap;

use tract_tflite::tflite::{self, BuiltinOperator, TensorType};

use super::TfliteFixError;

/// The operator code as TFLite itself resolves it. Converters since TF 2.4 write
/// codes below 127 in `deprecated_builtin_code` (an i8) and may leave `builtin_code`
/// at its default (0, ADD); codes from 127 on sit in `builtin_code` with the
/// deprecated field saturated at 127. TFLite takes the larger of the two.
pub fn resolved_code(code: &tflite::OperatorCode) -> BuiltinOperator {
    let deprecated = i32::from(code.deprecated_builtin_code());
    BuiltinOperator(code.builtin_code().0.max(deprecated))
}

/// `ADD`, `DEQUANTIZE`, ... or `BUILTIN_N` for codes newer than the schema.
pub fn op_name(code: BuiltinOperator) -> String {
    code.variant_name()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("BUILTIN_{}", code.0))
}

/// How an operator gets run.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Support {
    /// tract-tflite 0.23.9 imports it unchanged.
    Tract,
    /// One of our rewrites (named) turns it into ops tract-tflite handles.
    Rewritten(&'static str),
    /// Neither: loading fails, with this reason.
    Unsupported(String),
}

/// One operator of the main subgraph.
#[derive(Debug, Clone, PartialEq)]
pub struct OpInfo {
    /// Index in the subgraph's operator list (what error messages call "node").
    pub node: usize,
    /// Builtin code (resolved), or None for a custom op.
    pub builtin: Option<i32>,
    /// `CONV_2D`, or the custom op's name.
    pub name: String,
    pub support: Support,
}

/// A model input or output tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSummary {
    pub name: String,
    pub shape: Vec<i32>,
    pub dtype: String,
    /// (scale, zero point) of a per-tensor quantised tensor.
    pub quant: Option<(f32, i64)>,
}

/// Everything `edgemark inspect` prints.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInspection {
    pub subgraphs: usize,
    pub inputs: Vec<TensorSummary>,
    pub outputs: Vec<TensorSummary>,
    pub ops: Vec<OpInfo>,
}

impl ModelInspection {
    /// (op name, count, support of its first occurrence), sorted by name.
    pub fn histogram(&self) -> Vec<(String, usize, Support)> {
        let mut map: BTreeMap<&str, (usize, &Support)> = BTreeMap::new();
        for op in &self.ops {
            map.entry(&op.name).or_insert((0, &op.support)).0 += 1;
        }
        map.into_iter()
            .map(|(k, (n, s))| (k.to_owned(), n, s.clone()))
            .collect()
    }

    pub fn unsupported(&self) -> Vec<&OpInfo> {
        self.ops
            .iter()
            .filter(|o| matches!(o.support, Support::Unsupported(_)))
            .collect()
    }
}

pub(crate) fn parse(bytes: &[u8]) -> Result<tflite::Model<'_>, TfliteFixError> {
    let model = tflite::root_as_model(bytes)
        .map_err(|e| TfliteFixError::Parse(format!("not a valid TFLite flatbuffer: {e}")))?;
    let n = model.subgraphs().map(|s| s.len()).unwrap_or(0);
    if n == 0 {
        return Err(TfliteFixError::Parse("the model has no subgraph".into()));
    }
    Ok(model)
}

fn dtype_name(t: TensorType) -> String {
    t.variant_name()
        .map(|s| s.to_lowercase())
        .unwrap_or_else(|| format!("type{}", t.0))
}

fn summary(sg: &tflite::SubGraph, ix: i32) -> Result<TensorSummary, TfliteFixError> {
    let tensors = sg
        .tensors()
        .ok_or_else(|| TfliteFixError::Parse("subgraph without tensors".into()))?;
    if ix < 0 || ix as usize >= tensors.len() {
        return Err(TfliteFixError::Parse(format!(
            "tensor index {ix} out of range"
        )));
    }
    let t = tensors.get(ix as usize);
    let quant = t.quantization().and_then(|q| {
        let (s, z) = (q.scale()?, q.zero_point()?);
        (s.len() == 1 && z.len() == 1).then(|| (s.get(0), z.get(0)))
    });
    Ok(TensorSummary {
        name: t.name().unwrap_or("").to_owned(),
        shape: t.shape().map(|s| s.iter().collect()).unwrap_or_default(),
        dtype: dtype_name(t.type_()),
        quant,
    })
}

/// Reads the model's interface and operators (custom ones marked unsupported).
pub(crate) fn read(bytes: &[u8]) -> Result<ModelInspection, TfliteFixError> {
    let model = parse(bytes)?;
    let subgraphs = model.subgraphs().map(|s| s.len()).unwrap_or(0);
    let sg = model.subgraphs().expect("checked by parse").get(0);
    let inputs = sg
        .inputs()
        .map(|v| v.iter().collect::<Vec<_>>())
        .unwrap_or_default();
    let outputs = sg
        .outputs()
        .map(|v| v.iter().collect::<Vec<_>>())
        .unwrap_or_default();
    let codes = model.operator_codes();
    let mut ops = vec![];
    for (node, op) in sg.operators().into_iter().flatten().enumerate() {
        let code = codes
            .filter(|c| (op.opcode_index() as usize) < c.len())
            .map(|c| c.get(op.opcode_index() as usize))
            .ok_or_else(|| {
                TfliteFixError::Parse(format!(
                    "node {node}: operator code index {} out of range",
                    op.opcode_index()
                ))
            })?;
        let builtin = resolved_code(&code);
        let (builtin, name) = if builtin == BuiltinOperator::CUSTOM {
            (
                None,
                code.custom_code()
                    .unwrap_or("<unnamed custom op>")
                    .to_owned(),
            )
        } else {
            (Some(builtin.0), op_name(builtin))
        };
        // Builtins are classified by the rewrite pass (`super::plan`).
        let support = match builtin {
            None => Support::Unsupported("custom op".into()),
            Some(_) => Support::Tract,
        };
        ops.push(OpInfo {
            node,
            builtin,
            name,
            support,
        });
    }
    Ok(ModelInspection {
        subgraphs,
        inputs: inputs
            .iter()
            .map(|&i| summary(&sg, i))
            .collect::<Result<_, _>>()?,
        outputs: outputs
            .iter()
            .map(|&i| summary(&sg, i))
            .collect::<Result<_, _>>()?,
        ops,
    })
}
