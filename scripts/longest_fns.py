#!/usr/bin/env python3
"""List the longest Rust functions under a folder (issue 12: every function
under 80 lines outside the parsers/decoders).

    scripts/longest_fns.py [--root src] [--most 20] [--limit 80] [--tests]
                           [--exempt PATH_SUBSTRING ...]

A function runs from its `fn` line to its closing brace, both counted. Test
code (files named tests.rs / *_tests.rs and `#[cfg(test)]` modules) is left
out unless --tests is given, since test bodies are mostly data. Exits 1 when
a function outside the exempt paths is at or over --limit lines, so it can
serve as a check; prints every function it found over the limit either way.
"""

import argparse
import os
import re
import sys

FN = re.compile(r"\bfn\s+([A-Za-z_][A-Za-z0-9_]*)")


def strip(src):
    """Source with comments, strings and char literals blanked (newlines
    kept), so braces and `fn` inside them do not count."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append("".join(ch if ch == "\n" else " " for ch in src[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', src[i:i + 260]) and not (
            i and (src[i - 1].isalnum() or src[i - 1] == "_")
        ):
            m = re.match(r'r(#*)"', src[i:])
            close = '"' + m.group(1)
            j = src.find(close, i + len(m.group(0)))
            j = n if j < 0 else j + len(close)
            out.append("".join(ch if ch == "\n" else " " for ch in src[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            j += 1
            out.append("".join(ch if ch == "\n" else " " for ch in src[i:j]))
            i = j
        elif c == "'":
            # A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", src[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(text):
    """(name, first line, last line, in test code) for each fn with a body."""
    s = strip(text)
    line_at = []
    ln = 1
    for ch in s:
        line_at.append(ln)
        if ch == "\n":
            ln += 1
    # Spans of #[cfg(test)] modules.
    test_spans = []
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(pub\s+)?mod\s+\w+\s*\{", s):
        end = match_brace(s, m.end() - 1)
        test_spans.append((m.start(), end))
    found = []
    for m in FN.finditer(s):
        # The body's brace: the first `{` after the signature, unless a `;`
        # comes first (a trait method without a body).
        j = m.end()
        depth = 0
        while j < len(s):
            ch = s[j]
            if ch in "(<[":
                depth += 1
            elif ch in ")>]":
                depth -= 1
            elif ch == ";" and depth <= 0:
                j = -1
                break
            elif ch == "{" and depth <= 0:
                break
            j += 1
        if j < 0 or j >= len(s):
            continue
        end = match_brace(s, j)
        in_test = any(a <= m.start() < b for a, b in test_spans)
        found.append((m.group(1), line_at[m.start()], line_at[min(end, len(s) - 1)], in_test))
    return found


def match_brace(s, i):
    depth = 0
    for j in range(i, len(s)):
        if s[j] == "{":
            depth += 1
        elif s[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(s) - 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="src")
    ap.add_argument("--most", type=int, default=20)
    ap.add_argument("--limit", type=int, default=80)
    ap.add_argument("--tests", action="store_true", help="include test code")
    ap.add_argument(
        "--exempt",
        nargs="*",
        default=["dataset/jpeg.rs:", "tflite/editor.rs:", "record/mod.rs:example_record"],
        help="substrings of PATH:NAME the limit does not apply to: the parsers/decoders, "
        "and test data",
    )
    a = ap.parse_args()
    rows = []
    for dirpath, _, files in os.walk(a.root):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(dirpath, f)
            test_file = f == "tests.rs" or f.endswith("_tests.rs")
            if test_file and not a.tests:
                continue
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            for name, first, last, in_test in functions(text):
                if in_test and not a.tests:
                    continue
                exempt = any(e in f"{path}:{name}" for e in a.exempt)
                rows.append((last - first + 1, path, first, name, exempt))
    rows.sort(key=lambda r: (-r[0], r[1], r[2]))
    for length, path, first, name, exempt in rows[: a.most]:
        print(f"{length:5} {path}:{first} {name}{'  (exempt)' if exempt else ''}")
    over = [r for r in rows if r[0] >= a.limit and not r[4]]
    print(f"{len(rows)} functions; {len(over)} at or over {a.limit} lines outside the exempt paths")
    shown = set(rows[: a.most])
    for row in over:
        if row not in shown:
            print(f"{row[0]:5} {row[1]}:{row[2]} {row[3]}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
