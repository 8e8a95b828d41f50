//! edgemark's own tract ops, for operators that no operator tract-tflite 0.23.9
//! imports can express, and [`Cut`], which names the op that joins a graph cut.
//!
//! tract-tflite's op registry is private, so these cannot be registered as
//! importers. Instead the rewrite pass takes the operator out of the flatbuffer
//! (its inputs become extra subgraph outputs, its outputs extra inputs) and
//! [`super::splice`] wires the op here between them after import.
//!
//! The MediaPipe ops follow the semantics of MediaPipe's TFLite kernels
//! (`mediapipe/util/tflite/operations/`), float32 only as those are, written
//! from their documented behaviour; each has a test against a reference
//! written independently in `coverage_tests.rs`.

use super::rewrite_error::RewriteError;
use tract_tflite::internal::*;

/// What joins a graph cut after import (see [`super::splice`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Cut {
    /// QUANTIZE, DEQUANTIZE and requantisation: tract-core's Cast to the type
    /// tract-tflite gave the cut's output tensor (float <-> int8/uint8, or int8 to
    /// int8 with other scale and zero point).
    Cast,
    /// QUANTIZE / DEQUANTIZE of an activation with per-axis parameters.
    PerAxis {
        quantize: bool,
        scales: Vec<f32>,
        zero_points: Vec<i64>,
        axis: usize,
    },
    /// MediaPipe `MaxPoolingWithArgmax2D`.
    MaxPoolArgmax(Pool),
    /// MediaPipe `MaxUnpooling2D`.
    MaxUnpool(Pool),
    /// MediaPipe `TransformTensorBilinear` (v2: align-corners correction).
    TransformTensorBilinear { v2: bool },
    /// MediaPipe `TransformLandmarks`.
    TransformLandmarks(TransformLandmarks),
    /// MediaPipe `Landmarks2TransformMatrix`.
    Landmarks2TransformMatrix(Box<Landmarks2TransformMatrix>),
    /// `TFLite_Detection_PostProcess` (SSD / EfficientDet box decoding and
    /// non-max suppression; a custom op LiteRT's builtin resolver registers).
    DetectionPostProcess(Box<DetectionPostProcess>),
}

impl Cut {
    pub fn name(&self) -> &'static str {
        match self {
            Cut::Cast => "cast",
            Cut::PerAxis { .. } => "per_axis_quant",
            Cut::MaxPoolArgmax(_) => "max_pool_argmax",
            Cut::MaxUnpool(_) => "max_unpool",
            Cut::TransformTensorBilinear { .. } => "transform_tensor_bilinear",
            Cut::TransformLandmarks(_) => "transform_landmarks",
            Cut::Landmarks2TransformMatrix(_) => "landmarks_to_transform_matrix",
            Cut::DetectionPostProcess(_) => "detection_postprocess",
        }
    }

    /// Wires the op on `inputs` (the cut operator's inputs, as imported); `facts`
    /// are the facts tract-tflite gave its outputs. The results must match them.
    pub(crate) fn wire(
        &self,
        model: &mut TypedModel,
        name: &str,
        inputs: &[OutletId],
        facts: &[TypedFact],
    ) -> TractResult<TVec<OutletId>> {
        use tract_tflite::internal::tract_core::ops::cast::cast;
        let op: Box<dyn TypedOp> = match self {
            Cut::Cast => Box::new(cast(facts[0].datum_type)),
            Cut::PerAxis {
                quantize,
                scales,
                zero_points,
                axis,
            } => Box::new(PerAxisQuant {
                quantize: *quantize,
                scales: scales.clone(),
                zero_points: zero_points.clone(),
                axis: *axis,
                out_dt: facts[0].datum_type,
            }),
            Cut::MaxPoolArgmax(p) => Box::new(MaxPoolArgmax(*p)),
            Cut::MaxUnpool(p) => Box::new(MaxUnpool(*p)),
            Cut::TransformTensorBilinear { v2 } => Box::new(TransformTensorBilinear {
                v2: *v2,
                out_shape: concrete(&facts[0])?,
            }),
            Cut::TransformLandmarks(t) => Box::new(t.clone()),
            Cut::Landmarks2TransformMatrix(l) => Box::new((**l).clone()),
            Cut::DetectionPostProcess(d) => Box::new((**d).clone()),
        };
        model.wire_node(name, op, inputs)
    }
}

fn concrete(fact: &TypedFact) -> TractResult<TVec<usize>> {
    fact.shape
        .as_concrete()
        .map(|s| s.iter().copied().collect())
        .ok_or_else(|| format_err!("symbolic shape {:?}", fact.shape))
}

fn f32_input(t: &TValue) -> TractResult<Vec<f32>> {
    ensure!(t.datum_type() == f32::datum_type(), "f32 input expected");
    Ok(t.try_as_plain_ram()?.as_slice::<f32>()?.to_vec())
}

fn f32_output(shape: &[usize], data: Vec<f32>) -> TractResult<TValue> {
    Ok(Tensor::from_shape(shape, &data)?.into_tvalue())
}

fn f32_fact_check(inputs: &[&TypedFact], n: usize, rank: usize) -> TractResult<TVec<usize>> {
    ensure!(
        inputs.len() == n,
        "expected {n} inputs, got {}",
        inputs.len()
    );
    for i in inputs {
        ensure!(i.datum_type == f32::datum_type(), "f32 inputs only");
    }
    let shape = concrete(inputs[0])?;
    ensure!(
        shape.len() == rank,
        "rank {rank} input expected, got {shape:?}"
    );
    Ok(shape)
}

/// TFLite's fused activation as a clamp (`CalculateActivationRange`): RELU,
/// RELU6 and RELU_N1_TO_1 clamp, any other leaves values as they are.
fn activation_range(code: i32) -> (f32, f32) {
    match code {
        1 => (0.0, f32::MAX),
        2 => (-1.0, 1.0),
        3 => (0.0, 6.0),
        _ => (f32::MIN, f32::MAX),
    }
}

/// The `TfLitePoolParams` a MediaPipe pooling op carries in its custom options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pool {
    /// SAME padding (else VALID).
    pub same: bool,
    /// (height, width)
    pub stride: (usize, usize),
    /// (height, width)
    pub filter: (usize, usize),
    /// TfLiteFusedActivation code.
    pub activation: i32,
}

impl Pool {
    /// Reads the raw struct: padding, stride w, stride h, filter w, filter h,
    /// activation, as little-endian i32 (TfLitePadding: 1 SAME, 2 VALID).
    pub fn from_custom_options(bytes: &[u8]) -> Result<Pool, RewriteError> {
        if bytes.len() < 24 {
            return Err(format!(
                "custom options of {} bytes, want at least 24 (TfLitePoolParams)",
                bytes.len()
            )
            .into());
        }
        let i = |k: usize| i32::from_le_bytes(bytes[4 * k..4 * k + 4].try_into().unwrap());
        let same = match i(0) {
            1 => true,
            2 => false,
            p => return Err(format!("padding code {p}").into()),
        };
        let pos = |v: i32, what: &str| {
            (v > 0)
                .then_some(v as usize)
                .ok_or_else(|| format!("{what} {v}"))
        };
        Ok(Pool {
            same,
            stride: (pos(i(2), "stride")?, pos(i(1), "stride")?),
            filter: (pos(i(4), "filter size")?, pos(i(3), "filter size")?),
            activation: i(5),
        })
    }
}

/// TFLite's `ComputePadding` (dilation 1): padding before, never negative.
fn compute_padding(stride: usize, in_size: usize, filter: usize, out_size: usize) -> i64 {
    let p = ((out_size as i64 - 1) * stride as i64 + filter as i64 - in_size as i64) / 2;
    p.max(0)
}

fn pool_out_size(same: bool, size: usize, filter: usize, stride: usize) -> TractResult<usize> {
    let out = if same {
        size.div_ceil(stride) as i64
    } else {
        (size as i64 - filter as i64 + stride as i64) / stride as i64
    };
    ensure!(out > 0, "pooling window larger than the input");
    Ok(out as usize)
}

/// Max pooling over NHWC that also outputs, per output element, where the
/// maximum sits inside its window (`y * filter_w + x`, as f32 with 0.1 added so
/// that truncation reads it back), the first maximum in row-major order winning.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MaxPoolArgmax(pub Pool);

impl MaxPoolArgmax {
    fn out_shape(&self, s: &[usize]) -> TractResult<[usize; 4]> {
        let p = &self.0;
        Ok([
            s[0],
            pool_out_size(p.same, s[1], p.filter.0, p.stride.0)?,
            pool_out_size(p.same, s[2], p.filter.1, p.stride.1)?,
            s[3],
        ])
    }
}

impl Op for MaxPoolArgmax {
    fn name(&self) -> StaticName {
        "MaxPoolingWithArgmax2D".into()
    }
    fn as_typed(&self) -> Option<&dyn TypedOp> {
        Some(self)
    }
}

impl EvalOp for MaxPoolArgmax {
    fn eval_out_of_plan(&self, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
        Ok(Some(self.eval(&EvalContext::out_of_plan(), inputs)?))
    }

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let s: TVec<usize> = inputs[0].shape().into();
        let x = f32_input(&inputs[0])?;
        let o = self.out_shape(&s)?;
        let p = &self.0;
        let (h, w, c) = (s[1] as i64, s[2] as i64, s[3]);
        let pad_h = compute_padding(p.stride.0, s[1], p.filter.0, o[1]);
        let pad_w = compute_padding(p.stride.1, s[2], p.filter.1, o[2]);
        let (lo, hi) = activation_range(p.activation);
        let n_out = o.iter().product();
        let (mut out, mut idx) = (vec![0f32; n_out], vec![0f32; n_out]);
        let (fh, fw) = (p.filter.0 as i64, p.filter.1 as i64);
        for b in 0..s[0] {
            for oy in 0..o[1] {
                for ox in 0..o[2] {
                    let y0 = oy as i64 * p.stride.0 as i64 - pad_h;
                    let x0 = ox as i64 * p.stride.1 as i64 - pad_w;
                    for ch in 0..c {
                        let (mut best, mut at) = (f32::MIN, (0i64, 0i64));
                        for fy in (-y0).max(0)..fh.min(h - y0) {
                            for fx in (-x0).max(0)..fw.min(w - x0) {
                                let i = ((b as i64 * h + y0 + fy) * w + x0 + fx) as usize * c + ch;
                                if x[i] > best {
                                    best = x[i];
                                    at = (fy, fx);
                                }
                            }
                        }
                        let k = ((b * o[1] + oy) * o[2] + ox) * c + ch;
                        out[k] = best.max(lo).min(hi);
                        idx[k] = (at.0 * fw + at.1) as f32 + 0.1;
                    }
                }
            }
        }
        Ok(tvec![f32_output(&o, out)?, f32_output(&o, idx)?])
    }
}

impl TypedOp for MaxPoolArgmax {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let s = f32_fact_check(inputs, 1, 4)?;
        let o = self.out_shape(&s)?;
        Ok(tvec![f32::fact(o), f32::fact(o)])
    }

    fn as_op(&self) -> &dyn Op {
        self
    }

    fn as_op_mut(&mut self) -> &mut dyn Op {
        self
    }
}

/// The inverse of [`MaxPoolArgmax`]: a zero NHWC tensor `filter` times larger in
/// each spatial dimension, each input value written where its index points (an
/// index pointing outside is skipped).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MaxUnpool(pub Pool);

impl Op for MaxUnpool {
    fn name(&self) -> StaticName {
        "MaxUnpooling2D".into()
    }
    fn as_typed(&self) -> Option<&dyn TypedOp> {
        Some(self)
    }
}

impl EvalOp for MaxUnpool {
    fn eval_out_of_plan(&self, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
        Ok(Some(self.eval(&EvalContext::out_of_plan(), inputs)?))
    }

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let s: TVec<usize> = inputs[0].shape().into();
        ensure!(inputs[1].shape() == &*s, "indices shape differs from data");
        let (x, ix) = (f32_input(&inputs[0])?, f32_input(&inputs[1])?);
        let p = &self.0;
        let o = [s[0], s[1] * p.filter.0, s[2] * p.filter.1, s[3]];
        let pad_h = compute_padding(p.stride.0, o[1], p.filter.0, s[1]);
        let pad_w = compute_padding(p.stride.1, o[2], p.filter.1, s[2]);
        let mut out = vec![0f32; o.iter().product()];
        let fw = p.filter.1 as i64;
        let c = s[3];
        for b in 0..s[0] {
            for y in 0..s[1] {
                for x_ in 0..s[2] {
                    for ch in 0..c {
                        let i = ((b * s[1] + y) * s[2] + x_) * c + ch;
                        // C's float-to-int conversion truncates, as `as` does.
                        let k = ix[i] as i64;
                        let oy = y as i64 * p.stride.0 as i64 - pad_h + k / fw;
                        let ox = x_ as i64 * p.stride.1 as i64 - pad_w + k % fw;
                        if (0..o[1] as i64).contains(&oy) && (0..o[2] as i64).contains(&ox) {
                            out[((b * o[1] + oy as usize) * o[2] + ox as usize) * c + ch] = x[i];
                        }
                    }
                }
            }
        }
        Ok(tvec![f32_output(&o, out)?])
    }
}

impl TypedOp for MaxUnpool {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let s = f32_fact_check(inputs, 2, 4)?;
        let p = &self.0;
        Ok(tvec![f32::fact([
            s[0],
            s[1] * p.filter.0,
            s[2] * p.filter.1,
            s[3]
        ])])
    }

    fn as_op(&self) -> &dyn Op {
        self
    }

    fn as_op_mut(&mut self) -> &mut dyn Op {
        self
    }
}

/// Bilinear resampling of the first image of an NHWC tensor through the affine
/// map in the first two rows of a 4x4 matrix: output pixel (x, y) reads input at
/// (m0 x + m1 y + m3, m4 x + m5 y + m7); 0 where that falls outside the input.
/// v2 shifts the map so pixel centres, not corners, line up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransformTensorBilinear {
    pub v2: bool,
    pub out_shape: TVec<usize>,
}

impl Op for TransformTensorBilinear {
    fn name(&self) -> StaticName {
        "TransformTensorBilinear".into()
    }
    fn as_typed(&self) -> Option<&dyn TypedOp> {
        Some(self)
    }
}

impl EvalOp for TransformTensorBilinear {
    fn eval_out_of_plan(&self, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
        Ok(Some(self.eval(&EvalContext::out_of_plan(), inputs)?))
    }

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let s: TVec<usize> = inputs[0].shape().into();
        let (x, m) = (f32_input(&inputs[0])?, f32_input(&inputs[1])?);
        ensure!(m.len() >= 8, "transform matrix of {} values", m.len());
        let o = &self.out_shape;
        let (h, w, c) = (s[1] as i64, s[2] as i64, s[3]);
        let (mut mx, mut my) = ([m[0], m[1], m[2], m[3]], [m[4], m[5], m[6], m[7]]);
        if self.v2 {
            mx[3] += mx[0] * 0.5 + mx[1] * 0.5 - 0.5;
            my[3] += my[0] * 0.5 + my[1] * 0.5 - 0.5;
        }
        let mut out = vec![0f32; o.iter().product()];
        let read = |yy: i64, xx: i64, ch: usize| -> f64 {
            if yy < 0 || xx < 0 || yy >= h || xx >= w {
                0.0
            } else {
                x[(yy * w + xx) as usize * c + ch] as f64
            }
        };
        for oy in 0..o[1] {
            for ox in 0..o[2] {
                let (fx, fy) = (ox as f32, oy as f32);
                let tx = mx[0] * fx + mx[1] * fy + mx[2] * 0.0 + mx[3];
                let ty = my[0] * fx + my[1] * fy + my[2] * 0.0 + my[3];
                if tx < 0.0 || tx > (w - 1) as f32 || ty < 0.0 || ty > (h - 1) as f32 {
                    continue;
                }
                let (x0, y0) = (tx.floor(), ty.floor());
                let (rx, ry) = ((tx - x0) as f64, (ty - y0) as f64);
                let (x0, y0) = (x0 as i64, y0 as i64);
                for ch in 0..o[3] {
                    let upper = (1.0 - rx) * read(y0, x0, ch) + rx * read(y0, x0 + 1, ch);
                    let lower = (1.0 - rx) * read(y0 + 1, x0, ch) + rx * read(y0 + 1, x0 + 1, ch);
                    out[(oy * o[2] + ox) * o[3] + ch] = (ry * lower + (1.0 - ry) * upper) as f32;
                }
            }
        }
        Ok(tvec![f32_output(o, out)?])
    }
}

impl TypedOp for TransformTensorBilinear {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let s = f32_fact_check(inputs, 2, 4)?;
        ensure!(self.out_shape.len() == 4, "output of rank 4 expected");
        ensure!(
            self.out_shape[3] == s[3],
            "output channels {} differ from input channels {}",
            self.out_shape[3],
            s[3]
        );
        ensure!(
            inputs[1].shape.volume().to_usize()? >= 8,
            "matrix too small"
        );
        Ok(tvec![f32::fact(&*self.out_shape)])
    }

    fn as_op(&self) -> &dyn Op {
        self
    }

    fn as_op_mut(&mut self) -> &mut dyn Op {
        self
    }
}

/// Applies the affine map in the first two rows of a 4x4 matrix to the (x, y) of
/// each landmark (groups of `dims` = 2 or 3 values; z is kept). v1 takes a
/// [1, H, W, C] tensor and scales the map's translation by `scale`; v2 a
/// [1, N, dims] tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct TransformLandmarks {
    pub v2: bool,
    pub dims: usize,
    pub scale: f32,
}

impl Eq for TransformLandmarks {}

impl Op for TransformLandmarks {
    fn name(&self) -> StaticName {
        "TransformLandmarks".into()
    }
    fn as_typed(&self) -> Option<&dyn TypedOp> {
        Some(self)
    }
}

impl EvalOp for TransformLandmarks {
    fn eval_out_of_plan(&self, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
        Ok(Some(self.eval(&EvalContext::out_of_plan(), inputs)?))
    }

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let s: TVec<usize> = inputs[0].shape().into();
        let (x, m) = (f32_input(&inputs[0])?, f32_input(&inputs[1])?);
        ensure!(m.len() >= 8, "transform matrix of {} values", m.len());
        let scale = if self.v2 { 1.0 } else { self.scale };
        let mx = [m[0], m[1], m[2], m[3] * scale];
        let my = [m[4], m[5], m[6], m[7] * scale];
        let mut out = x.clone();
        // Landmarks of the first batch entry only, as MediaPipe's kernel.
        let n = s[1..].iter().product::<usize>() / self.dims;
        for l in 0..n {
            let i = l * self.dims;
            let (lx, ly) = (x[i], x[i + 1]);
            out[i] = mx[0] * lx + mx[1] * ly + mx[2] * 0.0 + mx[3];
            out[i + 1] = my[0] * lx + my[1] * ly + my[2] * 0.0 + my[3];
        }
        Ok(tvec![f32_output(&s, out)?])
    }
}

impl TypedOp for TransformLandmarks {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let s = f32_fact_check(inputs, 2, if self.v2 { 3 } else { 4 })?;
        ensure!(matches!(self.dims, 2 | 3), "dimensions {}", self.dims);
        ensure!(
            s[s.len() - 1] % self.dims == 0,
            "last axis {} not a multiple of {}",
            s[s.len() - 1],
            self.dims
        );
        ensure!(
            inputs[1].shape.volume().to_usize()? >= 8,
            "matrix too small"
        );
        Ok(tvec![f32::fact(&*s)])
    }

    fn as_op(&self) -> &dyn Op {
        self
    }

    fn as_op_mut(&mut self) -> &mut dyn Op {
        self
    }
}

/// From face landmarks ([1, N, 3] for v2, [1, 1, 1, 3N] for v1) to the 4x4
/// matrix mapping an output crop's pixels to input pixels: the crop is the
/// box around `subset` landmarks, rotated so that the left-to-right landmark
/// line lies at the target angle.
#[derive(Debug, Clone, PartialEq)]
pub enum Landmarks2TransformMatrix {
    V1 {
        subset: Vec<usize>,
        left: usize,
        right: usize,
        bbox_size_multiplier: f32,
        landmarks_range: f32,
        /// (h, w)
        input_hw: (f32, f32),
        /// (h, w)
        output_hw: (f32, f32),
    },
    V2 {
        subset: Vec<usize>,
        left: usize,
        right: usize,
        target_rotation: f32,
        output_hw: (f32, f32),
        scale: (f32, f32),
    },
}

impl Eq for Landmarks2TransformMatrix {}

type M3 = [[f32; 3]; 3];

fn mul3(a: &M3, b: &M3) -> M3 {
    let mut r = [[0f32; 3]; 3];
    for (i, row) in r.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    r
}

type M4 = [[f32; 4]; 4];

fn mul4(a: &M4, b: &M4) -> M4 {
    let mut r = [[0f32; 4]; 4];
    for (i, row) in r.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (0..4).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    r
}

impl Landmarks2TransformMatrix {
    fn max_index(&self) -> usize {
        let (subset, l, r) = match self {
            Self::V1 {
                subset,
                left,
                right,
                ..
            }
            | Self::V2 {
                subset,
                left,
                right,
                ..
            } => (subset, left, right),
        };
        subset.iter().chain([l, r]).copied().max().unwrap_or(0)
    }

    fn compute(&self, lm: &[f32]) -> [f32; 16] {
        let xy = |i: usize| (lm[3 * i], lm[3 * i + 1]);
        match self {
            Self::V1 {
                subset,
                left,
                right,
                bbox_size_multiplier,
                landmarks_range,
                input_hw,
                output_hw,
            } => {
                let (l, r) = (xy(*left), xy(*right));
                let alpha = -((r.1 - l.1) / (r.0 - l.0)).atan();
                let (ca, sa) = (alpha.cos(), alpha.sin());
                let (mut max, mut min) = ((-100000f32, -100000f32), (100000f32, 100000f32));
                for &i in subset {
                    let (x, y) = xy(i);
                    let (rx, ry) = (x * ca - y * sa, x * sa + y * ca);
                    max = (max.0.max(rx), max.1.max(ry));
                    min = (min.0.min(rx), min.1.min(ry));
                }
                let bbox = (
                    (max.0 - min.0) * bbox_size_multiplier,
                    (max.1 - min.1) * bbox_size_multiplier,
                );
                let range = *landmarks_range;
                let scale = [
                    [bbox.0 / range, 0.0, 0.0],
                    [0.0, bbox.1 / range, 0.0],
                    [0.0, 0.0, 1.0],
                ];
                let mid = ((max.0 + min.0) / 2.0, (max.1 + min.1) / 2.0);
                let (cn, sn) = ((-alpha).cos(), (-alpha).sin());
                let rmid = (mid.0 * cn - mid.1 * sn, mid.0 * sn + mid.1 * cn);
                let rotation = [
                    [cn, -sn, (rmid.0 / range) * 2.0 - 1.0],
                    [sn, cn, (rmid.1 / range) * 2.0 - 1.0],
                    [0.0, 0.0, 1.0],
                ];
                let to_relative = [
                    [2.0 / (output_hw.1 - 1.0), 0.0, -1.0],
                    [0.0, 2.0 / (output_hw.0 - 1.0), -1.0],
                    [0.0, 0.0, 1.0],
                ];
                let to_absolute = [
                    [(input_hw.1 - 1.0) / 2.0, 0.0, (input_hw.1 - 1.0) / 2.0],
                    [0.0, (input_hw.0 - 1.0) / 2.0, (input_hw.0 - 1.0) / 2.0],
                    [0.0, 0.0, 1.0],
                ];
                let m = mul3(&mul3(&mul3(&to_absolute, &rotation), &scale), &to_relative);
                [
                    m[0][0], m[0][1], 0.0, m[0][2], //
                    m[1][0], m[1][1], 0.0, m[1][2], //
                    m[2][0], m[2][1], m[2][2], 0.0, //
                    0.0, 0.0, 0.0, 1.0,
                ]
            }
            Self::V2 {
                subset,
                left,
                right,
                target_rotation,
                output_hw,
                scale,
            } => {
                let (l, r) = (xy(*left), xy(*right));
                let rot = target_rotation - (r.1 - l.1).atan2(r.0 - l.0);
                let (c, s) = (rot.cos(), rot.sin());
                let pts: Vec<(f32, f32)> = subset
                    .iter()
                    .map(|&i| {
                        let (x, y) = xy(i);
                        (c * x - s * y, s * x + c * y)
                    })
                    .collect();
                let (mut max, mut min) = (pts[0], pts[0]);
                for p in &pts[1..] {
                    max = (max.0.max(p.0), max.1.max(p.1));
                    min = (min.0.min(p.0), min.1.min(p.1));
                }
                let (w, h) = (max.0 - min.0, max.1 - min.1);
                let mid = ((min.0 + max.0) / 2.0, (min.1 + max.1) / 2.0);
                let (ci, si) = ((-rot).cos(), (-rot).sin());
                let centre = (ci * mid.0 - si * mid.1, si * mid.0 + ci * mid.1);
                let shift = |x: f32, y: f32| -> M4 {
                    [
                        [1.0, 0.0, 0.0, x],
                        [0.0, 1.0, 0.0, y],
                        [0.0, 0.0, 1.0, 0.0],
                        [0.0, 0.0, 0.0, 1.0],
                    ]
                };
                let (cr, sr) = ((-rot).cos(), (-rot).sin());
                let rotation: M4 = [
                    [cr, -sr, 0.0, 0.0],
                    [sr, cr, 0.0, 0.0],
                    [0.0, 0.0, 1.0, 0.0],
                    [0.0, 0.0, 0.0, 1.0],
                ];
                let sc: M4 = [
                    [scale.0 * w / output_hw.1, 0.0, 0.0, 0.0],
                    [0.0, scale.1 * h / output_hw.0, 0.0, 0.0],
                    [0.0, 0.0, 1.0, 0.0],
                    [0.0, 0.0, 0.0, 1.0],
                ];
                let m = mul4(
                    &mul4(&mul4(&shift(centre.0, centre.1), &rotation), &sc),
                    &shift(-(output_hw.1 / 2.0), -(output_hw.0 / 2.0)),
                );
                let mut out = [0f32; 16];
                for (i, v) in out.iter_mut().enumerate() {
                    *v = m[i / 4][i % 4];
                }
                out
            }
        }
    }
}

impl Op for Landmarks2TransformMatrix {
    fn name(&self) -> StaticName {
        "Landmarks2TransformMatrix".into()
    }
    fn as_typed(&self) -> Option<&dyn TypedOp> {
        Some(self)
    }
}

impl EvalOp for Landmarks2TransformMatrix {
    fn eval_out_of_plan(&self, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
        Ok(Some(self.eval(&EvalContext::out_of_plan(), inputs)?))
    }

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let lm = f32_input(&inputs[0])?;
        ensure!(
            lm.len() >= 3 * (self.max_index() + 1),
            "landmark index {} beyond the {} values given",
            self.max_index(),
            lm.len()
        );
        Ok(tvec![f32_output(&[1, 4, 4], self.compute(&lm).to_vec())?])
    }
}

impl TypedOp for Landmarks2TransformMatrix {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let rank = if matches!(self, Self::V1 { .. }) {
            4
        } else {
            3
        };
        let s = f32_fact_check(inputs, 1, rank)?;
        ensure!(
            s.iter().product::<usize>() >= 3 * (self.max_index() + 1),
            "landmark index {} beyond the input {s:?}",
            self.max_index()
        );
        Ok(tvec![f32::fact([1, 4, 4])])
    }

    fn as_op(&self) -> &dyn Op {
        self
    }

    fn as_op_mut(&mut self) -> &mut dyn Op {
        self
    }
}

/// QUANTIZE / DEQUANTIZE with per-axis (per-channel) parameters on an activation:
/// tract-tflite 0.23.9 gives such a tensor the first channel's parameters, so the
/// raw integers are read and written here with each channel's own.
#[derive(Debug, Clone, PartialEq)]
pub struct PerAxisQuant {
    /// float -> integers (else integers -> float)
    pub quantize: bool,
    pub scales: Vec<f32>,
    pub zero_points: Vec<i64>,
    pub axis: usize,
    /// The type tract-tflite gave the output tensor.
    pub out_dt: DatumType,
}

impl Eq for PerAxisQuant {}

impl PerAxisQuant {
    fn channel(&self, shape: &[usize], i: usize) -> usize {
        let inner: usize = shape[self.axis + 1..].iter().product();
        (i / inner.max(1)) % shape[self.axis]
    }
}

impl Op for PerAxisQuant {
    fn name(&self) -> StaticName {
        if self.quantize {
            "QuantizePerAxis".into()
        } else {
            "DequantizePerAxis".into()
        }
    }
    fn as_typed(&self) -> Option<&dyn TypedOp> {
        Some(self)
    }
}

impl EvalOp for PerAxisQuant {
    fn eval_out_of_plan(&self, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
        Ok(Some(self.eval(&EvalContext::out_of_plan(), inputs)?))
    }

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let shape: TVec<usize> = inputs[0].shape().into();
        ensure!(shape.len() > self.axis && shape[self.axis] == self.scales.len());
        let n = shape.iter().product::<usize>();
        if self.quantize {
            let x = f32_input(&inputs[0])?;
            let signed = self.out_dt.unquantized() == DatumType::I8;
            let (lo, hi) = if signed { (-128, 127) } else { (0, 255) };
            let q: Vec<i64> = (0..n)
                .map(|i| {
                    let c = self.channel(&shape, i);
                    ((x[i] / self.scales[c]).round() as i64 + self.zero_points[c]).clamp(lo, hi)
                })
                .collect();
            let mut t = if signed {
                let v: Vec<i8> = q.iter().map(|&v| v as i8).collect();
                Tensor::from_shape(&shape, &v)?
            } else {
                let v: Vec<u8> = q.iter().map(|&v| v as u8).collect();
                Tensor::from_shape(&shape, &v)?
            };
            unsafe { t.set_datum_type(self.out_dt) };
            Ok(tvec![t.into_tvalue()])
        } else {
            let raw: Vec<i64> = match inputs[0].datum_type().unquantized() {
                DatumType::I8 => {
                    let mut t = inputs[0].clone().into_tensor();
                    unsafe { t.set_datum_type(DatumType::I8) };
                    let r = t.try_as_plain_ram()?.as_slice::<i8>()?.to_vec();
                    r.into_iter().map(i64::from).collect()
                }
                DatumType::U8 => {
                    let mut t = inputs[0].clone().into_tensor();
                    unsafe { t.set_datum_type(DatumType::U8) };
                    let r = t.try_as_plain_ram()?.as_slice::<u8>()?.to_vec();
                    r.into_iter().map(i64::from).collect()
                }
                dt => bail!("per-axis dequantisation of {dt:?}"),
            };
            let y: Vec<f32> = (0..n)
                .map(|i| {
                    let c = self.channel(&shape, i);
                    (raw[i] - self.zero_points[c]) as f32 * self.scales[c]
                })
                .collect();
            Ok(tvec![f32_output(&shape, y)?])
        }
    }
}

impl TypedOp for PerAxisQuant {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs.len() == 1);
        let s = concrete(inputs[0])?;
        ensure!(
            s.len() > self.axis && s[self.axis] == self.scales.len(),
            "{} per-axis parameters for axis {} of {s:?}",
            self.scales.len(),
            self.axis
        );
        Ok(tvec![self.out_dt.fact(&*s)])
    }

    fn as_op(&self) -> &dyn Op {
        self
    }

    fn as_op_mut(&mut self) -> &mut dyn Op {
        self
    }
}

/// `TFLite_Detection_PostProcess`: decodes SSD box encodings (centre-size
/// offsets scaled by `scales`, relative to `anchors`) into corners
/// (ymin, xmin, ymax, xmax), then keeps the best non-overlapping boxes:
/// "fast" NMS ranks each anchor by its best class and reports its
/// `max_classes_per_detection` best classes; "regular" NMS runs per class
/// (`detections_per_class` each) and keeps the `max_detections` best of all.
/// Inputs: box encodings [1, N, >= 4] and class scores [1, N, C] (C = classes,
/// or classes + a background column), f32 or uint8 (dequantised as LiteRT
/// does). Outputs f32: boxes [1, M, 4], classes [1, M], scores [1, M] and the
/// count [1], M = max_detections x max_classes_per_detection; slots past the
/// count are zero.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionPostProcess {
    pub max_detections: usize,
    pub max_classes_per_detection: usize,
    pub detections_per_class: usize,
    pub regular_nms: bool,
    pub score_threshold: f32,
    pub iou_threshold: f32,
    pub num_classes: usize,
    /// y, x, h, w
    pub scales: [f32; 4],
    /// Per anchor: y centre, x centre, h, w.
    pub anchors: Vec<[f32; 4]>,
}

impl Eq for DetectionPostProcess {}

impl Op for DetectionPostProcess {
    fn name(&self) -> StaticName {
        "TFLiteDetectionPostProcess".into()
    }
    fn as_typed(&self) -> Option<&dyn TypedOp> {
        Some(self)
    }
}

/// f32 values of an f32 or 8-bit quantised tensor, dequantised as
/// `(q - zero_point) * scale` in f32 (LiteRT's dequantisation).
fn dequantized(t: &TValue) -> TractResult<Vec<f32>> {
    let dt = t.datum_type();
    let view = t.try_as_plain_ram()?;
    if dt == f32::datum_type() {
        return Ok(view.as_slice::<f32>()?.to_vec());
    }
    let (zp, scale) = dt.zp_scale();
    let q = |v: f32| (v - zp as f32) * scale;
    Ok(match dt.unquantized() {
        DatumType::U8 => view
            .as_slice::<u8>()?
            .iter()
            .map(|&v| q(v as f32))
            .collect(),
        DatumType::I8 => view
            .as_slice::<i8>()?
            .iter()
            .map(|&v| q(v as f32))
            .collect(),
        other => bail!("{other:?} input (f32 or 8-bit quantised expected)"),
    })
}

/// Intersection over union of two corner boxes; 0 when either is empty.
fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let area = |r: &[f32; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    let (aa, ab) = (area(a), area(b));
    if aa <= 0.0 || ab <= 0.0 {
        return 0.0;
    }
    let ih = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let iw = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = ih * iw;
    inter / (aa + ab - inter)
}

impl DetectionPostProcess {
    fn slots(&self) -> usize {
        self.max_detections * self.max_classes_per_detection
    }

    fn decode(&self, enc: &[f32], stride: usize) -> TractResult<Vec<[f32; 4]>> {
        let [sy, sx, sh, sw] = self.scales.map(|v| v as f64);
        let mut boxes = Vec::with_capacity(self.anchors.len());
        for (i, a) in self.anchors.iter().enumerate() {
            let e = &enc[i * stride..][..4];
            let [ay, ax, ah, aw] = a.map(|v| v as f64);
            // In f64 and rounded once, as LiteRT's kernel computes it.
            let yc = (e[0] as f64 / sy * ah + ay) as f32;
            let xc = (e[1] as f64 / sx * aw + ax) as f32;
            let hh = (0.5 * (e[2] as f64 / sh).exp() * ah) as f32;
            let hw = (0.5 * (e[3] as f64 / sw).exp() * aw) as f32;
            let b = [yc - hh, xc - hw, yc + hh, xc + hw];
            ensure!(
                b[0] <= b[2] && b[1] <= b[3],
                "anchor {i} decodes to an inverted box {b:?}"
            );
            boxes.push(b);
        }
        Ok(boxes)
    }

    /// Greedy NMS over `scores` (one per box): boxes at or above the score
    /// threshold, best first (ties in index order), each suppressing the
    /// later ones it overlaps by more than the IoU threshold.
    fn nms(&self, boxes: &[[f32; 4]], scores: &[f32], limit: usize) -> Vec<usize> {
        let mut keep: Vec<usize> = (0..scores.len())
            .filter(|&i| scores[i] >= self.score_threshold)
            .collect();
        keep.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let mut active = vec![true; keep.len()];
        let mut selected = vec![];
        for i in 0..keep.len() {
            if selected.len() >= limit {
                break;
            }
            if !active[i] {
                continue;
            }
            selected.push(keep[i]);
            for j in i + 1..keep.len() {
                if active[j] && iou(&boxes[keep[i]], &boxes[keep[j]]) > self.iou_threshold {
                    active[j] = false;
                }
            }
        }
        selected
    }
}

impl EvalOp for DetectionPostProcess {
    fn eval_out_of_plan(&self, inputs: TVec<TValue>) -> TractResult<Option<TVec<TValue>>> {
        Ok(Some(self.eval(&EvalContext::out_of_plan(), inputs)?))
    }

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (n, stride) = (self.anchors.len(), inputs[0].shape()[2]);
        let cols = inputs[1].shape()[2];
        let offset = cols - self.num_classes;
        let boxes = self.decode(&dequantized(&inputs[0])?, stride)?;
        let scores = dequantized(&inputs[1])?;
        let m = self.slots();
        let (mut ob, mut oc, mut os) = (vec![0f32; m * 4], vec![0f32; m], vec![0f32; m]);
        let mut put = |slot: usize, anchor: usize, class: usize, score: f32| {
            ob[slot * 4..][..4].copy_from_slice(&boxes[anchor]);
            oc[slot] = class as f32;
            os[slot] = score;
        };
        let count = if self.regular_nms {
            // (score, anchor, class) of every class's survivors, best first;
            // ties keep the order classes were visited in.
            let mut all: Vec<(f32, usize, usize)> = vec![];
            for c in 0..self.num_classes {
                let col: Vec<f32> = (0..n).map(|a| scores[a * cols + offset + c]).collect();
                for a in self.nms(&boxes, &col, self.detections_per_class) {
                    all.push((col[a], a, c));
                }
            }
            all.sort_by(|x, y| y.0.total_cmp(&x.0));
            all.truncate(self.max_detections);
            for (slot, &(score, a, c)) in all.iter().enumerate() {
                put(slot, a, c, score);
            }
            all.len()
        } else {
            let per = self.max_classes_per_detection.min(self.num_classes);
            let best_classes = |a: usize| -> Vec<usize> {
                let row = &scores[a * cols + offset..][..self.num_classes];
                let mut idx: Vec<usize> = (0..self.num_classes).collect();
                idx.sort_by(|&x, &y| row[y].total_cmp(&row[x]));
                idx.truncate(per);
                idx
            };
            let top: Vec<f32> = (0..n)
                .map(|a| scores[a * cols + offset + best_classes(a)[0]])
                .collect();
            let selected = self.nms(&boxes, &top, self.max_detections);
            for (k, &a) in selected.iter().enumerate() {
                for (col, c) in best_classes(a).into_iter().enumerate() {
                    let slot = self.max_classes_per_detection * k + col;
                    put(slot, a, c, scores[a * cols + offset + c]);
                }
            }
            selected.len()
        };
        Ok(tvec![
            f32_output(&[1, m, 4], ob)?,
            f32_output(&[1, m], oc)?,
            f32_output(&[1, m], os)?,
            f32_output(&[1], vec![count as f32])?,
        ])
    }
}

impl TypedOp for DetectionPostProcess {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs.len() == 2, "expected 2 inputs, got {}", inputs.len());
        let (b, s) = (concrete(inputs[0])?, concrete(inputs[1])?);
        let n = self.anchors.len();
        ensure!(
            b.len() == 3 && b[0] == 1 && b[1] == n && b[2] >= 4,
            "box encodings {b:?}, want [1, {n}, >= 4]"
        );
        ensure!(
            s.len() == 3 && s[0] == 1 && s[1] == n,
            "class scores {s:?}, want [1, {n}, classes]"
        );
        ensure!(
            s[2] == self.num_classes || s[2] == self.num_classes + 1,
            "class scores of {} columns for {} classes",
            s[2],
            self.num_classes
        );
        for i in inputs {
            let dt = i.datum_type.unquantized();
            ensure!(
                i.datum_type == f32::datum_type()
                    || (i.datum_type.is_quantized() && matches!(dt, DatumType::U8 | DatumType::I8)),
                "{:?} input (f32 or 8-bit quantised expected)",
                i.datum_type
            );
        }
        let m = self.slots();
        Ok(tvec![
            f32::fact([1, m, 4]),
            f32::fact([1, m]),
            f32::fact([1, m]),
            f32::fact([1]),
        ])
    }

    fn as_op(&self) -> &dyn Op {
        self
    }

    fn as_op_mut(&mut self) -> &mut dyn Op {
        self
    }
}
