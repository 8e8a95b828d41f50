//! The boundary between tract and the engine-agnostic data side: describe a
//! model's input for preprocessing and convert tensors (keeping integer
//! quantisation parameters). [`TractModel`] loads through the engine's one
//! loading path, so accuracy and performance runs see the same optimised model,
//! TFLite fixes included.

use std::path::Path;

use tract_onnx::prelude::*;

use super::{Runner, TractError, load};
use crate::dataset::{DType, InputSpec, Quant, Tensor as DTensor, TensorData};

fn tract_err(e: impl std::fmt::Display) -> TractError {
    TractError::Input(e.to_string())
}

fn dtype_quant(dt: DatumType) -> Result<(DType, Option<Quant>), String> {
    let q = dt.qparams().map(|p| {
        let (zero_point, scale) = p.zp_scale();
        Quant { scale, zero_point }
    });
    match dt.unquantized() {
        DatumType::F32 => Ok((DType::F32, None)),
        DatumType::I8 => Ok((DType::I8, q)),
        DatumType::U8 => Ok((DType::U8, q)),
        other => Err(format!("unsupported tensor type {other:?} (f32, i8, u8)")),
    }
}

/// The model's single input as the data side needs it (shape, type, quantisation).
pub fn input_spec(model: &TypedModel) -> Result<InputSpec, String> {
    if model.inputs.len() != 1 {
        return Err(format!(
            "the model has {} inputs; data sets feed single-input models",
            model.inputs.len()
        ));
    }
    let fin = model.input_fact(0).map_err(|e| e.to_string())?;
    let shape = fin
        .shape
        .as_concrete()
        .ok_or_else(|| format!("input shape {:?} is not fixed; give it", fin.shape))?
        .to_vec();
    let (dtype, quant) = dtype_quant(fin.datum_type).map_err(|e| format!("input: {e}"))?;
    Ok(InputSpec {
        shape,
        dtype,
        quant,
    })
}

/// Elements of the first output (the class count for classifiers).
pub fn output_len(model: &TypedModel) -> Result<usize, String> {
    let fout = model.output_fact(0).map_err(|e| e.to_string())?;
    fout.shape
        .as_concrete()
        .map(|s| s.iter().product())
        .ok_or_else(|| format!("output shape {:?} is not fixed", fout.shape))
}

/// A data-side tensor as the model's input, with the model's quantised type.
pub fn to_tract(input: &DTensor, spec: &InputSpec) -> Result<Tensor, TractError> {
    let mut t = match &input.data {
        TensorData::F32(v) => Tensor::from_shape(&input.shape, v),
        TensorData::I8(v) => Tensor::from_shape(&input.shape, v),
        TensorData::U8(v) => Tensor::from_shape(&input.shape, v),
    }
    .map_err(tract_err)?;
    if let (Some(q), DType::I8 | DType::U8) = (spec.quant, spec.dtype) {
        let qp = QParams::ZpScale {
            zero_point: q.zero_point,
            scale: q.scale,
        };
        let dt = if spec.dtype == DType::I8 {
            DatumType::QI8(qp)
        } else {
            DatumType::QU8(qp)
        };
        // Same bytes, the model's quantised type: what tract checks inputs against.
        unsafe { t.set_datum_type(dt) };
    }
    Ok(t)
}

/// A model output as a data-side tensor (quantisation kept for dequantising).
pub fn from_tract(v: TValue) -> Result<DTensor, TractError> {
    let t = v.into_tensor();
    let (dtype, quant) = dtype_quant(t.datum_type()).map_err(TractError::Run)?;
    let shape = t.shape().to_vec();
    let view = t.try_as_plain_ram().map_err(tract_err)?;
    let data = match dtype {
        DType::F32 => TensorData::F32(view.as_slice::<f32>().map_err(tract_err)?.to_vec()),
        DType::I8 => TensorData::I8(view.as_slice::<i8>().map_err(tract_err)?.to_vec()),
        DType::U8 => TensorData::U8(view.as_slice::<u8>().map_err(tract_err)?.to_vec()),
    };
    Ok(DTensor { shape, data, quant })
}

/// A loaded, optimised single-input model ready for repeated inference.
pub struct TractModel {
    runner: Runner,
    pub input: InputSpec,
    /// Elements of the first output (the class count for classifiers).
    pub output_len: usize,
}

impl TractModel {
    /// Load `path` (ONNX or TFLite, by content and extension) the way the tract
    /// backend does. `input_shapes` fixes dynamic input shapes by name. Errors
    /// name the file.
    pub fn load(path: &Path, input_shapes: &[(String, Vec<u64>)]) -> Result<Self, TractError> {
        let name = path.to_string_lossy().into_owned();
        let bytes = std::fs::read(path).map_err(|source| TractError::Io {
            path: name.clone(),
            source,
        })?;
        let loaded = load::load_model(&name, &bytes, input_shapes, false)?;
        let ctx = |why: String| TractError::Model {
            path: name.clone(),
            why,
        };
        let input = input_spec(&loaded.model).map_err(ctx)?;
        let output_len = output_len(&loaded.model).map_err(ctx)?;
        let runner = Runner::single_thread(&loaded.model)?;
        Ok(TractModel {
            runner,
            input,
            output_len,
        })
    }

    /// One inference; the signature the accuracy run's model closure needs.
    pub fn infer(&mut self, input: &DTensor) -> Result<Vec<DTensor>, TractError> {
        let t = to_tract(input, &self.input)?;
        let outputs = self.runner.run(tvec!(t.into()))?;
        outputs.into_iter().map(from_tract).collect()
    }
}
