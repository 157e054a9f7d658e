/*
 * reach.c - reaching a peer: one connect exchange with the backend, which
 * checks the peer's key and, for a same-host pair, hands both sides a
 * direct channel; the retries of pending mx_iconnect requests; and the
 * channels peers opened to us, which the backend announced meanwhile.
 */
#include "../common/clock.h"
#include "lib.h"
#include "base.h"
#include "channel.h"
#include "conn.h"
#include "lane.h"
#include "reach.h"

/* One connect exchange with the backend.  Returns 0 or an MX code. */
int reach_once(struct mx_endpoint *ep, uint64_t nic, uint32_t eid, uint32_t key,
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
  lane_flush(ep); /* held sends do not wait on a connect that may block */
  int r = ctl_call(&req, &rep, fds, &nfds, NULL);
  if (r != 0) {
    ctl_close_fds(fds, nfds);
    return r;
  }
  /* A channel the peer opened to us may have arrived before our reply. */
  reach_take_attached(ep);
  struct conn *c = conn_get(ep, nic, eid, 1);
  if (!c) {
    ctl_close_fds(fds, nfds);
    return MX_NO_RESOURCES;
  }
  int new_peer = c->session && c->session != rep.u.connect_reply.session;
  if (new_peer && c->remote) {
    /* a new incarnation of a peer of another host: what was in progress
     * with the old one ends (its engine's word of the death may still be
     * in our ring, and would name a session we no longer know) */
    conn_fail(ep, c, MX_STATUS_ENDPOINT_CLOSED);
    lane_unbind(ep, c);
  }
  if (new_peer && !c->ch)
    c->path = PATH_NONE; /* chosen again at the next send */
  /* A connection we had dropped (mx_disconnect) keeps its path: messages
   * still in flight on it could be overtaken on another. */
  c->session = rep.u.connect_reply.session;
  c->dead = 0;
  if (rep.u.connect_reply.lane.port && ep->lane)
    lane_bind(ep, c, &rep.u.connect_reply.lane, c->session);
  else if (c->lane && c->lane->session != c->session)
    lane_unbind(ep, c); /* (the engines carry this incarnation) */
  if (rep.u.connect_reply.has_channel && nfds >= CHANNEL_FDS && !c->ch)
    chan_attach(ep, c, (int)rep.u.connect_reply.side, fds, nfds,
                (pid_t)rep.u.connect_reply.peer_pid, (int)rep.u.connect_reply.peer_covers);
  else
    ctl_close_fds(fds, nfds);
  *out = c;
  return 0;
}

static mx_status_code_t reach_status(int rc)
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
int reach_try(struct mx_endpoint *ep, struct req *r, uint64_t now,
                        mx_status_code_t *code)
{
  struct conn *c = NULL;
  int rc = reach_once(ep, r->conn_nic, r->conn_eid, r->conn_key, &c);
  if (rc == MX_CONNECTION_FAILED) {
    if (now < r->deadline_ns)
      return 0; /* the peer is not open yet */
    rc = MX_TIMEOUT;
  }
  if (c)
    conn_to_addr(c, &r->status.source);
  *code = reach_status(rc);
  return 1;
}

int reach_progress(struct mx_endpoint *ep, uint64_t now)
{
  int work = 0;
  mx_status_code_t code;
  if (!ep->connecting || now < ep->connect_next_ns)
    return 0;
  ep->connect_next_ns = now + REACH_RETRY_NS;
  for (struct req **pp = &ep->connecting; *pp;) {
    struct req *r = *pp;
    if (!reach_try(ep, r, now, &code)) {
      pp = &r->cnext;
      continue;
    }
    *pp = r->cnext;
    req_complete(ep, r, code);
    work++;
  }
  return work;
}

void reach_take_attached(struct mx_endpoint *ep)
{
  struct ctl_msg m;
  int fds[CTL_MAX_FDS], nfds;
  while (ctl_async_take(ep->vif_idx, &m, fds, &nfds)) {
    struct conn *c = conn_get(ep, lib.hello.nic_id, m.u.attach.peer_eid, 1);
    if (nfds >= CHANNEL_FDS && c && !c->ch) {
      c->session = m.u.attach.peer_session;
      c->dead = 0;
      /* closes them on failure */
      chan_attach(ep, c, (int)m.u.attach.side, fds, nfds, (pid_t)m.u.attach.peer_pid,
                  (int)m.u.attach.peer_covers);
    } else {
      ctl_close_fds(fds, nfds);
    }
  }
}
