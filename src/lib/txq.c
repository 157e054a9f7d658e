/*
 * txq.c - producing descriptors into a queue (the VIF's request ring or a
 * channel), with a FIFO backlog for what does not fit yet.  Once anything
 * waits in the backlog, everything after it waits too: a full ring delays
 * messages but never reorders them.
 * Data path: no locks (the endpoint's is held), no syscalls except the kick
 * when the consumer armed its event before sleeping.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/fifo.h"
#include "../common/doorbell.h"
#include "lib.h"
#include "base.h"
#include "txq.h"

void txq_init(struct txq *t, struct queue *q, int kick_fd)
{
  memset(t, 0, sizeof(*t));
  qprod_init(&t->p, q);
  t->kick_fd = kick_fd;
}

/* A descriptor's line (never the queue's tag; inline data follows). */
static void put_header(struct msg *s, const struct conn *c, uint8_t type, uint8_t flags,
                       uint32_t total, uint64_t match, uint64_t cookie, uint32_t seq)
{
  memset(&s->type, 0, MSG_LINE - offsetof(struct msg, type));
  s->type = type;
  s->flags = flags;
  s->total = total;
  s->peer_eid = c->eid;
  s->peer_nic = c->nic;
  s->match = match;
  s->cookie = cookie;
  s->seq = seq;
}

void txq_header(struct msg *s, const struct req *r, uint8_t type)
{
  uint8_t flags = (r->sync ? MSG_F_SYNC : 0) | (r->has_imm ? MSG_F_IMM : 0);
  if (r->conn->remote && !r->sync && r->type != MSG_RNDV)
    flags |= MSG_F_ACKREQ; /* complete when the other host has it, or fail */
  put_header(s, r->conn, type, flags, (uint32_t)r->len, r->match, req_cookie(r), r->seq);
}

/* Emit what fits of r.  1: all emitted; 0: out of room; < 0: queue broken. */
static int emit(struct txq *t, struct req *r)
{
  int room = qprod_reserve(&t->p, 1, 0);
  if (room <= 0) {
    t->broken |= room < 0;
    return room;
  }
  struct msg *s = qprod_slot(&t->p);
  if (r->kind == REQ_CTL) {
    qprod_put(&t->p, r->ctl);
    qprod_commit(&t->p, 0);
    return 1;
  }
  switch (r->type) {
  case MSG_SMALL:
    txq_header(s, r, MSG_SMALL);
    s->len = (uint32_t)r->len;
    seg_gather(r->segs, r->nseg, 0, s->data, r->len);
    qprod_commit(&t->p, 0);
    return 1;
  case MSG_RNDV:
    txq_header(s, r, MSG_RNDV);
    /* One buffer (after the immediate's, which grant2 carries): the
     * receiver may read it from here itself */
    if (r->conn->ch && t == &r->conn->ch->tx && r->conn->ch->peer_pid &&
        r->nseg == 1u + r->has_imm) {
      s->flags |= MSG_F_CMA;
      s->cookie2 = (uint64_t)(uintptr_t)r->segs[r->has_imm].iov_base;
    }
    s->grant = r->grant;
    s->grant2 = r->has_imm ? r->imm : 0; /* for a probe before the data comes */
    qprod_commit(&t->p, 0);
    return 1;
  default: /* MSG_FRAG */
    while (r->pushed < r->len) {
      if ((room = qprod_reserve(&t->p, 1, 1)) <= 0) {
        t->broken |= room < 0;
        return room;
      }
      uint64_t flen = r->len - r->pushed < EAGER_SIZE ? r->len - r->pushed : EAGER_SIZE;
      s = qprod_slot(&t->p);
      txq_header(s, r, MSG_FRAG);
      s->frag = (uint16_t)(r->pushed / EAGER_SIZE);
      s->len = (uint32_t)flen;
      seg_gather(r->segs, r->nseg, r->pushed, qprod_eager(&t->p), flen);
      qprod_commit(&t->p, 1);
      r->pushed += flen;
    }
    return 1;
  }
}

/* r left entirely: eager sends are complete (their data is in the ring),
 * unless they wait for the receiver's match (issend). */
void txq_emitted(struct mx_endpoint *ep, struct req *r)
{
  if (r->kind == REQ_CTL) {
    req_free(ep, r);
    return;
  }
  /* A rendezvous' data stays the receiver's to pull until it completes. */
  r->buffered = r->type != MSG_RNDV;
  r->state = RS_ACTIVE;
  if (r->type != MSG_RNDV && !r->sync && !r->conn->remote)
    req_complete(ep, r, MX_STATUS_SUCCESS);
}

static void kick(struct txq *t)
{
  if (qprod_flush(&t->p))
    lib_kick(t->kick_fd);
}

/* A plain small send to a direct channel, written straight from the
 * caller's buffer before its request exists: its line is on its way while
 * the request is made (txq_sent_early).  The cookie is 0: nothing echoes a
 * non-synchronous small message.  1: written (not yet published), 0: it
 * must take the ordinary way (backlog, full ring, broken queue). */
int txq_write_small(struct txq *t, const struct conn *c, const void *buf, uint32_t len,
                    uint64_t match, uint32_t seq, const uint32_t *imm)
{
  if (t->bl_head || t->broken || qprod_reserve(&t->p, 1, 0) != 1)
    return 0;
  struct msg *s = qprod_slot(&t->p);
  uint32_t k = imm ? 4 : 0; /* an immediate is the message's first 4 bytes */
  put_header(s, c, MSG_SMALL, imm ? MSG_F_IMM : 0, len + k, match, 0, seq);
  s->len = len + k;
  if (imm)
    memcpy(s->data, imm, 4);
  memcpy(s->data + k, buf, len);
  qprod_commit(&t->p, 0);
  return 1;
}

/* The request of a message txq_write_small wrote: complete, and the
 * message published. */
void txq_sent_early(struct mx_endpoint *ep, struct txq *t, struct req *r)
{
  txq_emitted(ep, r);
  kick(t);
}

void txq_publish(struct txq *t)
{
  kick(t);
}

void txq_submit(struct mx_endpoint *ep, struct txq *t, struct req *r)
{
  if (t->broken) {
    if (r->kind == REQ_CTL)
      req_free(ep, r);
    else
      req_complete(ep, r, MX_STATUS_ENDPOINT_CLOSED);
    return;
  }
  if (!t->bl_head && emit(t, r) == 1) {
    kick(t);
    txq_emitted(ep, r);
    return;
  }
  if (r->kind != REQ_CTL)
    ep->counters[EPC_BACKLOGGED]++;
  FIFO_PUSH(&t->bl_head, &t->bl_tail, r, txnext);
  kick(t);
}

void txq_send_ctl(struct mx_endpoint *ep, struct txq *t, const struct msg *m)
{
  if (!t->bl_head && !t->broken && qprod_reserve(&t->p, 1, 0) == 1) {
    qprod_put(&t->p, m);
    qprod_commit(&t->p, 0);
    kick(t);
    return;
  }
  struct req *r = txq_ctl_req(ep, m);
  if (!r)
    return; /* out of memory: the peer times out rather than us crashing */
  txq_submit(ep, t, r);
}

struct req *txq_ctl_req(struct mx_endpoint *ep, const struct msg *m)
{
  struct req *r = req_new(ep, REQ_CTL);
  if (r && !(r->ctl = malloc(sizeof(*m)))) {
    req_free(ep, r);
    r = NULL;
  }
  if (r)
    *r->ctl = *m;
  return r;
}

int txq_drain(struct mx_endpoint *ep, struct txq *t)
{
  int n = 0;
  while (t->bl_head) {
    struct req *r = t->bl_head;
    if (emit(t, r) != 1)
      break;
    FIFO_POP(&t->bl_head, &t->bl_tail, txnext);
    txq_emitted(ep, r);
    n++;
  }
  kick(t);
  return n;
}

void txq_backlog_fail(struct mx_endpoint *ep, struct req **head, struct req **tail,
                      mx_status_code_t code)
{
  while (*head) {
    struct req *r = *head;
    *head = r->txnext;
    if (r->kind == REQ_CTL)
      req_free(ep, r);
    else
      req_complete(ep, r, code);
  }
  *tail = NULL;
}

void txq_fail(struct mx_endpoint *ep, struct txq *t, mx_status_code_t code)
{
  txq_backlog_fail(ep, &t->bl_head, &t->bl_tail, code);
}

int txq_backlog_expire(struct mx_endpoint *ep, struct req **head, struct req **tail,
                       uint64_t now)
{
  int n = 0;
  struct req *prev = NULL;
  for (struct req *r = *head, *nx; r; r = nx) {
    nx = r->txnext;
    if (r->kind == REQ_CTL || !r->deadline_ns || now < r->deadline_ns || r->pushed ||
        r->lane_data || r->lane_ahead) { /* (begun: its receiver counts on the rest) */
      prev = r;
      continue;
    }
    if (prev)
      prev->txnext = nx;
    else
      *head = nx;
    if (*tail == r)
      *tail = prev;
    ep->counters[EPC_TIMEOUTS]++;
    req_complete(ep, r, MX_STATUS_TIMEOUT);
    n++;
  }
  return n;
}

int txq_expire(struct mx_endpoint *ep, struct txq *t, uint64_t now)
{
  return txq_backlog_expire(ep, &t->bl_head, &t->bl_tail, now);
}
