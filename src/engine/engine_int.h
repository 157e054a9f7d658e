/*
 * engine_int.h - what the files of the engine share: the engine, its VIF
 * table, the datapaths that serve a VIF's rings, and each file's calls.
 * Nothing outside src/engine/ includes it (engine.h is the interface).
 *
 * Locking: e->lock guards the VIF table and everything reached from it.
 * The engine thread holds it for one scheduling round at a time, netback
 * for one of its rounds, a client call for its length.  Whoever holds the
 * lock is the single producer of every VIF's event ring.
 */
#ifndef MYRIXEN_ENGINE_INT_H
#define MYRIXEN_ENGINE_INT_H

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../common/queue.h"
#include "engine.h"

/* What one VIF may hold in the engine at once: past these, its requests
 * wait in its own ring (pulls) or its events are dropped and counted
 * (notices), so that one guest cannot make the engine allocate without
 * bound. */
#define VIF_PULLS_MAX 64
#define VIF_NOTICES_MAX 1024

struct engine_vif;
struct net;
struct pull;
struct netback;

/* Who serves a VIF's rings: the engine itself (bypass, engine, direct) or
 * netback, the copy datapaths' thread (netback.c). */
struct vif_datapath {
  const char *name;
  /* the engine's round serves the request ring itself */
  int engine_serves_tx;
  /* put one event in the VIF's event ring: 1 posted, 0 full, -1 broken */
  int (*post)(struct engine *e, struct engine_vif *v, const struct msg *m, const void *eager);
  /* publish what was posted this round, and kick the guest */
  void (*flush)(struct engine *e, struct engine_vif *v);
  /* closing: take what the guest queued; returns what is left behind */
  uint32_t (*take_all)(struct engine *e, struct engine_vif *v);
};
extern const struct vif_datapath vif_dp_engine, vif_dp_copy;

/* One open endpoint: its VIF in its guest's region, the engine's cursors on
 * its rings, and the engine's own state of it (never read from the region). */
/* allow.c: endpoints of other hosts a VIF may hear from (lock held) */
#define ALLOW_MAX 65536                /* per VIF: an MPI job's every other rank */
struct allow_entry {
  uint64_t nic;
  uint32_t eid_plus1;           /* 0: an empty slot */
  uint32_t session;             /* the remote endpoint's incarnation that connected */
};
struct allow_set {
  struct allow_entry *slots;
  uint32_t cap, count;
};
/* Is (nic, eid) in the set: in any incarnation (session 0), or in that
 * one? */
int allow_has(const struct allow_set *s, uint64_t nic, uint32_t eid, uint32_t session);
/* The slot of (nic, eid) in exactly incarnation session (not 0), below
 * s->cap, or -1: one mark per endpoint for whoever walks a list of them. */
int allow_find(const struct allow_set *s, uint64_t nic, uint32_t eid, uint32_t session);
/* (nic, eid) in incarnation session (the latest connect says which): 0,
 * or -1 when the set is full (ALLOW_MAX) or memory is short. */
int allow_add(struct allow_set *s, uint64_t nic, uint32_t eid, uint32_t session);
void allow_free(struct allow_set *s);
/* Forget every endpoint of host nic (it restarted or failed: whoever has
 * those ids there now must connect anew). */
void allow_forget_nic(struct allow_set *s, uint64_t nic);
/* True when some endpoint of nic is in the set. */
int allow_has_nic(const struct allow_set *s, uint64_t nic);

struct engine_vif {
  int in_use;
  uint32_t eid;
  uint32_t key;
  uint32_t session;
  uint32_t state;               /* enum vif_state: the engine's own; the region's copy is
                                 * for the guest to read, never read back */
  struct engine_owner owner;
  const struct vif_datapath *dp;
  struct vif *vif;              /* shared, in the guest's region */
  int doorbell;                 /* eventfd the guest sleeps on */
  struct qcons tx;              /* engine's cursor on the request ring */
  struct qprod rx;              /* engine's cursor on the event ring */
  int rx_dirty;                 /* produced this round: flush and maybe kick */
  int tx_blocked;               /* its next request waits for room at a destination of
                                 * this host: no work for the engine until that room
                                 * comes (one waiting for the network's window is: the
                                 * acks that open it are polled for) */
  int rx_wanted;                /* something waits for room in its event ring: before
                                 * sleeping, ask its guest for a kick when it frees some */
  uint8_t gone_pending[ENGINE_MAX_ENDPOINTS / 8]; /* PEER_GONE still to post */
  uint32_t gone_count;          /* bits set in gone_pending */
  int channels;                 /* direct channels set up */
  uint32_t pulls;               /* rendezvous it asked for, still in flight (VIF_PULLS_MAX) */
  uint32_t notices;             /* events waiting for room in its ring (VIF_NOTICES_MAX) */
  uint8_t chan_with[ENGINE_MAX_ENDPOINTS / 8]; /* peers we share a channel with */
  uint8_t may_send[ENGINE_MAX_ENDPOINTS / 8];  /* local peers connected with their key */
  struct allow_set remote_ok;   /* endpoints of other hosts connected either way */
  struct lane_addr lane;        /* its lane (docs/lanes.md), set by the backend; port 0:
                                 * none, and none is offered at a connect */
  struct vif_limit {            /* limit.c; 0: no limit */
    uint64_t bytes_per_s, msgs_per_s;
    double bytes, msgs;         /* tokens */
    uint64_t refill_ns;
  } lim;
  struct vif_counters c;
};

/* Written by the engine thread only, partly outside the lock (around its
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

struct completion_item;

struct engine {
  struct engine_config cfg;
  pthread_mutex_t lock;
  struct engine_vif vifs[ENGINE_MAX_ENDPOINTS];
  uint32_t next_session;
  int doorbell;                 /* eventfd guests ring when the engine sleeps */
  uint32_t vm_vifs;             /* open VIFs of VMs: the engine then sleeps at once when
                                 * idle, leaving the cores to their vCPUs */
  uint32_t polled_vifs;         /* open VIFs whose guests cannot ring it (VMs on
                                 * ivshmem-plain): the engine's sleeps are short polls */
  atomic_int stop;
  pthread_t thread;
  int started;
  struct pull *pulls;           /* rendezvous copies in progress */
  char *pull_bounce;            /* their bounce buffer */
  struct engine_counters ec;
  struct vif_counters closed;   /* counters of endpoints since closed (their drops too) */
  uint64_t closed_channels;     /* direct channels those endpoints had set up */
  struct net *net;              /* ports and peers, or NULL */
  struct netback *nb;
  /* completions for the client (completion.c) */
  pthread_mutex_t done_lock;
  struct completion_item *done_head, *done_tail;
  uint32_t done_count;
  uint64_t done_dropped;        /* posted while the client took none */
  int done_fd;
};

/* vif.c: the VIF table (lock held) */
struct engine_vif *vif_lookup(struct engine *e, uint64_t nic, uint32_t eid);
/* The open VIF at eid with this session, or NULL: a handle that outlives
 * its endpoint finds nothing. */
struct engine_vif *vif_find(struct engine *e, uint32_t eid, uint32_t session);
int vif_usable(const struct engine_vif *v);
void vif_count_drop(struct engine_vif *v, enum drop_reason why);
void vif_fail(struct engine *e, struct engine_vif *v, enum drop_reason why);
/* Post the PEER_GONE events v still owes; returns events posted. */
int vif_post_gone(struct engine *e, struct engine_vif *v);
/* Open a VIF at want (or MX_ANY_ENDPOINT) on shared: MX_SUCCESS and *out,
 * or an MX return code. */
int vif_open(struct engine *e, const struct engine_owner *owner, struct vif *shared,
             uint32_t want, uint32_t key, struct engine_vif **out);
void vif_close(struct engine *e, struct engine_vif *v, const struct ctl_lane_last_ack *acks,
               uint32_t nacks);
void vif_info(const struct engine_vif *v, struct engine_vif_info *info);
void vif_counters_add(struct vif_counters *sum, const struct vif_counters *c);
int vif_has_channel(const struct engine_vif *v, uint32_t peer);
/* May v deliver data to local endpoint peer (a connect made it so)? */
int vif_may_send(const struct engine_vif *v, uint32_t peer);
void vif_allow(struct engine_vif *v, uint32_t peer);
void vif_add_channel(struct engine_vif *v, uint32_t peer);

/* deliver.c: the engine's datapath (lock held) */
int deliver_request_valid(const struct engine *e, const struct msg *m);
/* Deliver one checked request of src.  1: consumed; 0: destination full. */
int deliver_request(struct engine *e, struct engine_vif *src, struct msg *m,
                    const uint8_t *eager);
int deliver_serve_vif(struct engine *e, struct engine_vif *src, int budget);
/* Put one event in dst's event ring, whoever serves it: 1 posted, 0 ring
 * full (try later), -1 dst cannot take events any more. */
int deliver_post(struct engine *e, struct engine_vif *dst, const struct msg *m,
                 const void *eager);
/* The ring write itself: 1 posted (published at the next flush, rx_dirty
 * set), 0 ring full, -1 ring corrupt (the VIF is failed). */
int deliver_ring_post(struct engine *e, struct engine_vif *dst, const struct msg *m,
                      const void *eager);

/* limit.c: per-VIF rate limits (lock held) */
void limit_set(struct engine_vif *v, uint64_t bytes_per_s, uint64_t msgs_per_s);
int limit_allows(struct engine_vif *v, uint32_t bytes);
/* The request m passes v's limits (its payload, or a pull's whole length),
 * whichever datapath takes it: the engine or netback. */
int limit_allows_msg(struct engine_vif *v, const struct msg *m);
int limit_any(const struct engine *e);

/* guestmem.c: a guest's memory.  A process's is reached through the
 * /proc/PID/mem its client opened at admission (bound to that address
 * space); a VM's is its RAM file, mapped, and a remote address is a
 * guest-physical one.  Bytes copied, or -1 (errno ESRCH: the process
 * exited or runs another program now; EFAULT: outside the VM's RAM). */
struct guest_mem {
  pid_t pid;                    /* copies by pid, checked through mem_fd afterwards */
  int mem_fd;
  uid_t uid;                    /* writes are made with these ids */
  gid_t gid;
  uint8_t *ram;                 /* a VM: its RAM (then pid and mem_fd are unused) */
  uint64_t ram_size;
};
static inline struct guest_mem guest_mem_of(const struct engine_owner *o)
{
  return (struct guest_mem){o->pid, o->mem_fd, o->uid, o->gid, o->ram, o->ram_size};
}
/* True when [addr, addr + len) lies in g's memory as far as the engine
 * can tell before copying (a VM's RAM; any range for a process). */
static inline int guestmem_covers(const struct guest_mem *g, uint64_t addr, uint64_t len)
{
  return !g->ram || (addr <= g->ram_size && len <= g->ram_size - addr);
}
ssize_t guestmem_read(const struct guest_mem *g, const struct iovec *local, unsigned long nl,
                      const struct iovec *remote, unsigned long nr);
ssize_t guestmem_write(const struct guest_mem *g, const struct iovec *local, unsigned long nl,
                       const struct iovec *remote, unsigned long nr);

/* grant.c: the grant run ref of v's VIF, copied once from the region and
 * checked (index, live generation, flags, count, length >= len, and when
 * puller is given, that it names the puller) into *seg, allocated to fit
 * (the caller frees it).  0, or -1 when it fails the check. */
#define GRANT_MAX_SEGS REGION_GRANTS
struct grant_puller {
  uint64_t nic;
  uint32_t eid;
  uint32_t session;             /* the pulling endpoint's incarnation */
};
int grant_load(struct engine_vif *v, uint32_t ref, uint32_t need_flag, uint64_t len,
               const struct grant_puller *puller, struct iovec **seg, int *nseg);

/* pull.c: rendezvous on this host (lock held) */
int pull_start(struct engine *e, struct engine_vif *rcv, const struct msg *m);
int pull_progress(struct engine *e);
void pull_abort_vif(struct engine *e, struct engine_vif *v);
void pull_free_all(struct engine *e);

/* engine.c: one scheduling round of the engine thread (lock held): the
 * work done.  The fuzzers drive the engine through it, without threads. */
int engine_round(struct engine *e, uint32_t *rr);
/* Before sleeping on v's full event ring: ask its guest for a kick when
 * it frees room; true when it freed some meanwhile. */
int engine_arm_rx_space(struct engine_vif *v);

/* netback.c: the copy datapaths' thread */
/* Its queues and doorbell (engine_create), its thread (engine_start). */
int netback_init(struct engine *e);
void netback_fini(struct engine *e);
int netback_start(struct engine *e);
/* One round of it over the copy-mode VIFs (lock held); *batching: one of
 * them is copy-batch (netback then polls a little before it sleeps). */
int netback_round(struct engine *e, int *batching);
void netback_stop(struct engine *e);
/* The engine's round: deliver netback's copied requests, then kick it. */
int netback_drain(struct engine *e);
void netback_flush(struct engine *e);
int netback_busy(const struct engine *e);
/* True while netback holds requests endpoint eid sent (they go before
 * anything said of eid afterwards: its PEER_GONE). */
int netback_holds(const struct engine *e, uint32_t eid);
int netback_doorbell(const struct engine *e);
/* "netback":{...} of the counters report (lock held). */
void netback_write_counters(struct engine *e, struct json *j);

/* completion.c */
int completion_init(struct engine *e);
void completion_fini(struct engine *e);
void completion_post(struct engine *e, const struct engine_completion *c);

/* net.c: the network side (lock held); a host without ports has none and
 * every call is then cheap. */
int net_setup(struct engine *e, char *err, size_t errlen);
struct port_addr;
/* One packet as a port received it: checked, matched to its peer and its
 * incarnation, then handed to the peer's stream. */
void net_input(struct engine *e, int port, const uint8_t *pkt, size_t len,
               const struct port_addr *from, uint64_t now);
void net_teardown(struct engine *e);
int net_progress(struct engine *e);
/* True while packets are in flight or a remote pull streams. */
int net_busy(struct engine *e);
void net_flush(struct engine *e);
int net_poll_fds(struct engine *e, struct pollfd *pfd, int max);
/* After a sleep: note which of those fds ended it (pfd as net_poll_fds filled it). */
void net_woken(struct engine *e, const struct pollfd *pfd, int nfd);
int net_next_timer_ms(struct engine *e);
/* lanes.c: an endpoint closes; the hosts it connected with are told */
void lane_tell_gone(struct engine *e, struct engine_vif *v, const struct ctl_lane_last_ack *acks,
                    uint32_t nacks);
/* peer.c: true when nic names another host the network may reach */
int peer_is_remote(struct engine *e, uint64_t nic);
/* remote.c / rpull.c: a guest's request for another host (1 consumed, 0 retry) */
int remote_send(struct engine *e, struct engine_vif *src, struct msg *m, const uint8_t *eager);
int rpull_start(struct engine *e, struct engine_vif *rcv, const struct msg *m);

#endif
