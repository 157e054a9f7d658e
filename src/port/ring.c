/*
 * ring.c - the eth port's receive ring (PACKET_MMAP, TPACKET_V2).
 *
 * Without it every arriving packet costs its share of a recvmmsg and a
 * copy out of the socket's queue; with it the kernel writes each frame
 * straight into a ring we share with it, and we read frames in place with
 * no syscall at all.
 *
 * TPACKET_V2, not V3: V3 hands a block of frames to user space only when
 * the block is full or its timer (a millisecond at least) runs out, which
 * would add up to that to every small message; V2 hands each frame over as
 * it lands.  No send ring: on a veth (and wherever the stack must own the
 * bytes) the kernel copies a send ring's frames once more to let go of our
 * pages, which cost more than it saved here (a 1 MiB stream at MTU 1500:
 * 0.72 GB/s with a send ring, 0.83 with sendmmsg batches); sends keep
 * batch.c's sendmmsg.
 *
 * Frames are of the port's MTU, not of the largest wire packet, and
 * there are about two windows of them: the kernel writes each frame's
 * header to memory it last touched a whole ring ago, a cache miss and,
 * here, a TLB miss a frame; a ring of 3,584 frames of 9 KiB (32 MiB) cost
 * a 1 MiB stream at MTU 1500 7% against 2,568 of 1.6 KiB (4 MiB), five
 * alternating pairs.  A frame longer than the ring's (the link's MTU rose
 * after the port opened) is cut by the kernel: it is dropped as too long
 * and counted, and once the ring is empty it is made again with frames of
 * the new MTU (its stream resends what was dropped).
 *
 * The frames' bytes are the network's: lengths are bounded by the frame,
 * and frames cut short (longer than any wire packet) are reported as too
 * long, for the engine to drop and count.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "../common/log.h"
#include "../common/wire.h"
#include "port_ops.h"

#define RING_BLOCK (1u << 20)
#define RING_MIN_BLOCKS 4
#define RING_MAX_BLOCKS 32
#define RING_MIN_FRAMES (2 * WIRE_WINDOW) /* two windows of one peer's packets */
#define FRAME_SLL TPACKET_ALIGN(sizeof(struct tpacket2_hdr)) /* the sender's address */

struct eth_ring {
  uint8_t *map;
  size_t map_len;
  uint32_t frame_size, frames_per_block, frames;
  uint32_t head;                /* the first frame of the batch handed out */
  uint32_t cut;                 /* the longest frame cut short: make the ring again */
};

/* Frame i: frames never straddle a block. */
static struct tpacket2_hdr *frame(const struct eth_ring *r, uint32_t i)
{
  i %= r->frames;
  return (struct tpacket2_hdr *)(r->map + (size_t)(i / r->frames_per_block) * RING_BLOCK +
                                 (size_t)(i % r->frames_per_block) * r->frame_size);
}

static uint32_t status(const struct tpacket2_hdr *h)
{
  return __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
}

static void set_status(struct tpacket2_hdr *h, uint32_t s)
{
  __atomic_store_n(&h->tp_status, s, __ATOMIC_RELEASE);
}

/* Take the kernel's ring off p's socket (unmapped first): frames go to
 * the socket's queue again. */
static int ring_detach(struct port *p)
{
  struct tpacket_req none = {0};
  return setsockopt(p->fd, SOL_PACKET, PACKET_RX_RING, &none, sizeof(none));
}

/* A ring on p's socket of frames that hold largest bytes of packet, after
 * the kernel's header, the sender's address and room for a link header. */
static struct eth_ring *ring_map(struct port *p, uint32_t largest)
{
  struct eth_ring *r = calloc(1, sizeof(*r));
  if (!r)
    return NULL;
  r->frame_size = TPACKET_ALIGN(largest + 128);
  r->frames_per_block = RING_BLOCK / r->frame_size;
  uint32_t blocks = (RING_MIN_FRAMES + r->frames_per_block - 1) / r->frames_per_block;
  blocks = blocks < RING_MIN_BLOCKS ? RING_MIN_BLOCKS
           : blocks > RING_MAX_BLOCKS ? RING_MAX_BLOCKS
                                      : blocks;
  r->frames = blocks * r->frames_per_block;
  int v = TPACKET_V2;
  struct tpacket_req req = {RING_BLOCK, blocks, r->frame_size, r->frames};
  if (setsockopt(p->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0 ||
      setsockopt(p->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0)
    goto fail;
  r->map_len = (size_t)blocks * RING_BLOCK;
  r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
  if (r->map == MAP_FAILED) {
    /* a ring nobody maps would take every frame from the socket's queue */
    int err = errno;
    ring_detach(p);
    errno = err;
    goto fail;
  }
  return r;
fail:
  free(r);
  return NULL;
}

int ring_open(struct port *p)
{
  p->ring = ring_map(p, p->mtu);
  return p->ring ? 0 : -1;
}

void ring_close(struct port *p)
{
  if (!p->ring)
    return;
  munmap(p->ring->map, p->ring->map_len);
  free(p->ring);
  p->ring = NULL;
}

/* A frame was cut, and nothing waits in the ring: the ring again, of
 * frames of the interface's MTU now, if that MTU holds the frame (an
 * operator raised it); or, if a ring cannot be had, the socket's queue.
 * A frame longer than the MTU (anyone's: a GSO packet on a veth passes
 * uncut) is only dropped: it cannot make the ring's frames fewer. */
static void ring_grow(struct port *p)
{
  char name[IF_NAMESIZE];
  uint32_t cut = p->ring->cut, mtu = if_indextoname((unsigned)p->ifindex, name)
                                         ? port_ifmtu(name, NULL)
                                         : 0;
  p->ring->cut = 0;
  if (mtu > WIRE_MAX_PACKET)
    mtu = WIRE_MAX_PACKET;
  if (cut > mtu)
    return;
  ring_close(p);
  if (ring_detach(p) == 0 && (p->ring = ring_map(p, mtu)) != NULL) {
    p->c.ring_grown++;
    log_info("port %s: a %u-byte frame: the receive ring's frames grow to the MTU, %u",
             p->spec, cut, mtu);
    return;
  }
  log_warn("port %s: no receive ring for %u-byte frames (%s): the socket's queue instead",
           p->spec, mtu, strerror(errno));
}

/* Give the frames of the batch handed out back to the kernel. */
static void rx_release(struct port *p)
{
  struct eth_ring *r = p->ring;
  for (uint32_t i = 0; i < p->rx.n; i++)
    set_status(frame(r, r->head + i), TP_STATUS_KERNEL);
  r->head = (r->head + p->rx.n) % r->frames; /* the kernel's index wraps there too */
  p->rx.n = p->rx.i = 0;
}

ssize_t ring_recv(struct port *p, const uint8_t **pkt, const struct port_addr **from)
{
  struct eth_ring *r = p->ring;
  struct port_rx *rx = &p->rx;
  if (!port_rx_more(p)) {
    rx_release(p);
    uint32_t n = 0;
    while (n < PORT_RX_BATCH && (status(frame(r, r->head + n)) & TP_STATUS_USER))
      n++;
    if (!n) {
      /* (nothing of the old ring handed out, nothing waiting in it: what
       * arrives while it is made again is lost, and resent) */
      if (r->cut)
        ring_grow(p);
      return 0;
    }
    rx->n = n;
    p->c.rx_reads++;
  }
  uint32_t i = rx->i++;
  struct tpacket2_hdr *h = frame(r, r->head + i);
  const struct sockaddr_ll *sll = (const struct sockaddr_ll *)((uint8_t *)h + FRAME_SLL);
  memset(&rx->from[i], 0, sizeof(rx->from[i]));
  memcpy(rx->from[i].mac, sll->sll_addr, 6);
  *from = &rx->from[i];
  uint32_t off = h->tp_net, len = h->tp_snaplen;
  /* the kernel's offsets, but bounded all the same; a frame cut short is
   * one too long for any wire packet */
  if (off >= r->frame_size || len > r->frame_size - off)
    off = FRAME_SLL, len = 0;
  *pkt = (uint8_t *)h + off;
  p->c.rx_packets++;
  p->c.rx_bytes += len;
  if (h->tp_len > h->tp_snaplen) {
    if (h->tp_len <= WIRE_MAX_PACKET && h->tp_len > r->cut)
      r->cut = h->tp_len; /* (longer than any packet: no reason to grow) */
    return WIRE_MAX_PACKET + 1;
  }
  return len;
}
