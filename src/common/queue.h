/*
 * queue.h - producing into and consuming from a struct queue (region.h).
 *
 * Each side keeps its own index in private memory and only publishes it;
 * it never reads its own index back from shared memory, where the other
 * side could have scribbled on it.  The other side's index is read, checked
 * (ring_sane(), qcons_check_empty), and a violation is reported as -EPROTO
 * so the caller can fail the VIF or channel.
 *
 * A slot is published by its tag (region.h): the producer fills the slot,
 * then stores QUEUE_TAG(index) with release; the consumer polls the tag of
 * the slot it expects next, so a message and its "ready" flag arrive in the
 * same cache line.  The producer still publishes prod, per batch: it is the
 * index of the sleep/notify handshake and what a consumer checks the
 * producer's claims against when it finds no tag.
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

/* The tag of index i: its lap around the ring, never 0 (a zeroed slot is
 * never ready) and different on consecutive laps (a stale slot is not). */
#define QUEUE_TAG(i) ((uint16_t)(0x8000u | (((i) / QUEUE_SLOTS) & 0x7fffu)))

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

/* Inline bytes of m past its first line, bounded by the slot.  m is
 * always a private copy: a length is never taken from shared memory. */
static inline uint32_t msg_rest_len(const struct msg *m)
{
  if ((m->type != MSG_SMALL && m->type != MSG_LANE_PEER) || m->len <= MSG_LINE_DATA)
    return 0;
  return (m->len < MSG_INLINE_MAX ? m->len : MSG_INLINE_MAX) - (uint32_t)MSG_LINE_DATA;
}

/* Copy a descriptor built elsewhere into the slot: its first line and
 * the inline data it carries; never the slot's tag. */
static inline void qprod_put(struct qprod *p, const struct msg *m)
{
  struct msg *s = qprod_slot(p);
  memcpy(&s->type, &m->type, MSG_LINE - offsetof(struct msg, type));
  memcpy(s->data + MSG_LINE_DATA, m->data + MSG_LINE_DATA, msg_rest_len(m));
}

/* The slot is filled: tag it, which makes it visible to a polling
 * consumer (a sleeping one learns of it at the next flush). */
static inline void qprod_commit(struct qprod *p, int used_eager)
{
  __atomic_store_n(&qprod_slot(p)->tag, QUEUE_TAG(p->prod), __ATOMIC_RELEASE);
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

/* No tagged slot at c->cons: is that the producer breaking the protocol?
 * Returns 0 (nothing yet), 1 (the slot was tagged meanwhile) or -EPROTO:
 * prod impossibly far from cons, or published past a slot it never
 * tagged (the consumer would never sleep, nor ever find it).  prod may
 * lag behind cons: entries are tagged before the flush that publishes
 * them. */
static inline int qcons_check_empty(struct qcons *c, const struct msg *s)
{
  int32_t ahead = (int32_t)(ring_load_prod(&c->q->ring) - c->cons);
  if (ahead > QUEUE_SLOTS || ahead < -QUEUE_SLOTS)
    return -EPROTO;
  if (ahead <= 0)
    return 0;
  /* prod was acquired after the slot's tag was released: it must show */
  return __atomic_load_n(&s->tag, __ATOMIC_ACQUIRE) == QUEUE_TAG(c->cons) ? 1 : -EPROTO;
}

/* Is the next slot tagged?  A look, for a waiter between full passes. */
static inline bool qcons_ready(const struct qcons *c)
{
  return __atomic_load_n(&c->q->slot[c->cons & (QUEUE_SLOTS - 1)].tag, __ATOMIC_ACQUIRE) ==
         QUEUE_TAG(c->cons);
}

/* Copy the next descriptor out of shared memory (once): its first line,
 * then as much inline data as the copied length asks, bounded.  Returns 1
 * with *out filled, 0 when empty.  *eager points at the eager slot a
 * MSG_FRAG owns.  An empty slot is not checked against prod here: the
 * producer writes prod just after the tag we wait on, and reading it on
 * every poll put one more line transfer between a message's arrival and
 * the consumer's answer.  qcons_arm checks, before any sleep. */
static inline int qcons_next(struct qcons *c, struct msg *out, const uint8_t **eager)
{
  const struct msg *s = &c->q->slot[c->cons & (QUEUE_SLOTS - 1)];
  if (__atomic_load_n(&s->tag, __ATOMIC_ACQUIRE) != QUEUE_TAG(c->cons))
    return 0;
  memcpy(out, s, MSG_LINE);
  memcpy(out->data + MSG_LINE_DATA, s->data + MSG_LINE_DATA, msg_rest_len(out));
  *eager = out->type == MSG_FRAG ? c->q->eager[c->econs & (EAGER_SLOTS - 1)] : NULL;
  return 1;
}

/* Before sleeping: ask for a kick on the next entry, then look again.
 * 1: an entry is there (do not sleep), 0: sleep, -EPROTO: the producer
 * broke the protocol (qcons_check_empty).
 * The fence pairs with the producer's in ring_publish (Xen's final check):
 * either we see its prod or it sees our event index. */
static inline int qcons_arm(struct qcons *c)
{
  atomic_store_explicit(&c->q->ring.e.data_event, c->cons + 1, memory_order_relaxed);
  atomic_thread_fence(memory_order_seq_cst);
  const struct msg *s = &c->q->slot[c->cons & (QUEUE_SLOTS - 1)];
  if (__atomic_load_n(&s->tag, __ATOMIC_ACQUIRE) == QUEUE_TAG(c->cons))
    return 1;
  return qcons_check_empty(c, s);
}

/* While busy polling: no events wanted (saves the producer's syscalls). */
static inline void qcons_disarm(struct qcons *c)
{
  ring_disarm_data_event(&c->q->ring, c->cons);
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
