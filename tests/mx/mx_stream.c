/*
 * mx_stream - a window of isends against pre-posted receives, as MX
 * bandwidth tests did; then the same with receives posted late, so that
 * every message is unexpected first.  Order and payloads are checked.
 *   receiver: mx_stream -e EID [-l LEN] [-n COUNT] [-w MS]
 *   sender:   mx_stream -e EID -d HOST -r RECEIVER_EID [-l LEN] [-n COUNT] [-k]
 * -w: in the late round the receiver computes MS ms (default 200) before
 *     its first receive, not calling the library meanwhile;
 * -k: the receiver is expected to vanish: send until a request fails, and
 *     check that it fails as MX says (unreachable or closed), not hangs.
 */
#include <time.h>
#include <unistd.h>

#include "mxtest.h"

#define WINDOW 16

static uint32_t late_ms = 200;

static void send_all(mx_endpoint_t ep, mx_endpoint_addr_t to, uint32_t len, uint32_t n,
                     uint64_t base)
{
  uint8_t *buf = malloc((size_t)WINDOW * (len ? len : 1));
  mx_request_t req[WINDOW];
  CHECK(buf);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t w = i % WINDOW;
    if (i >= WINDOW)
      mxtest_wait(ep, &req[w]);
    mx_segment_t s = {buf + (size_t)w * len, len};
    mxtest_fill(s.segment_ptr, len, base + i);
    CHECK_MX(mx_isend(ep, &s, 1, to, base + i, NULL, &req[w]));
  }
  for (uint32_t i = n > WINDOW ? n - WINDOW : 0; i < n; i++)
    mxtest_wait(ep, &req[i % WINDOW]);
  free(buf);
}

/* Receive n messages with match info base+i, any order of posting: they
 * must complete in the order sent, each with its own payload. */
static void recv_all(mx_endpoint_t ep, uint32_t len, uint32_t n, uint64_t base, int late)
{
  uint8_t *buf = malloc((size_t)WINDOW * (len ? len : 1));
  mx_request_t req[WINDOW];
  CHECK(buf);
  if (late) {
    /* compute, without a library call: the messages arrive meanwhile (and
     * across hosts are acknowledged and retransmitted by the engine) */
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
      clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < late_ms);
  }
  for (uint32_t i = 0; i < n; i += WINDOW) {
    uint32_t k = n - i < WINDOW ? n - i : WINDOW;
    for (uint32_t j = 0; j < k; j++) {
      /* a wildcard receive: it takes the next message of the stream */
      mx_segment_t s = {buf + (size_t)j * len, len};
      CHECK_MX(mx_irecv(ep, &s, 1, base & ~0xffffffull, ~0xffffffull, NULL, &req[j]));
    }
    for (uint32_t j = 0; j < k; j++) {
      mx_status_t st = mxtest_wait(ep, &req[j]);
      CHECK(st.match_info == base + i + j); /* ordering */
      CHECK(st.xfer_length == len);
      CHECK(mxtest_verify(buf + (size_t)j * len, len, base + i + j));
    }
  }
  free(buf);
}

/* -k: stream until the peer's disappearance fails a request. */
static int send_until_failure(mx_endpoint_t ep, mx_endpoint_addr_t to, uint32_t len)
{
  uint8_t *buf = malloc(len ? len : 1);
  CHECK(buf);
  for (uint64_t i = 0;; i++) {
    mx_segment_t s = {buf, len};
    mx_request_t r;
    mx_status_t st;
    uint32_t result;
    mxtest_fill(buf, len, i);
    CHECK_MX(mx_isend(ep, &s, 1, to, i, NULL, &r));
    CHECK_MX(mx_wait(ep, &r, MXTEST_WAIT_MS, &st, &result));
    CHECK(result == 1); /* never a hang */
    if (st.code == MX_STATUS_SUCCESS)
      continue;
    printf("mx_stream: message %llu failed: %s\n", (unsigned long long)i, mx_strstatus(st.code));
    CHECK(st.code == MX_STATUS_ENDPOINT_UNREACHABLE || st.code == MX_STATUS_ENDPOINT_CLOSED ||
          st.code == MX_STATUS_ABORTED);
    free(buf);
    return 0;
  }
}

int main(int argc, char **argv)
{
  int keep_going = 0;
  uint32_t eid = 1, peer_eid = 0, len = 4096, n = 2000;
  const char *host = NULL;
  int c;
  while ((c = getopt(argc, argv, "e:d:r:l:n:w:k")) != -1) {
    switch (c) {
    case 'e': eid = (uint32_t)atoi(optarg); break;
    case 'd': host = optarg; break;
    case 'r': peer_eid = (uint32_t)atoi(optarg); break;
    case 'l': len = (uint32_t)atoi(optarg); break;
    case 'n': n = (uint32_t)atoi(optarg); break;
    case 'w': late_ms = (uint32_t)atoi(optarg); break;
    case 'k': keep_going = 1; break;
    default: fprintf(stderr, "usage: %s -e eid [-d host -r eid] [-l len] [-n count] [-w ms] [-k]\n", argv[0]); return 2;
    }
  }
  mx_endpoint_t ep;
  CHECK_MX(mx_init());
  CHECK_MX(mx_open_endpoint(0, eid, MXTEST_KEY, NULL, 0, &ep));
  if (keep_going && host) {
    int rc = send_until_failure(ep, mxtest_connect(ep, host, peer_eid), len);
    CHECK_MX(mx_close_endpoint(ep));
    CHECK_MX(mx_finalize());
    return rc;
  }
  for (int late = 0; late < 2; late++) {
    uint64_t base = (uint64_t)(late + 1) << 32;
    if (host) {
      mx_endpoint_addr_t to = mxtest_connect(ep, host, peer_eid);
      send_all(ep, to, len, n, base);
    } else {
      recv_all(ep, len, n, base, late);
    }
  }
  CHECK_MX(mx_close_endpoint(ep));
  CHECK_MX(mx_finalize());
  printf("mx_stream %s: %u x %u bytes twice: ok\n", host ? "sender" : "receiver", n, len);
  return 0;
}
