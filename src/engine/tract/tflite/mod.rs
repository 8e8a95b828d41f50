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

mod coverage;
mod editor;
mod flexbuffers;
pub mod inspect;
pub mod own_ops;
mod rewrite_error;
mod shapes;
mod tract_0_23_9;

#[cfg(test)]
mod coverage_tests;
#[cfg(test)]
mod tests;

pub use inspect::{ModelInspection, OpInfo, Support, TensorSummary};
pub use own_ops::Cut;
pub use rewrite_error::{FlexError, RewriteError};

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
    /// Graph cuts (at QUANTIZE/DEQUANTIZE, and around operators edgemark runs with
    /// its own tract ops), in order: the rewritten model has their outputs as extra
    /// inputs and their inputs as extra outputs (last), which [`splice`] joins
    /// after tract's import.
    pub cuts: Vec<Cut>,
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
    // Absent in a file without operators (inspect checked every index).
    let codes = model.operator_codes();
    let mut ed = Editor::new(bytes, model);
    for (node, op) in sg.operators().into_iter().flatten().enumerate() {
        let ins = op.inputs().into_iter().flatten();
        let outs = op.outputs().into_iter().flatten();
        if let Some(bad) = ins.chain(outs).find(|&t| t < -1 || t >= n_tensors) {
            return Err(TfliteFixError::Parse(format!(
                "node {node}: tensor index {bad} out of range"
            )));
        }
        let Some(opcode) = codes
            .filter(|c| (op.opcode_index() as usize) < c.len())
            .map(|c| c.get(op.opcode_index() as usize))
        else {
            return Err(TfliteFixError::Parse(format!(
                "node {node}: operator code index {} out of range",
                op.opcode_index()
            )));
        };
        let code = resolved_code(&opcode);
        check_nhwc_ranks(&sg, node, &op, code)?;
        shapes::check(&model, &sg, node, &op, code)?;
        if code == BuiltinOperator::CUSTOM {
            let name = opcode.custom_code().unwrap_or("");
            inspection.ops[node].support =
                match coverage::custom(&mut ed, &op, name, opcode.version()) {
                    Ok(fix) => Support::Rewritten(fix),
                    Err(why) => Support::Unsupported(why.to_string()),
                };
            continue;
        }
        inspection.ops[node].support = tract_0_23_9::rewrite(&mut ed, node, &op, code);
    }
    Ok((ed, inspection))
}

/// Convolutions and pools take NHWC tensors (TFLite requires rank 4 too), and
/// tract-core 0.23.9 reads their channel axis without a bounds check
/// (`DataShape::c`, `get_unchecked(rank - 1)`): a rank-0 input read outside
/// its shape, memory-unsafe where no guard can catch it (found by fuzzing,
/// under AddressSanitizer). The declared ranks are checked before tract sees
/// the file. Which inputs: data and filter; TRANSPOSE_CONV's first input is
/// the output shape.
fn check_nhwc_ranks(
    sg: &tract_tflite::tflite::SubGraph,
    node: usize,
    op: &tract_tflite::tflite::Operator,
    code: BuiltinOperator,
) -> Result<(), TfliteFixError> {
    let positions: &[usize] = match code {
        BuiltinOperator::CONV_2D | BuiltinOperator::DEPTHWISE_CONV_2D => &[0, 1],
        BuiltinOperator::TRANSPOSE_CONV => &[1, 2],
        BuiltinOperator::AVERAGE_POOL_2D
        | BuiltinOperator::MAX_POOL_2D
        | BuiltinOperator::L2_POOL_2D => &[0],
        _ => return Ok(()),
    };
    let inputs: Vec<i32> = op.inputs().into_iter().flatten().collect();
    let tensors = sg.tensors();
    for &i in positions {
        let Some(&t) = inputs.get(i) else { continue };
        // Index range checked by the caller; -1 (absent) is for tract to refuse.
        let Some(tensor) = tensors.filter(|_| t >= 0).map(|ts| ts.get(t as usize)) else {
            continue;
        };
        let rank = tensor.shape().map(|s| s.len()).unwrap_or(0);
        if rank != 4 {
            return Err(TfliteFixError::Parse(format!(
                "node {node}: {} input {i} (tensor {t} '{}') has rank {rank}, not 4 (NHWC)",
                op_name(code),
                tensor.name().unwrap_or("")
            )));
        }
    }
    Ok(())
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
/// Returns the original bytes when nothing needed a change. When `report.cuts` is not empty
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
        cuts: vec![],
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
    splice(&mut model, &report.cuts)
        .map_err(|e| TfliteFixError::Import(format!("joining graph cuts: {e:?}")))?;
    Ok((model, report))
}

/// Joins the graph cuts `prepare` made: each cut's outputs are sources among the
/// last inputs, its inputs the last outputs, in cut order. The cut's op is wired
/// on the latter and replaces the sources for their consumers (and as model
/// outputs). Cuts are joined in graph order, so one can feed the next.
pub fn splice(model: &mut TypedModel, cuts: impl AsRef<[Cut]>) -> TractResult<()> {
    use tract_tflite::internal::*;
    let cuts = cuts.as_ref();
    if cuts.is_empty() {
        return Ok(());
    }
    let counts: Vec<(usize, usize)> = cuts.iter().map(cut_arity).collect();
    let n_sources: usize = counts.iter().map(|c| c.1).sum();
    let n_sinks: usize = counts.iter().map(|c| c.0).sum();
    ensure!(
        model.inputs.len() >= n_sources && model.outputs.len() >= n_sinks,
        "the imported model lacks the cuts' extra inputs/outputs"
    );
    let (n_in, n_out) = (
        model.inputs.len() - n_sources,
        model.outputs.len() - n_sinks,
    );
    let (mut next_source, mut next_sink) = (n_in, n_out);
    for (cut, (n_from, n_to)) in cuts.iter().zip(counts) {
        let from = model.outputs[next_sink..next_sink + n_from].to_vec();
        let sources = model.inputs[next_source..next_source + n_to].to_vec();
        next_sink += n_from;
        next_source += n_to;
        let facts = sources
            .iter()
            .map(|s| model.outlet_fact(*s).cloned())
            .collect::<TractResult<Vec<_>>>()?;
        let name = format!("{}.{}", model.node(sources[0].node).name, cut.name());
        let name = model.unique_name(name);
        let joined = cut.wire(model, &name, &from, &facts)?;
        for ((source, joined), fact) in sources.iter().zip(joined).zip(&facts) {
            let got = model.outlet_fact(joined)?;
            ensure!(
                got.datum_type == fact.datum_type && got.shape == fact.shape,
                "{name}: computes {got:?} where the model has {fact:?}"
            );
            let successors = model.node(source.node).outputs[source.slot]
                .successors
                .to_vec();
            for inlet in successors {
                model.add_edge(joined, inlet)?;
            }
            for o in model.outputs.iter_mut().filter(|o| **o == *source) {
                *o = joined;
            }
        }
    }
    model.inputs.truncate(n_in);
    model.outputs.truncate(n_out);
    model.compact()
}

/// (inputs, outputs) of a cut's op.
fn cut_arity(cut: &Cut) -> (usize, usize) {
    match cut {
        Cut::MaxPoolArgmax(_) => (1, 2),
        Cut::DetectionPostProcess(_) => (2, 4),
        Cut::MaxUnpool(_) | Cut::TransformTensorBilinear { .. } | Cut::TransformLandmarks(_) => {
            (2, 1)
        }
        _ => (1, 1),
    }
}

/// Name of a builtin code, for messages.
pub fn builtin_name(code: i32) -> String {
    op_name(BuiltinOperator(code))
}
