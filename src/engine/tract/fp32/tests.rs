//! The pass on small graphs shaped like the importers' output: the rewritten
//! model must hold edgemark's ops where a pattern fits, compute what tract
//! computes on the original graph, and leave what it does not recognise as
//! it was.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::array::{Pad, PadMode};
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec, PoolSpec};
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_core::ops::nn::{DataFormat, Reduce, Reducer};

use super::{Source, rewrite};
use crate::rng::Mt19937;

fn rand(rng: &mut Mt19937, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| (rng.next_u32() >> 8) as f32 / (1 << 23) as f32 - 1.0)
        .collect()
}

fn run(model: &TypedModel, input: &Tensor) -> Vec<Vec<f32>> {
    let plan = model
        .clone()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    plan.run(tvec!(input.clone().into()))
        .unwrap()
        .into_iter()
        .map(|t| {
            t.into_tensor()
                .try_as_plain_ram()
                .unwrap()
                .as_slice::<f32>()
                .unwrap()
                .to_vec()
        })
        .collect()
}

fn ops(model: &TypedModel) -> Vec<String> {
    model
        .nodes()
        .iter()
        .map(|n| n.op.name().to_string())
        .collect()
}

fn count(model: &TypedModel, op: &str) -> usize {
    ops(model).iter().filter(|o| *o == op).count()
}

/// Rewrites `m`, checks every output against tract on the original graph,
/// returns the rewritten model.
fn check(m: TypedModel, source: Source, input: Tensor) -> (TypedModel, super::Summary) {
    let want = run(&m, &input);
    let (r, summary) = rewrite(m, source).unwrap();
    let got = run(&r, &input);
    assert_eq!(got.len(), want.len());
    for (o, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.len(), w.len(), "output {o}");
        for (i, (a, b)) in g.iter().zip(w).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                "output {o} element {i}: {a} vs {b}"
            );
        }
    }
    (r, summary)
}

struct Builder {
    m: TypedModel,
    rng: Mt19937,
    fmt: DataFormat,
}

impl Builder {
    fn new(fmt: DataFormat, input: &[usize]) -> (Builder, OutletId) {
        let mut m = TypedModel::default();
        let x = m.add_source("x", f32::fact(input)).unwrap();
        let b = Builder {
            m,
            rng: Mt19937::new(7),
            fmt,
        };
        (b, x)
    }

    /// A convolution as the importer wires it: ONNX (NCHW, OIHW weights) or
    /// TFLite (NHWC, OHWI weights; depthwise weights `[1][k][k][c]`).
    #[allow(clippy::too_many_arguments)]
    fn conv(
        &mut self,
        x: OutletId,
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        padding: PaddingSpec,
        group: usize,
    ) -> OutletId {
        let n = cout * (cin / group) * k * k;
        let w = rand(&mut self.rng, n);
        let (shape, kernel_fmt) = match self.fmt {
            DataFormat::NCHW => (vec![cout, cin / group, k, k], KernelFormat::OIHW),
            _ if group > 1 => (vec![1, k, k, cout], KernelFormat::OHWI),
            _ => (vec![cout, k, k, cin], KernelFormat::OHWI),
        };
        let w = self
            .m
            .add_const(
                format!("w{}", self.m.nodes().len()),
                Tensor::from_shape(&shape, &w).unwrap(),
            )
            .unwrap();
        let bias = rand(&mut self.rng, cout);
        let b = self
            .m
            .add_const(
                format!("b{}", self.m.nodes().len()),
                Tensor::from_shape(&[cout], &bias).unwrap(),
            )
            .unwrap();
        let conv = Conv {
            pool_spec: PoolSpec {
                data_format: self.fmt,
                kernel_shape: tvec!(k, k),
                padding,
                dilations: Some(tvec!(1, 1)),
                strides: Some(tvec!(stride, stride)),
                input_channels: cin,
                output_channels: cout,
            },
            kernel_fmt,
            group,
            q_params: None,
        };
        let name = format!("conv{}", self.m.nodes().len());
        self.m.wire_node(name, conv, &[x, w, b]).unwrap()[0]
    }

    fn bin(
        &mut self,
        op: Box<dyn tract_onnx::tract_core::ops::binary::BinMiniOp>,
        a: OutletId,
        b: OutletId,
    ) -> OutletId {
        let name = format!("bin{}", self.m.nodes().len());
        self.m
            .wire_node(name, TypedBinOp(op, None), &[a, b])
            .unwrap()[0]
    }

    /// `min(max(x, 0), 6)` with rank-4 scalar bounds, as ONNX Clip becomes.
    fn relu6(&mut self, x: OutletId) -> OutletId {
        let zero = self
            .m
            .add_const(
                format!("z{}", self.m.nodes().len()),
                tensor0(0f32).broadcast_into_rank(4).unwrap(),
            )
            .unwrap();
        let six = self
            .m
            .add_const(
                format!("s{}", self.m.nodes().len()),
                tensor0(6f32).broadcast_into_rank(4).unwrap(),
            )
            .unwrap();
        let y = self.bin(Box::new(math::Max), x, zero);
        self.bin(Box::new(math::Min), y, six)
    }
}

fn explicit(p: usize) -> PaddingSpec {
    PaddingSpec::Explicit(tvec!(p, p), tvec!(p, p))
}

#[test]
fn onnx_block_runs_on_edgemark_ops_with_clamps_and_residual_fused() {
    let (mut b, x) = Builder::new(DataFormat::NCHW, &[1, 5, 13, 11]);
    // Stem: 3x3 stride 2 (im2col), ReLU6.
    let c0 = b.conv(x, 5, 16, 3, 2, explicit(1), 1);
    let a0 = b.relu6(c0);
    // Inverted residual: expand 1x1 + ReLU6, depthwise 3x3 + ReLU6,
    // project 1x1, + the block input.
    let e = b.conv(a0, 16, 48, 1, 1, explicit(0), 1);
    let e = b.relu6(e);
    let d = b.conv(e, 48, 48, 3, 1, explicit(1), 48);
    let d = b.relu6(d);
    let p = b.conv(d, 48, 16, 1, 1, explicit(0), 1);
    let sum = b.bin(Box::new(math::Add), p, a0);
    // Global average pool as tract-onnx wires it.
    let red =
        b.m.wire_node("gap.sum", Reduce::new(tvec!(2, 3), Reducer::Sum), &[sum])
            .unwrap()[0];
    let hw =
        b.m.add_const("hw", tensor0(42f32).broadcast_into_rank(4).unwrap())
            .unwrap();
    let mean = b.bin(Box::new(math::Div), red, hw);
    // The stem's raw output is also a model output: its clamp must not be
    // fused into it.
    b.m.select_output_outlets(&[mean, c0]).unwrap();
    let mut rng = Mt19937::new(3);
    let input = Tensor::from_shape(&[1, 5, 13, 11], &rand(&mut rng, 5 * 13 * 11)).unwrap();
    let (r, s) = check(b.m, Source::Onnx, input);
    assert_eq!(s.convs, 4, "{:?}", ops(&r));
    assert_eq!(s.fused_adds, 1);
    // Expansion and depthwise clamps fused; the stem's clamp stays apart
    // (its convolution has a second reader).
    assert_eq!(s.fused_clamps, 2);
    assert_eq!(count(&r, "EdgemarkIm2colConv"), 1);
    assert_eq!(count(&r, "EdgemarkPointwise"), 2);
    assert_eq!(count(&r, "EdgemarkDepthwise"), 1);
    assert_eq!(count(&r, "EdgemarkMeanHw"), 1);
    assert!(!ops(&r).contains(&"Conv".to_string()), "{:?}", ops(&r));
}

#[test]
fn tflite_layout_with_pad_and_depthwise_weights() {
    let (mut b, x) = Builder::new(DataFormat::NHWC, &[1, 9, 10, 3]);
    let pad =
        b.m.wire_node(
            "pad",
            Pad::new(
                vec![(0, 0), (1, 0), (0, 1), (0, 0)],
                PadMode::Constant(rctensor0(0f32)),
            ),
            &[x],
        )
        .unwrap()[0];
    let c0 = b.conv(pad, 3, 8, 3, 2, PaddingSpec::Valid, 1);
    let a0 = b.relu6(c0);
    let d = b.conv(a0, 8, 8, 3, 1, PaddingSpec::SameUpper, 8);
    let p = b.conv(d, 8, 4, 1, 1, PaddingSpec::Valid, 1);
    b.m.select_output_outlets(&[p]).unwrap();
    let mut rng = Mt19937::new(5);
    let input = Tensor::from_shape(&[1, 9, 10, 3], &rand(&mut rng, 270)).unwrap();
    let (r, s) = check(b.m, Source::Tflite, input);
    assert_eq!(s.convs, 3);
    assert_eq!(s.boundaries, 0, "TFLite is NHWC already");
    // The PAD became the convolution's padding.
    assert!(!ops(&r).contains(&"Pad".to_string()), "{:?}", ops(&r));
}

#[test]
fn gemm_with_constant_weights_becomes_a_dense_layer() {
    let mut m = TypedModel::default();
    let x = m.add_source("x", f32::fact([3, 10])).unwrap();
    let mut rng = Mt19937::new(9);
    let w = m
        .add_const(
            "w",
            Tensor::from_shape(&[6, 10], &rand(&mut rng, 60)).unwrap(),
        )
        .unwrap();
    let bias = m
        .add_const(
            "bias",
            Tensor::from_shape(&[1, 6], &rand(&mut rng, 6)).unwrap(),
        )
        .unwrap();
    let es = EinSum::new("mk,nk->mn".parse().unwrap(), f32::datum_type());
    let p = m.wire_node("mm", es, &[x, w]).unwrap()[0];
    let y = m
        .wire_node("fc", TypedBinOp(Box::new(math::Add), None), &[p, bias])
        .unwrap();
    m.select_output_outlets(&y).unwrap();
    let input = Tensor::from_shape(&[3, 10], &rand(&mut rng, 30)).unwrap();
    let (r, s) = check(m, Source::Onnx, input);
    assert_eq!(s.dense, 1);
    assert_eq!(count(&r, "EdgemarkDense"), 1);
}

#[test]
fn what_the_kernels_do_not_cover_stays_with_tract() {
    // A grouped (not depthwise) convolution and a broadcasting sum.
    let (mut b, x) = Builder::new(DataFormat::NCHW, &[1, 4, 6, 6]);
    let g = b.conv(x, 4, 8, 3, 1, explicit(1), 2);
    let one =
        b.m.add_const(
            "one",
            Tensor::from_shape(&[1, 8, 1, 1], &[1f32; 8]).unwrap(),
        )
        .unwrap();
    let y = b.bin(Box::new(math::Add), g, one);
    b.m.select_output_outlets(&[y]).unwrap();
    let mut rng = Mt19937::new(1);
    let input = Tensor::from_shape(&[1, 4, 6, 6], &rand(&mut rng, 144)).unwrap();
    let (r, s) = check(b.m.clone(), Source::Onnx, input);
    assert_eq!(s, super::Summary::default());
    assert_eq!(ops(&r), ops(&b.m), "unchanged when nothing fits");
}
