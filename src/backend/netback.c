/*
 * netback.c - the copy datapaths: the classic split driver, kept for
 * comparison with bypass (issue: datapaths compared).
 *
 * For a guest that asked for DP_COPY or DP_COPY_BATCH, the engine does not
 * read the guest's rings.  A backend thread of its own, like Xen's netback
 * in the driver domain, takes each request from the guest's request ring,
 * copies it and its payload into a backend buffer (the grant copy), hands
 * the buffer to the engine through a queue, and does the same on the way
 * back: the engine hands events for the guest to netback, which copies
 * them into the guest's event ring.
 *
 * - copy: one request at a time, and a notification for each one in both
 *   directions (the guest kicks netback for every request, netback kicks
 *   the engine for every buffer and the guest for every event), as a split
 *   driver without aggregation does.
 * - copy-batch: as many requests as wait (up to a batch), one notification
 *   per batch, and notification suppression on both rings (the guest kicks
 *   only when netback armed its event before sleeping), as the packet
 *   aggregation work on Xen's driver domain did.
 *
 * Netback takes the backend lock for each round, as the engine does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/poll_policy.h"
#include "backend.h"

#define NB_BATCH 64
#define NB_QUEUE_MAX 1024        /* buffers in flight each way: then back-pressure */
#define NB_SLEEP_MS 100

struct nb_item {
  struct nb_item *next;
  uint32_t eid, session;
  struct msg m;
  uint8_t eager[];
};

static void kick(int fd)
{
  uint64_t one = 1;
  if (write(fd, &one, sizeof(one)) < 0) {
    /* saturated: the other side is being woken anyway */
  }
}

static struct nb_item *item_new(const struct be_endpoint *ep, const struct msg *m,
                                const void *eager)
{
  uint32_t len = m->type == MSG_FRAG ? m->len : 0;
  struct nb_item *it = malloc(sizeof(*it) + len);
  if (!it)
    return NULL;
  it->next = NULL;
  it->eid = ep->eid;
  it->session = ep->session;
  it->m = *m; /* the grant copy: descriptor and inline data ... */
  if (len)
    memcpy(it->eager, eager, len); /* ... and the eager payload */
  return it;
}

static void push(struct nb_item **head, struct nb_item **tail, struct nb_item *it)
{
  if (*tail)
    (*tail)->next = it;
  else
    *head = it;
  *tail = it;
}

static struct nb_item *pop(struct nb_item **head, struct nb_item **tail)
{
  struct nb_item *it = *head;
  *head = it->next;
  if (!*head)
    *tail = NULL;
  return it;
}

/* --- guest to engine ------------------------------------------------------ */

/* Copy what waits in ep's request ring (up to max) into backend buffers
 * for the engine. */
static int take_requests(struct backend *be, struct be_endpoint *ep, int max)
{
  struct netback *nb = &be->nb;
  int batch = ep->copy_mode == DP_COPY_BATCH;
  int n = 0;
  struct msg m;
  const uint8_t *eager;
  while (n < max && nb->tx_len < NB_QUEUE_MAX) {
    int r = qcons_next(&ep->tx, &m, &eager);
    if (r == 0)
      break;
    if (r < 0 || !engine_request_valid(be, &m)) {
      engine_fail_vif(be, ep, r < 0 ? DROP_RING_CORRUPT : DROP_BAD_REQUEST);
      break;
    }
    struct nb_item *it = item_new(ep, &m, eager);
    if (!it)
      break;
    push(&nb->tx_head, &nb->tx_tail, it);
    nb->tx_len++;
    qcons_advance(&ep->tx, &m);
    nb->copies++;
    nb->bytes += m.type == MSG_FRAG ? m.len : m.type == MSG_SMALL ? m.len : 0;
    n++;
  }
  if (!n)
    return 0;
  if (qcons_release(&ep->tx))
    kick(ep->doorbell); /* the guest waits for room */
  if (!batch)
    ring_arm_data_event(&ep->tx.q->ring, ep->tx.cons); /* a kick for the next request too */
  nb->engine_kicks++;
  kick(be->engine_doorbell);
  return n;
}

/* A copy-mode endpoint closes: what its guest queued was sent, as far as it
 * knows, so it joins the buffers already taken, in order (the engine
 * delivers them after the endpoint is gone).  Returns what is left behind. */
uint32_t netback_take_all(struct backend *be, struct be_endpoint *ep)
{
  take_requests(be, ep, QUEUE_SLOTS);
  return ring_load_prod(&ep->vif->tx.ring) - ep->tx.cons;
}

/* The engine's side: deliver netback's buffers.  Called in the engine's
 * round, with the lock held.  A buffer of an endpoint closed since is
 * delivered all the same: its guest sent it before closing. */
int netback_engine_drain(struct backend *be)
{
  struct netback *nb = &be->nb;
  int n = 0;
  while (nb->tx_head) {
    struct nb_item *it = nb->tx_head;
    if (!engine_deliver(be, &be->eps[it->eid], &it->m, it->eager))
      break; /* destination full: this buffer waits, in order */
    free(pop(&nb->tx_head, &nb->tx_tail));
    nb->tx_len--;
    n++;
  }
  return n;
}

/* --- engine to guest ------------------------------------------------------ */

int netback_post(struct backend *be, struct be_endpoint *dst, const struct msg *m,
                 const void *eager)
{
  struct netback *nb = &be->nb;
  if (nb->rx_len >= NB_QUEUE_MAX)
    return 0;
  struct nb_item *it = item_new(dst, m, eager);
  if (!it)
    return 0;
  push(&nb->rx_head, &nb->rx_tail, it);
  nb->rx_len++;
  nb->copies++;
  if (dst->copy_mode == DP_COPY) {
    nb->netback_kicks++;
    kick(nb->doorbell);
  } else {
    nb->rx_kick = 1; /* once, at the end of the engine's round */
  }
  return 1;
}

void netback_flush(struct backend *be)
{
  if (be->nb.rx_kick) {
    be->nb.rx_kick = 0;
    be->nb.netback_kicks++;
    kick(be->nb.doorbell);
  }
}

/* Copy waiting events into their guests' event rings. */
static int give_events(struct backend *be)
{
  struct netback *nb = &be->nb;
  int n = 0;
  while (nb->rx_head) {
    struct nb_item *it = nb->rx_head;
    struct be_endpoint *dst = &be->eps[it->eid];
    if (dst->in_use && dst->session == it->session &&
        atomic_load(&dst->vif->state) == VIF_OPEN) {
      int room = qprod_reserve(&dst->rx, 1, it->m.type == MSG_FRAG);
      if (room == 0)
        break; /* the guest's ring is full: in order, wait */
      if (room < 0) {
        engine_fail_vif(be, dst, DROP_RING_CORRUPT);
      } else {
        struct msg *slot = qprod_slot(&dst->rx);
        memcpy(slot, &it->m, sizeof(*slot));
        if (it->m.type == MSG_FRAG)
          memcpy(qprod_eager(&dst->rx), it->eager, it->m.len);
        qprod_commit(&dst->rx, it->m.type == MSG_FRAG);
        dst->c.rx_msgs++;
        dst->c.rx_bytes += it->m.type == MSG_SMALL || it->m.type == MSG_FRAG ? it->m.len : 0;
        if (dst->copy_mode == DP_COPY) {
          /* a notification per event, as an unaggregated split driver */
          qprod_flush(&dst->rx);
          nb->guest_kicks++;
          kick(dst->doorbell);
        } else {
          dst->rx_dirty = 1;
        }
      }
    }
    free(pop(&nb->rx_head, &nb->rx_tail));
    nb->rx_len--;
    n++;
    if (n == NB_BATCH)
      break;
  }
  for (uint32_t i = 0; n && i < be->cfg.max_endpoints; i++) {
    struct be_endpoint *ep = &be->eps[i];
    if (ep->in_use && ep->copy_mode == DP_COPY_BATCH && ep->rx_dirty) {
      ep->rx_dirty = 0;
      if (qprod_flush(&ep->rx)) {
        nb->guest_kicks++;
        kick(ep->doorbell);
      }
    }
  }
  return n;
}

/* --- the thread ------------------------------------------------------------ */

static int nb_round(struct backend *be)
{
  int work = 0;
  for (uint32_t i = 0; i < be->cfg.max_endpoints; i++) {
    struct be_endpoint *ep = &be->eps[i];
    if (ep->in_use && ep->copy_mode && atomic_load(&ep->vif->state) == VIF_OPEN)
      work += take_requests(be, ep, ep->copy_mode == DP_COPY_BATCH ? NB_BATCH : 1);
  }
  work += give_events(be);
  return work;
}

static int nb_arm(struct backend *be)
{
  int pending = 0;
  for (uint32_t i = 0; i < be->cfg.max_endpoints; i++) {
    struct be_endpoint *ep = &be->eps[i];
    if (ep->in_use && ep->copy_mode && atomic_load(&ep->vif->state) == VIF_OPEN)
      pending |= ring_arm_data_event(&ep->tx.q->ring, ep->tx.cons);
  }
  return pending;
}

static void *nb_main(void *arg)
{
  struct backend *be = arg;
  struct poll_policy pol = {0, 0};
  uint64_t idle_since = clock_now_ns();
  while (!atomic_load(&be->stop)) {
    pthread_mutex_lock(&be->lock);
    int work = nb_round(be);
    /* copy-batch polls a little before sleeping, so that requests arriving
     * close together share a wake-up; copy sleeps at once */
    int batching = 0;
    for (uint32_t i = 0; i < be->cfg.max_endpoints; i++)
      batching |= be->eps[i].in_use && be->eps[i].copy_mode == DP_COPY_BATCH;
    pol.yield_ns = batching ? 50000 : 0;
    pthread_mutex_unlock(&be->lock);
    if (work) {
      idle_since = clock_now_ns();
      continue;
    }
    if (poll_policy_step(&pol, idle_since, clock_now_ns()) != POLL_SLEEP) {
      sched_yield();
      continue;
    }
    pthread_mutex_lock(&be->lock);
    int pending = nb_arm(be) || be->nb.rx_head;
    pthread_mutex_unlock(&be->lock);
    if (!pending) {
      struct pollfd pfd = {.fd = be->nb.doorbell, .events = POLLIN};
      engine_count(&be->nb.sleeps);
      if (poll(&pfd, 1, NB_SLEEP_MS) > 0) {
        uint64_t v;
        if (read(be->nb.doorbell, &v, sizeof(v)) < 0) {
          /* another reader: nothing lost */
        }
      }
    }
    idle_since = clock_now_ns();
  }
  return NULL;
}

int netback_start(struct backend *be)
{
  be->nb.doorbell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (be->nb.doorbell < 0)
    return -errno;
  return -pthread_create(&be->nb.thread, NULL, nb_main, be);
}

void netback_stop(struct backend *be)
{
  kick(be->nb.doorbell); /* be->stop is set by the engine's stop */
  pthread_join(be->nb.thread, NULL);
  while (be->nb.tx_head)
    free(pop(&be->nb.tx_head, &be->nb.tx_tail));
  while (be->nb.rx_head)
    free(pop(&be->nb.rx_head, &be->nb.rx_tail));
  close(be->nb.doorbell);
}
