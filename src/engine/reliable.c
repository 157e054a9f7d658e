/*
 * reliable.c - one ordered, acknowledged stream per peer, as MX's and
 * Open-MX's NICs kept per partner: sequence numbers, a window of WIRE_WINDOW
 * packets kept until acknowledged, the receiver's cumulative ack on every
 * packet it sends (alone after NET_ACK_DELAY_NS or NET_ACK_EVERY packets),
 * go-back-N retransmission on timeout with exponential backoff, fast
 * retransmission on three duplicate acks, and a give-up after the peer
 * timeout that fails the relationship (peer.c).
 *
 * The receiver takes packets strictly in order: a duplicate or a packet
 * past a gap is dropped, counted and answered with an ack at once.
 */
#include <stdlib.h>
#include <string.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "net_int.h"

#define FAST_RETRANSMIT_DUPACKS 3
#define RETRANSMIT_BURST 64

static void fill_header(struct net_peer *p, struct wire_hdr *h, uint8_t type, uint32_t len)
{
  memset(h, 0, sizeof(*h));
  h->magic = WIRE_MAGIC;
  h->version = WIRE_VERSION;
  h->type = type;
  h->len = (uint16_t)len;
  h->src_session = p->my_session;
  h->dst_session = p->peer_session;
  h->ack = p->rcv_next;
}

static void xmit(struct backend *be, struct net_peer *p, uint8_t *buf, uint32_t len)
{
  struct net *n = net_of(be);
  struct wire_hdr *h = (struct wire_hdr *)buf;
  h->src_nic = be->cfg.nic_id;
  h->dst_nic = p->nic;
  h->ack = p->rcv_next; /* the freshest ack rides every packet */
  h->dst_session = p->peer_session;
  wire_seal(h, len);
  port_send(&n->ports[p->port], &p->addr, buf, len, clock_now_ns());
  p->tx_packets++;
  p->rx_unacked = 0;
  p->ack_due_ns = 0;
}

uint32_t rel_room(const struct net_peer *p)
{
  return WIRE_WINDOW - (p->snd_next - p->snd_una);
}

struct net_pkt *rel_send(struct backend *be, struct net_peer *p, uint8_t type, const void *a,
                         uint32_t alen, const void *b, uint32_t blen)
{
  if (!rel_room(p))
    return NULL;
  if (!p->win && !(p->win = calloc(WIRE_WINDOW, sizeof(*p->win))))
    return NULL;
  struct net_pkt *k = &p->win[p->snd_next % WIRE_WINDOW];
  struct wire_hdr *h = (struct wire_hdr *)k->buf;
  fill_header(p, h, type, alen + blen);
  h->flags = WIRE_F_RELIABLE;
  h->seq = p->snd_next++;
  memcpy(k->buf + sizeof(*h), a, alen);
  if (blen)
    memcpy(k->buf + sizeof(*h) + alen, b, blen);
  k->len = (uint32_t)sizeof(*h) + alen + blen;
  k->tries = 1;
  k->notify = 0;
  k->sent_ns = clock_now_ns();
  if (p->snd_una + 1 == p->snd_next)
    p->last_ack_ns = k->sent_ns; /* the give-up clock starts with the first packet out */
  if (p->state == PEER_NEW || p->state == PEER_FAILED)
    p->state = PEER_UP;
  xmit(be, p, k->buf, k->len);
  return k;
}

void rel_send_ack(struct backend *be, struct net_peer *p)
{
  uint8_t buf[sizeof(struct wire_hdr)];
  fill_header(p, (struct wire_hdr *)buf, WIRE_ACK, 0);
  xmit(be, p, buf, sizeof(buf));
}

/* Answer a packet meant for an incarnation of ours that is gone. */
void rel_send_reset(struct backend *be, int port, const struct port_addr *to,
                    const struct wire_hdr *in)
{
  struct net *n = net_of(be);
  struct net_peer *p = peer_by_nic(n, in->src_nic);
  struct wire_hdr h;
  memset(&h, 0, sizeof(h));
  h.magic = WIRE_MAGIC;
  h.version = WIRE_VERSION;
  h.type = WIRE_RESET;
  h.src_session = p ? p->my_session : 0;
  h.dst_session = in->src_session; /* the incarnation of theirs that must end */
  h.src_nic = be->cfg.nic_id;
  h.dst_nic = in->src_nic;
  wire_seal(&h, sizeof(h));
  port_send(&n->ports[port], to, &h, sizeof(h), clock_now_ns());
}

/* Everything up to ack (exclusive) arrived: free it, tell waiting senders. */
static void take_ack(struct backend *be, struct net_peer *p, uint32_t ack, uint64_t now)
{
  uint32_t acked = ack - p->snd_una;
  if (acked == 0 || acked > p->snd_next - p->snd_una)
    return; /* old, or beyond what we sent: nothing to learn */
  struct net_pkt *newest = &p->win[(ack - 1) % WIRE_WINDOW];
  if (newest->tries == 1) {
    uint64_t rtt = now - newest->sent_ns;
    p->srtt_ns = p->srtt_ns ? (7 * p->srtt_ns + rtt) / 8 : rtt;
  }
  for (uint32_t s = p->snd_una; s != ack; s++) {
    struct net_pkt *k = &p->win[s % WIRE_WINDOW];
    if (k->notify) {
      struct msg m = {.type = MSG_NOTIFY, .cookie = k->notify_cookie, .status = MSG_ST_OK,
                      .total = k->notify_total, .peer_nic = p->nic};
      notify_post(be, k->notify_eid, k->notify_session, &m);
    }
  }
  p->snd_una = ack;
  p->dupacks = 0;
  p->last_ack_ns = now;
  uint64_t rto = 4 * p->srtt_ns;
  p->rto_ns = rto < NET_RTO_MIN_NS ? NET_RTO_MIN_NS : rto > NET_RTO_MAX_NS ? NET_RTO_MAX_NS : rto;
}

static void retransmit(struct backend *be, struct net_peer *p, uint32_t max)
{
  uint64_t now = clock_now_ns();
  for (uint32_t s = p->snd_una; s != p->snd_next && max--; s++) {
    struct net_pkt *k = &p->win[s % WIRE_WINDOW];
    k->tries++;
    k->sent_ns = now;
    p->retransmits++;
    xmit(be, p, k->buf, k->len);
  }
}

void rel_input(struct backend *be, struct net_peer *p, const struct wire_hdr *h,
               const uint8_t *payload,
               int (*deliver)(struct backend *, struct net_peer *, const struct wire_hdr *,
                              const uint8_t *))
{
  uint64_t now = clock_now_ns();
  p->rx_packets++;
  if (p->win && p->snd_una != p->snd_next) {
    if (h->ack == p->snd_una && h->type == WIRE_ACK) {
      if (++p->dupacks == FAST_RETRANSMIT_DUPACKS)
        retransmit(be, p, 1);
    } else {
      take_ack(be, p, h->ack, now);
    }
  }
  if (!(h->flags & WIRE_F_RELIABLE))
    return;
  if (h->seq != p->rcv_next) {
    if ((int32_t)(h->seq - p->rcv_next) < 0)
      p->dup_rx++;
    else
      p->ooo_rx++;
    rel_send_ack(be, p); /* tell the sender where we are, now */
    return;
  }
  if (!deliver(be, p, h, payload)) {
    p->stalls++;
    return; /* not taken: it comes again with the retransmission */
  }
  p->rcv_next++;
  if (++p->rx_unacked >= NET_ACK_EVERY)
    rel_send_ack(be, p);
  else if (!p->ack_due_ns)
    p->ack_due_ns = now + NET_ACK_DELAY_NS;
}

int rel_timers(struct backend *be, struct net_peer *p, uint64_t now)
{
  int work = 0;
  if (p->ack_due_ns && now >= p->ack_due_ns) {
    rel_send_ack(be, p);
    work++;
  }
  if (!p->win || p->snd_una == p->snd_next)
    return work;
  if (now - p->last_ack_ns > net_of(be)->peer_timeout_ns) {
    p->timeouts++;
    peer_fail(be, p, "no acknowledgement within the peer timeout");
    return work + 1;
  }
  struct net_pkt *oldest = &p->win[p->snd_una % WIRE_WINDOW];
  if (now - oldest->sent_ns >= p->rto_ns) {
    retransmit(be, p, RETRANSMIT_BURST);
    p->rto_ns = p->rto_ns * 2 > NET_RTO_MAX_NS ? NET_RTO_MAX_NS : p->rto_ns * 2;
    work++;
  }
  return work;
}

uint64_t rel_next_timer(const struct net_peer *p)
{
  uint64_t t = p->ack_due_ns ? p->ack_due_ns : UINT64_MAX;
  if (p->win && p->snd_una != p->snd_next) {
    uint64_t r = p->win[p->snd_una % WIRE_WINDOW].sent_ns + p->rto_ns;
    if (r < t)
      t = r;
  }
  return t;
}
