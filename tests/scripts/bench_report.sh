#!/bin/bash
# `myrixen bench report --quick` must write every file, each non-empty and
# well formed: results.json with rows of every datapath and pattern,
# results.md with its tables and targets, the .dat files the plots come
# from, and every plot as PNG and SVG, whose lines are titled by datapath
# and start at the smallest size.
BUILD=${1:-build}
OUT=$(mktemp -d /tmp/myrixen-report-XXXXXX)
trap 'rm -rf "$OUT"' EXIT
if ! timeout 600 "$BUILD/bin/myrixen" bench report --quick --out "$OUT" > "$OUT/stdout" 2> "$OUT/stderr"; then
  echo "FAIL: bench report exited non-zero"; tail -n 5 "$OUT/stdout" "$OUT/stderr"; exit 1
fi
# into a file, progress is plain lines: no bar redrawn with carriage returns
if grep -q $'\r' "$OUT/stderr" || ! grep -q "^myrixen bench report: 1/" "$OUT/stderr"; then
  echo "FAIL: bench report's progress into a file is not plain lines"; head -c 300 "$OUT/stderr"; exit 1
fi
python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
fail = []
rows = json.load(open(os.path.join(out, "results.json")))
for pattern in ("pingpong", "stream"):
    for dp in ("bypass", "engine", "copy", "copy-batch"):
        mine = [r for r in rows if r.get("pattern") == pattern and r.get("datapath") == dp
                and not r.get("summary")]
        if not mine:
            fail.append(f"no {pattern} rows for {dp}")
        for r in mine:
            if not (r["latency_us"] > 0 and r["msgs_per_s"] > 0 and r["size"] >= 0):
                fail.append(f"bad row {r}")
scaling = [r for r in rows if r.get("summary") and r.get("guests", 0) > 2]
if not scaling or not all(0 < r["jain"] <= 1.0001 and r["aggregate_msgs_per_s"] > 0 for r in scaling):
    fail.append("no well-formed scaling summary rows")
md = open(os.path.join(out, "results.md")).read()
for heading in ("## pingpong", "## stream", "## The engine shared", "## Targets"):
    if heading not in md:
        fail.append(f"results.md lacks {heading}")
for name in ("latency", "bandwidth", "scaling"):
    dat = [l for l in open(os.path.join(out, name + ".dat")) if not l.startswith("#")]
    if not dat or not all(float(x) >= 0 for l in dat for x in l.split()):
        fail.append(f"{name}.dat empty or not numbers")
    png = open(os.path.join(out, name + ".png"), "rb").read()
    if not png.startswith(b"\x89PNG") or len(png) < 2000:
        fail.append(f"{name}.png is not a PNG")
    svg = open(os.path.join(out, name + ".svg")).read()
    if "<svg" not in svg or "</svg>" not in svg:
        fail.append(f"{name}.svg is not an SVG")
# The plots read right: every datapath names a line in the legend (not the
# numbers of a data row taken for titles), and the smallest size is drawn
# (gnuplot's own table of what it plots, from the report's script).
import re, subprocess
for name in ("latency", "bandwidth"):
    svg = open(os.path.join(out, name + ".svg")).read()
    titles = re.findall(r">([^<>]+)</tspan>", svg) + re.findall(r"<text[^>]*>([^<>]+)</text>", svg)
    for dp in ("bypass", "engine", "copy", "copy-batch"):
        if dp not in [t.strip() for t in titles]:
            fail.append(f"{name}.svg: no line titled {dp}")
    if any(re.fullmatch(r"\d+\.\d{4}", t.strip()) for t in titles):
        fail.append(f"{name}.svg: a title is a number (a data row read as the header)")
    gp = open(os.path.join(out, name + ".gp")).read().split("set terminal")[1]
    table = os.path.join(out, name + ".table")
    script = "set table '%s'\n" % table + "\n".join(
        l for l in gp.splitlines()[1:] if not l.startswith("set output"))
    subprocess.run(["gnuplot"], input=script.encode(), check=True)
    xs = [float(l.split()[0]) for l in open(table) if l.strip() and not l.startswith("#")]
    smallest = min(float(l.split()[0]) for l in open(os.path.join(out, name + ".dat"))
                   if not l.startswith("#"))
    if not xs or min(xs) != smallest:
        fail.append(f"{name}: smallest size {smallest} not plotted (from {min(xs) if xs else None})")
for f in fail:
    print("FAIL:", f)
print(f"ok   bench report --quick: {len(rows)} rows, tables, plots" if not fail else "")
sys.exit(1 if fail else 0)
PY
