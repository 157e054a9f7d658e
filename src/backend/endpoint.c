/*
 * endpoint.c - the backend's endpoint table: one entry per open MX
 * endpoint, each a VIF inside its guest's region.
 * Called with be->lock held.
 */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../common/doorbell.h"
#include "../../include/myriexpress.h"
#include "../common/log.h"
#include "backend.h"

struct be_endpoint *endpoint_lookup(struct backend *be, uint64_t nic, uint32_t eid)
{
  if (nic != be->cfg.nic_id || eid >= be->cfg.max_endpoints)
    return NULL;
  struct be_endpoint *ep = &be->eps[eid];
  return ep->in_use ? ep : NULL;
}

static int vif_slot_free(struct backend *be, struct be_guest *g)
{
  int used[REGION_VIFS] = {0};
  for (uint32_t i = 0; i < be->cfg.max_endpoints; i++)
    if (be->eps[i].in_use && be->eps[i].guest == g)
      used[be->eps[i].vif_idx] = 1;
  for (int i = 0; i < REGION_VIFS; i++)
    if (!used[i])
      return i;
  return -1;
}

/* Open an endpoint for guest g.  Returns 0 or an MX return code. */
int endpoint_open(struct backend *be, struct be_guest *g, const struct ctl_open *req,
                  struct be_endpoint **out)
{
  uint32_t eid = req->eid;
  int vif_idx;

  if (req->board != 0 && req->board != MX_ANY_NIC)
    return MX_BOARD_UNKNOWN;
  if (eid == MX_ANY_ENDPOINT) {
    for (eid = 0; eid < be->cfg.max_endpoints && be->eps[eid].in_use; eid++)
      ;
    if (eid == be->cfg.max_endpoints)
      return MX_NO_RESOURCES;
  } else if (eid >= be->cfg.max_endpoints) {
    return MX_BAD_ENDPOINT_ID;
  } else if (be->eps[eid].in_use) {
    return MX_BUSY;
  }
  vif_idx = vif_slot_free(be, g);
  if (vif_idx < 0)
    return MX_NO_RESOURCES;

  struct be_endpoint *ep = &be->eps[eid];
  memset(ep, 0, sizeof(*ep));
  ep->doorbell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (ep->doorbell < 0)
    return MX_NO_RESOURCES;
  ep->in_use = 1;
  ep->eid = eid;
  ep->key = req->key;
  ep->session = ++be->next_session;
  ep->vif_idx = (uint32_t)vif_idx;
  ep->guest = g;
  ep->copy_mode = g->datapath == DP_COPY || g->datapath == DP_COPY_BATCH ? g->datapath : 0;
  limit_set(ep, be->cfg.vif_bytes_per_s, be->cfg.vif_msgs_per_s);
  ep->vif = region_vif(g->region, (uint32_t)vif_idx);
  /* A reused VIF starts clean: the guest's old rings mean nothing now. */
  memset((char *)ep->vif, 0, sizeof(struct vif));
  ep->vif->eid = eid;
  qcons_init(&ep->tx, &ep->vif->tx);
  qprod_init(&ep->rx, &ep->vif->rx);
  /* The engine may be asleep, having armed only the rings it knew: this
   * one asks for a kick on its first request (a spare kick if awake). */
  qcons_arm(&ep->tx);
  atomic_store(&ep->vif->state, VIF_OPEN);
  *out = ep;
  log_info("guest %u '%s' opened endpoint %u (vif %d, session %u)", g->id, g->name, eid,
           vif_idx, ep->session);
  return MX_SUCCESS;
}

/* Close ep: abort its copies, and tell every other endpoint it is gone so
 * that requests waiting on it end with an error instead of hanging. */
void endpoint_close(struct backend *be, struct be_endpoint *ep)
{
  if (!ep->in_use)
    return;
  /* What the guest queued before closing (or dying) was sent, as far as it
   * knows: deliver it now; what cannot be delivered is counted. */
  if (atomic_load(&ep->vif->state) == VIF_OPEN) {
    uint32_t left;
    if (ep->copy_mode) {
      left = netback_take_all(be, ep);
    } else {
      engine_serve_vif(be, ep, QUEUE_SLOTS);
      left = ring_load_prod(&ep->vif->tx.ring) - ep->tx.cons;
    }
    if (left && left <= QUEUE_SLOTS)
      ep->c.drops[DROP_UNSENT] += left;
  }
  pull_abort_endpoint(be, ep);
  atomic_store(&ep->vif->state, VIF_CLOSED);
  for (uint32_t i = 0; i < be->cfg.max_endpoints; i++) {
    struct be_endpoint *o = &be->eps[i];
    if (!o->in_use || o == ep)
      continue;
    if (!(o->gone_pending[ep->eid / 8] & (1u << (ep->eid % 8)))) {
      o->gone_pending[ep->eid / 8] |= (uint8_t)(1u << (ep->eid % 8));
      o->gone_count++;
    }
    o->chan_with[ep->eid / 8] &= (uint8_t) ~(1u << (ep->eid % 8));
  }
  doorbell_ring(ep->doorbell); /* the guest may already be gone: no matter */
  close(ep->doorbell);
  for (int d = 0; d < DROP_MAX; d++)
    be->closed_drops[d] += ep->c.drops[d];
  log_info("endpoint %u closed (guest %u)", ep->eid, ep->guest->id);
  ep->in_use = 0;
  engine_kick(be);
}
