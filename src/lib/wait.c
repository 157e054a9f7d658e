/*
 * wait.c - completion: test/wait one request, test/wait any, peek, probe,
 * cancel, forget, context, buffered.
 */
#include <string.h>

#include "lib.h"

static int req_valid(struct mx_endpoint *ep, struct req *r)
{
  return r && r->handle < ep->nhandles && ep->handles[r->handle] == r &&
         (r->kind == REQ_SEND || r->kind == REQ_RECV || r->kind == REQ_CONNECT) && !r->forgotten;
}

/* Hand a completed request's status to the caller and free it. */
static void reap(struct mx_endpoint *ep, struct req *r, mx_status_t *status)
{
  reqlist_remove(&ep->done, r);
  if (status)
    *status = r->status;
  req_free(ep, r);
}

static int is_done(struct mx_endpoint *ep, void *arg)
{
  (void)ep;
  return ((struct req *)arg)->state == RS_DONE;
}

EXPORT mx_return_t mx_test(mx_endpoint_t ep, mx_request_t *request, mx_status_t *status,
                           uint32_t *result)
{
  if (!ep_valid(ep))
    return lib_error(NULL, MX_BAD_ENDPOINT, "mx_test: bad endpoint");
  pthread_mutex_lock(&ep->lock);
  struct req *r = request ? (struct req *)*request : NULL;
  if (!req_valid(ep, r)) {
    pthread_mutex_unlock(&ep->lock);
    return lib_error(ep, MX_BAD_REQUEST, "mx_test: bad request");
  }
  if (r->state != RS_DONE)
    ep_progress(ep);
  *result = r->state == RS_DONE;
  if (*result)
    reap(ep, r, status);
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_wait(mx_endpoint_t ep, mx_request_t *request, uint32_t timeout,
                           mx_status_t *status, uint32_t *result)
{
  if (!ep_valid(ep))
    return lib_error(NULL, MX_BAD_ENDPOINT, "mx_wait: bad endpoint");
  pthread_mutex_lock(&ep->lock);
  struct req *r = request ? (struct req *)*request : NULL;
  if (!req_valid(ep, r)) {
    pthread_mutex_unlock(&ep->lock);
    return lib_error(ep, MX_BAD_REQUEST, "mx_wait: bad request");
  }
  *result = (uint32_t)ep_wait(ep, timeout, is_done, r);
  if (*result)
    reap(ep, r, status);
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}

struct any_arg {
  uint64_t match, mask;
  struct req *found;
};

static int any_done(struct mx_endpoint *ep, void *arg)
{
  struct any_arg *a = arg;
  for (struct req *r = ep->done.head; r; r = r->next)
    if (match_accepts(r->status.match_info, a->match, a->mask)) {
      a->found = r;
      return 1;
    }
  return 0;
}

EXPORT mx_return_t mx_test_any(mx_endpoint_t ep, uint64_t match, uint64_t mask,
                               mx_status_t *status, uint32_t *result)
{
  if (!ep_valid(ep))
    return lib_error(NULL, MX_BAD_ENDPOINT, "mx_test_any: bad endpoint");
  if (match & ~mask)
    return lib_error(ep, MX_BAD_MATCH_MASK, "mx_test_any: match outside mask");
  struct any_arg a = {match, mask, NULL};
  pthread_mutex_lock(&ep->lock);
  ep_progress(ep);
  *result = (uint32_t)any_done(ep, &a);
  if (*result)
    reap(ep, a.found, status);
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_wait_any(mx_endpoint_t ep, uint32_t timeout, uint64_t match, uint64_t mask,
                               mx_status_t *status, uint32_t *result)
{
  if (!ep_valid(ep))
    return lib_error(NULL, MX_BAD_ENDPOINT, "mx_wait_any: bad endpoint");
  if (match & ~mask)
    return lib_error(ep, MX_BAD_MATCH_MASK, "mx_wait_any: match outside mask");
  struct any_arg a = {match, mask, NULL};
  pthread_mutex_lock(&ep->lock);
  *result = (uint32_t)ep_wait(ep, timeout, any_done, &a);
  if (*result)
    reap(ep, a.found, status);
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}

static int peek_done(struct mx_endpoint *ep, void *arg)
{
  (void)arg;
  return ep->done.head != NULL;
}

EXPORT mx_return_t mx_ipeek(mx_endpoint_t ep, mx_request_t *request, uint32_t *result)
{
  if (!ep_valid(ep))
    return lib_error(NULL, MX_BAD_ENDPOINT, "mx_ipeek: bad endpoint");
  pthread_mutex_lock(&ep->lock);
  ep_progress(ep);
  *result = ep->done.head != NULL;
  if (*result)
    *request = (mx_request_t)ep->done.head;
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_peek(mx_endpoint_t ep, uint32_t timeout, mx_request_t *request,
                           uint32_t *result)
{
  if (!ep_valid(ep))
    return lib_error(NULL, MX_BAD_ENDPOINT, "mx_peek: bad endpoint");
  pthread_mutex_lock(&ep->lock);
  *result = (uint32_t)ep_wait(ep, timeout, peek_done, NULL);
  if (*result)
    *request = (mx_request_t)ep->done.head;
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}

struct probe_arg {
  uint64_t match, mask;
  mx_status_t *status;
};

/* An unexpected message is visible to probe once it is whole (MX reports
 * messages, not fragments); a rendezvous is whole when announced. */
static int probe_done(struct mx_endpoint *ep, void *arg)
{
  struct probe_arg *p = arg;
  for (struct req *u = ep->unexp.head; u; u = u->next) {
    if (!match_accepts(u->match, p->match, p->mask))
      continue;
    if (u->type != MSG_RNDV && u->got < u->msg_len)
      continue;
    if (p->status) {
      *p->status = u->status;
      p->status->code = MX_STATUS_SUCCESS;
      p->status->xfer_length = (uint32_t)u->msg_len;
      p->status->context = NULL;
    }
    return 1;
  }
  return 0;
}

EXPORT mx_return_t mx_iprobe(mx_endpoint_t ep, uint64_t match, uint64_t mask,
                             mx_status_t *status, uint32_t *result)
{
  if (!ep_valid(ep))
    return lib_error(NULL, MX_BAD_ENDPOINT, "mx_iprobe: bad endpoint");
  if (match & ~mask)
    return lib_error(ep, MX_BAD_MATCH_MASK, "mx_iprobe: match outside mask");
  struct probe_arg p = {match, mask, status};
  pthread_mutex_lock(&ep->lock);
  ep_progress(ep);
  *result = (uint32_t)probe_done(ep, &p);
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_probe(mx_endpoint_t ep, uint32_t timeout, uint64_t match, uint64_t mask,
                            mx_status_t *status, uint32_t *result)
{
  if (!ep_valid(ep))
    return lib_error(NULL, MX_BAD_ENDPOINT, "mx_probe: bad endpoint");
  if (match & ~mask)
    return lib_error(ep, MX_BAD_MATCH_MASK, "mx_probe: match outside mask");
  struct probe_arg p = {match, mask, status};
  pthread_mutex_lock(&ep->lock);
  *result = (uint32_t)ep_wait(ep, timeout, probe_done, &p);
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_cancel(mx_endpoint_t ep, mx_request_t *request, uint32_t *result)
{
  if (!ep_valid(ep))
    return lib_error(NULL, MX_BAD_ENDPOINT, "mx_cancel: bad endpoint");
  pthread_mutex_lock(&ep->lock);
  struct req *r = request ? (struct req *)*request : NULL;
  if (!req_valid(ep, r)) {
    pthread_mutex_unlock(&ep->lock);
    return lib_error(ep, MX_BAD_REQUEST, "mx_cancel: bad request");
  }
  if (r->kind != REQ_RECV) {
    pthread_mutex_unlock(&ep->lock);
    return lib_error(ep, MX_CANCEL_NOT_SUPPORTED, "mx_cancel: only receives can be cancelled");
  }
  *result = r->state == RS_POSTED;
  if (*result) {
    reqlist_remove(&ep->posted, r);
    req_free(ep, r);
  }
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_forget(mx_endpoint_t ep, mx_request_t *request)
{
  if (!ep_valid(ep))
    return lib_error(NULL, MX_BAD_ENDPOINT, "mx_forget: bad endpoint");
  pthread_mutex_lock(&ep->lock);
  struct req *r = request ? (struct req *)*request : NULL;
  if (!req_valid(ep, r)) {
    pthread_mutex_unlock(&ep->lock);
    return lib_error(ep, MX_BAD_REQUEST, "mx_forget: bad request");
  }
  if (r->state == RS_DONE)
    reap(ep, r, NULL);
  else
    r->forgotten = 1;
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_context(mx_request_t *request, void **context)
{
  if (!request || !*request || !context)
    return lib_error(NULL, MX_BAD_REQUEST, "mx_context: bad request");
  *context = ((struct req *)*request)->status.context;
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_ibuffered(mx_endpoint_t ep, mx_request_t *request, uint32_t *result)
{
  if (!ep_valid(ep))
    return lib_error(NULL, MX_BAD_ENDPOINT, "mx_ibuffered: bad endpoint");
  pthread_mutex_lock(&ep->lock);
  struct req *r = request ? (struct req *)*request : NULL;
  if (!req_valid(ep, r)) {
    pthread_mutex_unlock(&ep->lock);
    return lib_error(ep, MX_BAD_REQUEST, "mx_ibuffered: bad request");
  }
  ep_progress(ep);
  *result = (uint32_t)r->buffered;
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}
