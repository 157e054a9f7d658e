/*
 * fault.h - the fault layer of a port: loss, duplication, reordering,
 * delay and corruption of outgoing packets, each with a probability (delay
 * in microseconds), drawn from a seeded generator so that a run can be
 * reproduced.  This kernel has no tc netem; this is how the project tests
 * lossy links.  Every injected fault is counted.
 *
 * Spec: "loss=0.05,dup=0.01,reorder=0.02,delay_us=200,corrupt=0.001,seed=7"
 * (any subset), from myrixend --fault or $MYRIXEN_FAULT.
 */
#ifndef MYRIXEN_FAULT_H
#define MYRIXEN_FAULT_H

#include <stddef.h>
#include <stdint.h>

#define FAULT_HELD_MAX 512    /* packets held back (reorder, delay) at once */

struct fault_cfg {
  double loss, dup, reorder, corrupt;
  uint32_t delay_us;
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
  struct fault_held *held;   /* FAULT_HELD_MAX slots, allocated when on */
  uint32_t nheld;
  struct fault_counters c;
};

/* Parse a spec into cfg.  0, or -1 with a reason in err. */
int fault_parse(struct fault_cfg *cfg, const char *spec, char *err, size_t errlen);
/* Arm a port's fault layer (cfg copied).  0 or -1 (no memory). */
int fault_setup(struct fault *f, const struct fault_cfg *cfg);
void fault_free(struct fault *f);

#endif
