/*
 * engine.h - the NIC engine, a library: the one header its client (the
 * backend, myrixend) includes.
 *
 * The engine is the software NIC of the design: an I/O processor that
 * serves every VIF's request ring, delivers into event rings, copies
 * rendezvous data between grants, runs the copy datapaths' netback
 * thread, and carries VIF messages to other hosts over its ports with a
 * reliable stream per peer.  It depends only on port/ and common/.
 *
 * The client admits guests and maps their regions; it opens a VIF for each
 * MX endpoint, naming the guest as an engine_owner and the VIF's shared
 * memory.  From then on the engine alone touches that VIF, until
 * engine_vif_close returns: then the client may unmap the region.
 *
 * The engine never calls into its client.  What the client must learn
 * later (a remote connect answered) comes through the completion queue:
 * engine_completion_fd becomes readable, engine_completion_take hands the
 * completions out.
 *
 * Threads: every call takes the engine's lock; the engine's own threads
 * (the engine and netback) take it for a round at a time.  Calls may come
 * from any one client thread.
 */
#ifndef MYRIXEN_ENGINE_H
#define MYRIXEN_ENGINE_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "../common/json.h"
#include "../common/region.h"

#define ENGINE_MAX_ENDPOINTS 256
#define ENGINE_MAX_PORTS 4

struct engine;

/* How the engine is built (myrixend's options). */
struct engine_config {
  uint64_t nic_id;              /* this host's 48-bit nic id */
  char hostname[64];            /* the name peers resolve */
  uint32_t max_endpoints;       /* endpoint ids 0..max-1 (<= ENGINE_MAX_ENDPOINTS) */
  uint32_t medium_max;          /* largest eager message a request may carry */
  int engine_cpu;               /* core the engine polls on, or -1 */
  uint64_t vif_bytes_per_s;     /* limits of every new VIF (0: none) */
  uint64_t vif_msgs_per_s;
  /* network: none when nports is 0 (a host of its own) */
  const char *ports[ENGINE_MAX_PORTS]; /* udp:ADDR:PORT, udp:[ADDR6]:PORT, eth:IFNAME */
  int nports;
  const char *peers_file;       /* lines NIC_ID|- HOSTNAME ADDRESS, and key-file PATH */
  const char *key_file;         /* the cluster key's secret: every packet carries a MAC
                                 * (else the peers file's key-file, else none) */
  const char *fault;            /* fault spec for every port (fault.h) */
  uint32_t peer_timeout_ms;     /* give up on a silent peer (0: 10 s) */
  int no_discovery;             /* learn peers from the file and their packets only */
  /* The engine thread's poll policy (poll_policy.h) when set: how long an
   * idle engine spins, then yields, before it sleeps (has_spin, has_yield:
   * set by the operator; else the defaults, or MYRIXEN_SPIN_US/YIELD_US). */
  int has_spin, has_yield;
  uint32_t spin_us, yield_us;
};

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
  DROP_OVERFLOW,      /* an event for a VIF whose ring and overflow queue were full */
  DROP_NOT_CONNECTED, /* data for an endpoint the sender never connected to (with its key) */
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

/* The guest a VIF belongs to, as the engine keeps it (a copy). */
struct engine_owner {
  uint32_t guest_id;
  pid_t pid;                    /* copies go by pid, checked through mem_fd ... */
  uid_t uid;                    /* ... and writes are made with the guest's own ids */
  gid_t gid;
  int mem_fd;                   /* the guest's /proc/PID/mem, opened when it was admitted:
                                 * every copy goes through it (a pid can be recycled, an
                                 * exec changes the image; this stays the one admitted).
                                 * The client keeps it open while the VIF is. */
  uint32_t datapath;            /* enum datapath: copy ones go through netback */
  char name[32];                /* for logs */
  /* A VM guest (pid 0, mem_fd -1): its RAM as the client mapped it, a
   * sealed file QEMU maps as the machine's memory.  Its grants name
   * guest-physical addresses, offsets into this mapping; the client keeps
   * it mapped while the VIF is open. */
  void *ram;
  uint64_t ram_size;
  struct lane_addr lane;        /* its lane (docs/lanes.md), from its first moment: a
                                 * connect that comes as it opens finds it (port 0: none) */
  int polled;                   /* it cannot ring the doorbell (a VM on ivshmem-plain):
                                 * the engine's sleeps are short polls while it is open */
};

/* A VIF as its client sees it. */
struct engine_vif_info {
  uint32_t eid;
  uint32_t key;                 /* connection key */
  uint32_t session;             /* changes each time the id is opened */
  uint32_t state;               /* enum vif_state */
  int doorbell;                 /* eventfd the guest sleeps on (owned by the engine) */
  int channels;                 /* direct channels set up */
  struct engine_owner owner;
  uint64_t limit_bytes_per_s, limit_msgs_per_s;
  struct vif_counters c;
};

/* --- life ----------------------------------------------------------------- */

/* Build an engine: ports open, peers read.  0, or -1 with err set. */
int engine_create(const struct engine_config *cfg, struct engine **out, char *err,
                  size_t errlen);
/* Start the engine and netback threads.  0 or -errno. */
int engine_start(struct engine *e);
/* Stop the threads; every VIF is closed first by the client. */
void engine_stop(struct engine *e);
void engine_destroy(struct engine *e);

/* The eventfd a guest of this datapath rings when it finds the engine (or,
 * for the copy datapaths, netback) asleep. */
int engine_doorbell(struct engine *e, uint32_t datapath);

/* --- VIFs ----------------------------------------------------------------- */

/* Open endpoint eid (or MX_ANY_ENDPOINT) for owner, on the VIF shared at
 * vif (in the client's mapping of the guest's region; the engine clears
 * it).  0 and *info filled, or an MX return code. */
int engine_vif_open(struct engine *e, const struct engine_owner *owner, struct vif *vif,
                    uint32_t eid, uint32_t key, struct engine_vif_info *info);
/* Close eid: what its guest queued is delivered, copies in flight end,
 * every other endpoint hears it is gone.  The engine touches the VIF's
 * memory no more.  acks (nacks of them; the guest's word, checked): where
 * its lane streams stood, told to the peers' hosts with the close (those
 * naming an endpoint it had no pair with are dropped and counted). */
void engine_vif_close(struct engine *e, uint32_t eid, const struct ctl_lane_last_ack *acks,
                      uint32_t nacks);
/* The VIF open at eid: 0 and *info, or -1. */
int engine_vif_get(struct engine *e, uint32_t eid, struct engine_vif_info *info);
/* Rate limits of what the engine takes from eid (0: none).  0 or -1. */
int engine_vif_set_limit(struct engine *e, uint32_t eid, uint64_t bytes_per_s,
                         uint64_t msgs_per_s);
/* a connected to b with b's key: from now on each may deliver data to the
 * other (a reply needs no connect of its own, as in MX).  Data between
 * endpoints of this host that never connected is refused and counted. */
void engine_vif_connect(struct engine *e, uint32_t a, uint32_t b);
/* Record a direct channel between a and b (the client made it). */
void engine_vif_channel(struct engine *e, uint32_t a, uint32_t b);
/* True when a and b already share a direct channel. */
int engine_vif_has_channel(struct engine *e, uint32_t a, uint32_t b);
/* Wake every endpoint's guest (the backend is going). */
void engine_wake_all(struct engine *e);

/* --- hosts ---------------------------------------------------------------- */

/* True when nic names another host the engine can reach (or try to). */
int engine_is_remote(struct engine *e, uint64_t nic);
/* Connect endpoint eid to an endpoint of another host: 0, and a
 * completion ENGINE_DONE_CONNECT carrying (guest_id, seq) comes when the
 * peer answers or after a second; or an MX code to answer at once. */
int engine_connect_remote(struct engine *e, uint32_t guest_id, uint32_t seq, uint32_t eid,
                          uint64_t nic, uint32_t peer_eid, uint32_t key);
/* Names of the other hosts: 0, or -1 when unknown. */
int engine_resolve_name(struct engine *e, const char *host, uint64_t *nic);
int engine_resolve_nic(struct engine *e, uint64_t nic, char *host, size_t len);

/* --- lanes (docs/lanes.md) ------------------------------------------------- */

/* Where a lane of this host is bound: the address of the first port when it
 * is a UDP one and no cluster key is on (a lane's packets carry no MAC),
 * its packet size and its faults.  0, or -1: no lanes here. */
int engine_lane_local(struct engine *e, struct sockaddr_storage *ss, socklen_t *len,
                      uint32_t *mtu, struct fault_cfg *fault);
/* Endpoint eid's lane (NULL: none from now on; its connects offer none). */
int engine_vif_set_lane(struct engine *e, uint32_t eid, const struct lane_addr *lane);

/* --- completions ---------------------------------------------------------- */

enum engine_done_type { ENGINE_DONE_CONNECT = 1 };

struct engine_completion {
  uint32_t type;                /* enum engine_done_type */
  uint32_t guest_id;            /* whom the client answers */
  uint32_t seq;                 /* the guest's control request */
  int32_t status;               /* MX return code */
  uint32_t eid, session;        /* CONNECT: the peer endpoint */
  struct lane_addr lane;        /* CONNECT: its lane, vouched for (port 0: none) */
};

/* Readable while completions wait. */
int engine_completion_fd(struct engine *e);
/* Take the oldest completion: 1, or 0 when none waits. */
int engine_completion_take(struct engine *e, struct engine_completion *c);

/* --- reports -------------------------------------------------------------- */

/* Members of the client's report object, written under the engine's lock
 * so that each is a coherent snapshot. */
void engine_write_endpoints(struct engine *e, struct json *j); /* "endpoints":[...] */
void engine_write_counters(struct engine *e, struct json *j);  /* "vifs":[...],"engine":{...} */
void engine_write_peers(struct engine *e, struct json *j);     /* "ports", "peers", ... */

#endif
