/*
 * grant.c - the engine's side of grants: a software IOMMU.  A grant
 * reference names a run of entries in the table of the VIF that owns it;
 * the run is copied once out of the region (the guest may go on writing
 * it) and checked before any access: index, a live generation (never 0:
 * revoking clears it), flags, count, total length, and for the data of a
 * rendezvous the one endpoint allowed to pull it.  Local and remote pulls
 * load grants here.
 */
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

int grant_load(struct engine_vif *v, uint32_t ref, uint32_t need_flag, uint64_t len,
               const struct grant_puller *puller, struct iovec **seg, int *nseg)
{
  uint32_t idx = GRANT_REF_IDX(ref), gen = GRANT_REF_GEN(ref);
  struct grant first, g;
  uint64_t total = 0;

  *seg = NULL;
  *nseg = 0;
  if (idx >= REGION_GRANTS)
    return -1;
  memcpy(&first, &v->vif->grants[idx], sizeof(first));
  if (gen == 0 || first.gen != gen || first.nseg == 0 || first.nseg > GRANT_MAX_SEGS ||
      idx + first.nseg > REGION_GRANTS)
    return -1;
  if (puller && (first.peer_nic != puller->nic || first.peer_eid != puller->eid ||
                 (first.peer_session && first.peer_session != puller->session)))
    return -1; /* another endpoint's rendezvous */
  /* exactly as many as the run has: a pull held long (its receiver's ring
   * full) holds no more than it needs */
  struct iovec *out = malloc(first.nseg * sizeof(*out));
  if (!out)
    return -1;
  struct guest_mem mem = guest_mem_of(&v->owner);
  for (uint32_t i = 0; i < first.nseg; i++) {
    memcpy(&g, &v->vif->grants[idx + i], sizeof(g));
    if (g.gen != gen || !(g.flags & need_flag) || g.len > UINT32_MAX ||
        !guestmem_covers(&mem, g.addr, g.len)) { /* (a VM's grant names RAM it does not have) */
      free(out);
      return -1;
    }
    out[i].iov_base = (void *)(uintptr_t)g.addr;
    out[i].iov_len = g.len;
    total += g.len;
  }
  if (total < len) {
    free(out);
    return -1;
  }
  *seg = out;
  *nseg = (int)first.nseg;
  return 0;
}
