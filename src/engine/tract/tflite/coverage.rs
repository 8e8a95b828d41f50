//! TFLite operators that LiteRT runs (and MediaPipe's published models use) but
//! tract-tflite 0.23.9 has no importer for, plus MediaPipe's own custom ops,
//! which stock LiteRT refuses.
//!
//! Builtins are rewritten into operators tract-tflite imports (DEPTH_TO_SPACE and
//! SPACE_TO_DEPTH as reshape/transpose, TRANSPOSE_CONV as zero insertion plus an
//! ordinary convolution, int8 PRELU as float PRELU between (de)quantisation
//! cuts); custom ops that no imported operator can express are cut out of the
//! graph and joined again with one of edgemark's own tract ops (`own_ops`).

use super::rewrite_error::RewriteError;
use tract_tflite::tflite::{self, ActivationFunctionType, BuiltinOperator, Padding, TensorType};

use super::editor::{ConvParams, Editor, NewOp, NewTensor, Opts};
use super::flexbuffers::{self, Value};
use super::own_ops::{
    Cut, DetectionPostProcess, Landmarks2TransformMatrix, Pool, TransformLandmarks,
};
use super::tract_0_23_9::{dequantized_values, emit_float_prelu, float_constant, io};

type Fix = Result<&'static str, RewriteError>;

/// A tensor like original tensor `like` (type and quantisation) with `shape`.
fn like(ed: &mut Editor, t: i32, suffix: &str, shape: Vec<i32>) -> i32 {
    let src = ed.tensor(t);
    let nt = NewTensor {
        name: format!("{}.{suffix}", src.name().unwrap_or("t")),
        shape,
        ty: src.type_(),
        buffer: 0,
        quant: None,
        quant_of: src.quantization().is_some().then_some(t),
    };
    ed.add_tensor(nt)
}

fn reshape(ed: &mut Editor, x: i32, y: i32, shape: &[i32]) {
    let name = format!("{}.shape", ed.name(x));
    let s = ed.add_const_i32(name, shape);
    ed.push_op(NewOp {
        code: BuiltinOperator::RESHAPE,
        inputs: vec![x, s],
        outputs: vec![y],
        opts: Opts::Reshape,
    });
}

/// x -> RESHAPE(s1) -> TRANSPOSE(0,1,3,2,4,5) -> RESHAPE -> y, the block
/// shuffle of DEPTH_TO_SPACE and SPACE_TO_DEPTH.
fn block_shuffle(ed: &mut Editor, x: i32, y: i32, s1: [i32; 6]) {
    let t1 = like(ed, x, "blocks", s1.to_vec());
    reshape(ed, x, t1, &s1);
    let s2 = vec![s1[0], s1[1], s1[3], s1[2], s1[4], s1[5]];
    let t2 = like(ed, x, "shuffled", s2);
    let perm = ed.add_const_i32(
        format!("{}.perm", ed.tensor(x).name().unwrap_or("t")),
        &[0, 1, 3, 2, 4, 5],
    );
    ed.push_op(NewOp {
        code: BuiltinOperator::TRANSPOSE,
        inputs: vec![t1, perm],
        outputs: vec![t2],
        opts: Opts::None,
    });
    let ys = ed.shape(y);
    reshape(ed, t2, y, &ys);
}

fn nhwc(ed: &Editor, t: i32) -> Result<[i32; 4], RewriteError> {
    let s = ed.shape(t);
    match s[..] {
        [n, h, w, c] if s.iter().all(|&d| d > 0) => Ok([n, h, w, c]),
        _ => Err(format!("tensor of shape {s:?}, want [N, H, W, C]").into()),
    }
}

/// DEPTH_TO_SPACE: out[n, h*b + i, w*b + j, c] = in[n, h, w, (i*b + j)*C + c].
pub(crate) fn depth_to_space(ed: &mut Editor, op: &tflite::Operator) -> Fix {
    let (i, o) = io(op);
    let (&[x], &[y]) = (&i[..], &o[..]) else {
        return Err("DEPTH_TO_SPACE needs 1 input, 1 output".into());
    };
    let b = op
        .builtin_options_as_depth_to_space_options()
        .ok_or("DEPTH_TO_SPACE without options")?
        .block_size();
    let [n, h, w, c] = nhwc(ed, x)?;
    if b < 1 || c % (b * b) != 0 || ed.shape(y) != [n, h * b, w * b, c / (b * b)] {
        return Err(format!("DEPTH_TO_SPACE block {b} on {:?}", ed.shape(x)).into());
    }
    block_shuffle(ed, x, y, [n, h, w, b, b, c / (b * b)]);
    Ok("depth-to-space-as-reshape-transpose")
}

/// SPACE_TO_DEPTH: out[n, h, w, (i*b + j)*C + c] = in[n, h*b + i, w*b + j, c].
pub(crate) fn space_to_depth(ed: &mut Editor, op: &tflite::Operator) -> Fix {
    let (i, o) = io(op);
    let (&[x], &[y]) = (&i[..], &o[..]) else {
        return Err("SPACE_TO_DEPTH needs 1 input, 1 output".into());
    };
    let b = op
        .builtin_options_as_space_to_depth_options()
        .ok_or("SPACE_TO_DEPTH without options")?
        .block_size();
    let [n, h, w, c] = nhwc(ed, x)?;
    if b < 1 || h % b != 0 || w % b != 0 || ed.shape(y) != [n, h / b, w / b, c * b * b] {
        return Err(format!("SPACE_TO_DEPTH block {b} on {:?}", ed.shape(x)).into());
    }
    block_shuffle(ed, x, y, [n, h / b, b, w / b, b, c]);
    Ok("space-to-depth-as-reshape-transpose")
}

/// The f32 values of a constant, also one a folded DEQUANTIZE produced.
fn const_f32(ed: &Editor, t: i32) -> Result<Vec<f32>, RewriteError> {
    if ed.const_data(t).is_some() {
        if ed.tensor(t).type_() == TensorType::FLOAT32 {
            let d = ed.const_data(t).unwrap();
            return Ok(d
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect());
        }
        return dequantized_values(ed, t);
    }
    let d = ed
        .new_const_data(t)
        .ok_or("weights are computed, not constant")?;
    Ok(d.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

struct TransposeConv {
    x: i32,
    y: i32,
    /// [O, kh, kw, I]
    weights: Vec<f32>,
    wshape: [i32; 4],
    bias: Option<i32>,
    /// (h, w)
    stride: (i32, i32),
    /// padding before, (h, w)
    pad: (i32, i32),
    act: ActivationFunctionType,
}

/// A transposed convolution as tract-tflite-importable operators: zeros inserted
/// between input pixels (reshape, pad, reshape), the border padded or cropped to
/// what the output needs, then a stride-1 VALID CONV_2D with the kernel flipped.
/// Output row r is the sum over input rows i and kernel rows k with
/// i*stride - pad + k = r, which is this convolution over the zero-inserted rows.
fn emit_transpose_conv(ed: &mut Editor, t: TransposeConv) -> Result<(), RewriteError> {
    let [n, h, w, ci] = nhwc(ed, t.x)?;
    let [o, kh, kw, wi] = t.wshape;
    let [_, oh, ow, oc] = nhwc(ed, t.y)?;
    if wi != ci || oc != o || ed.shape(t.y)[0] != n {
        return Err(format!(
            "weights {:?} do not fit input {:?} / output {:?}",
            t.wshape,
            ed.shape(t.x),
            ed.shape(t.y)
        )
        .into());
    }
    let (sh, sw) = t.stride;
    if sh < 1 || sw < 1 {
        return Err(format!("stride {:?}", t.stride).into());
    }
    let u = insert_zeros(ed, &t, [n, h, w, ci]);
    let q = pad_then_crop(ed, &t, u, [n, h * sh, w * sw, ci], (oh, ow));
    let flipped = flip_kernel(&t.weights, [o, kh, kw, ci]);
    let yname = ed.name(t.y);
    let wt = ed.add_const_f32(
        format!("{yname}.flipped_kernel"),
        t.wshape.to_vec(),
        &flipped,
    );
    let bias = match t.bias {
        Some(b) => b,
        None => ed.add_const_f32(
            format!("{yname}.zero_bias"),
            vec![o],
            &vec![0.0; o as usize],
        ),
    };
    ed.push_op(NewOp {
        code: BuiltinOperator::CONV_2D,
        inputs: vec![q, wt, bias],
        outputs: vec![t.y],
        opts: Opts::Conv(ConvParams {
            padding: Padding::VALID,
            stride: (1, 1),
            dilation: (1, 1),
            depth_multiplier: None,
            act: t.act,
        }),
    });
    Ok(())
}

/// `stride - 1` zeros after each input row and column (reshape to 6-D, pad,
/// reshape back); the input itself at stride 1.
fn insert_zeros(ed: &mut Editor, t: &TransposeConv, [n, h, w, ci]: [i32; 4]) -> i32 {
    let (sh, sw) = t.stride;
    if sh == 1 && sw == 1 {
        return t.x;
    }
    let s6 = vec![n, h, 1, w, 1, ci];
    let t6 = ed.add_f32(t.x, "split", s6.clone());
    reshape(ed, t.x, t6, &s6);
    let p6 = ed.add_f32(t.x, "zeros_inserted6", vec![n, h, sh, w, sw, ci]);
    let pads = ed.add_const_i32(
        format!("{}.zero_insert_pads", ed.name(t.x)),
        &[0, 0, 0, 0, 0, sh - 1, 0, 0, 0, sw - 1, 0, 0],
    );
    set_shape_2d(ed, pads, 6);
    ed.push_op(NewOp {
        code: BuiltinOperator::PAD,
        inputs: vec![t6, pads],
        outputs: vec![p6],
        opts: Opts::None,
    });
    let u = ed.add_f32(t.x, "zeros_inserted", vec![n, h * sh, w * sw, ci]);
    reshape(ed, p6, u, &[n, h * sh, w * sw, ci]);
    u
}

/// Rows [b, b + oh + kh - 1) of the zero-inserted input `u` (of shape
/// `[n, uh, uw, ci]`), zero outside it: a PAD of the border where the window
/// reaches past it, then a SLICE where it starts or ends inside.
fn pad_then_crop(
    ed: &mut Editor,
    t: &TransposeConv,
    u: i32,
    [n, uh, uw, ci]: [i32; 4],
    (oh, ow): (i32, i32),
) -> i32 {
    let [_, kh, kw, _] = t.wshape;
    let (bh, bw) = (t.pad.0 - (kh - 1), t.pad.1 - (kw - 1));
    let (pre_h, pre_w) = ((-bh).max(0), (-bw).max(0));
    let (post_h, post_w) = (
        (bh + oh + kh - 1 - uh).max(0),
        (bw + ow + kw - 1 - uw).max(0),
    );
    let mut p = u;
    let (ph, pw) = (uh + pre_h + post_h, uw + pre_w + post_w);
    if pre_h + post_h + pre_w + post_w > 0 {
        p = ed.add_f32(t.x, "padded", vec![n, ph, pw, ci]);
        let pads = ed.add_const_i32(
            format!("{}.border_pads", ed.name(t.x)),
            &[0, 0, pre_h, post_h, pre_w, post_w, 0, 0],
        );
        set_shape_2d(ed, pads, 4);
        ed.push_op(NewOp {
            code: BuiltinOperator::PAD,
            inputs: vec![u, pads],
            outputs: vec![p],
            opts: Opts::None,
        });
    }
    let (qh, qw) = (oh + kh - 1, ow + kw - 1);
    let (start_h, start_w) = (bh + pre_h, bw + pre_w);
    if (start_h, start_w, qh, qw) == (0, 0, ph, pw) {
        return p;
    }
    let q = ed.add_f32(t.x, "cropped", vec![n, qh, qw, ci]);
    let name = ed.name(t.x);
    let begin = ed.add_const_i32(format!("{name}.crop_begin"), &[0, start_h, start_w, 0]);
    let size = ed.add_const_i32(format!("{name}.crop_size"), &[n, qh, qw, ci]);
    ed.push_op(NewOp {
        code: BuiltinOperator::SLICE,
        inputs: vec![p, begin, size],
        outputs: vec![q],
        opts: Opts::None,
    });
    q
}

/// The `[o][kh][kw][ci]` kernel rotated by 180 degrees in (kh, kw).
fn flip_kernel(weights: &[f32], [o, kh, kw, ci]: [i32; 4]) -> Vec<f32> {
    let (o, kh, kw, ci) = (o as usize, kh as usize, kw as usize, ci as usize);
    let mut flipped = vec![0f32; weights.len()];
    for oo in 0..o {
        for fy in 0..kh {
            for fx in 0..kw {
                for i in 0..ci {
                    let src = ((oo * kh + (kh - 1 - fy)) * kw + (kw - 1 - fx)) * ci + i;
                    flipped[((oo * kh + fy) * kw + fx) * ci + i] = weights[src];
                }
            }
        }
    }
    flipped
}

/// `add_const_i32` makes 1-D constants; PAD wants its paddings as [rank, 2].
fn set_shape_2d(ed: &mut Editor, t: i32, rank: i32) {
    ed.set_added_shape(t, vec![rank, 2]);
}

fn check_act(act: ActivationFunctionType) -> Result<ActivationFunctionType, RewriteError> {
    match act {
        ActivationFunctionType::NONE
        | ActivationFunctionType::RELU
        | ActivationFunctionType::RELU6 => Ok(act),
        a => Err(format!("fused activation {}", a.variant_name().unwrap_or("?")).into()),
    }
}

fn float_io(ed: &Editor, ts: &[i32]) -> Result<(), RewriteError> {
    for &t in ts {
        if ed.tensor(t).type_() != TensorType::FLOAT32 {
            return Err(format!(
                "{:?} tensor (only float32 is implemented)",
                ed.tensor(t).type_()
            )
            .into());
        }
    }
    Ok(())
}

fn weights(ed: &Editor, w: i32) -> Result<(Vec<f32>, [i32; 4]), RewriteError> {
    let ws = ed.shape(w);
    let &[o, kh, kw, i] = &ws[..] else {
        return Err(format!("weights of shape {ws:?}, want [O, H, W, I]").into());
    };
    let v = const_f32(ed, w)?;
    if v.len() as i64 != (o as i64) * (kh as i64) * (kw as i64) * (i as i64) {
        return Err("weights data does not match their shape".into());
    }
    Ok((v, [o, kh, kw, i]))
}

/// The f32 bias of a quantised convolution: an int32 constant whose scale is
/// the input's times each output channel's weight scale (TFLite's
/// quantisation spec; the tensor's own parameters when it has them).
fn quantized_bias(
    ed: &mut Editor,
    b: i32,
    x: i32,
    w: i32,
    channels: usize,
) -> Result<i32, RewriteError> {
    let t = ed.tensor(b);
    if t.type_() == TensorType::FLOAT32 {
        return Ok(b);
    }
    if t.type_() != TensorType::INT32 {
        return Err(format!("{:?} bias (int32 or float32 expected)", t.type_()).into());
    }
    let data = ed.const_data(b).ok_or("bias is computed, not constant")?;
    if data.len() != 4 * channels {
        return Err(format!("bias of {} bytes for {channels} channels", data.len()).into());
    }
    let own: Vec<f32> = t
        .quantization()
        .and_then(|q| q.scale())
        .map(|s| s.iter().collect())
        .unwrap_or_default();
    let scales: Vec<f32> = if own.len() == channels || own.len() == 1 {
        (0..channels).map(|c| own[c.min(own.len() - 1)]).collect()
    } else {
        let sx = ed.quant(x).ok_or("input without per-tensor parameters")?.0;
        let sw: Vec<f32> = ed
            .tensor(w)
            .quantization()
            .and_then(|q| q.scale())
            .map(|s| s.iter().collect())
            .unwrap_or_default();
        if sw.len() != channels && sw.len() != 1 {
            return Err(format!("{} weight scales for {channels} channels", sw.len()).into());
        }
        (0..channels)
            .map(|c| sx * sw[c.min(sw.len() - 1)])
            .collect()
    };
    let vals: Vec<f32> = data
        .chunks_exact(4)
        .zip(&scales)
        .map(|(c, &s)| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32 * s)
        .collect();
    let name = format!("{}.f32", ed.name(b));
    Ok(ed.add_const_f32(name, vec![channels as i32], &vals))
}

/// TRANSPOSE_CONV: inputs output_shape, weights [O, kh, kw, I], input,
/// optional bias. The padding before is half of what a forward convolution from
/// the output size to the input size would pad (TFLite's `ComputePadding`).
///
/// int8/uint8 (per-tensor activations, per-channel or per-tensor weights,
/// int32 bias) runs as the float operator between (de)quantisation cuts, with
/// the weights and bias dequantised at load: TFLite accumulates the same
/// products in int32 and requantises once, so both round the same real value
/// and agree to a step (ties aside). tract has no transposed convolution on
/// integers to reach from outside, and these are decoder layers of
/// segmentation models, a few per network.
pub(crate) fn transpose_conv(ed: &mut Editor, op: &tflite::Operator) -> Fix {
    let (i, o) = io(op);
    let (&[shape, w, x, ref rest @ ..], &[y]) = (&i[..], &o[..]) else {
        return Err("TRANSPOSE_CONV needs 3 or 4 inputs, 1 output".into());
    };
    let mut bias = rest.first().copied().filter(|&b| b >= 0);
    if shape < 0 || w < 0 || x < 0 {
        return Err("TRANSPOSE_CONV with an omitted input".into());
    }
    let q = transpose_conv_io(ed, x, y)?;
    let opts = op
        .builtin_options_as_transpose_conv_options()
        .ok_or("TRANSPOSE_CONV without options")?;
    let act = check_act(opts.fused_activation_function())?;
    let (weights, wshape) = weights(ed, w)?;
    check_output_shape(ed, shape, y)?;
    let stride = (opts.stride_h(), opts.stride_w());
    let [_, oh, ow, _] = nhwc(ed, y)?;
    let pad_for = |out_size: i32, k: i32, s: i32| transpose_pad(opts.padding(), out_size, k, s);
    let pad = (
        pad_for(oh, wshape[1], stride.0),
        pad_for(ow, wshape[2], stride.1),
    );
    let (xin, yout) = if q {
        if let Some(b) = bias {
            bias = Some(quantized_bias(ed, b, x, w, wshape[0] as usize)?);
        }
        let xf = ed.add_f32(x, "f32", ed.shape(x));
        let yf = ed.add_f32(y, "f32", ed.shape(y));
        (xf, yf)
    } else {
        (x, y)
    };
    if q {
        ed.cut(x, xin);
    }
    emit_transpose_conv(
        ed,
        TransposeConv {
            x: xin,
            y: yout,
            weights,
            wshape,
            bias,
            stride,
            pad,
            act,
        },
    )?;
    if q {
        ed.cut(yout, y);
        return Ok("quantized-transpose-conv-via-float");
    }
    Ok("transpose-conv-as-conv")
}

/// Whether a TRANSPOSE_CONV's input `x` and output `y` are quantised (both
/// int8 or both uint8, per-tensor) rather than float.
fn transpose_conv_io(ed: &Editor, x: i32, y: i32) -> Result<bool, RewriteError> {
    let quantised = |t: TensorType| matches!(t, TensorType::INT8 | TensorType::UINT8);
    let (tx, ty) = (ed.tensor(x).type_(), ed.tensor(y).type_());
    if !quantised(tx) {
        float_io(ed, &[x, y])?;
        return Ok(false);
    }
    if tx != ty {
        return Err(format!("{tx:?} input with {ty:?} output").into());
    }
    if ed.quant(x).is_none() || ed.quant(y).is_none() {
        return Err("quantised TRANSPOSE_CONV with per-channel activation parameters".into());
    }
    Ok(true)
}

/// The constant output-shape input equals the output tensor's shape.
fn check_output_shape(ed: &Editor, shape: i32, y: i32) -> Result<(), RewriteError> {
    let out = ed
        .const_data(shape)
        .ok_or("TRANSPOSE_CONV output shape is computed, not constant")?;
    let out: Vec<i32> = out
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if out != ed.shape(y) {
        return Err(format!(
            "output_shape {out:?} differs from the output tensor's {:?}",
            ed.shape(y)
        )
        .into());
    }
    Ok(())
}

/// Padding before one axis of a transposed convolution with `padding`,
/// output size `out_size`, kernel `k` and stride `s`: half (rounded down)
/// of what the forward convolution would pad.
fn transpose_pad(padding: Padding, out_size: i32, k: i32, s: i32) -> i32 {
    if s < 1 {
        return 0;
    }
    let conv_out = match padding {
        Padding::SAME => (out_size + s - 1) / s,
        _ => (out_size - k + s) / s,
    };
    (((conv_out - 1) * s + k - out_size).max(0)) / 2
}

/// MediaPipe `Convolution2DTransposeBias` (float): input, weights [O, kh, kw, I],
/// bias; custom options TfLiteTransposeConvParams (padding, stride w, stride h).
/// Output size stride*(in-1) + k - total padding, where SAME pads
/// max(0, k - (in-1) % stride - 1) in total, half of it (rounded down) before.
fn conv2d_transpose_bias(ed: &mut Editor, op: &tflite::Operator) -> Fix {
    let (i, o) = io(op);
    let (&[x, w, b], &[y]) = (&i[..], &o[..]) else {
        return Err("Convolution2DTransposeBias needs 3 inputs, 1 output".into());
    };
    float_io(ed, &[x, y, b])?;
    let opts = custom_options(op);
    if opts.len() < 12 {
        return Err(format!("custom options of {} bytes, want 12", opts.len()).into());
    }
    let int = |k: usize| i32::from_le_bytes(opts[4 * k..4 * k + 4].try_into().unwrap());
    let (padding, stride) = (int(0), (int(2), int(1)));
    if stride.0 < 1 || stride.1 < 1 {
        return Err(format!("stride {stride:?}").into());
    }
    let (weights, wshape) = weights(ed, w)?;
    let [n, h, wd, _] = nhwc(ed, x)?;
    let total = |size: i32, k: i32, s: i32| match padding {
        1 => (k - (size - 1) % s - 1).max(0),
        _ => 0,
    };
    let (th, tw) = (
        total(h, wshape[1], stride.0),
        total(wd, wshape[2], stride.1),
    );
    let want = vec![
        n,
        stride.0 * (h - 1) + wshape[1] - th,
        stride.1 * (wd - 1) + wshape[2] - tw,
        wshape[0],
    ];
    if ed.shape(y) != want {
        return Err(format!("output tensor {:?}, the op computes {want:?}", ed.shape(y)).into());
    }
    emit_transpose_conv(
        ed,
        TransposeConv {
            x,
            y,
            weights,
            wshape,
            bias: Some(b),
            stride,
            pad: (th / 2, tw / 2),
            act: ActivationFunctionType::NONE,
        },
    )?;
    Ok("mediapipe-transpose-conv-bias-as-conv")
}

/// int8/uint8 PRELU: dequantised (graph cut), float PRELU with the dequantised
/// alpha, quantised again (graph cut). TFLite computes it in integers with two
/// rescalings; both round the same real value, so results agree to a step.
pub(crate) fn quantized_prelu(ed: &mut Editor, op: &tflite::Operator) -> Fix {
    let (i, o) = io(op);
    let (&[x, alpha], &[y]) = (&i[..], &o[..]) else {
        return Err("PRELU needs 2 inputs, 1 output".into());
    };
    let q = |t: TensorType| matches!(t, TensorType::INT8 | TensorType::UINT8);
    if !q(ed.tensor(x).type_()) || !q(ed.tensor(y).type_()) {
        return Err(format!("PRELU of {:?}", ed.tensor(x).type_()).into());
    }
    if ed.quant(x).is_none() || ed.quant(y).is_none() {
        return Err("quantised PRELU with per-channel input or output parameters".into());
    }
    if ed.tensor(alpha).type_() != TensorType::FLOAT32 && ed.quant(alpha).is_none() {
        return Err(
            "quantised PRELU with per-axis alpha parameters (TFLite's kernel \
             reads one alpha scale)"
                .into(),
        );
    }
    let alpha_f = if ed.tensor(alpha).type_() == TensorType::FLOAT32 {
        alpha
    } else {
        float_constant(ed, alpha)?
    };
    let xf = ed.add_f32(x, "f32", ed.shape(x));
    let yf = ed.add_f32(y, "f32", ed.shape(y));
    ed.cut(x, xf);
    emit_float_prelu(ed, xf, alpha_f, yf);
    ed.cut(yf, y);
    Ok("quantized-prelu-via-float")
}

fn custom_options<'a>(op: &tflite::Operator<'a>) -> &'a [u8] {
    op.custom_options().map(|v| v.bytes()).unwrap_or(&[])
}

/// A MediaPipe custom op (by name and version): rewritten or cut out and joined
/// with an edgemark op; anything else stays unsupported.
pub(crate) fn custom(
    ed: &mut Editor,
    op: &tflite::Operator,
    name: &str,
    version: i32,
) -> Result<&'static str, RewriteError> {
    let (i, o) = io(op);
    if i.iter().chain(&o).any(|&t| t < 0) {
        return Err("omitted input or output".into());
    }
    if name == "TFLite_Detection_PostProcess" {
        return detection_postprocess(ed, op, &i, &o);
    }
    if name != "Convolution2DTransposeBias" {
        float_io(ed, &i)?;
        float_io(ed, &o)?;
    }
    let arity = |ni: usize, no: usize| -> Result<(), RewriteError> {
        if i.len() == ni && o.len() == no {
            Ok(())
        } else {
            Err(format!(
                "{name} with {} inputs, {} outputs (want {ni}, {no})",
                i.len(),
                o.len()
            )
            .into())
        }
    };
    let opts = custom_options(op);
    let cut = match name {
        "Convolution2DTransposeBias" => return conv2d_transpose_bias(ed, op),
        "MaxPoolingWithArgmax2D" => {
            arity(1, 2)?;
            rank(ed, &i, 4)?;
            Cut::MaxPoolArgmax(Pool::from_custom_options(opts)?)
        }
        "MaxUnpooling2D" => {
            arity(2, 1)?;
            rank(ed, &i, 4)?;
            Cut::MaxUnpool(Pool::from_custom_options(opts)?)
        }
        // v1 was registered as "TransformTensor", v2 as "TransformTensorBilinear".
        "TransformTensor" | "TransformTensorBilinear" => {
            arity(2, 1)?;
            rank(ed, &i[..1], 4)?;
            rank(ed, &o, 4)?;
            Cut::TransformTensorBilinear {
                v2: name == "TransformTensorBilinear" && version != 1,
            }
        }
        "TransformLandmarks" => {
            arity(2, 1)?;
            Cut::TransformLandmarks(transform_landmarks(ed, i[0], version, opts)?)
        }
        "Landmarks2TransformMatrix" => {
            arity(1, 1)?;
            Cut::Landmarks2TransformMatrix(Box::new(landmarks_to_matrix(ed, i[0], version, opts)?))
        }
        _ => return Err("custom op unknown to edgemark".into()),
    };
    let fix = match cut {
        Cut::MaxPoolArgmax(_) => "mediapipe-max-pool-argmax-op",
        Cut::MaxUnpool(_) => "mediapipe-max-unpool-op",
        Cut::TransformTensorBilinear { .. } => "mediapipe-transform-tensor-bilinear-op",
        Cut::TransformLandmarks(_) => "mediapipe-transform-landmarks-op",
        _ => "mediapipe-landmarks-to-transform-matrix-op",
    };
    ed.cut_op(i, o, cut);
    Ok(fix)
}

/// `TFLite_Detection_PostProcess` (LiteRT registers it with its builtins; SSD
/// and EfficientDet-Lite detectors end with it): box encodings and class
/// scores are cut out and joined with edgemark's op, the anchors (a constant)
/// and the FlexBuffers options read here.
fn detection_postprocess(ed: &mut Editor, op: &tflite::Operator, i: &[i32], o: &[i32]) -> Fix {
    let (&[boxes, scores, anchors], &[_, _, _, _]) = (i, o) else {
        return Err(format!(
            "TFLite_Detection_PostProcess with {} inputs, {} outputs (want 3, 4)",
            i.len(),
            o.len()
        )
        .into());
    };
    for t in [boxes, scores] {
        match ed.tensor(t).type_() {
            TensorType::FLOAT32 => {}
            TensorType::UINT8 | TensorType::INT8 if ed.quant(t).is_some() => {}
            ty => return Err(format!("{ty:?} input {} (float32 or 8-bit)", ed.name(t)).into()),
        }
    }
    float_io(ed, o)?;
    rank(ed, &[boxes, scores], 3)?;
    let (bs, ss, as_) = (ed.shape(boxes), ed.shape(scores), ed.shape(anchors));
    let n = bs[1];
    if bs[0] != 1 || bs[2] < 4 || ss[0] != 1 || ss[1] != n || as_ != [n, 4] {
        return Err(format!(
            "box encodings {bs:?}, scores {ss:?}, anchors {as_:?}: want [1, N, >= 4], \
             [1, N, C], [N, 4]"
        )
        .into());
    }
    let d = detection_options(ed, op, anchors, ss[2] as usize)?;
    let slots = (d.max_detections * d.max_classes_per_detection) as i32;
    let want = [vec![1, slots, 4], vec![1, slots], vec![1, slots], vec![1]];
    for (t, w) in o.iter().zip(&want) {
        if ed.shape(*t) != *w {
            return Err(format!(
                "output {} of shape {:?}, the op computes {w:?}",
                ed.name(*t),
                ed.shape(*t)
            )
            .into());
        }
    }
    ed.cut_op(
        vec![boxes, scores],
        o.to_vec(),
        Cut::DetectionPostProcess(Box::new(d)),
    );
    Ok("detection-postprocess-op")
}

/// The op's custom options (and its constant anchors) checked, for a scores
/// input with `cols` columns (the classes, or a background column more).
fn detection_options(
    ed: &Editor,
    op: &tflite::Operator,
    anchors: i32,
    cols: usize,
) -> Result<DetectionPostProcess, RewriteError> {
    let m = options_map(custom_options(op))?;
    let count = |key: &str| -> Result<usize, RewriteError> {
        let v = get_int(&m, key)?;
        usize::try_from(v)
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| format!("{key} {v}").into())
    };
    let optional = |key: &str, default: i64| {
        flexbuffers::get(&m, key).map_or(Ok(default), |v| {
            v.as_i64()
                .ok_or_else(|| format!("custom option {key:?} not an integer"))
        })
    };
    let num_classes = count("num_classes")?;
    if cols != num_classes && cols != num_classes + 1 {
        return Err(format!("{cols} score columns for {num_classes} classes").into());
    }
    let scales = [
        get_f32(&m, "y_scale")?,
        get_f32(&m, "x_scale")?,
        get_f32(&m, "h_scale")?,
        get_f32(&m, "w_scale")?,
    ];
    if scales.iter().any(|&v| v == 0.0 || !v.is_finite()) {
        return Err(format!("box scales {scales:?}").into());
    }
    let iou_threshold = get_f32(&m, "nms_iou_threshold")?;
    if !(iou_threshold > 0.0 && iou_threshold <= 1.0) {
        return Err(format!("nms_iou_threshold {iou_threshold} (want (0, 1])").into());
    }
    let detections_per_class = optional("detections_per_class", 100)?;
    let a = const_f32(ed, anchors)?;
    Ok(DetectionPostProcess {
        max_detections: count("max_detections")?,
        max_classes_per_detection: count("max_classes_per_detection")?,
        detections_per_class: usize::try_from(detections_per_class)
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| format!("detections_per_class {detections_per_class}"))?,
        regular_nms: optional("use_regular_nms", 0)? != 0,
        score_threshold: get_f32(&m, "nms_score_threshold")?,
        iou_threshold,
        num_classes,
        scales,
        anchors: a
            .chunks_exact(4)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect(),
    })
}

fn rank(ed: &Editor, ts: &[i32], r: usize) -> Result<(), RewriteError> {
    for &t in ts {
        let s = ed.shape(t);
        if s.len() != r || s.iter().any(|&d| d <= 0) {
            return Err(format!("tensor of shape {s:?}, want rank {r}").into());
        }
    }
    Ok(())
}

fn options_map(opts: &[u8]) -> Result<Vec<(String, Value)>, RewriteError> {
    Ok(flexbuffers::read_map(opts)?)
}

fn get_int(m: &[(String, Value)], key: &str) -> Result<i64, RewriteError> {
    flexbuffers::get(m, key)
        .and_then(Value::as_i64)
        .ok_or_else(|| format!("custom option {key:?} missing or not an integer").into())
}

fn get_f32(m: &[(String, Value)], key: &str) -> Result<f32, RewriteError> {
    flexbuffers::get(m, key)
        .and_then(Value::as_f64)
        .map(|v| v as f32)
        .ok_or_else(|| format!("custom option {key:?} missing or not a number").into())
}

fn get_ints(m: &[(String, Value)], key: &str) -> Result<Vec<i64>, RewriteError> {
    flexbuffers::get(m, key)
        .and_then(Value::as_i64_vec)
        .ok_or_else(|| format!("custom option {key:?} missing or not a vector of integers").into())
}

fn index(v: i64, what: &str) -> Result<usize, RewriteError> {
    usize::try_from(v).map_err(|_| format!("{what} {v}").into())
}

fn transform_landmarks(
    ed: &Editor,
    x: i32,
    version: i32,
    opts: &[u8],
) -> Result<TransformLandmarks, RewriteError> {
    let s = ed.shape(x);
    let t = if version == 2 {
        rank(ed, &[x], 3)?;
        TransformLandmarks {
            v2: true,
            dims: s[2] as usize,
            scale: 1.0,
        }
    } else {
        rank(ed, &[x], 4)?;
        let m = options_map(opts)?;
        TransformLandmarks {
            v2: false,
            dims: get_int(&m, "dimensions")? as usize,
            scale: get_f32(&m, "scale")?,
        }
    };
    let last = *s.last().unwrap() as usize;
    if !matches!(t.dims, 2 | 3) || !last.is_multiple_of(t.dims) || t.scale == 0.0 {
        return Err(format!("dimensions {} / scale {} for input {s:?}", t.dims, t.scale).into());
    }
    Ok(t)
}

fn landmarks_to_matrix(
    ed: &Editor,
    x: i32,
    version: i32,
    opts: &[u8],
) -> Result<Landmarks2TransformMatrix, RewriteError> {
    let m = options_map(opts)?;
    let n_values: i64 = ed.shape(x).iter().map(|&d| d as i64).product();
    let idx = |v: i64, what: &str| -> Result<usize, RewriteError> {
        if v < 0 || 3 * (v + 1) > n_values {
            return Err(format!("{what} {v} outside the {n_values} landmark values").into());
        }
        index(v, what)
    };
    let subset_key = if version == 2 {
        "subset_idxs"
    } else {
        "subset"
    };
    let subset = get_ints(&m, subset_key)?
        .into_iter()
        .map(|v| idx(v, "subset index"))
        .collect::<Result<Vec<_>, _>>()?;
    if subset.is_empty() {
        return Err("empty landmark subset".into());
    }
    let left = idx(get_int(&m, "left_rotation_idx")?, "left_rotation_idx")?;
    let right = idx(get_int(&m, "right_rotation_idx")?, "right_rotation_idx")?;
    if version == 2 {
        rank(ed, &[x], 3)?;
        let (oh, ow) = (get_int(&m, "output_height")?, get_int(&m, "output_width")?);
        let scale = (get_f32(&m, "scale_x")?, get_f32(&m, "scale_y")?);
        if oh <= 0 || ow <= 0 || scale.0 <= 0.0 || scale.1 <= 0.0 {
            return Err(format!("output {oh}x{ow}, scale {scale:?}").into());
        }
        Ok(Landmarks2TransformMatrix::V2 {
            subset,
            left,
            right,
            target_rotation: get_f32(&m, "target_rotation_radians")?,
            output_hw: (oh as f32, ow as f32),
            scale,
        })
    } else {
        rank(ed, &[x], 4)?;
        let hw = |key: &str| -> Result<(f32, f32), RewriteError> {
            match get_ints(&m, key)?[..] {
                [h, w] if h > 0 && w > 0 => Ok((h as f32, w as f32)),
                ref v => Err(format!("custom option {key:?} = {v:?}").into()),
            }
        };
        let range = get_int(&m, "landmarks_range")?;
        let mult = get_f32(&m, "bbox_size_multiplier")?;
        if get_int(&m, "dimensions")? != 3 || range <= 0 || mult == 0.0 {
            return Err("dimensions != 3, landmarks_range <= 0 or zero multiplier".into());
        }
        Ok(Landmarks2TransformMatrix::V1 {
            subset,
            left,
            right,
            bbox_size_multiplier: mult,
            landmarks_range: range as f32,
            input_hw: hw("input_hw")?,
            output_hw: hw("output_hw")?,
        })
    }
}

fn float_only(ed: &Editor, ts: &[i32], what: &str) -> Result<(), RewriteError> {
    float_io(ed, ts).map_err(|e| format!("{what} of a {e}").into())
}

/// SQUARED_DIFFERENCE(a, b) = (a - b) * (a - b), float.
pub(crate) fn squared_difference(ed: &mut Editor, op: &tflite::Operator) -> Fix {
    let (i, o) = io(op);
    let (&[a, b], &[y]) = (&i[..], &o[..]) else {
        return Err("SQUARED_DIFFERENCE needs 2 inputs, 1 output".into());
    };
    float_only(ed, &[a, b, y], "SQUARED_DIFFERENCE")?;
    let d = ed.add_f32(y, "difference", ed.shape(y));
    ed.push_op(NewOp {
        code: BuiltinOperator::SUB,
        inputs: vec![a, b],
        outputs: vec![d],
        opts: Opts::Sub,
    });
    ed.push_op(NewOp {
        code: BuiltinOperator::MUL,
        inputs: vec![d, d],
        outputs: vec![y],
        opts: Opts::Mul(ActivationFunctionType::NONE),
    });
    Ok("squared-difference-as-sub-mul")
}

/// NEG(x) = x * -1, float (exact).
pub(crate) fn neg(ed: &mut Editor, op: &tflite::Operator) -> Fix {
    let (i, o) = io(op);
    let (&[x], &[y]) = (&i[..], &o[..]) else {
        return Err("NEG needs 1 input, 1 output".into());
    };
    float_only(ed, &[x, y], "NEG")?;
    let minus_one = ed.add_const_f32(format!("{}.minus_one", ed.name(y)), vec![], &[-1.0]);
    ed.push_op(NewOp {
        code: BuiltinOperator::MUL,
        inputs: vec![x, minus_one],
        outputs: vec![y],
        opts: Opts::Mul(ActivationFunctionType::NONE),
    });
    Ok("neg-as-mul")
}

/// CAST between float32 and integer types (not quantised ones): a graph cut
/// joined with tract's Cast (float to integer truncates toward zero, as TFLite's
/// static_cast does within range).
pub(crate) fn cast(ed: &mut Editor, op: &tflite::Operator) -> Fix {
    let (i, o) = io(op);
    let (&[x], &[y]) = (&i[..], &o[..]) else {
        return Err("CAST needs 1 input, 1 output".into());
    };
    let plain = |t: TensorType| {
        matches!(
            t,
            TensorType::FLOAT32
                | TensorType::INT32
                | TensorType::INT64
                | TensorType::INT16
                | TensorType::INT8
                | TensorType::UINT8
        )
    };
    let (tx, ty) = (ed.tensor(x).type_(), ed.tensor(y).type_());
    if !plain(tx) || !plain(ty) {
        return Err(format!("CAST from {tx:?} to {ty:?}").into());
    }
    if ed
        .tensor(x)
        .quantization()
        .is_some_and(|q| q.scale().is_some())
        || ed
            .tensor(y)
            .quantization()
            .is_some_and(|q| q.scale().is_some())
    {
        return Err("CAST of a quantised tensor".into());
    }
    ed.cut(x, y);
    Ok("cast-cut")
}

/// PACK: each input gets a new axis of size 1 (RESHAPE), then CONCATENATION.
pub(crate) fn pack(ed: &mut Editor, op: &tflite::Operator) -> Fix {
    let (i, o) = io(op);
    let (false, &[y]) = (i.is_empty(), &o[..]) else {
        return Err("PACK needs inputs and 1 output".into());
    };
    let opts = op
        .builtin_options_as_pack_options()
        .ok_or("PACK without options")?;
    let xs = ed.shape(i[0]);
    let rank = xs.len() as i32 + 1;
    let axis = if opts.axis() < 0 {
        opts.axis() + rank
    } else {
        opts.axis()
    };
    if axis < 0 || axis >= rank || i.iter().any(|&t| ed.shape(t) != xs) {
        return Err(format!("PACK axis {} of inputs {xs:?}", opts.axis()).into());
    }
    let q = ed.quant(i[0]);
    if i.iter()
        .any(|&t| ed.quant(t) != q || ed.tensor(t).type_() != ed.tensor(y).type_())
        || ed.quant(y) != q
    {
        return Err("PACK of inputs with differing types or quantisation".into());
    }
    let mut s = xs.clone();
    s.insert(axis as usize, 1);
    let mut parts = vec![];
    for &t in &i {
        let e = like(ed, t, "packed_axis", s.clone());
        reshape(ed, t, e, &s);
        parts.push(e);
    }
    ed.push_op(NewOp {
        code: BuiltinOperator::CONCATENATION,
        inputs: parts,
        outputs: vec![y],
        opts: Opts::Concat(axis),
    });
    Ok("pack-as-reshape-concat")
}

fn const_i32s(ed: &Editor, t: i32) -> Result<Vec<i32>, RewriteError> {
    if ed.tensor(t).type_() != TensorType::INT32 {
        return Err("non-int32 constant".into());
    }
    let d = ed.const_data(t).ok_or("computed, not constant")?;
    Ok(d.chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn slice(ed: &mut Editor, x: i32, y: i32, begin: &[i32], size: &[i32]) {
    let name = ed.name(y);
    let b = ed.add_const_i32(format!("{name}.begin"), begin);
    let s = ed.add_const_i32(format!("{name}.size"), size);
    ed.push_op(NewOp {
        code: BuiltinOperator::SLICE,
        inputs: vec![x, b, s],
        outputs: vec![y],
        opts: Opts::None,
    });
}

/// SPLIT (axis, x) and SPLIT_V (x, sizes, axis): one SLICE per output.
pub(crate) fn split(ed: &mut Editor, op: &tflite::Operator, code: BuiltinOperator) -> Fix {
    let (i, o) = io(op);
    let (x, axis_t, sizes) = match (code, &i[..]) {
        (BuiltinOperator::SPLIT, &[a, x]) => (x, a, None),
        (_, &[x, s, a]) if code == BuiltinOperator::SPLIT_V => (x, a, Some(s)),
        _ => {
            return Err(
                format!("{} with {} inputs", super::inspect::op_name(code), i.len()).into(),
            );
        }
    };
    let xs = ed.shape(x);
    let &[axis] = &const_i32s(ed, axis_t)?[..] else {
        return Err("split axis is not one value".into());
    };
    let rank = xs.len() as i32;
    let axis = if axis < 0 { axis + rank } else { axis };
    if axis < 0 || axis >= rank || o.is_empty() || xs.iter().any(|&d| d < 0) {
        return Err(format!("split axis {axis} of {xs:?}").into());
    }
    let dim = xs[axis as usize];
    let mut sizes = match sizes {
        Some(s) => const_i32s(ed, s)?,
        None if dim % o.len() as i32 == 0 => vec![dim / o.len() as i32; o.len()],
        None => return Err(format!("SPLIT of {dim} into {} parts", o.len()).into()),
    };
    // SPLIT_V allows one size of -1: the rest.
    if let Some(k) = sizes.iter().position(|&v| v == -1) {
        sizes[k] = dim - sizes.iter().filter(|&&v| v != -1).sum::<i32>();
    }
    if sizes.len() != o.len() || sizes.iter().any(|&v| v < 0) || sizes.iter().sum::<i32>() != dim {
        return Err(format!("split sizes {sizes:?} of {dim}").into());
    }
    let mut start = 0;
    for (&y, &n) in o.iter().zip(&sizes) {
        let mut begin = vec![0; xs.len()];
        let mut size = xs.clone();
        begin[axis as usize] = start;
        size[axis as usize] = n;
        if ed.shape(y) != size {
            return Err(format!("split output {:?}, want {size:?}", ed.shape(y)).into());
        }
        slice(ed, x, y, &begin, &size);
        start += n;
    }
    Ok("split-as-slices")
}

/// GATHER with constant indices (batch_dims 0): one SLICE per index along the
/// axis, CONCATENATION, then RESHAPE to params[:axis] + indices + params[axis+1:].
pub(crate) fn gather(ed: &mut Editor, op: &tflite::Operator) -> Fix {
    let (i, o) = io(op);
    let (&[x, idx], &[y]) = (&i[..], &o[..]) else {
        return Err("GATHER needs 2 inputs, 1 output".into());
    };
    let opts = op
        .builtin_options_as_gather_options()
        .ok_or("GATHER without options")?;
    if opts.batch_dims() != 0 {
        return Err(format!("GATHER with batch_dims {}", opts.batch_dims()).into());
    }
    let indices: Vec<i64> = match ed.tensor(idx).type_() {
        TensorType::INT32 => const_i32s(ed, idx)?.into_iter().map(i64::from).collect(),
        TensorType::INT64 => ed
            .const_data(idx)
            .ok_or("GATHER of computed indices")?
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        t => return Err(format!("GATHER indices of type {t:?}").into()),
    };
    let xs = ed.shape(x);
    let rank = xs.len() as i32;
    let axis = if opts.axis() < 0 {
        opts.axis() + rank
    } else {
        opts.axis()
    };
    if axis < 0 || axis >= rank {
        return Err(format!("GATHER axis {} of {xs:?}", opts.axis()).into());
    }
    let a = axis as usize;
    if indices.is_empty() || indices.len() > 4096 {
        return Err(format!("GATHER of {} indices", indices.len()).into());
    }
    if let Some(bad) = indices.iter().find(|&&k| k < 0 || k >= xs[a] as i64) {
        return Err(format!("GATHER index {bad} outside 0..{}", xs[a]).into());
    }
    let mut want = xs[..a].to_vec();
    want.extend(ed.shape(idx));
    want.extend(&xs[a + 1..]);
    if ed.shape(y) != want {
        return Err(format!("GATHER output {:?}, want {want:?}", ed.shape(y)).into());
    }
    let mut parts = vec![];
    for (n, &k) in indices.iter().enumerate() {
        let mut begin = vec![0; xs.len()];
        let mut size = xs.clone();
        begin[a] = k as i32;
        size[a] = 1;
        let t = like(ed, x, &format!("gather{n}"), size.clone());
        slice(ed, x, t, &begin, &size);
        parts.push(t);
    }
    let mut cat_shape = xs.clone();
    cat_shape[a] = indices.len() as i32;
    let cat = like(ed, x, "gathered", cat_shape);
    ed.push_op(NewOp {
        code: BuiltinOperator::CONCATENATION,
        inputs: parts,
        outputs: vec![cat],
        opts: Opts::Concat(axis),
    });
    reshape(ed, cat, y, &want);
    Ok("gather-as-slices-concat")
}
