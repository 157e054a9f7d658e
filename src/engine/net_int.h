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
#include "../common/reliable.h"

#define NET_MAX_PORTS 4
#define NET_MAX_PEERS 64
#define NET_KEEPALIVES_PER_TIMEOUT 4 /* an idle peer is asked this often per peer timeout */
#define NET_CONNECT_WAIT_NS 1000000000ull
#define NET_PULL_PIECES 128         /* packets read from a guest with one syscall */
#define NET_PULL_PEND 64            /* received pieces written into a guest at once */
#define NET_HELLO_EVERY_NS 2000000000ull /* discovery: a hello on each port this often */
#define NET_BCAST_POLL_NS 1000000ull     /* a busy engine reads the hellos' socket this often */
#define NET_PULLS_OUT_MAX 256       /* pulls one peer may stream from us at once */

/* wireauth.c: the cluster key, and what each peer sent under it */
#define WIRE_REPLAY 2048            /* packet counters a receiver remembers per peer */
#define WIRE_MAX_AGE_S 60           /* older packets are refused (the clocks of a cluster
                                     * agree to better than that) */
struct wire_auth {
  int on;
  uint8_t key[32];
  uint64_t counter;             /* of the last packet sent */
  void *tx;                     /* our packets' MAC context (OpenSSL's), for tx_nic */
  uint64_t tx_nic;
  void *scratch;                /* an unknown sender's, made for its packet */
};
struct wire_replay {
  uint64_t top;                 /* highest counter accepted */
  uint64_t bits[WIRE_REPLAY / 64]; /* counters in (top - WIRE_REPLAY, top] accepted */
};
/* Off without key_file; else the key made from the file's secret.  0, or
 * -1 with err set. */
int wireauth_setup(struct wire_auth *a, const char *key_file, char *err, size_t errlen);
/* Seal the packet of len bytes: its checksum, or with a key its MAC
 * trailer (the buffer has WIRE_MAC_LEN bytes of room past len).  The
 * length to send. */
size_t wireauth_seal(struct wire_auth *a, uint8_t *pkt, size_t len);
/* A received packet's MAC: 0 and the sender's *counter, or -1.  peer_ctx:
 * where the known sender's MAC context is kept (made at its first
 * packet), or NULL for a sender not known yet. */
int wireauth_open(struct wire_auth *a, void **peer_ctx, const uint8_t *pkt, size_t len,
                  uint64_t *counter);
void wireauth_free(struct wire_auth *a);
void wireauth_peer_free(void **ctx);
/* The oldest counter a peer first heard of now may send: its window's
 * start (WIRE_MAX_AGE_S ago, by the wall clock). */
uint64_t wireauth_floor(void);
/* 0: counter is new from this peer (now remembered); -1: a replay, or
 * too old to tell. */
int wireauth_replay(struct wire_replay *r, uint64_t counter);

enum peer_state { PEER_NEW = 0, PEER_UP = 1, PEER_FAILED = 2 };

/* An eager fragment arriving in pieces, or a message waiting for room in
 * its destination's event ring. */
struct net_inbound {
  int active;
  struct msg m;                 /* header as posted (source stamped) */
  uint32_t dst_eid;
  uint32_t src_session;         /* the sending endpoint's incarnation */
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
  struct rel_stream rel;        /* the reliable stream to it (reliable.h) */
  struct net_inbound asm_;      /* fragment being reassembled */
  struct net_inbound stalled;   /* complete, waiting for ring room */
  struct wire_replay replay;    /* with a cluster key: the counters it sent ... */
  void *mac_ctx;                /* ... and its MAC context (wireauth.c) */
  uint64_t resets, failures;
};

/* A remote pull, on the side that has the data (out) or wants it (in). */
struct net_rpull {
  struct net_rpull *next;
  struct net_peer *peer;
  int out;
  uint64_t cookie, cookie2;
  uint32_t snd_eid, rcv_eid;
  uint32_t local_eid, local_session; /* the endpoint on this host */
  struct guest_mem mem;         /* the local guest's memory */
  int nseg;
  struct iovec *seg;            /* grant_load's, freed with the pull */
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
  uint32_t eid, session;        /* the endpoint that asked */
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
  struct net_gone *gones, *gones_tail; /* WIRE_EP_GONE waiting for window room */
  uint32_t ngones;
  size_t gones_bytes;           /* their notices' bytes (NET_GONES_BYTES) */
  struct net_notify_wait *notifies, *notifies_tail;
  uint32_t next_req_id;
  uint64_t peer_timeout_ns;
  uint64_t seed;
  uint8_t rxbuf[WIRE_MAX_PACKET + 1];
  uint64_t drops[8];            /* received packets refused, by -wire_drop */
  uint64_t unknown_peer, stale_session, malformed;
  uint64_t lane_on_port;        /* lane packets sent to a port: no port takes them */
  uint64_t lanes_vouched;       /* peers' lanes passed on to our endpoints ... */
  uint64_t lanes_refused;       /* ... and refused (not on the peer's own address) */
  uint64_t ep_gone_tx, ep_gone_rx; /* WIRE_EP_GONE told and heard */
  uint64_t ep_gone_dropped;     /* ... and not told: more than NET_GONES_MAX waited */
  uint64_t last_acks_tx;        /* closed endpoints' last lane acks told with them ... */
  uint64_t last_acks_refused;   /* ... and not: naming no pair of theirs, or past a packet */
  uint64_t last_acks_rx;        /* heard and passed on to an endpoint */
  uint64_t keepalives;          /* sent to idle peers */
  struct wire_auth auth;
  uint64_t auth_bad;            /* with a key: no MAC, or a wrong one */
  uint64_t auth_unexpected;     /* without one: a packet with a MAC */
  uint64_t replayed;            /* with a key: a packet counter seen before, or too old */
  int discovery;
  uint64_t next_hello_ns;
  uint64_t next_bcast_ns;       /* when the hellos' socket is read next */
  uint64_t hellos_sent, hellos_heard;
};

static inline struct net *net_of(struct engine *e)
{
  return e->net;
}

/* The largest packet the engine builds for a port, before its trailer. */
static inline uint32_t net_mtu(const struct net *n, int port)
{
  return n->ports[port].mtu - (n->auth.on ? WIRE_MAC_LEN : 0);
}

/* peer.c */
/* The peer whose stream s is. */
static inline struct net_peer *peer_of(struct rel_stream *s)
{
  return (struct net_peer *)((char *)s - offsetof(struct net_peer, rel));
}
struct net_peer *peer_by_nic(struct net *n, uint64_t nic);
struct net_peer *peer_learn(struct engine *e, uint64_t nic, int port,
                            const struct port_addr *from);
void peer_fail(struct engine *e, struct net_peer *p, const char *why);
/* A peer's stream is idle: when it is due a keepalive (UINT64_MAX: not),
 * and sending it.  Messages between guests' lanes pass no engine, so an
 * engine learns that a peer died only by asking. */
uint64_t peer_keepalive_due(const struct net *n, const struct net_peer *p);
int peer_keepalive(struct net *n, struct net_peer *p, uint64_t now);
uint32_t peer_random32(struct net *n);
int peer_file_load(struct engine *e, const char *path, char *err, size_t errlen);
int peer_resolve_name(struct engine *e, const char *host, uint64_t *nic);
int peer_resolve_nic(struct engine *e, uint64_t nic, char *host, size_t len);

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

/* An endpoint's close, still to be told to a host (lanes.c). */
struct net_gone {
  uint64_t nic;
  struct net_gone *next;
  uint32_t len;                 /* of msg */
  _Alignas(8) uint8_t msg[];    /* struct wire_ep_gone, then its last acks */
};
#define NET_GONES_MAX 4096 /* past this, the oldest notice is dropped (logged) */
#define NET_GONES_BYTES (4u << 20) /* past this, a notice waits without its last acks */

/* lanes.c: the engine's part in the guests' lanes (docs/lanes.md) */
int lane_vouch(struct net *n, const struct net_peer *p, struct lane_addr *lane);
/* g, and after it len bytes of struct wire_lane_last_ack (a peer's word,
 * checked): every endpoint that had g's as a pair hears MSG_PEER_GONE, with
 * the last ack naming it.  1, or -1 for a payload of no whole entries. */
int lane_on_gone(struct engine *e, struct net_peer *p, const struct wire_ep_gone *g,
                 const uint8_t *acks, uint32_t len);
/* Notices that waited for room: sent now if they can be.  Returns work. */
int lane_gones_retry(struct net *n);
void lane_gones_free(struct net *n);

/* netconn.c */
int netconn_start(struct engine *e, uint32_t guest_id, uint32_t seq, uint32_t eid, uint64_t nic,
                  uint32_t peer_eid, uint32_t key);
int netconn_on_request(struct engine *e, struct net_peer *p, const struct wire_connect *c);
int netconn_on_reply(struct engine *e, struct net_peer *p, const struct wire_connect_reply *r);
int netconn_timers(struct engine *e, uint64_t now);
void netconn_drop_peer(struct engine *e, struct net_peer *p);
void netconn_free_all(struct net *n);

#endif
