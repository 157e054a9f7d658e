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
 * Through the engines the same message took a hand-over to the receiver's
 * engine, a pull request to the sender's, a read of the sender's memory
 * and the bytes back, each engine sharing its guest's core: a 32 KiB +
 * 1 byte message took 100-130 us one way across two namespaces, 39-44
 * by lane (docs/evaluation.md, seventh part).
 *
 * Trust: nothing here reads or writes memory but this guest's own.  A CTS
 * is taken only for one of our rendezvous sends, active, to the very peer
 * whose stream it came on, and asked for once; the bytes sent are the
 * send's, at most its length.  A piece is taken only for one of our
 * receives that asked this peer by lane, at the offset it expects, within
 * what it asked for.  Anything else is counted as malformed and dropped.
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
  if (m->type == MSG_LANE_DATA)
    return x->piece_len > 0 && m->len == x->piece_len && x->piece_off <= m->total &&
                   x->piece_len <= m->total - x->piece_off
               ? 0
               : -1;
  return -1;
}

struct req *lane_rndv_ask(struct mx_endpoint *ep, struct req *r)
{
  struct conn *c = r->conn;
  if (!r->by_lane || r->via || !c || !c->lane || c->dead || !r->xfer ||
      r->xfer > lib.lane_rndv_max)
    return NULL;
  struct msg m = {.type = MSG_CTS, .cookie = r->peer_cookie, .match = req_cookie(r),
                  .total = (uint32_t)r->xfer, .peer_eid = c->eid, .peer_nic = c->nic};
  struct req *cts = txq_ctl_req(ep, &m);
  if (!cts)
    return NULL; /* no memory: the engines pull it, as before */
  cts->conn = c;
  r->lane_data = 1;
  r->got = 0;
  return cts;
}

struct req *lane_rndv_nack(struct mx_endpoint *ep, const struct conn *c, uint64_t cookie)
{
  struct msg m = {.type = MSG_NACK, .cookie = cookie, .status = MSG_ST_ABORTED,
                  .peer_eid = c->eid, .peer_nic = c->nic};
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
   * is not, so a guessed cookie cannot put one on it twice. */
  if (!r || r->state != RS_ACTIVE || r->type != MSG_RNDV || r->conn != lp->conn ||
      r->lane_data) {
    ep->counters[EPC_LANE_MALFORMED]++;
    /* Unless its data is on its way (asked twice), the receive that asked
     * learns it will not come (a send that ended before the CTS came: we
     * disconnected), as a pull the engines refuse tells it; a peer that
     * asks and never takes our packets gets LANE_NACKS_MAX of them waiting
     * at most. */
    struct req *n = r && r->lane_data && r->state == RS_ACTIVE ? NULL
                    : backlog_ctls(lp) < LANE_NACKS_MAX ? lane_rndv_nack(ep, lp->conn, m->match)
                                                        : NULL;
    if (n)
      FIFO_PUSH(&lp->bl_head, &lp->bl_tail, n, txnext);
    return;
  }
  r->lane_data = 1;
  r->peer_cookie = m->match;
  r->xfer = m->total < r->len ? m->total : r->len;
  r->pushed = 0;
  /* Sent from the lane's timers at the end of this pass (lane_datagram
   * asks for them when a backlog waits), behind what waits already: not
   * from inside the stream's delivery. */
  FIFO_PUSH(&lp->bl_head, &lp->bl_tail, r, txnext);
}

int lane_rndv_emit(struct mx_endpoint *ep, struct lane_peer *lp, struct req *r)
{
  struct rel_stream *s = &lp->rel;
  uint32_t piece_max = wire_piece_max(s->mtu), cap;
  uint64_t now = clock_now_ns();
  struct msg m = {.type = MSG_LANE_DATA, .cookie = r->peer_cookie, .total = (uint32_t)r->xfer};
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
    if (k && r->pushed == r->xfer) {
      k->noted = 1; /* its ack completes the send (progress.c, lane_acked) */
      k->note = (struct rel_note){.total = (uint32_t)r->xfer, .peer_eid = lp->eid,
                                  .cookie = req_cookie(r)};
    }
  }
  return 1;
}

void lane_rndv_nacked(struct mx_endpoint *ep, struct lane_peer *lp, const struct msg *m)
{
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
