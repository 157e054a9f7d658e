/*
 * api.c - the client's calls (engine.h): each takes the engine's lock and
 * hands the work to the file that owns it.
 */
#include <stdio.h>
#include <string.h>

#include "../../include/myriexpress.h"
#include "../common/doorbell.h"
#include "net_int.h"

int engine_vif_open(struct engine *e, const struct engine_owner *owner, struct vif *vif,
                    uint32_t eid, uint32_t key, struct engine_vif_info *info)
{
  struct engine_vif *v = NULL;
  pthread_mutex_lock(&e->lock);
  int r = vif_open(e, owner, vif, eid, key, &v);
  if (r == MX_SUCCESS)
    vif_info(v, info);
  pthread_mutex_unlock(&e->lock);
  return r;
}

void engine_vif_close(struct engine *e, uint32_t eid, const struct ctl_lane_last_ack *acks,
                      uint32_t nacks)
{
  pthread_mutex_lock(&e->lock);
  struct engine_vif *v = vif_lookup(e, e->cfg.nic_id, eid);
  if (v)
    vif_close(e, v, acks, nacks);
  pthread_mutex_unlock(&e->lock);
}

int engine_vif_get(struct engine *e, uint32_t eid, struct engine_vif_info *info)
{
  pthread_mutex_lock(&e->lock);
  struct engine_vif *v = vif_lookup(e, e->cfg.nic_id, eid);
  if (v)
    vif_info(v, info);
  pthread_mutex_unlock(&e->lock);
  return v ? 0 : -1;
}

int engine_vif_set_limit(struct engine *e, uint32_t eid, uint64_t bytes_per_s,
                         uint64_t msgs_per_s)
{
  pthread_mutex_lock(&e->lock);
  struct engine_vif *v = vif_lookup(e, e->cfg.nic_id, eid);
  if (v)
    limit_set(v, bytes_per_s, msgs_per_s);
  pthread_mutex_unlock(&e->lock);
  return v ? 0 : -1;
}

/* Record something of the pair (a, b) on both sides, when both are open. */
static void pair_mark(struct engine *e, uint32_t a, uint32_t b,
                      void (*mark)(struct engine_vif *v, uint32_t peer))
{
  pthread_mutex_lock(&e->lock);
  struct engine_vif *va = vif_lookup(e, e->cfg.nic_id, a);
  struct engine_vif *vb = vif_lookup(e, e->cfg.nic_id, b);
  if (va && vb) {
    mark(va, b);
    mark(vb, a);
  }
  pthread_mutex_unlock(&e->lock);
}

void engine_vif_connect(struct engine *e, uint32_t a, uint32_t b)
{
  pair_mark(e, a, b, vif_allow);
}

void engine_vif_channel(struct engine *e, uint32_t a, uint32_t b)
{
  pair_mark(e, a, b, vif_add_channel);
}

int engine_vif_has_channel(struct engine *e, uint32_t a, uint32_t b)
{
  pthread_mutex_lock(&e->lock);
  struct engine_vif *va = vif_lookup(e, e->cfg.nic_id, a);
  int r = va && b < ENGINE_MAX_ENDPOINTS && vif_has_channel(va, b);
  pthread_mutex_unlock(&e->lock);
  return r;
}

void engine_wake_all(struct engine *e)
{
  pthread_mutex_lock(&e->lock);
  for (uint32_t i = 0; i < e->cfg.max_endpoints; i++)
    if (e->vifs[i].in_use)
      doorbell_ring(e->vifs[i].doorbell);
  pthread_mutex_unlock(&e->lock);
}

int engine_is_remote(struct engine *e, uint64_t nic)
{
  return peer_is_remote(e, nic); /* e->net is set once, before any call */
}

int engine_connect_remote(struct engine *e, uint32_t guest_id, uint32_t seq, uint32_t eid,
                          uint64_t nic, uint32_t peer_eid, uint32_t key)
{
  pthread_mutex_lock(&e->lock);
  int r = vif_lookup(e, e->cfg.nic_id, eid)
              ? netconn_start(e, guest_id, seq, eid, nic, peer_eid, key)
              : MX_BAD_ENDPOINT;
  pthread_mutex_unlock(&e->lock);
  return r;
}

int engine_resolve_name(struct engine *e, const char *host, uint64_t *nic)
{
  pthread_mutex_lock(&e->lock);
  int r = peer_resolve_name(e, host, nic);
  pthread_mutex_unlock(&e->lock);
  return r;
}

int engine_resolve_nic(struct engine *e, uint64_t nic, char *host, size_t len)
{
  pthread_mutex_lock(&e->lock);
  int r = peer_resolve_nic(e, nic, host, len);
  pthread_mutex_unlock(&e->lock);
  return r;
}
