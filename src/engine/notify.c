/*
 * notify.c - events of the network for local endpoints (completions,
 * refusals, a host gone) that may find their event ring full: they wait
 * here, in order, and are posted again each round.  An event for an
 * endpoint closed meanwhile is dropped: nobody waits for it.
 */
#include <stdlib.h>

#include "../common/fifo.h"
#include "net_int.h"

int notify_post(struct engine *e, uint32_t eid, uint32_t session, const struct msg *m)
{
  struct net *n = net_of(e);
  if (eid >= e->cfg.max_endpoints)
    return -1;
  struct engine_vif *v = vif_find(e, eid, session);
  if (!v)
    return -1; /* closed meanwhile: nobody waits for it */
  int r = deliver_post(e, v, m, NULL);
  if (r != 0)
    return r;
  struct net_notify_wait *w = v->notices < VIF_NOTICES_MAX ? calloc(1, sizeof(*w)) : NULL;
  if (!w) {
    vif_count_drop(v, DROP_OVERFLOW); /* its guest takes no events: it loses its own */
    return -1;
  }
  w->eid = eid;
  w->session = session;
  w->m = *m;
  FIFO_PUSH(&n->notifies, &n->notifies_tail, w, next); /* in order */
  v->notices++;
  return 0;
}

int notify_post_open(struct engine *e, uint32_t eid, const struct msg *m)
{
  if (eid >= e->cfg.max_endpoints)
    return -1;
  return notify_post(e, eid, e->vifs[eid].session, m);
}

int notify_retry(struct engine *e)
{
  struct net *n = net_of(e);
  int work = 0;
  while (n->notifies) {
    struct net_notify_wait *w = n->notifies;
    struct engine_vif *v = vif_find(e, w->eid, w->session);
    int r = v ? deliver_post(e, v, &w->m, NULL) : -1;
    if (r == 0)
      break;
    if (v)
      v->notices--;
    FIFO_POP(&n->notifies, &n->notifies_tail, next);
    free(w);
    work++;
  }
  return work;
}

void notify_free_all(struct net *n)
{
  LIST_FREE_ALL(&n->notifies, next);
  n->notifies_tail = NULL;
}
