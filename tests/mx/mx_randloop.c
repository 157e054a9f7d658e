/*
 * mx_randloop - P processes, each sending a seeded random series of
 * messages of every class (small, medium, large) to random peers, itself
 * included, while receiving with a wildcard.  Every rank replays the
 * others' series, so it knows what it must receive from each: lengths,
 * payloads and per-sender order are all checked.
 *   mx_randloop -d HOST[,HOST...] -b BASE_EID -p NPROCS -i RANK [-m MSGS] [-s SEED]
 * Rank r runs on host r % (number of hosts), endpoint BASE_EID + r.
 */
#include <unistd.h>

#include "mxtest.h"

struct plan {
  uint32_t dest, len;
};

static uint64_t rng_next(uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* Rank r's series: destinations and lengths across the three classes. */
static void make_plan(struct plan *p, uint32_t m, uint32_t rank, uint32_t nprocs, uint64_t seed)
{
  uint64_t s = seed * 1000003 + rank + 1;
  for (uint32_t i = 0; i < m; i++) {
    uint64_t x = rng_next(&s);
    p[i].dest = (uint32_t)(x % nprocs);
    uint32_t cls = (uint32_t)((x >> 16) % 10);
    uint32_t r = (uint32_t)(x >> 32);
    p[i].len = cls < 6 ? r % 129 : cls < 9 ? 129 + r % 40000 : 65536 + r % (512 * 1024);
  }
}

#define MATCH(src, seq) (((uint64_t)(src) << 32) | (seq))
#define BARRIER (1ull << 63) /* the closing barrier's messages; data never has it */

/* -d takes hosts separated by commas: rank r lives on host r % count. */
static void connect_all(mx_endpoint_t ep, const char *host, uint32_t base, uint32_t nprocs,
                        mx_endpoint_addr_t *peers)
{
  char hosts[8][MX_MAX_HOSTNAME_LEN];
  uint32_t nhosts = 0;
  for (const char *h = host; *h && nhosts < 8; nhosts++) {
    size_t n = strcspn(h, ",");
    snprintf(hosts[nhosts], sizeof(hosts[nhosts]), "%.*s", (int)n, h);
    h += n + (h[n] == ',');
  }
  if (nhosts == 0) /* an empty list: this host */
    snprintf(hosts[nhosts++], sizeof(hosts[0]), "localhost");
  for (uint32_t r = 0; r < nprocs; r++)
    peers[r] = mxtest_connect(ep, hosts[r % nhosts], base + r);
}

/* One message in: from its sender's series, in order, with its bytes. */
static void receive_one(mx_endpoint_t ep, const struct plan *plans, uint32_t m, uint32_t nprocs,
                        uint32_t rank, uint64_t seed, uint32_t *next, uint8_t *rbuf)
{
  mx_segment_t s = {rbuf, 1 << 20};
  mx_request_t rr;
  CHECK_MX(mx_irecv(ep, &s, 1, 0, BARRIER, NULL, &rr));
  mx_status_t st = mxtest_wait(ep, &rr);
  uint32_t src = (uint32_t)(st.match_info >> 32), seq = (uint32_t)st.match_info;
  CHECK(src < nprocs);
  CHECK(seq == next[src]); /* per-sender order across classes */
  next[src]++;
  /* find the length the sender's series gave its seq-th message to us */
  uint32_t n = 0, len = UINT32_MAX;
  for (uint32_t i = 0; i < m; i++)
    if (plans[(size_t)src * m + i].dest == rank && n++ == seq) {
      len = plans[(size_t)src * m + i].len;
      break;
    }
  CHECK(st.msg_length == len && st.xfer_length == len);
  CHECK(mxtest_verify(rbuf, len, st.match_info ^ seed));
}

/* Nobody leaves before everybody's messages have landed. */
static void barrier(mx_endpoint_t ep, const mx_endpoint_addr_t *peers, uint32_t nprocs,
                    uint32_t rank)
{
  for (uint32_t r = 0; r < nprocs; r++) {
    mx_segment_t s = {NULL, 0};
    mx_request_t q;
    CHECK_MX(mx_isend(ep, &s, 0, peers[r], BARRIER | rank, NULL, &q));
    mxtest_wait(ep, &q);
  }
  for (uint32_t r = 0; r < nprocs; r++) {
    mx_segment_t s = {NULL, 0};
    mx_request_t q;
    CHECK_MX(mx_irecv(ep, &s, 0, BARRIER, BARRIER, NULL, &q));
    mxtest_wait(ep, &q);
  }
}

int main(int argc, char **argv)
{
  uint32_t base = 10, nprocs = 4, rank = 0, m = 300;
  uint64_t seed = 7;
  const char *host = "localhost";
  int c;
  while ((c = getopt(argc, argv, "d:b:p:i:m:s:")) != -1) {
    switch (c) {
    case 'd': host = optarg; break;
    case 'b': base = (uint32_t)atoi(optarg); break;
    case 'p': nprocs = (uint32_t)atoi(optarg); break;
    case 'i': rank = (uint32_t)atoi(optarg); break;
    case 'm': m = (uint32_t)atoi(optarg); break;
    case 's': seed = (uint64_t)atoll(optarg); break;
    default: fprintf(stderr, "usage: %s -d host -b eid -p n -i rank [-m msgs] [-s seed]\n", argv[0]); return 2;
    }
  }
  struct plan *plans = calloc((size_t)nprocs * m, sizeof(*plans));
  uint32_t *expect = calloc(nprocs, sizeof(*expect)), *next = calloc(nprocs, sizeof(*next));
  mx_endpoint_addr_t *peers = calloc(nprocs, sizeof(*peers));
  mx_request_t *sreq = calloc(m, sizeof(*sreq));
  uint8_t **sbuf = calloc(m, sizeof(*sbuf));
  uint8_t *rbuf = malloc(1 << 20);
  CHECK(plans && expect && next && peers && sreq && sbuf && rbuf);
  uint32_t total_in = 0;
  for (uint32_t r = 0; r < nprocs; r++) {
    make_plan(plans + (size_t)r * m, m, r, nprocs, seed);
    for (uint32_t i = 0; i < m; i++)
      if (plans[(size_t)r * m + i].dest == rank)
        expect[r]++, total_in++;
  }
  mx_endpoint_t ep;
  CHECK_MX(mx_init());
  CHECK_MX(mx_open_endpoint(0, base + rank, MXTEST_KEY, NULL, 0, &ep));
  connect_all(ep, host, base, nprocs, peers);

  /* every send is posted before any receive: rendezvous sends wait */
  struct plan *mine = plans + (size_t)rank * m;
  uint32_t seq_to[64] = {0};
  CHECK(nprocs <= 64);
  for (uint32_t i = 0; i < m; i++) {
    uint32_t seq = seq_to[mine[i].dest]++;
    sbuf[i] = malloc(mine[i].len ? mine[i].len : 1);
    CHECK(sbuf[i]);
    mxtest_fill(sbuf[i], mine[i].len, MATCH(rank, seq) ^ seed);
    mx_segment_t s = {sbuf[i], mine[i].len};
    CHECK_MX(mx_isend(ep, &s, 1, peers[mine[i].dest], MATCH(rank, seq), NULL, &sreq[i]));
  }
  for (uint32_t k = 0; k < total_in; k++)
    receive_one(ep, plans, m, nprocs, rank, seed, next, rbuf);
  for (uint32_t r = 0; r < nprocs; r++)
    CHECK(next[r] == expect[r]);
  for (uint32_t i = 0; i < m; i++) {
    mxtest_wait(ep, &sreq[i]);
    free(sbuf[i]);
  }
  barrier(ep, peers, nprocs, rank);
  CHECK_MX(mx_close_endpoint(ep));
  CHECK_MX(mx_finalize());
  free(plans);
  free(expect);
  free(next);
  free(peers);
  free(sreq);
  free(sbuf);
  free(rbuf);
  printf("mx_randloop rank %u: sent %u, received %u: ok\n", rank, m, total_in);
  return 0;
}
