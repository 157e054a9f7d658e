#!/bin/bash
# bench_hosts.sh - the cross-host benchmark on one machine: two hosts in
# network namespaces joined by a veth pair (addresses from 198.18.0.0/15),
# a backend on each, `myrixen bench serve` on b and `myrixen bench
# pingpong|stream --remote b` on a, which print MyriXen beside raw UDP and
# TCP between the same two namespaces.  Everything is deleted on exit.
#
#   tools/bench_hosts.sh [--port udp|eth] [--mtu N] [--sizes LIST] [--iters N]
#                        [--cores A,B | --cores none] [--patterns "pingpong stream"]
#                        [--no-baselines] [--key] [--fault SPEC]
#
# --key: the two hosts share a cluster key (every packet carries a MAC):
# run with and without it to see what authentication costs.
# --fault SPEC: both backends inject faults (myrixend --fault, e.g.
# loss=0.05): MyriXen's packets, the lanes' too, are lost, duplicated,
# reordered or corrupted as the spec says.  The kernel's baselines would
# cross a clean link, so none is measured (a ratio to them would mean
# nothing).
#
# A host is a namespace and a core: everything of host a (its backend, the
# benchmark client, the baselines' client side) runs on core A, all of b on
# core B (default 0,1), as on two machines.  Unpinned, the two backends
# share a core half of the time and the figures flip between two modes (a
# 1 MiB stream 0.8 or 1.6 GB/s here).  Needs root (ip netns).  Run `make`
# first.
BIN=$(cd "$(dirname "$0")/../build/bin" && pwd) || exit 1
KIND=udp MTU=1500 SIZES=8,64,1024,65536,1048576 ITERS=2000 CORES=0,1
PATTERNS="pingpong stream" EXTRA=() SERVE=() KEY=0 FAULT=
while [ $# -gt 0 ]; do
  case $1 in
    --port) KIND=$2; shift ;;
    --mtu) MTU=$2; shift ;;
    --sizes) SIZES=$2; shift ;;
    --iters) ITERS=$2; shift ;;
    --cores) CORES=$2; shift ;;
    --patterns) PATTERNS=$2; shift ;;
    --no-baselines) EXTRA+=(--no-baselines) ;;
    --key) KEY=1 ;;
    --fault) FAULT=$2; EXTRA+=(--no-baselines); shift ;;
    *) echo "usage: $0 [--port udp|eth] [--mtu N] [--sizes LIST] [--iters N] [--cores A,B|none]" \
            "[--patterns LIST] [--no-baselines] [--key] [--fault SPEC]" >&2
       exit 2 ;;
  esac
  shift
done
TAG=bh$$
TMP=$(mktemp -d /tmp/myrixen-bench-hosts-XXXXXX)
# Everything the run started lives in the two namespaces: the recorded
# pids are those of subshells, so every process in them is stopped (the
# backends and `bench serve` with its forks), then what is left is killed.
cleanup() {
  for f in "$TMP"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
  for h in a b; do ip netns pids "$TAG$h" 2>/dev/null | xargs -r kill 2>/dev/null; done
  sleep 0.3
  for h in a b; do ip netns pids "$TAG$h" 2>/dev/null | xargs -r kill -9 2>/dev/null; done
  ip netns del "${TAG}a" 2>/dev/null
  ip netns del "${TAG}b" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
declare -A CORE
if [ "$CORES" != none ]; then IFS=, read -r CORE[a] CORE[b] <<< "$CORES"; fi
# on HOST command...: run in HOST's namespace, on HOST's core
on() {
  local h=$1; shift
  ip netns exec "$TAG$h" ${CORE[$h]:+taskset -c ${CORE[$h]}} env MYRIXEN_SOCKET="$TMP/$h.sock" "$@"
}
set -e
for h in a b; do ip netns add "$TAG$h"; ip -n "$TAG$h" link set lo up; done
ip link add "${TAG}a" type veth peer name "${TAG}b"
ip link set "${TAG}a" netns "${TAG}a"
ip link set "${TAG}b" netns "${TAG}b"
ip -n "${TAG}a" link set "${TAG}a" mtu "$MTU" up
ip -n "${TAG}b" link set "${TAG}b" mtu "$MTU" up
ip -n "${TAG}a" addr add 198.18.0.1/24 dev "${TAG}a"
ip -n "${TAG}b" addr add 198.18.0.2/24 dev "${TAG}b"
mac() { ip -n "$TAG$1" link show "$TAG$1" | awk '/link\/ether/ {print $2}'; }
if [ "$KIND" = eth ]; then
  printf -- "- a eth:%s\n- b eth:%s\n" "$(mac a)" "$(mac b)" > "$TMP/peers"
  PA="eth:${TAG}a" PB="eth:${TAG}b" EXTRA+=(--baseline-dev "${TAG}a") SERVE=(--frames)
else
  printf -- "- a udp:198.18.0.1:2315\n- b udp:198.18.0.2:2315\n" > "$TMP/peers"
  PA=udp:198.18.0.1:2315 PB=udp:198.18.0.2:2315
fi
if [ "$KEY" = 1 ]; then
  head -c 32 /dev/urandom > "$TMP/key" && chmod 600 "$TMP/key"
  echo "key-file $TMP/key" >> "$TMP/peers"
fi
set +e
for h in a b; do
  [ $h = a ] && port=$PA || port=$PB
  # each host its own draws, unless the spec names a seed
  fault=(); [ -n "$FAULT" ] && fault=(--fault "$FAULT")
  [ -n "$FAULT" ] && [[ $FAULT != *seed=* ]] && fault=(--fault "$FAULT,seed=$([ $h = a ] && echo 1 || echo 2)")
  (on $h MYRIXEN_LOG=warn "$BIN/myrixend" --socket "$TMP/$h.sock" \
     --hostname $h --port "$port" --peers "$TMP/peers" --no-discovery "${fault[@]}" \
     > "$TMP/$h.log" 2>&1 &
   echo $! > "$TMP/$h.pid")
done
for _ in $(seq 100); do [ -S "$TMP/a.sock" ] && [ -S "$TMP/b.sock" ] && break; sleep 0.05; done
(on b "$BIN/myrixen" bench serve "${SERVE[@]}" \
   > "$TMP/serve.log" 2>&1 & echo $! > "$TMP/serve.pid")
sleep 0.3
for pattern in $PATTERNS; do
  on a "$BIN/myrixen" bench "$pattern" --remote b --baseline-ip 198.18.0.2 \
    --sizes "$SIZES" --iters "$ITERS" "${EXTRA[@]}" || { cat "$TMP"/*.log; exit 1; }
done
echo "--- a's view of the link after the run"
on a "$BIN/myrixen" peers
