/*
 * mx_stream - a window of isends against pre-posted receives, as MX
 * bandwidth tests did; then the same with receives posted late, so that
 * every message is unexpected first.  Order and payloads are checked.
 *   receiver: mx_stream -e EID [-l LEN] [-n COUNT]
 *   sender:   mx_stream -e EID -d HOST -r RECEIVER_EID [-l LEN] [-n COUNT]
 */
#include <unistd.h>

#include "mxtest.h"

#define WINDOW 16

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
  if (late)
    usleep(200000); /* let the messages arrive first: all unexpected */
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

int main(int argc, char **argv)
{
  uint32_t eid = 1, peer_eid = 0, len = 4096, n = 2000;
  const char *host = NULL;
  int c;
  while ((c = getopt(argc, argv, "e:d:r:l:n:")) != -1) {
    switch (c) {
    case 'e': eid = (uint32_t)atoi(optarg); break;
    case 'd': host = optarg; break;
    case 'r': peer_eid = (uint32_t)atoi(optarg); break;
    case 'l': len = (uint32_t)atoi(optarg); break;
    case 'n': n = (uint32_t)atoi(optarg); break;
    default: fprintf(stderr, "usage: %s -e eid [-d host -r eid] [-l len] [-n count]\n", argv[0]); return 2;
    }
  }
  mx_endpoint_t ep;
  CHECK_MX(mx_init());
  CHECK_MX(mx_open_endpoint(0, eid, MXTEST_KEY, NULL, 0, &ep));
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
