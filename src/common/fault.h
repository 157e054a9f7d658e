/*
 * fault.h - a fault layer on a way out: loss, duplication, reordering,
 * delay and corruption of outgoing packets, each with a probability (delay
 * in microseconds), drawn from a seeded generator so that a run can be
 * reproduced.  This kernel has no tc netem; this is how the project tests
 * lossy links.  Every injected fault is counted.  The engine's ports
 * (port/fault.c) and the guests' lanes (lib/lane.c) sit on it, each with
 * its own transmit call and address.
 *
 * Spec: "loss=0.05,dup=0.01,reorder=0.02,delay_us=200,corrupt=0.001,seed=7"
 * (any subset), from myrixend --fault or $MYRIXEN_FAULT.
 */
#ifndef MYRIXEN_FAULT_H
#define MYRIXEN_FAULT_H

#include <stddef.h>
#include <stdint.h>

#define FAULT_HELD_MAX 512    /* packets held back (reorder, delay) at once */
#define FAULT_PKT_MAX 65536   /* the largest datagram; larger packets pass unharmed */
#define FAULT_TO_MAX 160      /* bytes of a destination address kept with a held packet */

struct fault_cfg {
  double loss, dup, reorder, corrupt;
  uint32_t delay_us;
  uint32_t pad;
  uint64_t seed;
};

struct fault_counters {
  uint64_t lost, duplicated, reordered, delayed, corrupted, held_overflow;
};

struct fault_held;

struct fault {
  int on;
  struct fault_cfg cfg;
  uint64_t rng;
  struct fault_held **held;  /* held_max slots, allocated when on; each packet its own */
  uint8_t *scratch;          /* a corrupted copy, FAULT_PKT_MAX bytes */
  uint32_t nheld, held_max;
  struct fault_counters c;
};

/* Below the fault layer: send one packet to the address to (of tolen
 * bytes); flags are the caller's own, passed through for packets sent at
 * once (0 for packets sent later). */
typedef int (*fault_xmit_fn)(void *ctx, const void *to, size_t tolen, const void *pkt, size_t len,
                             int flags);

/* Parse a spec into cfg.  0, or -1 with a reason in err. */
int fault_parse(struct fault_cfg *cfg, const char *spec, char *err, size_t errlen);
/* Arm a fault layer (cfg copied) that holds at most held_max packets.
 * 0 or -1 (no memory). */
int fault_setup(struct fault *f, const struct fault_cfg *cfg, uint32_t held_max);
void fault_free(struct fault *f);
/* Send through the layer (which may drop, corrupt, copy or hold it). */
int fault_send(struct fault *f, fault_xmit_fn xmit, void *ctx, const void *to, size_t tolen,
               const void *pkt, size_t len, uint64_t now_ns, int flags);
/* For a caller that sends in batches (a lane's sendmmsg of GSO runs): 1
 * when the packet is to go as it is, at once, once (the caller puts it in
 * its batch); 0 when the layer took it (lost, or its corrupted copy, its
 * duplicates, or its held self sent or held here).  Under faults the
 * batches stay what they are on a real lossy network: sending every packet
 * alone made a lane's stream under 5% loss 250 MB/s with no loss at all.
 * (The copies it sends at once overtake what waits in the caller's batch:
 * reordering of the layer's own, beside what it draws.) */
int fault_pass(struct fault *f, fault_xmit_fn xmit, void *ctx, const void *to, size_t tolen,
               const void *pkt, size_t len, uint64_t now_ns);
/* Send what was held back and is now due; returns packets sent. */
int fault_flush(struct fault *f, fault_xmit_fn xmit, void *ctx, uint64_t now_ns);

#endif
