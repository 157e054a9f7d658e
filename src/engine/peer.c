/*
 * peer.c - the other hosts' backends: the peers file, peers learnt from
 * their packets, names, and what happens when one stops answering.
 *
 * A peer's relationship with us has an incarnation on each side
 * (my_session, peer_session, carried in every packet).  When it breaks (a
 * give-up, a restart of either side) both sides start afresh with new
 * sessions, and every local endpoint hears MSG_PEER_GONE for the whole
 * host: what was in flight ends with MX_STATUS_ENDPOINT_UNREACHABLE.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "net_int.h"

uint32_t peer_random32(struct net *n)
{
  n->seed ^= n->seed << 13;
  n->seed ^= n->seed >> 7;
  n->seed ^= n->seed << 17;
  uint32_t v = (uint32_t)(n->seed >> 16);
  return v ? v : 1;
}

struct net_peer *peer_by_nic(struct net *n, uint64_t nic)
{
  for (int i = 0; i < NET_MAX_PEERS; i++)
    if (n->peers[i].in_use && n->peers[i].nic == nic)
      return &n->peers[i];
  return NULL;
}

/* --- the link under each peer's reliable stream: its port ---------------- */

/* A window slot's first send is queued on its port by reference (stable):
 * the slot is rewritten only for a packet a send window later, which the
 * window lets in once the slot's packet was acknowledged, so once a flush
 * sent it.  Resends are copied (the ack of an earlier copy may come in the
 * same round), and a reset flushes first (peer_fail).  A forged ack, on a
 * cluster without a key, may free a slot still queued: what leaves then
 * fails its checksum at the receiver, or is a duplicate. */
static void link_send(void *ctx, struct rel_stream *s, void *buf, uint32_t len, int stable,
                      uint64_t now)
{
  struct engine *e = ctx;
  struct net *n = net_of(e);
  struct net_peer *p = peer_of(s);
  len = (uint32_t)wireauth_seal(&n->auth, buf, len);
  port_send(&n->ports[p->port], &p->addr, buf, len, now, stable ? PORT_STABLE : 0);
  if (stable && p->state != PEER_UP)
    p->state = PEER_UP; /* a reliable packet out: the relationship is on */
}

static int link_deliver(void *ctx, struct rel_stream *s, const struct wire_hdr *h,
                        const uint8_t *payload)
{
  return remote_deliver(ctx, peer_of(s), h, payload);
}

/* An eager message to this peer was acknowledged: its sender completes. */
static void link_acked(void *ctx, struct rel_stream *s, const struct rel_note *note)
{
  struct msg m = {.type = MSG_NOTIFY, .cookie = note->cookie, .status = MSG_ST_OK,
                  .total = note->total, .peer_eid = note->peer_eid,
                  .peer_nic = peer_of(s)->nic};
  notify_post(ctx, note->eid, note->session, &m);
}

static void link_give_up(void *ctx, struct rel_stream *s)
{
  peer_fail(ctx, peer_of(s), "no acknowledgement within the peer timeout");
}

static void link_keep(void *ctx, struct rel_stream *s)
{
  (void)s;
  rpull_flush(ctx); /* pending pieces may point into the slot kept over */
}

static uint64_t link_now(void *ctx)
{
  (void)ctx;
  return clock_now_ns();
}

static const struct rel_io peer_link = {
    .send = link_send,
    .deliver = link_deliver,
    .acked = link_acked,
    .give_up = link_give_up,
    .keep = link_keep,
    .now = link_now,
};

static struct net_peer *peer_add(struct engine *e, uint64_t nic, const char *host, int port,
                                 const struct port_addr *addr)
{
  struct net *n = net_of(e);
  for (int i = 0; i < NET_MAX_PEERS; i++) {
    struct net_peer *p = &n->peers[i];
    if (p->in_use)
      continue;
    memset(p, 0, sizeof(*p));
    p->in_use = 1;
    p->nic = nic;
    snprintf(p->hostname, sizeof(p->hostname), "%s", host);
    p->port = port;
    p->addr = *addr;
    rel_init(&p->rel, &peer_link, e, e->cfg.nic_id, nic, net_mtu(n, port), WIRE_WINDOW,
             n->peer_timeout_ns,
             peer_random32(n));
    if (n->auth.on)
      p->replay.top = wireauth_floor(); /* nothing recorded before now - max age */
    return p;
  }
  return NULL;
}

struct net_peer *peer_learn(struct engine *e, uint64_t nic, int port,
                            const struct port_addr *from)
{
  struct net *n = net_of(e);
  char host[64];
  snprintf(host, sizeof(host), "nic-%012llx", (unsigned long long)nic);
  struct net_peer *p = peer_add(e, nic, host, port, from);
  if (p) {
    p->learnt = 1;
    char a[80];
    port_format_addr(&n->ports[port], from, a, sizeof(a));
    log_info("peer %012llx learnt at %s", (unsigned long long)nic, a);
  }
  return p;
}

/* Every local endpoint hears that the whole host is gone. */
static void broadcast_gone(struct engine *e, uint64_t nic)
{
  for (uint32_t i = 0; i < e->cfg.max_endpoints; i++) {
    struct engine_vif *v = &e->vifs[i];
    if (!v->in_use)
      continue;
    struct msg m = {.type = MSG_PEER_GONE, .peer_eid = MSG_EID_ALL, .peer_nic = nic,
                    .status = MSG_ST_UNREACHABLE};
    notify_post(e, v->eid, v->session, &m);
  }
}

uint64_t peer_keepalive_due(const struct net *n, const struct net_peer *p)
{
  if (p->state != PEER_UP || rel_busy(&p->rel))
    return UINT64_MAX; /* (a busy stream's acks or give-up tell already) */
  uint64_t last = p->rel.last_heard_ns > p->rel.last_ack_ns ? p->rel.last_heard_ns
                                                             : p->rel.last_ack_ns;
  return last + n->peer_timeout_ns / NET_KEEPALIVES_PER_TIMEOUT;
}

int peer_keepalive(struct net *n, struct net_peer *p, uint64_t now)
{
  if (now < peer_keepalive_due(n, p) || !rel_send(&p->rel, WIRE_KEEPALIVE, NULL, 0, NULL, 0))
    return 0;
  n->keepalives++;
  return 1;
}

void peer_fail(struct engine *e, struct net_peer *p, const char *why)
{
  struct net *n = net_of(e);
  log_warn("peer %s (%012llx): %s; what was in flight with it fails", p->hostname,
           (unsigned long long)p->nic, why);
  p->failures++;
  rpull_drop_peer(e, p);
  netconn_drop_peer(e, p);
  broadcast_gone(e, p->nic);
  for (uint32_t i = 0; i < e->cfg.max_endpoints; i++)
    if (e->vifs[i].in_use) /* its endpoint ids may have new owners when it is back */
      allow_forget_nic(&e->vifs[i].remote_ok, p->nic);
  /* afresh: new incarnation on our side, theirs unknown */
  p->state = PEER_FAILED;
  port_flush(&n->ports[p->port]); /* the window's slots queued by reference leave
                                     before the new incarnation writes them */
  rel_reset(&p->rel, peer_random32(n));
  p->asm_.active = 0;
  p->stalled.active = 0;
}

/* Lines: NIC_ID HOSTNAME ADDRESS, with NIC_ID in hex or "-" (derived from
 * the hostname as every backend derives its own), ADDRESS as
 * udp:IP:PORT, udp:[IP6]:PORT or eth:MAC.  '#' starts a comment. */
int peer_file_load(struct engine *e, const char *path, char *err, size_t errlen)
{
  struct net *n = net_of(e);
  FILE *f = fopen(path, "r");
  char line[256];
  int lineno = 0;
  if (!f) {
    snprintf(err, errlen, "peers file %s: %s", path, strerror(errno));
    return -1;
  }
  while (fgets(line, sizeof(line), f)) {
    char nicw[32], host[64], addr[128];
    lineno++;
    char *hash = strchr(line, '#');
    if (hash)
      *hash = 0;
    int k = sscanf(line, "%31s %63s %127s", nicw, host, addr);
    if (k <= 0)
      continue;
    if (k == 2 && !strcmp(nicw, "key-file"))
      continue; /* the cluster key: read by net_setup first */
    if (k != 3)
      goto bad;
    uint64_t nic = strcmp(nicw, "-") ? strtoull(nicw, NULL, 16) & 0xffffffffffffull
                                     : wire_nic_from_name(host);
    if (nic == e->cfg.nic_id)
      continue; /* ourselves: one file serves every host */
    enum port_kind kind = !strncmp(addr, "udp:", 4) ? PORT_UDP : !strncmp(addr, "eth:", 4) ? PORT_ETH : 0;
    int port = -1;
    for (int i = 0; i < n->nports && port < 0; i++)
      if (n->ports[i].kind == kind)
        port = i;
    if (!kind || port < 0) {
      /* no port of that kind here: another host's line, or a typo */
      log_info("peers file %s:%d: no %s port here, %s skipped", path, lineno,
               kind ? addr : "such", host);
      continue;
    }
    struct port_addr a;
    if (port_parse_addr(&n->ports[port], addr + 4, &a) < 0)
      goto bad;
    if (!peer_add(e, nic, host, port, &a)) {
      snprintf(err, errlen, "peers file %s: more than %d peers", path, NET_MAX_PEERS);
      fclose(f);
      return -1;
    }
  }
  fclose(f);
  return 0;
bad:
  snprintf(err, errlen, "peers file %s:%d: want NIC_ID HOSTNAME udp:ADDR:PORT|eth:MAC", path,
           lineno);
  fclose(f);
  return -1;
}

int peer_resolve_name(struct engine *e, const char *host, uint64_t *nic)
{
  struct net *n = net_of(e);
  if (!n)
    return -1;
  for (int i = 0; i < NET_MAX_PEERS; i++)
    if (n->peers[i].in_use && !strcmp(n->peers[i].hostname, host)) {
      *nic = n->peers[i].nic;
      return 0;
    }
  return -1;
}

int peer_resolve_nic(struct engine *e, uint64_t nic, char *host, size_t len)
{
  struct net *n = net_of(e);
  struct net_peer *p = n ? peer_by_nic(n, nic) : NULL;
  if (!p)
    return -1;
  snprintf(host, len, "%s", p->hostname);
  return 0;
}

int peer_is_remote(struct engine *e, uint64_t nic)
{
  return nic != e->cfg.nic_id && e->net != NULL;
}
