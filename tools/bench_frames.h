/*
 * bench_frames.h - the raw Ethernet baseline of `bench stream --remote`
 * over an eth port: frames of the link's MTU sent as fast as the kernel
 * takes them (AF_PACKET, sendmmsg in batches, the qdisc bypassed, as the
 * eth port sends) to a sink that counts what arrives (recvmmsg in
 * batches).  No protocol, no copy of ours, no reliability: the most a
 * design that moves frames of that size through the kernel can reach, so
 * the floor the eth port is measured against where TCP's segments (on a
 * veth never cut to the MTU) are not a peer of raw frames.
 */
#ifndef MYRIXEN_BENCH_FRAMES_H
#define MYRIXEN_BENCH_FRAMES_H

#include <stdint.h>
#include <sys/types.h>

/* bench serve's side (with --frames): a process that counts the frames of
 * every interface and answers a client's hello and end.  Its pid, or -1
 * (no AF_PACKET socket: not root, say; the client then reports no
 * figure). */
pid_t frames_sink_start(void);

/* The client's side, on interface dev. */
struct frames_link {
  int fd;
  int ifindex;
  uint32_t mtu;                 /* payload per frame */
  uint8_t sink[6];              /* the sink's MAC, from its answer to our hello */
};

/* Open dev and find the sink on its link: 0, or -1 (no sink answered). */
int frames_open(const char *dev, struct frames_link *fl);
/* total bytes in frames of fl->mtu, then the sink's count: MB/s of what
 * arrived, or -1 when the sink did not answer. */
double frames_stream(struct frames_link *fl, uint64_t total);
void frames_close(struct frames_link *fl);

#endif
