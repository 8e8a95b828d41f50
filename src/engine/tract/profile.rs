//! Per-operator timing of an optimised plan (`edgemark profile`): where the
//! time of one inference goes on this box. Never used by the scenarios.
//!
//! Like tract-cli's `--profile`, the plan is run through tract's own
//! step-by-step evaluator (`SimpleState::run_plan_with_eval`) with a clock read
//! around each node's evaluation. Profiled runs alternate with plain runs of the
//! same state, so the per-node sum can be checked against a whole run measured
//! without the instrumentation (a profile that does not add up is misleading).

use std::sync::Arc;
use std::time::Instant;

use tract_linalg::multithread::Executor;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::plan::eval;

use super::{Runner, TractError, load};

/// One node of the plan and its time in each profiled run.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeTimes {
    pub node: usize,
    pub name: String,
    /// The op's type name ("OptMatMul", "Add", ...), what the per-type table sums.
    pub op: String,
    /// Output shapes, as `1,32,112,112` (several outputs separated by ` `).
    pub shape: String,
    /// Nanoseconds per profiled run, in run order.
    pub ns: Vec<u64>,
}

/// What [`profile`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Nodes in evaluation order.
    pub nodes: Vec<NodeTimes>,
    /// Nanoseconds of each plain (uninstrumented) whole run.
    pub whole_run_ns: Vec<u64>,
    pub threads: u32,
}

/// Runs `inputs` through `model` `runs` times with per-node timing and `runs`
/// times plain, alternating, after `warm_up` plain runs (the first run
/// allocates the plan's buffers).
pub fn profile(
    model: &Arc<TypedModel>,
    inputs: TVec<TValue>,
    runs: usize,
    warm_up: usize,
    threads: u32,
) -> Result<Profile, TractError> {
    let exec = if threads <= 1 {
        Executor::SingleThread
    } else {
        super::executor(threads, None)?
    };
    let mut runner = Runner::new(model, exec)?;
    for _ in 0..warm_up {
        runner.run(inputs.clone())?;
    }
    let order: Vec<usize> = runner.state_mut().plan().order_without_consts().to_vec();
    let mut slot = vec![usize::MAX; model.nodes().len()];
    for (i, &n) in order.iter().enumerate() {
        slot[n] = i;
    }
    let mut nodes: Vec<NodeTimes> = order
        .iter()
        .map(|&n| {
            let node = model.node(n);
            NodeTimes {
                node: n,
                name: node.name.clone(),
                op: node.op().name().to_string(),
                shape: output_shapes(node),
                ns: Vec::with_capacity(runs),
            }
        })
        .collect();
    let mut whole = Vec::with_capacity(runs);
    let mut this_run = vec![0u64; order.len()];
    for _ in 0..runs {
        let t0 = Instant::now();
        runner.run(inputs.clone())?;
        whole.push(t0.elapsed().as_nanos() as u64);

        this_run.iter_mut().for_each(|t| *t = 0);
        let state = runner.state_mut();
        let timed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            state.run_plan_with_eval(inputs.clone(), |ctx, op_state, node, node_inputs| {
                let t = Instant::now();
                let r = eval(ctx, op_state, node, node_inputs);
                this_run[slot[node.id]] += t.elapsed().as_nanos() as u64;
                r
            })
        }));
        match timed {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(TractError::Run(load::summarize(&e))),
            Err(_) => return Err(TractError::Run("tract panicked during inference".into())),
        }
        for (n, &t) in nodes.iter_mut().zip(&this_run) {
            n.ns.push(t);
        }
    }
    Ok(Profile {
        nodes,
        whole_run_ns: whole,
        threads: threads.max(1),
    })
}

/// A node's output shapes as `1,112,112,32`, space-separated.
fn output_shapes(node: &TypedNode) -> String {
    node.outputs
        .iter()
        .map(|o| {
            if o.fact.shape.is_empty() {
                // Scalars, and tract's opaque packed operands.
                return "()".to_string();
            }
            o.fact
                .shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Median of `v` (mean of the middle two for even lengths); 0 when empty.
pub fn median(v: &[u64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_unstable();
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m] as f64
    } else {
        (s[m - 1] as f64 + s[m] as f64) / 2.0
    }
}

pub fn mean(v: &[u64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64
}

impl Profile {
    /// Median over runs of the per-node times' sum: what the table adds up to.
    pub fn summed_run_ns(&self) -> f64 {
        let runs = self.nodes.first().map_or(0, |n| n.ns.len());
        let sums: Vec<u64> = (0..runs)
            .map(|r| self.nodes.iter().map(|n| n.ns[r]).sum())
            .collect();
        median(&sums)
    }

    /// Median whole (uninstrumented) run.
    pub fn whole_run_median_ns(&self) -> f64 {
        median(&self.whole_run_ns)
    }
}
