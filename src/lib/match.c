/* match.c - MX matching: (incoming & mask) == match, from the receive's
 * source if it names one (mx_irecv_from), first in order wins. */
#include "lib.h"
#include "base.h"

int match_accepts(uint64_t incoming, uint64_t match, uint64_t mask)
{
  return (incoming & mask) == match;
}

/* The oldest posted receive that accepts a message with match info
 * incoming from peer c. */
struct req *match_find(struct req_list *l, uint64_t incoming, const struct conn *c)
{
  for (struct req *r = l->head; r; r = r->next)
    if (match_accepts(incoming, r->match, r->mask) && (!r->from || r->from == c))
      return r;
  return NULL;
}

/* The oldest unexpected message that a receive (match, mask) from peer
 * from (NULL: any) accepts. */
struct req *match_find_unexp(struct req_list *l, uint64_t match, uint64_t mask,
                             const struct conn *from)
{
  for (struct req *u = l->head; u; u = u->next)
    if (match_accepts(u->match, match, mask) && (!from || u->conn == from))
      return u;
  return NULL;
}
