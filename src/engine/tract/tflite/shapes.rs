//! Declared output shapes checked against what each operator's inputs and
//! options imply, before tract-tflite sees the file.
//!
//! Why: tract-tflite 0.23.9 ignores the declared shapes of intermediate
//! tensors and computes every one itself, and tract-data 0.23.9 "broadcasts"
//! two different concrete dimensions (32 and 11) into a symbolic
//! `Broadcast(11, 32)` dimension instead of refusing them. Every operator
//! after it then builds a larger symbolic expression, simplified by search
//! over rewritings: a fuzzed copy of face_detection_short_range.tflite with
//! one DEPTHWISE_CONV_2D stride changed from 1 to 3 (32x32 -> 32x11, later
//! added to a 32x32 branch) took 65 s and 1.5 GB to load (86 ms and 176 MB
//! for the original; an overflow panic in builds with overflow checks).
//!
//! If every operator's declared output is the shape its declared inputs and
//! options imply (TFLite's rules), tract computes the declared shapes all the
//! way from the model inputs, and no such mismatch can reach a broadcast.
//! Checked here: the operators of the field models (element-wise unary and
//! binary ops, convolutions and pools, PAD, RESHAPE, CONCATENATION,
//! FULLY_CONNECTED, the reducers, (DE)QUANTIZE) and the shape-only ones
//! (SQUEEZE, EXPAND_DIMS, TRANSPOSE, SLICE, RESIZE_*, SPACE_TO_DEPTH,
//! DEPTH_TO_SPACE); other operators' declared outputs (STRIDED_SLICE,
//! GATHER, TRANSPOSE_CONV, BATCH_MATMUL, custom ops...) are trusted. A file
//! that fails the check is inconsistent (corrupt or badly edited): no TFLite
//! runtime would run it as declared either.

use tract_tflite::tflite::{self, BuiltinOperator as B, Padding, TensorType};

use super::TfliteFixError;
use super::inspect::op_name;

type Shape = Vec<i64>;

/// Why an operator's shapes cannot be what the file declares: the words after
/// "node N: OP " in the load error.
#[derive(Debug)]
struct Inconsistent(String);

impl From<String> for Inconsistent {
    fn from(why: String) -> Inconsistent {
        Inconsistent(why)
    }
}

impl From<&str> for Inconsistent {
    fn from(why: &str) -> Inconsistent {
        Inconsistent(why.to_string())
    }
}

/// An operator's implied output shape; None when not checked.
type Found = Result<Option<Shape>, Inconsistent>;

/// Refuses `op` (node `node`) when its first output's declared shape is not
/// the one its inputs and options imply, or when those cannot be combined at
/// all (a stride of 0, shapes that do not broadcast, a negative pad).
pub(super) fn check(
    model: &tflite::Model,
    sg: &tflite::SubGraph,
    node: usize,
    op: &tflite::Operator,
    code: B,
) -> Result<(), TfliteFixError> {
    let ins: Vec<i32> = op.inputs().into_iter().flatten().collect();
    let outs: Vec<i32> = op.outputs().into_iter().flatten().collect();
    let refuse =
        |why: String| TfliteFixError::Parse(format!("node {node}: {} {why}", op_name(code)));
    let c = Ctx { model, sg };
    let implied = match c.implied(op, code, &ins) {
        Ok(Some(s)) => s,
        Ok(None) => return Ok(()),
        Err(Inconsistent(why)) => return Err(refuse(why)),
    };
    let Some(&y) = outs.first().filter(|&&y| y >= 0) else {
        return Ok(());
    };
    let declared = c.shape(y);
    if declared != implied {
        let inputs: Vec<String> = ins
            .iter()
            .filter(|&&t| t >= 0)
            .map(|&t| format!("{:?}", c.shape(t)))
            .collect();
        return Err(refuse(format!(
            "output tensor {y} '{}' is declared with shape {declared:?}, but its inputs ({}) \
             and options make it {implied:?}: the file is inconsistent (corrupt?)",
            c.name(y),
            inputs.join(", ")
        )));
    }
    Ok(())
}

struct Ctx<'a, 'b> {
    model: &'b tflite::Model<'a>,
    sg: &'b tflite::SubGraph<'a>,
}

impl Ctx<'_, '_> {
    fn tensor(&self, t: i32) -> Option<tflite::Tensor<'_>> {
        let ts = self.sg.tensors()?;
        (t >= 0 && (t as usize) < ts.len()).then(|| ts.get(t as usize))
    }

    /// A tensor's declared shape; an absent shape is a scalar's.
    fn shape(&self, t: i32) -> Shape {
        self.tensor(t)
            .and_then(|t| t.shape())
            .map(|s| s.iter().map(i64::from).collect())
            .unwrap_or_default()
    }

    fn name(&self, t: i32) -> String {
        self.tensor(t)
            .and_then(|t| t.name().map(str::to_string))
            .unwrap_or_default()
    }

    /// The integers of a constant INT32 or INT64 tensor; None if computed.
    fn ints(&self, t: i32) -> Option<Vec<i64>> {
        let tensor = self.tensor(t)?;
        let b = tensor.buffer() as usize;
        let buffers = self.model.buffers()?;
        if b == 0 || b >= buffers.len() {
            return None;
        }
        let data = buffers.get(b).data()?.bytes();
        match tensor.type_() {
            TensorType::INT32 => Some(
                data.chunks_exact(4)
                    .map(|c| i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                    .collect(),
            ),
            TensorType::INT64 => Some(
                data.chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                    .collect(),
            ),
            _ => None,
        }
    }

    /// Input `k`'s declared shape.
    fn input(&self, ins: &[i32], k: usize) -> Result<Shape, Inconsistent> {
        match ins.get(k) {
            Some(&t) if t >= 0 => Ok(self.shape(t)),
            _ => Err(format!("has no input {k}").into()),
        }
    }

    /// The output shape TFLite's rules give, None for operators not checked
    /// (or whose shape depends on a computed tensor's values).
    fn implied(&self, op: &tflite::Operator, code: B, ins: &[i32]) -> Found {
        let input = |k: usize| self.input(ins, k);
        match code {
            B::ABS
            | B::CEIL
            | B::COS
            | B::ELU
            | B::EXP
            | B::FLOOR
            | B::GELU
            | B::HARD_SWISH
            | B::LEAKY_RELU
            | B::LOG
            | B::LOGICAL_NOT
            | B::LOGISTIC
            | B::NEG
            | B::RELU
            | B::RELU6
            | B::RELU_N1_TO_1
            | B::RELU_0_TO_1
            | B::ROUND
            | B::RSQRT
            | B::SIGN
            | B::SIN
            | B::SQRT
            | B::SQUARE
            | B::TANH
            | B::SOFTMAX
            | B::LOG_SOFTMAX
            | B::L2_NORMALIZATION
            | B::QUANTIZE
            | B::DEQUANTIZE
            | B::CAST => Ok(Some(input(0)?)),
            B::ADD
            | B::SUB
            | B::MUL
            | B::DIV
            | B::MAXIMUM
            | B::MINIMUM
            | B::POW
            | B::SQUARED_DIFFERENCE
            | B::FLOOR_DIV
            | B::FLOOR_MOD
            | B::EQUAL
            | B::NOT_EQUAL
            | B::LESS
            | B::LESS_EQUAL
            | B::GREATER
            | B::GREATER_EQUAL
            | B::LOGICAL_AND
            | B::LOGICAL_OR
            | B::PRELU => Ok(Some(broadcast(&input(0)?, &input(1)?)?)),
            B::SELECT_V2 => Ok(Some(broadcast(
                &broadcast(&input(0)?, &input(1)?)?,
                &input(2)?,
            )?)),
            B::CONV_2D | B::DEPTHWISE_CONV_2D => self.conv(op, code, ins),
            B::AVERAGE_POOL_2D | B::MAX_POOL_2D | B::L2_POOL_2D => self.pool(op, ins),
            B::PAD | B::PADV2 => self.pad(ins),
            B::RESHAPE => self.reshape_op(op, ins),
            B::CONCATENATION => self.concatenation(op, ins),
            B::FULLY_CONNECTED => self.fully_connected(op, ins),
            B::MEAN | B::SUM | B::REDUCE_MAX | B::REDUCE_MIN | B::REDUCE_PROD => {
                self.reduce(op, ins)
            }
            B::SQUEEZE => self.squeeze(op, ins),
            B::EXPAND_DIMS => self.expand_dims(ins),
            B::TRANSPOSE => self.transpose(ins),
            B::RESIZE_BILINEAR | B::RESIZE_NEAREST_NEIGHBOR => self.resize(ins),
            B::SPACE_TO_DEPTH | B::DEPTH_TO_SPACE => self.space_depth(op, code, ins),
            B::SLICE => self.slice(ins),
            _ => Ok(None),
        }
    }

    /// CONV_2D and DEPTHWISE_CONV_2D: NHWC data, OHWI / 1HWO filters.
    fn conv(&self, op: &tflite::Operator, code: B, ins: &[i32]) -> Found {
        let input = |k: usize| self.input(ins, k);
        let (x, w) = (input(0)?, input(1)?);
        let (padding, stride, dilation) = if code == B::CONV_2D {
            let o = op
                .builtin_options_as_conv_2_doptions()
                .ok_or("has no options")?;
            (
                o.padding(),
                (o.stride_h(), o.stride_w()),
                (o.dilation_h_factor(), o.dilation_w_factor()),
            )
        } else {
            let o = op
                .builtin_options_as_depthwise_conv_2_doptions()
                .ok_or("has no options")?;
            (
                o.padding(),
                (o.stride_h(), o.stride_w()),
                (o.dilation_h_factor(), o.dilation_w_factor()),
            )
        };
        if x.len() != 4 || w.len() != 4 {
            return Err(format!("takes rank-4 data and filter, not {x:?} and {w:?}").into());
        }
        // Filters: [out, kh, kw, in] for CONV_2D, [1, kh, kw, out] depthwise.
        let out = if code == B::CONV_2D { w[0] } else { w[3] };
        let h = spatial(x[1], w[1], stride.0, dilation.0, padding)?;
        let wd = spatial(x[2], w[2], stride.1, dilation.1, padding)?;
        Ok(Some(vec![x[0], h, wd, out]))
    }

    /// The 2-D pools: NHWC, channels kept.
    fn pool(&self, op: &tflite::Operator, ins: &[i32]) -> Found {
        let input = |k: usize| self.input(ins, k);
        let x = input(0)?;
        let o = op
            .builtin_options_as_pool_2_doptions()
            .ok_or("has no options")?;
        if x.len() != 4 {
            return Err(format!("takes rank-4 data, not {x:?}").into());
        }
        let h = spatial(x[1], o.filter_height().into(), o.stride_h(), 1, o.padding())?;
        let w = spatial(x[2], o.filter_width().into(), o.stride_w(), 1, o.padding())?;
        Ok(Some(vec![x[0], h, w, x[3]]))
    }

    /// PAD, PADV2: each axis grows by its two constant paddings.
    fn pad(&self, ins: &[i32]) -> Found {
        let input = |k: usize| self.input(ins, k);
        let x = input(0)?;
        let Some(pads) = ins.get(1).and_then(|&t| self.ints(t)) else {
            return Ok(None);
        };
        if pads.len() != 2 * x.len() {
            return Err(format!(
                "has {} padding values for rank-{} input {x:?}",
                pads.len(),
                x.len()
            )
            .into());
        }
        let mut y = x.clone();
        for (d, p) in y.iter_mut().zip(pads.chunks_exact(2)) {
            if p[0] < 0 || p[1] < 0 || p[0] > i64::from(i32::MAX) || p[1] > i64::from(i32::MAX) {
                return Err(format!("has padding {pads:?}: negative or too large").into());
            }
            *d += p[0] + p[1];
        }
        Ok(Some(y))
    }

    /// RESHAPE: the target from the shape input or the options, one -1 resolved.
    fn reshape_op(&self, op: &tflite::Operator, ins: &[i32]) -> Found {
        let input = |k: usize| self.input(ins, k);
        let x = input(0)?;
        let new = match ins.get(1) {
            Some(&t) if t >= 0 => self.ints(t),
            _ => op
                .builtin_options_as_reshape_options()
                .and_then(|o| o.new_shape())
                .map(|s| s.iter().map(i64::from).collect()),
        };
        let Some(new) = new else { return Ok(None) };
        Ok(Some(reshape(&x, &new)?))
    }

    /// CONCATENATION: equal off the axis, summed along it.
    fn concatenation(&self, op: &tflite::Operator, ins: &[i32]) -> Found {
        let o = op
            .builtin_options_as_concatenation_options()
            .ok_or("has no options")?;
        let shapes: Vec<Shape> = ins
            .iter()
            .filter(|&&t| t >= 0)
            .map(|&t| self.shape(t))
            .collect();
        let Some(first) = shapes.first() else {
            return Err("has no inputs".into());
        };
        let axis = axis(o.axis().into(), first.len())?;
        let mut y = first.clone();
        for s in &shapes[1..] {
            let same_off_axis = s.len() == y.len()
                && s.iter()
                    .zip(&y)
                    .enumerate()
                    .all(|(i, (a, b))| i == axis || a == b);
            if !same_off_axis {
                return Err(format!("inputs {shapes:?} differ off axis {axis}").into());
            }
            y[axis] += s[axis];
        }
        Ok(Some(y))
    }

    /// FULLY_CONNECTED: a [units, k] weight over the input flattened to rows of k.
    fn fully_connected(&self, op: &tflite::Operator, ins: &[i32]) -> Found {
        let input = |k: usize| self.input(ins, k);
        let (x, w) = (input(0)?, input(1)?);
        let keep = op
            .builtin_options_as_fully_connected_options()
            .is_some_and(|o| o.keep_num_dims());
        let [units, k] = w[..] else {
            return Err(format!("takes a rank-2 weight, not {w:?}").into());
        };
        let n = x.iter().try_fold(1i64, |acc, &d| acc.checked_mul(d));
        let Some(n) = n.filter(|_| k > 0 && !x.is_empty()).filter(|n| n % k == 0) else {
            return Err(format!("cannot apply weights {w:?} to input {x:?}").into());
        };
        if keep {
            let mut y = x.clone();
            *y.last_mut().expect("not empty") = units;
            Ok(Some(y))
        } else {
            Ok(Some(vec![n / k, units]))
        }
    }

    /// The reducers: the constant axes removed, or kept as 1.
    fn reduce(&self, op: &tflite::Operator, ins: &[i32]) -> Found {
        let input = |k: usize| self.input(ins, k);
        let x = input(0)?;
        let Some(axes) = ins.get(1).and_then(|&t| self.ints(t)) else {
            return Ok(None);
        };
        let keep = op
            .builtin_options_as_reducer_options()
            .is_some_and(|o| o.keep_dims());
        let mut reduced = vec![false; x.len()];
        for &a in &axes {
            reduced[axis(a, x.len())?] = true;
        }
        Ok(Some(
            x.iter()
                .zip(&reduced)
                .filter_map(|(&d, &r)| match (r, keep) {
                    (false, _) => Some(d),
                    (true, true) => Some(1),
                    (true, false) => None,
                })
                .collect(),
        ))
    }

    /// SQUEEZE: the named axes (all of size 1 when none is named) removed.
    fn squeeze(&self, op: &tflite::Operator, ins: &[i32]) -> Found {
        let input = |k: usize| self.input(ins, k);
        let x = input(0)?;
        let dims: Vec<i64> = op
            .builtin_options_as_squeeze_options()
            .and_then(|o| o.squeeze_dims())
            .map(|d| d.iter().map(i64::from).collect())
            .unwrap_or_default();
        let mut gone = vec![dims.is_empty(); x.len()];
        for &a in &dims {
            gone[axis(a, x.len())?] = true;
        }
        let mut y = vec![];
        for (&d, &g) in x.iter().zip(&gone) {
            if !g || (d != 1 && dims.is_empty()) {
                y.push(d);
            } else if d != 1 {
                return Err(format!("squeezes an axis of {d} in {x:?}").into());
            }
        }
        Ok(Some(y))
    }

    /// EXPAND_DIMS: a 1 inserted at the constant axis.
    fn expand_dims(&self, ins: &[i32]) -> Found {
        let input = |k: usize| self.input(ins, k);
        let x = input(0)?;
        let Some(a) = ins.get(1).and_then(|&t| self.ints(t)) else {
            return Ok(None);
        };
        let [a] = a[..] else {
            return Err(format!("has axes {a:?}, not one axis").into());
        };
        let mut y = x.clone();
        y.insert(axis(a, x.len() + 1)?, 1);
        Ok(Some(y))
    }

    /// TRANSPOSE: the axes in the constant permutation's order.
    fn transpose(&self, ins: &[i32]) -> Found {
        let input = |k: usize| self.input(ins, k);
        let x = input(0)?;
        let Some(perm) = ins.get(1).and_then(|&t| self.ints(t)) else {
            return Ok(None);
        };
        let mut seen = vec![false; x.len()];
        let is_perm = perm.len() == x.len()
            && perm.iter().all(|&p| {
                (0..x.len() as i64).contains(&p) && !std::mem::replace(&mut seen[p as usize], true)
            });
        if !is_perm {
            return Err(format!("has permutation {perm:?} for input {x:?}").into());
        }
        Ok(Some(perm.iter().map(|&p| x[p as usize]).collect()))
    }

    /// RESIZE_*: NHWC to the constant [h, w].
    fn resize(&self, ins: &[i32]) -> Found {
        let input = |k: usize| self.input(ins, k);
        let x = input(0)?;
        let Some(size) = ins.get(1).and_then(|&t| self.ints(t)) else {
            return Ok(None);
        };
        match (&x[..], &size[..]) {
            (&[n, _, _, c], &[h, w]) if h > 0 && w > 0 => Ok(Some(vec![n, h, w, c])),
            _ => Err(format!("resizes {x:?} to {size:?}").into()),
        }
    }

    /// SPACE_TO_DEPTH and DEPTH_TO_SPACE by the block size.
    fn space_depth(&self, op: &tflite::Operator, code: B, ins: &[i32]) -> Found {
        let input = |k: usize| self.input(ins, k);
        let x = input(0)?;
        let b = i64::from(
            if code == B::SPACE_TO_DEPTH {
                op.builtin_options_as_space_to_depth_options()
                    .map(|o| o.block_size())
            } else {
                op.builtin_options_as_depth_to_space_options()
                    .map(|o| o.block_size())
            }
            .ok_or("has no options")?,
        );
        let bad = || format!("has block size {b} for input {x:?}");
        let &[n, h, w, c] = &x[..] else {
            return Err(bad().into());
        };
        if !(1..=4096).contains(&b) {
            return Err(bad().into());
        }
        if code == B::SPACE_TO_DEPTH {
            if h % b != 0 || w % b != 0 {
                return Err(bad().into());
            }
            Ok(Some(vec![n, h / b, w / b, c * b * b]))
        } else {
            if c % (b * b) != 0 {
                return Err(bad().into());
            }
            Ok(Some(vec![n, h * b, w * b, c / (b * b)]))
        }
    }

    /// SLICE: the constant sizes (-1 = to the end) from the constant begins.
    fn slice(&self, ins: &[i32]) -> Found {
        let input = |k: usize| self.input(ins, k);
        let x = input(0)?;
        let (Some(begin), Some(size)) = (
            ins.get(1).and_then(|&t| self.ints(t)),
            ins.get(2).and_then(|&t| self.ints(t)),
        ) else {
            return Ok(None);
        };
        let bad = || format!("slices {x:?} at {begin:?} by {size:?}");
        if begin.len() != x.len() || size.len() != x.len() {
            return Err(bad().into());
        }
        let mut y = vec![];
        for ((&d, &b), &s) in x.iter().zip(&begin).zip(&size) {
            let s = if s == -1 { d - b } else { s };
            if b < 0 || s < 0 || b.checked_add(s).is_none_or(|e| e > d) {
                return Err(bad().into());
            }
            y.push(s);
        }
        Ok(Some(y))
    }
}

/// An axis in `0..rank`, negative ones counted from the end.
fn axis(a: i64, rank: usize) -> Result<usize, Inconsistent> {
    let r = rank as i64;
    let a2 = if a < 0 { a + r } else { a };
    if (0..r).contains(&a2) {
        Ok(a2 as usize)
    } else {
        Err(format!("has axis {a} for a rank-{rank} input").into())
    }
}

/// NumPy broadcasting, as TFLite's element-wise operators do it.
fn broadcast(a: &[i64], b: &[i64]) -> Result<Shape, Inconsistent> {
    let n = a.len().max(b.len());
    let at = |s: &[i64], i: usize| {
        if i < n - s.len() {
            1
        } else {
            s[i - (n - s.len())]
        }
    };
    (0..n)
        .map(|i| match (at(a, i), at(b, i)) {
            (x, y) if x == y => Ok(x),
            (1, y) => Ok(y),
            (x, 1) => Ok(x),
            _ => {
                Err(format!("has inputs of shapes {a:?} and {b:?}, which do not broadcast").into())
            }
        })
        .collect()
}

/// Output size of one spatial axis (TFLite's `ComputeOutSize`).
fn spatial(
    input: i64,
    kernel: i64,
    stride: i32,
    dilation: i32,
    padding: Padding,
) -> Result<i64, Inconsistent> {
    if stride < 1 || dilation < 1 || kernel < 1 || input < 0 {
        return Err(format!(
            "has stride {stride}, dilation {dilation}, kernel {kernel} on an axis of {input}"
        )
        .into());
    }
    let (stride, dilation) = (i64::from(stride), i64::from(dilation));
    let field = (kernel - 1)
        .checked_mul(dilation)
        .and_then(|f| f.checked_add(1))
        .ok_or_else(|| format!("has a kernel {kernel} x dilation {dilation} too large"))?;
    Ok(match padding {
        Padding::SAME => (input + stride - 1) / stride,
        Padding::VALID if input >= field => (input - field) / stride + 1,
        Padding::VALID => {
            return Err(format!(
                "has a {field}-wide kernel (dilated) on an axis of {input} with VALID padding"
            )
            .into());
        }
        _ => return Err(format!("has unknown padding {}", padding.0).into()),
    })
}

/// RESHAPE's target with its one -1 resolved; the element counts must agree.
fn reshape(x: &[i64], new: &[i64]) -> Result<Shape, Inconsistent> {
    let count = |s: &[i64]| s.iter().try_fold(1i64, |acc, &d| acc.checked_mul(d));
    let n = count(x).ok_or_else(|| format!("has input {x:?}: too many elements"))?;
    let wild = new.iter().filter(|&&d| d == -1).count();
    if wild > 1 || new.iter().any(|&d| d < -1) {
        return Err(format!("has target shape {new:?}").into());
    }
    let known = count(
        &new.iter()
            .map(|&d| if d == -1 { 1 } else { d })
            .collect::<Vec<_>>(),
    )
    .ok_or_else(|| format!("has target shape {new:?}: too many elements"))?;
    let y: Shape = if wild == 1 {
        if known == 0 || n % known != 0 {
            return Err(format!("cannot reshape {x:?} ({n} elements) to {new:?}").into());
        }
        new.iter()
            .map(|&d| if d == -1 { n / known } else { d })
            .collect()
    } else {
        new.to_vec()
    };
    if count(&y) != Some(n) {
        return Err(format!("cannot reshape {x:?} ({n} elements) to {new:?}").into());
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tflite_shape_rules() {
        assert_eq!(
            broadcast(&[1, 32, 32, 42], &[42]).unwrap(),
            vec![1, 32, 32, 42]
        );
        assert_eq!(broadcast(&[4, 1], &[1, 3]).unwrap(), vec![4, 3]);
        assert!(broadcast(&[1, 32, 32, 42], &[1, 32, 11, 42]).is_err());
        assert_eq!(spatial(32, 3, 1, 1, Padding::SAME).unwrap(), 32);
        assert_eq!(spatial(32, 3, 3, 1, Padding::SAME).unwrap(), 11);
        assert_eq!(spatial(32, 3, 2, 1, Padding::VALID).unwrap(), 15);
        assert_eq!(spatial(7, 3, 1, 2, Padding::VALID).unwrap(), 3);
        assert!(spatial(32, 3, 0, 1, Padding::SAME).is_err());
        assert!(spatial(2, 3, 1, 1, Padding::VALID).is_err());
        assert_eq!(reshape(&[1, 4, 4, 2], &[1, -1]).unwrap(), vec![1, 32]);
        assert_eq!(reshape(&[1, 4, 4, 2], &[2, 16]).unwrap(), vec![2, 16]);
        assert!(reshape(&[1, 4, 4, 2], &[3, -1]).is_err());
        assert!(reshape(&[1, 4, 4, 2], &[-1, -1]).is_err());
        assert_eq!(axis(-1, 4).unwrap(), 3);
        assert!(axis(4, 4).is_err());
    }
}
