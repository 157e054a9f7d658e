#!/bin/bash
# One backend per socket: a second myrixend started on the socket of a
# live one refuses, names it, and leaves it serving (its guests go on); a
# backend that died leaves a stale socket, which the next one takes over.
BUILD=${1:-build}
DIR=$(mktemp -d /tmp/myrixen-one-XXXXXX)
SOCK=$DIR/be.sock
export MYRIXEN_SOCKET=$SOCK
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$DIR"' EXIT
failed=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; failed=$((failed + 1)); }
started() { for _ in $(seq 100); do [ -S "$SOCK" ] && "$BUILD/bin/myrixen" info > /dev/null 2>&1 && return 0; sleep 0.05; done; return 1; }

"$BUILD/bin/myrixend" --socket "$SOCK" --hostname first > "$DIR/first.log" 2>&1 & first=$!; pids+=($first)
started || bad "the first backend did not start"
# a guest of the first backend, in the middle of a stream
"$BUILD/mx/mx_stream" -e 1 -l 4096 -n 20000 -w 0 > "$DIR/recv.out" 2>&1 & r=$!; pids+=($r)
sleep 0.3
timeout 10 "$BUILD/bin/myrixend" --socket "$SOCK" --hostname second > "$DIR/second.log" 2>&1
rc=$?
if [ $rc != 0 ] && grep -q "a backend already serves $SOCK, pid $first" "$DIR/second.log"; then
  ok "a second backend on a live socket refuses: $(grep -o 'a backend already serves.*' "$DIR/second.log")"
else
  bad "second backend: rc $rc, $(cat "$DIR/second.log")"
fi
"$BUILD/mx/mx_stream" -e 2 -d first -r 1 -l 4096 -n 20000 > "$DIR/send.out" 2>&1; src=$?
wait $r; rrc=$?
host=$("$BUILD/bin/myrixen" info 2>/dev/null | head -1)
if [ $src = 0 ] && [ $rrc = 0 ] && [[ "$host" == *" on "* ]] && kill -0 $first 2>/dev/null; then
  ok "the first backend still serves its socket and its guests ($host)"
else
  bad "the first backend after the refusal: sender $src, receiver $rrc, info '$host'"; tail -3 "$DIR"/*.out
fi
kill -9 $first; wait $first 2>/dev/null
"$BUILD/bin/myrixend" --socket "$SOCK" --hostname third > "$DIR/third.log" 2>&1 & third=$!; pids+=($third)
if started && "$BUILD/bin/myrixen" info 2>/dev/null | grep -q " on third,"; then
  ok "a stale socket (its backend killed) is taken over"
else
  bad "stale socket not taken over: $(cat "$DIR/third.log")"
fi
# a lock planted as a link is not followed: its target is left as it was
echo precious > "$DIR/target"
ln -s "$DIR/target" "$DIR/planted.sock.lock"
if ! timeout 10 "$BUILD/bin/myrixend" --socket "$DIR/planted.sock" > "$DIR/planted.log" 2>&1 &&
   [ "$(cat "$DIR/target")" = precious ] && grep -q "cannot use .*planted.sock.lock" "$DIR/planted.log"; then
  ok "a lock planted as a link is refused, its target untouched"
else
  bad "planted lock: $(cat "$DIR/planted.log"), target '$(cat "$DIR/target")'"
fi
[ $failed = 0 ]
