/*
 * queue.h - producing into and consuming from a struct queue (region.h).
 *
 * Each side keeps its own index in private memory and only publishes it;
 * it never reads its own index back from shared memory, where the other
 * side could have scribbled on it.  The other side's index is read, checked
 * with ring_sane(), and a violation is reported as -EPROTO so the caller
 * can fail the VIF or channel.
 *
 * Eager buffers are the companion ring: every MSG_FRAG descriptor owns the
 * next eager slot in order, so the consumer needs no index from the
 * producer to find it, and frees eager slots by publishing aux_cons.
 *
 * Data path: no syscalls, no locks, no allocation here.
 */
#ifndef MYRIXEN_QUEUE_H
#define MYRIXEN_QUEUE_H

#include <errno.h>
#include <string.h>

#include "region.h"

struct qprod {
  struct queue *q;
  uint32_t prod;      /* next descriptor to fill */
  uint32_t eprod;     /* next eager slot to fill */
  uint32_t published; /* prod as last published */
  uint32_t cons_seen; /* consumer's indices as last read (checked sane) */
  uint32_t econs_seen;
};

struct qcons {
  struct queue *q;
  uint32_t cons;      /* next descriptor to read */
  uint32_t econs;     /* eager slot of the next MSG_FRAG */
  uint32_t released;  /* cons as last published */
};

static inline void qprod_init(struct qprod *p, struct queue *q)
{
  p->q = q;
  p->prod = atomic_load_explicit(&q->ring.p.prod, memory_order_relaxed);
  p->published = p->prod;
  p->eprod = atomic_load_explicit(&q->ring.c.aux_cons, memory_order_relaxed);
  p->cons_seen = p->prod;
  p->econs_seen = p->eprod;
}

static inline void qcons_init(struct qcons *c, struct queue *q)
{
  c->q = q;
  c->cons = atomic_load_explicit(&q->ring.c.cons, memory_order_relaxed);
  c->released = c->cons;
  c->econs = atomic_load_explicit(&q->ring.c.aux_cons, memory_order_relaxed);
}

/* Free descriptors and eager slots, or -EPROTO when the consumer's indices
 * are impossible. */
static inline int qprod_space(struct qprod *p, uint32_t *slots, uint32_t *eager)
{
  uint32_t cons = ring_load_cons(&p->q->ring);
  uint32_t econs = atomic_load_explicit(&p->q->ring.c.aux_cons, memory_order_acquire);
  if (!ring_sane(p->prod, cons, QUEUE_SLOTS) || !ring_sane(p->eprod, econs, EAGER_SLOTS))
    return -EPROTO;
  *slots = QUEUE_SLOTS - ring_used(p->prod, cons);
  *eager = EAGER_SLOTS - ring_used(p->eprod, econs);
  return 0;
}

/* Room for slots descriptors and eager eager buffers?  1 yes, 0 not yet,
 * -EPROTO when the consumer's indices are impossible.  Data path: the
 * consumer's cache line is read only when the room last seen runs short,
 * so a producer with room does not pull that line over every message. */
static inline int qprod_reserve(struct qprod *p, uint32_t slots, uint32_t eager)
{
  if (QUEUE_SLOTS - ring_used(p->prod, p->cons_seen) >= slots &&
      EAGER_SLOTS - ring_used(p->eprod, p->econs_seen) >= eager)
    return 1;
  uint32_t free_slots, free_eager;
  if (qprod_space(p, &free_slots, &free_eager) < 0)
    return -EPROTO;
  p->cons_seen = p->prod - (QUEUE_SLOTS - free_slots);
  p->econs_seen = p->eprod - (EAGER_SLOTS - free_eager);
  return free_slots >= slots && free_eager >= eager;
}

/* The next descriptor to fill; the caller reserved room for it. */
static inline struct msg *qprod_slot(struct qprod *p)
{
  return &p->q->slot[p->prod & (QUEUE_SLOTS - 1)];
}

static inline uint8_t *qprod_eager(struct qprod *p)
{
  return p->q->eager[p->eprod & (EAGER_SLOTS - 1)];
}

/* The slot is filled: count it (not yet visible to the consumer). */
static inline void qprod_commit(struct qprod *p, int used_eager)
{
  p->prod++;
  p->eprod += used_eager ? 1 : 0;
}

/* Make committed descriptors visible; true when the consumer must be
 * kicked (it armed its data event before sleeping). */
static inline bool qprod_flush(struct qprod *p)
{
  if (p->published == p->prod)
    return false;
  p->published = p->prod;
  return ring_publish(&p->q->ring, p->prod);
}

/* Copy the next descriptor out of shared memory (once).  Returns 1 with
 * *out filled, 0 when empty, -EPROTO when the producer's index is
 * impossible.  *eager points at the eager slot a MSG_FRAG owns. */
static inline int qcons_next(struct qcons *c, struct msg *out, const uint8_t **eager)
{
  uint32_t prod = ring_load_prod(&c->q->ring);
  if (!ring_sane(prod, c->cons, QUEUE_SLOTS))
    return -EPROTO;
  if (prod == c->cons)
    return 0;
  memcpy(out, &c->q->slot[c->cons & (QUEUE_SLOTS - 1)], sizeof(*out));
  *eager = out->type == MSG_FRAG ? c->q->eager[c->econs & (EAGER_SLOTS - 1)] : NULL;
  return 1;
}

/* The descriptor returned by qcons_next is handled. */
static inline void qcons_advance(struct qcons *c, const struct msg *m)
{
  c->cons++;
  c->econs += m->type == MSG_FRAG ? 1 : 0;
}

/* Give consumed slots back; true when the producer waits for space. */
static inline bool qcons_release(struct qcons *c)
{
  if (c->released == c->cons)
    return false;
  c->released = c->cons;
  atomic_store_explicit(&c->q->ring.c.aux_cons, c->econs, memory_order_release);
  return ring_release(&c->q->ring, c->cons);
}

#endif /* MYRIXEN_QUEUE_H */
