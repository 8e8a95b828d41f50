//! The boundary between tract and the engine-agnostic data side, and the one
//! place tract's tensors are converted: a model's input described for
//! preprocessing, data set tensors and `.npy` arrays to and from tract's
//! (keeping integer quantisation parameters). [`TractModel`] loads through the
//! engine's one loading path, so accuracy and performance runs see the same
//! optimised model, TFLite fixes included.

use std::path::Path;

use tract_onnx::prelude::*;

use super::{Runner, TractError, load};
use crate::dataset::InputSpec as DataInputSpec;
use crate::tensor::{DType, Quant, Tensor as DTensor, TensorData};

/// What one model input expects.
#[derive(Debug, Clone)]
pub struct InputSpec {
    pub name: String,
    pub dt: DatumType,
    pub shape: Vec<usize>,
}

/// The model's inputs, in order (shapes are concrete after loading).
pub fn input_specs(model: &TypedModel) -> Result<Vec<InputSpec>, TractError> {
    let outlets = model
        .input_outlets()
        .map_err(|e| TractError::Input(e.to_string()))?;
    outlets
        .iter()
        .enumerate()
        .map(|(ix, &o)| {
            let fact = model
                .input_fact(ix)
                .map_err(|e| TractError::Input(e.to_string()))?;
            let name = load::outlet_name(model, o);
            let shape = fact
                .shape
                .as_concrete()
                .ok_or_else(|| TractError::Input(format!("input '{name}' has a dynamic shape")))?
                .to_vec();
            Ok(InputSpec {
                name,
                dt: fact.datum_type,
                shape,
            })
        })
        .collect()
}

fn tract_err(e: impl std::fmt::Display) -> TractError {
    TractError::Input(e.to_string())
}

/// A tensor type the data side has no type for.
#[derive(Debug, thiserror::Error)]
#[error("unsupported tensor type {0:?} (f32, i8, u8)")]
struct UnsupportedType(DatumType);

fn dtype_quant(dt: DatumType) -> Result<(DType, Option<Quant>), UnsupportedType> {
    let q = dt.qparams().map(|p| {
        let (zero_point, scale) = p.zp_scale();
        Quant { scale, zero_point }
    });
    match dt.unquantized() {
        DatumType::F32 => Ok((DType::F32, None)),
        DatumType::I8 => Ok((DType::I8, q)),
        DatumType::U8 => Ok((DType::U8, q)),
        other => Err(UnsupportedType(other)),
    }
}

/// The model's single input as the data side needs it (shape, type, quantisation).
pub fn input_spec(model: &TypedModel) -> Result<DataInputSpec, TractError> {
    if model.inputs.len() != 1 {
        return Err(TractError::Input(format!(
            "the model has {} inputs; data sets feed single-input models",
            model.inputs.len()
        )));
    }
    let fin = model.input_fact(0).map_err(tract_err)?;
    let shape = fin
        .shape
        .as_concrete()
        .ok_or_else(|| {
            TractError::Input(format!("input shape {:?} is not fixed; give it", fin.shape))
        })?
        .to_vec();
    let (dtype, quant) =
        dtype_quant(fin.datum_type).map_err(|e| TractError::Input(format!("input: {e}")))?;
    Ok(DataInputSpec {
        shape,
        dtype,
        quant,
    })
}

/// Elements of the first output (the class count for classifiers).
pub fn output_len(model: &TypedModel) -> Result<usize, TractError> {
    let fout = model.output_fact(0).map_err(tract_err)?;
    fout.shape
        .as_concrete()
        .map(|s| s.iter().product())
        .ok_or_else(|| TractError::Input(format!("output shape {:?} is not fixed", fout.shape)))
}

/// A data-side tensor as the model's input, with the model's quantised type.
pub fn to_tract(input: &DTensor, spec: &DataInputSpec) -> Result<Tensor, TractError> {
    let mut t = match &input.data {
        TensorData::F32(v) => Tensor::from_shape(&input.shape, v),
        TensorData::F64(v) => Tensor::from_shape(&input.shape, v),
        TensorData::I8(v) => Tensor::from_shape(&input.shape, v),
        TensorData::U8(v) => Tensor::from_shape(&input.shape, v),
        TensorData::I32(v) => Tensor::from_shape(&input.shape, v),
        TensorData::I64(v) => Tensor::from_shape(&input.shape, v),
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
    let (dtype, quant) = dtype_quant(t.datum_type()).map_err(|e| TractError::Run(e.to_string()))?;
    let shape = t.shape().to_vec();
    let data = elements(&t, dtype).map_err(tract_err)?;
    Ok(DTensor { shape, data, quant })
}

/// The elements of `t`, stored as `dtype` (quantised types by their storage).
fn elements(t: &Tensor, dtype: DType) -> TractResult<TensorData> {
    let view = t.try_as_plain_ram()?;
    Ok(match dtype {
        DType::F32 => TensorData::F32(view.as_slice::<f32>()?.to_vec()),
        DType::F64 => TensorData::F64(view.as_slice::<f64>()?.to_vec()),
        DType::I8 => TensorData::I8(view.as_slice::<i8>()?.to_vec()),
        DType::U8 => TensorData::U8(view.as_slice::<u8>()?.to_vec()),
        DType::I32 => TensorData::I32(view.as_slice::<i32>()?.to_vec()),
        DType::I64 => TensorData::I64(view.as_slice::<i64>()?.to_vec()),
    })
}

/// Converts an `.npy` array (read from `path`) into the tensor `spec` expects.
/// The element type must match the input's (storage type for quantized inputs);
/// shapes must match exactly. No silent conversion: a wrong file is an error.
pub fn tensor_from_npy(
    array: &DTensor,
    spec: &InputSpec,
    path: &Path,
) -> Result<Tensor, TractError> {
    let want = load::dtype_name(spec.dt);
    let got = array.data.dtype().name();
    if want != got || array.shape != spec.shape {
        return Err(TractError::Input(format!(
            "{}: holds {got} {:?}, model input '{}' expects {want} {:?}",
            path.display(),
            array.shape,
            spec.name,
            spec.shape
        )));
    }
    let shape = &array.shape;
    let mut t = match &array.data {
        TensorData::F32(v) => Tensor::from_shape(shape, v),
        TensorData::F64(v) => Tensor::from_shape(shape, v),
        TensorData::I8(v) => Tensor::from_shape(shape, v),
        TensorData::U8(v) => Tensor::from_shape(shape, v),
        TensorData::I32(v) => Tensor::from_shape(shape, v),
        TensorData::I64(v) => Tensor::from_shape(shape, v),
    }
    .map_err(|e| TractError::Input(format!("{}: {e}", path.display())))?;
    if spec.dt.is_quantized() {
        unsafe { t.set_datum_type(spec.dt) };
    }
    Ok(t)
}

/// Converts a model output to an `.npy` array. Quantized outputs are written as
/// their stored integers (what TFLite reports too); f16 is widened to f32.
pub fn npy_from_tensor(t: &Tensor) -> Result<DTensor, TractError> {
    let shape = t.shape().to_vec();
    let dt = t.datum_type();
    let mut owned;
    let t = if dt.is_quantized() {
        owned = t.clone();
        unsafe { owned.set_datum_type(dt.unquantized()) };
        &owned
    } else if dt == DatumType::F16 {
        owned = t
            .cast_to_dt(DatumType::F32)
            .map_err(output_err)?
            .into_owned();
        &owned
    } else {
        t
    };
    let dtype = match t.datum_type() {
        DatumType::F32 => DType::F32,
        DatumType::F64 => DType::F64,
        DatumType::I8 => DType::I8,
        DatumType::U8 => DType::U8,
        DatumType::I32 => DType::I32,
        DatumType::I64 => DType::I64,
        other => {
            return Err(TractError::Output(format!(
                "output element type {other:?} cannot be written as .npy"
            )));
        }
    };
    let data = elements(t, dtype).map_err(output_err)?;
    DTensor::new(shape, data).map_err(output_err)
}

fn output_err(e: impl std::fmt::Display) -> TractError {
    TractError::Output(e.to_string())
}

/// A loaded, optimised single-input model ready for repeated inference.
pub struct TractModel {
    runner: Runner,
    pub input: DataInputSpec,
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
        let ctx = |e: TractError| TractError::Model {
            path: name.clone(),
            why: e.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn model_input(dt: DatumType, shape: &[usize]) -> InputSpec {
        InputSpec {
            name: "x".into(),
            dt,
            shape: shape.to_vec(),
        }
    }

    #[test]
    fn npy_inputs_must_match_dtype_and_shape() {
        let a = DTensor::new(vec![1, 2], TensorData::F32(vec![1.0, 2.0])).unwrap();
        let p = Path::new("a.npy");
        let t = tensor_from_npy(&a, &model_input(DatumType::F32, &[1, 2]), p).unwrap();
        assert_eq!(npy_from_tensor(&t).unwrap(), a);
        let e = tensor_from_npy(&a, &model_input(DatumType::F32, &[2, 1]), p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("a.npy") && e.contains("[2, 1]"), "{e}");
        let e = tensor_from_npy(&a, &model_input(DatumType::I8, &[1, 2]), p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("expects i8"), "{e}");
    }
}
