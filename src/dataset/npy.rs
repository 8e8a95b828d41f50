//! `.npy` files as data set tensors: read by the crate's one `.npy` codec
//! ([`crate::tensor::npy`], also used by `infer` and `--inputs`) and kept when
//! they hold an element type data sets carry (f32, i8, u8).

use std::path::Path;

#[cfg(test)]
use super::TensorData;
use super::{DType, DatasetError, Tensor};
use crate::tensor::npy::NpyError;

/// Read one `.npy` file into a [`Tensor`].
pub fn read(path: &Path) -> Result<Tensor, DatasetError> {
    let format = |why: String| DatasetError::Format {
        path: path.to_owned(),
        why: format!("not a supported .npy file: {why}"),
    };
    let array = crate::tensor::npy::read(path).map_err(|e| match e {
        NpyError::Io { path, source } => DatasetError::Io { path, source },
        NpyError::Format { why, .. } => format(why.to_string()),
        // `read` reads one file; only `expand_paths` looks in folders.
        e @ NpyError::EmptyFolder { .. } => format(e.to_string()),
    })?;
    from_array(array).map_err(|e| format(e.to_string()))
}

/// Why `.npy` bytes are not a data set sample; the caller adds the path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SampleError {
    /// Not a `.npy` file the reader understands (what is wrong).
    #[error("{0}")]
    Format(#[from] crate::tensor::npy::FormatError),
    #[error("unsupported dtype {0} for a data set sample (f32, i8, u8 only)")]
    Dtype(&'static str),
}

/// Parse `.npy` bytes into a [`Tensor`].
pub fn parse(bytes: &[u8]) -> Result<Tensor, SampleError> {
    from_array(crate::tensor::npy::parse(bytes)?)
}

/// `array` when it holds a data set element type (no quantisation: the
/// caller knows the model's).
pub fn from_array(array: Tensor) -> Result<Tensor, SampleError> {
    match array.dtype() {
        DType::F32 | DType::I8 | DType::U8 => Ok(array),
        other => Err(SampleError::Dtype(other.name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, body: &[u8]) -> Vec<u8> {
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn reads_f32_i8_u8() {
        let body: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let t = parse(&npy("<f4", "(1, 2)", &body)).unwrap();
        assert_eq!(t.shape, vec![1, 2]);
        assert_eq!(t.data, TensorData::F32(vec![1.5, -2.0]));
        let t = parse(&npy("|i1", "(3,)", &[255, 0, 7])).unwrap();
        assert_eq!(t.data, TensorData::I8(vec![-1, 0, 7]));
        let t = parse(&npy("|u1", "()", &[9])).unwrap();
        assert_eq!((t.shape.len(), t.data), (0, TensorData::U8(vec![9])));
    }

    #[test]
    fn rejects_bad_files() {
        let text = |b: &[u8]| parse(b).unwrap_err().to_string();
        assert!(text(b"not numpy at all").contains("magic"));
        assert_eq!(
            parse(&npy("<f8", "(1,)", &[0; 8])).unwrap_err(),
            SampleError::Dtype("f64")
        );
        assert!(text(&npy("<f4", "(4,)", &[0; 8])).contains("needs 16 data bytes"));
        let mut short = npy("<f4", "(1,)", &[0; 4]);
        short.truncate(20);
        assert!(parse(&short).is_err());
    }
}
