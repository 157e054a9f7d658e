/*
 * lanes.c - the engine's part in the guests' lanes (docs/lanes.md).  A lane
 * is a UDP socket the backend made for one endpoint; two guests' libraries
 * exchange message descriptors over their lanes without the engines.  The
 * engines stay the authority on who is who: a lane's address travels only
 * in the engines' connect (wire_connect, wire_connect_reply), an engine
 * passes on only an address on its peer backend's own IP, and when an
 * endpoint closes its engine tells every host it had connected with
 * (WIRE_EP_GONE), whose engines tell their endpoints (MSG_PEER_GONE).
 * The notice carries where the closed endpoint's lane streams stood, as its
 * library said on closing (its last acks): a peer's send whose last packet
 * arrived then completes although the lane's own ack of it was lost.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "../common/fifo.h"
#include "../common/log.h"
#include "net_int.h"

int lane_vouch(struct net *n, const struct net_peer *p, struct lane_addr *lane)
{
  if (!lane->port)
    return 0;
  const struct port *pt = &n->ports[p->port];
  const struct sockaddr_storage *ss = &p->addr.ss;
  int ok = pt->kind == PORT_UDP && !n->auth.on && lane->mtu >= 256 &&
           lane->mtu <= WIRE_LANE_MAX_PACKET;
  if (ok && ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    ok = lane->family == 4 && !memcmp(lane->ip, &a->sin_addr, 4) && lane->port != a->sin_port;
  } else if (ok && ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    ok = lane->family == 6 && !memcmp(lane->ip, &a->sin6_addr, 16) &&
         lane->port != a->sin6_port;
  } else {
    ok = 0;
  }
  if (!ok) {
    /* Not where that backend is: a lane there could be anyone's, and a
     * guest told to send there would be a reflector. */
    n->lanes_refused++;
    log_warn("peer %s: a lane not on its own address refused", p->hostname);
    memset(lane, 0, sizeof(*lane));
    return 0;
  }
  n->lanes_vouched++;
  return 1;
}

int engine_lane_local(struct engine *e, struct sockaddr_storage *ss, socklen_t *len,
                      uint32_t *mtu, struct fault_cfg *fault)
{
  pthread_mutex_lock(&e->lock);
  struct net *n = net_of(e);
  int r = -1;
  if (n && n->nports && n->ports[0].kind == PORT_UDP && !n->auth.on) {
    *len = sizeof(*ss);
    if (getsockname(n->ports[0].fd, (struct sockaddr *)ss, len) == 0) {
      *mtu = net_mtu(n, 0);
      if (*mtu > WIRE_LANE_MAX_PACKET)
        *mtu = WIRE_LANE_MAX_PACKET; /* the port's 64 KiB datagrams: not a guest's window */
      *fault = n->ports[0].fault.on ? n->ports[0].fault.cfg : (struct fault_cfg){0};
      r = 0;
    }
  }
  pthread_mutex_unlock(&e->lock);
  return r;
}

int engine_vif_set_lane(struct engine *e, uint32_t eid, const struct lane_addr *lane)
{
  pthread_mutex_lock(&e->lock);
  struct engine_vif *v = vif_lookup(e, e->cfg.nic_id, eid);
  if (v)
    v->lane = lane ? *lane : (struct lane_addr){0};
  pthread_mutex_unlock(&e->lock);
  return v ? 0 : -1;
}

/* Tell p, or keep the notice until its window has room: a peer that never
 * hears it would go on sending to the endpoint's lane, whose port could
 * later be someone else's.  Returns the last acks it dropped (a notice
 * waits without them past NET_GONES_BYTES). */
static uint32_t gone_send(struct net *n, struct net_peer *p, const uint8_t *msg, uint32_t len)
{
  if (rel_send(&p->rel, WIRE_EP_GONE, msg, len, NULL, 0)) {
    n->ep_gone_tx++;
    return 0;
  }
  uint32_t dropped = 0;
  if (n->gones_bytes + len > NET_GONES_BYTES) {
    dropped = (len - (uint32_t)sizeof(struct wire_ep_gone)) / sizeof(struct wire_lane_last_ack);
    len = sizeof(struct wire_ep_gone);
  }
  struct net_gone *w = malloc(sizeof(*w) + len);
  if (w && n->ngones == NET_GONES_MAX) { /* (an endpoint churner's, as a rule) */
    struct net_gone *old = n->gones;
    FIFO_POP(&n->gones, &n->gones_tail, next);
    n->ngones--;
    n->gones_bytes -= old->len;
    n->ep_gone_dropped++;
    struct wire_ep_gone og;
    memcpy(&og, old->msg, sizeof(og));
    log_warn("endpoint %u's close not told to %012llx: too many waiting", og.eid,
             (unsigned long long)old->nic);
    free(old);
  }
  if (!w) {
    n->ep_gone_dropped++;
    return dropped;
  }
  w->nic = p->nic;
  w->next = NULL;
  w->len = len;
  memcpy(w->msg, msg, len);
  FIFO_PUSH(&n->gones, &n->gones_tail, w, next);
  n->ngones++;
  n->gones_bytes += len;
  return dropped;
}

/* The notice for p: g, then the last acks naming endpoints of p's that v
 * had a pair with, in that incarnation, each once (seen: a mark per slot
 * of v's pairs), as many as fit a packet.  Its length. */
static uint32_t gone_make(struct engine_vif *v, struct net_peer *p, const struct wire_ep_gone *g,
                          const struct ctl_lane_last_ack *acks, uint32_t nacks, uint8_t *seen,
                          uint8_t *msg, uint32_t *told)
{
  uint32_t len = sizeof(*g), cap = p->rel.mtu - (uint32_t)sizeof(struct wire_hdr);
  memcpy(msg, g, sizeof(*g));
  for (uint32_t i = 0; i < nacks && len + sizeof(struct wire_lane_last_ack) <= cap; i++) {
    const struct ctl_lane_last_ack *a = &acks[i];
    int slot = a->nic == p->nic ? allow_find(&v->remote_ok, a->nic, a->eid, a->session) : -1;
    if (slot < 0 || seen[slot])
      continue;
    seen[slot] = 1;
    struct wire_lane_last_ack w = {.eid = a->eid, .session = a->session, .ack = a->ack};
    memcpy(msg + len, &w, sizeof(w));
    len += sizeof(w);
    (*told)++;
  }
  return len;
}

void lane_tell_gone(struct engine *e, struct engine_vif *v, const struct ctl_lane_last_ack *acks,
                    uint32_t nacks)
{
  struct net *n = net_of(e);
  if (!n)
    return;
  struct wire_ep_gone g = {.eid = v->eid, .session = v->session};
  uint8_t *msg = NULL, *seen = NULL;
  if (nacks && v->remote_ok.count) {
    msg = malloc(WIRE_MAX_PACKET);
    seen = calloc(v->remote_ok.cap, 1);
    if (!msg || !seen) { /* the notices alone, then: what matters most */
      free(msg);
      free(seen);
      msg = seen = NULL;
    }
  }
  uint32_t told = 0, dropped = 0;
  for (int i = 0; v->remote_ok.count && i < NET_MAX_PEERS; i++) {
    struct net_peer *p = &n->peers[i];
    if (!p->in_use || !allow_has_nic(&v->remote_ok, p->nic))
      continue;
    if (msg)
      dropped += gone_send(n, p, msg, gone_make(v, p, &g, acks, nacks, seen, msg, &told));
    else
      gone_send(n, p, (const uint8_t *)&g, sizeof(g));
  }
  free(msg);
  free(seen);
  /* Those that named no pair of v's (a guest's word is checked), named one
   * twice, or did not fit: their senders' sends fail as before the last
   * acks were told. */
  n->last_acks_tx += told - dropped;
  n->last_acks_refused += nacks - (told - dropped);
}

int lane_gones_retry(struct net *n)
{
  int work = 0;
  struct net_gone *prev = NULL;
  /* Notices need no order among them (each names its endpoint and
   * session); a full window to one host delays no other's. */
  for (struct net_gone *w = n->gones, *nx; w; w = nx) {
    nx = w->next;
    struct net_peer *p = peer_by_nic(n, w->nic);
    if (p && !rel_send(&p->rel, WIRE_EP_GONE, w->msg, w->len, NULL, 0)) {
      prev = w;
      continue;
    }
    n->ep_gone_tx += p != NULL; /* (a peer forgotten meanwhile forgot the endpoint too) */
    n->gones_bytes -= w->len;
    if (prev)
      prev->next = nx;
    else
      n->gones = nx;
    if (n->gones_tail == w)
      n->gones_tail = prev;
    n->ngones--;
    free(w);
    work++;
  }
  return work;
}

void lane_gones_free(struct net *n)
{
  LIST_FREE_ALL(&n->gones, next);
  n->gones_tail = NULL;
  n->ngones = 0;
  n->gones_bytes = 0;
}

int lane_on_gone(struct engine *e, struct net_peer *p, const struct wire_ep_gone *g,
                 const uint8_t *acks, uint32_t len)
{
  struct net *n = net_of(e);
  if (len % sizeof(struct wire_lane_last_ack) || !g->session)
    return -1; /* (an engine's endpoints have sessions: 0 would match every incarnation) */
  n->ep_gone_rx++;
  for (uint32_t i = 0; i < e->cfg.max_endpoints; i++) {
    struct engine_vif *v = &e->vifs[i];
    if (!v->in_use || !allow_has(&v->remote_ok, p->nic, g->eid, g->session))
      continue;
    struct msg m = {.type = MSG_PEER_GONE, .peer_nic = p->nic, .peer_eid = g->eid,
                    .seq = g->session, .status = MSG_ST_CLOSED};
    for (uint32_t off = 0; off < len; off += sizeof(struct wire_lane_last_ack)) {
      struct wire_lane_last_ack a;
      memcpy(&a, acks + off, sizeof(a));
      if (a.eid == v->eid && a.session == v->session) {
        m.flags = MSG_F_LAST_ACK;
        m.cookie2 = a.ack;
        n->last_acks_rx++;
        break;
      }
    }
    notify_post(e, v->eid, v->session, &m);
  }
  return 1;
}
