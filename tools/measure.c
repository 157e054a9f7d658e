/* measure.c - see measure.h. */
#include <string.h>
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
  for (int i = sent - sent % BENCH_WINDOW; i < sent; i++)
    wait_one(ep, &rq[i % BENCH_WINDOW]);
  mx_segment_t z = {buf, 0};
  mx_request_t ack, sr;
  mx_irecv(ep, &z, 1, M_END, ~0ull, NULL, &ack);
  mx_isend(ep, &z, 1, peer, M_END, NULL, &sr);
  wait_one(ep, &sr);
  wait_one(ep, &ack);
}

/* Send i of total: a window's last send waits for the window, then for
 * the receiver's acknowledgement, whose receive went up with its first. */
static void stream_send(mx_endpoint_t ep, mx_endpoint_addr_t peer, mx_segment_t *seg,
                        mx_request_t *rq, mx_request_t *ack, int i, int total)
{
  int w = i % BENCH_WINDOW;
  if (w == 0 && i + BENCH_WINDOW <= total) {
    mx_segment_t z = {seg->segment_ptr, 0};
    mx_irecv(ep, &z, 1, M_ACK, ~0ull, NULL, ack);
  }
  mx_isend(ep, seg, 1, peer, M_DATA, NULL, &rq[w]);
  if (w == BENCH_WINDOW - 1) {
    for (int k = 0; k < BENCH_WINDOW; k++)
      wait_one(ep, &rq[k]);
    wait_one(ep, ack);
  }
}

static int source_index(struct stream_acks *a, mx_endpoint_addr_t src)
{
  for (int i = 0; i < a->n; i++)
    if (!memcmp(&a->src[i], &src, sizeof(src)))
      return i;
  if (a->n < BENCH_MAX_SOURCES) {
    a->src[a->n] = src;
    a->seen[a->n] = 0;
    return a->n++;
  }
  for (int i = 0; i < a->n; i++) /* a long-lived server: ended sources make room */
    if (a->seen[i] == 0) {
      a->src[i] = src;
      return i;
    }
  return -1;
}

void stream_ack_data(mx_endpoint_t ep, struct stream_acks *a, mx_endpoint_addr_t src)
{
  int i = source_index(a, src);
  if (i < 0 || ++a->seen[i] % BENCH_WINDOW)
    return;
  static char none; /* a zero-length segment still names a buffer */
  mx_segment_t z = {&none, 0};
  mx_request_t sr;
  mx_isend(ep, &z, 1, src, M_ACK, NULL, &sr);
  wait_one(ep, &sr);
}

void stream_ack_end(struct stream_acks *a, mx_endpoint_addr_t src)
{
  int i = source_index(a, src);
  if (i >= 0)
    a->seen[i] = 0;
}

struct measure measure_mx(mx_endpoint_t ep, mx_endpoint_addr_t peer, int stream, uint32_t size,
                          int n, char *buf)
{
  int warm = n / 10 + 1;
  mx_segment_t seg = {buf, size};
  mx_request_t rq[BENCH_WINDOW], sr, ack;
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
    stream_send(ep, peer, &seg, rq, &ack, i, n + warm);
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
