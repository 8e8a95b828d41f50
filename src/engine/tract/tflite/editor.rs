//! Edits the main subgraph of a TFLite flatbuffer without a full object model.
//!
//! tract-tflite's generated schema has no object API, and copying every builtin
//! options table would need code per options type. Instead the new file embeds the
//! original bytes untouched and builds only what changes (the model and main
//! subgraph tables, new tensors, operators and buffers) in front of them: flatbuffer
//! offsets are relative and point forward, so unchanged tables (tensors, weight
//! buffers, options, other subgraphs, metadata) are referenced where they already
//! are. Weights are never copied or re-encoded.
//!
//! Tensor and buffer indices of the original stay valid; new ones are appended.

use flatbuffers::{FlatBufferBuilder, ForwardsUOffset, UnionWIPOffset, Vector, WIPOffset};
use tract_tflite::tflite::{
    self, ActivationFunctionType, AddOptions, AddOptionsArgs, Buffer, BufferArgs, BuiltinOperator,
    BuiltinOptions, Conv2DOptions, Conv2DOptionsArgs, DepthwiseConv2DOptions,
    DepthwiseConv2DOptionsArgs, MaximumMinimumOptions, MaximumMinimumOptionsArgs, Model, ModelArgs,
    MulOptions, MulOptionsArgs, Operator, OperatorArgs, OperatorCode, OperatorCodeArgs, Padding,
    QuantizationParameters, QuantizationParametersArgs, ReshapeOptions, ReshapeOptionsArgs,
    SubGraph, SubGraphArgs, Tensor, TensorArgs, TensorType,
};

use super::inspect::resolved_code;
use super::own_ops::Cut;

/// A tensor the rewrite creates (or puts in place of an original one).
#[derive(Debug, Clone)]
pub(crate) struct NewTensor {
    pub name: String,
    pub shape: Vec<i32>,
    pub ty: TensorType,
    /// Buffer index; 0 is TFLite's "no data" sentinel.
    pub buffer: u32,
    /// Per-tensor (scale, zero point).
    pub quant: Option<(f32, i64)>,
    /// Instead of `quant`: reuse this original tensor's quantisation (per-axis too).
    pub quant_of: Option<i32>,
}

/// Options of the operators rewrites emit.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Opts {
    None,
    /// Keep the original operator's options table (by its location in the file).
    Original {
        ty: BuiltinOptions,
        loc: usize,
    },
    Add(ActivationFunctionType),
    Mul(ActivationFunctionType),
    MaxMin,
    Reshape,
    /// SUB, no activation.
    Sub,
    /// CONCATENATION along this axis, no activation.
    Concat(i32),
    /// DEPTHWISE_CONV_2D with a 1x1 kernel, stride 1: a per-channel requantisation.
    Depthwise1x1,
    /// CONV_2D with a 1x1 kernel, stride 1 (a FULLY_CONNECTED over the width axis).
    Conv1x1(ActivationFunctionType),
    /// CONV_2D (`depth_multiplier` None) or DEPTHWISE_CONV_2D with these options.
    Conv(ConvParams),
}

/// The options of a CONV_2D / DEPTHWISE_CONV_2D, to re-emit one with a change.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConvParams {
    pub padding: Padding,
    pub stride: (i32, i32),
    pub dilation: (i32, i32),
    pub depth_multiplier: Option<i32>,
    pub act: ActivationFunctionType,
}

#[derive(Debug, Clone)]
pub(crate) struct NewOp {
    pub code: BuiltinOperator,
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
    pub opts: Opts,
}

enum OpSlot {
    Original(usize),
    New(NewOp),
}

pub(crate) struct Editor<'a> {
    pub bytes: &'a [u8],
    pub model: tflite::Model<'a>,
    pub sg: tflite::SubGraph<'a>,
    n_tensors: usize,
    replaced: Vec<(usize, NewTensor)>,
    added: Vec<NewTensor>,
    n_buffers: usize,
    new_buffers: Vec<Vec<u8>>,
    ops: Vec<OpSlot>,
    /// Graph cuts: (tensors made extra subgraph outputs, tensors made extra inputs,
    /// what joins them after import).
    cuts: Vec<(Vec<i32>, Vec<i32>, Cut)>,
}

/// Location of a table/vector/string inside `bytes`, from a slice it returned.
fn loc_of(bytes: &[u8], inner: &[u8]) -> usize {
    inner.as_ptr() as usize - bytes.as_ptr() as usize
}

impl<'a> Editor<'a> {
    pub fn new(bytes: &'a [u8], model: tflite::Model<'a>) -> Editor<'a> {
        let sg = model.subgraphs().expect("checked by parse").get(0);
        let n_tensors = sg.tensors().map(|t| t.len()).unwrap_or(0);
        let n_buffers = model.buffers().map(|b| b.len()).unwrap_or(0);
        Editor {
            bytes,
            model,
            sg,
            n_tensors,
            replaced: vec![],
            added: vec![],
            n_buffers,
            new_buffers: vec![],
            ops: vec![],
            cuts: vec![],
        }
    }

    pub fn tensor(&self, ix: i32) -> tflite::Tensor<'a> {
        self.sg
            .tensors()
            .expect("model has tensors")
            .get(ix as usize)
    }

    pub fn shape(&self, ix: i32) -> Vec<i32> {
        if let Some(t) = self.added.get((ix as usize).wrapping_sub(self.n_tensors)) {
            return t.shape.clone();
        }
        self.tensor(ix)
            .shape()
            .map(|s| s.iter().collect())
            .unwrap_or_default()
    }

    /// The constant bytes of an original tensor, if it has any.
    pub fn const_data(&self, ix: i32) -> Option<&'a [u8]> {
        let b = self.tensor(ix).buffer() as usize;
        if b == 0 {
            return None;
        }
        let buffers = self.model.buffers()?;
        if b >= buffers.len() {
            return None;
        }
        let data = buffers.get(b).data()?;
        (!data.is_empty()).then(|| data.bytes())
    }

    /// The bytes of a constant this edit created or put in place of tensor `ix`
    /// (a folded DEQUANTIZE), if any.
    pub fn new_const_data(&self, ix: i32) -> Option<&[u8]> {
        let t = self
            .replaced
            .iter()
            .rev()
            .find(|(i, _)| *i as i32 == ix)
            .map(|(_, t)| t)
            .or_else(|| self.added.get((ix as usize).wrapping_sub(self.n_tensors)))?;
        let b = (t.buffer as usize).checked_sub(self.n_buffers)?;
        self.new_buffers.get(b).map(|v| &v[..])
    }

    pub fn add_buffer(&mut self, data: Vec<u8>) -> u32 {
        self.new_buffers.push(data);
        (self.n_buffers + self.new_buffers.len() - 1) as u32
    }

    pub fn add_tensor(&mut self, t: NewTensor) -> i32 {
        self.added.push(t);
        (self.n_tensors + self.added.len() - 1) as i32
    }

    pub fn add_const_f32(&mut self, name: String, shape: Vec<i32>, data: &[f32]) -> i32 {
        let bytes = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        let buffer = self.add_buffer(bytes);
        self.add_tensor(NewTensor {
            name,
            shape,
            ty: TensorType::FLOAT32,
            buffer,
            quant: None,
            quant_of: None,
        })
    }

    pub fn add_const(
        &mut self,
        name: String,
        shape: Vec<i32>,
        ty: TensorType,
        data: Vec<u8>,
        quant: Option<(f32, i64)>,
    ) -> i32 {
        let buffer = self.add_buffer(data);
        self.add_tensor(NewTensor {
            name,
            shape,
            ty,
            buffer,
            quant,
            quant_of: None,
        })
    }

    /// Per-tensor (scale, zero point) of an original tensor.
    pub fn quant(&self, ix: i32) -> Option<(f32, i64)> {
        let q = self.tensor(ix).quantization()?;
        let (s, z) = (q.scale()?, q.zero_point()?);
        (s.len() == 1 && z.len() == 1).then(|| (s.get(0), z.get(0)))
    }

    pub fn add_const_i32(&mut self, name: String, data: &[i32]) -> i32 {
        let bytes = data.iter().flat_map(|x| x.to_le_bytes()).collect();
        let buffer = self.add_buffer(bytes);
        let shape = vec![data.len() as i32];
        self.add_tensor(NewTensor {
            name,
            shape,
            ty: TensorType::INT32,
            buffer,
            quant: None,
            quant_of: None,
        })
    }

    /// The name of tensor `ix`, original or added.
    pub fn name(&self, ix: i32) -> String {
        if let Some(t) = self.added.get((ix as usize).wrapping_sub(self.n_tensors)) {
            return t.name.clone();
        }
        self.tensor(ix).name().unwrap_or("t").to_owned()
    }

    /// An intermediate f32 tensor named after `base`.
    pub fn add_f32(&mut self, base: i32, suffix: &str, shape: Vec<i32>) -> i32 {
        let name = format!("{}.{suffix}", self.name(base));
        self.add_tensor(NewTensor {
            name,
            shape,
            ty: TensorType::FLOAT32,
            buffer: 0,
            quant: None,
            quant_of: None,
        })
    }

    /// Changes the shape of a tensor this edit added.
    pub fn set_added_shape(&mut self, ix: i32, shape: Vec<i32>) {
        if let Some(t) = self
            .added
            .get_mut((ix as usize).wrapping_sub(self.n_tensors))
        {
            t.shape = shape;
        }
    }

    /// Puts a new definition in place of original tensor `ix` (same index).
    pub fn replace_tensor(&mut self, ix: i32, t: NewTensor) {
        self.replaced.push((ix as usize, t));
    }

    pub fn keep_op(&mut self, node: usize) {
        self.ops.push(OpSlot::Original(node));
    }

    pub fn push_op(&mut self, op: NewOp) {
        self.ops.push(OpSlot::New(op));
    }

    /// Options of original operator `op`, to re-emit it with other tensors.
    pub fn original_opts(&self, op: &tflite::Operator<'a>) -> Opts {
        match op.builtin_options() {
            Some(t) => Opts::Original {
                ty: op.builtin_options_type(),
                loc: t.loc(),
            },
            None => Opts::None,
        }
    }

    /// Cuts the graph between `from` and `to`: `from` becomes an extra output and
    /// `to` an extra input of the subgraph, to be joined again after import.
    pub fn cut(&mut self, from: i32, to: i32) {
        self.cuts.push((vec![from], vec![to], Cut::Cast));
    }

    /// Takes an operator out of the graph: its `inputs` become extra subgraph
    /// outputs and its `outputs` extra inputs, and `cut` (an edgemark op) joins them
    /// after import.
    pub fn cut_op(&mut self, inputs: Vec<i32>, outputs: Vec<i32>, cut: Cut) {
        self.cuts.push((inputs, outputs, cut));
    }

    pub fn cuts(&self) -> Vec<Cut> {
        self.cuts.iter().map(|c| c.2.clone()).collect()
    }

    pub fn changed(&self) -> bool {
        !self.replaced.is_empty()
            || !self.added.is_empty()
            || self
                .ops
                .iter()
                .enumerate()
                .any(|(i, o)| !matches!(o, OpSlot::Original(n) if *n == i))
            || self.ops.len() != self.sg.operators().map(|o| o.len()).unwrap_or(0)
    }

    /// Writes the edited model.
    pub fn finish(self) -> Vec<u8> {
        let bytes = self.bytes;
        let mut fb = FlatBufferBuilder::with_capacity(bytes.len() + 4096);
        // Put the original at an 8-aligned distance from the end (the finished
        // buffer's length is a multiple of its largest alignment, so this keeps every
        // original scalar aligned): `create_vector::<u8>` pads only to 4.
        fb.push(0u64);
        for _ in 0..(8 - bytes.len() % 8) % 8 {
            fb.push(0u8);
        }
        let orig = fb.create_vector(bytes);
        let base = orig.value() as usize - 4;
        let old = |inner: &[u8]| -> u32 { (base - loc_of(bytes, inner)) as u32 };
        let old_table = |loc: usize| -> u32 { (base - loc) as u32 };

        // Buffers: originals by reference, then the new ones.
        let mut buffers: Vec<WIPOffset<Buffer>> = (0..self.n_buffers)
            .map(|i| WIPOffset::new(old_table(self.model.buffers().unwrap().get(i)._tab.loc())))
            .collect();
        for data in &self.new_buffers {
            let v = fb.create_vector(data);
            buffers.push(Buffer::create(&mut fb, &BufferArgs { data: Some(v) }));
        }

        // Operator codes: originals, then any builtin not yet listed.
        let orig_codes: Vec<tflite::OperatorCode> = self
            .model
            .operator_codes()
            .map(|c| c.iter().collect())
            .unwrap_or_default();
        let mut codes: Vec<WIPOffset<OperatorCode>> = orig_codes
            .iter()
            .map(|c| WIPOffset::new(old_table(c._tab.loc())))
            .collect();
        let mut extra_codes: Vec<BuiltinOperator> = vec![];
        let mut code_index = |code: BuiltinOperator| -> u32 {
            if let Some(i) = orig_codes.iter().position(|c| resolved_code(c) == code) {
                return i as u32;
            }
            if let Some(i) = extra_codes.iter().position(|c| *c == code) {
                return (orig_codes.len() + i) as u32;
            }
            extra_codes.push(code);
            (orig_codes.len() + extra_codes.len() - 1) as u32
        };
        let op_indices: Vec<Option<u32>> = self
            .ops
            .iter()
            .map(|o| match o {
                OpSlot::New(n) => Some(code_index(n.code)),
                OpSlot::Original(_) => None,
            })
            .collect();
        for code in &extra_codes {
            codes.push(OperatorCode::create(
                &mut fb,
                &OperatorCodeArgs {
                    deprecated_builtin_code: code.0.min(127) as i8,
                    custom_code: None,
                    version: 1,
                    builtin_code: *code,
                },
            ));
        }

        // Tensors.
        let orig_tensors = self.sg.tensors().unwrap();
        let mut tensors: Vec<WIPOffset<Tensor>> = orig_tensors
            .iter()
            .map(|t| WIPOffset::new(old_table(t._tab.loc())))
            .collect();
        let original_quant = |t: &NewTensor| {
            let q = orig_tensors.get(t.quant_of? as usize).quantization()?;
            Some(WIPOffset::new(old_table(q._tab.loc())))
        };
        for (ix, t) in &self.replaced {
            tensors[*ix] = write_tensor(&mut fb, t, original_quant(t));
        }
        for t in &self.added {
            let w = write_tensor(&mut fb, t, original_quant(t));
            tensors.push(w);
        }

        // Operators.
        let orig_ops = self.sg.operators().unwrap();
        let mut ops: Vec<WIPOffset<Operator>> = vec![];
        for (slot, code) in self.ops.iter().zip(&op_indices) {
            match slot {
                OpSlot::Original(n) => {
                    ops.push(WIPOffset::new(old_table(orig_ops.get(*n)._tab.loc())))
                }
                OpSlot::New(op) => {
                    let inputs = fb.create_vector(&op.inputs);
                    let outputs = fb.create_vector(&op.outputs);
                    let (ty, options) = write_opts(&mut fb, op.opts, &old_table);
                    ops.push(Operator::create(
                        &mut fb,
                        &OperatorArgs {
                            opcode_index: code.expect("new ops have a code"),
                            inputs: Some(inputs),
                            outputs: Some(outputs),
                            builtin_options_type: ty,
                            builtin_options: options,
                            ..Default::default()
                        },
                    ));
                }
            }
        }

        let tensors = fb.create_vector(&tensors);
        let operators = fb.create_vector(&ops);
        let (sg_inputs, sg_outputs) = if self.cuts.is_empty() {
            (
                self.sg.inputs().map(|v| WIPOffset::new(old(v.bytes()) + 4)),
                self.sg
                    .outputs()
                    .map(|v| WIPOffset::new(old(v.bytes()) + 4)),
            )
        } else {
            let mut inputs: Vec<i32> = self.sg.inputs().into_iter().flatten().collect();
            let mut outputs: Vec<i32> = self.sg.outputs().into_iter().flatten().collect();
            inputs.extend(self.cuts.iter().flat_map(|c| c.1.iter().copied()));
            outputs.extend(self.cuts.iter().flat_map(|c| c.0.iter().copied()));
            (
                Some(fb.create_vector(&inputs)),
                Some(fb.create_vector(&outputs)),
            )
        };
        let main = SubGraph::create(
            &mut fb,
            &SubGraphArgs {
                tensors: Some(tensors),
                inputs: sg_inputs,
                outputs: sg_outputs,
                operators: Some(operators),
                name: self
                    .sg
                    .name()
                    .map(|s| WIPOffset::new(old(s.as_bytes()) + 4)),
            },
        );
        let mut subgraphs = vec![main];
        for sg in self.model.subgraphs().unwrap().iter().skip(1) {
            subgraphs.push(WIPOffset::new(old_table(sg._tab.loc())));
        }
        let subgraphs = fb.create_vector(&subgraphs);
        let buffers = fb.create_vector(&buffers);
        let operator_codes = fb.create_vector(&codes);
        let m = &self.model;
        let root = Model::create(
            &mut fb,
            &ModelArgs {
                version: m.version(),
                operator_codes: Some(operator_codes),
                subgraphs: Some(subgraphs),
                description: m
                    .description()
                    .map(|s| WIPOffset::new(old(s.as_bytes()) + 4)),
                buffers: Some(buffers),
                metadata_buffer: m
                    .metadata_buffer()
                    .map(|v| WIPOffset::new(old(v.bytes()) + 4)),
                metadata: m.metadata().map(|v| vec_offset(&old, v)),
                signature_defs: m.signature_defs().map(|v| vec_offset(&old, v)),
            },
        );
        fb.finish(root, Some("TFL3"));
        fb.finished_data().to_vec()
    }
}

fn write_tensor<'f>(
    fb: &mut FlatBufferBuilder<'f>,
    t: &NewTensor,
    original_quant: Option<WIPOffset<QuantizationParameters<'f>>>,
) -> WIPOffset<Tensor<'f>> {
    let shape = fb.create_vector(&t.shape);
    let name = fb.create_string(&t.name);
    let quantization = t.quant.map(|(s, z)| {
        let scale = fb.create_vector(&[s]);
        let zero_point = fb.create_vector(&[z]);
        QuantizationParameters::create(
            fb,
            &QuantizationParametersArgs {
                scale: Some(scale),
                zero_point: Some(zero_point),
                ..Default::default()
            },
        )
    });
    Tensor::create(
        fb,
        &TensorArgs {
            shape: Some(shape),
            type_: t.ty,
            buffer: t.buffer,
            name: Some(name),
            quantization: original_quant.or(quantization),
            ..Default::default()
        },
    )
}

/// A vector of tables, referenced where it is: its data starts 4 bytes after it.
fn vec_offset<'b, T>(
    old: &dyn Fn(&[u8]) -> u32,
    v: Vector<'b, ForwardsUOffset<T>>,
) -> WIPOffset<Vector<'b, ForwardsUOffset<T>>> {
    WIPOffset::new(old(v.bytes()) + 4)
}

fn write_opts(
    fb: &mut FlatBufferBuilder<'_>,
    opts: Opts,
    old_table: &dyn Fn(usize) -> u32,
) -> (BuiltinOptions, Option<WIPOffset<UnionWIPOffset>>) {
    match opts {
        Opts::None => (BuiltinOptions::NONE, None),
        Opts::Original { ty, loc } => (ty, Some(WIPOffset::new(old_table(loc)))),
        Opts::Add(act) => {
            let o = AddOptions::create(
                fb,
                &AddOptionsArgs {
                    fused_activation_function: act,
                    pot_scale_int16: false,
                },
            );
            (BuiltinOptions::AddOptions, Some(o.as_union_value()))
        }
        Opts::Mul(act) => {
            let o = MulOptions::create(
                fb,
                &MulOptionsArgs {
                    fused_activation_function: act,
                },
            );
            (BuiltinOptions::MulOptions, Some(o.as_union_value()))
        }
        Opts::MaxMin => {
            let o = MaximumMinimumOptions::create(fb, &MaximumMinimumOptionsArgs {});
            (
                BuiltinOptions::MaximumMinimumOptions,
                Some(o.as_union_value()),
            )
        }
        Opts::Conv1x1(act) => {
            let o = Conv2DOptions::create(
                fb,
                &Conv2DOptionsArgs {
                    padding: Padding::VALID,
                    stride_w: 1,
                    stride_h: 1,
                    fused_activation_function: act,
                    dilation_w_factor: 1,
                    dilation_h_factor: 1,
                },
            );
            (BuiltinOptions::Conv2DOptions, Some(o.as_union_value()))
        }
        Opts::Conv(c) => match c.depth_multiplier {
            None => {
                let o = Conv2DOptions::create(
                    fb,
                    &Conv2DOptionsArgs {
                        padding: c.padding,
                        stride_w: c.stride.1,
                        stride_h: c.stride.0,
                        fused_activation_function: c.act,
                        dilation_w_factor: c.dilation.1,
                        dilation_h_factor: c.dilation.0,
                    },
                );
                (BuiltinOptions::Conv2DOptions, Some(o.as_union_value()))
            }
            Some(depth_multiplier) => {
                let o = DepthwiseConv2DOptions::create(
                    fb,
                    &DepthwiseConv2DOptionsArgs {
                        padding: c.padding,
                        stride_w: c.stride.1,
                        stride_h: c.stride.0,
                        depth_multiplier,
                        fused_activation_function: c.act,
                        dilation_w_factor: c.dilation.1,
                        dilation_h_factor: c.dilation.0,
                    },
                );
                (
                    BuiltinOptions::DepthwiseConv2DOptions,
                    Some(o.as_union_value()),
                )
            }
        },
        Opts::Depthwise1x1 => {
            let o = DepthwiseConv2DOptions::create(
                fb,
                &DepthwiseConv2DOptionsArgs {
                    padding: Padding::VALID,
                    stride_w: 1,
                    stride_h: 1,
                    depth_multiplier: 1,
                    fused_activation_function: ActivationFunctionType::NONE,
                    dilation_w_factor: 1,
                    dilation_h_factor: 1,
                },
            );
            (
                BuiltinOptions::DepthwiseConv2DOptions,
                Some(o.as_union_value()),
            )
        }
        Opts::Sub => {
            let o = tflite::SubOptions::create(
                fb,
                &tflite::SubOptionsArgs {
                    fused_activation_function: ActivationFunctionType::NONE,
                    pot_scale_int16: false,
                },
            );
            (BuiltinOptions::SubOptions, Some(o.as_union_value()))
        }
        Opts::Concat(axis) => {
            let o = tflite::ConcatenationOptions::create(
                fb,
                &tflite::ConcatenationOptionsArgs {
                    axis,
                    fused_activation_function: ActivationFunctionType::NONE,
                },
            );
            (
                BuiltinOptions::ConcatenationOptions,
                Some(o.as_union_value()),
            )
        }
        Opts::Reshape => {
            let o = ReshapeOptions::create(fb, &ReshapeOptionsArgs { new_shape: None });
            (BuiltinOptions::ReshapeOptions, Some(o.as_union_value()))
        }
    }
}
