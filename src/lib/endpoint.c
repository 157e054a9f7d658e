/*
 * endpoint.c - opening and closing endpoints, their parameters, their own
 * address, mx_wakeup and mx_progress.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/doorbell.h"
#include "../common/clock.h"
#include "lib.h"
#include "base.h"
#include "txq.h"
#include "channel.h"
#include "conn.h"
#include "lane.h"
#include "progress.h"

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
    case MX_PARAM_CONTEXT_ID: {
      uint32_t bits = p[i].val.context_id.bits, shift = p[i].val.context_id.shift;
      if (bits > MX_CONTEXT_ID_BITS_MAX || bits + shift > 64)
        return MX_BAD_PARAM_VAL;
      ep->ctxid_mask = bits ? (((uint64_t)1 << bits) - 1) << shift : 0;
      break;
    }
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
  const char *why = NULL;
  int r = attach_again(&why); /* our backend died or stopped: the one there now */
  if (r != MX_SUCCESS) {
    free(ep);
    return lib_error(NULL, r, "mx_open_endpoint: the backend is gone: %s", why);
  }
  ctl_init(&req, CTL_OPEN, 0);
  req.u.open.board = board;
  req.u.open.eid = eid;
  req.u.open.key = key;
  /* A lane is our own socket, which the backend checks and binds: ours,
   * so that the host's filters by owner and cgroup see us (docs/lanes.md). */
  int lane_fd = -1;
  if (lib.lanes && !lib.vm && datapath_uses_channels(lib.datapath) && lib.hello.lane_family)
    lane_fd = socket(lib.hello.lane_family == 6 ? AF_INET6 : AF_INET,
                     SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  req.u.open.want_lane = lane_fd >= 0;
  r = ctl_call_passing(&req, lane_fd, &rep, fds, &nfds, NULL);
  int has_lane = r == 0 && rep.u.open_reply.has_lane && lane_fd >= 0;
  if (!has_lane && lane_fd >= 0) {
    close(lane_fd);
    lane_fd = -1;
  }
  if (r == 0 && (nfds != (lib.vm ? 0 : 1) || rep.u.open_reply.vif >= REGION_VIFS))
    r = MX_BAD_BAD_BAD;
  if (r != 0) {
    ctl_close_fds(fds, nfds);
    if (lane_fd >= 0)
      close(lane_fd);
    mx_error_handler_t h = ep->handler;
    free(ep);
    if (h)
      return h("mx_open_endpoint failed", (mx_return_t)r);
    return lib_error(NULL, (mx_return_t)r, "mx_open_endpoint(board %u, endpoint %d)", board,
                     (int)eid);
  }
  pthread_mutex_init(&ep->lock, NULL);
  pthread_cond_init(&ep->progress_on, NULL);
  ep->magic = EP_MAGIC;
  ep->eid = rep.u.open_reply.eid;
  ep->vif_idx = rep.u.open_reply.vif;
  ep->session = rep.u.open_reply.session;
  ep->doorbell = lib.vm ? -1 : fds[0]; /* a VM polls */
  ep->attachment = lib.attachment;
  ep->region = lib.region;
  ep->sock = lib.sock;
  ep->vif = region_vif_at(&lib.layout, lib.region, ep->vif_idx);
  ep->ctl_seq_seen = atomic_load(&ep->vif->ctl_seq);
  txq_init(&ep->etx, &ep->vif->tx, lib.engine_doorbell);
  qcons_init(&ep->erx, &ep->vif->rx);
  if (has_lane)
    lane_open(ep, lane_fd, &rep.u.open_reply, &progress_lane_io); /* else the engines */
  pthread_mutex_lock(&lib.eps_lock);
  /* A second endpoint: the first may hold sends its thread will not
   * flush while it waits on this one (lane_post holds only with one). */
  if (atomic_fetch_add(&lib.neps, 1) == 1 && lib.eps) {
    pthread_mutex_lock(&lib.eps->lock);
    lane_flush(lib.eps);
    pthread_mutex_unlock(&lib.eps->lock);
  }
  ep->next = lib.eps;
  lib.eps = ep;
  pthread_mutex_unlock(&lib.eps_lock);
  *out = ep;
  return MX_SUCCESS;
}

/* Everything sent has left this guest: the engine took our request ring,
 * nothing waits in a backlog, and the other hosts acknowledged what went
 * on the lane (nobody resends it once we close).  (A channel's ring is
 * drained by the peer even after we close; the engine ring is served by the
 * backend on close, but only as far as the destinations have room.) */
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
  return !lane_busy(ep);
}

#define CLOSE_FLUSH_MS 2000

/* CTL_CLOSE, with where our lane streams stood: the peers' hosts hear it
 * with the close (lane_last_acks).  Without memory for it, the close alone. */
static void close_call(struct mx_endpoint *ep)
{
  struct ctl_msg small, rep;
  uint32_t max = ep->lane ? ep->lane->npeers : 0;
  if (max > CTL_LANE_LAST_ACKS_MAX)
    max = CTL_LANE_LAST_ACKS_MAX;
  struct ctl_msg *req = max ? malloc(sizeof(*req) + max * sizeof(struct ctl_lane_last_ack)) : NULL;
  if (!req) {
    req = &small;
    max = 0;
  }
  ctl_init(req, CTL_CLOSE, 0);
  req->u.close.vif = ep->vif_idx;
  if (max) /* (text is aligned for them: ctl_abi.h) */
    req->len = lane_last_acks(ep, (struct ctl_lane_last_ack *)req->text, max) *
               (uint32_t)sizeof(struct ctl_lane_last_ack);
  ctl_call(req, &rep, NULL, NULL, NULL);
  if (req != &small)
    free(req);
}

EXPORT mx_return_t mx_close_endpoint(mx_endpoint_t ep)
{
  mx_return_t rc = ep_enter_outside_handler(ep, "mx_close_endpoint");
  if (rc != MX_SUCCESS)
    return rc;
  ep->progress_off &= ~PROGRESS_OFF_API; /* what was sent must still leave */
  pthread_mutex_unlock(&ep->lock);
  pthread_mutex_lock(&lib.eps_lock);
  for (struct mx_endpoint **pp = &lib.eps; *pp; pp = &(*pp)->next)
    if (*pp == ep) {
      *pp = ep->next;
      atomic_fetch_sub(&lib.neps, 1);
      break;
    }
  pthread_mutex_unlock(&lib.eps_lock);
  pthread_mutex_lock(&ep->lock);
  progress_wait(ep, CLOSE_FLUSH_MS, sends_flushed, NULL);
  /* What we took by lane is acknowledged before the engines tell our
   * peers we closed: else their sends of it would fail though delivered. */
  lane_flush_acks(ep);
  if (ep->attachment == lib.attachment) /* a dead backend closed it already */
    close_call(ep);
  uint32_t attachment = ep->attachment;
  while (ep->chans)
    chan_close(ep, ep->chans);
  lane_close(ep);
  ep_free_requests(ep);
  close(ep->doorbell);
  ep->magic = 0;
  uint64_t counters[EPC_MAX];
  memcpy(counters, ep->counters, sizeof(counters));
  pthread_mutex_unlock(&ep->lock);
  pthread_mutex_lock(&lib.eps_lock); /* lock order: eps_lock, then an endpoint's */
  for (int i = 0; i < EPC_MAX; i++)
    lib.closed_counters[i] += counters[i];
  pthread_mutex_unlock(&lib.eps_lock);
  pthread_mutex_destroy(&ep->lock);
  pthread_cond_destroy(&ep->progress_on);
  free(ep);
  attach_endpoint_closed(attachment);
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
  doorbell_ring(ep->doorbell);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_progress(mx_endpoint_t ep)
{
  mx_return_t entered = ep_enter(ep, "mx_progress");
  if (entered != MX_SUCCESS)
    return entered;
  progress_once(ep);
  pthread_mutex_unlock(&ep->lock);
  return MX_SUCCESS;
}

