//! A folder of already preprocessed `.npy` tensors, one per sample, for users who
//! preprocess elsewhere. Samples are the folder's `.npy` files sorted by name.

use std::path::{Path, PathBuf};

use super::{Dataset, DatasetError, InputSpec, Tensor};

#[derive(Debug, Clone)]
pub struct NpyFolder {
    dir: PathBuf,
    files: Vec<String>,
    spec: InputSpec,
}

impl NpyFolder {
    /// List the folder; each file is read (and checked against `spec`) when loaded.
    pub fn open(dir: &Path, spec: InputSpec) -> Result<Self, DatasetError> {
        let files = super::list_files(dir, &[".npy"])?;
        Ok(NpyFolder {
            dir: dir.to_owned(),
            files,
            spec,
        })
    }
}

impl Dataset for NpyFolder {
    fn len(&self) -> usize {
        self.files.len()
    }

    fn name(&self, index: usize) -> &str {
        &self.files[index]
    }

    fn load(&self, index: usize) -> Result<Tensor, DatasetError> {
        let path = self.dir.join(&self.files[index]);
        let mut t = super::npy::read(&path)?;
        if t.shape != self.spec.shape || t.dtype() != self.spec.dtype {
            return Err(DatasetError::Shape {
                path,
                got_dtype: t.dtype(),
                got: t.shape,
                want: self.spec.shape.clone(),
                want_dtype: self.spec.dtype,
            });
        }
        t.quant = self.spec.quant;
        Ok(t)
    }
}
