/*
 * reliable.c - one ordered, acknowledged stream per peer, as MX's and
 * Open-MX's NICs kept per partner: sequence numbers and a window of
 * WIRE_WINDOW packets kept until acknowledged.  The receiver keeps what
 * arrives past a hole and delivers in order once the hole fills; every
 * packet it sends carries its cumulative ack and a selective-ack bitmap of
 * the 32 packets after it (alone after NET_ACK_DELAY_NS or NET_ACK_EVERY
 * packets, at once on a hole or a duplicate).  The sender resends the holes
 * the selective acks reveal (at most once per round trip), the oldest
 * packets on a timeout with exponential backoff, and gives up after the
 * peer timeout, failing the relationship (peer.c).
 */
#include <stdlib.h>
#include <string.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "net_int.h"

/* A window slot is queued on its port by reference (PORT_STABLE): it is
 * rewritten only for a packet WIRE_WINDOW sequence numbers later, and a
 * port's batch is flushed every PORT_BATCH_PKTS packets, so the flush
 * always comes first.  (A resend rewrites only its acks and checksum,
 * whole, before the flush.) */
_Static_assert(PORT_BATCH_PKTS < WIRE_WINDOW, "stable_until_flushed");

#define RETRANSMIT_BURST 16
#define RESEND_MIN_NS 200000ull /* a hole is resent at most once per this (or srtt) */

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

/* Bit i: we hold seq rcv_next+1+i, past the hole at rcv_next. */
static uint32_t sack_bits(const struct net_peer *p)
{
  uint32_t bits = 0;
  if (!p->rwin)
    return 0;
  for (uint32_t i = 0; i < 32; i++)
    if (p->have[(p->rcv_next + 1 + i) % WIRE_WINDOW])
      bits |= 1u << i;
  return bits;
}

/* flags: PORT_STABLE for a window slot (see stable_until_flushed) */
static void xmit(struct engine *e, struct net_peer *p, uint8_t *buf, uint32_t len, int flags,
                 uint64_t now)
{
  struct net *n = net_of(e);
  struct wire_hdr *h = (struct wire_hdr *)buf;
  h->src_nic = e->cfg.nic_id;
  h->dst_nic = p->nic;
  h->ack = p->rcv_next; /* the freshest acks ride every packet */
  h->sack = sack_bits(p);
  h->dst_session = p->peer_session;
  wire_seal(h, len);
  port_send(&n->ports[p->port], &p->addr, buf, len, now, flags);
  p->tx_packets++;
  p->rx_unacked = 0;
  p->ack_due_ns = 0;
}

uint32_t rel_room(const struct net_peer *p)
{
  return WIRE_WINDOW - (p->snd_next - p->snd_una);
}

/* The send window: WIRE_WINDOW packets of at most the port's MTU (what
 * is sent is cut to it), so a window of jumbo-sized slots is not paid for
 * on a 1500-byte link. */
static int win_alloc(struct engine *e, struct net_peer *p)
{
  /* rounded up to a cache line: headers stay aligned, slots apart */
  uint32_t slot = (net_of(e)->ports[p->port].mtu + 63) & ~63u;
  p->win = calloc(WIRE_WINDOW, sizeof(*p->win));
  p->win_bufs = malloc((size_t)WIRE_WINDOW * slot);
  if (!p->win || !p->win_bufs) {
    rel_free(p);
    return -1;
  }
  for (uint32_t i = 0; i < WIRE_WINDOW; i++)
    p->win[i].buf = p->win_bufs + (size_t)i * slot;
  return 0;
}

void rel_free(struct net_peer *p)
{
  for (uint32_t i = 0; p->rwin && i < WIRE_WINDOW; i++)
    free(p->rwin[i].buf);
  free(p->rwin);
  free(p->win);
  free(p->win_bufs);
  p->rwin = p->win = NULL;
  p->win_bufs = NULL;
}

uint8_t *rel_payload(struct engine *e, struct net_peer *p, uint32_t i, uint32_t *cap)
{
  if (i >= rel_room(p) || (!p->win && win_alloc(e, p) < 0))
    return NULL;
  *cap = net_of(e)->ports[p->port].mtu - (uint32_t)sizeof(struct wire_hdr);
  return p->win[(p->snd_next + i) % WIRE_WINDOW].buf + sizeof(struct wire_hdr);
}

struct net_pkt *rel_commit(struct engine *e, struct net_peer *p, uint8_t type, uint32_t len,
                           uint64_t now)
{
  uint32_t cap;
  if (!rel_payload(e, p, 0, &cap) || len > cap)
    return NULL; /* callers cut pieces to the MTU: a bug, not a packet */
  struct net_pkt *k = &p->win[p->snd_next % WIRE_WINDOW];
  struct wire_hdr *h = (struct wire_hdr *)k->buf;
  fill_header(p, h, type, len);
  h->flags = WIRE_F_RELIABLE;
  h->seq = p->snd_next++;
  k->len = (uint32_t)sizeof(*h) + len;
  k->tries = 1;
  k->sacked = 0;
  k->notify = 0;
  k->sent_ns = now;
  if (p->snd_una + 1 == p->snd_next)
    p->last_ack_ns = k->sent_ns; /* the give-up clock starts with the first packet out */
  if (p->state == PEER_NEW || p->state == PEER_FAILED)
    p->state = PEER_UP;
  xmit(e, p, k->buf, k->len, PORT_STABLE, k->sent_ns);
  return k;
}

struct net_pkt *rel_send(struct engine *e, struct net_peer *p, uint8_t type, const void *a,
                         uint32_t alen, const void *b, uint32_t blen)
{
  uint32_t cap;
  uint8_t *payload = rel_payload(e, p, 0, &cap);
  if (!payload || alen + blen > cap)
    return NULL;
  memcpy(payload, a, alen);
  if (blen)
    memcpy(payload + alen, b, blen);
  return rel_commit(e, p, type, alen + blen, clock_now_ns());
}

void rel_send_ack(struct engine *e, struct net_peer *p)
{
  struct wire_hdr h;
  fill_header(p, &h, WIRE_ACK, 0);
  xmit(e, p, (uint8_t *)&h, sizeof(h), 0, clock_now_ns());
}

/* Answer a packet meant for an incarnation of ours that is gone. */
void rel_send_reset(struct engine *e, int port, const struct port_addr *to,
                    const struct wire_hdr *in)
{
  struct net *n = net_of(e);
  struct net_peer *p = peer_by_nic(n, in->src_nic);
  struct wire_hdr h;
  memset(&h, 0, sizeof(h));
  h.magic = WIRE_MAGIC;
  h.version = WIRE_VERSION;
  h.type = WIRE_RESET;
  h.src_session = p ? p->my_session : 0;
  h.dst_session = in->src_session; /* the incarnation of theirs that must end */
  h.src_nic = e->cfg.nic_id;
  h.dst_nic = in->src_nic;
  wire_seal(&h, sizeof(h));
  port_send(&n->ports[port], to, &h, sizeof(h), clock_now_ns(), 0);
}

/* Everything up to ack (exclusive) arrived: free it, tell waiting senders. */
static void take_ack(struct engine *e, struct net_peer *p, uint32_t ack, uint64_t now)
{
  uint32_t acked = ack - p->snd_una;
  if (acked == 0 || acked > p->snd_next - p->snd_una)
    return; /* old, or beyond what we sent: nothing to learn */
  /* A round trip is measured only where nothing muddles it (Karn): no
   * packet of the range was resent or held past a hole. */
  int clean = 1;
  for (uint32_t s = p->snd_una; s != ack; s++) {
    struct net_pkt *k = &p->win[s % WIRE_WINDOW];
    clean &= k->tries == 1 && !k->sacked;
  }
  if (clean) {
    uint64_t rtt = now - p->win[(ack - 1) % WIRE_WINDOW].sent_ns;
    p->srtt_ns = p->srtt_ns ? (7 * p->srtt_ns + rtt) / 8 : rtt;
  }
  for (uint32_t s = p->snd_una; s != ack; s++) {
    struct net_pkt *k = &p->win[s % WIRE_WINDOW];
    if (k->notify) {
      struct msg m = {.type = MSG_NOTIFY, .cookie = k->notify_cookie, .status = MSG_ST_OK,
                      .total = k->notify_total, .peer_nic = p->nic};
      notify_post(e, k->notify_eid, k->notify_session, &m);
    }
  }
  p->snd_una = ack;
  p->last_ack_ns = now;
  uint64_t rto = 4 * p->srtt_ns;
  p->rto_ns = rto < NET_RTO_MIN_NS ? NET_RTO_MIN_NS : rto > NET_RTO_MAX_NS ? NET_RTO_MAX_NS : rto;
}

static void resend(struct engine *e, struct net_peer *p, struct net_pkt *k, uint64_t now)
{
  if (k->tries < UINT8_MAX)
    k->tries++;
  k->sent_ns = now;
  p->retransmits++;
  xmit(e, p, k->buf, k->len, PORT_STABLE, now);
}

/* The receiver holds what the selective acks say: resend the holes below
 * the highest packet it holds, each at most once per round trip. */
static void resend_holes(struct engine *e, struct net_peer *p, uint32_t ack, uint32_t sack,
                         uint64_t now)
{
  uint64_t min_gap = p->srtt_ns > RESEND_MIN_NS ? p->srtt_ns : RESEND_MIN_NS;
  if (min_gap > p->rto_ns)
    min_gap = p->rto_ns;
  uint32_t top = ack;
  for (uint32_t i = 0; i < 32; i++) {
    uint32_t s = ack + 1 + i;
    if (!(sack & (1u << i)) || (int32_t)(s - p->snd_next) >= 0)
      continue;
    p->win[s % WIRE_WINDOW].sacked = 1;
    top = s;
  }
  for (uint32_t s = p->snd_una; s != top; s++) {
    struct net_pkt *k = &p->win[s % WIRE_WINDOW];
    if (!k->sacked && now - k->sent_ns >= min_gap)
      resend(e, p, k, now);
  }
}

/* Keep a reliable packet until every one before it has arrived (a peer's
 * MTU may exceed ours, so a kept slot takes any wire packet). */
static void keep(struct net_peer *p, const struct wire_hdr *h, const uint8_t *payload)
{
  struct net_pkt *k = &p->rwin[h->seq % WIRE_WINDOW];
  if (!k->buf && !(k->buf = malloc(WIRE_MAX_PACKET)))
    return; /* no memory: dropped, it comes again */
  memcpy(k->buf, h, sizeof(*h));
  memcpy(k->buf + sizeof(*h), payload, h->len);
  k->len = (uint32_t)sizeof(*h) + h->len;
  p->have[h->seq % WIRE_WINDOW] = 1;
}

/* Deliver, in order, what is kept; stops at a hole or a refusal. */
static int drain(struct engine *e, struct net_peer *p,
                 rel_deliver_fn deliver)
{
  int n = 0;
  while (p->rwin && p->have[p->rcv_next % WIRE_WINDOW]) {
    struct net_pkt *k = &p->rwin[p->rcv_next % WIRE_WINDOW];
    if (!deliver(e, p, (const struct wire_hdr *)k->buf, k->buf + sizeof(struct wire_hdr))) {
      p->stalls++;
      break; /* kept: tried again next round */
    }
    p->have[p->rcv_next % WIRE_WINDOW] = 0;
    p->rcv_next++;
    p->rx_unacked++;
    n++;
  }
  return n;
}

void rel_input(struct engine *e, struct net_peer *p, const struct wire_hdr *h,
               const uint8_t *payload,
               rel_deliver_fn deliver,
               uint64_t now)
{
  p->rx_packets++;
  p->last_heard_ns = now;
  if (p->win && p->snd_una != p->snd_next) {
    take_ack(e, p, h->ack, now);
    /* a late packet's selective ack is stale: only the current one counts */
    if (h->sack && h->ack == p->snd_una && p->snd_una != p->snd_next)
      resend_holes(e, p, h->ack, h->sack, now);
  }
  if (!(h->flags & WIRE_F_RELIABLE))
    return;
  uint32_t ahead = h->seq - p->rcv_next;
  if (ahead >= WIRE_WINDOW || (p->rwin && p->have[h->seq % WIRE_WINDOW])) {
    p->dup_rx++; /* old, or held already: its sender lost our ack */
    rel_send_ack(e, p);
    return;
  }
  if (!ahead && deliver(e, p, h, payload)) {
    /* in order and taken: no copy into the window (the common case) */
    p->rcv_next++;
    p->rx_unacked++;
  } else {
    if (!p->rwin && !(p->rwin = calloc(WIRE_WINDOW, sizeof(*p->rwin))))
      return; /* no memory: dropped, it comes again */
    rpull_flush(e); /* pending pieces may point into the slot kept over */
    keep(p, h, payload);
    if (ahead) {
      p->ooo_rx++;
      rel_send_ack(e, p); /* a hole: say so at once, with what we hold */
      return;
    }
    p->stalls++;
    return; /* refused (its ring is full): kept, tried again each round */
  }
  drain(e, p, deliver);
  if (p->rx_unacked >= NET_ACK_EVERY)
    rel_send_ack(e, p);
  else if (p->rx_unacked && !p->ack_due_ns)
    p->ack_due_ns = now + NET_ACK_DELAY_NS;
}

int rel_retry(struct engine *e, struct net_peer *p,
              rel_deliver_fn deliver)
{
  int n = drain(e, p, deliver);
  if (n && !p->ack_due_ns)
    p->ack_due_ns = clock_now_ns() + NET_ACK_DELAY_NS;
  return n;
}

int rel_timers(struct engine *e, struct net_peer *p)
{
  int work = 0;
  /* read here, not at the start of the round: packets sent earlier in the
   * round would e younger than "now", and their ages would wrap around */
  uint64_t now = clock_now_ns();
  if (p->ack_due_ns && now >= p->ack_due_ns) {
    rel_send_ack(e, p);
    work++;
  }
  if (!p->win || p->snd_una == p->snd_next)
    return work;
  /* Give up on a peer that says nothing, not on one that answers but
   * cannot take more yet (its guest's ring is full): that is flow control. */
  uint64_t quiet = now - (p->last_heard_ns > p->last_ack_ns ? p->last_heard_ns : p->last_ack_ns);
  if (quiet > net_of(e)->peer_timeout_ns) {
    log_warn("peer %s: %u packets unacknowledged (%u..%u), oldest sent %llu ms ago (%u tries), "
             "rto %llu ms, we expect %u from it", p->hostname, p->snd_next - p->snd_una,
             p->snd_una, p->snd_next,
             (unsigned long long)((now - p->win[p->snd_una % WIRE_WINDOW].sent_ns) / 1000000),
             p->win[p->snd_una % WIRE_WINDOW].tries, (unsigned long long)(p->rto_ns / 1000000),
             p->rcv_next);
    p->timeouts++;
    peer_fail(e, p, "no acknowledgement within the peer timeout");
    return work + 1;
  }
  struct net_pkt *oldest = &p->win[p->snd_una % WIRE_WINDOW];
  if (now - oldest->sent_ns >= p->rto_ns) {
    /* The oldest goes again even when a selective ack said the receiver
     * holds it: the ack that would have covered it may e what was lost,
     * and then nothing else ever makes the receiver speak (a lost final
     * ack after a sack deadlocked both sides until the give-up).  Sacks
     * are advice (RFC 2018, 8); a timeout forgets this one.  It is also
     * the probe a receiver that cannot deliver yet answers. */
    oldest->sacked = 0;
    uint32_t burst = RETRANSMIT_BURST;
    for (uint32_t s = p->snd_una; s != p->snd_next && burst; s++) {
      struct net_pkt *k = &p->win[s % WIRE_WINDOW];
      if (!k->sacked && now - k->sent_ns >= p->rto_ns) {
        resend(e, p, k, now);
        burst--;
      }
    }
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
