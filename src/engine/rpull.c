/*
 * rpull.c - rendezvous across hosts.  The receiver's guest asks its engine
 * to pull (MSG_PULL); its backend checks the receiver's grant and sends
 * WIRE_PULL_REQ; the sender's backend checks the sender's grant and streams
 * the bytes (WIRE_PULL_DATA, in order, window-paced) then WIRE_PULL_END;
 * the receiver's backend writes each piece straight into the receiver's
 * grant, posts MSG_PULL_DONE, and answers WIRE_NOTIFY, upon which the
 * sender's backend posts MSG_NOTIFY: the sender completes only once the
 * receiver has everything, as in MX.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "../common/clock.h"
#include "../common/iov.h"
#include "../common/log.h"
#include "../common/fifo.h"
#include "net_int.h"

static struct net_rpull *rpull_new(struct engine *e, struct net_peer *p, int out)
{
  struct net_rpull *rp = calloc(1, sizeof(*rp));
  if (!rp)
    return NULL;
  rp->peer = p;
  rp->out = out;
  rp->next = net_of(e)->rpulls;
  net_of(e)->rpulls = rp;
  return rp;
}

static void rpull_free(struct engine *e, struct net_rpull *rp)
{
  struct engine_vif *v = rp->out ? NULL : vif_find(e, rp->local_eid, rp->local_session);
  if (v)
    v->pulls--;
  for (struct net_rpull **pp = &net_of(e)->rpulls; *pp; pp = &(*pp)->next)
    if (*pp == rp) {
      *pp = rp->next;
      break;
    }
  free(rp->seg);
  free(rp);
}

/* Both sides describe a pull by its request, and by their own endpoint. */
static void rpull_take(struct net_rpull *rp, const struct wire_pull_req *r,
                       const struct engine_vif *local)
{
  rp->cookie = r->cookie;
  rp->cookie2 = r->cookie2;
  rp->snd_eid = r->snd_eid;
  rp->rcv_eid = r->rcv_eid;
  rp->total = r->total;
  rp->local_eid = local->eid;
  rp->local_session = local->session;
  rp->mem = guest_mem_of(&local->owner);
}

static struct engine_vif *rpull_endpoint(struct engine *e, const struct net_rpull *rp)
{
  struct engine_vif *v = vif_find(e, rp->local_eid, rp->local_session);
  return vif_usable(v) ? v : NULL;
}

static void pull_done_local(struct engine *e, struct engine_vif *rcv, uint64_t cookie,
                            uint64_t cookie2, uint32_t status, uint32_t total, uint32_t snd_eid,
                            uint64_t nic)
{
  struct msg m = {.type = MSG_PULL_DONE, .cookie = cookie, .cookie2 = cookie2,
                  .status = status, .total = total, .peer_eid = snd_eid, .peer_nic = nic};
  notify_post(e, rcv->eid, rcv->session, &m);
}

int rpull_start(struct engine *e, struct engine_vif *rcv, const struct msg *m)
{
  struct net *n = net_of(e);
  struct net_peer *p = n ? peer_by_nic(n, m->peer_nic) : NULL;
  if (!p) {
    vif_count_drop(rcv, DROP_UNREACHABLE);
    pull_done_local(e, rcv, m->cookie, m->cookie2, MSG_ST_UNREACHABLE, 0, m->peer_eid,
                    m->peer_nic);
    return 1;
  }
  if (!rel_room(&p->rel) || rcv->pulls >= VIF_PULLS_MAX)
    return 0;
  struct net_rpull *rp = rpull_new(e, p, 0);
  if (!rp)
    return 0;
  if (grant_load(rcv, m->grant2, GRANT_WRITE, m->total, NULL, &rp->seg, &rp->nseg) < 0) {
    vif_count_drop(rcv, DROP_BAD_GRANT);
    pull_done_local(e, rcv, m->cookie, m->cookie2, MSG_ST_BAD_GRANT, 0, m->peer_eid, p->nic);
    rpull_free(e, rp);
    return 1;
  }
  struct wire_pull_req r = {.cookie = m->cookie, .cookie2 = m->cookie2, .snd_eid = m->peer_eid,
                            .grant = m->grant, .rcv_eid = rcv->eid, .total = m->total,
                            .rcv_session = rcv->session};
  rpull_take(rp, &r, rcv);
  rcv->pulls++;
  rel_send(&p->rel, WIRE_PULL_REQ, &r, sizeof(r), NULL, 0);
  return 1;
}

static int send_end(struct net_peer *p, const struct net_rpull *rp,
                    uint64_t cookie, uint64_t cookie2, uint32_t snd_eid, uint32_t rcv_eid,
                    uint32_t status)
{
  struct wire_pull_end end = {.cookie = cookie, .cookie2 = cookie2, .snd_eid = snd_eid,
                              .rcv_eid = rcv_eid, .total = rp ? rp->done : 0, .status = status};
  return rel_send(&p->rel, WIRE_PULL_END, &end, sizeof(end), NULL, 0) != NULL;
}

/* The sender's side: a peer wants the data of one of our rendezvous. */
/* Pulls p streams from us now. */
static uint32_t rpull_out_count(struct engine *e, const struct net_peer *p)
{
  uint32_t k = 0;
  for (struct net_rpull *rp = net_of(e)->rpulls; rp; rp = rp->next)
    k += rp->out && rp->peer == p;
  return k;
}

int rpull_on_request(struct engine *e, struct net_peer *p, const struct wire_pull_req *r)
{
  if (!rel_room(&p->rel) || rpull_out_count(e, p) >= NET_PULLS_OUT_MAX)
    return 0; /* the request waits on the stream until one of its pulls ends */
  struct engine_vif *snd = vif_lookup(e, e->cfg.nic_id, r->snd_eid);
  if (!vif_usable(snd)) {
    send_end(p, NULL, r->cookie, r->cookie2, r->snd_eid, r->rcv_eid, MSG_ST_CLOSED);
    return 1;
  }
  struct net_rpull *rp = rpull_new(e, p, 1);
  if (!rp)
    return 0;
  /* the pull must come from the rendezvous's receiver: that host, that endpoint */
  struct grant_puller puller = {p->nic, r->rcv_eid, r->rcv_session};
  if (grant_load(snd, r->grant, GRANT_READ, r->total, &puller, &rp->seg, &rp->nseg) < 0) {
    log_warn("pull from %s of endpoint %u: grant check failed", p->hostname, snd->eid);
    vif_count_drop(snd, DROP_BAD_GRANT);
    send_end(p, NULL, r->cookie, r->cookie2, r->snd_eid, r->rcv_eid, MSG_ST_BAD_GRANT);
    rpull_free(e, rp);
    return 1;
  }
  rpull_take(rp, r, snd);
  return 1;
}

/* Read up to NET_PULL_PIECES packets' worth of an outgoing pull straight
 * from the sender's guest into the window slots they go out from (no
 * bounce buffer: the kernel's copy into the socket is the only other one).
 * Returns the status: MSG_ST_OK, or why the pull ends. */
static uint32_t rpull_send_some(struct engine *e, struct net_rpull *rp)
{
  struct net_peer *p = rp->peer;
  struct iovec local[NET_PULL_PIECES], riov[GRANT_MAX_SEGS];
  uint32_t npieces = 0, bytes = 0, cap;
  /* one window slot is kept for the PULL_END */
  while (npieces < NET_PULL_PIECES && npieces + 1 < rel_room(&p->rel) && rp->done + bytes < rp->total) {
    uint8_t *slot = rel_payload(&p->rel, npieces, &cap);
    if (!slot)
      break;
    uint32_t piece = cap - (uint32_t)sizeof(struct wire_pull_data);
    if (piece > rp->total - rp->done - bytes)
      piece = rp->total - rp->done - bytes;
    local[npieces++] = (struct iovec){slot + sizeof(struct wire_pull_data), piece};
    bytes += piece;
  }
  if (!npieces)
    return MSG_ST_OK;
  if (!rpull_endpoint(e, rp))
    return MSG_ST_ABORTED;
  int k = iov_range(rp->seg, (uint32_t)rp->nseg, rp->done, bytes, riov, GRANT_MAX_SEGS);
  if (guestmem_read(&rp->mem, local, npieces, riov, (unsigned long)k) != (ssize_t)bytes) {
    vif_count_drop(&e->vifs[rp->local_eid], DROP_COPY_FAULT);
    return MSG_ST_BAD_GRANT;
  }
  uint64_t now = clock_now_ns();
  for (uint32_t i = 0; i < npieces; i++) {
    struct wire_pull_data d = {.cookie2 = rp->cookie2, .rcv_eid = rp->rcv_eid,
                               .offset = rp->done};
    memcpy((uint8_t *)local[i].iov_base - sizeof(d), &d, sizeof(d));
    rel_commit(&p->rel, WIRE_PULL_DATA, (uint32_t)(sizeof(d) + local[i].iov_len), now);
    rp->done += (uint32_t)local[i].iov_len;
  }
  return MSG_ST_OK;
}

/* Stream what the windows allow of every outgoing pull. */
int rpull_progress(struct engine *e)
{
  struct net *n = net_of(e);
  int work = 0;
  for (struct net_rpull *rp = n->rpulls, *nx; rp; rp = nx) {
    nx = rp->next;
    if (!rp->out)
      continue;
    struct net_peer *p = rp->peer;
    uint32_t status = MSG_ST_OK;
    while (status == MSG_ST_OK && rp->done < rp->total && rel_room(&p->rel) > 1) {
      uint32_t before = rp->done;
      status = rpull_send_some(e, rp);
      if (rp->done == before)
        break;
      work++;
    }
    if ((rp->done == rp->total || status != MSG_ST_OK) && rel_room(&p->rel) > 0) {
      send_end(p, rp, rp->cookie, rp->cookie2, rp->snd_eid, rp->rcv_eid, status);
      rpull_free(e, rp);
      work++;
    }
  }
  return work;
}

static struct net_rpull *rpull_find_in(struct engine *e, struct net_peer *p, uint64_t cookie2,
                                       uint32_t rcv_eid)
{
  for (struct net_rpull *rp = net_of(e)->rpulls; rp; rp = rp->next)
    if (!rp->out && rp->peer == p && rp->cookie2 == cookie2 && rp->rcv_eid == rcv_eid)
      return rp;
  return NULL;
}

/* One syscall for the pieces pending on an incoming pull. */
static void rpull_write(struct engine *e, struct net_rpull *rp)
{
  if (!rp->npend)
    return;
  uint32_t at = rp->done - rp->pend_len;
  if (!rp->ended) {
    struct iovec riov[GRANT_MAX_SEGS];
    int k = iov_range(rp->seg, (uint32_t)rp->nseg, at, rp->pend_len, riov, GRANT_MAX_SEGS);
    if (!rpull_endpoint(e, rp)) {
      rp->ended = 1; /* its receiver is gone: the end reports the abort */
    } else if (guestmem_write(&rp->mem, rp->pend, (unsigned long)rp->npend, riov,
                              (unsigned long)k) != (ssize_t)rp->pend_len) {
      vif_count_drop(&e->vifs[rp->local_eid], DROP_COPY_FAULT);
      rp->ended = 1; /* remembered as a fault */
    }
  }
  rp->npend = 0;
  rp->pend_len = 0;
}

void rpull_flush(struct engine *e)
{
  for (struct net_rpull *rp = net_of(e)->rpulls; rp; rp = rp->next)
    rpull_write(e, rp);
}

/* The receiver's side: a piece, bound straight for the receiver's grant
 * (written with the pieces after it, rpull_write). */
int rpull_on_data(struct engine *e, struct net_peer *p, const struct wire_pull_data *d,
                  const uint8_t *bytes, uint32_t len)
{
  struct net_rpull *rp = rpull_find_in(e, p, d->cookie2, d->rcv_eid);
  if (!rp)
    return 1; /* its receiver is gone: nothing to fill */
  if (d->offset != rp->done || len > rp->total - rp->done)
    return -1;
  if (rp->npend == NET_PULL_PEND)
    rpull_write(e, rp);
  rp->pend[rp->npend++] = (struct iovec){(void *)bytes, len};
  rp->pend_len += len;
  rp->done += len;
  return 1;
}

int rpull_on_end(struct engine *e, struct net_peer *p, const struct wire_pull_end *end)
{
  struct net_rpull *rp = rpull_find_in(e, p, end->cookie2, end->rcv_eid);
  if (!rp)
    return 1;
  if (!rel_room(&p->rel))
    return 0;
  rpull_write(e, rp);
  uint32_t status = end->status;
  if (status == MSG_ST_OK && (rp->ended || rp->done != rp->total))
    status = MSG_ST_ABORTED;
  struct engine_vif *rcv = rpull_endpoint(e, rp);
  if (rcv) {
    pull_done_local(e, rcv, rp->cookie, rp->cookie2, status, rp->done, rp->snd_eid, p->nic);
    if (status == MSG_ST_OK) {
      rcv->c.pulls++;
      rcv->c.pull_bytes += rp->done;
    }
  }
  struct wire_pull_end nt = {.cookie = rp->cookie, .cookie2 = rp->cookie2,
                             .snd_eid = rp->snd_eid, .rcv_eid = rp->rcv_eid, .total = rp->done,
                             .status = rcv ? status : MSG_ST_CLOSED};
  rel_send(&p->rel, WIRE_NOTIFY, &nt, sizeof(nt), NULL, 0);
  rpull_free(e, rp);
  return 1;
}

void rpull_drop_peer(struct engine *e, struct net_peer *p)
{
  for (struct net_rpull *rp = net_of(e)->rpulls, *nx; rp; rp = nx) {
    nx = rp->next;
    if (rp->peer == p)
      rpull_free(e, rp);
  }
}

void rpull_free_all(struct net *n)
{
  LIST_FREE_ALL(&n->rpulls, next);
}
