//! `edgemark profile [MODEL]`: where one inference's time goes on this box, per
//! operator of tract's optimised plan and summed per operator type (TFLite's
//! `benchmark_model --enable_op_profiling`, tract's `--profile`). The per-node
//! sum is printed beside a whole run measured without the instrumentation, so
//! the user sees how far the table can be trusted. Not a benchmark: scenarios
//! never run with this instrumentation. [`run`] measures, [`render`] formats.

use serde::Serialize;

use super::{CommandError, CommandResult};

pub use crate::cli::ProfileArgs;

/// One node's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeRow {
    pub node: usize,
    pub name: String,
    pub op: String,
    pub shape: String,
    pub mean_us: f64,
    pub median_us: f64,
    /// Share of the summed per-node means, in percent.
    pub share_pct: f64,
}

/// All nodes of one op type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpRow {
    pub op: String,
    pub count: usize,
    pub mean_us: f64,
    pub share_pct: f64,
}

/// What `edgemark profile` reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileReport {
    pub model: String,
    pub runs: u32,
    pub threads: u32,
    /// Nodes in evaluation order.
    pub nodes: Vec<NodeRow>,
    /// Op types, most time first.
    pub ops: Vec<OpRow>,
    /// Median over profiled runs of the sum of all nodes' times.
    pub summed_us: f64,
    /// Median of the plain (uninstrumented) whole runs.
    pub whole_run_us: f64,
    /// summed / whole run: 1.0 when the table accounts for all of the time.
    pub ratio: f64,
}

/// Turns measured times into the report's rows (pure; tested on its own).
#[cfg(feature = "tract")]
pub fn report(model: &str, runs: u32, p: &crate::engine::tract::profile::Profile) -> ProfileReport {
    use crate::engine::tract::profile::{mean, median};
    let total: f64 = p.nodes.iter().map(|n| mean(&n.ns)).sum();
    let share = |us: f64| {
        if total > 0.0 {
            100.0 * us * 1e3 / total
        } else {
            0.0
        }
    };
    let nodes: Vec<NodeRow> = p
        .nodes
        .iter()
        .map(|n| {
            let mean_us = mean(&n.ns) / 1e3;
            NodeRow {
                node: n.node,
                name: n.name.clone(),
                op: n.op.clone(),
                shape: n.shape.clone(),
                mean_us,
                median_us: median(&n.ns) / 1e3,
                share_pct: share(mean_us),
            }
        })
        .collect();
    let mut ops: Vec<OpRow> = vec![];
    for n in &nodes {
        match ops.iter_mut().find(|o| o.op == n.op) {
            Some(o) => {
                o.count += 1;
                o.mean_us += n.mean_us;
            }
            None => ops.push(OpRow {
                op: n.op.clone(),
                count: 1,
                mean_us: n.mean_us,
                share_pct: 0.0,
            }),
        }
    }
    for o in &mut ops {
        o.share_pct = share(o.mean_us);
    }
    ops.sort_by(|a, b| b.mean_us.total_cmp(&a.mean_us).then(a.op.cmp(&b.op)));
    let summed_us = p.summed_run_ns() / 1e3;
    let whole_run_us = p.whole_run_median_ns() / 1e3;
    ProfileReport {
        model: model.to_string(),
        runs,
        threads: p.threads,
        nodes,
        ops,
        summed_us,
        whole_run_us,
        ratio: if whole_run_us > 0.0 {
            summed_us / whole_run_us
        } else {
            0.0
        },
    }
}

/// Loads the model and profiles it on seeded random inputs.
#[cfg(feature = "tract")]
pub fn run(args: &ProfileArgs) -> Result<ProfileReport, CommandError> {
    use crate::engine::tract::{self, BUILTIN_MODEL_NAME, inputs};
    use tract_onnx::prelude::*;

    let shapes = args
        .input_shape
        .iter()
        .map(|s| super::infer::parse_input_shape(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(CommandError::usage)?;
    let rt = |e: tract::TractError| CommandError::runtime(e);
    let path = args
        .model
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let loaded = tract::load_model_file(&path, &shapes).map_err(rt)?;
    let specs = inputs::input_specs(&loaded.model).map_err(rt)?;
    let values: TVec<TValue> = specs
        .iter()
        .enumerate()
        .map(|(j, s)| Ok(inputs::random_tensor(s, 0x7072_6f66 ^ j as u64)?.into_tvalue()))
        .collect::<Result<_, tract::TractError>>()
        .map_err(rt)?;
    let runs = args.runs as usize;
    let _doing = crate::panic_report::doing(format!(
        "profiling {}",
        if path.is_empty() {
            BUILTIN_MODEL_NAME
        } else {
            &path
        }
    ));
    let p = tract::profile::profile(&loaded.model, values, runs, 3, args.threads).map_err(rt)?;
    let name = if path.is_empty() {
        BUILTIN_MODEL_NAME.to_string()
    } else {
        path
    };
    Ok(report(&name, args.runs, &p))
}

#[cfg(not(feature = "tract"))]
pub fn run(_args: &ProfileArgs) -> Result<ProfileReport, CommandError> {
    Err(CommandError::runtime(
        "this edgemark was built without the tract feature",
    ))
}

/// The per-node table (evaluation order), the per-op-type table and the check
/// of the sum against a whole run.
pub fn render(r: &ProfileReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "model: {}  ({} profiled runs, {} thread(s))",
        r.model, r.runs, r.threads
    );
    let _ = writeln!(
        s,
        "{:>5}  {:<22} {:<28} {:<16} {:>10} {:>10} {:>6}",
        "node", "op", "name", "output shape", "mean us", "median us", "share"
    );
    for n in &r.nodes {
        let _ = writeln!(
            s,
            "{:>5}  {:<22} {:<28} {:<16} {:>10.1} {:>10.1} {:>5.1}%",
            n.node,
            clip(&n.op, 22),
            clip(&n.name, 28),
            clip(&n.shape, 16),
            n.mean_us,
            n.median_us,
            n.share_pct
        );
    }
    let _ = writeln!(s, "\nby op type:");
    let _ = writeln!(
        s,
        "  {:<22} {:>5} {:>12} {:>6}",
        "op", "count", "mean us", "share"
    );
    for o in &r.ops {
        let _ = writeln!(
            s,
            "  {:<22} {:>5} {:>12.1} {:>5.1}%",
            clip(&o.op, 22),
            o.count,
            o.mean_us,
            o.share_pct
        );
    }
    let _ = writeln!(
        s,
        "\nsum of per-node times {:.1} us (median run); whole run without profiling {:.1} us; ratio {:.3}",
        r.summed_us, r.whole_run_us, r.ratio
    );
    s
}

/// `s` cut to `n` characters (long node names would break the columns).
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(n - 1).collect();
        c.push('~');
        c
    }
}

/// `edgemark profile` end to end.
pub fn command(args: &ProfileArgs) -> CommandResult {
    let r = run(args)?;
    if args.json {
        let j = serde_json::to_string_pretty(&r).map_err(CommandError::runtime)?;
        println!("{j}");
    } else {
        print!("{}", render(&r));
    }
    Ok(())
}

#[cfg(all(test, feature = "tract"))]
mod tests {
    use super::*;
    use crate::engine::tract::profile::{NodeTimes, Profile};

    fn node(id: usize, op: &str, ns: Vec<u64>) -> NodeTimes {
        NodeTimes {
            node: id,
            name: format!("n{id}"),
            op: op.into(),
            shape: "1,8".into(),
            ns,
        }
    }

    #[test]
    fn rows_shares_and_sums_follow_the_times() {
        let p = Profile {
            nodes: vec![
                node(0, "Conv", vec![3000, 1000, 2000]),
                node(1, "Add", vec![1000, 1000, 1000]),
                node(2, "Conv", vec![1000, 1000, 1000]),
            ],
            whole_run_ns: vec![4000, 5000, 6000],
            threads: 1,
        };
        let r = report("m.onnx", 3, &p);
        assert_eq!(r.nodes[0].mean_us, 2.0);
        assert_eq!(r.nodes[0].median_us, 2.0);
        assert!((r.nodes[0].share_pct - 50.0).abs() < 1e-9);
        assert_eq!(r.ops[0].op, "Conv");
        assert_eq!(r.ops[0].count, 2);
        assert!((r.ops[0].mean_us - 3.0).abs() < 1e-9);
        assert!((r.ops[0].share_pct - 75.0).abs() < 1e-9);
        assert_eq!(r.ops[1].op, "Add");
        // Per-run sums 5000, 3000, 4000 ns: median 4 us; whole runs' median 5 us.
        assert_eq!(r.summed_us, 4.0);
        assert_eq!(r.whole_run_us, 5.0);
        assert!((r.ratio - 0.8).abs() < 1e-9);
        let text = render(&r);
        assert!(text.contains("by op type:"), "{text}");
        assert!(text.contains("ratio 0.800"), "{text}");
    }
}
