/* measure.c - see measure.h. */
#include <sys/resource.h>

#include "../src/common/clock.h"
#include "measure.h"

double measure_cpu_us(void)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void wait_one(mx_endpoint_t ep, mx_request_t *r)
{
  mx_status_t st;
  uint32_t res;
  mx_wait(ep, r, MX_INFINITE, &st, &res);
}

/* The stream's tail: the sends still open, then the end and its answer. */
static void stream_end(mx_endpoint_t ep, mx_endpoint_addr_t peer, mx_request_t *rq, int sent,
                       char *buf)
{
  for (int i = sent > BENCH_WINDOW ? sent - BENCH_WINDOW : 0; i < sent; i++)
    wait_one(ep, &rq[i % BENCH_WINDOW]);
  mx_segment_t z = {buf, 0};
  mx_request_t ack, sr;
  mx_irecv(ep, &z, 1, M_END, ~0ull, NULL, &ack);
  mx_isend(ep, &z, 1, peer, M_END, NULL, &sr);
  wait_one(ep, &sr);
  wait_one(ep, &ack);
}

struct measure measure_mx(mx_endpoint_t ep, mx_endpoint_addr_t peer, int stream, uint32_t size,
                          int n, char *buf)
{
  int warm = n / 10 + 1;
  mx_segment_t seg = {buf, size};
  mx_request_t rq[BENCH_WINDOW], sr;
  struct measure m = {0};
  double c0 = 0;
  for (int i = 0; i < n + warm; i++) {
    if (i == warm) {
      m.t0 = clock_now_ns();
      c0 = measure_cpu_us();
    }
    if (!stream) {
      mx_isend(ep, &seg, 1, peer, M_PING, NULL, &sr);
      mx_irecv(ep, &seg, 1, M_PING, ~0ull, NULL, &rq[0]);
      wait_one(ep, &sr);
      wait_one(ep, &rq[0]);
      continue;
    }
    if (i >= BENCH_WINDOW)
      wait_one(ep, &rq[i % BENCH_WINDOW]);
    mx_isend(ep, &seg, 1, peer, M_DATA, NULL, &rq[i % BENCH_WINDOW]);
  }
  if (stream)
    stream_end(ep, peer, rq, n + warm, buf);
  m.t1 = clock_now_ns();
  double secs = (double)(m.t1 - m.t0) / 1e9;
  m.lat_us = stream ? secs / n * 1e6 : secs / n / 2 * 1e6;
  m.mbps = (double)size * n / secs / 1e6 * (stream ? 1 : 2);
  m.rate = n / secs;
  m.cpu_us = (measure_cpu_us() - c0) / n;
  return m;
}
