/*
 * remote.c - VIF messages to and from other hosts: a guest's request for a
 * remote destination becomes packets on the peer's stream (remote_send);
 * a packet taken in order from a peer's stream becomes an event in a local
 * VIF (remote_deliver).  The source of every event is stamped from the
 * stream it came on, never read from the packet.
 */
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "net_int.h"

/* --- out ---------------------------------------------------------------- */

/* Tell a local sender its message cannot go (when it waits for an answer). */
static void refuse_local(struct engine *e, struct engine_vif *src, const struct msg *m,
                         uint32_t status, enum drop_reason why)
{
  vif_count_drop(src, why);
  if (m->type != MSG_RNDV && !(m->flags & (MSG_F_SYNC | MSG_F_ACKREQ)))
    return;
  if (m->type == MSG_FRAG && (uint64_t)m->frag * EAGER_SIZE + m->len < m->total)
    return; /* only the last fragment answers */
  struct msg nk = {.type = MSG_NACK, .cookie = m->cookie, .status = status,
                   .peer_eid = m->peer_eid, .peer_nic = m->peer_nic, .match = m->match};
  notify_post(e, src->eid, src->session, &nk);
}

int remote_send(struct engine *e, struct engine_vif *src, struct msg *m,
                 const uint8_t *eager)
{
  struct net *n = net_of(e);
  struct net_peer *p = n ? peer_by_nic(n, m->peer_nic) : NULL;
  if (!p) {
    refuse_local(e, src, m, MSG_ST_UNREACHABLE, DROP_UNREACHABLE);
    return 1;
  }
  if (!allow_has(&src->remote_ok, m->peer_nic, m->peer_eid, 0)) {
    /* this host keeps its own endpoints to their connects, as the other
     * host does at delivery (a keyed cluster trusts each host for both) */
    refuse_local(e, src, m, MSG_ST_CLOSED, DROP_NOT_CONNECTED);
    return 1;
  }
  uint32_t piece_max = wire_piece_max(net_mtu(n, p->port));
  uint32_t bytes = m->type == MSG_SMALL || m->type == MSG_FRAG ? m->len : 0;
  uint32_t pieces = bytes ? (bytes + piece_max - 1) / piece_max : 1;
  if (rel_room(&p->rel) < pieces)
    return 0;
  uint8_t hdr[WIRE_DATA_OVERHEAD];
  struct wire_data_ext x = {.src_eid = src->eid, .dst_eid = m->peer_eid,
                            .src_session = src->session};
  const uint8_t *data = m->type == MSG_SMALL ? m->data : eager;
  int last_of_msg = m->type != MSG_FRAG || (uint64_t)m->frag * EAGER_SIZE + m->len >= m->total;
  struct rel_pkt *k = NULL;
  struct wire_desc desc;
  wire_desc_from_msg(&desc, m);
  memcpy(hdr, &desc, WIRE_DATA_HDR);
  for (uint32_t i = 0; i < pieces; i++) {
    x.piece_off = i * piece_max;
    x.piece_len = bytes - x.piece_off < piece_max ? bytes - x.piece_off : piece_max;
    memcpy(hdr + WIRE_DATA_HDR, &x, sizeof(x));
    k = rel_send(&p->rel, WIRE_DATA, hdr, sizeof(hdr), bytes ? data + x.piece_off : NULL,
                 x.piece_len);
  }
  if (k && last_of_msg && (m->flags & MSG_F_ACKREQ)) {
    k->noted = 1; /* peer.c posts MSG_NOTIFY when the peer acknowledges it */
    k->note = (struct rel_note){.eid = src->eid, .session = src->session, .total = m->total,
                                .peer_eid = x.dst_eid, .cookie = m->cookie};
  }
  src->c.tx_msgs++;
  src->c.tx_bytes += bytes;
  return 1;
}

/* --- in ----------------------------------------------------------------- */

static void send_nack(struct net_peer *p, const struct msg *m, uint32_t src_eid,
                      uint32_t dst_eid)
{
  if (m->type != MSG_RNDV && !(m->flags & (MSG_F_SYNC | MSG_F_ACKREQ)))
    return;
  struct wire_nack nk = {.cookie = m->cookie, .match = m->match, .src_eid = src_eid,
                         .dst_eid = dst_eid, .status = MSG_ST_CLOSED};
  rel_send(&p->rel, WIRE_NACK, &nk, sizeof(nk), NULL, 0); /* window full: the sender times out */
}

/* Post a whole message to its endpoint; hold it when the ring is full. */
static void post_inbound(struct engine *e, struct net_peer *p, struct net_inbound *in)
{
  struct engine_vif *dst = vif_lookup(e, e->cfg.nic_id, in->dst_eid);
  if (dst && dst->in_use &&
      !allow_has(&dst->remote_ok, p->nic, in->m.peer_eid, in->src_session ? in->src_session : ~0u)) {
    vif_count_drop(dst, DROP_NOT_CONNECTED); /* no connect either way, with the key */
    in->active = 0;
    return;
  }
  int r = deliver_post(e, dst, &in->m, in->eager);
  if (r < 0) {
    send_nack(p, &in->m, in->m.peer_eid, in->dst_eid);
    in->active = 0;
    return;
  }
  if (r == 0) {
    if (in != &p->stalled)
      memcpy(&p->stalled, in, sizeof(*in));
    p->stalled.active = 1;
    in->active = in == &p->stalled;
    return;
  }
  in->active = 0;
}

int remote_retry_stalled(struct engine *e, struct net_peer *p)
{
  if (!p->stalled.active)
    return 0;
  post_inbound(e, p, &p->stalled);
  return !p->stalled.active;
}

/* A checked WIRE_DATA packet: descriptor, endpoints, piece. */
static int data_in(struct engine *e, struct net_peer *p, const uint8_t *payload, uint32_t len)
{
  struct wire_data_ext x;
  struct net_inbound tmp;
  const uint8_t *piece;
  struct msg *m = &tmp.m;
  if (wire_data_parse(payload, len, EAGER_SLOTS * EAGER_SIZE, m, &x, &piece) < 0)
    return -1;
  m->peer_eid = x.src_eid; /* the source, as the receiving guest sees it */
  tmp.src_session = x.src_session;
  m->peer_nic = p->nic;
  switch (m->type) {
  case MSG_SMALL:
    memcpy(m->data, piece, m->len);
    break;
  case MSG_FRAG:
    if (x.piece_off == 0) {
      p->asm_.active = 1;
      p->asm_.m = *m;
      p->asm_.dst_eid = x.dst_eid;
      p->asm_.src_session = x.src_session;
      p->asm_.got = 0;
    } else {
      struct wire_data_ext x0 = {.src_eid = p->asm_.m.peer_eid, .dst_eid = p->asm_.dst_eid,
                                 .src_session = p->asm_.src_session};
      if (!p->asm_.active || !wire_piece_follows(&p->asm_.m, &x0, p->asm_.got, m, &x))
        return -1;
    }
    memcpy(p->asm_.eager + x.piece_off, piece, x.piece_len);
    p->asm_.got += x.piece_len;
    if (p->asm_.got < p->asm_.m.len)
      return 1;
    post_inbound(e, p, &p->asm_);
    return 1;
  default: /* MSG_RNDV, MSG_SYNC_ACK */
    break;
  }
  tmp.dst_eid = x.dst_eid;
  tmp.active = 1;
  post_inbound(e, p, &tmp);
  return 1;
}

/* A packet's fixed payload, copied out: packets of a GRO run lie at any
 * offset of the receive buffer, so a payload is never read in place as a
 * struct.  True when the payload has exactly (or, !exact, at least) that
 * size. */
static int payload_as(void *dst, size_t size, const struct wire_hdr *h, const uint8_t *payload,
                      int exact)
{
  if (exact ? h->len != size : h->len < size)
    return 0;
  memcpy(dst, payload, size);
  return 1;
}

int remote_deliver(struct engine *e, struct net_peer *p, const struct wire_hdr *h,
                   const uint8_t *payload)
{
  union {
    struct wire_connect c;
    struct wire_connect_reply cr;
    struct wire_pull_req pr;
    struct wire_pull_data pd;
    struct wire_pull_end pe;
    struct wire_nack nk;
    struct wire_ep_gone g;
  } u;
  int r = -1;
  if (p->stalled.active)
    return 0; /* a message waits for ring room: the stream waits with it */
  switch (h->type) {
  case WIRE_DATA:
    r = data_in(e, p, payload, h->len);
    break;
  case WIRE_CONNECT:
    if (payload_as(&u.c, sizeof(u.c), h, payload, 1))
      r = netconn_on_request(e, p, &u.c);
    break;
  case WIRE_CONNECT_REPLY:
    if (payload_as(&u.cr, sizeof(u.cr), h, payload, 1))
      r = netconn_on_reply(e, p, &u.cr);
    break;
  case WIRE_PULL_REQ:
    if (payload_as(&u.pr, sizeof(u.pr), h, payload, 1))
      r = rpull_on_request(e, p, &u.pr);
    break;
  case WIRE_PULL_DATA:
    if (payload_as(&u.pd, sizeof(u.pd), h, payload, 0))
      r = rpull_on_data(e, p, &u.pd, payload + sizeof(u.pd),
                        h->len - (uint32_t)sizeof(u.pd));
    break;
  case WIRE_PULL_END:
    if (payload_as(&u.pe, sizeof(u.pe), h, payload, 1))
      r = rpull_on_end(e, p, &u.pe);
    break;
  case WIRE_NOTIFY:
    if (payload_as(&u.pe, sizeof(u.pe), h, payload, 1)) {
      struct msg m = {.type = MSG_NOTIFY, .cookie = u.pe.cookie, .status = u.pe.status,
                      .total = u.pe.total, .peer_eid = u.pe.rcv_eid, .peer_nic = p->nic};
      notify_post_open(e, u.pe.snd_eid, &m);
      r = 1;
    }
    break;
  case WIRE_NACK:
    if (payload_as(&u.nk, sizeof(u.nk), h, payload, 1)) {
      struct msg m = {.type = MSG_NACK, .cookie = u.nk.cookie, .status = u.nk.status,
                      .match = u.nk.match, .peer_eid = u.nk.dst_eid, .peer_nic = p->nic};
      notify_post_open(e, u.nk.src_eid, &m);
      r = 1;
    }
    break;
  case WIRE_KEEPALIVE:
    r = h->len == 0 ? 1 : -1;
    break;
  case WIRE_EP_GONE:
    if (payload_as(&u.g, sizeof(u.g), h, payload, 0))
      r = lane_on_gone(e, p, &u.g, payload + sizeof(u.g), h->len - (uint32_t)sizeof(u.g));
    break;
  default:
    break;
  }
  if (r < 0) {
    /* checksummed, in order, yet nonsense: a broken or hostile peer.  It is
     * taken off the stream (so the stream goes on) and counted. */
    net_of(e)->malformed++;
    log_warn("peer %s: malformed packet type %u len %u dropped", p->hostname, h->type, h->len);
    return 1;
  }
  return r;
}
