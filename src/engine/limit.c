/*
 * limit.c - per-VIF rate limits: a token bucket for bytes and one for
 * messages, refilled from the clock, checked by the engine before it takes
 * a request (and by nothing else: a VIF over its limit simply waits in its
 * own ring, the others go on).  Set by myrixend --vif-rate/--vif-msg-rate
 * for every new VIF, or per VIF by `myrixen vif set`.
 */
#include "../common/clock.h"
#include "engine_int.h"

#define BURST_NS 1000000ull /* a bucket holds 1 ms of its rate */

void limit_set(struct engine_vif *v, uint64_t bytes_per_s, uint64_t msgs_per_s)
{
  v->lim.bytes_per_s = bytes_per_s;
  v->lim.msgs_per_s = msgs_per_s;
  v->lim.bytes = 0;
  v->lim.msgs = 0;
  v->lim.refill_ns = clock_now_ns();
}

/* A bucket holds BURST_NS of its rate, and never less than one: below
 * 1000 messages a second, 1 ms of the rate is not one message, and a
 * bucket that small let nothing through at all. */
static double bucket_cap(uint64_t rate, double least)
{
  double cap = (double)rate * BURST_NS / 1e9;
  return cap < least ? least : cap;
}

static double refill(double tokens, uint64_t rate, uint64_t dt_ns, double cap)
{
  tokens += (double)rate * (double)dt_ns / 1e9;
  return tokens > cap ? cap : tokens;
}

int limit_allows(struct engine_vif *v, uint32_t bytes)
{
  struct vif_limit *l = &v->lim;
  if (!l->bytes_per_s && !l->msgs_per_s)
    return 1;
  uint64_t now = clock_now_ns(), dt = now - l->refill_ns;
  l->refill_ns = now;
  double cap = bucket_cap(l->bytes_per_s, 1);
  if (l->bytes_per_s)
    l->bytes = refill(l->bytes, l->bytes_per_s, dt, cap);
  if (l->msgs_per_s)
    l->msgs = refill(l->msgs, l->msgs_per_s, dt, bucket_cap(l->msgs_per_s, 1));
  /* a message larger than a full bucket goes once the bucket is full */
  double need = bytes > cap ? cap : bytes;
  if ((l->bytes_per_s && l->bytes < need) || (l->msgs_per_s && l->msgs < 1)) {
    v->c.throttled++;
    return 0;
  }
  if (l->bytes_per_s)
    l->bytes -= need;
  if (l->msgs_per_s)
    l->msgs -= 1;
  return 1;
}

int limit_allows_msg(struct engine_vif *v, const struct msg *m)
{
  return limit_allows(v, m->type == MSG_SMALL || m->type == MSG_FRAG ? m->len : m->total);
}

int limit_any(const struct engine *e)
{
  for (uint32_t i = 0; i < e->cfg.max_endpoints; i++)
    if (e->vifs[i].in_use && (e->vifs[i].lim.bytes_per_s || e->vifs[i].lim.msgs_per_s))
      return 1;
  return 0;
}
