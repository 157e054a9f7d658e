/*
 * endpoint.c - opening and closing endpoints, addresses, names, info,
 * and connecting to peers.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/clock.h"
#include "lib.h"

/* Every call checks its endpoint: a magic word, not a lookup under a
 * global lock (this is on the data path of every call). */
int ep_valid(struct mx_endpoint *ep)
{
  return ep && ep->magic == EP_MAGIC;
}

mx_return_t ep_enter(struct mx_endpoint *ep, const char *fn)
{
  if (!ep_valid(ep))
    return lib_error(NULL, MX_BAD_ENDPOINT, "%s: bad endpoint", fn);
  pthread_mutex_lock(&ep->lock);
  return MX_SUCCESS;
}

static mx_return_t apply_params(struct mx_endpoint *ep, mx_param_t *p, uint32_t n)
{
  if (n && !p)
    return MX_BAD_PARAM_LIST;
  for (uint32_t i = 0; i < n; i++) {
    switch (p[i].key) {
    case MX_PARAM_ERROR_HANDLER:
      ep->handler = p[i].val.error_handler;
      break;
    case MX_PARAM_UNEXP_QUEUE_MAX:
      ep->unexp_max = p[i].val.unexp_queue_max;
      break;
    case MX_PARAM_CONTEXT_ID:
      if (p[i].val.context_id.bits != 0)
        return MX_BAD_PARAM_VAL; /* context ids: see mx_extensions work */
      break;
    default:
      return MX_BAD_PARAM_NAME;
    }
  }
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_open_endpoint(uint32_t board, uint32_t eid, uint32_t key,
                                    mx_param_t *params, uint32_t nparams,
                                    mx_endpoint_t *out)
{
  struct ctl_msg req, rep;
  int fds[CTL_MAX_FDS], nfds = 0;

  if (!lib.initialized)
    return lib_error(NULL, MX_NOT_INITIALIZED, "mx_open_endpoint: call mx_init first");
  if (!out)
    return lib_error(NULL, MX_BAD_ENDPOINT, "mx_open_endpoint: NULL endpoint pointer");
  struct mx_endpoint *ep = calloc(1, sizeof(*ep));
  if (!ep)
    return lib_error(NULL, MX_NO_RESOURCES, "mx_open_endpoint: out of memory");
  mx_return_t pr = apply_params(ep, params, nparams);
  if (pr != MX_SUCCESS) {
    free(ep);
    return lib_error(NULL, pr, "mx_open_endpoint: bad parameter");
  }
  ctl_init(&req, CTL_OPEN, 0);
  req.u.open.board = board;
  req.u.open.eid = eid;
  req.u.open.key = key;
  int r = ctl_call(&req, &rep, fds, &nfds, NULL);
  if (r == 0 && (nfds != 1 || rep.u.open_reply.vif >= REGION_VIFS))
    r = MX_BAD_BAD_BAD;
  if (r != 0) {
    ctl_close_fds(fds, nfds);
    mx_error_handler_t h = ep->handler;
    free(ep);
    if (h)
      return h("mx_open_endpoint failed", (mx_return_t)r);
    return lib_error(NULL, (mx_return_t)r, "mx_open_endpoint(board %u, endpoint %d)", board,
                     (int)eid);
  }
  pthread_mutex_init(&ep->lock, NULL);
  ep->magic = EP_MAGIC;
  ep->eid = rep.u.open_reply.eid;
  ep->vif_idx = rep.u.open_reply.vif;
  ep->session = rep.u.open_reply.session;
  ep->doorbell = fds[0];
  ep->vif = region_vif(lib.region, ep->vif_idx);
  ep->ctl_seq_seen = atomic_load(&ep->vif->ctl_seq);
  txq_init(&ep->etx, &ep->vif->tx, lib.engine_doorbell);
  qcons_init(&ep->erx, &ep->vif->rx);
  pthread_mutex_lock(&lib.eps_lock);
  ep->next = lib.eps;
  lib.eps = ep;
  pthread_mutex_unlock(&lib.eps_lock);
  *out = ep;
  return MX_SUCCESS;
}

/* Everything sent has left this guest: the engine took our request ring,
 * and nothing waits in a backlog.  (A channel's ring is drained by the peer
 * even after we close; the engine ring is served by the backend on close,
 * but only as far as the destinations have room.) */
static int sends_flushed(struct mx_endpoint *ep, void *arg)
{
  (void)arg;
  if (ep->dead)
    return 1;
  if (ep->etx.bl_head || ring_load_cons(&ep->etx.p.q->ring) != ep->etx.p.prod)
    return 0;
  for (struct chan *ch = ep->chans; ch; ch = ch->next)
    if (ch->tx.bl_head)
      return 0;
  return 1;
}

#define CLOSE_FLUSH_MS 2000

EXPORT mx_return_t mx_close_endpoint(mx_endpoint_t ep)
{
  struct ctl_msg req, rep;
  if (!ep_valid(ep))
    return lib_error(NULL, MX_BAD_ENDPOINT, "mx_close_endpoint: bad endpoint");
  pthread_mutex_lock(&lib.eps_lock);
  for (struct mx_endpoint **pp = &lib.eps; *pp; pp = &(*pp)->next)
    if (*pp == ep) {
      *pp = ep->next;
      break;
    }
  pthread_mutex_unlock(&lib.eps_lock);
  pthread_mutex_lock(&ep->lock);
  ep_wait(ep, CLOSE_FLUSH_MS, sends_flushed, NULL);
  ctl_init(&req, CTL_CLOSE, 0);
  req.u.close.vif = ep->vif_idx;
  ctl_call(&req, &rep, NULL, NULL, NULL); /* a dead backend closed it already */
  while (ep->chans)
    chan_close(ep, ep->chans);
  for (uint32_t i = 0; i < ep->nhandles; i++)
    if (ep->handles[i])
      req_free(ep, ep->handles[i]);
  free(ep->handles);
  req_cache_free(ep);
  while (ep->conns) {
    struct conn *c = ep->conns;
    ep->conns = c->next;
    c->magic = 0;
    free(c);
  }
  close(ep->doorbell);
  ep->magic = 0;
  pthread_mutex_unlock(&ep->lock);
  pthread_mutex_destroy(&ep->lock);
  free(ep);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_get_endpoint_addr(mx_endpoint_t ep, mx_endpoint_addr_t *addr)
{
  mx_return_t entered = ep_enter(ep, "mx_get_endpoint_addr");
  if (entered != MX_SUCCESS)
    return entered;
  struct conn *self = conn_get(ep, lib.hello.nic_id, ep->eid, 1);
  if (self) {
    self->session = ep->session;
    conn_to_addr(self, addr);
  }
  pthread_mutex_unlock(&ep->lock);
  return self ? MX_SUCCESS : lib_error(ep, MX_NO_RESOURCES, "mx_get_endpoint_addr");
}

EXPORT mx_return_t mx_wakeup(mx_endpoint_t ep)
{
  mx_return_t entered = ep_enter(ep, "mx_wakeup");
  if (entered != MX_SUCCESS)
    return entered;
  ep->wakeup_gen++;
  pthread_mutex_unlock(&ep->lock);
  uint64_t one = 1;
  if (write(ep->doorbell, &one, sizeof(one)) < 0) {
    /* saturated: sleepers wake anyway */
  }
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_progress(mx_endpoint_t ep)
{
  mx_return_t entered = ep_enter(ep, "mx_progress");
  if (entered != MX_SUCCESS)
    return entered;
  ep_progress(ep);
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}

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
  req.u.connect.want_channel = lib.datapath != DP_ENGINE && !(known && known->ch);
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
  if (c->session != rep.u.connect_reply.session) {
    c->session = rep.u.connect_reply.session;
    c->dead = 0;
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

/* The request completes at once: the control exchange is synchronous; a
 * peer not yet open is retried for up to 10 s (MYRIXEN_CONNECT_MS). */
EXPORT mx_return_t mx_iconnect(mx_endpoint_t ep, uint64_t nic, uint32_t eid, uint32_t key,
                               uint64_t match, void *ctx, mx_request_t *out)
{
  struct conn *c = NULL;
  const char *t = getenv("MYRIXEN_CONNECT_MS");
  mx_return_t entered = ep_enter(ep, "mx_iconnect");
  if (entered != MX_SUCCESS)
    return entered;
  struct req *r = req_new(ep, REQ_CONNECT);
  if (!r) {
    pthread_mutex_unlock(&ep->lock);
    return lib_error(ep, MX_NO_RESOURCES, "mx_iconnect");
  }
  int rc = connect_retry(ep, nic, eid, key, t ? (uint32_t)atoi(t) : 10000, &c);
  r->status.match_info = match;
  r->status.context = ctx;
  if (c)
    conn_to_addr(c, &r->status.source);
  req_complete(ep, r, rc == 0                       ? MX_STATUS_SUCCESS
                      : rc == MX_BAD_CONNECTION_KEY ? MX_STATUS_BAD_KEY
                      : rc == MX_TIMEOUT            ? MX_STATUS_TIMEOUT
                                                    : MX_STATUS_ENDPOINT_UNKNOWN);
  *out = (mx_request_t)r;
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_disconnect(mx_endpoint_t ep, mx_endpoint_addr_t addr)
{
  mx_return_t entered = ep_enter(ep, "mx_disconnect");
  if (entered != MX_SUCCESS)
    return entered;
  struct conn *c = conn_from_addr(ep, &addr);
  if (c)
    conn_fail(ep, c, MX_STATUS_ENDPOINT_CLOSED);
  pthread_mutex_unlock(&ep->lock);
  return c ? MX_SUCCESS : lib_error(ep, MX_BAD_ENDPOINT, "mx_disconnect: unknown address");
}

/* --- names --------------------------------------------------------------- */

EXPORT mx_return_t mx_hostname_to_nic_id(char *hostname, uint64_t *nic_id)
{
  char host[MX_MAX_HOSTNAME_LEN];
  if (!lib.initialized)
    return lib_error(NULL, MX_NOT_INITIALIZED, "mx_hostname_to_nic_id");
  if (!hostname || !nic_id)
    return lib_error(NULL, MX_BAD_HOSTNAME_ARGS, "mx_hostname_to_nic_id: NULL argument");
  snprintf(host, sizeof(host), "%s", hostname);
  char *colon = strchr(host, ':');
  if (colon) {
    if (strcmp(colon, ":0"))
      return lib_error(NULL, MX_HOST_NOT_FOUND, "mx_hostname_to_nic_id: %s: no such board", hostname);
    *colon = 0;
  }
  if (strcmp(host, lib.hello.hostname) && strcmp(host, "localhost"))
    return lib_error(NULL, MX_HOST_NOT_FOUND, "mx_hostname_to_nic_id: %s unknown", hostname);
  *nic_id = lib.hello.nic_id;
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_nic_id_to_hostname(uint64_t nic_id, char *hostname)
{
  if (!lib.initialized)
    return lib_error(NULL, MX_NOT_INITIALIZED, "mx_nic_id_to_hostname");
  if (nic_id != lib.hello.nic_id)
    return lib_error(NULL, MX_NIC_NOT_FOUND, "mx_nic_id_to_hostname: %012llx unknown",
                     (unsigned long long)nic_id);
  snprintf(hostname, MX_MAX_HOSTNAME_LEN, "%s:0", lib.hello.hostname);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_board_number_to_nic_id(uint32_t board, uint64_t *nic_id)
{
  if (board != 0)
    return lib_error(NULL, MX_BOARD_UNKNOWN, "mx_board_number_to_nic_id: board %u", board);
  *nic_id = lib.hello.nic_id;
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_nic_id_to_board_number(uint64_t nic_id, uint32_t *board)
{
  if (nic_id != lib.hello.nic_id)
    return lib_error(NULL, MX_NIC_NOT_FOUND, "mx_nic_id_to_board_number");
  *board = 0;
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_get_info(mx_endpoint_t ep, mx_get_info_key_t key, void *in, uint32_t in_len,
                               void *out, uint32_t out_len)
{
  (void)in;
  (void)in_len;
  uint32_t v;
  if (!lib.initialized)
    return lib_error(NULL, MX_NOT_INITIALIZED, "mx_get_info");
  switch (key) {
  case MX_NIC_COUNT: v = 1; break;
  case MX_MAX_NATIVE_ENDPOINTS: v = lib.hello.max_endpoints; break;
  case MX_NATIVE_REQUESTS: v = QUEUE_SLOTS; break;
  case MX_PORT_COUNT: v = 1; break;
  case MX_PIO_SEND_MAX: v = lib.small_max; break;
  case MX_COPY_SEND_MAX: v = lib.medium_max; break;
  case MX_NUMA_NODE: v = 0; break;
  case MX_NET_TYPE: v = MX_NET_ETHER; break;
  case MX_LINE_SPEED: v = MX_SPEED_OPEN_MX; break;
  case MX_NIC_IDS:
    if (out_len < 2 * sizeof(uint64_t))
      return lib_error(ep, MX_BAD_INFO_LENGTH, "mx_get_info(MX_NIC_IDS): need 2 uint64_t");
    ((uint64_t *)out)[0] = lib.hello.nic_id;
    ((uint64_t *)out)[1] = 0;
    return MX_SUCCESS;
  case MX_PRODUCT_CODE:
  case MX_PART_NUMBER:
  case MX_SERIAL_NUMBER:
    if (out_len < 16)
      return lib_error(ep, MX_BAD_INFO_LENGTH, "mx_get_info: string needs 16 bytes");
    snprintf(out, out_len, "%s", key == MX_PRODUCT_CODE ? "MyriXen-loop" : key == MX_PART_NUMBER ? "MYRIXEN-0.1" : lib.hello.hostname);
    return MX_SUCCESS;
  default:
    return lib_error(ep, MX_BAD_INFO_KEY, "mx_get_info: key %d not supported", (int)key);
  }
  if (out_len < sizeof(v))
    return lib_error(ep, MX_BAD_INFO_LENGTH, "mx_get_info: out_len %u < 4", out_len);
  memcpy(out, &v, sizeof(v));
  return MX_SUCCESS;
}
