//! Each rewrite on a small graph shaped like the importer's output: the
//! rewritten model must have the edgemark op in it and compute what a scalar
//! reference of the quantised semantics computes (and what tract computes
//! on the original graph, up to one rounding step), and what the pass does
//! not recognise must stay as it was.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec, PoolSpec};
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_core::ops::nn::{DataFormat, Reduce, Reducer};
use tract_onnx::tract_core::ops::quant::{
    DequantizeLinearF32, quantize_linear_i8, quantize_linear_u8,
};

use super::kernels::{Geometry, reference};
use super::{Source, rewrite, weights_from_f32};
use crate::rng::Mt19937;

fn rand_i8(rng: &mut Mt19937, n: usize) -> Vec<i8> {
    (0..n).map(|_| rng.next_u32() as i8).collect()
}

fn run(model: &TypedModel, input: Tensor) -> Tensor {
    let plan = model
        .clone()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    plan.run(tvec!(input.into()))
        .unwrap()
        .remove(0)
        .into_tensor()
}

fn ops(model: &TypedModel) -> Vec<String> {
    model
        .nodes()
        .iter()
        .map(|n| n.op.name().to_string())
        .collect()
}

fn max_step(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as i32 - y as i32).abs())
        .max()
        .unwrap_or(0)
}

fn i8s(t: &Tensor) -> Vec<i8> {
    t.try_as_plain_ram()
        .unwrap()
        .as_slice::<i8>()
        .unwrap()
        .to_vec()
}

/// ONNX QDQ shape: f32 NCHW input -> Q -> DQ -> Conv(f32 weights = q * s_c)
/// -> Q(i8 output) -> output, as tract-onnx types it before decluttering.
#[allow(clippy::too_many_arguments)]
fn onnx_conv_model(
    h: usize,
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    dw: bool,
    wq: &[i8],
    wscale: &[f32],
    bias: &[f32],
    s_in: f32,
    z_in: i8,
    s_out: f32,
    z_out: i8,
    wf_override: Option<&[f32]>,
) -> TypedModel {
    let mut m = TypedModel::default();
    let x = m.add_source("x", f32::fact([1, cin, h, h])).unwrap();
    let q = m
        .wire_node("xq", quantize_linear_i8(s_in.recip(), z_in), &[x])
        .unwrap();
    let d = m
        .wire_node("xdq", DequantizeLinearF32::new(s_in, z_in as i32), &q)
        .unwrap();
    let ci = if dw { 1 } else { cin };
    let per = ci * k * k;
    let wf: Vec<f32> = match wf_override {
        Some(w) => w.to_vec(),
        None => wq
            .iter()
            .enumerate()
            .map(|(i, &v)| v as f32 * wscale[i / per])
            .collect(),
    };
    let w = m
        .add_const("w", Tensor::from_shape(&[cout, ci, k, k], &wf).unwrap())
        .unwrap();
    let b = m
        .add_const("b", Tensor::from_shape(&[cout], bias).unwrap())
        .unwrap();
    let pool_spec = PoolSpec {
        data_format: DataFormat::NCHW,
        kernel_shape: tvec!(k, k),
        padding: PaddingSpec::Explicit(tvec!(k / 2, k / 2), tvec!(k / 2, k / 2)),
        dilations: Some(tvec!(1, 1)),
        strides: Some(tvec!(stride, stride)),
        input_channels: cin,
        output_channels: cout,
    };
    let conv = Conv {
        pool_spec,
        kernel_fmt: KernelFormat::OIHW,
        group: if dw { cin } else { 1 },
        q_params: None,
    };
    let c = m.wire_node("conv", conv, &[d[0], w, b]).unwrap();
    let y = m
        .wire_node("yq", quantize_linear_i8(s_out.recip(), z_out), &c)
        .unwrap();
    m.select_output_outlets(&y).unwrap();
    m
}

/// The reference for an ONNX conv model: quantise the input as ONNX does,
/// NCHW -> NHWC, reference conv, back.
#[allow(clippy::too_many_arguments)]
fn onnx_conv_reference(
    x: &[f32],
    h: usize,
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    dw: bool,
    wq: &[i8],
    wscale: &[f32],
    bias: &[f32],
    s_in: f32,
    z_in: i8,
    s_out: f32,
    z_out: i8,
) -> Vec<i8> {
    let zp = z_in as i32 + 128;
    let mut xq = vec![0u8; x.len()];
    for c in 0..cin {
        for p in 0..h * h {
            let v = ((x[c * h * h + p] / s_in).round_ties_even() as i32 + zp).clamp(0, 255);
            xq[p * cin + c] = v as u8;
        }
    }
    let ci = if dw { 1 } else { cin };
    let mut w = vec![0i8; wq.len()];
    for co in 0..cout {
        for c in 0..ci {
            for t in 0..k * k {
                let v = wq[(co * ci + c) * k * k + t];
                if dw {
                    w[t * cout + co] = v;
                } else {
                    w[(t * cin + c) * cout + co] = v;
                }
            }
        }
    }
    let bq: Vec<i32> = (0..cout)
        .map(|c| (bias[c] / (s_in * wscale[c])).round_ties_even() as i32)
        .collect();
    let mult: Vec<f32> = wscale.iter().map(|&s| s_in * s / s_out).collect();
    let o = (h + 2 * (k / 2) - k) / stride + 1;
    let g = Geometry {
        h,
        w: h,
        kh: k,
        kw: k,
        sh: stride,
        sw: stride,
        pad_top: k / 2,
        pad_left: k / 2,
        oh: o,
        ow: o,
    };
    let y = reference::conv(
        &g,
        cin,
        cout,
        dw,
        zp,
        &xq,
        &w,
        &bq,
        &mult,
        z_out as i32 + 128,
        0,
        255,
    );
    let mut out = vec![0i8; y.len()];
    for p in 0..o * o {
        for c in 0..cout {
            out[c * o * o + p] = (y[p * cout + c] as i32 - 128) as i8;
        }
    }
    out
}

fn check_onnx_conv(
    h: usize,
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    dw: bool,
    seed: u32,
) {
    let mut rng = Mt19937::new(seed as u64);
    let ci = if dw { 1 } else { cin };
    let mut wq = rand_i8(&mut rng, cout * ci * k * k);
    // Symmetric per-channel weights reach +-127 in every channel.
    for co in 0..cout {
        wq[co * ci * k * k] = if co % 2 == 0 { 127 } else { -127 };
        for v in &mut wq[co * ci * k * k..][..ci * k * k] {
            *v = (*v).max(-127);
        }
    }
    let wscale: Vec<f32> = (0..cout).map(|c| 0.002 + 0.0005 * c as f32).collect();
    let bias: Vec<f32> = (0..cout).map(|c| 0.3 * c as f32 - 1.0).collect();
    let (s_in, z_in, s_out, z_out) = (0.02, -5, 0.05, 3);
    let x: Vec<f32> = (0..cin * h * h)
        .map(|_| (rng.next_u32() % 1000) as f32 / 200.0 - 2.5)
        .collect();
    let model = onnx_conv_model(
        h, cin, cout, k, stride, dw, &wq, &wscale, &bias, s_in, z_in, s_out, z_out, None,
    );
    let input = Tensor::from_shape(&[1, cin, h, h], &x).unwrap();
    let want_tract = i8s(&run(&model, input.clone()));
    let (rewritten, summary) = rewrite(model, Source::Onnx).unwrap();
    assert_eq!(summary.convs, 1, "{:?}", ops(&rewritten));
    assert!(ops(&rewritten).iter().any(|o| o == "EdgemarkQConv"));
    assert!(!ops(&rewritten).iter().any(|o| o == "Conv"));
    let got = i8s(&run(&rewritten, input));
    let want = onnx_conv_reference(
        &x, h, cin, cout, k, stride, dw, &wq, &wscale, &bias, s_in, z_in, s_out, z_out,
    );
    assert_eq!(got, want, "integer path against the scalar reference");
    assert!(
        max_step(&got, &want_tract) <= 1,
        "against tract's f32 computation"
    );
}

#[test]
fn onnx_pointwise_conv_runs_on_the_integer_gemm() {
    check_onnx_conv(6, 20, 24, 1, 1, false, 1);
}

#[test]
fn onnx_depthwise_3x3_stride_1_and_2() {
    check_onnx_conv(9, 19, 19, 3, 1, true, 2);
    check_onnx_conv(10, 16, 16, 3, 2, true, 3);
}

#[test]
fn onnx_stem_conv_3x3_stride_2_three_channels() {
    check_onnx_conv(12, 3, 8, 3, 2, false, 4);
}

#[test]
fn weights_recovered_exactly_or_not_at_all() {
    let q = [127i8, -3, 0, 5, -127, 64];
    let s = [0.004f32, 0.25];
    let f: Vec<f32> = q
        .iter()
        .enumerate()
        .map(|(i, &v)| v as f32 * s[i / 3])
        .collect();
    let (rq, rs) = weights_from_f32(&f, 2).unwrap();
    assert_eq!(rq, q);
    assert!((rs[0] - 0.004).abs() < 1e-9 && (rs[1] - 0.25).abs() < 1e-7);
    // Not a multiple of one scale: stays in f32.
    assert!(weights_from_f32(&[1.0, 0.3, 0.77], 1).is_none());
}

#[test]
fn unrecognised_conv_stays_as_tract_built_it() {
    // Weights that are not symmetric integers times a scale.
    let mut rng = Mt19937::new(9);
    let (h, c) = (5, 4);
    let wf: Vec<f32> = (0..16).map(|i| 0.013 * i as f32 + 0.0071).collect();
    let model = onnx_conv_model(
        h,
        c,
        c,
        1,
        1,
        false,
        &[0; 16],
        &[0.01; 4],
        &[0.0; 4],
        0.02,
        0,
        0.05,
        0,
        Some(&wf),
    );
    let x: Vec<f32> = (0..c * h * h)
        .map(|_| (rng.next_u32() % 100) as f32 / 50.0 - 1.0)
        .collect();
    let input = Tensor::from_shape(&[1, c, h, h], &x).unwrap();
    let want = i8s(&run(&model, input.clone()));
    let (rewritten, summary) = rewrite(model, Source::Onnx).unwrap();
    assert_eq!(summary.total(), 0);
    assert!(ops(&rewritten).iter().any(|o| o == "Conv"));
    assert_eq!(i8s(&run(&rewritten, input)), want);
}

/// Two quantised inputs of different scales added, then the global average
/// pool and a fully connected layer, with a u8 output: every ONNX pattern
/// after the convolutions.
#[test]
fn onnx_add_mean_and_fc() {
    let mut rng = Mt19937::new(21);
    let (c, h, n) = (8, 3, 5);
    let mut m = TypedModel::default();
    let a = m.add_source("a", f32::fact([1, c, h, h])).unwrap();
    let b = m.add_source("b", f32::fact([1, c, h, h])).unwrap();
    let (sa, za, sb, zb, sy, zy) = (0.03f32, 4i8, 0.011f32, -20i8, 0.04f32, -7i8);
    let aq = m
        .wire_node("aq", quantize_linear_i8(sa.recip(), za), &[a])
        .unwrap();
    let bq = m
        .wire_node("bq", quantize_linear_i8(sb.recip(), zb), &[b])
        .unwrap();
    let ad = m
        .wire_node("ad", DequantizeLinearF32::new(sa, za as i32), &aq)
        .unwrap();
    let bd = m
        .wire_node("bd", DequantizeLinearF32::new(sb, zb as i32), &bq)
        .unwrap();
    let sum = m
        .wire_node(
            "add",
            TypedBinOp(Box::new(math::Add), None),
            &[ad[0], bd[0]],
        )
        .unwrap();
    let yq = m
        .wire_node("yq", quantize_linear_i8(sy.recip(), zy), &sum)
        .unwrap();
    let yd = m
        .wire_node("yd", DequantizeLinearF32::new(sy, zy as i32), &yq)
        .unwrap();
    let red = m
        .wire_node("gap.sum", Reduce::new(tvec!(2, 3), Reducer::Sum), &yd)
        .unwrap();
    let hw = m
        .add_const(
            "hw",
            tensor0((h * h) as f32).broadcast_into_rank(4).unwrap(),
        )
        .unwrap();
    let mean = m
        .wire_node(
            "gap.norm",
            TypedBinOp(Box::new(math::Div), None),
            &[red[0], hw],
        )
        .unwrap();
    let (sg, zg) = (0.02f32, -9i8);
    let gq = m
        .wire_node("gq", quantize_linear_i8(sg.recip(), zg), &mean)
        .unwrap();
    let gd = m
        .wire_node("gd", DequantizeLinearF32::new(sg, zg as i32), &gq)
        .unwrap();
    let f1 = m.wire_node("flat.0", AxisOp::Rm(3), &gd).unwrap();
    let f2 = m.wire_node("flat.1", AxisOp::Rm(2), &f1).unwrap();
    let fq = m
        .wire_node("fq", quantize_linear_i8(sg.recip(), zg), &f2)
        .unwrap();
    let fd = m
        .wire_node("fd", DequantizeLinearF32::new(sg, zg as i32), &fq)
        .unwrap();
    let mut wq = rand_i8(&mut rng, n * c);
    for r in 0..n {
        wq[r * c] = 127;
        for v in &mut wq[r * c..][..c] {
            *v = (*v).max(-127);
        }
    }
    let ws: Vec<f32> = (0..n).map(|r| 0.01 + 0.002 * r as f32).collect();
    let wf: Vec<f32> = wq
        .iter()
        .enumerate()
        .map(|(i, &v)| v as f32 * ws[i / c])
        .collect();
    let w = m
        .add_const("fc.w", Tensor::from_shape(&[n, c], &wf).unwrap())
        .unwrap();
    let es = EinSum::new("mk,nk->mn".parse().unwrap(), f32::datum_type());
    let mm = m.wire_node("fc.ab", es, &[fd[0], w]).unwrap();
    let bias: Vec<f32> = (0..n).map(|r| 0.1 * r as f32 - 0.2).collect();
    let bc = m
        .add_const("fc.b", Tensor::from_shape(&[1, n], &bias).unwrap())
        .unwrap();
    let fc = m
        .wire_node("fc", TypedBinOp(Box::new(math::Add), None), &[mm[0], bc])
        .unwrap();
    let (so, zo) = (0.05f32, 100u8);
    let oq = m
        .wire_node("oq", quantize_linear_u8(so.recip(), zo), &fc)
        .unwrap();
    let od = m
        .wire_node("od", DequantizeLinearF32::new(so, zo as i32), &oq)
        .unwrap();
    m.select_output_outlets(&od).unwrap();

    let xa: Vec<f32> = (0..c * h * h)
        .map(|_| (rng.next_u32() % 400) as f32 / 100.0 - 2.0)
        .collect();
    let xb: Vec<f32> = (0..c * h * h)
        .map(|_| (rng.next_u32() % 400) as f32 / 100.0 - 2.0)
        .collect();
    let inputs = tvec!(
        Tensor::from_shape(&[1, c, h, h], &xa).unwrap().into(),
        Tensor::from_shape(&[1, c, h, h], &xb).unwrap().into()
    );
    let tract_out = m
        .clone()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap()
        .run(inputs.clone())
        .unwrap();
    let (rewritten, summary) = rewrite(m, Source::Onnx).unwrap();
    assert_eq!(
        (summary.convs, summary.adds, summary.means),
        (1, 1, 1),
        "{:?}",
        ops(&rewritten)
    );
    let ours = rewritten
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap()
        .run(inputs)
        .unwrap();

    // Scalar reference of the quantised semantics, NCHW throughout.
    let q = |x: f32, s: f32, z: i32, lo: i32, hi: i32| {
        ((x / s).round_ties_even() as i32 + z).clamp(lo, hi)
    };
    let y: Vec<i32> = (0..c * h * h)
        .map(|i| {
            let va = (q(xa[i], sa, za as i32, -128, 127) - za as i32) as f32 * (sa / sy);
            let vb = (q(xb[i], sb, zb as i32, -128, 127) - zb as i32) as f32 * (sb / sy);
            ((va + vb).round_ties_even() as i32 + zy as i32).clamp(-128, 127)
        })
        .collect();
    let g: Vec<i32> = (0..c)
        .map(|ch| {
            let s: i32 = (0..h * h).map(|p| y[ch * h * h + p] - zy as i32).sum();
            let m = sy / ((h * h) as f32 * sg);
            ((s as f32 * m).round_ties_even() as i32 + zg as i32).clamp(-128, 127)
        })
        .collect();
    let want: Vec<f32> = (0..n)
        .map(|r| {
            let acc: i32 = (0..c)
                .map(|k| (g[k] - zg as i32) * wq[r * c + k] as i32)
                .sum();
            let bq = (bias[r] / (sg * ws[r])).round_ties_even() as i32;
            let v = ((acc + bq) as f32 * (sg * ws[r] / so)).round_ties_even() as i32 + zo as i32;
            (v.clamp(0, 255) - zo as i32) as f32 * so
        })
        .collect();
    let got = ours[0]
        .try_as_plain_ram()
        .unwrap()
        .as_slice::<f32>()
        .unwrap()
        .to_vec();
    let tr = tract_out[0]
        .try_as_plain_ram()
        .unwrap()
        .as_slice::<f32>()
        .unwrap()
        .to_vec();
    for r in 0..n {
        assert!(
            (got[r] - want[r]).abs() < so * 0.01,
            "logit {r}: {} vs reference {}",
            got[r],
            want[r]
        );
        assert!(
            (got[r] - tr[r]).abs() <= so * 2.01,
            "logit {r}: {} vs tract {}",
            got[r],
            tr[r]
        );
    }
}

/// TFLite shape: QI8 NHWC input, quantised Conv with its 9 inputs (OHWI
/// weights, per-channel scales), explicit Pad of the zero point in front.
/// The model, input, OHWI weights, per-channel scales, bias, h, cin.
type TfliteCase = (
    TypedModel,
    Vec<i8>,
    Vec<i8>,
    Vec<f32>,
    Vec<i32>,
    usize,
    usize,
);

fn tflite_conv_model(dw: bool, pad: bool) -> TfliteCase {
    let mut rng = Mt19937::new(if dw { 31 } else { 32 });
    let (h, cin, k, stride) = (8, if dw { 12 } else { 5 }, 3, 2);
    let cout = if dw { cin } else { 7 };
    let (s_in, z_in, s_out, z_out) = (0.05f32, -3i32, 0.1f32, 11i32);
    let in_dt = DatumType::QI8(QParams::ZpScale {
        zero_point: z_in,
        scale: s_in,
    });
    let out_dt = DatumType::QI8(QParams::ZpScale {
        zero_point: z_out,
        scale: s_out,
    });
    let mut m = TypedModel::default();
    let x = m.add_source("x", in_dt.fact([1, h, h, cin])).unwrap();
    let xin = if pad {
        let v = Tensor::from_shape(&[], &[z_in as i8]).unwrap();
        let mut v = v;
        unsafe { v.set_datum_type(in_dt) };
        let op = tract_onnx::tract_core::ops::array::Pad {
            pads: vec![(0, 0), (1, 1), (1, 1), (0, 0)],
            mode: tract_onnx::tract_core::ops::array::PadMode::Constant(v.into_arc_tensor()),
        };
        m.wire_node("pad", op, &[x]).unwrap()[0]
    } else {
        x
    };
    let wshape = if dw {
        [1, k, k, cin]
    } else {
        [cout, k, k, cin]
    };
    let wq = rand_i8(&mut rng, wshape.iter().product());
    let mut wt = Tensor::from_shape(&wshape, &wq).unwrap();
    unsafe {
        wt.set_datum_type(DatumType::QI8(QParams::ZpScale {
            zero_point: 0,
            scale: 1.0,
        }))
    };
    let w = m.add_const("w", wt).unwrap();
    let bias: Vec<i32> = (0..cout).map(|c| c as i32 * 97 - 300).collect();
    let b = m
        .add_const("b", Tensor::from_shape(&[cout], &bias).unwrap())
        .unwrap();
    let kscale: Vec<f32> = (0..cout).map(|c| 0.004 + 0.001 * c as f32).collect();
    let consts = [
        tensor0(z_in),
        tensor0(s_in),
        tensor0(0i32),
        tensor1(&kscale),
        tensor0(z_out),
        tensor0(s_out),
    ];
    let mut inputs = vec![xin, w, b];
    for (i, t) in consts.into_iter().enumerate() {
        inputs.push(m.add_const(format!("q{i}"), t).unwrap());
    }
    let pool_spec = PoolSpec {
        data_format: DataFormat::NHWC,
        kernel_shape: tvec!(k, k),
        padding: if pad {
            PaddingSpec::Valid
        } else {
            PaddingSpec::SameUpper
        },
        dilations: Some(tvec!(1, 1)),
        strides: Some(tvec!(stride, stride)),
        input_channels: cin,
        output_channels: cout,
    };
    let conv = Conv {
        pool_spec,
        kernel_fmt: KernelFormat::OHWI,
        group: if dw { cin } else { 1 },
        q_params: Some(out_dt),
    };
    let y = m.wire_node("conv", conv, &inputs).unwrap();
    m.select_output_outlets(&y).unwrap();
    let xv = rand_i8(&mut rng, h * h * cin);
    (m, xv, wq, kscale, bias, h, cin)
}

fn check_tflite_conv(dw: bool, pad: bool) {
    let (m, xv, wq, kscale, bias, h, cin) = tflite_conv_model(dw, pad);
    let in_dt = m.input_fact(0).unwrap().datum_type;
    let mut input = Tensor::from_shape(&[1, h, h, cin], &xv).unwrap();
    unsafe { input.set_datum_type(in_dt) };
    let tract_out = i8s(&run(&m, input.clone()));
    let (rewritten, summary) = rewrite(m, Source::Tflite).unwrap();
    assert_eq!(summary.convs, 1, "{:?}", ops(&rewritten));
    let out = run(&rewritten, input);
    assert_eq!(
        out.datum_type(),
        DatumType::QI8(QParams::ZpScale {
            zero_point: 11,
            scale: 0.1
        })
    );
    let got = i8s(&out);
    // Reference: u8 domain, NHWC; SAME upper on 8 with stride 2 pads 0 before,
    // 1 after; the explicit Pad pads 1 before.
    let cout = kscale.len();
    let k = 3;
    let xu: Vec<u8> = xv.iter().map(|&v| (v as u8) ^ 0x80).collect();
    let mut w = vec![0i8; k * k * cin * cout];
    for co in 0..cout {
        for t in 0..k * k {
            for c in 0..cin {
                if dw {
                    w[t * cout + co] = wq[t * cin + co];
                } else {
                    w[(t * cin + c) * cout + co] = wq[(co * k * k + t) * cin + c];
                }
            }
        }
    }
    let p = if pad { 1 } else { 0 };
    let o = if pad { (h + 2 - k) / 2 + 1 } else { h / 2 };
    let g = Geometry {
        h,
        w: h,
        kh: k,
        kw: k,
        sh: 2,
        sw: 2,
        pad_top: p,
        pad_left: p,
        oh: o,
        ow: o,
    };
    let mult: Vec<f32> = kscale.iter().map(|&s| 0.05 * s / 0.1).collect();
    let want: Vec<i8> = reference::conv(
        &g,
        cin,
        cout,
        dw,
        -3 + 128,
        &xu,
        &w,
        &bias,
        &mult,
        11 + 128,
        0,
        255,
    )
    .into_iter()
    .map(|v| (v ^ 0x80) as i8)
    .collect();
    assert_eq!(got, want, "integer path against the scalar reference");
    assert!(
        max_step(&got, &tract_out) <= 1,
        "against tract's own quantised conv"
    );
}

#[test]
fn tflite_conv_with_padding_in_front() {
    check_tflite_conv(false, true);
}

#[test]
fn tflite_depthwise_same_padding() {
    check_tflite_conv(true, false);
}
