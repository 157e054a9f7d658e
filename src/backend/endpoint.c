/*
 * endpoint.c - a guest's endpoints as the backend sees them: each is one
 * VIF of the guest's region, opened in the engine.  The backend keeps only
 * which endpoint id sits on which VIF; the engine keeps the rest.
 */
#include <string.h>

#include "../../include/myriexpress.h"
#include "backend.h"

int endpoint_at(const struct be_guest *g, uint32_t vif_idx, uint32_t *eid)
{
  if (vif_idx >= REGION_VIFS || !g->vif_eid[vif_idx])
    return -1;
  *eid = g->vif_eid[vif_idx] - 1;
  return 0;
}

int endpoint_vif(const struct be_guest *g, uint32_t eid, uint32_t *vif_idx)
{
  for (uint32_t i = 0; i < REGION_VIFS; i++)
    if (g->vif_eid[i] == eid + 1) {
      *vif_idx = i;
      return 0;
    }
  return -1;
}

/* Endpoints open by guests of user uid. */
static uint32_t endpoints_of_user(const struct backend *be, uid_t uid)
{
  uint32_t n = 0;
  for (int i = 0; i < BE_MAX_GUESTS; i++) {
    const struct be_guest *o = &be->guests[i];
    if (!o->in_use || o->uid != uid)
      continue;
    for (uint32_t k = 0; k < REGION_VIFS; k++)
      n += o->vif_eid[k] != 0;
  }
  return n;
}

/* Open an endpoint for g.  Returns MX_SUCCESS or an MX return code. */
int endpoint_open(struct backend *be, struct be_guest *g, const struct ctl_open *req,
                  uint32_t *vif_idx, struct engine_vif_info *info)
{
  uint32_t idx;
  if (req->board != 0 && req->board != MX_ANY_NIC)
    return MX_BOARD_UNKNOWN;
  for (idx = 0; idx < REGION_VIFS && g->vif_eid[idx]; idx++)
    ;
  if (idx == REGION_VIFS)
    return MX_NO_RESOURCES;
  if (endpoints_of_user(be, g->uid) >= be->cfg.endpoints_per_user) {
    be->endpoints_refused++; /* one user does not take every endpoint id */
    return MX_NO_RESOURCES;
  }
  struct engine_owner owner = {.guest_id = g->id, .pid = g->pid, .mem_fd = g->mem_fd,
                               .uid = g->uid, .gid = g->gid,
                               .datapath = g->datapath, .ram = g->ram,
                               .ram_size = g->ram_size, .polled = g->vm_polled};
  _Static_assert(sizeof(owner.name) == sizeof(g->name), "guest names");
  memcpy(owner.name, g->name, sizeof(owner.name));
  int r = engine_vif_open(be->engine, &owner, region_vif(g->region, idx), req->eid, req->key,
                          info);
  if (r != MX_SUCCESS)
    return r;
  g->vif_eid[idx] = info->eid + 1;
  *vif_idx = idx;
  return MX_SUCCESS;
}

int endpoint_close(struct backend *be, struct be_guest *g, uint32_t vif_idx)
{
  uint32_t eid;
  if (endpoint_at(g, vif_idx, &eid) < 0)
    return -1;
  engine_vif_close(be->engine, eid);
  g->vif_eid[vif_idx] = 0;
  return 0;
}

void endpoint_close_all(struct backend *be, struct be_guest *g)
{
  for (uint32_t i = 0; i < REGION_VIFS; i++)
    endpoint_close(be, g, i);
}
