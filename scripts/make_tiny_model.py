#!/usr/bin/env python3
"""Write tests/fixtures/models/tiny-convnet.onnx: a MobileNet-shaped toy (conv,
depthwise conv, relu6, global pool, gemm, softmax) small enough for qemu. The
cross-build smoke runs it on x86 and under qemu-aarch64/qemu-arm and compares
outputs, so it must exercise tract's conv and matmul kernels, not just copy data.

Weights come from a fixed seed; re-running gives the same bytes.
Needs: onnx, numpy.
"""
import pathlib
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(20260)


def w(name, *shape, scale=0.5):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


inits = [
    w("c1_w", 8, 3, 3, 3), w("c1_b", 8, scale=0.1),
    w("dw_w", 8, 1, 3, 3), w("dw_b", 8, scale=0.1),
    w("pw_w", 16, 8, 1, 1), w("pw_b", 16, scale=0.1),
    w("fc_w", 16, 10), w("fc_b", 10, scale=0.1),
    numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
    numpy_helper.from_array(np.array(6.0, np.float32), "six"),
]
nodes = [
    helper.make_node("Conv", ["input", "c1_w", "c1_b"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2]),
    helper.make_node("Clip", ["c1", "zero", "six"], ["r1"]),
    helper.make_node("Conv", ["r1", "dw_w", "dw_b"], ["dw"], pads=[1, 1, 1, 1], group=8),
    helper.make_node("Clip", ["dw", "zero", "six"], ["r2"]),
    helper.make_node("Conv", ["r2", "pw_w", "pw_b"], ["pw"]),
    helper.make_node("GlobalAveragePool", ["pw"], ["gap"]),
    helper.make_node("Flatten", ["gap"], ["flat"]),
    helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"]),
    helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
]
graph = helper.make_graph(
    nodes,
    "tiny-convnet",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 16, 16])],
    [
        helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10]),
        helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 10]),
    ],
    inits,
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="edgemark")
model.ir_version = 8
onnx.checker.check_model(model)
out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                   pathlib.Path(__file__).resolve().parent.parent / "tests/fixtures/models/tiny-convnet.onnx")
out.parent.mkdir(parents=True, exist_ok=True)
out.write_bytes(model.SerializeToString())
print(f"wrote {out} ({out.stat().st_size} bytes)")
