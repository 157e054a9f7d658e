#!/bin/bash
# myrixend's configuration file: a good one starts the backend with its
# settings (and a flag wins over the file), --check-config says so and
# exits; a file with bad lines is refused, each line named with its number
# and what is wrong, and the backend does not start.
. "$(dirname "$0")/lib/script.sh"
cat > "$T/good.conf" <<CONF
# a backend of this test
socket = $T/be.sock
hostname = fromfile   # a comment after a value
max-endpoints = 32
socket-mode = 0660
log-level = warn
no-discovery = yes
vif-msg-rate = 0
engine-spin-us = 10
engine-yield-us = 100
metrics = unix:$T/metrics.sock
CONF
if out=$("$BUILD/bin/myrixend" --config "$T/good.conf" --check-config 2>&1) && [[ "$out" == *"is valid"* ]] &&
   [ ! -e "$T/be.sock" ]; then
  ok "--check-config: $out"
else
  bad "--check-config on a good file: $out"
fi
"$BUILD/bin/myrixend" --config "$T/good.conf" > "$T/be.log" 2>&1 & BE=$!
for _ in $(seq 100); do [ -S "$T/be.sock" ] && break; sleep 0.05; done
info=$(MYRIXEN_SOCKET=$T/be.sock "$BUILD/bin/myrixen" info 2>&1 | head -1)
mode=$(stat -c %a "$T/be.sock" 2>/dev/null)
if [[ "$info" == *" on fromfile,"* ]] && [ "$mode" = 660 ] && [ -S "$T/metrics.sock" ]; then
  ok "a good file starts the backend with its settings ($info; socket mode $mode; metrics)"
else
  bad "the backend of a good file: '$info', mode '$mode'"; cat "$T/be.log"
fi
kill $BE; wait $BE 2>/dev/null
"$BUILD/bin/myrixend" --config "$T/good.conf" --hostname fromflag > "$T/be.log" 2>&1 & BE=$!
for _ in $(seq 100); do [ -S "$T/be.sock" ] && break; sleep 0.05; done
info=$(MYRIXEN_SOCKET=$T/be.sock "$BUILD/bin/myrixen" info 2>&1 | head -1)
[[ "$info" == *" on fromflag,"* ]] && ok "a flag wins over the file ($info)" || bad "flag over file: '$info'"
kill $BE; wait $BE 2>/dev/null
# every kind of bad line, each on its own line number
cat > "$T/bad.conf" <<CONF
socket = $T/bad.sock
bogus-key = 1
max-endpoints = many
daemon = maybe
socket-mode = 999
a line without an equals sign
port = tcp:198.18.0.1:1
log-level =
medium-max = -5
CONF
"$BUILD/bin/myrixend" --config "$T/bad.conf" > "$T/bad.out" 2>&1; rc=$?
want=(2:bogus-key 3:max-endpoints 4:daemon 5:socket-mode "6:not key = value" 7:port 8:log-level 9:medium-max)
missing=
for w in "${want[@]}"; do
  grep -qF "$T/bad.conf:${w%%:*}: ${w#*:}" "$T/bad.out" || missing="$missing ${w%%:*}"
done
if [ $rc != 0 ] && [ -z "$missing" ] && [ ! -e "$T/bad.sock" ] &&
   [ "$(grep -c "bad.conf:" "$T/bad.out")" = 8 ]; then
  ok "a bad file is refused, every bad line named: $(grep -o 'bad.conf:[0-9]*: [^:]*' "$T/bad.out" | sed 's/.*conf://' | tr '\n' ',' )"
else
  bad "bad file: rc $rc, lines not reported:$missing"; cat "$T/bad.out"
fi
# a line longer than any buffer stays one line (its commented tail is no
# setting), a NUL byte is refused, and --check (an abbreviation getopt
# takes) checks rather than starts
{ printf '# %01500d metrics = tcp:127.0.0.1:1\n' 0; echo "socket = $T/long.sock"; } > "$T/long.conf"
printf 'hostname = a\0b\n' > "$T/nul.conf"
if out=$("$BUILD/bin/myrixend" --config "$T/long.conf" --check 2>&1) && [[ "$out" == *valid* ]] &&
   ! grep -q metrics <<< "$out" && [ ! -e "$T/long.sock" ] &&
   ! "$BUILD/bin/myrixend" --config "$T/nul.conf" --check-config > "$T/nul.out" 2>&1 &&
   grep -q "nul.conf:1: a NUL byte" "$T/nul.out"; then
  ok "a 1500-byte comment stays a comment, a NUL byte is refused, --check only checks"
else
  bad "long line / NUL / --check: $out $(cat "$T/nul.out")"
fi
"$BUILD/bin/myrixend" --config "$T/missing.conf" > "$T/missing.out" 2>&1 && bad "a missing --config file accepted" ||
  ok "a missing --config file is refused: $(head -1 "$T/missing.out")"
"$BUILD/bin/myrixend" --config "$T/good.conf" --max-endpoints 0 > "$T/flag.out" 2>&1 &&
  bad "a bad flag value accepted" || ok "a bad flag value is refused: $(head -1 "$T/flag.out")"
[ $failed = 0 ]
