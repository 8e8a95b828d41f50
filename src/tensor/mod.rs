//! The crate's one tensor type and its `.npy` codec ([`npy`]): a dense
//! row-major array with an optional quantisation, engine-agnostic so the data
//! side, the scorers, `infer` and the external SUTs never depend on a backend.
//! Backends convert at their boundary (tract: `engine::tract::convert`).

pub mod npy;

/// Element type of a tensor (the ones `.npy` files and models exchange).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    F64,
    I8,
    U8,
    I32,
    I64,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::I8 | DType::U8 => 1,
            DType::F32 | DType::I32 => 4,
            DType::F64 | DType::I64 => 8,
        }
    }

    /// Short name used in messages and `TensorInfo::dtype`.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::I8 => "i8",
            DType::U8 => "u8",
            DType::I32 => "i32",
            DType::I64 => "i64",
        }
    }
}

/// Affine quantisation of an integer tensor: `real = (q - zero_point) * scale`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quant {
    pub scale: f32,
    pub zero_point: i32,
}

/// Element storage of a [`Tensor`].
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I8(Vec<i8>),
    U8(Vec<u8>),
    I32(Vec<i32>),
    I64(Vec<i64>),
}

impl TensorData {
    pub fn dtype(&self) -> DType {
        match self {
            TensorData::F32(_) => DType::F32,
            TensorData::F64(_) => DType::F64,
            TensorData::I8(_) => DType::I8,
            TensorData::U8(_) => DType::U8,
            TensorData::I32(_) => DType::I32,
            TensorData::I64(_) => DType::I64,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            TensorData::F32(v) => v.len(),
            TensorData::F64(v) => v.len(),
            TensorData::I8(v) => v.len(),
            TensorData::U8(v) => v.len(),
            TensorData::I32(v) => v.len(),
            TensorData::I64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A dense row-major tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: TensorData,
    /// Quantisation of integer data (None for floats, or when the model does
    /// not say; `.npy` files carry none).
    pub quant: Option<Quant>,
}

/// A shape that does not fit the data it is given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("shape overflows")]
    Overflow,
    #[error("shape {shape:?} needs {want} elements, data has {got}")]
    Count {
        shape: Vec<usize>,
        want: usize,
        got: usize,
    },
}

fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

impl Tensor {
    /// Checks that the shape and the element count agree (no quantisation).
    pub fn new(shape: Vec<usize>, data: TensorData) -> Result<Tensor, ShapeError> {
        let Some(n) = element_count(&shape) else {
            return Err(ShapeError::Overflow);
        };
        if n != data.len() {
            return Err(ShapeError::Count {
                shape,
                want: n,
                got: data.len(),
            });
        }
        Ok(Tensor {
            shape,
            data,
            quant: None,
        })
    }

    pub fn f32(shape: Vec<usize>, data: Vec<f32>) -> Self {
        Tensor {
            shape,
            data: TensorData::F32(data),
            quant: None,
        }
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    /// Real values: integer data is dequantised with `quant` (scale 1, zero point 0
    /// when absent), so scores rank what the model meant, not raw codes.
    pub fn to_f32(&self) -> Vec<f32> {
        let q = self.quant.unwrap_or(Quant {
            scale: 1.0,
            zero_point: 0,
        });
        let deq = |x: i64| (x - i64::from(q.zero_point)) as f32 * q.scale;
        match &self.data {
            TensorData::F32(v) => v.clone(),
            TensorData::F64(v) => v.iter().map(|&x| x as f32).collect(),
            TensorData::I8(v) => v
                .iter()
                .map(|&x| (x as i32 - q.zero_point) as f32 * q.scale)
                .collect(),
            TensorData::U8(v) => v
                .iter()
                .map(|&x| (x as i32 - q.zero_point) as f32 * q.scale)
                .collect(),
            TensorData::I32(v) => v.iter().map(|&x| deq(i64::from(x))).collect(),
            TensorData::I64(v) => v.iter().map(|&x| deq(x)).collect(),
        }
    }
}
