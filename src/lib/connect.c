/*
 * connect.c - mx_connect, mx_iconnect, mx_disconnect.  Each connect is an
 * exchange with the backend (reach.c); a peer that is not open yet is
 * retried, as MX retries, until the timeout: by mx_connect itself, or by
 * progress for an mx_iconnect.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "../common/clock.h"
#include "lib.h"
#include "base.h"
#include "conn.h"
#include "reach.h"
#include "progress.h"

/* Retry while the peer endpoint does not exist yet, as MX does. */
static int connect_retry(struct mx_endpoint *ep, uint64_t nic, uint32_t eid, uint32_t key,
                         uint32_t timeout_ms, struct conn **out)
{
  uint64_t deadline = clock_now_ns() + (uint64_t)(timeout_ms ? timeout_ms : UINT32_MAX) * 1000000ull;
  for (;;) {
    int r = reach_once(ep, nic, eid, key, out);
    if (r != MX_CONNECTION_FAILED)
      return r;
    if (clock_now_ns() >= deadline)
      return MX_TIMEOUT;
    progress_once(ep);
    pthread_mutex_unlock(&ep->lock);
    usleep(5000);
    pthread_mutex_lock(&ep->lock);
  }
}

EXPORT mx_return_t mx_connect(mx_endpoint_t ep, uint64_t nic, uint32_t eid, uint32_t key,
                              uint32_t timeout, mx_endpoint_addr_t *addr)
{
  struct conn *c = NULL;
  mx_return_t entered = ep_enter(ep, "mx_connect");
  if (entered != MX_SUCCESS)
    return entered;
  int r = connect_retry(ep, nic, eid, key, timeout, &c);
  if (r == 0)
    conn_to_addr(c, addr);
  pthread_mutex_unlock(&ep->lock);
  if (r != 0)
    return lib_error(ep, (mx_return_t)r, "mx_connect to %012llx:%u",
                     (unsigned long long)nic, eid);
  return MX_SUCCESS;
}

/* Returns at once: one exchange with the backend, which answers at once
 * for an open peer, a wrong key or a bad id.  A peer not open yet is
 * retried by progress until the request's deadline. */
EXPORT mx_return_t mx_iconnect(mx_endpoint_t ep, uint64_t nic, uint32_t eid, uint32_t key,
                               uint64_t match, void *ctx, mx_request_t *out)
{
  const char *t = getenv("MYRIXEN_CONNECT_MS");
  mx_return_t entered = ep_enter(ep, "mx_iconnect");
  if (entered != MX_SUCCESS)
    return entered;
  struct req *r = req_new(ep, REQ_CONNECT);
  if (!r) {
    pthread_mutex_unlock(&ep->lock);
    return lib_error(ep, MX_NO_RESOURCES, "mx_iconnect");
  }
  uint64_t now = clock_now_ns();
  uint32_t ms = ep->req_timeout_ms ? ep->req_timeout_ms : t ? (uint32_t)atoi(t) : 10000;
  r->conn_nic = nic;
  r->conn_eid = eid;
  r->conn_key = key;
  r->deadline_ns = now + (uint64_t)ms * 1000000ull;
  r->status.match_info = match;
  r->status.context = ctx;
  r->state = RS_ACTIVE;
  *out = (mx_request_t)r;
  mx_status_code_t code = ep->dead_code;
  if (ep->dead || reach_try(ep, r, now, &code)) {
    req_complete(ep, r, code);
  } else {
    r->cnext = ep->connecting;
    ep->connecting = r;
    ep->connect_next_ns = now + REACH_RETRY_NS;
  }
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_disconnect(mx_endpoint_t ep, mx_endpoint_addr_t addr)
{
  mx_return_t entered = ep_enter_outside_handler(ep, "mx_disconnect");
  if (entered != MX_SUCCESS)
    return entered;
  struct conn *c = conn_from_addr(ep, &addr);
  if (c)
    conn_fail(ep, c, MX_STATUS_ENDPOINT_CLOSED);
  pthread_mutex_unlock(&ep->lock);
  return c ? MX_SUCCESS : lib_error(ep, MX_BAD_ENDPOINT, "mx_disconnect: unknown address");
}

