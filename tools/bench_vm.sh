#!/bin/bash
# bench_vm.sh - inside two QEMU VMs on this host, MyriXen's path (rings in
# an ivshmem region, the engine copying through the VMs' RAM files)
# beside the split-driver path users have today (the guest kernel's
# sockets over virtio-net, the two VMs joined by QEMU's socket netdev):
# 8-byte latency (MX ping-pong / UDP ping-pong, both ends busy-polling)
# and 1 MiB bandwidth (MX stream / one TCP connection with 1 MiB writes).
# The four measurements alternate, ROUNDS times, in the same boot of the
# same two VMs; the table gives each one's median and the ratios.
#   tools/bench_vm.sh [BUILD] [ROUNDS] [--kvm]
# Under TCG (the default here) absolute times mean little: the ratios,
# measured in the same run, are the result.
BUILD=${1:-build}
ROUNDS=${2:-3}
KVM=${3:-}
BIN=$(cd "$BUILD" && pwd)
MYRIXEN=$BIN/bin/myrixen
TMP=$(mktemp -d /tmp/myrixen-benchvm-XXXXXX)
export MYRIXEN_SOCKET=$TMP/be.sock MYRIXEN_VM_IMAGE=$BIN/vm
PORT=$((20000 + $$ % 20000))
cleanup() { [ -n "$X" ] && kill "$X" 2>/dev/null; [ -n "$BE" ] && kill "$BE" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
[ -f "$MYRIXEN_VM_IMAGE/initrd.gz" ] || "$MYRIXEN" vm image --out "$MYRIXEN_VM_IMAGE" || exit 1
MYRIXEN_LOG=warn "$BIN/bin/myrixend" --socket "$MYRIXEN_SOCKET" --hostname benchhost & BE=$!
for _ in $(seq 100); do [ -S "$MYRIXEN_SOCKET" ] && break; sleep 0.05; done

srv="" cli=""
for r in $(seq "$ROUNDS"); do
  srv="$srv mx_vmbench -e $((10 + r)) && net_vmbench -u 7000 && mx_vmbench -e $((30 + r)) && net_vmbench -t 7001 &&"
  cli="$cli mx_vmbench -e $((20 + r)) -d benchhost -r $((10 + r)) -l 8 -n 2000 &&"
  cli="$cli net_vmbench -u 7000 -c 198.18.10.1 -l 8 -n 2000 &&"
  cli="$cli mx_vmbench -e $((40 + r)) -d benchhost -r $((30 + r)) -l 1048576 -n 64 -s &&"
  cli="$cli net_vmbench -t 7001 -c 198.18.10.1 -l 1048576 -n 16 &&"
done
echo "bench vm: two VMs under ${KVM:+KVM}${KVM:-TCG}, $ROUNDS rounds (boot ~10 s each)" >&2
"$MYRIXEN" vm run --name bx $KVM --net "listen:$PORT" --ip 198.18.10.1/24 --timeout 900 -- sh -c "${srv%&&}" > "$TMP/x.out" 2>&1 &
X=$!
sleep 1
"$MYRIXEN" vm run --name by $KVM --net "connect:$PORT" --ip 198.18.10.2/24 --timeout 900 -- sh -c "${cli%&&}" > "$TMP/y.out" 2>&1
yrc=$?
wait $X; xrc=$?
if [ $yrc != 0 ] || [ $xrc != 0 ]; then
  echo "bench vm: a VM failed (server $xrc, client $yrc):"; tail -n 20 "$TMP/x.out" "$TMP/y.out"; exit 1
fi
median() { sort -n | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
mxlat=$(grep "^mx_vmbench pingpong" "$TMP/y.out" | sed 's/.*: \([0-9.]*\) us.*/\1/' | median)
udplat=$(grep "^net_vmbench udp" "$TMP/y.out" | sed 's/.*: \([0-9.]*\) us.*/\1/' | median)
mxbw=$(grep "^mx_vmbench stream" "$TMP/y.out" | sed 's/.*: \([0-9.]*\) MB\/s.*/\1/' | median)
tcpbw=$(grep "^net_vmbench tcp" "$TMP/y.out" | sed 's/.*: \([0-9.]*\) MB\/s.*/\1/' | median)
echo "all rounds:"; grep -E "^(mx|net)_vmbench" "$TMP/y.out" | sed 's/^/  /'
printf "\n%-44s %12s %12s %8s\n" "between two VMs, medians of $ROUNDS rounds" "MyriXen" "virtio-net" "ratio"
printf "%-44s %9.1f us %9.1f us %7.1fx\n" "8 B latency (half round trip)" "$mxlat" "$udplat" \
  "$(awk -v a="$udplat" -v b="$mxlat" 'BEGIN {print a / b}')"
printf "%-44s %7.1f MB/s %7.1f MB/s %7.1fx\n" "1 MiB bandwidth (stream)" "$mxbw" "$tcpbw" \
  "$(awk -v a="$mxbw" -v b="$tcpbw" 'BEGIN {print a / b}')"
echo "(latency ratio: virtio-net / MyriXen; bandwidth ratio: MyriXen / virtio-net)"
