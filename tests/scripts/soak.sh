#!/bin/bash
# The soak: two hosts (network namespaces) with a cluster key and every
# kind of fault on their ports, 16 guests at a time running the random
# loop (every message class, each rank checking lengths, payloads and
# per-sender order of everything it receives: nothing lost, duplicated or
# corrupted), round after round with new seeds and datapaths, beside a
# hostile guest on each host; for SOAK_SECONDS (50 in make check, longer
# in make soak).  Then: both backends alive, their memory flat.
BUILD=${1:-build}
SECS=${SOAK_SECONDS:-50}
# Under ASan, freed memory waits in a quarantine (256 MB by default) before
# it is used again: a small one, so that the RSS of the backend says
# whether memory is kept (other builds ignore the option).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4:thread_local_quarantine_size_kb=64"
. "$(dirname "$0")/lib/hosts.sh"

host a; host b
link2 a b 198.18.2.1 198.18.2.2
head -c 32 /dev/urandom > "$TMP/key"; chmod 600 "$TMP/key"
printf -- '- a udp:198.18.2.1:2318\n- b udp:198.18.2.2:2318\nkey-file %s\n' "$TMP/key" > "$TMP/peers"
F=loss=0.02,dup=0.01,reorder=0.02,corrupt=0.001
backend a udp:198.18.2.1:2318 --fault $F,seed=21 && backend b udp:198.18.2.2:2318 --fault $F,seed=22 || exit 1

rss() { awk '/VmRSS/ {print $2}' "/proc/$(cat "$TMP/$1.pid")/status"; }

# round N DATAPATH: 16 ranks of the random loop, 8 on each host
round() {
  local n=$1 pids=() rc=0
  for r in $(seq 0 15); do
    h=$([ $((r % 2)) = 0 ] && echo a || echo b)
    MYRIXEN_DATAPATH=$2 on "$h" "$MX/mx_randloop" -d a,b -b 20 -p 16 -i "$r" -m 40 -s "$n" \
      > "$TMP/rank$r.out" 2>&1 & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  [ $rc = 0 ] || { tail -n 3 "$TMP"/rank*.out; tail -n 20 "$TMP"/a.log "$TMP"/b.log; }
  return $rc
}

round 1 engine || { bad "soak: warm-up round"; exit 1; }
# (their own time limit: the one `on` gives every guest, 120 s, killed
# them mid-soak in a longer one, and make soak failed on their silence)
ON_TIMEOUT=$((SECS + 60)) on a "$BIN/soak/hostile" "$SECS" 1 > "$TMP/hostile-a.out" 2>&1 & ha=$!
ON_TIMEOUT=$((SECS + 60)) on b "$BIN/soak/hostile" "$SECS" 2 > "$TMP/hostile-b.out" 2>&1 & hb=$!
start=$(date +%s); end=$((start + SECS))
rounds=0; failures=0; rss_a=; rss_b=
dps=(bypass engine copy-batch)
while [ "$(date +%s)" -lt "$end" ]; do
  rounds=$((rounds + 1))
  round $((rounds + 1)) "${dps[$((rounds % 3))]}" || failures=$((failures + 1))
  # memory is measured from a quarter in: by then every pool, cache and
  # allocator arena the work needs has grown to its size
  if [ -z "$rss_a" ] && [ "$(date +%s)" -ge $((start + SECS / 4)) ]; then
    rss_a=$(rss a); rss_b=$(rss b)
  fi
done
[ -n "$rss_a" ] || { rss_a=$(rss a); rss_b=$(rss b); }
# What flat means: 8 MB at most in the plain build; a sanitizer's shadow
# memory and allocator grow with the heap's history, so 32 there.
flat=8192
ldd "$BIN/bin/myrixend" | grep -qE 'libasan|libtsan' && flat=32768
wait $ha; ra=$?; wait $hb; rb=$?
alive=0
kill -0 "$(cat "$TMP/a.pid")" 2>/dev/null && kill -0 "$(cat "$TMP/b.pid")" 2>/dev/null && alive=1
grow_a=$(( $(rss a) - rss_a )); grow_b=$(( $(rss b) - rss_b ))
deeds=$(cat "$TMP"/hostile-*.out | awk '/misdeeds/ {s += $2} END {print s + 0}')
sa=$(on a "$BIN/bin/myrixen" peers --json)
summary="$rounds rounds of 16 ranks x 40 messages ($((rounds * 640)) checked), $deeds hostile misdeeds, \
retransmits $(json_num "$sa" retransmits), auth refused $(json_num "$sa" auth_failed); \
backend RSS growth (from a quarter in) a ${grow_a} kB, b ${grow_b} kB"
[ "$ra$rb" = 00 ] || summary="$summary; the hostile guests exited with $ra and $rb"
if [ "$failures" = 0 ] && [ "$alive" = 1 ] && [ "$deeds" -gt 0 ] &&
   [ "$grow_a" -lt "$flat" ] && [ "$grow_b" -lt "$flat" ]; then
  ok "soak ${SECS} s: $summary"
else
  bad "soak ${SECS} s: $failures rounds failed, backends alive: $alive; $summary"
fi
stop_backend a; stop_backend b
[ $failed = 0 ]
