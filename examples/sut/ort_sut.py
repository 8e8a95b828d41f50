#!/usr/bin/env python3
"""onnxruntime as an edgemark SUT (CPU execution provider).

    edgemark run --sut exec:python3 examples/sut/ort_sut.py MODEL.onnx [--threads N]

Inputs and outputs come from the session; samples are kept as ready feed
dicts so the timed call is `session.run` and nothing else.
"""
import argparse
import os
import sys

import numpy as np

# onnxruntime (1.32 here) writes a device id and a usage database under
# $HOME/.cache/Microsoft/ when a session is created unless this is set: under
# the daemon that is the state directory. Nothing is written per inference, so
# timing is the same either way.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
import onnxruntime as ort  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sdk", "python"))
import edgemark_sut as em  # noqa: E402

ORT_TYPES = {
    "tensor(float)": "f32", "tensor(uint8)": "u8", "tensor(int8)": "i8",
    "tensor(int32)": "i32", "tensor(int64)": "i64", "tensor(float16)": "f16",
    "tensor(double)": "f64",
}


def shape_of(s):
    return tuple(d if isinstance(d, int) and d > 0 else -1 for d in s)


class OrtSut(em.Sut):
    name, version = "onnxruntime", ort.__version__

    def __init__(self, model, threads):
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        self.model = os.path.abspath(model)
        self.session = ort.InferenceSession(self.model, opts, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]

    def describe(self):
        def desc(t):
            if t.type not in ORT_TYPES:
                raise ValueError(f"{t.name}: element type {t.type} is not in the protocol")
            return em.TensorDesc(t.name, ORT_TYPES[t.type], shape_of(t.shape))
        return em.Description(
            model=self.model,
            inputs=[desc(t) for t in self.session.get_inputs()],
            outputs=[desc(t) for t in self.session.get_outputs()])

    def load(self, index, tensors):
        return dict(zip(self.inputs, tensors))

    def run(self, feed):
        return self.session.run(self.outputs, feed)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0: onnxruntime's default)")
    a = ap.parse_args()
    em.serve(OrtSut(a.model, a.threads))
