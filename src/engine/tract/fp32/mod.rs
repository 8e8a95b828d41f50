//! The fp32 path: a graph pass that moves f32 convolutions onto edgemark's
//! own NHWC kernels (`engine::kernels_f32`, wrapped as tract ops in `ops`),
//! with the bias and a following ReLU/ReLU6 fused into the convolution.
//!
//! Why (issue 13 item 3): on MobileNetV2, tract 0.23.9 spends about as long
//! in its depthwise convolution as in all its matrix products, packs the
//! activations of every 1x1 convolution on each call, and clamps ReLU6 in a
//! separate pass over every activation.
//!
//! Like the int8 pass (`quant`), the graph is rebuilt demand-first from the
//! outputs, before tract's own optimisation: a value produced by a
//! recognised pattern becomes an edgemark op on an NHWC f32 tensor;
//! everything else is copied as tract built it, and where a copied node
//! reads a rewritten value, a boundary op gives it back in the original
//! layout (ONNX graphs are NCHW; TFLite ones already NHWC, so no boundary).
//! Quantised regions are left alone: only f32 convolutions without
//! quantisation parameters are taken (the int8 pass has run before).
//! `EDGEMARK_NO_FP32=1` turns the pass off (A/B measurements).

pub mod ops;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::array::{Pad, PadMode};
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec, PoolSpec, SumPool};
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_core::ops::nn::{DataFormat, Reduce, Reducer};

use super::quant::Source;
use crate::engine::kernels_f32::Clamp;
use crate::engine::kernels_f32::conv::{Geometry, weights_kkc_co};
use crate::engine::kernels_f32::gemm::PackedB;
use ops::{ConvKernel, ConvParams, FConv, FDense, MeanHw, Transpose};

/// What the pass did, for the loader's notes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub convs: usize,
    /// Of which a ReLU/ReLU6 (or other clamp) was fused.
    pub fused_clamps: usize,
    /// Of which a residual sum was fused.
    pub fused_adds: usize,
    /// Fully connected layers (ONNX Gemm/MatMul with constant weights).
    pub dense: usize,
    /// Layout changes inserted at the edges of rewritten regions.
    pub boundaries: usize,
}

/// Rewrites `model`'s f32 convolutions onto edgemark's kernels; returns the
/// model unchanged when there is none (or `EDGEMARK_NO_FP32` is set).
pub fn rewrite(model: TypedModel, source: Source) -> TractResult<(TypedModel, Summary)> {
    if std::env::var_os("EDGEMARK_NO_FP32").is_some() {
        return Ok((model, Summary::default()));
    }
    let mut t = Translator::new(&model, source)?;
    let mut mapped = vec![];
    for &o in &model.outputs {
        mapped.push(t.get_f(o)?);
    }
    if t.summary.convs + t.summary.dense == 0 {
        return Ok((model, Summary::default()));
    }
    let summary = t.summary.clone();
    let mut dst = t.dst;
    dst.select_output_outlets(&mapped)?;
    for (o, m) in model.outputs.iter().zip(&mapped) {
        if let Some(label) = model.outlet_label(*o) {
            dst.set_outlet_label(*m, label.to_string())?;
        }
    }
    Ok((dst, summary))
}

/// A rewritten value: f32 NHWC `[n][h][w][c]` in the new graph.
#[derive(Debug, Clone)]
struct NVal {
    outlet: OutletId,
    shape: [usize; 4],
}

struct Translator<'a> {
    src: &'a TypedModel,
    source: Source,
    dst: TypedModel,
    /// Original values already in the new graph.
    fmap: HashMap<OutletId, OutletId>,
    /// Memo of `try_nhwc` (None: not produced by a rewritable pattern).
    rewritten: HashMap<OutletId, Option<NVal>>,
    /// Memo of conversions of original values into NHWC.
    converted: HashMap<OutletId, Option<NVal>>,
    summary: Summary,
}

impl<'a> Translator<'a> {
    fn new(src: &'a TypedModel, source: Source) -> TractResult<Self> {
        let mut dst = TypedModel {
            symbols: src.symbols.clone(),
            properties: src.properties.clone(),
            ..TypedModel::default()
        };
        let mut fmap = HashMap::new();
        for &i in &src.inputs {
            let node = src.node(i.node);
            let o = dst.add_source(&node.name, node.outputs[0].fact.clone())?;
            if let Some(label) = src.outlet_label(i) {
                dst.set_outlet_label(o, label.to_string())?;
            }
            fmap.insert(i, o);
        }
        Ok(Translator {
            src,
            source,
            dst,
            fmap,
            rewritten: HashMap::new(),
            converted: HashMap::new(),
            summary: Summary::default(),
        })
    }

    fn wire(
        &mut self,
        name: &str,
        op: impl Into<Box<dyn TypedOp>>,
        inputs: &[OutletId],
    ) -> TractResult<OutletId> {
        let name = self.dst.unique_name(name).to_string();
        Ok(self.dst.wire_node(name, op, inputs)?[0])
    }

    /// The original value of `o`, as tract's own node computes it.
    fn get_f(&mut self, o: OutletId) -> TractResult<OutletId> {
        if let Some(&m) = self.fmap.get(&o) {
            return Ok(m);
        }
        let node = self.src.node(o.node);
        let name = node.name.clone();
        let out = if let Some(v) = self.try_nhwc(o)? {
            match self.source {
                Source::Onnx => {
                    self.summary.boundaries += 1;
                    let op = Transpose { to_nhwc: false };
                    self.wire(&format!("{name}.to_nchw"), op, &[v.outlet])?
                }
                Source::Tflite => v.outlet,
            }
        } else if let Some(out) = self.spatial_mean(o)? {
            out
        } else if let Some(out) = self.dense(o)? {
            out
        } else {
            let inputs = node.inputs.clone();
            let mut mapped = tvec![];
            for i in inputs {
                mapped.push(self.get_f(i)?);
            }
            let name = self.dst.unique_name(&name).to_string();
            let outs = self.dst.wire_node(name, node.op.clone(), &mapped)?;
            for (ix, w) in outs.iter().enumerate() {
                self.fmap.insert(OutletId::new(o.node, ix), *w);
            }
            return Ok(outs[o.slot]);
        };
        self.fmap.insert(o, out);
        Ok(out)
    }

    /// The constant value of `o`, evaluating small constant subgraphs tract
    /// has not folded yet (before decluttering, a clip bound is a scalar
    /// behind axis insertions).
    fn konst(&self, o: OutletId, depth: usize) -> Option<Arc<Tensor>> {
        let fact = self.src.outlet_fact(o).ok()?;
        if let Some(k) = &fact.konst {
            return Some(k.clone());
        }
        if depth == 0 {
            return None;
        }
        let node = self.src.node(o.node);
        if node.inputs.is_empty() {
            return None;
        }
        let mut inputs = tvec![];
        for &i in &node.inputs {
            inputs.push(self.konst(i, depth - 1)?.into_tvalue());
        }
        let out = node.op.eval_out_of_plan(inputs).ok()??;
        Some(out.get(o.slot)?.clone().into_arc_tensor())
    }

    /// Rank-4 concrete f32 shape of an original outlet.
    fn f32_rank4(&self, o: OutletId) -> TractResult<Option<[usize; 4]>> {
        let fact = self.src.outlet_fact(o)?;
        if fact.datum_type != f32::datum_type() {
            return Ok(None);
        }
        Ok(fact
            .shape
            .as_concrete()
            .and_then(|s| <[usize; 4]>::try_from(s).ok()))
    }

    /// NHWC shape of an original rank-4 shape.
    fn nhwc(&self, s: [usize; 4]) -> [usize; 4] {
        match self.source {
            Source::Onnx => [s[0], s[2], s[3], s[1]],
            Source::Tflite => s,
        }
    }

    /// `o` as an NHWC value, for a pattern that consumes it: the rewrite if
    /// there is one, else a layout change of tract's value.
    fn as_nhwc(&mut self, o: OutletId) -> TractResult<Option<NVal>> {
        if let Some(v) = self.try_nhwc(o)? {
            return Ok(Some(v));
        }
        if let Some(v) = self.converted.get(&o) {
            return Ok(v.clone());
        }
        let v = match self.f32_rank4(o)? {
            None => None,
            Some(s) => {
                let x = self.get_f(o)?;
                let outlet = match self.source {
                    Source::Onnx => {
                        self.summary.boundaries += 1;
                        let name = format!("{}.to_nhwc", self.src.node(o.node).name);
                        self.wire(&name, Transpose { to_nhwc: true }, &[x])?
                    }
                    Source::Tflite => x,
                };
                Some(NVal {
                    outlet,
                    shape: self.nhwc(s),
                })
            }
        };
        self.converted.insert(o, v.clone());
        Ok(v)
    }

    fn try_nhwc(&mut self, o: OutletId) -> TractResult<Option<NVal>> {
        if let Some(v) = self.rewritten.get(&o) {
            return Ok(v.clone());
        }
        let v = self.rewrite(o)?;
        self.rewritten.insert(o, v.clone());
        Ok(v)
    }

    fn single_successor(&self, o: OutletId) -> bool {
        self.src.node(o.node).outputs[o.slot].successors.len() == 1
            && !self.src.outputs.contains(&o)
    }

    /// `(x, lo, hi)` when `o` is `max(x, lo)` or `min(x, hi)` with a scalar
    /// constant bound (an ONNX Clip, a ReLU, a TFLite fused activation).
    fn clamp_step(&self, o: OutletId) -> Option<(OutletId, Clamp)> {
        let node = self.src.node(o.node);
        let bin = node.op_as::<TypedBinOp>()?;
        let (is_max, is_min) = (bin.0.is::<math::Max>(), bin.0.is::<math::Min>());
        if (!is_max && !is_min) || node.inputs.len() != 2 {
            return None;
        }
        for (xi, ki) in [(0, 1), (1, 0)] {
            let Some(k) = self.konst(node.inputs[ki], 6) else {
                continue;
            };
            if k.len() != 1 || k.datum_type() != f32::datum_type() {
                continue;
            }
            let v = k.cast_to_scalar::<f32>().ok()?;
            // The result must keep the shape of x (a bound of rank above x's
            // would broadcast it).
            let xs = &self.src.outlet_fact(node.inputs[xi]).ok()?.shape;
            if k.rank() > xs.rank() || v.is_nan() {
                continue;
            }
            let clamp = if is_max {
                Clamp {
                    lo: v,
                    hi: f32::INFINITY,
                }
            } else {
                Clamp {
                    lo: f32::NEG_INFINITY,
                    hi: v,
                }
            };
            return Some((node.inputs[xi], clamp));
        }
        None
    }

    fn rewrite(&mut self, o: OutletId) -> TractResult<Option<NVal>> {
        let Some(shape) = self.f32_rank4(o)? else {
            return Ok(None);
        };
        let node = self.src.node(o.node);
        let Some((clamp, cur)) = self.clamp_chain(o) else {
            return Ok(None);
        };
        let cn = self.src.node(cur.node);
        let fused = cur != o;
        if let Some(conv) = cn.op_as::<Conv>() {
            let (conv, inputs, name) = (conv.clone(), cn.inputs.clone(), node.name.clone());
            let v = self.conv(&name, &conv, &inputs, clamp, shape, None)?;
            if v.is_some() && fused {
                self.summary.fused_clamps += 1;
            }
            return Ok(v);
        }
        // A sum of a convolution read by nothing else and another value (a
        // residual connection): the convolution adds it as it stores.
        if let Some(v) = self.conv_plus(cur, clamp, shape)? {
            if fused {
                self.summary.fused_clamps += 1;
            }
            return Ok(Some(v));
        }
        if let Some(bin) = node.op_as::<TypedBinOp>()
            && bin.0.is::<math::Add>()
            && node.inputs.len() == 2
        {
            return self.nhwc_add(o, shape);
        }
        self.nhwc_unary(o, shape)
    }

    /// A clamp chain ending on a value read by nothing else: the clamp
    /// (their intersection) and that value, or `o` itself with no clamp when
    /// the chain cannot be fused. None when the clamps are empty.
    fn clamp_chain(&self, o: OutletId) -> Option<(Clamp, OutletId)> {
        let mut clamp = Clamp::NONE;
        let mut cur = o;
        while let Some((x, c)) = self.clamp_step(cur) {
            // Applying max(lo) then min(hi) in either order equals
            // clamping to the intersection when lo <= hi.
            clamp = Clamp {
                lo: clamp.lo.max(c.lo),
                hi: clamp.hi.min(c.hi),
            };
            if clamp.lo > clamp.hi || !self.single_successor(x) {
                clamp = Clamp::NONE;
                cur = o;
                break;
            }
            cur = x;
        }
        (clamp.lo <= clamp.hi).then_some((clamp, cur))
    }

    /// An element-wise sum `o` of two values of the output's shape, when one
    /// of them is already NHWC: tract's own Add, on NHWC tensors.
    fn nhwc_add(&mut self, o: OutletId, shape: [usize; 4]) -> TractResult<Option<NVal>> {
        let node = self.src.node(o.node);
        let (a, b) = (node.inputs[0], node.inputs[1]);
        if self.f32_rank4(a)? != Some(shape) || self.f32_rank4(b)? != Some(shape) {
            return Ok(None);
        }
        let op = node.op.clone();
        let name = node.name.clone();
        if self.try_nhwc(a)?.is_none() && self.try_nhwc(b)?.is_none() {
            return Ok(None);
        }
        let (Some(va), Some(vb)) = (self.as_nhwc(a)?, self.as_nhwc(b)?) else {
            return Ok(None);
        };
        let outlet = self.wire(&name, op, &[va.outlet, vb.outlet])?;
        Ok(Some(NVal {
            outlet,
            shape: va.shape,
        }))
    }

    /// A clamp that could not be fused, or any unary element-wise op, on
    /// an NHWC value: the same op on the NHWC tensor.
    fn nhwc_unary(&mut self, o: OutletId, shape: [usize; 4]) -> TractResult<Option<NVal>> {
        if !self.is_layout_free(o) {
            return Ok(None);
        }
        let node = self.src.node(o.node);
        let x = node.inputs[0];
        let (op, name) = (node.op.clone(), node.name.clone());
        let bound = node.inputs.get(1).copied();
        if self.f32_rank4(x)? == Some(shape)
            && let Some(v) = self.try_nhwc(x)?
        {
            let mut inputs = tvec![v.outlet];
            if let Some(b) = bound {
                inputs.push(self.get_f(b)?);
            }
            let outlet = self.wire(&name, op, &inputs)?;
            return Ok(Some(NVal { outlet, ..v }));
        }
        Ok(None)
    }

    /// `o = conv(x) + r` with the convolution's output read only by this sum
    /// and both terms of `o`'s shape: the convolution with `r` fused.
    fn conv_plus(
        &mut self,
        o: OutletId,
        clamp: Clamp,
        shape: [usize; 4],
    ) -> TractResult<Option<NVal>> {
        let node = self.src.node(o.node);
        let is_add = node
            .op_as::<TypedBinOp>()
            .is_some_and(|b| b.0.is::<math::Add>());
        if !is_add || node.inputs.len() != 2 || self.f32_rank4(o)? != Some(shape) {
            return Ok(None);
        }
        let name = node.name.clone();
        for (ci, ri) in [(0, 1), (1, 0)] {
            let (c, r) = (node.inputs[ci], node.inputs[ri]);
            let cn = self.src.node(c.node);
            let Some(conv) = cn.op_as::<Conv>() else {
                continue;
            };
            if !self.single_successor(c)
                || self.f32_rank4(c)? != Some(shape)
                || self.f32_rank4(r)? != Some(shape)
            {
                continue;
            }
            let (conv, inputs) = (conv.clone(), cn.inputs.clone());
            if let Some(v) = self.conv(&name, &conv, &inputs, clamp, shape, Some(r))? {
                self.summary.fused_adds += 1;
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// ONNX Gemm / MatMul with constant weights, `x [m][k]`: tract's
    /// `EinSum mk,nk->mn` (or `mk,kn->mn`), with the bias sum after it
    /// when there is one.
    fn dense(&mut self, o: OutletId) -> TractResult<Option<OutletId>> {
        let node = self.src.node(o.node);
        let fact = self.src.outlet_fact(o)?;
        if fact.datum_type != f32::datum_type() || fact.rank() != 2 {
            return Ok(None);
        }
        let Some(&[m, n]) = fact.shape.as_concrete() else {
            return Ok(None);
        };
        // The product, and the bias (zeros when the output is the product).
        let (prod, bias) = if node.op_is::<EinSum>() {
            (o, vec![0f32; n])
        } else if let Some(bin) = node.op_as::<TypedBinOp>()
            && bin.0.is::<math::Add>()
            && node.inputs.len() == 2
        {
            match self.product_plus_bias(o, m, n)? {
                Some(f) => f,
                None => return Ok(None),
            }
        } else {
            return Ok(None);
        };
        let pn = self.src.node(prod.node);
        let Some(es) = pn.op_as::<EinSum>() else {
            return Ok(None);
        };
        let axes = es.axes.to_string();
        if es.q_params.is_some() || pn.inputs.len() != 2 || es.operating_dt != f32::datum_type() {
            return Ok(None);
        }
        let (x, wo) = (pn.inputs[0], pn.inputs[1]);
        let Some(w) = self.konst(wo, 4) else {
            return Ok(None);
        };
        let xs = self.src.outlet_fact(x)?;
        if xs.datum_type != f32::datum_type() || w.datum_type() != f32::datum_type() {
            return Ok(None);
        }
        let Some(&[xm, k]) = xs.shape.as_concrete() else {
            return Ok(None);
        };
        let wv = w.try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
        // Weights as `[k][n]`.
        let wkn: Vec<f32> = match axes.as_str() {
            "mk,nk->mn" if w.shape() == [n, k] => {
                let mut t = vec![0f32; k * n];
                for j in 0..n {
                    for kk in 0..k {
                        t[kk * n + j] = wv[j * k + kk];
                    }
                }
                t
            }
            "mk,kn->mn" if w.shape() == [k, n] => wv,
            _ => return Ok(None),
        };
        if xm != m {
            return Ok(None);
        }
        let name = node.name.clone();
        let xv = self.get_f(x)?;
        let op = FDense {
            b: Arc::new(PackedB::new(k, n, &wkn, &bias)),
            clamp: Clamp::NONE,
        };
        self.summary.dense += 1;
        Ok(Some(self.wire(&name, op, &[xv])?))
    }

    /// `o = product + bias` (either order), the product an f32 EinSum read
    /// by nothing else and the bias a constant `[n]` or `[1, n]`: the
    /// product's outlet and the bias.
    fn product_plus_bias(
        &self,
        o: OutletId,
        m: usize,
        n: usize,
    ) -> TractResult<Option<(OutletId, Vec<f32>)>> {
        let node = self.src.node(o.node);
        for (pi, bi) in [(0, 1), (1, 0)] {
            let p = node.inputs[pi];
            if !self.src.node(p.node).op_is::<EinSum>() || !self.single_successor(p) {
                continue;
            }
            let Some(b) = self.konst(node.inputs[bi], 6) else {
                continue;
            };
            let bshape = b.shape();
            if b.datum_type() != f32::datum_type()
                || !(bshape == [n] || bshape == [1, n])
                || self.src.outlet_fact(p)?.shape.as_concrete() != Some(&[m, n])
            {
                continue;
            }
            let bias = b.try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
            return Ok(Some((p, bias)));
        }
        Ok(None)
    }

    /// Whether `o` applies element by element to its first input in a way
    /// that does not depend on layout: a unary element-wise op, or a max/min
    /// with a scalar constant second input.
    fn is_layout_free(&self, o: OutletId) -> bool {
        let node = self.src.node(o.node);
        if node.op_is::<ElementWiseOp>() && node.inputs.len() == 1 {
            return true;
        }
        matches!(self.clamp_step(o), Some((x, _)) if x == node.inputs[0])
            && self
                .konst(node.inputs[1], 6)
                .is_some_and(|k| k.shape().iter().all(|&d| d == 1))
    }

    /// ONNX GlobalAveragePool (a sum over H and W, then a division tract
    /// keeps) or a TFLite MEAN over the whole image (a normalised SumPool)
    /// of an NHWC value: the sum or mean straight from NHWC, in the bytes
    /// order the original `[n][c][1][1]` / `[n][1][1][c]` output has.
    fn spatial_mean(&mut self, o: OutletId) -> TractResult<Option<OutletId>> {
        let node = self.src.node(o.node);
        let Some(out) = self.f32_rank4(o)? else {
            return Ok(None);
        };
        let x = node.inputs.first().copied();
        let Some(x) = x else { return Ok(None) };
        let Some(xs) = self.f32_rank4(x)? else {
            return Ok(None);
        };
        let scale = if let Some(r) = node.op_as::<Reduce>() {
            let spatial: &[usize] = match self.source {
                Source::Onnx => &[2, 3],
                Source::Tflite => &[1, 2],
            };
            let mut axes: Vec<usize> = r.axes.to_vec();
            axes.sort_unstable();
            if !matches!(r.reducer, Reducer::Sum) || axes != spatial {
                return Ok(None);
            }
            1.0
        } else if let Some(pool) = node.op_as::<SumPool>() {
            let ps = &pool.pool_spec;
            if !pool.normalize
                || self.source != Source::Tflite
                || ps.data_format != DataFormat::NHWC
                || ps.kernel_shape.as_slice() != [xs[1], xs[2]]
                || !matches!(ps.padding, PaddingSpec::Valid)
            {
                return Ok(None);
            }
            1.0 / (xs[1] * xs[2]) as f32
        } else {
            return Ok(None);
        };
        let name = node.name.clone();
        let Some(v) = self.try_nhwc(x)? else {
            return Ok(None);
        };
        let want = self.nhwc([out[0], out[1], out[2], out[3]]);
        if want != [v.shape[0], 1, 1, v.shape[3]] {
            return Ok(None);
        }
        let op = MeanHw {
            out_shape: out.iter().copied().collect(),
            scale,
        };
        Ok(Some(self.wire(&name, op, &[v.outlet])?))
    }

    /// A Conv node (inputs: data, weights, bias) as an edgemark convolution
    /// with `clamp` fused, when it is an f32 2-D convolution of a kind the
    /// kernels cover (group 1, or depthwise with multiplier 1).
    fn conv(
        &mut self,
        name: &str,
        conv: &Conv,
        inputs: &[OutletId],
        clamp: Clamp,
        out_shape: [usize; 4],
        residual: Option<OutletId>,
    ) -> TractResult<Option<NVal>> {
        let ps = &conv.pool_spec;
        let want_fmt = match self.source {
            Source::Onnx => DataFormat::NCHW,
            Source::Tflite => DataFormat::NHWC,
        };
        if conv.q_params.is_some()
            || inputs.len() != 3
            || ps.data_format != want_fmt
            || ps.rank() != 2
        {
            return Ok(None);
        }
        let (Some(w), Some(b)) = (self.konst(inputs[1], 4), self.konst(inputs[2], 4)) else {
            return Ok(None);
        };
        if w.datum_type() != f32::datum_type() || b.datum_type() != f32::datum_type() {
            return Ok(None);
        }
        let (cin, cout, group) = (conv.input_channels(), conv.output_channels(), conv.group);
        let dw = group > 1 && group == cin && cout == cin;
        if group != 1 && !dw {
            return Ok(None);
        }
        let (x, pads) = self.absorb_zero_pad(ps, inputs[0]);
        let Some(xs) = self.f32_rank4(x)? else {
            return Ok(None);
        };
        let xs = self.nhwc(xs);
        if xs[3] != cin {
            return Ok(None);
        }
        let (kh, kw) = (ps.kernel_shape[0], ps.kernel_shape[1]);
        let geo = conv_geometry(ps, xs, pads);
        if self.nhwc(out_shape) != [xs[0], geo.oh, geo.ow, cout] || geo.oh == 0 || geo.ow == 0 {
            return Ok(None);
        }
        let Some(bias) = conv_bias(&b, cout)? else {
            return Ok(None);
        };
        let Some(at) = weight_reader(&w, conv.kernel_fmt, dw, cin, cout, kh, kw) else {
            return Ok(None);
        };
        if dw && residual.is_some() {
            return Ok(None);
        }
        let kernel = conv_kernel(&geo, cout, dw, &at, bias);
        let Some(inputs) = self.nhwc_inputs(x, residual)? else {
            return Ok(None);
        };
        let op = FConv {
            p: Arc::new(ConvParams {
                geo,
                cout,
                kernel,
                clamp,
                residual: residual.is_some(),
            }),
        };
        let outlet = self.wire(name, op, &inputs)?;
        self.summary.convs += 1;
        Ok(Some(NVal {
            outlet,
            shape: [xs[0], geo.oh, geo.ow, cout],
        }))
    }
}

impl Translator<'_> {
    /// The convolution's NHWC input, and its residual term when it has one.
    fn nhwc_inputs(
        &mut self,
        x: OutletId,
        residual: Option<OutletId>,
    ) -> TractResult<Option<TVec<OutletId>>> {
        let Some(xv) = self.as_nhwc(x)? else {
            return Ok(None);
        };
        let mut inputs = tvec![xv.outlet];
        if let Some(r) = residual {
            let Some(rv) = self.as_nhwc(r)? else {
                return Ok(None);
            };
            inputs.push(rv.outlet);
        }
        Ok(Some(inputs))
    }

    /// A TFLite PAD of zeros in front of a VALID convolution becomes its
    /// padding: the PAD's input and (top, bottom, left, right).
    fn absorb_zero_pad(
        &self,
        ps: &PoolSpec,
        x: OutletId,
    ) -> (OutletId, (usize, usize, usize, usize)) {
        let xn = self.src.node(x.node);
        if self.source == Source::Tflite
            && let Some(pad) = xn.op_as::<Pad>()
            && pad.pads.len() == 4
            && pad.pads[0] == (0, 0)
            && pad.pads[3] == (0, 0)
            && let PadMode::Constant(v) = &pad.mode
            && v.cast_to_scalar::<f32>().ok() == Some(0.0)
            && matches!(ps.padding, PaddingSpec::Valid)
        {
            let pads = (pad.pads[1].0, pad.pads[1].1, pad.pads[2].0, pad.pads[2].1);
            return (xn.inputs[0], pads);
        }
        (x, (0, 0, 0, 0))
    }
}

/// The convolution's geometry on an NHWC input of shape `xs`, with `pads`
/// (top, bottom, left, right) added to its own padding.
fn conv_geometry(ps: &PoolSpec, xs: [usize; 4], pads: (usize, usize, usize, usize)) -> Geometry {
    let (kh, kw) = (ps.kernel_shape[0], ps.kernel_shape[1]);
    let dil = ps.dilations();
    let strides = ps.strides();
    let (ph, pw) = (xs[1] + pads.0 + pads.1, xs[2] + pads.2 + pads.3);
    let computed = ps.padding.compute(&[ph, pw], &[kh, kw], &dil, &strides);
    Geometry {
        h: xs[1],
        w: xs[2],
        c: xs[3],
        kh,
        kw,
        sh: strides[0],
        sw: strides[1],
        dh: dil[0],
        dw: dil[1],
        pad_top: computed[0].pad_before + pads.0,
        pad_left: computed[1].pad_before + pads.2,
        oh: computed[0].convoluted,
        ow: computed[1].convoluted,
    }
}

/// The bias per output channel: none (zeros), one for all, or one each.
fn conv_bias(b: &Tensor, cout: usize) -> TractResult<Option<Vec<f32>>> {
    Ok(Some(match b.len() {
        0 => vec![0.0; cout],
        1 => vec![b.cast_to_scalar::<f32>()?; cout],
        n if n == cout => b.try_as_plain_ram()?.as_slice::<f32>()?.to_vec(),
        _ => return Ok(None),
    }))
}

/// The weights in the kernel's order: `[kh][kw][c]` for a depthwise
/// convolution, else packed `[kh*kw*cin][cout]` for the pointwise (1x1,
/// stride 1, no padding) or the im2col kernel.
fn conv_kernel(
    geo: &Geometry,
    cout: usize,
    dw: bool,
    at: &impl Fn(usize, usize, usize, usize) -> f32,
    bias: Vec<f32>,
) -> ConvKernel {
    let (kh, kw, cin) = (geo.kh, geo.kw, geo.c);
    if dw {
        let mut wd = vec![0f32; kh * kw * cin];
        for ky in 0..kh {
            for kx in 0..kw {
                for c in 0..cin {
                    wd[(ky * kw + kx) * cin + c] = at(c, 0, ky, kx);
                }
            }
        }
        return ConvKernel::Depthwise { w: wd, bias };
    }
    let wt = weights_kkc_co(cout, cin, kh, kw, at);
    let packed = PackedB::new(kh * kw * cin, cout, &wt, &bias);
    let pointwise = kh == 1
        && kw == 1
        && geo.sh == 1
        && geo.sw == 1
        && geo.pad_top == 0
        && geo.pad_left == 0
        && geo.oh == geo.h
        && geo.ow == geo.w;
    if pointwise {
        ConvKernel::Pointwise(packed)
    } else {
        ConvKernel::Im2col(packed)
    }
}

/// A reader `at(co, ci, ky, kx)` of the convolution weights `w` stored in
/// `fmt` (`ci` within the group: always 0 for a depthwise convolution),
/// after checking the tensor has the shape that implies.
fn weight_reader(
    w: &Tensor,
    fmt: KernelFormat,
    dw: bool,
    cin: usize,
    cout: usize,
    kh: usize,
    kw: usize,
) -> Option<impl Fn(usize, usize, usize, usize) -> f32> {
    let data: Vec<f32> = w.try_as_plain_ram().ok()?.as_slice::<f32>().ok()?.to_vec();
    let shape = w.shape().to_vec();
    let ci = if dw { 1 } else { cin };
    // Strides of (co, ci, ky, kx) in `data`.
    let strides: [usize; 4] = match fmt {
        KernelFormat::OIHW if shape == [cout, ci, kh, kw] => [ci * kh * kw, kh * kw, kw, 1],
        KernelFormat::OHWI if shape == [cout, kh, kw, ci] => [kh * kw * ci, 1, kw * ci, ci],
        // TFLite's depthwise weights: [1][kh][kw][c], read as OHWI.
        KernelFormat::OHWI if dw && shape == [1, kh, kw, cout] => [1, 0, kw * cout, cout],
        KernelFormat::HWIO if shape == [kh, kw, ci, cout] => [1, cout, kw * ci * cout, ci * cout],
        _ => return None,
    };
    (data.len() == cout * ci * kh * kw).then_some(move |co: usize, c: usize, y: usize, x: usize| {
        data[co * strides[0] + c * strides[1] + y * strides[2] + x * strides[3]]
    })
}
