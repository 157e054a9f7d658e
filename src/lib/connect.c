/*
 * connect.c - reaching peers: mx_connect, mx_iconnect, mx_disconnect.
 *
 * A connect is one exchange with the backend, which checks the peer's key
 * and, for a same-host pair, hands both sides a direct channel.  A peer that
 * is not open yet is retried, as MX retries, until the timeout.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "../common/clock.h"
#include "lib.h"

/* One connect exchange with the backend.  Returns 0 or an MX code. */
static int connect_once(struct mx_endpoint *ep, uint64_t nic, uint32_t eid, uint32_t key,
                        struct conn **out)
{
  struct ctl_msg req, rep;
  int fds[CTL_MAX_FDS], nfds = 0;
  struct conn *known = conn_get(ep, nic, eid, 0);

  ctl_init(&req, CTL_CONNECT, 0);
  req.u.connect.vif = ep->vif_idx;
  req.u.connect.eid = eid;
  req.u.connect.nic_id = nic;
  req.u.connect.key = key;
  /* Direct channels join endpoints of one host; a connect that cannot get
   * one passes no descriptors and goes through the region's mailbox. */
  req.u.connect.want_channel =
      datapath_uses_channels(lib.datapath) && nic == lib.hello.nic_id && !(known && known->ch);
  int r = ctl_call(&req, &rep, fds, &nfds, NULL);
  if (r != 0) {
    ctl_close_fds(fds, nfds);
    return r;
  }
  /* A channel the peer opened to us may have arrived before our reply. */
  ctl_take_async(ep);
  struct conn *c = conn_get(ep, nic, eid, 1);
  if (!c) {
    ctl_close_fds(fds, nfds);
    return MX_NO_RESOURCES;
  }
  if (c->session != rep.u.connect_reply.session || c->dead) {
    /* a new incarnation of the peer, or a connection we had dropped
     * (mx_disconnect): start afresh, path chosen again at the next send */
    c->session = rep.u.connect_reply.session;
    c->dead = 0;
    if (!c->ch)
      c->path = PATH_NONE;
  }
  if (rep.u.connect_reply.has_channel && nfds == 4 && !c->ch)
    chan_attach(ep, c, (int)rep.u.connect_reply.side, fds);
  else
    ctl_close_fds(fds, nfds);
  *out = c;
  return 0;
}

/* Retry while the peer endpoint does not exist yet, as MX does. */
static int connect_retry(struct mx_endpoint *ep, uint64_t nic, uint32_t eid, uint32_t key,
                         uint32_t timeout_ms, struct conn **out)
{
  uint64_t deadline = clock_now_ns() + (uint64_t)(timeout_ms ? timeout_ms : UINT32_MAX) * 1000000ull;
  for (;;) {
    int r = connect_once(ep, nic, eid, key, out);
    if (r != MX_CONNECTION_FAILED)
      return r;
    if (clock_now_ns() >= deadline)
      return MX_TIMEOUT;
    ep_progress(ep);
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

static mx_status_code_t connect_status(int rc)
{
  switch (rc) {
  case 0: return MX_STATUS_SUCCESS;
  case MX_BAD_CONNECTION_KEY: return MX_STATUS_BAD_KEY;
  case MX_BAD_ENDPOINT_ID: return MX_STATUS_BAD_ENDPOINT;
  case MX_TIMEOUT: return MX_STATUS_TIMEOUT;
  default: return MX_STATUS_ENDPOINT_UNKNOWN;
  }
}

/* One attempt for a pending mx_iconnect: 0 to try again later, or the
 * status it finished with (not yet reported). */
static int iconnect_try(struct mx_endpoint *ep, struct req *r, uint64_t now,
                        mx_status_code_t *code)
{
  struct conn *c = NULL;
  int rc = connect_once(ep, r->conn_nic, r->conn_eid, r->conn_key, &c);
  if (rc == MX_CONNECTION_FAILED) {
    if (now < r->deadline_ns)
      return 0; /* the peer is not open yet */
    rc = MX_TIMEOUT;
  }
  if (c)
    conn_to_addr(c, &r->status.source);
  *code = connect_status(rc);
  return 1;
}

#define CONNECT_RETRY_NS 5000000ull

int connect_progress(struct mx_endpoint *ep, uint64_t now)
{
  int work = 0;
  mx_status_code_t code;
  if (!ep->connecting || now < ep->connect_next_ns)
    return 0;
  ep->connect_next_ns = now + CONNECT_RETRY_NS;
  for (struct req **pp = &ep->connecting; *pp;) {
    struct req *r = *pp;
    if (!iconnect_try(ep, r, now, &code)) {
      pp = &r->cnext;
      continue;
    }
    *pp = r->cnext;
    req_complete(ep, r, code);
    work++;
  }
  return work;
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
  if (ep->dead || iconnect_try(ep, r, now, &code)) {
    req_complete(ep, r, code);
  } else {
    r->cnext = ep->connecting;
    ep->connecting = r;
    ep->connect_next_ns = now + CONNECT_RETRY_NS;
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

