//! A real int8 path: a graph pass that finds quantised convolutions, sums,
//! means and fully connected layers in an imported model and swaps in
//! edgemark's integer operators (`ops`, on the kernels of `kernels`).
//!
//! Two import shapes are recognised:
//! - ONNX QDQ (tract-onnx, before decluttering): `DequantizeLinear -> Conv |
//!   Add | GlobalAveragePool | Gemm -> QuantizeLinear`, per-tensor
//!   activations, per-tensor or per-channel weights (tract has already folded
//!   the weight DequantizeLinear into f32 constants; the integers and scales
//!   are recovered from them and checked exactly, see [`weights_from_f32`]).
//! - TFLite full-int8 (tract-tflite after edgemark's fix-up pass): `Conv` with
//!   quantisation inputs, `Add` and `SumPool` (MEAN) on QI8/QU8 tensors.
//!
//! The pass rebuilds the graph demand-first from the outputs: a node whose
//! value is produced by a recognised pattern becomes an edgemark op working
//! on u8 NHWC tensors; everything else is copied as tract built it. Where a
//! copied node needs a rewritten value, a boundary op converts it back to the
//! exact tensor tract would have produced (dtype, layout). So anything the
//! pass does not recognise keeps tract's own semantics.

// The integer kernels do not depend on tract (they are tested under qemu on
// the ARM targets, which build without it); the ops reach them by this name.
pub use crate::engine::kernels_i8 as kernels;
pub mod ops;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::array::{Pad, PadMode};
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec, SumPool};
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_core::ops::nn::{DataFormat, Reduce, Reducer};
use tract_onnx::tract_core::ops::quant::{DequantizeLinearF32, QuantizeLinearI8, QuantizeLinearU8};

use kernels::{AddParams, Geometry, PackedB, Requant};
use ops::{ConvKernel, Layout, QConv, QConvParams};

/// Which importer built the graph: decides how rank-4 activations are laid
/// out (NCHW for ONNX, NHWC for TFLite).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Onnx,
    Tflite,
}

/// What the pass did, for the loader's notes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub convs: usize,
    pub adds: usize,
    pub means: usize,
    pub boundaries: usize,
}

impl Summary {
    pub fn total(&self) -> usize {
        self.convs + self.adds + self.means
    }
}

/// Rewrites `model`'s quantised regions onto edgemark's integer ops. Returns
/// the model unchanged when nothing is recognised.
pub fn rewrite(model: TypedModel, source: Source) -> TractResult<(TypedModel, Summary)> {
    if std::env::var_os("EDGEMARK_NO_INT8").is_some() {
        return Ok((model, Summary::default()));
    }
    let mut t = Translator::new(&model, source)?;
    let outputs: Vec<OutletId> = model.outputs.clone();
    let mut mapped = vec![];
    for o in outputs {
        mapped.push(t.get_f(o)?);
    }
    if t.summary.total() == 0 {
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

/// A rewritten (internal) quantised value: u8, NHWC for rank 4.
#[derive(Debug, Clone)]
struct QVal {
    outlet: OutletId,
    scale: f32,
    /// Zero point in the u8 domain.
    zp: i32,
    /// Internal shape.
    shape: TVec<usize>,
    layout: Layout,
    /// The original outlet's type (I8, U8, QI8, QU8).
    orig_dt: DatumType,
}

struct Translator<'a> {
    src: &'a TypedModel,
    source: Source,
    dst: TypedModel,
    fmap: HashMap<OutletId, OutletId>,
    /// Memo of `try_rewrite` (None: not a rewritable pattern).
    rewritten: HashMap<OutletId, Option<QVal>>,
    /// Memo of fallback conversions into the internal form.
    packed: HashMap<OutletId, Option<QVal>>,
    summary: Summary,
}

/// Scale and zero point (u8 domain) of a quantised datum type.
fn dt_qparams(dt: DatumType) -> Option<(f32, i32)> {
    let (zp, scale) = dt.zp_scale();
    match dt {
        DatumType::QI8(_) => Some((scale, zp + 128)),
        DatumType::QU8(_) => Some((scale, zp)),
        _ => None,
    }
}

fn u8_offset(dt: DatumType) -> Option<i32> {
    match dt.unquantized() {
        DatumType::I8 => Some(128),
        DatumType::U8 => Some(0),
        _ => None,
    }
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
            packed: HashMap::new(),
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

    /// The original value of `o`, as tract's own node would compute it.
    fn get_f(&mut self, o: OutletId) -> TractResult<OutletId> {
        if let Some(&m) = self.fmap.get(&o) {
            return Ok(m);
        }
        let node = self.src.node(o.node);
        let name = node.name.clone();
        let out = if let Some(q) = self.try_rewrite(o)? {
            self.summary.boundaries += 1;
            self.wire(
                &format!("{name}.unpack"),
                ops::Unpack {
                    dt: q.orig_dt,
                    layout: q.layout,
                },
                &[q.outlet],
            )?
        } else if let Some(dq) = node.op_as::<DequantizeLinearF32>()
            && let Some(q) = self.try_rewrite(node.inputs[0])?
            && q.zp == dq.zero_point + u8_offset(q.orig_dt).unwrap_or(0)
        {
            self.summary.boundaries += 1;
            let op = ops::DequantizeF32 {
                scale: dq.scale,
                zp: q.zp,
                layout: q.layout,
            };
            self.wire(&name, op, &[q.outlet])?
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

    /// The constant value of `o`, evaluating constant subgraphs tract has
    /// not folded yet (ONNX weights behind Cast/Sub/Mul before decluttering).
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

    /// Recovered weights with the exact scales: ONNX keeps the weight scales
    /// as constants of the graph; a constant of one value per row with which
    /// `q * scale` gives back every f32 weight bit for bit is those scales
    /// (the recovered ones can be an ulp off, which moves rounding ties away
    /// from where the reference engines put them).
    fn exact_weights(&self, w: &[f32], rows: usize) -> Option<(Vec<i8>, Vec<f32>)> {
        let (q, mut scales) = weights_from_f32(w, rows)?;
        let per = w.len() / rows;
        for node in self.src.nodes() {
            let Some(k) = node.op_as::<tract_onnx::tract_core::ops::konst::Const>() else {
                continue;
            };
            let t = k.val();
            if t.len() != rows || t.datum_type() != f32::datum_type() {
                continue;
            }
            let Ok(view) = t.try_as_plain_ram() else {
                continue;
            };
            let Ok(cand) = view.as_slice::<f32>() else {
                continue;
            };
            let exact = (0..w.len()).all(|i| q[i] as f32 * cand[i / per] == w[i]);
            if exact {
                scales.copy_from_slice(cand);
                break;
            }
        }
        Some((q, scales))
    }

    /// `o` in the internal form, for a pattern that consumes it: the rewrite
    /// if there is one, else a conversion of tract's value.
    fn as_q(&mut self, o: OutletId) -> TractResult<Option<QVal>> {
        if let Some(q) = self.try_rewrite(o)? {
            return Ok(Some(q));
        }
        if let Some(q) = self.packed.get(&o) {
            return Ok(q.clone());
        }
        let q = self.pack(o)?;
        self.packed.insert(o, q.clone());
        Ok(q)
    }

    fn layout_for(&self, rank: usize) -> Layout {
        if rank == 4 && self.source == Source::Onnx {
            Layout::Nchw
        } else {
            Layout::Same
        }
    }

    fn pack(&mut self, o: OutletId) -> TractResult<Option<QVal>> {
        let node = self.src.node(o.node);
        let fact = self.src.outlet_fact(o)?.clone();
        let Some(shape) = fact.shape.as_concrete().map(TVec::from) else {
            return Ok(None);
        };
        let layout = self.layout_for(shape.len());
        // ONNX: the f32 value before a per-tensor QuantizeLinear.
        if let Some((scale, zp, dt)) = quantize_params(node) {
            let scale = self.exact_q_scale(o, scale);
            let x = self.get_f(node.inputs[0])?;
            if self.dst.outlet_fact(x)?.datum_type != f32::datum_type() {
                return Ok(None);
            }
            self.summary.boundaries += 1;
            let op = ops::QuantizeF32 { scale, zp, layout };
            let outlet = self.wire(&format!("{}.quantize", node.name), op, &[x])?;
            return Ok(Some(QVal {
                outlet,
                scale,
                zp,
                shape: ops::internal_shape(&shape, layout),
                layout,
                orig_dt: dt,
            }));
        }
        // Any tensor whose type carries its quantisation.
        if let Some((scale, zp)) = dt_qparams(fact.datum_type) {
            let x = self.get_f(o)?;
            self.summary.boundaries += 1;
            let outlet = self.wire(&format!("{}.pack", node.name), ops::Pack { layout }, &[x])?;
            return Ok(Some(QVal {
                outlet,
                scale,
                zp,
                shape: ops::internal_shape(&shape, layout),
                layout,
                orig_dt: fact.datum_type,
            }));
        }
        Ok(None)
    }

    fn try_rewrite(&mut self, o: OutletId) -> TractResult<Option<QVal>> {
        if let Some(q) = self.rewritten.get(&o) {
            return Ok(q.clone());
        }
        let q = match self.source {
            Source::Onnx => self.rewrite_onnx(o)?,
            Source::Tflite => self.rewrite_tflite(o)?,
        };
        self.rewritten.insert(o, q.clone());
        Ok(q)
    }

    /// The quantised input behind a DequantizeLinearF32 node feeding a
    /// pattern, checked against the dequantisation's parameters.
    fn dq_input(&mut self, o: OutletId) -> TractResult<Option<QVal>> {
        let node = self.src.node(o.node);
        let Some(dq) = node.op_as::<DequantizeLinearF32>() else {
            return Ok(None);
        };
        let (scale, zp0) = (dq.scale, dq.zero_point);
        let inner = node.inputs[0];
        let Some(off) = u8_offset(self.src.outlet_fact(inner)?.datum_type) else {
            return Ok(None);
        };
        let Some(q) = self.as_q(inner)? else {
            return Ok(None);
        };
        if q.zp != zp0 + off || !close(q.scale, scale) {
            return Ok(None);
        }
        Ok(Some(QVal { scale, ..q }))
    }

    /// tract keeps `1 / y_scale` in a QuantizeLinear, whose inverse can be an
    /// ulp off the model's scale; the DequantizeLinear that reads it back holds
    /// the model's value.
    fn exact_q_scale(&self, q: OutletId, approx: f32) -> f32 {
        for succ in &self.src.node(q.node).outputs[q.slot].successors {
            if let Some(dq) = self.src.node(succ.node).op_as::<DequantizeLinearF32>()
                && close(dq.scale, approx)
            {
                return dq.scale;
            }
        }
        approx
    }

    fn rewrite_onnx(&mut self, o: OutletId) -> TractResult<Option<QVal>> {
        let node = self.src.node(o.node);
        let Some((scale, zp, dt)) = quantize_params(node) else {
            return Ok(None);
        };
        let scale = self.exact_q_scale(o, scale);
        let out = OutQ {
            scale,
            zp,
            lo: 0,
            hi: 255,
            dt,
        };
        let x = node.inputs[0];
        let prod = self.src.node(x.node);
        let name = prod.name.clone();
        if let Some(conv) = prod.op_as::<Conv>() {
            return self.onnx_conv(&name, conv.clone(), prod.inputs.clone(), out);
        }
        if let Some(bin) = prod.op_as::<TypedBinOp>() {
            if bin.0.is::<math::Add>() {
                if let Some(q) = self.onnx_add(&name, prod.inputs[0], prod.inputs[1], &out)? {
                    return Ok(Some(q));
                }
                return self.onnx_fc(&name, prod.inputs.clone(), &out);
            }
            if bin.0.is::<math::Div>() {
                return self.onnx_mean(&name, prod.inputs[0], prod.inputs[1], &out);
            }
        }
        if let Some(AxisOp::Rm(_)) = prod.op_as::<AxisOp>() {
            return self.onnx_flatten(x, &out);
        }
        Ok(None)
    }

    fn onnx_conv(
        &mut self,
        name: &str,
        conv: Conv,
        inputs: Vec<OutletId>,
        out: OutQ,
    ) -> TractResult<Option<QVal>> {
        if conv.q_params.is_some()
            || conv.pool_spec.data_format != DataFormat::NCHW
            || conv.kernel_fmt != KernelFormat::OIHW
            || inputs.len() != 3
            || conv.pool_spec.rank() != 2
            || conv.pool_spec.dilations().iter().any(|&d| d != 1)
        {
            return Ok(None);
        }
        let Some(w) = self.konst(inputs[1], 8) else {
            return Ok(None);
        };
        let Some(b) = self.konst(inputs[2], 8) else {
            return Ok(None);
        };
        let Some(x) = self.dq_input(inputs[0])? else {
            return Ok(None);
        };
        if x.shape.len() != 4 || x.layout != Layout::Nchw {
            return Ok(None);
        }
        let (cin, cout, group) = (conv.input_channels(), conv.output_channels(), conv.group);
        let dw = group > 1 && group == cin && cout == cin;
        if group != 1 && !dw {
            return Ok(None);
        }
        let ws = w.shape();
        let (kh, kw) = (ws[2], ws[3]);
        let Ok(w) = w.cast_to::<f32>() else {
            return Ok(None);
        };
        let w = w.try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
        let Some((wq, wscale)) = self.exact_weights(&w, cout) else {
            return Ok(None);
        };
        // [cout][cin/g][kh][kw] -> [kh][kw][cin][cout] (or [kh][kw][c]).
        let ci = if dw { 1 } else { cin };
        let mut wt = vec![0i8; wq.len()];
        for co in 0..cout {
            for c in 0..ci {
                for y in 0..kh {
                    for xx in 0..kw {
                        let v = wq[((co * ci + c) * kh + y) * kw + xx];
                        wt[((y * kw + xx) * ci + c) * cout + co] = v;
                    }
                }
            }
        }
        let Ok(b) = b.cast_to::<f32>() else {
            return Ok(None);
        };
        let b = b.try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
        if b.len() != cout {
            return Ok(None);
        }
        let bias: Vec<i32> = (0..cout)
            .map(|c| {
                let s = x.scale * wscale[c];
                if s == 0.0 {
                    0
                } else {
                    (b[c] / s).round_ties_even() as i32
                }
            })
            .collect();
        let Some(geo) = geometry(&conv, x.shape[1], x.shape[2], (0, 0, 0, 0)) else {
            return Ok(None);
        };
        self.finish_conv(name, x, geo, cin, cout, dw, wt, bias, wscale, out)
    }

    /// `acc * s_in * s_w[c] / s_out` per channel, then the kernel choice.
    #[allow(clippy::too_many_arguments)]
    fn finish_conv(
        &mut self,
        name: &str,
        x: QVal,
        geo: Geometry,
        cin: usize,
        cout: usize,
        dw: bool,
        w: Vec<i8>,
        bias: Vec<i32>,
        wscale: Vec<f32>,
        out: OutQ,
    ) -> TractResult<Option<QVal>> {
        let mult: Vec<f32> = wscale.iter().map(|&s| x.scale * s / out.scale).collect();
        let kernel = if dw {
            ConvKernel::Depthwise(w)
        } else {
            let pb = PackedB::pack(geo.kh * geo.kw * cin, cout, &w);
            let pointwise = geo.kh == 1
                && geo.kw == 1
                && geo.sh == 1
                && geo.sw == 1
                && geo.pad_top == 0
                && geo.pad_left == 0;
            if pointwise {
                ConvKernel::Pointwise(pb)
            } else {
                ConvKernel::Im2col(pb)
            }
        };
        let bias = match &kernel {
            ConvKernel::Depthwise(_) => bias,
            ConvKernel::Pointwise(pb) | ConvKernel::Im2col(pb) => bias
                .iter()
                .zip(&pb.col_sums)
                .map(|(&b, &s)| b.wrapping_sub(x.zp.wrapping_mul(s)))
                .collect(),
        };
        let flat = x.shape.len() == 2;
        let p = QConvParams {
            geo,
            cin,
            cout,
            zp_in: x.zp,
            kernel,
            rq: Requant {
                bias,
                mult,
                zp: out.zp,
                lo: out.lo,
                hi: out.hi,
            },
            flat,
        };
        let outlet = self.wire(name, QConv { p: Arc::new(p) }, &[x.outlet])?;
        self.summary.convs += 1;
        let shape = if flat {
            tvec!(x.shape[0], cout)
        } else {
            tvec!(x.shape[0], geo.oh, geo.ow, cout)
        };
        Ok(Some(QVal {
            outlet,
            scale: out.scale,
            zp: out.zp,
            shape,
            layout: x.layout,
            orig_dt: out.dt,
        }))
    }

    fn finish_add(
        &mut self,
        name: &str,
        a: QVal,
        b: QVal,
        out: &OutQ,
    ) -> TractResult<Option<QVal>> {
        if a.shape != b.shape || a.layout != b.layout {
            return Ok(None);
        }
        let p = AddParams {
            za: a.zp,
            fa: a.scale / out.scale,
            zb: b.zp,
            fb: b.scale / out.scale,
            zy: out.zp,
            lo: out.lo,
            hi: out.hi,
        };
        let outlet = self.wire(name, ops::QAdd { p }, &[a.outlet, b.outlet])?;
        self.summary.adds += 1;
        Ok(Some(QVal {
            outlet,
            scale: out.scale,
            zp: out.zp,
            shape: a.shape,
            layout: a.layout,
            orig_dt: out.dt,
        }))
    }

    fn onnx_add(
        &mut self,
        name: &str,
        a: OutletId,
        b: OutletId,
        out: &OutQ,
    ) -> TractResult<Option<QVal>> {
        let dq = |o: OutletId| self.src.node(o.node).op_is::<DequantizeLinearF32>();
        if !dq(a) || !dq(b) {
            return Ok(None);
        }
        let Some(qa) = self.dq_input(a)? else {
            return Ok(None);
        };
        let Some(qb) = self.dq_input(b)? else {
            return Ok(None);
        };
        self.finish_add(name, qa, qb, out)
    }

    /// GlobalAveragePool: `Div(Reduce<Sum>[2,3](DQ(q)), h*w)`.
    fn onnx_mean(
        &mut self,
        name: &str,
        sum: OutletId,
        div: OutletId,
        out: &OutQ,
    ) -> TractResult<Option<QVal>> {
        let sn = self.src.node(sum.node);
        let Some(red) = sn.op_as::<Reduce>() else {
            return Ok(None);
        };
        if red.reducer != Reducer::Sum || red.axes.as_slice() != [2, 3] {
            return Ok(None);
        }
        let Some(d) = self.konst(div, 4) else {
            return Ok(None);
        };
        let Ok(d) = d.cast_to::<f32>() else {
            return Ok(None);
        };
        let d = d.try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
        let input = sn.inputs[0];
        let Some(x) = self.dq_input(input)? else {
            return Ok(None);
        };
        if x.shape.len() != 4
            || x.layout != Layout::Nchw
            || d.len() != 1
            || d[0] != (x.shape[1] * x.shape[2]) as f32
        {
            return Ok(None);
        }
        self.finish_mean(name, x, out)
    }

    fn finish_mean(&mut self, name: &str, x: QVal, out: &OutQ) -> TractResult<Option<QVal>> {
        let (hw, c) = (x.shape[1] * x.shape[2], x.shape[3]);
        let m = x.scale / (out.scale * hw as f32);
        let op = ops::QMean {
            zp_in: x.zp,
            rq: Requant {
                bias: vec![0; c],
                mult: vec![m; c],
                zp: out.zp,
                lo: out.lo,
                hi: out.hi,
            },
            flat: false,
        };
        let outlet = self.wire(name, op, &[x.outlet])?;
        self.summary.means += 1;
        Ok(Some(QVal {
            outlet,
            scale: out.scale,
            zp: out.zp,
            shape: tvec!(x.shape[0], 1, 1, c),
            layout: x.layout,
            orig_dt: out.dt,
        }))
    }

    /// `Q(RmAxis..(DQ(q)))` with the same parameters on both sides, on a
    /// tensor with 1x1 spatial extent: a flatten, the data do not move.
    fn onnx_flatten(&mut self, x: OutletId, out: &OutQ) -> TractResult<Option<QVal>> {
        let mut cur = x;
        let mut rms = 0;
        while let Some(AxisOp::Rm(_)) = self.src.node(cur.node).op_as::<AxisOp>() {
            cur = self.src.node(cur.node).inputs[0];
            rms += 1;
        }
        let shape: TVec<usize> = match self.src.outlet_fact(x)?.shape.as_concrete() {
            Some(s) => s.into(),
            None => return Ok(None),
        };
        let Some(q) = self.dq_input(cur)? else {
            return Ok(None);
        };
        if rms != 2
            || q.shape.len() != 4
            || q.shape[1] != 1
            || q.shape[2] != 1
            || shape.as_slice() != [q.shape[0], q.shape[3]]
        {
            return Ok(None);
        }
        if q.zp != out.zp || !close(q.scale, out.scale) {
            return Ok(None);
        }
        let mut w = q.outlet;
        for axis in [2, 1] {
            w = self.wire(
                &format!("{}.flatten{axis}", self.src.node(x.node).name),
                AxisOp::Rm(axis),
                &[w],
            )?;
        }
        Ok(Some(QVal {
            outlet: w,
            shape,
            layout: Layout::Same,
            orig_dt: out.dt,
            ..q
        }))
    }

    /// Gemm: `Add(EinSum mk,nk->mn (DQ(q), W), bias)`.
    fn onnx_fc(
        &mut self,
        name: &str,
        inputs: Vec<OutletId>,
        out: &OutQ,
    ) -> TractResult<Option<QVal>> {
        let (mm, bias) = (inputs[0], inputs[1]);
        let en = self.src.node(mm.node);
        let Some(es) = en.op_as::<EinSum>() else {
            return Ok(None);
        };
        if es.q_params.is_some() || es.axes.to_string() != "mk,nk->mn" || en.inputs.len() != 2 {
            return Ok(None);
        }
        let (a, wo) = (en.inputs[0], en.inputs[1]);
        let Some(w) = self.konst(wo, 8) else {
            return Ok(None);
        };
        let Some(b) = self.konst(bias, 8) else {
            return Ok(None);
        };
        let Some(x) = self.dq_input(a)? else {
            return Ok(None);
        };
        let ws = w.shape().to_vec();
        if x.shape.len() != 2 || ws.len() != 2 || ws[1] != x.shape[1] {
            return Ok(None);
        }
        let (n, k) = (ws[0], ws[1]);
        let Ok(w) = w.cast_to::<f32>() else {
            return Ok(None);
        };
        let w = w.try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
        let Some((wq, wscale)) = self.exact_weights(&w, n) else {
            return Ok(None);
        };
        let Ok(b) = b.cast_to::<f32>() else {
            return Ok(None);
        };
        if b.len() != n {
            return Ok(None);
        }
        let b = b.try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
        let mut wt = vec![0i8; n * k];
        for nn in 0..n {
            for kk in 0..k {
                wt[kk * n + nn] = wq[nn * k + kk];
            }
        }
        let bias: Vec<i32> = (0..n)
            .map(|c| {
                let s = x.scale * wscale[c];
                if s == 0.0 {
                    0
                } else {
                    (b[c] / s).round_ties_even() as i32
                }
            })
            .collect();
        let geo = Geometry {
            h: 1,
            w: 1,
            kh: 1,
            kw: 1,
            sh: 1,
            sw: 1,
            pad_top: 0,
            pad_left: 0,
            oh: 1,
            ow: 1,
        };
        self.finish_conv(name, x, geo, k, n, false, wt, bias, wscale, out.clone())
    }

    fn rewrite_tflite(&mut self, o: OutletId) -> TractResult<Option<QVal>> {
        let node = self.src.node(o.node);
        let fact = self.src.outlet_fact(o)?;
        let Some((scale, zp)) = dt_qparams(fact.datum_type) else {
            return Ok(None);
        };
        let out = OutQ {
            scale,
            zp,
            lo: 0,
            hi: 255,
            dt: fact.datum_type,
        };
        let name = node.name.clone();
        if let Some(conv) = node.op_as::<Conv>() {
            return self.tflite_conv(&name, conv.clone(), node.inputs.clone(), out);
        }
        if let Some(bin) = node.op_as::<TypedBinOp>()
            && bin.0.is::<math::Add>()
        {
            let (a, b) = (
                self.skip_identity_requant(node.inputs[0])?,
                self.skip_identity_requant(node.inputs[1])?,
            );
            let Some(qa) = self.as_q(a)? else {
                return Ok(None);
            };
            let Some(qb) = self.as_q(b)? else {
                return Ok(None);
            };
            return self.finish_add(&name, qa, qb, &out);
        }
        if let Some(pool) = node.op_as::<SumPool>() {
            let x = node.inputs[0];
            let Some(s) = self.src.outlet_fact(x)?.shape.as_concrete().map(TVec::from) else {
                return Ok(None);
            };
            let ps = &pool.pool_spec;
            if !pool.normalize
                || ps.data_format != DataFormat::NHWC
                || s.len() != 4
                || ps.kernel_shape.as_slice() != [s[1], s[2]]
                || !matches!(ps.padding, PaddingSpec::Valid)
            {
                return Ok(None);
            }
            let Some(q) = self.as_q(x)? else {
                return Ok(None);
            };
            return self.finish_mean(&name, q, &out);
        }
        Ok(None)
    }

    /// edgemark's TFLite fix-up feeds an int8 ADD of differing scales through
    /// a 1x1 depthwise convolution of weight 1 that only changes the scale
    /// (`quantized_add` in tflite_fix). QAdd takes differing scales itself;
    /// skipping that convolution saves one rounding step. Anything else is
    /// returned unchanged.
    fn skip_identity_requant(&self, o: OutletId) -> TractResult<OutletId> {
        let node = self.src.node(o.node);
        let Some(conv) = node.op_as::<Conv>() else {
            return Ok(o);
        };
        let ks = &conv.pool_spec.kernel_shape;
        if conv.q_params.is_none()
            || node.inputs.len() != 9
            || ks.iter().any(|&k| k != 1)
            || conv.pool_spec.strides().iter().any(|&s| s != 1)
            || conv.group != conv.input_channels()
            || conv.input_channels() != conv.output_channels()
        {
            return Ok(o);
        }
        let (Some(w), Some(b), Some(k0), Some(kscale)) = (
            self.konst(node.inputs[1], 4),
            self.konst(node.inputs[2], 4),
            self.konst(node.inputs[5], 4),
            self.konst(node.inputs[6], 4),
        ) else {
            return Ok(o);
        };
        let ones = |t: &Tensor, v: f32| {
            t.cast_to::<f32>().ok().is_some_and(|t| {
                t.try_as_plain_ram()
                    .ok()
                    .and_then(|p| p.as_slice::<f32>().ok().map(|s| s.iter().all(|&x| x == v)))
                    .unwrap_or(false)
            })
        };
        if ones(&w, 1.0) && ones(&kscale, 1.0) && ones(&b, 0.0) && ones(&k0, 0.0) {
            return Ok(node.inputs[0]);
        }
        Ok(o)
    }

    fn tflite_conv(
        &mut self,
        name: &str,
        conv: Conv,
        inputs: Vec<OutletId>,
        out: OutQ,
    ) -> TractResult<Option<QVal>> {
        if conv.q_params.is_none()
            || inputs.len() != 9
            || conv.pool_spec.data_format != DataFormat::NHWC
            || conv.kernel_fmt != KernelFormat::OHWI
            || conv.pool_spec.rank() != 2
            || conv.pool_spec.dilations().iter().any(|&d| d != 1)
        {
            return Ok(None);
        }
        let mut k = vec![];
        for &i in &inputs[1..] {
            let Some(t) = self.konst(i, 4) else {
                return Ok(None);
            };
            k.push(t);
        }
        let Some(q) = TfliteConvQ::of(&k)? else {
            return Ok(None);
        };
        let Some(off_out) = u8_offset(out.dt) else {
            return Ok(None);
        };
        let x_dt = self.src.outlet_fact(inputs[0])?.datum_type;
        let Some(off_in) = u8_offset(x_dt) else {
            return Ok(None);
        };
        if !close(out.scale, q.cscale) || out.zp != q.c0 + off_out {
            return Ok(None);
        }
        let (x_out, pads) = self.absorb_pad(&conv, inputs[0], q.i0);
        let Some(x) = self.as_q(x_out)? else {
            return Ok(None);
        };
        if x.shape.len() != 4
            || x.layout != Layout::Same
            || x.zp != q.i0 + off_in
            || !close(x.scale, q.iscale)
        {
            return Ok(None);
        }
        let (cin, cout, group) = (conv.input_channels(), conv.output_channels(), conv.group);
        let dw = group > 1 && group == cin && cout == cin;
        if group != 1 && !dw {
            return Ok(None);
        }
        let (w, b, kscale) = (&k[0], &k[1], &k[5]);
        let Some((wt, wscale)) = tflite_weights(w, kscale, cin, cout, dw)? else {
            return Ok(None);
        };
        let Ok(b) = b.cast_to::<i32>() else {
            return Ok(None);
        };
        let bias = b.try_as_plain_ram()?.as_slice::<i32>()?.to_vec();
        if bias.len() != cout {
            return Ok(None);
        }
        let Some(geo) = geometry(&conv, x.shape[1], x.shape[2], pads) else {
            return Ok(None);
        };
        self.finish_conv(name, x, geo, cin, cout, dw, wt, bias, wscale, out)
    }

    /// A Pad of the real zero (`i0`) in front of an unpadded convolution
    /// becomes its padding: the Pad's input and (top, bottom, left, right).
    fn absorb_pad(
        &self,
        conv: &Conv,
        x_out: OutletId,
        i0: i32,
    ) -> (OutletId, (usize, usize, usize, usize)) {
        let xn = self.src.node(x_out.node);
        if let Some(pad) = xn.op_as::<Pad>()
            && pad.pads.len() == 4
            && pad.pads[0] == (0, 0)
            && pad.pads[3] == (0, 0)
            && let PadMode::Constant(v) = &pad.mode
            && v.cast_to_scalar::<i32>().ok() == Some(i0)
            && matches!(conv.pool_spec.padding, PaddingSpec::Valid)
        {
            let pads = (pad.pads[1].0, pad.pads[1].1, pad.pads[2].0, pad.pads[2].1);
            return (xn.inputs[0], pads);
        }
        (x_out, (0, 0, 0, 0))
    }
}

/// The scalar quantisation of a TFLite int8 convolution: input and output
/// zero points and scales (the weights' are per channel, checked apart).
struct TfliteConvQ {
    i0: i32,
    iscale: f32,
    c0: i32,
    cscale: f32,
}

impl TfliteConvQ {
    /// From the constant inputs after the data input (weights, bias, input
    /// zero point and scale, weight zero points and scales, output zero point
    /// and scale). None when a scalar is not one, or a weight zero point is
    /// not 0 (the TFLite int8 spec), or the weights are not i8.
    fn of(k: &[Arc<Tensor>]) -> TractResult<Option<TfliteConvQ>> {
        let (w, i0, iscale, k0, c0, cscale) = (&k[0], &k[2], &k[3], &k[4], &k[6], &k[7]);
        let scalar_i = |t: &Tensor| -> Option<i32> {
            (t.len() == 1)
                .then(|| t.cast_to_scalar::<i32>().ok())
                .flatten()
        };
        let scalar_f = |t: &Tensor| -> Option<f32> {
            (t.len() == 1)
                .then(|| t.cast_to_scalar::<f32>().ok())
                .flatten()
        };
        let (Some(i0), Some(iscale), Some(c0), Some(cscale)) = (
            scalar_i(i0),
            scalar_f(iscale),
            scalar_i(c0),
            scalar_f(cscale),
        ) else {
            return Ok(None);
        };
        let Ok(k0v) = k0.cast_to::<i32>() else {
            return Ok(None);
        };
        if k0v
            .try_as_plain_ram()?
            .as_slice::<i32>()?
            .iter()
            .any(|&z| z != 0)
            || w.datum_type().unquantized() != DatumType::I8
        {
            return Ok(None);
        }
        Ok(Some(TfliteConvQ {
            i0,
            iscale,
            c0,
            cscale,
        }))
    }
}

/// TFLite's int8 weights in the kernels' order with a scale per output
/// channel: [1][kh][kw][c] (depthwise) is already [kh][kw][c];
/// [cout][kh][kw][cin] becomes [kh][kw][cin][cout]. None on other shapes.
#[allow(clippy::type_complexity)]
fn tflite_weights(
    w: &Tensor,
    kscale: &Tensor,
    cin: usize,
    cout: usize,
    dw: bool,
) -> TractResult<Option<(Vec<i8>, Vec<f32>)>> {
    let ws = w.shape().to_vec();
    let (kh, kw) = (ws[1], ws[2]);
    let wv = w.try_as_plain_ram()?.as_slice::<i8>()?.to_vec();
    let kscale = kscale
        .cast_to::<f32>()?
        .try_as_plain_ram()?
        .as_slice::<f32>()?
        .to_vec();
    let wscale: Vec<f32> = match kscale.len() {
        1 => vec![kscale[0]; cout],
        n if n == cout => kscale,
        _ => return Ok(None),
    };
    let wt = if dw {
        if ws[0] != 1 || ws[3] != cout {
            return Ok(None);
        }
        wv
    } else {
        if ws[0] != cout || ws[3] != cin {
            return Ok(None);
        }
        let mut t = vec![0i8; wv.len()];
        for co in 0..cout {
            for y in 0..kh {
                for xx in 0..kw {
                    for c in 0..cin {
                        t[((y * kw + xx) * cin + c) * cout + co] =
                            wv[((co * kh + y) * kw + xx) * cin + c];
                    }
                }
            }
        }
        t
    };
    Ok(Some((wt, wscale)))
}

/// Output quantisation of a pattern.
#[derive(Debug, Clone)]
struct OutQ {
    scale: f32,
    zp: i32,
    lo: u8,
    hi: u8,
    dt: DatumType,
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs())
}

/// Scale, zero point (u8 domain) and original dtype of a per-tensor ONNX
/// QuantizeLinear (tract stores `1 / scale`).
fn quantize_params(node: &TypedNode) -> Option<(f32, i32, DatumType)> {
    let ew = node.op_as::<ElementWiseOp>()?;
    if let Some(q) = ew.0.downcast_ref::<QuantizeLinearI8>() {
        return Some((q.scale.recip(), q.zero_point as i32 + 128, DatumType::I8));
    }
    if let Some(q) = ew.0.downcast_ref::<QuantizeLinearU8>() {
        return Some((q.scale.recip(), q.zero_point as i32, DatumType::U8));
    }
    None
}

/// Output geometry of a 2-D convolution on an `h x w` input, with explicit
/// padding `(top, bottom, left, right)` added in front of it.
fn geometry(
    conv: &Conv,
    h: usize,
    w: usize,
    pads: (usize, usize, usize, usize),
) -> Option<Geometry> {
    let ps = &conv.pool_spec;
    let (ph, pw) = (h + pads.0 + pads.1, w + pads.2 + pads.3);
    let k = &ps.kernel_shape;
    let strides = ps.strides();
    let computed = ps.padding.compute(&[ph, pw], k, &[1, 1], &strides);
    let g = Geometry {
        h,
        w,
        kh: k[0],
        kw: k[1],
        sh: strides[0],
        sw: strides[1],
        pad_top: computed[0].pad_before + pads.0,
        pad_left: computed[1].pad_before + pads.2,
        oh: computed[0].convoluted,
        ow: computed[1].convoluted,
    };
    (g.oh > 0 && g.ow > 0).then_some(g)
}

/// Recovers integer weights from tract's dequantised f32 constants: per
/// output channel (`rows` leading rows), the scale that makes every weight an
/// integer in [-127, 127] with the largest magnitude at 127 (symmetric
/// quantisation, as ONNX and TFLite quantisers produce), checked exactly:
/// every weight must be `q * scale` within 1/1000 of a step. None when the
/// weights are not of that form (the node then stays in f32).
pub fn weights_from_f32(w: &[f32], rows: usize) -> Option<(Vec<i8>, Vec<f32>)> {
    if rows == 0 || !w.len().is_multiple_of(rows) {
        return None;
    }
    let per = w.len() / rows;
    let mut q = vec![0i8; w.len()];
    let mut scales = vec![0f32; rows];
    for r in 0..rows {
        let ws = &w[r * per..][..per];
        let max = ws.iter().fold(0f32, |m, v| m.max(v.abs()));
        if max == 0.0 {
            scales[r] = 1.0;
            continue;
        }
        let mut found = false;
        for top in [127f32, 128.0] {
            let s = max / top;
            let ok = ws.iter().all(|&v| {
                let x = v / s;
                (x - x.round()).abs() <= 1e-3 && x.round() >= -128.0 && x.round() <= 127.0
            });
            if ok {
                for (d, &v) in q[r * per..][..per].iter_mut().zip(ws) {
                    *d = (v / s).round() as i8;
                }
                scales[r] = s;
                found = true;
                break;
            }
        }
        if !found {
            return None;
        }
    }
    Some((q, scales))
}
