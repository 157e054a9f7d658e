/*
 * allow.c - the endpoints of other hosts a VIF may hear from: those that
 * connected to it with its key, and those it connected to (a reply needs
 * no connect of its own, as in MX).  Data from any other is refused at
 * delivery (DROP_NOT_CONNECTED), as it is between endpoints of this host.
 *
 * An open-addressing hash set of (nic, eid), grown by doubling; an MPI
 * job's endpoint hears from every other rank, so it is not a small list.
 */
#include <stdlib.h>

#include "engine_int.h"

#define ALLOW_MIN 16

static uint32_t allow_hash(uint64_t nic, uint32_t eid)
{
  uint64_t x = (nic << 16) ^ eid;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return (uint32_t)x;
}

/* The slot of (nic, eid), or the empty one where it would go. */
static struct allow_entry *allow_slot(const struct allow_set *s, uint64_t nic, uint32_t eid)
{
  for (uint32_t i = allow_hash(nic, eid);; i++) {
    struct allow_entry *a = &s->slots[i & (s->cap - 1)];
    if (!a->eid_plus1 || (a->nic == nic && a->eid_plus1 == eid + 1))
      return a;
  }
}

int allow_has(const struct allow_set *s, uint64_t nic, uint32_t eid, uint32_t session)
{
  if (!s->count)
    return 0;
  const struct allow_entry *a = allow_slot(s, nic, eid);
  return a->eid_plus1 != 0 && (!session || a->session == session);
}

int allow_find(const struct allow_set *s, uint64_t nic, uint32_t eid, uint32_t session)
{
  if (!s->count || !session)
    return -1;
  const struct allow_entry *a = allow_slot(s, nic, eid);
  return a->eid_plus1 != 0 && a->session == session ? (int)(a - s->slots) : -1;
}

static int allow_grow(struct allow_set *s)
{
  uint32_t cap = s->cap ? s->cap * 2 : ALLOW_MIN;
  if (cap > ALLOW_MAX * 2)
    return -1;
  struct allow_set n = {.slots = calloc(cap, sizeof(*n.slots)), .cap = cap};
  if (!n.slots)
    return -1;
  for (uint32_t i = 0; i < s->cap; i++)
    if (s->slots[i].eid_plus1) {
      *allow_slot(&n, s->slots[i].nic, s->slots[i].eid_plus1 - 1) = s->slots[i];
      n.count++;
    }
  free(s->slots);
  *s = n;
  return 0;
}

int allow_add(struct allow_set *s, uint64_t nic, uint32_t eid, uint32_t session)
{
  if (allow_has(s, nic, eid, 0)) {
    allow_slot(s, nic, eid)->session = session; /* connected again: that incarnation now */
    return 0;
  }
  if (s->count >= ALLOW_MAX)
    return -1;
  if ((s->count + 1) * 2 > s->cap && allow_grow(s) < 0)
    return -1; /* kept at most half full: every probe ends */
  *allow_slot(s, nic, eid) =
      (struct allow_entry){.nic = nic, .eid_plus1 = eid + 1, .session = session};
  s->count++;
  return 0;
}

void allow_free(struct allow_set *s)
{
  free(s->slots);
  *s = (struct allow_set){0};
}

void allow_forget_nic(struct allow_set *s, uint64_t nic)
{
  if (!s->count)
    return;
  struct allow_set kept = {.slots = calloc(s->cap, sizeof(*kept.slots)), .cap = s->cap};
  if (!kept.slots) { /* no memory to rebuild: forget them all (they connect anew) */
    allow_free(s);
    return;
  }
  for (uint32_t i = 0; i < s->cap; i++)
    if (s->slots[i].eid_plus1 && s->slots[i].nic != nic) {
      *allow_slot(&kept, s->slots[i].nic, s->slots[i].eid_plus1 - 1) = s->slots[i];
      kept.count++;
    }
  free(s->slots);
  *s = kept;
}

int allow_has_nic(const struct allow_set *s, uint64_t nic)
{
  for (uint32_t i = 0; i < s->cap; i++)
    if (s->slots[i].eid_plus1 && s->slots[i].nic == nic)
      return 1;
  return 0;
}
