/*
 * engine.c - the NIC engine thread: a round-robin scheduler over every open
 * VIF, with a per-round budget, plus the rendezvous copies in progress and
 * the network; and the engine's life (create, start, stop, destroy).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "../common/cpu.h"
#include "../common/doorbell.h"
#include "../common/log.h"
#include "../common/poll_policy.h"
#include "engine_int.h"

#define ROUND_BUDGET 64
#define ENGINE_SLEEP_MS 100 /* a backstop: every request is meant to kick */
#define NET_BUSY_YIELD_NS 1000000ull

int engine_round(struct engine *e, uint32_t *rr)
{
  int work = 0;
  uint32_t n = e->cfg.max_endpoints; /* engine_create checked: 1..ENGINE_MAX_ENDPOINTS */

  if (n == 0)
    return 0;
  for (uint32_t k = 0; k < n; k++) {
    struct engine_vif *v = &e->vifs[(*rr + k) % n];
    if (!v->in_use)
      continue;
    work += vif_post_gone(e, v);
    if (v->dp->engine_serves_tx)
      work += deliver_serve_vif(e, v, ROUND_BUDGET);
  }
  *rr = (*rr + 1) % n;
  work += netback_drain(e);
  work += pull_progress(e);
  work += net_progress(e);
  for (uint32_t k = 0; k < n; k++)
    if (e->vifs[k].in_use)
      e->vifs[k].dp->flush(e, &e->vifs[k]);
  netback_flush(e);
  engine_count(&e->ec.rounds);
  return work;
}

int engine_arm_rx_space(struct engine_vif *v)
{
  struct ring_hdr *r = &v->vif->rx.ring;
  return ring_arm_space_event(r, ring_load_cons(r));
}

/* Arm every request ring's data event, and the event rings something
 * waits to go into; true when work arrived meanwhile.  A request that
 * waits for a full destination is no work: the engine sleeps until that
 * destination's guest frees room (it kicks), not spins on it. */
/* True while a request waits for room at its destination: that guest is
 * busy, or off its core, and comes back soon; a sleep would cost it a
 * kick and us a wake-up, for each batch, while a guest that stays away
 * costs us a yield loop until the sleep. */
static int engine_blocked(struct engine *e)
{
  for (uint32_t k = 0; k < e->cfg.max_endpoints; k++)
    if (e->vifs[k].in_use && e->vifs[k].tx_blocked)
      return 1;
  return 0;
}

static int engine_arm(struct engine *e)
{
  int pending = e->pulls != NULL || netback_busy(e);
  for (uint32_t k = 0; k < e->cfg.max_endpoints; k++) {
    struct engine_vif *v = &e->vifs[k];
    if (!vif_usable(v))
      continue;
    if (v->rx_wanted && v->dp->engine_serves_tx && engine_arm_rx_space(v))
      pending = 1;
    if (v->gone_count && !v->rx_wanted)
      pending = 1;
    if (!v->dp->engine_serves_tx)
      continue;
    int armed = qcons_arm(&v->tx);
    if (armed < 0)
      vif_fail(e, v, DROP_RING_CORRUPT); /* published what it never wrote */
    if (armed > 0 && !v->tx_blocked)
      pending = 1;
  }
  return pending;
}

static void engine_disarm(struct engine *e)
{
  for (uint32_t k = 0; k < e->cfg.max_endpoints; k++) {
    struct engine_vif *v = &e->vifs[k];
    if (vif_usable(v) && v->dp->engine_serves_tx)
      qcons_disarm(&v->tx);
  }
}

/* While a guest that cannot ring the doorbell has a VIF open (a VM on
 * ivshmem-plain), a sleep is a poll: it ends after ENGINE_POLL_MIN_NS,
 * doubling while the engine finds nothing, up to ENGINE_POLL_MAX_NS (an
 * idle polled VM then costs 1000 wake-ups a second, not 20000). */
#define ENGINE_POLL_MIN_NS 50000ull
#define ENGINE_POLL_MAX_NS 1000000ull

enum { SLEEP_WOKEN = 1, SLEEP_BACKSTOP = 2 };

/* Nothing to do: arm, sleep until a kick, a packet or a timer (or, with a
 * polled VIF, poll_ns).  SLEEP_WOKEN when something ended it,
 * SLEEP_BACKSTOP when it ran to the backstop, unended by anything. */
static int engine_sleep(struct engine *e, uint64_t poll_ns)
{
  struct pollfd pfd[1 + 2 * ENGINE_MAX_PORTS];
  int how = 0;
  pthread_mutex_lock(&e->lock);
  int pending = engine_arm(e);
  int nfd = 1 + net_poll_fds(e, pfd + 1, 2 * ENGINE_MAX_PORTS);
  int ms = net_next_timer_ms(e);
  if (limit_any(e) && (ms < 0 || ms > 1))
    ms = 1; /* a throttled VIF's tokens come back with time, not with a kick */
  int polled = e->polled_vifs > 0;
  pthread_mutex_unlock(&e->lock);
  /* a network timer due sooner than the backstop shortens the sleep; it
   * is no late wake-up when it ends it; nor is a poll's end */
  int timer = (ms >= 0 && ms < ENGINE_SLEEP_MS) || polled;
  uint64_t ns = (uint64_t)(ms >= 0 && ms < ENGINE_SLEEP_MS ? ms : ENGINE_SLEEP_MS) * 1000000ull;
  if (polled && ns > poll_ns)
    ns = poll_ns;
  if (!pending && ms != 0) {
    pfd[0] = (struct pollfd){.fd = e->doorbell, .events = POLLIN};
    engine_count(&e->ec.sleeps);
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    int k = ppoll(pfd, (nfds_t)nfd, &ts, NULL);
    if (k > 0 && (pfd[0].revents & POLLIN)) {
      uint64_t v;
      if (read(e->doorbell, &v, sizeof(v)) > 0)
        engine_count(&e->ec.wakeups);
    }
    how = k > 0 ? SLEEP_WOKEN : k == 0 && !timer ? SLEEP_BACKSTOP : 0;
  } else {
    how = SLEEP_WOKEN; /* something was pending already */
  }
  pthread_mutex_lock(&e->lock);
  engine_disarm(e);
  if (how == SLEEP_WOKEN)
    net_woken(e, pfd + 1, nfd - 1);
  pthread_mutex_unlock(&e->lock);
  return how;
}

static void *engine_main(void *arg)
{
  struct engine *e = arg;
  struct poll_policy pol, busy_pol;
  uint64_t idle_since = clock_now_ns();
  uint32_t rr = 0;
  int timed_out = 0; /* the last sleep ended by its timeout, not a kick */
  uint64_t poll_ns = ENGINE_POLL_MIN_NS; /* a polled VIF's: grows while idle */

  /* With network ports, the kernel's network stack needs the cores too
   * (its receive processing runs in softirq context, which a busy poller
   * defers): a long spin there tripled the cross-host latency (66 against
   * 20 us over veth).  Without ports, a longer spin serves the loopback. */
  if (e->net)
    poll_policy_from_env(&pol, 0, 20);
  else
    poll_policy_from_env(&pol, 50, 200);
  if (e->cfg.has_spin)
    pol.spin_ns = (uint64_t)e->cfg.spin_us * 1000;
  if (e->cfg.has_yield)
    pol.yield_ns = (uint64_t)e->cfg.yield_us * 1000;
  /* While packets are in flight the answer is a round trip away: sleeping
   * then costs a wake-up (tens of microseconds in a VM) per window, and
   * held a 1 MiB stream over veth to 0.8 GB/s against 2 GB/s yielding.
   * Yielding, not spinning: the softirq work and the guests get the core. */
  /* With VMs attached, the engine sleeps as soon as it is idle: their
   * vCPUs are host threads that spin while their guests wait (a guest's
   * yield is no yield to the host), and an engine that spins beside them
   * takes a core from one (between two VMs under TCG here: 8 bytes took
   * 930 us with the engine spinning and yielding, 52 us with it asleep,
   * woken by the VMs' doorbell). */
  struct poll_policy vm_pol = {0, 0};
  busy_pol = pol;
  if (busy_pol.yield_ns < NET_BUSY_YIELD_NS)
    busy_pol.yield_ns = NET_BUSY_YIELD_NS;
  /* An engine with a core of its own is the software NIC's I/O processor:
   * it never competes with the guests it serves. */
  if (e->cfg.engine_cpu >= 0 && cpu_pin(e->cfg.engine_cpu) < 0)
    log_warn("cannot pin the engine to core %d", e->cfg.engine_cpu);
  while (!atomic_load(&e->stop)) {
    pthread_mutex_lock(&e->lock);
    int work = engine_round(e, &rr);
    /* (asked only when the round found nothing: the policy needs it then) */
    int busy_now = !work && (net_busy(e) || engine_blocked(e));
    int vms = e->vm_vifs > 0;
    pthread_mutex_unlock(&e->lock);
    /* Work found after a sleep nobody ended: a request did not kick us. */
    if (work && timed_out)
      engine_count(&e->ec.late_wakeups);
    timed_out = 0;
    if (work) {
      idle_since = clock_now_ns();
      poll_ns = ENGINE_POLL_MIN_NS;
      continue;
    }
    switch (poll_policy_step(busy_now ? &busy_pol : vms ? &vm_pol : &pol, idle_since,
                             clock_now_ns())) {
    case POLL_SPIN:
      for (int i = 0; i < 32; i++)
        cpu_relax();
      break;
    case POLL_YIELD:
      sched_yield();
      break;
    case POLL_SLEEP: {
      int how = engine_sleep(e, poll_ns);
      timed_out = how == SLEEP_BACKSTOP;
      /* Woken, the engine polls again before its next sleep; a sleep that
       * timed out is followed by the next at once (should its round find
       * nothing), a polled VIF's a little longer. */
      if (how == SLEEP_WOKEN)
        idle_since = clock_now_ns();
      else if (poll_ns < ENGINE_POLL_MAX_NS)
        poll_ns *= 2;
      break;
    }
    }
  }
  return NULL;
}

int engine_create(const struct engine_config *cfg, struct engine **out, char *err,
                  size_t errlen)
{
  struct engine *e = calloc(1, sizeof(*e));
  if (!e) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (cfg->max_endpoints == 0 || cfg->max_endpoints > ENGINE_MAX_ENDPOINTS) {
    snprintf(err, errlen, "max_endpoints %u: want 1 to %d", cfg->max_endpoints,
             ENGINE_MAX_ENDPOINTS);
    free(e);
    return -1;
  }
  e->cfg = *cfg;
  e->doorbell = -1;
  e->done_fd = -1;
  pthread_mutex_init(&e->lock, NULL);
  e->doorbell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (e->doorbell < 0 || completion_init(e) < 0 || netback_init(e) < 0) {
    snprintf(err, errlen, "eventfd: %s", strerror(errno));
    goto fail;
  }
  if (net_setup(e, err, errlen) < 0)
    goto fail;
  *out = e;
  return 0;
fail:
  engine_destroy(e);
  return -1;
}

int engine_start(struct engine *e)
{
  int r = netback_start(e);
  if (r < 0)
    return r;
  r = -pthread_create(&e->thread, NULL, engine_main, e);
  if (r < 0) {
    atomic_store(&e->stop, 1);
    netback_stop(e);
    return r;
  }
  e->started = 1;
  return 0;
}

void engine_stop(struct engine *e)
{
  if (!e->started)
    return;
  atomic_store(&e->stop, 1);
  doorbell_ring(e->doorbell);
  pthread_join(e->thread, NULL);
  netback_stop(e);
  e->started = 0;
}

void engine_destroy(struct engine *e)
{
  if (!e)
    return;
  engine_stop(e);
  pull_free_all(e);
  net_teardown(e);
  netback_fini(e);
  completion_fini(e);
  if (e->doorbell >= 0)
    close(e->doorbell);
  pthread_mutex_destroy(&e->lock);
  free(e);
}

int engine_doorbell(struct engine *e, uint32_t datapath)
{
  /* the copy datapaths' requests are taken by netback, which the guest kicks */
  return datapath == DP_COPY || datapath == DP_COPY_BATCH ? netback_doorbell(e) : e->doorbell;
}
