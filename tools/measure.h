/* measure.h - the measuring side of an MX benchmark, one loop for the
 * same-host bench (bench.c) and the cross-host one (bench_remote.c). */
#ifndef MYRIXEN_MEASURE_H
#define MYRIXEN_MEASURE_H

#include <stdint.h>

#include "../include/myriexpress.h"

#define BENCH_KEY 0xbe4c
#define BENCH_WINDOW 8 /* a stream's sends in flight */

/* The match info of a bench's messages. */
enum { M_PING = 1, M_DATA = 2, M_END = 3, M_QUIT = 4 };

struct measure {
  uint64_t t0, t1;              /* the timed part */
  double lat_us;                /* half round trip (ping-pong) or time per message (stream) */
  double mbps;                  /* payload both ways (ping-pong) or one way (stream) */
  double rate;                  /* messages a second */
  double cpu_us;                /* this process's CPU time per message */
};

/* n messages of size to peer, timed after n/10+1 warm-up ones: a
 * ping-pong (each send waits for the answer), or a stream (BENCH_WINDOW
 * sends in flight, then an end the receiver acknowledges, so the time
 * covers every byte's arrival). */
struct measure measure_mx(mx_endpoint_t ep, mx_endpoint_addr_t peer, int stream, uint32_t size,
                          int n, char *buf);

/* This process's CPU time so far, microseconds. */
double measure_cpu_us(void);

#endif
