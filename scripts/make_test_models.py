#!/usr/bin/env python3
"""Tiny ONNX models for tests/tract_models.rs, written to tests/fixtures/models/.

    pip install onnx numpy && python3 scripts/make_test_models.py

- unknown-op.onnx: Relu then an operator no engine implements ("EdgemarkFrobnicate"),
  to check that unsupported operators are named with their node.
- dynamic-batch.onnx: Relu over input "x" of shape [N, 4, H]: the batch dim defaults
  to 1, H must be given with --input-shape.
"""
import pathlib

import onnx
from onnx import TensorProto, helper

out = pathlib.Path(__file__).resolve().parent.parent / "tests/fixtures/models"
out.mkdir(parents=True, exist_ok=True)


def save(graph, name):
    model = helper.make_model(graph, producer_name="edgemark scripts/make_test_models.py",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, out / name)
    print("wrote", out / name)


save(helper.make_graph(
    [helper.make_node("Relu", ["x"], ["r"], name="relu"),
     helper.make_node("EdgemarkFrobnicate", ["r"], ["y"], name="frob_node")],
    "unknown-op",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])]), "unknown-op.onnx")

save(helper.make_graph(
    [helper.make_node("Relu", ["x"], ["y"], name="relu")],
    "dynamic-batch",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, "H"])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, "H"])]), "dynamic-batch.onnx")
