/*
 * ring.c - the eth port's memory-mapped packet rings (PACKET_MMAP).
 *
 * Without them every packet costs a syscall's share (recvmmsg, sendmmsg),
 * a copy between the socket and our buffers, and on the way out an skb
 * built by copying.  With them the kernel writes arriving frames straight
 * into a receive ring we share with it, and builds outgoing frames' skbs
 * on the pages of a send ring we fill: arriving packets cost no syscall at
 * all, and a round's packets leave with one send() (MSG_DONTWAIT: the
 * kernel takes every frame marked for sending).
 *
 * TPACKET_V2, not V3: V3 hands a block of frames to user space only when
 * the block is full or its timer (a millisecond at least) runs out, which
 * would add up to that to every small message; V2 hands each frame over as
 * it lands.  The socket is SOCK_RAW so that each frame carries its own
 * destination in its Ethernet header (a send ring's frames all go to one
 * address otherwise).
 *
 * Everything read from the receive ring is the kernel's, but the frames'
 * bytes are the network's: lengths are bounded by the frame, and frames
 * cut short (longer than any wire packet) are reported as too long, for
 * the engine to drop and count.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/wire.h"
#include "port_ops.h"

#define RING_BLOCK (1u << 20)
#define RING_RX_BLOCKS 16
#define RING_TX_BLOCKS 8
#define FRAME_DATA TPACKET_ALIGN(sizeof(struct tpacket2_hdr)) /* sll (rx), data (tx) */

struct eth_ring {
  uint8_t *map;
  size_t map_len;
  uint32_t frame_size, frames_per_block;
  uint32_t rx_frames, tx_frames;
  uint8_t *rx, *tx;
  uint32_t rx_head;             /* the first frame of the batch handed out */
  uint32_t tx_head;             /* the next frame to fill */
  uint32_t tx_queued;           /* marked for sending since the last send() */
  uint64_t tx_queued_bytes;
  uint8_t mac[6];               /* ours: every frame's source */
};

/* Frame i of a ring of n: frames never straddle a block. */
static struct tpacket2_hdr *frame(const struct eth_ring *r, uint8_t *ring, uint32_t i, uint32_t n)
{
  i %= n;
  return (struct tpacket2_hdr *)(ring + (size_t)(i / r->frames_per_block) * RING_BLOCK +
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
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  if (!if_indextoname((unsigned)p->ifindex, ifr.ifr_name) || ioctl(p->fd, SIOCGIFHWADDR, &ifr) < 0)
    goto fail;
  memcpy(r->mac, ifr.ifr_hwaddr.sa_data, 6);
  /* a frame holds the largest packet the port sends or takes, after the
   * kernel's header, the sender's address and the Ethernet header */
  r->frame_size = TPACKET_ALIGN(p->mtu + 128);
  r->frames_per_block = RING_BLOCK / r->frame_size;
  r->rx_frames = RING_RX_BLOCKS * r->frames_per_block;
  r->tx_frames = RING_TX_BLOCKS * r->frames_per_block;
  int v = TPACKET_V2, one = 1;
  struct tpacket_req rx = {RING_BLOCK, RING_RX_BLOCKS, r->frame_size, r->rx_frames};
  struct tpacket_req tx = {RING_BLOCK, RING_TX_BLOCKS, r->frame_size, r->tx_frames};
  if (setsockopt(p->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) < 0 ||
      setsockopt(p->fd, SOL_PACKET, PACKET_RX_RING, &rx, sizeof(rx)) < 0 ||
      setsockopt(p->fd, SOL_PACKET, PACKET_TX_RING, &tx, sizeof(tx)) < 0)
    goto fail;
  /* a frame the kernel finds malformed is skipped, not left blocking the
   * ring; and frames leave without a pass through the qdisc */
  setsockopt(p->fd, SOL_PACKET, PACKET_LOSS, &one, sizeof(one));
  setsockopt(p->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
  r->map_len = (size_t)(RING_RX_BLOCKS + RING_TX_BLOCKS) * RING_BLOCK;
  r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
  if (r->map == MAP_FAILED)
    goto fail;
  r->rx = r->map;
  r->tx = r->map + (size_t)RING_RX_BLOCKS * RING_BLOCK;
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

int ring_flush(struct port *p)
{
  struct eth_ring *r = p->ring;
  if (!r->tx_queued)
    return 0;
  uint32_t n = r->tx_queued;
  uint64_t bytes = r->tx_queued_bytes;
  r->tx_queued = 0;
  r->tx_queued_bytes = 0;
  if (send(p->fd, NULL, 0, MSG_DONTWAIT) < 0 && errno != EAGAIN && errno != ENOBUFS) {
    /* the frames stay marked: the next send() takes them */
    p->c.tx_errors++;
    return -1;
  }
  p->c.tx_packets += n;
  p->c.tx_bytes += bytes;
  p->c.tx_sends++;
  return 0;
}

int ring_xmit(struct port *p, const struct port_addr *to, const void *pkt, size_t len)
{
  struct eth_ring *r = p->ring;
  if (len + ETH_HLEN > r->frame_size - FRAME_DATA) {
    p->c.tx_errors++;
    return -1;
  }
  struct tpacket2_hdr *h = frame(r, r->tx, r->tx_head, r->tx_frames);
  if (status(h) != TP_STATUS_AVAILABLE) {
    ring_flush(p); /* frames the kernel has not taken yet hold the ring */
    if (status(h) != TP_STATUS_AVAILABLE) {
      p->c.tx_errors++; /* the ring is full: the reliable stream resends */
      return -1;
    }
  }
  struct ether_header *eh = (struct ether_header *)((uint8_t *)h + FRAME_DATA);
  memcpy(eh->ether_dhost, to->mac, 6);
  memcpy(eh->ether_shost, r->mac, 6);
  eh->ether_type = htons(WIRE_ETHERTYPE);
  memcpy(eh + 1, pkt, len);
  h->tp_len = (uint32_t)(len + ETH_HLEN);
  set_status(h, TP_STATUS_SEND_REQUEST);
  r->tx_head++;
  r->tx_queued_bytes += len;
  if (++r->tx_queued >= PORT_BATCH_PKTS)
    ring_flush(p);
  return 0;
}

/* Give the frames of the batch handed out back to the kernel. */
static void rx_release(struct port *p)
{
  struct eth_ring *r = p->ring;
  for (uint32_t i = 0; i < p->rx.n; i++)
    set_status(frame(r, r->rx, r->rx_head + i, r->rx_frames), TP_STATUS_KERNEL);
  r->rx_head += p->rx.n;
  p->rx.n = p->rx.i = 0;
}

ssize_t ring_recv(struct port *p, const uint8_t **pkt, const struct port_addr **from)
{
  struct eth_ring *r = p->ring;
  struct port_rx *rx = &p->rx;
  if (!port_rx_more(p)) {
    rx_release(p);
    uint32_t n = 0;
    while (n < PORT_RX_BATCH && (status(frame(r, r->rx, r->rx_head + n, r->rx_frames)) & TP_STATUS_USER))
      n++;
    if (!n)
      return 0;
    rx->n = n;
    p->c.rx_reads++;
  }
  uint32_t i = rx->i++;
  struct tpacket2_hdr *h = frame(r, r->rx, r->rx_head + i, r->rx_frames);
  const struct sockaddr_ll *sll = (const struct sockaddr_ll *)((uint8_t *)h + FRAME_DATA);
  memset(&rx->from[i], 0, sizeof(rx->from[i]));
  memcpy(rx->from[i].mac, sll->sll_addr, 6);
  *from = &rx->from[i];
  uint32_t off = h->tp_net, len = h->tp_snaplen;
  /* the kernel's offsets, but bounded all the same; a frame cut short is
   * one too long for any wire packet */
  if (off >= r->frame_size || len > r->frame_size - off)
    off = FRAME_DATA, len = 0;
  *pkt = (uint8_t *)h + off;
  p->c.rx_packets++;
  p->c.rx_bytes += len;
  if (h->tp_len > h->tp_snaplen)
    return WIRE_MAX_PACKET + 1;
  return len;
}
