//! Rewrites for what tract-tflite 0.23.9 lacks or gets wrong, one function per
//! operator, each turning the operator into ones that version imports correctly.
//! Delete a function (and its arm in `rewrite`) once tract handles the op upstream.

use super::rewrite_error::RewriteError;
use tract_tflite::internal::f16;
use tract_tflite::tflite::{
    self, ActivationFunctionType, BuiltinOperator, BuiltinOptions, TensorType,
};

use super::coverage;
use super::editor::{ConvParams, Editor, NewOp, NewTensor, Opts};
use super::inspect::Support;
use super::own_ops::Cut;

/// Builtins tract-tflite 0.23.9 registers an importer for (its `ops::*::register_all`).
const TRACT_BUILTINS: &[BuiltinOperator] = &[
    // array
    BuiltinOperator::BROADCAST_TO,
    BuiltinOperator::CONCATENATION,
    BuiltinOperator::EXPAND_DIMS,
    BuiltinOperator::PAD,
    BuiltinOperator::PADV2,
    BuiltinOperator::RESHAPE,
    BuiltinOperator::SHAPE,
    BuiltinOperator::SLICE,
    BuiltinOperator::SQUEEZE,
    BuiltinOperator::STRIDED_SLICE,
    BuiltinOperator::TRANSPOSE,
    // cnn
    BuiltinOperator::AVERAGE_POOL_2D,
    BuiltinOperator::MAX_POOL_2D,
    BuiltinOperator::CONV_2D,
    BuiltinOperator::DEPTHWISE_CONV_2D,
    // element-wise
    BuiltinOperator::ABS,
    BuiltinOperator::CEIL,
    BuiltinOperator::COS,
    BuiltinOperator::EXP,
    BuiltinOperator::FLOOR,
    BuiltinOperator::HARD_SWISH,
    BuiltinOperator::LEAKY_RELU,
    BuiltinOperator::LOG,
    BuiltinOperator::LOGICAL_NOT,
    BuiltinOperator::SIN,
    BuiltinOperator::LOGISTIC,
    BuiltinOperator::SQRT,
    BuiltinOperator::SQUARE,
    BuiltinOperator::RSQRT,
    BuiltinOperator::TANH,
    // math
    BuiltinOperator::ADD,
    BuiltinOperator::SUB,
    BuiltinOperator::MUL,
    BuiltinOperator::DIV,
    BuiltinOperator::MAXIMUM,
    BuiltinOperator::MINIMUM,
    BuiltinOperator::EQUAL,
    BuiltinOperator::NOT_EQUAL,
    BuiltinOperator::LESS,
    BuiltinOperator::LESS_EQUAL,
    BuiltinOperator::GREATER,
    BuiltinOperator::GREATER_EQUAL,
    BuiltinOperator::LOGICAL_OR,
    BuiltinOperator::LOGICAL_AND,
    // nn
    BuiltinOperator::BATCH_MATMUL,
    BuiltinOperator::FULLY_CONNECTED,
    BuiltinOperator::MEAN,
    BuiltinOperator::SOFTMAX,
    BuiltinOperator::RESIZE_BILINEAR,
    BuiltinOperator::RESIZE_NEAREST_NEIGHBOR,
    BuiltinOperator::RELU,
    BuiltinOperator::RELU6,
    BuiltinOperator::REDUCE_MAX,
    BuiltinOperator::REDUCE_MIN,
    BuiltinOperator::SUM,
    BuiltinOperator::REDUCE_PROD,
    // ops/mod.rs
    BuiltinOperator::SELECT,
    BuiltinOperator::SELECT_V2,
];

/// Rewrites original operator `node` into `ed` (or keeps it). Returns the support
/// class; `Unsupported` leaves the editor in an unspecified state for that node.
pub(crate) fn rewrite(
    ed: &mut Editor,
    node: usize,
    op: &tflite::Operator,
    code: BuiltinOperator,
) -> Support {
    if code != BuiltinOperator::FULLY_CONNECTED
        && code != BuiltinOperator::TRANSPOSE_CONV
        && let Err(why) = optional_inputs(op)
    {
        return Support::Unsupported(why.to_string());
    }
    let result = match code {
        BuiltinOperator::DEQUANTIZE
            if op
                .inputs()
                .is_some_and(|i| i.len() == 1 && ed.const_data(i.get(0)).is_none()) =>
        {
            cut_at_conversion(ed, op).map(Some)
        }
        BuiltinOperator::DEQUANTIZE => dequantize_constant(ed, op).map(Some),
        BuiltinOperator::QUANTIZE => cut_at_conversion(ed, op).map(Some),
        BuiltinOperator::PRELU => match ed.tensor(io(op).0[0]).type_() {
            TensorType::FLOAT32 => prelu(ed, op).map(Some),
            _ => coverage::quantized_prelu(ed, op).map(Some),
        },
        BuiltinOperator::DEPTH_TO_SPACE => coverage::depth_to_space(ed, op).map(Some),
        BuiltinOperator::SPACE_TO_DEPTH => coverage::space_to_depth(ed, op).map(Some),
        BuiltinOperator::TRANSPOSE_CONV => coverage::transpose_conv(ed, op).map(Some),
        BuiltinOperator::SQUARED_DIFFERENCE => coverage::squared_difference(ed, op).map(Some),
        BuiltinOperator::NEG => coverage::neg(ed, op).map(Some),
        BuiltinOperator::CAST => coverage::cast(ed, op).map(Some),
        BuiltinOperator::PACK => coverage::pack(ed, op).map(Some),
        BuiltinOperator::SPLIT | BuiltinOperator::SPLIT_V => {
            coverage::split(ed, op, code).map(Some)
        }
        BuiltinOperator::GATHER => coverage::gather(ed, op).map(Some),
        BuiltinOperator::FULLY_CONNECTED => fully_connected(ed, op),
        BuiltinOperator::MEAN => float_mean(ed, op),
        BuiltinOperator::ADD => quantized_add(ed, op),
        BuiltinOperator::CONV_2D | BuiltinOperator::DEPTHWISE_CONV_2D => {
            match hybrid_conv(ed, op, code) {
                Ok(None) => quantized_conv_activation(ed, op, code),
                other => other,
            }
        }
        _ if TRACT_BUILTINS.contains(&code) => Ok(None),
        _ => Err("no importer in tract-tflite 0.23.9".into()),
    };
    let result = result.and_then(|r| match fused_activation(op) {
        None
        | Some(
            ActivationFunctionType::NONE
            | ActivationFunctionType::RELU
            | ActivationFunctionType::RELU6,
        ) => Ok(r),
        Some(a) => Err(format!("fused activation {}", a.variant_name().unwrap_or("?")).into()),
    });
    match result {
        Ok(None) => {
            ed.keep_op(node);
            Support::Tract
        }
        Ok(Some(name)) => Support::Rewritten(name),
        Err(why) => Support::Unsupported(why.to_string()),
    }
}

/// The fused activation of ops that have one (tract-tflite 0.23.9 imports NONE,
/// RELU and RELU6 only).
fn fused_activation(op: &tflite::Operator) -> Option<ActivationFunctionType> {
    Some(match op.builtin_options_type() {
        BuiltinOptions::Conv2DOptions => op
            .builtin_options_as_conv_2_doptions()?
            .fused_activation_function(),
        BuiltinOptions::DepthwiseConv2DOptions => op
            .builtin_options_as_depthwise_conv_2_doptions()?
            .fused_activation_function(),
        BuiltinOptions::Pool2DOptions => op
            .builtin_options_as_pool_2_doptions()?
            .fused_activation_function(),
        BuiltinOptions::FullyConnectedOptions => op
            .builtin_options_as_fully_connected_options()?
            .fused_activation_function(),
        BuiltinOptions::AddOptions => op
            .builtin_options_as_add_options()?
            .fused_activation_function(),
        BuiltinOptions::SubOptions => op
            .builtin_options_as_sub_options()?
            .fused_activation_function(),
        BuiltinOptions::MulOptions => op
            .builtin_options_as_mul_options()?
            .fused_activation_function(),
        BuiltinOptions::DivOptions => op
            .builtin_options_as_div_options()?
            .fused_activation_function(),
        BuiltinOptions::ConcatenationOptions => op
            .builtin_options_as_concatenation_options()?
            .fused_activation_function(),
        _ => return None,
    })
}

/// A quantised convolution's fused RELU/RELU6 clamps to [q(0), q(6)]; when the
/// output's quantisation range lies inside that, the clamp is a no-op, and TF's
/// converter usually calibrates it so. tract-tflite 0.23.9 still wires it as
/// element-wise Max/Min on quantised tensors, its slowest path (about half of
/// mobilenetv2-int8's time), so it is dropped; results are unchanged.
fn quantized_conv_activation(
    ed: &mut Editor,
    op: &tflite::Operator,
    code: BuiltinOperator,
) -> Result<Option<&'static str>, RewriteError> {
    let (i, o) = io(op);
    let (Some(&y), Some(&x)) = (o.first(), i.first()) else {
        return Ok(None);
    };
    let (ty, Some((scale, zp))) = (ed.tensor(y).type_(), ed.quant(y)) else {
        return Ok(None);
    };
    let (qmin, qmax) = match ty {
        TensorType::INT8 => (-128i64, 127i64),
        TensorType::UINT8 => (0, 255),
        _ => return Ok(None),
    };
    if !matches!(ed.tensor(x).type_(), TensorType::INT8 | TensorType::UINT8) {
        return Ok(None);
    }
    let q = |v: f32| zp + (v / scale).round() as i64;
    let mut c = if code == BuiltinOperator::CONV_2D {
        let o = op
            .builtin_options_as_conv_2_doptions()
            .ok_or("CONV_2D without options")?;
        ConvParams {
            padding: o.padding(),
            stride: (o.stride_h(), o.stride_w()),
            dilation: (o.dilation_h_factor(), o.dilation_w_factor()),
            depth_multiplier: None,
            act: o.fused_activation_function(),
        }
    } else {
        let o = op
            .builtin_options_as_depthwise_conv_2_doptions()
            .ok_or("DEPTHWISE_CONV_2D without options")?;
        ConvParams {
            padding: o.padding(),
            stride: (o.stride_h(), o.stride_w()),
            dilation: (o.dilation_h_factor(), o.dilation_w_factor()),
            depth_multiplier: Some(o.depth_multiplier()),
            act: o.fused_activation_function(),
        }
    };
    let no_op = match c.act {
        ActivationFunctionType::RELU => q(0.0) <= qmin,
        ActivationFunctionType::RELU6 => q(0.0) <= qmin && q(6.0) >= qmax,
        _ => false,
    };
    if !no_op {
        return Ok(None);
    }
    c.act = ActivationFunctionType::NONE;
    ed.push_op(NewOp {
        code,
        inputs: i,
        outputs: o,
        opts: Opts::Conv(c),
    });
    Ok(Some("quantized-conv-drop-noop-activation"))
}

/// tract-tflite 0.23.9 indexes tensors with an omitted optional input (-1) and
/// panics; rewrites that meet one supply a value, anything else is refused here.
fn optional_inputs(op: &tflite::Operator) -> Result<(), RewriteError> {
    if op.inputs().is_some_and(|i| i.iter().any(|i| i < 0)) {
        return Err("omitted optional input (-1), which tract-tflite 0.23.9 cannot take".into());
    }
    Ok(())
}

pub(super) fn io(op: &tflite::Operator) -> (Vec<i32>, Vec<i32>) {
    let i = op.inputs().map(|v| v.iter().collect()).unwrap_or_default();
    let o = op.outputs().map(|v| v.iter().collect()).unwrap_or_default();
    (i, o)
}

fn numel(shape: &[i32]) -> i64 {
    shape.iter().map(|&d| d as i64).product()
}

/// DEQUANTIZE of a constant (fp16 weights, or int8 weights with scales) becomes
/// the f32 constant it computes: tract-tflite 0.23.9 has no DEQUANTIZE importer.
fn dequantize_constant(
    ed: &mut Editor,
    op: &tflite::Operator,
) -> Result<&'static str, RewriteError> {
    let (i, o) = io(op);
    let (&[x], &[y]) = (&i[..], &o[..]) else {
        return Err("DEQUANTIZE needs 1 input, 1 output".into());
    };
    if ed.const_data(x).is_none() {
        return Err("DEQUANTIZE of a computed tensor (only constants are folded)".into());
    }
    let values = dequantized_values(ed, x)?;
    let out = ed.tensor(y);
    let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let buffer = ed.add_buffer(bytes);
    ed.replace_tensor(
        y,
        NewTensor {
            name: out.name().unwrap_or("dequantized").to_owned(),
            shape: ed.shape(y),
            ty: TensorType::FLOAT32,
            buffer,
            quant: None,
            quant_of: None,
        },
    );
    Ok("dequantize-constant")
}

/// The f32 values of a constant fp16, int8 or uint8 tensor (per-tensor or per-axis
/// quantisation), as TFLite's DEQUANTIZE computes them.
pub(super) fn dequantized_values(ed: &Editor, x: i32) -> Result<Vec<f32>, RewriteError> {
    let data = ed.const_data(x).ok_or("not a constant")?;
    let t = ed.tensor(x);
    let shape = ed.shape(x);
    let n = numel(&shape) as usize;
    Ok(match t.type_() {
        TensorType::FLOAT16 if data.len() == 2 * n => data
            .chunks_exact(2)
            .map(|c| f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32())
            .collect(),
        TensorType::INT8 | TensorType::UINT8 if data.len() == n => {
            let q = t
                .quantization()
                .ok_or("quantised constant without quantisation")?;
            let (scale, zp) = (
                q.scale().ok_or("no scale")?,
                q.zero_point().ok_or("no zero point")?,
            );
            if scale.is_empty() || scale.len() != zp.len() {
                return Err("inconsistent scale / zero point".into());
            }
            let axis = q.quantized_dimension() as usize;
            // Elements per step of the quantised axis (1 scale per tensor otherwise).
            let inner: usize = shape
                .get(axis + 1..)
                .unwrap_or(&[])
                .iter()
                .map(|&d| d as usize)
                .product();
            let signed = t.type_() == TensorType::INT8;
            data.iter()
                .enumerate()
                .map(|(ix, &b)| {
                    let c = if scale.len() == 1 {
                        0
                    } else {
                        (ix / inner.max(1)) % scale.len()
                    };
                    let q = if signed { b as i8 as f32 } else { b as f32 };
                    (q - zp.get(c) as f32) * scale.get(c)
                })
                .collect()
        }
        other => {
            return Err(format!(
                "constant of type {other:?} with {} bytes for {n} elements",
                data.len()
            )
            .into());
        }
    })
}

/// An f32 constant holding the dequantised values of constant `w`.
pub(super) fn float_constant(ed: &mut Editor, w: i32) -> Result<i32, RewriteError> {
    let values = dequantized_values(ed, w)?;
    let name = format!("{}.f32", ed.tensor(w).name().unwrap_or("weights"));
    let shape = ed.shape(w);
    Ok(ed.add_const_f32(name, shape, &values))
}

fn is_hybrid(ed: &Editor, x: i32, w: i32) -> bool {
    ed.tensor(x).type_() == TensorType::FLOAT32
        && matches!(ed.tensor(w).type_(), TensorType::INT8 | TensorType::UINT8)
}

/// Hybrid ("dynamic range") CONV_2D / DEPTHWISE_CONV_2D: float activations with
/// int8 weights, which tract-tflite 0.23.9 rejects. The weights are dequantised
/// once at load and the convolution runs in f32 (TFLite's hybrid kernels quantise
/// activations on the fly instead, so they are the less exact of the two).
fn hybrid_conv(
    ed: &mut Editor,
    op: &tflite::Operator,
    code: BuiltinOperator,
) -> Result<Option<&'static str>, RewriteError> {
    let (mut i, o) = io(op);
    if i.len() < 2 || !is_hybrid(ed, i[0], i[1]) {
        return Ok(None);
    }
    i[1] = float_constant(ed, i[1])?;
    ed.push_op(NewOp {
        code,
        inputs: i,
        outputs: o,
        opts: ed.original_opts(op),
    });
    Ok(Some("hybrid-weights-to-f32"))
}

/// QUANTIZE (float to int8/uint8) and DEQUANTIZE of a computed tensor: tract-tflite
/// 0.23.9 imports neither, and none of the ops it imports converts between float and
/// quantised types. The graph is cut there (x becomes an extra output, y an extra
/// input) and `super::splice` joins the halves after import with tract-core's
/// Cast, which quantises (round, add zero point, saturate) or dequantises.
fn cut_at_conversion(ed: &mut Editor, op: &tflite::Operator) -> Result<&'static str, RewriteError> {
    let (i, o) = io(op);
    let (&[x], &[y]) = (&i[..], &o[..]) else {
        return Err("(DE)QUANTIZE needs 1 input, 1 output".into());
    };
    let quantised = |t: TensorType| matches!(t, TensorType::INT8 | TensorType::UINT8);
    let (tx, ty) = (ed.tensor(x).type_(), ed.tensor(y).type_());
    let (q, name) = match (tx, ty) {
        (TensorType::FLOAT32, t) if quantised(t) => (y, "quantize-cut"),
        (t, TensorType::FLOAT32) if quantised(t) => (x, "dequantize-cut"),
        // Requantisation (QUANTIZE from int8/uint8 to other parameters): tract's
        // Cast between quantised types rescales (and rounds) it.
        (a, b) if quantised(a) && quantised(b) => {
            if ed.quant(x).is_none() || ed.quant(y).is_none() {
                return Err("requantisation with per-channel parameters".into());
            }
            ed.cut(x, y);
            return Ok("requantize-cut");
        }
        _ => return Err(format!("conversion from {tx:?} to {ty:?}").into()),
    };
    if ed.quant(q).is_none() {
        let (scales, zero_points, axis) = per_axis(ed, q)?;
        // tract-tflite 0.23.9 drops subgraph inputs with per-axis parameters (and
        // would give the tensor only the first channel's), so the cut carries the
        // raw integers and the op here applies the parameters.
        let t = ed.tensor(q);
        let raw = NewTensor {
            name: t.name().unwrap_or("quantized").to_owned(),
            shape: ed.shape(q),
            ty: t.type_(),
            buffer: 0,
            quant: None,
            quant_of: None,
        };
        ed.replace_tensor(q, raw);
        ed.cut_op(
            vec![x],
            vec![y],
            Cut::PerAxis {
                quantize: q == y,
                scales,
                zero_points,
                axis,
            },
        );
        return Ok(if q == y {
            "quantize-per-axis-op"
        } else {
            "dequantize-per-axis-op"
        });
    }
    ed.cut(x, y);
    Ok(name)
}

/// The per-axis (scales, zero points, axis) of tensor `t`, checked against its shape.
fn per_axis(ed: &Editor, t: i32) -> Result<(Vec<f32>, Vec<i64>, usize), RewriteError> {
    let q = ed
        .tensor(t)
        .quantization()
        .ok_or("(de)quantised activation without quantisation")?;
    let (s, z) = (
        q.scale().ok_or("no scales")?,
        q.zero_point().ok_or("no zero points")?,
    );
    let axis = q.quantized_dimension() as usize;
    let shape = ed.shape(t);
    if s.len() != z.len() || shape.get(axis).copied() != Some(s.len() as i32) {
        return Err(format!(
            "{} scales / {} zero points for axis {axis} of {shape:?}",
            s.len(),
            z.len()
        )
        .into());
    }
    Ok((s.iter().collect(), z.iter().collect(), axis))
}

/// PRELU(x, a) = RELU(x) + a * MINIMUM(x, 0): exact in f32 (one term is 0), and all
/// four ops import in tract-tflite 0.23.9, which has no PRELU.
fn prelu(ed: &mut Editor, op: &tflite::Operator) -> Result<&'static str, RewriteError> {
    let (i, o) = io(op);
    let (&[x, alpha], &[y]) = (&i[..], &o[..]) else {
        return Err("PRELU needs 2 inputs, 1 output".into());
    };
    if ed.tensor(x).type_() != TensorType::FLOAT32 {
        return Err("quantised PRELU".into());
    }
    emit_float_prelu(ed, x, alpha, y);
    Ok("prelu")
}

/// The four float ops of [`prelu`], from f32 tensor `x` and `alpha` into `y`.
pub(super) fn emit_float_prelu(ed: &mut Editor, x: i32, alpha: i32, y: i32) {
    let shape = ed.shape(y);
    let zero = ed.add_const_f32(format!("{}.zero", ed.name(y)), vec![], &[0.0]);
    let pos = ed.add_f32(y, "pos", shape.clone());
    let neg = ed.add_f32(y, "neg", shape.clone());
    let scaled = ed.add_f32(y, "scaled", shape);
    ed.push_op(NewOp {
        code: BuiltinOperator::RELU,
        inputs: vec![x],
        outputs: vec![pos],
        opts: Opts::None,
    });
    ed.push_op(NewOp {
        code: BuiltinOperator::MINIMUM,
        inputs: vec![x, zero],
        outputs: vec![neg],
        opts: Opts::MaxMin,
    });
    ed.push_op(NewOp {
        code: BuiltinOperator::MUL,
        inputs: vec![neg, alpha],
        outputs: vec![scaled],
        opts: Opts::Mul(ActivationFunctionType::NONE),
    });
    ed.push_op(NewOp {
        code: BuiltinOperator::ADD,
        inputs: vec![pos, scaled],
        outputs: vec![y],
        opts: Opts::Add(ActivationFunctionType::NONE),
    });
}

/// tract-tflite 0.23.9 takes FULLY_CONNECTED only with a 2-D input, 2-D output, a
/// bias, and weights of the input's type; TFLite flattens any input to [-1, K].
/// Reshape around it, supply a zero bias when omitted (float only), and dequantise
/// int8 weights of a hybrid (float activations) layer at load.
fn fully_connected(
    ed: &mut Editor,
    op: &tflite::Operator,
) -> Result<Option<&'static str>, RewriteError> {
    let (i, o) = io(op);
    let (&[x, w, ref rest @ ..], &[y]) = (&i[..], &o[..]) else {
        return Err("FULLY_CONNECTED needs 2 or 3 inputs, 1 output".into());
    };
    let bias = rest.first().copied().unwrap_or(-1);
    if x < 0 || w < 0 {
        return Err("FULLY_CONNECTED without input or weights".into());
    }
    let (xs, ws, ys) = (ed.shape(x), ed.shape(w), ed.shape(y));
    let quantized = matches!(ed.tensor(x).type_(), TensorType::INT8 | TensorType::UINT8);
    let per_channel = ed
        .tensor(w)
        .quantization()
        .and_then(|q| q.scale())
        .is_some_and(|s| s.len() > 1);
    if quantized && per_channel {
        return fc_as_conv(ed, op, [x, w, bias, y]).map(Some);
    }
    let hybrid = is_hybrid(ed, x, w);
    if xs.len() == 2 && ys.len() == 2 && bias >= 0 && !hybrid {
        return Ok(None);
    }
    let w = if hybrid { float_constant(ed, w)? } else { w };
    let float = ed.tensor(x).type_() == TensorType::FLOAT32;
    if ws.len() != 2 || (bias < 0 && !float) {
        return Err("FULLY_CONNECTED with this weight shape / missing quantised bias".into());
    }
    let (outs, k) = (ws[0], ws[1]);
    if k <= 0 || numel(&xs) % k as i64 != 0 {
        return Err(format!("FULLY_CONNECTED input {xs:?} does not flatten to [-1, {k}]").into());
    }
    let m = (numel(&xs) / k as i64) as i32;
    let bias = if bias >= 0 {
        bias
    } else {
        ed.add_const_f32(
            format!("{}.zero_bias", ed.tensor(y).name().unwrap_or("fc")),
            vec![outs],
            &vec![0.0; outs as usize],
        )
    };
    let x2 = if xs.len() == 2 {
        x
    } else {
        flatten_input(ed, x, [m, k])
    };
    let y2 = if ys.len() == 2 {
        y
    } else {
        let t = derived_tensor(ed, y, vec![m, outs], "flat", 0);
        ed.add_tensor(t)
    };
    ed.push_op(NewOp {
        code: BuiltinOperator::FULLY_CONNECTED,
        inputs: vec![x2, w, bias],
        outputs: vec![y2],
        opts: ed.original_opts(op),
    });
    if y2 != y {
        let shape = ed.add_const_i32(
            format!("{}.shape", ed.tensor(y).name().unwrap_or("fc")),
            &ys,
        );
        ed.push_op(NewOp {
            code: BuiltinOperator::RESHAPE,
            inputs: vec![y2, shape],
            outputs: vec![y],
            opts: Opts::Reshape,
        });
    }
    Ok(Some("fully-connected"))
}

/// A new tensor of `t`'s type and quantisation with another `shape`, named
/// after it with `suffix`; `buffer` 0 is none (computed), else its data's.
fn derived_tensor(ed: &Editor, t: i32, shape: Vec<i32>, suffix: &str, buffer: u32) -> NewTensor {
    let src = ed.tensor(t);
    NewTensor {
        name: format!("{}.{suffix}", src.name().unwrap_or("fc")),
        shape,
        ty: src.type_(),
        buffer,
        quant: None,
        quant_of: Some(t),
    }
}

/// `x` reshaped to `[m, k]` (a new tensor and a RESHAPE before the op).
fn flatten_input(ed: &mut Editor, x: i32, [m, k]: [i32; 2]) -> i32 {
    let shape = ed.add_const_i32(
        format!("{}.flat_shape", ed.tensor(x).name().unwrap_or("fc")),
        &[m, k],
    );
    let t = derived_tensor(ed, x, vec![m, k], "flat", 0);
    let x2 = ed.add_tensor(t);
    ed.push_op(NewOp {
        code: BuiltinOperator::RESHAPE,
        inputs: vec![x, shape],
        outputs: vec![x2],
        opts: Opts::Reshape,
    });
    x2
}

/// Per-channel int8 FULLY_CONNECTED: tract-tflite 0.23.9 wires it as an EinSum that
/// wants one weight scale. As a 1x1 CONV_2D over a [1, 1, M, K] view of the input
/// (whose per-channel path works), with the weights' bytes and quantisation reused
/// under the shape [O, 1, 1, K].
fn fc_as_conv(
    ed: &mut Editor,
    op: &tflite::Operator,
    [x, w, bias, y]: [i32; 4],
) -> Result<&'static str, RewriteError> {
    if bias < 0 {
        return Err("per-channel int8 FULLY_CONNECTED without bias".into());
    }
    let (xs, ws, ys) = (ed.shape(x), ed.shape(w), ed.shape(y));
    let act = op
        .builtin_options_as_fully_connected_options()
        .ok_or("FULLY_CONNECTED without its options")?
        .fused_activation_function();
    let &[outs, k] = &ws[..] else {
        return Err(format!("FULLY_CONNECTED weights of shape {ws:?}").into());
    };
    if k <= 0 || numel(&xs) % k as i64 != 0 {
        return Err(format!("FULLY_CONNECTED input {xs:?} does not flatten to [-1, {k}]").into());
    }
    let m = (numel(&xs) / k as i64) as i32;
    let view = |ed: &Editor, t: i32, shape: Vec<i32>, buffer: u32| {
        derived_tensor(ed, t, shape, "conv", buffer)
    };
    let shape = ed.add_const_i32(
        format!("{}.conv_shape", ed.tensor(x).name().unwrap_or("fc")),
        &[1, 1, m, k],
    );
    let t = view(ed, x, vec![1, 1, m, k], 0);
    let x4 = ed.add_tensor(t);
    ed.push_op(NewOp {
        code: BuiltinOperator::RESHAPE,
        inputs: vec![x, shape],
        outputs: vec![x4],
        opts: Opts::Reshape,
    });
    let t = view(ed, w, vec![outs, 1, 1, k], ed.tensor(w).buffer());
    let w4 = ed.add_tensor(t);
    let t = view(ed, y, vec![1, 1, m, outs], 0);
    let y4 = ed.add_tensor(t);
    ed.push_op(NewOp {
        code: BuiltinOperator::CONV_2D,
        inputs: vec![x4, w4, bias],
        outputs: vec![y4],
        opts: Opts::Conv1x1(act),
    });
    let shape = ed.add_const_i32(
        format!("{}.shape", ed.tensor(y).name().unwrap_or("fc")),
        &ys,
    );
    ed.push_op(NewOp {
        code: BuiltinOperator::RESHAPE,
        inputs: vec![y4, shape],
        outputs: vec![y],
        opts: Opts::Reshape,
    });
    Ok("fully-connected-per-channel-as-conv")
}

/// tract-tflite 0.23.9 imports MEAN as a sum scaled by a `quant::scale` that rounds
/// float results to integers. Float MEAN becomes SUM then MUL by 1/N.
fn float_mean(
    ed: &mut Editor,
    op: &tflite::Operator,
) -> Result<Option<&'static str>, RewriteError> {
    let (i, o) = io(op);
    let (&[x, axes], &[y]) = (&i[..], &o[..]) else {
        return Err("MEAN needs 2 inputs, 1 output".into());
    };
    if ed.tensor(x).type_() != TensorType::FLOAT32 {
        return Ok(None);
    }
    let axes_data = ed.const_data(axes).ok_or("MEAN over computed axes")?;
    let xs = ed.shape(x);
    let rank = xs.len() as i32;
    let mut n = 1i64;
    let mut seen = vec![];
    for c in axes_data.chunks_exact(4) {
        let a = i32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        let a = if a < 0 { a + rank } else { a };
        if a < 0 || a >= rank {
            return Err(format!("MEAN axis {a} out of range for rank {rank}").into());
        }
        if !seen.contains(&a) {
            seen.push(a);
            n *= xs[a as usize] as i64;
        }
    }
    let ys = ed.shape(y);
    let sum = ed.add_f32(y, "sum", ys);
    let recip = ed.add_const_f32(
        format!("{}.recip_n", ed.tensor(y).name().unwrap_or("mean")),
        vec![],
        &[1.0 / n as f32],
    );
    ed.push_op(NewOp {
        code: BuiltinOperator::SUM,
        inputs: vec![x, axes],
        outputs: vec![sum],
        opts: ed.original_opts(op),
    });
    ed.push_op(NewOp {
        code: BuiltinOperator::MUL,
        inputs: vec![sum, recip],
        outputs: vec![y],
        opts: Opts::Mul(ActivationFunctionType::NONE),
    });
    Ok(Some("float-mean"))
}

/// tract-tflite 0.23.9 imports a quantised ADD only when both inputs share scale and
/// zero point (else "No super type"), and then ignores the output's. Each input
/// whose parameters differ from the output's is requantised to them by a 1x1
/// depthwise convolution with weight 1 (tract requantises in its convolution), then
/// the ADD runs on equal parameters, which tract computes exactly. An input whose
/// range exceeds the output's saturates there, as the sum would in TFLite.
fn quantized_add(
    ed: &mut Editor,
    op: &tflite::Operator,
) -> Result<Option<&'static str>, RewriteError> {
    let (i, o) = io(op);
    let (&[a, b], &[y]) = (&i[..], &o[..]) else {
        return Err("ADD needs 2 inputs, 1 output".into());
    };
    let ty = ed.tensor(y).type_();
    if ty != TensorType::INT8 && ty != TensorType::UINT8 {
        return Ok(None);
    }
    let out_q = ed
        .quant(y)
        .ok_or("ADD with per-channel or missing output quantisation")?;
    let (qa, qb) = (ed.quant(a), ed.quant(b));
    if qa == Some(out_q) && qb == Some(out_q) {
        return Ok(None);
    }
    let mut inputs = vec![];
    for x in [a, b] {
        let qx = ed
            .quant(x)
            .ok_or("ADD input with per-channel or missing quantisation")?;
        if qx == out_q || ed.tensor(x).type_() != ty {
            if qx != out_q {
                return Err("ADD of mixed int8/uint8 inputs".into());
            }
            inputs.push(x);
            continue;
        }
        let t = requantize_1x1(ed, x, ty, qx, out_q)?;
        inputs.push(t);
    }
    ed.push_op(NewOp {
        code: BuiltinOperator::ADD,
        inputs,
        outputs: vec![y],
        opts: ed.original_opts(op),
    });
    Ok(Some("quantized-add-requantize"))
}

/// `x` (type `ty`, parameters `qx`) requantised to `out_q` by a 1x1 depthwise
/// convolution with weight 1, as a new tensor of `x`'s shape.
fn requantize_1x1(
    ed: &mut Editor,
    x: i32,
    ty: TensorType,
    qx: (f32, i64),
    out_q: (f32, i64),
) -> Result<i32, RewriteError> {
    let shape = ed.shape(x);
    if shape.len() != 4 {
        return Err(format!(
            "quantised ADD with differing scales on a rank-{} input",
            shape.len()
        )
        .into());
    }
    let c = shape[3];
    let name = ed.tensor(x).name().unwrap_or("add_in").to_owned();
    // Weight real value 1 = (1 - 0) * 1.0, the same byte in int8 and uint8.
    let w = ed.add_const(
        format!("{name}.requant_w"),
        vec![1, 1, 1, c],
        ty,
        vec![1u8; c as usize],
        Some((1.0, 0)),
    );
    let bias = ed.add_const(
        format!("{name}.requant_b"),
        vec![c],
        TensorType::INT32,
        vec![0; 4 * c as usize],
        Some((qx.0, 0)),
    );
    let t = ed.add_tensor(NewTensor {
        name: format!("{name}.requant"),
        shape,
        ty,
        buffer: 0,
        quant: Some(out_q),
        quant_of: None,
    });
    ed.push_op(NewOp {
        code: BuiltinOperator::DEPTHWISE_CONV_2D,
        inputs: vec![x, w, bias],
        outputs: vec![t],
        opts: Opts::Depthwise1x1,
    });
    Ok(t)
}
