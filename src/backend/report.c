/*
 * report.c - the backend's state and counters as JSON, for `myrixen info`
 * and `myrixen counters`.  Taken under be->lock, so a snapshot is coherent.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "../common/clock.h"
#include "backend.h"


static void write_info(struct backend *be, FILE *f)
{
  fprintf(f, "{\"backend\":\"myrixend\",\"version\":\"%s\",\"protocol\":%d,\"region_version\":%d,",
          MYRIXEN_VERSION, CTL_VERSION, REGION_VERSION);
  fprintf(f, "\"hostname\":\"%s\",\"nic_id\":\"%012llx\",\"uptime_s\":%.1f,\"backend_pid\":%d,",
          be->cfg.hostname, (unsigned long long)be->cfg.nic_id,
          (double)(clock_now_ns() - be->started_ns) / 1e9, (int)getpid());
  fprintf(f, "\"ports\":[{\"board\":0,\"type\":\"loop\",\"nic_id\":\"%012llx\"}],",
          (unsigned long long)be->cfg.nic_id);
  fprintf(f, "\"thresholds\":{\"small_max\":%u,\"medium_max\":%u},", be->cfg.small_max,
          be->cfg.medium_max);
  fprintf(f, "\"guests\":[");
  int first = 1;
  for (int i = 0; i < BE_MAX_GUESTS; i++) {
    struct be_guest *g = &be->guests[i];
    if (!g->in_use || g->role != CTL_ROLE_GUEST)
      continue;
    fprintf(f, "%s{\"id\":%u,\"name\":\"%s\",\"pid\":%d,\"datapath\":\"%s\",\"mailbox_calls\":%llu}",
            first ? "" : ",", g->id, g->name, (int)g->pid, datapath_name(g->datapath),
            (unsigned long long)g->mbox_calls);
    first = 0;
  }
  fprintf(f, "],\"endpoints\":[");
  first = 1;
  for (uint32_t i = 0; i < be->cfg.max_endpoints; i++) {
    struct be_endpoint *ep = &be->eps[i];
    if (!ep->in_use)
      continue;
    static const char *const st[] = {"free", "open", "failed", "closed"};
    uint32_t s = atomic_load(&ep->vif->state);
    fprintf(f, "%s{\"eid\":%u,\"guest\":%u,\"pid\":%d,\"vif\":%u,\"state\":\"%s\","
               "\"datapath\":\"%s\",\"channels\":%d,\"session\":%u}",
            first ? "" : ",", ep->eid, ep->guest->id, (int)ep->guest->pid, ep->vif_idx,
            s < 4 ? st[s] : "?", datapath_name(ep->guest->datapath), ep->channels, ep->session);
    first = 0;
  }
  fprintf(f, "]}\n");
}

static void write_counters(struct backend *be, FILE *f)
{
  uint64_t total_drops[DROP_MAX];
  memcpy(total_drops, be->closed_drops, sizeof(total_drops));
  uint64_t all_tx = 0;
  for (uint32_t i = 0; i < be->cfg.max_endpoints; i++)
    if (be->eps[i].in_use)
      all_tx += be->eps[i].c.tx_msgs;
  fprintf(f, "{\"vifs\":[");
  int first = 1;
  for (uint32_t i = 0; i < be->cfg.max_endpoints; i++) {
    struct be_endpoint *ep = &be->eps[i];
    if (!ep->in_use)
      continue;
    struct vif_counters *c = &ep->c;
    fprintf(f, "%s{\"eid\":%u,\"guest\":%u,\"tx_msgs\":%llu,\"tx_bytes\":%llu,"
               "\"rx_msgs\":%llu,\"rx_bytes\":%llu,\"pulls\":%llu,\"pull_bytes\":%llu,"
               "\"stalls\":%llu,\"kicks\":%llu,\"share\":%.4f,\"throttled\":%llu,"
               "\"limit_Bps\":%llu,\"limit_msgs\":%llu,\"drops\":{",
            first ? "" : ",", ep->eid, ep->guest->id, (unsigned long long)c->tx_msgs,
            (unsigned long long)c->tx_bytes, (unsigned long long)c->rx_msgs,
            (unsigned long long)c->rx_bytes, (unsigned long long)c->pulls,
            (unsigned long long)c->pull_bytes, (unsigned long long)c->stalls,
            (unsigned long long)c->kicks, all_tx ? (double)c->tx_msgs / (double)all_tx : 0.0,
            (unsigned long long)c->throttled, (unsigned long long)ep->lim.bytes_per_s,
            (unsigned long long)ep->lim.msgs_per_s);
    for (int d = 0; d < DROP_MAX; d++) {
      fprintf(f, "%s\"%s\":%llu", d ? "," : "", drop_reason_name[d],
              (unsigned long long)c->drops[d]);
      total_drops[d] += c->drops[d];
    }
    fprintf(f, "}}");
    first = 0;
  }
  fprintf(f, "],\"engine\":{\"rounds\":%llu,\"sleeps\":%llu,\"wakeups\":%llu,"
             "\"late_wakeups\":%llu,",
          (unsigned long long)atomic_load_explicit(&be->ec.rounds, memory_order_relaxed),
          (unsigned long long)atomic_load_explicit(&be->ec.sleeps, memory_order_relaxed),
          (unsigned long long)atomic_load_explicit(&be->ec.wakeups, memory_order_relaxed),
          (unsigned long long)atomic_load_explicit(&be->ec.late_wakeups, memory_order_relaxed));
  fprintf(f, "\"drops_total\":{"); /* open and closed endpoints */
  for (int d = 0; d < DROP_MAX; d++)
    fprintf(f, "%s\"%s\":%llu", d ? "," : "", drop_reason_name[d],
            (unsigned long long)total_drops[d]);
  fprintf(f, "}},\"control\":{\"errors\":%llu}}\n", (unsigned long long)be->ctl_errors);
}

/* Run write(be, f) under be->lock into a string (the caller frees it). */
static char *report(struct backend *be, void (*write)(struct backend *, FILE *))
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f)
    return NULL;
  pthread_mutex_lock(&be->lock);
  write(be, f);
  pthread_mutex_unlock(&be->lock);
  fclose(f);
  return buf;
}

char *report_info(struct backend *be) { return report(be, write_info); }
char *report_counters(struct backend *be) { return report(be, write_counters); }
