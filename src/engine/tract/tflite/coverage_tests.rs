//! TFLite coverage beyond tract-tflite 0.23.9 (`coverage.rs`, `own_ops.rs`): one
//! small model per operator, built here, run through `load_tflite` and tract,
//! and compared with a reference written independently in this file from the
//! operator's documented semantics. Each also shows tract-tflite alone failing.

use tract_tflite::prelude::*;
use tract_tflite::tflite::{ActivationFunctionType, BuiltinOperator, Padding, TensorType};

use super::tests::{
    O, T, act, assert_close, build, f32_const, floats, i32_const, op, q8, ramp, run, tract_alone,
};
use super::*;

fn i8s(t: &TValue) -> Vec<i8> {
    t.try_as_plain_ram()
        .unwrap()
        .as_slice::<i8>()
        .unwrap()
        .to_vec()
}

/// tract-tflite 0.23.9 alone errs on the model, or panics (it indexes an omitted
/// optional input).
fn tract_alone_fails(bytes: &[u8], inputs: Vec<Tensor>) -> bool {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tract_alone(bytes, inputs)))
        .map_or(true, |r| r.is_err())
}

/// `run`, and with `EDGEMARK_TFLITE_DUMP=DIR` set, the model, its inputs and
/// edgemark's outputs written to DIR (raw little-endian data, shapes and types
/// in a JSON file) so that `scripts/check_tflite_coverage_litert.py` can run the
/// same models through LiteRT and compare: a check of these tests' references
/// against TFLite's own kernels, by hand, outside CI.
fn run_and_dump(label: &str, bytes: &[u8], inputs: Vec<Tensor>) -> (TVec<TValue>, FixReport) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let raw: Vec<(Vec<usize>, String, Vec<u8>)> = inputs.iter().map(describe).collect();
    let (out, report) = run(bytes, inputs);
    if let Some(dir) = std::env::var_os("EDGEMARK_TFLITE_DUMP") {
        let dir = std::path::Path::new(&dir);
        std::fs::create_dir_all(dir).unwrap();
        let name = format!("{label}-{}", N.fetch_add(1, Ordering::SeqCst));
        std::fs::write(dir.join(format!("{name}.tflite")), bytes).unwrap();
        let outs: Vec<_> = out
            .iter()
            .map(|t| describe(&t.clone().into_tensor()))
            .collect();
        let mut json = vec![];
        for (kind, list) in [("inputs", &raw), ("outputs", &outs)] {
            let mut items = vec![];
            for (i, (shape, dt, data)) in list.iter().enumerate() {
                let file = format!("{name}.{kind}{i}.bin");
                std::fs::write(dir.join(&file), data).unwrap();
                items.push(format!(
                    "{{\"file\": \"{file}\", \"shape\": {shape:?}, \"dtype\": \"{dt}\"}}"
                ));
            }
            json.push(format!("\"{kind}\": [{}]", items.join(", ")));
        }
        std::fs::write(
            dir.join(format!("{name}.json")),
            format!("{{{}}}", json.join(", ")),
        )
        .unwrap();
    }
    (out, report)
}

fn describe(t: &Tensor) -> (Vec<usize>, String, Vec<u8>) {
    let dt = match t.datum_type().unquantized() {
        DatumType::F32 => "float32",
        DatumType::I8 => "int8",
        DatumType::U8 => "uint8",
        DatumType::I32 => "int32",
        dt => panic!("{dt:?}"),
    };
    let bytes = t.as_bytes().to_vec();
    (t.shape().to_vec(), dt.to_owned(), bytes)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn max_step_diff(a: &[i8], b: &[i8]) -> i32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as i32 - y as i32).abs())
        .max()
        .unwrap_or(0)
}

fn tensor<D: Datum + Copy>(shape: &[usize], v: &[D]) -> Tensor {
    Tensor::from_shape(shape, v).unwrap()
}

fn custom(name: &'static str, inputs: &[i32], outputs: &[i32], opts: Vec<u8>, v: i32) -> Op {
    let mut o = op(BuiltinOperator::CUSTOM, inputs, outputs, O::None);
    o.custom = Some(name);
    o.custom_options = Some(opts);
    o.version = v;
    o
}

use super::tests::Op;

fn i32s_le(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

// ---------------------------------------------------------------- DEPTH_TO_SPACE

/// out[n, h*b + i, w*b + j, c] = in[n, h, w, (i*b + j)*C + c] (TensorFlow's DCR order).
fn depth_to_space_ref<D: Copy>(x: &[D], [n, h, w, c]: [usize; 4], b: usize) -> Vec<D> {
    let co = c / (b * b);
    let mut out = Vec::with_capacity(x.len());
    for nn in 0..n {
        for y in 0..h * b {
            for xx in 0..w * b {
                for cc in 0..co {
                    let (hh, i, ww, j) = (y / b, y % b, xx / b, xx % b);
                    out.push(x[((nn * h + hh) * w + ww) * c + (i * b + j) * co + cc]);
                }
            }
        }
    }
    out
}

#[test]
fn depth_to_space_float_and_int8() {
    let (b, s) = (2usize, [1usize, 2, 3, 8]);
    let ys = [1, 4, 6, 2];
    for int8 in [false, true] {
        let (x, y) = if int8 {
            (q8("x", &[1, 2, 3, 8], 0.5, -3), q8("y", &ys, 0.5, -3))
        } else {
            (act("x", &[1, 2, 3, 8]), act("y", &ys))
        };
        let bytes = build(
            &[x, y],
            &[op(
                BuiltinOperator::DEPTH_TO_SPACE,
                &[0],
                &[1],
                O::DepthToSpace(b as i32),
            )],
            &[0],
            &[1],
            false,
        );
        let xv = ramp(48, 1.0, -20.0);
        let xq: Vec<i8> = xv.iter().map(|&v| v as i8).collect();
        let input = || {
            if int8 {
                tensor(&s, &xq)
            } else {
                tensor(&s, &xv)
            }
        };
        assert!(tract_alone_fails(&bytes, vec![input()]));
        let (out, report) = run_and_dump("depth_to_space", &bytes, vec![input()]);
        assert_eq!(report.summary(), "depth-to-space-as-reshape-transpose x1");
        assert_eq!(out[0].shape(), &[1, 4, 6, 2]);
        if int8 {
            assert_eq!(i8s(&out[0]), depth_to_space_ref(&xq, s, b));
            assert_eq!(out[0].datum_type().zp_scale(), (-3, 0.5));
        } else {
            assert_eq!(floats(&out[0]), depth_to_space_ref(&xv, s, b));
        }
    }
}

/// out[n, h, w, (i*b + j)*C + c] = in[n, h*b + i, w*b + j, c].
fn space_to_depth_ref(x: &[f32], [n, h, w, c]: [usize; 4], b: usize) -> Vec<f32> {
    let mut out = vec![0.0; x.len()];
    for nn in 0..n {
        for y in 0..h {
            for xx in 0..w {
                for cc in 0..c {
                    let (oh, ow, oc) = (h / b, w / b, c * b * b);
                    let (i, j) = (y % b, xx % b);
                    let o = ((nn * oh + y / b) * ow + xx / b) * oc + (i * b + j) * c + cc;
                    out[o] = x[((nn * h + y) * w + xx) * c + cc];
                }
            }
        }
    }
    out
}

#[test]
fn space_to_depth_float() {
    let (b, s) = (3usize, [2usize, 6, 3, 2]);
    let bytes = build(
        &[act("x", &[2, 6, 3, 2]), act("y", &[2, 2, 1, 18])],
        &[op(
            BuiltinOperator::SPACE_TO_DEPTH,
            &[0],
            &[1],
            O::SpaceToDepth(3),
        )],
        &[0],
        &[1],
        false,
    );
    let x = ramp(72, 0.25, -3.0);
    assert!(tract_alone_fails(&bytes, vec![tensor(&s, &x)]));
    let (out, report) = run_and_dump("space_to_depth", &bytes, vec![tensor(&s, &x)]);
    assert_eq!(report.summary(), "space-to-depth-as-reshape-transpose x1");
    assert_eq!(floats(&out[0]), space_to_depth_ref(&x, s, b));
}

// ---------------------------------------------------------------- TRANSPOSE_CONV

/// Transposed convolution by scattering: input pixel (iy, ix) adds
/// x * w[o, ky, kx, i] to output (iy*s - pad + ky, ix*s - pad + kx) when inside.
#[allow(clippy::too_many_arguments)]
fn transpose_conv_ref(
    x: &[f32],
    [n, h, w, ci]: [usize; 4],
    wt: &[f32],
    [o, kh, kw, _]: [usize; 4],
    bias: &[f32],
    (sh, sw): (usize, usize),
    (ph, pw): (i64, i64),
    (oh, ow): (usize, usize),
) -> Vec<f32> {
    let mut out = vec![0f32; n * oh * ow * o];
    for nn in 0..n {
        for p in 0..oh * ow {
            for oc in 0..o {
                out[(nn * oh * ow + p) * o + oc] = bias[oc];
            }
        }
        for iy in 0..h {
            for ix in 0..w {
                for ky in 0..kh {
                    for kx in 0..kw {
                        let y = (iy * sh + ky) as i64 - ph;
                        let xx = (ix * sw + kx) as i64 - pw;
                        if y < 0 || xx < 0 || y >= oh as i64 || xx >= ow as i64 {
                            continue;
                        }
                        for oc in 0..o {
                            let mut acc = 0f32;
                            for i in 0..ci {
                                acc += x[((nn * h + iy) * w + ix) * ci + i]
                                    * wt[((oc * kh + ky) * kw + kx) * ci + i];
                            }
                            out[((nn * oh + y as usize) * ow + xx as usize) * o + oc] += acc;
                        }
                    }
                }
            }
        }
    }
    out
}

#[test]
fn transpose_conv_float_matches_scatter_reference() {
    let mut worst = 0f32;
    // (input hw, kernel hw, stride hw, SAME?, output hw, bias?)
    #[allow(clippy::type_complexity)]
    let cases: [(
        (usize, usize),
        (usize, usize),
        (usize, usize),
        bool,
        (usize, usize),
        bool,
    ); 6] = [
        ((3, 4), (3, 3), (2, 2), true, (6, 8), true),
        ((3, 4), (3, 3), (2, 2), false, (7, 9), false),
        ((4, 4), (2, 2), (2, 2), true, (8, 8), true),
        ((2, 3), (4, 4), (2, 1), true, (4, 3), true),
        ((3, 3), (3, 3), (1, 1), true, (3, 3), false),
        ((2, 2), (3, 2), (3, 2), false, (6, 4), true),
    ];
    for ((h, w), (kh, kw), (sh, sw), same, (oh, ow), with_bias) in cases {
        let (ci, o) = (3usize, 2usize);
        let ws = [o, kh, kw, ci];
        let wv = ramp(o * kh * kw * ci, 0.07, -0.9);
        let bv = [0.5f32, -1.25];
        let mut tensors = vec![
            i32_const("out_shape", &[1, oh as i32, ow as i32, o as i32]),
            f32_const("w", &[o as i32, kh as i32, kw as i32, ci as i32], &wv),
            act("x", &[1, h as i32, w as i32, ci as i32]),
            act("y", &[1, oh as i32, ow as i32, o as i32]),
        ];
        let mut inputs = vec![0, 1, 2];
        if with_bias {
            tensors.push(f32_const("b", &[o as i32], &bv));
            inputs.push(4);
        } else {
            inputs.push(-1);
        }
        let padding = if same { Padding::SAME } else { Padding::VALID };
        let bytes = build(
            &tensors,
            &[op(
                BuiltinOperator::TRANSPOSE_CONV,
                &inputs,
                &[3],
                O::TransposeConv(padding, sh as i32, sw as i32, ActivationFunctionType::NONE),
            )],
            &[2],
            &[3],
            false,
        );
        let x = ramp(h * w * ci, 0.31, -2.0);
        let s = [1, h, w, ci];
        assert!(tract_alone_fails(&bytes, vec![tensor(&s, &x)]));
        let (out, report) = run_and_dump("transpose_conv", &bytes, vec![tensor(&s, &x)]);
        assert_eq!(report.summary(), "transpose-conv-as-conv x1");
        // TFLite's padding: what a forward convolution from the output size back
        // to the input size pads, half of it before.
        let pad = |out: usize, k: usize, st: usize| -> i64 {
            let conv_out = if same {
                out.div_ceil(st)
            } else {
                (out - k + st) / st
            };
            (((conv_out - 1) * st + k) as i64 - out as i64).max(0) / 2
        };
        let bias = if with_bias { bv } else { [0.0, 0.0] };
        let want = transpose_conv_ref(
            &x,
            s,
            &wv,
            ws,
            &bias,
            (sh, sw),
            (pad(oh, kh, sh), pad(ow, kw, sw)),
            (oh, ow),
        );
        assert_eq!(out[0].shape(), &[1, oh, ow, o]);
        let err = max_abs_diff(&floats(&out[0]), &want);
        assert!(err <= 1e-4, "case {h}x{w} k{kh}x{kw} s{sh}x{sw}: {err}");
        worst = worst.max(err);
    }
    eprintln!("TRANSPOSE_CONV: max abs error {worst:e}");
}

#[test]
fn mediapipe_convolution2d_transpose_bias() {
    // Options: TfLiteTransposeConvParams {padding SAME = 1, stride_w, stride_h}.
    let mut worst = 0f32;
    for ((h, w), (kh, kw), (sh, sw), same) in [
        ((3usize, 5usize), (4usize, 4usize), (2usize, 2usize), true),
        ((4, 3), (3, 3), (2, 2), true),
        ((2, 3), (2, 3), (1, 2), false),
    ] {
        let (ci, o) = (2usize, 3usize);
        // MediaPipe: total padding max(0, k - (in-1) % s - 1) for SAME, 0 for VALID.
        let total = |n: usize, k: usize, s: usize| -> usize {
            if same {
                (k as i64 - ((n - 1) % s) as i64 - 1).max(0) as usize
            } else {
                0
            }
        };
        let (th, tw) = (total(h, kh, sh), total(w, kw, sw));
        let (oh, ow) = (sh * (h - 1) + kh - th, sw * (w - 1) + kw - tw);
        let wv = ramp(o * kh * kw * ci, -0.05, 0.8);
        let bv = [0.1f32, -0.2, 0.3];
        let tensors = [
            act("x", &[1, h as i32, w as i32, ci as i32]),
            f32_const("w", &[o as i32, kh as i32, kw as i32, ci as i32], &wv),
            f32_const("b", &[o as i32], &bv),
            act("y", &[1, oh as i32, ow as i32, o as i32]),
        ];
        let opts = i32s_le(&[if same { 1 } else { 2 }, sw as i32, sh as i32]);
        let bytes = build(
            &tensors,
            &[custom(
                "Convolution2DTransposeBias",
                &[0, 1, 2],
                &[3],
                opts,
                1,
            )],
            &[0],
            &[3],
            false,
        );
        let s = [1, h, w, ci];
        let x = ramp(h * w * ci, 0.4, -1.5);
        assert!(tract_alone_fails(&bytes, vec![tensor(&s, &x)]));
        let (out, report) = run(&bytes, vec![tensor(&s, &x)]);
        assert_eq!(report.summary(), "mediapipe-transpose-conv-bias-as-conv x1");
        let want = transpose_conv_ref(
            &x,
            s,
            &wv,
            [o, kh, kw, ci],
            &bv,
            (sh, sw),
            ((th / 2) as i64, (tw / 2) as i64),
            (oh, ow),
        );
        let err = max_abs_diff(&floats(&out[0]), &want);
        assert!(err <= 1e-4, "{err}");
        worst = worst.max(err);
    }
    eprintln!("Convolution2DTransposeBias: max abs error {worst:e}");
}

// ---------------------------------------------------------------- int8 PRELU, requantise

/// TFLite's quantised PRELU in real numbers: y = x >= 0 ? x : alpha * x, requantised
/// (round half away from zero) and saturated.
fn prelu_q_ref(
    x: &[i8],
    qx: (f32, i64),
    alpha: &[f32],
    qy: (f32, i64),
    channels: usize,
) -> Vec<i8> {
    x.iter()
        .enumerate()
        .map(|(i, &q)| {
            let v = (q as f64 - qx.1 as f64) * qx.0 as f64;
            let a = alpha[if alpha.len() == 1 { 0 } else { i % channels }] as f64;
            let r = if v >= 0.0 { v } else { v * a };
            ((r / qy.0 as f64).round() as i64 + qy.1).clamp(-128, 127) as i8
        })
        .collect()
}

#[test]
fn int8_prelu_one_alpha_and_per_channel_alphas() {
    let (qx, qy) = ((0.05f32, -4i64), (0.04f32, 10i64));
    let mut worst = 0;
    for per_channel in [false, true] {
        // alpha int8, one scale (TFLite's quantisation spec for PRELU): one
        // slope, or one per channel ([1, 1, 3] broadcast over the last axis).
        let (aq, scale, zp): (Vec<i8>, f32, i64) = if per_channel {
            (vec![64, -32, 127], 0.01, 5)
        } else {
            (vec![40], 0.0125, -8)
        };
        let alpha: Vec<f32> = aq.iter().map(|&q| (q as i64 - zp) as f32 * scale).collect();
        let (scales, zps) = (vec![scale], vec![zp]);
        let ashape: Vec<i32> = if per_channel { vec![1, 1, 3] } else { vec![1] };
        let tensors = [
            q8("x", &[1, 2, 4, 3], qx.0, qx.1),
            T {
                name: "alpha",
                shape: ashape,
                ty: TensorType::INT8,
                data: Some(aq.iter().map(|&v| v as u8).collect()),
                quant: Some((scales.clone(), zps.clone(), 0)),
            },
            q8("y", &[1, 2, 4, 3], qy.0, qy.1),
        ];
        let bytes = build(
            &tensors,
            &[op(BuiltinOperator::PRELU, &[0, 1], &[2], O::None)],
            &[0],
            &[2],
            false,
        );
        let x: Vec<i8> = (0..24).map(|i| (i * 37 % 255 - 127) as i8).collect();
        let s = [1, 2, 4, 3];
        assert!(tract_alone_fails(&bytes, vec![tensor(&s, &x)]));
        let (out, report) = run_and_dump("int8_prelu", &bytes, vec![tensor(&s, &x)]);
        assert_eq!(report.summary(), "quantized-prelu-via-float x1");
        assert_eq!(out[0].datum_type().zp_scale(), (qy.1 as i32, qy.0));
        let steps = max_step_diff(&i8s(&out[0]), &prelu_q_ref(&x, qx, &alpha, qy, 3));
        assert!(steps <= 1, "{steps} int8 steps");
        worst = worst.max(steps);
    }
    eprintln!("int8 PRELU: max difference {worst} int8 steps");
}

#[test]
fn int8_to_int8_quantize_requantises() {
    let mut worst = 0;
    for (qa, qb) in [
        ((0.05f32, 3i64), (0.1f32, -20i64)),
        ((0.1, -20), (0.03, 0)),
        ((0.02, 0), (0.02, 7)),
    ] {
        let tensors = [
            q8("a", &[2, 3, 5], qa.0, qa.1),
            q8("b", &[2, 3, 5], qb.0, qb.1),
        ];
        let bytes = build(
            &tensors,
            &[op(BuiltinOperator::QUANTIZE, &[0], &[1], O::None)],
            &[0],
            &[1],
            false,
        );
        let a: Vec<i8> = (0..30).map(|i| (i * 53 % 256 - 128) as i8).collect();
        let s = [2, 3, 5];
        assert!(tract_alone_fails(&bytes, vec![tensor(&s, &a)]));
        let (out, report) = run_and_dump("requantize", &bytes, vec![tensor(&s, &a)]);
        assert_eq!(report.summary(), "requantize-cut x1");
        assert_eq!(out[0].datum_type().zp_scale(), (qb.1 as i32, qb.0));
        let want: Vec<i8> = a
            .iter()
            .map(|&q| {
                let r = (q as f64 - qa.1 as f64) * qa.0 as f64;
                ((r / qb.0 as f64).round() as i64 + qb.1).clamp(-128, 127) as i8
            })
            .collect();
        let steps = max_step_diff(&i8s(&out[0]), &want);
        assert!(steps <= 1, "{qa:?} -> {qb:?}: {steps} steps");
        worst = worst.max(steps);
    }
    eprintln!("int8 -> int8 QUANTIZE: max difference {worst} int8 steps");
}

#[test]
fn per_channel_quantize_and_dequantize_of_an_activation() {
    // x (f32) -> QUANTIZE (int8, per channel on axis 3) -> q -> DEQUANTIZE -> y (f32)
    let (scales, zps) = (vec![0.1f32, 0.02, 0.5], vec![0i64, -10, 4]);
    let tensors = [
        act("x", &[1, 2, 2, 3]),
        T {
            name: "q",
            shape: vec![1, 2, 2, 3],
            ty: TensorType::INT8,
            data: None,
            quant: Some((scales.clone(), zps.clone(), 3)),
        },
        act("y", &[1, 2, 2, 3]),
    ];
    let bytes = build(
        &tensors,
        &[
            op(BuiltinOperator::QUANTIZE, &[0], &[1], O::None),
            op(BuiltinOperator::DEQUANTIZE, &[1], &[2], O::None),
        ],
        &[0],
        &[2, 1],
        false,
    );
    let x = [
        -3.0f32, 0.5, 70.0, 0.04, -0.07, -1.26, 12.0, 2.56, 3.3, -20.0, -2.0, -80.0,
    ];
    let s = [1, 2, 2, 3];
    assert!(tract_alone_fails(&bytes, vec![tensor(&s, &x)]));
    let (out, report) = run_and_dump("per_axis_quantize", &bytes, vec![tensor(&s, &x)]);
    assert_eq!(
        report.summary(),
        "quantize-per-axis-op x1, dequantize-per-axis-op x1"
    );
    let q: Vec<i8> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| ((v / scales[i % 3]).round() as i64 + zps[i % 3]).clamp(-128, 127) as i8)
        .collect();
    assert_eq!(i8s(&out[1]), q);
    let want: Vec<f32> = q
        .iter()
        .enumerate()
        .map(|(i, &v)| (v as i64 - zps[i % 3]) as f32 * scales[i % 3])
        .collect();
    assert_close(&floats(&out[0]), &want, 0.0);
}

// ---------------------------------------------------------------- MediaPipe pooling

/// TfLitePoolParams as raw i32: padding (1 SAME, 2 VALID), stride w, stride h,
/// filter w, filter h, activation, then the computed padding MediaPipe ignores.
fn pool_options(same: bool, stride: (i32, i32), filter: (i32, i32), act: i32) -> Vec<u8> {
    let p = if same { 1 } else { 2 };
    i32s_le(&[p, stride.1, stride.0, filter.1, filter.0, act, 0, 0, 0, 0])
}

/// Reference max pooling with the in-window argmax, written from the op's contract.
fn pool_argmax_ref(
    x: &[f32],
    [n, h, w, c]: [usize; 4],
    (fh, fw): (usize, usize),
    (sh, sw): (usize, usize),
    (ph, pw): (usize, usize),
    (oh, ow): (usize, usize),
) -> (Vec<f32>, Vec<f32>) {
    let (mut m, mut ix) = (vec![], vec![]);
    for nn in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for cc in 0..c {
                    let mut best: Option<(f32, usize)> = None;
                    for ky in 0..fh {
                        for kx in 0..fw {
                            let (y, xx) = (
                                (oy * sh + ky) as i64 - ph as i64,
                                (ox * sw + kx) as i64 - pw as i64,
                            );
                            if y < 0 || xx < 0 || y >= h as i64 || xx >= w as i64 {
                                continue;
                            }
                            let v = x[((nn * h + y as usize) * w + xx as usize) * c + cc];
                            if best.is_none_or(|(b, _)| v > b) {
                                best = Some((v, ky * fw + kx));
                            }
                        }
                    }
                    let (v, k) = best.unwrap();
                    m.push(v);
                    ix.push(k as f32);
                }
            }
        }
    }
    (m, ix)
}

#[test]
fn mediapipe_max_pooling_with_argmax_and_unpooling() {
    // x -> MaxPoolingWithArgmax2D -> (m, idx) -> MaxUnpooling2D -> u, as in
    // MediaPipe's segmentation models.
    let mut worst = 0f32;
    for (same, (h, w), f, st) in [
        (false, (4usize, 6usize), (2usize, 2usize), (2usize, 2usize)),
        (true, (5, 5), (2, 2), (2, 2)),
        (true, (5, 7), (3, 3), (2, 2)),
    ] {
        let c = 2;
        let (oh, ow) = if same {
            (h.div_ceil(st.0), w.div_ceil(st.1))
        } else {
            ((h - f.0) / st.0 + 1, (w - f.1) / st.1 + 1)
        };
        let pad = |n: usize, o: usize, k: usize, s: usize| {
            (((o - 1) * s + k) as i64 - n as i64).max(0) as usize / 2
        };
        let (ph, pw) = (pad(h, oh, f.0, st.0), pad(w, ow, f.1, st.1));
        let (uh, uw) = (oh * f.0, ow * f.1);
        let opts = pool_options(
            same,
            (st.0 as i32, st.1 as i32),
            (f.0 as i32, f.1 as i32),
            0,
        );
        let tensors = [
            act("x", &[1, h as i32, w as i32, c as i32]),
            act("m", &[1, oh as i32, ow as i32, c as i32]),
            act("idx", &[1, oh as i32, ow as i32, c as i32]),
            act("u", &[1, uh as i32, uw as i32, c as i32]),
        ];
        let bytes = build(
            &tensors,
            &[
                custom("MaxPoolingWithArgmax2D", &[0], &[1, 2], opts.clone(), 1),
                custom("MaxUnpooling2D", &[1, 2], &[3], opts, 1),
            ],
            &[0],
            &[1, 2, 3],
            false,
        );
        // Distinct values in a scrambled order, so each maximum is unique.
        let n = h * w * c;
        let x: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % n) as f32 * 0.5 - 9.0)
            .collect();
        let s = [1, h, w, c];
        assert!(tract_alone_fails(&bytes, vec![tensor(&s, &x)]));
        let (out, report) = run_and_dump("mediapipe_pool_unpool", &bytes, vec![tensor(&s, &x)]);
        assert_eq!(
            report.summary(),
            "mediapipe-max-pool-argmax-op x1, mediapipe-max-unpool-op x1"
        );
        let (m, ix) = pool_argmax_ref(&x, s, f, st, (ph, pw), (oh, ow));
        assert_eq!(floats(&out[0]), m);
        // Indices are stored as float with 0.1 added, read back by truncation.
        let got_ix: Vec<f32> = floats(&out[1]).iter().map(|v| v.trunc()).collect();
        assert_eq!(got_ix, ix);
        // Unpooling: each max back where it came from, relative to the window of
        // its own output position (in the unpooled grid, padded as a forward pool
        // of the unpooled size would be).
        let uph = (((oh - 1) * st.0 + f.0) as i64 - uh as i64).max(0) as usize / 2;
        let upw = (((ow - 1) * st.1 + f.1) as i64 - uw as i64).max(0) as usize / 2;
        let mut want = vec![0f32; uh * uw * c];
        for oy in 0..oh {
            for ox in 0..ow {
                for cc in 0..c {
                    let i = (oy * ow + ox) * c + cc;
                    let k = ix[i] as usize;
                    let y = (oy * st.0 + k / f.1) as i64 - uph as i64;
                    let xx = (ox * st.1 + k % f.1) as i64 - upw as i64;
                    if y >= 0 && xx >= 0 && (y as usize) < uh && (xx as usize) < uw {
                        want[(y as usize * uw + xx as usize) * c + cc] = m[i];
                    }
                }
            }
        }
        let err = max_abs_diff(&floats(&out[2]), &want);
        assert_eq!(err, 0.0);
        worst = worst.max(err);
    }
    eprintln!("MaxPoolingWithArgmax2D / MaxUnpooling2D: max abs error {worst:e}");
}

// ---------------------------------------------------------------- MediaPipe transforms

/// Bilinear sample of channel `ch` of an HWC image at real (x, y), zero outside.
fn bilinear(img: &[f32], (h, w, c): (usize, usize, usize), x: f32, y: f32, ch: usize) -> f32 {
    if x < 0.0 || y < 0.0 || x > (w - 1) as f32 || y > (h - 1) as f32 {
        return 0.0;
    }
    let at = |yy: i64, xx: i64| {
        if yy >= h as i64 || xx >= w as i64 {
            0.0
        } else {
            img[(yy as usize * w + xx as usize) * c + ch]
        }
    };
    let (x0, y0) = (x.floor() as i64, y.floor() as i64);
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let top = at(y0, x0) * (1.0 - fx) + at(y0, x0 + 1) * fx;
    let bottom = at(y0 + 1, x0) * (1.0 - fx) + at(y0 + 1, x0 + 1) * fx;
    top * (1.0 - fy) + bottom * fy
}

#[test]
fn mediapipe_transform_tensor_bilinear_v1_and_v2() {
    let (h, w, c) = (5usize, 6usize, 2usize);
    let (oh, ow) = (3usize, 4usize);
    // Scale, rotate a little, shift.
    let m: [f32; 16] = [
        1.2, 0.3, 0.0, 0.4, //
        -0.25, 1.1, 0.0, 0.7, //
        0.0, 0.0, 1.0, 0.0, //
        0.0, 0.0, 0.0, 1.0,
    ];
    let img = ramp(h * w * c, 0.37, -4.0);
    let mut worst = 0f32;
    for (name, v) in [("TransformTensor", 1), ("TransformTensorBilinear", 2)] {
        let tensors = [
            act("img", &[1, h as i32, w as i32, c as i32]),
            act("m", &[1, 1, 4, 4]),
            act("out", &[1, oh as i32, ow as i32, c as i32]),
        ];
        let bytes = build(
            &tensors,
            &[custom(name, &[0, 1], &[2], vec![], v)],
            &[0, 1],
            &[2],
            false,
        );
        let inputs = || vec![tensor(&[1, h, w, c], &img), tensor(&[1, 1, 4, 4], &m)];
        assert!(tract_alone_fails(&bytes, inputs()));
        let (out, report) = run(&bytes, inputs());
        assert_eq!(
            report.summary(),
            "mediapipe-transform-tensor-bilinear-op x1"
        );
        // v2 samples at pixel centres: map (x + 0.5, y + 0.5), then subtract 0.5.
        let half = if v == 2 { 0.5 } else { 0.0 };
        let mut want = vec![];
        for y in 0..oh {
            for x in 0..ow {
                let (px, py) = (x as f32 + half, y as f32 + half);
                let sx = m[0] * px + m[1] * py + m[3] - half;
                let sy = m[4] * px + m[5] * py + m[7] - half;
                for ch in 0..c {
                    want.push(bilinear(&img, (h, w, c), sx, sy, ch));
                }
            }
        }
        assert!(want.contains(&0.0) && want.iter().any(|&v| v != 0.0));
        let err = max_abs_diff(&floats(&out[0]), &want);
        assert!(err <= 1e-4, "{name}: {err}");
        worst = worst.max(err);
    }
    eprintln!("TransformTensorBilinear: max abs error {worst:e}");
}

/// FlexBuffers options, made by Google's Python `flatbuffers.flexbuffers.Dumps`
/// (`scripts/mediapipe_custom_options.py` prints them again).
fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// {"dimensions": 3, "scale": 2.0}
const TRANSFORM_LANDMARKS_V1: &str =
    "64696d656e73696f6e73007363616c65000212080200000001000000020000000300000000000040060e0a2601";

#[test]
fn mediapipe_transform_landmarks_v1_and_v2() {
    let m: [f32; 16] = [
        0.9, -0.2, 0.0, 12.0, //
        0.3, 1.1, 0.0, -4.0, //
        0.0, 0.0, 1.0, 0.0, //
        0.0, 0.0, 0.0, 1.0,
    ];
    let lm = ramp(15, 1.7, -5.0);
    let transform = |lm: &[f32], dims: usize, scale: f32| -> Vec<f32> {
        let mut out = lm.to_vec();
        for p in out.chunks_mut(dims) {
            let (x, y) = (p[0], p[1]);
            p[0] = m[0] * x + m[1] * y + m[3] * scale;
            p[1] = m[4] * x + m[5] * y + m[7] * scale;
        }
        out
    };
    // v2: [1, 5, 3] landmarks, dims from the last axis, no scale.
    let tensors = [
        act("lm", &[1, 5, 3]),
        act("m", &[1, 1, 4, 4]),
        act("out", &[1, 5, 3]),
    ];
    let bytes = build(
        &tensors,
        &[custom("TransformLandmarks", &[0, 1], &[2], vec![], 2)],
        &[0, 1],
        &[2],
        false,
    );
    let inputs = || vec![tensor(&[1, 5, 3], &lm), tensor(&[1, 1, 4, 4], &m)];
    assert!(tract_alone_fails(&bytes, inputs()));
    let (out, report) = run(&bytes, inputs());
    assert_eq!(report.summary(), "mediapipe-transform-landmarks-op x1");
    let e2 = max_abs_diff(&floats(&out[0]), &transform(&lm, 3, 1.0));
    assert!(e2 <= 1e-5, "{e2}");
    // v1: [1, 1, 1, 15] with FlexBuffers options dimensions 3, scale 2.
    let tensors = [
        act("lm", &[1, 1, 1, 15]),
        act("m", &[1, 1, 4, 4]),
        act("out", &[1, 1, 1, 15]),
    ];
    let bytes = build(
        &tensors,
        &[custom(
            "TransformLandmarks",
            &[0, 1],
            &[2],
            hex(TRANSFORM_LANDMARKS_V1),
            1,
        )],
        &[0, 1],
        &[2],
        false,
    );
    let (out, _) = run(
        &bytes,
        vec![tensor(&[1, 1, 1, 15], &lm), tensor(&[1, 1, 4, 4], &m)],
    );
    let e1 = max_abs_diff(&floats(&out[0]), &transform(&lm, 3, 2.0));
    assert!(e1 <= 1e-5, "{e1}");
    eprintln!("TransformLandmarks: max abs error v1 {e1:e}, v2 {e2:e}");
}

/// {"subset_idxs": [0, 1, 2, 3], "left_rotation_idx": 0, "right_rotation_idx": 1,
///  "target_rotation_radians": 0.3, "output_height": 4, "output_width": 6,
///  "scale_x": 1.5, "scale_y": 1.25}
const LANDMARKS_TO_MATRIX_V2: &str = "7375627365745f69647873000400010203040404046c6566745f726f746174696f6e5f6964780072696768745f726f746174696f6e5f696478007461726765745f726f746174696f6e5f72616469616e73006f75747075745f686569676874006f75747075745f7769647468007363616c655f78007363616c655f790008692d205a150e844b00000a00000000000000010000000000000008000000000000000000000000000000040000000000000006000000000000000100000000000000000000000000f83f000000000000f43fc300000000000000333333333333d33f070707070f0f280f482701";

/// {"input_hw": [8, 10], "output_hw": [4, 6], "dimensions": 3, "landmarks_range": 16,
///  "bbox_size_multiplier": 1.5, "left_rotation_idx": 0, "right_rotation_idx": 1,
///  "subset": [0, 1, 2, 3, 4]}
const LANDMARKS_TO_MATRIX_V1: &str = "696e7075745f68770002080a04046f75747075745f687700020406040464696d656e73696f6e73006c616e646d61726b735f72616e67650062626f785f73697a655f6d756c7469706c696572006c6566745f726f746174696f6e5f6964780072696768745f726f746174696f6e5f69647800737562736574000500010203040404040404084d6987603c7c2c1a0000000b00000001000000080000000000c03f030000009a000000100000000000000097000000010000003e0000000e06280606280628282601";

/// Five landmarks (x, y, z), not axis-aligned.
const LANDMARKS: [f32; 15] = [
    2.0, 3.0, 0.1, //
    9.0, 5.0, 0.2, //
    5.0, 1.0, 0.3, //
    6.0, 8.0, 0.4, //
    4.0, 6.5, 0.5,
];

#[test]
fn mediapipe_landmarks_to_transform_matrix_v2() {
    let (ow, oh, sx, sy, target) = (6f32, 4f32, 1.5f32, 1.25f32, 0.3f32);
    let tensors = [act("lm", &[1, 5, 3]), act("m", &[1, 4, 4])];
    let bytes = build(
        &tensors,
        &[custom(
            "Landmarks2TransformMatrix",
            &[0],
            &[1],
            hex(LANDMARKS_TO_MATRIX_V2),
            2,
        )],
        &[0],
        &[1],
        false,
    );
    let input = || tensor(&[1, 5, 3], &LANDMARKS);
    assert!(tract_alone_fails(&bytes, vec![input()]));
    let (out, report) = run(&bytes, vec![input()]);
    assert_eq!(
        report.summary(),
        "mediapipe-landmarks-to-transform-matrix-op x1"
    );
    // Reference, in closed form: the crop is the box around landmarks 0-3 in a
    // frame turned by `rot` (the angle that brings the 0 -> 1 line to `target`);
    // output pixel p maps to centre + R(-rot) * S * (p - out_size / 2).
    let p = |i: usize| (LANDMARKS[3 * i] as f64, LANDMARKS[3 * i + 1] as f64);
    let ((lx, ly), (rx, ry)) = (p(0), p(1));
    let rot = target as f64 - (ry - ly).atan2(rx - lx);
    let turned: Vec<(f64, f64)> = (0..4)
        .map(|i| {
            let (x, y) = p(i);
            (x * rot.cos() - y * rot.sin(), x * rot.sin() + y * rot.cos())
        })
        .collect();
    let fold = |f: fn(f64, f64) -> f64, sel: fn(&(f64, f64)) -> f64| {
        turned.iter().map(sel).reduce(f).unwrap()
    };
    let (x0, x1) = (fold(f64::min, |q| q.0), fold(f64::max, |q| q.0));
    let (y0, y1) = (fold(f64::min, |q| q.1), fold(f64::max, |q| q.1));
    let (mx, my) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    // Box centre back in image coordinates.
    let (cx, cy) = (
        mx * rot.cos() + my * rot.sin(),
        -mx * rot.sin() + my * rot.cos(),
    );
    let (a, b) = (
        sx as f64 * (x1 - x0) / ow as f64,
        sy as f64 * (y1 - y0) / oh as f64,
    );
    let (c, s) = (rot.cos(), -rot.sin()); // R(-rot)
    let (hx, hy) = (-(ow as f64) / 2.0, -(oh as f64) / 2.0);
    let want = [
        c * a,
        -s * b,
        0.0,
        cx + c * a * hx - s * b * hy,
        s * a,
        c * b,
        0.0,
        cy + s * a * hx + c * b * hy,
        0.0,
        0.0,
        1.0,
        0.0,
        0.0,
        0.0,
        0.0,
        1.0,
    ]
    .map(|v| v as f32);
    assert_eq!(out[0].shape(), &[1, 4, 4]);
    let err = max_abs_diff(&floats(&out[0]), &want);
    assert!(err <= 1e-4, "{err}: {:?} vs {want:?}", floats(&out[0]));
    eprintln!("Landmarks2TransformMatrix v2: max abs error {err:e}");
}

#[test]
fn mediapipe_landmarks_to_transform_matrix_v1() {
    let tensors = [act("lm", &[1, 1, 1, 15]), act("m", &[1, 4, 4])];
    let bytes = build(
        &tensors,
        &[custom(
            "Landmarks2TransformMatrix",
            &[0],
            &[1],
            hex(LANDMARKS_TO_MATRIX_V1),
            1,
        )],
        &[0],
        &[1],
        false,
    );
    let (out, _) = run(&bytes, vec![tensor(&[1, 1, 1, 15], &LANDMARKS)]);
    // Reference: v1 turns landmarks by alpha = -atan(dy / dx) of the 0 -> 1 line,
    // boxes landmarks 0-4 (the odd last index paired with itself), and maps
    // output pixels through relative [-1, 1] coordinates of the box (sized by the
    // multiplier, in units of landmarks_range) to input pixels.
    let p = |i: usize| (LANDMARKS[3 * i] as f64, LANDMARKS[3 * i + 1] as f64);
    let ((lx, ly), (rx, ry)) = (p(0), p(1));
    let alpha = -((ry - ly) / (rx - lx)).atan();
    let turned: Vec<(f64, f64)> = (0..5)
        .map(|i| {
            let (x, y) = p(i);
            (
                x * alpha.cos() - y * alpha.sin(),
                x * alpha.sin() + y * alpha.cos(),
            )
        })
        .collect();
    let x0 = turned.iter().map(|q| q.0).fold(f64::MAX, f64::min);
    let x1 = turned.iter().map(|q| q.0).fold(f64::MIN, f64::max);
    let y0 = turned.iter().map(|q| q.1).fold(f64::MAX, f64::min);
    let y1 = turned.iter().map(|q| q.1).fold(f64::MIN, f64::max);
    let (range, mult) = (16.0, 1.5);
    let (in_h, in_w, out_h, out_w) = (8.0, 10.0, 4.0, 6.0);
    let (bw, bh) = ((x1 - x0) * mult / range, (y1 - y0) * mult / range);
    let (mx, my) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let (c, s) = ((-alpha).cos(), (-alpha).sin());
    let (tx, ty) = (
        (mx * c - my * s) / range * 2.0 - 1.0,
        (mx * s + my * c) / range * 2.0 - 1.0,
    );
    // Output pixel (u, v) -> relative r = (2u/(out_w-1) - 1, 2v/(out_h-1) - 1)
    // -> q = R(-alpha) * diag(bw, bh) * r + t -> input pixel (q + 1) * (in - 1) / 2.
    let (ax, ay) = ((in_w - 1.0) / 2.0, (in_h - 1.0) / 2.0);
    let (rx_u, ry_v) = (2.0 / (out_w - 1.0), 2.0 / (out_h - 1.0));
    let m00 = ax * c * bw * rx_u;
    let m01 = -ax * s * bh * ry_v;
    let m02 = ax * (-(c * bw) + s * bh + tx) + ax;
    let m10 = ay * s * bw * rx_u;
    let m11 = ay * c * bh * ry_v;
    let m12 = ay * (-(s * bw) - c * bh + ty) + ay;
    let want = [
        m00, m01, 0.0, m02, m10, m11, 0.0, m12, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0,
    ]
    .map(|v| v as f32);
    let err = max_abs_diff(&floats(&out[0]), &want);
    assert!(err <= 1e-4, "{err}: {:?} vs {want:?}", floats(&out[0]));
    eprintln!("Landmarks2TransformMatrix v1: max abs error {err:e}");
}

#[test]
fn mediapipe_attention_chain_matrix_then_warp_then_landmarks() {
    // Landmarks2TransformMatrix -> TransformTensorBilinear and TransformLandmarks,
    // as face_landmark_with_attention wires them: cuts feeding cuts.
    let img = ramp(10 * 12, 0.1, 0.0);
    let tensors = [
        act("lm", &[1, 5, 3]),
        act("img", &[1, 10, 12, 1]),
        act("m", &[1, 4, 4]),
        act("crop", &[1, 4, 6, 1]),
        act("lm_out", &[1, 5, 3]),
    ];
    let ops = [
        custom(
            "Landmarks2TransformMatrix",
            &[0],
            &[2],
            hex(LANDMARKS_TO_MATRIX_V2),
            2,
        ),
        custom("TransformTensorBilinear", &[1, 2], &[3], vec![], 2),
        custom("TransformLandmarks", &[0, 2], &[4], vec![], 2),
    ];
    let bytes = build(&tensors, &ops, &[0, 1], &[3, 4, 2], false);
    let inputs = vec![
        tensor(&[1, 5, 3], &LANDMARKS),
        tensor(&[1, 10, 12, 1], &img),
    ];
    let (out, report) = run_and_dump("mediapipe_attention_chain", &bytes, inputs);
    assert_eq!(report.cuts.len(), 3);
    // Check the chain against the matrix it produced (whose own test is above).
    let m = floats(&out[2]);
    let mut want = vec![];
    for y in 0..4 {
        for x in 0..6 {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let sx = m[0] * px + m[1] * py + m[3] - 0.5;
            let sy = m[4] * px + m[5] * py + m[7] - 0.5;
            want.push(bilinear(&img, (10, 12, 1), sx, sy, 0));
        }
    }
    assert!(max_abs_diff(&floats(&out[0]), &want) <= 1e-4);
    let mut lm = LANDMARKS.to_vec();
    for p in lm.chunks_mut(3) {
        let (x, y) = (p[0], p[1]);
        p[0] = m[0] * x + m[1] * y + m[3];
        p[1] = m[4] * x + m[5] * y + m[7];
    }
    assert!(max_abs_diff(&floats(&out[1]), &lm) <= 1e-4);
}

// ---------------------------------------------------------------- inspect, errors

#[test]
fn inspect_tells_which_custom_ops_run() {
    let tensors = [
        act("x", &[1, 4, 4, 1]),
        act("m", &[1, 2, 2, 1]),
        act("i", &[1, 2, 2, 1]),
        act("z", &[1, 2, 2, 1]),
    ];
    let ops = [
        custom(
            "MaxPoolingWithArgmax2D",
            &[0],
            &[1, 2],
            pool_options(false, (2, 2), (2, 2), 0),
            1,
        ),
        custom("SomethingElse", &[1], &[3], vec![], 1),
        // Options too short to hold TfLitePoolParams.
        custom("MaxUnpooling2D", &[1, 2], &[0], vec![1, 0, 0, 0], 1),
    ];
    let bytes = build(&tensors, &ops, &[0], &[3], false);
    let m = inspect(&bytes).unwrap();
    assert_eq!(
        m.ops[0].support,
        Support::Rewritten("mediapipe-max-pool-argmax-op")
    );
    assert!(
        matches!(&m.ops[1].support, Support::Unsupported(w) if w.contains("unknown")),
        "{:?}",
        m.ops[1].support
    );
    assert!(
        matches!(&m.ops[2].support, Support::Unsupported(w) if w.contains("24")),
        "{:?}",
        m.ops[2].support
    );
    assert_eq!(m.unsupported().len(), 2);
}

#[test]
fn flexbuffer_options_read_and_garbage_refused() {
    use super::flexbuffers::{Value, get, read_map};
    let m = read_map(&hex(LANDMARKS_TO_MATRIX_V1)).unwrap();
    assert_eq!(get(&m, "input_hw").unwrap().as_i64_vec(), Some(vec![8, 10]));
    assert_eq!(
        get(&m, "subset").unwrap().as_i64_vec(),
        Some(vec![0, 1, 2, 3, 4])
    );
    assert_eq!(get(&m, "bbox_size_multiplier"), Some(&Value::Float(1.5)));
    assert_eq!(get(&m, "landmarks_range").unwrap().as_i64(), Some(16));
    let m = read_map(&hex(TRANSFORM_LANDMARKS_V1)).unwrap();
    assert_eq!(get(&m, "scale").unwrap().as_f64(), Some(2.0));
    assert_eq!(get(&m, "dimensions").unwrap().as_i64(), Some(3));
    // Every truncation and every single-byte corruption: an error or a value,
    // never a panic.
    let good = hex(LANDMARKS_TO_MATRIX_V1);
    for n in 0..good.len() {
        let _ = read_map(&good[..n]);
        let _ = read_map(&good[n..]);
        for flip in [0x01u8, 0x80, 0xff] {
            let mut b = good.clone();
            b[n] ^= flip;
            let _ = read_map(&b);
        }
    }
}

#[test]
fn int8_transpose_conv_matches_integer_reference() {
    // TFLite's int8 kernel: acc = bias_q + sum (x_q - zx) * w_q in int32, then
    // one requantisation by sx * sw[c] / sy, the activation, the zero point.
    let (sx, zx) = (0.05f32, -3i64);
    let (sy, zy) = (0.08f32, 5i64);
    let mut worst = 0;
    // (input hw, kernel hw, stride hw, SAME?, output hw, bias with own scales?,
    // activation)
    #[allow(clippy::type_complexity)]
    let cases: [(
        (usize, usize),
        (usize, usize),
        (usize, usize),
        bool,
        (usize, usize),
        Option<bool>,
        ActivationFunctionType,
    ); 4] = [
        (
            (3, 4),
            (3, 3),
            (2, 2),
            true,
            (6, 8),
            Some(true),
            ActivationFunctionType::NONE,
        ),
        (
            (3, 4),
            (3, 3),
            (2, 2),
            false,
            (7, 9),
            None,
            ActivationFunctionType::RELU,
        ),
        (
            (4, 4),
            (2, 2),
            (2, 2),
            true,
            (8, 8),
            Some(false),
            ActivationFunctionType::RELU6,
        ),
        (
            (2, 3),
            (4, 4),
            (2, 1),
            true,
            (4, 3),
            Some(true),
            ActivationFunctionType::NONE,
        ),
    ];
    for ((h, w), (kh, kw), (sh, sw), same, (oh, ow), bias, act_fn) in cases {
        let (ci, o) = (3usize, 2usize);
        let wq: Vec<i8> = (0..o * kh * kw * ci)
            .map(|i| ((i * 29) % 255) as i64 - 127)
            .map(|v| v as i8)
            .collect();
        let wscale = [0.011f32, 0.004];
        let bq = [700i32, -1300];
        let mut tensors = vec![
            i32_const("out_shape", &[1, oh as i32, ow as i32, o as i32]),
            T {
                name: "w",
                shape: vec![o as i32, kh as i32, kw as i32, ci as i32],
                ty: TensorType::INT8,
                data: Some(wq.iter().map(|&v| v as u8).collect()),
                quant: Some((wscale.to_vec(), vec![0, 0], 0)),
            },
            q8("x", &[1, h as i32, w as i32, ci as i32], sx, zx),
            q8("y", &[1, oh as i32, ow as i32, o as i32], sy, zy),
        ];
        let mut inputs = vec![0, 1, 2];
        if let Some(own_scales) = bias {
            tensors.push(T {
                name: "b",
                shape: vec![o as i32],
                ty: TensorType::INT32,
                data: Some(bq.iter().flat_map(|v| v.to_le_bytes()).collect()),
                quant: own_scales
                    .then(|| (wscale.iter().map(|&s| sx * s).collect(), vec![0, 0], 0)),
            });
            inputs.push(4);
        } else {
            inputs.push(-1);
        }
        let padding = if same { Padding::SAME } else { Padding::VALID };
        let bytes = build(
            &tensors,
            &[op(
                BuiltinOperator::TRANSPOSE_CONV,
                &inputs,
                &[3],
                O::TransposeConv(padding, sh as i32, sw as i32, act_fn),
            )],
            &[2],
            &[3],
            false,
        );
        let x: Vec<i8> = (0..h * w * ci)
            .map(|i| ((i * 71) % 256) as u8 as i8)
            .collect();
        let s = [1, h, w, ci];
        assert!(tract_alone_fails(&bytes, vec![tensor(&s, &x)]));
        let (out, report) = run_and_dump("int8_transpose_conv", &bytes, vec![tensor(&s, &x)]);
        assert_eq!(report.summary(), "quantized-transpose-conv-via-float x1");
        assert_eq!(out[0].datum_type().zp_scale(), (zy as i32, sy));
        let pad = |out: usize, k: usize, st: usize| -> i64 {
            let conv_out = if same {
                out.div_ceil(st)
            } else {
                (out - k + st) / st
            };
            (((conv_out - 1) * st + k) as i64 - out as i64).max(0) / 2
        };
        // The integer accumulation through the float reference: every term is
        // an integer far below 2^24, so the f32 sums are exact.
        let xi: Vec<f32> = x.iter().map(|&v| (v as i64 - zx) as f32).collect();
        let wi: Vec<f32> = wq.iter().map(|&v| v as f32).collect();
        let bi: Vec<f32> = match bias {
            Some(_) => bq.iter().map(|&v| v as f32).collect(),
            None => vec![0.0; o],
        };
        let acc = transpose_conv_ref(
            &xi,
            s,
            &wi,
            [o, kh, kw, ci],
            &bi,
            (sh, sw),
            (pad(oh, kh, sh), pad(ow, kw, sw)),
            (oh, ow),
        );
        let (lo, hi) = match act_fn {
            ActivationFunctionType::RELU => (zy, 127),
            ActivationFunctionType::RELU6 => (zy, zy + (6.0 / sy as f64).round() as i64),
            _ => (-128, 127),
        };
        let want: Vec<i8> = acc
            .iter()
            .enumerate()
            .map(|(i, &a)| {
                let m = (sx * wscale[i % o]) as f64 / sy as f64;
                ((a as f64 * m).round() as i64 + zy).clamp(lo.max(-128), hi.min(127)) as i8
            })
            .collect();
        let got = i8s(&out[0]);
        // Not a constant output: the case exercises the arithmetic.
        assert!(got.iter().any(|&v| v != got[0]), "constant output {got:?}");
        let steps = max_step_diff(&got, &want);
        assert!(
            steps <= 1,
            "case {h}x{w} k{kh}x{kw} s{sh}x{sw}: {steps} steps"
        );
        worst = worst.max(steps);
    }
    eprintln!("int8 TRANSPOSE_CONV: max difference {worst} int8 steps");
}

#[test]
fn unsupported_variants_say_why() {
    // int8 TRANSPOSE_CONV with per-channel activation parameters (TFLite's
    // kernel reads one input and one output scale): refused with a reason.
    let tensors = [
        i32_const("shape", &[1, 4, 4, 2]),
        T {
            name: "w",
            shape: vec![2, 2, 2, 2],
            ty: TensorType::INT8,
            data: Some(vec![1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8]),
            quant: Some((vec![0.1], vec![0], 0)),
        },
        q8("x", &[1, 2, 2, 2], 0.1, 0),
        T {
            name: "y",
            shape: vec![1, 4, 4, 2],
            ty: TensorType::INT8,
            data: None,
            quant: Some((vec![0.1, 0.2], vec![0, 0], 3)),
        },
    ];
    let bytes = build(
        &tensors,
        &[op(
            BuiltinOperator::TRANSPOSE_CONV,
            &[0, 1, 2],
            &[3],
            O::TransposeConv(Padding::SAME, 2, 2, ActivationFunctionType::NONE),
        )],
        &[2],
        &[3],
        false,
    );
    let err = prepare(&bytes).unwrap_err().to_string();
    assert!(
        err.contains("TRANSPOSE_CONV") && err.contains("per-channel activation"),
        "{err}"
    );
}

#[test]
fn int8_prelu_with_per_axis_alpha_parameters_is_refused() {
    // LiteRT's int8 PRELU reads one alpha scale (per-axis parameters make it use
    // 0, so every negative input maps to the zero point); edgemark refuses such a
    // file rather than compute something else.
    let tensors = [
        q8("x", &[1, 1, 2, 3], 0.05, 0),
        T {
            name: "alpha",
            shape: vec![1, 1, 3],
            ty: TensorType::INT8,
            data: Some(vec![64, 32, 127]),
            quant: Some((vec![0.01, 0.02, 0.005], vec![0, 0, 0], 2)),
        },
        q8("y", &[1, 1, 2, 3], 0.05, 0),
    ];
    let bytes = build(
        &tensors,
        &[op(BuiltinOperator::PRELU, &[0, 1], &[2], O::None)],
        &[0],
        &[2],
        false,
    );
    let err = prepare(&bytes).unwrap_err().to_string();
    assert!(err.contains("per-axis alpha"), "{err}");
}

// ---------------------------------------------------------------- small builtins

#[test]
fn squared_difference_neg_and_cast() {
    // y = NEG((a - b)^2); c = CAST(y) to int32 (truncation toward zero).
    let tensors = [
        act("a", &[2, 3]),
        act("b", &[1, 3]),
        act("d", &[2, 3]),
        act("y", &[2, 3]),
        T {
            name: "c",
            shape: vec![2, 3],
            ty: TensorType::INT32,
            data: None,
            quant: None,
        },
    ];
    let ops = [
        op(BuiltinOperator::SQUARED_DIFFERENCE, &[0, 1], &[2], O::None),
        op(BuiltinOperator::NEG, &[2], &[3], O::None),
        op(BuiltinOperator::CAST, &[3], &[4], O::None),
    ];
    let bytes = build(&tensors, &ops, &[0, 1], &[3, 4], false);
    let a = [1.5f32, -2.0, 0.25, 3.0, 0.0, -1.75];
    let b = [0.5f32, 1.0, -0.5];
    let inputs = || vec![tensor(&[2, 3], &a), tensor(&[1, 3], &b)];
    assert!(tract_alone_fails(&bytes, inputs()));
    let (out, report) = run_and_dump("small_builtins", &bytes, inputs());
    assert_eq!(
        report.summary(),
        "squared-difference-as-sub-mul x1, neg-as-mul x1, cast-cut x1"
    );
    let want: Vec<f32> = (0..6)
        .map(|i| -((a[i] - b[i % 3]) * (a[i] - b[i % 3])))
        .collect();
    assert_close(&floats(&out[0]), &want, 0.0);
    let ints = out[1]
        .try_as_plain_ram()
        .unwrap()
        .as_slice::<i32>()
        .unwrap()
        .to_vec();
    assert_eq!(
        ints,
        want.iter().map(|&v| v.trunc() as i32).collect::<Vec<_>>()
    );
}

#[test]
fn pack_split_split_v_and_gather() {
    // p = PACK([x0, x1], axis 1) : [2, 2, 3]; SPLIT(p, axis 2, 3) -> s0, s1, s2;
    // SPLIT_V(x0, [1, -1], axis 1) -> v0, v1; g = GATHER(x1, [2, 0, 2], axis 1).
    let tensors = [
        act("x0", &[2, 3]),
        act("x1", &[2, 3]),
        act("p", &[2, 2, 3]),
        i32_const("split_axis", &[2]),
        act("s0", &[2, 2, 1]),
        act("s1", &[2, 2, 1]),
        act("s2", &[2, 2, 1]),
        i32_const("sizes", &[1, -1]),
        i32_const("v_axis", &[1]),
        act("v0", &[2, 1]),
        act("v1", &[2, 2]),
        i32_const("idx", &[2, 0, 2]),
        act("g", &[2, 3]),
    ];
    let ops = [
        op(BuiltinOperator::PACK, &[0, 1], &[2], O::Pack(2, 1)),
        op(BuiltinOperator::SPLIT, &[3, 2], &[4, 5, 6], O::Split(3)),
        op(BuiltinOperator::SPLIT_V, &[0, 7, 8], &[9, 10], O::SplitV(2)),
        op(BuiltinOperator::GATHER, &[1, 11], &[12], O::Gather(1)),
    ];
    let bytes = build(&tensors, &ops, &[0, 1], &[2, 4, 5, 6, 9, 10, 12], false);
    let x0 = ramp(6, 1.0, 0.0);
    let x1 = ramp(6, 1.0, 10.0);
    let inputs = || vec![tensor(&[2, 3], &x0), tensor(&[2, 3], &x1)];
    assert!(tract_alone_fails(&bytes, inputs()));
    let (out, report) = run_and_dump("pack_split_gather", &bytes, inputs());
    assert_eq!(
        report.summary(),
        "pack-as-reshape-concat x1, split-as-slices x2, gather-as-slices-concat x1"
    );
    // PACK on axis 1: p[i, j, k] = xj[i, k].
    let p: Vec<f32> = (0..12)
        .map(|n| {
            let (i, j, k) = (n / 6, (n / 3) % 2, n % 3);
            [&x0, &x1][j][i * 3 + k]
        })
        .collect();
    assert_eq!(floats(&out[0]), p);
    for (s, k) in [(1, 0), (2, 1), (3, 2)] {
        let want: Vec<f32> = (0..4).map(|n| p[n * 3 + k]).collect();
        assert_eq!(floats(&out[s]), want, "SPLIT part {k}");
    }
    assert_eq!(floats(&out[4]), vec![x0[0], x0[3]]);
    assert_eq!(floats(&out[5]), vec![x0[1], x0[2], x0[4], x0[5]]);
    let g: Vec<f32> = [0, 1]
        .iter()
        .flat_map(|&i| [2, 0, 2].map(|k| x1[i * 3 + k]))
        .collect();
    assert_eq!(floats(&out[6]), g);
}

// ------------------------------------------------- TFLite_Detection_PostProcess

/// {max_detections 4, max_classes_per_detection 2, num_classes 3,
/// nms_score_threshold 0.3, nms_iou_threshold 0.5, y/x_scale 10, h/w_scale 5}
const DETECTION_POSTPROCESS_FAST: &str = "6d61785f646574656374696f6e73006d61785f636c61737365735f7065725f646574656374696f6e006e756d5f636c6173736573006e6d735f73636f72655f7468726573686f6c64006e6d735f696f755f7468726573686f6c6400795f7363616c6500785f7363616c6500685f7363616c6500775f7363616c650009116e7e364b580f20290000000c0000000000000001000000000000000900000000000000000000000000144002000000000000000400000000000000000000000000e03f333333333333d33f03000000000000000000000000001440000000000000244000000000000024400f07070f0f070f0f0f512701";

/// {max_detections 5, max_classes_per_detection 1, detections_per_class 2,
/// use_regular_nms true, num_classes 3, nms_score_threshold 0.3,
/// nms_iou_threshold 0.45, y/x_scale 10, h/w_scale 5}
const DETECTION_POSTPROCESS_REGULAR: &str = "6d61785f646574656374696f6e73006d61785f636c61737365735f7065725f646574656374696f6e00646574656374696f6e735f7065725f636c617373007573655f726567756c61725f6e6d73006e756d5f636c6173736573006e6d735f73636f72655f7468726573686f6c64006e6d735f696f755f7468726573686f6c6400795f7363616c6500785f7363616c6500685f7363616c6500775f7363616c65000b781294a4374c596a11222b000000000f0000000000000001000000000000000b000000000000000200000000000000000000000000144001000000000000000500000000000000cdccccccccccdc3f333333333333d33f03000000000000000100000000000000000000000000144000000000000024400000000000002440070f07070f0f076b0f0f0f632701";

/// Corners (ymin, xmin, ymax, xmax) of SSD centre-size encodings `e` (y, x,
/// h, w per anchor, scaled by 10, 10, 5, 5) around anchors `a`, computed in
/// f64 and rounded once.
fn ssd_decode(e: &[f32], a: &[f32]) -> Vec<[f32; 4]> {
    (0..a.len() / 4)
        .map(|i| {
            let (e, a) = (&e[i * 4..][..4], &a[i * 4..][..4]);
            let f = |v: f32| v as f64;
            let yc = (f(e[0]) / 10.0 * f(a[2]) + f(a[0])) as f32;
            let xc = (f(e[1]) / 10.0 * f(a[3]) + f(a[1])) as f32;
            let hh = (0.5 * (f(e[2]) / 5.0).exp() * f(a[2])) as f32;
            let hw = (0.5 * (f(e[3]) / 5.0).exp() * f(a[3])) as f32;
            [yc - hh, xc - hw, yc + hh, xc + hw]
        })
        .collect()
}

fn overlap(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let inter =
        (a[2].min(b[2]) - a[0].max(b[0])).max(0.0) * (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let area = |r: &[f32; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    inter / (area(a) + area(b) - inter)
}

/// Greedy suppression, written from the op's documentation: candidates at
/// or above `thr`, best first; a candidate survives unless a kept box
/// overlaps it by more than `iou`; at most `limit`.
fn greedy(boxes: &[[f32; 4]], score: &[f32], thr: f32, iou: f32, limit: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..score.len()).filter(|&i| score[i] >= thr).collect();
    order.sort_by(|&a, &b| score[b].partial_cmp(&score[a]).unwrap());
    let mut kept: Vec<usize> = vec![];
    for i in order {
        if kept.len() == limit {
            break;
        }
        if kept.iter().all(|&k| overlap(&boxes[k], &boxes[i]) <= iou) {
            kept.push(i);
        }
    }
    kept
}

/// Eight anchors in two overlapping clusters plus loners, 3 classes and a
/// background column; distinct scores (no ties to order).
fn detection_inputs() -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let anchors: Vec<f32> = [
        [0.2, 0.2, 0.3, 0.3],
        [0.22, 0.21, 0.3, 0.3],
        [0.25, 0.2, 0.3, 0.35],
        [0.7, 0.7, 0.2, 0.2],
        [0.71, 0.69, 0.2, 0.22],
        [0.5, 0.1, 0.1, 0.1],
        [0.1, 0.8, 0.15, 0.1],
        [0.9, 0.3, 0.1, 0.2],
    ]
    .concat();
    let enc: Vec<f32> = (0..32)
        .map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.08)
        .collect();
    let scores: Vec<f32> = (0..32)
        .map(|i| ((i * 37 + 11) % 97) as f32 / 97.0 + i as f32 * 1e-4)
        .collect();
    (enc, scores, anchors)
}

fn detection_model(opts: &str, quantized: bool) -> Vec<u8> {
    let (_, _, anchors) = detection_inputs();
    let (slots, q) = if opts == DETECTION_POSTPROCESS_FAST {
        (8, quantized)
    } else {
        (5, false)
    };
    let input = |name, shape: &[i32], scale: f32, zp: i64| {
        if q {
            T {
                name,
                shape: shape.to_vec(),
                ty: TensorType::UINT8,
                data: None,
                quant: Some((vec![scale], vec![zp], 0)),
            }
        } else {
            act(name, shape)
        }
    };
    let anchors_t = if q {
        T {
            name: "anchors",
            shape: vec![8, 4],
            ty: TensorType::UINT8,
            data: Some(anchors.iter().map(|&v| (v / 0.005).round() as u8).collect()),
            quant: Some((vec![0.005], vec![0], 0)),
        }
    } else {
        f32_const("anchors", &[8, 4], &anchors)
    };
    let tensors = [
        input("boxes", &[1, 8, 4], 0.01, 128),
        input("scores", &[1, 8, 4], 1.0 / 256.0, 0),
        anchors_t,
        act("det_boxes", &[1, slots, 4]),
        act("det_classes", &[1, slots]),
        act("det_scores", &[1, slots]),
        act("num_det", &[1]),
    ];
    build(
        &tensors,
        &[custom(
            "TFLite_Detection_PostProcess",
            &[0, 1, 2],
            &[3, 4, 5, 6],
            hex(opts),
            1,
        )],
        &[0, 1],
        &[3, 4, 5, 6],
        false,
    )
}

#[test]
fn detection_postprocess_fast_nms_float_and_uint8() {
    let (enc, scores, anchors) = detection_inputs();
    for quantized in [false, true] {
        let bytes = detection_model(DETECTION_POSTPROCESS_FAST, quantized);
        let (inputs, e, s, a) = if quantized {
            let qe: Vec<u8> = enc
                .iter()
                .map(|&v| ((v / 0.01).round() + 128.0) as u8)
                .collect();
            let qs: Vec<u8> = scores
                .iter()
                .map(|&v| (v * 256.0).round().min(255.0) as u8)
                .collect();
            let de = qe.iter().map(|&q| (q as f32 - 128.0) * 0.01).collect();
            let ds = qs.iter().map(|&q| q as f32 * (1.0 / 256.0)).collect();
            let da = anchors
                .iter()
                .map(|&v| (v / 0.005).round() * 0.005)
                .collect();
            (
                vec![tensor(&[1, 8, 4], &qe), tensor(&[1, 8, 4], &qs)],
                de,
                ds,
                da,
            )
        } else {
            (
                vec![tensor(&[1, 8, 4], &enc), tensor(&[1, 8, 4], &scores)],
                enc.clone(),
                scores.clone(),
                anchors.clone(),
            )
        };
        assert!(tract_alone_fails(&bytes, inputs.clone()));
        let (out, report) = run_and_dump("detection_postprocess_fast", &bytes, inputs);
        assert_eq!(report.summary(), "detection-postprocess-op x1");
        // uint8 inputs must reach the op dequantised with their own scales.
        let boxes = ssd_decode(&e, &a);
        // Each anchor ranks by its best class (column 0 is background).
        let best: Vec<Vec<usize>> = (0..8)
            .map(|i| {
                let row = &s[i * 4 + 1..i * 4 + 4];
                let mut c: Vec<usize> = (0..3).collect();
                c.sort_by(|&x, &y| row[y].partial_cmp(&row[x]).unwrap());
                c
            })
            .collect();
        let top: Vec<f32> = (0..8).map(|i| s[i * 4 + 1 + best[i][0]]).collect();
        let kept = greedy(&boxes, &top, 0.3, 0.5, 4);
        let above = top.iter().filter(|&&v| v >= 0.3).count();
        assert!(
            !kept.is_empty() && kept.len() < above.min(8),
            "the case must suppress something: kept {kept:?} of {above}"
        );
        let (mut wb, mut wc, mut ws) = (vec![0f32; 32], vec![0f32; 8], vec![0f32; 8]);
        for (k, &i) in kept.iter().enumerate() {
            for col in 0..2 {
                let slot = 2 * k + col;
                wb[slot * 4..][..4].copy_from_slice(&boxes[i]);
                wc[slot] = best[i][col] as f32;
                ws[slot] = s[i * 4 + 1 + best[i][col]];
            }
        }
        let what = if quantized { "uint8" } else { "float" };
        assert_eq!(floats(&out[3]), vec![kept.len() as f32], "{what} count");
        assert_eq!(floats(&out[1]), wc, "{what} classes");
        assert_close(&floats(&out[2]), &ws, 1e-6);
        assert_close(&floats(&out[0]), &wb, 1e-6);
    }
}

#[test]
fn detection_postprocess_regular_nms_per_class() {
    let (enc, scores, anchors) = detection_inputs();
    let bytes = detection_model(DETECTION_POSTPROCESS_REGULAR, false);
    let inputs = vec![tensor(&[1, 8, 4], &enc), tensor(&[1, 8, 4], &scores)];
    let (out, report) = run_and_dump("detection_postprocess_regular", &bytes, inputs);
    assert_eq!(report.summary(), "detection-postprocess-op x1");
    let boxes = ssd_decode(&enc, &anchors);
    // Per class: its own suppression, 2 detections at most; then the 5 best.
    let mut all: Vec<(f32, usize, usize)> = vec![];
    for c in 0..3 {
        let col: Vec<f32> = (0..8).map(|i| scores[i * 4 + 1 + c]).collect();
        for i in greedy(&boxes, &col, 0.3, 0.45, 2) {
            all.push((col[i], i, c));
        }
    }
    all.sort_by(|x, y| y.0.partial_cmp(&x.0).unwrap());
    all.truncate(5);
    assert!(all.len() >= 3, "{all:?}");
    let (mut wb, mut wc, mut ws) = (vec![0f32; 20], vec![0f32; 5], vec![0f32; 5]);
    for (slot, &(score, i, c)) in all.iter().enumerate() {
        wb[slot * 4..][..4].copy_from_slice(&boxes[i]);
        wc[slot] = c as f32;
        ws[slot] = score;
    }
    assert_eq!(floats(&out[3]), vec![all.len() as f32]);
    assert_eq!(floats(&out[1]), wc);
    assert_close(&floats(&out[2]), &ws, 1e-6);
    assert_close(&floats(&out[0]), &wb, 1e-6);
}

#[test]
fn detection_postprocess_bad_options_and_shapes_say_why() {
    // Options without num_classes, and anchors that do not match the boxes.
    let mut bytes_err = vec![];
    let good = detection_model(DETECTION_POSTPROCESS_FAST, false);
    assert!(prepare(&good).is_ok());
    for cut in [1usize, 8, 40] {
        let mut opts = hex(DETECTION_POSTPROCESS_FAST);
        opts.truncate(opts.len() - cut);
        let tensors = [
            act("boxes", &[1, 8, 4]),
            act("scores", &[1, 8, 4]),
            f32_const("anchors", &[8, 4], &detection_inputs().2),
            act("b", &[1, 8, 4]),
            act("c", &[1, 8]),
            act("s", &[1, 8]),
            act("n", &[1]),
        ];
        let mut o = custom(
            "TFLite_Detection_PostProcess",
            &[0, 1, 2],
            &[3, 4, 5, 6],
            vec![],
            1,
        );
        o.custom_options = Some(opts);
        let bytes = build(&tensors, &[o], &[0, 1], &[3, 4, 5, 6], false);
        bytes_err.push(prepare(&bytes).unwrap_err().to_string());
    }
    let tensors = [
        act("boxes", &[1, 8, 4]),
        act("scores", &[1, 8, 4]),
        f32_const("anchors", &[7, 4], &detection_inputs().2[..28]),
        act("b", &[1, 8, 4]),
        act("c", &[1, 8]),
        act("s", &[1, 8]),
        act("n", &[1]),
    ];
    let o = custom(
        "TFLite_Detection_PostProcess",
        &[0, 1, 2],
        &[3, 4, 5, 6],
        hex(DETECTION_POSTPROCESS_FAST),
        1,
    );
    let bytes = build(&tensors, &[o], &[0, 1], &[3, 4, 5, 6], false);
    let err = prepare(&bytes).unwrap_err().to_string();
    assert!(err.contains("anchors [7, 4]"), "{err}");
    for e in bytes_err {
        assert!(
            e.contains("TFLite_Detection_PostProcess") || e.contains("custom"),
            "{e}"
        );
    }
}
