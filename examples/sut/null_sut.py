#!/usr/bin/env python3
"""The Python null SUT: answers every query at once. Measures what the
protocol and the Python SDK cost (scripts/bench_protocol.sh).

    edgemark run --sut exec:python3 examples/sut/null_sut.py
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sdk", "python"))
import edgemark_sut as em  # noqa: E402


class NullSut(em.Sut):
    name, version = "python-null", em.VERSION

    def describe(self):
        return em.Description(
            model="null",
            inputs=[em.TensorDesc("x", "f32", (1, 4))],
            outputs=[em.TensorDesc("y", "f32", (1, 4))])

    out = [np.zeros((1, 4), np.float32)]

    def run(self, sample):
        # Nothing computed; the same preallocated output every time (accuracy
        # mode and sut-check read it).
        return self.out


if __name__ == "__main__":
    em.serve(NullSut())
