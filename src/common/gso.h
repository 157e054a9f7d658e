/*
 * gso.h - UDP segmentation offload (UDP_SEGMENT) for a batch of packets:
 * a run of packets to one place, all of one size but the last (which may
 * be shorter), goes to the kernel as one message that the stack carries as
 * one buffer as far as it can (to the receiver's socket on a veth, to the
 * NIC on real hardware) and cuts into datagrams there.  Each packet stays
 * one datagram on the wire, with its own header and checksum: GSO changes
 * what a packet costs, not the protocol.  The engine's ports (port/batch.c)
 * and the library's lanes (lib/lane.c) send their batches so.
 */
#ifndef MYRIXEN_GSO_H
#define MYRIXEN_GSO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define GSO_MAX_SEGS 64      /* the kernel's UDP_MAX_SEGMENTS (6.1) */
#define GSO_MAX_BYTES 65000  /* one IP datagram's payload, with room for headers */

/* Room for a message's UDP_SEGMENT control. */
struct gso_ctl {
  _Alignas(struct cmsghdr) char buf[CMSG_SPACE(sizeof(uint16_t))];
};

/* How many of packets iov[i..n) go as one message: at least 1; more while
 * each is as long as the first (the last may be shorter) and same(ctx, i,
 * j) says packet j goes where packet i does (NULL: all do). */
uint32_t gso_run(const struct iovec *iov, uint32_t i, uint32_t n,
                 int (*same)(const void *ctx, uint32_t i, uint32_t j), const void *ctx);

/* Make h (its iov the run's packets) one GSO message of segments of seg
 * bytes, its control in ctl. */
void gso_set_segment(struct msghdr *h, struct gso_ctl *ctl, uint16_t seg);

/* The other end: a socket with UDP_GRO set takes a run that arrives as
 * one buffer in one read, its packets seg bytes each but the last.  Room
 * for the read's control, and the segment size it gives (0: one packet). */
union gro_ctl {
  struct cmsghdr align;
  char buf[CMSG_SPACE(sizeof(int))];
};
uint32_t gro_segment(struct msghdr *h);
/* Turn UDP_GRO on fd on or off: 1 when done.  (Off, a run the socket
 * queued while it was on is read as one buffer with no segment size.) */
int gro_set(int fd, int on);

/* True when a sendmsg of a GSO message failed because this kernel or
 * route cannot segment (then send one datagram a packet). */
int gso_unsupported(int err);

#endif
