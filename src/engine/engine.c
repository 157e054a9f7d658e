/*
 * engine.c - the NIC engine thread: a round-robin scheduler over every open
 * VIF, with a per-round budget, plus the rendezvous copies in progress.
 *
 * When no VIF has work it polls adaptively (poll_policy.h): spin, yield,
 * then arm the data event of every request ring and sleep on its doorbell
 * eventfd, which guests ring only when they see the event armed.  So an
 * idle backend costs no CPU, and a busy one no syscalls.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../common/doorbell.h"
#include "../backend/backend.h"
#include "../common/log.h"
#include "../common/poll_policy.h"
#include "net.h"

#define ROUND_BUDGET 64
#define ENGINE_SLEEP_MS 100 /* a backstop: every request is meant to kick */
#define NET_BUSY_YIELD_NS 1000000ull

void engine_kick(struct backend *be)
{
  doorbell_ring(be->engine_doorbell);
}

/* One scheduling round; returns the amount of work done. */
static int engine_round(struct backend *be, uint32_t *rr)
{
  int work = 0;
  uint32_t n = be->cfg.max_endpoints;

  for (uint32_t k = 0; k < n; k++) {
    struct be_endpoint *ep = &be->eps[(*rr + k) % n];
    if (!ep->in_use)
      continue;
    work += engine_post_gone(be, ep);
    if (!ep->copy_mode) /* netback serves the copy datapaths' rings */
      work += engine_serve_vif(be, ep, ROUND_BUDGET);
  }
  *rr = (*rr + 1) % n;
  work += netback_engine_drain(be);
  work += pull_progress(be);
  work += net_progress(be);
  for (uint32_t k = 0; k < n; k++)
    if (be->eps[k].in_use)
      engine_flush_rx(be, &be->eps[k]);
  netback_flush(be);
  engine_count(&be->ec.rounds);
  return work;
}

/* Arm every request ring's data event; true when work arrived meanwhile. */
static int engine_arm(struct backend *be)
{
  int pending = be->pulls != NULL || be->nb.tx_head != NULL;
  for (uint32_t k = 0; k < be->cfg.max_endpoints; k++) {
    struct be_endpoint *ep = &be->eps[k];
    if (!ep->in_use || ep->copy_mode || atomic_load(&ep->vif->state) != VIF_OPEN)
      continue;
    int armed = qcons_arm(&ep->tx);
    if (armed < 0)
      engine_fail_vif(be, ep, DROP_RING_CORRUPT); /* published what it never wrote */
    if (armed != 0 || ep->gone_count)
      pending = 1;
  }
  return pending;
}

static void engine_disarm(struct backend *be)
{
  for (uint32_t k = 0; k < be->cfg.max_endpoints; k++) {
    struct be_endpoint *ep = &be->eps[k];
    if (ep->in_use && !ep->copy_mode && atomic_load(&ep->vif->state) == VIF_OPEN)
      qcons_disarm(&ep->tx);
  }
}

static void *engine_main(void *arg)
{
  struct backend *be = arg;
  struct poll_policy pol, busy_pol;
  uint64_t idle_since = clock_now_ns();
  int net_busy_now = 0;
  uint32_t rr = 0;
  int timed_out = 0; /* the last sleep ended by its timeout, not a kick */

  /* With network ports, the kernel's network stack needs the cores too
   * (its receive processing runs in softirq context, which a busy poller
   * defers): a long spin there tripled the cross-host latency (66 against
   * 20 us over veth).  Without ports, a longer spin serves the loopback. */
  if (be->net)
    poll_policy_from_env(&pol, 0, 20);
  else
    poll_policy_from_env(&pol, 50, 200);
  /* While packets are in flight the answer is a round trip away: sleeping
   * then costs a wake-up (tens of microseconds in a VM) per window, and
   * held a 1 MiB stream over veth to 0.8 GB/s against 2 GB/s yielding.
   * Yielding, not spinning: the softirq work and the guests get the core. */
  busy_pol = pol;
  if (busy_pol.yield_ns < NET_BUSY_YIELD_NS)
    busy_pol.yield_ns = NET_BUSY_YIELD_NS;
  /* An engine with a core of its own is the software NIC's I/O processor:
   * it never competes with the guests it serves. */
  if (be->cfg.engine_cpu >= 0 && cpu_pin(be->cfg.engine_cpu) < 0)
    log_warn("cannot pin the engine to core %d", be->cfg.engine_cpu);
  while (!atomic_load(&be->stop)) {
    pthread_mutex_lock(&be->lock);
    int work = engine_round(be, &rr);
    net_busy_now = net_busy(be);
    pthread_mutex_unlock(&be->lock);
    /* Work found after a sleep nobody ended: a request did not kick us. */
    if (work && timed_out)
      engine_count(&be->ec.late_wakeups);
    timed_out = 0;
    if (work) {
      idle_since = clock_now_ns();
      continue;
    }
    switch (poll_policy_step(net_busy_now ? &busy_pol : &pol, idle_since, clock_now_ns())) {
    case POLL_SPIN:
      for (int i = 0; i < 32; i++)
        cpu_relax();
      break;
    case POLL_YIELD:
      sched_yield();
      break;
    case POLL_SLEEP: {
      struct pollfd pfd[1 + 4];
      pthread_mutex_lock(&be->lock);
      int pending = engine_arm(be);
      int nfd = 1 + net_poll_fds(be, pfd + 1, 4);
      int ms = net_next_timer_ms(be);
      if (limit_any(be) && (ms < 0 || ms > 1))
        ms = 1; /* a throttled VIF's tokens come back with time, not with a kick */
      pthread_mutex_unlock(&be->lock);
      /* a network timer due sooner than the backstop shortens the sleep;
       * it is no late wake-up when it ends it */
      int timer = ms >= 0 && ms < ENGINE_SLEEP_MS;
      if (!pending && ms != 0) {
        pfd[0] = (struct pollfd){.fd = be->engine_doorbell, .events = POLLIN};
        engine_count(&be->ec.sleeps);
        int k = poll(pfd, (nfds_t)nfd, timer ? ms : ENGINE_SLEEP_MS);
        if (k > 0 && (pfd[0].revents & POLLIN)) {
          uint64_t v;
          if (read(be->engine_doorbell, &v, sizeof(v)) > 0)
            engine_count(&be->ec.wakeups);
        }
        timed_out = k == 0 && !timer;
      }
      pthread_mutex_lock(&be->lock);
      engine_disarm(be);
      pthread_mutex_unlock(&be->lock);
      idle_since = clock_now_ns();
      break;
    }
    }
  }
  return NULL;
}

int engine_start(struct backend *be)
{
  be->engine_doorbell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (be->engine_doorbell < 0)
    return -errno;
  int r = pthread_create(&be->engine_thread, NULL, engine_main, be);
  return -r;
}

void engine_stop(struct backend *be)
{
  atomic_store(&be->stop, 1);
  engine_kick(be);
  pthread_join(be->engine_thread, NULL);
}
