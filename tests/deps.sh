#!/bin/sh
# Install what the build and the tests need on a fresh Debian 12 (idempotent).
need=""
command -v cc >/dev/null 2>&1 || need="$need gcc"
command -v make >/dev/null 2>&1 || need="$need make"
command -v python3 >/dev/null 2>&1 || need="$need python3"
command -v g++ >/dev/null 2>&1 || need="$need g++"
# the hosts of the network tests: ip netns, veth, bridges
command -v ip >/dev/null 2>&1 || need="$need iproute2"
command -v timeout >/dev/null 2>&1 || need="$need coreutils"
# the bench report's plots, and libfabric's fi_pingpong for its peer rows
command -v gnuplot >/dev/null 2>&1 || need="$need gnuplot-nox"
command -v fi_pingpong >/dev/null 2>&1 || need="$need libfabric-bin"
# the libfabric provider (its headers), and Open MPI to run MPI over it
[ -e /usr/include/rdma/providers/fi_prov.h ] || need="$need libfabric-dev"
command -v mpirun >/dev/null 2>&1 || need="$need openmpi-bin"
command -v mpicc >/dev/null 2>&1 || need="$need libopenmpi-dev"
# the engine's wire MAC (a cluster key)
[ -e /usr/include/openssl/evp.h ] || need="$need libssl-dev"
# make analyze: clang's static analyzer (scan-build)
command -v scan-build >/dev/null 2>&1 || need="$need clang-tools-14"
command -v clang >/dev/null 2>&1 || need="$need clang"
# make fuzz: libFuzzer's runtime
ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
  need="$need libclang-rt-14-dev"
# VMs as guests (myrixen vm): QEMU, and what a guest image is built from
command -v qemu-system-x86_64 >/dev/null 2>&1 || need="$need qemu-system-x86"
[ -x /bin/busybox ] || need="$need busybox-static"
command -v cpio >/dev/null 2>&1 || need="$need cpio"
# the product: pkg-config for installed programs, manual pages, the unit
command -v pkg-config >/dev/null 2>&1 || need="$need pkgconf"
command -v groff >/dev/null 2>&1 || need="$need groff-base"
command -v man >/dev/null 2>&1 || need="$need man-db"
command -v systemd-analyze >/dev/null 2>&1 || need="$need systemd"
command -v readelf >/dev/null 2>&1 || need="$need binutils"
# the metrics endpoint's test parses the exposition with Prometheus' own
# parser (Debian's python3, whatever python3 comes first in PATH)
/usr/bin/python3 -c 'import prometheus_client' >/dev/null 2>&1 || need="$need python3-prometheus-client"
# TSan and ASan runtimes come with gcc's libtsan2 / libasan8 on Debian 12.
[ -e /usr/lib/x86_64-linux-gnu/libtsan.so.2 ] || need="$need libtsan2"
[ -e /usr/lib/x86_64-linux-gnu/libasan.so.8 ] || need="$need libasan8"
[ -e /usr/lib/x86_64-linux-gnu/libubsan.so.1 ] || need="$need libubsan1"
if [ -n "$need" ]; then
  echo "installing:$need"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $need
fi
exit 0
