/*
 * wire.h - the packets backends exchange across hosts (docs/wire.md).
 *
 * One packet is one UDP datagram or one Ethernet frame (EtherType
 * WIRE_ETHERTYPE).  Every packet starts with struct wire_hdr: magic,
 * version, type, the sender's and receiver's nic ids and incarnations
 * (sessions), a sequence number, a cumulative and a selective
 * acknowledgement, and a CRC-32C over the whole packet.  Packets of the
 * reliable types travel on one ordered stream per pair of backends (a
 * window, out-of-order packets kept by the receiver, holes resent as the
 * selective acks reveal them, acks piggy-backed on every packet and
 * delayed when alone); WIRE_ACK and WIRE_RESET are outside the stream.
 *
 * Byte order: little-endian, the byte order of every host MyriXen runs on
 * (checked at compile time, so a big-endian port must add the swaps).
 * Every length and offset read from a packet is checked before use: a
 * packet is untrusted input, like a guest's ring.
 */
#ifndef MYRIXEN_WIRE_H
#define MYRIXEN_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "region.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the wire is little-endian");

#define WIRE_MAGIC 0x4d58u     /* "XM" */
#define WIRE_VERSION 10
#define WIRE_ETHERTYPE 0x86dfu /* the EtherType of MX over Ethernet */
#define WIRE_UDP_PORT 2315     /* default UDP port of a backend */
#define WIRE_MAX_PACKET 65280  /* a port's MTU, up to a 64 KiB frame or datagram */
#define WIRE_LANE_MAX_PACKET 9216 /* a lane's datagrams (a guest's window is of them) */
#define WIRE_WINDOW 1024       /* reliable packets in flight per peer */

enum wire_type {
  WIRE_ACK = 1,           /* unreliable: header only, carries ack */
  WIRE_RESET = 2,         /* unreliable: "your session for me is stale" */
  WIRE_DATA = 3,          /* a message descriptor, and a piece of its bytes */
  WIRE_CONNECT = 4,       /* may endpoint src_eid talk to dst_eid with key? */
  WIRE_CONNECT_REPLY = 5, /* the answer (an MX return code) */
  WIRE_PULL_REQ = 6,      /* receiver's backend asks for a large message */
  WIRE_PULL_DATA = 7,     /* a piece of it */
  WIRE_PULL_END = 8,      /* all of it was sent (or why not) */
  WIRE_NOTIFY = 9,        /* the receiver has it all: complete the send */
  WIRE_NACK = 10,         /* the destination endpoint is closed or unknown */
  WIRE_HELLO = 11,        /* unreliable, broadcast: "this nic id is this host" */
  WIRE_EP_GONE = 12,      /* an endpoint that connected with you closed */
  WIRE_KEEPALIVE = 13,    /* nothing: an idle stream's proof of life, acknowledged */
  WIRE_TYPE_MAX
};

#define WIRE_F_RELIABLE 0x1 /* on the ordered stream: seq is meaningful */
#define WIRE_F_MAC 0x2      /* a MAC trailer follows the packet; no checksum (csum 0) */
#define WIRE_F_LANE 0x4     /* between two guests' lanes (docs/lanes.md), never a port's */

/* With a cluster key (docs/wire.md), every packet is followed by this
 * trailer, at sizeof(wire_hdr) + len (a frame may be padded past it): the
 * sender's packet counter, and a Poly1305 tag over the packet, under a key
 * made for that packet from the cluster key, its src_nic and the counter. */
#define WIRE_MAC_LEN 24

struct wire_hdr {
  uint16_t magic;         /* WIRE_MAGIC */
  uint8_t version;        /* WIRE_VERSION */
  uint8_t type;           /* enum wire_type */
  uint16_t len;           /* bytes after this header */
  uint16_t flags;         /* WIRE_F_* */
  uint32_t csum;          /* CRC-32C of the packet with this field 0 */
  uint32_t src_session;   /* the sender backend's incarnation (never 0) */
  uint32_t dst_session;   /* the receiver's incarnation as the sender knows it, or 0 */
  uint32_t seq;           /* reliable types: position on the stream */
  uint64_t src_nic;
  uint64_t dst_nic;
  uint32_t ack;           /* the next seq the sender expects from the receiver */
  uint32_t sack;          /* bit i: the sender holds seq ack+1+i already (selective ack) */
};
_Static_assert(sizeof(struct wire_hdr) == 48, "wire header");

/* WIRE_DATA: a VIF message's descriptor as the wire carries it (its own
 * layout: a change to the region's struct msg does not change the wire),
 * the endpoints, and the piece of inline or eager bytes this packet
 * carries.  An eager fragment larger than a packet is split into
 * consecutive pieces. */
struct wire_desc {
  uint8_t type;           /* enum msg_type: SMALL, FRAG, RNDV or SYNC_ACK */
  uint8_t flags;          /* MSG_F_* */
  uint16_t frag;          /* MSG_FRAG: index of this fragment */
  uint32_t len;           /* bytes of this fragment, or of a small message */
  uint32_t total;         /* whole message length */
  uint32_t seq;           /* the sender's message number (reassembly) */
  uint64_t match;         /* match info */
  uint64_t cookie;        /* the sender's request, echoed in answers */
  uint32_t grant;         /* RNDV: the sender's grant */
  uint32_t imm;           /* RNDV with MSG_F_IMM: the immediate (msg.grant2) */
};
#define WIRE_DATA_HDR sizeof(struct wire_desc)
struct wire_data_ext {    /* follows the descriptor */
  uint32_t src_eid;
  uint32_t dst_eid;
  uint32_t piece_off;     /* offset of these bytes in the fragment / inline data */
  uint32_t piece_len;
  uint32_t src_session;   /* the sending endpoint's incarnation (its connects are its own) */
  uint32_t pad;
};
#define WIRE_DATA_OVERHEAD (WIRE_DATA_HDR + sizeof(struct wire_data_ext))

struct wire_connect {
  uint32_t req_id;        /* echoed in the reply */
  uint32_t src_eid;
  uint32_t dst_eid;
  uint32_t key;
  uint32_t src_session;   /* the connecting endpoint's incarnation */
  uint32_t pad;
  struct lane_addr lane;  /* the connecting endpoint's lane (port 0: none) */
};

struct wire_connect_reply {
  uint32_t req_id;
  int32_t status;         /* MX return code: MX_SUCCESS, MX_BAD_CONNECTION_KEY, ... */
  uint32_t eid;
  uint32_t ep_session;    /* the endpoint's session (mx_decompose_endpoint_addr2) */
  struct lane_addr lane;  /* the endpoint's lane, when it took the connector's (port 0: none) */
};

struct wire_ep_gone {
  uint32_t eid;           /* the endpoint that closed ... */
  uint32_t session;       /* ... in this incarnation */
};

/* After wire_ep_gone, any number (what fits the packet): where the closed
 * endpoint's lane stream with one of the receiver's endpoints stood, as its
 * library told its backend on closing (ctl_lane_last_ack). */
struct wire_lane_last_ack {
  uint32_t eid;           /* the receiver's endpoint ... */
  uint32_t session;       /* ... in this incarnation */
  uint32_t ack;           /* the stream's last ack to it */
  uint32_t pad;
};

struct wire_pull_req {
  uint64_t cookie;        /* sender's request */
  uint64_t cookie2;       /* receiver's request */
  uint32_t snd_eid;       /* endpoint that sent the rendezvous (on the packet's receiver) */
  uint32_t grant;         /* its grant */
  uint32_t rcv_eid;       /* endpoint that pulls ... */
  uint32_t total;         /* bytes wanted */
  uint32_t rcv_session;   /* ... in this incarnation (the grant names it) */
  uint32_t pad;
};

struct wire_pull_data {
  uint64_t cookie2;
  uint32_t rcv_eid;
  uint32_t offset;        /* of these bytes in the message */
};

struct wire_pull_end {    /* also the payload of WIRE_NOTIFY */
  uint64_t cookie;
  uint64_t cookie2;
  uint32_t snd_eid;
  uint32_t rcv_eid;
  uint32_t total;         /* bytes moved */
  uint32_t status;        /* enum msg_status */
};

struct wire_nack {
  uint64_t cookie;        /* the refused message's sender request */
  uint64_t match;
  uint32_t src_eid;       /* the refused message's sender (on the packet's receiver) */
  uint32_t dst_eid;       /* the endpoint that was not there */
  uint32_t status;        /* enum msg_status */
  uint32_t pad;
};

struct wire_hello {       /* dst_nic is 0: for everybody on the segment */
  char hostname[64];
};

_Static_assert(sizeof(struct wire_desc) == 40, "wire_desc");
_Static_assert(offsetof(struct wire_desc, match) == 16, "wire_desc.match");
_Static_assert(sizeof(struct wire_data_ext) == 24, "wire_data_ext");
_Static_assert(sizeof(struct wire_connect) == 56, "wire_connect");
_Static_assert(sizeof(struct wire_connect_reply) == 48, "wire_connect_reply");
_Static_assert(sizeof(struct wire_pull_req) == 40, "wire_pull_req");
_Static_assert(sizeof(struct wire_pull_data) == 16, "wire_pull_data");
_Static_assert(sizeof(struct wire_pull_end) == 32, "wire_pull_end");
_Static_assert(sizeof(struct wire_nack) == 32, "wire_nack");
_Static_assert(sizeof(struct wire_hello) == 64, "wire_hello");
_Static_assert(sizeof(struct wire_ep_gone) == 8, "wire_ep_gone");
_Static_assert(sizeof(struct wire_lane_last_ack) == 16, "wire_lane_last_ack");
_Static_assert(offsetof(struct wire_hdr, csum) == 8 && offsetof(struct wire_hdr, seq) == 20 &&
                   offsetof(struct wire_hdr, src_nic) == 24 && offsetof(struct wire_hdr, ack) == 40,
               "wire header fields");

/* A message descriptor to and from the wire's (the caller bounds what it
 * reads back: a packet is untrusted input). */
void wire_desc_from_msg(struct wire_desc *d, const struct msg *m);
void wire_desc_to_msg(const struct wire_desc *d, struct msg *m);

/* A WIRE_DATA payload of len bytes read into its descriptor m, its
 * endpoints x and its piece, which must be the rest of the payload: 0, or
 * -1.  The framing alone: what the descriptor says is the caller's to
 * check (wire_data_parse, and the lanes' own types, lib/lane_rndv.c). */
int wire_data_split(const uint8_t *payload, uint32_t len, struct msg *m,
                    struct wire_data_ext *x, const uint8_t **piece);

/* A WIRE_DATA payload of len bytes read into its descriptor m (peer
 * fields left to the caller, who stamps them from where the packet came),
 * its endpoints x and its piece, each checked against the others: a small
 * message whole in one piece, a fragment's piece inside the fragment, no
 * piece for the rest.  0, or -1: malformed. */
int wire_data_parse(const uint8_t *payload, uint32_t len, uint32_t medium_max, struct msg *m,
                    struct wire_data_ext *x, const uint8_t **piece);

/* A later piece (m, x) of the fragment whose first piece was (first, x0),
 * got bytes of it in: true when it is the same fragment of the same
 * message between the same endpoints, and its bytes the next ones.  Every
 * piece is checked against the first, not only its own length: a fragment
 * is whole when first->len bytes are in. */
int wire_piece_follows(const struct msg *first, const struct wire_data_ext *x0, uint32_t got,
                       const struct msg *m, const struct wire_data_ext *x);

/* Largest payload of each kind that fits a packet of mtu bytes. */
static inline uint32_t wire_piece_max(uint32_t mtu)
{
  return mtu - (uint32_t)sizeof(struct wire_hdr) - (uint32_t)WIRE_DATA_OVERHEAD;
}

/* Fill in the checksum of a packet of len bytes (header included). */
void wire_seal(struct wire_hdr *h, size_t len);
/* Check framing, magic, version, type, length and checksum of a received
 * packet; 0 when it may be read, else a negative reason (wire_drop_name).
 * A packet with WIRE_F_MAC has no checksum: the caller checks its MAC
 * first (a backend without the key drops it). */
int wire_check(const void *pkt, size_t len);

enum wire_drop {
  WD_OK = 0,
  WD_SHORT = -1,          /* shorter than a header, or than its len says */
  WD_MAGIC = -2,
  WD_VERSION = -3,
  WD_TYPE = -4,
  WD_CSUM = -5,
};
const char *wire_drop_name(int reason);

/* The 48-bit nic id of a host name, as every backend derives it unless
 * told otherwise (a peers file line with "-" relies on it). */
uint64_t wire_nic_from_name(const char *name);

#endif
