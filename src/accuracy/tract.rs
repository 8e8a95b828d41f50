//! Thin adapter from a tract plan to the accuracy run's model closure: load and
//! optimise an ONNX (or TFLite) model once, describe its input for preprocessing,
//! and convert tensors at the boundary (keeping integer quantisation parameters).

use std::path::Path;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

use super::ModelError;
use crate::dataset::{DType, InputSpec, Quant, Tensor as DTensor, TensorData};

/// A loaded, optimised single-input model ready for repeated inference.
pub struct TractModel {
    state: TypedSimpleState,
    pub input: InputSpec,
    /// Elements of the first output (the class count for classifiers).
    pub output_len: usize,
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

impl TractModel {
    /// Load `path` (`.tflite` by extension, else ONNX). `input_shape` fixes a
    /// dynamic input shape. Errors name the file.
    pub fn load(path: &Path, input_shape: Option<&[usize]>) -> Result<Self, ModelError> {
        let ctx = |e: TractError| -> ModelError { format!("{}: {e:#}", path.display()).into() };
        let is_tflite = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("tflite"));
        let mut typed = if is_tflite {
            tract_tflite::tflite().model_for_path(path).map_err(ctx)?
        } else {
            let mut m = tract_onnx::onnx().model_for_path(path).map_err(ctx)?;
            if let Some(shape) = input_shape {
                let dt = m.input_fact(0).map_err(ctx)?.datum_type.concretize();
                let fact = match dt {
                    Some(dt) => InferenceFact::dt_shape(dt, shape),
                    None => InferenceFact::dt_shape(f32::datum_type(), shape),
                };
                m.set_input_fact(0, fact).map_err(ctx)?;
            }
            m.into_typed().map_err(ctx)?
        };
        if is_tflite && let Some(shape) = input_shape {
            let dt = typed.input_fact(0).map_err(ctx)?.datum_type;
            typed
                .set_input_fact(0, TypedFact::dt_shape(dt, shape))
                .map_err(ctx)?;
        }
        let model = typed.into_optimized().map_err(ctx)?;
        let fin = model.input_fact(0).map_err(ctx)?.clone();
        let shape = fin
            .shape
            .as_concrete()
            .ok_or_else(|| {
                format!(
                    "{}: input shape {:?} is not fixed; give it",
                    path.display(),
                    fin.shape
                )
            })?
            .to_vec();
        let (dtype, quant) =
            dtype_quant(fin.datum_type).map_err(|e| format!("{}: input: {e}", path.display()))?;
        let fout = model.output_fact(0).map_err(ctx)?;
        let output_len = fout
            .shape
            .as_concrete()
            .map(|s| s.iter().product())
            .ok_or_else(|| {
                format!(
                    "{}: output shape {:?} is not fixed",
                    path.display(),
                    fout.shape
                )
            })?;
        let plan = model.into_runnable().map_err(ctx)?;
        let state = plan.spawn().map_err(ctx)?;
        Ok(TractModel {
            state,
            input: InputSpec {
                shape,
                dtype,
                quant,
            },
            output_len,
        })
    }

    /// One inference; the signature the accuracy run's model closure needs.
    pub fn infer(&mut self, input: &DTensor) -> Result<Vec<DTensor>, ModelError> {
        let mut t = match &input.data {
            TensorData::F32(v) => Tensor::from_shape(&input.shape, v)?,
            TensorData::I8(v) => Tensor::from_shape(&input.shape, v)?,
            TensorData::U8(v) => Tensor::from_shape(&input.shape, v)?,
        };
        if let (Some(q), DType::I8 | DType::U8) = (self.input.quant, self.input.dtype) {
            let qp = QParams::ZpScale {
                zero_point: q.zero_point,
                scale: q.scale,
            };
            let dt = if self.input.dtype == DType::I8 {
                DatumType::QI8(qp)
            } else {
                DatumType::QU8(qp)
            };
            // Same bytes, the model's quantised type: what tract checks inputs against.
            unsafe { t.set_datum_type(dt) };
        }
        let outputs = self.state.run(tvec!(t.into()))?;
        outputs
            .into_iter()
            .map(|v| {
                let t = v.into_tensor();
                let (dtype, quant) = dtype_quant(t.datum_type())?;
                let shape = t.shape().to_vec();
                let view = t.try_as_plain_ram()?;
                let data = match dtype {
                    DType::F32 => TensorData::F32(view.as_slice::<f32>()?.to_vec()),
                    DType::I8 => TensorData::I8(view.as_slice::<i8>()?.to_vec()),
                    DType::U8 => TensorData::U8(view.as_slice::<u8>()?.to_vec()),
                };
                Ok(DTensor { shape, data, quant })
            })
            .collect()
    }
}
