/*
 * netconn.c - mx_connect to an endpoint of another host.  The guest's
 * CTL_CONNECT waits in the backend while WIRE_CONNECT travels; the peer's
 * backend checks the endpoint and its key as it would for a local guest,
 * and its WIRE_CONNECT_REPLY becomes the guest's reply.  A peer that does
 * not answer within NET_CONNECT_WAIT_NS gets MX_CONNECTION_FAILED, which the
 * library retries until the connect's own timeout, as for a peer not open
 * yet.
 */
#include <stdlib.h>
#include <string.h>

#include "../../include/myriexpress.h"
#include "../common/clock.h"
#include "net_int.h"

static struct be_guest *guest_by_id(struct backend *be, uint32_t id)
{
  for (int i = 0; i < BE_MAX_GUESTS; i++)
    if (be->guests[i].in_use && be->guests[i].id == id)
      return &be->guests[i];
  return NULL;
}

static void answer(struct backend *be, struct net_connect_wait *w, int status, uint32_t eid,
                   uint32_t session)
{
  struct be_guest *g = guest_by_id(be, w->guest_id);
  if (!g)
    return; /* it left meanwhile */
  struct ctl_msg rep;
  ctl_init(&rep, status == MX_SUCCESS ? CTL_REPLY : CTL_ERROR, w->seq);
  rep.status = status;
  rep.u.connect_reply.eid = eid;
  rep.u.connect_reply.session = session;
  guest_send(g, &rep, NULL, 0); /* on its socket, or in its mailbox if it asked there */
}

static void wait_free(struct backend *be, struct net_connect_wait *w)
{
  for (struct net_connect_wait **pp = &net_of(be)->connects; *pp; pp = &(*pp)->next)
    if (*pp == w) {
      *pp = w->next;
      break;
    }
  free(w);
}

int net_connect(struct backend *be, struct be_guest *g, uint32_t seq, struct be_endpoint *me,
                const struct ctl_connect *c)
{
  struct net *n = net_of(be);
  struct net_peer *p = n ? peer_by_nic(n, c->nic_id) : NULL;
  if (!p)
    return MX_NIC_NOT_FOUND;
  if (!rel_room(p))
    return MX_CONNECTION_FAILED;
  struct net_connect_wait *w = calloc(1, sizeof(*w));
  if (!w)
    return MX_NO_RESOURCES;
  w->req_id = ++n->next_req_id;
  w->guest_id = g->id;
  w->seq = seq;
  w->peer = p;
  w->deadline_ns = clock_now_ns() + NET_CONNECT_WAIT_NS;
  w->next = n->connects;
  n->connects = w;
  struct wire_connect wc = {.req_id = w->req_id, .src_eid = me->eid, .dst_eid = c->eid,
                            .key = c->key};
  rel_send(be, p, WIRE_CONNECT, &wc, sizeof(wc), NULL, 0);
  net_flush(be); /* the control thread's packet: the engine may be asleep */
  return 0;
}

int netconn_on_request(struct backend *be, struct net_peer *p, const struct wire_connect *c)
{
  if (!rel_room(p))
    return 0;
  struct wire_connect_reply r = {.req_id = c->req_id, .eid = c->dst_eid};
  struct be_endpoint *ep = c->dst_eid < be->cfg.max_endpoints ? &be->eps[c->dst_eid] : NULL;
  if (!ep)
    r.status = MX_BAD_ENDPOINT_ID;
  else if (!ep->in_use || atomic_load(&ep->vif->state) != VIF_OPEN)
    r.status = MX_CONNECTION_FAILED;
  else if (ep->key != c->key)
    r.status = MX_BAD_CONNECTION_KEY;
  else
    r.status = MX_SUCCESS, r.ep_session = ep->session;
  rel_send(be, p, WIRE_CONNECT_REPLY, &r, sizeof(r), NULL, 0);
  return 1;
}

int netconn_on_reply(struct backend *be, const struct wire_connect_reply *r)
{
  for (struct net_connect_wait *w = net_of(be)->connects; w; w = w->next)
    if (w->req_id == r->req_id) {
      answer(be, w, r->status, r->eid, r->ep_session);
      wait_free(be, w);
      break;
    }
  return 1;
}

int netconn_timers(struct backend *be, uint64_t now)
{
  int work = 0;
  for (struct net_connect_wait *w = net_of(be)->connects, *nx; w; w = nx) {
    nx = w->next;
    if (now < w->deadline_ns)
      continue;
    answer(be, w, MX_CONNECTION_FAILED, 0, 0);
    wait_free(be, w);
    work++;
  }
  return work;
}

void netconn_drop_peer(struct backend *be, struct net_peer *p)
{
  for (struct net_connect_wait *w = net_of(be)->connects, *nx; w; w = nx) {
    nx = w->next;
    if (w->peer == p) {
      answer(be, w, MX_CONNECTION_FAILED, 0, 0);
      wait_free(be, w);
    }
  }
}
