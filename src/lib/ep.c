/*
 * ep.c - entering an endpoint: every call checks the handle it was given
 * (a magic word, not a lookup under a global lock: this is on the data
 * path of every call), takes the endpoint's lock, and, where a running
 * unexpected handler must not have the ground pulled from under it, waits
 * for the handler to return; and a closing endpoint's requests and
 * connections freed.
 */
#include <stdlib.h>

#include "lib.h"
#include "base.h"

/* Every call checks its endpoint: a magic word, not a lookup under a
 * global lock (this is on the data path of every call). */
int ep_valid(struct mx_endpoint *ep)
{
  return ep && ep->magic == EP_MAGIC;
}

mx_return_t ep_enter(struct mx_endpoint *ep, const char *fn)
{
  if (!ep_valid(ep)) {
    mx_return_t rc = lib_error(NULL, MX_BAD_ENDPOINT, "%s: bad endpoint", fn);
    return rc == MX_SUCCESS ? MX_BAD_ENDPOINT : rc; /* whatever a handler says, the call stops */
  }
  pthread_mutex_lock(&ep->lock);
  return MX_SUCCESS;
}

mx_return_t ep_check_ctxid(struct mx_endpoint *ep, uint64_t mask, const char *fn)
{
  if ((mask & ep->ctxid_mask) == ep->ctxid_mask)
    return MX_SUCCESS;
  return lib_error(ep, MX_BAD_MATCHING_FOR_CONTEXT_ID_MASK,
                   "%s: mask 0x%llx does not cover the context id bits 0x%llx", fn,
                   (unsigned long long)mask, (unsigned long long)ep->ctxid_mask);
}

int ep_in_handler(struct mx_endpoint *ep)
{
  return (ep->progress_off & PROGRESS_OFF_HANDLER) &&
         pthread_equal(ep->handler_thread, pthread_self());
}

void ep_handler_wait(struct mx_endpoint *ep)
{
  while ((ep->progress_off & PROGRESS_OFF_HANDLER) &&
         !pthread_equal(ep->handler_thread, pthread_self()))
    pthread_cond_wait(&ep->progress_on, &ep->lock);
}

mx_return_t ep_enter_outside_handler(struct mx_endpoint *ep, const char *fn)
{
  mx_return_t rc = ep_enter(ep, fn);
  if (rc != MX_SUCCESS)
    return rc;
  if (ep_in_handler(ep)) {
    pthread_mutex_unlock(&ep->lock);
    return lib_error(ep, MX_CLOSE_IN_HANDLER, "%s: called in the unexpected handler", fn);
  }
  ep_handler_wait(ep);
  return MX_SUCCESS;
}

void ep_free_requests(struct mx_endpoint *ep)
{
  for (uint32_t i = 0; i < ep->nhandles; i++)
    if (ep->handles[i])
      req_free(ep, ep->handles[i]);
  free(ep->handles);
  ep->handles = NULL;
  ep->nhandles = 0;
  req_cache_free(ep);
  while (ep->conns) {
    struct conn *c = ep->conns;
    ep->conns = c->next;
    c->magic = 0;
    free(c);
  }
}
