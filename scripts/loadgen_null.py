#!/usr/bin/env python3
"""Real MLPerf LoadGen (PyPI mlcommons-loadgen) driving a Python null SUT:
SingleStream, performance mode; each query is completed at once from inside
issue_queries. The peer of edgemark + examples/sut/null_sut.py in
scripts/bench_protocol.sh. Prints one line: `p50_ns <value>`.

    python3 scripts/loadgen_null.py [--seconds S]
"""
import argparse
import array
import os
import re
import tempfile

import mlperf_loadgen as lg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    buf = array.array("B", [0] * 4)
    ptr, _ = buf.buffer_info()

    def issue(queries):
        lg.QuerySamplesComplete([lg.QuerySampleResponse(q.id, ptr, 4) for q in queries])

    def flush():
        pass

    sut = lg.ConstructSUT(issue, flush)
    qsl = lg.ConstructQSL(1024, 1024, lambda s: None, lambda s: None)
    settings = lg.TestSettings()
    settings.scenario = lg.TestScenario.SingleStream
    settings.mode = lg.TestMode.PerformanceOnly
    settings.min_duration_ms = int(args.seconds * 1000)
    settings.min_query_count = 100
    with tempfile.TemporaryDirectory() as out:
        log = lg.LogOutputSettings()
        log.outdir = out
        log.copy_summary_to_stdout = False
        ls = lg.LogSettings()
        ls.log_output = log
        lg.StartTestWithLogSettings(sut, qsl, settings, ls)
        text = open(os.path.join(out, "mlperf_log_summary.txt")).read()
    lg.DestroyQSL(qsl)
    lg.DestroySUT(sut)
    m = re.search(r"50\.00 percentile latency \(ns\)\s*:\s*(\d+)", text)
    print(f"p50_ns {m.group(1)}")


if __name__ == "__main__":
    main()
