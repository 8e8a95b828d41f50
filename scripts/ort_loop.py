#!/usr/bin/env python3
"""A bare onnxruntime SingleStream loop: the session examples/sut/ort_sut.py
builds (same SessionOptions, same provider, same outputs requested), fed
random float inputs in [0, 1) as edgemark's exec: SUT path sends them (as
many distinct samples as edgemark keeps: 64 MiB of inputs, at most 1024),
one at a time in a random order, timed around session.run. Prints
`p50_ns N` and `queries N`. For scripts/bench_ort_sut.sh.

    python3 scripts/ort_loop.py MODEL [--threads N] [--seconds S]
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "sut"))
from ort_sut import OrtSut  # noqa: E402  the example's own session setup

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("model")
ap.add_argument("--threads", type=int, default=0)
ap.add_argument("--seconds", type=float, default=2.0)
a = ap.parse_args()

sut = OrtSut(a.model, a.threads)
desc = sut.describe()
rng = np.random.default_rng(1)
shapes = [tuple(1 if d < 0 else d for d in t.shape) for t in desc.inputs]
nbytes = sum(int(np.prod(s)) * 4 for s in shapes)
distinct = max(1, min(1024, (64 << 20) // nbytes))
feeds = [sut.load(i, [rng.random(s, dtype=np.float32) for s in shapes]) for i in range(distinct)]
order = rng.integers(0, distinct, size=1 << 16)
run = sut.session.run
outs = sut.outputs
for i in range(10):
    run(outs, feeds[order[i]])
lat = []
end = time.perf_counter_ns() + int(a.seconds * 1e9)
i = 0
while True:
    t0 = time.perf_counter_ns()
    run(outs, feeds[order[i & 0xFFFF]])
    t1 = time.perf_counter_ns()
    lat.append(t1 - t0)
    i += 1
    if t1 >= end:
        break
lat.sort()
print(f"p50_ns {lat[len(lat) // 2]}")
print(f"queries {len(lat)}")
print(f"distinct {distinct}")
