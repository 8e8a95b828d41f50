#!/usr/bin/env bash
# The HTML report in a real browser, and the Prometheus export through the
# real client (issue 16): installs Debian's chromium and prometheus (promtool),
# writes a sample fleet of 50 records from the fixture boards, renders the
# report headless (screenshot kept as target/fleet-report.png, the CI
# artifact, plus --dump-dom), checks the DOM for the expected charts, axes and
# rows, prints the page's size and render time, and runs
# `promtool check metrics` on the prom export of the same records.
# Expects the ci-profile build of .ci/run (reuses it).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS

if ! command -v chromium >/dev/null || ! command -v promtool >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium prometheus >/dev/null
fi
echo "install: $((SECONDS - t0)) s"

cargo build --profile ci --bin edgemark --example fleet_sample
bin=target/ci/edgemark
dir=target/fleet-sample
page=target/fleet-report.html
rm -rf "$dir"
target/ci/examples/fleet_sample "$dir"
"$bin" report "$dir" --format html --out "$page"
bytes=$(stat -c %s "$page")
echo "report: $(find "$dir" -name '*.emrec' | wc -l) records, $bytes bytes"
if [ "$bytes" -ge 1000000 ]; then
    echo "FAIL: the report of 50 records must be under 1 MB" >&2
    exit 1
fi

chrome() { timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars "$@" 2>/dev/null; }
url="file://$PWD/$page"
chrome --window-size=1400,2400 --screenshot="$PWD/target/fleet-report.png" "$url"
test -s target/fleet-report.png
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
echo "ci-browser done in $((SECONDS - t0)) s"
