/*
 * mx_unexp - the unexpected handler and disabled progression, in one
 * process with endpoint A sending to endpoint B:
 *  - FINISHED consumes a message of any class (the handler sees the bytes
 *    of small ones; rendezvous and issend senders still complete);
 *  - a receive posted inside the handler takes the message (CONTINUE);
 *  - CONTINUE with nothing posted leaves it unexpected, in order;
 *  - messages that match a posted receive never reach the handler;
 *  - mx_close_endpoint in the handler is refused with MX_CLOSE_IN_HANDLER;
 *  - while progression is disabled the handler does not run; it runs again
 *    once re-enabled.
 */
#include <unistd.h>

#include <mx_extensions.h>

#include "mxtest.h"

#define FIN (1ull << 56)
#define POST (2ull << 56)
#define KEEP (3ull << 56)
#define CLASS_MASK (0xffull << 56)

static mx_endpoint_t ep_a, ep_b;
static mx_endpoint_addr_t a_to_b;

struct seen {
  uint32_t calls, with_data, data_ok;
  int try_close;
  mx_return_t close_rc;
  uint8_t post_buf[65536];
  mx_request_t posted;
  int has_posted;
};

static mx_unexp_handler_action_t handler(void *ctx, mx_endpoint_addr_t source, uint64_t match,
                                         uint32_t length, void *data)
{
  struct seen *s = ctx;
  uint64_t nic;
  uint32_t eid;
  s->calls++;
  CHECK_MX(mx_decompose_endpoint_addr(source, &nic, &eid));
  CHECK(eid == 1);
  if (data) {
    s->with_data++;
    s->data_ok += mxtest_verify(data, length, match);
  }
  if (s->try_close) {
    s->close_rc = mx_close_endpoint(ep_b);
    s->try_close = 0;
  }
  switch (match & CLASS_MASK) {
  case FIN:
    return MX_RECV_FINISHED;
  case POST: {
    mx_segment_t seg = {s->post_buf, sizeof(s->post_buf)};
    CHECK_MX(mx_irecv(ep_b, &seg, 1, match, MX_MATCH_MASK_NONE, NULL, &s->posted));
    s->has_posted = 1;
    return MX_RECV_CONTINUE;
  }
  default:
    return MX_RECV_CONTINUE;
  }
}

/* Send and wait for completion, progressing B meanwhile (one thread). */
static void send_to_b(uint64_t match, uint32_t len, int sync)
{
  uint8_t *buf = malloc(len ? len : 1);
  CHECK(buf);
  mxtest_fill(buf, len, match);
  mx_segment_t s = {buf, len};
  mx_request_t r;
  mx_status_t st;
  uint32_t done = 0;
  if (sync)
    CHECK_MX(mx_issend(ep_a, &s, 1, a_to_b, match, NULL, &r));
  else
    CHECK_MX(mx_isend(ep_a, &s, 1, a_to_b, match, NULL, &r));
  for (int i = 0; !done && i < 2000000; i++) {
    CHECK_MX(mx_progress(ep_b));
    CHECK_MX(mx_test(ep_a, &r, &st, &done));
    if (!done)
      usleep(i < 100 ? 0 : 100);
  }
  CHECK(done && st.code == MX_STATUS_SUCCESS);
  free(buf);
}

static void settle_b(void)
{
  for (int i = 0; i < 50; i++) {
    CHECK_MX(mx_progress(ep_b));
    usleep(1000);
  }
}

/* FINISHED, every class: small (bytes shown), medium, large, issend. */
static void check_finished(struct seen *s)
{
  send_to_b(FIN | 1, 100, 0);
  send_to_b(FIN | 2, 20000, 0);
  send_to_b(FIN | 3, 3 << 20, 0);
  send_to_b(FIN | 4, 8, 1);
  settle_b();
  CHECK(s->calls == 4);
  CHECK(s->with_data == 2 && s->data_ok == 2); /* the small ones */
}

/* A receive posted in the handler takes the message. */
static void check_posted_in_handler(struct seen *s)
{
  for (uint32_t len = 16; len <= 65536; len *= 16) {
    s->has_posted = 0;
    send_to_b(POST | len, len, 0);
    settle_b();
    CHECK(s->has_posted);
    mx_status_t st = mxtest_wait(ep_b, &s->posted);
    CHECK(st.xfer_length == len && mxtest_verify(s->post_buf, len, POST | len));
  }
}

/* CONTINUE with nothing posted: unexpected, kept in order; and a message
 * that matches a posted receive never reaches the handler. */
static void check_kept_unexpected(struct seen *s)
{
  for (uint32_t i = 0; i < 10; i++)
    send_to_b(KEEP | i, 1000 * i, 0);
  settle_b();
  uint32_t calls = s->calls;
  for (uint32_t i = 0; i < 10; i++) {
    uint8_t buf[10000];
    mx_segment_t seg = {buf, sizeof(buf)};
    mx_request_t r;
    mx_status_t st;
    uint32_t found;
    CHECK_MX(mx_iprobe(ep_b, KEEP, CLASS_MASK, &st, &found));
    CHECK(found && st.match_info == (KEEP | i));
    CHECK_MX(mx_irecv(ep_b, &seg, 1, KEEP, CLASS_MASK, NULL, &r));
    st = mxtest_wait(ep_b, &r);
    CHECK(st.match_info == (KEEP | i) && mxtest_verify(buf, st.xfer_length, KEEP | i));
  }
  CHECK(s->calls == calls); /* receiving them did not call the handler again */
  uint8_t buf[64];
  mx_segment_t seg = {buf, sizeof(buf)};
  mx_request_t r;
  CHECK_MX(mx_irecv(ep_b, &seg, 1, KEEP | 99, MX_MATCH_MASK_NONE, NULL, &r));
  send_to_b(KEEP | 99, 64, 0);
  mxtest_wait(ep_b, &r);
  CHECK(s->calls == calls);
}

/* Disabled progression: no handler until re-enabled. */
static void check_disabled_progression(struct seen *s)
{
  uint32_t calls = s->calls;
  CHECK_MX(mx_disable_progression(ep_b));
  uint8_t buf[32];
  mx_segment_t seg = {buf, sizeof(buf)};
  mx_request_t r;
  mx_status_t st;
  uint32_t found = 1;
  mxtest_fill(buf, sizeof(buf), KEEP | 200);
  CHECK_MX(mx_isend(ep_a, &seg, 1, a_to_b, KEEP | 200, NULL, &r));
  mxtest_wait(ep_a, &r); /* small: complete once it left A */
  settle_b();
  CHECK_MX(mx_iprobe(ep_b, KEEP | 200, MX_MATCH_MASK_NONE, &st, &found));
  CHECK(found == 0 && s->calls == calls);
  CHECK_MX(mx_reenable_progression(ep_b));
  CHECK_MX(mx_iprobe(ep_b, KEEP | 200, MX_MATCH_MASK_NONE, &st, &found));
  CHECK(found == 1 && s->calls == calls + 1);
}

int main(void)
{
  struct seen s;
  memset(&s, 0, sizeof(s));
  char host[MX_MAX_HOSTNAME_LEN];
  uint64_t nic;
  mx_param_t ret_param = {.key = MX_PARAM_ERROR_HANDLER, .val.error_handler = MX_ERRORS_RETURN};
  alarm(300);
  CHECK_MX(mx_init());
  CHECK_MX(mx_open_endpoint(0, 1, MXTEST_KEY, NULL, 0, &ep_a));
  CHECK_MX(mx_open_endpoint(0, 2, MXTEST_KEY, &ret_param, 1, &ep_b));
  CHECK_MX(mx_register_unexp_handler(ep_b, handler, &s));
  CHECK_MX(mx_board_number_to_nic_id(0, &nic));
  CHECK_MX(mx_nic_id_to_hostname(nic, host));
  a_to_b = mxtest_connect(ep_a, host, 2);

  check_finished(&s);
  check_posted_in_handler(&s);
  check_kept_unexpected(&s);
  /* closing the endpoint from its handler is refused */
  s.try_close = 1;
  send_to_b(FIN | 5, 10, 0);
  settle_b();
  CHECK(s.close_rc == MX_CLOSE_IN_HANDLER);
  check_disabled_progression(&s);

  CHECK_MX(mx_close_endpoint(ep_a));
  CHECK_MX(mx_close_endpoint(ep_b));
  CHECK_MX(mx_finalize());
  printf("mx_unexp: %u handler calls: ok\n", s.calls);
  return 0;
}
