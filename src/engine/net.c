/*
 * net.c - the network side of the engine: set-up from the command line,
 * the receive path of every port (check, sessions, then the peer's
 * stream), timers, what the engine polls before sleeping, and the report.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "net_int.h"

#define RX_BATCH 64

/* The cluster key's file: --key-file, or a "key-file PATH" line of the
 * peers file (one file then configures the whole cluster). */
static const char *key_file_of(const struct engine_config *cfg, char buf[256])
{
  if (cfg->key_file || !cfg->peers_file)
    return cfg->key_file;
  FILE *f = fopen(cfg->peers_file, "re");
  const char *found = NULL;
  char line[256], word[32];
  while (f && !found && fgets(line, sizeof(line), f))
    if (sscanf(line, "%31s %255s", word, buf) == 2 && !strcmp(word, "key-file"))
      found = buf;
  if (f)
    fclose(f);
  return found;
}

int net_setup(struct engine *e, char *err, size_t errlen)
{
  const struct engine_config *cfg = &e->cfg;
  if (cfg->nports == 0)
    return 0; /* a backend of one host: no network */
  struct net *n = calloc(1, sizeof(*n));
  if (!n) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  e->net = n;
  char keybuf[256];
  if (wireauth_setup(&n->auth, key_file_of(cfg, keybuf), err, errlen) < 0)
    return -1;
  if (n->auth.on)
    log_info("cluster key on: every packet carries a MAC");
  n->seed = (uint64_t)clock_now_ns() ^ ((uint64_t)getpid() << 32) ^ e->cfg.nic_id;
  n->peer_timeout_ns = (uint64_t)(cfg->peer_timeout_ms ? cfg->peer_timeout_ms : 10000) * 1000000ull;
  n->discovery = !cfg->no_discovery;
  struct fault_cfg fc;
  const char *fault = cfg->fault ? cfg->fault : getenv("MYRIXEN_FAULT");
  if (fault && fault_parse(&fc, fault, err, errlen) < 0)
    return -1;
  for (int i = 0; i < cfg->nports && i < NET_MAX_PORTS; i++) {
    if (port_open(&n->ports[i], cfg->ports[i], err, errlen) < 0)
      return -1;
    n->nports++;
    if (fault && fault_setup(&n->ports[i].fault, &fc, FAULT_HELD_MAX) < 0) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    log_info("port %s up, packets up to %u bytes%s%s", cfg->ports[i], n->ports[i].mtu,
             fault ? ", faults: " : "", fault ? fault : "");
  }
  if (cfg->peers_file && peer_file_load(e, cfg->peers_file, err, errlen) < 0)
    return -1;
  return 0;
}

void net_teardown(struct engine *e)
{
  struct net *n = net_of(e);
  if (!n)
    return;
  for (int i = 0; i < n->nports; i++)
    port_close(&n->ports[i]);
  for (int i = 0; i < NET_MAX_PEERS; i++) {
    rel_free(&n->peers[i].rel);
    wireauth_peer_free(&n->peers[i].mac_ctx);
  }
  wireauth_free(&n->auth);
  rpull_free_all(n);
  netconn_free_all(n);
  lane_gones_free(n);
  notify_free_all(n);
  free(n);
  e->net = NULL;
}

/* Discovery: "nic id N is host H", to everybody on the port's segment, or
 * (to) to one host that announced itself and does not know us yet. */
static void hello_send(struct engine *e, int port, const struct port_addr *to)
{
  struct net *n = net_of(e);
  _Alignas(struct wire_hdr) uint8_t pkt[sizeof(struct wire_hdr) + sizeof(struct wire_hello) +
                                        WIRE_MAC_LEN];
  struct wire_hdr *h = (struct wire_hdr *)pkt;
  struct wire_hello *hi = (struct wire_hello *)(pkt + sizeof(*h));
  memset(pkt, 0, sizeof(pkt));
  h->magic = WIRE_MAGIC;
  h->version = WIRE_VERSION;
  h->type = WIRE_HELLO;
  h->len = sizeof(*hi);
  h->src_session = 1; /* outside any relationship */
  h->src_nic = e->cfg.nic_id;
  snprintf(hi->hostname, sizeof(hi->hostname), "%s", e->cfg.hostname);
  size_t len = wireauth_seal(&n->auth, pkt, sizeof(*h) + sizeof(*hi));
  for (int i = 0; i < n->nports; i++) {
    if (to && i != port)
      continue;
    const struct port_addr *dst = to ? to : &n->ports[i].broadcast;
    if ((to || n->ports[i].has_broadcast) &&
        port_send(&n->ports[i], dst, pkt, len, clock_now_ns(), 0) == 0)
      n->hellos_sent++;
  }
}

static void hello_heard(struct engine *e, int port, const struct wire_hdr *h,
                        const uint8_t *payload, const struct port_addr *from)
{
  struct net *n = net_of(e);
  struct wire_hello hi;
  if (h->len != sizeof(hi) || h->src_nic == e->cfg.nic_id || h->src_nic == 0)
    return;
  memcpy(&hi, payload, sizeof(hi));
  hi.hostname[sizeof(hi.hostname) - 1] = 0;
  /* Anyone on the segment may say hello (without a cluster key): the name
   * reaches reports, metrics and terminals, so it keeps a host name's
   * characters only. */
  for (char *c = hi.hostname; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
          *c == '-' || *c == '.' || *c == '_'))
      *c = '_';
  n->hellos_heard++;
  struct net_peer *p = peer_by_nic(n, h->src_nic);
  if (!p) {
    if (!(p = peer_learn(e, h->src_nic, port, from)))
      return;
    hello_send(e, port, from); /* it learns us now, not at our next round */
  }
  if (p->learnt && strcmp(p->hostname, hi.hostname)) {
    /* a peer the file does not name: known now by the name it gives */
    snprintf(p->hostname, sizeof(p->hostname), "%s", hi.hostname);
    log_info("peer %012llx is %s", (unsigned long long)p->nic, p->hostname);
  }
}

/* Answer a packet meant for an incarnation of ours that is gone. */
static void reset_send(struct engine *e, int port, const struct port_addr *to,
                       const struct wire_hdr *in)
{
  struct net *n = net_of(e);
  struct net_peer *p = peer_by_nic(n, in->src_nic);
  _Alignas(struct wire_hdr) uint8_t pkt[sizeof(struct wire_hdr) + WIRE_MAC_LEN];
  struct wire_hdr *h = (struct wire_hdr *)pkt;
  memset(h, 0, sizeof(*h));
  h->magic = WIRE_MAGIC;
  h->version = WIRE_VERSION;
  h->type = WIRE_RESET;
  h->src_session = p ? p->rel.my_session : 0;
  h->dst_session = in->src_session; /* the incarnation of theirs that must end */
  h->src_nic = e->cfg.nic_id;
  h->dst_nic = in->src_nic;
  size_t len = wireauth_seal(&n->auth, pkt, sizeof(*h));
  port_send(&n->ports[port], to, pkt, len, clock_now_ns(), 0);
}

/* With a cluster key, a peer is where its newest authentic packet came
 * from (as WireGuard's roaming): one recorded and sent again from
 * elsewhere is older than the peer's next, which takes it back. */
static void peer_roam(struct net *n, struct net_peer *p, uint64_t counter, int port,
                      const struct port_addr *from)
{
  if (counter != p->replay.top || (p->port == port && port_addr_equal(&n->ports[port], &p->addr, from)))
    return;
  char a[80];
  port_format_addr(&n->ports[port], from, a, sizeof(a));
  log_info("peer %s (%012llx) is at %s now", p->hostname, (unsigned long long)p->nic, a);
  p->port = port;
  p->addr = *from;
}

void net_input(struct engine *e, int port, const uint8_t *pkt, size_t len,
                      const struct port_addr *from, uint64_t now)
{
  struct net *n = net_of(e);
  struct wire_hdr h;
  uint64_t counter = 0;
  if (len < sizeof(h) || len > WIRE_MAX_PACKET) {
    n->drops[-WD_SHORT]++;
    return;
  }
  int r = wire_check(pkt, len); /* framing only: it changes nothing */
  if (r < 0) {
    n->drops[-r]++;
    return;
  }
  memcpy(&h, pkt, sizeof(h));
  if (h.flags & WIRE_F_LANE) {
    n->lane_on_port++; /* between two guests' lanes: nothing an engine takes */
    return;
  }
  /* With a cluster key, nothing in a packet counts before its MAC is
   * checked; without one, a packet that has a MAC is from a cluster we are
   * not part of. */
  if (!!(h.flags & WIRE_F_MAC) != n->auth.on) {
    if (n->auth.on)
      n->auth_bad++;
    else
      n->auth_unexpected++;
    return;
  }
  struct net_peer *p = peer_by_nic(n, h.src_nic); /* a lookup: nothing changes */
  if (n->auth.on && wireauth_open(&n->auth, p ? &p->mac_ctx : NULL, pkt, len, &counter) < 0) {
    n->auth_bad++;
    return;
  }
  int hello = h.type == WIRE_HELLO && h.dst_nic == 0;
  if (!hello && (h.dst_nic != e->cfg.nic_id || h.src_nic == e->cfg.nic_id || !h.src_session)) {
    n->unknown_peer++; /* (before the replay window: one meant for another moves nothing) */
    return;
  }
  if (n->auth.on && (p ? wireauth_replay(&p->replay, counter) < 0 : counter < wireauth_floor())) {
    n->replayed++; /* an authentic packet, sent before: it changes nothing twice */
    return;
  }
  if (hello) {
    if (n->discovery)
      hello_heard(e, port, &h, pkt + sizeof(h), from);
    if (!p && n->auth.on && (p = peer_by_nic(n, h.src_nic)))
      wireauth_replay(&p->replay, counter); /* learnt now: its counters start here */
    else if (p && n->auth.on)
      peer_roam(n, p, counter, port, from);
    return;
  }
  if (!p) {
    if (!(p = peer_learn(e, h.src_nic, port, from))) {
      n->unknown_peer++;
      return;
    }
    if (n->auth.on)
      wireauth_replay(&p->replay, counter);
  } else if (n->auth.on) {
    peer_roam(n, p, counter, port, from);
  }
  if (h.type == WIRE_RESET) {
    if (h.dst_session == p->rel.my_session) {
      p->resets++;
      peer_fail(e, p, "the peer has forgotten us (reset)");
    }
    return;
  }
  if (h.dst_session && h.dst_session != p->rel.my_session) {
    /* meant for an incarnation of ours that is gone */
    n->stale_session++;
    reset_send(e, port, from, &h);
    return;
  }
  if (p->rel.peer_session != h.src_session) {
    if (p->rel.peer_session)
      peer_fail(e, p, "the peer restarted");
    p->rel.peer_session = h.src_session;
    p->rel.rcv_next = 0;
    p->state = PEER_UP;
  }
  rel_input(&p->rel, &h, pkt + sizeof(h), now);
}

void net_flush(struct engine *e)
{
  struct net *n = net_of(e);
  for (int i = 0; n && i < n->nports; i++)
    port_flush(&n->ports[i]);
}

int net_progress(struct engine *e)
{
  struct net *n = net_of(e);
  if (!n)
    return 0;
  int work = 0;
  net_flush(e); /* what the VIFs sent this round leaves before anything is read */
  for (int i = 0; i < n->nports; i++) {
    uint64_t now = 0;
    for (int k = 0; k < RX_BATCH; k++) {
      const struct port_addr *from;
      const uint8_t *pkt;
      int fresh = !port_rx_more(&n->ports[i]); /* this read takes a new datagram */
      ssize_t len = port_recv(&n->ports[i], &pkt, &from);
      if (len <= 0)
        break;
      if (fresh || !now)
        now = clock_now_ns(); /* the packets of a GRO run arrived together */
      net_input(e, i, pkt, (size_t)len, from, now);
      if (!port_rx_more(&n->ports[i]))
        rpull_flush(e); /* before the next read reuses the buffer */
      work++;
    }
    rpull_flush(e);
  }
  uint64_t now = clock_now_ns();
  /* Hellos come every NET_HELLO_EVERY_NS: a millisecond late is on time,
   * and reading their socket in every round was a syscall per round (a
   * microsecond in a VM: six per message of a cross-host ping-pong). */
  if (now >= n->next_bcast_ns) {
    n->next_bcast_ns = now + NET_BCAST_POLL_NS;
    for (int i = 0; i < n->nports; i++) {
      struct port_addr from;
      ssize_t len;
      while ((len = port_recv_broadcast(&n->ports[i], n->rxbuf, sizeof(n->rxbuf), &from)) > 0)
        net_input(e, i, n->rxbuf, (size_t)len, &from, clock_now_ns());
    }
  }
  if (n->discovery && now >= n->next_hello_ns) {
    n->next_hello_ns = now + NET_HELLO_EVERY_NS;
    hello_send(e, -1, NULL);
  }
  for (int i = 0; i < n->nports; i++)
    work += port_flush_delayed(&n->ports[i], now);
  for (int i = 0; i < NET_MAX_PEERS; i++) {
    struct net_peer *p = &n->peers[i];
    if (!p->in_use)
      continue;
    work += remote_retry_stalled(e, p);
    work += rel_retry(&p->rel);
    work += rel_timers(&p->rel);
    work += peer_keepalive(n, p, now);
  }
  work += rpull_progress(e);
  work += notify_retry(e);
  work += lane_gones_retry(n);
  work += netconn_timers(e, now);
  rpull_flush(e);
  net_flush(e);
  return work;
}

int net_busy(struct engine *e)
{
  struct net *n = net_of(e);
  if (!n)
    return 0;
  if (n->rpulls || n->notifies)
    return 1;
  for (int i = 0; i < NET_MAX_PEERS; i++)
    if (n->peers[i].in_use && rel_busy(&n->peers[i].rel))
      return 1;
  return 0;
}

int net_poll_fds(struct engine *e, struct pollfd *pfd, int max)
{
  struct net *n = net_of(e);
  int k = 0;
  for (int i = 0; n && i < n->nports && k < max; i++) {
    pfd[k++] = (struct pollfd){.fd = n->ports[i].fd, .events = POLLIN};
    if (n->ports[i].bfd >= 0 && k < max)
      pfd[k++] = (struct pollfd){.fd = n->ports[i].bfd, .events = POLLIN};
  }
  return k;
}

void net_woken(struct engine *e, const struct pollfd *pfd, int nfd)
{
  struct net *n = net_of(e);
  for (int k = 0; n && k < nfd; k++)
    if (pfd[k].revents)
      for (int i = 0; i < n->nports; i++)
        if (pfd[k].fd == n->ports[i].bfd)
          n->next_bcast_ns = 0; /* a hello woke us: the next round reads it */
}

int net_next_timer_ms(struct engine *e)
{
  struct net *n = net_of(e);
  if (!n)
    return -1;
  if (n->notifies || n->rpulls || n->gones)
    return 1; /* waiting for ring room or window room: look again soon */
  uint64_t now = clock_now_ns(), t = UINT64_MAX;
  for (int i = 0; i < NET_MAX_PEERS; i++) {
    if (!n->peers[i].in_use)
      continue;
    if (n->peers[i].stalled.active)
      return 1;
    uint64_t pt = rel_next_timer(&n->peers[i].rel);
    uint64_t kt = peer_keepalive_due(n, &n->peers[i]);
    t = pt < t ? pt : t;
    t = kt < t ? kt : t;
  }
  for (int i = 0; i < n->nports; i++)
    if (n->ports[i].fault.nheld)
      t = now; /* held packets: their due times are close */
  for (struct net_connect_wait *w = n->connects; w; w = w->next)
    t = w->deadline_ns < t ? w->deadline_ns : t;
  if (n->discovery && n->next_hello_ns < t)
    t = n->next_hello_ns;
  if (t == UINT64_MAX)
    return -1;
  return t <= now ? 0 : (int)((t - now + 999999) / 1000000);
}

