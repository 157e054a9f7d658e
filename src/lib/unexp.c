/*
 * unexp.c - running the unexpected handler (mx_register_unexp_handler,
 * handler.c) on a message no posted receive matched.
 *
 * The handler runs with the endpoint's lock dropped, so that it may post
 * receives and sends; meanwhile progress_off keeps every other thread from
 * taking events off the rings, so the message being handled stays where it
 * is (its eager slot is not released) and nothing overtakes it: per-pair
 * ordering holds across the handler.
 */
#include <string.h>

#include "lib.h"
#include "base.h"
#include "conn.h"
#include "unexp.h"

/* A receive of nothing, reaped by nobody: consumes a message the handler
 * finished with.  Through the ordinary paths, so that a rendezvous sender
 * and an issend still complete. */
static struct req *discard_recv(struct mx_endpoint *ep)
{
  struct req *r = req_new(ep, REQ_RECV);
  if (!r)
    return NULL;
  r->forgotten = 1;
  return r;
}

struct req *unexp_handler_run(struct mx_endpoint *ep, struct conn *c, const struct msg *m,
                              const uint8_t *eager)
{
  mx_endpoint_addr_t source;
  const void *data = NULL;

  conn_to_addr(c, &source);
  if (m->type == MSG_SMALL)
    data = m->data;
  else if (m->type == MSG_FRAG && m->len == m->total)
    data = eager;
  /* The handler sees the application's bytes, not an immediate. */
  uint32_t k = (m->flags & MSG_F_IMM) && m->total >= 4 ? 4 : 0;
  if (data)
    data = (const uint8_t *)data + k;
  mx_unexp_handler_t h = ep->unexp_handler;
  void *ctx = ep->unexp_ctx;
  ep->counters[EPC_HANDLER_CALLS]++;
  ep->progress_off |= PROGRESS_OFF_HANDLER;
  ep->handler_thread = pthread_self();
  pthread_mutex_unlock(&ep->lock);
  mx_unexp_handler_action_t act = h(ctx, source, m->match, m->total - k, (void *)data);
  pthread_mutex_lock(&ep->lock);
  ep->progress_off &= ~PROGRESS_OFF_HANDLER;
  pthread_cond_broadcast(&ep->progress_on);
  if (act == MX_RECV_FINISHED)
    return discard_recv(ep);
  struct req *r = match_find(&ep->posted, m->match, c);
  if (r)
    reqlist_remove(&ep->posted, r);
  return r;
}

