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
#include "../common/fifo.h"
#include "net_int.h"

static void answer(struct engine *e, struct net_connect_wait *w, int status, uint32_t eid,
                   uint32_t session, const struct lane_addr *lane)
{
  struct engine_completion c = {.type = ENGINE_DONE_CONNECT, .guest_id = w->guest_id,
                                .seq = w->seq, .status = status, .eid = eid,
                                .session = session};
  if (lane)
    c.lane = *lane;
  completion_post(e, &c); /* the backend answers its guest */
}

static void wait_free(struct engine *e, struct net_connect_wait *w)
{
  for (struct net_connect_wait **pp = &net_of(e)->connects; *pp; pp = &(*pp)->next)
    if (*pp == w) {
      *pp = w->next;
      break;
    }
  free(w);
}

int netconn_start(struct engine *e, uint32_t guest_id, uint32_t seq, uint32_t eid, uint64_t nic,
                  uint32_t peer_eid, uint32_t key)
{
  struct net *n = net_of(e);
  struct net_peer *p = n ? peer_by_nic(n, nic) : NULL;
  if (!p)
    return MX_NIC_NOT_FOUND;
  if (!rel_room(&p->rel))
    return MX_CONNECTION_FAILED;
  struct net_connect_wait *w = calloc(1, sizeof(*w));
  if (!w)
    return MX_NO_RESOURCES;
  w->req_id = ++n->next_req_id;
  w->guest_id = guest_id;
  w->seq = seq;
  w->eid = eid;
  w->session = e->vifs[eid].session;
  w->peer = p;
  w->deadline_ns = clock_now_ns() + NET_CONNECT_WAIT_NS;
  w->next = n->connects;
  n->connects = w;
  struct wire_connect wc = {.req_id = w->req_id, .src_eid = eid, .dst_eid = peer_eid,
                            .key = key, .src_session = w->session,
                            .lane = e->vifs[eid].lane};
  rel_send(&p->rel, WIRE_CONNECT, &wc, sizeof(wc), NULL, 0);
  net_flush(e); /* the control thread's packet: the engine may e asleep */
  return 0;
}

int netconn_on_request(struct engine *e, struct net_peer *p, const struct wire_connect *c)
{
  if (!rel_room(&p->rel))
    return 0;
  struct wire_connect_reply r = {.req_id = c->req_id, .eid = c->dst_eid};
  struct engine_vif *v = vif_lookup(e, e->cfg.nic_id, c->dst_eid);
  if (c->dst_eid >= e->cfg.max_endpoints)
    r.status = MX_BAD_ENDPOINT_ID;
  else if (!vif_usable(v))
    r.status = MX_CONNECTION_FAILED;
  else if (v->key != c->key)
    r.status = MX_BAD_CONNECTION_KEY;
  else if (allow_add(&v->remote_ok, p->nic, c->src_eid, c->src_session) < 0)
    r.status = MX_NO_RESOURCES;
  else
    r.status = MX_SUCCESS, r.ep_session = v->session;
  struct lane_addr lane = c->lane;
  if (r.status == MX_SUCCESS && v->lane.port && lane_vouch(net_of(e), p, &lane)) {
    /* The endpoint learns the connector's lane before the connector
     * learns ours: the event is in its ring (flushed) before the reply
     * leaves, so no lane packet of the connector's comes to it from an
     * address it does not know yet.  No room: no lane, the engines carry
     * this pair. */
    struct msg m = {.type = MSG_LANE_PEER, .peer_nic = p->nic, .peer_eid = c->src_eid,
                    .seq = c->src_session, .len = sizeof(lane)};
    memcpy(m.data, &lane, sizeof(lane));
    if (deliver_post(e, v, &m, NULL) == 1) {
      v->dp->flush(e, v);
      r.lane = v->lane;
    }
  }
  rel_send(&p->rel, WIRE_CONNECT_REPLY, &r, sizeof(r), NULL, 0);
  return 1;
}

int netconn_on_reply(struct engine *e, struct net_peer *p, const struct wire_connect_reply *r)
{
  for (struct net_connect_wait *w = net_of(e)->connects; w; w = w->next) {
    if (w->req_id != r->req_id)
      continue;
    if (w->peer != p)
      break; /* an answer to a question we never asked it */
    int status = r->status;
    struct engine_vif *v = vif_find(e, w->eid, w->session);
    if (status == MX_SUCCESS &&
        (!v || allow_add(&v->remote_ok, p->nic, r->eid, r->ep_session) < 0))
      status = v ? MX_NO_RESOURCES : MX_CONNECTION_FAILED; /* it may answer us now */
    struct lane_addr lane = r->lane;
    int laned = status == MX_SUCCESS && v->lane.port && lane_vouch(net_of(e), p, &lane);
    answer(e, w, status, r->eid, r->ep_session, laned ? &lane : NULL);
    wait_free(e, w);
    break;
  }
  return 1;
}

int netconn_timers(struct engine *e, uint64_t now)
{
  int work = 0;
  for (struct net_connect_wait *w = net_of(e)->connects, *nx; w; w = nx) {
    nx = w->next;
    if (now < w->deadline_ns)
      continue;
    answer(e, w, MX_CONNECTION_FAILED, 0, 0, NULL);
    wait_free(e, w);
    work++;
  }
  return work;
}

void netconn_drop_peer(struct engine *e, struct net_peer *p)
{
  for (struct net_connect_wait *w = net_of(e)->connects, *nx; w; w = nx) {
    nx = w->next;
    if (w->peer == p) {
      answer(e, w, MX_CONNECTION_FAILED, 0, 0, NULL);
      wait_free(e, w);
    }
  }
}

void netconn_free_all(struct net *n)
{
  LIST_FREE_ALL(&n->connects, next);
}
