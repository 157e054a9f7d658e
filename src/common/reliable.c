/*
 * reliable.c - one ordered, acknowledged stream per peer (reliable.h), as
 * MX's and Open-MX's NICs kept per partner.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "reliable.h"

#define RETRANSMIT_BURST 16
/* A hole is resent when a selective ack shows it, and again while the
 * selective acks still show it, each time at most once per this or two of
 * the shortest round trips seen, doubled with each try up to
 * REL_RTO_MAX_NS.  Not per the smoothed round trip: under loss it measures
 * the queue a stalled window leaves (milliseconds where the path takes
 * 30 us), and a resend lost again then waited for a timeout of four of
 * those.  The timer resends a hole no more once it has been sent
 * HOLE_TIMER_TRIES times: past that only a fresh selective ack or the
 * timeout (16 packets, backing off) does, so a receiver that stopped
 * reading, or one ack claiming a window of holes, draws a window's worth
 * of resends at most, not one every timeout until the give-up (a review
 * found 0.5 M in 10 s after one ack, with the doubling capped at the
 * timeout, which the hole timer's resends then kept from expiring). */
#define RESEND_MIN_NS 200000ull
#define REORDER_MIN_NS 20000ull
#define HOLE_TIMER_TRIES 4
/* A tail's probe: when nothing was acknowledged for this long (or two
 * smoothed round trips, if longer) after the newest packet went, the
 * oldest goes again, once until an ack moves the window.  A lost last
 * packet (every lost packet of a ping-pong) has nothing after it for a
 * selective ack to show, and waited for the timeout, REL_RTO_MIN_NS at
 * least: an 8-byte ping-pong under 5% loss took 112-120 us, against 5.6
 * without.  The receiver answers the probe (a duplicate, or the hole it
 * fills) with its whole selective ack. */
#define PROBE_MIN_NS 200000ull

/* A send slot: the MTU and room for the link's trailer, rounded up to a
 * cache line (headers stay aligned, slots apart). */
static uint32_t slot_size(uint32_t mtu)
{
  return (mtu + WIRE_MAC_LEN + 63) & ~63u;
}

void rel_init(struct rel_stream *s, const struct rel_io *io, void *ctx, uint64_t nic,
              uint64_t peer_nic, uint32_t mtu, uint32_t window, uint64_t give_up_ns,
              uint32_t my_session)
{
  memset(s, 0, sizeof(*s));
  s->window = window;
  s->send_window = window;
  while (s->send_window > 16 && (uint64_t)s->send_window * slot_size(mtu) > REL_SEND_BYTES)
    s->send_window /= 2;
  s->ack_delay_ns = REL_ACK_DELAY_NS;
  s->ack_every = REL_ACK_EVERY;
  s->io = io;
  s->ctx = ctx;
  s->nic = nic;
  s->peer_nic = peer_nic;
  s->mtu = mtu;
  s->give_up_ns = give_up_ns;
  s->my_session = my_session;
  s->rto_ns = REL_RTO_INITIAL_NS;
}

void rel_start_at(struct rel_stream *s, uint32_t snd_first, uint32_t rcv_first)
{
  s->snd_next = s->snd_una = s->sack_end = snd_first;
  s->rcv_next = rcv_first;
}

void rel_reset(struct rel_stream *s, uint32_t my_session)
{
  s->my_session = my_session;
  s->peer_session = 0;
  s->snd_next = s->snd_una = s->sack_end = s->rcv_next = 0;
  s->rx_unacked = 0;
  s->ack_due_ns = 0;
  s->ack_now = 0;
  s->probed = 0;
  memset(s->have, 0, sizeof(s->have));
  s->held = s->held_bytes = 0;
  s->rto_ns = REL_RTO_INITIAL_NS;
}

void rel_free(struct rel_stream *s)
{
  for (uint32_t i = 0; s->rwin && i < s->window; i++)
    free(s->rwin[i].buf);
  free(s->rwin);
  s->rwin_bytes = 0;
  free(s->win);
  free(s->win_bufs);
  s->rwin = s->win = NULL;
  s->win_bufs = NULL;
}

uint32_t rel_room(const struct rel_stream *s)
{
  return s->send_window - (s->snd_next - s->snd_una);
}

int rel_busy(const struct rel_stream *s)
{
  return s->snd_una != s->snd_next;
}

void rel_sent_at(struct rel_stream *s, uint32_t from, uint64_t now)
{
  if (!s->win || s->snd_next - from > s->send_window)
    return; /* (nothing of ours: a stale mark) */
  for (uint32_t seq = from; seq != s->snd_next; seq++) {
    struct rel_pkt *k = &s->win[seq % s->send_window];
    if (k->tries == 1)
      k->sent_ns = now;
  }
}

uint32_t rel_held(const struct rel_stream *s)
{
  return s->held;
}

static void fill_header(struct rel_stream *s, struct wire_hdr *h, uint8_t type, uint32_t len)
{
  memset(h, 0, sizeof(*h));
  h->magic = WIRE_MAGIC;
  h->version = WIRE_VERSION;
  h->type = type;
  h->len = (uint16_t)len;
  h->src_session = s->my_session;
}

/* Bit i: we hold seq rcv_next+1+i, past the hole at rcv_next. */
static uint32_t sack_bits(const struct rel_stream *s)
{
  uint32_t bits = 0;
  if (!s->rwin)
    return 0;
  for (uint32_t i = 0; i < 32; i++)
    if (s->have[(s->rcv_next + 1 + i) % s->window])
      bits |= 1u << i;
  return bits;
}

/* The freshest acks ride every packet; stable for a window slot. */
static void xmit(struct rel_stream *s, uint8_t *buf, uint32_t len, int stable, uint64_t now)
{
  struct wire_hdr *h = (struct wire_hdr *)buf;
  h->src_nic = s->nic;
  h->dst_nic = s->peer_nic;
  h->ack = s->rcv_next;
  h->sack = sack_bits(s);
  h->dst_session = s->peer_session;
  s->io->send(s->ctx, s, buf, len, stable, now); /* the link seals it */
  s->tx_packets++;
  s->rx_unacked = 0;
  s->ack_due_ns = 0;
  s->ack_now = 0;
}

/* The send window: send_window packets of at most the MTU (what is sent
 * is cut to it), so a window of jumbo-sized slots is not paid for on a
 * 1500-byte link. */
static int win_alloc(struct rel_stream *s)
{
  uint32_t slot = slot_size(s->mtu);
  s->win = calloc(s->send_window, sizeof(*s->win));
  s->win_bufs = malloc((size_t)s->send_window * slot);
  if (!s->win || !s->win_bufs) {
    rel_free(s);
    return -1;
  }
  for (uint32_t i = 0; i < s->send_window; i++)
    s->win[i].buf = s->win_bufs + (size_t)i * slot;
  /* Touched now, on the first packet to this peer (a connect, as a rule),
   * not slot by slot on the path of its first thousand messages: a first
   * touch is a page fault, 20 us each in a VM here, and the first 1024
   * messages across hosts went at twice the latency of the rest.  (A
   * memset to 0 would not do: the compiler makes malloc and memset one
   * calloc, which leaves fresh pages untouched.) */
  for (size_t off = 0; off < (size_t)s->send_window * slot; off += 4096)
    ((volatile uint8_t *)s->win_bufs)[off] = 0;
  return 0;
}

uint8_t *rel_payload(struct rel_stream *s, uint32_t i, uint32_t *cap)
{
  if (i >= rel_room(s) || (!s->win && win_alloc(s) < 0))
    return NULL;
  *cap = s->mtu - (uint32_t)sizeof(struct wire_hdr);
  return s->win[(s->snd_next + i) % s->send_window].buf + sizeof(struct wire_hdr);
}

struct rel_pkt *rel_commit(struct rel_stream *s, uint8_t type, uint32_t len, uint64_t now)
{
  uint32_t cap;
  if (!rel_payload(s, 0, &cap) || len > cap)
    return NULL; /* callers cut pieces to the MTU: a bug, not a packet */
  struct rel_pkt *k = &s->win[s->snd_next % s->send_window];
  struct wire_hdr *h = (struct wire_hdr *)k->buf;
  fill_header(s, h, type, len);
  h->flags = WIRE_F_RELIABLE;
  h->seq = s->snd_next++;
  k->len = (uint32_t)sizeof(*h) + len;
  k->tries = 1;
  k->sacked = 0;
  k->noted = 0;
  k->sent_ns = now;
  if (s->snd_una + 1 == s->snd_next)
    s->last_ack_ns = now; /* the give-up clock starts with the first packet out */
  xmit(s, k->buf, k->len, 1, now);
  return k;
}

struct rel_pkt *rel_send(struct rel_stream *s, uint8_t type, const void *a, uint32_t alen,
                         const void *b, uint32_t blen)
{
  uint32_t cap;
  uint8_t *payload = rel_payload(s, 0, &cap);
  if (!payload || alen + blen > cap)
    return NULL;
  if (alen) /* (a keepalive has no payload: memcpy from NULL is undefined) */
    memcpy(payload, a, alen);
  if (blen)
    memcpy(payload + alen, b, blen);
  return rel_commit(s, type, alen + blen, s->io->now(s->ctx));
}

/* What a lone ack adds to the header's 32 bits of selective ack: bit i
 * of word w says we hold rcv_next + 33 + 32w + i; words up to the last
 * with a bit set.  Returns their bytes (0: we hold nothing that far). */
static uint32_t sack_words(const struct rel_stream *s, uint8_t *out)
{
  uint32_t n = 0;
  if (!s->held)
    return 0;
  for (uint32_t w = 0; w < REL_SACK_WORDS && 33 + 32 * w < s->window; w++) {
    uint32_t bits = 0;
    for (uint32_t i = 0; i < 32 && 33 + 32 * w + i < s->window; i++)
      if (s->have[(s->rcv_next + 33 + 32 * w + i) % s->window])
        bits |= 1u << i;
    memcpy(out + 4 * w, &bits, 4);
    if (bits)
      n = w + 1;
  }
  return 4 * n;
}

void rel_send_ack(struct rel_stream *s)
{
  _Alignas(struct wire_hdr) uint8_t pkt[sizeof(struct wire_hdr) + 4 * REL_SACK_WORDS +
                                        WIRE_MAC_LEN];
  uint32_t more = sack_words(s, pkt + sizeof(struct wire_hdr)); /* (held: rwin is there) */
  fill_header(s, (struct wire_hdr *)pkt, WIRE_ACK, more);
  xmit(s, pkt, (uint32_t)sizeof(struct wire_hdr) + more, 0, s->io->now(s->ctx));
}

/* Everything up to ack (exclusive) arrived: free it, tell the notes. */
static void take_ack(struct rel_stream *s, uint32_t ack, uint64_t now)
{
  uint32_t acked = ack - s->snd_una;
  if (acked == 0 || acked > s->snd_next - s->snd_una)
    return; /* old, or beyond what we sent: nothing to learn */
  /* A round trip is measured only where nothing muddles it (Karn): no
   * packet of the range was resent or held past a hole. */
  int clean = 1;
  for (uint32_t q = s->snd_una; q != ack; q++) {
    struct rel_pkt *k = &s->win[q % s->send_window];
    clean &= k->tries == 1 && !k->sacked;
  }
  if (clean) {
    uint64_t rtt = now - s->win[(ack - 1) % s->send_window].sent_ns;
    s->srtt_ns = s->srtt_ns ? (7 * s->srtt_ns + rtt) / 8 : rtt;
    if (!s->min_rtt_ns || rtt < s->min_rtt_ns)
      s->min_rtt_ns = rtt ? rtt : 1;
  }
  for (uint32_t q = s->snd_una; q != ack; q++) {
    struct rel_pkt *k = &s->win[q % s->send_window];
    if (k->noted)
      s->io->acked(s->ctx, s, &k->note);
  }
  s->snd_una = ack;
  s->probed = 0;
  if ((int32_t)(s->sack_end - ack) < 0)
    s->sack_end = ack; /* (behind the window it would be garbage, once seqs wrap) */
  s->last_ack_ns = now;
  uint64_t rto = 4 * s->srtt_ns;
  s->rto_ns = rto < REL_RTO_MIN_NS ? REL_RTO_MIN_NS : rto > REL_RTO_MAX_NS ? REL_RTO_MAX_NS : rto;
}

void rel_take_ack(struct rel_stream *s, uint32_t ack)
{
  if (s->win && s->snd_una != s->snd_next)
    take_ack(s, ack, s->io->now(s->ctx));
}

/* Not stable: an ack of the first copy, in the same round, may free the
 * slot for a new packet before the flush.  (A first send's slot is freed
 * only by an ack of what a flush sent.) */
static void resend(struct rel_stream *s, struct rel_pkt *k, uint64_t now)
{
  if (k->tries < UINT8_MAX)
    k->tries++;
  k->sent_ns = now;
  s->retransmits++;
  xmit(s, k->buf, k->len, 0, now);
}

/* How long a hole waits before it is resent.  The first time, only what
 * reordering may explain (a quarter of the shortest round trip, at least
 * REORDER_MIN_NS, at most the timeout): a packet sent after it has
 * arrived.  Again (its resend lost too, or still on its way),
 * RESEND_MIN_NS or two of the shortest round trips, doubled for each
 * resend, at most REL_RTO_MAX_NS. */
static uint64_t hole_gap(const struct rel_stream *s, const struct rel_pkt *k)
{
  uint64_t gap;
  if (k->tries <= 1) {
    gap = s->min_rtt_ns / 4 > REORDER_MIN_NS ? s->min_rtt_ns / 4 : REORDER_MIN_NS;
    return gap < s->rto_ns ? gap : s->rto_ns;
  }
  gap = 2 * s->min_rtt_ns > RESEND_MIN_NS ? 2 * s->min_rtt_ns : RESEND_MIN_NS;
  for (uint8_t t = 2; t < k->tries && gap < REL_RTO_MAX_NS; t++)
    gap *= 2;
  return gap < REL_RTO_MAX_NS ? gap : REL_RTO_MAX_NS;
}

/* True while the selective acks told of packets past snd_una: the holes
 * below sack_end are known. */
static int holes_known(const struct rel_stream *s)
{
  return (int32_t)(s->sack_end - s->snd_una) > 0 && (int32_t)(s->sack_end - s->snd_next) <= 0;
}

/* Resend the holes below sack_end whose wait is over (by_timer: only
 * those sent fewer than HOLE_TIMER_TRIES times), and note when the
 * timer's next one is due (holes_due_ns: never later than it is, so a
 * timer set by it is early at worst; rel_input walks again only when a
 * selective ack told something new or that time came).  Returns how many. */
static int resend_due_holes(struct rel_stream *s, uint64_t now, int by_timer)
{
  int n = 0;
  s->holes_due_ns = UINT64_MAX;
  if (!holes_known(s))
    return 0;
  for (uint32_t q = s->snd_una; q != s->sack_end; q++) {
    struct rel_pkt *k = &s->win[q % s->send_window];
    if (k->sacked || (by_timer && k->tries >= HOLE_TIMER_TRIES))
      continue;
    uint64_t gap = hole_gap(s, k);
    if (now - k->sent_ns >= gap) {
      resend(s, k, now);
      n++;
      gap = hole_gap(s, k);
    }
    if (k->tries < HOLE_TIMER_TRIES && k->sent_ns + gap < s->holes_due_ns)
      s->holes_due_ns = k->sent_ns + gap;
  }
  return n;
}

/* The receiver holds what the selective acks say: the holes below the
 * highest packet it holds are resent, now or by the timer (rel_timers),
 * until an ack covers them. */
static void resend_holes(struct rel_stream *s, uint32_t ack, uint32_t sack, const uint8_t *more,
                         uint32_t nmore, uint64_t now)
{
  int news = 0; /* a packet newly said held: holes may show that did not */
  for (uint32_t w = 0; w <= nmore; w++) {
    uint32_t bits = sack;
    if (w)
      memcpy(&bits, more + 4 * (w - 1), 4);
    for (uint32_t i = 0; bits && i < 32; i++) {
      uint32_t q = ack + 1 + 32 * w + i;
      if ((int32_t)(q - s->snd_next) >= 0)
        break; /* never sent: the rest is noise */
      if (!(bits & (1u << i)))
        continue;
      struct rel_pkt *k = &s->win[q % s->send_window];
      news |= !k->sacked;
      k->sacked = 1;
      if (!holes_known(s) || (int32_t)(q + 1 - s->sack_end) > 0)
        s->sack_end = q + 1;
    }
  }
  if (news || now >= s->holes_due_ns)
    resend_due_holes(s, now, 0);
}

/* Keep a reliable packet until every one before it has arrived, in a
 * buffer of its size (a peer's MTU may exceed ours). */
static void keep(struct rel_stream *s, const struct wire_hdr *h, const uint8_t *payload)
{
  struct rel_pkt *k = &s->rwin[h->seq % s->window];
  if (k->buf)
    s->rwin_bytes -= k->len;
  free(k->buf);
  if (!(k->buf = malloc(sizeof(*h) + h->len)))
    return; /* no memory: dropped, it comes again */
  s->rwin_bytes += (uint32_t)sizeof(*h) + h->len;
  memcpy(k->buf, h, sizeof(*h));
  memcpy(k->buf + sizeof(*h), payload, h->len);
  k->len = (uint32_t)sizeof(*h) + h->len;
  s->have[h->seq % s->window] = 1;
  s->held++;
  s->held_bytes += k->len;
}

/* Deliver, in order, what is kept; stops at a hole or a refusal. */
static int drain(struct rel_stream *s)
{
  int n = 0;
  while (s->rwin && s->have[s->rcv_next % s->window]) {
    struct rel_pkt *k = &s->rwin[s->rcv_next % s->window];
    if (!s->io->deliver(s->ctx, s, (const struct wire_hdr *)k->buf,
                        k->buf + sizeof(struct wire_hdr))) {
      s->stalls++;
      break; /* kept: tried again next round */
    }
    s->have[s->rcv_next % s->window] = 0;
    s->held--;
    s->held_bytes -= k->len; /* its buffer stays until the slot is kept again (keep): what was
                * delivered from it may still be read (rpull's pending pieces) */
    s->rcv_next++;
    s->rx_unacked++;
    n++;
  }
  return n;
}

/* Let the buffers of delivered packets go (what was read from them is
 * done with: io->keep came first). */
static void release_delivered(struct rel_stream *s)
{
  for (uint32_t i = 0; i < s->window; i++) {
    struct rel_pkt *k = &s->rwin[i];
    if (!s->have[i] && k->buf) {
      s->rwin_bytes -= k->len;
      free(k->buf);
      k->buf = NULL;
    }
  }
}

/* An ack due at the end of this round (rel_timers): a hole or a duplicate
 * is told at once, but once for all the packets read together, not once
 * each.  An ack a packet, each a send of the receiver's and a walk of the
 * sender's window, slowed a stream under 5% loss to a fraction of its
 * speed: the queue that grew in the receiver's socket made round trips of
 * milliseconds, and every resend that was lost again waited a timeout of
 * four of them. */
static void ack_this_round(struct rel_stream *s, uint64_t now)
{
  if (!s->ack_due_ns || now < s->ack_due_ns)
    s->ack_due_ns = now ? now : 1;
  s->ack_now = 1;
}

/* A packet that is not next, or that its user refused: into the window. */
static void hold(struct rel_stream *s, const struct wire_hdr *h, const uint8_t *payload,
                 uint32_t ahead, uint64_t now)
{
  if (ahead && s->held_bytes + sizeof(*h) + h->len > REL_HOLD_BYTES) {
    s->hold_drops++; /* dropped: it comes again, once the hole has filled */
    return;
  }
  if (!s->rwin && !(s->rwin = calloc(s->window, sizeof(*s->rwin))))
    return; /* no memory: dropped, it comes again */
  s->io->keep(s->ctx, s); /* what points into the receive buffer may be kept over */
  if (s->rwin_bytes + sizeof(*h) + h->len > REL_HOLD_BYTES)
    release_delivered(s);
  keep(s, h, payload);
  if (ahead) {
    s->ooo_rx++;
    ack_this_round(s, now); /* a hole: say so, with what we hold */
    return;
  }
  s->stalls++; /* refused (its ring is full): kept, tried again each round */
}

void rel_input(struct rel_stream *s, const struct wire_hdr *h, const uint8_t *payload,
               uint64_t now)
{
  s->rx_packets++;
  s->last_heard_ns = now;
  if (s->win && s->snd_una != s->snd_next) {
    take_ack(s, h->ack, now);
    /* a late packet's selective ack is stale: only the current one counts */
    uint32_t more = h->type == WIRE_ACK ? h->len / 4 : 0; /* a lone ack's further words */
    if (more > REL_SACK_WORDS)
      more = REL_SACK_WORDS;
    if ((h->sack || more) && h->ack == s->snd_una && s->snd_una != s->snd_next)
      resend_holes(s, h->ack, h->sack, payload, more, now);
  }
  if (!(h->flags & WIRE_F_RELIABLE))
    return;
  uint32_t ahead = h->seq - s->rcv_next;
  if (ahead >= s->window || (s->rwin && s->have[h->seq % s->window])) {
    s->dup_rx++; /* old, or held already: its sender lost our ack */
    ack_this_round(s, now);
    return;
  }
  if (ahead || !s->io->deliver(s->ctx, s, h, payload)) {
    hold(s, h, payload, ahead, now);
    return;
  }
  /* in order and taken: no copy into the window (the common case) */
  s->rcv_next++;
  s->rx_unacked++;
  drain(s);
  if (s->rx_unacked >= s->ack_every)
    rel_send_ack(s);
  else if (s->rx_unacked && !s->ack_due_ns)
    s->ack_due_ns = now + s->ack_delay_ns;
}

int rel_retry(struct rel_stream *s)
{
  int n = drain(s);
  if (n && !s->ack_due_ns)
    s->ack_due_ns = s->io->now(s->ctx) + s->ack_delay_ns;
  return n;
}

/* The oldest packet waited a whole rto: resend what is due, back off. */
static void timeout_resend(struct rel_stream *s, uint64_t now)
{
  /* The oldest goes again even when a selective ack said the receiver
   * holds it: the ack that would have covered it may be what was lost,
   * and then nothing else ever makes the receiver speak (a lost final ack
   * after a sack deadlocked both sides until the give-up).  Sacks are
   * advice (RFC 2018, 8); a timeout forgets this one.  It is also the
   * probe a receiver that cannot deliver yet answers. */
  s->win[s->snd_una % s->send_window].sacked = 0;
  s->probed = 1; /* (this was the probe) */
  uint32_t burst = RETRANSMIT_BURST;
  for (uint32_t q = s->snd_una; q != s->snd_next && burst; q++) {
    struct rel_pkt *k = &s->win[q % s->send_window];
    if (!k->sacked && now - k->sent_ns >= s->rto_ns) {
      resend(s, k, now);
      burst--;
    }
  }
  s->rto_ns = s->rto_ns * 2 > REL_RTO_MAX_NS ? REL_RTO_MAX_NS : s->rto_ns * 2;
}

/* When the tail's probe is due (UINT64_MAX: none: sent already, or no
 * sooner than the timeout). */
static uint64_t probe_at(const struct rel_stream *s)
{
  if (s->probed)
    return UINT64_MAX;
  uint64_t pto = 2 * s->srtt_ns > PROBE_MIN_NS ? 2 * s->srtt_ns : PROBE_MIN_NS;
  if (pto >= s->rto_ns)
    return UINT64_MAX;
  return s->win[(s->snd_next - 1) % s->send_window].sent_ns + pto;
}

int rel_timers(struct rel_stream *s)
{
  int work = 0;
  /* read here, not at the start of the round: packets sent earlier in the
   * round would be younger than "now", and their ages would wrap around */
  uint64_t now = s->io->now(s->ctx);
  if (s->ack_due_ns && now >= s->ack_due_ns) {
    rel_send_ack(s);
    work++;
  }
  if (!s->win || s->snd_una == s->snd_next)
    return work;
  /* Give up on a peer that says nothing, not on one that answers but
   * cannot take more yet (its guest's ring is full): that is flow control. */
  uint64_t heard = s->last_heard_ns > s->last_ack_ns ? s->last_heard_ns : s->last_ack_ns;
  if (now - heard > s->give_up_ns) {
    const struct rel_pkt *oldest = &s->win[s->snd_una % s->send_window];
    log_warn("peer %012llx: %u packets unacknowledged (%u..%u), oldest sent %llu ms ago "
             "(%u tries), rto %llu ms, we expect %u from it",
             (unsigned long long)s->peer_nic, s->snd_next - s->snd_una, s->snd_una, s->snd_next,
             (unsigned long long)((now - oldest->sent_ns) / 1000000), oldest->tries,
             (unsigned long long)(s->rto_ns / 1000000), s->rcv_next);
    s->timeouts++;
    s->io->give_up(s->ctx, s);
    return work + 1;
  }
  int timed_out = now - s->win[s->snd_una % s->send_window].sent_ns >= s->rto_ns;
  if (timed_out) {
    timeout_resend(s, now);
    work++;
  } else if (now >= probe_at(s)) {
    s->probed = 1;
    resend(s, &s->win[s->snd_una % s->send_window], now);
    work++;
  }
  /* The holes' walk when one is due (an engine runs its timers every
   * round: a walk of the window each time, under loss), or after the
   * timeout, which may have made the oldest a hole again. */
  if (holes_known(s) && (now >= s->holes_due_ns || timed_out))
    work += resend_due_holes(s, now, 1);
  return work;
}

uint64_t rel_next_timer(const struct rel_stream *s)
{
  uint64_t t = s->ack_due_ns ? s->ack_due_ns : UINT64_MAX;
  if (s->win && s->snd_una != s->snd_next) {
    uint64_t r = s->win[s->snd_una % s->send_window].sent_ns + s->rto_ns;
    if (r < t)
      t = r;
    uint64_t p = probe_at(s);
    if (holes_known(s) && s->holes_due_ns < t)
      t = s->holes_due_ns;
    if (p < t)
      t = p;
  }
  return t;
}
