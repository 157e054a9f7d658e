/*
 * lane.c - an endpoint's lane (lane.h, docs/lanes.md): its socket, the
 * peers bound to it, what goes out on their streams and what a datagram
 * must be before anything of it counts.
 *
 * A datagram is untrusted input, as a guest's ring is for the engine.  It
 * counts only when it comes from the exact address a backend vouched for,
 * names the nic and endpoint vouched for and the incarnations both sides
 * know, and passes the wire's checksum and the stream's order; a message's
 * source is stamped from the binding, never read from the packet.  Every
 * refusal is counted and none is answered.
 *
 * A lane with a single peer is connect()ed to it: the kernel then sends
 * without a route lookup each time and refuses, before we see it, what
 * comes from anywhere else (counted as the host's UDP NoPorts and answered
 * as a closed port is).  That is 0.2-0.5 us of each message on the
 * machines we measure, a third of what separates a lane from busy-polled
 * UDP.  With a second peer the socket is disconnected and the checks
 * here are the only ones.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/fifo.h"
#include "../common/gso.h"
#include "../common/lane_addr.h"
#include "../common/log.h"
#include "lib.h"
#include "base.h"
#include "txq.h"
#include "lane.h"

/* A number of the stream from endpoint incarnation `from` (its lane's
 * nonce from_nonce) to `to` (to_nonce), of kind salt: both sides know all
 * four (the engines' connect told them, and the nonces are the backends'
 * random ones), so each checks the other's stream session exactly, a
 * packet of an earlier incarnation of either endpoint is refused by its
 * session alone, and a sender that cannot see the lane's packets cannot
 * guess the sessions nor the first sequence numbers. */
static uint32_t lane_stream_number(uint32_t from, uint32_t from_nonce, uint32_t to,
                                   uint32_t to_nonce, uint64_t salt)
{
  uint64_t x = ((uint64_t)from << 32 | from_nonce) ^ salt;
  for (int i = 0; i < 2; i++) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x ^= (uint64_t)to << 32 | to_nonce;
  }
  x ^= x >> 29;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 32;
  return (uint32_t)x;
}
#define LANE_SALT_SESSION 0x6c616e6573657373ull /* "lanesess" */
#define LANE_SALT_SEQ 0x6c616e6573657120ull     /* "laneseq " */

/* The same address: family, IP and port (nothing else of a sockaddr). */
static int addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
  if (a->ss_family != b->ss_family)
    return 0;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
  return a->ss_family == AF_INET6 && x->sin6_port == y->sin6_port &&
         !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
}

int lane_open(struct mx_endpoint *ep, int fd, const struct ctl_open_reply *rep,
              const struct rel_io *io)
{
  struct lane *l = calloc(1, sizeof(*l));
  uint32_t mtu = rep->lane.mtu;
  if (mtu < 256 || mtu > WIRE_LANE_MAX_PACKET)
    mtu = 0; /* not what a backend says: no lane */
  /* a run a peer sent as one (GSO) is read as one (GRO): up to an IP
   * datagram's worth of packets a read (malloc'd, touched only as used) */
  if (l && mtu) {
    if ((l->gro_ok = gro_set(fd, 1)))
      l->gro = !gro_set(fd, 0); /* (on when runs come: lane_gro) */
    l->rx_cap = l->gro_ok ? 65536 : mtu;
    l->rxbuf = malloc((size_t)LANE_RX_BATCH * l->rx_cap);
  }
  if (!l || !mtu || !l->rxbuf ||
      (rep->fault.loss + rep->fault.dup + rep->fault.reorder + rep->fault.corrupt > 0 ||
       rep->fault.delay_us
           ? fault_setup(&l->fault, &rep->fault, FAULT_HELD_MAX / 8) < 0
           : 0)) {
    if (l)
      free(l->rxbuf);
    free(l);
    close(fd);
    return -1;
  }
  l->fd = fd;
  l->mtu = mtu;
  l->nonce = rep->lane.nonce;
  l->io = io;
  l->next_timer_ns = UINT64_MAX;
  ep->lane = l;
  return 0;
}

/* Connect the socket to the lane's only peer, or disconnect it when there
 * is none or more than one (lane.c's header).  A bound socket keeps its
 * address and port through both (the kernel's bind locks). */
static void lane_connect_sole(struct mx_endpoint *ep)
{
  struct lane *l = ep->lane;
  struct lane_peer *sole = l->npeers == 1 ? l->peers : NULL;
  if (sole == l->sole)
    return;
  lane_flush(ep); /* what lane_post gathered for the sole peer has no address */
  struct sockaddr none = {.sa_family = AF_UNSPEC};
  int r = sole ? connect(l->fd, (struct sockaddr *)&sole->addr, sole->alen)
               : connect(l->fd, &none, sizeof(none));
  if (r == 0 || !sole)
    l->sole = sole;
  else if (l->sole && connect(l->fd, &none, sizeof(none)) == 0)
    l->sole = NULL; /* (connect failed: still connected to the old one) */
}

static void tx_flush(struct mx_endpoint *ep);

static void peer_free(struct lane_peer *lp)
{
  struct lane *l = lp->ep->lane;
  if (l && l->tx.on)
    tx_flush(lp->ep); /* what lane_post gathered points into the window */
  rel_free(&lp->rel);
  free(lp->asm_buf);
  if (lp->ahead_word)
    req_free(lp->ep, lp->ahead_word); /* (a word unsaid: its receive ends with the peer) */
  free(lp);
}

void lane_close(struct mx_endpoint *ep)
{
  struct lane *l = ep->lane;
  if (!l)
    return;
  for (struct conn *c = ep->conns; c; c = c->next)
    c->lane = NULL;
  while (l->peers) {
    struct lane_peer *lp = l->peers;
    l->peers = lp->next;
    peer_free(lp);
  }
  fault_free(&l->fault);
  close(l->fd);
  free(l->rxbuf);
  free(l);
  ep->lane = NULL;
}

/* Fail the sends waiting for lp's window. */
static void backlog_fail(struct mx_endpoint *ep, struct lane_peer *lp, mx_status_code_t code)
{
  txq_backlog_fail(ep, &lp->bl_head, &lp->bl_tail, code);
}

void lane_unbind(struct mx_endpoint *ep, struct conn *c)
{
  struct lane_peer *lp = c->lane;
  if (!lp)
    return;
  for (struct lane_peer **pp = &ep->lane->peers; *pp; pp = &(*pp)->next)
    if (*pp == lp) {
      *pp = lp->next;
      break;
    }
  ep->lane->npeers--;
  lane_connect_sole(ep);
  backlog_fail(ep, lp, MX_STATUS_ENDPOINT_CLOSED);
  c->lane = NULL;
  if (c->path == PATH_LANE)
    c->path = PATH_NONE;
  /* Its packet is being delivered (an unexpected handler, or another
   * thread's mx_connect while the handler runs with the lock dropped, met
   * a new incarnation of this peer): the delivery frees it when it
   * returns, and takes nothing more of its stream. */
  if (lp == ep->lane->delivering)
    lp->doomed = 1;
  else
    peer_free(lp);
}

int lane_bind(struct mx_endpoint *ep, struct conn *c, const struct lane_addr *a,
              uint32_t session)
{
  struct lane *l = ep->lane;
  struct sockaddr_storage ss;
  socklen_t alen;
  if (!l || !session || lane_addr_to_sockaddr(a, &ss, &alen) < 0)
    return -1;
  struct lane_peer *lp = c->lane;
  if (lp && lp->session == session && addr_equal(&lp->addr, &ss))
    return 0; /* connected again: the same stream goes on */
  /* Another incarnation of the peer, or its lane elsewhere: the old
   * stream goes (its caller failed what was in progress with it). */
  lane_unbind(ep, c);
  /* An address now another endpoint's (its port reused after a close):
   * the old binding goes, and what was in progress with that endpoint
   * fails; nothing of the new endpoint's counts as the old's. */
  for (struct lane_peer *o = l->peers, *nx; o; o = nx) {
    nx = o->next;
    if (addr_equal(&o->addr, &ss)) {
      struct conn *oc = o->conn;
      lane_unbind(ep, oc); /* (first: a send on its backlog ends with it, then the rest) */
      req_fail_active(ep, oc, MX_STATUS_ENDPOINT_CLOSED);
    }
  }
  if (!(lp = calloc(1, sizeof(*lp))))
    return -1;
  lp->ep = ep;
  lp->conn = c;
  lp->next = l->peers;
  l->peers = lp;
  l->npeers++;
  c->lane = lp;
  lp->addr = ss;
  lp->alen = alen;
  lp->nic = c->nic;
  lp->eid = c->eid;
  lp->session = session;
  uint32_t mtu = a->mtu < l->mtu ? a->mtu : l->mtu;
  uint32_t mine = l->nonce, theirs = a->nonce, window = LANE_WINDOW;
  if (mtu < 256)
    mtu = 256;
  while (window > LANE_WINDOW_MIN && (uint64_t)window * mtu > LANE_WINDOW_BYTES)
    window /= 2; /* (both sides agree: the same MTU, the smaller of the two lanes') */
  rel_init(&lp->rel, l->io, lp, lib.hello.nic_id, c->nic, mtu, window,
           LANE_GIVE_UP_NS,
           lane_stream_number(ep->session, mine, session, theirs, LANE_SALT_SESSION) | 1);
  lp->rel.peer_session =
      lane_stream_number(session, theirs, ep->session, mine, LANE_SALT_SESSION) | 1;
  rel_start_at(&lp->rel, lane_stream_number(ep->session, mine, session, theirs, LANE_SALT_SEQ),
               lane_stream_number(session, theirs, ep->session, mine, LANE_SALT_SEQ));
  lp->rel.ack_delay_ns = LANE_ACK_DELAY_NS;
  lp->rel.ack_every = window / LANE_ACKS_A_WINDOW;
  lane_connect_sole(ep);
  return 0;
}

/* --- out ---------------------------------------------------------------- */

/* An error a connected socket reports from an ICMP message (whoever sent
 * it: only the addresses it quotes must match, and a connected lane's are
 * no secret on its host).  The failing call has taken it: the call is
 * tried again at once, and the error counted, not taken for a full socket
 * (a review slowed a stream by half with 5,000 forged ICMP messages a
 * second when these failed the send). */
static int lane_icmp_error(struct mx_endpoint *ep, int err)
{
  int icmp = err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH ||
             err == EMSGSIZE || err == EHOSTDOWN || err == ENOPROTOOPT;
  ep->counters[EPC_LANE_ICMP] += (uint64_t)icmp;
  return icmp;
}

static int lane_xmit(void *ctx, const void *to, size_t tolen, const void *pkt, size_t len,
                     int flags)
{
  struct mx_endpoint *ep = ctx;
  struct lane *l = ep->lane;
  (void)flags;
  /* to the peer the socket is connected to: no address, no route lookup
   * (a packet the fault layer held has its own copy of the address) */
  ssize_t n;
  int tries = 0;
  do
    n = !to || (l->sole && to == &l->sole->addr)
            ? send(l->fd, pkt, len, MSG_DONTWAIT)
            : sendto(l->fd, pkt, len, MSG_DONTWAIT, to, (socklen_t)tolen);
  while (n < 0 && tries++ == 0 && lane_icmp_error(ep, errno));
  if (n < 0) /* a full socket buffer: the stream resends it */
    ep->counters[EPC_LANE_TX_ERRORS]++;
  else
    ep->counters[EPC_LANE_TX]++;
  return 0;
}

/* Packets i and j of the gathered send go to the same place. */
static int tx_same(const void *ctx, uint32_t i, uint32_t j)
{
  const struct lane *l = ctx;
  return l->tx.hdr[i].msg_name == l->tx.hdr[j].msg_name;
}

/* The packets gathered (lane_link_send) leave in one sendmmsg, runs of
 * one size as one GSO message each (common/gso.h: a medium fragment's
 * pieces cross the stack as one buffer); one alone by the plain send.
 * What the socket does not take is counted and resent by its stream, as
 * a single send's is. */
static void tx_flush(struct mx_endpoint *ep)
{
  struct lane *l = ep->lane;
  uint32_t n = l->tx.n, nmsg = 0, sent = 0, count[LANE_TX_BATCH];
  struct mmsghdr mm[LANE_TX_BATCH];
  struct gso_ctl ctl[LANE_TX_BATCH];
  l->tx.on = 0;
  l->tx.n = 0;
  if (l->tx.held) { /* held since lane_post: sent now, not then */
    uint64_t now = clock_now_ns();
    l->tx.held = 0;
    for (struct lane_peer *lp = l->peers; lp; lp = lp->next)
      if (lp->held) {
        rel_sent_at(&lp->rel, lp->held_from, now);
        lp->held = 0;
      }
  }
  if (n == 1) {
    struct msghdr *m = &l->tx.hdr[0];
    lane_xmit(ep, m->msg_name, m->msg_namelen, m->msg_iov->iov_base, m->msg_iov->iov_len, 0);
    return;
  }
  for (uint32_t i = 0; i < n; i += count[nmsg++]) {
    count[nmsg] = l->no_gso ? 1 : gso_run(l->tx.iov, i, n, tx_same, l);
    mm[nmsg] = (struct mmsghdr){.msg_hdr = l->tx.hdr[i]};
    mm[nmsg].msg_hdr.msg_iovlen = count[nmsg]; /* (the run's iovecs follow each other) */
    if (count[nmsg] > 1)
      gso_set_segment(&mm[nmsg].msg_hdr, &ctl[nmsg], (uint16_t)l->tx.iov[i].iov_len);
  }
  for (uint32_t m = 0, retried = nmsg; m < nmsg;) {
    int k = sendmmsg(l->fd, mm + m, nmsg - m, MSG_DONTWAIT);
    int no_gso = k <= 0 && count[m] > 1 && gso_unsupported(errno);
    if (k <= 0 && !no_gso && retried != m && lane_icmp_error(ep, errno)) {
      retried = m; /* (an ICMP error taken: once more, at once) */
      continue;
    }
    if (k > 0) {
      if ((uint32_t)k > nmsg - m)
        k = (int)(nmsg - m); /* (never more than asked: the analyzer cannot know) */
      for (int x = 0; x < k; x++) {
        uint32_t c = count[m + (uint32_t)x];
        sent += c;
        ep->counters[EPC_LANE_TX_RUNS] += c > 1 ? c : 0;
      }
      m += (uint32_t)k;
      continue;
    }
    if (no_gso) {
      l->no_gso = 1; /* this kernel or route cannot segment: one by one from now on */
      const struct iovec *v = mm[m].msg_hdr.msg_iov;
      for (uint32_t x = 0; x < count[m]; x++)
        lane_xmit(ep, mm[m].msg_hdr.msg_name, mm[m].msg_hdr.msg_namelen, v[x].iov_base,
                  v[x].iov_len, 0);
    } else {
      ep->counters[EPC_LANE_TX_ERRORS] += count[m]; /* the socket is full */
    }
    m++;
  }
  ep->counters[EPC_LANE_TX] += sent;
}

/* Gather the packets of one send (stable: window slots, which stay until
 * acknowledged) for one sendmmsg.  A full batch leaves first, so that the
 * packets keep their order (a fragment at the smallest MTU is 57).  With
 * faults to inject, what the fault layer does not take (fault_pass: it
 * loses, corrupts, duplicates or holds the rest) is gathered as ever.
 * 1: gathered or taken. */
static int tx_gather(struct mx_endpoint *ep, struct lane_peer *lp, void *buf, uint32_t len,
                     uint64_t now)
{
  struct lane *l = ep->lane;
  if (!l->tx.on)
    return 0;
  if (l->fault.on && !fault_pass(&l->fault, lane_xmit, ep, &lp->addr, lp->alen, buf, len, now))
    return 1;
  if (l->tx.n == LANE_TX_BATCH) {
    tx_flush(ep);
    l->tx.on = 1;
  }
  uint32_t i = l->tx.n++;
  l->tx.iov[i] = (struct iovec){buf, len};
  int sole = l->sole == lp; /* connected to it: no address */
  l->tx.hdr[i] = (struct msghdr){.msg_name = sole ? NULL : &lp->addr,
                                        .msg_namelen = sole ? 0 : lp->alen,
                                        .msg_iov = &l->tx.iov[i], .msg_iovlen = 1};
  return 1;
}

void lane_link_send(void *ctx, struct rel_stream *s, void *buf, uint32_t len, int stable,
                    uint64_t now)
{
  struct lane_peer *lp = ctx;
  struct lane *l = lp->ep->lane;
  struct wire_hdr *h = buf;
  (void)s;
  h->flags |= WIRE_F_LANE;
  wire_seal(h, len);
  if (!stable || !tx_gather(lp->ep, lp, buf, len, now))
    fault_send(&l->fault, lane_xmit, lp->ep, &lp->addr, lp->alen, buf, len, now, 0);
  if (l->fault.nheld)
    l->next_timer_ns = 0; /* its held packets go out at the next pass's timers */
}

void lane_link_give_up(void *ctx, struct rel_stream *s)
{
  struct lane_peer *lp = ctx;
  /* A receiver that computes for a minute takes no packets: that is flow
   * control.  A dead one is the engines' to report (MSG_PEER_GONE). */
  s->last_ack_ns = s->io->now(s->ctx);
  lp->ep->counters[EPC_LANE_SILENT]++;
}

void lane_link_keep(void *ctx, struct rel_stream *s)
{
  (void)ctx;
  (void)s; /* pieces are copied out as they come: nothing points into the buffer */
}

uint64_t lane_link_now(void *ctx)
{
  (void)ctx;
  return clock_now_ns();
}

/* Packets r still needs: its descriptor, or its next fragment's pieces. */
static uint32_t pieces_of(const struct req *r, uint32_t piece_max, uint32_t *flen)
{
  *flen = 0;
  if (r->type == MSG_RNDV)
    return 1;
  uint64_t left = r->len - r->pushed;
  *flen = (uint32_t)(r->type == MSG_SMALL ? r->len : left < EAGER_SIZE ? left : EAGER_SIZE);
  return *flen ? (*flen + piece_max - 1) / piece_max : 1;
}

/* A descriptor with no data (a rendezvous' CTS, lane_rndv.c) as one packet:
 * 1 sent, 0 no room yet. */
static int emit_ctl(struct mx_endpoint *ep, struct lane_peer *lp, const struct msg *m)
{
  struct rel_stream *s = &lp->rel;
  struct wire_desc desc;
  struct wire_data_ext x = {.src_eid = ep->eid, .dst_eid = lp->eid, .src_session = ep->session};
  uint32_t cap;
  uint8_t *p = rel_room(s) ? rel_payload(s, 0, &cap) : NULL;
  if (!p)
    return 0;
  wire_desc_from_msg(&desc, m);
  memcpy(p, &desc, WIRE_DATA_HDR);
  memcpy(p + WIRE_DATA_HDR, &x, sizeof(x));
  rel_commit(s, WIRE_DATA, (uint32_t)WIRE_DATA_OVERHEAD, clock_now_ns());
  return 1;
}

/* Emit what fits of r into lp's window: 1 all of it, 0 not yet. */
static int emit_pieces(struct mx_endpoint *ep, struct lane_peer *lp, struct req *r)
{
  if (r->kind == REQ_CTL)
    return emit_ctl(ep, lp, r->ctl);
  if (r->lane_data || r->lane_ahead)
    return lane_rndv_emit(ep, lp, r); /* a rendezvous' data, asked for by lane, or ahead */
  struct rel_stream *s = &lp->rel;
  uint32_t piece_max = wire_piece_max(s->mtu), flen, cap;
  uint64_t now = clock_now_ns();
  struct msg m;
  struct wire_desc desc;
  struct wire_data_ext x = {.src_eid = ep->eid, .dst_eid = lp->eid, .src_session = ep->session};
  int ahead = lane_rndv_goes_ahead(r);
  do {
    uint32_t pieces = pieces_of(r, piece_max, &flen);
    if (rel_room(s) < pieces)
      return 0;
    txq_header(&m, r, r->type);
    m.len = flen;
    if (r->type == MSG_FRAG)
      m.frag = (uint16_t)(r->pushed / EAGER_SIZE);
    if (r->type == MSG_RNDV) {
      m.grant = r->grant;
      m.grant2 = r->has_imm ? r->imm : 0;
      if (ahead)
        m.flags |= MSG_F_AHEAD;
    }
    wire_desc_from_msg(&desc, &m);
    int last_of_msg = r->type != MSG_FRAG || r->pushed + flen >= r->len;
    struct rel_pkt *k = NULL;
    for (uint32_t i = 0; i < pieces; i++) {
      uint8_t *p = rel_payload(s, 0, &cap);
      if (!p)
        return 0; /* no memory for the window: tried again at the next pass */
      x.piece_off = i * piece_max;
      x.piece_len = flen - x.piece_off < piece_max ? flen - x.piece_off : piece_max;
      memcpy(p, &desc, WIRE_DATA_HDR);
      memcpy(p + WIRE_DATA_HDR, &x, sizeof(x));
      seg_gather(r->segs, r->nseg, r->pushed + x.piece_off, p + WIRE_DATA_OVERHEAD,
                 x.piece_len);
      k = rel_commit(s, WIRE_DATA, (uint32_t)WIRE_DATA_OVERHEAD + x.piece_len, now);
    }
    if (k && last_of_msg && (m.flags & MSG_F_ACKREQ)) {
      k->noted = 1; /* the ack completes the send (progress.c, lane_io.acked) */
      k->note = (struct rel_note){.total = (uint32_t)r->len, .peer_eid = lp->eid,
                                  .cookie = m.cookie};
    }
    r->pushed += flen;
  } while (r->type == MSG_FRAG && r->pushed < r->len);
  int done = 1;
  if (ahead) {
    lane_rndv_went_ahead(r); /* its data right behind it, in this pass or the next */
    done = lane_rndv_emit(ep, lp, r);
  }
  if (r->type == MSG_RNDV && r->len > lib.lane_rndv_max)
    /* Its data goes through the engines (too long to go by lane,
     * lane_rndv.c): ours is to answer the receiver's pull a round trip
     * from now, and an engine that has nothing in flight sleeps, a
     * wake-up away (tens of us here).  Woken now, it is yielding, not
     * asleep, when the pull comes (a 1 MiB stream went at 0.84x of TCP's
     * without this, 1.03x on the engine path). */
  {
    lib_kick(lib.engine_doorbell);
    ep->engine_work_until = now + ENGINE_WORK_YIELD_NS;
  }
  uint64_t t = rel_next_timer(s);
  if (t < ep->lane->next_timer_ns)
    ep->lane->next_timer_ns = t;
  return done;
}

/* emit_pieces, its packets gathered into one sendmmsg (a fragment's
 * pieces were a sendto each: 7 syscalls for 8 KiB at MTU 1500); held for
 * the next ones of a burst when hold (lane_post). */
static int emit(struct mx_endpoint *ep, struct lane_peer *lp, struct req *r, int hold)
{
  ep->lane->tx.on = 1;
  int done = emit_pieces(ep, lp, r);
  if (!done || !hold)
    tx_flush(ep);
  return done;
}

static void submit(struct mx_endpoint *ep, struct conn *c, struct req *r, int hold)
{
  struct lane_peer *lp = c->lane;
  if (!lp->bl_head && emit(ep, lp, r, hold)) {
    txq_emitted(ep, r);
    return;
  }
  ep->counters[EPC_BACKLOGGED]++;
  FIFO_PUSH(&lp->bl_head, &lp->bl_tail, r, txnext);
}

void lane_submit(struct mx_endpoint *ep, struct conn *c, struct req *r)
{
  submit(ep, c, r, 0);
}

/* Streams of small messages went a sendto each, 5 us a message here
 * against 1.6-2.8 through the engines, which batch a round's packets. */
void lane_post(struct mx_endpoint *ep, struct conn *c, struct req *r)
{
  struct lane_peer *lp = c->lane;
  int hold = lib.lane_hold && rel_busy(&lp->rel) && !ep->lane->delivering &&
             atomic_load_explicit(&lib.neps, memory_order_relaxed) == 1;
  if (hold && !lp->held) {
    lp->held = 1;
    lp->held_from = lp->rel.snd_next;
    ep->lane->tx.held = 1;
  }
  submit(ep, c, r, hold);
}

void lane_flush(struct mx_endpoint *ep)
{
  if (ep->lane && ep->lane->tx.on)
    tx_flush(ep);
}

void lane_submit_ctl(struct mx_endpoint *ep, struct conn *c, struct req *r)
{
  struct lane_peer *lp = c->lane;
  if (ep->lane->delivering) {
    /* During a delivery the stream has not yet counted the packet being
     * delivered: sent now, this would not acknowledge it, and a lone ack
     * would follow (a syscall on the path of a rendezvous).  Sent after
     * the read's batch (lane_input), it does. */
    FIFO_PUSH(&lp->bl_head, &lp->bl_tail, r, txnext);
    if (ep->lane->next_timer_ns > clock_now_ns())
      ep->lane->next_timer_ns = clock_now_ns();
    return;
  }
  lane_submit(ep, c, r);
}

/* Sends that waited for room, in order. */
static int drain(struct mx_endpoint *ep, struct lane_peer *lp)
{
  int n = 0;
  while (lp->bl_head && emit(ep, lp, lp->bl_head, 0)) {
    struct req *r = lp->bl_head;
    FIFO_POP(&lp->bl_head, &lp->bl_tail, txnext);
    txq_emitted(ep, r);
    n++;
  }
  return n;
}

void lane_fail(struct mx_endpoint *ep, struct conn *c, mx_status_code_t code)
{
  /* Only what waits to go: the stream stays, acking and taking what the
   * peer sends (mx_disconnect is ours alone; the peer may go on), until the
   * engines say the peer is gone (lane_unbind). */
  struct lane_peer *lp = c->lane;
  if (!lp)
    return;
  /* A send whose data a receive asked for by lane, not all of it gone:
   * that receive is told the rest will not come (lane_rndv.c), once the
   * window has room, as a pull the engines cannot serve tells it. */
  struct req *nacks = NULL, **last = &nacks;
  for (struct req *r = lp->bl_head; r; r = r->txnext)
    if (r->kind == REQ_SEND && (r->lane_data || r->lane_ahead) &&
        (*last = r->lane_data ? lane_rndv_nack(ep, c, r->peer_cookie, 0)
                              : lane_rndv_nack(ep, c, req_cookie(r), 1)))
      last = &(*last)->txnext;
  *last = NULL;
  backlog_fail(ep, lp, code);
  for (struct req *n = nacks, *nx; n; n = nx) {
    nx = n->txnext;
    lane_submit(ep, c, n);
  }
}

int lane_expire(struct mx_endpoint *ep, uint64_t now)
{
  int n = 0;
  for (struct lane_peer *lp = ep->lane ? ep->lane->peers : NULL; lp; lp = lp->next)
    n += txq_backlog_expire(ep, &lp->bl_head, &lp->bl_tail, now);
  return n;
}

/* --- timers ------------------------------------------------------------- */

int lane_timers(struct mx_endpoint *ep, uint64_t now)
{
  struct lane *l = ep->lane;
  if (!l || now < l->next_timer_ns)
    return 0;
  int work = l->fault.nheld ? fault_flush(&l->fault, lane_xmit, ep, now) : 0;
  uint64_t next = l->fault.nheld ? now : UINT64_MAX;
  for (struct lane_peer *lp = l->peers; lp; lp = lp->next) {
    uint64_t before = lp->rel.retransmits;
    work += rel_timers(&lp->rel);
    ep->counters[EPC_LANE_RETRANSMITS] += lp->rel.retransmits - before;
    work += drain(ep, lp);
    uint64_t t = lp->bl_head ? now : rel_next_timer(&lp->rel);
    next = t < next ? t : next;
  }
  l->next_timer_ns = next;
  return work;
}

void lane_flush_acks(struct mx_endpoint *ep)
{
  lane_flush(ep);
  for (struct lane_peer *lp = ep->lane ? ep->lane->peers : NULL; lp; lp = lp->next)
    if (lp->rel.ack_due_ns)
      rel_send_ack(&lp->rel);
}

uint32_t lane_last_acks(const struct mx_endpoint *ep, struct ctl_lane_last_ack *out,
                        uint32_t max)
{
  uint32_t n = 0;
  for (struct lane_peer *lp = ep->lane ? ep->lane->peers : NULL; lp && n < max; lp = lp->next)
    out[n++] = (struct ctl_lane_last_ack){
        .nic = lp->nic, .eid = lp->eid, .session = lp->session, .ack = lp->rel.rcv_next};
  return n;
}

void lane_last_ack(struct mx_endpoint *ep, struct conn *c, uint32_t session, uint32_t ack)
{
  if (!c->lane || !session || session != c->lane->session)
    return; /* (another incarnation's stream) */
  uint32_t una = c->lane->rel.snd_una;
  rel_take_ack(&c->lane->rel, ack);
  ep->counters[EPC_LANE_LAST_ACKED] += c->lane->rel.snd_una - una;
}

uint64_t lane_next_timer(const struct mx_endpoint *ep)
{
  return ep->lane ? ep->lane->next_timer_ns : UINT64_MAX;
}

int lane_busy(const struct mx_endpoint *ep)
{
  if (ep->lane && clock_now_ns() - ep->lane->last_rx_ns < LANE_CLOSE_QUIET_NS)
    return 1;
  for (struct lane_peer *lp = ep->lane ? ep->lane->peers : NULL; lp; lp = lp->next)
    if (lp->bl_head || rel_busy(&lp->rel))
      return 1;
  return 0;
}

/* --- in ----------------------------------------------------------------- */

static struct lane_peer *peer_at(struct lane *l, const struct sockaddr_storage *from)
{
  for (struct lane_peer *lp = l->peers; lp; lp = lp->next)
    if (addr_equal(&lp->addr, from))
      return lp;
  return NULL;
}

void lane_datagram(struct mx_endpoint *ep, const uint8_t *pkt, size_t len, int truncated,
                   const struct sockaddr_storage *from, uint64_t now)
{
  struct lane *l = ep->lane;
  struct wire_hdr h;
  struct lane_peer *lp;
  if (truncated || len < sizeof(h) || len > l->mtu || wire_check(pkt, len) < 0) {
    ep->counters[EPC_LANE_REFUSED]++; /* cut, or not a packet, or its checksum fails */
    return;
  }
  memcpy(&h, pkt, sizeof(h));
  int kind_ok = (h.flags & WIRE_F_LANE) && !(h.flags & WIRE_F_MAC) &&
                (h.type == WIRE_ACK || (h.type == WIRE_DATA && (h.flags & WIRE_F_RELIABLE)));
  if (!kind_ok || !(lp = peer_at(l, from)) || h.src_nic != lp->nic ||
      h.dst_nic != lib.hello.nic_id || h.src_session != lp->rel.peer_session ||
      h.dst_session != lp->rel.my_session) {
    ep->counters[EPC_LANE_REFUSED]++; /* not from a lane we know, or not as it knows us */
    return;
  }
  ep->counters[EPC_LANE_RX]++;
  l->last_rx_ns = now;
  l->delivering = lp;
  rel_input(&lp->rel, &h, pkt + sizeof(h), now);
  l->delivering = NULL;
  if (lp->doomed) {
    peer_free(lp); /* unbound meanwhile (lane_unbind) */
    return;
  }
  uint64_t t = lp->bl_head ? now : rel_next_timer(&lp->rel); /* an ack due, room came */
  if (t < l->next_timer_ns)
    l->next_timer_ns = t;
}

/* Read up to want datagrams: recvmmsg for a batch, recvmsg for one (a
 * ping-pong's every read, on the path of each small message: 0.1-0.2 us
 * less than a recvmmsg of one here).  How many, or -1. */
static int lane_read(int fd, struct mmsghdr *mm, uint32_t want)
{
  if (want > 1)
    return recvmmsg(fd, mm, want, MSG_DONTWAIT, NULL);
  ssize_t r = recvmsg(fd, &mm[0].msg_hdr, MSG_DONTWAIT);
  if (r < 0)
    return -1;
  mm[0].msg_len = (unsigned)r;
  return 1;
}

void lane_gro(struct lane *l, int on)
{
  if (l->gro_ok && l->gro != on && gro_set(l->fd, on))
    l->gro = on;
  l->lone_reads = 0;
}

/* The segment size of a run read as one buffer: what the kernel says (the
 * control of UDP_GRO), or, with no word from the kernel (a run queued
 * before UDP_GRO went off), the first packet's own length when the buffer
 * is longer (a lane packet has nothing past its length; and a run of the
 * peer's smaller MTU may be no longer than ours, so the buffer's length
 * alone does not tell): a wrong one only cuts packets that then fail
 * their checks, counted.  0: one packet. */
static uint32_t run_segment(const struct lane *l, struct msghdr *h, const uint8_t *p,
                            uint32_t len)
{
  uint32_t seg = l->gro_ok ? gro_segment(h) : 0;
  if (!seg && len > sizeof(struct wire_hdr)) {
    struct wire_hdr w;
    memcpy(&w, p, sizeof(w));
    if (sizeof(w) + w.len < len)
      seg = (uint32_t)sizeof(w) + w.len;
  }
  return seg;
}

int lane_input(struct mx_endpoint *ep, int idle_too)
{
  struct lane *l = ep->lane;
  struct mmsghdr mm[LANE_RX_BATCH];
  struct iovec iov[LANE_RX_BATCH];
  struct sockaddr_storage from[LANE_RX_BATCH];
  union gro_ctl ctl[LANE_RX_BATCH];
  int work = 0;
  /* With no peer bound, nothing is for us: the socket is read (what came
   * refused and counted) only when asked, not in every pass (a syscall a
   * pass for an endpoint that never leaves its host), and it is not armed
   * for a sleep.  A few batches a pass at most: a flood must not keep the
   * pass from the rest. */
  if (!l || (!l->npeers && !idle_too))
    return 0;
  lane_flush(ep); /* a burst's sends (lane_post) before we read */
  for (int batches = 0; batches < LANE_RX_PASS_BATCHES; batches++) {
    uint32_t want = l->rx_batch ? l->rx_batch : 1;
    for (uint32_t i = 0; i < want; i++) {
      iov[i] = (struct iovec){l->rxbuf + (size_t)i * l->rx_cap, l->rx_cap};
      mm[i].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_namelen = sizeof(from[i]),
                                      .msg_iov = &iov[i], .msg_iovlen = 1,
                                      .msg_control = l->gro_ok ? ctl[i].buf : NULL,
                                      .msg_controllen = l->gro_ok ? sizeof(ctl[i].buf) : 0};
      mm[i].msg_len = 0;
    }
    int n = lane_read(l->fd, mm, want);
    if (n < 0 && lane_icmp_error(ep, errno))
      n = lane_read(l->fd, mm, want); /* (the error taken: read on) */
    /* As many as came last time, doubled while they fill it: a ping-pong
     * reads one at a time (a longer batch costs the kernel a look for the
     * next one, 0.1 us here), a stream up to LANE_RX_BATCH.  From one only
     * after two full reads in a row: a ping-pong's reads alternate between
     * its answer and nothing, and growing after each answer made the next
     * read, which finds nothing, a recvmmsg (one a round trip, each end). */
    if (n < (int)want)
      l->rx_batch = 1, l->rx_streak = 0;
    else if (want > 1 || l->rx_streak++)
      l->rx_batch = want * 2 > LANE_RX_BATCH ? LANE_RX_BATCH : want * 2;
    if (n <= 0)
      return work;
    uint64_t now = clock_now_ns(), rx = ep->counters[EPC_LANE_RX];
    for (int i = 0; i < n; i++) {
      /* a GRO run: its packets one by one, seg bytes each but the last */
      const uint8_t *p = iov[i].iov_base;
      uint32_t len = mm[i].msg_len, seg = run_segment(l, &mm[i].msg_hdr, p, len);
      int cut = !!(mm[i].msg_hdr.msg_flags & MSG_TRUNC);
      if (cut || !seg || seg >= len)
        seg = len;
      else
        ep->counters[EPC_LANE_RX_RUNS] += (len + seg - 1) / seg;
      for (uint32_t off = 0; off < len && !ep->dead; off += seg)
        lane_datagram(ep, p + off, len - off < seg ? len - off : seg, cut, &from[i], now);
    }
    /* UDP_GRO follows what the peers send, by the packets a read took:
     * several (a batch or a run), or a piece of a message with more to
     * come (its sender sends them as one run), is a stream; one alone a
     * ping-pong; what strangers send (an unconnected lane reads anyone's
     * datagrams), all refused, moves nothing */
    uint64_t taken = ep->counters[EPC_LANE_RX] - rx;
    int stream = taken > 1 || l->runs_coming;
    l->runs_coming = 0;
    if (stream)
      lane_gro(l, 1); /* its runs in one read each (on already: the count starts again) */
    else if (taken == 1 && l->gro && ++l->lone_reads >= LANE_GRO_OFF_READS)
      lane_gro(l, 0); /* a ping-pong again */
    work += n;
    /* The acks due at once (a hole, a duplicate: rel_stream.ack_now) leave
     * after the read, one for all its packets; not at the next full pass,
     * a few polls away while the application waits.  (Only those: the
     * others wait for their delay, an answer to ride on, as ever; sent at
     * the first read past it, a 64 KiB ping-pong took 3% longer.)  And
     * what waited for the room the acks opened, and the data a CTS asked
     * for, leave now: not at the next full pass's timers (a 32 KiB + 1
     * byte message waited 22 us there for its CTS's answer). */
    for (struct lane_peer *lp = l->peers; lp && !ep->dead; lp = lp->next) {
      if (lp->rel.ack_now)
        rel_send_ack(&lp->rel);
      if (lp->bl_head)
        work += drain(ep, lp);
    }
    if (n < LANE_RX_BATCH || ep->dead)
      return work; /* (a short batch: nothing more, as a rule; the next pass looks) */
  }
  return work;
}

int lane_take(struct lane_peer *lp, const struct wire_hdr *h, const uint8_t *payload,
              struct msg *m, const uint8_t **eager)
{
  struct mx_endpoint *ep = lp->ep;
  struct wire_data_ext x;
  const uint8_t *piece;
  if (lp->doomed)
    return 0; /* unbound during this delivery: nothing more of its stream */
  /* (a rendezvous' CTS and data pieces are the lane's own: lane_rndv.c) */
  int rndv = h->type == WIRE_DATA && h->len >= WIRE_DATA_OVERHEAD &&
             (payload[0] == MSG_CTS || payload[0] == MSG_LANE_DATA ||
              payload[0] == MSG_LANE_AHEAD || payload[0] == MSG_NACK);
  if (h->type != WIRE_DATA ||
      (rndv ? lane_rndv_parse(payload, h->len, m, &x, &piece)
            : wire_data_parse(payload, h->len, lib.medium_max, m, &x, &piece)) < 0 ||
      m->type == MSG_SYNC_ACK || x.src_eid != lp->eid || x.src_session != lp->session ||
      x.dst_eid != ep->eid)
    goto malformed;
  /* who sent it is who the binding says, whatever the packet says */
  m->peer_nic = lp->nic;
  m->peer_eid = lp->eid;
  /* no address of the sender's means anything here; the mark is ours */
  m->flags = (uint8_t)((m->flags & ~MSG_F_CMA) | MSG_F_LANE);
  *eager = NULL;
  switch (m->type) {
  case MSG_CTS:
    lane_rndv_cts(ep, lp, m);
    return 0;
  case MSG_LANE_DATA:
    ep->lane->runs_coming = 1; /* a rendezvous' pieces come in runs */
    lane_rndv_data(ep, lp, m, &x, piece);
    return 0;
  case MSG_LANE_AHEAD: {
    ep->lane->runs_coming = 1;
    struct req *word = lane_rndv_ahead(ep, lp, m, &x, piece);
    if (word)
      lane_submit_ctl(ep, lp->conn, word); /* "I have them" */
    return 0;
  }
  case MSG_NACK:
    lane_rndv_nacked(ep, lp, m);
    return 0;
  case MSG_SMALL:
    memcpy(m->data, piece, m->len);
    return 1;
  case MSG_FRAG:
    if (x.piece_off == 0) {
      if (!lp->asm_buf && !(lp->asm_buf = malloc(EAGER_SIZE)))
        goto malformed; /* no memory: lost, as the engine loses what it cannot post */
      lp->asm_.active = 1;
      lp->asm_.m = *m;
      lp->asm_.got = 0;
    } else if (!lp->asm_.active || !wire_piece_follows(&lp->asm_.m, &x, lp->asm_.got, m, &x)) {
      goto malformed; /* (the endpoints were checked against the binding above) */
    }
    memcpy(lp->asm_buf + x.piece_off, piece, x.piece_len);
    lp->asm_.got += x.piece_len;
    if (lp->asm_.got < lp->asm_.m.len) {
      ep->lane->runs_coming = 1; /* the rest of a fragment's pieces: a run */
      return 0;
    }
    lp->asm_.active = 0;
    *m = lp->asm_.m;
    *eager = lp->asm_buf;
    return 1;
  default: /* MSG_RNDV: the receive that matches it now takes its data ahead, if
            * it has some (lane_rndv_take_ahead); its pieces follow it */
    lane_rndv_announced(ep, lp, m);
    return 1;
  }
malformed:
  ep->counters[EPC_LANE_MALFORMED]++;
  return -1;
}
