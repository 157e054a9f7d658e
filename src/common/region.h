/*
 * region.h - the region ABI: everything a guest and the backend share.
 *
 * This header is the contract between libmyrixen (in a process, a container
 * or a VM) and myrixend.  A region is one shared-memory area per guest; the
 * same bytes are a memfd mapped by a process guest or the BAR2 of an
 * ivshmem-plain device in a VM.  A direct channel between two guests on one
 * host is a smaller area of the same kind holding just two queues.
 *
 * Rules: fixed-width fields only, no pointers (offsets from the start of the
 * area), explicit padding, a magic and a version checked on attach, and a
 * _Static_assert on every size and offset the other side depends on.  Each
 * field says who writes it (G = guest, B = backend/engine, P = the peer guest
 * of a channel) and who reads it.  Nothing read from a region is trusted: it
 * is copied once, then validated, then used.
 */
#ifndef MYRIXEN_REGION_H
#define MYRIXEN_REGION_H

#include <stddef.h>
#include <stdint.h>

#include "ctl_abi.h"
#include "ring.h"

#define REGION_MAGIC 0x4d59524955524547ull /* "GERUIRYM" */
#define REGION_VERSION 10
#define CHANNEL_MAGIC 0x4d59524e4e414843ull
#define CHANNEL_VERSION 5

/* Geometry (powers of two).  A queue is one direction of traffic: a ring of
 * message descriptors plus a ring of eager buffers for medium fragments. */
#define QUEUE_SLOTS 256
#define EAGER_SLOTS 64
#define EAGER_SIZE 8192
#define MSG_INLINE_MAX 208 /* 256-byte slot less the 48-byte descriptor */
#define REGION_VIFS 8       /* endpoints per guest */
#define REGION_GRANTS 1024  /* grant entries per VIF: a VM's grant names each physically
                             * contiguous run of its buffer's pages (4 MiB, scattered) */

/* Message descriptor types.  TX = guest to engine (request ring),
 * RX = engine to guest (event ring); channel queues carry the data types. */
enum msg_type {
  MSG_NONE = 0,
  MSG_SMALL = 1,     /* data: whole message inline */
  MSG_FRAG = 2,      /* data: one fragment of a medium message in an eager slot */
  MSG_RNDV = 3,      /* data: large message announced; receiver pulls */
  MSG_SYNC_ACK = 4,  /* data: an issend was matched (cookie = sender's) */
  MSG_CTS = 5,       /* channel: receiver ready for a large message */
  MSG_LARGE_DONE = 6,/* channel: receiver has all the data (cookie = sender's) */
  MSG_PULL = 7,      /* TX: copy from a peer's grant into my grant */
  MSG_PULL_DONE = 8, /* RX: my pull finished (cookie2 = mine, status) */
  MSG_NOTIFY = 9,    /* RX: my large send was pulled (cookie = mine, status) */
  MSG_NACK = 10,     /* RX: my message could not be delivered (status); lane: the
                      * data a CTS asked for will not come (cookie = the receiver's) */
  MSG_PEER_GONE = 11,/* RX: peer endpoint closed or its guest died */
  MSG_WRITTEN = 12,  /* channel: the sender wrote the tail a CTS with MSG_F_CMA asked
                      * for (cookie = receiver's; status MSG_ST_OK, or not written) */
  MSG_LANE_PEER = 13,/* RX: peer_nic/peer_eid connected to me and has a lane (docs/lanes.md):
                      * seq its endpoint's session, data a struct lane_addr its
                      * backend vouched for */
  MSG_LANE_DATA = 14,/* lane: a piece of a rendezvous' data, sent by the sender's library
                      * once the receiver's asked for it with a MSG_CTS on the lane
                      * (docs/lanes.md; never on a ring nor a channel) */
  MSG_LANE_AHEAD = 15,/* lane: a piece of a rendezvous' data sent right behind its
                      * MSG_RNDV (MSG_F_AHEAD), before any CTS: cookie the sender's
                      * own (lane_rndv.c; never on a ring nor a channel) */
  MSG_TYPE_MAX
};

#define MSG_F_SYNC 0x01  /* sender wants MSG_SYNC_ACK when matched (issend) */
#define MSG_F_ACKREQ 0x02 /* to another host: post MSG_NOTIFY once it is acknowledged */
#define MSG_F_IMM 0x04    /* the message carries a 32-bit immediate (mx_isend_imm): its
                           * first 4 bytes of data, which are not the application's; a
                           * rendezvous also carries it in grant2, for probes */
#define MSG_F_CMA 0x08    /* channel rendezvous: cookie2 is the sender's buffer, which
                           * the receiver may read itself (region.h, channels) */
#define MSG_F_LANE 0x10   /* the library's own mark, never taken from a packet: the
                           * message came by lane (its rendezvous may ask for its data
                           * on the lane) */
#define MSG_F_LAST_ACK 0x20 /* MSG_PEER_GONE: cookie2 is the closed endpoint's last ack on
                            * its lane stream with us (struct ctl_lane_last_ack) */
#define MSG_F_AHEAD 0x40 /* lane rendezvous: all its data follows it on the lane as
                          * MSG_LANE_AHEAD pieces, taken if a receive matches it on
                          * arrival; a CTS: the receiver has them (without: it asks
                          * for them, again if they went ahead) */
#define MSG_EID_ALL 0xffffffffu /* MSG_PEER_GONE: every endpoint of peer_nic */


/* Descriptor status codes carried in msg.status (wire values, not MX's). */
enum msg_status {
  MSG_ST_OK = 0,
  MSG_ST_CLOSED = 1,      /* destination endpoint closed / never existed */
  MSG_ST_BAD_GRANT = 2,   /* a grant failed the engine's check */
  MSG_ST_ABORTED = 3,     /* the other side died mid-transfer */
  MSG_ST_UNREACHABLE = 4, /* the destination's host does not answer */
  MSG_ST_NOT_WRITTEN = 5, /* MSG_WRITTEN: the sender could not write the tail */
};

/* One slot of a queue: the descriptor fills the first cache line and the
 * inline data runs on from byte 48, so that a message of up to
 * MSG_LINE_DATA bytes, its header and the slot's tag travel as one cache
 * line: a tiny message costs one line transfer between cores.  The fields
 * after data[0] (cookie2, grant, grant2) share the line with it: they serve
 * the types that carry no inline data (RNDV, CTS, PULL, PULL_DONE).
 *
 * tag belongs to the queue, not to the message: the producer stores it last
 * (release) and the consumer polls it (acquire), so a consumer waits on the
 * very line the message arrives in (queue.h).  Only queue.h touches it. */
struct msg {
  uint16_t tag;       /* queue: QUEUE_TAG(index) once the slot is filled */
  uint8_t type;       /* enum msg_type */
  uint8_t flags;      /* MSG_F_* */
  uint32_t len;       /* bytes in this slot (inline or eager) */
  uint32_t total;     /* whole message length */
  uint32_t seq;       /* per-sender message number (fragment reassembly) */
  uint64_t match;     /* match info */
  uint64_t cookie;    /* sender's request handle, echoed back */
  uint64_t peer_nic;  /* TX: destination nic; RX: source nic */
  uint32_t peer_eid;  /* TX: destination endpoint; RX: source (engine stamps) */
  uint16_t frag;      /* MSG_FRAG: index of this fragment */
  uint16_t status;    /* enum msg_status */
  union {
    uint8_t data[MSG_INLINE_MAX]; /* MSG_SMALL */
    struct {
      uint64_t cookie2; /* receiver's request handle (CTS, PULL, PULL_DONE) */
      uint32_t grant;   /* RNDV: sender's grant ref; PULL: sender's grant ref */
      uint32_t grant2;  /* PULL: receiver's own grant ref; RNDV with MSG_F_IMM: the
                         * immediate */
    };
  };
};
#define MSG_LINE 64     /* the slot's first cache line: descriptor + data[0..15] */
#define MSG_LINE_DATA (MSG_LINE - offsetof(struct msg, data))
_Static_assert(offsetof(struct msg, match) == 16, "msg.match");
_Static_assert(offsetof(struct msg, data) == 48, "msg.data");
_Static_assert(offsetof(struct msg, grant2) + sizeof(uint32_t) == MSG_LINE,
               "the fields of data-less types end with the first line");
_Static_assert(sizeof(struct msg) == 256, "msg slot");

/* The lengths of a data descriptor (a copy, never the shared slot) fit
 * what its class can carry; medium_max bounds a medium message.  Both
 * consumers of data descriptors check with this: the engine, and a guest
 * reading a direct channel. */
static inline int msg_data_valid(const struct msg *m, uint32_t medium_max)
{
  if (m->type == MSG_SMALL)
    return m->len <= MSG_INLINE_MAX && m->len == m->total;
  if (m->type == MSG_FRAG)
    return m->len > 0 && m->len <= EAGER_SIZE && m->total <= medium_max &&
           (uint64_t)m->frag * EAGER_SIZE + m->len <= m->total;
  return 0;
}

/* One direction of traffic.  Each slot's tag and, per batch, ring.p.prod
 * are written by the producer; ring.c.cons / aux_cons (eager) by the
 * consumer; ring.e by either side only as it arms itself to sleep.  The
 * consumer finds messages by their tags and reads prod only when it finds
 * none: to check the producer's claims and before it sleeps.  Eager buffers are taken and freed strictly
 * in order, so a counter pair is their allocator. */
struct queue {
  struct ring_hdr ring;
  struct msg slot[QUEUE_SLOTS];
  uint8_t eager[EAGER_SLOTS][EAGER_SIZE];
};
_Static_assert(offsetof(struct queue, slot) == 3 * RING_CACHELINE, "queue.slot");
_Static_assert(sizeof(struct queue) ==
                   3 * RING_CACHELINE + QUEUE_SLOTS * 256 + EAGER_SLOTS * EAGER_SIZE,
               "queue size");

/* A grant: a range of guest memory the engine may read (GRANT_READ) or
 * write (GRANT_WRITE).  Written by G only, read by B.  A grant reference
 * names a run of nseg entries (one per segment) by index and generation;
 * the engine copies the run once and checks it before any access.  A live
 * grant's generation is never 0 (revoking clears it).  A GRANT_READ run
 * names, in its first entry, the one endpoint allowed to pull it: the
 * receiver of the rendezvous it serves. */
#define GRANT_READ 1u
#define GRANT_WRITE 2u
struct grant {
  uint64_t addr;      /* guest virtual address (process) or guest-physical */
  uint64_t len;
  uint16_t gen;       /* must equal the reference's generation; 0: revoked */
  uint16_t nseg;      /* first entry of a run: number of entries */
  uint32_t flags;     /* GRANT_READ | GRANT_WRITE */
  uint64_t peer_nic;  /* first entry of a GRANT_READ run: who may pull it: that */
  uint32_t peer_eid;  /* endpoint, in that incarnation (its session; 0: any, for a */
  uint32_t peer_session; /* reply to a source never connected to) */
};
_Static_assert(sizeof(struct grant) == 40, "grant entry");
_Static_assert(offsetof(struct grant, gen) == 16 && offsetof(struct grant, flags) == 20,
               "grant fields");

#define GRANT_REF(idx, gen) (((uint32_t)(gen) << 16) | (uint32_t)(idx))
#define GRANT_REF_IDX(ref) ((ref) & 0xffffu)
#define GRANT_REF_GEN(ref) ((ref) >> 16)

/* VIF states, written by B (G writes only VIF_FREE->... never). */
enum vif_state { VIF_FREE = 0, VIF_OPEN = 1, VIF_FAILED = 2, VIF_CLOSED = 3 };

/* One endpoint's virtual interface. */
struct vif {
  _Atomic uint32_t state;    /* B: enum vif_state */
  uint32_t eid;              /* B: endpoint id */
  uint32_t fail_reason;      /* B: why the engine failed this VIF */
  _Atomic uint32_t ctl_seq;  /* B: bumped when a control message waits on the socket */
  uint8_t pad0[RING_CACHELINE - 16];
  struct queue tx;           /* G produces requests, B consumes */
  struct queue rx;           /* B produces events, G consumes */
  struct grant grants[REGION_GRANTS]; /* G writes, B reads */
};
_Static_assert(offsetof(struct vif, ctl_seq) == 12, "vif.ctl_seq");
_Static_assert(offsetof(struct vif, tx) == 64, "vif.tx");
_Static_assert(offsetof(struct vif, rx) == 64 + sizeof(struct queue), "vif.rx");
_Static_assert(offsetof(struct vif, grants) == 64 + 2 * sizeof(struct queue), "vif.grants");
_Static_assert(offsetof(struct vif, tx) % RING_CACHELINE == 0, "vif queue alignment");
_Static_assert(sizeof(struct vif) % RING_CACHELINE == 0, "vif alignment");

enum backend_state { BACKEND_RUNNING = 1, BACKEND_STOPPED = 2 };

/* The head of a guest's region. */
struct region_hdr {
  uint64_t magic;            /* B: REGION_MAGIC */
  uint32_t version;          /* B: REGION_VERSION */
  uint32_t guest_id;         /* B */
  uint64_t size;             /* B: bytes in the region */
  uint32_t nvif;             /* B: REGION_VIFS */
  uint32_t vif_offset;       /* B: offset of vif[0] */
  uint32_t vif_stride;       /* B: sizeof(struct vif) */
  _Atomic uint32_t backend_state; /* B: enum backend_state */
  uint32_t mbox_offset;      /* B: offset of the control mailbox */
  _Atomic uint32_t beat;     /* B: bumped while the backend serves the guest: a VM, which
                              * has no socket to see close, learns of its death by this */
  _Atomic uint32_t guest_beat; /* G: in a VM, bumped while the program that said hello
                              * lives: the backend learns of its end by this */
  uint8_t pad[RING_CACHELINE - 52];
};
_Static_assert(sizeof(struct region_hdr) == RING_CACHELINE, "region header");
_Static_assert(offsetof(struct region_hdr, size) == 16 && offsetof(struct region_hdr, nvif) == 24 &&
                   offsetof(struct region_hdr, vif_offset) == 28 &&
                   offsetof(struct region_hdr, vif_stride) == 32 &&
                   offsetof(struct region_hdr, backend_state) == 36 &&
                   offsetof(struct region_hdr, mbox_offset) == 40 &&
                   offsetof(struct region_hdr, beat) == 44 &&
                   offsetof(struct region_hdr, guest_beat) == 48,
               "region header fields");

/* The control mailbox: the region's own control channel, one exchange at
 * a time, which needs no socket (a VM guest has none).  The guest writes a
 * request (a struct ctl_msg without text), stores its seq in req_seq
 * (release) and kicks the backend (an eventfd; in a VM, the ivshmem
 * doorbell).  The backend copies the request once and checks it as it
 * would a socket message, writes the reply and its text, stores the
 * reply's seq in rep_seq (release) and rings the guest's bell.  Exchanges
 * that pass descriptors (ctl_needs_socket) are refused here with an error
 * reply. */
#define MBOX_TEXT_MAX CTL_TEXT_MAX
struct mailbox {
  _Atomic uint32_t req_seq;  /* G: the request's seq, once it is written */
  uint8_t pad0[RING_CACHELINE - 4];
  _Atomic uint32_t rep_seq;  /* B: the reply's seq, once it is written */
  uint8_t pad1[RING_CACHELINE - 4];
  _Alignas(8) uint8_t req[sizeof(struct ctl_msg)]; /* G */
  _Alignas(8) uint8_t rep[sizeof(struct ctl_msg) + MBOX_TEXT_MAX]; /* B: message, then text */
};
_Static_assert(offsetof(struct mailbox, rep_seq) == RING_CACHELINE, "mailbox.rep_seq");
_Static_assert(offsetof(struct mailbox, req) == 2 * RING_CACHELINE, "mailbox.req");
_Static_assert(offsetof(struct mailbox, rep) == 2 * RING_CACHELINE + sizeof(struct ctl_msg),
               "mailbox.rep");
_Static_assert(sizeof(struct ctl_msg) % 8 == 0, "mailbox messages stay aligned");

#define REGION_MBOX_OFFSET (sizeof(struct region_hdr) + REGION_VIFS * sizeof(struct vif))
#define REGION_SIZE (REGION_MBOX_OFFSET + sizeof(struct mailbox))

#define REGION_VIF_OFFSET sizeof(struct region_hdr)

/* A VM's region is the BAR2 of an ivshmem-plain device, and a PCI BAR's
 * size is a power of two: its file is REGION_SIZE rounded up. */
static inline uint64_t region_bar_size(void)
{
  uint64_t n = 1;
  while (n < REGION_SIZE)
    n <<= 1;
  return n;
}
#define REGION_BEAT_MS 100   /* how often the backend bumps beat */
#define REGION_BEAT_DEAD_MS 3000 /* a beat this still means the backend is gone */
#define REGION_GUEST_BEAT_DEAD_MS 2000 /* a VM program's beat this still: it is gone */

/* The backend's view: the layout it wrote, never the header a guest could
 * have scribbled on since. */
static inline struct vif *region_vif(void *base, uint32_t idx)
{
  return (struct vif *)((char *)base + REGION_VIF_OFFSET + (size_t)idx * sizeof(struct vif));
}

static inline struct mailbox *region_mailbox(void *base)
{
  return (struct mailbox *)((char *)base + REGION_MBOX_OFFSET);
}

/* The guest's view: a copy of the header the backend published, checked
 * once (region_check) against the mapping of mapped bytes, then used for
 * every VIF and the mailbox.  0, or -1 when this library cannot use it. */
static inline int region_check(const struct region_hdr *h, uint64_t mapped)
{
  if (h->magic != REGION_MAGIC || h->version != REGION_VERSION || h->size > mapped)
    return -1;
  if (h->nvif == 0 || h->nvif > REGION_VIFS || h->vif_stride < sizeof(struct vif) ||
      h->vif_offset < sizeof(struct region_hdr) || h->vif_offset % RING_CACHELINE ||
      h->vif_stride % RING_CACHELINE)
    return -1;
  if ((uint64_t)h->vif_offset + (uint64_t)h->nvif * h->vif_stride > h->size ||
      h->mbox_offset % RING_CACHELINE ||
      (uint64_t)h->mbox_offset + sizeof(struct mailbox) > h->size)
    return -1;
  return 0;
}

static inline struct vif *region_vif_at(const struct region_hdr *h, void *base, uint32_t idx)
{
  return (struct vif *)((char *)base + h->vif_offset + (size_t)idx * h->vif_stride);
}

static inline struct mailbox *region_mailbox_at(const struct region_hdr *h, void *base)
{
  return (struct mailbox *)((char *)base + h->mbox_offset);
}

/* A direct channel between two endpoints on one host: side 0 is the
 * endpoint that connected, side 1 the one it connected to.  q[s] carries
 * side s's messages to the other side.  Large messages travel through two
 * pipes per direction (vmsplice by the sender, read by the receiver), in
 * pieces of CHANNEL_PIECE bytes that alternate between them: the pipe's
 * mutex is held both while the sender pins pages and while the receiver
 * copies, so with one pipe the two take turns; with two, the sender pins
 * the next piece while the receiver copies this one.  The pipes pass
 * beside the channel's memfd: CHANNEL_FDS descriptors a side, [0] the
 * memfd, [1] and [4] its pipes' write ends, [2] and [5] the peer's pipes'
 * read ends, [3] the peer's doorbell.
 *
 * Single copy without pipes: when the backend saw both guests in its own
 * pid namespace, of one user and group, and as they connected (alive, ids
 * unchanged), it gives each the other's pid (ctl_connect_reply,
 * ctl_channel_attach) and pidfd.  A pid outlives nothing: each side
 * checks the pidfd before every read or write (and after a read, whose
 * bytes it throws away if the peer died meanwhile), so that a pid the
 * peer's death freed never names another process.  A contiguous large send then announces its
 * buffer's address (MSG_F_CMA), and the receiver reads it with
 * process_vm_readv, then sends MSG_LARGE_DONE: no CTS, no pipe.  The
 * kernel allows that read only where the receiver could ptrace the sender
 * anyway, so it gives neither guest anything it did not have; the pid
 * comes from the backend, never from the peer, so a sender can only name
 * its own memory.  Where the read fails (EPERM: another user, or Yama),
 * the receiver answers with a CTS and the pipes carry the message.
 *
 * Both cores copy a long one: the receiver sends a CTS with MSG_F_CMA
 * (match = its buffer's address at byte grant, its one segment from there
 * to the end), reads the head, and the sender writes the tail there with
 * process_vm_writev, then sends MSG_WRITTEN (its status says when it could
 * not, and the receiver reads the tail too).  The receiver's LARGE_DONE
 * comes once both halves are in. */
#define CHANNEL_FDS 6
#define CHANNEL_PIECE (256u << 10)
struct channel_hdr {
  uint64_t magic;            /* B: CHANNEL_MAGIC */
  uint32_t version;          /* B */
  uint32_t eid[2];           /* B: endpoint of each side */
  uint8_t pad[RING_CACHELINE - 20];
};
_Static_assert(sizeof(struct channel_hdr) == RING_CACHELINE, "channel header");

struct channel {
  struct channel_hdr hdr;
  struct queue q[2];
};
_Static_assert(offsetof(struct channel, q) == RING_CACHELINE, "channel.q");
#define CHANNEL_SIZE sizeof(struct channel)

#endif /* MYRIXEN_REGION_H */
