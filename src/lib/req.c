/*
 * req.c - request objects, their handles, and completion.
 *
 * A request's cookie (sent to peers and the engine, echoed back) is its
 * handle index and generation, never a pointer: a forged or stale cookie
 * from the other side of shared memory finds nothing instead of memory.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/doorbell.h"
#include "../common/iov.h"
#include "lib.h"
#include "base.h"

#define REQ_CACHE_MAX 1024

void reqlist_push(struct req_list *l, struct req *r)
{
  r->next = NULL;
  r->prev = l->tail;
  if (l->tail)
    l->tail->next = r;
  else
    l->head = r;
  l->tail = r;
}

void reqlist_remove(struct req_list *l, struct req *r)
{
  if (r->prev)
    r->prev->next = r->next;
  else
    l->head = r->next;
  if (r->next)
    r->next->prev = r->prev;
  else
    l->tail = r->prev;
  r->prev = r->next = NULL;
}

/* Data path: a request comes from the endpoint's cache, not malloc, once
 * the endpoint has warmed up. */
struct req *req_new(struct mx_endpoint *ep, enum req_kind kind)
{
  struct req *r = ep->req_cache;
  if (r) {
    ep->req_cache = r->next;
    ep->req_cached--;
    memset(r, 0, sizeof(*r));
  } else if (!(r = calloc(1, sizeof(*r)))) {
    return NULL;
  }
  if (ep->free_handle == ep->nhandles) {
    uint32_t n = ep->nhandles ? ep->nhandles * 2 : 64;
    struct req **h = realloc(ep->handles, n * sizeof(*h));
    if (!h) {
      free(r);
      return NULL;
    }
    memset(h + ep->nhandles, 0, (n - ep->nhandles) * sizeof(*h));
    ep->handles = h;
    ep->nhandles = n;
  }
  r->handle = ep->free_handle;
  ep->handles[r->handle] = r;
  while (ep->free_handle < ep->nhandles && ep->handles[ep->free_handle])
    ep->free_handle++;
  r->gen = ++ep->req_gen;
  r->kind = kind;
  r->segs = &r->seg1;
  return r;
}

void req_free(struct mx_endpoint *ep, struct req *r)
{
  ep->handles[r->handle] = NULL;
  if (r->handle < ep->free_handle)
    ep->free_handle = r->handle;
  if (r->segs != &r->seg1 && r->segs != r->seg_imm)
    free(r->segs);
  free(r->buf);
  free(r->ctl);
  if (ep->req_cached >= REQ_CACHE_MAX) {
    free(r);
    return;
  }
  r->kind = 0; /* a stale handle to it is no request */
  r->next = ep->req_cache;
  ep->req_cache = r;
  ep->req_cached++;
}

void req_cache_free(struct mx_endpoint *ep)
{
  while (ep->req_cache) {
    struct req *r = ep->req_cache;
    ep->req_cache = r->next;
    free(r);
  }
  ep->req_cached = 0;
}

mx_status_code_t msg_status_code(uint32_t status)
{
  switch (status) {
  case MSG_ST_OK: return MX_STATUS_SUCCESS;
  case MSG_ST_CLOSED: return MX_STATUS_ENDPOINT_CLOSED;
  case MSG_ST_UNREACHABLE: return MX_STATUS_ENDPOINT_UNREACHABLE;
  default: return MX_STATUS_ABORTED; /* a bad grant, or the other side died mid-way */
  }
}

uint64_t req_cookie(const struct req *r)
{
  return ((uint64_t)r->gen << 32) | r->handle;
}

struct req *req_from_cookie(struct mx_endpoint *ep, uint64_t cookie, enum req_kind kind)
{
  uint32_t h = (uint32_t)cookie, gen = (uint32_t)(cookie >> 32);
  if (h >= ep->nhandles || !ep->handles[h])
    return NULL;
  struct req *r = ep->handles[h];
  return r->gen == gen && r->kind == kind ? r : NULL;
}

/* Keep the caller's segments as iovecs (what every copy path walks). */
int req_set_segments(struct req *r, mx_segment_t *segs, uint32_t n)
{
  if (n > 1 && !(r->segs = malloc(n * sizeof(*r->segs)))) {
    r->segs = &r->seg1;
    return -1;
  }
  r->seg1 = (struct iovec){NULL, 0};
  for (uint32_t i = 0; i < n; i++)
    r->segs[i] = (struct iovec){segs[i].segment_ptr, segs[i].segment_length};
  r->nseg = n;
  r->len = iov_total(r->segs, n);
  return 0;
}

/* The request is finished: it goes to the done queue (or away, if it was
 * forgotten); its grant, if any, is revoked first. */
void req_complete(struct mx_endpoint *ep, struct req *r, mx_status_code_t code)
{
  if (r->state == RS_DONE)
    return;
  grant_release(ep, r);
  if (code != MX_STATUS_SUCCESS || r->status.code == MX_STATUS_SUCCESS)
    r->status.code = code;
  r->state = RS_DONE;
  r->buffered = 1;
  if (ep->sleepers) {
    /* a thread sleeping in mx_wait may be waiting for this very request,
     * completed by another thread's progress: ring its doorbell */
    doorbell_ring(ep->doorbell);
  }
  if (r->forgotten) {
    req_free(ep, r);
    return;
  }
  reqlist_push(&ep->done, r);
}

void req_fail_active(struct mx_endpoint *ep, struct conn *c, mx_status_code_t code)
{
  for (uint32_t i = 0; i < ep->nhandles; i++) {
    struct req *r = ep->handles[i];
    if (!r || r->conn != c || r->state != RS_ACTIVE)
      continue;
    if (r->kind == REQ_SEND || r->kind == REQ_RECV) {
      partial_remove(ep, r);
      req_complete(ep, r, code);
    }
  }
}
