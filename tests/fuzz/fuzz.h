/*
 * fuzz.h - what the libFuzzer targets share: a backend and its engine in
 * this process, with no threads (the target drives the engine's rounds
 * itself, so that a run is repeatable), and guests whose memory is a
 * child process that only sleeps: a fuzzed grant then reaches the
 * child's memory, never the fuzzer's own.
 *
 * Every input starts from a fresh backend and fresh guests, so that a
 * crash reproduces from its input alone.
 */
#ifndef MYRIXEN_FUZZ_H
#define MYRIXEN_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "../../src/backend/backend.h"
#include "../../src/common/queue.h"

/* The input, taken a piece at a time. */
struct fuzz_input {
  const uint8_t *p;
  size_t n;
};

/* Up to len bytes of the input into out (the rest of out zeroed): the
 * number taken. */
size_t fuzz_take(struct fuzz_input *in, void *out, size_t len);
/* One byte, or 0 at the end. */
uint8_t fuzz_byte(struct fuzz_input *in);
uint16_t fuzz_u16(struct fuzz_input *in);
/* The next step of a target's input, [op][len:2][len bytes]: op, and the
 * bytes as *step (fewer at the input's end). */
uint8_t fuzz_step(struct fuzz_input *in, struct fuzz_input *step);

/* A backend with an engine of 8 endpoints and, when port is not NULL,
 * that network port (in a network namespace of the fuzzer's own: see
 * fuzz_private_net); with the cluster key of be->cfg.eng.key_file when the
 * caller set it. */
void fuzz_backend_up(struct backend *be, const char *port);
void fuzz_backend_down(struct backend *be);
/* Move the fuzzer into a network namespace of its own with loopback up,
 * so that nothing it sends leaves it (needs CAP_SYS_ADMIN). */
void fuzz_private_net(void);

/* A guest admitted with a hello of datapath dp, the way a socket's would
 * be; the other end of its socket in *peer. */
struct be_guest *fuzz_guest(struct backend *be, uint32_t dp, int *peer);
/* fuzz_guest's dp (mod DP_MAX + 1) for a VM guest: admitted as its
 * launcher is, then attached through its mailbox; its grants name its RAM. */
#define FUZZ_VM DP_MAX
/* Open an endpoint on g by a control message: its VIF index, or -1. */
int fuzz_open(struct backend *be, struct be_guest *g, uint32_t eid, uint32_t key);
/* Connect g's endpoint on vif to endpoint eid of this host, with key. */
void fuzz_connect(struct backend *be, struct be_guest *g, uint32_t vif, uint32_t eid,
                  uint32_t key);
/* Read and forget whatever the backend sent on a peer socket. */
void fuzz_drain(int peer);
/* Run the engine's and netback's rounds n times. */
void fuzz_rounds(struct backend *be, int n);

/* A guest's endpoint as the fuzz targets drive it: its VIF, written as a
 * library would (or not). */
struct fuzz_side {
  struct be_guest *g;
  int peer;                     /* the other end of g's socket */
  int vif_idx;                  /* -1: no endpoint open */
  struct vif *vif;
  struct qprod tx;
  struct qcons rx;
};
void fuzz_side_open(struct backend *be, struct fuzz_side *s, uint32_t eid, uint32_t key);
/* A request through the ring, as a library pushes one: [how][descriptor];
 * how & 1 addresses it to (nic, eid). */
void fuzz_side_push(struct fuzz_side *s, struct fuzz_input *in, uint64_t nic, uint32_t eid);
/* A grant entry: [index][how][entry]; how & 1 points it into a buffer of
 * the guest's memory. */
void fuzz_side_grant(struct fuzz_side *s, struct fuzz_input *in);
/* bytes[2..] anywhere in the VIF, at 64 * (bytes[0..1]). */
void fuzz_side_scribble(struct fuzz_side *s, const uint8_t *bytes, size_t len);
/* Take every event waiting in the event ring. */
void fuzz_side_events(struct fuzz_side *s);

/* The sleeping child that stands for every guest's memory. */
pid_t fuzz_memory_pid(void);

#endif
