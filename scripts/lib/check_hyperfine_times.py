"""What hyperfine's scripts/advanced_statistics.py does with an export (numpy
percentiles 5/25/75/95, mean, std, median, min, max of each entry's
`results[].times`), on edgemark's hyperfine export of default records (no
trace): it must not fail on any entry, and for SingleStream the median of
`times` must be within 1 % of the record's p50 (Offline: the one value is
1/(samples/s)).

    python3 scripts/lib/check_hyperfine_times.py HYPERFINE_JSON REPORT_JSON
REPORT_JSON is `edgemark report --format json` of the same records (the
records' own figures, matched by run id and scenario).
"""
import json
import sys
import warnings

import numpy as np

hyperfine = json.load(open(sys.argv[1]))
records = {(r["run_id"], r["scenario"]): r for r in json.load(open(sys.argv[2]))["records"]}
worst, ss, off, fails = 0.0, 0, 0, 0
for res in hyperfine["results"]:
    p = res["parameters"]
    rec = records[(p["run_id"], p["scenario"])]
    ts = res["times"]
    try:
        with warnings.catch_warnings():
            # std with ddof=1 of Offline's single value is nan with a warning,
            # as in hyperfine's script; anything else must not warn.
            warnings.simplefilter("ignore" if len(ts) == 1 else "error")
            stats = [np.percentile(ts, q) for q in (5, 25, 75, 95)]
            stats += [np.mean(ts), np.std(ts, ddof=1), np.min(ts), np.max(ts)]
            median = float(np.median(ts))
    except Exception as e:  # what would make hyperfine's script fail
        print(f"FAIL {res['command']}: numpy on times ({len(ts)} values): {e!r}")
        fails += 1
        continue
    if p["scenario"] == "Offline":
        want = 1.0 / rec["samples_per_second"]
        off += 1
    else:
        want = rec["p50_ns"] / 1e9
        ss += 1
    err = abs(median - want) / want
    if p["scenario"] != "Offline":
        worst = max(worst, err)
    bad = err >= 0.01
    fails += bad
    if bad or ss + off == 1:
        print(f"{'FAIL' if bad else 'e.g.'} {res['command']} ({rec['query_count']} queries): "
              f"{len(ts)} times, numpy median {median * 1e3:.4f} ms, record "
              f"{'1/(samples/s)' if p['scenario'] == 'Offline' else 'p50'} {want * 1e3:.4f} ms, {err * 100:.3f} %")
print(f"hyperfine times: {ss} SingleStream + {off} Offline entries, numpy as advanced_statistics.py: "
      f"no failure; SingleStream median vs record p50: worst {worst * 100:.3f} % (< 1 %)"
      if not fails else f"hyperfine times: {fails} failure(s)")
sys.exit(1 if fails or ss == 0 else 0)
