/*
 * vif.c - the engine's VIF table: one entry per open MX endpoint, each a
 * VIF inside its guest's region.  Opening binds an endpoint id to its
 * owner, its key and a new session; closing delivers what the guest had
 * queued, ends its copies, and tells every other endpoint it is gone, so
 * that requests waiting on it end with an error instead of hanging.
 * Called with e->lock held.
 */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../include/myriexpress.h"
#include "../common/doorbell.h"
#include "../common/log.h"
#include "engine_int.h"

const char *const drop_reason_name[DROP_MAX] = {
    "bad_request", "ring_corrupt", "dest_closed", "bad_grant",
    "peer_died",   "copy_fault",   "unsent",      "unreachable", "event_overflow",
    "not_connected",
};

struct engine_vif *vif_lookup(struct engine *e, uint64_t nic, uint32_t eid)
{
  if (nic != e->cfg.nic_id || eid >= e->cfg.max_endpoints)
    return NULL;
  struct engine_vif *v = &e->vifs[eid];
  return v->in_use ? v : NULL;
}

struct engine_vif *vif_find(struct engine *e, uint32_t eid, uint32_t session)
{
  if (eid >= e->cfg.max_endpoints)
    return NULL;
  struct engine_vif *v = &e->vifs[eid];
  return v->in_use && v->session == session ? v : NULL;
}

int vif_usable(const struct engine_vif *v)
{
  return v && v->in_use && v->state == VIF_OPEN;
}

void vif_count_drop(struct engine_vif *v, enum drop_reason why)
{
  v->c.drops[why]++;
}

void vif_fail(struct engine *e, struct engine_vif *v, enum drop_reason why)
{
  (void)e;
  if (v->state != VIF_OPEN)
    return;
  vif_count_drop(v, why);
  v->state = VIF_FAILED;
  v->vif->fail_reason = (uint32_t)why;
  atomic_store(&v->vif->state, VIF_FAILED);
  log_warn("endpoint %u (guest %u '%s'): VIF failed: %s", v->eid, v->owner.guest_id,
           v->owner.name, drop_reason_name[why]);
  doorbell_ring(v->doorbell);
}

static int gone_test(const struct engine_vif *v, uint32_t eid)
{
  return v->gone_pending[eid / 8] & (1u << (eid % 8));
}

static void gone_mark(struct engine_vif *v, uint32_t eid, int on)
{
  if (on == !!gone_test(v, eid))
    return;
  v->gone_pending[eid / 8] ^= (uint8_t)(1u << (eid % 8));
  v->gone_count += on ? 1 : (uint32_t)-1;
}

int vif_post_gone(struct engine *e, struct engine_vif *v)
{
  int posted = 0;
  for (uint32_t i = 0; v->gone_count && i < ENGINE_MAX_ENDPOINTS; i++) {
    if (!gone_test(v, i) || netback_holds(e, i))
      continue; /* netback still holds what i sent before it closed: that goes first */
    struct msg m = {.type = MSG_PEER_GONE, .peer_eid = i, .peer_nic = e->cfg.nic_id};
    int r = deliver_post(e, v, &m, NULL);
    if (r == 0)
      break;
    gone_mark(v, i, 0);
    posted += r > 0;
  }
  return posted;
}

/* An endpoint id for a new VIF: eid itself, or the first free one. */
static int vif_pick_id(struct engine *e, uint32_t eid, uint32_t *out)
{
  if (eid == MX_ANY_ENDPOINT) {
    for (eid = 0; eid < e->cfg.max_endpoints && e->vifs[eid].in_use; eid++)
      ;
    if (eid == e->cfg.max_endpoints)
      return MX_NO_RESOURCES;
  } else if (eid >= e->cfg.max_endpoints) {
    return MX_BAD_ENDPOINT_ID;
  } else if (e->vifs[eid].in_use) {
    return MX_BUSY;
  }
  *out = eid;
  return MX_SUCCESS;
}

int vif_open(struct engine *e, const struct engine_owner *owner, struct vif *shared,
             uint32_t want, uint32_t key, struct engine_vif **out)
{
  uint32_t eid = 0;
  int r = vif_pick_id(e, want, &eid);
  if (r != MX_SUCCESS)
    return r;
  struct engine_vif *v = &e->vifs[eid];
  memset(v, 0, sizeof(*v));
  v->doorbell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (v->doorbell < 0)
    return MX_NO_RESOURCES;
  v->in_use = 1;
  v->eid = eid;
  v->key = key;
  v->session = ++e->next_session;
  v->owner = *owner;
  v->lane = owner->lane;
  /* the copy datapaths' rings are netback's */
  v->dp = owner->datapath == DP_COPY || owner->datapath == DP_COPY_BATCH ? &vif_dp_copy
                                                                         : &vif_dp_engine;
  limit_set(v, e->cfg.vif_bytes_per_s, e->cfg.vif_msgs_per_s);
  v->vif = shared;
  /* A reused VIF starts clean: the guest's old rings mean nothing now. */
  memset((char *)shared, 0, sizeof(struct vif));
  shared->eid = eid;
  qcons_init(&v->tx, &shared->tx);
  qprod_init(&v->rx, &shared->rx);
  /* The engine may be asleep, having armed only the rings it knew: this
   * one asks for a kick on its first request (a spare kick if awake). */
  qcons_arm(&v->tx);
  v->state = VIF_OPEN;
  atomic_store(&shared->state, VIF_OPEN);
  e->polled_vifs += owner->polled != 0;
  e->vm_vifs += owner->ram != NULL;
  *out = v;
  log_info("guest %u '%s' opened endpoint %u (session %u)", owner->guest_id, owner->name, eid,
           v->session);
  return MX_SUCCESS;
}

void vif_close(struct engine *e, struct engine_vif *v, const struct ctl_lane_last_ack *acks,
               uint32_t nacks)
{
  if (!v->in_use)
    return;
  /* What the guest queued before closing (or dying) was sent, as far as it
   * knows: deliver it now; what cannot be delivered is counted. */
  if (v->state == VIF_OPEN) {
    uint32_t left = v->dp->take_all(e, v);
    if (left && left <= QUEUE_SLOTS)
      v->c.drops[DROP_UNSENT] += left;
  }
  pull_abort_vif(e, v);
  v->state = VIF_CLOSED;
  atomic_store(&v->vif->state, VIF_CLOSED);
  for (uint32_t i = 0; i < e->cfg.max_endpoints; i++) {
    struct engine_vif *o = &e->vifs[i];
    if (!o->in_use || o == v)
      continue;
    gone_mark(o, v->eid, 1);
    o->chan_with[v->eid / 8] &= (uint8_t) ~(1u << (v->eid % 8));
    o->may_send[v->eid / 8] &= (uint8_t) ~(1u << (v->eid % 8)); /* a new owner connects anew */
  }
  doorbell_ring(v->doorbell); /* the guest may already be gone: no matter */
  close(v->doorbell);
  vif_counters_add(&e->closed, &v->c);
  e->closed_channels += (uint64_t)v->channels;
  log_info("endpoint %u closed (guest %u)", v->eid, v->owner.guest_id);
  lane_tell_gone(e, v, acks, nacks); /* the hosts it connected with fail what they had with it */
  allow_free(&v->remote_ok);
  v->lane = (struct lane_addr){0};
  e->polled_vifs -= v->owner.polled != 0;
  e->vm_vifs -= v->owner.ram != NULL;
  v->in_use = 0;
  v->vif = NULL;
  doorbell_ring(e->doorbell);
}

void vif_counters_add(struct vif_counters *sum, const struct vif_counters *c)
{
  sum->tx_msgs += c->tx_msgs;
  sum->tx_bytes += c->tx_bytes;
  sum->rx_msgs += c->rx_msgs;
  sum->rx_bytes += c->rx_bytes;
  sum->pulls += c->pulls;
  sum->pull_bytes += c->pull_bytes;
  sum->stalls += c->stalls;
  sum->kicks += c->kicks;
  sum->throttled += c->throttled;
  for (int d = 0; d < DROP_MAX; d++)
    sum->drops[d] += c->drops[d];
}

void vif_info(const struct engine_vif *v, struct engine_vif_info *info)
{
  info->eid = v->eid;
  info->key = v->key;
  info->session = v->session;
  info->state = v->state;
  info->doorbell = v->doorbell;
  info->channels = v->channels;
  info->owner = v->owner;
  info->limit_bytes_per_s = v->lim.bytes_per_s;
  info->limit_msgs_per_s = v->lim.msgs_per_s;
  info->c = v->c;
}

int vif_may_send(const struct engine_vif *v, uint32_t peer)
{
  return v->may_send[peer / 8] & (1u << (peer % 8));
}

void vif_allow(struct engine_vif *v, uint32_t peer)
{
  v->may_send[peer / 8] |= (uint8_t)(1u << (peer % 8));
}

int vif_has_channel(const struct engine_vif *v, uint32_t peer)
{
  return v->chan_with[peer / 8] & (1u << (peer % 8));
}

void vif_add_channel(struct engine_vif *v, uint32_t peer)
{
  v->channels++;
  v->chan_with[peer / 8] |= (uint8_t)(1u << (peer % 8));
}
