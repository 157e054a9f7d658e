/*
 * poll_policy.h - adaptive polling: spin briefly, then yield, then sleep.
 *
 * These hosts have two cores and other busy pollers: a waiter that spins
 * forever steals the core its peer needs.  So every waiter (guest in
 * mx_wait, engine thread) spins for spin_ns, then polls with sched_yield
 * (letting a peer on the same core run) for yield_ns, then arms its event
 * channel and sleeps.  Both limits come from the environment
 * (MYRIXEN_SPIN_US, MYRIXEN_YIELD_US) so that they can be measured.
 */
#ifndef MYRIXEN_POLL_POLICY_H
#define MYRIXEN_POLL_POLICY_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "clock.h"
#include "cpu.h"

struct poll_policy {
  uint64_t spin_ns;
  uint64_t yield_ns;
};

enum poll_step { POLL_SPIN, POLL_YIELD, POLL_SLEEP };

static inline void poll_policy_from_env(struct poll_policy *p, uint64_t spin_us, uint64_t yield_us)
{
  const char *s = getenv("MYRIXEN_SPIN_US"), *y = getenv("MYRIXEN_YIELD_US");
  p->spin_ns = (s ? strtoull(s, NULL, 10) : spin_us) * 1000;
  p->yield_ns = (y ? strtoull(y, NULL, 10) : yield_us) * 1000;
}

/* What to do after idling since idle_since (ns, clock_now_ns). */
static inline enum poll_step poll_policy_step(const struct poll_policy *p, uint64_t idle_since,
                                              uint64_t now)
{
  uint64_t idle = now - idle_since;
  if (idle < p->spin_ns)
    return POLL_SPIN;
  if (idle < p->spin_ns + p->yield_ns)
    return POLL_YIELD;
  return POLL_SLEEP;
}

#endif
