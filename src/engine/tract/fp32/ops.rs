//! edgemark's own f32 tract operators over NHWC tensors: convolutions on the
//! kernels of `engine::kernels_f32` (bias and ReLU/ReLU6 fused), the layout
//! changes at the edge of a rewritten region (ONNX models are NCHW), and the
//! spatial mean that closes a classifier's convolution stack.

use std::cell::RefCell;
use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

use crate::engine::kernels_f32::conv::{self, Geometry};
use crate::engine::kernels_f32::depthwise::depthwise;
use crate::engine::kernels_f32::gemm::{self, Dense, PackedB, Residual};
use crate::engine::kernels_f32::layout;
use crate::engine::kernels_f32::{Clamp, Fork};
use crate::engine::tract::fork::with_fork;

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
        .context("edgemark's f32 ops need concrete shapes")?
        .into())
}

thread_local! {
    /// im2col gather buffers, reused from one inference to the next so the
    /// timed path does not allocate once warm (per thread: several runners
    /// may run the same model concurrently).
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// How a convolution is computed.
#[derive(Debug, Clone, PartialEq)]
pub enum ConvKernel {
    /// 1x1, stride 1, no padding: one matrix product over all pixels.
    Pointwise(PackedB),
    /// One filter per channel: weights `[kh][kw][c]`, bias per channel.
    Depthwise { w: Vec<f32>, bias: Vec<f32> },
    /// Anything else (group 1): windows gathered into rows, then a product.
    Im2col(PackedB),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConvParams {
    pub geo: Geometry,
    pub cout: usize,
    pub kernel: ConvKernel,
    pub clamp: Clamp,
    /// A second input of the output's shape is added before the clamp (a
    /// residual connection; matrix-product kernels only).
    pub residual: bool,
}

/// An f32 2-D convolution with bias, an optional fused residual sum and a
/// fused clamp. Input `[n][h][w][cin]` (and the residual,
/// `[n][oh][ow][cout]`), output `[n][oh][ow][cout]`.
#[derive(Debug, Clone)]
pub struct FConv {
    pub p: Arc<ConvParams>,
}

impl PartialEq for FConv {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.p, &other.p)
    }
}
impl Eq for FConv {}

impl FConv {
    fn describe(&self) -> String {
        let p = &*self.p;
        let g = &p.geo;
        let kind = match &p.kernel {
            ConvKernel::Pointwise(_) => "pointwise",
            ConvKernel::Depthwise { .. } => "depthwise",
            ConvKernel::Im2col(_) => "im2col",
        };
        format!(
            "{kind} {}x{} stride {}x{} {}->{} channels{}, clamp {}..{}",
            g.kh,
            g.kw,
            g.sh,
            g.sw,
            g.c,
            p.cout,
            if p.residual { " + residual" } else { "" },
            p.clamp.lo,
            p.clamp.hi
        )
    }

    fn out_shape(&self, n: usize) -> TVec<usize> {
        tvec!(n, self.p.geo.oh, self.p.geo.ow, self.p.cout)
    }

    /// All `n` images of `x` (plus `residual`) into `y`.
    pub fn run(
        &self,
        n: usize,
        x: &[f32],
        residual: Option<&[f32]>,
        y: &mut [f32],
        fork: &dyn Fork,
    ) {
        let p = &*self.p;
        let g = &p.geo;
        match &p.kernel {
            ConvKernel::Pointwise(b) => {
                // The batch's pixels are one matrix: NHWC rows are pixels.
                let rows = Dense {
                    a: x,
                    m: n * g.h * g.w,
                    k: g.c,
                    stride: g.c,
                };
                let residual = residual.map(|r| Residual { r, ld: p.cout });
                gemm::gemm(&rows, b, p.clamp, residual, y, p.cout, &mut [], fork);
            }
            ConvKernel::Depthwise { w, bias } => {
                assert!(residual.is_none(), "no residual on depthwise kernels");
                let (isz, osz) = (g.input_len(), g.oh * g.ow * g.c);
                for b in 0..n {
                    let (xi, yi) = (&x[b * isz..][..isz], &mut y[b * osz..][..osz]);
                    depthwise(g, w, bias, p.clamp, xi, yi, fork);
                }
            }
            ConvKernel::Im2col(b) => {
                let (isz, osz) = (g.input_len(), g.oh * g.ow * p.cout);
                let need = conv::scratch_len(g, fork.threads());
                SCRATCH.with_borrow_mut(|s| {
                    if s.len() < need {
                        s.resize(need, 0.0);
                    }
                    for i in 0..n {
                        let (xi, yi) = (&x[i * isz..][..isz], &mut y[i * osz..][..osz]);
                        let ri = residual.map(|r| &r[i * osz..][..osz]);
                        conv::conv_im2col(g, b, p.clamp, ri, xi, yi, s, fork);
                    }
                });
            }
        }
    }
}
// Named by kernel, so `edgemark profile`'s per-op-type table says whether
// time goes to the matrix products or the depthwise convolutions.
impl Op for FConv {
    fn name(&self) -> StaticName {
        match self.p.kernel {
            ConvKernel::Pointwise(_) => "EdgemarkPointwise",
            ConvKernel::Depthwise { .. } => "EdgemarkDepthwise",
            ConvKernel::Im2col(_) => "EdgemarkIm2colConv",
        }
        .into()
    }
    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![self.describe()])
    }
    op_as_typed_op!();
}

impl EvalOp for FConv {
    op_out_of_plan!();
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let shape = inputs[0].shape();
        let g = &self.p.geo;
        ensure!(
            shape.len() == 4 && shape[1] == g.h && shape[2] == g.w && shape[3] == g.c,
            "{}: input shape {shape:?}, expected [n,{},{},{}]",
            self.name(),
            g.h,
            g.w,
            g.c
        );
        let n = shape[0];
        let oshape = self.out_shape(n);
        ensure!(
            inputs.len() == 1 + usize::from(self.p.residual),
            "{}: {} inputs",
            self.name(),
            inputs.len()
        );
        let view = inputs[0].try_as_plain_ram()?;
        let x = view.as_slice::<f32>()?;
        let rview = match inputs.get(1) {
            Some(r) => {
                ensure!(
                    r.shape() == &*oshape,
                    "{}: residual shape {:?}",
                    self.name(),
                    r.shape()
                );
                Some(r.try_as_plain_ram()?)
            }
            None => None,
        };
        let residual = match &rview {
            Some(v) => Some(v.as_slice::<f32>()?),
            None => None,
        };
        let mut out = unsafe { Tensor::uninitialized::<f32>(&oshape)? };
        {
            let mut ov = out.try_as_plain_ram_mut()?;
            let y = ov.as_slice_mut::<f32>()?;
            with_fork(|fork| self.run(n, x, residual, y, fork));
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for FConv {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let s = concrete(inputs[0])?;
        Ok(tvec!(f32::fact(self.out_shape(s[0]))))
    }
    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        let s = concrete(inputs[0])?;
        let p = &*self.p;
        let per_out = match p.kernel {
            ConvKernel::Depthwise { .. } => p.geo.kh * p.geo.kw,
            _ => p.geo.kh * p.geo.kw * p.geo.c,
        };
        let macs = s[0] * p.geo.oh * p.geo.ow * p.cout * per_out;
        Ok(tvec!((Cost::FMA(f32::datum_type()), macs.into())))
    }
    as_op!();
}

/// NCHW -> NHWC (`to_nhwc`) or back, f32.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Transpose {
    pub to_nhwc: bool,
}

impl Transpose {
    fn describe(&self) -> String {
        if self.to_nhwc {
            "NCHW to NHWC".into()
        } else {
            "NHWC to NCHW".into()
        }
    }
    fn out_shape(&self, s: &[usize]) -> TVec<usize> {
        if self.to_nhwc {
            tvec!(s[0], s[2], s[3], s[1])
        } else {
            tvec!(s[0], s[3], s[1], s[2])
        }
    }
}
plain_op!(Transpose, "EdgemarkTranspose");

impl EvalOp for Transpose {
    op_out_of_plan!();
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let s = inputs[0].shape().to_vec();
        ensure!(s.len() == 4, "EdgemarkTranspose: rank-4 input expected");
        let view = inputs[0].try_as_plain_ram()?;
        let x = view.as_slice::<f32>()?;
        let mut out = unsafe { Tensor::uninitialized::<f32>(&self.out_shape(&s))? };
        {
            let mut ov = out.try_as_plain_ram_mut()?;
            let y = ov.as_slice_mut::<f32>()?;
            let (a, b) = if self.to_nhwc {
                (s[1], s[2] * s[3])
            } else {
                (s[1] * s[2], s[3])
            };
            with_fork(|fork| layout::transpose(x, s[0], a, b, y, fork));
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for Transpose {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let s = concrete(inputs[0])?;
        ensure!(s.len() == 4, "EdgemarkTranspose: rank-4 input expected");
        Ok(tvec!(f32::fact(self.out_shape(&s))))
    }
    as_op!();
}

/// Sum over the spatial axes of NHWC `[n][h][w][c]`, times `scale` (1 for
/// a sum, `1 / (h * w)` for a mean); the output holds the `n x c` results in
/// that order under the shape the original graph expects (`[n][c][1][1]`
/// for NCHW, `[n][1][1][c]` for NHWC: the same bytes).
#[derive(Debug, Clone, PartialEq)]
pub struct MeanHw {
    pub out_shape: TVec<usize>,
    pub scale: f32,
}
impl Eq for MeanHw {}

impl MeanHw {
    fn describe(&self) -> String {
        format!("to {:?}, times {}", self.out_shape, self.scale)
    }
}
plain_op!(MeanHw, "EdgemarkMeanHw");

impl EvalOp for MeanHw {
    op_out_of_plan!();
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let s = inputs[0].shape().to_vec();
        ensure!(s.len() == 4, "EdgemarkMeanHw: rank-4 input expected");
        let (n, hw, c) = (s[0], s[1] * s[2], s[3]);
        let view = inputs[0].try_as_plain_ram()?;
        let x = view.as_slice::<f32>()?;
        let mut out = Tensor::zero::<f32>(&self.out_shape)?;
        {
            let mut ov = out.try_as_plain_ram_mut()?;
            let y = ov.as_slice_mut::<f32>()?;
            ensure!(y.len() == n * c, "EdgemarkMeanHw: output shape");
            for b in 0..n {
                let acc = &mut y[b * c..][..c];
                for px in x[b * hw * c..][..hw * c].chunks_exact(c) {
                    acc.iter_mut().zip(px).for_each(|(a, v)| *a += v);
                }
                if self.scale != 1.0 {
                    acc.iter_mut().for_each(|a| *a *= self.scale);
                }
            }
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for MeanHw {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let s = concrete(inputs[0])?;
        ensure!(
            s.len() == 4 && s[0] * s[3] == self.out_shape.iter().product::<usize>(),
            "EdgemarkMeanHw: input {s:?} does not give {:?}",
            self.out_shape
        );
        Ok(tvec!(f32::fact(self.out_shape.clone())))
    }
    as_op!();
}

/// A fully connected layer: `[m][k] -> [m][n]`, `clamp(x W + bias)`, on the
/// same packed-weight product as the pointwise convolutions (ONNX Gemm and
/// MatMul with constant weights).
#[derive(Debug, Clone)]
pub struct FDense {
    pub b: Arc<PackedB>,
    pub clamp: Clamp,
}

impl PartialEq for FDense {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.b, &other.b) && self.clamp == other.clamp
    }
}
impl Eq for FDense {}

impl FDense {
    fn describe(&self) -> String {
        format!("{}->{}", self.b.k(), self.b.n())
    }
}
plain_op!(FDense, "EdgemarkDense");

impl EvalOp for FDense {
    op_out_of_plan!();
    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let s = inputs[0].shape().to_vec();
        ensure!(
            s.len() == 2 && s[1] == self.b.k(),
            "EdgemarkDense: input shape {s:?}, expected [m,{}]",
            self.b.k()
        );
        let view = inputs[0].try_as_plain_ram()?;
        let x = view.as_slice::<f32>()?;
        let n = self.b.n();
        let mut out = unsafe { Tensor::uninitialized::<f32>(&[s[0], n])? };
        {
            let mut ov = out.try_as_plain_ram_mut()?;
            let y = ov.as_slice_mut::<f32>()?;
            let rows = Dense {
                a: x,
                m: s[0],
                k: s[1],
                stride: s[1],
            };
            with_fork(|fork| gemm::gemm(&rows, &self.b, self.clamp, None, y, n, &mut [], fork));
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for FDense {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let s = concrete(inputs[0])?;
        ensure!(
            s.len() == 2 && s[1] == self.b.k(),
            "EdgemarkDense: input {s:?}"
        );
        Ok(tvec!(f32::fact([s[0], self.b.n()])))
    }
    fn cost(&self, inputs: &[&TypedFact]) -> TractResult<TVec<(Cost, TDim)>> {
        let s = concrete(inputs[0])?;
        let macs = s[0] * self.b.k() * self.b.n();
        Ok(tvec!((Cost::FMA(f32::datum_type()), macs.into())))
    }
    as_op!();
}
