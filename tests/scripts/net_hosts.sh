#!/bin/bash
# Several hosts on this machine: network namespaces joined by veth pairs
# (two hosts) or a bridge (three), addresses from 198.18.0.0/15 (and
# 2001:2::/48 for IPv6, the benchmarking ranges), one myrixend per host, MX
# programs across them.  Everything made here is deleted on exit.
#
# Cases: every message class over udp (IPv4, IPv6) and eth (and eth at
# MTU 65000, its 64 KiB frames; udp datagrams of that MTU); the same under
# loss, duplication, reordering and corruption from the fault layer, every
# payload checked; three hosts; a receiver computing for seconds while its
# messages are retransmitted; a peer backend killed mid-stream (requests
# fail, then a restarted one serves new connections); forged and truncated
# packets (dropped and counted; the backend goes on).
BUILD=${1:-build}
. "$(dirname "$0")/lib/hosts.sh"

# --- two hosts, udp over IPv4 ------------------------------------------------
host a; host b
link2 a b 198.18.0.1 198.18.0.2
cat > "$TMP/peers" <<EOF
- a udp:198.18.0.1:2315
- b udp:198.18.0.2:2315
EOF
backend a udp:198.18.0.1:2315 && backend b udp:198.18.0.2:2315 || exit 1
classes "udp" a b
randloop "udp random loop, 4 ranks on 2 hosts" a,b 4
# the cross-host bench beside honest baselines: UDP blocking and
# busy-polled, TCP ping-pong and stream, each ratio naming its baseline
on b "$BIN/bin/myrixen" bench serve > "$TMP/serve.out" 2>&1 & serve=$!
sleep 0.5
remote_bench() { # pattern, then env for the client
  local pat=$1; shift
  on a env "$@" "$BIN/bin/myrixen" bench "$pat" --remote b --sizes 8,4096,65536 \
    --iters 200 --json > "$TMP/remote_$pat.json" 2> "$TMP/remote_$pat.err"
}
# (the stream's client is the server's second: a new incarnation of an
# endpoint that closed, which the server answers without a connect of its
# own, every class, after the engines told it the first one closed)
remote_bench pingpong; remote_bench stream MYRIXEN_BENCH_STOP_SERVER=1
wait $serve
pp=$(grep '"size":8,' "$TMP/remote_pingpong.json"); st=$(grep '"size":4096,' "$TMP/remote_stream.json")
fields_ok=1
for k in udp_latency_us udp_busy_latency_us tcp_latency_us; do
  v=$(json_num "$pp" "$k"); [ -n "$v" ] && [ "${v%%.*}" -ge 0 ] 2>/dev/null || { fields_ok=0; echo "pingpong $k: '$v'"; }
done
for k in udp_bandwidth_MBps tcp_bandwidth_MBps; do
  v=$(json_num "$st" "$k"); [ -n "$v" ] && [ "${v%%.*}" -ge 0 ] 2>/dev/null || { fields_ok=0; echo "stream $k: '$v'"; }
done
lb=$(echo "$pp" | grep -o '"latency_baseline":"[a-z-]*"' | cut -d'"' -f4)
bb=$(echo "$st" | grep -o '"bandwidth_baseline":"[a-z-]*"' | cut -d'"' -f4)
case "$lb" in udp|udp-busy|tcp) ;; *) fields_ok=0; echo "latency_baseline '$lb'" ;; esac
case "$bb" in udp|tcp) ;; *) fields_ok=0; echo "bandwidth_baseline '$bb'" ;; esac
if [ $fields_ok = 1 ] && [ -n "$(json_num "$pp" latency_ratio)" ] && [ -n "$(json_num "$st" bandwidth_ratio)" ]; then
  ratio() { grep -o "\"$2\":[0-9.]*" <<< "$1" | cut -d: -f2; }
  ok "bench --remote beside UDP (blocking, busy-polled) and TCP (ping-pong, stream): 8 B x$(ratio "$pp" latency_ratio) of $lb, 4 KiB stream x$(ratio "$st" bandwidth_ratio) of $bb"
else
  bad "bench --remote baselines"; cat "$TMP"/remote_*.json "$TMP"/remote_*.err "$TMP/serve.out" | tail -8
fi
# large messages leave b in GSO runs and reach a in GRO runs (batch.c):
# counted over one large stream from b to a alone (what ran before, the
# ping-pongs of the bench above, goes a packet per send)
port_counts() { # tx_packets tx_sends of b, rx_packets rx_reads of a
  local sb sa
  sb=$(on b "$BIN/bin/myrixen" peers --json); sa=$(on a "$BIN/bin/myrixen" peers --json)
  echo "$(json_num "$sb" tx_packets) $(json_num "$sb" tx_sends) $(json_num "$sa" rx_packets) $(json_num "$sa" rx_reads)"
}
read -r txp0 txs0 rxp0 rxr0 <<< "$(port_counts)"
MYRIXEN_LANE_RNDV_MAX=0 pair "udp stream large, for the batches" a b mx_stream -e 1 -l 1000000 -n 20 -- -e 2 -d a -r 1 -l 1000000 -n 20
read -r txp1 txs1 rxp1 rxr1 <<< "$(port_counts)"
txp=$((txp1 - txp0)) txs=$((txs1 - txs0)) rxp=$((rxp1 - rxp0)) rxr=$((rxr1 - rxr0))
if [ "$txs" -gt 0 ] && [ "$txp" -ge $((4 * txs)) ] && [ "$rxr" -gt 0 ] &&
   [ "$rxp" -ge $((2 * rxr)) ]; then
  ok "udp batches: b sent $txp packets in $txs sends, a read $rxp in $rxr reads"
else
  bad "udp batches: b sent $txp packets in $txs sends, a read $rxp in $rxr reads"
fi

# lanes (docs/lanes.md): a stream of small messages from b to a, every
# library's counters printed at mx_finalize (MYRIXEN_COUNTERS)
lane_stream() { # NAME, then env for both programs (LEN: the messages' length, 100; N: 2000 of them)
  local name=$1 len=${LEN:-100} n=${N:-2000}; shift
  on a env MYRIXEN_COUNTERS=1 "$@" "$MX/mx_stream" -e 1 -l "$len" -n "$n" > "$TMP/lane_rx.out" 2>&1 &
  local spid=$!
  on b env MYRIXEN_COUNTERS=1 "$@" "$MX/mx_stream" -e 2 -d a -r 1 -l "$len" -n "$n" \
    > "$TMP/lane_tx.out" 2>&1; local crc=$?
  wait $spid; local src=$?
  [ $crc = 0 ] && [ $src = 0 ] && return 0
  bad "$name (sender $crc, receiver $src)"; tail -n 5 "$TMP/lane_tx.out" "$TMP/lane_rx.out"; return 1
}
counter() { grep -o "$2: [0-9]*" "$TMP/lane_$1.out" | awk '{s += $NF} END {print s + 0}'; }
if lane_stream "udp stream by lane"; then
  if [ "$(counter tx "Lane packets sent")" -ge 2000 ] && [ "$(counter rx "Lane packets received")" -ge 2000 ]; then
    ok "udp stream by lane: b sent $(counter tx "Lane packets sent") lane packets, a took $(counter rx "Lane packets received")"
  else
    bad "udp stream by lane: b sent $(counter tx "Lane packets sent"), a took $(counter rx "Lane packets received")"
  fi
fi
# medium messages by lane: a fragment's pieces leave in one GSO run and
# arrive in one GRO read (common/gso.h); order and payloads checked
if LEN=20000 lane_stream "udp medium stream by lane"; then
  if [ "$(counter tx "Lane packets sent in runs (GSO)")" -ge 2000 ] &&
     [ "$(counter rx "Lane packets received in runs (GRO)")" -ge 2000 ]; then
    ok "udp medium stream by lane: b sent $(counter tx "Lane packets sent in runs (GSO)") packets in GSO runs, a read $(counter rx "Lane packets received in runs (GRO)") in GRO runs"
  else
    bad "udp medium stream by lane: GSO $(counter tx "Lane packets sent in runs (GSO)"), GRO $(counter rx "Lane packets received in runs (GRO)")"
  fi
fi
# large messages by lane (lib/lane_rndv.c): the receiver asks on the lane
# and the sender's library sends the data there, no engine on the way;
# payloads checked
if LEN=200000 N=40 lane_stream "udp large stream by lane" MYRIXEN_LANE_RNDV_MAX=1048576; then
  if [ "$(counter rx "Large messages whose data came by lane")" -ge 40 ] &&
     [ "$(counter rx "Lane packets malformed")" = 0 ] && [ "$(counter tx "Lane packets malformed")" = 0 ]; then
    ok "udp large stream by lane: a took $(counter rx "Large messages whose data came by lane") large messages' data by lane"
  else
    bad "udp large stream by lane: $(counter rx "Large messages whose data came by lane") by lane"
    grep -h "Lane\|Large" "$TMP/lane_tx.out" "$TMP/lane_rx.out"
  fi
fi
# large messages with their data ahead (lib/lane_rndv.c): a receive posted
# as the announcement arrives takes the pieces behind it; one posted later
# (a message that comes while the receiver waits on its window's earlier
# ones: how many varies from run to run, test_lane has both cases made
# by hand) finds them dropped and counted, and asks for them again;
# payloads checked
if LEN=60000 N=64 lane_stream "udp large stream by lane, data ahead"; then
  taken=$(counter rx "Large messages whose data came by lane ahead of the match")
  missed=$(counter rx "Bytes sent ahead that no receive took (sent again when asked)")
  if [ "$taken" -ge 1 ] && [ "$(counter rx "Large messages whose data came by lane")" -ge 128 ] &&
     [ "$(counter rx "Lane packets malformed")" = 0 ] && [ "$(counter tx "Lane packets malformed")" = 0 ]; then
    ok "udp large stream by lane, data ahead: a took $taken messages' data ahead, $missed bytes ahead found no receive and were asked for again"
  else
    bad "udp large stream by lane, data ahead: taken $taken, missed $missed"
    grep -h "Lane\|Large\|ahead" "$TMP/lane_tx.out" "$TMP/lane_rx.out"
  fi
fi
# a sender that gives its large send up part-way (mx_disconnect): the
# matched receive ends aborted while the sender's endpoint is still open;
# by lane before the CTS came (-u 0) and mid-data (-u 200), and on the
# engines' path
for how in "by lane, at once:0:MYRIXEN_LANE_RNDV_MAX=1048576" \
           "by lane, mid-data:200:MYRIXEN_LANE_RNDV_MAX=1048576" "engine path:0:MYRIXEN_LANE_RNDV_MAX=0"; do
  IFS=: read -r name us envs <<< "$how"
  rm -f "$TMP/receiver.done"
  on a env $envs "$MX/mx_disconnect" -e 1 -l 1048576 > "$TMP/server.out" 2>&1 & spid=$!
  sleep 0.3
  on b env $envs "$MX/mx_disconnect" -e 2 -d a -r 1 -l 1048576 -u "$us" -w "$TMP/receiver.done" \
    > "$TMP/client.out" 2>&1 & cpid=$!
  wait $spid; src=$?
  touch "$TMP/receiver.done" # (the sender's endpoint stayed open until now)
  wait $cpid; crc=$?
  if [ $src = 0 ] && [ $crc = 0 ]; then
    ok "large send given up $name: $(cat "$TMP/server.out")"
  else
    bad "large send given up $name (sender $crc, receiver $src)"; cat "$TMP/client.out" "$TMP/server.out"
  fi
done
# each receiver's close told where its lane stood (its last acks), and
# the sender's endpoint, still open, heard it: a send whose last ack the
# lane lost completes on that word (test_lane has the cases)
sa=$(on a "$BIN/bin/myrixen" peers --json); sb=$(on b "$BIN/bin/myrixen" peers --json)
if [ "$(json_num "$sa" last_acks_tx)" -ge 1 ] && [ "$(json_num "$sb" last_acks_rx)" -ge 1 ]; then
  ok "closes tell their lanes' last acks: a told $(json_num "$sa" last_acks_tx) (refused $(json_num "$sa" last_acks_refused)), b passed on $(json_num "$sb" last_acks_rx)"
else
  bad "last acks: a told $(json_num "$sa" last_acks_tx), refused $(json_num "$sa" last_acks_refused); b passed on $(json_num "$sb" last_acks_rx)"
fi
# the engines' path keeps its coverage: every class with lanes off, and a
# pair where one side has none
export MYRIXEN_LANES=0
classes "udp engine path" a b
unset MYRIXEN_LANES
on a env MYRIXEN_LANES=0 "$MX/mx_stream" -e 1 -l 100 -n 500 > "$TMP/mixed_rx.out" 2>&1 & spid=$!
if on b env MYRIXEN_COUNTERS=1 "$MX/mx_stream" -e 2 -d a -r 1 -l 100 -n 500 > "$TMP/lane_tx.out" 2>&1 &&
   wait $spid && [ "$(counter tx "Lane packets sent")" = 0 ]; then
  ok "udp, a without lanes: b's messages go by the engines"
else
  bad "udp, a without lanes"; tail -n 3 "$TMP/lane_tx.out" "$TMP/mixed_rx.out"
fi
# an endpoint that closes mid-stream: its peer hears it from the engines
# (WIRE_EP_GONE) at once, not at a timeout
on b "$MX/mx_stream" -e 1 -l 1000 -n 100000000 > /dev/null 2>&1 & rpid=$!
on a timeout 20 "$MX/mx_stream" -e 2 -d b -r 1 -l 1000 -k > "$TMP/close.out" 2>&1 & spid=$!
sleep 1
kill -9 $(ip netns pids "${TAG}b" | while read -r p; do
  [ "$(cat /proc/$p/comm 2>/dev/null)" = mx_stream ] && echo "$p"; done) 2>/dev/null
t0=$(date +%s%N)
if wait $spid && grep -q "Endpoint closed" "$TMP/close.out"; then
  ok "endpoint closed mid-stream: its peer failed in $((($(date +%s%N) - t0) / 1000000)) ms ($(tail -1 "$TMP/close.out"))"
else
  bad "endpoint closed mid-stream"; cat "$TMP/close.out"
fi
wait $rpid 2>/dev/null

# a lane refuses what does not come from the lane its peer's backend
# vouched for: datagrams from another socket of the peer's own address
# (another guest of that host), a lane packet at the engine's port
on a env MYRIXEN_COUNTERS=1 "$MX/mx_stream" -e 1 -l 100 -n 2000 > "$TMP/lane_rx.out" 2>&1 & spid=$!
for _ in $(seq 50); do
  lane=$(on a "$BIN/bin/myrixen" info --json | grep -o '"lane":"[0-9.:]*"' | head -1 | cut -d'"' -f4)
  [ -n "$lane" ] && break; sleep 0.1
done
ip netns exec "${TAG}b" env PYTHONPATH="$(dirname "$0")/lib" python3 - "${lane%:*}" "${lane##*:}" "$(awk '/#define WIRE_VERSION/ {print $3}' "$(dirname "$0")/../../src/common/wire.h")" \
  "$(on b "$BIN/bin/myrixen" peers --json | grep -o '"nic_id":"[0-9a-f]*"' | head -1 | cut -d'"' -f4)" \
  "$(on a "$BIN/bin/myrixen" peers --json | grep -o '"nic_id":"[0-9a-f]*"' | head -1 | cut -d'"' -f4)" <<'PY'
import os, socket, struct, sys
from forge import packet as forged
host, port, version = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
src, dst = int(sys.argv[4], 16), int(sys.argv[5], 16)
def packet(type_, payload):
    return forged(version, type_, payload, src, dst, flags=1 | 4)  # reliable, lane
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.0.2", 0))                           # b's own address, not its lane
desc = struct.pack("<BBHIIIQQII", 1, 0, 0, 8, 8, 0, 0x1234, 0, 0, 0)
ext = struct.pack("<IIIIII", 2, 1, 0, 8, 1, 0)
for pkt in [os.urandom(120), packet(3, desc + ext + b"forged!!"), packet(1, b"")]:
    s.sendto(pkt, (host, port))
s.sendto(packet(3, desc + ext + b"forged!!"), (host, 2315)) # a lane packet at the engine's port
PY
if on b env MYRIXEN_COUNTERS=1 "$MX/mx_stream" -e 2 -d a -r 1 -l 100 -n 2000 > "$TMP/lane_tx.out" 2>&1 &&
   wait $spid && [ "$(counter rx "Lane packets refused")" -ge 3 ] &&
   [ "$(json_num "$(on a "$BIN/bin/myrixen" peers --json)" lane_on_port)" -ge 1 ]; then
  ok "forged lane packets refused and counted ($(counter rx "Lane packets refused") at the lane, $(json_num "$(on a "$BIN/bin/myrixen" peers --json)" lane_on_port) at the port); the stream went on"
else
  bad "forged lane packets: refused $(counter rx "Lane packets refused")"; tail -n 3 "$TMP/lane_rx.out" "$TMP/lane_tx.out"
fi

# a receiver that computes for 2 s without calling the library, under loss
stop_backend a; stop_backend b
backend a udp:198.18.0.1:2315 --fault loss=0.05,seed=11 && backend b udp:198.18.0.2:2315 --fault loss=0.05,seed=12 || exit 1
pair "udp receiver busy 2 s, 5% loss" a b mx_stream -e 1 -l 1000 -n 300 -w 2000 -- -e 2 -d a -r 1 -l 1000 -n 300

# the fault layer, every kind at once
stop_backend a; stop_backend b
F=loss=0.05,dup=0.01,reorder=0.02,corrupt=0.001
backend a udp:198.18.0.1:2315 --fault $F,seed=1 && backend b udp:198.18.0.2:2315 --fault $F,seed=2 || exit 1
classes "udp faults ($F)" a b
# (large messages of 1 MiB at most go by lane: the engines' pull keeps its
# fault coverage here, and its packets are what faults_counted counts)
MYRIXEN_LANES=0 pair "udp faults ($F) stream large, engine path" a b \
  mx_stream -e 1 -l 200000 -n 20 -- -e 2 -d a -r 1 -l 200000 -n 20
randloop "udp faults random loop" a,b 4
# faults_counted KIND: b's fault layer lost and corrupted packets, and a
# refused the corrupted ones by their checksum
faults_counted() {
  local stats lost corrupted checksum
  stats=$(on b "$BIN/bin/myrixen" peers --json)
  lost=$(json_num "$stats" lost); corrupted=$(json_num "$stats" corrupted)
  checksum=$(on a "$BIN/bin/myrixen" peers --json | grep -o '"bad_checksum":[0-9]*' | cut -d: -f2)
  if [ "${lost:-0}" -gt 0 ] && [ "${corrupted:-0}" -gt 0 ] && [ "${checksum:-0}" -gt 0 ]; then
    ok "$1 faults injected and counted (b lost $lost, corrupted $corrupted; a refused $checksum bad checksums)"
  else
    bad "$1 fault counters: lost=$lost corrupted=$corrupted bad_checksum=$checksum"
  fi
}
faults_counted udp
# the lanes carry the same faults as the ports (ctl_open_reply.fault): a
# stream resends what was lost and refuses what was corrupted (at rates
# that make both certain in 2000 messages)
stop_backend a; stop_backend b
backend a udp:198.18.0.1:2315 --fault loss=0.02,corrupt=0.02,seed=21 &&
  backend b udp:198.18.0.2:2315 --fault loss=0.02,corrupt=0.02,seed=22 || exit 1
if lane_stream "udp stream by lane under faults"; then
  if [ "$(counter tx "Lane packets resent")" -ge 1 ] && [ "$(counter rx "Lane packets refused")" -ge 1 ]; then
    ok "udp lanes under faults: b resent $(counter tx "Lane packets resent"), a refused $(counter rx "Lane packets refused") corrupted"
  else
    bad "udp lanes under faults: resent $(counter tx "Lane packets resent"), refused $(counter rx "Lane packets refused")"
    grep -h "Lane" "$TMP/lane_tx.out" "$TMP/lane_rx.out"; tail -n 5 "$TMP/a.log" "$TMP/b.log"
  fi
fi
if LEN=200000 N=20 lane_stream "udp large stream by lane under faults" MYRIXEN_LANE_RNDV_MAX=1048576; then
  # (under faults the data still leaves in GSO runs, as on a lossy
  # network: the fault layer takes only the packets it harms)
  if [ "$(counter rx "Large messages whose data came by lane")" -ge 20 ] &&
     [ "$(counter tx "Lane packets resent")" -ge 1 ] &&
     [ "$(counter tx "Lane packets sent in runs (GSO)")" -ge 1000 ]; then
    ok "udp large messages by lane under faults: all 20 by lane, b resent $(counter tx "Lane packets resent"), $(counter tx "Lane packets sent in runs (GSO)") packets in GSO runs"
  else
    bad "udp large messages by lane under faults: $(counter rx "Large messages whose data came by lane") by lane, resent $(counter tx "Lane packets resent"), $(counter tx "Lane packets sent in runs (GSO)") in runs"
  fi
fi
# data ahead under the same faults: taken, or dropped and asked for again;
# payloads checked by the programs
if LEN=60000 N=40 lane_stream "udp large stream by lane under faults, data ahead"; then
  if [ "$(counter rx "Large messages whose data came by lane ahead of the match")" -ge 1 ] &&
     [ "$(counter rx "Large messages whose data came by lane")" -ge 80 ] &&
     [ "$(counter tx "Lane packets resent")" -ge 1 ]; then
    ok "udp large messages by lane under faults, data ahead: $(counter rx "Large messages whose data came by lane ahead of the match") taken ahead, $(counter rx "Bytes sent ahead that no receive took (sent again when asked)") bytes asked for again, b resent $(counter tx "Lane packets resent")"
  else
    bad "udp large messages by lane under faults, data ahead"
    grep -h "Lane\|Large\|ahead" "$TMP/lane_tx.out" "$TMP/lane_rx.out"
  fi
fi

# a peer backend killed mid-stream, then restarted
stop_backend a; stop_backend b
backend a udp:198.18.0.1:2315 --peer-timeout-ms 1500 && backend b udp:198.18.0.2:2315 --peer-timeout-ms 1500 || exit 1
on b "$MX/mx_stream" -e 1 -l 1000 -n 100000000 > /dev/null 2>&1 &
on a "$MX/mx_stream" -e 2 -d b -r 1 -l 1000 -k > "$TMP/kill.out" 2>&1 & spid=$!
sleep 1
kill -9 "$(cat "$TMP/b.pid")"; rm -f "$TMP/b.pid" "$TMP/b.sock"
if wait $spid; then ok "peer killed mid-stream: $(tail -1 "$TMP/kill.out")"; else bad "peer killed mid-stream"; cat "$TMP/kill.out"; fi
backend b udp:198.18.0.2:2315 --peer-timeout-ms 1500 || exit 1
pair "restarted peer serves new connections" b a mx_pingpong -e 1 -n 1 -- -e 2 -d b -r 1 -n 1

# forged and truncated packets
WIRE_VERSION=$(awk '/#define WIRE_VERSION/ {print $3}' "$(dirname "$0")/../../src/common/wire.h")
ip netns exec "${TAG}a" env PYTHONPATH="$(dirname "$0")/lib" python3 - 198.18.0.2 2315 "$WIRE_VERSION" "$(on b "$BIN/bin/myrixen" peers --json | grep -o '"nic_id":"[0-9a-f]*"' | head -1 | cut -d'"' -f4)" <<'PY'
import os, socket, struct, sys
from forge import packet
host, port, version, dst = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4], 16)
def header(type_, payload):
    return packet(version, type_, payload, 0x02aabbccddee, dst)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
good = header(3, b"\0" * 80)                       # a DATA packet whose descriptor is nonsense
for pkt in [os.urandom(200),                        # garbage: bad magic
            good[:20],                              # truncated header
            good[:60],                              # shorter than its length says
            good[:12] + b"\xff" + good[13:],        # one byte flipped: bad checksum
            header(99, b""),                        # unknown type
            good]:                                  # well formed, malformed inside
    s.sendto(pkt, (host, port))
PY
sleep 0.5
stats=$(on b "$BIN/bin/myrixen" peers --json)
if [ "$(json_num "$stats" bad_magic)" -ge 1 ] && [ "$(json_num "$stats" truncated)" -ge 2 ] &&
   [ "$(json_num "$stats" bad_checksum)" -ge 1 ] && [ "$(json_num "$stats" bad_type)" -ge 1 ] &&
   [ "$(json_num "$stats" malformed)" -ge 1 ]; then
  ok "forged and truncated packets dropped and counted"
else
  bad "forged packets: $stats"
fi
pair "backend serves after forged packets" b a mx_pingpong -e 1 -n 1 -- -e 2 -d b -r 1 -n 1
stop_backend a; stop_backend b

# the cluster key: every class under faults between keyed hosts (named in
# the peers file for a, on the command line for b); then a host with
# another key, and one with none, are not heard (and do not hear)
head -c 32 /dev/urandom > "$TMP/key"; head -c 32 /dev/urandom > "$TMP/key2"
chmod 600 "$TMP/key" "$TMP/key2"
cp "$TMP/peers" "$TMP/peers.plain"
echo "key-file $TMP/key" >> "$TMP/peers"
backend a udp:198.18.0.1:2315 --fault $F,seed=5 &&
  backend b udp:198.18.0.2:2315 --key-file "$TMP/key" --fault $F,seed=6 || exit 1
classes "udp keyed, faults" a b
# a lane's packets carry no MAC: keyed hosts make none
if lane_stream "udp keyed stream" && [ "$(counter tx "Lane packets sent")" = 0 ]; then
  ok "keyed: no lanes, every message by the engines"
else
  bad "keyed: $(counter tx "Lane packets sent") lane packets sent"
fi
sa=$(on a "$BIN/bin/myrixen" peers --json)
if [ "$(json_num "$sa" cluster_key)" = 1 ] && [ "$(json_num "$sa" auth_failed)" -ge 1 ] &&
   [ "$(json_num "$sa" bad_checksum)" = 0 ]; then
  ok "keyed: corrupted packets fail their MAC ($(json_num "$sa" auth_failed) refused)"
else
  bad "keyed counters: $sa"
fi
stop_backend b
backend b udp:198.18.0.2:2315 --key-file "$TMP/key2" --peers "$TMP/peers.plain" || exit 1
# each announces itself on the segment every 2 s: wait (up to 10 s, a
# loaded machine) for a hello each way
for _ in $(seq 50); do
  sa=$(on a "$BIN/bin/myrixen" peers --json); sb=$(on b "$BIN/bin/myrixen" peers --json)
  [ "$(json_num "$sa" auth_failed)" -ge 1 ] && [ "$(json_num "$sb" auth_failed)" -ge 1 ] && break
  sleep 0.2
done
if [ "$(json_num "$sa" auth_failed)" -ge 1 ] && [ "$(json_num "$sb" auth_failed)" -ge 1 ] &&
   ! on b timeout 5 "$MX/mx_pingpong" -e 2 -d a -r 1 -n 1 > /dev/null 2>&1; then
  ok "another key: neither hears the other, a connect fails"
else
  bad "another key: a $sa / b $sb"
fi
stop_backend b
backend b udp:198.18.0.2:2315 --peers "$TMP/peers.plain" || exit 1
for _ in $(seq 50); do # a's next hello, keyed
  sb=$(on b "$BIN/bin/myrixen" peers --json)
  [ "$(json_num "$sb" auth_unexpected)" -ge 1 ] && break
  sleep 0.2
done
if [ "$(json_num "$sb" auth_unexpected)" -ge 1 ] && [ "$(json_num "$sb" cluster_key)" = 0 ]; then
  ok "no key: keyed packets refused ($(json_num "$sb" auth_unexpected))"
else
  bad "no key: b $sb"
fi
stop_backend a; stop_backend b
cp "$TMP/peers.plain" "$TMP/peers"

# discover TAG PORT_A PORT_B: no peers file; each backend announces itself
# on the segment (IPv4 broadcast, IPv6 all-nodes multicast), and the two
# learn each other and talk
discover() {
  : > "$TMP/peers"
  backend a "$2" && backend b "$3" || exit 1
  for _ in $(seq 60); do
    on a "$BIN/bin/myrixen" peers --json | grep -q '"hostname":"b"' &&
      on b "$BIN/bin/myrixen" peers --json | grep -q '"hostname":"a"' && break
    sleep 0.1
  done
  if on a "$BIN/bin/myrixen" peers --json | grep -q '"hostname":"b"' &&
     on b "$BIN/bin/myrixen" peers --json | grep -q '"hostname":"a"'; then
    ok "$1 discovery: a and b learnt each other from their hellos"
  else bad "$1 discovery: a and b did not learn each other"; fi
  pair "$1 discovered peers talk" a b mx_pingpong -e 1 -n 1 -- -e 2 -d a -r 1 -n 1
  stop_backend a; stop_backend b
}
discover udp udp:198.18.0.1:2315 udp:198.18.0.2:2315
cat > "$TMP/peers" <<EOF
- a udp:198.18.0.1:2315
- b udp:198.18.0.2:2315
EOF

# --- two hosts, udp over IPv6 -------------------------------------------------
ip -n "${TAG}a" addr add 2001:2::1/64 dev "${TAG}a" nodad
ip -n "${TAG}b" addr add 2001:2::2/64 dev "${TAG}b" nodad
cat > "$TMP/peers" <<EOF
- a udp:[2001:2::1]:2316
- b udp:[2001:2::2]:2316
EOF
backend a "udp:[2001:2::1]:2316" && backend b "udp:[2001:2::2]:2316" || exit 1
pair "udp IPv6 ping-pong 0..4 MiB" a b mx_pingpong -e 1 -n 1 -- -e 2 -d a -r 1 -n 1
stop_backend a; stop_backend b
discover "udp IPv6" "udp:[2001:2::1]:2316" "udp:[2001:2::2]:2316"

# --- two hosts, raw Ethernet, jumbo frames -------------------------------------
cat > "$TMP/peers" <<EOF
- a eth:$(mac a "${TAG}a")
- b eth:$(mac b "${TAG}b")
EOF
# a's port opens at MTU 1500; then the link takes jumbo frames, and b,
# started after, sends them: a's ring, its frames of 1500 bytes, is made again
# with frames that hold them (ring.c), the first ones resent
backend a "eth:${TAG}a" || exit 1
ip -n "${TAG}a" link set "${TAG}a" mtu 9000
ip -n "${TAG}b" link set "${TAG}b" mtu 9000
backend b "eth:${TAG}b" || exit 1
pair "eth: jumbo frames to a port opened before the MTU rose" a b mx_stream -e 1 -l 200000 -n 20 -- -e 2 -d a -r 1 -l 200000 -n 20
s=$(on a "$BIN/bin/myrixen" peers --json)
if [ "$(json_num "$s" rx_ring)" = 1 ] && [ "$(json_num "$s" ring_grown)" -ge 1 ]; then
  ok "eth: a's receive ring grew to take the jumbo frames ($(json_num "$s" ring_grown) times)"
else
  bad "eth: a's ring did not grow: $(echo "$s" | head -c 400)"
fi
stop_backend a; stop_backend b
# ring_used NAME HOST WANT: the eth port of HOST reads a receive ring (1) or
# its socket's queues (0), and moved packets either way
ring_used() {
  local s; s=$(on "$2" "$BIN/bin/myrixen" peers --json)
  if [ "$(json_num "$s" rx_ring)" = "$3" ] && [ "$(json_num "$s" rx_packets)" -gt 0 ]; then
    ok "$1"; else bad "$1"; echo "$s" | head -c 600; echo; fi
}
backend a "eth:${TAG}a" && backend b "eth:${TAG}b" || exit 1
classes "eth jumbo" a b
ring_used "eth port: receive ring (PACKET_MMAP)" a 1
# beside an eth port the stream bench measures raw frames of the MTU too
# (bench_frames.h: a sink in bench serve, frames sent from a's interface)
on b "$BIN/bin/myrixen" bench serve --frames > "$TMP/serve_eth.out" 2>&1 & serve=$!
sleep 0.5
on a env MYRIXEN_BENCH_STOP_SERVER=1 "$BIN/bin/myrixen" bench stream --remote b --sizes 65536 \
  --iters 100 --baseline-dev "${TAG}a" --json > "$TMP/frames.json" 2> "$TMP/frames.err"
wait $serve
fr=$(grep '"size":65536,' "$TMP/frames.json")
if [ "$(json_num "$fr" frames_bandwidth_MBps | cut -d. -f1)" -gt 0 ] 2>/dev/null &&
   [ -n "$(json_num "$fr" frames_ratio)" ] && [ "$(json_num "$fr" bandwidth_MBps | cut -d. -f1)" -gt 0 ]; then
  ok "eth stream beside raw frames of the MTU: $(json_num "$fr" bandwidth_MBps) MB/s, frames $(json_num "$fr" frames_bandwidth_MBps) (x$(json_num "$fr" frames_ratio))"
else
  bad "eth stream: no raw frames baseline"; cat "$TMP/frames.json" "$TMP/frames.err" "$TMP/serve_eth.out" | tail -5
fi
stop_backend a; stop_backend b
backend a "eth:${TAG}a" --fault $F,seed=3 && backend b "eth:${TAG}b" --fault $F,seed=4 || exit 1
classes "eth faults ($F)" a b
randloop "eth faults random loop" a,b 4
faults_counted eth
stop_backend a; stop_backend b
# where a ring cannot be had, the socket's queue carries the same
export MYRIXEN_ETH_RING=0
backend a "eth:${TAG}a" && backend b "eth:${TAG}b" || exit 1
pair "eth without a ring ping-pong 0..4 MiB" a b mx_pingpong -e 1 -n 1 -- -e 2 -d a -r 1 -n 1
ring_used "eth port without a ring: the socket's queue" a 0
stop_backend a; stop_backend b
unset MYRIXEN_ETH_RING
# 64 KiB frames: at MTU 65000 the eth port sends packets of the MTU
# (WIRE_MAX_PACKET), its send window bounded in bytes (reliable.h), its
# ring's frames sized when it opens; every class under the faults, which
# harm frames of any size
ip -n "${TAG}a" link set "${TAG}a" mtu 65000
ip -n "${TAG}b" link set "${TAG}b" mtu 65000
backend a "eth:${TAG}a" --fault $F,seed=7 && backend b "eth:${TAG}b" --fault $F,seed=8 || exit 1
classes "eth 64 KiB frames, faults" a b
faults_counted "eth 64 KiB frames"
# large_packets NAME MTU: a 1 MB stream from b to a leaves b's port (its
# MTU as said) in packets of more than 32 KiB on average
large_packets() {
  local s p0 b0 p1 b1
  s=$(on b "$BIN/bin/myrixen" peers --json)
  p0=$(json_num "$s" tx_packets); b0=$(json_num "$s" tx_bytes)
  # (the port's packets: the data through the engines, not by lane)
  MYRIXEN_LANE_RNDV_MAX=0 pair "$1: stream of 1 MB messages" a b mx_stream -e 1 -l 1000000 -n 10 -- -e 2 -d a -r 1 -l 1000000 -n 10
  s=$(on b "$BIN/bin/myrixen" peers --json)
  p1=$(json_num "$s" tx_packets); b1=$(json_num "$s" tx_bytes)
  if [ "$(json_num "$s" mtu)" = "$2" ] && [ $(( (b1 - b0) / (p1 - p0 + 1) )) -gt 32768 ]; then
    ok "$1: b sent $((p1 - p0)) packets of $(( (b1 - b0) / (p1 - p0 + 1) )) bytes on average"
  else
    bad "$1: b sent $((p1 - p0)) packets, $((b1 - b0)) bytes (mtu $(json_num "$s" mtu))"
  fi
}
large_packets "eth 64 KiB frames" 65000
stop_backend a; stop_backend b
# the udp port on the same link: datagrams of the MTU (less IP and UDP's
# 28 bytes), one per GSO message, read whole
cat > "$TMP/peers" <<EOF
- a udp:198.18.0.1:2315
- b udp:198.18.0.2:2315
EOF
backend a udp:198.18.0.1:2315 && backend b udp:198.18.0.2:2315 || exit 1
large_packets "udp 64 KiB datagrams" 64972
stop_backend a; stop_backend b

# --- three hosts on a bridge ---------------------------------------------------
host c; host s
ip -n "${TAG}s" link add br0 type bridge
ip -n "${TAG}s" link set br0 up
i=1
for h in a b c; do
  ip link add "${TAG}x$h" type veth peer name "${TAG}y$h"
  ip link set "${TAG}x$h" netns "$TAG$h"
  ip link set "${TAG}y$h" netns "${TAG}s"
  ip -n "${TAG}s" link set "${TAG}y$h" master br0 up
  ip -n "$TAG$h" addr add "198.18.1.$i/24" dev "${TAG}x$h"
  ip -n "$TAG$h" link set "${TAG}x$h" up
  i=$((i + 1))
done
cat > "$TMP/peers" <<EOF
- a udp:198.18.1.1:2317
- b udp:198.18.1.2:2317
- c udp:198.18.1.3:2317
EOF
backend a udp:198.18.1.1:2317 && backend b udp:198.18.1.2:2317 && backend c udp:198.18.1.3:2317 || exit 1
randloop "three hosts, 6 ranks" a,b,c 6
pair "three hosts: c to a ping-pong" a c mx_pingpong -e 1 -n 1 -- -e 2 -d a -r 1 -n 1
stop_backend a; stop_backend b; stop_backend c

# every process the run started has ended (guests, backends, their forks)
left=$(for ns in "${NS[@]}"; do ip netns pids "$ns"; done | wc -l)
if [ "$left" = 0 ]; then ok "no process of the run is left behind"
else
  bad "$left processes of the run left behind"
  for ns in "${NS[@]}"; do ip netns pids "$ns" | xargs -r ps -o pid,args -p; done
fi

echo "hosts: $failed failed"
[ $failed = 0 ]
