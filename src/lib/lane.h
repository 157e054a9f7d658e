/*
 * lane.h - lanes (layer 2): an endpoint's own port to the network for its
 * messages to other hosts (docs/lanes.md), as an SR-IOV virtual function is
 * a guest's own queue on a NIC.  The backend made the endpoint's UDP socket
 * and the engines vouched, in their connect, for each peer's lane address;
 * the library then sends descriptors (small messages, medium fragments,
 * rendezvous announcements) guest to guest, one reliable stream
 * (common/reliable.h) per pair of endpoints, with no engine and no process
 * switch on the way.  Everything else stays on the engines: a rendezvous'
 * data is pulled through them, and its completion, synchronous sends'
 * acknowledgements and a peer's death come from them.
 */
#ifndef MYRIXEN_LIB_LANE_H
#define MYRIXEN_LIB_LANE_H

#include <sys/socket.h>

#include "../common/fault.h"
#include "../common/reliable.h"
#include "lib.h"

/* Packets in flight per pair of endpoints: LANE_WINDOW, halved while they
 * would pass LANE_WINDOW_BYTES of the lane's MTU.  A rendezvous' data goes
 * by lane (lane_rndv.c): 64 packets of 1.5 KB held a 1 MiB stream to
 * 1.4 GB/s, 128 to 1.8, 256 to 1.9 (the engines' path 1.7-2.1 in the same
 * runs). */
#define LANE_WINDOW 256
#define LANE_WINDOW_MIN 64
#define LANE_WINDOW_BYTES (1280u * 1024)
/* MSG_NACKs answering refused CTSs that may wait for a peer's window (a
 * peer that asks and never acks gets no more queued) */
#define LANE_NACKS_MAX 16
#define LANE_RX_BATCH 16        /* datagrams read by one recvmmsg */
#define LANE_TX_BATCH 32        /* a send's packets given to one sendmmsg (a medium
                                 * fragment's pieces: 7 at MTU 1500) */
#define LANE_RX_PASS_BATCHES 4  /* ... and batches read by one progress pass */
/* A lone ack waits this long for an answer to ride on: a ping-pong's
 * answer comes within a few microseconds, and a lone ack before it was a
 * syscall (a microsecond here) on its way.  A waiter about to sleep sends
 * its acks at once. */
#define LANE_ACK_DELAY_NS 4000ull
/* A stream's receiver acks a quarter of the window at a time (64 packets
 * at MTU 1500), not every 16 packets as the engines do: the receiver's core is
 * what limits a lane's stream (its reads, its checksums, its copies), and
 * each ack is a send on that core, its delivery into the sender's socket
 * too (a veth runs it on the sending core).  A 1 MiB stream at MTU 1500
 * went 1.70-1.83 -> 1.95-2.31 GB/s in alternating runs, 64 KiB 1.35-1.50
 * -> 1.52-1.57; at MTU 9000 (a window of 128) 3.90 -> 4.03-4.09.  Holes
 * and duplicates are still acked at once, and the last packets of a
 * message after LANE_ACK_DELAY_NS. */
#define LANE_ACKS_A_WINDOW 4
/* UDP_GRO is on only while runs come: a socket with it on took 4% longer
 * a ping-pong of 8 bytes (16 alternating pairs, 1.205 against 1.16x busy
 * UDP, medians), and a ping-pong's reads never see a run.  On when a read
 * takes several packets, or a piece with more of its message to come
 * (lane_input); off after this many reads that took one packet alone. */
#define LANE_GRO_OFF_READS 64
#define LANE_CLOSE_QUIET_NS 10000000ull /* five of the stream's shortest resend times */
#define LANE_GIVE_UP_NS 60000000000ull /* a silent peer is only warned about: its
                                        * death comes from the engines */

/* A peer endpoint's lane, as its backend vouched for it. */
struct lane_peer {
  struct mx_endpoint *ep;
  struct conn *conn;
  struct sockaddr_storage addr; /* where its packets come from and ours go */
  socklen_t alen;
  uint64_t nic;
  uint32_t eid, session;        /* the endpoint, in the incarnation vouched for */
  struct rel_stream rel;        /* both directions; its sessions and first sequence
                                 * numbers derive from both endpoints' sessions and
                                 * lanes' nonces (lane_stream_number) */
  struct req *bl_head, *bl_tail; /* sends waiting for room in the window, in order */
  struct {                      /* the fragment being reassembled from its pieces */
    int active;
    struct msg m;
    uint32_t got;
  } asm_;
  uint8_t *asm_buf;             /* EAGER_SIZE, at the first fragment */
  uint64_t ahead_from;          /* the last rendezvous announced with its data ahead:
                                 * the sender's cookie (0: none) ... */
  struct req *ahead_word;       /* ... and, if a receive matched it on arrival, the CTS
                                 * that will say it has them, which names that receive
                                 * (lane_ahead_to; lane_rndv.c) */
  int held;                     /* lane_post holds its packets from held_from on: */
  uint32_t held_from;           /* their send time is the flush's (rel_sent_at) */
  int doomed;                   /* unbound while its packet was being delivered: freed
                                 * when the delivery returns (lane.c, datagram) */
  struct lane_peer *next;
};

struct lane {
  int fd;
  uint32_t mtu;                 /* largest datagram, header included */
  uint32_t nonce;               /* its backend's random (lane_addr.nonce) */
  const struct rel_io *io;      /* the deliveries (progress.c) */
  struct fault fault;           /* the backend's ports' faults, injected here too */
  struct lane_peer *peers;
  uint32_t npeers;
  struct lane_peer *sole;       /* the peer the socket is connected to (lane_connect_sole) */
  struct lane_peer *delivering; /* whose packet is being delivered (an unexpected
                                 * handler may run meanwhile, the lock dropped) */
  uint64_t next_timer_ns;       /* the earliest ack, resend or held packet due */
  uint32_t rx_batch;            /* datagrams the next read asks for (lane_input) */
  uint32_t rx_streak;           /* reads in a row that filled a batch of one */
  uint64_t last_rx_ns;          /* when a peer's packet was last taken */
  uint8_t *rxbuf;               /* LANE_RX_BATCH reads of rx_cap bytes */
  int no_gso;                   /* the kernel refused to segment: one datagram a packet */
  int gro_ok;                   /* the socket can take a run in one read (UDP_GRO) */
  int gro;                      /* ... and does now (lane_gro) */
  uint32_t lone_reads;          /* reads in a row that took one packet alone */
  int runs_coming;              /* a packet taken said more of its message follows */
  uint32_t rx_cap;              /* bytes of a read: 64 KiB with GRO, else the MTU */
  struct {                      /* a send's packets, gathered while it is emitted
                                 * (and a burst's, until lane_flush: lane_post) */
    int on;
    int held;                   /* a peer's are held (lane_peer.held): no walk without */
    uint32_t n;
    struct msghdr hdr[LANE_TX_BATCH];
    struct iovec iov[LANE_TX_BATCH];
  } tx;
};

/* The endpoint's lane from its open's reply and descriptor (taken: closed
 * on failure).  0, or -1 (no memory: the endpoint goes without). */
int lane_open(struct mx_endpoint *ep, int fd, const struct ctl_open_reply *rep,
              const struct rel_io *io);
void lane_close(struct mx_endpoint *ep);
/* Peer c's lane is a, in its endpoint's incarnation session (a reply to our
 * connect, or MSG_LANE_PEER when it connected to us).  A new incarnation
 * starts a new stream; the same again changes nothing.  0 or -1. */
int lane_bind(struct mx_endpoint *ep, struct conn *c, const struct lane_addr *a,
              uint32_t session);
/* c has no lane any more: its stream goes (what waited to go on it ends;
 * the caller ends what was in progress). */
void lane_unbind(struct mx_endpoint *ep, struct conn *c);
/* Send r on c's lane: now, or after what waits before it. */
void lane_submit(struct mx_endpoint *ep, struct conn *c, struct req *r);
/* The application's send (mx_isend): as lane_submit, but while the stream
 * has packets in flight (a burst: the first of it left at once) its
 * packets are gathered with the burst's next ones and leave at the next
 * progress pass (lane_flush: any call that tests or waits), or when
 * LANE_TX_BATCH are gathered, as one sendmmsg of GSO runs.  A send with
 * nothing in flight before it (a ping-pong's every one) leaves at once,
 * and every send does with MYRIXEN_LANE_HOLD=0 (lib.lane_hold). */
void lane_post(struct mx_endpoint *ep, struct conn *c, struct req *r);
/* What lane_post gathered leaves now (every progress pass, and before a
 * sleep or a close). */
void lane_flush(struct mx_endpoint *ep);
/* A control request (a rendezvous' CTS) on c's lane: as lane_submit, but
 * during a delivery it leaves after the read's batch, acknowledging what
 * was read. */
void lane_submit_ctl(struct mx_endpoint *ep, struct conn *c, struct req *r);
/* c failed: its waiting sends end with code (the stream stays). */
void lane_fail(struct mx_endpoint *ep, struct conn *c, mx_status_code_t code);
/* One datagram of len bytes (truncated: the kernel cut it) from `from`,
 * read at now: checked before anything of it counts (lane.c's header,
 * docs/lanes.md), then to its stream.  lane_input's, and the fuzzer's. */
void lane_datagram(struct mx_endpoint *ep, const uint8_t *pkt, size_t len, int truncated,
                   const struct sockaddr_storage *from, uint64_t now);
/* Read what came (the stream delivers through io.deliver); returns work.
 * A lane with no peer is read only if idle_too. */
int lane_input(struct mx_endpoint *ep, int idle_too);
/* Turn the lane's UDP_GRO on or off (if the socket can have it); lane_input
 * does, by what it reads. */
void lane_gro(struct lane *l, int on);
/* Acks due, resends, held packets, waiting sends; returns work. */
int lane_timers(struct mx_endpoint *ep, uint64_t now);
/* Every ack due now, whatever its delay (the waiter is about to sleep). */
void lane_flush_acks(struct mx_endpoint *ep);
/* Where each stream stood (the next packet it expected), for the close
 * (CTL_CLOSE's text): the peers' hosts hear it with the close, so that a
 * send whose last packet we took completes though our ack of it was lost.
 * At most max; returns how many. */
uint32_t lane_last_acks(const struct mx_endpoint *ep, struct ctl_lane_last_ack *out,
                        uint32_t max);
/* c's endpoint closed in incarnation session, and said its stream with
 * us had taken everything before ack: what that covers is delivered
 * (MSG_PEER_GONE's last ack).  Only on that incarnation's stream. */
void lane_last_ack(struct mx_endpoint *ep, struct conn *c, uint32_t session, uint32_t ack);
/* When lane_timers has something to do (UINT64_MAX: nothing). */
uint64_t lane_next_timer(const struct mx_endpoint *ep);
/* True while a stream has packets unacknowledged or sends waiting, or a
 * peer spoke within LANE_CLOSE_QUIET_NS (a closing endpoint lingers so
 * that a peer whose last ack was lost, and which resends, is acked again:
 * else its send would fail, though delivered, when the engines tell it we
 * closed). */
int lane_busy(const struct mx_endpoint *ep);
/* Backlogged sends past their deadline end with MX_STATUS_TIMEOUT. */
int lane_expire(struct mx_endpoint *ep, uint64_t now);

/* The stream's deliveries, for io (progress.c): a packet in order to its
 * message.  1: m is a whole message or fragment (eager: its bytes), 0: a
 * piece kept until its fragment is whole, or a rendezvous' CTS or data
 * piece, taken here (lane_rndv.c), -1: malformed (counted). */
int lane_take(struct lane_peer *lp, const struct wire_hdr *h, const uint8_t *payload,
              struct msg *m, const uint8_t **eager);
/* --- a rendezvous' data by lane (lane_rndv.c) --- */
/* The cookie of the receive that takes lp's data ahead (0: none). */
static inline uint64_t lane_ahead_to(const struct lane_peer *lp)
{
  return lp->ahead_word ? lp->ahead_word->ctl->match : 0;
}
/* A CTS's or a data piece's descriptor, checked against itself: 0 or -1. */
int lane_rndv_parse(const uint8_t *payload, uint32_t len, struct msg *m,
                    struct wire_data_ext *x, const uint8_t **piece);
/* Receive r matched a rendezvous: when the message came by lane and r
 * takes 1 to lib.lane_rndv_max bytes of it, the CTS that asks its sender
 * for them on the lane, for lane_submit (the pieces then complete r);
 * else NULL, and the engines are to pull it. */
struct req *lane_rndv_ask(struct mx_endpoint *ep, struct req *r);
/* lp's receiver asks for the data of one of our rendezvous sends (m);
 * refused, it is told the data will not come (MSG_NACK). */
void lane_rndv_cts(struct mx_endpoint *ep, struct lane_peer *lp, const struct msg *m);
/* The MSG_NACK that tells c's receive `cookie` that the data it asked
 * for will not come, for lane_submit (NULL: no memory); ahead: cookie is
 * our send's, whose data went ahead (c's receive that took it ends). */
struct req *lane_rndv_nack(struct mx_endpoint *ep, const struct conn *c, uint64_t cookie,
                           int ahead);
/* lp's sender will not send the data one of our receives asked for. */
void lane_rndv_nacked(struct mx_endpoint *ep, struct lane_peer *lp, const struct msg *m);
/* Emit what fits of an asked-for send's data, or of data going ahead:
 * 1 all of it, 0 not yet. */
int lane_rndv_emit(struct mx_endpoint *ep, struct lane_peer *lp, struct req *r);
/* Send r is a rendezvous whose data goes ahead of the match (1), or not. */
int lane_rndv_goes_ahead(const struct req *r);
/* r's announcement is out (MSG_F_AHEAD): its data follows (lane_rndv_emit). */
void lane_rndv_went_ahead(struct req *r);
/* lp announced a rendezvous (m): its data comes ahead if so flagged. */
void lane_rndv_announced(struct mx_endpoint *ep, struct lane_peer *lp, const struct msg *m);
/* Receive r matched m, a rendezvous announced by lane as it came: if its
 * data comes ahead behind it, r takes the pieces (1); else 0. */
int lane_rndv_take_ahead(struct mx_endpoint *ep, struct req *r, const struct msg *m);
/* A piece of data ahead from lp (MSG_LANE_AHEAD); the last one completes
 * its receive and returns the CTS that says so, for lane_submit_ctl. */
struct req *lane_rndv_ahead(struct mx_endpoint *ep, struct lane_peer *lp, const struct msg *m,
                            const struct wire_data_ext *x, const uint8_t *piece);
/* A piece of data for one of our receives that asked lp by lane. */
void lane_rndv_data(struct mx_endpoint *ep, struct lane_peer *lp, const struct msg *m,
                    const struct wire_data_ext *x, const uint8_t *piece);

/* The link under every lane stream, for io. */
void lane_link_send(void *ctx, struct rel_stream *s, void *buf, uint32_t len, int stable,
                    uint64_t now);
void lane_link_give_up(void *ctx, struct rel_stream *s);
void lane_link_keep(void *ctx, struct rel_stream *s);
uint64_t lane_link_now(void *ctx);

#endif
