/*
 * deliver.c - the engine's data path for one VIF: take requests from the
 * guest's request ring, check them, and deliver them into the destination
 * VIF's event ring (the software NIC loopback).
 *
 * Everything read from a guest's ring is copied once (qcons_next) and
 * checked before use.  A guest that breaks the protocol loses its own VIF
 * (engine_fail_vif), never the backend, never another guest's data.
 * Data path: no syscalls (but the doorbell kick), no locks (the caller holds
 * be->lock for the round), no allocation.
 */
#include <string.h>
#include <unistd.h>

#include "../common/doorbell.h"
#include "../backend/backend.h"
#include "../common/log.h"
#include "net.h"

const char *const drop_reason_name[DROP_MAX] = {
    "bad_request", "ring_corrupt", "dest_closed", "bad_grant", "peer_died", "copy_fault", "unsent", "unreachable",
};

void endpoint_count_drop(struct be_endpoint *ep, enum drop_reason why)
{
  ep->c.drops[why]++;
}

void engine_fail_vif(struct backend *be, struct be_endpoint *ep, enum drop_reason why)
{
  (void)be;
  if (atomic_load(&ep->vif->state) != VIF_OPEN)
    return;
  endpoint_count_drop(ep, why);
  ep->vif->fail_reason = (uint32_t)why;
  atomic_store(&ep->vif->state, VIF_FAILED);
  log_warn("endpoint %u (guest %u '%s'): VIF failed: %s", ep->eid, ep->guest->id,
           ep->guest->name, drop_reason_name[why]);
  doorbell_ring(ep->doorbell);
}

static int endpoint_usable(const struct be_endpoint *ep)
{
  return ep && ep->in_use && atomic_load(&ep->vif->state) == VIF_OPEN;
}

/* Put one event in dst's ring.  Returns 1 when posted, 0 when the ring is
 * full (try again later), -1 when dst cannot take events any more. */
int engine_post(struct backend *be, struct be_endpoint *dst, const struct msg *m,
                const void *eager)
{
  if (!endpoint_usable(dst))
    return -1;
  if (dst->copy_mode)
    return netback_post(be, dst, m, eager); /* netback copies it into the ring */
  return vif_ring_post(be, dst, m, eager);
}

int vif_ring_post(struct backend *be, struct be_endpoint *dst, const struct msg *m,
                  const void *eager)
{
  int room = qprod_reserve(&dst->rx, 1, m->type == MSG_FRAG);
  if (room < 0) {
    engine_fail_vif(be, dst, DROP_RING_CORRUPT);
    return -1;
  }
  if (room == 0)
    return 0;
  qprod_put(&dst->rx, m);
  if (m->type == MSG_FRAG)
    memcpy(qprod_eager(&dst->rx), eager, m->len);
  qprod_commit(&dst->rx, m->type == MSG_FRAG);
  dst->rx_dirty = 1;
  dst->c.rx_msgs++;
  dst->c.rx_bytes += (m->type == MSG_SMALL || m->type == MSG_FRAG) ? m->len : 0;
  return 1;
}

void engine_flush_rx(struct backend *be, struct be_endpoint *ep)
{
  (void)be;
  if (!ep->rx_dirty || ep->copy_mode)
    return;
  ep->rx_dirty = 0;
  if (qprod_flush(&ep->rx)) {
    ep->c.kicks++;
    doorbell_ring(ep->doorbell);
  }
}

/* Post the PEER_GONE events ep still owes; returns events posted. */
int engine_post_gone(struct backend *be, struct be_endpoint *ep)
{
  int posted = 0;
  if (be->nb.tx_head)
    return 0; /* netback still holds what a closed guest sent: it goes first */
  for (uint32_t i = 0; ep->gone_count && i < BE_MAX_ENDPOINTS; i++) {
    if (!(ep->gone_pending[i / 8] & (1u << (i % 8))))
      continue;
    struct msg m = {.type = MSG_PEER_GONE, .peer_eid = i, .peer_nic = be->cfg.nic_id};
    int r = engine_post(be, ep, &m, NULL);
    if (r == 0)
      break;
    ep->gone_pending[i / 8] &= (uint8_t) ~(1u << (i % 8));
    ep->gone_count--;
    posted += r > 0;
  }
  return posted;
}

/* A descriptor's fields must describe something the engine can carry. */
int engine_request_valid(const struct backend *be, const struct msg *m)
{
  switch (m->type) {
  case MSG_SMALL:
  case MSG_FRAG:
    return msg_data_valid(m, be->cfg.medium_max);
  case MSG_RNDV:
  case MSG_SYNC_ACK:
  case MSG_PULL:
    return 1;
  default:
    return 0;
  }
}

/* Tell the sender its message went nowhere, when it is waiting for it. */
static void nack(struct backend *be, struct be_endpoint *src, const struct msg *m)
{
  endpoint_count_drop(src, DROP_DEST_CLOSED);
  if (m->type != MSG_RNDV && !(m->flags & MSG_F_SYNC))
    return;
  if (m->type == MSG_FRAG && m->frag != 0)
    return;
  struct msg n = {.type = MSG_NACK, .cookie = m->cookie, .status = MSG_ST_CLOSED,
                  .peer_eid = m->peer_eid, .peer_nic = m->peer_nic, .match = m->match};
  engine_post(be, src, &n, NULL);
}

/* Handle one checked request.  1: consumed; 0: destination full, retry. */
int engine_deliver(struct backend *be, struct be_endpoint *src, struct msg *m,
                   const uint8_t *eager)
{
  if (m->type == MSG_PULL)
    return net_is_remote(be, m->peer_nic) ? net_pull_start(be, src, m) : pull_start(be, src, m);
  if (net_is_remote(be, m->peer_nic))
    return net_send_msg(be, src, m, eager);

  struct be_endpoint *dst = endpoint_lookup(be, m->peer_nic, m->peer_eid);
  if (!endpoint_usable(dst)) {
    nack(be, src, m);
    return 1;
  }
  /* The engine, not the guest, says who sent it: no forged sources.  The
   * request keeps its destination until it is delivered (it may be tried
   * again: netback's buffers are not re-read from the ring). */
  uint32_t dst_eid = m->peer_eid;
  uint64_t dst_nic = m->peer_nic;
  m->peer_eid = src->eid;
  m->peer_nic = be->cfg.nic_id;
  int r = engine_post(be, dst, m, eager);
  if (r <= 0) {
    m->peer_eid = dst_eid;
    m->peer_nic = dst_nic;
  }
  if (r < 0) {
    nack(be, src, m);
    return 1;
  }
  if (r == 0) {
    src->c.stalls++;
    return 0;
  }
  src->c.tx_msgs++;
  src->c.tx_bytes += (m->type == MSG_SMALL || m->type == MSG_FRAG) ? m->len : 0;
  return 1;
}

/* Serve up to budget requests of src; returns how many were handled. */
int engine_serve_vif(struct backend *be, struct be_endpoint *src, int budget)
{
  int done = 0;
  struct msg m;
  const uint8_t *eager;

  if (!endpoint_usable(src))
    return 0;
  while (done < budget) {
    int r = qcons_next(&src->tx, &m, &eager);
    if (r == 0)
      break;
    if (r < 0) {
      engine_fail_vif(be, src, DROP_RING_CORRUPT);
      break;
    }
    if (!engine_request_valid(be, &m)) {
      log_warn("endpoint %u: bad request type %u len %u total %u", src->eid, m.type, m.len,
               m.total);
      engine_fail_vif(be, src, DROP_BAD_REQUEST);
      break;
    }
    if (!limit_allows(src, m.type == MSG_SMALL || m.type == MSG_FRAG ? m.len : m.total))
      break; /* over its rate: it waits in its own ring */
    if (!engine_deliver(be, src, &m, eager))
      break;
    qcons_advance(&src->tx, &m);
    done++;
  }
  if (qcons_release(&src->tx)) {
    src->c.kicks++;
    doorbell_ring(src->doorbell);
  }
  return done;
}
