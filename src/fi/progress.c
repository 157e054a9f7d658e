/*
 * progress.c - reaping: every MX request of an endpoint that completed
 * (mx_test_any_imm) becomes an entry of the completion queue its
 * operation reports to, or is dropped when nobody asked for it.  The MX
 * request's context is the operation record.
 */
#include <stdlib.h>
#include <string.h>

#include "fi.h"

/* MX status of a failed request -> libfabric error number. */
static const struct {
  mx_status_code_t code;
  int err;
} status_errno[] = {
  {MX_STATUS_TRUNCATED, FI_ETRUNC},
  {MX_STATUS_CANCELLED, FI_ECANCELED},
  {MX_STATUS_TIMEOUT, FI_ETIMEDOUT},
  {MX_STATUS_ENDPOINT_CLOSED, FI_EHOSTUNREACH},
  {MX_STATUS_ENDPOINT_UNREACHABLE, FI_EHOSTUNREACH},
  {MX_STATUS_ENDPOINT_UNKNOWN, FI_EHOSTUNREACH},
  {MX_STATUS_BAD_KEY, FI_EADDRNOTAVAIL},
  {MX_STATUS_BAD_SESSION, FI_EADDRNOTAVAIL},
  {MX_STATUS_BAD_ENDPOINT, FI_EADDRNOTAVAIL},
  {MX_STATUS_NO_RESOURCES, FI_ENOMEM},
};

static int errno_of(mx_status_code_t code)
{
  if (code == MX_STATUS_SUCCESS)
    return 0;
  for (size_t i = 0; i < sizeof(status_errno) / sizeof(status_errno[0]); i++)
    if (status_errno[i].code == code)
      return status_errno[i].err;
  return FI_EIO;
}

/* Hand o to cq, or drop it: a successful operation nobody asked to hear
 * about, or one without a queue. */
static void report(struct fxn_ep *ep, struct op *o, struct fxn_cq *cq, int wanted)
{
  if (cq && (wanted || o->err)) {
    fxn_cq_push(cq, o);
    return;
  }
  if (o->err)
    FI_WARN(&fxn_prov, FI_LOG_CQ, "an operation nobody waits for failed: %s\n",
            mx_strstatus(o->status.code));
  op_free(ep->dom, o);
}

static void fill_recv(struct fxn_ep *ep, struct op *o, const mx_status_t *st, uint32_t imm,
                      uint32_t has_imm)
{
  if (has_imm) {
    o->data = imm;
    o->flags |= FI_REMOTE_CQ_DATA;
  }
  o->tag = st->match_info & FXN_TAG_MASK;
  o->len = st->xfer_length;
  o->olen = st->msg_length > st->xfer_length ? st->msg_length - st->xfer_length : 0;
  o->src = (ep->caps & FI_SOURCE) ? fxn_av_source(ep->av, st->source) : FI_ADDR_NOTAVAIL;
}

/* A claimed message is in its bounce buffer and its receive is posted:
 * copy it out and complete the receive. */
void fxn_claim_deliver(struct fxn_ep *ep, struct op *claim)
{
  struct op *r = claim->claimer;
  uint64_t have = claim->status.xfer_length, off = 0;
  for (size_t i = 0; i < r->iov_n && off < have; i++) {
    uint64_t n = r->iov[i].iov_len < have - off ? r->iov[i].iov_len : have - off;
    memcpy(r->iov[i].iov_base, claim->bounce + off, n);
    off += n;
  }
  r->status = claim->status;
  fill_recv(ep, r, &claim->status, (uint32_t)claim->data, (claim->flags & FI_REMOTE_CQ_DATA) != 0);
  r->len = off;
  r->olen = claim->status.msg_length - off;
  r->err = claim->status.code != MX_STATUS_SUCCESS ? errno_of(claim->status.code)
           : r->olen                               ? FI_ETRUNC
                                                   : 0;
  if (r->kind == OP_DISCARD) { /* FI_CLAIM|FI_DISCARD: gone, as asked */
    r->kind = OP_RECV;
    r->len = r->olen = 0;
    r->err = 0;
  }
  free(r->iov);
  r->iov = NULL;
  oplist_remove(&ep->claims, claim);
  op_free(ep->dom, claim);
  report(ep, r, r->cq, r->wanted);
}

static void complete(struct fxn_ep *ep, struct op *o, const mx_status_t *st, uint32_t imm,
                     uint32_t has_imm)
{
  o->req = NULL;
  o->status = *st;
  o->err = errno_of(st->code);
  switch (o->kind) {
  case OP_DISCARD: /* a message FI_PEEK|FI_DISCARD dropped: its truncation is the point */
    oplist_remove(&ep->active, o);
    op_free(ep->dom, o);
    return;
  case OP_INJECT:
    oplist_remove(&ep->active, o);
    report(ep, o, NULL, 0);
    return;
  case OP_SEND:
    oplist_remove(&ep->active, o);
    report(ep, o, o->cq, o->wanted);
    return;
  case OP_RECV:
    oplist_remove(&ep->active, o);
    fill_recv(ep, o, st, imm, has_imm);
    report(ep, o, o->cq, o->wanted);
    return;
  case OP_CLAIM:
    o->done = 1;
    if (has_imm) {
      o->data = imm;
      o->flags |= FI_REMOTE_CQ_DATA;
    }
    if (o->claimer)
      fxn_claim_deliver(ep, o);
    return;
  }
}

void fxn_progress(struct fxn_ep *ep)
{
  if (!ep->mx)
    return;
  /* mx_test_any with an empty mask reaps any completed request: one
   * call a completion (mx_ipeek then mx_test would be two). */
  for (;;) {
    mx_status_t st;
    uint32_t got = 0, imm = 0, has_imm = 0;
    if (mx_test_any_imm(ep->mx, 0, 0, &st, &imm, &has_imm, &got) != MX_SUCCESS || !got)
      return;
    complete(ep, st.context, &st, imm, has_imm);
  }
}
