/*
 * recv.c - mx_irecv and what happens when a message arrives: match it
 * against the posted receives in order, or keep it as unexpected; reassemble
 * medium fragments; start the rendezvous of large messages.
 */
#include <stdlib.h>
#include <string.h>

#include "../common/clock.h"

#include "lib.h"
#include "base.h"
#include "txq.h"
#include "channel.h"
#include "conn.h"
#include "recv.h"
#include "unexp.h"
#include "lane.h"

static struct txq *reply_queue(struct mx_endpoint *ep, struct req *r)
{
  return r->via ? &r->via->tx : &ep->etx;
}

static void send_sync_ack(struct mx_endpoint *ep, struct req *r)
{
  struct msg a = {.type = MSG_SYNC_ACK, .cookie = r->peer_cookie, .peer_eid = r->conn->eid,
                  .peer_nic = r->conn->nic};
  txq_send_ctl(ep, reply_queue(ep, r), &a);
}

/* A receive takes a message with an immediate: its segments get a 4-byte
 * one in front, so that every class and path fills the immediate as the
 * data it is. */
static void take_imm(struct req *r)
{
  struct iovec *s = r->nseg <= 1 ? r->seg_imm : malloc((r->nseg + 1) * sizeof(*s));
  if (!s) {
    r->status.code = MX_STATUS_NO_RESOURCES; /* its bytes come one place off */
    return;
  }
  s[0] = (struct iovec){r->imm_buf, 4};
  memcpy(s + 1, r->segs, r->nseg * sizeof(*s));
  if (r->segs != &r->seg1)
    free(r->segs);
  r->segs = s;
  r->nseg++;
  r->len += 4;
  r->has_imm = 1;
}

/* The lengths a receive reports: the application's, not the immediate's. */
static void app_lengths(struct req *r)
{
  uint32_t k = r->has_imm ? 4 : 0;
  r->status.msg_length = (uint32_t)r->msg_len - k;
  r->status.xfer_length = (uint32_t)r->xfer - k;
}

/* Fill r's status from what the sender announced. */
static void take_header(struct req *r, struct conn *c, struct chan *via, const struct msg *m)
{
  /* A forged flag on a message too short to hold one is ignored. */
  if ((m->flags & MSG_F_IMM) && m->total >= 4) {
    if (r->kind == REQ_UNEXP)
      r->has_imm = 1;
    else
      take_imm(r);
    if (m->type == MSG_RNDV)
      r->imm = m->grant2;
  }
  r->conn = c;
  r->via = via;
  r->by_lane = !via && (m->flags & MSG_F_LANE);
  r->msg_len = m->total;
  r->xfer = m->total < r->len ? m->total : r->len;
  r->seq = m->seq;
  r->peer_cookie = m->cookie;
  r->peer_grant = m->grant;
  /* a sender's address is taken only from a channel that may read it */
  r->peer_addr = m->type == MSG_RNDV && (m->flags & MSG_F_CMA) && via && via->peer_pid
                     ? m->cookie2 : 0;
  r->want_ack = (m->flags & MSG_F_SYNC) && m->type != MSG_RNDV;
  r->type = m->type;
  r->match = m->match;
  r->status.match_info = m->match;
  app_lengths(r);
  if (r->xfer < m->total)
    r->status.code = MX_STATUS_TRUNCATED;
  conn_to_addr(c, &r->status.source);
}

/* Bytes of one fragment (or inline data) into r, bounded by what r takes. */
static void take_data(struct req *r, uint64_t off, const void *data, uint64_t len)
{
  if (off >= r->xfer)
    return;
  if (len > r->xfer - off)
    len = r->xfer - off;
  if (r->kind == REQ_UNEXP)
    memcpy(r->buf + off, data, len);
  else
    seg_scatter(r->segs, r->nseg, off, data, len);
}

void recv_start_large(struct mx_endpoint *ep, struct req *r)
{
  r->state = RS_ACTIVE;
  if (r->via) {
    if (!r->peer_addr || chan_read_direct(ep, r->via, r) < 0)
      chan_large_ready(ep, r->via, r);
    return;
  }
  struct req *cts = lane_rndv_ask(ep, r);
  if (cts) {
    lane_submit_ctl(ep, r->conn, cts); /* its sender sends the data on the lane it came by */
    return;
  }
  r->grant = grant_segments(ep, r, GRANT_WRITE);
  if (!r->grant) {
    req_complete(ep, r, MX_STATUS_NO_RESOURCES);
    return;
  }
  /* (a waiter now yields to the engine, which shares its core, rather than
   * spin while the engine waits for the core to start the pull) */
  ep->engine_work_until = clock_now_ns() + ENGINE_WORK_YIELD_NS;
  struct msg pull = {.type = MSG_PULL, .cookie = r->peer_cookie, .cookie2 = req_cookie(r),
                     .total = (uint32_t)r->xfer, .grant = r->peer_grant, .grant2 = r->grant,
                     .peer_eid = r->conn->eid, .peer_nic = r->conn->nic};
  txq_send_ctl(ep, &ep->etx, &pull);
}

/* The first (or only) part of a message reached receive r. */
static void deliver_first(struct mx_endpoint *ep, struct req *r, const struct msg *m,
                          const uint8_t *eager)
{
  if (r->want_ack)
    send_sync_ack(ep, r);
  if (m->type == MSG_RNDV) {
    if (!lane_rndv_take_ahead(ep, r, m)) /* (its data on its way behind it: taken) */
      recv_start_large(ep, r);
    return;
  }
  take_data(r, 0, m->type == MSG_SMALL ? m->data : eager, m->len);
  r->got = m->len;
  if (r->got >= r->msg_len) {
    req_complete(ep, r, MX_STATUS_SUCCESS);
    return;
  }
  r->state = RS_ACTIVE;
  partial_add(ep, r);
}

static void keep_unexpected(struct mx_endpoint *ep, struct conn *c, struct chan *via,
                            const struct msg *m, const uint8_t *eager)
{
  struct req *u = req_new(ep, REQ_UNEXP);
  if (!u)
    return;
  u->len = m->type == MSG_RNDV ? 0 : m->total;
  take_header(u, c, via, m);
  u->xfer = u->len;
  if (u->len && !(u->buf = malloc(u->len))) {
    req_free(ep, u);
    return;
  }
  u->state = RS_UNEXP;
  reqlist_push(&ep->unexp, u);
  ep->unexp_count++;
  ep->counters[EPC_UNEXPECTED]++;
  if (m->type == MSG_RNDV)
    return;
  take_data(u, 0, m->type == MSG_SMALL ? m->data : eager, m->len);
  u->got = m->len;
  if (u->got < u->msg_len)
    partial_add(ep, u);
}

void recv_incoming(struct mx_endpoint *ep, struct chan *via, const struct msg *m,
                   const uint8_t *eager)
{
  struct conn *c = via ? via->conn : conn_get(ep, m->peer_nic, m->peer_eid, 1);
  if (!c)
    return;
  if (m->type == MSG_FRAG && m->frag > 0) {
    struct req *r = partial_find(ep, c, m->seq);
    if (!r)
      return; /* its receive was cancelled or failed: nothing to fill */
    /* Every path delivers a message's fragments in order: one that is not
     * the next of this message (a repeat, a gap, another length) comes
     * only from a hostile sender, and counting its bytes would complete a
     * receive with holes of whatever the buffer held. */
    if ((uint64_t)m->frag * EAGER_SIZE != r->got || m->total != r->msg_len)
      return;
    take_data(r, (uint64_t)m->frag * EAGER_SIZE, eager, m->len);
    r->got += m->len;
    if (r->got >= r->msg_len) {
      partial_remove(ep, r);
      if (r->kind == REQ_RECV)
        req_complete(ep, r, MX_STATUS_SUCCESS);
    }
    return;
  }
  struct req *r = match_find(&ep->posted, m->match, c);
  if (r)
    reqlist_remove(&ep->posted, r);
  else if (ep->unexp_handler)
    r = unexp_handler_run(ep, c, m, eager);
  if (!r) {
    keep_unexpected(ep, c, via, m, eager);
    return;
  }
  ep->counters[EPC_RECVS]++;
  ep->counters[EPC_BYTES_RECEIVED] += m->total;
  take_header(r, c, via, m);
  deliver_first(ep, r, m, eager);
}

/* A new receive r matched unexpected message u: r takes u's place. */
void recv_matched(struct mx_endpoint *ep, struct req *r, struct req *u)
{
  reqlist_remove(&ep->unexp, u);
  ep->unexp_count--;
  ep->counters[EPC_RECVS]++;
  ep->counters[EPC_BYTES_RECEIVED] += u->msg_len;
  if (u->has_imm) {
    take_imm(r);
    r->imm = u->imm;
  }
  r->conn = u->conn;
  r->via = u->via;
  r->by_lane = u->by_lane;
  r->msg_len = u->msg_len;
  r->xfer = u->msg_len < r->len ? u->msg_len : r->len;
  r->seq = u->seq;
  r->peer_cookie = u->peer_cookie;
  r->peer_grant = u->peer_grant;
  r->peer_addr = u->peer_addr;
  r->type = u->type;
  r->want_ack = u->want_ack;
  r->status.match_info = u->match;
  app_lengths(r);
  r->status.source = u->status.source;
  if (r->xfer < u->msg_len)
    r->status.code = MX_STATUS_TRUNCATED;
  if (r->want_ack)
    send_sync_ack(ep, r);
  if (u->type == MSG_RNDV) {
    req_free(ep, u);
    recv_start_large(ep, r);
    return;
  }
  take_data(r, 0, u->buf, u->got);
  r->got = u->got;
  if (r->got >= r->msg_len) {
    req_free(ep, u);
    req_complete(ep, r, MX_STATUS_SUCCESS);
    return;
  }
  r->state = RS_ACTIVE;
  partial_replace(ep, u, r);
  req_free(ep, u);
}

/* The engine finished (or failed) one of our pulls. */
void recv_event(struct mx_endpoint *ep, const struct msg *m)
{
  struct req *r = req_from_cookie(ep, m->cookie2, REQ_RECV);
  if (!r || r->state != RS_ACTIVE)
    return;
  mx_status_code_t code = msg_status_code(m->status);
  req_complete(ep, r, code);
}

/* mx_irecv, and mx_irecv_from when source is not NULL. */
static mx_return_t irecv(mx_endpoint_t ep, mx_segment_t *segs, uint32_t n, uint64_t match,
                         uint64_t mask, const mx_endpoint_addr_t *source, void *ctx,
                         mx_request_t *out, const char *fn)
{
  if (!ep_valid(ep))
    return lib_error(NULL, MX_BAD_ENDPOINT, "%s: bad endpoint", fn);
  if (match & ~mask)
    return lib_error(ep, MX_BAD_MATCH_MASK,
                     "%s: match info 0x%llx has bits outside mask 0x%llx", fn,
                     (unsigned long long)match, (unsigned long long)mask);
  mx_return_t rc = ep_check_ctxid(ep, mask, fn);
  if (rc != MX_SUCCESS)
    return rc;
  rc = seg_args_check(ep, segs, n, out, fn);
  if (rc != MX_SUCCESS)
    return rc;
  pthread_mutex_lock(&ep->lock);
  struct conn *from = NULL;
  if (source && !(from = conn_from_addr(ep, source))) {
    pthread_mutex_unlock(&ep->lock);
    return lib_error(ep, MX_BAD_ADDR_LIST, "%s: source is not an address of this endpoint",
                     fn);
  }
  struct req *r = req_new(ep, REQ_RECV);
  if (!r || req_set_segments(r, segs, n) < 0) {
    if (r)
      req_free(ep, r);
    pthread_mutex_unlock(&ep->lock);
    return lib_error(ep, MX_NO_RESOURCES, "mx_irecv: out of memory");
  }
  r->match = match;
  r->mask = mask;
  r->from = from;
  r->status.context = ctx;
  *out = (mx_request_t)r;
  if (ep->dead) {
    req_complete(ep, r, ep->dead_code);
  } else {
    struct req *u = match_find_unexp(&ep->unexp, match, mask, from);
    if (u) {
      recv_matched(ep, r, u);
    } else {
      r->state = RS_POSTED;
      reqlist_push(&ep->posted, r);
    }
  }
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_irecv(mx_endpoint_t ep, mx_segment_t *segs, uint32_t n, uint64_t match,
                            uint64_t mask, void *ctx, mx_request_t *out)
{
  return irecv(ep, segs, n, match, mask, NULL, ctx, out, "mx_irecv");
}

EXPORT mx_return_t mx_irecv_from(mx_endpoint_t ep, mx_segment_t *segs, uint32_t n,
                                 uint64_t match, uint64_t mask,
                                 const mx_endpoint_addr_t *source, void *ctx, mx_request_t *out)
{
  return irecv(ep, segs, n, match, mask, source, ctx, out, "mx_irecv_from");
}
