/*
 * ring.h - single-producer single-consumer ring indices in shared memory.
 *
 * Semantics follow Xen's io/ring.h: indices run free (they wrap at 2^32,
 * never masked in place), the slot of index i is i & (size - 1), the ring
 * holds at most size entries, and each side asks to be notified with an
 * event index ("notify me when the other side passes this value") which the
 * other side checks after publishing.  Unlike Xen, the producer's and the
 * consumer's indices live on separate cache lines (as memif does), the event
 * indices on a third line written only when a side arms itself to sleep (so
 * the check after publishing reads a line both sides keep cached), and the
 * barriers are C11 acquire/release but for the one full fence of the
 * sleep/notify handshake.
 *
 * The consumer's final check before sleeping looks at the slot it waits on
 * (queue.h: qcons_arm), since slots carry their own ready tags.
 *
 * Neither side trusts the other: every index read from shared memory is
 * checked with ring_sane() before it is used to address a slot.
 */
#ifndef MYRIXEN_RING_H
#define MYRIXEN_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define RING_CACHELINE 64

/* Written by the producer, per message.  prod: entries published. */
struct ring_prod {
  _Atomic uint32_t prod;
  uint32_t pad[RING_CACHELINE / 4 - 1];
};

/* Written by the consumer, per batch.  cons: entries consumed; aux_cons:
 * companion buffers freed (eager slots). */
struct ring_cons {
  _Atomic uint32_t cons;
  _Atomic uint32_t aux_cons;
  uint32_t pad[RING_CACHELINE / 4 - 2];
};

/* Written only by a side about to sleep.  data_event (consumer): wake me
 * when prod passes this.  space_event (producer): wake me when cons reaches
 * this (the ring was full). */
struct ring_events {
  _Atomic uint32_t data_event;
  _Atomic uint32_t space_event;
  uint32_t pad[RING_CACHELINE / 4 - 2];
};

struct ring_hdr {
  _Alignas(RING_CACHELINE) struct ring_prod p;
  _Alignas(RING_CACHELINE) struct ring_cons c;
  _Alignas(RING_CACHELINE) struct ring_events e;
};

_Static_assert(sizeof(struct ring_prod) == RING_CACHELINE, "producer line");
_Static_assert(sizeof(struct ring_cons) == RING_CACHELINE, "consumer line");
_Static_assert(sizeof(struct ring_hdr) == 3 * RING_CACHELINE, "ring header");

/* Number of entries between cons and prod, as free-running indices. */
static inline uint32_t ring_used(uint32_t prod, uint32_t cons) { return prod - cons; }

/* An index pair is sane when the distance fits the ring. */
static inline bool ring_sane(uint32_t prod, uint32_t cons, uint32_t size)
{
  return ring_used(prod, cons) <= size;
}

/* Xen's notify rule: the other side wants an event when the index moves
 * from old to new across the event index it published. */
static inline bool ring_need_notify(uint32_t old, uint32_t new_, uint32_t event)
{
  return (uint32_t)(new_ - event) < (uint32_t)(new_ - old);
}

/* Producer: the consumer's index, acquired so that slot reuse is safe. */
static inline uint32_t ring_load_cons(struct ring_hdr *r)
{
  return atomic_load_explicit(&r->c.cons, memory_order_acquire);
}

/* Consumer: the producer's index, acquired so slot contents are visible. */
static inline uint32_t ring_load_prod(struct ring_hdr *r)
{
  return atomic_load_explicit(&r->p.prod, memory_order_acquire);
}

/* Producer: publish entries up to new_prod.  Returns true when the consumer
 * asked to be notified (it may be asleep): the caller then kicks it. */
static inline bool ring_publish(struct ring_hdr *r, uint32_t new_prod)
{
  uint32_t old = atomic_load_explicit(&r->p.prod, memory_order_relaxed);
  atomic_store_explicit(&r->p.prod, new_prod, memory_order_release);
  /* The store above must be visible before we read data_event, or a
   * consumer going to sleep could miss us (the lost wake-up of Xen's
   * RING_PUSH_REQUESTS_AND_CHECK_NOTIFY): a full fence, paid per batch. */
  atomic_thread_fence(memory_order_seq_cst);
  return ring_need_notify(old, new_prod,
                          atomic_load_explicit(&r->e.data_event, memory_order_relaxed));
}

/* Consumer: release consumed entries up to new_cons; true when the
 * producer waits for space. */
static inline bool ring_release(struct ring_hdr *r, uint32_t new_cons)
{
  uint32_t old = atomic_load_explicit(&r->c.cons, memory_order_relaxed);
  atomic_store_explicit(&r->c.cons, new_cons, memory_order_release);
  atomic_thread_fence(memory_order_seq_cst);
  return ring_need_notify(old, new_cons,
                          atomic_load_explicit(&r->e.space_event, memory_order_relaxed));
}

/* Consumer, while busy polling: no events wanted (saves the producer's
 * syscalls).  An event index far behind never triggers. */
static inline void ring_disarm_data_event(struct ring_hdr *r, uint32_t cons)
{
  atomic_store_explicit(&r->e.data_event, cons - 0x80000000u, memory_order_relaxed);
}

/* Producer, before sleeping on a full ring: ask for an event when the
 * consumer frees one entry; true when space appeared meanwhile. */
static inline bool ring_arm_space_event(struct ring_hdr *r, uint32_t cons_seen)
{
  atomic_store_explicit(&r->e.space_event, cons_seen + 1, memory_order_relaxed);
  atomic_thread_fence(memory_order_seq_cst);
  return ring_load_cons(r) != cons_seen;
}

#endif /* MYRIXEN_RING_H */
