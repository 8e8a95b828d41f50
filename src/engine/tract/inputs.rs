//! Input tensors for a model: seeded random tensors of each input's dtype and
//! shape (the default: performance does not depend on pixel values), or `.npy`
//! files checked against the model's inputs. Everything here runs before timing.

use std::path::{Path, PathBuf};

use tract_onnx::prelude::*;

use super::TractError;
use crate::npy::{NpyArray, NpyData};

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
            let name = super::load::outlet_name(model, o);
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

/// splitmix64: tiny, seedable, and good enough to make tensors that are not
/// constant (constant inputs could let a kernel take a shortcut).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A seeded random tensor for `spec`. Floats are uniform in [0, 1) (what image
/// models see after scaling), 8-bit types cover their whole range, and wider
/// integers stay in [0, 10) because they are usually indices (token ids,
/// positions) that must stay in bounds.
pub fn random_tensor(spec: &InputSpec, seed: u64) -> Result<Tensor, TractError> {
    let mut rng = SplitMix(seed);
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
                .map(|_| (rng.next() >> 40) as f32 / (1u64 << 24) as f32)
                .collect();
            Tensor::from_shape(&spec.shape, &v)
        }
        DatumType::F64 => {
            let v: Vec<f64> = (0..n)
                .map(|_| (rng.next() >> 11) as f64 / (1u64 << 53) as f64)
                .collect();
            Tensor::from_shape(&spec.shape, &v)
        }
        DatumType::F16 => {
            let v: Vec<f32> = (0..n)
                .map(|_| (rng.next() >> 40) as f32 / (1u64 << 24) as f32)
                .collect();
            Tensor::from_shape(&spec.shape, &v)
                .and_then(|t| Ok(t.cast_to_dt(DatumType::F16)?.into_owned()))
        }
        DatumType::I8 => {
            let v: Vec<i8> = (0..n).map(|_| rng.next() as i8).collect();
            Tensor::from_shape(&spec.shape, &v)
        }
        DatumType::U8 => {
            let v: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            Tensor::from_shape(&spec.shape, &v)
        }
        DatumType::I32 => {
            let v: Vec<i32> = (0..n).map(|_| (rng.next() % 10) as i32).collect();
            Tensor::from_shape(&spec.shape, &v)
        }
        DatumType::I64 => {
            let v: Vec<i64> = (0..n).map(|_| (rng.next() % 10) as i64).collect();
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

/// Converts an `.npy` array (read from `path`) into the tensor `spec` expects.
/// The element type must match the input's (storage type for quantized inputs);
/// shapes must match exactly. No silent conversion: a wrong file is an error.
pub fn tensor_from_npy(
    array: &NpyArray,
    spec: &InputSpec,
    path: &Path,
) -> Result<Tensor, TractError> {
    let want = super::load::dtype_name(spec.dt);
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
        NpyData::F32(v) => Tensor::from_shape(shape, v),
        NpyData::F64(v) => Tensor::from_shape(shape, v),
        NpyData::I8(v) => Tensor::from_shape(shape, v),
        NpyData::U8(v) => Tensor::from_shape(shape, v),
        NpyData::I32(v) => Tensor::from_shape(shape, v),
        NpyData::I64(v) => Tensor::from_shape(shape, v),
    }
    .map_err(|e| TractError::Input(format!("{}: {e}", path.display())))?;
    if spec.dt.is_quantized() {
        unsafe { t.set_datum_type(spec.dt) };
    }
    Ok(t)
}

/// Converts a model output to an `.npy` array. Quantized outputs are written as
/// their stored integers (what TFLite reports too); f16 is widened to f32.
pub fn npy_from_tensor(t: &Tensor) -> Result<NpyArray, String> {
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
            .map_err(|e| e.to_string())?
            .into_owned();
        &owned
    } else {
        t
    };
    let view = t.try_as_plain_ram().map_err(|e| e.to_string())?;
    let data = match t.datum_type() {
        DatumType::F32 => NpyData::F32(view.as_slice::<f32>().map_err(|e| e.to_string())?.to_vec()),
        DatumType::F64 => NpyData::F64(view.as_slice::<f64>().map_err(|e| e.to_string())?.to_vec()),
        DatumType::I8 => NpyData::I8(view.as_slice::<i8>().map_err(|e| e.to_string())?.to_vec()),
        DatumType::U8 => NpyData::U8(view.as_slice::<u8>().map_err(|e| e.to_string())?.to_vec()),
        DatumType::I32 => NpyData::I32(view.as_slice::<i32>().map_err(|e| e.to_string())?.to_vec()),
        DatumType::I64 => NpyData::I64(view.as_slice::<i64>().map_err(|e| e.to_string())?.to_vec()),
        other => {
            return Err(format!(
                "output element type {other:?} cannot be written as .npy"
            ));
        }
    };
    NpyArray::new(shape, data)
}

/// Expands `--inputs` (files and folders of `.npy` files, folders sorted by
/// name) into the list of files, in order.
pub fn expand_input_paths(paths: &[String]) -> Result<Vec<PathBuf>, TractError> {
    let mut out = vec![];
    for p in paths {
        let path = PathBuf::from(p);
        if path.is_dir() {
            let rd = std::fs::read_dir(&path)
                .map_err(|e| TractError::Input(format!("{}: {e}", path.display())))?;
            let mut files: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("npy")))
                .collect();
            if files.is_empty() {
                return Err(TractError::Input(format!(
                    "{}: no .npy files in this folder",
                    path.display()
                )));
            }
            files.sort();
            out.extend(files);
        } else {
            out.push(path);
        }
    }
    Ok(out)
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
                    let array =
                        crate::npy::read(path).map_err(|e| TractError::Input(e.to_string()))?;
                    Ok(tensor_from_npy(&array, spec, path)?.into_tvalue())
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

    #[test]
    fn npy_inputs_must_match_dtype_and_shape() {
        let a = NpyArray::new(vec![1, 2], NpyData::F32(vec![1.0, 2.0])).unwrap();
        let p = Path::new("a.npy");
        let t = tensor_from_npy(&a, &spec(DatumType::F32, &[1, 2]), p).unwrap();
        assert_eq!(npy_from_tensor(&t).unwrap(), a);
        let e = tensor_from_npy(&a, &spec(DatumType::F32, &[2, 1]), p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("a.npy") && e.contains("[2, 1]"), "{e}");
        let e = tensor_from_npy(&a, &spec(DatumType::I8, &[1, 2]), p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("expects i8"), "{e}");
    }
}
