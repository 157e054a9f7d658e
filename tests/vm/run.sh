#!/bin/bash
# VMs as guests, under QEMU's TCG: booted by `myrixen vm run` from the
# image `myrixen vm image` builds, beside processes and containers, on
# one host and across two namespace hosts.  Every program checks its
# payloads; this script checks exit statuses, the backend's state and its
# counters.  Run once by make check (make check-vm), on the plain build.
#   tests/vm/run.sh BUILD [IMAGE_BUILD]
# BUILD's backend, tool and MX programs on the host; the VM image of
# IMAGE_BUILD (default BUILD), whose programs are linked statically (a
# sanitizer build's cannot be: make check runs this on the plain build and
# again with the ASan+UBSan backend).
BUILD=${1:-build}
IMAGE_BIN=$(cd "${2:-$BUILD}" && pwd)
source tests/scripts/lib/hosts.sh
MYRIXEN=$BIN/bin/myrixen
export MYRIXEN_VM_IMAGE=$IMAGE_BIN/vm

if [ ! -f "$MYRIXEN_VM_IMAGE/initrd.gz" ] || [ -n "$(find "$IMAGE_BIN/static" -newer "$MYRIXEN_VM_IMAGE/initrd.gz" 2>/dev/null)" ]; then
  "$IMAGE_BIN/bin/myrixen" vm image --out "$MYRIXEN_VM_IMAGE" || { bad "vm image"; exit 1; }
fi
ok "vm image: Debian's kernel, busybox-static, the static MX programs"

host a; host b
link2 a b 198.18.0.1 198.18.0.2
cat > "$TMP/peers" <<PEERS
- a 198.18.0.1:2315
- b 198.18.0.2:2315
PEERS
backend a udp:198.18.0.1:2315 && backend b udp:198.18.0.2:2315 || exit 1

# vm NAME HOST CMD...: boot a VM guest of HOST's backend in the background
vm() {
  local name=$1 h=$2; shift 2
  ip netns exec "$TAG$h" env MYRIXEN_SOCKET="$TMP/$h.sock" \
    "$MYRIXEN" vm run --name "$name" --mem 256M --timeout 150 ${VM_OPTS:-} -- "$@" > "$TMP/vm-$name.out" 2>&1 &
  echo $! > "$TMP/vm-$name.pid"
}
# vm_wait NAME: its launcher's status (the guest command's)
vm_wait() { wait "$(cat "$TMP/vm-$1.pid")"; local rc=$?; rm -f "$TMP/vm-$1.pid"; return $rc; }
# proc HOST CMD...: a process guest of HOST's backend in the background
proc() { local h=$1; shift; on "$h" "$@" > "$TMP/proc.out" 2>&1 & echo $! > "$TMP/proc.pid"; }
proc_wait() { wait "$(cat "$TMP/proc.pid")"; }
show() { tail -n 8 "$TMP"/vm-*.out "$TMP/proc.out" 2>/dev/null; tail -n 10 "$TMP"/a.log; }
info() { on a "$MYRIXEN" info --json; }
counter() { on a "$MYRIXEN" counters --json | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; }

# every class: tiny, small, medium, large (rendezvous), LEN:COUNT
CLASSES="12:400 150:400 20000:100 300000:10"
# recv_all PROG EID / send_all PROG EID HOST PEER_EID: one side of a stream
# of each class, chained with &&.  The i-th stream uses endpoint ids
# EID+i and PEER_EID+i: a sender never reaches the receiver of the stream
# before, still closing.
recv_all() { local s="" i=0; for c in $CLASSES; do s="$s && $1 -e $(($2 + i)) -l ${c%:*} -n ${c#*:}"; i=$((i + 1)); done; echo "${s# && }"; }
send_all() { local s="" i=0; for c in $CLASSES; do s="$s && $1 -e $(($2 + i)) -d $3 -r $(($4 + i)) -l ${c%:*} -n ${c#*:}"; i=$((i + 1)); done; echo "${s# && }"; }

# 1. A VM killed mid-stream: its peer's requests end with an MX error, the
#    backend reclaims it and serves on.
vm k a mx_stream -e 5 -l 300000 -n 1000000
proc a "$MX/mx_stream" -e 6 -d a -r 5 -l 300000 -n 1000000 -k
for _ in $(seq 600); do grep -q '"eid":5,"guest"' <<< "$(info)" && break; sleep 0.1; done
sleep 3 # the stream is under way
pkill -KILL -f "qemu-system-x86_64.*myrixen_name=k " ; vm_wait k; krc=$?
proc_wait; prc=$?
if [ $krc != 0 ] && [ $prc = 0 ] && ! grep -q '"kind":"vm"' <<< "$(info)"; then
  ok "a VM killed mid-stream: its peer's sends end with an MX error, the VM is reclaimed"
else
  bad "VM killed mid-stream (launcher $krc, peer $prc)"; show
fi

# 2. A VM that scribbles on its mailbox, rings and grants, beside two
#    processes that exchange every class meanwhile.
errs0=$(counter errors)
vm h a hostile 10 7
pair "processes beside a hostile VM: ping-pong 0..4 MiB" a a mx_pingpong -e 9 -n 1 -- -e 10 -d a -r 9 -n 1
vm_wait h; hrc=$?
errs1=$(counter errors)
if [ $hrc = 0 ] && [ "${errs1:-0}" -gt "${errs0:-0}" ]; then
  ok "a hostile VM: its garbage is refused and counted ($((errs1 - errs0)) control errors), the backend serves on"
else
  bad "hostile VM (status $hrc, control errors ${errs0:-?} -> ${errs1:-?})"; show
fi

# 3. Two VMs: ping-pong to 4 MiB and streams of every class, payloads
#    checked; then the Myricom-style programs, unmodified, in one of them.
vm x a sh -c "mx_pingpong -e 1 -n 1 && $(recv_all mx_stream 10)"
vm y a sh -c "mx_pingpong -e 2 -d a -r 1 -n 1 && $(send_all mx_stream 20 a 10) && mx_unexp && mx_context && mx_errors && mx_threads -t 4 -k 50"
for _ in $(seq 600); do [ "$(info | grep -o '"kind":"vm"' | wc -l)" = 2 ] && break; sleep 0.1; done
if grep -q '"kind":"vm","name":"x"' <<< "$(info)"; then ok "myrixen info lists VM guests with their kind"; else bad "info: no VM kind"; info; fi
vm_wait x; xrc=$?; vm_wait y; yrc=$?
if [ $xrc = 0 ] && [ $yrc = 0 ]; then
  ok "two VMs: ping-pong 0..4 MiB, streams of every class; mx_unexp, mx_context, mx_errors, mx_threads in a VM"
else
  bad "two VMs (x $xrc, y $yrc)"; show
fi

# 4. A VM and a process, every class both ways.
vm z a sh -c "mx_pingpong -e 3 -n 1 && $(recv_all mx_stream 10) && mx_pingpong -e 5 -d a -r 4 -n 1 && $(send_all mx_stream 30 a 40)"
proc a sh -c "'$MX/mx_pingpong' -e 6 -d a -r 3 -n 1 && $(send_all "'$MX/mx_stream'" 20 a 10) && '$MX/mx_pingpong' -e 4 -n 1 && $(recv_all "'$MX/mx_stream'" 40)"
vm_wait z; zrc=$?; proc_wait; prc=$?
if [ $zrc = 0 ] && [ $prc = 0 ]; then ok "a VM and a process: every class both ways"; else bad "VM and process (vm $zrc, process $prc)"; show; fi

# 5. A container and a VM, every class both ways.
vm w a sh -c "mx_pingpong -e 3 -n 1 && $(recv_all mx_stream 10) && mx_pingpong -e 5 -d a -r 4 -n 1"
# (LeakSanitizer cannot stop the world as PID 1 of a user namespace: under
# ASan, the programs in the container run without it, nothing else does)
proc a env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$MYRIXEN" run --container --bind "$BIN" -- sh -c "'$MX/mx_pingpong' -e 6 -d a -r 3 -n 1 && $(send_all "'$MX/mx_stream'" 20 a 10) && '$MX/mx_pingpong' -e 4 -n 1"
for _ in $(seq 300); do grep -q '"kind":"container"' <<< "$(info)" && break; sleep 0.1; done
if grep -q '"kind":"container"' <<< "$(info)"; then ok "myrixen info tells a container's guest from a process"; else bad "info: no container kind"; fi
vm_wait w; wrc=$?; proc_wait; prc=$?
if [ $wrc = 0 ] && [ $prc = 0 ]; then ok "a container and a VM: every class both ways"; else bad "container and VM (vm $wrc, container $prc)"; show; fi

# 6. Across hosts: a VM on host a (on ivshmem-plain: no doorbell, the
#    engine polls it), a process on host b, through the wire.
VM_OPTS=--plain vm v a sh -c "mx_pingpong -e 7 -d b -r 8 -n 1 && $(send_all mx_stream 20 b 10)"
proc b sh -c "'$MX/mx_pingpong' -e 8 -n 1 && $(recv_all "'$MX/mx_stream'" 10)"
vm_wait v; vrc=$?; proc_wait; prc=$?
if [ $vrc = 0 ] && [ $prc = 0 ]; then ok "a VM (ivshmem-plain) on one host, a process on another: every class through the wire"; else bad "VM across hosts (vm $vrc, process $prc)"; show; tail -n 10 "$TMP/b.log"; fi

# 8. A program killed inside a VM that lives on: its beat stops, the
#    backend closes its endpoints (and so revokes its grants), its peer's
#    sends end with an MX error, and the VM's next program works.
vm p a sh -c 'mx_stream -e 60 -l 300000 -n 1000000 & s=$!; sleep 15; kill -9 $s; sleep 4; mx_pingpong -e 61 -n 1'
on a "$MX/mx_stream" -e 62 -d a -r 60 -l 300000 -n 1000000 -k > "$TMP/proc.out" 2>&1; krc=$?
on a "$MX/mx_pingpong" -e 63 -d a -r 61 -n 1 >> "$TMP/proc.out" 2>&1; prc=$?
vm_wait p; vrc=$?
if [ $krc = 0 ] && [ $prc = 0 ] && [ $vrc = 0 ] && grep -q "beat stood still" "$TMP/a.log"; then
  ok "a program killed in a live VM: its endpoints close, its peer's sends fail as MX says, the next program works"
else
  bad "program killed in a VM (peer $krc, next $prc, vm $vrc)"; show
fi

# 7. The random loop: one rank in a VM, two in processes, every class
#    between every pair (itself included).
vm r a mx_randloop -d a -b 50 -p 3 -i 0 -m 60 -s 3
pids=()
for rank in 1 2; do on a "$MX/mx_randloop" -d a -b 50 -p 3 -i $rank -m 60 -s 3 > "$TMP/rank$rank.out" 2>&1 & pids+=($!); done
rl=0; for p in "${pids[@]}"; do wait "$p" || rl=1; done
vm_wait r; rrc=$?
if [ $rrc = 0 ] && [ $rl = 0 ]; then ok "mx_randloop: a rank in a VM, two in processes"; else bad "randloop with a VM (vm $rrc, processes $rl)"; show; tail -n 3 "$TMP"/rank*.out; fi

# 9. Ctrl-C to a launcher: QEMU goes, the backend reclaims the VM, the
#    launcher says so with 130.
vm c a sleep 300
for _ in $(seq 600); do grep -q '"name":"c"' <<< "$(info)" && pgrep -f "qemu-system-x86_64.*myrixen_name=c " > /dev/null && break; sleep 0.1; done
sleep 1
kill -INT "$(cat "$TMP/vm-c.pid")"; vm_wait c; crc=$?
sleep 0.5
if [ $crc = 130 ] && ! pgrep -f "qemu-system-x86_64.*myrixen_name=c " > /dev/null && ! grep -q '"name":"c"' <<< "$(info)"; then
  ok "Ctrl-C to a VM's launcher: QEMU stopped, the VM reclaimed, status 130"
else
  bad "Ctrl-C to a launcher (status $crc)"; show
fi

if pgrep -f "qemu-system-x86_64.*myrixen_name=" > /dev/null; then bad "a QEMU is left behind"; else ok "no QEMU left behind"; fi
echo "vm: $failed failed"
[ $failed = 0 ]
