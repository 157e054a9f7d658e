/*
 * progress.c - the endpoint's progress loop and its adaptive wait.
 *
 * Progress drains the event ring from the engine, every direct channel and
 * the lane, moves large data through the channel pipes, and pushes
 * backlogs.  A
 * waiter spins, then yields, then arms every event it could get (event
 * ring, channels, pipes, the control socket) and sleeps on its doorbell:
 * an idle mx_wait costs no CPU.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/poll_policy.h"
#include "lib.h"
#include "provider.h"
#include "base.h"
#include "txq.h"
#include "channel.h"
#include "conn.h"
#include "lane.h"
#include "send.h"
#include "recv.h"
#include "reach.h"
#include "progress.h"

/* Everything pending ends with code: the endpoint cannot work any more. */
static void ep_die(struct mx_endpoint *ep, mx_status_code_t code)
{
  ep->dead = 1;
  ep->dead_code = code;
  ep->connecting = NULL; /* completed below with the rest */
  while (ep->chans)
    conn_fail(ep, ep->chans->conn, code);
  for (struct conn *c = ep->conns; c; c = c->next)
    lane_fail(ep, c, code);
  txq_fail(ep, &ep->etx, code);
  for (uint32_t i = 0; i < ep->nhandles; i++) {
    struct req *r = ep->handles[i];
    if (!r || r->kind == REQ_CTL || r->state == RS_DONE || r->state == RS_UNEXP)
      continue;
    if (r->state == RS_POSTED)
      reqlist_remove(&ep->posted, r);
    partial_remove(ep, r);
    req_complete(ep, r, code);
  }
}

static int progress_channel(struct mx_endpoint *ep, struct chan *ch);

/* --- the lane's stream, above it (lane.h) ---------------------------------- */

/* A packet in order on a lane stream: a message, or a piece of one. */
static int lane_deliver(void *ctx, struct rel_stream *s, const struct wire_hdr *h,
                        const uint8_t *payload)
{
  struct lane_peer *lp = ctx;
  struct msg m;
  const uint8_t *eager;
  (void)s;
  if (lane_take(lp, h, payload, &m, &eager) > 0)
    recv_incoming(lp->ep, NULL, &m, eager);
  return 1; /* always taken: the unexpected queue holds what no receive wants yet */
}

/* An eager send's last packet was acknowledged: the other host has it. */
static void lane_acked(void *ctx, struct rel_stream *s, const struct rel_note *note)
{
  struct lane_peer *lp = ctx;
  struct msg m = {.type = MSG_NOTIFY, .flags = MSG_F_LANE, .cookie = note->cookie,
                  .status = MSG_ST_OK, .total = note->total, .peer_eid = lp->eid,
                  .peer_nic = lp->nic};
  (void)s;
  send_acked(lp->ep, &m, MX_STATUS_SUCCESS);
}

const struct rel_io progress_lane_io = {
    .send = lane_link_send,
    .deliver = lane_deliver,
    .acked = lane_acked,
    .give_up = lane_link_give_up,
    .keep = lane_link_keep,
    .now = lane_link_now,
};

/* A peer that connected to us has a lane its backend vouched for. */
static void lane_peer_event(struct mx_endpoint *ep, const struct msg *m)
{
  struct lane_addr a;
  struct conn *c = ep->lane && m->seq ? conn_get(ep, m->peer_nic, m->peer_eid, 1) : NULL;
  if (!c || c->ch)
    return;
  memcpy(&a, m->data, sizeof(a));
  if (c->session && c->session != m->seq) {
    /* a new incarnation of the peer: what was in progress with the old
     * one ends, and the path is chosen afresh */
    conn_fail(ep, c, MX_STATUS_ENDPOINT_CLOSED);
    lane_unbind(ep, c);
    c->dead = 0;
    c->path = PATH_NONE;
  }
  /* (Otherwise the path stays: messages sent on the engines before, still
   * in flight, must not be overtaken.) */
  c->session = m->seq;
  lane_bind(ep, c, &a, m->seq);
}

/* An endpoint closed, or its guest died, or its whole host (MSG_PEER_GONE):
 * what we had in progress with it fails, but what its last ack covers. */
void progress_peer_gone(struct mx_endpoint *ep, const struct msg *m)
{
  if (m->peer_eid == MSG_EID_ALL) {
    /* a whole host stopped answering: every connection to it fails */
    for (struct conn *c = ep->conns; c; c = c->next)
      if (c->nic == m->peer_nic) {
        conn_fail(ep, c, msg_status_code(m->status));
        lane_unbind(ep, c); /* nothing resent to it any more */
      }
    return;
  }
  struct conn *c = conn_get(ep, m->peer_nic, m->peer_eid, 0);
  if (!c || (m->seq && c->session && m->seq != c->session))
    return; /* (an incarnation of it that is gone already) */
  if (c->ch)
    progress_channel(ep, c->ch); /* what it sent before dying still counts */
  if (c->lane) {
    lane_input(ep, 0);
    if (m->flags & MSG_F_LAST_ACK)
      lane_last_ack(ep, c, m->seq, (uint32_t)m->cookie2); /* its ack of what it took */
  }
  conn_fail(ep, c, MX_STATUS_ENDPOINT_CLOSED);
  lane_unbind(ep, c);
  if (c->remote) {
    /* An endpoint of another host closed (WIRE_EP_GONE): what was in
     * progress with it failed.  The connection is not marked dead: a new
     * incarnation may connect to us and be answered without a connect of
     * ours (MX), and a message to the closed one is refused by its
     * engine (NACK) as before. */
    c->dead = 0;
    c->session = 0;
    if (!c->ch)
      c->path = PATH_NONE;
  }
}

static void engine_event(struct mx_endpoint *ep, const struct msg *m, const uint8_t *eager)
{
  struct msg own;
  if (m->flags & MSG_F_LANE) { /* the library's own mark: never the engine's to set */
    own = *m;
    own.flags &= (uint8_t)~MSG_F_LANE;
    m = &own;
  }
  switch (m->type) {
  case MSG_SMALL:
  case MSG_FRAG:
  case MSG_RNDV:
    recv_incoming(ep, NULL, m, eager);
    break;
  case MSG_SYNC_ACK:
    send_acked(ep, m, MX_STATUS_SUCCESS);
    break;
  case MSG_NOTIFY:
    send_acked(ep, m, msg_status_code(m->status));
    break;
  case MSG_NACK:
    send_acked(ep, m, m->status == MSG_ST_OK ? MX_STATUS_ENDPOINT_CLOSED : msg_status_code(m->status));
    break;
  case MSG_PULL_DONE:
    recv_event(ep, m);
    break;
  case MSG_LANE_PEER:
    lane_peer_event(ep, m);
    break;
  case MSG_PEER_GONE:
    progress_peer_gone(ep, m);
    break;
  default:
    break; /* the engine sends nothing else; ignore rather than trust */
  }
}

/* A direct channel's progress: the peer's messages, then the pipes and
 * our backlog.  Slots are given back one call late: the release's fence
 * then costs nothing between a message's arrival and the application's
 * answer.  A call gives back what the last one took, at most 31 slots (a
 * longer drain releases as it goes), and arming to sleep gives back all. */
static int progress_channel(struct mx_endpoint *ep, struct chan *ch)
{
  struct msg m;
  const uint8_t *eager;
  int work = 0, r;

  chan_release(ch);
  while ((r = chan_next(ch, &m, &eager)) > 0) {
    switch (m.type) {
    case MSG_SYNC_ACK:
      send_acked(ep, &m, MX_STATUS_SUCCESS);
      break;
    case MSG_LARGE_DONE:
      if (chan_large_done(ep, ch, &m))
        send_acked(ep, &m, MX_STATUS_SUCCESS);
      break;
    case MSG_CTS:
      chan_cts(ep, ch, &m);
      break;
    case MSG_WRITTEN:
      chan_written(ep, ch, &m);
      break;
    default:
      recv_incoming(ep, ch, &m, eager);
    }
    chan_advance(ch, &m, ++work);
  }
  int moved = r < 0 ? -1 : chan_move(ep, ch);
  if (moved < 0) {
    conn_fail(ep, ch->conn, MX_STATUS_ENDPOINT_CLOSED);
    return work + 1;
  }
  return work + moved;
}

#define TIMER_EVERY_NS 1000000ull

/* Deadlines (mx_set_request_timeout) and connect retries: looked at once a
 * millisecond, and only by endpoints that use them. */
static int ep_timers(struct mx_endpoint *ep)
{
  uint64_t now = clock_now_ns();
  if (now < ep->next_timer_ns)
    return 0;
  ep->next_timer_ns = now + TIMER_EVERY_NS;
  int work = reach_progress(ep, now);
  if (ep->timers) {
    work += txq_expire(ep, &ep->etx, now);
    work += lane_expire(ep, now);
    for (struct chan *ch = ep->chans; ch; ch = ch->next)
      work += txq_expire(ep, &ch->tx, now);
  }
  return work;
}

/* Every direct channel's progress (one may close on the way). */
static int chans_progress(struct mx_endpoint *ep)
{
  int work = 0;
  for (struct chan *ch = ep->chans, *nx; ch; ch = nx) {
    nx = ch->next;
    work += progress_channel(ep, ch);
  }
  return work;
}

/* Give the event slots taken back to the engine; kick it when it asked
 * (it sleeps with something waiting for this room). */
static void release_events(struct mx_endpoint *ep)
{
  if (qcons_release(&ep->erx))
    lib_kick(lib.engine_doorbell);
}

/* The backend died without a word: its end of our socket is closed (in a
 * VM: its beat stands still). */
static int backend_died(struct mx_endpoint *ep)
{
  if (lib.vm)
    return vmdev_backend_silent();
  struct pollfd p = {.fd = ep->sock, .events = 0};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR));
}

int progress_once(struct mx_endpoint *ep)
{
  struct msg m;
  const uint8_t *eager;
  int work = 0, r;

  /* A burst's held sends (lane_post) leave first, whatever follows: with
   * progression disabled, and before a timer's connect that may block. */
  lane_flush(ep);
  if (ep->dead || ep->progress_off)
    return 0;
  if (ep->connecting || ep->timers)
    work += ep_timers(ep);
  /* Acks due from the last pass leave now, not at its end: an answer the
   * application sent meanwhile carried them, and a ping-pong sends none. */
  if (ep->lane)
    work += lane_timers(ep, clock_now_ns());
  struct region_hdr *hdr = ep->region;
  if (atomic_load_explicit(&hdr->backend_state, memory_order_relaxed) != BACKEND_RUNNING) {
    ep_die(ep, MX_STATUS_ENDPOINT_CLOSED);
    return 1;
  }
  uint32_t seq = atomic_load_explicit(&ep->vif->ctl_seq, memory_order_acquire);
  if (seq != ep->ctl_seq_seen) {
    ep->ctl_seq_seen = seq;
    ctl_poll_async();
  }
  if (atomic_load_explicit(&lib.async_pending, memory_order_relaxed))
    reach_take_attached(ep);
  /* As a channel's (progress_channel): slots go back one call late. */
  release_events(ep);
  while ((r = qcons_next(&ep->erx, &m, &eager)) > 0) {
    engine_event(ep, &m, eager);
    qcons_advance(&ep->erx, &m);
    work++;
    if (ep->dead)
      return work;
    if (work % 32 == 0)
      release_events(ep);
  }
  if (r < 0 || atomic_load_explicit(&ep->vif->state, memory_order_relaxed) != VIF_OPEN) {
    ep_die(ep, MX_STATUS_ENDPOINT_CLOSED);
    return work + 1;
  }
  work += chans_progress(ep);
  work += lane_input(ep, 0);
  work += txq_drain(ep, &ep->etx);
  if (++ep->passes % 1024 == 0)
    work += lane_input(ep, 1); /* datagrams for a lane with no peer: refused */
  if (ep->passes % 1024 == 0 && backend_died(ep)) {
    ep_die(ep, MX_STATUS_ENDPOINT_CLOSED); /* a guest that only polls learns it too */
    return 1;
  }
  return work;
}

/* Arm every event source; true when something is already pending. */
static int ep_arm(struct mx_endpoint *ep, struct pollfd *pfd, int *n, int max)
{
  /* Slots still held go back before we sleep. */
  release_events(ep);
  int pending = qcons_arm(&ep->erx);
  if (pending < 0) {
    ep_die(ep, MX_STATUS_ENDPOINT_CLOSED); /* the engine published what it never wrote */
    return 1;
  }
  if (ep->etx.bl_head)
    pending |= ring_arm_space_event(&ep->etx.p.q->ring, ring_load_cons(&ep->etx.p.q->ring));
  pfd[(*n)++] = (struct pollfd){.fd = ep->doorbell, .events = POLLIN};
  pfd[(*n)++] = (struct pollfd){.fd = ep->sock, .events = POLLIN};
  if (ep->lane && ep->lane->npeers) {
    lane_flush_acks(ep); /* the acks due leave before we sleep */
    pfd[(*n)++] = (struct pollfd){.fd = ep->lane->fd, .events = POLLIN};
  }
  for (struct chan *ch = ep->chans; ch; ch = ch->next) {
    chan_release(ch);
    int armed = qcons_arm(&ch->rx);
    if (armed < 0) {
      conn_fail(ep, ch->conn, MX_STATUS_ENDPOINT_CLOSED); /* the peer broke the channel */
      return 1;
    }
    pending |= armed;
    if (ch->tx.bl_head)
      pending |= ring_arm_space_event(&ch->tx.p.q->ring, ring_load_cons(&ch->tx.p.q->ring));
    if (*n + 2 <= max)
      chan_arm(ch, pfd, n);
  }
  return pending;
}

static void ep_disarm(struct mx_endpoint *ep)
{
  qcons_disarm(&ep->erx);
  for (struct chan *ch = ep->chans; ch; ch = ch->next)
    qcons_disarm(&ch->rx);
}

/* A waiter's pass between full ones: the direct channels and the lane,
 * where answers arrive with nothing else to do, and a look at the event
 * ring's next tag (an event there gets the full pass at once).  (Lanes
 * were read only in full passes: an endpoint with a direct channel read
 * its lane every 16th poll, and one with only a lane paid a full pass a
 * poll, 8 B across hosts 1.16 -> 1.14x busy UDP, medians of 8 pairs.)  The rest (control
 * messages, the backend's state, timers, backlogs) waits for the full pass
 * every WAIT_FULL_EVERY polls: a shorter pass is a shorter wait between a
 * line's arrival and the poll that sees it. */
#define WAIT_FULL_EVERY 16
static int ep_progress_light(struct mx_endpoint *ep)
{
  int lanes = ep->lane && ep->lane->npeers;
  if (ep->dead || ep->progress_off || (!ep->chans && !lanes) || qcons_ready(&ep->erx))
    return progress_once(ep);
  return chans_progress(ep) + (lanes ? lane_input(ep, 0) : 0);
}

int progress_poll(struct mx_endpoint *ep)
{
  return ++ep->test_polls % WAIT_FULL_EVERY == 1 ? progress_once(ep) : ep_progress_light(ep);
}

#define WAIT_FDS 64
#define WAIT_CLOCK_EVERY 16

/* The wait's clock: the first read starts the idle time and the deadline. */
static uint64_t wait_clock(int *on, uint64_t *idle_since, uint64_t *deadline, uint32_t timeout_ms)
{
  uint64_t now = clock_now_ns();
  if (!*on) {
    *on = 1;
    *idle_since = now;
    if (timeout_ms)
      *deadline = now + (uint64_t)timeout_ms * 1000000ull;
  }
  return now;
}

/* Held off (a handler runs, or progression is disabled): sleep until it
 * ends, at most a millisecond, rather than spin on events nobody may take. */
static void wait_held_off(struct mx_endpoint *ep)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_nsec += 1000000;
  if (ts.tv_nsec >= 1000000000) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000;
  }
  pthread_cond_timedwait(&ep->progress_on, &ep->lock, &ts);
}

/* Nothing came for a while: arm every event source and sleep (lock
 * dropped) until one fires, the deadline, or a second. */
/* In a VM nothing can wake us (ivshmem-plain has no interrupts we could
 * take in user space): a sleep is a short nap, and the rings are looked
 * at again after it. */
#define WAIT_VM_NAP_MIN_NS 50000ull
#define WAIT_VM_NAP_MAX_NS 1000000ull
static void wait_sleep(struct mx_endpoint *ep, uint64_t now, uint64_t deadline,
                       uint64_t idle_since)
{
  struct pollfd pfd[WAIT_FDS];
  int n = 0;
  if (lib.vm) {
    /* naps grow with the idle time: an idle program does not keep its
     * vCPU awake 20000 times a second */
    uint64_t ns = (now - idle_since) / 16;
    ns = ns < WAIT_VM_NAP_MIN_NS ? WAIT_VM_NAP_MIN_NS : ns > WAIT_VM_NAP_MAX_NS ? WAIT_VM_NAP_MAX_NS : ns;
    if (deadline - now < ns)
      ns = deadline - now;
    struct timespec ts = {0, (long)ns};
    pthread_mutex_unlock(&ep->lock);
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&ep->lock);
    return;
  }
  if (ep->dead) {
    /* nothing will ever arrive: just wait for the deadline or a wakeup */
    pfd[n++] = (struct pollfd){.fd = ep->doorbell, .events = POLLIN};
  } else if (ep_arm(ep, pfd, &n, WAIT_FDS)) {
    ep_disarm(ep);
    return;
  }
  uint64_t wake = lane_next_timer(ep); /* a resend, a held packet */
  if (wake < deadline)
    deadline = wake > now ? wake : now;
  uint64_t left_ms = deadline == UINT64_MAX ? 1000 : (deadline - now) / 1000000 + 1;
  int ms = left_ms > 1000 ? 1000 : (int)left_ms;
  if (ep->sleepers)
    ms = ms > 10 ? 10 : ms; /* another sleeper may eat the doorbell */
  ep->sleepers++;
  pthread_mutex_unlock(&ep->lock);
  int k = poll(pfd, (nfds_t)n, ms);
  pthread_mutex_lock(&ep->lock);
  ep->sleepers--;
  if (k > 0 && (pfd[0].revents & POLLIN)) {
    uint64_t v;
    if (read(ep->doorbell, &v, sizeof(v)) < 0) {
      /* EAGAIN: another waiter took it */
    }
  }
  if (k > 0 && n > 1 && (pfd[1].revents & (POLLHUP | POLLERR)) && !ep->dead) {
    /* The backend is gone without a word: fail, do not hang. */
    ep_die(ep, MX_STATUS_ENDPOINT_CLOSED);
  } else if (k > 0 && n > 1 && (pfd[1].revents & POLLIN)) {
    ctl_poll_async();
  }
  if (!ep->dead)
    ep_disarm(ep);
}

/* Endpoints whose answers come with no engine between (direct channels,
 * lanes) spin longer: a sleep would cost more than the answer takes. */
static uint64_t ep_spin_ns(const struct mx_endpoint *ep)
{
  return ep->chans || (ep->lane && ep->lane->npeers) ? lib.channel_spin_ns
                                                     : lib.wait_policy.spin_ns;
}

void lib_lane_flush(mx_endpoint_t ep)
{
  pthread_mutex_lock(&ep->lock);
  lane_flush(ep);
  pthread_mutex_unlock(&ep->lock);
}

uint64_t lib_spin_ns(mx_endpoint_t ep)
{
  pthread_mutex_lock(&ep->lock);
  uint64_t ns = ep_spin_ns(ep);
  pthread_mutex_unlock(&ep->lock);
  return ns;
}

int progress_wait(struct mx_endpoint *ep, uint32_t timeout_ms,
                  int (*done)(struct mx_endpoint *, void *), void *arg)
{
  struct poll_policy policy = lib.wait_policy;
  policy.spin_ns = ep_spin_ns(ep);
  const struct poll_policy *pol = &policy;
  uint32_t gen = ep->wakeup_gen;
  /* The clock starts at the WAIT_CLOCK_EVERY-th poll, not at the call: a
   * clock read costs 20 ns here, and a waiter that reads it first polls
   * that much later.  (At the call it was 17% of a same-host message's
   * software path.)  Until then now is 0: the policy spins (or yields,
   * with no spin configured) and the deadline is not yet counted. */
  uint64_t now = 0, idle_since = 0, deadline = UINT64_MAX;
  int clock_on = 0;

  for (uint32_t polls = 1;; polls++) {
    if ((polls % WAIT_FULL_EVERY == 1 ? progress_once(ep) : ep_progress_light(ep)))
      idle_since = now;
    if (done(ep, arg))
      return 1;
    if (ep->wakeup_gen != gen)
      return 0;
    /* The clock is read every few polls (and after a held-off sleep): its
     * cost showed in profiles, and the deadline and the policy need
     * microseconds, not nanoseconds. */
    if (ep->progress_off)
      wait_held_off(ep);
    if (ep->progress_off || polls % WAIT_CLOCK_EVERY == 0) {
      now = wait_clock(&clock_on, &idle_since, &deadline, timeout_ms);
      if (now >= deadline)
        return 0;
      if (ep->progress_off)
        continue;
    }
    enum poll_step step = poll_policy_step(pol, idle_since, now);
    if (step == POLL_SPIN && now < ep->engine_work_until)
      step = POLL_YIELD; /* our engine has work of ours: its core, not our spin */
    switch (step) {
    case POLL_SPIN:
      /* one pause between polls: sixteen (as before) doubled the 8-byte
       * latency of a direct channel, the message waiting out the pauses */
      pthread_mutex_unlock(&ep->lock);
      cpu_relax();
      pthread_mutex_lock(&ep->lock);
      break;
    case POLL_YIELD:
      pthread_mutex_unlock(&ep->lock);
      sched_yield();
      pthread_mutex_lock(&ep->lock);
      break;
    case POLL_SLEEP:
      now = wait_clock(&clock_on, &idle_since, &deadline, timeout_ms);
      if (now >= deadline)
        return 0;
      wait_sleep(ep, now, deadline, idle_since);
      now = clock_now_ns();
      if (!lib.vm) /* (a VM's nap is a poll: the idle time goes on) */
        idle_since = now;
      break;
    }
  }
}
