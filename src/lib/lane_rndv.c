/*
 * lane_rndv.c - a rendezvous' data by lane (docs/lanes.md, "Large
 * messages").  A rendezvous that came by lane has its data sent by lane
 * too, library to library: the receiver, once the message matched, asks
 * with a MSG_CTS on the lane (the sender's cookie, its own, the bytes it
 * takes); the sender's library sends those bytes from the send's own
 * buffers as MSG_LANE_DATA pieces on the same stream, in order; the
 * receiver puts each where it belongs and completes at the last, and the
 * sender completes when the stream acknowledges the last (the other host
 * has everything, as MX wants).
 *
 * Data ahead (MSG_F_AHEAD): a rendezvous of up to lib.lane_rndv_ahead
 * bytes sends all its data right behind its announcement, as
 * MSG_LANE_AHEAD pieces under its own cookie, before anyone asked.  A
 * receive that matches the announcement as it arrives takes them, in
 * order, and then answers with a CTS that says so (MSG_F_AHEAD): that
 * ends the send.  A message nobody waited for is kept as
 * any rendezvous is, its pieces dropped and counted; when a receive
 * matches it later, its CTS asks for everything, as above.  MX's
 * bound stands: no receiver holds a large message's bytes it has no
 * receive for.  A 64 KiB ping-pong no longer waits for the CTS (11%
 * faster here: docs/evaluation.md, thirteenth part).
 *
 * Through the engines the same message took a hand-over to the receiver's
 * engine, a pull request to the sender's, a read of the sender's memory
 * and the bytes back, each engine sharing its guest's core: a 32 KiB +
 * 1 byte message took 100-130 us one way across two namespaces, 39-44
 * by lane (docs/evaluation.md, seventh part).
 *
 * Trust: nothing here reads or writes memory but this guest's own.  A CTS
 * is taken only for one of our rendezvous sends, active, to the very peer
 * whose stream it came on, and asked for once; the bytes sent are the
 * send's, at most its length; a CTS that says the data is there ends only
 * a send whose data went ahead and is all out (its length the receive's,
 * at most the send's).  A
 * piece is taken only for one of our receives that asked this peer by
 * lane, or, ahead, that matched this peer's announcement as it came (the
 * piece naming that announcement's sender), at the offset it expects,
 * within what it asked for.  Anything else is counted as malformed and
 * dropped.
 *
 * Failures: a sender that gives a send up before all its data went (its
 * mx_disconnect), or that is asked for a send it no longer has, answers
 * MSG_NACK, and the receive ends MX_STATUS_ABORTED, as a pull the engines
 * could not serve ends it.  A peer that dies, or closes its endpoint, is
 * the engines' to report (MSG_PEER_GONE), as on every path.
 * What a sender gives up by this: its data moves only while its library
 * runs (an MX call), where the engines pulled it meanwhile; hence the
 * bound lib.lane_rndv_max.
 */
#include <string.h>

#include "../common/clock.h"
#include "../common/fifo.h"
#include "lib.h"
#include "base.h"
#include "txq.h"
#include "lane.h"

int lane_rndv_parse(const uint8_t *payload, uint32_t len, struct msg *m,
                    struct wire_data_ext *x, const uint8_t **piece)
{
  if (wire_data_split(payload, len, m, x, piece) < 0)
    return -1;
  if (m->type == MSG_CTS)
    return x->piece_len == 0 && m->total > 0 ? 0 : -1;
  if (m->type == MSG_NACK)
    return x->piece_len == 0 ? 0 : -1;
  if (m->type == MSG_LANE_DATA || m->type == MSG_LANE_AHEAD)
    return x->piece_len > 0 && m->len == x->piece_len && x->piece_off <= m->total &&
                   x->piece_len <= m->total - x->piece_off
               ? 0
               : -1;
  return -1;
}

/* The CTS of receive r to its sender: it asks for the xfer bytes it
 * takes, or (have, MSG_F_AHEAD) says it has them, ahead. */
static struct req *cts_req(struct mx_endpoint *ep, const struct req *r, int have)
{
  struct conn *c = r->conn;
  struct msg m = {.type = MSG_CTS, .flags = have ? MSG_F_AHEAD : 0, .cookie = r->peer_cookie,
                  .match = req_cookie(r), .total = (uint32_t)r->xfer, .peer_eid = c->eid,
                  .peer_nic = c->nic};
  struct req *cts = txq_ctl_req(ep, &m);
  if (cts)
    cts->conn = c;
  return cts;
}

struct req *lane_rndv_ask(struct mx_endpoint *ep, struct req *r)
{
  struct conn *c = r->conn;
  if (!r->by_lane || r->via || !c || !c->lane || c->dead || !r->xfer ||
      r->xfer > lib.lane_rndv_max)
    return NULL;
  struct req *cts = cts_req(ep, r, 0);
  if (!cts)
    return NULL; /* no memory: the engines pull it, as before */
  r->lane_data = 1;
  r->got = 0;
  return cts;
}

struct req *lane_rndv_nack(struct mx_endpoint *ep, const struct conn *c, uint64_t cookie,
                           int ahead)
{
  struct msg m = {.type = MSG_NACK, .flags = ahead ? MSG_F_AHEAD : 0, .cookie = cookie,
                  .status = MSG_ST_ABORTED, .peer_eid = c->eid, .peer_nic = c->nic};
  struct req *n = txq_ctl_req(ep, &m);
  if (n)
    n->conn = (struct conn *)c;
  return n;
}

/* Control requests waiting on lp's backlog, counted up to LANE_NACKS_MAX. */
static uint32_t backlog_ctls(const struct lane_peer *lp)
{
  uint32_t n = 0;
  for (const struct req *r = lp->bl_head; r && n < LANE_NACKS_MAX; r = r->txnext)
    n += r->kind == REQ_CTL;
  return n;
}

void lane_rndv_cts(struct mx_endpoint *ep, struct lane_peer *lp, const struct msg *m)
{
  struct req *r = req_from_cookie(ep, m->cookie, REQ_SEND);
  /* Active means emitted: a send still waiting to go (on this backlog)
   * is not, so a guessed cookie cannot put one on it twice.  One whose
   * announcement is out and whose data is still going ahead (the window
   * filled) is at this backlog's head: a receive that came too late for
   * that data may ask for it already. */
  int going = r && r->lane_ahead && r->state != RS_ACTIVE && lp->bl_head == r;
  if (!r || (r->state != RS_ACTIVE && !going) || r->type != MSG_RNDV || r->conn != lp->conn ||
      r->lane_data) {
    ep->counters[EPC_LANE_MALFORMED]++;
    /* Unless its data is on its way (asked twice), the receive that asked
     * learns it will not come (a send that ended before the CTS came: we
     * disconnected), as a pull the engines refuse tells it; a peer that
     * asks and never takes our packets gets LANE_NACKS_MAX of them waiting
     * at most. */
    struct req *n = (r && r->lane_data && r->state == RS_ACTIVE) || (m->flags & MSG_F_AHEAD)
                        ? NULL /* (its data is on its way; or "I have them": nothing to tell) */
                    : backlog_ctls(lp) < LANE_NACKS_MAX ? lane_rndv_nack(ep, lp->conn, m->match, 0)
                                                        : NULL;
    if (n)
      FIFO_PUSH(&lp->bl_head, &lp->bl_tail, n, txnext);
    return;
  }
  uint64_t xfer = m->total < r->len ? m->total : r->len;
  if (m->flags & MSG_F_AHEAD) {
    /* "I have them": only of data that went ahead, all of it */
    if (!r->lane_ahead || going) {
      ep->counters[EPC_LANE_MALFORMED]++;
      return;
    }
    r->lane_ahead = 0;
    /* ends as a send whose last piece the stream acknowledged ends (the
     * layer above's, through the stream's io) */
    struct rel_note done = {.total = (uint32_t)xfer, .peer_eid = lp->eid,
                            .cookie = req_cookie(r)};
    ep->lane->io->acked(lp, &lp->rel, &done);
    return;
  }
  r->lane_ahead = 0; /* (what went ahead found no receive: asked again, all of it) */
  r->lane_data = 1;
  r->peer_cookie = m->match;
  r->xfer = xfer;
  r->pushed = 0;
  /* Sent from the lane's timers at the end of this pass (lane_datagram
   * asks for them when a backlog waits), behind what waits already: not
   * from inside the stream's delivery. */
  if (!going)
    FIFO_PUSH(&lp->bl_head, &lp->bl_tail, r, txnext);
}

int lane_rndv_goes_ahead(const struct req *r)
{
  return r->type == MSG_RNDV && r->len > 0 && r->len <= lib.lane_rndv_ahead &&
         r->len <= lib.lane_rndv_max;
}

void lane_rndv_went_ahead(struct req *r)
{
  r->lane_ahead = 1;
  r->xfer = r->len;
  r->pushed = 0;
}

int lane_rndv_emit(struct mx_endpoint *ep, struct lane_peer *lp, struct req *r)
{
  struct rel_stream *s = &lp->rel;
  uint32_t piece_max = wire_piece_max(s->mtu), cap;
  uint64_t now = clock_now_ns();
  /* asked for: to the receive that asked; ahead: under our own cookie */
  struct msg m = {.type = r->lane_data ? MSG_LANE_DATA : MSG_LANE_AHEAD,
                  .cookie = r->lane_data ? r->peer_cookie : req_cookie(r),
                  .total = (uint32_t)r->xfer};
  struct wire_desc desc;
  struct wire_data_ext x = {.src_eid = ep->eid, .dst_eid = lp->eid, .src_session = ep->session};
  while (r->pushed < r->xfer) {
    uint8_t *p = rel_room(s) ? rel_payload(s, 0, &cap) : NULL;
    if (!p)
      return 0; /* the window is full (or no memory for it): the next pass goes on */
    uint32_t len = r->xfer - r->pushed < piece_max ? (uint32_t)(r->xfer - r->pushed) : piece_max;
    m.len = len;
    wire_desc_from_msg(&desc, &m);
    x.piece_off = (uint32_t)r->pushed;
    x.piece_len = len;
    memcpy(p, &desc, WIRE_DATA_HDR);
    memcpy(p + WIRE_DATA_HDR, &x, sizeof(x));
    seg_gather(r->segs, r->nseg, r->pushed, p + WIRE_DATA_OVERHEAD, len);
    struct rel_pkt *k = rel_commit(s, WIRE_DATA, (uint32_t)WIRE_DATA_OVERHEAD + len, now);
    r->pushed += len;
    if (k && r->pushed == r->xfer && r->lane_data) {
      k->noted = 1; /* its ack completes the send (progress.c, lane_acked) */
      k->note = (struct rel_note){.total = (uint32_t)r->xfer, .peer_eid = lp->eid,
                                  .cookie = req_cookie(r)};
    }
  }
  return 1;
}

/* The receive that matched lp's last announcement with data ahead, if it
 * is the announcement of the sender's request `cookie`; else NULL. */
static struct req *ahead_receive(struct mx_endpoint *ep, const struct lane_peer *lp,
                                 uint64_t cookie)
{
  struct req *r = lp->ahead_from && cookie == lp->ahead_from && lp->ahead_word
                      ? req_from_cookie(ep, lane_ahead_to(lp), REQ_RECV)
                      : NULL;
  return r && r->state == RS_ACTIVE && r->lane_ahead && r->conn == lp->conn &&
                 r->peer_cookie == cookie
             ? r
             : NULL;
}

/* lp's data ahead ends before its receive has it all: the word that
 * would have said so goes unsaid. */
static void ahead_drop(struct mx_endpoint *ep, struct lane_peer *lp)
{
  if (lp->ahead_word)
    req_free(ep, lp->ahead_word);
  lp->ahead_word = NULL;
}

void lane_rndv_nacked(struct mx_endpoint *ep, struct lane_peer *lp, const struct msg *m)
{
  if (m->flags & MSG_F_AHEAD) { /* its sender gave up while its data went ahead */
    if (!lp->ahead_from || m->cookie != lp->ahead_from) {
      ep->counters[EPC_LANE_MALFORMED]++;
      return;
    }
    struct req *a = ahead_receive(ep, lp, m->cookie);
    ahead_drop(ep, lp);
    lp->ahead_from = 0;
    if (a) { /* (else none took it: unexpected, it waits to be asked for; or
              * the one that did has ended meanwhile) */
      a->lane_ahead = 0;
      req_complete(ep, a, msg_status_code(MSG_ST_ABORTED));
    }
    return;
  }
  struct req *r = req_from_cookie(ep, m->cookie, REQ_RECV);
  if (!r || r->state != RS_ACTIVE || !r->lane_data || r->conn != lp->conn) {
    ep->counters[EPC_LANE_MALFORMED]++;
    return;
  }
  req_complete(ep, r, msg_status_code(MSG_ST_ABORTED));
}

void lane_rndv_data(struct mx_endpoint *ep, struct lane_peer *lp, const struct msg *m,
                    const struct wire_data_ext *x, const uint8_t *piece)
{
  struct req *r = req_from_cookie(ep, m->cookie, REQ_RECV);
  if (!r || r->state != RS_ACTIVE || !r->lane_data || r->conn != lp->conn ||
      m->total != r->xfer || x->piece_off != r->got || x->piece_len > r->xfer - r->got) {
    ep->counters[EPC_LANE_MALFORMED]++;
    return;
  }
  seg_scatter(r->segs, r->nseg, r->got, piece, x->piece_len);
  r->got += x->piece_len;
  if (r->got == r->xfer) {
    ep->counters[EPC_LANE_RNDV]++;
    req_complete(ep, r, MX_STATUS_SUCCESS);
  }
}

void lane_rndv_announced(struct mx_endpoint *ep, struct lane_peer *lp, const struct msg *m)
{
  ahead_drop(ep, lp); /* (one before it that never ended: its sender's doing) */
  lp->ahead_from = (m->flags & MSG_F_AHEAD) && m->total ? m->cookie : 0;
}

int lane_rndv_take_ahead(struct mx_endpoint *ep, struct req *r, const struct msg *m)
{
  struct conn *c = r->conn;
  struct lane_peer *lp = c ? c->lane : NULL;
  /* the announcement lane_take has just seen, with its data behind it;
   * and a receive that would ask for the data by lane (lane_rndv_ask):
   * one that takes nothing (its "I have them" could not say so: a CTS
   * asks for 1 byte at least), or whose data this process has pulled
   * by the engines (MYRIXEN_LANE_RNDV_MAX) does not take it ahead */
  if (!(m->flags & MSG_F_AHEAD) || !r->by_lane || r->via || !lp || c->dead ||
      !lp->ahead_from || lp->ahead_from != m->cookie || !r->xfer ||
      r->xfer > lib.lane_rndv_max)
    return 0;
  /* its word at the end, made now: with no memory for it, the engines
   * pull the message as before (and the pieces are dropped) */
  if (!(lp->ahead_word = cts_req(ep, r, 1)))
    return 0;
  r->state = RS_ACTIVE;
  r->lane_ahead = 1;
  r->got = 0;
  return 1;
}

struct req *lane_rndv_ahead(struct mx_endpoint *ep, struct lane_peer *lp, const struct msg *m,
                            const struct wire_data_ext *x, const uint8_t *piece)
{
  if (!lp->ahead_from || m->cookie != lp->ahead_from) {
    ep->counters[EPC_LANE_MALFORMED]++; /* not behind the announcement it names */
    return NULL;
  }
  if (!lp->ahead_word) {
    /* no receive waited for it: sent again when one asks (MX's bound) */
    ep->counters[EPC_LANE_AHEAD_MISSED] += x->piece_len;
    return NULL;
  }
  struct req *r = ahead_receive(ep, lp, m->cookie);
  if (!r) {
    /* the receive that took the announcement ended meanwhile (failed:
     * our mx_disconnect): the rest finds none */
    ahead_drop(ep, lp);
    ep->counters[EPC_LANE_AHEAD_MISSED] += x->piece_len;
    return NULL;
  }
  if (m->total != r->msg_len || x->piece_off != r->got || x->piece_len > r->msg_len - r->got) {
    ep->counters[EPC_LANE_MALFORMED]++;
    return NULL;
  }
  if (r->got < r->xfer) /* (a shorter receive takes what it holds) */
    seg_scatter(r->segs, r->nseg, r->got,
                piece, x->piece_len < r->xfer - r->got ? x->piece_len : r->xfer - r->got);
  r->got += x->piece_len;
  if (r->got < r->msg_len)
    return NULL;
  struct req *word = lp->ahead_word;
  lp->ahead_word = NULL;
  lp->ahead_from = 0;
  r->lane_ahead = 0;
  ep->counters[EPC_LANE_RNDV]++;
  ep->counters[EPC_LANE_AHEAD]++;
  req_complete(ep, r, MX_STATUS_SUCCESS);
  return word;
}
