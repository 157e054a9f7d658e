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

enum { CTS_CMA = 1, CTS_PIPES = 2 }; /* req.cts_taken */

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
  struct iovec seg_imm[2];      /* ... and when an immediate's is put before it */
  uint64_t len;                 /* capacity (recv) or length (send) */
  uint64_t match, mask;
  struct conn *from;            /* recv: the only peer it takes (mx_irecv_from), or NULL */
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
  uint64_t peer_addr;           /* channel rendezvous: the sender's buffer (MSG_F_CMA), or 0 */
  uint64_t split;               /* ... the tail from here the sender writes (MSG_WRITTEN
                                 * awaited), or 0 */
  uint8_t cts_taken;            /* send: CTS_CMA and CTS_PIPES served (one each at most) */
  uint8_t by_lane;              /* recv: the message came by lane (MSG_F_LANE) */
  uint8_t lane_data;            /* rendezvous by lane (lane_rndv.c): send, the receiver asked
                                 * for xfer bytes, which go to its cookie peer_cookie; recv,
                                 * we asked for them */
  uint8_t lane_ahead;           /* rendezvous by lane, data ahead (MSG_F_AHEAD): send, its
                                 * data went behind its announcement; recv, it comes so, and
                                 * got counts what came of it */
  uint64_t pipe_end[2];         /* send: where its bytes end in each pipe (chan.spliced) */
  struct chan *via;             /* channel the message came through, or NULL */
  uint8_t want_ack;             /* the sender wants MSG_SYNC_ACK */
  uint8_t has_imm;              /* the message carries an immediate (MSG_F_IMM) ... */
  uint32_t imm;                 /* ... which a rendezvous announced (REQ_UNEXP) */
  uint8_t imm_buf[4];           /* the immediate as data: what a send prepends, what a
                                 * receive takes into the segment put before its own */
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
enum conn_path { PATH_NONE = 0, PATH_ENGINE, PATH_CHANNEL, PATH_LANE };

struct lane_peer;
struct lane;

struct conn {
  uint32_t magic;
  uint64_t nic;
  uint32_t eid;
  uint32_t session;
  enum conn_path path;
  struct chan *ch;
  struct lane_peer *lane;       /* its lane, once its backend vouched for it (lane.h) */
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
  int pipe_out[2], pipe_in[2];  /* large messages, a piece at a time (region.h) */
  uint64_t piece_out, piece_in; /* pieces sent and received: the next one's pipe */
  uint64_t spliced[2];          /* bytes ever spliced into each pipe out */
  int peer_doorbell;
  pid_t peer_pid;               /* the peer, for reading its sends (MSG_F_CMA); 0: pipes */
  int peer_pidfd;               /* ... while this says it lives; or -1 */
  int may_ptrace;               /* we hold CAP_SYS_PTRACE and the peer did not hold all we
                                 * hold: copies are made without it (peer_copy) */
  uint32_t splits;              /* my receives whose tail the peer is to write */
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
  EPC_HANDLER_CALLS, EPC_TIMEOUTS, EPC_BACKLOGGED, EPC_DIRECT_READS,
  EPC_LANE_TX, EPC_LANE_TX_ERRORS, EPC_LANE_RX, EPC_LANE_REFUSED, EPC_LANE_MALFORMED,
  EPC_LANE_RETRANSMITS, EPC_LANE_SILENT, EPC_LANE_TX_RUNS, EPC_LANE_RX_RUNS, EPC_LANE_ICMP,
  EPC_LANE_RNDV, EPC_LANE_LAST_ACKED, EPC_LANE_AHEAD, EPC_LANE_AHEAD_MISSED, EPC_MAX
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
  struct lane *lane;            /* its own port to other hosts, or NULL (lane.h) */
  struct req_list posted, unexp, done;
  struct req *partials;
  uint32_t next_seq;
  uint32_t wakeup_gen;
  uint32_t ctl_seq_seen;
  int dead;                     /* VIF failed or backend gone */
  uint32_t attachment;          /* lib.attachment it was opened on (attach.c) ... */
  void *region;                 /* ... that attachment's region and socket */
  int sock;
  uint32_t test_polls;          /* mx_test* calls: every WAIT_FULL_EVERY-th gets a full pass */
  uint32_t passes;              /* progress passes (a dead backend's socket is looked at
                                 * every 1024th: a guest that only polls learns it too) */
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
  uint64_t engine_work_until;   /* the engine has our work (a pull, a rendezvous it is to
                                 * serve) until about then: a waiter yields the core to it
                                 * rather than spin (ENGINE_WORK_YIELD_NS) */
  struct mx_endpoint *next;
};

/* --- global state (init.c) ---------------------------------------------- */

#define CHANNEL_SPIN_NS 20000ull
/* The longest rendezvous whose data goes by lane (lane_rndv.c); longer
 * ones are pulled through the engines, which move them while the sender
 * computes (MYRIXEN_LANE_RNDV_MAX; docs/evaluation.md, seventh part).
 * The lane's last ack of it may be lost as its receiver closes: the
 * close's last acks (lane_last_acks) then complete the send. */
#define LANE_RNDV_MAX 1048576ull
/* A rendezvous by lane this long at most sends its data right behind its
 * announcement, before the receiver asks (lane_rndv.c): a receive posted
 * in time takes it a round trip sooner; one posted late has it sent
 * again, as asked.  64 KiB: twice the eager bound, 47 packets at MTU 1500
 * (a fifth of a lane's window).  MYRIXEN_LANE_RNDV_AHEAD; 0: never. */
#define LANE_RNDV_AHEAD 65536ull
/* How long a waiter yields, not spins, after giving its engine work it must
 * do before the wait can end (a pull; a rendezvous sent by lane, whose pull
 * the engine serves): the engine shares the waiter's core, and a spinning
 * waiter kept it off for its whole spin (a 64 KiB ping-pong across hosts
 * took 190 us against 137 on the engine path). */
#define ENGINE_WORK_YIELD_NS 200000ull

#define ATTACH_STALE_MAX 8

struct lib_state {
  int initialized;
  int vm;                       /* in a VM: the region is an ivshmem BAR, no socket, no
                                 * descriptors; waits poll; grants name physical pages */
  int sock;
  void *region;
  size_t region_len;            /* bytes mapped (a VM's BAR is larger than the region) */
  _Atomic uint32_t beat_seen;   /* a VM: the backend's last beat, and when it changed */
  _Atomic uint64_t beat_ns;     /* (any endpoint's thread may look: relaxed, last wins) */
  uint32_t attachment;          /* how many times we attached (attach.c) */
  pthread_mutex_t attach_lock;
  struct {                      /* regions of earlier attachments, still mapped for their */
    void *region;               /* open endpoints */
    size_t len;
    uint32_t attachment;
  } stale[ATTACH_STALE_MAX];
  int nstale;
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
  _Atomic int neps;             /* endpoints open (lane_post holds only with one) */
  mx_error_handler_t handler;
  struct poll_policy wait_policy; /* how mx_wait polls before sleeping */
  uint64_t channel_spin_ns;     /* the spin phase of an endpoint with direct channels */
  int lanes;                    /* ask for lanes (MYRIXEN_LANES, default 1; docs/lanes.md) */
  uint64_t lane_rndv_max;       /* a rendezvous this long at most that came by lane has its
                                 * data sent by lane, not pulled through the engines
                                 * (MYRIXEN_LANE_RNDV_MAX; 0: never) */
  uint64_t lane_rndv_ahead;     /* ... and this long at most, its data sent ahead
                                 * (MYRIXEN_LANE_RNDV_AHEAD; 0: never) */
  int lane_hold;                /* a burst's sends by lane wait for the next call
                                 * (lane_post; MYRIXEN_LANE_HOLD, default 1) */
  struct async_msg *async;      /* backend messages not yet taken */
  _Atomic int async_pending;
  uint64_t closed_counters[EPC_MAX]; /* of endpoints since closed (eps_lock) */
};
extern struct lib_state lib;

/* info.c: this process's counters (mx_get_info's), to stderr; mx_finalize
 * prints them when MYRIXEN_COUNTERS is set. */
void lib_counters_print(void);

/* --- the layers ----------------------------------------------------------
 * Each layer has its header (base.h, txq.h, channel.h, conn.h, send.h,
 * recv.h, unexp.h, reach.h, progress.h) and each file includes those it
 * uses.  Each file calls only files of its own rank or lower, and files of one
 * rank form no cycle (tests/scripts/layers.sh checks it on the objects):
 *   0  state errors ep seg match grant req partial ctlclient attach
 *   1  txq
 *   2  channel conn lane
 *   3  send recv unexp reach
 *   4  progress
 *   5  the API: init endpoint connect wait handler info names rma
 */

#endif /* MYRIXEN_LIB_H */
