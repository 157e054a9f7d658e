/*
 * reliable.h - one ordered, acknowledged stream of wire packets to one
 * peer, over an abstract link (struct rel_io): the network layer plugs in
 * its ports and its deliveries, a unit test a lossy link of its own and a
 * clock it turns by hand.
 *
 * Sender: sequence numbers, a window of packets (a power of two at most
 * WIRE_WINDOW: the engine's streams between hosts take it all, a lane
 * between two endpoints far less; fewer where slots of the MTU would pass
 * REL_SEND_BYTES) kept until acknowledged, holes resent as selective acks
 * reveal them and again by a timer while they still show them, the
 * oldest packets resent on a timeout with exponential backoff, and a
 * give-up after give_up_ns of silence.
 * Receiver: packets past a hole kept until it fills, delivered in order;
 * every packet out carries the cumulative ack and a selective-ack bitmap
 * of the 32 packets after it, a lone ack that of its whole window; a
 * lone ack after ack_every packets, after the delay, or at the end of the
 * round on a hole or a duplicate (one for all the round's packets).
 */
#ifndef MYRIXEN_RELIABLE_H
#define MYRIXEN_RELIABLE_H

#include <stdint.h>

#include "wire.h"

#define REL_ACK_DELAY_NS 0ull   /* a lone ack leaves at the end of the round: the senders of
                                   eager messages wait for it to complete them */
#define REL_ACK_EVERY 16        /* ... or this many packets (rel_stream.ack_every) */
/* A lone ack's payload: the selective ack past the header's 32 packets, a
 * bit a packet of the window (a receiver holding what follows a hole
 * further ahead says so in one ack, not one hole a round trip). */
#define REL_SACK_WORDS (WIRE_WINDOW / 32)
#define REL_RTO_MIN_NS 2000000ull
#define REL_RTO_MAX_NS 200000000ull
#define REL_RTO_INITIAL_NS (5 * REL_RTO_MIN_NS)
/* The send window's slots are of the MTU: a window of 1024 64 KiB frames
 * would be 64 MiB a peer, and a window far past what the peer's socket
 * holds (the ports ask for 8 MiB) only overflows it: at 64 KiB, 256
 * packets in flight lost one in six at the receiver and the udp port's
 * stream went at half the speed of 128.  Past this many bytes of slots,
 * the window halves (1024 slots of a 9216-byte MTU fit). */
#define REL_SEND_BYTES (10u << 20)
#define REL_HOLD_BYTES REL_SEND_BYTES /* a whole send window of the largest packets */
/* A receiver keeps what arrives past a hole, up to its window (what a
 * sender may have in flight: it resends only the holes, as the selective
 * acks reveal them) and at most REL_HOLD_BYTES, each packet in a buffer
 * of its own size (not of the largest packet): a peer (or anyone who
 * forges its packets) pins no more.  (Half the window, as it was, dropped
 * whatever a hole held back past that half: each such packet then waited
 * for a timeout, each doubling the next, and under 5% loss 100 MB took
 * 28-86 s by lane and 58-81 s through the engines, against 4 and 16.)  Buffers of packets delivered
 * since are counted too, and let go when a new one would pass the bytes
 * (one hole after another would otherwise leave every slot a 64 KiB
 * buffer: 64 MiB a peer).  The next packet in order, refused by a full
 * ring, is kept past both bounds: one packet.  One past the cap is dropped and
 * comes again; a hole a round trip old at full speed still keeps what
 * follows. */

/* What the stream's user attaches to a packet, told back when it is
 * acknowledged (rel_io.acked). */
struct rel_note {
  uint32_t eid, session, total;
  uint32_t peer_eid;            /* the endpoint of the peer the packet went to */
  uint64_t cookie;
};

/* A packet kept until acknowledged (sending) or until its turn (receiving). */
struct rel_pkt {
  uint64_t sent_ns;
  uint32_t len;
  uint8_t tries;
  uint8_t sacked;               /* the receiver holds it (selective ack) */
  uint8_t noted;                /* note is set: tell the user when acked */
  struct rel_note note;
  uint8_t *buf;                 /* sending: a slot of the MTU; kept: the packet's size */
};

struct rel_stream;

/* The link under a stream, and its user above.  ctx is the user's. */
struct rel_io {
  /* Seal (checksum or MAC) and send a packet; buf has WIRE_MAC_LEN bytes
   * of room past len for a trailer.  stable: buf stays unchanged until the
   * user's next flush (a window slot's first send: its slot is freed only
   * by an ack of what was flushed), so it may be queued by reference. */
  void (*send)(void *ctx, struct rel_stream *s, void *buf, uint32_t len, int stable,
               uint64_t now);
  /* The next in-order reliable packet: 1 when taken, 0 when it must come
   * again later (kept, and offered again by rel_retry). */
  int (*deliver)(void *ctx, struct rel_stream *s, const struct wire_hdr *h,
                 const uint8_t *payload);
  /* A packet sent with a note is acknowledged. */
  void (*acked)(void *ctx, struct rel_stream *s, const struct rel_note *note);
  /* Nothing heard for give_up_ns with packets unacknowledged: the user
   * fails the relationship (and rel_reset starts it afresh). */
  void (*give_up)(void *ctx, struct rel_stream *s);
  /* A received packet is about to be copied into the window: whatever
   * points into the user's receive buffer must be done with it. */
  void (*keep)(void *ctx, struct rel_stream *s);
  uint64_t (*now)(void *ctx);
};

struct rel_stream {
  const struct rel_io *io;
  void *ctx;
  uint64_t nic, peer_nic;       /* stamped in every header */
  uint32_t mtu;                 /* largest packet, header included */
  uint32_t window;              /* packets ahead a receiver takes: a power of two <= WIRE_WINDOW */
  uint32_t send_window;         /* packets in flight: window, or less for large MTUs */
  uint64_t give_up_ns;
  uint32_t my_session;          /* this relationship's incarnation, on our side */
  uint32_t peer_session;        /* theirs, 0 until heard */
  /* sending */
  struct rel_pkt *win;          /* window slots, allocated on first use */
  uint8_t *win_bufs;            /* their buffers, one MTU each */
  uint32_t snd_next, snd_una;
  uint32_t sack_end;            /* one past the highest packet a selective ack said the
                                 * peer holds: the holes below it are known */
  uint64_t rto_ns, srtt_ns, last_ack_ns;
  uint64_t min_rtt_ns;          /* the shortest round trip measured (0: none yet) */
  uint64_t holes_due_ns;        /* the next known hole's resend, or earlier */
  int probed;                   /* the tail's probe went since the window last moved */
  uint64_t last_heard_ns;       /* any valid packet from the peer: it is alive */
  /* receiving */
  struct rel_pkt *rwin;         /* packets past a hole, kept until it fills */
  uint8_t have[WIRE_WINDOW];    /* rwin slot holds seq (by seq % window) */
  uint32_t held;                /* slots with have set */
  uint32_t held_bytes;          /* their packets' bytes */
  uint32_t rwin_bytes;          /* bytes of every rwin buffer, delivered ones' too */
  uint32_t rcv_next;
  uint32_t rx_unacked;
  uint64_t ack_due_ns;
  int ack_now;                  /* a hole or a duplicate came: ack at the end of this
                                 * round (ack_due_ns is now), whatever the delay */
  uint64_t ack_delay_ns;        /* a lone ack waits this long for a packet to ride on
                                 * (REL_ACK_DELAY_NS unless the user says otherwise) */
  uint32_t ack_every;           /* ... or leaves after this many packets in order
                                 * (REL_ACK_EVERY unless the user says otherwise) */
  /* counters */
  uint64_t tx_packets, rx_packets, retransmits, timeouts, dup_rx, ooo_rx, stalls;
  uint64_t hold_drops;          /* past a hole with half the window held already */
};

/* A stream to peer_nic of window packets, from incarnation my_session;
 * nothing allocated yet. */
void rel_init(struct rel_stream *s, const struct rel_io *io, void *ctx, uint64_t nic,
              uint64_t peer_nic, uint32_t mtu, uint32_t window, uint64_t give_up_ns,
              uint32_t my_session);
/* The first sequence numbers each way, when both sides agreed them (a
 * lane's, from a secret of both): before anything is sent or taken. */
void rel_start_at(struct rel_stream *s, uint32_t snd_first, uint32_t rcv_first);
/* Start afresh as a new incarnation (after a failure, or a peer's restart
 * noticed by the user): nothing in flight, nothing expected. */
void rel_reset(struct rel_stream *s, uint32_t my_session);
void rel_free(struct rel_stream *s);

/* Packets that may be sent now. */
uint32_t rel_room(const struct rel_stream *s);
/* True while packets are unacknowledged. */
int rel_busy(const struct rel_stream *s);
/* The user held the packets from seq `from` on (committed, not yet on the
 * link) and sends them only now: their first send counts from now, for
 * the round trip they measure and for every timer. */
void rel_sent_at(struct rel_stream *s, uint32_t from, uint64_t now);
/* Packets kept past a hole or a refusal, waiting for delivery in order. */
uint32_t rel_held(const struct rel_stream *s);

/* Queue one reliable packet of type with payload parts a (alen) and b
 * (blen); NULL when the window is full, else its slot (to attach a note). */
struct rel_pkt *rel_send(struct rel_stream *s, uint8_t type, const void *a, uint32_t alen,
                         const void *b, uint32_t blen);
/* Building packets in place, without a copy: the payload area (cap bytes)
 * of the i-th packet to be sent from now (i < rel_room), or NULL; then
 * rel_commit sends the next one, of len payload bytes, as rel_send would
 * (now: the clock, read once for a burst). */
uint8_t *rel_payload(struct rel_stream *s, uint32_t i, uint32_t *cap);
struct rel_pkt *rel_commit(struct rel_stream *s, uint8_t type, uint32_t len, uint64_t now);
void rel_send_ack(struct rel_stream *s);
/* The peer's ack, told other than in a packet (a lane's last, which the
 * peer's backend passed on as it closed): what it covers is acknowledged,
 * as a packet's ack would be; one beyond what was sent is ignored. */
void rel_take_ack(struct rel_stream *s, uint32_t ack);

/* A checked packet from the peer, of its current incarnation, read at
 * now: acks, order, delivery (rel_io.deliver). */
void rel_input(struct rel_stream *s, const struct wire_hdr *h, const uint8_t *payload,
               uint64_t now);
/* Deliver what was kept and refused before (room came back). */
int rel_retry(struct rel_stream *s);
/* Delayed acks, retransmissions, the give-up.  Returns work done. */
int rel_timers(struct rel_stream *s);
/* When rel_timers has something to do next (UINT64_MAX: nothing). */
uint64_t rel_next_timer(const struct rel_stream *s);

#endif
