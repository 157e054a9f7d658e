#!/bin/bash
# make install into a DESTDIR, then an MX program built and run with only
# the installed files: its flags from pkg-config, its library the
# installed libmyrixen.so.1 (a soname, a versioned file, the links), its
# backend the installed myrixend.  make uninstall leaves nothing behind.
. "$(dirname "$0")/lib/script.sh"
install_tree DESTDIR="$T/dest" PREFIX=/usr/local
D=$T/dest/usr/local
soname=$(readelf -d "$D/lib/libmyrixen.so.1.0.0" 2>/dev/null | grep -o 'SONAME.*\[.*\]' | grep -o 'libmyrixen[^]]*')
if [ "$soname" = libmyrixen.so.1 ] && [ "$(readlink "$D/lib/libmyrixen.so.1")" = libmyrixen.so.1.0.0 ] &&
   [ "$(readlink "$D/lib/libmyrixen.so")" = libmyrixen.so.1 ] && [ -s "$D/lib/libmyrixen.a" ]; then
  ok "installed libmyrixen.so.1.0.0 (soname $soname), its links and libmyrixen.a"
else
  bad "installed library: soname '$soname', $(ls -l "$D/lib" | tr '\n' ' ')"
fi
cat > "$T/app.c" <<'C'
/* An MX program that knows nothing of MyriXen: a message to itself. */
#include <stdio.h>
#include <string.h>
#include <myriexpress.h>
int main(void)
{
  mx_endpoint_t ep;
  mx_endpoint_addr_t me;
  mx_request_t s, r;
  mx_status_t st;
  uint32_t done;
  char out[] = "installed", in[16] = "";
  mx_segment_t so = {out, sizeof(out)}, si = {in, sizeof(in)};
  if (mx_init() != MX_SUCCESS || mx_open_endpoint(0, 1, 7, NULL, 0, &ep) != MX_SUCCESS ||
      mx_get_endpoint_addr(ep, &me) != MX_SUCCESS)
    return 1;
  mx_irecv(ep, &si, 1, 0x42, MX_MATCH_MASK_NONE, NULL, &r);
  mx_isend(ep, &so, 1, me, 0x42, NULL, &s);
  mx_wait(ep, &s, 5000, &st, &done);
  mx_wait(ep, &r, 5000, &st, &done);
  printf("got \"%s\" (match %" PRIx64 ")\n", in, st.match_info);
  mx_finalize();
  return done && !strcmp(in, out) ? 0 : 1;
}
C
export PKG_CONFIG_PATH=$D/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$T/dest
flags=$(pkg-config --cflags --libs myrixen 2>&1)
. "$(dirname "$0")/lib/sanitizer.sh"
san=$(san_flags "$D/lib/libmyrixen.so.1.0.0")
if cc -Wall -Werror $san -o "$T/app" "$T/app.c" $flags 2> "$T/cc.err"; then
  ok "cc app.c \$(pkg-config --cflags --libs myrixen): $flags (version $(pkg-config --modversion myrixen))"
else
  bad "building with pkg-config ($flags)"; cat "$T/cc.err"
fi
export MYRIXEN_SOCKET=$T/be.sock
"$D/sbin/myrixend" --socket "$MYRIXEN_SOCKET" > "$T/be.log" 2>&1 & BE=$!
for _ in $(seq 100); do [ -S "$MYRIXEN_SOCKET" ] && break; sleep 0.05; done
lib=$(LD_LIBRARY_PATH=$D/lib ldd "$T/app" | awk '/libmyrixen/ {print $1, $3}')
if out=$(LD_LIBRARY_PATH=$D/lib timeout 20 "$T/app") && [ "$lib" = "libmyrixen.so.1 $D/lib/libmyrixen.so.1" ]; then
  ok "it runs on the installed library and backend: $out ($lib)"
else
  bad "the installed program: '$out', library '$lib'"; tail -3 "$T/be.log"
fi
kill $BE; wait $BE 2>/dev/null
make -s -C "$(dirname "$0")/../.." uninstall BUILD="$(cd "$BUILD" && pwd)" DESTDIR="$T/dest" PREFIX=/usr/local \
  > /dev/null 2>&1
left=$(find "$D" -type f -o -type l | wc -l)
[ "$left" = 0 ] && ok "make uninstall removes what was installed" ||
  bad "uninstall left $left files: $(find "$D" -type f -o -type l)"
[ $failed = 0 ]
