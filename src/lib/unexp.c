/*
 * unexp.c - the unexpected handler (mx_register_unexp_handler) and the
 * holding off of progress that it shares with mx_disable_progression.
 *
 * The handler runs with the endpoint's lock dropped, so that it may post
 * receives and sends; meanwhile progress_off keeps every other thread from
 * taking events off the rings, so the message being handled stays where it
 * is (its eager slot is not released) and nothing overtakes it: per-pair
 * ordering holds across the handler.
 */
#include <string.h>

#include "lib.h"

int unexp_in_handler(struct mx_endpoint *ep)
{
  return (ep->progress_off & PROGRESS_OFF_HANDLER) &&
         pthread_equal(ep->handler_thread, pthread_self());
}

void unexp_handler_wait(struct mx_endpoint *ep)
{
  while ((ep->progress_off & PROGRESS_OFF_HANDLER) &&
         !pthread_equal(ep->handler_thread, pthread_self()))
    pthread_cond_wait(&ep->progress_on, &ep->lock);
}

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
  mx_unexp_handler_t h = ep->unexp_handler;
  void *ctx = ep->unexp_ctx;
  ep->counters[EPC_HANDLER_CALLS]++;
  ep->progress_off |= PROGRESS_OFF_HANDLER;
  ep->handler_thread = pthread_self();
  pthread_mutex_unlock(&ep->lock);
  mx_unexp_handler_action_t act = h(ctx, source, m->match, m->total, (void *)data);
  pthread_mutex_lock(&ep->lock);
  ep->progress_off &= ~PROGRESS_OFF_HANDLER;
  pthread_cond_broadcast(&ep->progress_on);
  if (act == MX_RECV_FINISHED)
    return discard_recv(ep);
  struct req *r = match_find(&ep->posted, m->match);
  if (r)
    reqlist_remove(&ep->posted, r);
  return r;
}

mx_return_t ep_enter_outside_handler(struct mx_endpoint *ep, const char *fn)
{
  mx_return_t rc = ep_enter(ep, fn);
  if (rc != MX_SUCCESS)
    return rc;
  if (unexp_in_handler(ep)) {
    pthread_mutex_unlock(&ep->lock);
    return lib_error(ep, MX_CLOSE_IN_HANDLER, "%s: called in the unexpected handler", fn);
  }
  unexp_handler_wait(ep);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_register_unexp_handler(mx_endpoint_t ep, mx_unexp_handler_t handler,
                                             void *context)
{
  mx_return_t rc = ep_enter(ep, "mx_register_unexp_handler");
  if (rc != MX_SUCCESS)
    return rc;
  unexp_handler_wait(ep);
  ep->unexp_handler = handler;
  ep->unexp_ctx = context;
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_disable_progression(mx_endpoint_t ep)
{
  mx_return_t rc = ep_enter_outside_handler(ep, "mx_disable_progression");
  if (rc != MX_SUCCESS)
    return rc;
  ep->progress_off |= PROGRESS_OFF_API;
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_reenable_progression(mx_endpoint_t ep)
{
  mx_return_t rc = ep_enter(ep, "mx_reenable_progression");
  if (rc != MX_SUCCESS)
    return rc;
  if (ep->progress_off & PROGRESS_OFF_API) {
    ep->progress_off &= ~PROGRESS_OFF_API;
    pthread_cond_broadcast(&ep->progress_on);
    ep_progress(ep);
  }
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_register_unexp_callback(mx_endpoint_t ep, mx_matching_callback_t cb,
                                              void *ctxt)
{
  (void)cb;
  (void)ctxt;
  return lib_unsupported(ep_valid(ep) ? ep : NULL, "mx_register_unexp_callback",
                         "deprecated by MX; use mx_register_unexp_handler");
}
