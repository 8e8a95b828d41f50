//! One tiny TFLite model per rewrite, built here with the flatbuffer schema, run
//! through `load_tflite` and tract, and compared with a reference computed in the
//! test. Each also checks that tract-tflite 0.23.9 alone fails or errs on it, so
//! a rewrite that stops being needed shows up.

use flatbuffers::{FlatBufferBuilder, UnionWIPOffset, WIPOffset};
use tract_tflite::internal::f16;
use tract_tflite::prelude::*;
use tract_tflite::tflite::{
    self, ActivationFunctionType, AddOptions, AddOptionsArgs, BufferArgs, BuiltinOperator,
    BuiltinOptions, FullyConnectedOptions, FullyConnectedOptionsArgs, ModelArgs, OperatorArgs,
    OperatorCodeArgs, QuantizationParametersArgs, ReducerOptions, ReducerOptionsArgs, SubGraphArgs,
    TensorArgs, TensorType,
};

use super::*;

pub(super) struct T {
    pub name: &'static str,
    pub shape: Vec<i32>,
    pub ty: TensorType,
    pub data: Option<Vec<u8>>,
    /// (scales, zero points, quantized dimension)
    pub quant: Option<(Vec<f32>, Vec<i64>, i32)>,
}

pub(super) fn act(name: &'static str, shape: &[i32]) -> T {
    T {
        name,
        shape: shape.to_vec(),
        ty: TensorType::FLOAT32,
        data: None,
        quant: None,
    }
}

pub(super) fn f32_const(name: &'static str, shape: &[i32], v: &[f32]) -> T {
    let data = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    T {
        name,
        shape: shape.to_vec(),
        ty: TensorType::FLOAT32,
        data: Some(data),
        quant: None,
    }
}

pub(super) fn i32_const(name: &'static str, v: &[i32]) -> T {
    let data = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    T {
        name,
        shape: vec![v.len() as i32],
        ty: TensorType::INT32,
        data: Some(data),
        quant: None,
    }
}

pub(super) fn q8(name: &'static str, shape: &[i32], scale: f32, zp: i64) -> T {
    T {
        name,
        shape: shape.to_vec(),
        ty: TensorType::INT8,
        data: None,
        quant: Some((vec![scale], vec![zp], 0)),
    }
}

#[derive(Clone, Copy)]
pub(super) enum O {
    None,
    Add,
    Fc,
    Conv,
    ConvRelu6,
    Reducer {
        keep_dims: bool,
    },
    DepthToSpace(i32),
    SpaceToDepth(i32),
    /// (padding, stride h, stride w, activation)
    TransposeConv(tflite::Padding, i32, i32, ActivationFunctionType),
    /// (values_count, axis)
    Pack(i32, i32),
    Split(i32),
    SplitV(i32),
    Gather(i32),
}

pub(super) struct Op {
    pub code: BuiltinOperator,
    pub custom: Option<&'static str>,
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
    pub opts: O,
    pub custom_options: Option<Vec<u8>>,
    /// The operator code's version.
    pub version: i32,
}

pub(super) fn op(code: BuiltinOperator, inputs: &[i32], outputs: &[i32], opts: O) -> Op {
    Op {
        code,
        custom: None,
        inputs: inputs.to_vec(),
        outputs: outputs.to_vec(),
        opts,
        custom_options: None,
        version: 1,
    }
}

/// Serialises a one-subgraph model. `legacy_codes`: write the operator code only
/// in `deprecated_builtin_code`, leaving `builtin_code` at its default (ADD), as
/// converters before TF 2.4 did.
pub(super) fn build(
    tensors: &[T],
    ops: &[Op],
    inputs: &[i32],
    outputs: &[i32],
    legacy_codes: bool,
) -> Vec<u8> {
    let mut fb = FlatBufferBuilder::new();
    let mut buffers = vec![tflite::Buffer::create(&mut fb, &BufferArgs { data: None })];
    let mut tens = vec![];
    for t in tensors {
        let buffer = match &t.data {
            Some(d) => {
                let v = fb.create_vector(d);
                buffers.push(tflite::Buffer::create(
                    &mut fb,
                    &BufferArgs { data: Some(v) },
                ));
                buffers.len() as u32 - 1
            }
            None => 0,
        };
        let quantization = t.quant.as_ref().map(|(s, z, dim)| {
            let scale = fb.create_vector(s);
            let zero_point = fb.create_vector(z);
            tflite::QuantizationParameters::create(
                &mut fb,
                &QuantizationParametersArgs {
                    scale: Some(scale),
                    zero_point: Some(zero_point),
                    quantized_dimension: *dim,
                    ..Default::default()
                },
            )
        });
        let shape = fb.create_vector(&t.shape);
        let name = fb.create_string(t.name);
        tens.push(tflite::Tensor::create(
            &mut fb,
            &TensorArgs {
                shape: Some(shape),
                type_: t.ty,
                buffer,
                name: Some(name),
                quantization,
                ..Default::default()
            },
        ));
    }
    let mut codes: Vec<(BuiltinOperator, Option<&str>, i32)> = vec![];
    let mut flat_ops = vec![];
    for o in ops {
        let key = (o.code, o.custom, o.version);
        let index = codes.iter().position(|c| *c == key).unwrap_or_else(|| {
            codes.push(key);
            codes.len() - 1
        });
        let (ty, options): (BuiltinOptions, Option<WIPOffset<UnionWIPOffset>>) = match o.opts {
            O::None => (BuiltinOptions::NONE, None),
            O::Add => {
                let a = AddOptions::create(
                    &mut fb,
                    &AddOptionsArgs {
                        fused_activation_function: ActivationFunctionType::NONE,
                        pot_scale_int16: false,
                    },
                );
                (BuiltinOptions::AddOptions, Some(a.as_union_value()))
            }
            O::Fc => {
                let a =
                    FullyConnectedOptions::create(&mut fb, &FullyConnectedOptionsArgs::default());
                (
                    BuiltinOptions::FullyConnectedOptions,
                    Some(a.as_union_value()),
                )
            }
            O::Conv | O::ConvRelu6 => {
                let act = if matches!(o.opts, O::ConvRelu6) {
                    ActivationFunctionType::RELU6
                } else {
                    ActivationFunctionType::NONE
                };
                let a = tflite::Conv2DOptions::create(
                    &mut fb,
                    &tflite::Conv2DOptionsArgs {
                        padding: tflite::Padding::VALID,
                        stride_w: 1,
                        stride_h: 1,
                        dilation_w_factor: 1,
                        dilation_h_factor: 1,
                        fused_activation_function: act,
                    },
                );
                (BuiltinOptions::Conv2DOptions, Some(a.as_union_value()))
            }
            O::Reducer { keep_dims } => {
                let a = ReducerOptions::create(&mut fb, &ReducerOptionsArgs { keep_dims });
                (BuiltinOptions::ReducerOptions, Some(a.as_union_value()))
            }
            O::DepthToSpace(block_size) => {
                let a = tflite::DepthToSpaceOptions::create(
                    &mut fb,
                    &tflite::DepthToSpaceOptionsArgs { block_size },
                );
                (
                    BuiltinOptions::DepthToSpaceOptions,
                    Some(a.as_union_value()),
                )
            }
            O::SpaceToDepth(block_size) => {
                let a = tflite::SpaceToDepthOptions::create(
                    &mut fb,
                    &tflite::SpaceToDepthOptionsArgs { block_size },
                );
                (
                    BuiltinOptions::SpaceToDepthOptions,
                    Some(a.as_union_value()),
                )
            }
            O::TransposeConv(padding, stride_h, stride_w, act) => {
                let a = tflite::TransposeConvOptions::create(
                    &mut fb,
                    &tflite::TransposeConvOptionsArgs {
                        padding,
                        stride_w,
                        stride_h,
                        fused_activation_function: act,
                    },
                );
                (
                    BuiltinOptions::TransposeConvOptions,
                    Some(a.as_union_value()),
                )
            }
            O::Pack(values_count, axis) => {
                let a = tflite::PackOptions::create(
                    &mut fb,
                    &tflite::PackOptionsArgs { values_count, axis },
                );
                (BuiltinOptions::PackOptions, Some(a.as_union_value()))
            }
            O::Split(num_splits) => {
                let a =
                    tflite::SplitOptions::create(&mut fb, &tflite::SplitOptionsArgs { num_splits });
                (BuiltinOptions::SplitOptions, Some(a.as_union_value()))
            }
            O::SplitV(num_splits) => {
                let a = tflite::SplitVOptions::create(
                    &mut fb,
                    &tflite::SplitVOptionsArgs { num_splits },
                );
                (BuiltinOptions::SplitVOptions, Some(a.as_union_value()))
            }
            O::Gather(axis) => {
                let a = tflite::GatherOptions::create(
                    &mut fb,
                    &tflite::GatherOptionsArgs {
                        axis,
                        batch_dims: 0,
                    },
                );
                (BuiltinOptions::GatherOptions, Some(a.as_union_value()))
            }
        };
        let custom_options = o.custom_options.as_ref().map(|c| fb.create_vector(c));
        let inputs = fb.create_vector(&o.inputs);
        let outputs = fb.create_vector(&o.outputs);
        flat_ops.push(tflite::Operator::create(
            &mut fb,
            &OperatorArgs {
                opcode_index: index as u32,
                inputs: Some(inputs),
                outputs: Some(outputs),
                builtin_options_type: ty,
                builtin_options: options,
                custom_options,
                ..Default::default()
            },
        ));
    }
    let codes: Vec<_> = codes
        .iter()
        .map(|(code, custom, version)| {
            let custom_code = custom.map(|c| fb.create_string(c));
            let builtin_code = if legacy_codes {
                BuiltinOperator::ADD
            } else {
                *code
            };
            tflite::OperatorCode::create(
                &mut fb,
                &OperatorCodeArgs {
                    deprecated_builtin_code: code.0.min(127) as i8,
                    custom_code,
                    version: *version,
                    builtin_code,
                },
            )
        })
        .collect();
    let tensors = fb.create_vector(&tens);
    let operators = fb.create_vector(&flat_ops);
    let inputs = fb.create_vector(inputs);
    let outputs = fb.create_vector(outputs);
    let sg = tflite::SubGraph::create(
        &mut fb,
        &SubGraphArgs {
            tensors: Some(tensors),
            inputs: Some(inputs),
            outputs: Some(outputs),
            operators: Some(operators),
            name: None,
        },
    );
    let subgraphs = fb.create_vector(&[sg]);
    let buffers = fb.create_vector(&buffers);
    let operator_codes = fb.create_vector(&codes);
    let description = fb.create_string("edgemark test model");
    let model = tflite::Model::create(
        &mut fb,
        &ModelArgs {
            version: 3,
            operator_codes: Some(operator_codes),
            subgraphs: Some(subgraphs),
            description: Some(description),
            buffers: Some(buffers),
            metadata_buffer: None,
            metadata: None,
            signature_defs: None,
        },
    );
    fb.finish(model, Some("TFL3"));
    fb.finished_data().to_vec()
}

/// Runs the prepared model on `inputs` (given the model's input types).
pub(super) fn run(bytes: &[u8], inputs: Vec<Tensor>) -> (TVec<TValue>, FixReport) {
    let (model, report) = load_tflite(bytes).unwrap();
    let plan = model.into_optimized().unwrap().into_runnable().unwrap();
    let inputs = inputs
        .into_iter()
        .enumerate()
        .map(|(i, mut t)| {
            unsafe { t.set_datum_type(plan.model().input_fact(i).unwrap().datum_type) };
            t.into()
        })
        .collect();
    (plan.run(inputs).unwrap(), report)
}

/// What tract-tflite 0.23.9 does with the unrewritten model.
pub(super) fn tract_alone(bytes: &[u8], inputs: Vec<Tensor>) -> TractResult<TVec<TValue>> {
    let model = tract_tflite::tflite().model_for_read(&mut std::io::Cursor::new(bytes))?;
    let plan = model.into_optimized()?.into_runnable()?;
    plan.run(inputs.into_iter().map(|t| t.into()).collect())
}

pub(super) fn floats(t: &TValue) -> Vec<f32> {
    t.try_as_plain_ram()
        .unwrap()
        .as_slice::<f32>()
        .unwrap()
        .to_vec()
}

pub(super) fn assert_close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len());
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!((a - b).abs() <= tol, "element {i}: got {a}, want {b}");
    }
}

pub(super) fn ramp(n: usize, scale: f32, offset: f32) -> Vec<f32> {
    (0..n).map(|i| i as f32 * scale + offset).collect()
}

#[test]
fn dequantize_of_fp16_constant_becomes_f32_constant() {
    let w: Vec<f32> = vec![0.1, -2.5, 3.3333, 1e-3, 65504.0, -0.0];
    let w16: Vec<u8> = w
        .iter()
        .flat_map(|x| f16::from_f32(*x).to_bits().to_le_bytes())
        .collect();
    let tensors = [
        act("x", &[2, 3]),
        T {
            name: "w16",
            shape: vec![2, 3],
            ty: TensorType::FLOAT16,
            data: Some(w16),
            quant: None,
        },
        act("w", &[2, 3]),
        act("y", &[2, 3]),
    ];
    let ops = [
        op(BuiltinOperator::DEQUANTIZE, &[1], &[2], O::None),
        op(BuiltinOperator::ADD, &[0, 2], &[3], O::Add),
    ];
    let bytes = build(&tensors, &ops, &[0], &[3], false);
    let x = ramp(6, 0.5, -1.0);
    assert!(tract_alone(&bytes, vec![Tensor::from_shape(&[2, 3], &x).unwrap()]).is_err());
    let (out, report) = run(&bytes, vec![Tensor::from_shape(&[2, 3], &x).unwrap()]);
    assert_eq!(
        report.rewritten,
        vec![(0, "DEQUANTIZE".to_owned(), "dequantize-constant")]
    );
    let want: Vec<f32> = x
        .iter()
        .zip(&w)
        .map(|(a, b)| a + f16::from_f32(*b).to_f32())
        .collect();
    assert_close(&floats(&out[0]), &want, 0.0);
}

#[test]
fn dequantize_of_per_channel_int8_constant() {
    // Axis 1 quantised: 3 channels with their own scale and zero point.
    let q: Vec<i8> = vec![-128, 0, 127, 5, -5, 64];
    let (scales, zps) = (vec![0.5f32, 0.25, 2.0], vec![0i64, -3, 10]);
    let tensors = [
        act("x", &[2, 3]),
        T {
            name: "wq",
            shape: vec![2, 3],
            ty: TensorType::INT8,
            data: Some(q.iter().map(|&v| v as u8).collect()),
            quant: Some((scales.clone(), zps.clone(), 1)),
        },
        act("w", &[2, 3]),
        act("y", &[2, 3]),
    ];
    let ops = [
        op(BuiltinOperator::DEQUANTIZE, &[1], &[2], O::None),
        op(BuiltinOperator::ADD, &[0, 2], &[3], O::Add),
    ];
    let bytes = build(&tensors, &ops, &[0], &[3], false);
    let x = ramp(6, 1.0, 0.0);
    let (out, _) = run(&bytes, vec![Tensor::from_shape(&[2, 3], &x).unwrap()]);
    let want: Vec<f32> = (0..6)
        .map(|i| x[i] + (q[i] as f32 - zps[i % 3] as f32) * scales[i % 3])
        .collect();
    assert_close(&floats(&out[0]), &want, 0.0);
}

#[test]
fn prelu_becomes_relu_min_mul_add() {
    let alpha = [0.25f32, -0.5, 2.0];
    let tensors = [
        act("x", &[1, 2, 2, 3]),
        f32_const("alpha", &[1, 1, 3], &alpha),
        act("y", &[1, 2, 2, 3]),
    ];
    let bytes = build(
        &tensors,
        &[op(BuiltinOperator::PRELU, &[0, 1], &[2], O::None)],
        &[0],
        &[2],
        false,
    );
    let x = ramp(12, 0.37, -2.1);
    let input = || Tensor::from_shape(&[1, 2, 2, 3], &x).unwrap();
    assert!(tract_alone(&bytes, vec![input()]).is_err());
    let (out, report) = run(&bytes, vec![input()]);
    assert_eq!(report.summary(), "prelu x1");
    let want: Vec<f32> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| if v >= 0.0 { v } else { v * alpha[i % 3] })
        .collect();
    assert_close(&floats(&out[0]), &want, 0.0);
}

#[test]
fn operator_code_is_read_from_the_deprecated_field() {
    // Same PRELU model, codes written the pre-2.4 way: builtin_code reads ADD.
    let tensors = [
        act("x", &[1, 1, 1, 2]),
        f32_const("alpha", &[2], &[0.5, 0.5]),
        act("y", &[1, 1, 1, 2]),
    ];
    let bytes = build(
        &tensors,
        &[op(BuiltinOperator::PRELU, &[0, 1], &[2], O::None)],
        &[0],
        &[2],
        true,
    );
    let m = inspect(&bytes).unwrap();
    assert_eq!(m.ops[0].builtin, Some(54));
    assert_eq!(m.ops[0].name, "PRELU");
    let (out, _) = run(
        &bytes,
        vec![Tensor::from_shape(&[1, 1, 1, 2], &[-2f32, 3.0]).unwrap()],
    );
    assert_close(&floats(&out[0]), &[-1.0, 3.0], 0.0);
}

fn mean_model(keep_dims: bool) -> Vec<u8> {
    let out_shape: &[i32] = if keep_dims { &[1, 1, 1, 3] } else { &[1, 3] };
    let tensors = [
        act("x", &[1, 2, 2, 3]),
        i32_const("axes", &[1, 2]),
        act("y", out_shape),
    ];
    build(
        &tensors,
        &[op(
            BuiltinOperator::MEAN,
            &[0, 1],
            &[2],
            O::Reducer { keep_dims },
        )],
        &[0],
        &[2],
        false,
    )
}

#[test]
fn float_mean_becomes_sum_times_reciprocal() {
    let x = ramp(12, 0.1, 0.05);
    let want: Vec<f32> = (0..3)
        .map(|c| (0..4).map(|p| x[p * 3 + c]).sum::<f32>() / 4.0)
        .collect();
    for keep_dims in [true, false] {
        let bytes = mean_model(keep_dims);
        let input = || Tensor::from_shape(&[1, 2, 2, 3], &x).unwrap();
        let (out, report) = run(&bytes, vec![input()]);
        assert_eq!(report.summary(), "float-mean x1");
        assert_eq!(
            out[0].shape(),
            if keep_dims {
                &[1, 1, 1, 3][..]
            } else {
                &[1, 3][..]
            }
        );
        assert_close(&floats(&out[0]), &want, 1e-6);
        // tract-tflite 0.23.9 alone: shows what the rewrite is for.
        match tract_alone(&bytes, vec![input()]) {
            Ok(alone) => {
                let alone = floats(&alone[0]);
                let off = alone
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0f32, f32::max);
                assert!(
                    off > 1e-3,
                    "tract-tflite's MEAN is right now ({alone:?}): delete float_mean"
                );
                eprintln!("tract-tflite alone: MEAN gives {alone:?}, want {want:?}");
            }
            Err(e) => eprintln!("tract-tflite alone rejects MEAN: {e}"),
        }
    }
}

#[test]
fn fully_connected_with_4d_input_and_no_bias() {
    // x [1,2,2,2] flattens to [1,8]; weights [3,8]; bias omitted (-1).
    let w = ramp(24, 0.05, -0.6);
    let tensors = [
        act("x", &[1, 2, 2, 2]),
        f32_const("w", &[3, 8], &w),
        act("y", &[1, 3]),
    ];
    let bytes = build(
        &tensors,
        &[op(
            BuiltinOperator::FULLY_CONNECTED,
            &[0, 1, -1],
            &[2],
            O::Fc,
        )],
        &[0],
        &[2],
        false,
    );
    let x = ramp(8, 0.3, -1.0);
    let (out, report) = run(&bytes, vec![Tensor::from_shape(&[1, 2, 2, 2], &x).unwrap()]);
    assert_eq!(report.summary(), "fully-connected x1");
    let want: Vec<f32> = (0..3)
        .map(|o| (0..8).map(|k| x[k] * w[o * 8 + k]).sum())
        .collect();
    assert_close(&floats(&out[0]), &want, 1e-5);
}

#[test]
fn fully_connected_with_4d_input_and_bias() {
    let w = ramp(24, -0.05, 0.6);
    let b = [0.5f32, -1.0, 2.0];
    let tensors = [
        act("x", &[1, 2, 2, 2]),
        f32_const("w", &[3, 8], &w),
        f32_const("b", &[3], &b),
        act("y", &[1, 3]),
    ];
    let bytes = build(
        &tensors,
        &[op(
            BuiltinOperator::FULLY_CONNECTED,
            &[0, 1, 2],
            &[3],
            O::Fc,
        )],
        &[0],
        &[3],
        false,
    );
    let x = ramp(8, 0.3, -1.0);
    let input = || Tensor::from_shape(&[1, 2, 2, 2], &x).unwrap();
    assert!(tract_alone(&bytes, vec![input()]).is_err());
    let (out, _) = run(&bytes, vec![input()]);
    let want: Vec<f32> = (0..3)
        .map(|o| b[o] + (0..8).map(|k| x[k] * w[o * 8 + k]).sum::<f32>())
        .collect();
    assert_close(&floats(&out[0]), &want, 1e-5);
}

/// TFLite's int8 ADD in real numbers: dequantise, add, requantise, saturate.
fn q_add_ref(a: &[i8], qa: (f32, i64), b: &[i8], qb: (f32, i64), qo: (f32, i64)) -> Vec<i8> {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let r = (x as f32 - qa.1 as f32) * qa.0 + (y as f32 - qb.1 as f32) * qb.0;
            ((r / qo.0).round() + qo.1 as f32).clamp(-128.0, 127.0) as i8
        })
        .collect()
}

#[test]
fn int8_add_with_different_scales_is_requantised() {
    let (qa, qb, qo) = ((0.05f32, 3i64), (0.1f32, -2i64), (0.1f32, -2i64));
    for (qa, qb, qo) in [(qa, qb, qo), (qa, qb, (0.12, 5)), (qb, qa, qo)] {
        let tensors = [
            q8("a", &[1, 2, 2, 4], qa.0, qa.1),
            q8("b", &[1, 2, 2, 4], qb.0, qb.1),
            q8("y", &[1, 2, 2, 4], qo.0, qo.1),
        ];
        let bytes = build(
            &tensors,
            &[op(BuiltinOperator::ADD, &[0, 1], &[2], O::Add)],
            &[0, 1],
            &[2],
            false,
        );
        let a: Vec<i8> = (0..16).map(|i| (i * 13 % 200 - 100) as i8).collect();
        let b: Vec<i8> = (0..16).map(|i| (i * 29 % 160 - 70) as i8).collect();
        let inputs = || {
            vec![
                Tensor::from_shape(&[1, 2, 2, 4], &a).unwrap(),
                Tensor::from_shape(&[1, 2, 2, 4], &b).unwrap(),
            ]
        };
        let (out, report) = run(&bytes, inputs());
        assert_eq!(report.summary(), "quantized-add-requantize x1");
        assert_eq!(out[0].datum_type().zp_scale(), (qo.1 as i32, qo.0));
        let got = out[0]
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<i8>()
            .unwrap()
            .to_vec();
        let want = q_add_ref(&a, qa, &b, qb, qo);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (*g as i32 - *w as i32).abs() <= 1,
                "element {i}: got {g}, want {w} ({qa:?} {qb:?} {qo:?})"
            );
        }
    }
}

#[test]
fn unsupported_ops_are_all_listed_with_node_and_code() {
    let tensors = [
        act("x", &[1, 4]),
        act("t", &[1, 4]),
        act("y", &[1, 4]),
        act("z", &[1, 4]),
    ];
    let mut custom = op(BuiltinOperator::CUSTOM, &[1], &[2], O::None);
    custom.custom = Some("SomeUnknownCustomOp");
    let ops = [
        op(BuiltinOperator::DENSIFY, &[0], &[1], O::None),
        custom,
        op(BuiltinOperator::ADD, &[2, 2], &[3], O::Add),
    ];
    let bytes = build(&tensors, &ops, &[0], &[3], false);
    let err = prepare(&bytes).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, TfliteFixError::Unsupported(ref v) if v.len() == 2),
        "{msg}"
    );
    assert!(msg.contains("node 0: builtin 124 DENSIFY"), "{msg}");
    assert!(
        msg.contains("node 1: custom op \"SomeUnknownCustomOp\""),
        "{msg}"
    );
    assert!(!msg.contains("node 2"), "{msg}");
    assert!(load_tflite(&bytes).is_err());
    let m = inspect(&bytes).unwrap();
    assert_eq!(m.unsupported().len(), 2);
    assert_eq!(m.ops[2].support, Support::Tract);
}

#[test]
fn model_without_needed_rewrites_is_passed_through_unchanged() {
    let tensors = [act("x", &[2]), act("y", &[2])];
    let bytes = build(
        &tensors,
        &[op(BuiltinOperator::ADD, &[0, 0], &[1], O::Add)],
        &[0],
        &[1],
        false,
    );
    let (out, report) = prepare(&bytes).unwrap();
    assert_eq!(out, bytes);
    assert!(report.is_empty());
}

#[test]
fn rewritten_model_keeps_description_and_interface() {
    let tensors = [
        act("x", &[1, 1, 1, 2]),
        f32_const("alpha", &[2], &[0.5, 0.5]),
        act("y", &[1, 1, 1, 2]),
    ];
    let bytes = build(
        &tensors,
        &[op(BuiltinOperator::PRELU, &[0, 1], &[2], O::None)],
        &[0],
        &[2],
        false,
    );
    let (out, _) = prepare(&bytes).unwrap();
    let m = tflite::root_as_model(&out).unwrap();
    assert_eq!(m.description(), Some("edgemark test model"));
    let sg = m.subgraphs().unwrap().get(0);
    assert_eq!(sg.inputs().unwrap().iter().collect::<Vec<_>>(), vec![0]);
    assert_eq!(sg.outputs().unwrap().iter().collect::<Vec<_>>(), vec![2]);
    assert_eq!(sg.operators().unwrap().len(), 4);
    let names: Vec<String> = inspect(&out)
        .unwrap()
        .ops
        .iter()
        .map(|o| o.name.clone())
        .collect();
    assert_eq!(names, ["RELU", "MINIMUM", "MUL", "ADD"]);
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    assert!(matches!(
        prepare(b"definitely not a flatbuffer"),
        Err(TfliteFixError::Parse(_))
    ));
    assert!(inspect(&[]).is_err());
}

pub(super) fn per_channel_i8(name: &'static str, shape: &[i32], q: &[i8], scales: &[f32]) -> T {
    T {
        name,
        shape: shape.to_vec(),
        ty: TensorType::INT8,
        data: Some(q.iter().map(|&v| v as u8).collect()),
        quant: Some((scales.to_vec(), vec![0; scales.len()], 0)),
    }
}

#[test]
fn hybrid_conv_weights_are_dequantised_at_load() {
    // 1x1 CONV_2D, 2 output channels with their own scale, over 3 input channels.
    let q: [i8; 6] = [10, -20, 30, -128, 127, 1];
    let scales = [0.01f32, 0.05];
    let b = [0.5f32, -0.25];
    let tensors = [
        act("x", &[1, 2, 2, 3]),
        per_channel_i8("w", &[2, 1, 1, 3], &q, &scales),
        f32_const("b", &[2], &b),
        act("y", &[1, 2, 2, 2]),
    ];
    let bytes = build(
        &tensors,
        &[op(BuiltinOperator::CONV_2D, &[0, 1, 2], &[3], O::Conv)],
        &[0],
        &[3],
        false,
    );
    let x = ramp(12, 0.25, -1.5);
    let input = || Tensor::from_shape(&[1, 2, 2, 3], &x).unwrap();
    assert!(tract_alone(&bytes, vec![input()]).is_err());
    let (out, report) = run(&bytes, vec![input()]);
    assert_eq!(report.summary(), "hybrid-weights-to-f32 x1");
    let want: Vec<f32> = (0..4)
        .flat_map(|p| {
            let x = &x;
            (0..2).map(move |o| {
                b[o] + (0..3)
                    .map(|c| x[p * 3 + c] * q[o * 3 + c] as f32 * scales[o])
                    .sum::<f32>()
            })
        })
        .collect();
    assert_close(&floats(&out[0]), &want, 1e-5);
}

#[test]
fn hybrid_fully_connected_weights_are_dequantised_at_load() {
    let q: [i8; 6] = [10, -20, 30, -128, 127, 1];
    let scales = [0.01f32, 0.05];
    let b = [0.5f32, -0.25];
    let tensors = [
        act("x", &[1, 3]),
        per_channel_i8("w", &[2, 3], &q, &scales),
        f32_const("b", &[2], &b),
        act("y", &[1, 2]),
    ];
    let bytes = build(
        &tensors,
        &[op(
            BuiltinOperator::FULLY_CONNECTED,
            &[0, 1, 2],
            &[3],
            O::Fc,
        )],
        &[0],
        &[3],
        false,
    );
    let x = [0.5f32, -1.0, 2.0];
    let input = || Tensor::from_shape(&[1, 3], &x).unwrap();
    assert!(tract_alone(&bytes, vec![input()]).is_err());
    let (out, report) = run(&bytes, vec![input()]);
    assert_eq!(report.summary(), "fully-connected x1");
    let want: Vec<f32> = (0..2)
        .map(|o| {
            b[o] + (0..3)
                .map(|c| x[c] * q[o * 3 + c] as f32 * scales[o])
                .sum::<f32>()
        })
        .collect();
    assert_close(&floats(&out[0]), &want, 1e-5);
}

fn q8_ref_fc(
    x: &[i8],
    qx: (f32, i64),
    w: &[i8],
    ws: &[f32],
    b: &[i32],
    qy: (f32, i64),
    k: usize,
) -> Vec<i8> {
    (0..ws.len())
        .map(|o| {
            let acc: i64 = (0..k)
                .map(|c| (x[c] as i64 - qx.1) * w[o * k + c] as i64)
                .sum::<i64>()
                + b[o] as i64;
            let r = (acc as f64 * qx.0 as f64 * ws[o] as f64 / qy.0 as f64).round() as i64 + qy.1;
            r.clamp(-128, 127) as i8
        })
        .collect()
}

#[test]
fn per_channel_int8_fully_connected() {
    let (qx, qy) = ((0.05f32, 3i64), (0.07f32, -5i64));
    let w: [i8; 6] = [10, -20, 30, -128, 127, 1];
    let ws = [0.01f32, 0.05];
    let b = [100i32, -300];
    let bias = T {
        name: "b",
        shape: vec![2],
        ty: TensorType::INT32,
        data: Some(b.iter().flat_map(|v| v.to_le_bytes()).collect()),
        quant: Some((ws.iter().map(|s| s * qx.0).collect(), vec![0, 0], 0)),
    };
    let tensors = [
        q8("x", &[1, 3], qx.0, qx.1),
        per_channel_i8("w", &[2, 3], &w, &ws),
        bias,
        q8("y", &[1, 2], qy.0, qy.1),
    ];
    let bytes = build(
        &tensors,
        &[op(
            BuiltinOperator::FULLY_CONNECTED,
            &[0, 1, 2],
            &[3],
            O::Fc,
        )],
        &[0],
        &[3],
        false,
    );
    let x: [i8; 3] = [50, -70, 100];
    let input = || Tensor::from_shape(&[1, 3], &x).unwrap();
    let alone = tract_alone(&bytes, vec![input()]);
    eprintln!("tract alone: {:?}", alone.as_ref().map(|o| o[0].clone()));
    let (out, report) = run(&bytes, vec![input()]);
    eprintln!("{}", report.summary());
    let got = out[0]
        .try_as_plain_ram()
        .unwrap()
        .as_slice::<i8>()
        .unwrap()
        .to_vec();
    let want = q8_ref_fc(&x, qx, &w, &ws, &b, qy, 3);
    eprintln!("got {got:?} want {want:?}");
    for (g, w) in got.iter().zip(&want) {
        assert!(
            (*g as i32 - *w as i32).abs() <= 1,
            "got {got:?}, want {want:?}"
        );
    }
}

/// TFLite's QUANTIZE: round half away from zero, add the zero point, saturate.
pub(super) fn quantize_ref(x: &[f32], (s, z): (f32, i64)) -> Vec<i8> {
    x.iter()
        .map(|v| ((v / s).round() as i64 + z).clamp(-128, 127) as i8)
        .collect()
}

#[test]
fn quantize_and_dequantize_of_activations_are_cut_and_spliced() {
    let q = (0.05f32, 3i64);
    // x -> QUANTIZE -> a (int8) -> MAX_POOL-free int8 ADD with itself -> b -> DEQUANTIZE -> y
    let tensors = [
        act("x", &[1, 2, 2, 2]),
        q8("a", &[1, 2, 2, 2], q.0, q.1),
        q8("b", &[1, 2, 2, 2], q.0, q.1),
        act("y", &[1, 2, 2, 2]),
    ];
    let ops = [
        op(BuiltinOperator::QUANTIZE, &[0], &[1], O::None),
        op(BuiltinOperator::ADD, &[1, 1], &[2], O::Add),
        op(BuiltinOperator::DEQUANTIZE, &[2], &[3], O::None),
    ];
    let bytes = build(&tensors, &ops, &[0], &[3, 1], false);
    let x = [-7.0f32, -1.23, -0.06, 0.0, 0.04, 0.61, 3.3, 9.0];
    let input = || Tensor::from_shape(&[1, 2, 2, 2], &x).unwrap();
    assert!(tract_alone(&bytes, vec![input()]).is_err());
    let (out, report) = run(&bytes, vec![input()]);
    assert_eq!(report.summary(), "quantize-cut x1, dequantize-cut x1");
    assert_eq!(report.cuts.len(), 2);
    // Interface as in the file: one f32 input; outputs y (f32) and a (int8).
    assert_eq!(out.len(), 2);
    let a = quantize_ref(&x, q);
    let got_a = out[1]
        .try_as_plain_ram()
        .unwrap()
        .as_slice::<i8>()
        .unwrap()
        .to_vec();
    assert_eq!(got_a, a);
    assert_eq!(out[1].datum_type().zp_scale(), (q.1 as i32, q.0));
    // b = a + a in real terms, requantised to the same grid; y its dequantised value.
    let want: Vec<f32> = a
        .iter()
        .map(|&v| {
            let b =
                ((2.0 * (v as f32 - q.1 as f32) * q.0 / q.0).round() as i64 + q.1).clamp(-128, 127);
            (b - q.1) as f32 * q.0
        })
        .collect();
    assert_close(&floats(&out[0]), &want, 1e-6);
}

#[test]
fn int8_conv_relu6_clamp_is_dropped_only_when_a_no_op() {
    let qx = (0.05f32, 3i64);
    let w: [i8; 6] = [10, -20, 30, -128, 127, 1];
    let ws = [0.01f32, 0.05];
    let b = [100i32, -300];
    let x: Vec<i8> = (0..12).map(|i| (i * 37 % 250 - 125) as i8).collect();
    // Output range [0, 6] (clamp is a no-op), then [-6.4, 6.35] (clamp acts).
    for (qy, dropped) in [((6.0f32 / 255.0, -128i64), true), ((0.05, 0), false)] {
        let bias = T {
            name: "b",
            shape: vec![2],
            ty: TensorType::INT32,
            data: Some(b.iter().flat_map(|v| v.to_le_bytes()).collect()),
            quant: Some((ws.iter().map(|s| s * qx.0).collect(), vec![0, 0], 0)),
        };
        let tensors = [
            q8("x", &[1, 2, 2, 3], qx.0, qx.1),
            per_channel_i8("w", &[2, 1, 1, 3], &w, &ws),
            bias,
            q8("y", &[1, 2, 2, 2], qy.0, qy.1),
        ];
        let bytes = build(
            &tensors,
            &[op(BuiltinOperator::CONV_2D, &[0, 1, 2], &[3], O::ConvRelu6)],
            &[0],
            &[3],
            false,
        );
        let (out, report) = run(&bytes, vec![Tensor::from_shape(&[1, 2, 2, 3], &x).unwrap()]);
        let expect_report = if dropped {
            "quantized-conv-drop-noop-activation x1"
        } else {
            ""
        };
        assert_eq!(report.summary(), expect_report);
        let got = out[0]
            .try_as_plain_ram()
            .unwrap()
            .as_slice::<i8>()
            .unwrap()
            .to_vec();
        let (lo, hi) = (
            qy.1.max(-128),
            (qy.1 + (6.0 / qy.0).round() as i64).min(127),
        );
        for p in 0..4 {
            let want = q8_ref_fc(&x[p * 3..p * 3 + 3], qx, &w, &ws, &b, qy, 3);
            for o in 0..2 {
                let want = (want[o] as i64).clamp(lo, hi) as i32;
                let g = got[p * 2 + o] as i32;
                assert!(
                    (g - want).abs() <= 1,
                    "pixel {p} channel {o}: got {g}, want {want} ({qy:?})"
                );
            }
        }
    }
}

#[test]
fn corrupted_files_give_errors_not_panics() {
    let tensors = [
        act("x", &[1, 1, 1, 2]),
        f32_const("alpha", &[2], &[0.5, 0.5]),
        act("y", &[1, 1, 1, 2]),
    ];
    let bytes = build(
        &tensors,
        &[op(BuiltinOperator::PRELU, &[0, 1], &[2], O::None)],
        &[0],
        &[2],
        false,
    );
    let mut outcomes = (0, 0);
    for pos in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[pos] ^= flip;
            // Neither may unwind out of the call; both must agree on success.
            let inspected =
                std::panic::catch_unwind(|| inspect(&b).is_ok()).expect("inspect panicked");
            let prepared =
                std::panic::catch_unwind(|| prepare(&b).is_ok()).expect("prepare panicked");
            assert_eq!(
                inspected,
                prepared || inspect(&b).is_ok_and(|m| !m.unsupported().is_empty())
            );
            if prepared {
                outcomes.0 += 1
            } else {
                outcomes.1 += 1
            }
        }
    }
    // Some corruptions are harmless (names, padding), many are not.
    assert!(outcomes.0 > 0 && outcomes.1 > 0, "{outcomes:?}");
    assert!(prepare(&bytes[..bytes.len() / 2]).is_err());
}

/// Found by fuzzing: a CONV_2D whose input is declared rank 0 made
/// tract-core read outside the shape (memory-unsafe, seen by
/// AddressSanitizer); it is refused before tract imports the file.
#[test]
fn convolution_input_of_rank_other_than_4_is_refused() {
    for shape in [&[][..], &[1, 2, 3]] {
        let bytes = build(
            &[
                act("x", shape),
                f32_const("w", &[3, 1, 1, 3], &ramp(9, 0.1, -0.4)),
                f32_const("b", &[3], &[0.5, -0.25, 0.0]),
                act("y", &[1, 2, 2, 3]),
            ],
            &[op(BuiltinOperator::CONV_2D, &[0, 1, 2], &[3], O::Conv)],
            &[0],
            &[3],
            false,
        );
        let e = prepare(&bytes).unwrap_err().to_string();
        let want = format!(
            "node 0: CONV_2D input 0 (tensor 0 'x') has rank {}",
            shape.len()
        );
        assert!(e.contains(&want), "{e}");
    }
    let found = include_bytes!("../../../../fuzz/regressions/tflite/conv-rank0-input.tflite");
    let e = prepare(found).unwrap_err().to_string();
    assert!(e.contains("has rank 0, not 4 (NHWC)"), "{e}");
}

/// tract-tflite computes intermediate shapes itself, and tract-data 0.23.9
/// turns two different concrete dims meeting in a broadcast into a symbolic
/// `Broadcast` dim (no error) that grows with every later operator: fuzzing
/// found a one-byte stride change that made loading take 65 s and 1.5 GB. A
/// declared output that disagrees with its operator is refused before import.
#[test]
fn declared_shape_that_disagrees_with_its_operator_is_refused() {
    // A 1x1 VALID convolution of [1,4,4,2] gives [1,4,4,2]; declared [1,4,8,2]
    // it agrees with the ADD after it, which tract then sees as 4 vs 8.
    let bytes = build(
        &[
            act("x", &[1, 4, 4, 2]),
            f32_const("w", &[2, 1, 1, 2], &[1.0, 0.0, 0.0, 1.0]),
            f32_const("b", &[2], &[0.0, 0.0]),
            act("y", &[1, 4, 8, 2]),
            act("z", &[1, 4, 8, 2]),
            act("sum", &[1, 4, 8, 2]),
        ],
        &[
            op(BuiltinOperator::CONV_2D, &[0, 1, 2], &[3], O::Conv),
            op(BuiltinOperator::ADD, &[3, 4], &[5], O::Add),
        ],
        &[0, 4],
        &[5],
        false,
    );
    let e = prepare(&bytes).unwrap_err().to_string();
    assert!(
        e.contains(
            "node 0: CONV_2D output tensor 3 'y' is declared with shape [1, 4, 8, 2], \
             but its inputs ([1, 4, 4, 2], [2, 1, 1, 2], [2]) and options make it [1, 4, 4, 2]"
        ),
        "{e}"
    );
    // Why: tract-tflite alone imports it without an error, with a symbolic
    // output dim where the file says 8.
    let model = tract_tflite::tflite()
        .model_for_read(&mut &bytes[..])
        .expect("tract-tflite 0.23.9 accepts the inconsistent file");
    let out = model.output_fact(0).unwrap();
    assert!(!out.shape.is_concrete(), "{out:?}");

    // The fuzzer's file, reduced (the first 80 of face_detection_short_range's
    // 164 operators, one DEPTHWISE_CONV_2D's stride_w 1 -> 3): 2 s and 425 MB
    // to load before (ASan build), refused at once now.
    let found = include_bytes!(
        "../../../../fuzz/regressions/tflite/dwconv-stride-mismatch-broadcast.tflite"
    );
    let e = prepare(found).unwrap_err().to_string();
    assert!(
        e.contains(
            "node 42: DEPTHWISE_CONV_2D output tensor 66 'depthwise_conv2d_4' is declared with \
             shape [1, 32, 32, 36], but its inputs ([1, 32, 32, 36], [1, 3, 3, 36], [36]) and \
             options make it [1, 32, 11, 36]"
        ),
        "{e}"
    );
    // Bad options are refused too, not passed on to tract (a stride of 0
    // divides by zero there; a negative pad becomes a huge usize).
    let bytes = build(
        &[
            act("x", &[1, 2, 2, 1]),
            i32_const("pads", &[0, 0, -1, 0, 0, 0, 0, 0]),
            act("y", &[1, 1, 2, 1]),
        ],
        &[op(BuiltinOperator::PAD, &[0, 1], &[2], O::None)],
        &[0],
        &[2],
        false,
    );
    let e = prepare(&bytes).unwrap_err().to_string();
    assert!(
        e.contains("node 0: PAD has padding [0, 0, -1, 0, 0, 0, 0, 0]: negative"),
        "{e}"
    );
    let one_op = |code, arg: &[i32], y: &[i32]| {
        build(
            &[act("x", &[1, 2, 3, 4]), i32_const("arg", arg), act("y", y)],
            &[op(code, &[0, 1], &[2], O::None)],
            &[0],
            &[2],
            false,
        )
    };
    let e = prepare(&one_op(
        BuiltinOperator::TRANSPOSE,
        &[0, 0, 1, 2],
        &[1, 1, 2, 3],
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("node 0: TRANSPOSE has permutation [0, 0, 1, 2]"),
        "{e}"
    );
    let ok = one_op(BuiltinOperator::TRANSPOSE, &[0, 3, 1, 2], &[1, 4, 2, 3]);
    prepare(&ok).unwrap();
    let e = prepare(&one_op(
        BuiltinOperator::EXPAND_DIMS,
        &[-1],
        &[1, 2, 1, 3, 4],
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("make it [1, 2, 3, 4, 1]"), "{e}");
}

/// A file without operators may also lack the operator code table: found by
/// fuzzing (an `expect` in the rewrite pass's planning panicked).
#[test]
fn model_without_operators_or_operator_codes_is_not_a_panic() {
    let found =
        include_bytes!("../../../../fuzz/regressions/tflite/no-operators-no-operator-codes.tflite");
    let (_, report) = prepare(found).unwrap();
    assert!(report.rewritten.is_empty());
    assert!(inspect(found).unwrap().ops.is_empty());
    let e = crate::engine::tract::load::load_model("f.tflite", found, &[], false)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("f.tflite: ") && e.contains("No operators"),
        "{e}"
    );
}

/// Writes small models of the kinds above as seeds of the `tflite` fuzz
/// target: `EDGEMARK_FUZZ_SEEDS=fuzz/corpus/tflite cargo test --lib
/// write_tflite_fuzz_seeds -- --ignored`.
#[test]
#[ignore = "writes fuzz seeds; run by hand"]
fn write_tflite_fuzz_seeds() {
    let Some(dir) = std::env::var_os("EDGEMARK_FUZZ_SEEDS") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let prelu = |legacy| {
        build(
            &[
                act("x", &[1, 2, 2, 3]),
                f32_const("alpha", &[1, 1, 3], &[0.25, -0.5, 2.0]),
                act("y", &[1, 2, 2, 3]),
            ],
            &[op(BuiltinOperator::PRELU, &[0, 1], &[2], O::None)],
            &[0],
            &[2],
            legacy,
        )
    };
    let q = (0.05f32, 3i64);
    let add = build(
        &[
            q8("a", &[1, 2, 2, 4], q.0, q.1),
            q8("b", &[1, 2, 2, 4], 0.1, -2),
            q8("y", &[1, 2, 2, 4], 0.12, 5),
        ],
        &[op(BuiltinOperator::ADD, &[0, 1], &[2], O::Add)],
        &[0, 1],
        &[2],
        false,
    );
    let relu = build(
        &[act("x", &[1, 4]), act("y", &[1, 4])],
        &[op(BuiltinOperator::RELU, &[0], &[1], O::None)],
        &[0],
        &[1],
        false,
    );
    // The rewrite passes' inputs: hybrid and per-channel weights, int8
    // convolution and fully connected layers, quantize/dequantize cuts, and an
    // f32 convolution with the activation and residual sum the fp32 pass fuses.
    let i32_bias = |v: &[i32], scales: Vec<f32>| T {
        name: "b",
        shape: vec![v.len() as i32],
        ty: TensorType::INT32,
        data: Some(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        quant: Some((scales, vec![0; v.len()], 0)),
    };
    let (qx, w8, ws) = (
        (0.05f32, 3i64),
        [10i8, -20, 30, -128, 127, 1],
        [0.01f32, 0.05],
    );
    let xs = |s: &[f32]| s.iter().map(|v| v * qx.0).collect::<Vec<f32>>();
    let fc_4d = build(
        &[
            act("x", &[1, 2, 2, 2]),
            f32_const("w", &[3, 8], &ramp(24, -0.05, 0.6)),
            f32_const("b", &[3], &[0.5, -1.0, 2.0]),
            act("y", &[1, 3]),
        ],
        &[op(
            BuiltinOperator::FULLY_CONNECTED,
            &[0, 1, 2],
            &[3],
            O::Fc,
        )],
        &[0],
        &[3],
        false,
    );
    let dequant_fp16 = build(
        &[
            act("x", &[2, 3]),
            T {
                name: "w16",
                shape: vec![2, 3],
                ty: TensorType::FLOAT16,
                data: Some(
                    [0.1f32, -2.5, 3.3, 1e-3, 65504.0, -0.0]
                        .iter()
                        .flat_map(|x| f16::from_f32(*x).to_bits().to_le_bytes())
                        .collect(),
                ),
                quant: None,
            },
            act("w", &[2, 3]),
            act("y", &[2, 3]),
        ],
        &[
            op(BuiltinOperator::DEQUANTIZE, &[1], &[2], O::None),
            op(BuiltinOperator::ADD, &[0, 2], &[3], O::Add),
        ],
        &[0],
        &[3],
        false,
    );
    let hybrid_conv = build(
        &[
            act("x", &[1, 2, 2, 3]),
            per_channel_i8("w", &[2, 1, 1, 3], &w8, &ws),
            f32_const("b", &[2], &[0.5, -0.25]),
            act("y", &[1, 2, 2, 2]),
        ],
        &[op(BuiltinOperator::CONV_2D, &[0, 1, 2], &[3], O::Conv)],
        &[0],
        &[3],
        false,
    );
    let int8_fc = build(
        &[
            q8("x", &[1, 3], qx.0, qx.1),
            per_channel_i8("w", &[2, 3], &w8, &ws),
            i32_bias(&[100, -300], xs(&ws)),
            q8("y", &[1, 2], 0.07, -5),
        ],
        &[op(
            BuiltinOperator::FULLY_CONNECTED,
            &[0, 1, 2],
            &[3],
            O::Fc,
        )],
        &[0],
        &[3],
        false,
    );
    let int8_conv_relu6 = build(
        &[
            q8("x", &[1, 2, 2, 3], qx.0, qx.1),
            per_channel_i8("w", &[2, 1, 1, 3], &w8, &ws),
            i32_bias(&[100, -300], xs(&ws)),
            q8("y", &[1, 2, 2, 2], 6.0 / 255.0, -128),
        ],
        &[op(BuiltinOperator::CONV_2D, &[0, 1, 2], &[3], O::ConvRelu6)],
        &[0],
        &[3],
        false,
    );
    let quant_cut = build(
        &[
            act("x", &[1, 2, 2, 2]),
            q8("a", &[1, 2, 2, 2], qx.0, qx.1),
            q8("b", &[1, 2, 2, 2], qx.0, qx.1),
            act("y", &[1, 2, 2, 2]),
        ],
        &[
            op(BuiltinOperator::QUANTIZE, &[0], &[1], O::None),
            op(BuiltinOperator::ADD, &[1, 1], &[2], O::Add),
            op(BuiltinOperator::DEQUANTIZE, &[2], &[3], O::None),
        ],
        &[0],
        &[3, 1],
        false,
    );
    let f32_conv_residual = build(
        &[
            act("x", &[1, 2, 2, 3]),
            f32_const("w", &[3, 1, 1, 3], &ramp(9, 0.1, -0.4)),
            f32_const("b", &[3], &[0.5, -0.25, 0.0]),
            act("c", &[1, 2, 2, 3]),
            act("y", &[1, 2, 2, 3]),
        ],
        &[
            op(BuiltinOperator::CONV_2D, &[0, 1, 2], &[3], O::ConvRelu6),
            op(BuiltinOperator::ADD, &[3, 0], &[4], O::Add),
        ],
        &[0],
        &[4],
        false,
    );
    for (name, bytes) in [
        ("fc-4d-bias.tflite", fc_4d),
        ("dequantize-fp16-add.tflite", dequant_fp16),
        ("hybrid-conv.tflite", hybrid_conv),
        ("int8-fc-per-channel.tflite", int8_fc),
        ("int8-conv-relu6.tflite", int8_conv_relu6),
        ("quantize-add-dequantize.tflite", quant_cut),
        ("f32-conv-relu6-residual.tflite", f32_conv_residual),
        ("prelu.tflite", prelu(false)),
        ("prelu-legacy-codes.tflite", prelu(true)),
        ("mean-keepdims.tflite", mean_model(true)),
        ("mean.tflite", mean_model(false)),
        ("int8-add.tflite", add),
        ("relu.tflite", relu),
    ] {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}
