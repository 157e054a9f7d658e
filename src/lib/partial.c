/*
 * partial.c - the endpoint's medium messages being reassembled, fragment
 * by fragment: found by their sender's connection and message number.
 */
#include "lib.h"
#include "base.h"

void partial_add(struct mx_endpoint *ep, struct req *r)
{
  r->pnext = ep->partials;
  ep->partials = r;
}

void partial_replace(struct mx_endpoint *ep, struct req *old, struct req *r)
{
  for (struct req **pp = &ep->partials; *pp; pp = &(*pp)->pnext)
    if (*pp == old) {
      r->pnext = old->pnext;
      *pp = r;
      return;
    }
}

void partial_remove(struct mx_endpoint *ep, struct req *r)
{
  for (struct req **pp = &ep->partials; *pp; pp = &(*pp)->pnext)
    if (*pp == r) {
      *pp = r->pnext;
      return;
    }
}

struct req *partial_find(struct mx_endpoint *ep, const struct conn *c, uint32_t seq)
{
  for (struct req *r = ep->partials; r; r = r->pnext)
    if (r->conn == c && r->seq == seq)
      return r;
  return NULL;
}
