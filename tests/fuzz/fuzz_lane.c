/*
 * fuzz_lane.c - libFuzzer target: datagrams at a guest's lane, into the
 * library's real path (lane_datagram: the checks of docs/lanes.md, the
 * stream, the pieces' reassembly, the descriptor, delivery to the
 * unexpected queue), for an endpoint with one peer bound to its lane.
 *
 * The lane and the peer's socket are UDP sockets on loopback, in a network
 * namespace of the fuzzer's own: the lane's acks go to the peer's socket,
 * which nobody reads.  The input is a series of steps [op][len:2][bytes]:
 *   0 a datagram from the peer's address, exactly as given
 *   1 a datagram from the peer's address that the harness makes pass the
 *     framing: magic, version, length, the lane flag, both nics and both
 *     stream sessions, a sequence number near the next expected (the
 *     step's first byte), then the checksum; so that the fuzzer reaches
 *     the stream, the descriptor and the reassembly past them
 *   2 as 1, but from another socket of the peer's host
 *   3 the lane's timers, some milliseconds on (acks, resends)
 *   4 the peer bound again, in another incarnation (a new stream)
 *   5 as 1, then copies of it with the next sequence numbers, sent for
 *     real from the peer's socket as one GSO run (UDP_SEGMENT), the last
 *     one maybe cut shorter, and the lane read (lane_input: the GRO read
 *     and its split into packets); the lane's UDP_GRO on for the run, and
 *     off again before the read when the count's top bit says so (the
 *     run then read with no segment size: split by its first header)
 *   6 an unexpected handler from now on that binds the peer again while
 *     its message is delivered (the binding must outlive the delivery)
 *   7 a rendezvous' CTS, data piece, piece ahead, announcement or NACK
 *     (lane_rndv.c), maybe flagged MSG_F_AHEAD, naming one of the
 *     endpoint's rendezvous requests: a send to the peer (maybe one whose
 *     data went ahead), a receive that asked it by lane, and one that
 *     took the peer's announcement with data ahead (or a cookie near
 *     them), with the length, offset and piece from the input, framed as
 *     step 1; the lane then reads (what a CTS asked for goes out, from
 *     the send's buffer)
 * Nothing it sends may make the library read or write out of bounds, leak,
 * or deliver what its checks refuse.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/udp.h>
#include <sys/socket.h>

#include "../../src/common/clock.h"
#include "../../src/common/gso.h"
#include "../../src/common/lane_addr.h"
#include "../../src/common/wire.h"
#include "../../src/lib/lib.h"
#include "../../src/lib/base.h"
#include "../../src/lib/conn.h"
#include "../../src/lib/lane.h"
#include "../../src/lib/progress.h"
#include "../../src/lib/txq.h"
#include "fuzz.h"

#define MY_NIC 0x020000000001ull
#define PEER_NIC 0x020000000002ull
#define MY_EID 3
#define PEER_EID 5
#define MTU 1472
#define RNDV_BYTES 5000
#define PEER_AHEAD 0x5511       /* the peer's send whose data comes ahead: its cookie */

struct fixture {
  struct mx_endpoint *ep;
  struct conn *c;
  struct req *rsend, *rrecv;    /* a rendezvous sent to the peer, and one received by lane */
  struct req *rahead;           /* a receive that took the peer's announcement, data ahead */
  int peer, other;              /* the peer's lane, another socket of its host */
  struct sockaddr_storage peer_at, other_at, lane_at;
  uint32_t session;             /* the peer endpoint's incarnation, as bound */
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  fuzz_private_net();
  lib.hello.nic_id = MY_NIC;
  lib.medium_max = 32768;
  lib.small_max = 128;
  return 0;
}

static int loopback_socket(struct sockaddr_storage *at, int named)
{
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  memset(at, 0, sizeof(*at));
  struct sockaddr_in *a = (struct sockaddr_in *)at;
  a->sin_family = AF_INET;
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(*a);
  if (fd < 0 || (named ? lane_bind_named_port(fd, at, len)
                       : bind(fd, (struct sockaddr *)a, len) ||
                             getsockname(fd, (struct sockaddr *)a, &len)) < 0)
    abort();
  return fd;
}

static void bind_peer(struct fixture *f, uint32_t session)
{
  struct lane_addr a = {.mtu = MTU, .nonce = 0x5678 + session};
  if (lane_addr_from_sockaddr(&a, &f->peer_at) < 0)
    abort();
  f->c->session = session;
  f->session = session;
  if (lane_bind(f->ep, f->c, &a, session) < 0 || !f->c->lane)
    abort();
}

static void setup(struct fixture *f)
{
  memset(f, 0, sizeof(*f));
  struct mx_endpoint *ep = calloc(1, sizeof(*ep));
  if (!ep)
    abort();
  pthread_mutex_init(&ep->lock, NULL);
  ep->eid = MY_EID;
  ep->session = 9;
  ep->unexp_max = 64;
  struct ctl_open_reply rep = {.has_lane = 1, .lane = {.mtu = MTU, .family = 4, .nonce = 0x1234}};
  if (lane_open(ep, loopback_socket(&f->lane_at, 1), &rep, &progress_lane_io) < 0)
    abort();
  f->ep = ep;
  f->peer = loopback_socket(&f->peer_at, 0);
  f->other = loopback_socket(&f->other_at, 0);
  f->c = conn_get(ep, PEER_NIC, PEER_EID, 1);
  if (!f->c)
    abort();
  bind_peer(f, 77);
  /* step 7's: a large send announced to the peer, and a receive that asked
   * the peer for its data by lane (both of RNDV_BYTES) */
  static uint8_t sendbuf[RNDV_BYTES], recvbuf[RNDV_BYTES], aheadbuf[RNDV_BYTES];
  mx_segment_t sseg = {sendbuf, sizeof(sendbuf)}, rseg = {recvbuf, sizeof(recvbuf)},
               aseg = {aheadbuf, sizeof(aheadbuf)};
  f->rsend = req_new(ep, REQ_SEND);
  f->rrecv = req_new(ep, REQ_RECV);
  f->rahead = req_new(ep, REQ_RECV);
  if (!f->rsend || !f->rrecv || !f->rahead || req_set_segments(f->rsend, &sseg, 1) < 0 ||
      req_set_segments(f->rrecv, &rseg, 1) < 0 || req_set_segments(f->rahead, &aseg, 1) < 0)
    abort();
  f->rsend->type = f->rrecv->type = f->rahead->type = MSG_RNDV;
  f->rsend->state = f->rrecv->state = f->rahead->state = RS_ACTIVE;
  f->rsend->conn = f->rrecv->conn = f->rahead->conn = f->c;
  f->rrecv->xfer = f->rrecv->msg_len = RNDV_BYTES;
  f->rrecv->lane_data = 1;
  /* as lane_rndv_take_ahead leaves it (the receive a little shorter) */
  f->rahead->msg_len = RNDV_BYTES;
  f->rahead->xfer = RNDV_BYTES - 1000;
  f->rahead->peer_cookie = PEER_AHEAD;
  f->rahead->by_lane = f->rahead->lane_ahead = 1;
  struct msg have = {.type = MSG_CTS, .flags = MSG_F_AHEAD, .cookie = PEER_AHEAD,
                     .match = req_cookie(f->rahead), .total = (uint32_t)f->rahead->xfer,
                     .peer_eid = PEER_EID, .peer_nic = PEER_NIC};
  struct req *word = txq_ctl_req(ep, &have);
  if (!word)
    abort();
  word->conn = f->c;
  f->c->lane->ahead_from = PEER_AHEAD;
  f->c->lane->ahead_word = word;
}


static void teardown(struct fixture *f)
{
  lane_close(f->ep);
  close(f->peer);
  close(f->other);
  ep_free_requests(f->ep); /* (and the connections) */
  pthread_mutex_destroy(&f->ep->lock);
  free(f->ep);
}

/* Step 1 and 2's datagram: what the fuzzer gave, made to pass the framing
 * as the bound peer's stream would. */
static size_t fix_up(struct fixture *f, uint8_t *pkt, const struct fuzz_input *step)
{
  struct fuzz_input in = *step;
  uint8_t near = fuzz_byte(&in);
  size_t len = in.n > MTU ? MTU : in.n;
  if (len < sizeof(struct wire_hdr))
    len = sizeof(struct wire_hdr);
  memset(pkt, 0, len);
  memcpy(pkt, in.p, in.n < len ? in.n : len);
  struct wire_hdr h;
  memcpy(&h, pkt, sizeof(h));
  const struct rel_stream *s = f->c->lane ? &f->c->lane->rel : NULL;
  h.magic = WIRE_MAGIC;
  h.version = WIRE_VERSION;
  h.len = (uint16_t)(len - sizeof(h));
  h.flags = (uint16_t)((h.flags | WIRE_F_LANE) & ~WIRE_F_MAC);
  h.src_nic = PEER_NIC;
  h.dst_nic = MY_NIC;
  if (s) {
    h.src_session = s->peer_session;
    h.dst_session = s->my_session;
    h.seq = s->rcv_next + near % 8; /* the next, or a little ahead: held */
  }
  memcpy(pkt, &h, sizeof(h));
  wire_seal((struct wire_hdr *)pkt, (uint32_t)len);
  return len;
}

/* Step 5: the fixed-up packet, n times with the sequence numbers after
 * it, as one GSO run from the peer's socket; then the lane reads. */
static void gso_run_in(struct fixture *f, uint8_t *pkt, size_t len, uint32_t n, uint32_t cut,
                       int gro_off)
{
  static _Alignas(8) uint8_t run[GSO_MAX_BYTES];
  struct wire_hdr h;
  memcpy(&h, pkt, sizeof(h));
  n = n * len > sizeof(run) ? (uint32_t)(sizeof(run) / len) : n;
  for (uint32_t i = 0; i < n; i++) {
    /* sealed where it is aligned, then placed (a packet of odd length puts
     * the next one at an odd address, as the peer's kernel does) */
    ((struct wire_hdr *)pkt)->seq = h.seq + i;
    wire_seal((struct wire_hdr *)pkt, (uint32_t)len);
    memcpy(run + i * len, pkt, len);
  }
  size_t total = n * len - (n > 1 && cut < len ? cut : 0);
  struct iovec iov = {run, total};
  struct msghdr m = {.msg_name = &f->lane_at, .msg_namelen = sizeof(struct sockaddr_in),
                     .msg_iov = &iov, .msg_iovlen = 1};
  struct gso_ctl ctl;
  if (n > 1)
    gso_set_segment(&m, &ctl, (uint16_t)len);
  lane_gro(f->ep->lane, 1);
  if (sendmsg(f->peer, &m, 0) < 0)
    return;
  if (gro_off)
    lane_gro(f->ep->lane, 0);
  lane_input(f->ep, 0);
}

/* Step 7: a CTS, a data piece, a piece ahead, an announcement or a NACK
 * for one of the rendezvous requests (or a cookie near one), the step's
 * bytes its data, framed as step 1; then the lane reads, and sends what a
 * CTS asked for.  The step's first byte: bit 0 the send or the receive
 * that asked, bits 1-3 the type, bit 4 MSG_F_AHEAD, bit 5 our send went
 * ahead (a CTS may then say "I have them"). */
static void rndv_in(struct fixture *f, uint8_t *pkt, struct fuzz_input *step)
{
  static _Alignas(8) uint8_t body[1 + MTU];
  static const uint8_t types[8] = {MSG_LANE_DATA, MSG_CTS,  MSG_LANE_AHEAD, MSG_RNDV,
                                   MSG_NACK,      MSG_CTS,  MSG_LANE_AHEAD, MSG_LANE_DATA};
  uint8_t which = fuzz_byte(step), near = fuzz_byte(step), type = types[(which >> 1) & 7];
  struct req *r = which & 1 ? f->rrecv : f->rsend;
  uint32_t total = fuzz_u16(step), off = fuzz_u16(step);
  size_t room = MTU - sizeof(struct wire_hdr) - WIRE_DATA_OVERHEAD;
  size_t n = step->n > room ? room : step->n;
  uint64_t cookie = type == MSG_LANE_AHEAD || type == MSG_RNDV ? PEER_AHEAD
                    : type == MSG_NACK && (which & 0x10)       ? PEER_AHEAD
                                                               : req_cookie(r);
  if ((which & 0x20) && f->rsend->state == RS_ACTIVE && !f->rsend->lane_data)
    lane_rndv_went_ahead(f->rsend);
  struct wire_hdr h = {.type = WIRE_DATA, .flags = WIRE_F_RELIABLE};
  struct wire_desc d = {.type = type, .flags = which & 0x10 ? MSG_F_AHEAD : 0,
                        .len = (uint32_t)n, .total = total, .match = near,
                        .cookie = cookie + (near % 4 == 3 ? near : 0)};
  struct wire_data_ext x = {.src_eid = PEER_EID, .dst_eid = MY_EID, .piece_off = off,
                            .piece_len = (uint32_t)n, .src_session = f->session};
  body[0] = 0; /* (fix_up's first byte: the next sequence number) */
  memcpy(body + 1, &h, sizeof(h));
  memcpy(body + 1 + sizeof(h), &d, sizeof(d));
  memcpy(body + 1 + sizeof(h) + sizeof(d), &x, sizeof(x));
  memcpy(body + 1 + sizeof(h) + WIRE_DATA_OVERHEAD, step->p, n);
  struct fuzz_input framed = {body, 1 + sizeof(h) + WIRE_DATA_OVERHEAD + n};
  size_t len = fix_up(f, pkt, &framed);
  lane_datagram(f->ep, pkt, len, 0, &f->peer_at, clock_now_ns());
  lane_input(f->ep, 0);
}

/* Step 6's handler: a new incarnation of the peer while its message is
 * delivered (as mx_connect meets one, in the handler or in another thread). */
static struct fixture *handler_fixture;
static mx_unexp_handler_action_t rebind_in_handler(void *ctx, mx_endpoint_addr_t source,
                                                   uint64_t match, uint32_t len, void *data)
{
  (void)ctx, (void)source, (void)match, (void)len, (void)data;
  struct fixture *f = handler_fixture;
  pthread_mutex_lock(&f->ep->lock);
  lane_unbind(f->ep, f->c); /* (first, as the library does: its backlog ends with it) */
  req_fail_active(f->ep, f->c, MX_STATUS_ENDPOINT_CLOSED);
  bind_peer(f, f->session + 1);
  pthread_mutex_unlock(&f->ep->lock);
  return MX_RECV_CONTINUE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static _Alignas(8) uint8_t pkt[MTU + 64];
  struct fuzz_input in = {data, size}, step;
  struct fixture f;
  uint64_t now = clock_now_ns();
  setup(&f);
  pthread_mutex_lock(&f.ep->lock);
  for (int steps = 0; in.n && steps < 256 && !f.ep->dead; steps++) {
    uint8_t op = fuzz_step(&in, &step) % 8;
    size_t len;
    switch (op) {
    case 0:
      len = step.n > MTU + 8 ? MTU + 8 : step.n; /* a little past the MTU: refused */
      memcpy(pkt, step.p, len);
      lane_datagram(f.ep, pkt, len, 0, &f.peer_at, now);
      break;
    case 1:
    case 2:
      len = fix_up(&f, pkt, &step);
      lane_datagram(f.ep, pkt, len, 0, op == 1 ? &f.peer_at : &f.other_at, now);
      break;
    case 3:
      now += (uint64_t)(fuzz_byte(&step) + 1) * 1000000ull;
      lane_timers(f.ep, now);
      break;
    case 4:
      lane_unbind(f.ep, f.c);
      req_fail_active(f.ep, f.c, MX_STATUS_ENDPOINT_CLOSED);
      bind_peer(&f, f.session + 1);
      break;
    case 5: {
      uint8_t n = fuzz_byte(&step), cut = fuzz_byte(&step);
      len = fix_up(&f, pkt, &step);
      gso_run_in(&f, pkt, len, 1u + n % 8, cut, n & 0x80);
      break;
    }
    case 7:
      rndv_in(&f, pkt, &step);
      break;
    default:
      handler_fixture = &f;
      f.ep->unexp_handler = rebind_in_handler;
      break;
    }
  }
  pthread_mutex_unlock(&f.ep->lock);
  teardown(&f);
  return 0;
}
