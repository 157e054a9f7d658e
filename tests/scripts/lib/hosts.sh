# hosts.sh - sourced by the tests that build hosts on this machine
# (net_hosts.sh, soak.sh): network namespaces joined by veth pairs or a
# bridge, addresses from 198.18.0.0/15, one myrixend per host, MX programs
# in them.  Everything made is deleted on exit.  Set BUILD first.
BIN=$(cd "$BUILD" && pwd)
MX=$BIN/mx
TAG=mx$$
TMP=$(mktemp -d /tmp/myrixen-net-XXXXXX)
NS=()
failed=0

cleanup() {
  for pidf in "$TMP"/*.pid; do [ -f "$pidf" ] && kill -9 "$(cat "$pidf")" 2>/dev/null; done
  for ns in "${NS[@]}"; do ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null; done
  for ns in "${NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

if [ "$(id -u)" != 0 ] || ! ip netns add "${TAG}probe" 2>/dev/null; then
  echo "FAIL: these tests build hosts with ip netns: run them as root"
  exit 1
fi
ip netns del "${TAG}probe"

ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }

# host NAME: a namespace with loopback up
host() {
  ip netns add "$TAG$1" && NS+=("$TAG$1")
  ip -n "$TAG$1" link set lo up
}

# link A B ADDR_A ADDR_B [MTU]: a veth pair between two hosts
link2() {
  ip link add "${TAG}$1" type veth peer name "${TAG}$2"
  ip link set "${TAG}$1" netns "$TAG$1"
  ip link set "${TAG}$2" netns "$TAG$2"
  ip -n "$TAG$1" link set "${TAG}$1" mtu "${5:-1500}" up
  ip -n "$TAG$2" link set "${TAG}$2" mtu "${5:-1500}" up
  ip -n "$TAG$1" addr add "$3/24" dev "${TAG}$1"
  ip -n "$TAG$2" addr add "$4/24" dev "${TAG}$2"
}

mac() { ip -n "$TAG$1" link show "$2" | awk '/link\/ether/ {print $2}'; }

# backend HOST PORTSPEC [options...]: start myrixend in HOST
backend() {
  local h=$1 port=$2; shift 2
  # in a subshell: not a job of this shell, so a kill -9 goes unannounced
  (MYRIXEN_LOG=warn ip netns exec "$TAG$h" "$BIN/bin/myrixend" --socket "$TMP/$h.sock" \
    --hostname "$h" --port "$port" --peers "$TMP/peers" "$@" > "$TMP/$h.log" 2>&1 &
   echo $! > "$TMP/$h.pid")
  for _ in $(seq 100); do [ -S "$TMP/$h.sock" ] && return 0; sleep 0.05; done
  echo "backend on $h did not start:"; cat "$TMP/$h.log"; return 1
}

stop_backend() {
  local pid; pid=$(cat "$TMP/$1.pid")
  kill "$pid" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  rm -f "$TMP/$1.pid" "$TMP/$1.sock"
}

# on HOST command...: run a guest program in HOST against its backend,
# killed after ON_TIMEOUT seconds (120: a test that hangs must not hang
# the check; what is meant to run longer says how long)
on() {
  local h=$1; shift
  ip netns exec "$TAG$h" env MYRIXEN_SOCKET="$TMP/$h.sock" timeout "${ON_TIMEOUT:-120}" "$@"
}

# pair NAME SERVER_HOST CLIENT_HOST PROGRAM SERVER_ARGS -- CLIENT_ARGS
pair() {
  local name=$1 sh=$2 ch=$3 prog=$4; shift 4
  local sargs=() cargs=()
  while [ "$1" != "--" ]; do sargs+=("$1"); shift; done; shift
  cargs=("$@")
  on "$sh" "$MX/$prog" "${sargs[@]}" > "$TMP/server.out" 2>&1 & local spid=$!
  on "$ch" "$MX/$prog" "${cargs[@]}" > "$TMP/client.out" 2>&1; local crc=$?
  wait $spid; local src=$?
  if [ $crc = 0 ] && [ $src = 0 ]; then ok "$name"; else
    bad "$name (client $crc, server $src)"; cat "$TMP/client.out" "$TMP/server.out" | tail -5
    tail -n 5 "$TMP"/*.log  # what the backends said
  fi
}

# every class between two hosts: ping-pong to 4 MiB, streams of each class
classes() {
  local tag=$1 a=$2 b=$3
  pair "$tag ping-pong 0..4 MiB" "$a" "$b" mx_pingpong -e 1 -n 1 -- -e 2 -d "$a" -r 1 -n 1
  pair "$tag stream small" "$a" "$b" mx_stream -e 1 -l 100 -n 1500 -- -e 2 -d "$a" -r 1 -l 100 -n 1500
  pair "$tag stream medium" "$a" "$b" mx_stream -e 1 -l 20000 -n 200 -- -e 2 -d "$a" -r 1 -l 20000 -n 200
  pair "$tag stream large" "$a" "$b" mx_stream -e 1 -l 200000 -n 20 -- -e 2 -d "$a" -r 1 -l 200000 -n 20
}

# randloop NAME HOSTS NPROCS: the random loop, ranks spread over the hosts
randloop() {
  local name=$1 hosts=$2 n=$3 pids=() rc=0
  IFS=, read -r -a hl <<< "$hosts"
  for r in $(seq 0 $((n - 1))); do
    on "${hl[$((r % ${#hl[@]}))]}" "$MX/mx_randloop" -d "$hosts" -b 10 -p "$n" -i "$r" -m 80 -s 5 \
      > "$TMP/rank$r.out" 2>&1 & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  if [ $rc = 0 ]; then ok "$name"; else
    bad "$name"; tail -n 3 "$TMP"/rank*.out
    tail -n 30 "$TMP"/*.log  # what the backends said
  fi
}

json_num() { grep -o "\"$2\":[0-9]*" <<< "$1" | head -1 | cut -d: -f2; }
