/*
 * mx_pingpong - the classic MX ping-pong, every size from 0 to 4 MiB.
 *   server: mx_pingpong -e EID
 *   client: mx_pingpong -e EID -d HOST[:BOARD] -r SERVER_EID [-n ITERS]
 * The server learns its client from the first message's source and answers
 * there; every payload is checked on both sides.
 */
#include <unistd.h>

#include "mxtest.h"

#define MATCH_PING 0x1111
#define MATCH_PONG 0x2222
#define MAX_LEN (4u << 20)

static void exchange(mx_endpoint_t ep, mx_endpoint_addr_t *peer, int client, uint32_t len,
                     uint64_t seed, uint8_t *sbuf, uint8_t *rbuf)
{
  mx_segment_t rs = {rbuf, MAX_LEN}, ss = {sbuf, len};
  mx_request_t rreq, sreq;
  mx_status_t st;
  if (client) {
    mxtest_fill(sbuf, len, seed);
    CHECK_MX(mx_isend(ep, &ss, 1, *peer, MATCH_PING, NULL, &sreq));
    CHECK_MX(mx_irecv(ep, &rs, 1, MATCH_PONG, MX_MATCH_MASK_NONE, NULL, &rreq));
    mxtest_wait(ep, &sreq);
    st = mxtest_wait(ep, &rreq);
    CHECK(st.msg_length == len && st.xfer_length == len);
    CHECK(mxtest_verify(rbuf, len, seed + 1));
    return;
  }
  CHECK_MX(mx_irecv(ep, &rs, 1, MATCH_PING, MX_MATCH_MASK_NONE, NULL, &rreq));
  st = mxtest_wait(ep, &rreq);
  CHECK(st.msg_length == len && st.match_info == MATCH_PING);
  CHECK(mxtest_verify(rbuf, len, seed));
  *peer = st.source;
  mxtest_fill(sbuf, len, seed + 1);
  CHECK_MX(mx_isend(ep, &ss, 1, *peer, MATCH_PONG, NULL, &sreq));
  mxtest_wait(ep, &sreq);
}

int main(int argc, char **argv)
{
  uint32_t eid = 1, peer_eid = 0, iters = 4;
  const char *host = NULL;
  int c;
  while ((c = getopt(argc, argv, "e:d:r:n:")) != -1) {
    switch (c) {
    case 'e': eid = (uint32_t)atoi(optarg); break;
    case 'd': host = optarg; break;
    case 'r': peer_eid = (uint32_t)atoi(optarg); break;
    case 'n': iters = (uint32_t)atoi(optarg); break;
    default: fprintf(stderr, "usage: %s -e eid [-d host -r eid] [-n iters]\n", argv[0]); return 2;
    }
  }
  mx_endpoint_t ep;
  mx_endpoint_addr_t peer;
  uint8_t *sbuf = malloc(MAX_LEN), *rbuf = malloc(MAX_LEN);
  CHECK(sbuf && rbuf);
  CHECK_MX(mx_init());
  CHECK_MX(mx_open_endpoint(MX_ANY_NIC, eid, MXTEST_KEY, NULL, 0, &ep));
  if (host)
    peer = mxtest_connect(ep, host, peer_eid);
  uint64_t seed = 1;
  for (uint32_t len = 0; len <= MAX_LEN; len = len ? len * 4 : 1)
    for (uint32_t i = 0; i < iters; i++, seed += 2)
      exchange(ep, &peer, host != NULL, len, seed, sbuf, rbuf);
  CHECK_MX(mx_close_endpoint(ep));
  CHECK_MX(mx_finalize());
  free(sbuf);
  free(rbuf);
  printf("mx_pingpong %s: ok\n", host ? "client" : "server");
  return 0;
}
