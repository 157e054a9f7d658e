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
 * The frames' bytes are the network's: lengths are bounded by the frame,
 * and frames cut short (longer than any wire packet) are reported as too
 * long, for the engine to drop and count.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_packet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "../common/wire.h"
#include "port_ops.h"

#define RING_BLOCK (1u << 20)
#define RING_BLOCKS 32
#define FRAME_SLL TPACKET_ALIGN(sizeof(struct tpacket2_hdr)) /* the sender's address */

struct eth_ring {
  uint8_t *map;
  size_t map_len;
  uint32_t frame_size, frames_per_block, frames;
  uint32_t head;                /* the first frame of the batch handed out */
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

int ring_open(struct port *p)
{
  struct eth_ring *r = calloc(1, sizeof(*r));
  if (!r)
    return -1;
  /* a frame holds a packet of the port's MTU, after the kernel's header,
   * the sender's address and room for a link header; at least a jumbo
   * frame's, since the interface's MTU may rise while we run (a frame
   * longer than a ring frame is cut, and counted as too long).  Sized
   * for the largest packet, a 1500-byte link's ring would hold 480
   * frames, not 3,584. */
  uint32_t largest = p->mtu > 9216 ? p->mtu : 9216;
  r->frame_size = TPACKET_ALIGN(largest + 128);
  r->frames_per_block = RING_BLOCK / r->frame_size;
  r->frames = RING_BLOCKS * r->frames_per_block;
  int v = TPACKET_V2;
  struct tpacket_req req = {RING_BLOCK, RING_BLOCKS, r->frame_size, r->frames};
  if (setsockopt(p->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0 ||
      setsockopt(p->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) < 0)
    goto fail;
  r->map_len = (size_t)RING_BLOCKS * RING_BLOCK;
  r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
  if (r->map == MAP_FAILED)
    goto fail;
  p->ring = r;
  return 0;
fail:
  free(r);
  return -1;
}

void ring_close(struct port *p)
{
  if (!p->ring)
    return;
  munmap(p->ring->map, p->ring->map_len);
  free(p->ring);
  p->ring = NULL;
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
    if (!n)
      return 0;
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
  if (h->tp_len > h->tp_snaplen)
    return WIRE_MAX_PACKET + 1;
  return len;
}
