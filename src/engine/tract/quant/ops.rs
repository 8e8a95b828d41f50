//! edgemark's own tract operators over quantised activations. Inside a
//! rewritten region every tensor is u8, NHWC (batch first, channels last),
//! with its scale and zero point carried by the op that made it; the boundary
//! ops convert from and to what tract's own nodes expect (f32, i8 or u8,
//! NCHW or NHWC).

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

use super::kernels::{self, AddParams, Geometry, PackedB, Requant};
use crate::engine::kernels_f32::Fork;
use crate::engine::tract::fork::with_fork;
use std::ops::Range;

/// How the original (tract-side) tensor of a quantised value is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// Same element order as the internal tensor.
    Same,
    /// Original is NCHW, internal NHWC (rank 4).
    Nchw,
}

fn nchw_to_nhwc<T: Copy>(src: &[T], n: usize, c: usize, hw: usize, dst: &mut [T]) {
    for b in 0..n {
        let s = &src[b * c * hw..][..c * hw];
        let d = &mut dst[b * c * hw..][..c * hw];
        if c == 3 {
            // Image inputs: three planes read in step, pixels written whole
            // (the generic loop's strided byte stores took ~85 us on a
            // 224x224x3 input).
            let (r, rest) = s.split_at(hw);
            let (g, bl) = rest.split_at(hw);
            for (((px, &r), &g), &bl) in d.chunks_exact_mut(3).zip(r).zip(g).zip(bl) {
                px.copy_from_slice(&[r, g, bl]);
            }
            continue;
        }
        for ch in 0..c {
            for p in 0..hw {
                d[p * c + ch] = s[ch * hw + p];
            }
        }
    }
}

fn nhwc_to_nchw<T: Copy>(src: &[T], n: usize, c: usize, hw: usize, dst: &mut [T]) {
    for b in 0..n {
        let s = &src[b * c * hw..][..c * hw];
        let d = &mut dst[b * c * hw..][..c * hw];
        for p in 0..hw {
            for ch in 0..c {
                d[ch * hw + p] = s[p * c + ch];
            }
        }
    }
}

/// Internal shape for an original shape in `layout`.
pub fn internal_shape(shape: &[usize], layout: Layout) -> TVec<usize> {
    match layout {
        Layout::Same => shape.into(),
        Layout::Nchw => tvec!(shape[0], shape[2], shape[3], shape[1]),
    }
}

fn original_shape(shape: &[usize], layout: Layout) -> TVec<usize> {
    match layout {
        Layout::Same => shape.into(),
        Layout::Nchw => tvec!(shape[0], shape[3], shape[1], shape[2]),
    }
}

macro_rules! plain_op {
    ($ty:ident, $name:expr) => {
        impl Op for $ty {
            fn name(&self) -> StaticName {
                $name.into()
            }
            fn info(&self) -> TractResult<Vec<String>> {
                Ok(vec![self.describe()])
            }
            op_as_typed_op!();
        }
    };
}

fn concrete(fact: &TypedFact) -> TractResult<TVec<usize>> {
    Ok(fact
        .shape
        .as_concrete()
        .context("quantised ops need concrete shapes")?
        .into())
}

/// f32 (original layout) -> u8 internal: `clamp(round_even(x / scale) + zp)`,
/// as ONNX QuantizeLinear defines it.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizeF32 {
    pub scale: f32,
    pub zp: i32,
    pub layout: Layout,
}
impl Eq for QuantizeF32 {}

impl QuantizeF32 {
    fn describe(&self) -> String {
        format!("scale {} zp {} from {:?}", self.scale, self.zp, self.layout)
    }
}
plain_op!(QuantizeF32, "EdgemarkQuantizeF32");

impl EvalOp for QuantizeF32 {
    op_out_of_plan!();
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = inputs[0].try_as_plain_ram()?;
        let x = x.as_slice::<f32>()?;
        let shape = inputs[0].shape();
        let oshape = internal_shape(shape, self.layout);
        // SAFETY: u8 has no invalid bit patterns and every byte is written below.
        let mut out = unsafe { Tensor::uninitialized::<u8>(&oshape)? };
        {
            let mut ov = out.try_as_plain_ram_mut()?;
            let y = ov.as_slice_mut::<u8>()?;
            ensure!(y.len() == x.len(), "EdgemarkQuantizeF32: output size");
            if self.layout == Layout::Nchw {
                // Quantised in NCHW order into a buffer kept per thread (no
                // allocation per inference), then moved to NHWC.
                thread_local! {
                    static PLANES: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
                }
                PLANES.with_borrow_mut(|q| {
                    q.resize(x.len(), 0);
                    kernels::quantize_f32(x, self.scale, self.zp, q);
                    nchw_to_nhwc(q, shape[0], shape[1], shape[2] * shape[3], y);
                });
            } else {
                kernels::quantize_f32(x, self.scale, self.zp, y);
            }
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for QuantizeF32 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let s = concrete(inputs[0])?;
        Ok(tvec!(u8::fact(internal_shape(&s, self.layout))))
    }
    as_op!();
}

/// i8/u8 (original dtype and layout, tract's value) -> u8 internal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pack {
    pub layout: Layout,
}

impl Pack {
    fn describe(&self) -> String {
        format!("from {:?}", self.layout)
    }
}
plain_op!(Pack, "EdgemarkPack");

impl EvalOp for Pack {
    op_out_of_plan!();
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let shape = inputs[0].shape();
        let dt = inputs[0].datum_type().unquantized();
        let view = inputs[0].try_as_plain_ram()?;
        let mut q: Vec<u8> = match dt {
            DatumType::I8 => view
                .as_slice::<i8>()?
                .iter()
                .map(|&v| (v as u8) ^ 0x80)
                .collect(),
            DatumType::U8 => view.as_slice::<u8>()?.to_vec(),
            dt => bail!("EdgemarkPack: unexpected input type {dt:?}"),
        };
        if self.layout == Layout::Nchw {
            let mut t = vec![0u8; q.len()];
            nchw_to_nhwc(&q, shape[0], shape[1], shape[2] * shape[3], &mut t);
            q = t;
        }
        let out = Tensor::from_shape(&internal_shape(shape, self.layout), &q)?;
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for Pack {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let s = concrete(inputs[0])?;
        Ok(tvec!(u8::fact(internal_shape(&s, self.layout))))
    }
    as_op!();
}

/// u8 internal -> the original tensor tract's nodes expect: `dt` (i8, u8 or
/// their quantised forms), in the original layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpack {
    pub dt: DatumType,
    pub layout: Layout,
}

impl Unpack {
    fn describe(&self) -> String {
        format!("to {:?} {:?}", self.dt, self.layout)
    }
}
plain_op!(Unpack, "EdgemarkUnpack");

impl EvalOp for Unpack {
    op_out_of_plan!();
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let ishape = inputs[0].shape();
        let shape = original_shape(ishape, self.layout);
        let view = inputs[0].try_as_plain_ram()?;
        let q = view.as_slice::<u8>()?;
        let mut t;
        let q = if self.layout == Layout::Nchw {
            t = vec![0u8; q.len()];
            nhwc_to_nchw(q, shape[0], shape[1], shape[2] * shape[3], &mut t);
            &t[..]
        } else {
            q
        };
        let mut out = if self.dt.unquantized() == DatumType::I8 {
            t = q.iter().map(|&v| v ^ 0x80).collect();
            let i: Vec<i8> = t.iter().map(|&v| v as i8).collect();
            Tensor::from_shape(&shape, &i)?
        } else {
            Tensor::from_shape(&shape, q)?
        };
        // SAFETY: same storage type, only the quantisation parameters differ.
        unsafe { out.set_datum_type(self.dt) };
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for Unpack {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let s = concrete(inputs[0])?;
        Ok(tvec!(self.dt.fact(original_shape(&s, self.layout))))
    }
    as_op!();
}

/// u8 internal -> f32 in the original layout: `(q - zp) * scale`.
#[derive(Debug, Clone, PartialEq)]
pub struct DequantizeF32 {
    pub scale: f32,
    pub zp: i32,
    pub layout: Layout,
}
impl Eq for DequantizeF32 {}

impl DequantizeF32 {
    fn describe(&self) -> String {
        format!("scale {} zp {} to {:?}", self.scale, self.zp, self.layout)
    }
}
plain_op!(DequantizeF32, "EdgemarkDequantizeF32");

impl EvalOp for DequantizeF32 {
    op_out_of_plan!();
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let shape = original_shape(inputs[0].shape(), self.layout);
        let view = inputs[0].try_as_plain_ram()?;
        let q = view.as_slice::<u8>()?;
        let mut f: Vec<f32> = q
            .iter()
            .map(|&v| (v as i32 - self.zp) as f32 * self.scale)
            .collect();
        if self.layout == Layout::Nchw {
            let mut t = vec![0f32; f.len()];
            nhwc_to_nchw(&f, shape[0], shape[1], shape[2] * shape[3], &mut t);
            f = t;
        }
        Ok(tvec!(Tensor::from_shape(&shape, &f)?.into_tvalue()))
    }
}

impl TypedOp for DequantizeF32 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let s = concrete(inputs[0])?;
        Ok(tvec!(f32::fact(original_shape(&s, self.layout))))
    }
    as_op!();
}

/// How a convolution is computed.
#[derive(Debug, Clone, PartialEq)]
pub enum ConvKernel {
    /// 1x1, stride 1, no padding: one matrix product over all pixels.
    Pointwise(PackedB),
    /// Channel multiplier 1: weights `[kh][kw][c]`.
    Depthwise(Vec<i8>),
    /// Anything else: windows copied into rows, then a matrix product.
    Im2col(PackedB),
}

/// A quantised 2-D convolution (or a fully connected layer: a 1x1
/// convolution over one pixel), bias, requantisation and the fused clamp.
/// Input `[n][h][w][cin]` u8, output `[n][oh][ow][cout]` u8.
#[derive(Debug, Clone)]
pub struct QConv {
    pub p: Arc<QConvParams>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QConvParams {
    pub geo: Geometry,
    pub cin: usize,
    pub cout: usize,
    pub zp_in: i32,
    pub kernel: ConvKernel,
    pub rq: Requant,
    /// Output rank 2 (`[n][cout]`, fully connected) instead of 4.
    pub flat: bool,
}

impl PartialEq for QConv {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.p, &other.p)
    }
}
impl Eq for QConv {}

impl QConv {
    fn describe(&self) -> String {
        let g = &self.p.geo;
        let kind = match &self.p.kernel {
            ConvKernel::Pointwise(_) => "pointwise",
            ConvKernel::Depthwise(_) => "depthwise",
            ConvKernel::Im2col(_) => "im2col",
        };
        format!(
            "{kind} {}x{} stride {}x{} {}->{} channels, out zp {} clamp {}..{}",
            g.kh,
            g.kw,
            g.sh,
            g.sw,
            self.p.cin,
            self.p.cout,
            self.p.rq.zp,
            self.p.rq.lo,
            self.p.rq.hi
        )
    }

    /// Runs one image; public for the unit tests.
    pub fn run_image(&self, x: &[u8], y: &mut [u8]) {
        let pixels = self.p.geo.oh * self.p.geo.ow;
        self.run_pixels(x, y, 0..pixels);
    }

    /// One image split into `fork.threads()` tasks of neighbouring output
    /// pixels (each task writes its own part of `y`).
    fn run_image_forked(&self, x: &[u8], y: &mut [u8], fork: &dyn Fork) {
        let pixels = self.p.geo.oh * self.p.geo.ow;
        let tasks = fork.threads().min(pixels / MIN_TASK_PIXELS).max(1);
        if tasks == 1 {
            return self.run_pixels(x, y, 0..pixels);
        }
        let cout = self.p.cout;
        assert_eq!(y.len(), pixels * cout);
        let out = OutPtr(y.as_mut_ptr());
        fork.run(tasks, &|i| {
            // The f32 kernels' split: the same pixels on the same thread.
            let (p0, p1) = crate::engine::kernels_f32::split(pixels, tasks, i);
            let px = p0..p1;
            // SAFETY: the tasks' pixel ranges are disjoint and inside `y`,
            // which outlives `run` (it returns when every task is done).
            let part = unsafe {
                std::slice::from_raw_parts_mut(out.get().add(px.start * cout), px.len() * cout)
            };
            self.run_pixels(x, part, px);
        });
    }

    /// Output pixels `px` of one image into `y` (`px.len() * cout` bytes).
    fn run_pixels(&self, x: &[u8], y: &mut [u8], px: Range<usize>) {
        let p = &*self.p;
        let g = &p.geo;
        let m = px.len();
        match &p.kernel {
            ConvKernel::Pointwise(b) => {
                let x = &x[px.start * p.cin..px.end * p.cin];
                if p.cin.is_multiple_of(4) {
                    kernels::gemm(m, x, p.cin, b, &p.rq, y, p.cout);
                } else {
                    let row = b.row_bytes();
                    let mut a = vec![0u8; m * row];
                    for (d, s) in a.chunks_exact_mut(row).zip(x.chunks_exact(p.cin)) {
                        d[..p.cin].copy_from_slice(s);
                    }
                    kernels::gemm(m, &a, row, b, &p.rq, y, p.cout);
                }
            }
            ConvKernel::Depthwise(w) => {
                kernels::depthwise_pixels(g, p.cin, p.zp_in, x, w, &p.rq, y, px)
            }
            ConvKernel::Im2col(b) => {
                let row = b.row_bytes();
                // The window matrix is rebuilt on every call: keep its buffer
                // per thread instead of faulting fresh pages in each time.
                IM2COL.with_borrow_mut(|a| {
                    if a.len() < m * row {
                        a.resize(m * row, 0);
                    }
                    let a = &mut a[..m * row];
                    kernels::im2col_pixels(g, p.cin, p.zp_in as u8, x, a, row, px);
                    kernels::gemm(m, a, row, b, &p.rq, y, p.cout);
                });
            }
        }
    }
}

/// Fewer output pixels than this per task are not worth a fork (the 1x1
/// layers at 7x7 and the classifier stay on one thread).
const MIN_TASK_PIXELS: usize = 16;

/// The output's address, shared by the tasks that write disjoint parts of it.
#[derive(Clone, Copy)]
struct OutPtr(*mut u8);
// SAFETY: only used to hand disjoint sub-slices to tasks of one `fork.run`.
unsafe impl Sync for OutPtr {}
impl OutPtr {
    fn get(self) -> *mut u8 {
        self.0
    }
}
plain_op!(QConv, "EdgemarkQConv");

thread_local! {
    /// im2col scratch of the convolutions run on this thread (the largest
    /// window matrix seen so far; MobileNetV2's first layer: 12544 x 28 bytes).
    static IM2COL: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl EvalOp for QConv {
    op_out_of_plan!();
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let p = &*self.p;
        let g = &p.geo;
        let n = inputs[0].shape()[0];
        let view = inputs[0].try_as_plain_ram()?;
        let x = view.as_slice::<u8>()?;
        ensure!(
            x.len() == n * g.h * g.w * p.cin,
            "EdgemarkQConv: input size"
        );
        let oshape = self.out_shape(n);
        let mut out = unsafe { Tensor::uninitialized::<u8>(&oshape)? };
        {
            let mut ov = out.try_as_plain_ram_mut()?;
            let y = ov.as_slice_mut::<u8>()?;
            let (isz, osz) = (g.h * g.w * p.cin, g.oh * g.ow * p.cout);
            with_fork(|fork| {
                for b in 0..n {
                    self.run_image_forked(&x[b * isz..][..isz], &mut y[b * osz..][..osz], fork);
                }
            });
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl QConv {
    fn out_shape(&self, n: usize) -> TVec<usize> {
        let p = &*self.p;
        if p.flat {
            tvec!(n, p.cout)
        } else {
            tvec!(n, p.geo.oh, p.geo.ow, p.cout)
        }
    }
}

impl TypedOp for QConv {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let s = concrete(inputs[0])?;
        Ok(tvec!(u8::fact(self.out_shape(s[0]))))
    }
    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        let s = concrete(inputs[0])?;
        let p = &*self.p;
        let per_out = match p.kernel {
            ConvKernel::Depthwise(_) => p.geo.kh * p.geo.kw,
            _ => p.geo.kh * p.geo.kw * p.cin,
        };
        let macs = s[0] * p.geo.oh * p.geo.ow * p.cout * per_out;
        Ok(tvec!((Cost::FMA(i32::datum_type()), macs.into())))
    }
    as_op!();
}

/// Element-wise sum of two quantised tensors of the same shape.
#[derive(Debug, Clone, PartialEq)]
pub struct QAdd {
    pub p: AddParams,
}
impl Eq for QAdd {}

impl QAdd {
    fn describe(&self) -> String {
        format!("{:?}", self.p)
    }
}
plain_op!(QAdd, "EdgemarkQAdd");

impl EvalOp for QAdd {
    op_out_of_plan!();
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        ensure!(
            inputs[0].shape() == inputs[1].shape(),
            "EdgemarkQAdd: shapes differ"
        );
        let a = inputs[0].try_as_plain_ram()?;
        let b = inputs[1].try_as_plain_ram()?;
        let mut out = unsafe { Tensor::uninitialized::<u8>(inputs[0].shape())? };
        {
            let mut ov = out.try_as_plain_ram_mut()?;
            kernels::add(
                &self.p,
                a.as_slice::<u8>()?,
                b.as_slice::<u8>()?,
                ov.as_slice_mut::<u8>()?,
            );
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for QAdd {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(
            inputs[0].shape == inputs[1].shape,
            "EdgemarkQAdd: shapes differ"
        );
        Ok(tvec!(u8::fact(inputs[0].shape.clone())))
    }
    as_op!();
}

/// Mean over the spatial axes of `[n][h][w][c]`, to `[n][1][1][c]` (or
/// `[n][c]` when `flat`).
#[derive(Debug, Clone, PartialEq)]
pub struct QMean {
    pub zp_in: i32,
    pub rq: Requant,
    pub flat: bool,
}
impl Eq for QMean {}

impl QMean {
    fn describe(&self) -> String {
        format!("zp in {} out {}", self.zp_in, self.rq.zp)
    }
    fn out_shape(&self, s: &[usize]) -> TVec<usize> {
        if self.flat {
            tvec!(s[0], s[3])
        } else {
            tvec!(s[0], 1, 1, s[3])
        }
    }
}
plain_op!(QMean, "EdgemarkQMean");

impl EvalOp for QMean {
    op_out_of_plan!();
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let s: TVec<usize> = inputs[0].shape().into();
        let (n, hw, c) = (s[0], s[1] * s[2], s[3]);
        let view = inputs[0].try_as_plain_ram()?;
        let x = view.as_slice::<u8>()?;
        let mut out = unsafe { Tensor::uninitialized::<u8>(&self.out_shape(&s))? };
        {
            let mut ov = out.try_as_plain_ram_mut()?;
            let y = ov.as_slice_mut::<u8>()?;
            for b in 0..n {
                kernels::mean(
                    hw,
                    c,
                    self.zp_in,
                    &x[b * hw * c..][..hw * c],
                    &self.rq,
                    &mut y[b * c..][..c],
                );
            }
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for QMean {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let s = concrete(inputs[0])?;
        ensure!(s.len() == 4, "EdgemarkQMean: rank 4 input");
        Ok(tvec!(u8::fact(self.out_shape(&s))))
    }
    as_op!();
}
