/*
 * grant.c - the guest's side of grants: a run of entries in the VIF's
 * grant table that lets the engine read (or write) a request's segments,
 * bound to a generation that is never 0 while live, and revoked by
 * clearing it before the entries are reused.
 */
#include "lib.h"
#include "base.h"

/* Grant the engine access to r's segments: a run of entries in this VIF's
 * grant table.  Returns the grant ref, or 0 when the table is full. */
uint32_t grant_segments(struct mx_endpoint *ep, struct req *r, uint32_t flags)
{
  uint32_t n = r->nseg ? r->nseg : 1;
  for (uint32_t i = 0; i + n <= REGION_GRANTS; i++) {
    uint32_t k = 0;
    while (k < n && !ep->grant_used[i + k])
      k++;
    if (k < n) {
      i += k;
      continue;
    }
    uint16_t gen = ++ep->grant_gen ? ep->grant_gen : ++ep->grant_gen;
    for (k = 0; k < n; k++) {
      struct grant *g = &ep->vif->grants[i + k];
      g->addr = r->nseg ? (uint64_t)(uintptr_t)r->segs[k].iov_base : 0;
      g->len = r->nseg ? r->segs[k].iov_len : 0;
      g->nseg = (uint16_t)(k == 0 ? n : 0);
      g->flags = flags;
      /* a rendezvous's data may be pulled by its receiver alone */
      g->peer_nic = flags == GRANT_READ && r->conn ? r->conn->nic : 0;
      g->peer_eid = flags == GRANT_READ && r->conn ? r->conn->eid : 0;
      g->peer_session = flags == GRANT_READ && r->conn ? r->conn->session : 0;
      g->gen = gen;
      ep->grant_used[i + k] = 1;
    }
    r->grant_n = n;
    return GRANT_REF(i, gen);
  }
  return 0;
}

/* Revoke r's grant: the generation is cleared first, so a late pull
 * naming it fails the engine's check. */
void grant_release(struct mx_endpoint *ep, struct req *r)
{
  if (!r->grant)
    return;
  uint32_t idx = GRANT_REF_IDX(r->grant);
  for (uint32_t k = 0; k < r->grant_n; k++) {
    ep->vif->grants[idx + k].gen = 0;
    ep->grant_used[idx + k] = 0;
  }
  r->grant = 0;
}
