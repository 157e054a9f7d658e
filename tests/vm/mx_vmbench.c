/*
 * mx_vmbench - MX latency and bandwidth between two guests of any kind
 * (VMs above all: the same program runs in each), payloads checked.
 *   server: mx_vmbench -e EID
 *   client: mx_vmbench -e EID -d HOST -r SERVER_EID [-l LEN] [-n ITERS] [-s]
 * The client ping-pongs LEN bytes ITERS times and prints the half round
 * trip, or with -s streams ITERS messages of LEN bytes (8 in flight) and
 * prints the rate once the server has them all.  Lines start "mx_vmbench"
 * so that a bench can pick them out of a console.
 */
#include <time.h>
#include <unistd.h>

#include "../mx/mxtest.h"

#define M_PING 1
#define M_PONG 2
#define M_DATA 3
#define M_END 4
#define M_DONE 5
#define WINDOW 8

static double now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void serve(mx_endpoint_t ep, uint8_t *buf, uint32_t max)
{
  for (;;) {
    mx_segment_t rs = {buf, max};
    mx_request_t r;
    CHECK_MX(mx_irecv(ep, &rs, 1, 0, 0, NULL, &r)); /* any match info */
    mx_status_t st = mxtest_wait(ep, &r);
    uint64_t m = st.match_info;
    if (m == M_DATA)
      continue;
    CHECK(m == M_PING || m == M_END);
    mx_segment_t ss = {buf, m == M_PING ? st.xfer_length : 0};
    mx_request_t s;
    CHECK_MX(mx_isend(ep, &ss, 1, st.source, m == M_PING ? M_PONG : M_DONE, NULL, &s));
    mxtest_wait(ep, &s);
    if (m == M_END && st.xfer_length == 0)
      return; /* an empty end: the client is done */
  }
}

/* An end of len bytes (0 or 1), and the server's answer: a one-byte end
 * closes a stream, an empty one tells the server to stop. */
static void end_exchange(mx_endpoint_t ep, mx_endpoint_addr_t peer, uint32_t len)
{
  uint8_t one = 1;
  mx_segment_t es = {&one, len}, rs = {&one, 1};
  mx_request_t s, r;
  CHECK_MX(mx_irecv(ep, &rs, 1, M_DONE, MX_MATCH_MASK_NONE, NULL, &r));
  CHECK_MX(mx_isend(ep, &es, 1, peer, M_END, NULL, &s));
  mxtest_wait(ep, &s);
  mxtest_wait(ep, &r);
}

static void pingpong(mx_endpoint_t ep, mx_endpoint_addr_t peer, uint8_t *sbuf, uint8_t *rbuf,
                     uint32_t len, int iters)
{
  double t0 = 0;
  mxtest_fill(sbuf, len, 7);
  for (int i = -iters / 10 - 1; i < iters; i++) { /* a tenth to warm up */
    if (i == 0)
      t0 = now_us();
    mx_segment_t ss = {sbuf, len}, rs = {rbuf, len};
    mx_request_t s, r;
    CHECK_MX(mx_irecv(ep, &rs, 1, M_PONG, MX_MATCH_MASK_NONE, NULL, &r));
    CHECK_MX(mx_isend(ep, &ss, 1, peer, M_PING, NULL, &s));
    mxtest_wait(ep, &s);
    mx_status_t st = mxtest_wait(ep, &r);
    CHECK(st.xfer_length == len);
  }
  double us = (now_us() - t0) / iters / 2;
  CHECK(mxtest_verify(rbuf, len, 7));
  printf("mx_vmbench pingpong %u B: %.2f us half round trip (%d iterations)\n", len, us, iters);
}

static void stream(mx_endpoint_t ep, mx_endpoint_addr_t peer, uint8_t *sbuf, uint32_t len,
                   int iters)
{
  mx_request_t win[WINDOW];
  mx_segment_t ss = {sbuf, len};
  mxtest_fill(sbuf, len, 9);
  double t0 = now_us();
  for (int i = 0; i < iters; i++) {
    if (i >= WINDOW)
      mxtest_wait(ep, &win[i % WINDOW]);
    CHECK_MX(mx_isend(ep, &ss, 1, peer, M_DATA, NULL, &win[i % WINDOW]));
  }
  for (int i = iters < WINDOW ? 0 : iters - WINDOW; i < iters; i++)
    mxtest_wait(ep, &win[i % WINDOW]);
  end_exchange(ep, peer, 1); /* answered only after everything before it */
  double us = now_us() - t0;
  printf("mx_vmbench stream %u B: %.1f MB/s (%d messages)\n", len, (double)len * iters / us,
         iters);
}

int main(int argc, char **argv)
{
  uint32_t eid = 1, peer_eid = 0, len = 8;
  int iters = 1000, streaming = 0, c;
  const char *host = NULL;
  while ((c = getopt(argc, argv, "e:d:r:l:n:s")) != -1) {
    switch (c) {
    case 'e': eid = (uint32_t)atoi(optarg); break;
    case 'd': host = optarg; break;
    case 'r': peer_eid = (uint32_t)atoi(optarg); break;
    case 'l': len = (uint32_t)strtoul(optarg, NULL, 0); break;
    case 'n': iters = atoi(optarg); break;
    case 's': streaming = 1; break;
    default:
      fprintf(stderr, "usage: %s -e eid [-d host -r eid [-l len] [-n iters] [-s]]\n", argv[0]);
      return 2;
    }
  }
  uint32_t max = 4u << 20;
  CHECK(len <= max && iters > 0);
  uint8_t *sbuf = malloc(max), *rbuf = malloc(max);
  CHECK(sbuf && rbuf);
  mx_endpoint_t ep;
  CHECK_MX(mx_init());
  CHECK_MX(mx_open_endpoint(MX_ANY_NIC, eid, MXTEST_KEY, NULL, 0, &ep));
  if (!host) {
    serve(ep, rbuf, max);
  } else {
    mx_endpoint_addr_t peer = mxtest_connect(ep, host, peer_eid);
    if (streaming)
      stream(ep, peer, sbuf, len, iters);
    else
      pingpong(ep, peer, sbuf, rbuf, len, iters);
    end_exchange(ep, peer, 0);
  }
  mx_close_endpoint(ep);
  mx_finalize();
  return 0;
}
