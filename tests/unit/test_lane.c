/* test_lane.c - what a lane takes (lib/lane.c, docs/lanes.md): an
 * endpoint with a lane on 127.0.0.1 and one peer bound to it, and datagrams
 * the test makes by hand, each wrong in one way.  A datagram counts only
 * from the bound address, as the binding's endpoint, in both streams'
 * sessions, in order, well formed; every refusal is counted.  A lane with
 * one peer is connected to it, and keeps its port when a second comes.
 * No backend: the library's lane alone. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../../src/lib/lib.h"
#include "../../src/lib/base.h"
#include "../../src/lib/conn.h"
#include "../../src/lib/lane.h"
#include "../../src/lib/progress.h"
#include "../../src/lib/recv.h"
#include "../../src/lib/send.h"
#include "../../src/common/clock.h"
#include "../../src/common/fifo.h"
#include "../../src/common/gso.h"
#include "../../src/common/lane_addr.h"
#include "../harness.h"

#define MY_NIC 0x020000000001ull
#define PEER_NIC 0x020000000002ull
#define MY_EID 3
#define PEER_EID 5
#define PEER_SESSION 77
#define MTU 1472

struct fixture {
  struct mx_endpoint *ep;
  struct conn *c;
  int peer;                     /* the peer's lane, as bound */
  int other;                    /* another socket of the same host */
  struct sockaddr_in to;        /* the endpoint's lane */
  uint32_t seq;                 /* the peer's next stream seq */
};

static int udp_socket(struct sockaddr_in *bound)
{
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
  CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
  if (bound)
    *bound = a;
  return fd;
}

/* The endpoint's lane, bound as the backend binds it. */
static int lane_socket(struct sockaddr_in *bound)
{
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  struct sockaddr_storage ss = {0};
  struct sockaddr_in *a = (struct sockaddr_in *)&ss;
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(fd >= 0 && lane_bind_named_port(fd, &ss, sizeof(*a)) == 0 && a->sin_port != 0);
  *bound = *a;
  return fd;
}

/* A second peer bound to f's lane, at its own socket (returned). */
static int second_peer(struct fixture *f, struct conn **c2)
{
  struct sockaddr_in at;
  int fd = udp_socket(&at);
  struct lane_addr a = {.port = at.sin_port, .family = 4, .mtu = MTU, .nonce = 0x9abc};
  memcpy(a.ip, &at.sin_addr, 4);
  *c2 = conn_get(f->ep, PEER_NIC, PEER_EID + 1, 1);
  CHECK(*c2 && lane_bind(f->ep, *c2, &a, PEER_SESSION + 1) == 0 && f->ep->lane->npeers == 2);
  return fd;
}

static void setup_mtu(struct fixture *f, uint32_t peer_mtu)
{
  memset(f, 0, sizeof(*f));
  lib.hello.nic_id = MY_NIC;
  lib.medium_max = 32768;
  lib.small_max = 128;
  struct mx_endpoint *ep = calloc(1, sizeof(*ep));
  CHECK(ep != NULL);
  pthread_mutex_init(&ep->lock, NULL);
  ep->eid = MY_EID;
  ep->session = 9;
  ep->unexp_max = 1000;
  struct ctl_open_reply rep = {.has_lane = 1, .lane = {.mtu = MTU, .family = 4, .nonce = 0x1234}};
  CHECK(lane_open(ep, lane_socket(&f->to), &rep, &progress_lane_io) == 0);
  struct sockaddr_in peer;
  f->peer = udp_socket(&peer);
  f->other = udp_socket(NULL);
  f->c = conn_get(ep, PEER_NIC, PEER_EID, 1);
  CHECK(f->c != NULL);
  f->c->session = PEER_SESSION;
  struct lane_addr a = {.port = peer.sin_port, .family = 4, .mtu = peer_mtu, .nonce = 0x5678};
  memcpy(a.ip, &peer.sin_addr, 4);
  CHECK(lane_bind(ep, f->c, &a, PEER_SESSION) == 0 && f->c->lane != NULL);
  f->ep = ep;
  f->seq = f->c->lane->rel.rcv_next; /* the peer's first, from both nonces */
}

static void setup(struct fixture *f)
{
  setup_mtu(f, MTU);
}

/* As mx_close_endpoint frees an endpoint (the sanitizer builds look for leaks). */
static void teardown(struct fixture *f)
{
  struct mx_endpoint *ep = f->ep;
  lane_close(ep);
  close(f->peer);
  close(f->other);
  ep_free_requests(ep);
  pthread_mutex_destroy(&ep->lock);
  free(ep);
}

/* A small message's packet from the peer as it would make it, for the
 * test to break one thing of. */
struct forged {
  struct wire_hdr h;
  struct wire_desc d;
  struct wire_data_ext x;
  uint8_t data[32];
  uint32_t len;                 /* of data */
};

static void forge_on(struct fixture *f, const struct lane_peer *lp, struct forged *p,
                     uint32_t len)
{
  const struct rel_stream *s = &lp->rel;
  memset(p, 0, sizeof(*p));
  p->h = (struct wire_hdr){.magic = WIRE_MAGIC, .version = WIRE_VERSION, .type = WIRE_DATA,
                           .flags = WIRE_F_RELIABLE | WIRE_F_LANE,
                           .src_session = s->peer_session, .dst_session = s->my_session,
                           .seq = f->seq, .src_nic = PEER_NIC, .dst_nic = MY_NIC,
                           .ack = 0};
  p->d = (struct wire_desc){.type = MSG_SMALL, .len = len, .total = len, .match = 0x42};
  p->x = (struct wire_data_ext){.src_eid = PEER_EID, .dst_eid = MY_EID, .piece_len = len,
                                .src_session = PEER_SESSION};
  p->len = len;
  memset(p->data, 0xab, len);
}

static void forge(struct fixture *f, struct forged *p, uint32_t len)
{
  forge_on(f, f->c->lane, p, len);
}

/* Seal (unless told not to) and send p from fd; then the endpoint reads. */
static void deliver(struct fixture *f, struct forged *p, int fd, int seal)
{
  uint32_t total = (uint32_t)(sizeof(p->h) + WIRE_DATA_OVERHEAD) + p->len;
  p->h.len = (uint16_t)(total - sizeof(p->h));
  if (seal)
    wire_seal(&p->h, total);
  CHECK(sendto(fd, p, total, 0, (struct sockaddr *)&f->to, sizeof(f->to)) == (ssize_t)total);
  usleep(1000);
  lane_input(f->ep, 0);
}

/* Sent one way; the counter that must move, and by one. */
static void expect(struct fixture *f, struct forged *p, int fd, int seal, enum ep_counter which)
{
  uint64_t before[EPC_MAX];
  memcpy(before, f->ep->counters, sizeof(before));
  uint32_t unexp = f->ep->unexp_count;
  deliver(f, p, fd, seal);
  CHECK(f->ep->counters[which] == before[which] + 1);
  if (which != EPC_LANE_RX) /* nothing of it reached the application */
    CHECK(f->ep->unexp_count == unexp);
}

static int test_a_well_formed_message_is_taken_from_its_peer(void)
{
  struct fixture f;
  struct forged p;
  setup(&f);
  forge(&f, &p, 8);
  expect(&f, &p, f.peer, 1, EPC_LANE_RX);
  CHECK(f.ep->unexp_count == 1);
  struct req *u = f.ep->unexp.head;
  CHECK(u && u->conn == f.c && u->match == 0x42 && u->msg_len == 8);
  teardown(&f);
  return 0;
}

static int test_datagrams_not_from_the_vouched_lane_are_refused(void)
{
  struct fixture f;
  struct forged p;
  setup(&f);
  struct conn *c2;
  int fd2 = second_peer(&f, &c2); /* two peers: no connect, our checks alone */
  forge(&f, &p, 8);
  expect(&f, &p, f.other, 1, EPC_LANE_REFUSED); /* another socket of the peer's host */
  forge(&f, &p, 8);
  expect(&f, &p, fd2, 1, EPC_LANE_REFUSED); /* the other peer, as this one */
  forge(&f, &p, 8);
  p.h.src_nic = PEER_NIC + 1;
  expect(&f, &p, f.peer, 1, EPC_LANE_REFUSED);
  forge(&f, &p, 8);
  p.h.dst_nic = MY_NIC + 1;
  expect(&f, &p, f.peer, 1, EPC_LANE_REFUSED);
  forge(&f, &p, 8);
  p.h.src_session ^= 1; /* a stream of another incarnation */
  expect(&f, &p, f.peer, 1, EPC_LANE_REFUSED);
  forge(&f, &p, 8);
  p.h.dst_session = 0;
  expect(&f, &p, f.peer, 1, EPC_LANE_REFUSED);
  forge(&f, &p, 8);
  p.h.flags = WIRE_F_RELIABLE; /* an engine's packet */
  expect(&f, &p, f.peer, 1, EPC_LANE_REFUSED);
  forge(&f, &p, 8);
  p.h.flags |= WIRE_F_MAC;
  expect(&f, &p, f.peer, 1, EPC_LANE_REFUSED);
  forge(&f, &p, 8);
  p.h.flags = WIRE_F_LANE; /* data off the stream */
  expect(&f, &p, f.peer, 1, EPC_LANE_REFUSED);
  forge(&f, &p, 8);
  p.h.type = WIRE_CONNECT; /* only data and acks travel by lane */
  expect(&f, &p, f.peer, 1, EPC_LANE_REFUSED);
  forge(&f, &p, 8);
  wire_seal(&p.h, sizeof(p.h) + WIRE_DATA_OVERHEAD + 8);
  p.data[0] ^= 1; /* corrupted after sealing */
  expect(&f, &p, f.peer, 0, EPC_LANE_REFUSED);
  /* and the stream goes on: the next good one is taken */
  forge(&f, &p, 8);
  expect(&f, &p, f.peer, 1, EPC_LANE_RX);
  CHECK(f.ep->unexp_count == 1);
  close(fd2);
  teardown(&f);
  return 0;
}

static int test_malformed_descriptors_are_counted_and_skipped(void)
{
  struct fixture f;
  struct forged p;
  setup(&f);
  /* each is in order on the stream (taken by it), and refused above it */
  forge(&f, &p, 8);
  p.x.src_eid = PEER_EID + 1;
  expect(&f, &p, f.peer, 1, EPC_LANE_MALFORMED);
  f.seq++;
  forge(&f, &p, 8);
  p.x.src_session = PEER_SESSION + 1; /* an earlier incarnation of the peer */
  expect(&f, &p, f.peer, 1, EPC_LANE_MALFORMED);
  f.seq++;
  forge(&f, &p, 8);
  p.x.dst_eid = MY_EID + 1;
  expect(&f, &p, f.peer, 1, EPC_LANE_MALFORMED);
  f.seq++;
  forge(&f, &p, 8);
  p.d.len = 9; /* the piece is not the message */
  expect(&f, &p, f.peer, 1, EPC_LANE_MALFORMED);
  f.seq++;
  forge(&f, &p, 8);
  p.d.type = MSG_SYNC_ACK; /* answers come from the engines */
  p.x.piece_len = 0;
  p.len = 0;
  expect(&f, &p, f.peer, 1, EPC_LANE_MALFORMED);
  f.seq++;
  forge(&f, &p, 16);
  p.d.type = MSG_FRAG; /* a fragment's second piece with no first */
  p.d.total = 4000;
  p.d.len = 3000;
  p.x.piece_off = 1400;
  expect(&f, &p, f.peer, 1, EPC_LANE_MALFORMED);
  f.seq++;
  forge(&f, &p, 16);
  p.d.type = MSG_FRAG; /* a fragment larger than the medium class allows */
  p.d.total = 40000;
  p.d.len = 8192;
  expect(&f, &p, f.peer, 1, EPC_LANE_MALFORMED);
  f.seq++;
  CHECK(f.ep->unexp_count == 0);
  forge(&f, &p, 8);
  expect(&f, &p, f.peer, 1, EPC_LANE_RX);
  CHECK(f.ep->unexp_count == 1);
  teardown(&f);
  return 0;
}

static int test_a_fragment_in_pieces_is_one_message(void)
{
  struct fixture f;
  setup(&f);
  struct {
    struct wire_hdr h;
    struct wire_desc d;
    struct wire_data_ext x;
    uint8_t data[1000];
  } p;
  uint8_t want[3000];
  for (uint32_t i = 0; i < sizeof(want); i++)
    want[i] = (uint8_t)(i * 7);
  for (uint32_t off = 0; off < sizeof(want); off += 1000) {
    const struct rel_stream *s = &f.c->lane->rel;
    p.h = (struct wire_hdr){.magic = WIRE_MAGIC, .version = WIRE_VERSION, .type = WIRE_DATA,
                            .flags = WIRE_F_RELIABLE | WIRE_F_LANE,
                            .len = (uint16_t)(WIRE_DATA_OVERHEAD + 1000),
                            .src_session = s->peer_session, .dst_session = s->my_session,
                            .seq = f.seq++, .src_nic = PEER_NIC, .dst_nic = MY_NIC};
    p.d = (struct wire_desc){.type = MSG_FRAG, .len = 3000, .total = 3000, .seq = 1};
    p.x = (struct wire_data_ext){.src_eid = PEER_EID, .dst_eid = MY_EID, .piece_off = off,
                                 .piece_len = 1000, .src_session = PEER_SESSION};
    memcpy(p.data, want + off, 1000);
    wire_seal(&p.h, sizeof(p));
    CHECK(sendto(f.peer, &p, sizeof(p), 0, (struct sockaddr *)&f.to, sizeof(f.to)) ==
          (ssize_t)sizeof(p));
  }
  usleep(2000);
  while (lane_input(f.ep, 0) > 0) /* as progress passes read: a batch each */
    ;
  CHECK(f.ep->counters[EPC_LANE_RX] == 3 && f.ep->counters[EPC_LANE_MALFORMED] == 0);
  struct req *u = f.ep->unexp.head;
  CHECK(f.ep->unexp_count == 1 && u && u->msg_len == 3000 && u->got == 3000);
  CHECK(memcmp(u->buf, want, sizeof(want)) == 0);
  teardown(&f);
  return 0;
}

/* A hostile peer whose pieces disagree about their fragment: the first
 * says 8192 bytes and carries 16, the next says 32 and would "complete"
 * it, leaving 8160 bytes of whatever the buffer held before (a review
 * found another peer's message there). */
static int test_pieces_must_agree_with_the_first(void)
{
  struct fixture f;
  struct forged p;
  setup(&f);
  forge(&f, &p, 16);
  p.d.type = MSG_FRAG;
  p.d.len = 8192;
  p.d.total = 8192;
  p.d.seq = 4;
  expect(&f, &p, f.peer, 1, EPC_LANE_RX); /* a first piece: kept */
  f.seq++;
  forge(&f, &p, 16);
  p.d.type = MSG_FRAG;
  p.d.len = 32;
  p.d.total = 8192;
  p.d.seq = 4;
  p.x.piece_off = 16;
  expect(&f, &p, f.peer, 1, EPC_LANE_MALFORMED);
  CHECK(f.ep->unexp_count == 0);
  teardown(&f);
  return 0;
}

static int test_an_address_bound_again_leaves_its_old_peer(void)
{
  struct fixture f;
  struct forged p;
  setup(&f);
  struct lane_peer *old = f.c->lane;
  /* a new endpoint at the same address (its port reused after a close) */
  struct conn *c2 = conn_get(f.ep, PEER_NIC, PEER_EID + 1, 1);
  struct lane_addr a = {.port = old->addr.ss_family == AF_INET
                                    ? ((struct sockaddr_in *)&old->addr)->sin_port
                                    : 0,
                        .family = 4, .mtu = MTU};
  memcpy(a.ip, &((struct sockaddr_in *)&old->addr)->sin_addr, 4);
  CHECK(lane_bind(f.ep, c2, &a, PEER_SESSION + 1) == 0);
  CHECK(f.c->lane == NULL && c2->lane != NULL && f.ep->lane->npeers == 1);
  /* the old endpoint's messages no longer count as anyone's, even in the
   * new binding's streams */
  f.seq = c2->lane->rel.rcv_next;
  forge_on(&f, c2->lane, &p, 8);
  expect(&f, &p, f.peer, 1, EPC_LANE_MALFORMED); /* PEER_EID, not c2's */
  teardown(&f);
  return 0;
}

/* Where the lane's socket is connected (ENOTCONN: nowhere) and bound. */
static int lane_peer_port(const struct fixture *f, int *port)
{
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  CHECK(getsockname(f->ep->lane->fd, (struct sockaddr *)&a, &len) == 0);
  *port = a.sin_port;
  len = sizeof(a);
  return getpeername(f->ep->lane->fd, (struct sockaddr *)&a, &len) == 0 ? a.sin_port : -1;
}

static int test_a_lane_with_one_peer_is_connected_to_it(void)
{
  struct fixture f;
  struct forged p;
  int port;
  setup(&f);
  struct sockaddr_in peer;
  socklen_t len = sizeof(peer);
  CHECK(getsockname(f.peer, (struct sockaddr *)&peer, &len) == 0);
  CHECK(lane_peer_port(&f, &port) == peer.sin_port && port == f.to.sin_port);
  /* what comes from elsewhere is the kernel's to refuse: nothing arrives */
  forge(&f, &p, 8);
  uint64_t before[EPC_MAX];
  memcpy(before, f.ep->counters, sizeof(before));
  deliver(&f, &p, f.other, 1);
  CHECK(!memcmp(before, f.ep->counters, sizeof(before)) && f.ep->unexp_count == 0);
  /* a second peer: disconnected, and the port is still the lane's */
  struct conn *c2;
  int fd2 = second_peer(&f, &c2);
  CHECK(lane_peer_port(&f, &port) == -1 && errno == ENOTCONN && port == f.to.sin_port);
  forge(&f, &p, 8);
  expect(&f, &p, f.peer, 1, EPC_LANE_RX);
  f.seq++;
  /* the second gone: connected to the first again, which goes on */
  lane_unbind(f.ep, c2);
  CHECK(lane_peer_port(&f, &port) == peer.sin_port && port == f.to.sin_port);
  forge(&f, &p, 8);
  expect(&f, &p, f.peer, 1, EPC_LANE_RX);
  CHECK(f.ep->unexp_count == 2);
  /* none: disconnected, still bound */
  lane_unbind(f.ep, f.c);
  CHECK(lane_peer_port(&f, &port) == -1 && port == f.to.sin_port);
  close(fd2);
  teardown(&f);
  return 0;
}

/* A connected socket fails the call after an ICMP error arrives (here
 * the peer's port closed; off the host, anyone can forge one): the lane
 * tries again at once and counts it, and loses nothing to it. */
static int test_an_icmp_error_costs_a_connected_lane_nothing(void)
{
  struct fixture f;
  setup(&f);
  struct rel_stream *s = &f.c->lane->rel;
  close(f.peer); /* its port closed: what we send draws "port unreachable" */
  f.peer = udp_socket(NULL);
  rel_send_ack(s);
  usleep(1000);
  uint64_t sent = f.ep->counters[EPC_LANE_TX];
  rel_send_ack(s); /* the error the first drew fails this call: tried again */
  CHECK(f.ep->counters[EPC_LANE_ICMP] >= 1 && f.ep->counters[EPC_LANE_TX] == sent + 1 &&
        f.ep->counters[EPC_LANE_TX_ERRORS] == 0);
  usleep(1000);
  uint64_t icmp = f.ep->counters[EPC_LANE_ICMP];
  lane_input(f.ep, 0); /* the retry drew one more: the read takes it, and reads on */
  CHECK(f.ep->counters[EPC_LANE_ICMP] == icmp + 1);
  teardown(&f);
  return 0;
}

/* An unexpected handler that meets a new incarnation of the peer whose
 * message it is handed (as mx_connect does, in it or in another thread
 * while it runs): the binding goes while its packet is delivered. */
static struct fixture *handler_fixture;
static mx_unexp_handler_action_t unbind_in_handler(void *ctx, mx_endpoint_addr_t source,
                                                   uint64_t match, uint32_t len, void *data)
{
  (void)ctx, (void)source, (void)match, (void)len, (void)data;
  struct fixture *f = handler_fixture;
  pthread_mutex_lock(&f->ep->lock);
  lane_unbind(f->ep, f->c);
  pthread_mutex_unlock(&f->ep->lock);
  return MX_RECV_CONTINUE;
}

static int test_a_peer_unbound_in_a_handler_is_freed_after_its_delivery(void)
{
  struct fixture f;
  struct forged p;
  setup(&f);
  handler_fixture = &f;
  f.ep->unexp_handler = unbind_in_handler;
  forge(&f, &p, 8);
  uint32_t total = (uint32_t)(sizeof(p.h) + WIRE_DATA_OVERHEAD) + p.len;
  p.h.len = (uint16_t)(total - sizeof(p.h));
  wire_seal(&p.h, total);
  CHECK(sendto(f.peer, &p, total, 0, (struct sockaddr *)&f.to, sizeof(f.to)) == (ssize_t)total);
  usleep(1000);
  pthread_mutex_lock(&f.ep->lock);
  lane_input(f.ep, 0); /* (the sanitizer build sees a use after free, if any) */
  pthread_mutex_unlock(&f.ep->lock);
  CHECK(f.ep->counters[EPC_HANDLER_CALLS] == 1 && f.c->lane == NULL &&
        f.ep->lane->npeers == 0 && f.ep->lane->delivering == NULL);
  teardown(&f);
  return 0;
}


/* --- a rendezvous' data by lane (lane_rndv.c) ----------------------------- */

/* A CTS or a data piece from the peer, on its stream, in order. */
struct forged_rndv {
  struct wire_hdr h;
  struct wire_desc d;
  struct wire_data_ext x;
  uint8_t data[1500];
};

static int ack_all; /* send_rndv's packets acknowledge everything we sent */
static uint8_t rndv_flags; /* ... and carry these MSG_F_* flags */

static void send_rndv(struct fixture *f, struct lane_peer *lp, uint8_t type, uint64_t cookie,
                      uint64_t match, uint32_t total, uint32_t off, const uint8_t *data,
                      uint32_t len)
{
  struct forged_rndv p;
  const struct rel_stream *s = &lp->rel;
  memset(&p, 0, sizeof(p));
  uint32_t size = (uint32_t)(sizeof(p.h) + WIRE_DATA_OVERHEAD) + len;
  p.h = (struct wire_hdr){.magic = WIRE_MAGIC, .version = WIRE_VERSION, .type = WIRE_DATA,
                          .flags = WIRE_F_RELIABLE | WIRE_F_LANE,
                          .len = (uint16_t)(size - sizeof(p.h)), .src_session = s->peer_session,
                          .dst_session = s->my_session, .seq = f->seq++, .src_nic = PEER_NIC,
                          .dst_nic = MY_NIC, .ack = ack_all ? s->snd_next : s->snd_una};
  p.d = (struct wire_desc){.type = type, .flags = rndv_flags, .len = len, .total = total,
                           .match = match, .cookie = cookie};
  p.x = (struct wire_data_ext){.src_eid = lp->eid, .dst_eid = MY_EID, .piece_off = off,
                               .piece_len = len, .src_session = lp->session};
  if (len)
    memcpy(p.data, data, len);
  wire_seal(&p.h, size);
  CHECK(sendto(f->peer, &p, size, 0, (struct sockaddr *)&f->to, sizeof(f->to)) == (ssize_t)size);
  usleep(1000);
  lane_input(f->ep, 0);
}

/* A send of ours to c of len bytes at buf, of class type. */
static struct req *send_req(struct fixture *f, struct conn *c, uint8_t *buf, uint32_t len,
                            uint8_t type)
{
  struct req *r = req_new(f->ep, REQ_SEND);
  mx_segment_t seg = {buf, len};
  CHECK(r && req_set_segments(r, &seg, 1) == 0);
  r->type = type;
  r->conn = c;
  return r;
}

/* One of our large sends to c, announced (emitted) already. */
static struct req *rndv_send(struct fixture *f, struct conn *c, uint8_t *buf, uint32_t len)
{
  struct req *r = send_req(f, c, buf, len, MSG_RNDV);
  r->state = RS_ACTIVE;
  return r;
}

/* One of our large sends to the peer, which asked for all of it (its
 * receive's cookie): what fits the window is out. */
static struct req *rndv_asked(struct fixture *f, uint8_t *buf, uint32_t len, uint64_t theirs)
{
  struct req *r = rndv_send(f, f->c, buf, len);
  send_rndv(f, f->c->lane, MSG_CTS, req_cookie(r), theirs, len, 0, NULL, 0);
  CHECK(r->lane_data && r->pushed > 0 && r->state == RS_ACTIVE);
  return r;
}

/* The next packet the lane sent the peer, lone acks passed over (the lane
 * sends those whenever they are due): its length, or -1 when none came. */
static ssize_t recv_not_ack(int fd, struct forged_rndv *p)
{
  ssize_t k;
  while ((k = recv(fd, p, sizeof(*p), MSG_DONTWAIT)) >= (ssize_t)sizeof(p->h) &&
         p->h.type == WIRE_ACK)
    ;
  return k;
}

static int test_a_cts_is_taken_only_for_our_announced_rendezvous_to_that_peer(void)
{
  struct fixture f;
  setup(&f);
  struct conn *c2;
  int fd2 = second_peer(&f, &c2);
  uint8_t buf[3000], other[3000];
  for (uint32_t i = 0; i < sizeof(buf); i++)
    buf[i] = (uint8_t)(i * 13 + 1);
  struct req *r = rndv_send(&f, f.c, buf, sizeof(buf));
  struct req *r2 = rndv_send(&f, c2, other, sizeof(other)); /* to the second peer */
  struct req *small = rndv_send(&f, f.c, other, 100);
  small->type = MSG_SMALL;
  struct req *waiting = rndv_send(&f, f.c, other, sizeof(other));
  waiting->state = RS_NEW; /* not yet out: (on a backlog, as it would be) */
  uint64_t bad = f.ep->counters[EPC_LANE_MALFORMED];
  send_rndv(&f, f.c->lane, MSG_CTS, req_cookie(r2), 0x77, 3000, 0, NULL, 0);
  send_rndv(&f, f.c->lane, MSG_CTS, req_cookie(small), 0x77, 100, 0, NULL, 0);
  send_rndv(&f, f.c->lane, MSG_CTS, req_cookie(waiting), 0x77, 3000, 0, NULL, 0);
  send_rndv(&f, f.c->lane, MSG_CTS, req_cookie(r) + 1, 0x77, 3000, 0, NULL, 0);
  CHECK(f.ep->counters[EPC_LANE_MALFORMED] == bad + 4 && !r2->lane_data && !small->lane_data &&
        !waiting->lane_data && !f.c->lane->bl_head);
  /* each asker is told the data will not come (its cookie, from the CTS) */
  struct forged_rndv p;
  for (int i = 0; i < 4; i++) {
    usleep(1000);
    ssize_t k = recv_not_ack(f.peer, &p);
    CHECK(k == (ssize_t)(sizeof(p.h) + WIRE_DATA_OVERHEAD) && p.d.type == MSG_NACK &&
          p.d.cookie == 0x77);
  }
  /* its own receiver asks for 2000 of the 3000 bytes: they go at once */
  send_rndv(&f, f.c->lane, MSG_CTS, req_cookie(r), 0x77, 2000, 0, NULL, 0);
  CHECK(r->lane_data && r->xfer == 2000 && r->pushed == 2000 && !f.c->lane->bl_head);
  uint8_t got[2000];
  uint32_t n = 0;
  while (n < 2000) {
    usleep(1000);
    ssize_t k = recv_not_ack(f.peer, &p);
    CHECK(k > (ssize_t)(sizeof(p.h) + WIRE_DATA_OVERHEAD) && p.d.type == MSG_LANE_DATA &&
          p.d.cookie == 0x77 && p.d.total == 2000 && p.x.piece_off == n &&
          p.x.piece_len == k - sizeof(p.h) - WIRE_DATA_OVERHEAD);
    memcpy(got + n, p.data, p.x.piece_len);
    n += p.x.piece_len;
  }
  CHECK(n == 2000 && memcmp(got, buf, n) == 0);
  /* asked twice: once only (and no NACK: its data is on its way) */
  uint32_t next_before = f.c->lane->rel.snd_next;
  send_rndv(&f, f.c->lane, MSG_CTS, req_cookie(r), 0x77, 3000, 0, NULL, 0);
  CHECK(f.ep->counters[EPC_LANE_MALFORMED] == bad + 5 && !f.c->lane->bl_head);
  usleep(1000);
  /* (what the stream resends meanwhile, its timers run by the reads, is
   * older than the second CTS: nothing new went) */
  while (recv_not_ack(f.peer, &p) >= 0)
    CHECK((int32_t)(p.h.seq - next_before) < 0);
  /* the engine's word does not end it (it may be on the lane's backlog);
   * the lane's ack of the last piece does */
  struct msg notify = {.type = MSG_NOTIFY, .cookie = req_cookie(r), .total = 3000,
                       .peer_eid = PEER_EID, .peer_nic = PEER_NIC};
  send_acked(f.ep, &notify, MX_STATUS_SUCCESS);
  CHECK(r->state == RS_ACTIVE);
  ack_all = 1;
  send_rndv(&f, f.c->lane, MSG_NACK, 0, 0, 0, 0, NULL, 0); /* (any packet: its ack counts) */
  ack_all = 0;
  CHECK(f.c->lane->rel.snd_una == f.c->lane->rel.snd_next);
  CHECK(r->state == RS_DONE && r->status.code == MX_STATUS_SUCCESS &&
        r->status.xfer_length == 2000);
  close(fd2);
  teardown(&f);
  return 0;
}

static int test_rendezvous_pieces_fill_only_a_receive_that_asked_that_peer(void)
{
  struct fixture f;
  setup(&f);
  uint8_t want[2500], buf[2500] = {0};
  for (uint32_t i = 0; i < sizeof(want); i++)
    want[i] = (uint8_t)(i * 7 + 3);
  struct req *r = req_new(f.ep, REQ_RECV);
  mx_segment_t seg = {buf, sizeof(buf)};
  CHECK(r && req_set_segments(r, &seg, 1) == 0);
  r->type = MSG_RNDV;
  r->state = RS_ACTIVE;
  r->conn = f.c;
  r->xfer = r->msg_len = sizeof(buf);
  uint64_t cookie = req_cookie(r), bad = f.ep->counters[EPC_LANE_MALFORMED];
  /* not asked for (the engines pull it) */
  send_rndv(&f, f.c->lane, MSG_LANE_DATA, cookie, 0, 2500, 0, want, 1000);
  CHECK(r->got == 0 && f.ep->counters[EPC_LANE_MALFORMED] == bad + 1);
  r->lane_data = 1;
  /* another length; not the next bytes; past the end; none */
  send_rndv(&f, f.c->lane, MSG_LANE_DATA, cookie, 0, 2400, 0, want, 1000);
  send_rndv(&f, f.c->lane, MSG_LANE_DATA, cookie, 0, 2500, 1000, want + 1000, 1000);
  send_rndv(&f, f.c->lane, MSG_LANE_DATA, cookie, 0, 2500, 2000, want, 1000);
  send_rndv(&f, f.c->lane, MSG_LANE_DATA, cookie, 0, 2500, 0, want, 0);
  CHECK(r->got == 0 && f.ep->counters[EPC_LANE_MALFORMED] == bad + 5);
  /* in order: taken, and the last completes it */
  for (uint32_t off = 0; off < sizeof(want); off += 1000) {
    uint32_t len = sizeof(want) - off < 1000 ? (uint32_t)sizeof(want) - off : 1000;
    send_rndv(&f, f.c->lane, MSG_LANE_DATA, cookie, 0, 2500, off, want + off, len);
  }
  CHECK(f.ep->counters[EPC_LANE_MALFORMED] == bad + 5 && r->got == 2500 &&
        r->state == RS_DONE && memcmp(buf, want, sizeof(want)) == 0 &&
        f.ep->counters[EPC_LANE_RNDV] == 1);
  /* and nothing more of it */
  send_rndv(&f, f.c->lane, MSG_LANE_DATA, cookie, 0, 2500, 2500, want, 0);
  send_rndv(&f, f.c->lane, MSG_LANE_DATA, cookie, 0, 2500, 0, want, 100);
  CHECK(f.ep->counters[EPC_LANE_MALFORMED] == bad + 7 && memcmp(buf, want, sizeof(want)) == 0);
  teardown(&f);
  return 0;
}


/* We disconnect while a send's data waits for window room: the receive
 * that asked is told it will not come; and the receiving side of that. */
static int test_a_rendezvous_given_up_is_nacked_to_its_receiver(void)
{
  struct fixture f;
  setup(&f);
  static uint8_t big[600000];
  struct req *r = rndv_asked(&f, big, sizeof(big), 0x99);
  struct lane_peer *lp = f.c->lane;
  CHECK(r->pushed < sizeof(big) && lp->bl_head == r);
  conn_fail(f.ep, f.c, MX_STATUS_ENDPOINT_CLOSED); /* (mx_disconnect's) */
  CHECK(r->state == RS_DONE && r->status.code == MX_STATUS_ENDPOINT_CLOSED);
  CHECK(lp->bl_head && lp->bl_head == lp->bl_tail && lp->bl_head->kind == REQ_CTL &&
        lp->bl_head->ctl->type == MSG_NACK && lp->bl_head->ctl->cookie == 0x99);
  /* a receive that asked, and one that did not */
  uint8_t buf[4000];
  mx_segment_t seg = {buf, sizeof(buf)};
  struct req *asked = req_new(f.ep, REQ_RECV), *not_asked = req_new(f.ep, REQ_RECV);
  CHECK(asked && not_asked && req_set_segments(asked, &seg, 1) == 0 &&
        req_set_segments(not_asked, &seg, 1) == 0);
  asked->type = not_asked->type = MSG_RNDV;
  asked->state = not_asked->state = RS_ACTIVE;
  asked->conn = not_asked->conn = f.c;
  asked->xfer = not_asked->xfer = sizeof(buf);
  asked->lane_data = 1;
  f.c->dead = 0;
  uint64_t bad = f.ep->counters[EPC_LANE_MALFORMED];
  send_rndv(&f, lp, MSG_NACK, req_cookie(not_asked), 0, 0, 0, NULL, 0);
  CHECK(not_asked->state == RS_ACTIVE && f.ep->counters[EPC_LANE_MALFORMED] == bad + 1);
  send_rndv(&f, lp, MSG_NACK, req_cookie(asked), 0, 0, 0, NULL, 0);
  CHECK(asked->state == RS_DONE && asked->status.code == MX_STATUS_ABORTED);
  teardown(&f);
  return 0;
}

/* We closed as a peer's large send to us ended: our close says where our
 * stream stood (lane_last_acks).  The other side: the peer closed as our
 * send's last piece arrived and its ack of it was lost; the close's word
 * (MSG_PEER_GONE's last ack, from its backend) completes the send.  A word
 * short of the last piece, beyond what we sent, of no incarnation (session
 * 0: any), or none, fails it. */
static int test_a_closed_peers_last_ack_completes_what_it_took(void)
{
  static const struct {
    int flag, delta;
    uint32_t session;
    mx_status_code_t want;
  } cases[] = {{1, 0, PEER_SESSION, MX_STATUS_SUCCESS},
               {1, -1, PEER_SESSION, MX_STATUS_ENDPOINT_CLOSED},
               {1, 1, PEER_SESSION, MX_STATUS_ENDPOINT_CLOSED},
               {1, 0, 0, MX_STATUS_ENDPOINT_CLOSED},
               {0, 0, PEER_SESSION, MX_STATUS_ENDPOINT_CLOSED}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct fixture f;
    setup(&f);
    static uint8_t buf[3000];
    struct req *r = rndv_asked(&f, buf, sizeof(buf), 0x77);
    struct lane_peer *lp = f.c->lane;
    CHECK(r->pushed == sizeof(buf) && lp->rel.snd_una != lp->rel.snd_next);
    struct ctl_lane_last_ack a[2];
    CHECK(lane_last_acks(f.ep, a, 2) == 1 && a[0].nic == PEER_NIC && a[0].eid == PEER_EID &&
          a[0].session == PEER_SESSION && a[0].ack == f.seq);
    struct msg gone = {.type = MSG_PEER_GONE, .peer_nic = PEER_NIC, .peer_eid = PEER_EID,
                       .seq = cases[i].session, .status = MSG_ST_CLOSED,
                       .flags = cases[i].flag ? MSG_F_LAST_ACK : 0};
    gone.cookie2 = lp->rel.snd_next + (uint32_t)cases[i].delta;
    progress_peer_gone(f.ep, &gone);
    CHECK(r->state == RS_DONE && r->status.code == cases[i].want && f.c->lane == NULL);
    CHECK((f.ep->counters[EPC_LANE_LAST_ACKED] > 0) ==
          (cases[i].flag && cases[i].delta <= 0 && cases[i].session));
    teardown(&f);
  }
  return 0;
}

/* One fragment of n pieces of psz bytes (message number msg), from the
 * peer as one GSO send: one run, cut into datagrams by the kernel unless
 * the lane takes runs (UDP_GRO). */
#define RUN_PIECES 8 /* (a fragment is at most EAGER_SIZE) */
#define PIECE 1000

static void send_run_of(struct fixture *f, uint32_t n, uint32_t psz, uint32_t msg)
{
  static _Alignas(8) uint8_t run[RUN_PIECES * (sizeof(struct wire_hdr) + WIRE_DATA_OVERHEAD + PIECE)];
  uint32_t pkt = (uint32_t)(sizeof(struct wire_hdr) + WIRE_DATA_OVERHEAD) + psz;
  CHECK(n <= RUN_PIECES && psz <= PIECE && pkt % 8 == 0); /* (each header aligned) */
  const struct rel_stream *s = &f->c->lane->rel;
  for (uint32_t i = 0; i < n; i++) {
    uint8_t *p = run + i * pkt;
    struct wire_hdr *h = (struct wire_hdr *)p;
    *h = (struct wire_hdr){.magic = WIRE_MAGIC, .version = WIRE_VERSION, .type = WIRE_DATA,
                           .flags = WIRE_F_RELIABLE | WIRE_F_LANE,
                           .len = (uint16_t)(pkt - sizeof(*h)),
                           .src_session = s->peer_session, .dst_session = s->my_session,
                           .seq = f->seq++, .src_nic = PEER_NIC, .dst_nic = MY_NIC};
    struct wire_desc d = {.type = MSG_FRAG, .len = n * psz, .total = n * psz, .seq = msg};
    struct wire_data_ext x = {.src_eid = PEER_EID, .dst_eid = MY_EID, .piece_off = i * psz,
                              .piece_len = psz, .src_session = PEER_SESSION};
    memcpy(p + sizeof(*h), &d, sizeof(d));
    memcpy(p + sizeof(*h) + sizeof(d), &x, sizeof(x));
    for (uint32_t k = 0; k < psz; k++)
      p[sizeof(*h) + WIRE_DATA_OVERHEAD + k] = (uint8_t)(msg + i * psz + k);
    wire_seal(h, pkt);
  }
  struct iovec iov = {run, n * pkt};
  struct msghdr m = {.msg_name = &f->to, .msg_namelen = sizeof(f->to), .msg_iov = &iov,
                     .msg_iovlen = 1};
  struct gso_ctl ctl;
  gso_set_segment(&m, &ctl, (uint16_t)pkt);
  CHECK(sendmsg(f->peer, &m, 0) == (ssize_t)(n * pkt));
  usleep(2000);
}

static void send_run(struct fixture *f, uint32_t msg)
{
  send_run_of(f, RUN_PIECES, PIECE, msg);
}

/* The last unexpected message is msg's, len bytes, whole and in place. */
static int run_arrived_of(struct fixture *f, uint32_t msg, uint32_t len)
{
  struct req *u = f->ep->unexp.head;
  while (u && u->next)
    u = u->next;
  CHECK(u && u->msg_len == len && u->got == len);
  for (uint32_t i = 0; i < len; i++)
    CHECK(((uint8_t *)u->buf)[i] == (uint8_t)(msg + i));
  return 0;
}

static int run_arrived(struct fixture *f, uint32_t msg)
{
  return run_arrived_of(f, msg, RUN_PIECES * PIECE);
}

/* UDP_GRO is on only while runs come (it cost a ping-pong 4%): off at
 * first, on when a read takes several packets or a piece with more to
 * come, off after LANE_GRO_OFF_READS reads of one packet alone; a
 * run queued while it was on and read after it went off (no segment size
 * from the kernel) is split by its packets' own lengths. */
static int test_udp_gro_is_on_only_while_runs_come(void)
{
  struct fixture f;
  struct forged p;
  setup(&f);
  struct lane *l = f.ep->lane;
  uint64_t *cnt = f.ep->counters;
  CHECK(l->gro_ok && !l->gro);
  send_run(&f, 1); /* cut by the kernel; its first piece says more follow: GRO goes on */
  CHECK(lane_input(f.ep, 0) == 1 && l->gro && cnt[EPC_LANE_RX] == 1);
  while (lane_input(f.ep, 0) > 0)
    ;
  CHECK(l->gro && cnt[EPC_LANE_RX] == RUN_PIECES && cnt[EPC_LANE_RX_RUNS] == 0);
  CHECK(run_arrived(&f, 1) == 0);
  send_run(&f, 2); /* now one read */
  CHECK(lane_input(f.ep, 0) == 1 && lane_input(f.ep, 0) == 0);
  CHECK(cnt[EPC_LANE_RX_RUNS] == RUN_PIECES && run_arrived(&f, 2) == 0);
  for (int i = 0; i < LANE_GRO_OFF_READS; i++) { /* a ping-pong's reads: one, then none */
    CHECK(l->gro);
    forge(&f, &p, 8);
    deliver(&f, &p, f.peer, 1);
    f.seq++;
    CHECK(lane_input(f.ep, 0) == 0);
  }
  CHECK(!l->gro && cnt[EPC_LANE_RX] == 2 * RUN_PIECES + LANE_GRO_OFF_READS);
  lane_gro(l, 1);
  send_run(&f, 3);
  lane_gro(l, 0);
  CHECK(lane_input(f.ep, 0) == 1); /* the run in one buffer, no word of its size */
  CHECK(cnt[EPC_LANE_RX_RUNS] == 2 * RUN_PIECES && run_arrived(&f, 3) == 0);
  CHECK(cnt[EPC_LANE_REFUSED] == 0 && cnt[EPC_LANE_MALFORMED] == 0);
  CHECK(f.ep->unexp_count == 3 + LANE_GRO_OFF_READS);
  teardown(&f);
  return 0;
}

/* A peer whose lane has a smaller MTU sends runs no longer than one of
 * our packets: read with no segment size from the kernel, such a run is
 * still cut by its first packet's length (the buffer's length alone said
 * "one packet", and all but the first were lost uncounted). */
static int test_a_run_of_a_smaller_mtu_read_without_gro_is_cut(void)
{
  struct fixture f;
  setup_mtu(&f, 576);
  struct lane *l = f.ep->lane;
  uint64_t *cnt = f.ep->counters;
  uint32_t psz = 296, pkt = (uint32_t)(sizeof(struct wire_hdr) + WIRE_DATA_OVERHEAD) + psz;
  CHECK(f.c->lane->rel.mtu == 576 && pkt <= 576 && 2 * pkt <= l->mtu);
  lane_gro(l, 1);
  send_run_of(&f, 2, psz, 4);
  lane_gro(l, 0);
  CHECK(lane_input(f.ep, 0) == 1);
  CHECK(cnt[EPC_LANE_RX] == 2 && cnt[EPC_LANE_REFUSED] == 0 && run_arrived_of(&f, 4, 2 * psz) == 0);
  teardown(&f);
  return 0;
}

/* An unconnected lane (two peers) reads anyone's datagrams: what it
 * refuses turns UDP_GRO neither on nor off. */
static int test_strangers_datagrams_do_not_move_udp_gro(void)
{
  struct fixture f;
  struct forged p;
  setup(&f);
  struct conn *c2;
  int fd2 = second_peer(&f, &c2);
  struct lane *l = f.ep->lane;
  uint64_t *cnt = f.ep->counters;
  static uint8_t junk[1500];
  for (int i = 0; i < 8; i++)
    CHECK(sendto(f.other, junk, 64, 0, (struct sockaddr *)&f.to, sizeof(f.to)) == 64);
  usleep(2000);
  while (lane_input(f.ep, 0) > 0)
    ;
  /* full reads, nothing taken (each cut by its zero length, two pieces refused) */
  CHECK(!l->gro && cnt[EPC_LANE_RX] == 0 && cnt[EPC_LANE_REFUSED] == 16);
  send_run(&f, 1);
  while (lane_input(f.ep, 0) > 0)
    ;
  CHECK(l->gro && run_arrived(&f, 1) == 0);
  for (int i = 0; i < LANE_GRO_OFF_READS; i++) { /* a ping-pong, and a stranger's large ones */
    CHECK(l->gro);
    if (i % 8 == 0) {
      CHECK(sendto(f.other, junk, sizeof(junk), 0, (struct sockaddr *)&f.to, sizeof(f.to)) ==
            (ssize_t)sizeof(junk));
      usleep(1000);
      lane_input(f.ep, 0);
    }
    forge(&f, &p, 8);
    deliver(&f, &p, f.peer, 1);
    f.seq++;
    CHECK(lane_input(f.ep, 0) == 0);
  }
  CHECK(!l->gro && cnt[EPC_LANE_RX] == RUN_PIECES + LANE_GRO_OFF_READS);
  close(fd2);
  teardown(&f);
  return 0;
}

/* A small send of ours to c, posted as mx_isend posts it. */
static void post_to(struct fixture *f, struct conn *c, uint8_t *buf, uint32_t len, uint64_t match)
{
  struct req *r = send_req(f, c, buf, len, MSG_SMALL);
  r->match = match;
  r->seq = f->ep->next_seq++;
  lane_post(f->ep, c, r);
}

static void post_small(struct fixture *f, uint8_t *buf, uint32_t len, uint64_t match)
{
  post_to(f, f->c, buf, len, match);
}

/* The data packets waiting at fd, their match infos into matches: how many. */
static int datagrams_at(int fd, uint64_t *matches, int max)
{
  struct forged p;
  int n = 0;
  while (recv(fd, &p, sizeof(p), MSG_DONTWAIT) >= (ssize_t)sizeof(p.h))
    if (p.h.type == WIRE_DATA && n < max)
      matches[n++] = p.d.match;
  return n;
}

/* A send with nothing in flight before it leaves at once (a ping-pong's
 * every one); a burst's next ones wait for the next progress pass and then
 * leave together, in order, in one sendmmsg (a GSO run); a full batch
 * leaves without waiting; and what is held leaves before the socket is
 * disconnected (a second peer) and when the peer goes, and at a pass with
 * progression disabled; nothing is held with another endpoint open (whose
 * waits would not flush it: a deadlock, found in review) nor with
 * MYRIXEN_LANE_HOLD=0. */
static int test_a_burst_of_sends_leaves_together_at_the_next_pass(void)
{
  struct fixture f;
  setup(&f);
  uint64_t *cnt = f.ep->counters, m[64];
  uint8_t buf[8] = "burst";
  lib.lane_hold = 1; /* (mx_init's default) */
  atomic_store(&lib.neps, 1); /* (as mx_open_endpoint counts it) */
  post_small(&f, buf, sizeof(buf), 100);
  usleep(1000);
  CHECK(datagrams_at(f.peer, m, 64) == 1 && m[0] == 100); /* at once */
  for (uint64_t i = 1; i < 10; i++)
    post_small(&f, buf, sizeof(buf), 100 + i);
  usleep(1000);
  CHECK(datagrams_at(f.peer, m, 64) == 0); /* held: the first is in flight */
  uint64_t runs = cnt[EPC_LANE_TX_RUNS], tx = cnt[EPC_LANE_TX];
  const struct rel_stream *s = &f.c->lane->rel;
  uint32_t first = s->snd_next - 9;
  uint64_t t = clock_now_ns();
  lane_input(f.ep, 0); /* any pass */
  usleep(1000);
  CHECK(datagrams_at(f.peer, m, 64) == 9);
  /* their round trip and timers count from the pass, not from the posts */
  CHECK(s->win[(first - 1) % s->send_window].sent_ns < t);
  for (uint32_t q = first; q != s->snd_next; q++)
    CHECK(s->win[q % s->send_window].sent_ns >= t);
  for (int i = 0; i < 9; i++)
    CHECK(m[i] == 101 + (uint64_t)i);
  CHECK(cnt[EPC_LANE_TX] - tx == 9 && cnt[EPC_LANE_TX_RUNS] - runs == 9); /* one run */
  for (uint64_t i = 0; i < LANE_TX_BATCH + 3; i++)
    post_small(&f, buf, sizeof(buf), 200 + i);
  usleep(1000);
  CHECK(datagrams_at(f.peer, m, 64) == LANE_TX_BATCH); /* a full batch went */
  struct conn *c2;
  int fd2 = second_peer(&f, &c2); /* the socket is disconnected: what was held goes first */
  usleep(1000);
  CHECK(datagrams_at(f.peer, m, 64) == 3 && m[2] == 200 + LANE_TX_BATCH + 2);
  post_small(&f, buf, sizeof(buf), 300);
  post_small(&f, buf, sizeof(buf), 301);
  lane_unbind(f.ep, f.c); /* the peer goes: what was held goes first */
  usleep(1000);
  CHECK(datagrams_at(f.peer, m, 64) == 2 && m[0] == 300 && m[1] == 301); /* (held: in flight) */
  post_to(&f, c2, buf, sizeof(buf), 400);
  post_to(&f, c2, buf, sizeof(buf), 401); /* held: 400 is in flight */
  f.ep->progress_off = PROGRESS_OFF_API; /* mx_disable_progression */
  CHECK(progress_once(f.ep) == 0);      /* no pass, but the held send leaves */
  usleep(1000);
  CHECK(datagrams_at(fd2, m, 64) == 2 && m[0] == 400 && m[1] == 401);
  f.ep->progress_off = 0;
  atomic_store(&lib.neps, 2); /* another endpoint open: its waits would not flush ours */
  post_to(&f, c2, buf, sizeof(buf), 402);
  usleep(1000);
  CHECK(datagrams_at(fd2, m, 64) == 1 && m[0] == 402);
  atomic_store(&lib.neps, 1);
  lib.lane_hold = 0; /* MYRIXEN_LANE_HOLD=0: each leaves when posted */
  post_to(&f, c2, buf, sizeof(buf), 403);
  usleep(1000);
  CHECK(datagrams_at(fd2, m, 64) == 1 && m[0] == 403);
  atomic_store(&lib.neps, 0);
  close(fd2);
  teardown(&f);
  return 0;
}

/* --- a rendezvous' data ahead (lane_rndv.c) -------------------------------- */

#define AHEAD_FROM 0x5511 /* the peer's send: its cookie */

/* A receive of len bytes at buf, posted as mx_irecv posts one (it takes
 * any match): matched now if an unexpected message waits. */
static struct req *post_recv(struct fixture *f, uint8_t *buf, uint32_t len)
{
  struct req *r = req_new(f->ep, REQ_RECV);
  mx_segment_t seg = {buf, len};
  CHECK(r && req_set_segments(r, &seg, 1) == 0);
  struct req *u = match_find_unexp(&f->ep->unexp, 0, 0, NULL);
  if (u) {
    recv_matched(f->ep, r, u);
  } else {
    r->state = RS_POSTED;
    reqlist_push(&f->ep->posted, r);
  }
  return r;
}

/* The fixture, with large messages by lane and their data ahead, as
 * mx_init sets them by default. */
static void setup_ahead(struct fixture *f)
{
  setup(f);
  lib.lane_rndv_max = LANE_RNDV_MAX;
  lib.lane_rndv_ahead = LANE_RNDV_AHEAD;
}

static void teardown_ahead(struct fixture *f)
{
  teardown(f);
  lib.lane_rndv_max = lib.lane_rndv_ahead = 0; /* (as the other tests expect) */
}

/* The peer announces a rendezvous of total bytes with its data ahead. */
static void announce_ahead(struct fixture *f, uint32_t total)
{
  rndv_flags = MSG_F_AHEAD;
  send_rndv(f, f->c->lane, MSG_RNDV, AHEAD_FROM, 0x42, total, 0, NULL, 0);
  rndv_flags = 0;
}

/* The peer's data ahead, pieces of 1000 bytes from off to end. */
static void pieces_ahead(struct fixture *f, const uint8_t *data, uint32_t total, uint32_t off,
                         uint32_t end)
{
  for (; off < end; off += 1000) {
    uint32_t len = end - off < 1000 ? end - off : 1000;
    send_rndv(f, f->c->lane, MSG_LANE_AHEAD, AHEAD_FROM, 0, total, off, data + off, len);
  }
}

/* The CTS our receive sent the peer (lone acks passed over). */
static void expect_cts(struct fixture *f, uint64_t receive, uint32_t total, int have)
{
  struct forged_rndv p;
  usleep(1000);
  ssize_t k = recv_not_ack(f->peer, &p);
  CHECK(k == (ssize_t)(sizeof(p.h) + WIRE_DATA_OVERHEAD) && p.d.type == MSG_CTS &&
        p.d.cookie == AHEAD_FROM && p.d.match == receive && p.d.total == total &&
        !!(p.d.flags & MSG_F_AHEAD) == have);
}

/* A receive posted in time takes the data behind the announcement, in
 * order, only the pieces that name that announcement, and says it has
 * them; a shorter one takes what it holds.  One posted late finds them
 * dropped and counted, and asks for them again (the sender's part is the
 * next test). */
static int test_data_ahead_is_taken_by_a_receive_posted_in_time(void)
{
  struct fixture f;
  setup_ahead(&f);
  uint64_t *cnt = f.ep->counters;
  uint8_t want[4000], buf[4000] = {0}, shorter[2500] = {0};
  for (uint32_t i = 0; i < sizeof(want); i++)
    want[i] = (uint8_t)(i * 11 + 5);
  struct lane_peer *lp = f.c->lane;
  /* in time */
  struct req *r = post_recv(&f, buf, sizeof(buf));
  announce_ahead(&f, 4000);
  CHECK(r->state == RS_ACTIVE && r->lane_ahead && lane_ahead_to(lp) == req_cookie(r) &&
        lp->ahead_from == AHEAD_FROM);
  uint64_t bad = cnt[EPC_LANE_MALFORMED];
  /* another sender's; not the next bytes; another length; past the end */
  send_rndv(&f, lp, MSG_LANE_AHEAD, AHEAD_FROM + 1, 0, 4000, 0, want, 1000);
  send_rndv(&f, lp, MSG_LANE_AHEAD, AHEAD_FROM, 0, 4000, 1000, want + 1000, 1000);
  send_rndv(&f, lp, MSG_LANE_AHEAD, AHEAD_FROM, 0, 3999, 0, want, 1000);
  send_rndv(&f, lp, MSG_LANE_AHEAD, AHEAD_FROM, 0, 4000, 0, want, 1000);
  send_rndv(&f, lp, MSG_LANE_AHEAD, AHEAD_FROM, 0, 4000, 1000, want + 1000, 1000);
  send_rndv(&f, lp, MSG_LANE_AHEAD, AHEAD_FROM, 0, 4000, 3000, want, 1001);
  CHECK(cnt[EPC_LANE_MALFORMED] == bad + 4 && r->got == 2000 && r->state == RS_ACTIVE);
  /* as pieces asked for, under the receive's own cookie: not asked for */
  send_rndv(&f, lp, MSG_LANE_DATA, req_cookie(r), 0, 4000, 2000, want + 2000, 1000);
  CHECK(cnt[EPC_LANE_MALFORMED] == bad + 5 && r->got == 2000);
  pieces_ahead(&f, want, 4000, 2000, 4000);
  CHECK(r->state == RS_DONE && r->status.code == MX_STATUS_SUCCESS &&
        r->status.xfer_length == 4000 && memcmp(buf, want, sizeof(want)) == 0 &&
        cnt[EPC_LANE_AHEAD] == 1 && cnt[EPC_LANE_RNDV] == 1 && cnt[EPC_LANE_MALFORMED] == bad + 5 &&
        !lp->ahead_from && !lane_ahead_to(lp));
  expect_cts(&f, req_cookie(r), 4000, 1);
  /* nothing more of it */
  pieces_ahead(&f, want, 4000, 0, 1000);
  CHECK(cnt[EPC_LANE_MALFORMED] == bad + 6 && cnt[EPC_LANE_AHEAD_MISSED] == 0);
  /* a shorter receive */
  r = post_recv(&f, shorter, sizeof(shorter));
  announce_ahead(&f, 4000);
  pieces_ahead(&f, want, 4000, 0, 4000);
  CHECK(r->state == RS_DONE && r->status.code == MX_STATUS_TRUNCATED &&
        r->status.xfer_length == 2500 && memcmp(shorter, want, sizeof(shorter)) == 0 &&
        cnt[EPC_LANE_AHEAD] == 2 && cnt[EPC_LANE_MALFORMED] == bad + 6);
  expect_cts(&f, req_cookie(r), 2500, 1);
  /* too late: dropped and counted; the receive then asks for all of it */
  memset(buf, 0, sizeof(buf));
  uint32_t unexp = f.ep->unexp_count;
  announce_ahead(&f, 4000);
  CHECK(f.ep->unexp_count == unexp + 1 && !lane_ahead_to(lp));
  pieces_ahead(&f, want, 4000, 0, 4000);
  CHECK(cnt[EPC_LANE_AHEAD_MISSED] == 4000 && cnt[EPC_LANE_MALFORMED] == bad + 6);
  r = post_recv(&f, buf, sizeof(buf));
  CHECK(r->state == RS_ACTIVE && r->lane_data && !r->lane_ahead);
  expect_cts(&f, req_cookie(r), 4000, 0);
  for (uint32_t off = 0; off < 4000; off += 1000)
    send_rndv(&f, lp, MSG_LANE_DATA, req_cookie(r), 0, 4000, off, want + off, 1000);
  CHECK(r->state == RS_DONE && memcmp(buf, want, sizeof(want)) == 0 &&
        cnt[EPC_LANE_AHEAD] == 2 && cnt[EPC_LANE_RNDV] == 3 && cnt[EPC_LANE_MALFORMED] == bad + 6);
  /* its sender gives up while its data goes ahead: the receive ends;
   * a word naming another send ends nothing */
  r = post_recv(&f, buf, sizeof(buf));
  announce_ahead(&f, 4000);
  pieces_ahead(&f, want, 4000, 0, 1000);
  rndv_flags = MSG_F_AHEAD;
  send_rndv(&f, lp, MSG_NACK, AHEAD_FROM + 1, 0, 0, 0, NULL, 0);
  CHECK(r->state == RS_ACTIVE && cnt[EPC_LANE_MALFORMED] == bad + 7);
  send_rndv(&f, lp, MSG_NACK, AHEAD_FROM, 0, 0, 0, NULL, 0);
  rndv_flags = 0;
  CHECK(r->state == RS_DONE && r->status.code == MX_STATUS_ABORTED && !lane_ahead_to(lp));
  teardown_ahead(&f);
  return 0;
}

/* Our send goes ahead: the announcement, then its bytes under its own
 * cookie; the receiver's word that it has them ends it, a word of that
 * kind for a send that did not go ahead ends nothing; asked again, it
 * sends them again, to the receive that asked. */
static int test_a_send_goes_ahead_and_ends_on_the_receivers_word(void)
{
  struct fixture f;
  setup_ahead(&f);
  uint64_t *cnt = f.ep->counters;
  static uint8_t data[5000], big[LANE_RNDV_AHEAD + 1];
  for (uint32_t i = 0; i < sizeof(data); i++)
    data[i] = (uint8_t)(i * 3 + 1);
  struct req *r = send_req(&f, f.c, data, sizeof(data), MSG_RNDV);
  r->match = 0x77;
  lane_submit(f.ep, f.c, r);
  CHECK(r->state == RS_ACTIVE && r->lane_ahead && !r->lane_data);
  struct forged_rndv p;
  usleep(1000);
  ssize_t k = recv_not_ack(f.peer, &p);
  CHECK(k == (ssize_t)(sizeof(p.h) + WIRE_DATA_OVERHEAD) && p.d.type == MSG_RNDV &&
        (p.d.flags & MSG_F_AHEAD) && p.d.cookie == req_cookie(r) && p.d.total == sizeof(data));
  uint8_t got[5000];
  uint32_t n = 0;
  while (n < sizeof(data)) {
    k = recv_not_ack(f.peer, &p);
    CHECK(k > (ssize_t)(sizeof(p.h) + WIRE_DATA_OVERHEAD) && p.d.type == MSG_LANE_AHEAD &&
          p.d.cookie == req_cookie(r) && p.d.total == sizeof(data) && p.x.piece_off == n &&
          p.x.piece_len == k - sizeof(p.h) - WIRE_DATA_OVERHEAD);
    memcpy(got + n, p.data, p.x.piece_len);
    n += p.x.piece_len;
  }
  CHECK(memcmp(got, data, sizeof(data)) == 0);
  /* longer than the bound: announced alone, as before */
  struct req *longer = send_req(&f, f.c, big, sizeof(big), MSG_RNDV);
  lane_submit(f.ep, f.c, longer);
  usleep(1000);
  k = recv_not_ack(f.peer, &p);
  CHECK(k == (ssize_t)(sizeof(p.h) + WIRE_DATA_OVERHEAD) && p.d.type == MSG_RNDV &&
        !(p.d.flags & MSG_F_AHEAD) && !longer->lane_ahead && recv_not_ack(f.peer, &p) < 0);
  /* "I have them" for a send that did not go ahead: nothing */
  uint64_t bad = cnt[EPC_LANE_MALFORMED];
  rndv_flags = MSG_F_AHEAD;
  send_rndv(&f, f.c->lane, MSG_CTS, req_cookie(longer), 0x99, sizeof(big), 0, NULL, 0);
  CHECK(longer->state == RS_ACTIVE && cnt[EPC_LANE_MALFORMED] == bad + 1);
  /* ... for ours: it ends, with the length the receive took */
  send_rndv(&f, f.c->lane, MSG_CTS, req_cookie(r), 0x99, 4000, 0, NULL, 0);
  rndv_flags = 0;
  CHECK(r->state == RS_DONE && r->status.code == MX_STATUS_SUCCESS &&
        r->status.xfer_length == 4000 && cnt[EPC_LANE_MALFORMED] == bad + 1);
  /* a second send, whose data found no receive: asked again, it goes again */
  r = send_req(&f, f.c, data, sizeof(data), MSG_RNDV);
  lane_submit(f.ep, f.c, r);
  usleep(1000);
  while (recv_not_ack(f.peer, &p) >= 0)
    ;
  send_rndv(&f, f.c->lane, MSG_CTS, req_cookie(r), 0x98, sizeof(data), 0, NULL, 0);
  CHECK(r->lane_data && !r->lane_ahead && r->peer_cookie == 0x98 && r->pushed == sizeof(data));
  n = 0;
  while (n < sizeof(data)) {
    usleep(1000);
    k = recv_not_ack(f.peer, &p);
    CHECK(k > (ssize_t)(sizeof(p.h) + WIRE_DATA_OVERHEAD) && p.d.type == MSG_LANE_DATA &&
          p.d.cookie == 0x98 && p.x.piece_off == n);
    n += p.x.piece_len;
  }
  teardown_ahead(&f);
  return 0;
}

/* What a review found: a receive that takes nothing, or whose process
 * pulls large messages by the engines, does not take data ahead (its
 * word could not say it has them: the send waited for ever); a send whose
 * announcement is out does not time out on the backlog (its receive
 * would wait for ever); an announcement of nothing is no announcement of
 * data ahead; and what honest races bring is not counted as malformed. */
static int test_data_ahead_edges(void)
{
  struct fixture f;
  setup_ahead(&f);
  uint64_t *cnt = f.ep->counters;
  struct lane_peer *lp = f.c->lane;
  uint8_t want[4000] = {1}, buf[4000];
  /* the receive's side of the decision (lane_rndv_take_ahead) */
  struct msg m = {.type = MSG_RNDV, .flags = MSG_F_AHEAD | MSG_F_LANE, .cookie = AHEAD_FROM,
                  .total = 4000};
  struct req *r = req_new(f.ep, REQ_RECV);
  CHECK(r != NULL);
  r->conn = f.c;
  r->by_lane = 1;
  r->peer_cookie = AHEAD_FROM;
  lp->ahead_from = AHEAD_FROM;
  r->xfer = 0;
  CHECK(!lane_rndv_take_ahead(f.ep, r, &m)); /* takes nothing */
  r->xfer = 4000;
  lib.lane_rndv_max = 0;
  CHECK(!lane_rndv_take_ahead(f.ep, r, &m)); /* MYRIXEN_LANE_RNDV_MAX=0 */
  lib.lane_rndv_max = LANE_RNDV_MAX;
  f.c->dead = 1;
  CHECK(!lane_rndv_take_ahead(f.ep, r, &m)); /* our mx_disconnect */
  f.c->dead = 0;
  CHECK(lane_rndv_take_ahead(f.ep, r, &m) && r->lane_ahead && lane_ahead_to(lp) == req_cookie(r));
  req_free(f.ep, r);
  lp->ahead_from = 0; /* (its word goes at the next announcement) */
  /* the receive that took one ends (our mx_disconnect fails it): the
   * rest finds none */
  uint64_t bad = cnt[EPC_LANE_MALFORMED];
  r = post_recv(&f, buf, sizeof(buf));
  announce_ahead(&f, 4000);
  CHECK(r->lane_ahead && lane_ahead_to(lp) == req_cookie(r));
  req_complete(f.ep, r, MX_STATUS_ENDPOINT_CLOSED);
  pieces_ahead(&f, want, 4000, 0, 4000);
  CHECK(cnt[EPC_LANE_MALFORMED] == bad && cnt[EPC_LANE_AHEAD_MISSED] == 4000);
  /* its sender gives up an announcement no receive took: nothing to end */
  announce_ahead(&f, 4000);
  pieces_ahead(&f, want, 4000, 0, 1000);
  rndv_flags = MSG_F_AHEAD;
  send_rndv(&f, lp, MSG_NACK, AHEAD_FROM, 0, 0, 0, NULL, 0);
  rndv_flags = 0;
  CHECK(!lp->ahead_from && cnt[EPC_LANE_MALFORMED] == bad && cnt[EPC_LANE_AHEAD_MISSED] == 5000);
  /* an announcement of nothing (both kept unexpected: no receive comes) */
  announce_ahead(&f, 0);
  CHECK(!lp->ahead_from && f.ep->unexp_count == 2);
  /* our send, announced, its data not all out: no timeout takes it off */
  static uint8_t data[5000];
  struct req *s = send_req(&f, f.c, data, sizeof(data), MSG_RNDV);
  lane_rndv_went_ahead(s);
  s->deadline_ns = 1;
  FIFO_PUSH(&lp->bl_head, &lp->bl_tail, s, txnext);
  CHECK(lane_expire(f.ep, clock_now_ns()) == 0 && lp->bl_head == s && s->state != RS_DONE);
  s->lane_ahead = 0; /* (not yet announced: it may time out, as ever) */
  CHECK(lane_expire(f.ep, clock_now_ns()) == 1 && !lp->bl_head && s->state == RS_DONE &&
        s->status.code == MX_STATUS_TIMEOUT);
  teardown_ahead(&f);
  return 0;
}

static const struct harness_test tests[] = {
    {"lane_data_ahead_edges", test_data_ahead_edges},
    {"lane_data_ahead_is_taken_by_a_receive_posted_in_time",
     test_data_ahead_is_taken_by_a_receive_posted_in_time},
    {"lane_a_send_goes_ahead_and_ends_on_the_receivers_word",
     test_a_send_goes_ahead_and_ends_on_the_receivers_word},
    {"lane_a_well_formed_message_is_taken_from_its_peer",
     test_a_well_formed_message_is_taken_from_its_peer},
    {"lane_datagrams_not_from_the_vouched_lane_are_refused",
     test_datagrams_not_from_the_vouched_lane_are_refused},
    {"lane_malformed_descriptors_are_counted_and_skipped",
     test_malformed_descriptors_are_counted_and_skipped},
    {"lane_a_fragment_in_pieces_is_one_message", test_a_fragment_in_pieces_is_one_message},
    {"lane_pieces_must_agree_with_the_first", test_pieces_must_agree_with_the_first},
    {"lane_an_address_bound_again_leaves_its_old_peer",
     test_an_address_bound_again_leaves_its_old_peer},
    {"lane_a_lane_with_one_peer_is_connected_to_it", test_a_lane_with_one_peer_is_connected_to_it},
    {"lane_an_icmp_error_costs_a_connected_lane_nothing",
     test_an_icmp_error_costs_a_connected_lane_nothing},
    {"lane_a_peer_unbound_in_a_handler_is_freed_after_its_delivery",
     test_a_peer_unbound_in_a_handler_is_freed_after_its_delivery},
    {"lane_a_cts_is_taken_only_for_our_announced_rendezvous_to_that_peer",
     test_a_cts_is_taken_only_for_our_announced_rendezvous_to_that_peer},
    {"lane_rendezvous_pieces_fill_only_a_receive_that_asked_that_peer",
     test_rendezvous_pieces_fill_only_a_receive_that_asked_that_peer},
    {"lane_a_rendezvous_given_up_is_nacked_to_its_receiver",
     test_a_rendezvous_given_up_is_nacked_to_its_receiver},
    {"lane_a_closed_peers_last_ack_completes_what_it_took",
     test_a_closed_peers_last_ack_completes_what_it_took},
    {"lane_udp_gro_is_on_only_while_runs_come", test_udp_gro_is_on_only_while_runs_come},
    {"lane_a_run_of_a_smaller_mtu_read_without_gro_is_cut",
     test_a_run_of_a_smaller_mtu_read_without_gro_is_cut},
    {"lane_strangers_datagrams_do_not_move_udp_gro", test_strangers_datagrams_do_not_move_udp_gro},
    {"lane_a_burst_of_sends_leaves_together_at_the_next_pass",
     test_a_burst_of_sends_leaves_together_at_the_next_pass},
    {NULL, NULL},
};

int main(int argc, char **argv) { return harness_main(argc, argv, tests); }
