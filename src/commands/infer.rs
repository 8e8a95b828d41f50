//! `edgemark infer`: one inference of a model on given `.npy` inputs, outputs
//! written as `.npy` with their names, shapes and a top-5 for classifier-shaped
//! outputs printed. It is how users check that a model really computes what they
//! expect on this box before benchmarking it. [`run`] computes, [`print`] shows.

use std::path::PathBuf;

use crate::cli::InferArgs;
use crate::tensor::{Tensor, TensorData};

/// Why `infer` failed: bad arguments (exit 2) or a runtime failure (exit 1).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InferError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Runtime(String),
}

impl InferError {
    pub fn kind(&self) -> crate::error::ErrorKind {
        match self {
            InferError::Usage(_) => crate::error::ErrorKind::Usage,
            InferError::Runtime(_) => crate::error::ErrorKind::Runtime,
        }
    }
}

/// One model output as computed and written.
#[derive(Debug, Clone, PartialEq)]
pub struct InferredOutput {
    pub name: String,
    pub array: Tensor,
    pub file: PathBuf,
    /// (class index, value) of the 5 largest values of each row, for 1-D and
    /// 2-D float outputs.
    pub top5: Vec<Vec<(usize, f64)>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InferOutput {
    pub model: String,
    pub outputs: Vec<InferredOutput>,
    pub notes: Vec<String>,
}

/// Why an `--input-shape` value does not parse (a usage error); each names
/// the value as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputShapeError {
    #[error("--input-shape {0:?}: expected NAME=D1,D2,... (e.g. input=1,3,224,224)")]
    Syntax(String),
    #[error("--input-shape {0:?}: dimensions must be positive integers")]
    Dims(String),
    #[error("--input-shape {0:?}: missing input name")]
    NoName(String),
}

/// Parses `name=1,3,224,224`.
pub fn parse_input_shape(s: &str) -> Result<(String, Vec<u64>), InputShapeError> {
    let (name, dims) = s
        .rsplit_once('=')
        .ok_or_else(|| InputShapeError::Syntax(s.to_owned()))?;
    let dims = dims
        .split(',')
        .map(|d| d.trim().parse::<u64>().ok().filter(|&d| d > 0))
        .collect::<Option<Vec<_>>>()
        .filter(|d| !d.is_empty())
        .ok_or_else(|| InputShapeError::Dims(s.to_owned()))?;
    if name.is_empty() {
        return Err(InputShapeError::NoName(s.to_owned()));
    }
    Ok((name.to_string(), dims))
}

/// A file name for an output: its name with anything but [A-Za-z0-9._-] replaced.
pub fn output_file_name(name: &str, index: usize, taken: &[String]) -> String {
    let mut base: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if base.is_empty() || base.starts_with('.') {
        base = format!("output{index}");
    }
    let mut file = format!("{base}.npy");
    if taken.contains(&file) {
        file = format!("{base}.{index}.npy");
    }
    file
}

/// The top 5 (index, value) of each row of a 1-D or 2-D float array.
pub fn top5(array: &Tensor) -> Vec<Vec<(usize, f64)>> {
    let values: Vec<f64> = match &array.data {
        TensorData::F32(v) => v.iter().map(|&x| x as f64).collect(),
        TensorData::F64(v) => v.clone(),
        _ => return vec![],
    };
    let row_len = match array.shape.as_slice() {
        [n] => *n,
        [_, n] => *n,
        _ => return vec![],
    };
    if row_len == 0 {
        return vec![];
    }
    values
        .chunks(row_len)
        .map(|row| {
            let mut idx: Vec<usize> = (0..row.len()).collect();
            idx.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
            idx.into_iter().take(5).map(|i| (i, row[i])).collect()
        })
        .collect()
}

/// Runs the inference and writes the outputs.
#[cfg(feature = "tract")]
pub fn run(args: &InferArgs) -> Result<InferOutput, InferError> {
    use crate::engine::tract::{Runner, convert, inputs, load};
    use tract_onnx::prelude::*;

    let shapes = args
        .input_shape
        .iter()
        .map(|s| parse_input_shape(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| InferError::Usage(e.to_string()))?;
    let path = args.model.to_string_lossy().into_owned();
    let rt = |e: String| InferError::Runtime(e);
    let bytes = std::fs::read(&args.model).map_err(|e| rt(format!("{path}: {e}")))?;
    let loaded = load::load_model(&path, &bytes, &shapes, false).map_err(|e| rt(e.to_string()))?;
    let specs = inputs::input_specs(&loaded.model).map_err(|e| rt(e.to_string()))?;
    if args.inputs.len() != specs.len() {
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        return Err(InferError::Usage(format!(
            "{} --input files given, the model has {} inputs ({}); give one per input, in order",
            args.inputs.len(),
            specs.len(),
            names.join(", ")
        )));
    }
    let mut values: TVec<TValue> = tvec![];
    for (file, spec) in args.inputs.iter().zip(&specs) {
        let array = crate::tensor::npy::read(file).map_err(|e| rt(e.to_string()))?;
        values.push(
            convert::tensor_from_npy(&array, spec, file)
                .map_err(|e| rt(e.to_string()))?
                .into_tvalue(),
        );
    }
    let results = Runner::single_thread(&loaded.model)
        .and_then(|mut r| r.run(values))
        .map_err(|e| rt(e.to_string()))?;
    std::fs::create_dir_all(&args.output_dir)
        .map_err(|e| rt(format!("{}: {e}", args.output_dir.display())))?;
    let mut outputs = vec![];
    let mut taken = vec![];
    for (ix, (value, info)) in results.iter().zip(&loaded.info.outputs).enumerate() {
        let array = convert::npy_from_tensor(value)
            .map_err(|e| rt(format!("output '{}': {e}", info.name)))?;
        let file_name = output_file_name(&info.name, ix, &taken);
        let file = args.output_dir.join(&file_name);
        taken.push(file_name);
        crate::tensor::npy::write(&file, &array).map_err(|e| rt(e.to_string()))?;
        outputs.push(InferredOutput {
            name: info.name.clone(),
            top5: top5(&array),
            array,
            file,
        });
    }
    Ok(InferOutput {
        model: path,
        outputs,
        notes: loaded.notes,
    })
}

#[cfg(not(feature = "tract"))]
pub fn run(_args: &InferArgs) -> Result<InferOutput, InferError> {
    Err(InferError::Runtime(
        "this edgemark was built without the tract feature".into(),
    ))
}

/// Prints what `run` computed.
pub fn print(out: &InferOutput, labels: Option<&[String]>) {
    println!("model: {}", out.model);
    for n in &out.notes {
        println!("note: {n}");
    }
    for o in &out.outputs {
        println!(
            "output '{}': {} {:?} -> {}",
            o.name,
            o.array.data.dtype().name(),
            o.array.shape,
            o.file.display()
        );
        for (r, row) in o.top5.iter().enumerate() {
            if o.top5.len() > 1 {
                println!("  row {r}:");
            }
            for (rank, (class, value)) in row.iter().enumerate() {
                let label = labels
                    .and_then(|l| l.get(*class))
                    .map(|l| format!("  {l}"))
                    .unwrap_or_default();
                println!("  top{} {class:>6} {value:>12.6}{label}", rank + 1);
            }
        }
    }
}

/// `edgemark infer` end to end.
pub fn command(args: &InferArgs) -> super::CommandResult {
    use super::CommandError;
    let labels = match &args.labels {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(s) => Some(s.lines().map(str::to_string).collect::<Vec<_>>()),
            Err(e) => return Err(CommandError::usage(format!("{}: {e}", p.display()))),
        },
        None => None,
    };
    let out = run(args).map_err(|e| CommandError::new(e.kind(), e))?;
    print(&out, labels.as_deref());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_shapes_parse_or_explain() {
        assert_eq!(
            parse_input_shape("input=1,3,224,224").unwrap(),
            ("input".into(), vec![1, 3, 224, 224])
        );
        assert_eq!(parse_input_shape("a=b=2").unwrap(), ("a=b".into(), vec![2]));
        for bad in ["input", "input=", "input=1,x", "=1", "x=0"] {
            assert!(parse_input_shape(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn output_names_become_safe_distinct_files() {
        assert_eq!(output_file_name("logits", 0, &[]), "logits.npy");
        assert_eq!(output_file_name("a/b:0", 0, &[]), "a_b_0.npy");
        assert_eq!(output_file_name("../x", 1, &[]), "output1.npy");
        assert_eq!(output_file_name("a:b", 1, &["a_b.npy".into()]), "a_b.1.npy");
    }

    #[test]
    fn top5_ranks_each_row() {
        let a = Tensor::new(
            vec![2, 6],
            TensorData::F32(vec![0., 5., 1., 4., 2., 3., 9., 8., 7., 6., 5., 4.]),
        )
        .unwrap();
        let t = top5(&a);
        assert_eq!(
            t[0].iter().map(|x| x.0).collect::<Vec<_>>(),
            vec![1, 3, 5, 4, 2]
        );
        assert_eq!(
            t[1].iter().map(|x| x.0).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4]
        );
        assert_eq!(t[0][0].1, 5.0);
        let ints = Tensor::new(vec![2], TensorData::I8(vec![1, 2])).unwrap();
        assert!(top5(&ints).is_empty());
        let three_d = Tensor::new(vec![1, 1, 2], TensorData::F32(vec![1., 2.])).unwrap();
        assert!(top5(&three_d).is_empty());
    }
}
