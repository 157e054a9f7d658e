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
# A drop-in for Myricom's header: a program that uses only what the
# original brings (its includes, tags, macros and constants) and includes
# nothing else of ours, nor <inttypes.h>/<stdint.h> itself.
cat > "$out/dropin.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <myriexpress.h>
#ifndef MX_HAS_NET_TYPE
#error MX_HAS_NET_TYPE
#endif
static const int constants[] = {
  MX_API, MX_SIZEOF_ADDR, MX_MAX_SEGMENTS, MX_MAX_HOSTNAME_LEN, MX_MAX_STR_LEN, MX_INFINITE,
  MX_CONTEXT_ID_BITS_MAX, MX_PARAM_ERROR_HANDLER, MX_PARAM_UNEXP_QUEUE_MAX, MX_PARAM_CONTEXT_ID,
  MX_BAD_BAD_BAD, MX_FAILURE, MX_NO_DEV, MX_NO_DRIVER, MX_NO_PERM, MX_BOARD_UNKNOWN,
  MX_BAD_ADDR_LIST, MX_BAD_ADDR_COUNT, MX_BAD_ROOT, MX_NOT_COMPLETED, MX_BUSY, MX_BAD_INFO_KEY,
  MX_BAD_INFO_VAL, MX_BAD_NIC, MX_BAD_PARAM_LIST, MX_BAD_PARAM_NAME, MX_BAD_PARAM_VAL,
  MX_BAD_HOSTNAME_ARGS, MX_HOST_NOT_FOUND, MX_REQUEST_PENDING, MX_TIMEOUT, MX_NO_MATCH,
  MX_BAD_ENDPOINT_ID, MX_CONNECTION_FAILED, MX_BAD_CONNECTION_KEY, MX_BAD_INFO_LENGTH,
  MX_NIC_NOT_FOUND, MX_BAD_KERNEL_VERSION, MX_BAD_LIB_VERSION, MX_NIC_DEAD,
  MX_CANCEL_NOT_SUPPORTED, MX_CLOSE_IN_HANDLER, MX_BAD_MATCHING_FOR_CONTEXT_ID_MASK,
  MX_NOT_SUPPORTED_WITH_CONTEXT_ID, MX_STATUS_PENDING, MX_STATUS_BUFFERED, MX_STATUS_REJECTED,
  MX_STATUS_TIMEOUT, MX_STATUS_TRUNCATED, MX_STATUS_CANCELLED, MX_STATUS_ENDPOINT_UNKNOWN,
  MX_STATUS_ENDPOINT_CLOSED, MX_STATUS_ENDPOINT_UNREACHABLE, MX_STATUS_BAD_SESSION,
  MX_STATUS_BAD_KEY, MX_STATUS_BAD_ENDPOINT, MX_STATUS_BAD_RDMAWIN, MX_STATUS_ABORTED,
  MX_STATUS_EVENTQ_FULL, MX_STATUS_NO_RESOURCES, MX_NET_MYRI, MX_NET_ETHER, MX_SPEED_2G,
  MX_SPEED_10G, MX_NIC_COUNT, MX_NIC_IDS, MX_MAX_NATIVE_ENDPOINTS, MX_NATIVE_REQUESTS,
  MX_COUNTERS_COUNT, MX_COUNTERS_LABELS, MX_COUNTERS_VALUES, MX_PRODUCT_CODE, MX_PART_NUMBER,
  MX_SERIAL_NUMBER, MX_PORT_COUNT, MX_PIO_SEND_MAX, MX_COPY_SEND_MAX, MX_NUMA_NODE, MX_NET_TYPE,
  MX_LINE_SPEED,
};
static void cb(void *ctx, uint64_t match, int len) { (void)ctx; (void)match; (void)len; }
int main(void)
{
  struct mx_segment seg = {NULL, 0};
  struct mx_status st;
  enum mx_return_code rc = MX_SUCCESS;
  enum mx_status_code sc = MX_STATUS_SUCCESS;
  enum mx_param_key pk = MX_PARAM_CONTEXT_ID;
  enum mx_net_type nt = MX_NET_ETHER;
  enum mx_line_speed ls = MX_SPEED_10G;
  enum mx_get_info_key ik = MX_NIC_COUNT;
  mx_matching_callback_t mcb = cb;
  mx_error_handler_t eh = MX_ERRORS_RETURN;
  mx_endpoint_addr_t addr;
  uint64_t any = MX_ANY_NIC, none = MX_MATCH_MASK_NONE, back = 0;
  uint8_t u8 = 1;
  int64_t i64 = -1;
  char text[64];
  memset(&st, 0, sizeof(st));
  memset(&addr, 0, sizeof(addr));
  st.match_info = 0x0123456789abcdefull;
  snprintf(text, sizeof(text), "%" PRIx64, st.match_info);
  if (sscanf(text, "%" SCNx64, &back) != 1 || back != st.match_info) return 1;
  if (strcmp(text, "123456789abcdef") || MX_U32(back) != 0x01234567u || MX_L32(back) != 0x89abcdefu) return 2;
  if (strtoumax("ff", NULL, 16) != 255 || imaxabs(i64) != 1 || u8 != 1) return 3;
  printf("match %08x%08x (%" PRIu32 " constants) any %" PRIx64 " none %" PRIx64 "\n",
         MX_U32(back), MX_L32(back), (uint32_t)(sizeof(constants) / sizeof(constants[0])), any, none);
  return seg.segment_length + rc + sc + (pk != MX_PARAM_CONTEXT_ID) + (nt != MX_NET_ETHER) +
         (ls != MX_SPEED_10G) + (ik != MX_NIC_COUNT) + (mcb != cb) + (eh != MX_ERRORS_RETURN) +
         (int)addr.stuff[0] + (st.context != NULL) + (int)st.msg_length + (int)st.xfer_length;
}
C
. "$(dirname "$0")/lib/sanitizer.sh"
if cc -std=c99 -pedantic -Wall -Wextra -Werror $(san_flags "$BUILD/lib/libmyrixen.so") \
     -Iinclude "$out/dropin.c" -o "$out/dropin" \
     -L"$BUILD/lib" -lmyrixen -Wl,-rpath,"$(cd "$BUILD/lib" && pwd)" &&
   "$out/dropin" > "$out/dropin.out" && grep -q "^match 0123456789abcdef" "$out/dropin.out"; then
  echo "ok   myriexpress.h as a drop-in: an MX program using only what Myricom's header brings ($(cat "$out/dropin.out"))"
else
  echo "FAIL: myriexpress.h is not a drop-in for Myricom's (see $out/dropin.c)"; rc=1
fi
[ $rc = 0 ] && echo "ok   public headers: C99 -pedantic, C++11 -pedantic, every declared call defined"
exit $rc
