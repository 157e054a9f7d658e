#!/bin/bash
# Per-VIF limits: a backend started with --vif-msg-rate holds every VIF to
# it (a lower bound on the time a stream takes: the limiter may be slower,
# never faster), `myrixen vif set` changes one VIF's limits and refuses an
# endpoint that is not open, and the counters show each VIF's limits and
# share.
BUILD=${1:-build}
SOCK=/tmp/myrixen-limits-$$.sock
export MYRIXEN_SOCKET=$SOCK MYRIXEN_DATAPATH=engine
MYRIXEN_LOG=warn "$BUILD/bin/myrixend" --socket "$SOCK" --hostname lim --vif-msg-rate 5000 &
BE=$!
trap 'kill $BE 2>/dev/null; wait $BE 2>/dev/null; rm -f "$SOCK" "$SOCK.lock"' EXIT
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
failed=0

# 3000 messages (and a few to close the rounds) at 5000/s: at least 0.55 s
"$BUILD/mx/mx_stream" -e 1 -l 64 -n 1500 -w 0 > /dev/null & R=$!
t0=$(date +%s%N)
"$BUILD/mx/mx_stream" -e 2 -d lim -r 1 -l 64 -n 1500 > /dev/null; rc=$?
t1=$(date +%s%N)
wait $R || rc=1
ms=$(( (t1 - t0) / 1000000 ))
if [ $rc = 0 ] && [ $ms -ge 550 ]; then echo "ok   3000 messages under a 5000/s limit took $ms ms"
else echo "FAIL limited stream: rc $rc, $ms ms (at least 550 expected)"; failed=1; fi

# counters --watch into a pipe: plain lines (no carriage returns, no
# terminal codes), a rate per VIF that moves with a stream and stays
# within the 5000 messages a second the VIFs are held to
"$BUILD/mx/mx_stream" -e 6 -l 64 -n 2500 -w 0 > /dev/null & R=$!
"$BUILD/mx/mx_stream" -e 7 -d lim -r 6 -l 64 -n 2500 > /dev/null & S=$!
sleep 0.1
"$BUILD/bin/myrixen" counters --watch --interval 0.15 --count 3 > "$SOCK.watch" 2>&1
wait $S; wait $R
lines=$(grep -cE '^T\+[0-9.]+s (total|vif [0-9]+) tx [0-9]+ msg/s [0-9.]+ MB/s rx [0-9]+ msg/s [0-9.]+ MB/s drops [0-9]+$' "$SOCK.watch")
rate=$(grep -E '^T\+[0-9.]+s vif 7 tx' "$SOCK.watch" | awk '{print $5}' | sort -n | tail -1)
if [ "$lines" -ge 9 ] && ! grep -q $'[\r\033]' "$SOCK.watch" && [ "${rate:-0}" -gt 0 ] && [ "$rate" -le 6000 ]; then
  echo "ok   counters --watch in a pipe: plain lines, vif 7 at up to $rate msg/s (limit 5000/s)"
else echo "FAIL counters --watch: $lines lines, rate '${rate}'"; cat "$SOCK.watch"; failed=1; fi
rm -f "$SOCK.watch"

# the copy datapath's netback takes requests under the same limits
MYRIXEN_DATAPATH=copy "$BUILD/mx/mx_stream" -e 4 -l 64 -n 1500 -w 0 > /dev/null & R=$!
t0=$(date +%s%N)
MYRIXEN_DATAPATH=copy "$BUILD/mx/mx_stream" -e 5 -d lim -r 4 -l 64 -n 1500 > /dev/null; rc=$?
t1=$(date +%s%N)
wait $R || rc=1
ms=$(( (t1 - t0) / 1000000 ))
if [ $rc = 0 ] && [ $ms -ge 550 ]; then echo "ok   copy datapath: 3000 messages under a 5000/s limit took $ms ms"
else echo "FAIL limited copy stream: rc $rc, $ms ms (at least 550 expected)"; failed=1; fi

# below 1000 messages a second a bucket still holds one message: 40 at
# 100/s take 0.3 s or more, and end (a bucket of 0.1 message let none go)
"$BUILD/bin/myrixend" --socket "$SOCK.slow" --hostname slow --vif-msg-rate 100 2> /dev/null &
SLOW=$!
for _ in $(seq 100); do [ -S "$SOCK.slow" ] && break; sleep 0.05; done
MYRIXEN_SOCKET=$SOCK.slow timeout 30 "$BUILD/mx/mx_stream" -e 1 -l 64 -n 20 -w 0 > /dev/null & R=$!
t0=$(date +%s%N)
MYRIXEN_SOCKET=$SOCK.slow timeout 30 "$BUILD/mx/mx_stream" -e 2 -d slow -r 1 -l 64 -n 20 > /dev/null
rc=$?
t1=$(date +%s%N)
wait $R || rc=1
kill $SLOW; wait $SLOW 2>/dev/null; rm -f "$SOCK.slow" "$SOCK.slow.lock"
ms=$(( (t1 - t0) / 1000000 ))
if [ $rc = 0 ] && [ $ms -ge 300 ]; then echo "ok   40 messages under a 100/s limit took $ms ms"
else echo "FAIL slow limit: rc $rc, $ms ms (at least 300 expected, and an end)"; failed=1; fi

# vif set on an open endpoint, refused on a closed one
"$BUILD/mx/mx_stream" -e 3 -l 64 -n 1 > /dev/null & R=$!
for _ in $(seq 100); do "$BUILD/bin/myrixen" counters --json | grep -q '"eid":3' && break; sleep 0.05; done
if "$BUILD/bin/myrixen" vif set 3 --rate 2.5 --msg-rate 777 &&
   "$BUILD/bin/myrixen" counters --json | grep -q '"eid":3,.*"limit_Bps":2500000,"limit_msgs":777'; then
  echo "ok   vif set: limits shown in the counters"
else echo "FAIL vif set on endpoint 3"; "$BUILD/bin/myrixen" counters --json; failed=1; fi
if "$BUILD/bin/myrixen" vif set 60 --msg-rate 1 2> /dev/null; then
  echo "FAIL vif set accepted an endpoint that is not open"; failed=1
else echo "ok   vif set refuses an endpoint that is not open"; fi
kill $R 2>/dev/null; wait $R 2>/dev/null
exit $failed
