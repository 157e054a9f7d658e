/*
 * deliver.c - the engine's datapath for one VIF: take requests from the
 * guest's request ring, check them, and deliver them into the destination
 * VIF's event ring (the software NIC loopback), or hand them to the
 * network for another host.
 *
 * Everything read from a guest's ring is copied once (qcons_next) and
 * checked before use.  A guest that breaks the protocol loses its own VIF
 * (vif_fail), never the backend, never another guest's data.
 * Data path: no syscalls (but the doorbell kick), no locks (the caller holds
 * e->lock for the round), no allocation.
 */
#include <string.h>

#include "../common/doorbell.h"
#include "../common/log.h"
#include "engine_int.h"

int deliver_post(struct engine *e, struct engine_vif *dst, const struct msg *m,
                 const void *eager)
{
  if (!vif_usable(dst))
    return -1;
  return dst->dp->post(e, dst, m, eager);
}

int deliver_ring_post(struct engine *e, struct engine_vif *dst, const struct msg *m,
                      const void *eager)
{
  int room = qprod_reserve(&dst->rx, 1, m->type == MSG_FRAG);
  if (room < 0) {
    vif_fail(e, dst, DROP_RING_CORRUPT);
    return -1;
  }
  if (room == 0) {
    dst->rx_wanted = 1;
    return 0;
  }
  dst->rx_wanted = 0;
  qprod_put(&dst->rx, m);
  if (m->type == MSG_FRAG)
    memcpy(qprod_eager(&dst->rx), eager, m->len);
  qprod_commit(&dst->rx, m->type == MSG_FRAG);
  dst->rx_dirty = 1;
  dst->c.rx_msgs++;
  dst->c.rx_bytes += (m->type == MSG_SMALL || m->type == MSG_FRAG) ? m->len : 0;
  return 1;
}

static void deliver_flush(struct engine *e, struct engine_vif *v)
{
  (void)e;
  if (!v->rx_dirty)
    return;
  v->rx_dirty = 0;
  if (qprod_flush(&v->rx)) {
    v->c.kicks++;
    doorbell_ring(v->doorbell);
  }
}

static uint32_t deliver_take_all(struct engine *e, struct engine_vif *v)
{
  deliver_serve_vif(e, v, QUEUE_SLOTS);
  return ring_load_prod(&v->vif->tx.ring) - v->tx.cons;
}

/* The engine serves the rings of bypass, engine and direct guests. */
const struct vif_datapath vif_dp_engine = {
    .name = "engine",
    .engine_serves_tx = 1,
    .post = deliver_ring_post,
    .flush = deliver_flush,
    .take_all = deliver_take_all,
};

/* A descriptor's fields must describe something the engine can carry. */
int deliver_request_valid(const struct engine *e, const struct msg *m)
{
  switch (m->type) {
  case MSG_SMALL:
  case MSG_FRAG:
    return msg_data_valid(m, e->cfg.medium_max);
  case MSG_RNDV:
  case MSG_SYNC_ACK:
  case MSG_PULL:
    return 1;
  default:
    return 0;
  }
}

/* Tell the sender its message went nowhere, when it is waiting for it. */
static void nack(struct engine *e, struct engine_vif *src, const struct msg *m,
                 enum drop_reason why)
{
  vif_count_drop(src, why);
  if (m->type != MSG_RNDV && !(m->flags & MSG_F_SYNC))
    return;
  if (m->type == MSG_FRAG && m->frag != 0)
    return;
  struct msg n = {.type = MSG_NACK, .cookie = m->cookie, .status = MSG_ST_CLOSED,
                  .peer_eid = m->peer_eid, .peer_nic = m->peer_nic, .match = m->match};
  deliver_post(e, src, &n, NULL);
}

int deliver_request(struct engine *e, struct engine_vif *src, struct msg *m,
                    const uint8_t *eager)
{
  int remote = peer_is_remote(e, m->peer_nic);
  if (m->type == MSG_PULL)
    return remote ? rpull_start(e, src, m) : pull_start(e, src, m);
  if (remote)
    return remote_send(e, src, m, eager);

  struct engine_vif *dst = vif_lookup(e, m->peer_nic, m->peer_eid);
  if (!vif_usable(dst)) {
    nack(e, src, m, DROP_DEST_CLOSED);
    return 1;
  }
  /* keys are checked here, not by the libraries: data goes only where a
   * connect with the destination's key (or the destination's own connect
   * to us) made it welcome, or between endpoints of one guest (one trust
   * domain: MX lets a process send to its own endpoints' addresses) */
  if (src->owner.guest_id != dst->owner.guest_id && !vif_may_send(src, dst->eid)) {
    nack(e, src, m, DROP_NOT_CONNECTED);
    return 1;
  }
  /* The engine, not the guest, says who sent it: no forged sources.  The
   * request keeps its destination until it is delivered (it may be tried
   * again: netback's buffers are not re-read from the ring). */
  uint32_t dst_eid = m->peer_eid;
  uint64_t dst_nic = m->peer_nic;
  m->peer_eid = src->eid;
  m->peer_nic = e->cfg.nic_id;
  int r = deliver_post(e, dst, m, eager);
  if (r <= 0) {
    m->peer_eid = dst_eid;
    m->peer_nic = dst_nic;
  }
  if (r < 0) {
    nack(e, src, m, DROP_DEST_CLOSED);
    return 1;
  }
  if (r == 0) {
    src->c.stalls++;
    src->tx_blocked = 1; /* until dst's guest frees room: it kicks (engine_arm) */
    return 0;
  }
  src->c.tx_msgs++;
  src->c.tx_bytes += (m->type == MSG_SMALL || m->type == MSG_FRAG) ? m->len : 0;
  return 1;
}

int deliver_serve_vif(struct engine *e, struct engine_vif *src, int budget)
{
  int done = 0;
  struct msg m;
  const uint8_t *eager;

  if (!vif_usable(src))
    return 0;
  while (done < budget) {
    int r = qcons_next(&src->tx, &m, &eager);
    if (r == 0)
      break;
    if (r < 0) {
      vif_fail(e, src, DROP_RING_CORRUPT);
      break;
    }
    if (!deliver_request_valid(e, &m)) {
      log_warn("endpoint %u: bad request type %u len %u total %u", src->eid, m.type, m.len,
               m.total);
      vif_fail(e, src, DROP_BAD_REQUEST);
      break;
    }
    if (!limit_allows_msg(src, &m))
      break; /* over its rate: it waits in its own ring */
    if (!deliver_request(e, src, &m, eager))
      break; /* a full destination here (tx_blocked), or the network's window */
    src->tx_blocked = 0;
    qcons_advance(&src->tx, &m);
    done++;
  }
  if (qcons_release(&src->tx)) {
    src->c.kicks++;
    doorbell_ring(src->doorbell);
  }
  return done;
}
