/*
 * wait.c - completion: test/wait one request, test/wait any, peek, probe,
 * cancel, forget, context, buffered.
 */
#include <string.h>

#include "../common/clock.h"
#include "lib.h"
#include "base.h"
#include "conn.h"
#include "lane.h"
#include "progress.h"

/* Check ep and *request, and take ep's lock.  On failure the lock is not
 * held and the error handler's answer is returned. */
static mx_return_t req_enter(struct mx_endpoint *ep, mx_request_t *request, const char *fn,
                             struct req **out)
{
  mx_return_t rc = ep_enter(ep, fn);
  if (rc != MX_SUCCESS)
    return rc;
  struct req *r = request ? (struct req *)*request : NULL;
  if (!r || r->handle >= ep->nhandles || ep->handles[r->handle] != r || r->forgotten ||
      (r->kind != REQ_SEND && r->kind != REQ_RECV && r->kind != REQ_CONNECT)) {
    pthread_mutex_unlock(&ep->lock);
    rc = lib_error(ep, MX_BAD_REQUEST, "%s: bad request", fn);
    return rc == MX_SUCCESS ? MX_BAD_REQUEST : rc; /* whatever a handler says, the call stops */
  }
  *out = r;
  return MX_SUCCESS;
}

/* As ep_enter, for calls that take match info and a mask. */
static mx_return_t match_enter(struct mx_endpoint *ep, uint64_t match, uint64_t mask,
                               const char *fn)
{
  if (!ep_valid(ep))
    return lib_error(NULL, MX_BAD_ENDPOINT, "%s: bad endpoint", fn);
  if (match & ~mask)
    return lib_error(ep, MX_BAD_MATCH_MASK, "%s: match outside mask", fn);
  mx_return_t rc = ep_check_ctxid(ep, mask, fn);
  if (rc != MX_SUCCESS)
    return rc;
  pthread_mutex_lock(&ep->lock);
  return MX_SUCCESS;
}

/* The immediate a request's message carried: a receive has it as data,
 * a message still unexpected in its buffer (or, a rendezvous, announced). */
static void imm_of(const struct req *r, uint32_t *imm, uint32_t *has_imm)
{
  uint32_t v = 0;
  if (r->has_imm) {
    if (r->kind == REQ_UNEXP && r->type != MSG_RNDV && r->buf && r->got >= 4)
      memcpy(&v, r->buf, 4);
    else if (r->kind == REQ_UNEXP || r->kind == REQ_SEND)
      v = r->imm;
    else
      memcpy(&v, r->imm_buf, 4);
  }
  if (imm)
    *imm = v;
  if (has_imm)
    *has_imm = r->has_imm;
}

/* Hand a completed request's status to the caller and free it. */
static void reap(struct mx_endpoint *ep, struct req *r, mx_status_t *status)
{
  reqlist_remove(&ep->done, r);
  if (status)
    *status = r->status;
  req_free(ep, r);
}

/* Once (wait == 0: one progress pass) or up to timeout ms: does pred hold?
 * Called, and returns, with ep->lock held. */
static uint32_t poll_or_wait(struct mx_endpoint *ep, int wait, uint32_t timeout,
                             int (*pred)(struct mx_endpoint *, void *), void *arg)
{
  if (wait)
    return (uint32_t)progress_wait(ep, timeout, pred, arg);
  progress_poll(ep);
  return (uint32_t)pred(ep, arg);
}

static int is_done(struct mx_endpoint *ep, void *arg)
{
  (void)ep;
  return ((struct req *)arg)->state == RS_DONE;
}

/* mx_test and mx_wait. */
static mx_return_t test_one(struct mx_endpoint *ep, mx_request_t *request, int wait,
                            uint32_t timeout, mx_status_t *status, uint32_t *result,
                            const char *fn)
{
  struct req *r = NULL;
  mx_return_t rc = req_enter(ep, request, fn, &r);
  if (rc != MX_SUCCESS)
    return rc;
  lane_flush(ep); /* (a request done already makes no pass) */
  *result = r->state == RS_DONE || poll_or_wait(ep, wait, timeout, is_done, r);
  if (*result)
    reap(ep, r, status);
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_test(mx_endpoint_t ep, mx_request_t *request, mx_status_t *status,
                           uint32_t *result)
{
  return test_one(ep, request, 0, 0, status, result, "mx_test");
}

EXPORT mx_return_t mx_wait(mx_endpoint_t ep, mx_request_t *request, uint32_t timeout,
                           mx_status_t *status, uint32_t *result)
{
  return test_one(ep, request, 1, timeout, status, result, "mx_wait");
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

/* mx_test_any, mx_wait_any and mx_test_any_imm (imm, has_imm not NULL). */
static mx_return_t test_any(struct mx_endpoint *ep, int wait, uint32_t timeout, uint64_t match,
                            uint64_t mask, mx_status_t *status, uint32_t *imm,
                            uint32_t *has_imm, uint32_t *result, const char *fn)
{
  struct any_arg a = {match, mask, NULL};
  mx_return_t rc = match_enter(ep, match, mask, fn);
  if (rc != MX_SUCCESS)
    return rc;
  *result = poll_or_wait(ep, wait, timeout, any_done, &a);
  if (*result) {
    imm_of(a.found, imm, has_imm);
    reap(ep, a.found, status);
  }
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_test_any(mx_endpoint_t ep, uint64_t match, uint64_t mask,
                               mx_status_t *status, uint32_t *result)
{
  return test_any(ep, 0, 0, match, mask, status, NULL, NULL, result, "mx_test_any");
}

EXPORT mx_return_t mx_wait_any(mx_endpoint_t ep, uint32_t timeout, uint64_t match, uint64_t mask,
                               mx_status_t *status, uint32_t *result)
{
  return test_any(ep, 1, timeout, match, mask, status, NULL, NULL, result, "mx_wait_any");
}

EXPORT mx_return_t mx_test_any_imm(mx_endpoint_t ep, uint64_t match, uint64_t mask,
                                   mx_status_t *status, uint32_t *imm, uint32_t *has_imm,
                                   uint32_t *result)
{
  return test_any(ep, 0, 0, match, mask, status, imm, has_imm, result, "mx_test_any_imm");
}

static int peek_done(struct mx_endpoint *ep, void *arg)
{
  (void)arg;
  return ep->done.head != NULL;
}

/* mx_ipeek and mx_peek. */
static mx_return_t peek(struct mx_endpoint *ep, int wait, uint32_t timeout,
                        mx_request_t *request, uint32_t *result, const char *fn)
{
  if (ep_valid(ep) && ep->ctxid_mask)
    return lib_error(ep, MX_NOT_SUPPORTED_WITH_CONTEXT_ID,
                     "%s: peeking crosses contexts; use mx_test_any", fn);
  mx_return_t rc = ep_enter(ep, fn);
  if (rc != MX_SUCCESS)
    return rc;
  *result = poll_or_wait(ep, wait, timeout, peek_done, NULL);
  if (*result)
    *request = (mx_request_t)ep->done.head;
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_ipeek(mx_endpoint_t ep, mx_request_t *request, uint32_t *result)
{
  return peek(ep, 0, 0, request, result, "mx_ipeek");
}

EXPORT mx_return_t mx_peek(mx_endpoint_t ep, uint32_t timeout, mx_request_t *request,
                           uint32_t *result)
{
  return peek(ep, 1, timeout, request, result, "mx_peek");
}

struct probe_arg {
  uint64_t match, mask;
  const struct conn *from;      /* mx_iprobe_from: only this peer's messages */
  mx_status_t *status;
  uint32_t *imm, *has_imm;      /* mx_iprobe_from: the message's immediate */
};

/* An unexpected message is visible to probe once it is whole (MX reports
 * messages, not fragments); a rendezvous is whole when announced. */
static int probe_done(struct mx_endpoint *ep, void *arg)
{
  struct probe_arg *p = arg;
  for (struct req *u = ep->unexp.head; u; u = u->next) {
    if (!match_accepts(u->match, p->match, p->mask) || (p->from && u->conn != p->from))
      continue;
    if (u->type != MSG_RNDV && u->got < u->msg_len)
      continue;
    if (p->status) {
      *p->status = u->status;
      p->status->code = MX_STATUS_SUCCESS;
      p->status->msg_length = (uint32_t)u->msg_len - (u->has_imm ? 4 : 0);
      p->status->xfer_length = p->status->msg_length;
      p->status->context = NULL;
    }
    imm_of(u, p->imm, p->has_imm);
    return 1;
  }
  return 0;
}

/* mx_iprobe, mx_probe and mx_iprobe_from (source not NULL). */
static mx_return_t probe(struct mx_endpoint *ep, int wait, uint32_t timeout, uint64_t match,
                         uint64_t mask, const mx_endpoint_addr_t *source, mx_status_t *status,
                         uint32_t *imm, uint32_t *has_imm, uint32_t *result, const char *fn)
{
  struct probe_arg p = {match, mask, NULL, status, imm, has_imm};
  mx_return_t rc = match_enter(ep, match, mask, fn);
  if (rc != MX_SUCCESS)
    return rc;
  if (source && !(p.from = conn_from_addr(ep, source))) {
    pthread_mutex_unlock(&ep->lock);
    return lib_error(ep, MX_BAD_ADDR_LIST, "%s: source is not an address of this endpoint",
                     fn);
  }
  *result = poll_or_wait(ep, wait, timeout, probe_done, &p);
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_iprobe(mx_endpoint_t ep, uint64_t match, uint64_t mask,
                             mx_status_t *status, uint32_t *result)
{
  return probe(ep, 0, 0, match, mask, NULL, status, NULL, NULL, result, "mx_iprobe");
}

EXPORT mx_return_t mx_iprobe_from(mx_endpoint_t ep, uint64_t match, uint64_t mask,
                                  const mx_endpoint_addr_t *source, mx_status_t *status,
                                  uint32_t *imm, uint32_t *has_imm, uint32_t *result)
{
  return probe(ep, 0, 0, match, mask, source, status, imm, has_imm, result, "mx_iprobe_from");
}

EXPORT mx_return_t mx_probe(mx_endpoint_t ep, uint32_t timeout, uint64_t match, uint64_t mask,
                            mx_status_t *status, uint32_t *result)
{
  return probe(ep, 1, timeout, match, mask, NULL, status, NULL, NULL, result, "mx_probe");
}

EXPORT mx_return_t mx_cancel(mx_endpoint_t ep, mx_request_t *request, uint32_t *result)
{
  struct req *r = NULL;
  mx_return_t rc = req_enter(ep, request, "mx_cancel", &r);
  if (rc != MX_SUCCESS)
    return rc;
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
  struct req *r = NULL;
  mx_return_t rc = req_enter(ep, request, "mx_forget", &r);
  if (rc != MX_SUCCESS)
    return rc;
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

static int is_buffered(struct mx_endpoint *ep, void *arg)
{
  (void)ep;
  return ((struct req *)arg)->buffered;
}

/* mx_ibuffered and mx_buffered. */
static mx_return_t buffered(struct mx_endpoint *ep, mx_request_t *request, int wait,
                            uint32_t timeout, uint32_t *result, const char *fn)
{
  struct req *r = NULL;
  mx_return_t rc = req_enter(ep, request, fn, &r);
  if (rc != MX_SUCCESS)
    return rc;
  lane_flush(ep); /* a held send is buffered already: the caller may go */
  *result = r->buffered || poll_or_wait(ep, wait, timeout, is_buffered, r);
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_ibuffered(mx_endpoint_t ep, mx_request_t *request, uint32_t *result)
{
  return buffered(ep, request, 0, 0, result, "mx_ibuffered");
}

EXPORT mx_return_t mx_buffered(mx_endpoint_t ep, mx_request_t *request, uint32_t timeout,
                               uint32_t *result)
{
  return buffered(ep, request, 1, timeout, result, "mx_buffered");
}

/* A per-request timeout counts from now; the endpoint's default, from each
 * request's posting. */
EXPORT mx_return_t mx_set_request_timeout(mx_endpoint_t ep, mx_request_t request, uint32_t ms)
{
  mx_return_t rc;
  if (!request) {
    if ((rc = ep_enter(ep, "mx_set_request_timeout")) != MX_SUCCESS)
      return rc;
    ep->req_timeout_ms = ms;
    ep->timers |= ms != 0;
  } else {
    struct req *r = NULL;
    if ((rc = req_enter(ep, &request, "mx_set_request_timeout", &r)) != MX_SUCCESS)
      return rc;
    r->deadline_ns = ms ? clock_now_ns() + (uint64_t)ms * 1000000ull : 0;
    ep->timers |= ms != 0;
  }
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}
