/*
 * lib.h - internals of libmyrixen, the frontend.
 *
 * An endpoint owns: its VIF (request ring tx, event ring rx, grants) in the
 * guest's region, the direct channels to same-host peers, the connection
 * table, and the MX queues (posted receives, unexpected messages, completed
 * requests).  ep->lock serialises the endpoint (MX promises thread safety);
 * it is dropped while a waiter sleeps.
 */
#ifndef MYRIXEN_LIB_H
#define MYRIXEN_LIB_H

#include <pthread.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../../include/myriexpress.h"
#include "../common/ctl.h"
#include "../common/poll_policy.h"
#include "../common/queue.h"

#define EXPORT __attribute__((visibility("default")))

/* --- requests ----------------------------------------------------------- */

enum req_kind { REQ_SEND = 1, REQ_RECV, REQ_CONNECT, REQ_UNEXP, REQ_CTL };

enum req_state {
  RS_NEW = 0,
  RS_POSTED,      /* recv: in the posted queue */
  RS_UNEXP,       /* internal: in the unexpected queue */
  RS_ACTIVE,      /* in progress (frags, rendezvous, waiting for ack) */
  RS_DONE,        /* completed, in the done queue until reaped */
};

struct req_list {
  struct req *head, *tail;
};

struct conn;
struct chan;

struct req {
  enum req_kind kind;
  enum req_state state;
  mx_status_t status;
  struct req *prev, *next;      /* posted / unexp / done queue */
  struct req *pnext;            /* partial (medium in progress) list */
  struct req *txnext;           /* a txq backlog */
  struct req *lnext;            /* a channel's large FIFO */
  uint32_t handle;              /* index in the handle table */
  uint32_t gen;                 /* generation: cookies of dead requests fail */
  int forgotten;                /* mx_forget: free on completion */
  int buffered;                 /* send: buffers may be reused */
  struct iovec *segs;
  uint32_t nseg;
  struct iovec seg1;            /* storage when nseg <= 1 */
  uint64_t len;                 /* capacity (recv) or length (send) */
  uint64_t match, mask;
  struct conn *conn;            /* peer */
  /* sending */
  uint8_t type;                 /* MSG_SMALL / MSG_FRAG / MSG_RNDV */
  uint8_t sync;
  uint32_t seq;
  uint64_t pushed;              /* bytes of a medium message emitted */
  uint32_t grant;               /* grant ref held (0: none) */
  uint32_t grant_n;             /* entries of that grant's run */
  /* receiving */
  uint64_t msg_len;             /* sender's length */
  uint64_t got;                 /* bytes received (medium) or read (pipe) */
  uint64_t xfer;                /* bytes to deliver */
  uint8_t *buf;                 /* unexpected data (REQ_UNEXP) */
  uint64_t peer_cookie;         /* rendezvous: sender's request */
  uint32_t peer_grant;          /* rendezvous: sender's grant */
  struct chan *via;             /* channel the message came through, or NULL */
  uint8_t want_ack;             /* the sender wants MSG_SYNC_ACK */
  struct msg *ctl;              /* REQ_CTL: the descriptor to emit (owned; kept out of
                                 * line so that every other request stays small) */
  /* timeouts (mx_set_request_timeout) and connecting */
  uint64_t deadline_ns;         /* give up unacknowledged at this time (0: never) */
  uint64_t conn_nic;            /* REQ_CONNECT: whom, with which key */
  uint32_t conn_eid, conn_key;
  struct req *cnext;            /* the endpoint's connecting list */
};

/* --- connections and channels ------------------------------------------ */

#define CONN_MAGIC 0x636f6e6eu

/* Where a sender's messages to a peer go.  Fixed at the first send so that
 * per-pair ordering never depends on two paths racing. */
enum conn_path { PATH_NONE = 0, PATH_ENGINE, PATH_CHANNEL };

struct conn {
  uint32_t magic;
  uint64_t nic;
  uint32_t eid;
  uint32_t session;
  enum conn_path path;
  struct chan *ch;
  void *context;                /* mx_set_endpoint_addr_context */
  int dead;                     /* peer closed or died */
  int remote;                   /* on another host: eager sends wait for the wire's ack */
  struct mx_endpoint *ep;
  struct conn *next;
};

/* A place descriptors are produced into, with a software backlog so that a
 * full ring never blocks a caller and never reorders messages. */
struct txq {
  struct qprod p;
  int kick_fd;                  /* the consumer's doorbell */
  struct req *bl_head, *bl_tail;
  int broken;                   /* consumer's indices impossible */
};

struct chan {
  struct channel *mem;
  int side;
  struct txq tx;                /* my messages to the peer */
  struct qcons rx;              /* the peer's messages to me */
  int pipe_out, pipe_in;
  int peer_doorbell;
  struct conn *conn;
  struct req *splice_head, *splice_tail; /* my large sends, CTS received */
  struct req *read_head, *read_tail;     /* my large receives, CTS sent */
  struct chan *next;
};

/* --- endpoints ---------------------------------------------------------- */

/* Why the endpoint's progress is held off (mx_disable_progression, or an
 * unexpected handler running with the lock dropped). */
enum { PROGRESS_OFF_API = 1, PROGRESS_OFF_HANDLER = 2 };

/* This guest's own counters of an endpoint, reported by mx_get_info. */
enum ep_counter {
  EPC_SENDS, EPC_RECVS, EPC_BYTES_SENT, EPC_BYTES_RECEIVED, EPC_UNEXPECTED,
  EPC_HANDLER_CALLS, EPC_TIMEOUTS, EPC_BACKLOGGED, EPC_MAX
};
extern const char *const ep_counter_names[EPC_MAX];

#define EP_MAGIC 0x6d78656e64707421ull

struct mx_endpoint {
  uint64_t magic;               /* EP_MAGIC while open: handles are checked */
  pthread_mutex_t lock;
  uint32_t eid, vif_idx, session;
  struct vif *vif;
  int doorbell;
  struct txq etx;               /* to the engine */
  struct qcons erx;             /* from the engine */
  struct conn *conns;
  struct chan *chans;
  struct req_list posted, unexp, done;
  struct req *partials;
  uint32_t next_seq;
  uint32_t wakeup_gen;
  uint32_t ctl_seq_seen;
  int dead;                     /* VIF failed or backend gone */
  mx_status_code_t dead_code;
  mx_error_handler_t handler;
  int sleepers;
  uint16_t grant_gen;
  uint8_t grant_used[REGION_GRANTS];
  struct req **handles;
  uint32_t nhandles;
  uint32_t free_handle;
  uint32_t req_gen;             /* generation of the next request */
  struct req *req_cache;        /* freed requests, reused without malloc */
  uint32_t req_cached;
  uint32_t unexp_count, unexp_max;
  uint64_t ctxid_mask;          /* MX_PARAM_CONTEXT_ID: bits every mask must cover */
  mx_unexp_handler_t unexp_handler;
  void *unexp_ctx;
  int progress_off;             /* PROGRESS_OFF_* bits */
  pthread_t handler_thread;     /* valid while PROGRESS_OFF_HANDLER */
  pthread_cond_t progress_on;   /* signalled when progress_off drops to 0 */
  uint32_t req_timeout_ms;      /* default for new requests (0: none) */
  int timers;                   /* some request has a deadline */
  uint64_t next_timer_ns;       /* when progress looks at deadlines next */
  struct req *connecting;       /* mx_iconnect requests being retried */
  uint64_t connect_next_ns;     /* when to retry them */
  uint64_t counters[EPC_MAX];
  struct mx_endpoint *next;
};

/* --- global state (init.c) ---------------------------------------------- */

#define CHANNEL_SPIN_NS 20000ull

struct lib_state {
  int initialized;
  int sock;
  void *region;
  struct region_hdr layout;     /* the region's header as published, checked */
  int engine_doorbell;
  struct mailbox *mbox;         /* the region's control mailbox, once checked */
  int mbox_kick, mbox_bell;     /* eventfds: we posted a request / a reply waits */
  struct ctl_hello_reply hello;
  enum datapath datapath;
  uint32_t small_max, medium_max; /* this guest's class thresholds (<= the backend's) */
  pthread_mutex_t ctl_lock;     /* one control exchange at a time */
  uint32_t ctl_seq;
  pthread_mutex_t eps_lock;
  struct mx_endpoint *eps;
  mx_error_handler_t handler;
  struct poll_policy wait_policy; /* how mx_wait polls before sleeping */
  uint64_t channel_spin_ns;     /* the spin phase of an endpoint with direct channels */
  struct async_msg *async;      /* backend messages not yet taken */
  _Atomic int async_pending;
  uint64_t closed_counters[EPC_MAX]; /* of endpoints since closed (eps_lock) */
};
extern struct lib_state lib;

/* --- the layers ----------------------------------------------------------
 * Each file calls only files of its own rank or lower, and files of one
 * rank form no cycle (tests/scripts/layers.sh checks it on the objects):
 *   0  state errors ep seg match grant req partial ctlclient
 *   1  txq
 *   2  channel conn
 *   3  send recv unexp reach
 *   4  progress
 *   5  the API: init endpoint connect wait handler info names rma
 */

/* errors.c: route a failing call through the endpoint's or global handler */
mx_return_t lib_error(struct mx_endpoint *ep, mx_return_t ret, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* errors.c: as lib_error, for features MX declares but never implemented:
 * never aborts, even under MX_ERRORS_ARE_FATAL. */
mx_return_t lib_unsupported(struct mx_endpoint *ep, const char *fn, const char *why);

/* ep.c */
int ep_valid(struct mx_endpoint *ep);
/* Check ep and take its lock: MX_SUCCESS, or the error handler's answer
 * (fn names the call in the message; never MX_SUCCESS then). */
mx_return_t ep_enter(struct mx_endpoint *ep, const char *fn);
/* MX_SUCCESS when mask covers the endpoint's context id bits. */
mx_return_t ep_check_ctxid(struct mx_endpoint *ep, uint64_t mask, const char *fn);
/* True in the thread running the endpoint's unexpected handler. */
int ep_in_handler(struct mx_endpoint *ep);
/* Block (lock held) while another thread's handler runs. */
void ep_handler_wait(struct mx_endpoint *ep);
/* As ep_enter, for calls that would pull the ground from under a running
 * handler (close, disconnect, disable progression): refused in the handler
 * (MX_CLOSE_IN_HANDLER), and elsewhere they wait for it to return. */
mx_return_t ep_enter_outside_handler(struct mx_endpoint *ep, const char *fn);

/* seg.c */
void seg_scatter(const struct iovec *segs, uint32_t n, uint64_t off, const void *src, uint64_t len);
void seg_gather(const struct iovec *segs, uint32_t n, uint64_t off, void *dst, uint64_t len);
/* The checks every call taking a segment list makes (fn names the call). */
mx_return_t seg_args_check(struct mx_endpoint *ep, const mx_segment_t *segs, uint32_t n,
                           const mx_request_t *out, const char *fn);

/* match.c */
int match_accepts(uint64_t incoming, uint64_t match, uint64_t mask);
struct req *match_find(struct req_list *l, uint64_t incoming);
struct req *match_find_unexp(struct req_list *l, uint64_t match, uint64_t mask);

/* grant.c: grant the engine access to r's segments; the ref, or 0 when
 * the table is full.  grant_release revokes it. */
uint32_t grant_segments(struct mx_endpoint *ep, struct req *r, uint32_t flags);
void grant_release(struct mx_endpoint *ep, struct req *r);

/* req.c */
struct req *req_new(struct mx_endpoint *ep, enum req_kind kind);
void req_free(struct mx_endpoint *ep, struct req *r);
uint64_t req_cookie(const struct req *r);
struct req *req_from_cookie(struct mx_endpoint *ep, uint64_t cookie, enum req_kind kind);
void req_complete(struct mx_endpoint *ep, struct req *r, mx_status_code_t code);
/* The MX status of an engine's msg_status. */
mx_status_code_t msg_status_code(uint32_t status);
void reqlist_push(struct req_list *l, struct req *r);
void reqlist_remove(struct req_list *l, struct req *r);
int req_set_segments(struct req *r, mx_segment_t *segs, uint32_t n);
void req_cache_free(struct mx_endpoint *ep);

/* partial.c: medium messages being reassembled */
void partial_add(struct mx_endpoint *ep, struct req *r);
void partial_replace(struct mx_endpoint *ep, struct req *old, struct req *r);
void partial_remove(struct mx_endpoint *ep, struct req *r);
struct req *partial_find(struct mx_endpoint *ep, const struct conn *c, uint32_t seq);

/* ctlclient.c */
int ctl_call(struct ctl_msg *req, struct ctl_msg *rep, int *fds, int *nfds, char **text);
void ctl_poll_async(void);
/* The oldest CTL_CHANNEL_ATTACH the backend sent for VIF vif: 1, with the
 * message and its descriptors (the caller owns them); 0 when none waits. */
int ctl_async_take(uint32_t vif, struct ctl_msg *m, int *fds, int *nfds);

/* txq.c */
void txq_init(struct txq *t, struct queue *q, int kick_fd);
void txq_submit(struct mx_endpoint *ep, struct txq *t, struct req *r);
int txq_write_small(struct txq *t, const struct conn *c, const void *buf, uint32_t len,
                    uint64_t match, uint32_t seq);
void txq_sent_early(struct mx_endpoint *ep, struct txq *t, struct req *r);
void txq_send_ctl(struct mx_endpoint *ep, struct txq *t, const struct msg *m);
int txq_drain(struct mx_endpoint *ep, struct txq *t);
/* Complete with MX_STATUS_TIMEOUT the backlogged sends past their deadline
 * that have not started to leave (a half-sent message is never cut). */
int txq_expire(struct mx_endpoint *ep, struct txq *t, uint64_t now);
void txq_fail(struct mx_endpoint *ep, struct txq *t, mx_status_code_t code);

/* channel.c */
int chan_attach(struct mx_endpoint *ep, struct conn *c, int side, int *fds);
void chan_close(struct mx_endpoint *ep, struct chan *ch);
void chan_large_ready(struct mx_endpoint *ep, struct chan *ch, struct req *r);
/* The peer's next message, copied, checked and stamped with the peer's
 * identity: 1, 0 when none waits, -1 when the peer broke the protocol. */
int chan_next(struct chan *ch, struct msg *m, const uint8_t **eager);
/* Done with m, the taken-th message of this drain. */
void chan_advance(struct chan *ch, const struct msg *m, int taken);
void chan_release(struct chan *ch);
/* The peer is ready for our large send its CTS names. */
void chan_cts(struct mx_endpoint *ep, struct chan *ch, const struct msg *m);
/* Move what the pipes allow and push our backlog: work, -1 when the peer
 * is gone. */
int chan_move(struct mx_endpoint *ep, struct chan *ch);
void chan_arm(struct chan *ch, struct pollfd *pfd, int *n);

/* conn.c */
struct conn *conn_get(struct mx_endpoint *ep, uint64_t nic, uint32_t eid, int create);
struct conn *conn_from_addr(struct mx_endpoint *ep, const mx_endpoint_addr_t *a);
void conn_to_addr(const struct conn *c, mx_endpoint_addr_t *a);
void conn_fail(struct mx_endpoint *ep, struct conn *c, mx_status_code_t code);

/* send.c */
mx_return_t send_post(struct mx_endpoint *ep, mx_segment_t *segs, uint32_t n,
                      mx_endpoint_addr_t dest, uint64_t match, void *ctx, int sync,
                      mx_request_t *out);
void send_acked(struct mx_endpoint *ep, const struct msg *m, mx_status_code_t code);

/* recv.c */
void recv_incoming(struct mx_endpoint *ep, struct chan *via, const struct msg *m,
                   const uint8_t *eager);
void recv_matched(struct mx_endpoint *ep, struct req *r, struct req *u);
void recv_start_large(struct mx_endpoint *ep, struct req *r);
void recv_event(struct mx_endpoint *ep, const struct msg *m);

/* unexp.c: run the unexpected handler on a message no receive matched.
 * Returns the receive that takes it now (posted by the handler, or an
 * internal one that discards it), or NULL to keep it as unexpected. */
struct req *unexp_handler_run(struct mx_endpoint *ep, struct conn *c, const struct msg *m,
                              const uint8_t *eager);

/* reach.c */
#define REACH_RETRY_NS 5000000ull /* a pending mx_iconnect is tried again this often */
/* One connect exchange with the backend.  0 and *out, or an MX code. */
int reach_once(struct mx_endpoint *ep, uint64_t nic, uint32_t eid, uint32_t key,
               struct conn **out);
/* One attempt for a pending mx_iconnect: 0 to try again later, or 1 and
 * the status it finished with (not yet reported). */
int reach_try(struct mx_endpoint *ep, struct req *r, uint64_t now, mx_status_code_t *code);
/* Retry pending mx_iconnect requests (progress, lock held). */
int reach_progress(struct mx_endpoint *ep, uint64_t now);
/* Attach the channels peers opened to us. */
void reach_take_attached(struct mx_endpoint *ep);

/* progress.c */
int progress_once(struct mx_endpoint *ep);
/* Wait (lock held) until done(ep, arg) or timeout_ms (0: forever) or an
 * mx_wakeup.  Returns 1 when done, 0 on timeout or wakeup. */
int progress_wait(struct mx_endpoint *ep, uint32_t timeout_ms,
            int (*done)(struct mx_endpoint *, void *), void *arg);

#endif /* MYRIXEN_LIB_H */
