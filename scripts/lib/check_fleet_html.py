"""The HTML report the Ansible play rendered from the nodes' records
(scripts/ci-ansible.sh): one fleet-table row per fetched record, each host's
rows, a latency CDF per record, nothing fetched from the network.

    python3 scripts/lib/check_fleet_html.py PAGE RECORDS_DIR HOST...
RECORDS_DIR holds one folder per host (the collect role's layout).
"""
import pathlib
import re
import sys
from html.parser import HTMLParser


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows = []  # cell texts of each <tr class="record">
        self.head = []  # the fleet table's column names
        self.in_fleet = False
        self.cell = None
        self.cdfs = 0
        self.in_record = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "table":
            self.in_fleet = a.get("id") == "fleet-table"
        elif tag == "th" and self.in_fleet:
            self.cell = ""
        elif tag == "tr":
            self.in_record = "record" in classes
            if self.in_record:
                self.rows.append([])
        elif tag == "td" and self.in_record:
            self.cell = ""
        elif tag == "svg" and "cdf" in classes:
            self.cdfs += 1

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None:
            self.rows[-1].append(self.cell.strip())
            self.cell = None
        elif tag == "th" and self.cell is not None:
            self.head.append(self.cell.strip())
            self.cell = None
        elif tag == "table":
            self.in_fleet = False
        elif tag == "tr":
            self.in_record = False


page, records, hosts = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3:]
text = open(page, encoding="utf-8").read()
p = Page()
p.feed(text)
fetched = {h: len(list((records / h).glob("*.emrec"))) for h in hosts}
fails = 0


def check(ok, what):
    global fails
    fails += not ok
    print(f"   {'ok  ' if ok else 'FAIL'} {what}")


print(f"   {page}: {len(text)} bytes, {len(p.rows)} record rows, {p.cdfs} latency CDFs")
col = p.head.index("host") if "host" in p.head else None
check(col is not None, "fleet table has a host column")
for h in hosts:
    n = sum(1 for r in p.rows if col is not None and len(r) > col and r[col] == h)
    check(n == fetched[h] >= 1, f"{h}: {n} row(s) in the fleet table, {fetched[h]} record(s) fetched")
check(len(p.rows) == sum(fetched.values()), "no other rows")
check(p.cdfs == sum(fetched.values()), "a latency CDF per record")
check(f"from {len(hosts)} hosts" in text, f"summary names {len(hosts)} hosts")
check(not re.search(r'(src|href)="https?:', text), "nothing fetched from the network")
sys.exit(1 if fails else 0)
