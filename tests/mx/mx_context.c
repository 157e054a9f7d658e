/*
 * mx_context - context ids (MX_PARAM_CONTEXT_ID): the parameter's bounds,
 * the rule that every mask covers the context bits, the calls that cross
 * contexts refused, and messages of interleaved contexts reaped per
 * context with mx_test_any.
 */
#include <unistd.h>

#include "mxtest.h"

#define CTX_SHIFT 60
#define CTX_BITS 4
#define CTX(c) ((uint64_t)(c) << CTX_SHIFT)
#define CTX_MASK CTX(0xf)
#define NCTX 4
#define PER_CTX 50

int main(void)
{
  mx_endpoint_t ep_a, ep_b;
  mx_param_t p = {.key = MX_PARAM_CONTEXT_ID};
  char host[MX_MAX_HOSTNAME_LEN];
  uint64_t nic;
  uint32_t result;
  mx_status_t st;
  mx_request_t r;
  uint8_t buf[NCTX][PER_CTX][256];
  mx_segment_t seg = {buf[0][0], 256};

  alarm(300);
  CHECK_MX(mx_init());
  mx_set_error_handler(MX_ERRORS_RETURN);
  p.val.context_id.bits = MX_CONTEXT_ID_BITS_MAX + 1;
  p.val.context_id.shift = 0;
  CHECK(mx_open_endpoint(0, 2, MXTEST_KEY, &p, 1, &ep_b) == MX_BAD_PARAM_VAL);
  p.val.context_id.bits = 8;
  p.val.context_id.shift = 60; /* past bit 63 */
  CHECK(mx_open_endpoint(0, 2, MXTEST_KEY, &p, 1, &ep_b) == MX_BAD_PARAM_VAL);
  p.val.context_id.bits = CTX_BITS;
  p.val.context_id.shift = CTX_SHIFT;
  CHECK_MX(mx_open_endpoint(0, 2, MXTEST_KEY, &p, 1, &ep_b));
  CHECK_MX(mx_open_endpoint(0, 1, MXTEST_KEY, NULL, 0, &ep_a));

  /* every mask must cover the context bits */
  CHECK(mx_irecv(ep_b, &seg, 1, 0, 0xff, NULL, &r) == MX_BAD_MATCHING_FOR_CONTEXT_ID_MASK);
  CHECK(mx_irecv(ep_b, &seg, 1, 0, CTX(0x7) | 0xff, NULL, &r) ==
        MX_BAD_MATCHING_FOR_CONTEXT_ID_MASK);
  CHECK(mx_test_any(ep_b, 0, 0, &st, &result) == MX_BAD_MATCHING_FOR_CONTEXT_ID_MASK);
  CHECK(mx_wait_any(ep_b, 1, 0, 0, &st, &result) == MX_BAD_MATCHING_FOR_CONTEXT_ID_MASK);
  CHECK(mx_iprobe(ep_b, 0, 0, &st, &result) == MX_BAD_MATCHING_FOR_CONTEXT_ID_MASK);
  CHECK(mx_probe(ep_b, 1, 0, 0, &st, &result) == MX_BAD_MATCHING_FOR_CONTEXT_ID_MASK);
  /* and what crosses contexts is not supported */
  CHECK(mx_ipeek(ep_b, &r, &result) == MX_NOT_SUPPORTED_WITH_CONTEXT_ID);
  CHECK(mx_peek(ep_b, 1, &r, &result) == MX_NOT_SUPPORTED_WITH_CONTEXT_ID);
  /* an endpoint without context ids takes any mask */
  CHECK_MX(mx_ipeek(ep_a, &r, &result));

  CHECK_MX(mx_board_number_to_nic_id(0, &nic));
  CHECK_MX(mx_nic_id_to_hostname(nic, host));
  mx_endpoint_addr_t to_b = mxtest_connect(ep_a, host, 2);

  /* receives of every context, posted with context-covering masks */
  for (uint32_t c = 0; c < NCTX; c++)
    for (uint32_t i = 0; i < PER_CTX; i++) {
      mx_segment_t s = {buf[c][i], 256};
      CHECK_MX(mx_irecv(ep_b, &s, 1, CTX(c), CTX_MASK, (void *)(uintptr_t)i, &r));
    }
  /* messages with the contexts interleaved */
  for (uint32_t i = 0; i < PER_CTX; i++)
    for (uint32_t c = 0; c < NCTX; c++) {
      uint8_t m[256];
      mx_segment_t s = {m, 8 + i};
      mxtest_fill(m, 8 + i, CTX(c) | i);
      CHECK_MX(mx_isend(ep_a, &s, 1, to_b, CTX(c) | i, NULL, &r));
      mxtest_wait(ep_a, &r);
    }
  /* reaped per context, in order, each with its own payload */
  for (uint32_t c = NCTX; c-- > 0;)
    for (uint32_t i = 0; i < PER_CTX; i++) {
      CHECK_MX(mx_wait_any(ep_b, MXTEST_WAIT_MS, CTX(c), CTX_MASK, &st, &result));
      CHECK(result == 1 && st.code == MX_STATUS_SUCCESS);
      CHECK(st.match_info == (CTX(c) | i) && (uintptr_t)st.context == i);
      CHECK(mxtest_verify(buf[c][i], st.xfer_length, st.match_info));
    }
  CHECK_MX(mx_test_any(ep_b, 0, CTX_MASK, &st, &result));
  CHECK(result == 0);

  CHECK_MX(mx_close_endpoint(ep_a));
  CHECK_MX(mx_close_endpoint(ep_b));
  CHECK_MX(mx_finalize());
  printf("mx_context: %d contexts x %d messages: ok\n", NCTX, PER_CTX);
  return 0;
}
