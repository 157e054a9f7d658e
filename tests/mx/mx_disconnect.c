/*
 * mx_disconnect - a sender that gives its large send up part-way: it
 * disconnects from the receiver (mx_disconnect) while the data is on its
 * way.  Its own send ends ENDPOINT_CLOSED; the receive, matched already,
 * must end too (MX_STATUS_ABORTED: the data will not come), while the
 * sender's endpoint is still open, not wait for ever.  On the engines'
 * path a pull the sender's engine can no longer serve tells it; by lane
 * (docs/lanes.md) the sender's library tells it.
 *   receiver: mx_disconnect -e EID [-l LEN]
 *   sender:   mx_disconnect -e EID -d HOST -r PEER_EID [-l LEN] [-u US] [-w FILE]
 * (-u: progress the send US microseconds before giving it up; the sender
 * then keeps its endpoint open, so that its close is not what the
 * receiver hears, until FILE exists (the caller makes it once the
 * receiver is done), 3 s without -w, 60 s at most)
 */
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mx_extensions.h>

#include "mxtest.h"

#define MATCH 0x5151

static uint64_t now_us(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
  uint32_t eid = 1, peer = 1, len = 4u << 20, us = 0;
  const char *host = NULL, *until = NULL;
  int c;
  while ((c = getopt(argc, argv, "e:d:r:l:u:w:")) != -1)
    switch (c) {
    case 'e': eid = (uint32_t)atoi(optarg); break;
    case 'd': host = optarg; break;
    case 'r': peer = (uint32_t)atoi(optarg); break;
    case 'l': len = (uint32_t)atoi(optarg); break;
    case 'u': us = (uint32_t)atoi(optarg); break;
    case 'w': until = optarg; break;
    default:
      fprintf(stderr, "usage: %s -e EID [-d HOST -r PEER] [-l LEN] [-u US] [-w FILE]\n",
              argv[0]);
      return 2;
    }
  mx_endpoint_t ep;
  CHECK_MX(mx_init());
  CHECK_MX(mx_open_endpoint(MX_ANY_NIC, eid, MXTEST_KEY, NULL, 0, &ep));
  uint8_t *buf = malloc(len);
  CHECK(buf != NULL);
  mxtest_fill(buf, len, 3);
  mx_segment_t seg = {buf, len};
  mx_request_t req;
  mx_status_t st;
  uint32_t done = 0;
  if (!host) {
    CHECK_MX(mx_irecv(ep, &seg, 1, MATCH, ~0ull, NULL, &req));
    uint64_t t0 = now_us();
    CHECK_MX(mx_wait(ep, &req, MXTEST_WAIT_MS, &st, &done));
    CHECK(done == 1);
    printf("receiver: %s after %llu ms (%u bytes)\n", mx_strstatus(st.code),
           (unsigned long long)(now_us() - t0) / 1000, st.xfer_length);
    CHECK(st.code == MX_STATUS_ABORTED);
  } else {
    mx_endpoint_addr_t to = mxtest_connect(ep, host, peer);
    CHECK_MX(mx_isend(ep, &seg, 1, to, MATCH, NULL, &req));
    for (uint64_t t0 = now_us(); !done && now_us() - t0 < us;)
      CHECK_MX(mx_test(ep, &req, &st, &done));
    CHECK(!done); /* (given up part-way: -l long enough for -u) */
    CHECK_MX(mx_disconnect(ep, to));
    CHECK_MX(mx_wait(ep, &req, MXTEST_WAIT_MS, &st, &done));
    CHECK(done == 1 && st.code == MX_STATUS_ENDPOINT_CLOSED);
    printf("sender: %s\n", mx_strstatus(st.code));
    fflush(stdout);
    struct stat sb;
    for (uint64_t t0 = now_us(); now_us() - t0 < (until ? 60000000u : 3000000u);) {
      if (until && stat(until, &sb) == 0)
        break;
      mx_progress(ep); /* (acks, and what the receiver is owed) */
      usleep(1000);
    }
  }
  mx_close_endpoint(ep);
  mx_finalize();
  free(buf);
  return 0;
}
