//! Input tensors for a model: seeded random tensors of each input's dtype and
//! shape (the default: performance does not depend on pixel values), or `.npy`
//! files checked against the model's inputs (converted by [`super::convert`]).
//! Everything here runs before timing.

use std::path::PathBuf;

use tract_onnx::prelude::*;

use super::TractError;
use crate::rng::SplitMix64;

// The inputs' description lives with the conversions that check against it.
pub use super::convert::{InputSpec, input_specs};

/// A seeded random tensor for `spec`. Floats are uniform in [0, 1) (what image
/// models see after scaling), 8-bit types cover their whole range, and wider
/// integers stay in [0, 10) because they are usually indices (token ids,
/// positions) that must stay in bounds. Random, not constant: constant inputs
/// could let a kernel take a shortcut.
pub fn random_tensor(spec: &InputSpec, seed: u64) -> Result<Tensor, TractError> {
    let mut rng = SplitMix64(seed);
    let n: usize = spec.shape.iter().product();
    let unsupported = || {
        TractError::Input(format!(
            "input '{}' has element type {:?}; random inputs cover f32, f64, f16, i8, u8, i32, i64 \
             (give .npy inputs with --inputs)",
            spec.name, spec.dt
        ))
    };
    let mut t = match spec.dt.unquantized() {
        DatumType::F32 => {
            let v: Vec<f32> = (0..n)
                .map(|_| (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32)
                .collect();
            Tensor::from_shape(&spec.shape, &v)
        }
        DatumType::F64 => {
            let v: Vec<f64> = (0..n)
                .map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
                .collect();
            Tensor::from_shape(&spec.shape, &v)
        }
        DatumType::F16 => {
            let v: Vec<f32> = (0..n)
                .map(|_| (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32)
                .collect();
            Tensor::from_shape(&spec.shape, &v)
                .and_then(|t| Ok(t.cast_to_dt(DatumType::F16)?.into_owned()))
        }
        DatumType::I8 => {
            let v: Vec<i8> = (0..n).map(|_| rng.next_u64() as i8).collect();
            Tensor::from_shape(&spec.shape, &v)
        }
        DatumType::U8 => {
            let v: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            Tensor::from_shape(&spec.shape, &v)
        }
        DatumType::I32 => {
            let v: Vec<i32> = (0..n).map(|_| (rng.next_u64() % 10) as i32).collect();
            Tensor::from_shape(&spec.shape, &v)
        }
        DatumType::I64 => {
            let v: Vec<i64> = (0..n).map(|_| (rng.next_u64() % 10) as i64).collect();
            Tensor::from_shape(&spec.shape, &v)
        }
        _ => return Err(unsupported()),
    }
    .map_err(|e| TractError::Input(e.to_string()))?;
    if spec.dt.is_quantized() {
        // Same storage, the model's scale and zero point.
        unsafe { t.set_datum_type(spec.dt) };
    }
    Ok(t)
}

/// Expands `--inputs` (files and folders of `.npy` files, folders sorted by
/// name) into the list of files, in order.
pub fn expand_input_paths(paths: &[String]) -> Result<Vec<PathBuf>, TractError> {
    crate::tensor::npy::expand_paths(paths).map_err(|e| TractError::Input(e.to_string()))
}

/// Reads `.npy` files into samples: with k model inputs, each consecutive group
/// of k files (in order) is one sample's inputs.
pub fn samples_from_files(
    files: &[PathBuf],
    specs: &[InputSpec],
) -> Result<Vec<TVec<TValue>>, TractError> {
    let k = specs.len();
    if files.is_empty() || !files.len().is_multiple_of(k) {
        return Err(TractError::Input(format!(
            "{} .npy files given for a model with {k} inputs: each sample needs {k} files \
             (one per input, in the model's input order)",
            files.len()
        )));
    }
    files
        .chunks(k)
        .map(|group| {
            group
                .iter()
                .zip(specs)
                .map(|(path, spec)| {
                    let array = crate::tensor::npy::read(path)
                        .map_err(|e| TractError::Input(e.to_string()))?;
                    Ok(super::convert::tensor_from_npy(&array, spec, path)?.into_tvalue())
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dt: DatumType, shape: &[usize]) -> InputSpec {
        InputSpec {
            name: "x".into(),
            dt,
            shape: shape.to_vec(),
        }
    }

    #[test]
    fn random_tensors_have_the_dtype_shape_and_are_seeded() {
        for dt in [
            DatumType::F32,
            DatumType::I8,
            DatumType::U8,
            DatumType::I32,
            DatumType::I64,
        ] {
            let a = random_tensor(&spec(dt, &[2, 3, 4]), 7).unwrap();
            let b = random_tensor(&spec(dt, &[2, 3, 4]), 7).unwrap();
            let c = random_tensor(&spec(dt, &[2, 3, 4]), 8).unwrap();
            assert_eq!(a.datum_type(), dt);
            assert_eq!(a.shape(), &[2, 3, 4]);
            assert_eq!(a, b, "{dt:?} same seed");
            assert_ne!(a, c, "{dt:?} other seed");
        }
        let f = random_tensor(&spec(DatumType::F32, &[1000]), 1).unwrap();
        let v = f
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<f32>()
            .unwrap()
            .to_vec();
        assert!(v.iter().all(|x| (0.0..1.0).contains(x)));
        let i = random_tensor(&spec(DatumType::I64, &[1000]), 1).unwrap();
        let v = i
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<i64>()
            .unwrap()
            .to_vec();
        assert!(v.iter().all(|x| (0..10).contains(x)));
        assert!(random_tensor(&spec(DatumType::Bool, &[2]), 1).is_err());
    }
}
