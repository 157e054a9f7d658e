#!/bin/sh
# make demo: a private backend, two guest pairs exchanging messages on both
# datapaths, the backend's view of them, and a result table.
set -e
BUILD=${1:-build}
SOCK=/tmp/myrixen-demo-$$.sock
export MYRIXEN_SOCKET=$SOCK
MYRIXEN_LOG=warn "$BUILD/bin/myrixend" --socket "$SOCK" &
BE=$!
trap 'kill $BE 2>/dev/null; wait $BE 2>/dev/null; rm -f "$SOCK" "$SOCK.lock"' EXIT
i=0; while [ ! -S "$SOCK" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
echo "== myrixend up on $SOCK"
"$BUILD/bin/myrixen" info
echo
echo "== ping-pong, guest to guest on this host (bypass = direct channel, engine = NIC loopback, copy = split driver)"
"$BUILD/bin/myrixen" bench pingpong --datapath all --sizes 8,1024,65536,1048576 --iters 5000
echo
echo "== stream"
"$BUILD/bin/myrixen" bench stream --datapath all --sizes 1024,65536,1048576,4194304 --iters 5000
echo
echo "== counters kept by the backend (the bench guests have left; totals per closed VIF are in the engine line)"
"$BUILD/bin/myrixen" counters
