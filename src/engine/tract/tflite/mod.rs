//! Make real-world TFLite files load and compute correctly through tract-tflite
//! 0.23.9, plus `inspect` to list a model's interface and operator support.
//!
//! Mostly design (a) of issue 8: a rewrite pass over the TFLite flatbuffer that
//! replaces what that version lacks or mishandles with operators it imports
//! correctly. tract-tflite's op registry is private, so an importer of our own
//! (design (b)) would have to import every operator, not only the broken ones; the
//! rewrite touches only those and leaves the rest to tract-tflite. Design (b) is
//! used only where no imported op can express the fix: QUANTIZE and DEQUANTIZE of
//! activations (no imported op converts float <-> quantised) cut the graph, and
//! [`splice`] joins it after import with tract-core's Cast.
//!
//! The per-op rewrites live in `tract_0_23_9`, one function each, to be deleted
//! op by op as tract fixes them; each has a unit test in `tests.rs` that also shows
//! tract-tflite alone still failing.

mod editor;
pub mod inspect;
mod tract_0_23_9;

#[cfg(test)]
mod tests;

pub use inspect::{ModelInspection, OpInfo, Support, TensorSummary};

use tract_tflite::prelude::{Framework, TractResult, TypedModel};

use editor::Editor;
use inspect::{op_name, parse, resolved_code};
use tract_tflite::tflite::BuiltinOperator;

/// Why a TFLite file cannot be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TfliteFixError {
    #[error("{0}")]
    Parse(String),
    #[error("the model uses {} operator(s) edgemark cannot run with tract 0.23.9:\n{}", .0.len(), list(.0))]
    Unsupported(Vec<OpInfo>),
    #[error("tract-tflite 0.23.9 failed to import the (rewritten) model: {0}")]
    Import(String),
}

fn list(ops: &[OpInfo]) -> String {
    ops.iter()
        .map(|o| {
            let code = match o.builtin {
                Some(b) => format!("builtin {b} {}", o.name),
                None => format!("custom op {:?}", o.name),
            };
            let why = match &o.support {
                Support::Unsupported(why) => why.as_str(),
                _ => "",
            };
            format!("  node {}: {code} ({why})", o.node)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What `prepare` changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FixReport {
    /// (node index in the original, op name, rewrite name) per rewritten operator.
    pub rewritten: Vec<(usize, String, &'static str)>,
    /// Graph cuts at QUANTIZE/DEQUANTIZE: the rewritten model has this many extra
    /// inputs and outputs (last), which [`splice`] joins after tract's import.
    pub cuts: usize,
}

impl FixReport {
    pub fn is_empty(&self) -> bool {
        self.rewritten.is_empty()
    }

    /// `prelu x3, dequantize-constant x40`, by first appearance.
    pub fn summary(&self) -> String {
        let mut counts: Vec<(&str, usize)> = vec![];
        for (_, _, fix) in &self.rewritten {
            match counts.iter_mut().find(|(f, _)| f == fix) {
                Some((_, n)) => *n += 1,
                None => counts.push((fix, 1)),
            }
        }
        counts
            .iter()
            .map(|(f, n)| format!("{f} x{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Classifies every operator of the main subgraph, rewriting into an editor.
fn plan(bytes: &[u8]) -> Result<(Editor<'_>, ModelInspection), TfliteFixError> {
    let mut inspection = inspect::read(bytes)?;
    let model = parse(bytes)?;
    let sg = model.subgraphs().expect("checked by parse").get(0);
    let n_tensors = sg.tensors().map(|t| t.len()).unwrap_or(0) as i32;
    let codes = model.operator_codes().expect("checked by inspect");
    let mut ed = Editor::new(bytes, model);
    for (node, op) in sg.operators().into_iter().flatten().enumerate() {
        let ins = op.inputs().into_iter().flatten();
        let outs = op.outputs().into_iter().flatten();
        if let Some(bad) = ins.chain(outs).find(|&t| t < -1 || t >= n_tensors) {
            return Err(TfliteFixError::Parse(format!(
                "node {node}: tensor index {bad} out of range"
            )));
        }
        let code = resolved_code(&codes.get(op.opcode_index() as usize));
        if code == BuiltinOperator::CUSTOM {
            continue; // already Unsupported
        }
        inspection.ops[node].support = tract_0_23_9::rewrite(&mut ed, node, &op, code);
    }
    Ok((ed, inspection))
}

/// A model's inputs, outputs and operators, each classified as tract-tflite's,
/// rewritten by us, or unsupported.
pub fn inspect(bytes: &[u8]) -> Result<ModelInspection, TfliteFixError> {
    guarded_plan(bytes).map(|(_, inspection)| inspection)
}

/// `plan`, with a panic (an index the flatbuffer verifier cannot vouch for, in a
/// broken file) turned into an error.
fn guarded_plan(bytes: &[u8]) -> Result<(Editor<'_>, ModelInspection), TfliteFixError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| plan(bytes)))
        .map_err(|_| TfliteFixError::Parse("malformed TFLite file (inconsistent indices)".into()))?
}

/// Rewrites `bytes` so that tract-tflite 0.23.9 imports and computes it correctly.
/// Returns the original bytes when nothing needed a change. When `report.cuts > 0`
/// the imported model must go through [`splice`] (as [`load_tflite`] does). Fails, listing every
/// one of them, when some operators cannot be run.
pub fn prepare(bytes: &[u8]) -> Result<(Vec<u8>, FixReport), TfliteFixError> {
    let (ed, inspection) = guarded_plan(bytes)?;
    let unsupported: Vec<OpInfo> = inspection.unsupported().into_iter().cloned().collect();
    if !unsupported.is_empty() {
        return Err(TfliteFixError::Unsupported(unsupported));
    }
    let report = FixReport {
        rewritten: inspection
            .ops
            .iter()
            .filter_map(|o| match o.support {
                Support::Rewritten(fix) => Some((o.node, o.name.clone(), fix)),
                _ => None,
            })
            .collect(),
        cuts: 0,
    };
    if !ed.changed() {
        return Ok((bytes.to_vec(), report));
    }
    let report = FixReport {
        cuts: ed.cuts(),
        ..report
    };
    Ok((ed.finish(), report))
}

/// `prepare`, then tract-tflite's import: the one call the tract backend needs.
/// The model is as imported (not yet decluttered or optimised).
pub fn load_tflite(bytes: &[u8]) -> Result<(TypedModel, FixReport), TfliteFixError> {
    let (fixed, report) = prepare(bytes)?;
    // tract-tflite indexes into the flatbuffer without checks in places; a broken
    // file must give an error, not abort the program.
    let model = std::panic::catch_unwind(|| {
        tract_tflite::tflite().model_for_read(&mut std::io::Cursor::new(&fixed))
    })
    .map_err(|_| TfliteFixError::Import("tract-tflite panicked while importing".into()))?
    .map_err(|e| TfliteFixError::Import(format!("{e:?}")))?;
    let mut model = model;
    splice(&mut model, report.cuts)
        .map_err(|e| TfliteFixError::Import(format!("joining graph cuts: {e:?}")))?;
    Ok((model, report))
}

/// Joins the graph cuts `prepare` made: the last `cuts` inputs are sources standing
/// for a (de)quantised tensor, the last `cuts` outputs the tensor it comes from.
/// Each source's consumers are fed a Cast of that tensor instead.
pub fn splice(model: &mut TypedModel, cuts: usize) -> TractResult<()> {
    use tract_tflite::internal::SpecialOps;
    use tract_tflite::internal::tract_core::ops::cast::cast;
    if cuts == 0 {
        return Ok(());
    }
    let (n_in, n_out) = (model.inputs.len() - cuts, model.outputs.len() - cuts);
    for j in 0..cuts {
        let (source, from) = (model.inputs[n_in + j], model.outputs[n_out + j]);
        let dt = model.outlet_fact(source)?.datum_type;
        let name = format!("{}.cast", model.node(source.node).name);
        let joined = model.wire_node(name, cast(dt), &[from])?[0];
        let successors = model.node(source.node).outputs[source.slot]
            .successors
            .to_vec();
        for inlet in successors {
            model.add_edge(joined, inlet)?;
        }
        for o in model.outputs.iter_mut().filter(|o| **o == source) {
            *o = joined;
        }
    }
    model.inputs.truncate(n_in);
    model.outputs.truncate(n_out);
    model.compact()
}

/// Name of a builtin code, for messages.
pub fn builtin_name(code: i32) -> String {
    op_name(BuiltinOperator(code))
}
