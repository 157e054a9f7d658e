/*
 * send.c - mx_isend / mx_issend: choose the message class and the path,
 * grant what the engine must read, and hand the request to its queue.
 * Classes: small (inline in the descriptor), medium (eager fragments),
 * large (rendezvous: the receiver pulls from our grant).
 */
#include <string.h>

#include "../common/clock.h"
#include "lib.h"
#include "base.h"
#include "txq.h"
#include "conn.h"
#include "lane.h"
#include "send.h"
#include "provider.h"

/* What mx_test/mx_wait will report of send r, and the counters. */
static void send_status(struct mx_endpoint *ep, struct req *r, void *ctx)
{
  uint32_t app_len = (uint32_t)r->len - (r->has_imm ? 4 : 0); /* not the immediate */
  r->status.context = ctx;
  r->status.match_info = r->match;
  r->status.msg_length = app_len;
  r->status.xfer_length = app_len; /* no ack can have come yet: we hold the lock */
  conn_to_addr(r->conn, &r->status.source);
  ep->counters[EPC_SENDS]++;
  ep->counters[EPC_BYTES_SENT] += r->len;
}

/* A connection's path is chosen at its first send (and again after a new
 * incarnation of the peer): its direct channel when it has one and the
 * datapath uses channels, else its lane when its backend vouched for one,
 * else the engine. */
static void choose_path(struct conn *c)
{
  if (c->path != PATH_NONE)
    return;
  if (c->ch && datapath_uses_channels(lib.datapath))
    c->path = PATH_CHANNEL;
  else
    c->path = c->lane && lib.lanes ? PATH_LANE : PATH_ENGINE;
}

/* The latency path: a plain small send on a direct channel goes out
 * first and gets its request after, when making that request cannot fail
 * (a cached request, a free handle: nothing to allocate).  1: it is out. */
static int send_small_early(struct mx_endpoint *ep, struct conn *c, const mx_segment_t *segs,
                            uint32_t n, uint64_t match, const uint32_t *imm)
{
  if (n != 1 || segs[0].segment_length + (imm ? 4 : 0) > lib.small_max || ep->dead || c->dead ||
      c->path != PATH_CHANNEL || !c->ch || ep->req_timeout_ms || !ep->req_cache ||
      ep->free_handle >= ep->nhandles)
    return 0;
  return txq_write_small(&c->ch->tx, c, segs[0].segment_ptr, segs[0].segment_length, match,
                         ep->next_seq, imm);
}

mx_return_t send_post(struct mx_endpoint *ep, mx_segment_t *segs, uint32_t n,
                      mx_endpoint_addr_t dest, uint64_t match, void *ctx, int sync,
                      const uint32_t *imm, mx_request_t *out)
{
  mx_return_t rc = seg_args_check(ep, segs, n, out, sync ? "mx_issend" : "mx_isend");
  if (rc != MX_SUCCESS)
    return rc;
  if (imm && n == MX_MAX_SEGMENTS)
    return lib_error(ep, MX_BAD_SEG_CNT, "mx_isend_imm: %u segments (max %d with an immediate)",
                     n, MX_MAX_SEGMENTS - 1);
  struct conn *c = conn_from_addr(ep, &dest);
  if (!c)
    return lib_error(ep, MX_BAD_ENDPOINT, "mx_isend: destination address not valid");
  choose_path(c);
  int early = !sync && send_small_early(ep, c, segs, n, match, imm);
  struct req *r = req_new(ep, REQ_SEND);
  /* An immediate travels as the message's first 4 bytes (MSG_F_IMM): every
   * class and path carries it as data, with nothing of its own. */
  mx_segment_t with_imm[MX_MAX_SEGMENTS];
  if (r && imm) {
    memcpy(r->imm_buf, imm, 4);
    r->has_imm = 1;
    r->imm = *imm;
    with_imm[0] = (mx_segment_t){r->imm_buf, 4};
    memcpy(with_imm + 1, segs, n * sizeof(*segs));
    segs = with_imm;
    n++;
  }
  if (!r || req_set_segments(r, segs, n) < 0) {
    if (r)
      req_free(ep, r);
    return lib_error(ep, MX_NO_RESOURCES, "mx_isend: out of memory");
  }
  if (r->len > UINT32_MAX) {
    req_free(ep, r);
    return lib_error(ep, MX_BAD_SEG_LIST, "mx_isend: message longer than 4 GiB");
  }
  r->match = match;
  r->conn = c;
  r->sync = (uint8_t)sync;
  r->seq = ep->next_seq++;
  r->type = r->len <= lib.small_max    ? MSG_SMALL
            : r->len <= lib.medium_max ? MSG_FRAG
                                             : MSG_RNDV;
  *out = (mx_request_t)r;
  if (early) {
    txq_sent_early(ep, &c->ch->tx, r);
    send_status(ep, r, ctx);
    return MX_SUCCESS;
  }
  if (ep->req_timeout_ms)
    r->deadline_ns = clock_now_ns() + (uint64_t)ep->req_timeout_ms * 1000000ull;
  if (ep->dead || c->dead) {
    send_status(ep, r, ctx);
    req_complete(ep, r, ep->dead ? ep->dead_code : MX_STATUS_ENDPOINT_CLOSED);
    return MX_SUCCESS;
  }
  struct txq *t = c->path == PATH_CHANNEL && c->ch ? &c->ch->tx : &ep->etx;
  int lane = c->path == PATH_LANE && c->lane;
  if (r->type == MSG_RNDV && (t == &ep->etx || lane)) { /* the engines pull it */
    r->grant = grant_segments(ep, r, GRANT_READ);
    if (!r->grant) {
      *out = NULL;
      req_free(ep, r);
      return lib_error(ep, MX_NO_RESOURCES, "mx_isend: grant table full");
    }
  }
  if (lane)
    lane_post(ep, c, r);
  else
    txq_submit(ep, t, r);
  /* The message is out (or queued): what only the caller reads comes
   * after, off the path between the two guests (we hold the lock). */
  send_status(ep, r, ctx);
  return MX_SUCCESS;
}

/* The other side acknowledged (or refused) one of our sends. */
void send_acked(struct mx_endpoint *ep, const struct msg *m, mx_status_code_t code)
{
  struct req *r = req_from_cookie(ep, m->cookie, REQ_SEND);
  if (!r || r->state != RS_ACTIVE)
    return; /* stale or forged: nothing of ours */
  /* Only the peer the send went to completes it (the engine and the
   * channel stamp who an event comes from): a guessed cookie from anyone
   * else completes nothing. */
  if (!r->conn || m->peer_nic != r->conn->nic || m->peer_eid != r->conn->eid)
    return;
  /* A rendezvous whose data goes by lane ends only by the lane's ack of
   * its last piece (until then it may be on the lane's backlog). */
  if (r->lane_data && !(m->flags & MSG_F_LANE))
    return;
  if (m->type == MSG_NOTIFY || m->type == MSG_LARGE_DONE) {
    uint32_t x = m->total < r->len ? m->total : (uint32_t)r->len;
    uint32_t imm_len = r->has_imm ? 4 : 0;
    r->status.xfer_length = x > imm_len ? x - imm_len : 0;
  }
  req_complete(ep, r, code);
}

/* mx_isend and mx_issend differ only in waiting for the match; the _imm
 * ones carry an immediate. */
static mx_return_t send_call(struct mx_endpoint *ep, mx_segment_t *segs, uint32_t n,
                             mx_endpoint_addr_t dest, uint64_t match, void *ctx, int sync,
                             const uint32_t *imm, mx_request_t *req)
{
  mx_return_t r = ep_enter(ep, sync ? "mx_issend" : "mx_isend");
  if (r != MX_SUCCESS)
    return r;
  r = send_post(ep, segs, n, dest, match, ctx, sync, imm, req);
  pthread_mutex_unlock(&ep->lock);
  return r;
}

EXPORT mx_return_t mx_isend(mx_endpoint_t ep, mx_segment_t *segs, uint32_t n,
                            mx_endpoint_addr_t dest, uint64_t match, void *ctx,
                            mx_request_t *req)
{
  return send_call(ep, segs, n, dest, match, ctx, 0, NULL, req);
}

EXPORT mx_return_t mx_issend(mx_endpoint_t ep, mx_segment_t *segs, uint32_t n,
                             mx_endpoint_addr_t dest, uint64_t match, void *ctx,
                             mx_request_t *req)
{
  return send_call(ep, segs, n, dest, match, ctx, 1, NULL, req);
}

EXPORT mx_return_t mx_isend_imm(mx_endpoint_t ep, mx_segment_t *segs, uint32_t n,
                                mx_endpoint_addr_t dest, uint64_t match, uint32_t imm, void *ctx,
                                mx_request_t *req)
{
  return send_call(ep, segs, n, dest, match, ctx, 0, &imm, req);
}

EXPORT mx_return_t mx_issend_imm(mx_endpoint_t ep, mx_segment_t *segs, uint32_t n,
                                 mx_endpoint_addr_t dest, uint64_t match, uint32_t imm,
                                 void *ctx, mx_request_t *req)
{
  return send_call(ep, segs, n, dest, match, ctx, 1, &imm, req);
}

mx_return_t lib_inject(mx_endpoint_t ep, const void *buf, uint32_t len, mx_endpoint_addr_t dest,
                       uint64_t match, const uint32_t *imm)
{
  mx_return_t rc = ep_enter(ep, "fi_inject");
  if (rc != MX_SUCCESS)
    return rc;
  rc = MX_NO_RESOURCES;
  struct conn *c = conn_from_addr(ep, &dest);
  if (c)
    choose_path(c);
  uint32_t total = len + (imm ? 4 : 0);
  if (c && total <= lib.small_max && !ep->dead && !c->dead && c->path == PATH_CHANNEL && c->ch &&
      txq_write_small(&c->ch->tx, c, buf, len, match, ep->next_seq, imm)) {
    ep->next_seq++;
    txq_publish(&c->ch->tx);
    ep->counters[EPC_SENDS]++;
    ep->counters[EPC_BYTES_SENT] += total;
    rc = MX_SUCCESS;
  }
  pthread_mutex_unlock(&ep->lock);
  return rc;
}
