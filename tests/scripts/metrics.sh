#!/bin/bash
# myrixend --metrics: scraped before and during traffic, over TCP on
# loopback and over a Unix socket; the text passes Prometheus' own parser
# (python3-prometheus-client), carries the families an operator needs, and
# the counters move with the traffic (at least the messages sent).
BUILD=${1:-build}
T=$(mktemp -d /tmp/myrixen-metrics-XXXXXX)
trap 'kill $BE $R 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
export MYRIXEN_SOCKET=$T/be.sock MYRIXEN_DATAPATH=engine
port=$((20000 + $$ % 20000))
"$BUILD/bin/myrixend" --socket "$MYRIXEN_SOCKET" --metrics "tcp:127.0.0.1:$port" > "$T/be.log" 2>&1 & BE=$!
for _ in $(seq 100); do [ -S "$MYRIXEN_SOCKET" ] && break; sleep 0.05; done
N=20000
scrape() { # NAME URL-or-unix-path
  /usr/bin/python3 - "$@" <<'PY'
import socket, sys
where, out = sys.argv[2], sys.argv[1]
if where.startswith("/"):
    s = socket.socket(socket.AF_UNIX); s.connect(where)
else:
    s = socket.create_connection(("127.0.0.1", int(where)))
s.sendall(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
data = b""
while True:
    b = s.recv(65536)
    if not b: break
    data += b
head, _, body = data.partition(b"\r\n\r\n")
open(out, "wb").write(body)
print(head.split(b"\r\n")[0].decode())
PY
}
scrape "$T/before" "$port" > /dev/null
# the receiver's second round waits 1.5 s before its first receive: the
# scrape comes then, the first round's N messages through, both open
"$BUILD/mx/mx_stream" -e 1 -l 256 -n $N -w 1500 > /dev/null & R=$!
"$BUILD/mx/mx_stream" -e 2 -d "$(hostname)" -r 1 -l 256 -n $N > /dev/null & S=$!
for _ in $(seq 40); do
  sleep 0.1
  status=$(scrape "$T/during" "$port")
  grep -q 'myrixen_messages_total{direction="tx"} [1-9]' "$T/during" &&
    [ "$(grep 'myrixen_messages_total{direction="tx"}' "$T/during" | awk '{print $2}')" -ge $N ] && break
done
wait $S; src=$?
wait $R; rrc=$?
/usr/bin/python3 - "$T/before" "$T/during" "$N" "$status" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
before, during, n, status = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
fail = []
def parse(path):
    fams = {f.name: f for f in text_string_to_metric_families(open(path).read())}
    return fams
b, d = parse(before), parse(during)
if not status.endswith("200 OK"):
    fail.append("status " + status)
for fam in ("myrixen_up", "myrixen_guests", "myrixen_vif_messages", "myrixen_vif_bytes",
            "myrixen_vif_drops", "myrixen_vif_throttled", "myrixen_engine_rounds",
            "myrixen_engine_sleeps", "myrixen_messages", "myrixen_peer_rtt_seconds",
            "myrixen_peer_retransmits", "myrixen_wire_drops"):
    if fam not in d:
        fail.append("no family " + fam)
def value(fams, fam, **labels):
    for s in fams[fam].samples if fam in fams else []:
        if all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None
moved = value(d, "myrixen_messages", direction="tx") - (value(b, "myrixen_messages", direction="tx") or 0)
if moved < n:
    fail.append(f"messages moved {moved} < {n} sent")
if value(d, "myrixen_up") != 1 or value(d, "myrixen_guests", kind="process") < 1:
    fail.append("up or guests wrong")
rx = value(d, "myrixen_vif_bytes", eid="1", direction="rx")
if not rx or rx < 256 * n * 0.5:
    fail.append(f"vif 1 rx bytes {rx}")
if value(d, "myrixen_engine_rounds") <= value(b, "myrixen_engine_rounds"):
    fail.append("engine rounds did not move")
for f in fail:
    print("FAIL metrics:", f)
if not fail:
    print(f"ok   metrics scraped during traffic: {len(d)} families pass Prometheus' parser, "
          f"{int(moved)} messages moved (>= {n} sent), vif 1 received {int(rx)} bytes")
sys.exit(1 if fail else 0)
PY
rc=$?
[ $src = 0 ] && [ $rrc = 0 ] || { echo "FAIL the stream (sender $src, receiver $rrc)"; rc=1; }
kill $BE; wait $BE 2>/dev/null
# over a Unix socket too, and a bad address refused at start
"$BUILD/bin/myrixend" --socket "$MYRIXEN_SOCKET" --metrics "unix:$T/metrics.sock" > "$T/be2.log" 2>&1 & BE=$!
for _ in $(seq 100); do [ -S "$T/metrics.sock" ] && break; sleep 0.05; done
st=$(scrape "$T/unix" "$T/metrics.sock")
if [[ "$st" == *"200 OK" ]] && grep -q '^myrixen_up 1$' "$T/unix"; then
  echo "ok   metrics over a Unix socket ($st)"
else echo "FAIL metrics over a Unix socket: $st"; rc=1; fi
kill $BE; wait $BE 2>/dev/null
if "$BUILD/bin/myrixend" --socket "$T/x.sock" --metrics "tcp:no-such-address:1" > "$T/bad.log" 2>&1; then
  echo "FAIL a bad metrics address was accepted"; rc=1
else echo "ok   a bad metrics address is refused: $(head -1 "$T/bad.log")"; fi
if "$BUILD/bin/myrixend" --socket "$T/y.sock" --metrics "unix:$T/y.sock" > "$T/own.log" 2>&1 ||
   [ -e "$T/y.sock" ]; then
  echo "FAIL metrics on the control socket's own path: $(cat "$T/own.log")"; rc=1
else echo "ok   metrics on the control socket's own path are refused, nothing left: $(head -1 "$T/own.log")"; fi
exit $rc
