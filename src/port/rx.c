/*
 * rx.c - packets arrive at a port in batches: one recvmmsg reads up to
 * PORT_RX_BATCH datagrams, and a udp datagram may itself be a GRO run of
 * packets from one sender, all of one size but the last (UDP_GRO: the
 * kernel hands over what a peer sent with GSO as it was sent).  port_recv
 * hands them out a packet at a time, in place.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../common/gso.h"
#include "../common/wire.h"
#include "port_ops.h"

int port_rx_init(struct port *p)
{
  /* a GRO datagram holds up to an IP datagram's worth of packets */
  p->rx.cap = p->gro ? 65536 : WIRE_MAX_PACKET + 1;
  p->rx.buf = malloc((size_t)PORT_RX_BATCH * p->rx.cap);
  return p->rx.buf ? 0 : -1;
}

void port_rx_free(struct port *p)
{
  free(p->rx.buf);
  p->rx.buf = NULL;
}

/* Read what waits, up to PORT_RX_BATCH datagrams: how many, 0 when none,
 * -1 on error. */
static int rx_read(struct port *p)
{
  struct port_rx *rx = &p->rx;
  struct mmsghdr mm[PORT_RX_BATCH];
  struct sockaddr_storage name[PORT_RX_BATCH];
  struct iovec iov[PORT_RX_BATCH];
  union gro_ctl ctl[PORT_RX_BATCH];
  for (int i = 0; i < PORT_RX_BATCH; i++) {
    iov[i] = (struct iovec){rx->buf + (size_t)i * rx->cap, rx->cap};
    mm[i].msg_hdr = (struct msghdr){.msg_name = &name[i], .msg_namelen = sizeof(name[i]),
                                    .msg_iov = &iov[i], .msg_iovlen = 1,
                                    .msg_control = p->gro ? ctl[i].buf : NULL,
                                    .msg_controllen = p->gro ? sizeof(ctl[i].buf) : 0};
  }
  int n = recvmmsg(p->fd, mm, PORT_RX_BATCH, MSG_DONTWAIT | MSG_TRUNC, NULL);
  if (n < 0)
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
  for (int i = 0; i < n; i++) {
    struct msghdr *h = &mm[i].msg_hdr;
    uint32_t seg = p->gro ? gro_segment(h) : 0;
    /* longer than the buffer (which is longer than any wire packet): one
     * packet, cut short, that the engine drops as too long */
    uint32_t len = mm[i].msg_len > rx->cap ? rx->cap : mm[i].msg_len;
    if (mm[i].msg_len > rx->cap || !seg || seg > len)
      seg = len;
    rx->len[i] = len;
    rx->seg[i] = seg;
    ops_of(p)->from_sockaddr(&name[i], h->msg_namelen, &rx->from[i]);
  }
  rx->n = (uint32_t)n;
  rx->i = 0;
  rx->off = 0;
  p->c.rx_reads += (uint64_t)n;
  return n;
}

ssize_t port_recv(struct port *p, const uint8_t **pkt, const struct port_addr **from)
{
  struct port_rx *rx = &p->rx;
  if (p->ring)
    return ring_recv(p, pkt, from);
  if (!port_rx_more(p)) {
    int n = rx_read(p);
    if (n <= 0)
      return n;
  }
  uint32_t i = rx->i, left = rx->len[i] - rx->off;
  uint32_t len = left < rx->seg[i] ? left : rx->seg[i];
  *pkt = rx->buf + (size_t)i * rx->cap + rx->off;
  *from = &rx->from[i];
  rx->off += len;
  if (rx->off >= rx->len[i]) { /* on to the next datagram */
    rx->i++;
    rx->off = 0;
  }
  p->c.rx_packets++;
  p->c.rx_bytes += len;
  return len;
}
