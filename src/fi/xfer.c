/*
 * xfer.c - the data calls (fi_ops_msg, fi_ops_tagged), all funnelled into
 * one send and one receive onto MX.  A tagged message's match info is
 * FXN_TAGGED_BIT | tag; an untagged one's is 0, so neither kind of receive
 * takes the other kind of message.
 */
#include <stdlib.h>
#include <string.h>

#include "../lib/provider.h"
#include "fi.h"

/* What one call asks for, whatever its shape. */
struct xfer {
  const struct iovec *iov;
  size_t n;
  fi_addr_t addr;               /* destination, or source filter */
  uint64_t tag, ignore;
  void *ctx;
  uint64_t flags;               /* FI_* operation flags in force */
  int tagged;
  int inject;                   /* fi_inject: buffered, never reported */
  int has_data;                 /* remote CQ data: the message's immediate */
  uint64_t data;
};

/* iov as MX segments; a message (what we send, or what a receive can
 * take) is at most 2 GiB - 1: MX lengths are 32-bit, its status' signed. */
static int to_segments(const struct iovec *iov, size_t n, mx_segment_t *segs, uint64_t *total)
{
  if (n > MX_MAX_SEGMENTS)
    return -FI_EINVAL;
  uint64_t sum = 0;
  for (size_t i = 0; i < n; i++) {
    segs[i].segment_ptr = iov[i].iov_base;
    segs[i].segment_length = (uint32_t)iov[i].iov_len;
    if (iov[i].iov_len > UINT32_MAX)
      return -FI_EMSGSIZE;
    sum += iov[i].iov_len;
  }
  *total = sum;
  return sum > 0x7fffffffu ? -FI_EMSGSIZE : 0;
}

static ssize_t mx_error(mx_return_t rc, const char *what)
{
  if (rc == MX_NO_RESOURCES)
    return -FI_EAGAIN;
  FI_WARN(&fxn_prov, FI_LOG_EP_DATA, "%s: %s\n", what, mx_strerror(rc));
  return -FI_EIO;
}

static ssize_t post_send(struct fxn_ep *ep, const struct xfer *x)
{
  mx_segment_t segs[MX_MAX_SEGMENTS];
  uint64_t total;
  int rc = to_segments(x->iov, x->n, segs, &total);
  if (rc < 0)
    return rc;
  if (x->tagged && (x->tag & FXN_TAGGED_BIT))
    return -FI_EINVAL; /* outside mem_tag_format */
  if (x->has_data && (x->data >> 32 || x->n >= MX_MAX_SEGMENTS))
    return -FI_EINVAL; /* cq_data_size is 4 */
  uint64_t match = x->tagged ? FXN_TAGGED_BIT | x->tag : 0;
  int buffered = x->inject || (x->flags & FI_INJECT);
  if (buffered && (total > ep->inject_size || total > FXN_INLINE_COPY))
    return -FI_EINVAL; /* the copy is for inline messages only */
  struct fxn_domain *d = ep->dom;
  dom_lock(d);
  const mx_endpoint_addr_t *dest = fxn_av_addr(ep->av, x->addr);
  if (!dest || !ep->enabled) {
    dom_unlock(d);
    return !ep->enabled ? -FI_EOPBADSTATE : -FI_EINVAL;
  }
  if (x->inject && x->n <= 1) {
    /* Nothing to report and a direct channel: written into it, no record */
    mx_return_t irc = lib_inject(ep->mx, x->n ? x->iov[0].iov_base : NULL, (uint32_t)total,
                                 *dest, match, x->has_data ? &(uint32_t){(uint32_t)x->data} : NULL);
    if (irc != MX_NO_RESOURCES) {
      dom_unlock(d);
      return irc == MX_SUCCESS ? 0 : mx_error(irc, "inject");
    }
  }
  struct op *o = op_new(d, x->inject ? OP_INJECT : OP_SEND, ep, x->ctx);
  if (!o) {
    dom_unlock(d);
    return -FI_EAGAIN;
  }
  o->flags = FI_SEND | (x->tagged ? FI_TAGGED : FI_MSG);
  o->len = total;
  o->cq = ep->txcq;
  o->wanted = !x->inject && (!ep->tx_selective || (x->flags & FI_COMPLETION));
  uint32_t nseg = (uint32_t)x->n;
  if (buffered) {
    /* The caller may reuse its buffer at once: send from a copy. */
    o->bounce = o->inline_copy;
    uint64_t off = 0;
    for (size_t i = 0; i < x->n; i++) {
      memcpy(o->bounce + off, x->iov[i].iov_base, x->iov[i].iov_len);
      off += x->iov[i].iov_len;
    }
    segs[0].segment_ptr = o->bounce;
    segs[0].segment_length = (uint32_t)total;
    nseg = total ? 1 : 0;
  }
  mx_return_t mrc;
  /* FI_TRANSMIT_COMPLETE is what a plain MX send gives (an eager message
   * is in the peer's ring, or acknowledged by its host; a large one was
   * pulled); FI_DELIVERY_COMPLETE waits for the match, as mx_issend. */
  int sync = (x->flags & FI_DELIVERY_COMPLETE) != 0;
  uint32_t imm = (uint32_t)x->data;
  if (x->has_data)
    mrc = sync ? mx_issend_imm(ep->mx, segs, nseg, *dest, match, imm, o, &o->req)
               : mx_isend_imm(ep->mx, segs, nseg, *dest, match, imm, o, &o->req);
  else
    mrc = sync ? mx_issend(ep->mx, segs, nseg, *dest, match, o, &o->req)
               : mx_isend(ep->mx, segs, nseg, *dest, match, o, &o->req);
  if (mrc != MX_SUCCESS) {
    op_free(d, o);
    dom_unlock(d);
    return mx_error(mrc, "send");
  }
  uint32_t out = 0;
  if (x->inject && mx_ibuffered(ep->mx, &o->req, &out) == MX_SUCCESS && out &&
      mx_forget(ep->mx, &o->req) == MX_SUCCESS) {
    /* Already out (an inline message is copied as it is posted): nobody
     * will hear of it, so nothing is left to reap. */
    op_free(d, o);
    dom_unlock(d);
    return 0;
  }
  oplist_push(&ep->active, o);
  dom_unlock(d);
  return 0;
}

static void match_of(const struct xfer *x, uint64_t *match, uint64_t *mask)
{
  if (!x->tagged) {
    *match = 0;
    *mask = FXN_TAGGED_BIT;
    return;
  }
  *mask = FXN_TAGGED_BIT | (~x->ignore & FXN_TAG_MASK);
  *match = FXN_TAGGED_BIT | (x->tag & ~x->ignore & FXN_TAG_MASK);
}

/* The source a receive is limited to, or NULL for any. */
static int source_of(struct fxn_ep *ep, const struct xfer *x, const mx_endpoint_addr_t **src)
{
  *src = NULL;
  if (!(ep->caps & FI_DIRECTED_RECV) || x->addr == FI_ADDR_UNSPEC)
    return 0;
  *src = fxn_av_addr(ep->av, x->addr);
  return *src ? 0 : -FI_EINVAL;
}

/* FI_PEEK: is there a matching message?  The answer is an entry (its
 * length and tag) or an FI_ENOMSG error.  With FI_CLAIM the message is
 * also taken, into a buffer of ours, for a later FI_CLAIM receive of the
 * same context; with FI_DISCARD it is dropped. */
static ssize_t peek(struct fxn_ep *ep, const struct xfer *x)
{
  if (!ep->rxcq)
    return -FI_ENOCQ;
  uint64_t match, mask;
  const mx_endpoint_addr_t *src;
  match_of(x, &match, &mask);
  int rc = source_of(ep, x, &src);
  if (rc < 0)
    return rc;
  struct fxn_domain *d = ep->dom;
  mx_status_t st;
  uint32_t found = 0, imm = 0, has_imm = 0;
  dom_lock(d);
  mx_return_t mrc = mx_iprobe_from(ep->mx, match, mask, src, &st, &imm, &has_imm, &found);
  if (mrc != MX_SUCCESS) {
    dom_unlock(d);
    return mx_error(mrc, "peek");
  }
  struct op *o = op_new(d, OP_RECV, ep, x->ctx);
  if (!o) {
    dom_unlock(d);
    return -FI_EAGAIN;
  }
  o->flags = FI_RECV | (x->tagged ? FI_TAGGED : FI_MSG);
  o->cq = ep->rxcq;
  if (!found) {
    o->err = FI_ENOMSG;
    o->status.code = MX_STATUS_SUCCESS;
    fxn_cq_push(ep->rxcq, o);
    dom_unlock(d);
    return 0;
  }
  o->tag = st.match_info & FXN_TAG_MASK;
  o->len = st.msg_length;
  if (has_imm) {
    o->data = imm;
    o->flags |= FI_REMOTE_CQ_DATA;
  }
  o->src = (ep->caps & FI_SOURCE) ? fxn_av_source(ep->av, st.source) : FI_ADDR_NOTAVAIL;
  if (x->flags & (FI_CLAIM | FI_DISCARD)) {
    /* Take exactly this message: the oldest with its match info from its
     * sender, which is the one the probe saw. */
    struct op *c = op_new(d, (x->flags & FI_DISCARD) ? OP_DISCARD : OP_CLAIM, ep, x->ctx);
    mx_segment_t seg = {NULL, st.msg_length};
    if (c && c->kind == OP_CLAIM && st.msg_length && !(c->bounce = malloc(st.msg_length))) {
      op_free(d, c);
      c = NULL;
    }
    if (!c) {
      op_free(d, o);
      dom_unlock(d);
      return -FI_EAGAIN;
    }
    seg.segment_ptr = c->bounce;
    mrc = mx_irecv_from(ep->mx, &seg, c->kind == OP_CLAIM && st.msg_length ? 1 : 0,
                        st.match_info, ~0ull, &st.source, c, &c->req);
    if (mrc != MX_SUCCESS) {
      op_free(d, c);
      op_free(d, o);
      dom_unlock(d);
      return mx_error(mrc, "claim");
    }
    oplist_push(c->kind == OP_CLAIM ? &ep->claims : &ep->active, c);
  }
  fxn_cq_push(ep->rxcq, o);
  dom_unlock(d);
  return 0;
}

/* FI_CLAIM without FI_PEEK: receive the message an earlier peek claimed
 * with this context (or, with FI_DISCARD, drop it). */
static ssize_t claim(struct fxn_ep *ep, const struct xfer *x)
{
  struct fxn_domain *d = ep->dom;
  dom_lock(d);
  struct op *c = ep->claims.head;
  while (c && c->ctx != x->ctx)
    c = c->next;
  if (!c || c->claimer) {
    dom_unlock(d);
    return -FI_EINVAL;
  }
  struct op *r = op_new(d, OP_RECV, ep, x->ctx);
  if (!r || (x->n && !(r->iov = malloc(x->n * sizeof(*r->iov))))) {
    if (r)
      op_free(d, r);
    dom_unlock(d);
    return -FI_EAGAIN;
  }
  r->flags = FI_RECV | (x->tagged ? FI_TAGGED : FI_MSG);
  r->cq = ep->rxcq;
  r->wanted = !ep->rx_selective || (x->flags & FI_COMPLETION);
  r->buf = x->n ? x->iov[0].iov_base : NULL;
  r->kind = (x->flags & FI_DISCARD) ? OP_DISCARD : OP_RECV;
  if (!(x->flags & FI_DISCARD)) {
    memcpy(r->iov, x->iov, x->n * sizeof(*r->iov));
    r->iov_n = x->n;
  }
  c->claimer = r;
  if (c->done)
    fxn_claim_deliver(ep, c);
  dom_unlock(d);
  return 0;
}

static ssize_t post_recv(struct fxn_ep *ep, const struct xfer *x)
{
  if (!ep->enabled)
    return -FI_EOPBADSTATE;
  if (x->flags & FI_PEEK)
    return peek(ep, x);
  if (x->flags & FI_CLAIM)
    return claim(ep, x);
  mx_segment_t segs[MX_MAX_SEGMENTS];
  uint64_t total, match, mask;
  const mx_endpoint_addr_t *src;
  int rc = to_segments(x->iov, x->n, segs, &total);
  if (rc < 0)
    return rc;
  match_of(x, &match, &mask);
  struct fxn_domain *d = ep->dom;
  dom_lock(d);
  if ((rc = source_of(ep, x, &src)) < 0) {
    dom_unlock(d);
    return rc;
  }
  struct op *o = op_new(d, OP_RECV, ep, x->ctx);
  if (!o) {
    dom_unlock(d);
    return -FI_EAGAIN;
  }
  o->flags = FI_RECV | (x->tagged ? FI_TAGGED : FI_MSG);
  o->buf = x->n ? x->iov[0].iov_base : NULL;
  o->cq = ep->rxcq;
  o->wanted = !ep->rx_selective || (x->flags & FI_COMPLETION);
  mx_return_t mrc = src ? mx_irecv_from(ep->mx, segs, (uint32_t)x->n, match, mask, src, o, &o->req)
                        : mx_irecv(ep->mx, segs, (uint32_t)x->n, match, mask, o, &o->req);
  if (mrc != MX_SUCCESS) {
    op_free(d, o);
    dom_unlock(d);
    return mx_error(mrc, "receive");
  }
  oplist_push(&ep->active, o);
  dom_unlock(d);
  return 0;
}

#define EP(fep) container_of(fep, struct fxn_ep, ep)
#define ONE(buf, len) (&(struct iovec){(void *)(buf), (len)})

/* --- fi_ops_msg -------------------------------------------------------- */

static ssize_t msg_recv(struct fid_ep *e, void *buf, size_t len, void *desc, fi_addr_t src,
                        void *ctx)
{
  (void)desc;
  struct xfer x = {ONE(buf, len), 1, src, 0, 0, ctx, EP(e)->rx_op_flags, 0, 0, 0, 0};
  return post_recv(EP(e), &x);
}

static ssize_t msg_recvv(struct fid_ep *e, const struct iovec *iov, void **desc, size_t count,
                         fi_addr_t src, void *ctx)
{
  (void)desc;
  struct xfer x = {iov, count, src, 0, 0, ctx, EP(e)->rx_op_flags, 0, 0, 0, 0};
  return post_recv(EP(e), &x);
}

static ssize_t msg_recvmsg(struct fid_ep *e, const struct fi_msg *m, uint64_t flags)
{
  struct xfer x = {m->msg_iov, m->iov_count, m->addr, 0, 0, m->context, flags, 0, 0, 0, 0};
  return post_recv(EP(e), &x);
}

static ssize_t msg_send(struct fid_ep *e, const void *buf, size_t len, void *desc,
                        fi_addr_t dest, void *ctx)
{
  (void)desc;
  struct xfer x = {ONE(buf, len), 1, dest, 0, 0, ctx, EP(e)->tx_op_flags, 0, 0, 0, 0};
  return post_send(EP(e), &x);
}

static ssize_t msg_sendv(struct fid_ep *e, const struct iovec *iov, void **desc, size_t count,
                         fi_addr_t dest, void *ctx)
{
  (void)desc;
  struct xfer x = {iov, count, dest, 0, 0, ctx, EP(e)->tx_op_flags, 0, 0, 0, 0};
  return post_send(EP(e), &x);
}

static ssize_t msg_sendmsg(struct fid_ep *e, const struct fi_msg *m, uint64_t flags)
{
  struct xfer x = {m->msg_iov, m->iov_count, m->addr, 0, 0, m->context, flags, 0, 0,
                   (flags & FI_REMOTE_CQ_DATA) != 0, m->data};
  return post_send(EP(e), &x);
}

static ssize_t msg_inject(struct fid_ep *e, const void *buf, size_t len, fi_addr_t dest)
{
  struct xfer x = {ONE(buf, len), 1, dest, 0, 0, NULL, 0, 0, 1, 0, 0};
  return post_send(EP(e), &x);
}

static ssize_t msg_senddata(struct fid_ep *e, const void *buf, size_t len, void *desc,
                            uint64_t data, fi_addr_t dest, void *ctx)
{
  (void)desc;
  struct xfer x = {ONE(buf, len), 1, dest, 0, 0, ctx, EP(e)->tx_op_flags, 0, 0, 1, data};
  return post_send(EP(e), &x);
}

static ssize_t msg_injectdata(struct fid_ep *e, const void *buf, size_t len, uint64_t data,
                              fi_addr_t dest)
{
  struct xfer x = {ONE(buf, len), 1, dest, 0, 0, NULL, 0, 0, 1, 1, data};
  return post_send(EP(e), &x);
}

struct fi_ops_msg fxn_msg_ops = {
  .size = sizeof(struct fi_ops_msg),
  .recv = msg_recv,
  .recvv = msg_recvv,
  .recvmsg = msg_recvmsg,
  .send = msg_send,
  .sendv = msg_sendv,
  .sendmsg = msg_sendmsg,
  .inject = msg_inject,
  .senddata = msg_senddata,
  .injectdata = msg_injectdata,
};

/* --- fi_ops_tagged ----------------------------------------------------- */

static ssize_t tag_recv(struct fid_ep *e, void *buf, size_t len, void *desc, fi_addr_t src,
                        uint64_t tag, uint64_t ignore, void *ctx)
{
  (void)desc;
  struct xfer x = {ONE(buf, len), 1, src, tag, ignore, ctx, EP(e)->rx_op_flags, 1, 0, 0, 0};
  return post_recv(EP(e), &x);
}

static ssize_t tag_recvv(struct fid_ep *e, const struct iovec *iov, void **desc, size_t count,
                         fi_addr_t src, uint64_t tag, uint64_t ignore, void *ctx)
{
  (void)desc;
  struct xfer x = {iov, count, src, tag, ignore, ctx, EP(e)->rx_op_flags, 1, 0, 0, 0};
  return post_recv(EP(e), &x);
}

static ssize_t tag_recvmsg(struct fid_ep *e, const struct fi_msg_tagged *m, uint64_t flags)
{
  struct xfer x = {m->msg_iov, m->iov_count, m->addr, m->tag, m->ignore, m->context, flags, 1, 0, 0, 0};
  return post_recv(EP(e), &x);
}

static ssize_t tag_send(struct fid_ep *e, const void *buf, size_t len, void *desc,
                        fi_addr_t dest, uint64_t tag, void *ctx)
{
  (void)desc;
  struct xfer x = {ONE(buf, len), 1, dest, tag, 0, ctx, EP(e)->tx_op_flags, 1, 0, 0, 0};
  return post_send(EP(e), &x);
}

static ssize_t tag_sendv(struct fid_ep *e, const struct iovec *iov, void **desc, size_t count,
                         fi_addr_t dest, uint64_t tag, void *ctx)
{
  (void)desc;
  struct xfer x = {iov, count, dest, tag, 0, ctx, EP(e)->tx_op_flags, 1, 0, 0, 0};
  return post_send(EP(e), &x);
}

static ssize_t tag_sendmsg(struct fid_ep *e, const struct fi_msg_tagged *m, uint64_t flags)
{
  struct xfer x = {m->msg_iov, m->iov_count, m->addr, m->tag, 0, m->context, flags, 1, 0,
                   (flags & FI_REMOTE_CQ_DATA) != 0, m->data};
  return post_send(EP(e), &x);
}

static ssize_t tag_inject(struct fid_ep *e, const void *buf, size_t len, fi_addr_t dest,
                          uint64_t tag)
{
  struct xfer x = {ONE(buf, len), 1, dest, tag, 0, NULL, 0, 1, 1, 0, 0};
  return post_send(EP(e), &x);
}

static ssize_t tag_senddata(struct fid_ep *e, const void *buf, size_t len, void *desc,
                            uint64_t data, fi_addr_t dest, uint64_t tag, void *ctx)
{
  (void)desc;
  struct xfer x = {ONE(buf, len), 1, dest, tag, 0, ctx, EP(e)->tx_op_flags, 1, 0, 1, data};
  return post_send(EP(e), &x);
}

static ssize_t tag_injectdata(struct fid_ep *e, const void *buf, size_t len, uint64_t data,
                              fi_addr_t dest, uint64_t tag)
{
  struct xfer x = {ONE(buf, len), 1, dest, tag, 0, NULL, 0, 1, 1, 1, data};
  return post_send(EP(e), &x);
}

struct fi_ops_tagged fxn_tagged_ops = {
  .size = sizeof(struct fi_ops_tagged),
  .recv = tag_recv,
  .recvv = tag_recvv,
  .recvmsg = tag_recvmsg,
  .send = tag_send,
  .sendv = tag_sendv,
  .sendmsg = tag_sendmsg,
  .inject = tag_inject,
  .senddata = tag_senddata,
  .injectdata = tag_injectdata,
};
