/* match.c - MX matching: (incoming & mask) == match, first in order wins. */
#include "lib.h"
#include "base.h"

int match_accepts(uint64_t incoming, uint64_t match, uint64_t mask)
{
  return (incoming & mask) == match;
}

/* The oldest posted receive that accepts a message with match info
 * incoming. */
struct req *match_find(struct req_list *l, uint64_t incoming)
{
  for (struct req *r = l->head; r; r = r->next)
    if (match_accepts(incoming, r->match, r->mask))
      return r;
  return NULL;
}

/* The oldest unexpected message that a receive (match, mask) accepts. */
struct req *match_find_unexp(struct req_list *l, uint64_t match, uint64_t mask)
{
  for (struct req *u = l->head; u; u = u->next)
    if (match_accepts(u->match, match, mask))
      return u;
  return NULL;
}
