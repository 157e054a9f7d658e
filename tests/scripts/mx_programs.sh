#!/bin/sh
# The MX programs of tests/mx, run as an MX user runs them: a backend,
# then each program (and its peers) as separate processes, on both
# datapaths.  Each program checks its own results; this script checks
# that every process exits 0.
BUILD=${1:-build}
BIN=$BUILD/mx
SOCK=/tmp/myrixen-mx-$$.sock
HOST=mxhost
export MYRIXEN_SOCKET=$SOCK
MYRIXEN_LOG=warn "$BUILD/bin/myrixend" --socket "$SOCK" --hostname $HOST &
BE=$!
trap 'kill $BE 2>/dev/null; wait $BE 2>/dev/null; rm -f "$SOCK" "$SOCK.lock"' EXIT
i=0; while [ ! -S "$SOCK" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
[ -S "$SOCK" ] || { echo "myrixend did not start"; exit 1; }

failed=0
run() { # name command...: one process, must exit 0 within 300 s
  name=$1; shift
  if timeout 300 "$@"; then echo "ok   $name"; else echo "FAIL $name ($*)"; failed=$((failed + 1)); fi
}
pair() { # name server-command -- client-command
  name=$1; shift
  server=""; while [ "$1" != "--" ]; do server="$server $1"; shift; done; shift
  timeout 300 $server & spid=$!
  timeout 300 "$@"; crc=$?
  wait $spid; src=$?
  if [ $crc = 0 ] && [ $src = 0 ]; then echo "ok   $name"; else echo "FAIL $name (client $crc, server $src)"; failed=$((failed + 1)); fi
}

for dp in bypass engine copy copy-batch; do
  export MYRIXEN_DATAPATH=$dp
  pair "pingpong [$dp]" $BIN/mx_pingpong -e 1 -n 3 -- $BIN/mx_pingpong -e 2 -d $HOST:0 -r 1 -n 3
  pair "stream small [$dp]" $BIN/mx_stream -e 1 -l 64 -n 3000 -- $BIN/mx_stream -e 2 -d $HOST -r 1 -l 64 -n 3000
  pair "stream medium [$dp]" $BIN/mx_stream -e 1 -l 30000 -n 400 -- $BIN/mx_stream -e 2 -d $HOST -r 1 -l 30000 -n 400
  pair "stream large [$dp]" $BIN/mx_stream -e 1 -l 300000 -n 40 -- $BIN/mx_stream -e 2 -d $HOST -r 1 -l 300000 -n 40
  # random loop: 5 ranks, every class, every pair (self included)
  pids=""
  for r in 0 1 2 3 4; do
    timeout 300 $BIN/mx_randloop -d $HOST -b 10 -p 5 -i $r -m 150 -s 11 & pids="$pids $!"
  done
  rl=0; for p in $pids; do wait $p || rl=1; done
  if [ $rl = 0 ]; then echo "ok   randloop [$dp]"; else echo "FAIL randloop [$dp]"; failed=$((failed + 1)); fi
  run "threads [$dp]" $BIN/mx_threads -t 4 -k 150
  run "unexpected handler [$dp]" $BIN/mx_unexp
  run "context ids [$dp]" $BIN/mx_context
  run "errors and connections [$dp]" $BIN/mx_errors
done
echo "mx programs: $failed failed"
[ $failed = 0 ]
