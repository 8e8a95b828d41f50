#!/usr/bin/env python3
"""LiteRT (ai-edge-litert, XNNPACK on CPU) as an edgemark SUT.

    edgemark run --sut exec:python3 examples/sut/litert_sut.py MODEL.tflite [--threads N]

Quantised inputs/outputs carry their (scale, zero point) in the hello, so
edgemark quantises data set images and dequantises scores itself.
"""
import argparse
import os
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sdk", "python"))
import edgemark_sut as em  # noqa: E402

try:
    from importlib.metadata import version as _pkg_version
    LITERT_VERSION = _pkg_version("ai-edge-litert")
except Exception:  # metadata missing: still runs
    LITERT_VERSION = "unknown"


class LiteRtSut(em.Sut):
    name, version = "litert", LITERT_VERSION

    def __init__(self, model, threads):
        self.model = os.path.abspath(model)
        self.interp = Interpreter(model_path=self.model, num_threads=threads or None)
        self.interp.allocate_tensors()
        self.ins = self.interp.get_input_details()
        self.outs = self.interp.get_output_details()

    @staticmethod
    def _desc(d):
        scale, zp = d.get("quantization", (0.0, 0))
        quant = (float(scale), int(zp)) if scale else None
        return em.TensorDesc.from_numpy(d["name"], d["dtype"], tuple(int(x) for x in d["shape"]), quant)

    def describe(self):
        return em.Description(model=self.model, inputs=[self._desc(d) for d in self.ins],
                              outputs=[self._desc(d) for d in self.outs])

    def load(self, index, tensors):
        return [np.ascontiguousarray(t) for t in tensors]

    def run(self, tensors):
        it = self.interp
        for d, t in zip(self.ins, tensors):
            it.set_tensor(d["index"], t)
        it.invoke()
        return [it.get_tensor(d["index"]) for d in self.outs]


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    em.serve(LiteRtSut(a.model, a.threads))
