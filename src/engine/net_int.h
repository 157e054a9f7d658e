/*
 * net_int.h - what the files of the engine's network layer share:
 * peers and their reliable streams, remote pulls, pending connects.
 */
#ifndef MYRIXEN_NET_INT_H
#define MYRIXEN_NET_INT_H

#include <sys/uio.h>

#include "engine_int.h"
#include "../common/wire.h"
#include "../port/port.h"

#define NET_MAX_PORTS 4
#define NET_MAX_PEERS 64
#define NET_ACK_DELAY_NS 0ull       /* a lone ack leaves at the end of the round: the senders of
                                       eager messages wait for it to complete them */
#define NET_ACK_EVERY 16            /* ... or this many packets */
#define NET_RTO_MIN_NS 2000000ull
#define NET_RTO_MAX_NS 200000000ull
#define NET_CONNECT_WAIT_NS 1000000000ull
#define NET_PULL_PIECES 128         /* packets read from a guest with one syscall */
#define NET_PULL_PEND 64            /* received pieces written into a guest at once */
#define NET_HELLO_EVERY_NS 2000000000ull /* discovery: a hello on each port this often */

enum peer_state { PEER_NEW = 0, PEER_UP = 1, PEER_FAILED = 2 };

/* A packet kept until acknowledged. */
struct net_pkt {
  uint64_t sent_ns;
  uint32_t len;
  uint8_t tries;
  uint8_t sacked;               /* the receiver holds it (selective ack) */
  uint16_t notify;              /* post MSG_NOTIFY to (eid, session, cookie) when acked */
  uint32_t notify_eid, notify_session, notify_total;
  uint64_t notify_cookie;
  uint8_t *buf;                 /* sending: a slot of the port's MTU; kept: WIRE_MAX_PACKET */
};

/* An eager fragment arriving in pieces, or a message waiting for room in
 * its destination's event ring. */
struct net_inbound {
  int active;
  struct msg m;                 /* header as posted (source stamped) */
  uint32_t dst_eid;
  uint32_t got;
  uint8_t eager[EAGER_SIZE];
};

struct net_peer {
  int in_use;
  enum peer_state state;
  uint64_t nic;
  char hostname[64];
  int port;                     /* index in net->ports */
  struct port_addr addr;
  int learnt;                   /* not in the peers file: it spoke first */
  uint32_t my_session;          /* this relationship's incarnation, on our side */
  uint32_t peer_session;        /* theirs, 0 until heard */
  /* sending */
  struct net_pkt *win;          /* WIRE_WINDOW slots, allocated on first use */
  uint8_t *win_bufs;            /* their buffers, one port MTU each */
  uint32_t snd_next, snd_una;
  uint64_t rto_ns, srtt_ns, last_ack_ns;
  uint64_t last_heard_ns;       /* any valid packet from it: it is alive */
  /* receiving */
  struct net_pkt *rwin;         /* packets past a hole, kept until it fills */
  uint8_t have[WIRE_WINDOW];    /* rwin slot holds seq (by seq % WIRE_WINDOW) */
  uint32_t rcv_next;
  uint32_t rx_unacked;
  uint64_t ack_due_ns;
  struct net_inbound asm_;      /* fragment being reassembled */
  struct net_inbound stalled;   /* complete, waiting for ring room */
  /* counters */
  uint64_t tx_packets, rx_packets, retransmits, timeouts, dup_rx, ooo_rx, stalls, resets;
  uint64_t failures;
};

/* A remote pull, on the side that has the data (out) or wants it (in). */
struct net_rpull {
  struct net_rpull *next;
  struct net_peer *peer;
  int out;
  uint64_t cookie, cookie2;
  uint32_t snd_eid, rcv_eid;
  uint32_t local_eid, local_session; /* the endpoint on this host */
  pid_t pid;
  int nseg;
  struct iovec seg[GRANT_MAX_SEGS];
  uint32_t total, done;         /* bytes sent (out) or received (in) */
  int ended;                    /* in: a write into the guest failed, or it is gone */
  /* in: pieces taken but not yet written into the guest, [done - pend_len,
   * done); they point into the port's receive buffer or kept packets, and
   * are written with one syscall (rpull_flush) before either changes */
  struct iovec pend[NET_PULL_PEND];
  int npend;
  uint32_t pend_len;
};

struct net_connect_wait {
  struct net_connect_wait *next;
  uint32_t req_id;
  uint32_t guest_id;
  uint32_t seq;                 /* the guest's control request */
  uint64_t deadline_ns;
  struct net_peer *peer;
};

struct net_notify_wait {        /* a MSG_NOTIFY that found the ring full */
  struct net_notify_wait *next;
  uint32_t eid, session;
  struct msg m;
};

struct net {
  struct port ports[NET_MAX_PORTS];
  int nports;
  struct net_peer peers[NET_MAX_PEERS];
  struct net_rpull *rpulls;
  struct net_connect_wait *connects;
  struct net_notify_wait *notifies;
  uint32_t next_req_id;
  uint64_t peer_timeout_ns;
  uint64_t seed;
  uint8_t rxbuf[WIRE_MAX_PACKET + 1];
  uint64_t drops[8];            /* received packets refused, by -wire_drop */
  uint64_t unknown_peer, stale_session, malformed;
  int discovery;
  uint64_t next_hello_ns;
  uint64_t hellos_sent, hellos_heard;
};

static inline struct net *net_of(struct engine *e)
{
  return e->net;
}

/* peer.c */
struct net_peer *peer_by_nic(struct net *n, uint64_t nic);
struct net_peer *peer_learn(struct engine *e, uint64_t nic, int port,
                            const struct port_addr *from);
void peer_fail(struct engine *e, struct net_peer *p, const char *why);
uint32_t peer_random32(struct net *n);
int peer_file_load(struct engine *e, const char *path, char *err, size_t errlen);
int peer_resolve_name(struct engine *e, const char *host, uint64_t *nic);
int peer_resolve_nic(struct engine *e, uint64_t nic, char *host, size_t len);

/* reliable.c */
/* Hands the next in-order reliable packet up: 1 when taken, 0 when it
 * must come again later. */
typedef int (*rel_deliver_fn)(struct engine *e, struct net_peer *p, const struct wire_hdr *h,
                              const uint8_t *payload);
void rel_free(struct net_peer *p);
uint32_t rel_room(const struct net_peer *p);
/* Queue one reliable packet of type with payload parts a (alen) and b
 * (blen); NULL when the window is full, else its slot (to mark notify). */
struct net_pkt *rel_send(struct engine *e, struct net_peer *p, uint8_t type, const void *a,
                         uint32_t alen, const void *b, uint32_t blen);
/* Building packets in place, without a copy: the payload area (cap bytes)
 * of the i-th packet to be sent from now (i < rel_room), or NULL; then
 * rel_commit sends the next one, of len payload bytes, as rel_send would
 * (now: the clock, read once for a burst). */
uint8_t *rel_payload(struct engine *e, struct net_peer *p, uint32_t i, uint32_t *cap);
struct net_pkt *rel_commit(struct engine *e, struct net_peer *p, uint8_t type, uint32_t len,
                           uint64_t now);
void rel_send_ack(struct engine *e, struct net_peer *p);
void rel_send_reset(struct engine *e, int port, const struct port_addr *to,
                    const struct wire_hdr *h);
/* A checked packet from p, read at now: acks, order.  deliver() is called
 * for the next in-order reliable packet; it returns 1 when taken, 0 when
 * it must come again later. */
void rel_input(struct engine *e, struct net_peer *p, const struct wire_hdr *h,
               const uint8_t *payload,
               rel_deliver_fn deliver,
               uint64_t now);
int rel_timers(struct engine *e, struct net_peer *p);
/* Deliver what was kept and refused before (a stalled ring has room now). */
int rel_retry(struct engine *e, struct net_peer *p,
              rel_deliver_fn deliver);
uint64_t rel_next_timer(const struct net_peer *p);

/* remote.c */
int remote_deliver(struct engine *e, struct net_peer *p, const struct wire_hdr *h,
                   const uint8_t *payload);
int remote_retry_stalled(struct engine *e, struct net_peer *p);

/* notify.c: events for local endpoints that may wait for ring room, in
 * order; -1 when the endpoint is gone, else posted or queued */
int notify_post(struct engine *e, uint32_t eid, uint32_t session, const struct msg *m);
/* For an answer that names only an endpoint id (its cookie tells a stale
 * one apart): whatever endpoint is open there. */
int notify_post_open(struct engine *e, uint32_t eid, const struct msg *m);
int notify_retry(struct engine *e);
void notify_free_all(struct net *n);

/* rpull.c */
int rpull_on_request(struct engine *e, struct net_peer *p, const struct wire_pull_req *r);
int rpull_on_data(struct engine *e, struct net_peer *p, const struct wire_pull_data *d,
                  const uint8_t *bytes, uint32_t len);
int rpull_on_end(struct engine *e, struct net_peer *p, const struct wire_pull_end *end);
int rpull_progress(struct engine *e);
/* Write the pieces received so far into their guests. */
void rpull_flush(struct engine *e);
void rpull_drop_peer(struct engine *e, struct net_peer *p);
void rpull_free_all(struct net *n);

/* netconn.c */
int netconn_start(struct engine *e, uint32_t guest_id, uint32_t seq, uint32_t eid, uint64_t nic,
                  uint32_t peer_eid, uint32_t key);
int netconn_on_request(struct engine *e, struct net_peer *p, const struct wire_connect *c);
int netconn_on_reply(struct engine *e, const struct wire_connect_reply *r);
int netconn_timers(struct engine *e, uint64_t now);
void netconn_drop_peer(struct engine *e, struct net_peer *p);
void netconn_free_all(struct net *n);

#endif
