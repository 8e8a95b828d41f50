#!/usr/bin/env python3
"""Single-inference p50 of a peer engine (onnxruntime or LiteRT) on a model,
random inputs, for scripts/bench_engines.sh. Informative only: neither engine
is a product dependency.  pip install onnxruntime ai-edge-litert numpy

    python3 scripts/bench_peer.py ort|litert MODEL [--queries N] [--threads N]

Prints one line: `p50_ms <value>`.
"""
import argparse
import time

import numpy as np


def random_input(shape, dtype, rng):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return rng.random(shape, dtype=np.float32).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -128), min(info.max, 127) + 1, size=shape).astype(dtype)


def ort_runner(model, threads, rng):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    types = {"tensor(float)": np.float32, "tensor(int8)": np.int8, "tensor(uint8)": np.uint8,
             "tensor(int64)": np.int64, "tensor(int32)": np.int32}
    feeds = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in i.shape]
        feeds[i.name] = random_input(shape, types[i.type], rng)
    return lambda: sess.run(None, feeds)


def litert_runner(model, threads, rng):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=model, num_threads=threads)
    interp.allocate_tensors()
    for d in interp.get_input_details():
        interp.set_tensor(d["index"], random_input(list(d["shape"]), d["dtype"], rng))
    return interp.invoke


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("engine", choices=["ort", "litert"])
    ap.add_argument("model")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    make = ort_runner if args.engine == "ort" else litert_runner
    run = make(args.model, args.threads, rng)
    for _ in range(10):
        run()
    lat = []
    for _ in range(args.queries):
        t0 = time.perf_counter_ns()
        run()
        lat.append(time.perf_counter_ns() - t0)
    lat.sort()
    print(f"p50_ms {lat[len(lat) // 2] / 1e6:.3f}")


if __name__ == "__main__":
    main()
