#!/bin/sh
# myrixen vm image: a guest image built from Debian packages only.
#   image.sh OUT STATIC_BIN_DIR
# OUT gets vmlinuz (the kernel linux-image-amd64 depends on, fetched by
# that exact name) and initrd.gz: busybox-static, the virtio-net modules
# (for the split-driver baseline), the statically linked programs of
# STATIC_BIN_DIR, and an /init that runs the command given on
# the kernel command line (myrixen_cmd, base64), prints its exit status
# and powers off.
# Downloads are kept in OUT/cache; a second run reuses them.
set -eu
OUT=$1
BIN=$2
say() { echo "vm image: $*" >&2; }
mkdir -p "$OUT/cache"
OUT=$(cd "$OUT" && pwd)
cache=$(cd "$OUT/cache" && pwd)

# apt-get download by exact names, into the cache (once).
fetch() {
  for pkg in "$@"; do
    if ! ls "$cache/${pkg}_"*.deb >/dev/null 2>&1; then
      say "downloading $pkg"
      (cd "$cache" && apt-get download -q "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
      ls "$cache/${pkg}_"*.deb >/dev/null 2>&1 || { say "cannot download $pkg (apt-get update?)"; exit 1; }
    fi
  done
}

kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*\).*/\1/p' | head -1)
[ -n "$kpkg" ] || { say "apt-cache knows no linux-image-amd64 (apt-get update first)"; exit 1; }
fetch "$kpkg" busybox-static
kver=${kpkg#linux-image-}

root=$(mktemp -d /tmp/myrixen-vmroot-XXXXXX)
kx=$(mktemp -d /tmp/myrixen-vmkernel-XXXXXX)
trap 'rm -rf "$root" "$kx"' EXIT
say "unpacking $kpkg"
dpkg-deb -x "$cache/${kpkg}_"*.deb "$kx"
cp "$kx/boot/vmlinuz-$kver" "$OUT/vmlinuz"
dpkg-deb -x "$cache/busybox-static_"*.deb "$root"

mkdir -p "$root/bin" "$root/lib/modules" "$root/proc" "$root/sys" "$root/dev" "$root/tmp" "$root/run"
# virtio-net for the baseline: its modules in load order (no depmod here)
mods="drivers/virtio/virtio drivers/virtio/virtio_ring drivers/virtio/virtio_pci_legacy_dev
      drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci net/core/failover
      drivers/net/net_failover drivers/net/virtio_net"
order=""
for m in $mods; do
  f=$(ls "$kx/lib/modules/$kver/kernel/$m.ko"* 2>/dev/null | head -1)
  [ -n "$f" ] || { say "no module $m in $kpkg"; exit 1; }
  cp "$f" "$root/lib/modules/"
  order="$order $(basename "$f")"
done
echo "$order" > "$root/lib/modules/order"
for p in "$BIN"/*; do
  [ -x "$p" ] && cp "$p" "$root/bin/"
done

cat > "$root/init" <<'INIT'
#!/bin/busybox sh
# The guest's init: mount, run the command, say its status, power off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
# Locked pages that a grant names must stay where they are.
echo 0 > /proc/sys/vm/compact_unevictable_allowed
hostname "${myrixen_name:-vm}"
# myrixen_ip=ADDR/LEN: virtio-net up, for the split-driver baseline.
if [ -n "${myrixen_ip:-}" ]; then
  # twice: without depmod the order is a guess, and a module whose
  # dependency came later loads on the second pass
  for pass in 1 2; do for m in $(cat /lib/modules/order); do insmod /lib/modules/$m 2>/dev/null; done; done
  ip link set lo up
  ip link set eth0 up && ip addr add "$myrixen_ip" dev eth0
fi
# The command: shell words, base64-encoded by the launcher (the kernel's
# command line keeps no quotes).
cmd=$(echo "${myrixen_cmd:-}" | base64 -d)
echo "myrixen-vm: running $cmd"
eval "$cmd"
rc=$?
echo "myrixen-vm: exit status $rc"
poweroff -f
INIT
chmod 755 "$root/init"
say "packing initrd"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1 > "$OUT/initrd.gz.new")
mv "$OUT/initrd.gz.new" "$OUT/initrd.gz"
say "ready: $OUT/vmlinuz $OUT/initrd.gz ($kpkg)"
