#!/usr/bin/env python3
"""Single-thread onnxruntime p50 on an ONNX model, to set beside tract's figure
from benches/tract_bench.rs (informative only; onnxruntime is not a product
dependency).  pip install onnxruntime numpy

    python3 scripts/bench_ort.py [MODEL] [--queries N]
"""
import argparse
import pathlib
import time

import numpy as np
import onnxruntime as ort

root = pathlib.Path(__file__).resolve().parent.parent
ap = argparse.ArgumentParser()
ap.add_argument("model", nargs="?", default=str(root / "../shared/models/mobilenetv2-fp32.onnx"))
ap.add_argument("--queries", type=int, default=200)
ap.add_argument("--threads", type=int, default=1)
args = ap.parse_args()

opts = ort.SessionOptions()
opts.intra_op_num_threads = args.threads
opts.inter_op_num_threads = 1
opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
sess = ort.InferenceSession(args.model, opts, providers=["CPUExecutionProvider"])
inp = sess.get_inputs()[0]
shape = [d if isinstance(d, int) else 1 for d in inp.shape]
x = np.random.default_rng(1).random(shape, dtype=np.float32)
for _ in range(5):
    sess.run(None, {inp.name: x})
lat = []
for _ in range(args.queries):
    t0 = time.perf_counter_ns()
    sess.run(None, {inp.name: x})
    lat.append(time.perf_counter_ns() - t0)
lat.sort()
p50 = lat[len(lat) // 2]
print(f"onnxruntime {ort.__version__} {pathlib.Path(args.model).name} threads={args.threads}: "
      f"p50 {p50 / 1e6:.3f} ms ({args.queries} queries)")
