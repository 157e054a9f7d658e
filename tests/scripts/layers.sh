#!/bin/bash
# The layers of the tree, checked on the object files: which folder's code
# calls which, read from the symbols each object defines and needs (nm).
# Calls go down only:
#   backend -> engine -> port -> common      (myrixend and its engine)
#   lib -> common                            (libmyrixen, the frontend)
# Within a folder that declares ranks for its files (ranks, below), a file
# calls only files of its own rank or lower, and no files call each other
# round a cycle.  Only objects of the sources that exist are read.
BUILD=${1:-build}
python3 - "$BUILD" <<'PY'
import collections, glob, os, subprocess, sys

build = sys.argv[1]
allowed = {
    "common": set(),
    "port": {"common"},
    "engine": {"port", "common"},
    "backend": {"engine", "common"},
    "lib": {"common"},
}
# Ranks of the files of a layered folder: a file calls its own rank or lower.
# lib: the frontend's layers, as lib.h lists them.
lib_ranks = [
    "state errors ep seg match grant req partial ctlclient attach vmdev",
    "txq",
    "channel conn lane lane_rndv",
    "send recv unexp reach",
    "progress",
    "init endpoint connect wait handler info names rma",
]
ranks = {"lib": {f: r for r, names in enumerate(lib_ranks) for f in names.split()}}
defined, needs = {}, collections.defaultdict(set)
for folder in allowed:
    for src in glob.glob(f"src/{folder}/*.c"):
        name = f"{folder}/{os.path.basename(src)[:-2]}"
        obj = f"{build}/obj/src/{name}.o"
        out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            f = line.split()
            if len(f) == 3 and f[1] in "TDBRCVW":
                defined[f[2]] = name
            elif len(f) == 2 and f[0] == "U":
                needs[name].add(f[1])
if len(defined) < 100:
    sys.exit(f"FAIL layers: only {len(defined)} symbols found under {build}/obj/src: build first")

edges = collections.defaultdict(set)
for user, syms in needs.items():
    for s in syms:
        owner = defined.get(s)
        if owner and owner != user:
            edges[user].add(owner)

fail = []
for user, owners in sorted(edges.items()):
    uf = user.split("/")[0]
    for owner in sorted(owners):
        of = owner.split("/")[0]
        if of != uf and of not in allowed[uf]:
            fail.append(f"{user} calls up or across into {owner}")

def cycles(nodes):
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v); on.add(v)
        for w in edges.get(v, ()):
            if w not in nodes:
                continue
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out

files = set(needs) | set(defined.values())
for folder, rank in ranks.items():
    mine = {f for f in files if f.startswith(folder + "/")}
    for f in sorted(mine):
        if f.split("/")[1] not in rank:
            fail.append(f"{f} has no rank in {folder}/ (tests/scripts/layers.sh)")
    for user in sorted(mine):
        for owner in sorted(edges.get(user, ())):
            if owner in mine and rank.get(owner.split("/")[1], 0) > rank.get(user.split("/")[1], 0):
                fail.append(f"{user} calls up into {owner}")
    for comp in cycles(mine):
        fail.append(f"cycle in {folder}/: " + " -> ".join(comp))

for f in fail:
    print("FAIL", f)
if not fail:
    print(f"ok   layers: {len(files)} files, calls go down (backend > engine > port > common, "
          f"lib > common; lib in {len(lib_ranks)} ranks), no cycles")
sys.exit(1 if fail else 0)
PY
