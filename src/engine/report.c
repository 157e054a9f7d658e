/*
 * report.c - the engine's state as members of its client's JSON reports
 * (myrixen info, counters, peers), each written under the engine's lock so
 * that a snapshot is coherent.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "net_int.h"

static const char *const vif_state_name[] = {"free", "open", "failed", "closed"};
static const char *const peer_state_name[] = {"new", "up", "failed"};

static void write_drops(struct json *j, const char *key, const uint64_t drops[DROP_MAX])
{
  json_obj(j, key);
  for (int d = 0; d < DROP_MAX; d++)
    json_u64(j, drop_reason_name[d], drops[d]);
  json_end(j);
}

void engine_write_endpoints(struct engine *e, struct json *j)
{
  pthread_mutex_lock(&e->lock);
  json_arr(j, "endpoints");
  for (uint32_t i = 0; i < e->cfg.max_endpoints; i++) {
    struct engine_vif *v = &e->vifs[i];
    if (!v->in_use)
      continue;
    uint32_t s = v->state;
    json_obj(j, NULL);
    json_u64(j, "eid", v->eid);
    json_u64(j, "guest", v->owner.guest_id);
    json_int(j, "pid", v->owner.pid);
    json_str(j, "state", s < 4 ? vif_state_name[s] : "?");
    json_str(j, "datapath", datapath_name(v->owner.datapath));
    json_int(j, "channels", v->channels);
    json_u64(j, "session", v->session);
    if (v->lane.port) { /* where its lane is bound (docs/lanes.md) */
      char ip[INET6_ADDRSTRLEN], addr[INET6_ADDRSTRLEN + 16];
      inet_ntop(v->lane.family == 6 ? AF_INET6 : AF_INET, v->lane.ip, ip, sizeof(ip));
      snprintf(addr, sizeof(addr), v->lane.family == 6 ? "[%s]:%u" : "%s:%u", ip,
               ntohs(v->lane.port));
      json_str(j, "lane", addr);
    }
    json_end(j);
  }
  json_end(j);
  pthread_mutex_unlock(&e->lock);
}

static void write_vif_counters(struct json *j, const struct engine_vif *v, uint64_t all_tx)
{
  const struct vif_counters *c = &v->c;
  json_obj(j, NULL);
  json_u64(j, "eid", v->eid);
  json_u64(j, "guest", v->owner.guest_id);
  json_u64(j, "tx_msgs", c->tx_msgs);
  json_u64(j, "tx_bytes", c->tx_bytes);
  json_u64(j, "rx_msgs", c->rx_msgs);
  json_u64(j, "rx_bytes", c->rx_bytes);
  json_u64(j, "pulls", c->pulls);
  json_u64(j, "pull_bytes", c->pull_bytes);
  json_u64(j, "stalls", c->stalls);
  json_u64(j, "kicks", c->kicks);
  json_double(j, "share", all_tx ? (double)c->tx_msgs / (double)all_tx : 0.0, 4);
  json_u64(j, "throttled", c->throttled);
  json_u64(j, "limit_Bps", v->lim.bytes_per_s);
  json_u64(j, "limit_msgs", v->lim.msgs_per_s);
  json_u64(j, "pulls_in_flight", v->pulls);
  json_u64(j, "events_waiting", v->notices);
  write_drops(j, "drops", c->drops);
  json_end(j);
}

static uint64_t relaxed(_Atomic uint64_t *c)
{
  return atomic_load_explicit(c, memory_order_relaxed);
}

void engine_write_counters(struct engine *e, struct json *j)
{
  pthread_mutex_lock(&e->lock);
  uint64_t all_tx = 0, channels = e->closed_channels;
  struct vif_counters total = e->closed; /* open and closed endpoints */
  for (uint32_t i = 0; i < e->cfg.max_endpoints; i++)
    if (e->vifs[i].in_use) {
      all_tx += e->vifs[i].c.tx_msgs;
      channels += (uint64_t)e->vifs[i].channels;
      vif_counters_add(&total, &e->vifs[i].c);
    }
  json_arr(j, "vifs");
  for (uint32_t i = 0; i < e->cfg.max_endpoints; i++) {
    struct engine_vif *v = &e->vifs[i];
    if (!v->in_use)
      continue;
    write_vif_counters(j, v, all_tx);
  }
  json_end(j);
  json_obj(j, "engine");
  json_u64(j, "rounds", relaxed(&e->ec.rounds));
  json_u64(j, "sleeps", relaxed(&e->ec.sleeps));
  json_u64(j, "wakeups", relaxed(&e->ec.wakeups));
  json_u64(j, "late_wakeups", relaxed(&e->ec.late_wakeups));
  json_u64(j, "completions_dropped", e->done_dropped);
  write_drops(j, "drops_total", total.drops); /* open and closed endpoints */
  json_end(j);
  /* Since the backend started, endpoints open and closed: what a test, or
   * a monitor, compares before and after a job. */
  json_obj(j, "totals");
  json_u64(j, "tx_msgs", total.tx_msgs);
  json_u64(j, "tx_bytes", total.tx_bytes);
  json_u64(j, "rx_msgs", total.rx_msgs);
  json_u64(j, "rx_bytes", total.rx_bytes);
  json_u64(j, "pulls", total.pulls);
  json_u64(j, "pull_bytes", total.pull_bytes);
  json_u64(j, "channels", channels);
  json_end(j);
  netback_write_counters(e, j);
  pthread_mutex_unlock(&e->lock);
}

static void write_port(struct json *j, struct port *pt)
{
  port_count_drops(pt);
  json_obj(j, NULL);
  json_str(j, "port", pt->spec);
  json_int(j, "rx_ring", pt->ring != NULL);
  json_u64(j, "ring_grown", pt->c.ring_grown);
  json_u64(j, "mtu", pt->mtu);
  json_int(j, "gso", pt->gso);
  json_int(j, "gro", pt->gro);
  json_u64(j, "tx_packets", pt->c.tx_packets);
  json_u64(j, "tx_bytes", pt->c.tx_bytes);
  json_u64(j, "tx_sends", pt->c.tx_sends);
  json_u64(j, "rx_packets", pt->c.rx_packets);
  json_u64(j, "rx_bytes", pt->c.rx_bytes);
  json_u64(j, "rx_reads", pt->c.rx_reads);
  json_u64(j, "tx_errors", pt->c.tx_errors);
  json_u64(j, "rx_dropped", pt->c.rx_dropped);
  json_obj(j, "faults");
  json_int(j, "on", pt->fault.on);
  json_u64(j, "lost", pt->fault.c.lost);
  json_u64(j, "duplicated", pt->fault.c.duplicated);
  json_u64(j, "reordered", pt->fault.c.reordered);
  json_u64(j, "delayed", pt->fault.c.delayed);
  json_u64(j, "corrupted", pt->fault.c.corrupted);
  json_end(j);
  json_end(j);
}

static void write_peer(struct json *j, struct net *n, const struct net_peer *p)
{
  char addr[80];
  port_format_addr(&n->ports[p->port], &p->addr, addr, sizeof(addr));
  json_obj(j, NULL);
  json_nic(j, "nic_id", p->nic);
  json_str(j, "hostname", p->hostname);
  json_str(j, "address", addr);
  json_str(j, "state", peer_state_name[p->state]);
  json_int(j, "learnt", p->learnt);
  json_double(j, "rtt_us", (double)p->rel.srtt_ns / 1000.0, 1);
  json_u64(j, "in_flight", p->rel.snd_next - p->rel.snd_una);
  json_u64(j, "snd_una", p->rel.snd_una);
  json_u64(j, "snd_next", p->rel.snd_next);
  json_u64(j, "rcv_next", p->rel.rcv_next);
  json_u64(j, "held", rel_held(&p->rel));
  json_int(j, "stalled", p->stalled.active);
  json_u64(j, "tx_packets", p->rel.tx_packets);
  json_u64(j, "rx_packets", p->rel.rx_packets);
  json_u64(j, "retransmits", p->rel.retransmits);
  json_u64(j, "timeouts", p->rel.timeouts);
  json_u64(j, "dup_rx", p->rel.dup_rx);
  json_u64(j, "ooo_rx", p->rel.ooo_rx);
  json_u64(j, "stalls", p->rel.stalls);
  json_u64(j, "hold_drops", p->rel.hold_drops);
  json_u64(j, "resets", p->resets);
  json_u64(j, "failures", p->failures);
  json_end(j);
}

/* What the network refused, and discovery (zeros for a host without ports). */
static void write_net_counters(struct json *j, const struct net *n)
{
  json_obj(j, "rx_dropped");
  for (int r = 1; r <= 5; r++)
    json_u64(j, wire_drop_name(-r), n ? n->drops[r] : 0);
  json_u64(j, "not_for_us", n ? n->unknown_peer : 0);
  json_u64(j, "stale_session", n ? n->stale_session : 0);
  json_u64(j, "malformed", n ? n->malformed : 0);
  json_u64(j, "lane_on_port", n ? n->lane_on_port : 0);
  json_u64(j, "lanes_vouched", n ? n->lanes_vouched : 0);
  json_u64(j, "lanes_refused", n ? n->lanes_refused : 0);
  json_u64(j, "ep_gone_tx", n ? n->ep_gone_tx : 0);
  json_u64(j, "ep_gone_rx", n ? n->ep_gone_rx : 0);
  json_u64(j, "ep_gone_dropped", n ? n->ep_gone_dropped : 0);
  json_u64(j, "last_acks_tx", n ? n->last_acks_tx : 0);
  json_u64(j, "last_acks_refused", n ? n->last_acks_refused : 0);
  json_u64(j, "last_acks_rx", n ? n->last_acks_rx : 0);
  json_u64(j, "keepalives", n ? n->keepalives : 0);
  json_u64(j, "auth_failed", n ? n->auth_bad : 0);
  json_u64(j, "auth_unexpected", n ? n->auth_unexpected : 0);
  json_u64(j, "replayed", n ? n->replayed : 0);
  json_end(j);
  json_int(j, "cluster_key", n ? n->auth.on : 0);
  json_obj(j, "discovery");
  json_int(j, "on", n ? n->discovery : 0);
  json_u64(j, "hellos_sent", n ? n->hellos_sent : 0);
  json_u64(j, "hellos_heard", n ? n->hellos_heard : 0);
  json_end(j);
}

void engine_write_peers(struct engine *e, struct json *j)
{
  pthread_mutex_lock(&e->lock);
  struct net *n = net_of(e);
  json_nic(j, "nic_id", e->cfg.nic_id);
  json_str(j, "hostname", e->cfg.hostname);
  json_arr(j, "ports");
  for (int i = 0; n && i < n->nports; i++)
    write_port(j, &n->ports[i]);
  json_end(j);
  json_arr(j, "peers");
  for (int i = 0; n && i < NET_MAX_PEERS; i++)
    if (n->peers[i].in_use)
      write_peer(j, n, &n->peers[i]);
  json_end(j);
  write_net_counters(j, n);
  pthread_mutex_unlock(&e->lock);
}
