/* harness.h - shared test helpers: a private backend, guest processes,
 * assertions that report and fail. */
#ifndef MYRIXEN_HARNESS_H
#define MYRIXEN_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "../include/myriexpress.h"
#include "mx/mxtest.h" /* CHECK, CHECK_MX */

#define HARNESS_KEY 0x5eed
#define HARNESS_WAIT_MS 120000 /* a lost message fails a test, it does not hang it */

/* A guest's first steps: mx_init and open endpoint eid with HARNESS_KEY. */
mx_endpoint_t harness_open(uint32_t eid);
/* Connect to endpoint eid of this host (name resolution checked on the way). */
mx_endpoint_addr_t harness_connect(mx_endpoint_t ep, uint32_t eid);
/* Send / receive one message and wait (bounded) for it; a send must succeed. */
void harness_send(mx_endpoint_t ep, mx_endpoint_addr_t to, void *buf, uint32_t len, uint64_t match);
mx_status_t harness_recv(mx_endpoint_t ep, void *buf, uint32_t len, uint64_t match, uint64_t mask);

/* Start myrixend on a private socket; sets MYRIXEN_SOCKET.  Returns pid. */
pid_t harness_backend_start(void);
/* ... with these options too (NULL-terminated). */
pid_t harness_backend_start_with(const char *const *options);
void harness_backend_stop(pid_t pid);
/* Run fn(arg, index) in a child guest process. */
pid_t harness_guest(int (*fn)(int idx, void *arg), int idx, void *arg);
/* Wait for a child; returns its exit status (or 128+signal). */
int harness_wait(pid_t pid);
/* Path of a sibling binary of this test (bin/myrixend, bin/myrixen). */
const char *harness_bin(const char *name);
/* Deterministic payload byte i of message seed. */
static inline uint8_t harness_byte(uint64_t seed, uint64_t i)
{
  return (uint8_t)((seed * 131 + i * 7 + (i >> 8)) ^ (seed >> 3));
}
void harness_fill(void *buf, uint64_t len, uint64_t seed);
int harness_verify(const void *buf, uint64_t len, uint64_t seed);

/* A test registry: plain functions in a list (as libuv's runner). */
struct harness_test {
  const char *name;
  int (*fn)(void);
};
int harness_main(int argc, char **argv, const struct harness_test *tests);

#endif
