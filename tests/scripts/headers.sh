#!/bin/sh
# The public headers alone, as an MX program includes them: they must
# compile as strict C99 and as C++, warning-free, and declare what they
# promise (every call is referenced, so a missing prototype fails).
BUILD=${1:-build}
out=$BUILD/headers-check
mkdir -p "$out"
cat > "$out/use.c" <<'C'
#include <myriexpress.h>
#include <mx_extensions.h>
#include <myrixen.h>
typedef void (*any_fn)(void);
any_fn mx_calls[] = {
  (any_fn)mx__init_api, (any_fn)mx_finalize, (any_fn)mx_set_error_handler,
  (any_fn)mx_open_endpoint, (any_fn)mx_close_endpoint, (any_fn)mx_wakeup,
  (any_fn)mx_disable_progression, (any_fn)mx_reenable_progression,
  (any_fn)mx_isend, (any_fn)mx_issend, (any_fn)mx_irecv, (any_fn)mx_cancel,
  (any_fn)mx_test, (any_fn)mx_wait, (any_fn)mx_test_any, (any_fn)mx_wait_any,
  (any_fn)mx_ipeek, (any_fn)mx_peek, (any_fn)mx_iprobe, (any_fn)mx_probe,
  (any_fn)mx_ibuffered, (any_fn)mx_buffered, (any_fn)mx_context, (any_fn)mx_get_info,
  (any_fn)mx_hostname_to_nic_id, (any_fn)mx_board_number_to_nic_id,
  (any_fn)mx_nic_id_to_board_number, (any_fn)mx_nic_id_to_hostname, (any_fn)mx_connect,
  (any_fn)mx_decompose_endpoint_addr, (any_fn)mx_get_endpoint_addr, (any_fn)mx_strerror,
  (any_fn)mx_strstatus, (any_fn)mx_register_unexp_callback, (any_fn)mx_iput, (any_fn)mx_iget,
  (any_fn)mx_register_unexp_handler, (any_fn)mx_set_request_timeout, (any_fn)mx_forget,
  (any_fn)mx_iconnect, (any_fn)mx_disconnect, (any_fn)mx_decompose_endpoint_addr2,
  (any_fn)mx_set_endpoint_addr_context, (any_fn)mx_get_endpoint_addr_context,
  (any_fn)mx_progress,
};
int main(void)
{
  mx_status_t st;
  st.code = MX_STATUS_SUCCESS;
  return mx_init() == MX_SUCCESS && st.code == MX_STATUS_SUCCESS && mx_calls[0] ? 0 : 1;
}
C
cp "$out/use.c" "$out/use.cc"
rc=0
cc -std=c99 -pedantic -Wall -Wextra -Werror -Iinclude -c "$out/use.c" -o "$out/c99.o" || { echo "FAIL: headers as C99"; rc=1; }
c++ -std=c++11 -pedantic -Wall -Wextra -Werror -Iinclude -c "$out/use.cc" -o "$out/cxx.o" || { echo "FAIL: headers as C++"; rc=1; }
# and every call the headers declare is defined by the library
nm -g --defined-only "$BUILD/lib/libmyrixen.so" | awk '{print $3}' | sort -u > "$out/defined"
grep -hv '^#' include/myriexpress.h include/mx_extensions.h | grep -o '[ *]mx_[a-z0-9_]*(' |
  tr -d ' *(' | sort -u > "$out/declared"
missing=$(comm -23 "$out/declared" "$out/defined")
[ -z "$missing" ] || { echo "FAIL: declared but not in libmyrixen: $missing"; rc=1; }
[ "$(wc -l < "$out/declared")" -ge 40 ] || { echo "FAIL: found only $(wc -l < "$out/declared") declarations"; rc=1; }
[ $rc = 0 ] && echo "ok   public headers: C99 -pedantic, C++11 -pedantic, every declared call defined"
exit $rc
