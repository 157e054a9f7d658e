/*
 * batch.c - packets leave a port in batches.  Over veth or a real NIC a
 * syscall per packet, and a pass through the network stack per packet,
 * cost more than the packet: the engine queues what it sends during a
 * round and hands the batch to the kernel at the round's end (port_flush)
 * in one sendmmsg.  A packet whose buffer stays put until then (the
 * reliable stream's window slots: PORT_STABLE) is queued by reference; any
 * other is copied into the batch.
 *
 * On udp ports the kernel also segments (common/gso.h): a run of packets
 * to one peer, all of one size but the last, goes as one message, which a
 * receiver with UDP_GRO takes in one read (rx.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../common/gso.h"
#include "../common/log.h"
#include "../common/wire.h"
#include "port_ops.h"

struct batch_msg {
  struct sockaddr_storage name;
  struct gso_ctl ctl;
  uint32_t first, count;
};

struct port_batch {
  uint32_t used, n;               /* bytes of buf used; packets queued */
  struct port_addr to[PORT_BATCH_PKTS];
  struct iovec iov[PORT_BATCH_PKTS]; /* each packet's bytes: in buf, or its owner's */
  struct mmsghdr mm[PORT_BATCH_PKTS];  /* built at flush */
  struct batch_msg bm[PORT_BATCH_PKTS];
  uint8_t buf[PORT_BATCH_BYTES];
};

int port_batch_init(struct port *p)
{
  p->tx = calloc(1, sizeof(*p->tx));
  return p->tx ? 0 : -1;
}

void port_batch_free(struct port *p)
{
  free(p->tx);
  p->tx = NULL;
}

/* Packets i and j of the batch go to one peer (gso_run's test). */
struct same_peer {
  const struct port *p;
  const struct port_batch *b;
};
static int same_peer(const void *ctx, uint32_t i, uint32_t j)
{
  const struct same_peer *s = ctx;
  return port_addr_equal(s->p, &s->b->to[j], &s->b->to[i]);
}

/* Send packets [from, b->n); returns how many of them the kernel took. */
static uint32_t flush_from(struct port *p, uint32_t from)
{
  struct port_batch *b = p->tx;
  struct mmsghdr *mm = b->mm;
  struct batch_msg *bm = b->bm;
  uint32_t nmsg = 0;
  for (uint32_t i = from; i < b->n; nmsg++) {
    struct batch_msg *m = &bm[nmsg];
    m->first = i;
    m->count = p->gso ? gso_run(b->iov, i, b->n, same_peer, &(struct same_peer){p, b}) : 1;
    struct msghdr *h = &mm[nmsg].msg_hdr;
    memset(h, 0, sizeof(*h));
    h->msg_name = &m->name;
    h->msg_namelen = port_sockaddr(p, &b->to[i], &m->name);
    h->msg_iov = &b->iov[i]; /* a run: the kernel cuts it every seg bytes */
    h->msg_iovlen = m->count;
    if (m->count > 1)
      gso_set_segment(h, &m->ctl, (uint16_t)b->iov[i].iov_len);
    i += m->count;
  }
  uint32_t sent = 0;
  for (uint32_t k = 0; k < nmsg;) {
    int r = sendmmsg(p->fd, mm + k, nmsg - k, MSG_DONTWAIT);
    if (r > 0) {
      for (int x = 0; x < r; x++) {
        p->c.tx_packets += bm[k + (uint32_t)x].count;
        p->c.tx_bytes += mm[k + (uint32_t)x].msg_len;
        sent += bm[k + (uint32_t)x].count;
      }
      p->c.tx_sends += (uint64_t)r;
      k += (uint32_t)r;
      continue;
    }
    if (bm[k].count > 1 && gso_unsupported(errno)) {
      /* this kernel or route cannot segment: one datagram a packet, from now on */
      log_warn("port %s: no UDP segmentation offload (%s): packets go one by one", p->spec,
               strerror(errno));
      p->gso = 0;
      return sent + flush_from(p, bm[k].first);
    }
    /* the socket is full or the route is gone: these packets are lost, and
     * the reliable stream resends them */
    p->c.tx_errors += bm[k].count;
    k++;
  }
  return sent;
}

int port_flush(struct port *p)
{
  struct port_batch *b = p->tx;
  if (!b || !b->n)
    return 0;
  uint32_t n = b->n, sent = flush_from(p, 0);
  b->n = b->used = 0;
  return sent == n ? 0 : -1;
}

int port_xmit(struct port *p, const struct port_addr *to, const void *pkt, size_t len,
              int flags)
{
  struct port_batch *b = p->tx;
  if (len > WIRE_MAX_PACKET || !b) {
    p->c.tx_errors++;
    return -1;
  }
  int copy = !(flags & PORT_STABLE);
  if (b->n == PORT_BATCH_PKTS || (copy && b->used + len > PORT_BATCH_BYTES))
    port_flush(p);
  uint32_t i = b->n++;
  b->to[i] = *to;
  b->iov[i].iov_len = len;
  b->iov[i].iov_base = (void *)pkt;
  if (copy) {
    b->iov[i].iov_base = b->buf + b->used;
    memcpy(b->buf + b->used, pkt, len);
    b->used += (uint32_t)len;
  }
  return 0;
}
