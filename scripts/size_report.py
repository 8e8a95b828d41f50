#!/usr/bin/env python3
"""Where an edgemark binary's size goes.

    scripts/size_report.py BINARY [--budget-mib N] [--top N]

BINARY must keep its symbol table (the `release-symbols` profile: same code as
`release`, not stripped). Prints the stripped size, the biggest sections, and
code (text symbols) grouped by crate, the crate being the first path segment of
the demangled name (for trait impls, the implementing type's crate). Generic
code is counted where it was instantiated, so e.g. rayon's share is mostly
tract-linalg's parallel matmul monomorphised per kernel.

With --budget-mib, exits 1 when the stripped size is over budget.
Needs binutils (nm, strip, size).
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile


def stripped_size(binary: str) -> int:
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "stripped")
        subprocess.run(["strip", "-o", out, binary], check=True)
        return os.path.getsize(out)


def sections(binary: str):
    text = subprocess.run(["size", "-A", binary], check=True, capture_output=True, text=True).stdout
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            rows.append((int(parts[1]), parts[0]))
    return sorted(rows, reverse=True)


def crates(binary: str):
    text = subprocess.run(["nm", "-S", "--size-sort", "-C", binary], check=True,
                          capture_output=True, text=True).stdout
    size = collections.Counter()
    count = collections.Counter()
    for line in text.splitlines():
        parts = line.split(None, 3)
        if len(parts) < 4 or parts[2] not in "tTwW":
            continue
        n = parts[3].strip()
        m = re.match(r"^<(?:&(?:mut )?)?(?:dyn )?([A-Za-z_][A-Za-z0-9_]*)", n) or \
            re.match(r"^([A-Za-z_][A-Za-z0-9_]*)::", n)
        crate = m.group(1) if m else "(other)"
        size[crate] += int(parts[1], 16)
        count[crate] += 1
    return size, count


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--budget-mib", type=float)
    ap.add_argument("--top", type=int, default=15)
    a = ap.parse_args()

    total = stripped_size(a.binary)
    print(f"stripped size: {total} bytes ({total / 2**20:.1f} MiB, {total / 1e6:.1f} MB)")
    print("largest sections:")
    for s, name in sections(a.binary)[:6]:
        print(f"  {s / 1e6:7.2f} MB  {name}")
    size, count = crates(a.binary)
    print(f"code by crate (top {a.top} of {len(size)}; {sum(size.values()) / 1e6:.2f} MB of text symbols):")
    for crate, s in size.most_common(a.top):
        print(f"  {s / 1e6:7.2f} MB  {count[crate]:6d} fns  {crate}")
    if a.budget_mib is not None:
        budget = int(a.budget_mib * 2**20)
        if total > budget:
            print(f"FAIL: {total} bytes is over the budget of {a.budget_mib} MiB", file=sys.stderr)
            return 1
        print(f"within the budget of {a.budget_mib} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
