/*
 * backend.h - state of myrixend shared by its control thread and the NIC
 * engine thread.
 *
 * Locking: be->lock guards the guest and endpoint tables.  The engine holds
 * it for one scheduling round at a time; the control thread takes it to
 * admit, open, close and reclaim.  Whoever holds the lock is the single
 * producer of every VIF's event ring.
 */
#ifndef MYRIXEN_BACKEND_H
#define MYRIXEN_BACKEND_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/ctl.h"
#include "../common/queue.h"

#define BE_MAX_ENDPOINTS 256
#define BE_MAX_GUESTS 128
#define MYRIXEN_VERSION "0.1.0"

/* Why the engine dropped something (each has a counter). */
enum drop_reason {
  DROP_BAD_REQUEST,   /* malformed descriptor: the VIF was failed */
  DROP_RING_CORRUPT,  /* impossible ring index: the VIF was failed */
  DROP_DEST_CLOSED,   /* destination endpoint closed or unknown */
  DROP_BAD_GRANT,     /* a pull named a grant that failed the check */
  DROP_PEER_DIED,     /* transfer aborted: a guest died */
  DROP_COPY_FAULT,    /* process_vm_* failed (guest unmapped its memory) */
  DROP_UNSENT,        /* still queued when its endpoint closed, undeliverable */
  DROP_UNREACHABLE,   /* for a host that is not known or does not answer */
  DROP_MAX
};
extern const char *const drop_reason_name[DROP_MAX];

struct vif_counters {
  uint64_t tx_msgs, tx_bytes;   /* descriptors taken from the request ring */
  uint64_t rx_msgs, rx_bytes;   /* descriptors put in the event ring */
  uint64_t pulls, pull_bytes;   /* rendezvous copies done for this receiver */
  uint64_t stalls;              /* rounds stopped by a full destination */
  uint64_t kicks;               /* doorbells rung */
  uint64_t throttled;           /* times a request waited for its rate limit */
  uint64_t drops[DROP_MAX];
};

struct be_guest {
  int in_use;
  uint32_t id;
  int sock;
  pid_t pid;
  uid_t uid;
  int memfd;
  void *region;                 /* our mapping of the guest's region */
  uint32_t datapath;            /* what the guest asked for */
  uint32_t role;
  char name[32];
  int mbox_kick;                /* eventfd: the guest posted in its mailbox (we poll it) */
  int mbox_bell;                /* eventfd: a reply waits in its mailbox (it polls it) */
  uint32_t mbox_seen;           /* req_seq of the last request taken */
  uint64_t mbox_calls;          /* exchanges through the mailbox */
};

struct be_endpoint {
  int in_use;
  uint32_t eid;
  uint32_t key;
  uint32_t session;
  uint32_t vif_idx;
  struct be_guest *guest;
  struct vif *vif;              /* in the guest's region */
  int doorbell;                 /* eventfd the guest sleeps on */
  struct qcons tx;              /* engine's cursor on the request ring */
  struct qprod rx;              /* engine's cursor on the event ring */
  int rx_dirty;                 /* produced this round: flush and maybe kick */
  uint8_t gone_pending[BE_MAX_ENDPOINTS / 8]; /* PEER_GONE still to post */
  uint32_t gone_count;          /* bits set in gone_pending */
  int channels;                 /* direct channels set up */
  uint8_t chan_with[BE_MAX_ENDPOINTS / 8]; /* peers we share a channel with */
  uint32_t copy_mode;           /* DP_COPY / DP_COPY_BATCH: netback serves it; else 0 */
  struct vif_limit {            /* engine/limit.c; 0: no limit */
    uint64_t bytes_per_s, msgs_per_s;
    double bytes, msgs;         /* tokens */
    uint64_t refill_ns;
  } lim;
  struct vif_counters c;
};

/* The copy datapaths' backend thread (netback.c). */
struct nb_item;
struct netback {
  pthread_t thread;
  int doorbell;                 /* eventfd: copy-mode guests and the engine kick it */
  struct nb_item *tx_head, *tx_tail; /* copied requests, for the engine */
  struct nb_item *rx_head, *rx_tail; /* events for copy-mode guests */
  struct nb_item *pool[2];      /* free buffers: without, with an eager payload */
  uint32_t tx_len, rx_len;
  int rx_kick;                  /* copy-batch events queued this engine round */
  uint64_t copies, bytes;       /* buffers copied, payload bytes */
  uint64_t engine_kicks, netback_kicks, guest_kicks;
  _Atomic uint64_t sleeps;
};

struct be_config {
  const char *socket_path;
  uint64_t nic_id;
  char hostname[64];
  uint32_t max_endpoints;
  uint32_t small_max;
  uint32_t medium_max;
  int engine_cpu;               /* core the engine polls on, or -1 */
  uint64_t vif_bytes_per_s;     /* limits of every new VIF (0: none) */
  uint64_t vif_msgs_per_s;
  int verbose;
};

/* Written by the engine thread only, partly outside be->lock (around its
 * sleep): relaxed atomics, read by the reports. */
struct engine_counters {
  _Atomic uint64_t rounds, sleeps, wakeups;
  _Atomic uint64_t late_wakeups; /* slept to the timeout with work waiting */
};

static inline void engine_count(_Atomic uint64_t *c)
{
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                        memory_order_relaxed);
}

struct pull;

struct backend {
  struct be_config cfg;
  pthread_mutex_t lock;
  struct be_guest guests[BE_MAX_GUESTS];
  struct be_endpoint eps[BE_MAX_ENDPOINTS];
  uint32_t next_guest_id;
  uint32_t next_session;
  int engine_doorbell;          /* eventfd guests ring when the engine sleeps */
  atomic_int stop;
  pthread_t engine_thread;
  struct pull *pulls;           /* rendezvous copies in progress */
  struct engine_counters ec;
  uint64_t started_ns;
  uint64_t ctl_errors;          /* malformed control messages answered */
  uint64_t closed_drops[DROP_MAX]; /* drops of endpoints since closed */
  void *net;                    /* engine/net_int.h: ports and peers, or NULL */
  struct netback nb;
};

/* engine/engine.c */
int engine_start(struct backend *be);
void engine_stop(struct backend *be);
void engine_kick(struct backend *be);

/* backend/netback.c: the copy datapaths (lock held, but start/stop) */
int netback_start(struct backend *be);
void netback_stop(struct backend *be);
int netback_engine_drain(struct backend *be);
uint32_t netback_take_all(struct backend *be, struct be_endpoint *ep);
int netback_post(struct backend *be, struct be_endpoint *dst, const struct msg *m,
                 const void *eager);
void netback_flush(struct backend *be);

/* engine/deliver.c: called with be->lock held */
int engine_request_valid(const struct backend *be, const struct msg *m);
/* Deliver one checked request of src.  1: consumed; 0: destination full. */
int engine_deliver(struct backend *be, struct be_endpoint *src, struct msg *m,
                   const uint8_t *eager);
int engine_serve_vif(struct backend *be, struct be_endpoint *src, int budget);
void engine_flush_rx(struct backend *be, struct be_endpoint *ep);
int engine_post(struct backend *be, struct be_endpoint *dst, const struct msg *m,
                const void *eager);
/* The ring write itself, whoever serves dst's rings (the engine, or
 * netback for the copy datapaths): 1 posted (published at the next flush,
 * rx_dirty set), 0 ring full, -1 ring corrupt (the VIF is failed). */
int vif_ring_post(struct backend *be, struct be_endpoint *dst, const struct msg *m,
                  const void *eager);
void engine_fail_vif(struct backend *be, struct be_endpoint *ep, enum drop_reason why);
int engine_post_gone(struct backend *be, struct be_endpoint *ep);
void endpoint_count_drop(struct be_endpoint *ep, enum drop_reason why);

/* engine/limit.c: per-VIF rate limits (lock held) */
void limit_set(struct be_endpoint *ep, uint64_t bytes_per_s, uint64_t msgs_per_s);
int limit_allows(struct be_endpoint *ep, uint32_t bytes);
int limit_any(const struct backend *be);

/* engine/pull.c: called with be->lock held */
int pull_start(struct backend *be, struct be_endpoint *rcv, const struct msg *m);
int pull_progress(struct backend *be);
void pull_abort_endpoint(struct backend *be, struct be_endpoint *ep);

/* backend/endpoint.c: called with be->lock held */
struct be_endpoint *endpoint_lookup(struct backend *be, uint64_t nic, uint32_t eid);
int endpoint_open(struct backend *be, struct be_guest *g, const struct ctl_open *req,
                  struct be_endpoint **out);
void endpoint_close(struct backend *be, struct be_endpoint *ep);

/* backend/guest.c */
int guest_admit(struct backend *be, struct be_guest *g, const struct ctl_hello *h,
                struct ctl_hello_reply *r);
void guest_reclaim(struct backend *be, struct be_guest *g);

/* backend/mailbox.c: the region's control mailbox, and where replies go */
int guest_send(struct be_guest *g, const struct ctl_msg *m, const int *fds, int nfds);
void mailbox_serve(struct backend *be, struct be_guest *g);

/* backend/server.c: one checked control message from g (socket or mailbox) */
int ctl_dispatch(struct backend *be, struct be_guest *g, struct ctl_msg *req);
void reply_error(struct backend *be, struct be_guest *g, const struct ctl_msg *req, int status,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* backend/channel.c */
int channel_create(struct backend *be, struct be_endpoint *a, struct be_endpoint *b,
                   int fds_a[4], int fds_b[4]);

/* backend/report.c: JSON of the backend's state */
char *report_info(struct backend *be);
char *report_counters(struct backend *be);

/* backend/server.c */
int server_run(struct backend *be);

#endif
