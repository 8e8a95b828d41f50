#!/usr/bin/env bash
# The HTML report in a real browser, and the Prometheus export through the
# real client (issue 16): installs Debian's chromium and prometheus (promtool),
# writes a sample fleet of 50 records from the fixture boards, renders the
# report headless (screenshots kept as target/fleet-report.png and
# target/fleet-report-runs.png, the CI artifacts, plus --dump-dom), checks the
# DOM for the expected charts, axes and rows, prints the page's size and
# render time, and runs
# `promtool check metrics` on the prom export of the same records; then
# hyperfine's way with the hyperfine export (numpy percentiles of `times`) on
# those records and on a default record of a real `edgemark run`.
# Expects the ci-profile build of .ci/run (reuses it).
#
#   scripts/ci-browser.sh              # everything
#   scripts/ci-browser.sh --prepare    # only the apt packages and the numpy venv
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=target}"
export CARGO_TARGET_DIR
t0=$SECONDS
# numpy for the hyperfine check, as hyperfine's own scripts use it.
VENV=$(realpath -m "$CARGO_TARGET_DIR")/numpy-venv

if ! command -v chromium >/dev/null || ! command -v promtool >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium prometheus >/dev/null
fi
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import numpy' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q numpy
fi
echo "install: $((SECONDS - t0)) s"
[ "${1:-}" != --prepare ] || exit 0

cargo build --profile ci --bin edgemark --example fleet_sample
bin=$CARGO_TARGET_DIR/ci/edgemark
dir=target/fleet-sample
page=target/fleet-report.html
mkdir -p target
rm -rf "$dir"
"$CARGO_TARGET_DIR/ci/examples/fleet_sample" "$dir"
"$bin" report "$dir" --format html --out "$page"
bytes=$(stat -c %s "$page")
echo "report: $(find "$dir" -name '*.emrec' | wc -l) records, $bytes bytes"
if [ "$bytes" -ge 1000000 ]; then
    echo "FAIL: the report of 50 records must be under 1 MB" >&2
    exit 1
fi

chrome() { timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars "$@" 2>/dev/null; }
url="file://$PWD/$page"
# The whole fleet table (all columns) and the per-board bars.
chrome --window-size=1600,2400 --screenshot="$PWD/target/fleet-report.png" "$url"
test -s target/fleet-report.png
# The per-run charts sit far below 50 rows: a second artifact from a page of
# four of the same records (a board that throttled and one that did not):
# latency CDFs, sensors over the run with throttling marked, the fp32 vs int8 rows.
"$bin" report "$dir"/pi4-lab-2_*single-stream* "$dir"/rock5b-a_*single-stream* \
    --format html --out target/fleet-report-runs.html
chrome --window-size=1600,2000 --screenshot="$PWD/target/fleet-report-runs.png" \
    "file://$PWD/target/fleet-report-runs.html"
test -s target/fleet-report-runs.png
chrome --dump-dom "$url" >target/fleet-report.dom.html
# A blank page through the same browser, so its start-up time can be told apart.
s=$(date +%s%N); chrome --dump-dom "about:blank" >/dev/null; blank=$((($(date +%s%N) - s) / 1000000))
s=$(date +%s%N); chrome --dump-dom "$url" >/dev/null; full=$((($(date +%s%N) - s) / 1000000))

python3 - target/fleet-report.dom.html "$blank" "$full" <<'EOF'
import re, sys
from html.parser import HTMLParser

dom, blank_ms, full_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []  # (tag, attrs)
    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

d = Dom()
text = open(dom, encoding="utf-8").read()
d.feed(text)
def having(tag, **want):
    out = []
    for t, a in d.tags:
        if t != tag:
            continue
        if all(w in (a.get(k) or "").split() if k == "class" else a.get(k) == w for k, w in want.items()):
            out.append(a)
    return out

fails = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        fails.append(what)

rows = having("tr", **{"class": "record"})
check(len(rows) == 50, f"fleet table has 50 record rows ({len(rows)})")
check(len(having("table", id="fleet-table")) == 1, "fleet table present")
for i in ["bars-p90", "bars-sps", "bars-per-core", "bars-per-watt"]:
    check(len(having("svg", id=i)) == 1, f"bar chart {i}")
cdf = having("svg", **{"class": "cdf"})
sensors = having("svg", **{"class": "sensors"})
check(len(cdf) == 40, f"a latency CDF per performance record ({len(cdf)})")
check(len(sensors) == 40, f"sensor chart per performance record ({len(sensors)})")
xa = having("g", **{"class": "x"})
ya = having("g", **{"class": "y"})
check(len(xa) >= 40 + 4 + 40, f"x axes ({len(xa)})")
check(len(ya) >= 40 + 40, f"y axes ({len(ya)})")
check(len(having("polyline", **{"class": "cdf-line"})) == 40, "CDF lines")
check(len(having("rect", **{"class": "throttle"})) > 0, "throttled steps marked")
check(len(having("tr", **{"class": "variant"})) >= 10, "fp32 vs int8 comparison rows")
check(len(having("g", **{"class": "estimated"})) > 0, "estimated per-watt bars")
check("est." in text and "INVALID" in text and "VALID" in text, "validity and est. labels")
check(not re.search(r'(src|href)="https?:', text), "nothing fetched from the network")
m = re.search(r'data-render-ms="(\d+)"', text)
check(m is not None, "page recorded its load+layout time")
render = int(m.group(1)) if m else -1
print(f"render: load+layout {render} ms (page's own performance.now()); "
      f"chromium --dump-dom {full_ms} ms vs {blank_ms} ms for about:blank "
      f"(difference {full_ms - blank_ms} ms)")
check(0 <= render < 2000, "renders in under 2 s")
sys.exit(1 if fails else 0)
EOF

"$bin" report "$dir" --format prom >target/fleet.prom
promtool check metrics <target/fleet.prom
echo "promtool check metrics: ok ($(grep -c '^edgemark_' target/fleet.prom) samples)"

# Hyperfine's tools on default records (no trace: `times` come from the
# histogram): the fleet sample, and the records of a plain `edgemark run`
# (both scenarios, quick preset, a synthetic SUT: a few seconds).
rm -rf target/fleet-run
"$bin" run --sut synthetic:lognormal:1,0.2 --board none --results target/fleet-run >/dev/null
for d in "$dir" target/fleet-run; do
    "$bin" report "$d" --format hyperfine >"$d.hyperfine.json"
    "$bin" report "$d" --format json >"$d.json"
    echo "$d:"
    "$VENV/bin/python" scripts/lib/check_hyperfine_times.py "$d.hyperfine.json" "$d.json"
done
rm -rf target/fleet-run
echo "ci-browser done in $((SECONDS - t0)) s"
