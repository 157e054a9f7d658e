/*
 * grant.c - the guest's side of grants: a run of entries in the VIF's
 * grant table that lets the engine read (or write) a request's segments,
 * bound to a generation that is never 0 while live, and revoked by
 * clearing it before the entries are reused.
 */
#include <string.h>

#include "lib.h"
#include "base.h"

/* What a grant's entries name: r's segments as they are (a process: the
 * engine copies by our virtual addresses), or in a VM the physical runs
 * under them (the engine copies through the VM's RAM).  The number of
 * entries, or -1 when they would not fit the table. */
static int grant_ranges(const struct req *r, uint32_t flags, struct iovec *out)
{
  if (!r->nseg) {
    out[0] = (struct iovec){NULL, 0};
    return 1;
  }
  if (!lib.vm) {
    if (r->nseg > REGION_GRANTS)
      return -1;
    memcpy(out, r->segs, r->nseg * sizeof(*out));
    return (int)r->nseg;
  }
  int n = 0;
  for (uint32_t s = 0; s < r->nseg; s++) {
    int k = vmdev_phys_runs(r->segs[s].iov_base, r->segs[s].iov_len, flags == GRANT_WRITE,
                            out + n, REGION_GRANTS - n);
    if (k < 0)
      return -1;
    n += k;
  }
  return n ? n : (out[0] = (struct iovec){NULL, 0}, 1);
}

/* Grant the engine access to r's segments: a run of entries in this VIF's
 * grant table.  Returns the grant ref, or 0 when the table is full. */
uint32_t grant_segments(struct mx_endpoint *ep, struct req *r, uint32_t flags)
{
  static __thread struct iovec range[REGION_GRANTS];
  int nr = grant_ranges(r, flags, range);
  if (nr < 0)
    return 0;
  uint32_t n = (uint32_t)nr;
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
      g->addr = (uint64_t)(uintptr_t)range[k].iov_base;
      g->len = range[k].iov_len;
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
