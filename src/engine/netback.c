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

#include "../common/fifo.h"
#include "../common/doorbell.h"
#include "../common/log.h"
#include "../common/poll_policy.h"
#include "engine_int.h"

#define NB_BATCH 64
#define NB_VIF_QUEUE_MAX 256     /* buffers in flight each way per VIF: then back-pressure */
#define NB_VIF_EAGER_MAX 64      /* ... of which with an eager payload (8 KiB each) */
#define NB_SLEEP_MS 100

struct nb_item {
  struct nb_item *next;
  uint32_t eid, session;
  struct msg m;
  uint8_t eager[];
};

/* Buffers waiting, in order, for one VIF: one queue per VIF and
 * direction, so that a guest whose messages cannot be delivered (its
 * peer's ring is full) or whose ring takes no events stalls only itself,
 * never the other copy-mode guests (head-of-line blocking). */
struct nb_queue {
  struct nb_item *head, *tail;
  uint32_t len, sized;          /* buffers; those with an eager payload */
  int blocked;                  /* tx: the head waits for room at its destination */
};

struct netback {
  pthread_t thread;
  int started;
  int doorbell;                 /* eventfd: copy-mode guests and the engine kick it */
  struct nb_queue tx[ENGINE_MAX_ENDPOINTS]; /* copied requests of each VIF, for the engine */
  struct nb_queue rx[ENGINE_MAX_ENDPOINTS]; /* events for each copy-mode VIF */
  uint32_t tx_total, rx_total;  /* buffers in all queues */
  uint32_t tx_rr;               /* the VIF the engine's next drain starts at */
  struct nb_item *pool[2];      /* free buffers: without, with an eager payload */
  int rx_kick;                  /* copy-batch events queued this engine round */
  uint64_t copies, bytes;       /* buffers copied, payload bytes */
  uint64_t engine_kicks, netback_kicks, guest_kicks;
  _Atomic uint64_t rounds, sleeps;
};

/* Netback's buffers come from a pool, as a driver domain's do: once the
 * queues have been as deep as they get, no message allocates.  Two sizes:
 * a descriptor alone, or with room for a whole eager fragment.  The pool
 * never holds more than the queues' peak (NB_VIF_QUEUE_MAX per VIF each way,
 * NB_VIF_EAGER_MAX of them sized). */
static struct nb_item *item_new(struct netback *nb, const struct engine_vif *v,
                                const struct msg *m, const void *eager)
{
  uint32_t len = m->type == MSG_FRAG ? m->len : 0;
  int sized = len > 0;
  struct nb_item *it = nb->pool[sized];
  if (it)
    nb->pool[sized] = it->next;
  else if (!(it = malloc(sizeof(*it) + (sized ? EAGER_SIZE : 0))))
    return NULL;
  it->next = NULL;
  it->eid = v->eid;
  it->session = v->session;
  it->m = *m; /* the grant copy: descriptor and inline data ... */
  if (len)
    memcpy(it->eager, eager, len); /* ... and the eager payload */
  return it;
}

static void item_free(struct netback *nb, struct nb_item *it)
{
  int sized = it->m.type == MSG_FRAG && it->m.len > 0;
  it->next = nb->pool[sized];
  nb->pool[sized] = it;
}

static int item_sized(const struct msg *m)
{
  return m->type == MSG_FRAG && m->len > 0;
}

/* No room in q for m (a queue of 64 small messages holds ~20 KiB; of 64
 * fragments, 512 KiB: a VIF's share is bounded either way). */
static int queue_full(const struct nb_queue *q, const struct msg *m)
{
  return q->len >= NB_VIF_QUEUE_MAX || (item_sized(m) && q->sized >= NB_VIF_EAGER_MAX);
}

static int queue_was_full(const struct nb_queue *q)
{
  return q->len >= NB_VIF_QUEUE_MAX || q->sized >= NB_VIF_EAGER_MAX;
}

static void queue_push(struct nb_queue *q, struct nb_item *it)
{
  FIFO_PUSH(&q->head, &q->tail, it, next);
  q->len++;
  q->sized += item_sized(&it->m);
}

static struct nb_item *queue_pop(struct nb_queue *q)
{
  struct nb_item *it = FIFO_POP(&q->head, &q->tail, next);
  q->len--;
  q->sized -= item_sized(&it->m);
  return it;
}

/* --- guest to engine ------------------------------------------------------ */

/* Copy what waits in v's request ring (up to max) into backend buffers
 * for the engine. */
static int take_requests(struct engine *e, struct engine_vif *v, int max)
{
  struct netback *nb = e->nb;
  struct nb_queue *q = &nb->tx[v->eid];
  int batch = v->owner.datapath == DP_COPY_BATCH;
  int n = 0;
  struct msg m;
  const uint8_t *eager;
  while (n < max && q->len < NB_VIF_QUEUE_MAX) {
    int r = qcons_next(&v->tx, &m, &eager);
    if (r == 0 || (r > 0 && queue_full(q, &m)))
      break;
    if (r < 0 || !deliver_request_valid(e, &m)) {
      vif_fail(e, v, r < 0 ? DROP_RING_CORRUPT : DROP_BAD_REQUEST);
      break;
    }
    if (!limit_allows_msg(v, &m))
      break; /* over its rate: it waits in its own ring, as on the engine's path */
    struct nb_item *it = item_new(nb, v, &m, eager);
    if (!it)
      break;
    queue_push(q, it);
    nb->tx_total++;
    qcons_advance(&v->tx, &m);
    nb->copies++;
    nb->bytes += m.type == MSG_FRAG ? m.len : m.type == MSG_SMALL ? m.len : 0;
    n++;
  }
  if (!n)
    return 0;
  if (qcons_release(&v->tx))
    doorbell_ring(v->doorbell); /* the guest waits for room */
  if (!batch)
    qcons_arm(&v->tx); /* a kick for the next request too */
  nb->engine_kicks++;
  doorbell_ring(e->doorbell);
  return n;
}

/* A copy-mode endpoint closes: what its guest queued was sent, as far as it
 * knows, so it joins the buffers already taken, in order (the engine
 * delivers them after the endpoint is gone).  Returns what is left behind. */
static uint32_t netback_take_all(struct engine *e, struct engine_vif *v)
{
  take_requests(e, v, QUEUE_SLOTS);
  return ring_load_prod(&v->vif->tx.ring) - v->tx.cons;
}

/* Deliver one VIF's buffers in order, until its destination is full. */
static int drain_queue(struct engine *e, uint32_t eid)
{
  struct netback *nb = e->nb;
  struct nb_queue *q = &nb->tx[eid];
  struct engine_vif *src = &e->vifs[eid];
  int was_full = queue_was_full(q);
  int n = 0;
  while (q->head) {
    struct nb_item *it = q->head;
    if (src->in_use && src->session != it->session)
      e->closed.drops[DROP_UNSENT]++; /* its id was opened again since */
    else if ((q->blocked = !deliver_request(e, src, &it->m, it->eager)))
      break; /* destination full: this VIF's buffers wait, in order; others go on */
    else
      src->tx_blocked = 0;
    item_free(nb, queue_pop(q));
    nb->tx_total--;
    n++;
  }
  if (n && was_full) {
    nb->netback_kicks++;
    doorbell_ring(nb->doorbell); /* its ring has more for the room made */
  }
  return n;
}

/* The engine's side: deliver netback's buffers.  Called in the engine's
 * round, with the lock held, starting at another VIF each round.  A buffer
 * of an endpoint closed since is delivered all the same (its guest sent it
 * before closing), as long as its endpoint id has no new owner: it never
 * goes out as another guest's. */
int netback_drain(struct engine *e)
{
  struct netback *nb = e->nb;
  uint32_t max = e->cfg.max_endpoints; /* engine_create checked: 1..ENGINE_MAX_ENDPOINTS */
  int n = 0;
  if (max == 0)
    return 0;
  for (uint32_t k = 0; nb->tx_total && k < max; k++)
    n += drain_queue(e, (nb->tx_rr + k) % max);
  nb->tx_rr = (nb->tx_rr + 1) % max;
  return n;
}

int netback_holds(const struct engine *e, uint32_t eid)
{
  return e->nb->tx[eid].head != NULL;
}

/* --- engine to guest ------------------------------------------------------ */

static int netback_post(struct engine *e, struct engine_vif *dst, const struct msg *m,
                        const void *eager)
{
  struct netback *nb = e->nb;
  struct nb_queue *q = &nb->rx[dst->eid];
  if (queue_full(q, m))
    return 0; /* its guest takes no events: the sender waits, nobody else */
  struct nb_item *it = item_new(nb, dst, m, eager);
  if (!it)
    return 0;
  queue_push(q, it);
  nb->rx_total++;
  nb->copies++;
  if (dst->owner.datapath == DP_COPY) {
    nb->netback_kicks++;
    doorbell_ring(nb->doorbell);
  } else {
    nb->rx_kick = 1; /* once, at the end of the engine's round */
  }
  return 1;
}

void netback_flush(struct engine *e)
{
  if (e->nb->rx_kick) {
    e->nb->rx_kick = 0;
    e->nb->netback_kicks++;
    doorbell_ring(e->nb->doorbell);
  }
}

/* Copy the events waiting for one VIF into its event ring, in order,
 * until the ring is full or budget is spent. */
static int give_queue(struct engine *e, uint32_t eid, int budget)
{
  struct netback *nb = e->nb;
  struct nb_queue *q = &nb->rx[eid];
  struct engine_vif *dst = &e->vifs[eid];
  int was_full = queue_was_full(q);
  int n = 0;
  while (q->head && n < budget) {
    struct nb_item *it = q->head;
    if (dst->in_use && dst->session == it->session && dst->state == VIF_OPEN) {
      int r = deliver_ring_post(e, dst, &it->m, it->eager);
      if (r == 0)
        break; /* the guest's ring is full: in order, wait */
      if (r > 0 && dst->owner.datapath == DP_COPY) {
        /* a notification per event, as an unaggregated split driver */
        dst->rx_dirty = 0;
        qprod_flush(&dst->rx);
        nb->guest_kicks++;
        doorbell_ring(dst->doorbell);
      }
    }
    item_free(nb, queue_pop(q));
    nb->rx_total--;
    n++;
  }
  if (n && was_full) {
    nb->engine_kicks++;
    doorbell_ring(e->doorbell); /* a sender waits for this room (netback_post) */
  }
  if (n && dst->in_use && dst->owner.datapath == DP_COPY_BATCH && dst->rx_dirty) {
    dst->rx_dirty = 0;
    if (qprod_flush(&dst->rx)) {
      nb->guest_kicks++;
      doorbell_ring(dst->doorbell);
    }
  }
  return n;
}

/* Copy waiting events into their guests' event rings: a batch for each. */
static int give_events(struct engine *e)
{
  int n = 0;
  for (uint32_t i = 0; e->nb->rx_total && i < e->cfg.max_endpoints; i++)
    n += give_queue(e, i, NB_BATCH);
  return n;
}

/* --- the thread ------------------------------------------------------------ */

/* An endpoint whose request ring netback reads. */
static int nb_serves(const struct engine_vif *v)
{
  return v->in_use && v->dp == &vif_dp_copy && v->state == VIF_OPEN;
}

int netback_round(struct engine *e, int *batching)
{
  int work = 0;
  *batching = 0;
  for (uint32_t i = 0; i < e->cfg.max_endpoints; i++) {
    struct engine_vif *v = &e->vifs[i];
    if (!nb_serves(v))
      continue;
    *batching |= v->owner.datapath == DP_COPY_BATCH;
    work += take_requests(e, v, v->owner.datapath == DP_COPY_BATCH ? NB_BATCH : 1);
  }
  work += give_events(e);
  return work;
}

static int nb_arm(struct engine *e)
{
  struct netback *nb = e->nb;
  int pending = 0;
  for (uint32_t i = 0; i < e->cfg.max_endpoints; i++) {
    struct engine_vif *v = &e->vifs[i];
    /* Events waiting for a full ring are no work until its guest frees
     * room: it kicks us then (those of a closed VIF go at once). */
    if (nb->rx[i].head && (!nb_serves(v) || !v->rx_wanted || engine_arm_rx_space(v)))
      pending = 1;
    if (!nb_serves(v))
      continue;
    int armed = qcons_arm(&v->tx);
    if (armed < 0)
      vif_fail(e, v, DROP_RING_CORRUPT); /* published what it never wrote */
    /* a full queue waits for the engine to deliver, which kicks us then */
    if (armed > 0 && !queue_was_full(&nb->tx[i]))
      pending = 1;
  }
  return pending;
}

static void *nb_main(void *arg)
{
  struct engine *e = arg;
  struct poll_policy pol = {0, 0};
  uint64_t idle_since = clock_now_ns();
  while (!atomic_load(&e->stop)) {
    pthread_mutex_lock(&e->lock);
    int batching;
    int work = netback_round(e, &batching);
    engine_count(&e->nb->rounds);
    /* copy-batch polls a little before sleeping, so that requests arriving
     * close together share a wake-up; copy sleeps at once */
    pol.yield_ns = batching ? 50000 : 0;
    pthread_mutex_unlock(&e->lock);
    if (work) {
      idle_since = clock_now_ns();
      continue;
    }
    if (poll_policy_step(&pol, idle_since, clock_now_ns()) != POLL_SLEEP) {
      sched_yield();
      continue;
    }
    pthread_mutex_lock(&e->lock);
    int pending = nb_arm(e);
    int throttled = limit_any(e);
    pthread_mutex_unlock(&e->lock);
    if (!pending) {
      struct pollfd pfd = {.fd = e->nb->doorbell, .events = POLLIN};
      engine_count(&e->nb->sleeps);
      /* a throttled VIF's tokens come back with time, not with a kick */
      if (poll(&pfd, 1, throttled ? 1 : NB_SLEEP_MS) > 0) {
        uint64_t v;
        if (read(e->nb->doorbell, &v, sizeof(v)) < 0) {
          /* another reader: nothing lost */
        }
      }
    }
    idle_since = clock_now_ns();
  }
  return NULL;
}

/* --- the copy datapaths' ops, and netback's life ------------------------- */

/* netback publishes copy-batch events itself (give_events) and copy events
 * one by one: nothing waits for the engine's flush */
static void netback_vif_flush(struct engine *e, struct engine_vif *v)
{
  (void)e;
  (void)v;
}

const struct vif_datapath vif_dp_copy = {
    .name = "copy",
    .engine_serves_tx = 0,
    .post = netback_post,
    .flush = netback_vif_flush,
    .take_all = netback_take_all,
};

void netback_write_counters(struct engine *e, struct json *j)
{
  struct netback *nb = e->nb;
  json_obj(j, "netback");
  json_u64(j, "rounds", atomic_load_explicit(&nb->rounds, memory_order_relaxed));
  json_u64(j, "sleeps", atomic_load_explicit(&nb->sleeps, memory_order_relaxed));
  json_u64(j, "copies", nb->copies);
  json_u64(j, "bytes", nb->bytes);
  json_u64(j, "engine_kicks", nb->engine_kicks);
  json_u64(j, "netback_kicks", nb->netback_kicks);
  json_u64(j, "guest_kicks", nb->guest_kicks);
  json_u64(j, "queued_requests", nb->tx_total);
  json_u64(j, "queued_events", nb->rx_total);
  json_end(j);
}

int netback_busy(const struct engine *e)
{
  for (uint32_t i = 0; e->nb->tx_total && i < e->cfg.max_endpoints; i++)
    if (e->nb->tx[i].head && !e->nb->tx[i].blocked)
      return 1;
  return 0;
}

int netback_doorbell(const struct engine *e)
{
  return e->nb->doorbell;
}

int netback_init(struct engine *e)
{
  struct netback *nb = calloc(1, sizeof(*nb));
  if (!nb)
    return -ENOMEM;
  nb->doorbell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (nb->doorbell < 0) {
    free(nb);
    return -errno;
  }
  e->nb = nb;
  return 0;
}

int netback_start(struct engine *e)
{
  int r = pthread_create(&e->nb->thread, NULL, nb_main, e);
  e->nb->started = r == 0;
  return -r;
}

void netback_stop(struct engine *e)
{
  struct netback *nb = e->nb;
  if (!nb->started)
    return;
  doorbell_ring(nb->doorbell); /* e->stop is set by the engine's stop */
  pthread_join(nb->thread, NULL);
  nb->started = 0;
}

void netback_fini(struct engine *e)
{
  struct netback *nb = e->nb;
  if (!nb)
    return;
  for (int i = 0; i < ENGINE_MAX_ENDPOINTS; i++) {
    LIST_FREE_ALL(&nb->tx[i].head, next);
    LIST_FREE_ALL(&nb->rx[i].head, next);
  }
  LIST_FREE_ALL(&nb->pool[0], next);
  LIST_FREE_ALL(&nb->pool[1], next);
  close(nb->doorbell);
  free(nb);
  e->nb = NULL;
}
