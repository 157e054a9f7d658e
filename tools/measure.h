/* measure.h - the measuring side of an MX benchmark, one loop for the
 * same-host bench (bench.c) and the cross-host one (bench_remote.c). */
#ifndef MYRIXEN_MEASURE_H
#define MYRIXEN_MEASURE_H

#include <stdint.h>

#include "../include/myriexpress.h"

#define BENCH_KEY 0xbe4c
/* A stream's sends between two acknowledgements, as in OSU's osu_bw: the
 * receiver keeps a window of receives posted per source, so that data
 * meets a posted receive (a sender running free would measure the
 * unexpected path and the allocator instead). */
#define BENCH_WINDOW 64
#define BENCH_MAX_SOURCES 64

/* The match info of a bench's messages; data and ends share the low two
 * bits' mask (M_DATA_MASK), so that one window of receives takes both. */
enum { M_PING = 1, M_DATA = 2, M_END = 3, M_QUIT = 4, M_ACK = 5 };
#define M_DATA_MASK 0xfffffffffffffffcull

struct measure {
  uint64_t t0, t1;              /* the timed part */
  double lat_us;                /* half round trip (ping-pong) or time per message (stream) */
  double mbps;                  /* payload both ways (ping-pong) or one way (stream) */
  double rate;                  /* messages a second */
  double cpu_us;                /* this process's CPU time per message */
};

/* n messages of size to peer, timed after n/10+1 warm-up ones: a
 * ping-pong (each send waits for the answer), or a stream (windows of
 * BENCH_WINDOW sends, each acknowledged by the receiver, then an end the
 * receiver answers, so the time covers every byte's arrival). */
struct measure measure_mx(mx_endpoint_t ep, mx_endpoint_addr_t peer, int stream, uint32_t size,
                          int n, char *buf);

/* The receiving side of streams: data messages counted per source, and
 * every BENCH_WINDOW-th of a source acknowledged (M_ACK). */
struct stream_acks {
  int n;
  mx_endpoint_addr_t src[BENCH_MAX_SOURCES];
  uint32_t seen[BENCH_MAX_SOURCES];
};

/* A data message from src arrived: acknowledge its window when full. */
void stream_ack_data(mx_endpoint_t ep, struct stream_acks *a, mx_endpoint_addr_t src);
/* src's stream ended: its count starts again. */
void stream_ack_end(struct stream_acks *a, mx_endpoint_addr_t src);

/* This process's CPU time so far, microseconds. */
double measure_cpu_us(void);

#endif
