/*
 * ctl_abi.h - the control protocol's messages: what a guest (or the
 * myrixen tool) and the backend say to each other, over the Unix socket
 * (ctl.h) or through a region's mailbox (region.h).  Types only: a guest
 * kernel, a VM's library or a fuzzer can include it without the socket.
 *
 * One message is a fixed header and body (struct ctl_msg), then len bytes
 * of text.  Every reply carries its request's seq, so that asynchronous
 * messages from the backend (CTL_CHANNEL_ATTACH) can interleave with a
 * guest's own request.  Fixed-width fields, explicit padding, and a
 * _Static_assert on every size and offset.
 */
#ifndef MYRIXEN_CTL_ABI_H
#define MYRIXEN_CTL_ABI_H

#include <stddef.h>
#include <stdint.h>

#include "fault.h"

#define CTL_MAGIC 0x4d58434cu /* "LCXM" */
#define CTL_VERSION 4
#define CTL_MAX_FDS 7 /* a direct channel's (CHANNEL_FDS), and the peer's pidfd */
#define CTL_TEXT_MAX 65536
#define CTL_DEFAULT_SOCKET "/run/myrixen/backend.sock"
/* The seq of an exchange through the region's control mailbox (region.h):
 * the backend routes a reply by it, so one that comes later (a remote
 * connect) finds its way too. */
#define CTL_SEQ_MAILBOX 0x80000000u

enum ctl_type {
  CTL_HELLO = 1,          /* G->B: admit me; reply: region memfd, engine doorbell,
                           * mailbox kick (G->B) and bell (B->G); to a VM's launcher:
                           * region memfd, RAM memfd, engine doorbell; to a VM:
                           * nothing */
  CTL_OPEN = 2,           /* G->B: open endpoint; reply: vif index, vif doorbell */
  CTL_CLOSE = 3,          /* G->B: close endpoint */
  CTL_CONNECT = 4,        /* G->B: resolve a peer; reply: maybe a channel */
  CTL_CHANNEL_ATTACH = 5, /* B->G (async): a peer opened a channel to you */
  CTL_INFO = 6,           /* tool->B: JSON text of the backend's state */
  CTL_COUNTERS = 7,       /* tool->B: JSON text of counters */
  CTL_ERROR = 8,          /* B->any: the request failed; text says why */
  CTL_REPLY = 9,          /* B->any: success */
  CTL_RESOLVE = 10,       /* any->B: hostname <-> nic id, this host or a peer */
  CTL_PEERS = 11,         /* tool->B: JSON text of ports and peers */
  CTL_VIF_SET = 12,       /* tool->B: set a VIF's rate limits */
};

/* A VM guest is admitted in two steps.  Its launcher (myrixen vm run)
 * says hello on the socket as CTL_ROLE_VM: the backend creates the VM's
 * region and RAM (sealed memfds, passed back for QEMU to map), and the
 * guest lives as long as that connection.  Then the library inside the VM
 * finds the region on its ivshmem device and says hello through its
 * mailbox, as CTL_ROLE_GUEST; every exchange after that goes there too. */
enum ctl_role { CTL_ROLE_GUEST = 1, CTL_ROLE_MONITOR = 2, CTL_ROLE_VM = 3 };

#define CTL_VM_MEM_MAX_MB 2048 /* q35 maps RAM linearly below 2 GiB, no hole to skip */

/* Datapath a guest asks for (MYRIXEN_DATAPATH).  The copy datapaths are
 * the classic split driver, for comparison: the backend's netback thread
 * copies every request through its own buffers (backend/netback.c). */
enum datapath {
  DP_BYPASS = 0,     /* direct channel for same-host pairs, engine otherwise */
  DP_ENGINE = 1,     /* every message through the engine */
  DP_DIRECT = 2,     /* as bypass */
  DP_COPY = 3,       /* netback copies, a notification per request */
  DP_COPY_BATCH = 4, /* netback copies, batched with notification suppression */
  DP_MAX
};

/* A datapath's name as MYRIXEN_DATAPATH and the reports write it. */
static inline const char *datapath_name(uint32_t dp)
{
  static const char *const names[DP_MAX] = {"bypass", "engine", "direct", "copy", "copy-batch"};
  return dp < DP_MAX ? names[dp] : "?";
}

/* Only bypass and direct set up direct channels. */
static inline int datapath_uses_channels(uint32_t dp)
{
  return dp == DP_BYPASS || dp == DP_DIRECT;
}

struct ctl_hello {
  uint32_t role;          /* enum ctl_role */
  uint32_t datapath;      /* enum datapath */
  char name[32];          /* guest's name for logs (program name; a VM's name) */
  uint32_t vm_mem_mb;     /* CTL_ROLE_VM: the VM's RAM (1..CTL_VM_MEM_MAX_MB) */
  uint32_t vm_flags;      /* CTL_ROLE_VM: CTL_VM_* */
};
/* The VM's device is ivshmem-doorbell, its launcher the ivshmem server
 * that hands QEMU the engine's doorbell: the VM rings it as a process
 * does, and the engine need not poll its rings. */
#define CTL_VM_DOORBELL 1u

struct ctl_hello_reply {
  uint32_t guest_id;
  uint32_t region_version;
  uint64_t region_size;
  uint64_t nic_id;
  uint32_t max_endpoints;
  uint32_t small_max;     /* configured thresholds (bytes) */
  uint32_t medium_max;
  uint32_t lane_family;   /* 4 or 6: an endpoint may have a lane, on a UDP socket of
                           * this family its guest makes and passes with CTL_OPEN
                           * (docs/lanes.md); 0: no lanes here */
  char hostname[64];
};

/* A lane's address (docs/lanes.md): the UDP socket a backend made for one
 * endpoint of a process guest, as its getsockname says (never as a guest
 * says).  The same bytes in the control protocol, on the wire and in
 * MSG_LANE_PEER. */
struct lane_addr {
  uint8_t ip[16];         /* IPv4 in the first 4 bytes, or IPv6 */
  uint16_t port;          /* network order; 0: no lane */
  uint8_t family;         /* 4 or 6 */
  uint8_t pad;
  uint32_t mtu;           /* largest datagram, header included */
  uint32_t nonce;         /* random, the backend's: with both endpoints' sessions it
                           * makes the pair's stream sessions and first sequence
                           * numbers, which a sender that cannot see the lane's
                           * packets cannot guess */
  uint32_t pad2;
};
_Static_assert(sizeof(struct lane_addr) == 32, "lane_addr");

struct ctl_open {
  uint32_t board;
  uint32_t eid;           /* or MX_ANY_ENDPOINT */
  uint32_t key;
  uint32_t want_lane;     /* 1: a lane for messages to other hosts, if the backend may:
                           * the message carries the guest's own UDP socket, new and
                           * unbound, which the backend checks and binds */
};

struct ctl_open_reply {
  uint32_t eid;
  uint32_t vif;           /* index in the guest's region */
  uint32_t session;
  uint32_t has_lane;      /* 1: the socket passed is the endpoint's lane (docs/lanes.md) */
  struct lane_addr lane;  /* its address, as the backend bound it */
  struct fault_cfg fault; /* the faults the backend's ports inject (off: all 0), which the
                           * lane injects too: a lane is tested as a port is */
};

struct ctl_close {
  uint32_t vif;
};

/* CTL_CLOSE's text (on the socket only: the mailbox carries none): where
 * the closing endpoint's lane streams stood, one entry per peer endpoint.
 * The engines pass each on, with the close, to the peer's host
 * (WIRE_EP_GONE), where it stands for the lane's last ack: a send whose
 * last packet arrived completes though its ack was lost as we closed. */
struct ctl_lane_last_ack {
  uint64_t nic;           /* the peer endpoint ... */
  uint32_t eid;
  uint32_t session;       /* ... in the incarnation the stream is with */
  uint32_t ack;           /* the next seq we expected from it */
  uint32_t pad;
};
#define CTL_LANE_LAST_ACKS_MAX (CTL_TEXT_MAX / sizeof(struct ctl_lane_last_ack))

struct ctl_connect {
  uint32_t vif;           /* my endpoint */
  uint32_t eid;           /* peer endpoint */
  uint64_t nic_id;
  uint32_t key;
  uint32_t want_channel;  /* 1: set up a direct channel if possible */
};

struct ctl_connect_reply {
  uint32_t eid;
  uint32_t session;       /* peer's session (changes when it reopens) */
  uint32_t has_channel;   /* fds: channel memfd, pipe out, pipe in, peer doorbell */
  uint32_t side;          /* which side of the channel I am */
  uint32_t peer_pid;      /* with a channel: the peer's pid, for single-copy reads
                           * (MSG_F_CMA), its pidfd after the channel's descriptors;
                           * or 0 and no pidfd (region.h) */
  uint32_t peer_covers;   /* the peer held, when vouched for, every capability you
                           * hold: nothing it becomes is beyond what it had */
  struct lane_addr lane;  /* another host's endpoint: its lane, vouched for by its
                           * backend (port 0: none) */
};

struct ctl_channel_attach {
  uint32_t vif;           /* my endpoint the channel belongs to */
  uint32_t peer_eid;
  uint64_t peer_nic;
  uint32_t side;
  uint32_t peer_session;
  uint32_t peer_pid;      /* as in ctl_connect_reply */
  uint32_t peer_covers;   /* as in ctl_connect_reply */
};

struct ctl_resolve {
  uint64_t nic_id;        /* in when by_name is 0; out otherwise */
  uint32_t by_name;       /* 1: name -> nic id; 0: nic id -> name */
  uint32_t pad;
  char name[64];          /* in when by_name; out otherwise */
};

struct ctl_vif_set {
  uint32_t eid;
  uint32_t pad;
  uint64_t bytes_per_s;   /* 0: no limit */
  uint64_t msgs_per_s;    /* 0: no limit */
};

struct ctl_msg {
  uint32_t magic;
  uint16_t version;
  uint16_t type;          /* enum ctl_type */
  uint32_t seq;           /* request number, echoed in the reply */
  int32_t status;         /* reply: 0 or an MX return code */
  uint32_t len;           /* bytes of text following the body */
  uint32_t pad;
  union {
    struct ctl_hello hello;
    struct ctl_hello_reply hello_reply;
    struct ctl_open open;
    struct ctl_open_reply open_reply;
    struct ctl_close close;
    struct ctl_connect connect;
    struct ctl_connect_reply connect_reply;
    struct ctl_channel_attach attach;
    struct ctl_resolve resolve;
    struct ctl_vif_set vif_set;
    uint8_t raw[128];
  } u;
  char text[];            /* CTL_ERROR message, CTL_INFO/COUNTERS JSON */
};
_Static_assert(offsetof(struct ctl_msg, u) == 24, "ctl header");
_Static_assert(sizeof(struct ctl_msg) == 152, "ctl message body");

/* Exchanges that pass descriptors need the socket: the hello (region,
 * doorbells), an open (the VIF's doorbell), a connect that may set up a
 * direct channel.  Every other one may go through the mailbox. */
static inline int ctl_needs_socket(const struct ctl_msg *m)
{
  return m->type == CTL_HELLO || m->type == CTL_OPEN ||
         (m->type == CTL_CONNECT && m->u.connect.want_channel) ||
         m->len != 0; /* the mailbox carries no text (a close's last acks) */
}

_Static_assert(sizeof(struct ctl_hello) == 48, "ctl_hello");
_Static_assert(sizeof(struct ctl_hello_reply) == 104, "ctl_hello_reply");
_Static_assert(offsetof(struct ctl_hello_reply, hostname) == 40, "ctl_hello_reply.hostname");
_Static_assert(sizeof(struct ctl_open) == 16, "ctl_open");
_Static_assert(sizeof(struct ctl_open_reply) == 96, "ctl_open_reply");
_Static_assert(sizeof(struct ctl_close) == 4, "ctl_close");
_Static_assert(sizeof(struct ctl_lane_last_ack) == 24, "ctl_lane_last_ack");
_Static_assert(offsetof(struct ctl_msg, text) % _Alignof(struct ctl_lane_last_ack) == 0,
               "a close's text is read in place as its last acks");
_Static_assert(sizeof(struct ctl_connect) == 24, "ctl_connect");
_Static_assert(offsetof(struct ctl_connect, nic_id) == 8, "ctl_connect.nic_id");
_Static_assert(sizeof(struct ctl_connect_reply) == 56, "ctl_connect_reply");
_Static_assert(sizeof(struct ctl_channel_attach) == 32, "ctl_channel_attach");
_Static_assert(offsetof(struct ctl_channel_attach, peer_nic) == 8, "ctl_channel_attach.peer_nic");
_Static_assert(sizeof(struct ctl_resolve) == 80, "ctl_resolve");
_Static_assert(sizeof(struct ctl_vif_set) == 24, "ctl_vif_set");
_Static_assert(offsetof(struct ctl_msg, seq) == 8, "ctl_msg.seq");
_Static_assert(offsetof(struct ctl_msg, status) == 12, "ctl_msg.status");
_Static_assert(offsetof(struct ctl_msg, len) == 16, "ctl_msg.len");
_Static_assert(offsetof(struct ctl_msg, text) == sizeof(struct ctl_msg), "ctl_msg.text");

#endif /* MYRIXEN_CTL_ABI_H */
