#!/bin/bash
# The backend as a systemd service: the installed unit passes
# systemd-analyze verify; the backend tells a notify socket READY=1 (with
# its pid) once its control socket listens, as Type=notify expects; under
# the journal (JOURNAL_STREAM) its lines carry syslog priorities.  (This
# machine's PID 1 is not systemd: the unit is verified, not started.)
. "$(dirname "$0")/lib/script.sh"
install_tree PREFIX="$T/p"
unit=$T/p/lib/systemd/system/myrixend.service
if out=$(MANPATH=$T/p/share/man systemd-analyze verify "$unit" 2>&1) && [ -z "$out" ] &&
   grep -q "^ExecStart=$T/p/sbin/myrixend " "$unit" && grep -q "^Type=notify" "$unit"; then
  ok "systemd-analyze verify: the installed unit (Type=notify, its man pages found)"
else
  bad "systemd-analyze verify: $out"
fi
# readiness: a notify socket of our own stands for systemd's
python3 - "$T/notify" > "$T/ready" <<'PY' & L=$!
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); s.settimeout(20)
print(s.recv(256).decode().replace("\n", " "))
PY
for _ in $(seq 100); do [ -S "$T/notify" ] && break; sleep 0.05; done
NOTIFY_SOCKET=$T/notify JOURNAL_STREAM=8:1234 "$T/p/sbin/myrixend" --socket "$T/be.sock" \
  > "$T/be.log" 2>&1 & BE=$!
wait $L
ready=$(cat "$T/ready")
if [[ "$ready" == "READY=1 MAINPID=$BE"* ]] && [ -S "$T/be.sock" ]; then
  ok "READY=1 once the socket listens ($ready)"
else
  bad "readiness: '$ready', socket $(ls "$T/be.sock" 2>&1)"
fi
kill $BE; wait $BE 2>/dev/null
if grep -q '^<6>info backend: stopped' "$T/be.log" && ! grep -q '^myrixend\[' "$T/be.log"; then
  ok "under the journal, lines carry their priority ($(tail -1 "$T/be.log"))"
else
  bad "journal lines: $(cat "$T/be.log")"
fi
[ $failed = 0 ]
