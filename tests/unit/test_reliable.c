/* test_reliable.c - the reliable stream (common/reliable.h) driven
 * deterministically, as WireGuard's selftests drive its state machines:
 * two streams joined by a link of the test's own, which loses, duplicates,
 * reorders and delays packets on a schedule, and a clock the test turns.
 * No sockets, no namespaces, no root. */
#include <string.h>

#include "../../src/common/reliable.h"
#include "../harness.h"

#define LINK_MAX 8192
#define LINK_DELAY_NS 50000ull /* one way */

struct wire_pkt {
  uint64_t due_ns;
  uint32_t len;
  uint8_t buf[];
};

/* One direction of the link: packets in flight, and what happens to them. */
struct link {
  struct wire_pkt *pkt[LINK_MAX];
  uint32_t n;
  uint32_t sent;                /* packets handed to this direction */
  uint64_t rng;
  double loss, dup, reorder;
  int (*drop)(struct link *l, const struct wire_hdr *h); /* a scripted loss */
  uint32_t dropped;
  uint8_t tries_dropped[128];   /* per seq, for drop_tries (scripted losses) */
};

/* One end: its stream, the link out of it, and what it took in order. */
struct end {
  struct rel_stream s;
  struct link out;
  uint32_t expect;              /* next payload counter due */
  uint32_t got, bad_order;
  int full;                     /* refuse deliveries (a guest's ring is full) */
  int gave_up;
  uint32_t acked_notes;
  uint32_t pad;                 /* zeros after each packet's counter (large packets) */
};

static const uint8_t zeros[WIRE_MAX_PACKET];

static uint64_t now_ns;

static double rnd(struct link *l)
{
  l->rng ^= l->rng << 13;
  l->rng ^= l->rng >> 7;
  l->rng ^= l->rng << 17;
  return (double)(l->rng >> 11) / (double)(1ull << 53);
}

static void link_put(struct link *l, const void *buf, uint32_t len, uint64_t due)
{
  if (l->n == LINK_MAX)
    return; /* a full link loses, as a real one does */
  struct wire_pkt *p = malloc(sizeof(*p) + len);
  CHECK(p != NULL);
  p->due_ns = due;
  p->len = len;
  memcpy(p->buf, buf, len);
  l->pkt[l->n++] = p;
}

static void io_send(void *ctx, struct rel_stream *s, void *buf, uint32_t len, int stable,
                    uint64_t now)
{
  (void)s;
  (void)stable;
  struct end *e = ctx;
  struct link *l = &e->out;
  wire_seal(buf, len);
  l->sent++;
  if ((l->drop && l->drop(l, buf)) || rnd(l) < l->loss) {
    l->dropped++;
    return;
  }
  uint64_t due = now + LINK_DELAY_NS;
  if (rnd(l) < l->reorder)
    due += LINK_DELAY_NS * 3; /* overtaken by the next ones */
  link_put(l, buf, len, due);
  if (rnd(l) < l->dup)
    link_put(l, buf, len, due + 1000);
}

static int io_deliver(void *ctx, struct rel_stream *s, const struct wire_hdr *h,
                      const uint8_t *payload)
{
  (void)s;
  struct end *e = ctx;
  uint32_t counter;
  if (e->full)
    return 0;
  CHECK(h->len == sizeof(counter) + e->pad);
  memcpy(&counter, payload, sizeof(counter));
  e->bad_order += counter != e->expect;
  e->expect = counter + 1;
  e->got++;
  return 1;
}

static void io_acked(void *ctx, struct rel_stream *s, const struct rel_note *note)
{
  (void)s;
  (void)note;
  ((struct end *)ctx)->acked_notes++;
}

static void io_give_up(void *ctx, struct rel_stream *s)
{
  (void)s;
  ((struct end *)ctx)->gave_up = 1;
}

static void io_keep(void *ctx, struct rel_stream *s)
{
  (void)ctx;
  (void)s;
}

static uint64_t io_now(void *ctx)
{
  (void)ctx;
  return now_ns;
}

static const struct rel_io test_io = {io_send, io_deliver, io_acked, io_give_up, io_keep, io_now};

#define GIVE_UP_NS 2000000000ull

/* Two ends of MTU mtu, each packet a counter and pad zeros. */
static void pair_init_mtu(struct end *a, struct end *b, uint64_t seed, uint32_t mtu,
                          uint32_t pad)
{
  memset(a, 0, sizeof(*a));
  memset(b, 0, sizeof(*b));
  now_ns = 1000000000ull;
  rel_init(&a->s, &test_io, a, 0xa, 0xb, mtu, WIRE_WINDOW, GIVE_UP_NS, 11);
  rel_init(&b->s, &test_io, b, 0xb, 0xa, mtu, WIRE_WINDOW, GIVE_UP_NS, 22);
  a->pad = b->pad = pad;
  a->s.peer_session = 22; /* as net.c learns it from the first packet */
  b->s.peer_session = 11;
  a->out.rng = seed * 2 + 1;
  b->out.rng = seed * 3 + 7;
}

static void pair_init(struct end *a, struct end *b, uint64_t seed)
{
  pair_init_mtu(a, b, seed, 1500, 0);
}

static void pair_free(struct end *a, struct end *b)
{
  struct end *ends[2] = {a, b};
  for (int k = 0; k < 2; k++) {
    for (uint32_t i = 0; i < ends[k]->out.n; i++)
      free(ends[k]->out.pkt[i]);
    rel_free(&ends[k]->s);
  }
}

/* Hand the packets due by now from l to the stream at its other end,
 * checked as the network layer checks them. */
static int link_deliver_due(struct link *l, struct rel_stream *to)
{
  int n = 0;
  for (uint32_t i = 0; i < l->n;) {
    struct wire_pkt *p = l->pkt[i];
    if (p->due_ns > now_ns) {
      i++;
      continue;
    }
    memmove(&l->pkt[i], &l->pkt[i + 1], (l->n - i - 1) * sizeof(l->pkt[0]));
    l->n--; /* packets due together arrive in the order they were sent */
    struct wire_hdr h;
    CHECK(wire_check(p->buf, p->len) == 0);
    memcpy(&h, p->buf, sizeof(h));
    if (h.dst_session == to->my_session)
      rel_input(to, &h, p->buf + sizeof(h), now_ns);
    free(p);
    n++;
  }
  return n;
}

/* One round of both ends, then the clock moves on by step. */
static void pair_round(struct end *a, struct end *b, uint64_t step)
{
  link_deliver_due(&a->out, &b->s);
  link_deliver_due(&b->out, &a->s);
  rel_retry(&a->s);
  rel_retry(&b->s);
  rel_timers(&a->s);
  rel_timers(&b->s);
  now_ns += step;
}

/* a sends counters from *next while its window has room. */
static uint32_t send_some(struct end *a, uint32_t *next, uint32_t last)
{
  uint32_t k = 0;
  while (*next < last && rel_room(&a->s) > 0) {
    struct rel_pkt *p = rel_send(&a->s, WIRE_DATA, next, sizeof(*next), zeros, a->pad);
    CHECK(p != NULL);
    if (*next % 7 == 0) { /* some carry a note, as eager sends do */
      p->noted = 1;
      p->note = (struct rel_note){.cookie = *next};
    }
    (*next)++;
    k++;
  }
  return k;
}

/* Rounds of step ns, at most max of them, until a has nothing unacknowledged. */
static void run_until_acked(struct end *a, struct end *b, int max, uint64_t step)
{
  for (int i = 0; i < max && rel_busy(&a->s); i++)
    pair_round(a, b, step);
}

/* A pair whose a sends count packets into a link that loses everything. */
static void pair_unheard(struct end *a, struct end *b, uint64_t seed, uint32_t count)
{
  pair_init(a, b, seed);
  a->out.loss = 1.0;
  uint32_t next = 0;
  send_some(a, &next, count);
  CHECK(next == count);
}

/* Send count packets from a to b; run until all are acknowledged or the
 * simulated time runs out.  Returns the simulated nanoseconds it took. */
static uint64_t transfer(struct end *a, struct end *b, uint32_t count, uint64_t limit_ns)
{
  uint32_t next = 0;
  uint64_t start = now_ns;
  while (now_ns - start < limit_ns && !a->gave_up) {
    send_some(a, &next, count);
    pair_round(a, b, 10000);
    if (next == count && !rel_busy(&a->s))
      break;
  }
  return now_ns - start;
}

static uint32_t notes_expected(uint32_t count)
{
  return (count + 6) / 7;
}

static int test_lossless_stream_in_order(void)
{
  struct end a, b;
  pair_init(&a, &b, 1);
  transfer(&a, &b, 5000, 1000000000ull);
  CHECK(b.got == 5000 && b.bad_order == 0);
  CHECK(!rel_busy(&a.s) && a.s.retransmits == 0 && !a.gave_up);
  CHECK(a.acked_notes == notes_expected(5000));
  pair_free(&a, &b);
  return 0;
}

static int test_loss_dup_reorder_deliver_exactly_once_in_order(void)
{
  for (uint64_t seed = 1; seed <= 5; seed++) {
    struct end a, b;
    pair_init(&a, &b, seed);
    a.out.loss = b.out.loss = 0.1;
    a.out.dup = b.out.dup = 0.05;
    a.out.reorder = b.out.reorder = 0.1;
    transfer(&a, &b, 4000, 20000000000ull);
    CHECK(b.got == 4000 && b.bad_order == 0);
    CHECK(!rel_busy(&a.s) && !a.gave_up);
    CHECK(a.s.retransmits > 0 && b.s.dup_rx > 0 && b.s.ooo_rx > 0);
    CHECK(a.acked_notes == notes_expected(4000));
    pair_free(&a, &b);
  }
  return 0;
}

/* Drop data packet 0 once, and every ack b sends once it holds all. */
static int drop_first_data(struct link *l, const struct wire_hdr *h)
{
  (void)l;
  static int done;
  if (h->type == WIRE_DATA && h->seq == 0 && !done)
    return done = 1;
  return 0;
}

/* Drop every 100th data packet at its first try: one hole after another. */
static int drop_each_hundredth_once(struct link *l, const struct wire_hdr *h)
{
  (void)l;
  static uint8_t dropped[4096];
  if (h->type != WIRE_DATA || h->seq % 100 || h->seq >= sizeof(dropped) || dropped[h->seq])
    return 0;
  return dropped[h->seq] = 1;
}

/* Bytes of the receive window's buffers, whatever the stream counts. */
static uint64_t rwin_allocated(const struct rel_stream *s)
{
  uint64_t sum = 0;
  for (uint32_t i = 0; s->rwin && i < s->window; i++)
    sum += s->rwin[i].buf ? s->rwin[i].len : 0;
  return sum;
}

static int drop_acks_of_all(struct link *l, const struct wire_hdr *h)
{
  (void)l;
  return h->ack == 4 && h->sack == 0; /* the cumulative ack that covers all four */
}

/* The deadlock fixed in d53f245: after a selective ack, the cumulative
 * ack that would cover everything is lost.  The sender must still finish
 * long before the give-up, because a timeout resends the oldest packet
 * whatever a sack said (the receiver, holding all, says nothing more). */
static int test_sack_then_lost_cumulative_ack_recovers(void)
{
  struct end a, b;
  pair_init(&a, &b, 9);
  a.out.drop = drop_first_data;
  b.out.drop = drop_acks_of_all;
  uint32_t next = 0;
  send_some(&a, &next, 4);
  for (int i = 0; i < 3000 && rel_busy(&a.s); i++) /* 300 ms */
    pair_round(&a, &b, 100000);
  /* b holds 1..3 past the hole at 0 and said so (ack 0, sack 1..3) */
  CHECK(b.out.dropped > 0);
  CHECK(b.got == 4 && b.bad_order == 0);
  CHECK(!a.gave_up);
  /* the acks that cover all four keep being lost: a still probes, and
   * every probe is answered (a duplicate makes b speak) */
  CHECK(a.s.retransmits >= 3 && b.s.dup_rx >= 2);
  /* the link heals: the next probe's answer completes the stream */
  b.out.drop = NULL;
  run_until_acked(&a, &b, 2000, 100000);
  CHECK(!rel_busy(&a.s) && !a.gave_up);
  pair_free(&a, &b);
  return 0;
}

/* A sack that claims the oldest packet (stale, or a broken receiver) must
 * not stop the timeout from resending it: sacks are advice. */
static int test_timeout_resends_a_sacked_oldest_packet(void)
{
  struct end a, b;
  pair_unheard(&a, &b, 3, 3); /* everything a sends is lost at first */
  for (uint32_t q = a.s.snd_una; q != a.s.snd_next; q++)
    a.s.win[q % WIRE_WINDOW].sacked = 1;
  a.out.loss = 0;
  run_until_acked(&a, &b, 1000, 100000);
  CHECK(b.got == 3 && !rel_busy(&a.s) && !a.gave_up);
  pair_free(&a, &b);
  return 0;
}

/* A receiver that cannot deliver (its guest's ring is full) keeps the
 * packet and is flow control, not a dead peer: no give-up, and delivery
 * resumes in order when room comes back. */
static int test_refused_delivery_is_flow_control(void)
{
  struct end a, b;
  pair_init(&a, &b, 4);
  b.full = 1;
  uint32_t next = 0;
  send_some(&a, &next, 50);
  for (int i = 0; i < 40000; i++) /* 4 s: twice the give-up time */
    pair_round(&a, &b, 100000);
  CHECK(!a.gave_up && b.got == 0 && b.s.stalls > 0);
  b.full = 0;
  run_until_acked(&a, &b, 1000, 100000);
  CHECK(b.got == 50 && b.bad_order == 0 && !rel_busy(&a.s));
  pair_free(&a, &b);
  return 0;
}

/* A peer that says nothing at all is given up after give_up_ns. */
static int test_silent_peer_is_given_up(void)
{
  struct end a, b;
  pair_unheard(&a, &b, 5, 10);
  uint64_t start = now_ns;
  for (int i = 0; i < 100000 && !a.gave_up; i++)
    pair_round(&a, &b, 100000);
  CHECK(a.gave_up && a.s.timeouts == 1);
  CHECK(now_ns - start >= GIVE_UP_NS && now_ns - start < GIVE_UP_NS + 300000000ull);
  pair_free(&a, &b);
  return 0;
}

/* A hole at the head of a long burst: the receiver keeps what follows
 * it, up to its window (a forger can pin no more than an honest sender
 * has in flight; bytes: below), so that only the hole is resent, and
 * the rest arrives, in order, once the hole fills. */
static int test_held_packets_are_bounded(void)
{
  struct end a, b;
  pair_init(&a, &b, 6);
  a.out.drop = drop_first_data;
  uint32_t next = 0, most = 0;
  uint64_t start = now_ns;
  while (now_ns - start < 5000000000ull && (next < 1000 || rel_busy(&a.s))) {
    send_some(&a, &next, 1000);
    pair_round(&a, &b, 10000);
    most = rel_held(&b.s) > most ? rel_held(&b.s) : most;
  }
  /* (a timeout's burst may resend a few more; half a window kept past the
   * hole, as before, dropped 487 of them to be resent) */
  CHECK(most == 999 && b.s.hold_drops == 0 && a.s.retransmits < 50);
  CHECK(b.got == 1000 && b.bad_order == 0 && !rel_busy(&a.s));
  pair_free(&a, &b);
  return 0;
}

/* 64 KiB frames: the send window is bounded in bytes (a peer's slots do
 * not take 64 MiB), the receiver's window is not, what it holds past a
 * hole stays under REL_HOLD_BYTES, and the stream still arrives whole
 * through loss, duplication and reordering. */
static int test_large_packets_bound_windows_in_bytes(void)
{
  uint32_t mtu = 65000, pad = mtu - (uint32_t)sizeof(struct wire_hdr) - 4;
  struct end a, b;
  pair_init_mtu(&a, &b, 8, mtu, pad);
  uint32_t w = a.s.send_window;
  CHECK(a.s.window == WIRE_WINDOW && w < WIRE_WINDOW && rel_room(&a.s) == w);
  CHECK((uint64_t)w * mtu <= REL_SEND_BYTES && (uint64_t)w * 2 * mtu > REL_SEND_BYTES);
  /* the receiver's bound holds against a sender that keeps more in flight
   * (another build, or a forger) */
  a.s.send_window = 512;
  a.out.drop = drop_first_data;
  uint32_t next = 0, most = 0, held_most = 0;
  uint64_t start = now_ns;
  while (now_ns - start < 5000000000ull && (next < 1000 || rel_busy(&a.s))) {
    send_some(&a, &next, 1000);
    pair_round(&a, &b, 10000);
    most = b.s.held_bytes > most ? b.s.held_bytes : most;
    held_most = rel_held(&b.s) > held_most ? rel_held(&b.s) : held_most;
  }
  CHECK(most <= REL_HOLD_BYTES && most > REL_HOLD_BYTES - mtu && b.s.hold_drops > 0);
  CHECK(held_most < WIRE_WINDOW / 2); /* the bytes bound it first */
  CHECK(b.got == 1000 && b.bad_order == 0 && !rel_busy(&a.s) && b.s.held_bytes == 0);
  pair_free(&a, &b);

  /* one hole after another: the buffers of packets delivered since are
   * memory too, and stay under the bound (else every slot keeps one) */
  pair_init_mtu(&a, &b, 10, mtu, pad);
  a.s.send_window = 512;
  a.out.drop = drop_each_hundredth_once;
  next = 0;
  uint64_t most_allocated = 0;
  start = now_ns;
  while (now_ns - start < 20000000000ull && (next < 3000 || rel_busy(&a.s))) {
    send_some(&a, &next, 3000);
    pair_round(&a, &b, 10000);
    uint64_t m = rwin_allocated(&b.s);
    most_allocated = m > most_allocated ? m : most_allocated;
  }
  CHECK(b.got == 3000 && b.bad_order == 0 && !rel_busy(&a.s) && a.out.dropped >= 30);
  CHECK(most_allocated <= REL_HOLD_BYTES + mtu && most_allocated > REL_HOLD_BYTES / 2);
  CHECK(b.s.rwin_bytes == rwin_allocated(&b.s));
  pair_free(&a, &b);

  pair_init_mtu(&a, &b, 9, mtu, pad);
  a.out.loss = b.out.loss = 0.03;
  a.out.dup = a.out.reorder = 0.03;
  transfer(&a, &b, 3000, 20000000000ull);
  CHECK(b.got == 3000 && b.bad_order == 0 && !rel_busy(&a.s) && !a.gave_up);
  CHECK(a.s.retransmits > 0 && b.s.dup_rx > 0);
  pair_free(&a, &b);
  return 0;
}

/* A receiver acks a run in order every ack_every packets (a lane takes a
 * quarter of its window), not more often, and its last packets after the
 * delay; a stream with sparser acks still arrives whole through loss,
 * duplication and reordering. */
static int test_acks_come_every_ack_every_packets(void)
{
  uint32_t every[] = {REL_ACK_EVERY, 64};
  for (int k = 0; k < 2; k++) {
    struct end a, b;
    pair_init(&a, &b, 12);
    b.s.ack_every = every[k];
    b.s.ack_delay_ns = 1000000; /* longer than the burst's round: only the count acks */
    uint32_t next = 0;
    send_some(&a, &next, 200); /* 200 packets in one round */
    CHECK(next == 200);
    now_ns += LINK_DELAY_NS;
    link_deliver_due(&a.out, &b.s);
    CHECK(b.got == 200 && b.out.sent == 200 / every[k]);
    rel_timers(&b.s); /* the last 200 % every wait for the delay */
    CHECK(b.out.sent == 200 / every[k]);
    now_ns += b.s.ack_delay_ns;
    rel_timers(&b.s);
    CHECK(b.out.sent == 200 / every[k] + (200 % every[k] != 0));
    now_ns += LINK_DELAY_NS;
    link_deliver_due(&b.out, &a.s);
    CHECK(!rel_busy(&a.s) && a.acked_notes == notes_expected(200));
    pair_free(&a, &b);
  }
  struct end a, b;
  pair_init(&a, &b, 13);
  a.s.ack_every = b.s.ack_every = 64;
  a.out.loss = b.out.loss = 0.05;
  a.out.dup = a.out.reorder = 0.05;
  transfer(&a, &b, 4000, 20000000000ull);
  CHECK(b.got == 4000 && b.bad_order == 0 && !rel_busy(&a.s) && !a.gave_up);
  CHECK(a.s.retransmits > 0 && a.acked_notes == notes_expected(4000));
  pair_free(&a, &b);
  return 0;
}

/* Drop data packet seq at its first `tries` tries on link l. */
static int drop_tries(struct link *l, const struct wire_hdr *h, uint32_t seq, uint8_t tries)
{
  if (h->type != WIRE_DATA || h->seq != seq || seq >= sizeof(l->tries_dropped) ||
      l->tries_dropped[seq] >= tries)
    return 0;
  l->tries_dropped[seq]++;
  return 1;
}

/* Drop data packets 2 and 50 at their first try. */
static int drop_2_and_50_once(struct link *l, const struct wire_hdr *h)
{
  return drop_tries(l, h, 2, 1) || drop_tries(l, h, 50, 1);
}

/* A receiver holding packets past a hole tells it once for all that one
 * read brought (not an ack a packet), and a lone ack tells of the whole
 * window, not of 32 packets: both holes, 48 packets apart, are resent as
 * soon as that ack arrives (the header's 32 bits alone showed the second
 * only once the first had filled, a round trip later). */
static int test_holes_are_told_once_a_round_and_past_32_packets(void)
{
  struct end a, b;
  pair_init(&a, &b, 14);
  a.out.drop = drop_2_and_50_once;
  uint32_t next = 0;
  send_some(&a, &next, 100); /* one round */
  CHECK(next == 100 && a.out.dropped == 2);
  now_ns += LINK_DELAY_NS;
  link_deliver_due(&a.out, &b.s);
  CHECK(b.got == 2 && b.s.ooo_rx == 96);
  CHECK(b.out.sent == 0); /* nothing yet: the ack leaves at the end of the round */
  rel_timers(&b.s);
  CHECK(b.out.sent == 1);
  now_ns += LINK_DELAY_NS;
  link_deliver_due(&b.out, &a.s);
  CHECK(a.s.retransmits == 2);
  run_until_acked(&a, &b, 100, 10000);
  CHECK(b.got == 100 && b.bad_order == 0 && !rel_busy(&a.s));
  pair_free(&a, &b);
  return 0;
}

/* a sends count packets through a link that drops as drop says, until
 * all are acknowledged (100 ms at most); returns how long it took. */
static uint64_t scripted_loss(struct end *a, struct end *b, uint64_t seed,
                              int (*drop)(struct link *, const struct wire_hdr *), uint32_t count)
{
  pair_init(a, b, seed);
  a->out.drop = drop;
  uint32_t next = 0;
  send_some(a, &next, count);
  uint64_t start = now_ns;
  run_until_acked(a, b, 10000, 10000);
  return now_ns - start;
}

/* Drop data packet 5 at its first three tries. */
static int drop_5_thrice(struct link *l, const struct wire_hdr *h)
{
  return drop_tries(l, h, 5, 3);
}

/* A hole whose resends are lost too, with nothing sent after them (the
 * rest of the window arrived: the receiver has nothing new to ack), is
 * resent by the timer while the selective ack still shows it, well
 * before a timeout (at least REL_RTO_MIN_NS, doubling: under 5% loss a
 * lane's stream spent most of its time waiting for them). */
static int test_a_hole_lost_again_goes_again_before_a_timeout(void)
{
  struct end a, b;
  uint64_t took = scripted_loss(&a, &b, 15, drop_5_thrice, 20);
  CHECK(b.got == 20 && b.bad_order == 0 && !rel_busy(&a.s));
  CHECK(a.out.dropped == 3 && a.s.retransmits == 3);
  CHECK(took < REL_RTO_MIN_NS);
  pair_free(&a, &b);
  return 0;
}

/* A lone ack from b to a, as a hostile b could forge one: ack, the
 * header's sack, then nwords words of selective ack. */
static void forged_ack(struct end *a, uint32_t ack, uint32_t sack, const uint32_t *words,
                       uint32_t nwords)
{
  struct wire_hdr h = {.magic = WIRE_MAGIC, .version = WIRE_VERSION, .type = WIRE_ACK,
                       .len = (uint16_t)(4 * nwords), .src_session = 22,
                       .dst_session = a->s.my_session, .src_nic = 0xb, .dst_nic = 0xa,
                       .ack = ack, .sack = sack};
  rel_input(&a->s, &h, (const uint8_t *)words, now_ns);
}

/* Forged acks that claim packets never sent, or none at all, after the
 * stream moved on past what its last selective ack told (a review made
 * one such ack walk 2^32 slots, resending acknowledged and never-used
 * ones): nothing is resent. */
static int test_acks_claiming_nothing_sent_resend_nothing(void)
{
  struct end a, b;
  pair_init(&a, &b, 16);
  a.out.drop = drop_2_and_50_once; /* holes: selective acks are told */
  uint32_t next = 0;
  send_some(&a, &next, 100);
  run_until_acked(&a, &b, 200, 10000);
  CHECK(!rel_busy(&a.s) && b.got == 100);
  send_some(&a, &next, 120); /* acked with no selective ack: the last one is behind */
  run_until_acked(&a, &b, 200, 10000);
  CHECK(!rel_busy(&a.s) && b.got == 120);
  a.out.loss = 1.0;
  send_some(&a, &next, 121); /* one in flight, lost */
  uint64_t resent = a.s.retransmits;
  uint32_t zero = 0, all[REL_SACK_WORDS];
  memset(all, 0xff, sizeof(all));
  forged_ack(&a, a.s.snd_una, 0xffffffffu, NULL, 0); /* all past snd_next */
  forged_ack(&a, a.s.snd_una, 0, &zero, 1);
  forged_ack(&a, a.s.snd_una, 0, all, REL_SACK_WORDS);
  CHECK(a.s.retransmits == resent);
  rel_timers(&a.s);
  CHECK(a.s.retransmits == resent && rel_next_timer(&a.s) > now_ns);
  pair_free(&a, &b);
  return 0;
}

/* One ack that tells of a window of holes, then silence: the holes are
 * resent by the timer a few times each, then only by the timeout, which
 * backs off (a review found a resend of every hole every 2 ms until the
 * give-up, 0.5 M packets in 10 s, the timeout never expiring). */
static int test_one_ack_of_a_window_of_holes_draws_few_resends(void)
{
  struct end a, b;
  pair_unheard(&a, &b, 17, WIRE_WINDOW); /* nothing a sends arrives */
  uint32_t words[REL_SACK_WORDS];
  memset(words, 0x55, sizeof(words)); /* every other packet held */
  now_ns += 100000;
  forged_ack(&a, a.s.snd_una, 0x55555555u, words, REL_SACK_WORDS);
  CHECK(a.s.retransmits > 0);
  uint64_t timers = 0;
  for (uint64_t end = now_ns + 10000000000ull; now_ns < end && !a.gave_up;) {
    rel_timers(&a.s);
    timers++;
    uint64_t t = rel_next_timer(&a.s);
    CHECK(a.gave_up || t > now_ns);
    now_ns = t;
  }
  /* until the give-up (GIVE_UP_NS): each hole a few times, the timeout
   * backing off */
  CHECK(a.gave_up && a.s.retransmits < 5 * WIRE_WINDOW && timers < 1000);
  CHECK(a.s.rto_ns == REL_RTO_MAX_NS);
  pair_free(&a, &b);
  return 0;
}

/* Drop data packet 0 at its first try. */
static int drop_0_once(struct link *l, const struct wire_hdr *h)
{
  return drop_tries(l, h, 0, 1);
}

/* A lost last packet (a ping-pong's every loss: nothing follows it for a
 * selective ack to show) is resent by the tail's probe, well before the
 * timeout (10 ms for a new stream, 2 ms at least after). */
static int test_a_lost_last_packet_is_probed_before_a_timeout(void)
{
  struct end a, b;
  uint64_t took = scripted_loss(&a, &b, 18, drop_0_once, 1);
  CHECK(b.got == 1 && !rel_busy(&a.s) && a.s.retransmits == 1);
  CHECK(took < REL_RTO_MIN_NS);
  pair_free(&a, &b);
  return 0;
}

/* A receiver that says nothing draws one probe, then only the timeouts,
 * backing off: not a probe each time the timer looks. */
static int test_a_silent_receiver_draws_one_probe(void)
{
  struct end a, b;
  pair_unheard(&a, &b, 19, 1);
  for (int i = 0; i < 1000; i++) /* 100 ms */
    pair_round(&a, &b, 100000);
  /* the probe at 200 us, the timeouts at 10, 30 and 70 ms */
  CHECK(a.s.retransmits == 4 && a.s.probed);
  pair_free(&a, &b);
  return 0;
}

static const struct harness_test tests[] = {
    {"rel_lossless_stream_in_order", test_lossless_stream_in_order},
    {"rel_loss_dup_reorder_deliver_exactly_once_in_order",
     test_loss_dup_reorder_deliver_exactly_once_in_order},
    {"rel_sack_then_lost_cumulative_ack_recovers", test_sack_then_lost_cumulative_ack_recovers},
    {"rel_timeout_resends_a_sacked_oldest_packet", test_timeout_resends_a_sacked_oldest_packet},
    {"rel_refused_delivery_is_flow_control", test_refused_delivery_is_flow_control},
    {"rel_silent_peer_is_given_up", test_silent_peer_is_given_up},
    {"rel_held_packets_are_bounded", test_held_packets_are_bounded},
    {"rel_large_packets_bound_windows_in_bytes", test_large_packets_bound_windows_in_bytes},
    {"rel_acks_come_every_ack_every_packets", test_acks_come_every_ack_every_packets},
    {"rel_holes_are_told_once_a_round_and_past_32_packets",
     test_holes_are_told_once_a_round_and_past_32_packets},
    {"rel_a_hole_lost_again_goes_again_before_a_timeout",
     test_a_hole_lost_again_goes_again_before_a_timeout},
    {"rel_acks_claiming_nothing_sent_resend_nothing",
     test_acks_claiming_nothing_sent_resend_nothing},
    {"rel_one_ack_of_a_window_of_holes_draws_few_resends",
     test_one_ack_of_a_window_of_holes_draws_few_resends},
    {"rel_a_lost_last_packet_is_probed_before_a_timeout",
     test_a_lost_last_packet_is_probed_before_a_timeout},
    {"rel_a_silent_receiver_draws_one_probe", test_a_silent_receiver_draws_one_probe},
    {NULL, NULL},
};

int main(int argc, char **argv) { return harness_main(argc, argv, tests); }
