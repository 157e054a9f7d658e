#!/bin/bash
# MPI over MyriXen: libfabric's own tools and Open MPI over the `myrixen`
# provider (build/lib/libfabric/libmyrixen-fi.so), on one host and across
# two namespace hosts.  Each MPI run proves its traffic went through
# MyriXen: on the engine's datapath the backend's totals grow by at least
# the bytes the program sent; on the default one, direct channels were set
# up (Open MPI's pml cm has no shared memory of its own beside the MTL).
#
# Usage: tests/mpi/run.sh BUILD   (make check-mpi)
BUILD=${1:-build}
. "$(dirname "$0")/../scripts/lib/hosts.sh"
export FI_PROVIDER_PATH=$BIN/lib/libfabric FI_PROVIDER=myrixen
MPIBIN=$BIN/mpi
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --mca pml cm --mca mtl ofi
        --mca mtl_ofi_provider_include myrixen -x FI_PROVIDER -x FI_PROVIDER_PATH)

# --- one host ----------------------------------------------------------------
SOCK=$TMP/local.sock
(MYRIXEN_LOG=warn "$BIN/bin/myrixend" --socket "$SOCK" > "$TMP/local.log" 2>&1 &
 echo $! > "$TMP/local.pid")
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
export MYRIXEN_SOCKET=$SOCK

totals() { "$BIN/bin/myrixen" counters --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["totals"]
print(t["tx_bytes"] + t["pull_bytes"], t["channels"])'; }

info=$(fi_info -p myrixen 2>&1)
if grep -q "provider: myrixen" <<< "$info" && grep -q "type: FI_EP_RDM" <<< "$info" &&
   fi_info -l | grep -q "^myrixen:"; then
  ok "fi_info lists the myrixen provider with an RDM endpoint"
else
  bad "fi_info -p myrixen"; echo "$info" | head -5
fi
FI_PROVIDER_PATH=$TMP/none fi_info -p myrixen > /dev/null 2>&1 &&
  bad "fi_info finds myrixen without FI_PROVIDER_PATH" || ok "fi_info without the path: no myrixen"
MYRIXEN_SOCKET=$TMP/nobody.sock fi_info -p myrixen > "$TMP/nob.out" 2>&1
if [ $? != 0 ] && ! grep -q "provider: myrixen" "$TMP/nob.out"; then
  ok "no backend: the provider declines (fi_getinfo -61), nothing aborts"
else
  bad "no backend: $(head -2 "$TMP/nob.out")"
fi

# pingpong NAME ARGS...: fi_pingpong server and client, data checked (-c)
pingpong() {
  local name=$1; shift
  timeout 120 fi_pingpong -p myrixen -e rdm -c "$@" > "$TMP/pp_server.out" 2>&1 & local spid=$!
  sleep 0.3
  timeout 120 fi_pingpong -p myrixen -e rdm -c "$@" 127.0.0.1 > "$TMP/pp_client.out" 2>&1
  local crc=$?; wait $spid; local src=$?
  local rows; rows=$(grep -c "=" "$TMP/pp_client.out")
  if [ $crc = 0 ] && [ $src = 0 ] && [ "$rows" -gt 0 ]; then
    ok "fi_pingpong $name: $rows sizes, data checked ($(tail -1 "$TMP/pp_client.out" | awk '{print $1, $7 " MB/s"}'))"
  else
    bad "fi_pingpong $name (client $crc, server $src)"; tail -3 "$TMP/pp_client.out" "$TMP/pp_server.out"
  fi
}
pingpong "messages"
pingpong "tagged, 0 B to 6 MiB" -m tagged -S all
MYRIXEN_DATAPATH=engine pingpong "through the engine" -I 100

# mpi NAME NP PROGRAM [DATAPATH]: an MPI program on this host
mpi() {
  local name=$1 np=$2 prog=$3 dp=${4:-}
  read -r before ch_before <<< "$(totals)"
  MYRIXEN_DATAPATH=$dp timeout 300 "${MPIRUN[@]}" -x MYRIXEN_SOCKET -x MYRIXEN_DATAPATH \
    -np "$np" "$MPIBIN/$prog" > "$TMP/mpi.out" 2>&1
  local rc=$?
  read -r after ch_after <<< "$(totals)"
  local sent; sent=$(grep -o "ok [0-9]* bytes" "$TMP/mpi.out" | awk '{print $2}')
  local moved=$((after - before)) chans=$((ch_after - ch_before))
  if [ $rc != 0 ] || [ -z "$sent" ]; then
    bad "$name (rc $rc)"; tail -5 "$TMP/mpi.out"; tail -5 "$TMP/local.log"
  elif [ "$dp" = engine ] && [ "$moved" -lt "$sent" ]; then
    bad "$name: the engine moved $moved bytes, the program sent $sent"
  elif [ "$dp" != engine ] && [ "$chans" -lt 1 ]; then
    bad "$name: no direct channel was set up"
  elif [ "$dp" = engine ]; then
    ok "$name: $sent bytes sent, the engine moved $moved"
  else
    ok "$name: $sent bytes sent, $chans direct channels"
  fi
}

for np in 2 4; do
  mpi "MPI point-to-point, $np ranks, through the engine" $np mpi_p2p engine
  mpi "MPI collectives, $np ranks, through the engine" $np mpi_coll engine
  mpi "MPI point-to-point, $np ranks, direct channels" $np mpi_p2p
  mpi "MPI collectives, $np ranks, direct channels" $np mpi_coll
done

# Open MPI's tag layout ofi_tag_full needs 4 bytes of remote CQ data and
# FI_DIRECTED_RECV (the source rank travels as CQ data, receives name their
# source); Open MPI refuses it from a provider without them.  ("auto", used
# above, picks it too.  ofi_tag_1 is not for this provider: Open MPI 4.1.4
# then posts the acknowledgement receive of a blocking MPI_Ssend from fi_addr
# 0 while it asks for FI_DIRECTED_RECV, which the provider honours.)
if timeout 300 "${MPIRUN[@]}" -x MYRIXEN_SOCKET --mca mtl_ofi_tag_mode ofi_tag_full -np 3 \
     "$MPIBIN/mpi_p2p" > "$TMP/mode.out" 2>&1 && grep -q "mpi_p2p: ok" "$TMP/mode.out"; then
  ok "MPI point-to-point, 3 ranks, Open MPI's tag mode ofi_tag_full (CQ data, directed receives)"
else
  bad "tag mode ofi_tag_full"; tail -5 "$TMP/mode.out"
fi

if "$BIN/bin/myrixen" mpirun --allow-run-as-root --oversubscribe -np 2 "$MPIBIN/mpi_p2p" > "$TMP/wrap.out" 2>&1 &&
   grep -q "mpi_p2p: ok" "$TMP/wrap.out"; then
  ok "myrixen mpirun (this host's backend)"
else
  bad "myrixen mpirun"; tail -5 "$TMP/wrap.out"
fi
if env -u MYRIXEN_SOCKET -u FI_PROVIDER -u FI_PROVIDER_PATH MYRIXEN_SOCKET=$TMP/nobody.sock \
     "$BIN/bin/myrixen" mpirun --spawn-backend --allow-run-as-root --oversubscribe -np 2 \
     "$MPIBIN/mpi_coll" > "$TMP/wrap.out" 2>&1 &&
   grep -q "mpi_coll: ok" "$TMP/wrap.out"; then
  ok "myrixen mpirun --spawn-backend (a private backend)"
else
  bad "myrixen mpirun --spawn-backend"; tail -5 "$TMP/wrap.out"
fi
# installed: the provider where make install puts it, found by fi_info
# through FI_PROVIDER_PATH and by myrixen mpirun beside itself
make -s -C "$(dirname "$0")/../.." install BUILD="$BUILD" DESTDIR="$TMP/dest" PREFIX=/usr/local \
  > "$TMP/install.out" 2>&1 || { bad "make install"; tail -5 "$TMP/install.out"; }
D=$TMP/dest/usr/local
if FI_PROVIDER_PATH=$D/lib/libfabric fi_info -p myrixen 2>&1 | grep -q "provider: myrixen" &&
   env -u FI_PROVIDER_PATH "$D/bin/myrixen" mpirun --allow-run-as-root --oversubscribe -np 2 \
     "$MPIBIN/mpi_p2p" 2>&1 | grep -q "mpi_p2p: ok"; then
  ok "installed: fi_info -p myrixen (FI_PROVIDER_PATH=\$PREFIX/lib/libfabric), myrixen mpirun"
else
  bad "installed provider"
fi
make -s -C "$(dirname "$0")/../.." uninstall BUILD="$BUILD" DESTDIR="$TMP/dest" PREFIX=/usr/local
left=$(find "$D" -type f | wc -l)
[ "$left" = 0 ] && ok "make uninstall removes what was installed" || bad "uninstall left $left files"
kill "$(cat "$TMP/local.pid")"; rm -f "$TMP/local.pid"
unset MYRIXEN_SOCKET

# --- two hosts: one rank per host --------------------------------------------
host a; host b
link2 a b 198.18.0.1 198.18.0.2
cat > "$TMP/peers" <<PEERS
- a udp:198.18.0.1:2315
- b udp:198.18.0.2:2315
PEERS
backend a udp:198.18.0.1:2315 && backend b udp:198.18.0.2:2315 || exit 1
# mpirun's launcher reaches a host through this agent: its namespace, its
# hostname, its backend's socket.
cat > "$TMP/agent" <<AGENT
#!/bin/sh
h=\$1; shift
exec ip netns exec "$TAG\$h" unshare --uts sh -c 'hostname "\$0"; exec env MYRIXEN_SOCKET="$TMP/\$0.sock" sh -c "\$*"' "\$h" "\$@"
AGENT
chmod +x "$TMP/agent"
# One rank per host (what make check runs); MPI_CROSS_NP="2 4" (make
# check-mpi-long) adds two ranks per host: a 4-rank mpi_p2p across the two
# hosts hung once in four full runs of make check and is being looked into.
for prog in mpi_p2p mpi_coll; do
  for np in ${MPI_CROSS_NP:-2}; do
    ip netns exec "${TAG}a" timeout 300 "${MPIRUN[@]}" --mca plm_rsh_agent "$TMP/agent" \
      --mca oob_tcp_if_include 198.18.0.0/24 --host a:$((np / 2)),b:$((np / 2)) \
      -np $np "$MPIBIN/$prog" > "$TMP/mpi2.out" 2>&1
    rc=$?
    if [ $rc = 0 ] && grep -q "$prog: ok" "$TMP/mpi2.out"; then
      ok "$prog across two hosts, $np ranks: $(grep -o 'ok [0-9]* bytes' "$TMP/mpi2.out")"
    else
      bad "$prog across two hosts, $np ranks (rc $rc)"; tail -5 "$TMP/mpi2.out"; tail -n 5 "$TMP"/*.log
    fi
  done
done
sa=$(on a "$BIN/bin/myrixen" peers --json)
rx=$(json_num "$sa" rx_packets)
if [ "${rx:-0}" -gt 1000 ]; then ok "the MPI traffic crossed the wire: a received $rx packets"
else bad "a received ${rx:-0} packets from b"; fi

[ $failed = 0 ] || { echo "tests/mpi: $failed failed"; exit 1; }
echo "tests/mpi: all passed"
