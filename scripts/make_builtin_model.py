#!/usr/bin/env python3
"""Generate edgemark's built-in default model: models/builtin-mobilenet-v1.graph.onnx.

A MobileNet-v1 shaped image classifier (width multiplier 0.25, 224x224 RGB f32
input in NCHW, 1000 classes) with *seeded random* weights: it exists to measure
inference speed with zero downloads, not to classify anything ("built-in,
performance only"). No third-party weights are involved.

The file holds the graph only: every weight initializer has its dims and a
doc_string naming how to fill it ("edgemark:normal:STD" or "edgemark:zeros"),
but no data. edgemark draws the values from a fixed seed when it loads the
model (src/engine/tract/builtin.rs), so the binary carries ~10 KB instead of 1.9 MB
of random floats that do not compress. The scalar constants (ReLU6 bounds)
keep their data.

Regenerate (deterministic: same onnx version gives the same bytes):

    pip install onnx numpy
    python3 scripts/make_builtin_model.py     # writes models/builtin-mobilenet-v1.graph.onnx

The binary embeds the file with include_bytes!, so rebuild after regenerating.
"""
import argparse
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

WIDTH = 0.25
CLASSES = 1000
# MobileNet-v1 (Howard et al. 2017, table 1): (output channels, stride) per
# depthwise-separable block, after a 3x3 stride-2 stem of 32 channels.
BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
          (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]


def build(width: float) -> onnx.ModelProto:
    inits, nodes = [], []

    def const(name, array):
        inits.append(numpy_helper.from_array(np.asarray(array, dtype=np.float32), name))
        return name

    def weights(name, dims, fill):
        # Dims and a fill rule, no data: edgemark draws the values at load.
        t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims, doc_string=fill)
        inits.append(t)
        return name

    def conv(x, name, cin, cout, k, stride, group):
        fan_in = (cin // group) * k * k
        # He init keeps activations in range through 27 ReLU6 layers, so the
        # timing is of ordinary, non-degenerate float arithmetic (no denormals).
        w = weights(name + ".w", [cout, cin // group, k, k],
                    f"edgemark:normal:{np.sqrt(2.0 / fan_in):.9g}")
        b = weights(name + ".b", [cout], "edgemark:normal:0.01")
        pad = k // 2
        nodes.append(helper.make_node(
            "Conv", [x, w, b], [name + ".conv"],
            name=name, kernel_shape=[k, k], strides=[stride, stride],
            pads=[pad, pad, pad, pad], group=group))
        # BatchNorm folded into the conv, as in any deployed graph; ReLU6 as Clip.
        nodes.append(helper.make_node(
            "Clip", [name + ".conv", "relu6.min", "relu6.max"], [name + ".out"],
            name=name + ".relu6"))
        return name + ".out"

    const("relu6.min", np.array(0.0))
    const("relu6.max", np.array(6.0))
    c = lambda n: max(8, int(n * width))  # noqa: E731
    x = conv("input", "stem", 3, c(32), 3, 2, 1)
    cin = c(32)
    for i, (cout, stride) in enumerate(BLOCKS):
        x = conv(x, f"block{i}.dw", cin, cin, 3, stride, cin)
        x = conv(x, f"block{i}.pw", cin, c(cout), 1, 1, 1)
        cin = c(cout)
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pool"], name="pool"))
    nodes.append(helper.make_node("Flatten", ["pool"], ["flat"], name="flatten", axis=1))
    fc_w = weights("fc.w", [CLASSES, cin], f"edgemark:normal:{np.sqrt(1.0 / cin):.9g}")
    fc_b = weights("fc.b", [CLASSES], "edgemark:zeros")
    nodes.append(helper.make_node(
        "Gemm", ["flat", fc_w, fc_b], ["logits"],
        name="fc", transB=1))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], name="softmax", axis=1))

    graph = helper.make_graph(
        nodes, f"edgemark-builtin-mobilenet-v1-{width}",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, CLASSES])],
        inits)
    model = helper.make_model(
        graph, producer_name="edgemark scripts/make_builtin_model.py",
        opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    model.doc_string = (f"MobileNet-v1 {width} shaped, weights drawn from a fixed seed at load; "
                        "built-in, performance only")
    # The checker wants data in every initializer: check a filled copy.
    filled = onnx.ModelProto()
    filled.CopyFrom(model)
    for t in filled.graph.initializer:
        if t.doc_string.startswith("edgemark:"):
            t.raw_data = np.zeros(int(np.prod(t.dims)), dtype=np.float32).tobytes()
    onnx.checker.check_model(filled)
    return model


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=pathlib.Path,
                    default=root / "models/builtin-mobilenet-v1.graph.onnx")
    args = ap.parse_args()
    model = build(WIDTH)
    data = model.SerializeToString()
    assert len(data) <= 64 * 1024, f"built-in graph too big: {len(data)} bytes"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    params = sum(int(np.prod(i.dims)) for i in model.graph.initializer)
    print(f"wrote {args.out} ({len(data)} bytes, {params} parameters)")


if __name__ == "__main__":
    main()
