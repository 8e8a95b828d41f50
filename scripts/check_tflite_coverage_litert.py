#!/usr/bin/env python3
"""Runs the small TFLite models of edgemark's coverage tests through LiteRT and
compares LiteRT's outputs with edgemark's (a check of the tests' hand-written
references against TFLite's own kernels; builtin operators and the custom ops LiteRT
registers itself (TFLite_Detection_PostProcess) only, as stock
LiteRT refuses MediaPipe's custom ops). By hand, outside CI:

    python3 -m venv target/litert && target/litert/bin/pip install ai-edge-litert numpy
    EDGEMARK_TFLITE_DUMP=target/tflite-dump cargo test --profile ci --lib coverage_tests
    target/litert/bin/python scripts/check_tflite_coverage_litert.py target/tflite-dump

Prints, per model, the largest difference (absolute for float outputs, in
quantisation steps for int8/uint8) and exits 1 if a float output differs by
more than 1e-4 or an integer output by more than 1 step.
"""
import json
import pathlib
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter


def load(d, item):
    return np.fromfile(d / item["file"], dtype=item["dtype"]).reshape(item["shape"])


def main(d):
    d = pathlib.Path(d)
    bad = 0
    # Stock LiteRT has no kernels for MediaPipe's custom ops.
    metas = sorted(m for m in d.glob("*.json") if not m.name.startswith("mediapipe"))
    if not metas:
        sys.exit(f"no dumped models in {d}")
    for meta in metas:
        name = meta.stem
        m = json.loads(meta.read_text())
        try:
            interp = Interpreter(model_content=(d / f"{name}.tflite").read_bytes())
            interp.allocate_tensors()
            for det, item in zip(interp.get_input_details(), m["inputs"]):
                interp.set_tensor(det["index"], load(d, item))
            interp.invoke()
        except Exception as e:  # noqa: BLE001 - report and go on
            print(f"{name}: LiteRT cannot run it: {e}")
            bad += 1
            continue
        worst = []
        for det, item in zip(interp.get_output_details(), m["outputs"]):
            ours = load(d, item)
            theirs = interp.get_tensor(det["index"])
            if ours.shape != theirs.shape:
                print(f"{name}: shape {ours.shape} vs LiteRT {theirs.shape}")
                bad += 1
                continue
            diff = np.abs(ours.astype(np.float64) - theirs.astype(np.float64)).max()
            limit = 1e-4 if item["dtype"] == "float32" else 1
            unit = "abs" if item["dtype"] == "float32" else "steps"
            worst.append(f"{diff:.3g} {unit}")
            bad += diff > limit
        print(f"{name}: max difference to LiteRT {', '.join(worst)}")
    print(f"{len(metas)} models, {bad} outputs beyond tolerance")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/tflite-dump")
