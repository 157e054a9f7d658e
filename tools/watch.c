/*
 * watch.c - `myrixen counters --watch [--interval S] [--count N]`: live
 * rates, per VIF (messages and bytes each way, drops), per peer (packets
 * each way, retransmits, round trip) and for the whole backend (its totals
 * count endpoints that closed meanwhile too).
 *
 * On a terminal the table is redrawn in place; into a pipe or a log every
 * sample is plain lines ("T+2.0s vif 3 ..."), one per VIF and per peer, so
 * that it can be grepped and plotted.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../src/common/clock.h"
#include "tool.h"

#define MAX_ROWS 512

/* One row's counters at a sample: a VIF (id "vif 3"), a peer ("peer b")
 * or the backend's totals ("total"). */
struct row {
  char id[112];
  double v[4];                  /* counters whose rate is shown */
  double drops, retrans, rtt_us;
};

struct sample {
  struct row r[MAX_ROWS];
  int n;
};

static const char *const vif_keys[4] = {"tx_msgs", "tx_bytes", "rx_msgs", "rx_bytes"};
/* the reliable stream counts packets, not bytes */
static const char *const peer_keys[4] = {"tx_packets", NULL, "rx_packets", NULL};

static void take(struct sample *s)
{
  s->n = 0;
  char *c = backend_text(CTL_COUNTERS), *p = backend_text(CTL_PEERS);
  const char *tot = strstr(c, "\"totals\":");
  if (tot) {
    struct row *r = &s->r[s->n++];
    snprintf(r->id, sizeof(r->id), "total");
    for (int k = 0; k < 4; k++)
      r->v[k] = json_get_num(tot, vif_keys[k]);
    const char *d = strstr(c, "\"drops_total\":{");
    r->drops = (double)json_counts(d ? strchr(d, '{') : NULL, NULL, NULL, NULL);
  }
  for (const char *q = c; s->n < MAX_ROWS && (q = strstr(q, "{\"eid\":")); q++) {
    struct row *r = &s->r[s->n++];
    snprintf(r->id, sizeof(r->id), "vif %d", (int)json_get_num(q, "eid"));
    for (int k = 0; k < 4; k++)
      r->v[k] = json_get_num(q, vif_keys[k]);
    const char *d = strstr(q, "\"drops\":{");
    r->drops = (double)json_counts(d ? strchr(d, '{') : NULL, NULL, NULL, NULL);
  }
  const char *peers = strstr(p, "\"peers\":");
  for (const char *q = peers; q && s->n < MAX_ROWS && (q = strstr(q, "{\"nic_id\":")); q++) {
    struct row *r = &s->r[s->n++];
    char host[64], nic[32];
    json_get(q, "hostname", host, sizeof(host));
    json_get(q, "nic_id", nic, sizeof(nic));
    snprintf(r->id, sizeof(r->id), "peer %s/%s", host, nic); /* a name can be given twice */
    for (int k = 0; k < 4; k++)
      r->v[k] = peer_keys[k] ? json_get_num(q, peer_keys[k]) : 0;
    r->retrans = json_get_num(q, "retransmits");
    r->rtt_us = json_get_num(q, "rtt_us");
  }
  free(c);
  free(p);
}

static const struct row *find(const struct sample *s, const char *id)
{
  for (int i = 0; i < s->n; i++)
    if (!strcmp(s->r[i].id, id))
      return &s->r[i];
  return NULL;
}

/* One sample's rates against the one before; a row that is new counts
 * from zero. */
static void show(const struct sample *now, const struct sample *then, double secs, double at,
                 int tty)
{
  if (tty) {
    char every[32];
    snprintf(every, sizeof(every), "every %.1f s", secs);
    printf("\033[H\033[J%-16s %12s %10s %12s %10s %8s %8s %9s\n", every, "tx/s", "tx_MB/s",
           "rx/s", "rx_MB/s", "drops", "retrans", "rtt_us");
  }
  for (int i = 0; i < now->n; i++) {
    const struct row *r = &now->r[i], *o = find(then, r->id);
    double d[4];
    for (int k = 0; k < 4; k++)
      d[k] = (r->v[k] - (o ? o->v[k] : 0)) / secs;
    int peer = !strncmp(r->id, "peer ", 5);
    if (tty)
      printf("%-16s %12.0f %10.2f %12.0f %10.2f %8.0f %8.0f %9.1f\n", r->id, d[0], d[1] / 1e6,
             d[2], d[3] / 1e6, r->drops, r->retrans, r->rtt_us);
    else if (peer)
      printf("T+%.1fs %s tx %.0f pkt/s rx %.0f pkt/s retrans %.0f rtt %.1f us\n", at, r->id, d[0],
             d[2], r->retrans, r->rtt_us);
    else
      printf("T+%.1fs %s tx %.0f msg/s %.2f MB/s rx %.0f msg/s %.2f MB/s drops %.0f\n", at, r->id,
             d[0], d[1] / 1e6, d[2], d[3] / 1e6, r->drops);
  }
  fflush(stdout);
}

int cmd_counters_watch(int argc, char **argv)
{
  double interval = 1.0;
  long count = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--watch"))
      continue;
    if (!strcmp(argv[i], "--interval") && i + 1 < argc && atof(argv[i + 1]) > 0)
      interval = atof(argv[++i]);
    else if (!strcmp(argv[i], "--count") && i + 1 < argc)
      count = atol(argv[++i]);
    else {
      fprintf(stderr, "usage: myrixen counters --watch [--interval S] [--count N]\n");
      return 2;
    }
  }
  static struct sample a, b;
  struct sample *then = &a, *now = &b;
  int tty = isatty(1);
  take(then);
  uint64_t t0 = clock_now_ns(), last = t0;
  for (long k = 1; !count || k <= count; k++) {
    struct timespec ts = {(time_t)interval, (long)((interval - (double)(time_t)interval) * 1e9)};
    nanosleep(&ts, NULL);
    take(now);
    uint64_t t = clock_now_ns();
    show(now, then, (double)(t - last) / 1e9, (double)(t - t0) / 1e9, tty);
    last = t;
    struct sample *x = then;
    then = now;
    now = x;
  }
  return 0;
}
