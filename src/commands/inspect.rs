//! `edgemark inspect MODEL`: a TFLite model's inputs, outputs, operator histogram
//! and which operators edgemark can run, so a user knows before copying a model to a
//! board. Reading is separate from printing (`inspect` returns, `render` formats).

use std::path::{Path, PathBuf};

/// Why inspection failed; names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: only .tflite models can be inspected")]
    Format { path: PathBuf },
    #[cfg(feature = "tract")]
    #[error("{path}: {source}")]
    Model {
        path: PathBuf,
        source: crate::engine::tract::tflite::TfliteFixError,
    },
    #[error("{path}: edgemark was built without the tract feature")]
    NoEngine { path: PathBuf },
}

#[cfg(feature = "tract")]
pub use crate::engine::tract::tflite::ModelInspection;

/// Reads and classifies the model at `path`.
#[cfg(feature = "tract")]
pub fn inspect(path: &Path) -> Result<ModelInspection, InspectError> {
    let is_tflite = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tflite"));
    if !is_tflite {
        return Err(InspectError::Format {
            path: path.to_owned(),
        });
    }
    let bytes = std::fs::read(path).map_err(|source| InspectError::Read {
        path: path.to_owned(),
        source,
    })?;
    crate::engine::tract::tflite::inspect(&bytes).map_err(|source| InspectError::Model {
        path: path.to_owned(),
        source,
    })
}

#[cfg(not(feature = "tract"))]
pub fn inspect(path: &Path) -> Result<std::convert::Infallible, InspectError> {
    Err(InspectError::NoEngine {
        path: path.to_owned(),
    })
}

/// The human-readable listing.
#[cfg(feature = "tract")]
pub fn render(path: &Path, m: &ModelInspection) -> String {
    use crate::engine::tract::tflite::Support;
    use std::fmt::Write;
    let mut s = String::new();
    let tensor = |t: &crate::engine::tract::tflite::TensorSummary| {
        let q = t
            .quant
            .map(|(sc, zp)| format!(" (scale {sc}, zero point {zp})"))
            .unwrap_or_default();
        format!("  {} {} {:?}{q}\n", t.name, t.dtype, t.shape)
    };
    let _ = writeln!(s, "model: {}", path.display());
    s.push_str("inputs:\n");
    m.inputs.iter().for_each(|t| s.push_str(&tensor(t)));
    s.push_str("outputs:\n");
    m.outputs.iter().for_each(|t| s.push_str(&tensor(t)));
    let _ = writeln!(
        s,
        "operators ({} in the main subgraph, {} subgraph(s)):",
        m.ops.len(),
        m.subgraphs
    );
    for (name, count, support) in m.histogram() {
        let how = match support {
            Support::Tract => "tract".to_owned(),
            Support::Rewritten(fix) => format!("rewritten ({fix})"),
            Support::Unsupported(_) => "UNSUPPORTED".to_owned(),
        };
        let _ = writeln!(s, "  {name:<28} {count:>5}  {how}");
    }
    let bad = m.unsupported();
    if bad.is_empty() {
        s.push_str("verdict: edgemark can run this model\n");
    } else {
        s.push_str("unsupported operators:\n");
        for op in &bad {
            let code = match op.builtin {
                Some(b) => format!("builtin {b} {}", op.name),
                None => format!("custom op {:?}", op.name),
            };
            let why = match &op.support {
                Support::Unsupported(w) => w.as_str(),
                _ => "",
            };
            let _ = writeln!(s, "  node {}: {code} ({why})", op.node);
        }
        let _ = writeln!(
            s,
            "verdict: edgemark cannot run this model ({} unsupported operator(s))",
            bad.len()
        );
    }
    s
}

/// `edgemark inspect`: model file -> what it holds and what edgemark can run
/// of it -> print.
pub fn command(args: &crate::cli::InspectArgs) -> super::CommandResult {
    let model = inspect(&args.model).map_err(super::CommandError::runtime)?;
    #[cfg(feature = "tract")]
    {
        print!("{}", render(&args.model, &model));
        Ok(())
    }
    #[cfg(not(feature = "tract"))]
    match model {}
}
