/*
 * handler.c - the application's hold on progress: the unexpected handler
 * (mx_register_unexp_handler) and mx_disable_progression.  While either
 * holds it, no thread takes events off the rings (progress_off), so a
 * message being handled stays where it is and nothing overtakes it.
 */
#include "lib.h"
#include "base.h"
#include "progress.h"

EXPORT mx_return_t mx_register_unexp_handler(mx_endpoint_t ep, mx_unexp_handler_t handler,
                                             void *context)
{
  mx_return_t rc = ep_enter(ep, "mx_register_unexp_handler");
  if (rc != MX_SUCCESS)
    return rc;
  ep_handler_wait(ep);
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
    progress_once(ep);
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
