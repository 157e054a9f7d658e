/* control.c - `myrixen info` and `myrixen counters`: ask the backend as a
 * monitor (no region, no endpoint) and print its JSON or a table. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../src/common/ctl.h"
#include "tool.h"

/* Say hello as a monitor, send req, and return the reply (malloc'd, with
 * room for its text), or exit with a message when there is none. */
static struct ctl_msg *exchange(struct ctl_msg *req)
{
  const char *path = ctl_socket_path();
  struct ctl_msg *buf = malloc(sizeof(*buf) + CTL_TEXT_MAX);
  int rc = buf ? ctl_monitor_call(path, "myrixen", req, buf, sizeof(*buf) + CTL_TEXT_MAX) : -3;
  if (rc == 0)
    return buf;
  if (rc == -1)
    fprintf(stderr, "myrixen: cannot reach the backend at %s (is myrixend running?)\n", path);
  else
    fprintf(stderr, "myrixen: %s\n", rc == -2 ? "backend refused the hello" : "no answer from the backend");
  exit(1);
}

char *backend_text(enum ctl_type type)
{
  struct ctl_msg m;
  ctl_init(&m, type, 2);
  struct ctl_msg *rep = exchange(&m);
  if (rep->type != CTL_REPLY || !rep->len) {
    fprintf(stderr, "myrixen: no answer from the backend\n");
    exit(1);
  }
  char *text = strndup(rep->text, rep->len);
  free(rep);
  return text;
}

char *backend_request(struct ctl_msg *req)
{
  struct ctl_msg *rep = exchange(req);
  char *err = NULL;
  if (rep->type != CTL_REPLY)
    err = strndup(rep->len ? rep->text : "refused", rep->len ? rep->len : 7);
  free(rep);
  return err;
}

/* The value after "key", from pos on ("-" when it is not there); the
 * point to go on from. */
static const char *json_field(const char *pos, const char *key, char *out, size_t cap)
{
  const char *end = json_get(pos, key, out, cap);
  if (!end)
    snprintf(out, cap, "-");
  return end ? end : pos;
}

int cmd_info(int argc, char **argv)
{
  char *t = backend_text(CTL_INFO);
  if (argc > 1 && !strcmp(argv[1], "--json")) {
    fputs(t, stdout);
    free(t);
    return 0;
  }
  char v[64], h[64], nic[64], up[64];
  json_field(t, "version", v, sizeof(v));
  json_field(t, "hostname", h, sizeof(h));
  json_field(t, "nic_id", nic, sizeof(nic));
  json_field(t, "uptime_s", up, sizeof(up));
  printf("myrixend %s on %s, up %s s\nports:\n  board 0  loop  nic %s\n", v, h, up, nic);
  printf("guests:\n  %-5s %-10s %-16s %-8s %-10s %s\n", "id", "kind", "name", "pid", "datapath",
         "mailbox");
  const char *end = strstr(t, "\"endpoints\":");
  for (const char *p = strstr(t, "\"guests\":"); p && (p = strstr(p, "{\"id\"")) && (!end || p < end);) {
    char id[16], kind[16], name[40], pid[16], dp[16], mb[24];
    json_field(p, "id", id, sizeof(id));
    json_field(p, "kind", kind, sizeof(kind));
    json_field(p, "name", name, sizeof(name));
    json_field(p, "pid", pid, sizeof(pid));
    json_field(p, "datapath", dp, sizeof(dp));
    p = json_field(p, "mailbox_calls", mb, sizeof(mb));
    printf("  %-5s %-10s %-16s %-8s %-10s %s\n", id, kind, name, pid, dp, mb);
  }
  printf("endpoints:\n  %-5s %-6s %-8s %-7s %-8s %s\n", "eid", "guest", "pid", "state", "datapath", "channels");
  for (const char *p = strstr(t, "\"endpoints\":"); p && (p = strstr(p, "{\"eid\""));) {
    char eid[16], g[16], pid[16], st[16], dp[16], ch[16];
    json_field(p, "eid", eid, sizeof(eid));
    json_field(p, "guest", g, sizeof(g));
    json_field(p, "pid", pid, sizeof(pid));
    json_field(p, "state", st, sizeof(st));
    json_field(p, "datapath", dp, sizeof(dp));
    p = json_field(p, "channels", ch, sizeof(ch));
    printf("  %-5s %-6s %-8s %-7s %-8s %s\n", eid, g, pid, st, dp, ch);
  }
  free(t);
  return 0;
}

/* The non-zero reasons of a VIF (arg: its eid), a row each. */
static void print_reason(const char *name, uint64_t v, void *arg)
{
  if (v)
    printf("  %-5s %-20s %12llu\n", (const char *)arg, name, (unsigned long long)v);
}

static void print_inline(const char *name, uint64_t v, void *arg)
{
  (void)arg;
  if (v)
    printf(" %s %llu", name, (unsigned long long)v);
}

int cmd_counters(int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--watch"))
      return cmd_counters_watch(argc, argv);
  char *t = backend_text(CTL_COUNTERS);
  if (argc > 1 && !strcmp(argv[1], "--json")) {
    fputs(t, stdout);
    free(t);
    return 0;
  }
  printf("%-5s %10s %12s %10s %12s %7s %8s %7s %9s %6s\n", "eid", "tx_msgs", "tx_bytes", "rx_msgs",
         "rx_bytes", "pulls", "stalls", "share", "throttled", "drops");
  enum { MAX_REASON_ROWS = 256 };
  struct reason_row {
    const char *obj;
    char eid[32];
  } reasons[MAX_REASON_ROWS];
  int nreasons = 0;
  for (const char *p = t; (p = strstr(p, "{\"eid\""));) {
    char f[9][32];
    static const char *const k[] = {"eid", "tx_msgs", "tx_bytes", "rx_msgs", "rx_bytes",
                                    "pulls", "stalls", "share", "throttled"};
    for (int i = 0; i < 9; i++)
      json_field(p, k[i], f[i], sizeof(f[i]));
    const char *dp = strstr(p, "\"drops\":{"), *end = NULL;
    uint64_t drops = dp ? json_counts(dp + 8, &end, NULL, NULL) : 0;
    printf("%-5s %10s %12s %10s %12s %7s %8s %7s %9s %6llu\n", f[0], f[1], f[2], f[3], f[4], f[5],
           f[6], f[7], f[8], (unsigned long long)drops);
    if (drops && nreasons < MAX_REASON_ROWS) {
      reasons[nreasons].obj = dp + 8;
      snprintf(reasons[nreasons].eid, sizeof(reasons[nreasons].eid), "%s", f[0]);
      nreasons++;
    }
    p = end ? end : p + 1;
  }
  if (nreasons) {
    printf("drops by reason (the non-zero ones):\n  %-5s %-20s %12s\n", "eid", "reason", "count");
    for (int i = 0; i < nreasons; i++) {
      const char *end;
      json_counts(reasons[i].obj, &end, print_reason, reasons[i].eid);
    }
  }
  char r[32], s[32], w[32], late[32];
  const char *e = strstr(t, "\"engine\":");
  if (e) {
    json_field(e, "rounds", r, sizeof(r));
    json_field(e, "sleeps", s, sizeof(s));
    json_field(e, "wakeups", w, sizeof(w));
    json_field(e, "late_wakeups", late, sizeof(late));
    printf("engine: %s rounds, %s sleeps, %s wake-ups (%s late: slept through a request)\n", r,
           s, w, late);
  }
  free(t);
  return 0;
}

int cmd_peers(int argc, char **argv)
{
  char *t = backend_text(CTL_PEERS);
  if (argc > 1 && !strcmp(argv[1], "--json")) {
    fputs(t, stdout);
    free(t);
    return 0;
  }
  const char *pp = strstr(t, "\"peers\":");
  for (const char *p = strstr(t, "{\"port\""); p && (!pp || p < pp); p = strstr(p + 1, "{\"port\"")) {
    char f[12][64];
    static const char *const k[] = {"port", "mtu", "tx_packets", "tx_sends", "rx_packets",
                                    "rx_reads", "lost", "duplicated", "corrupted", "rx_ring",
                                    "tx_errors", "rx_dropped"};
    for (int i = 0; i < 12; i++)
      json_field(p, k[i], f[i], sizeof(f[i]));
    printf("port %s  mtu %s%s  tx %s in %s sends (%s failed)  rx %s in %s reads (%s dropped "
           "by the kernel)  faults: lost %s dup %s corrupt %s\n", f[0], f[1],
           strcmp(f[9], "1") ? "" : "  receive ring", f[2], f[3], f[10], f[4], f[5], f[11], f[6],
           f[7], f[8]);
  }
  printf("%-14s %-16s %-24s %-7s %9s %9s %9s %8s %8s\n", "nic_id", "hostname", "address", "state",
         "rtt_us", "tx", "rx", "retrans", "failures");
  for (const char *p = pp; p && (p = strstr(p, "{\"nic_id\""));) {
    char f[9][64];
    static const char *const k[] = {"nic_id", "hostname", "address", "state", "rtt_us",
                                    "tx_packets", "rx_packets", "retransmits", "failures"};
    for (int i = 0; i < 9; i++)
      json_field(p, k[i], f[i], sizeof(f[i]));
    printf("%-14s %-16s %-24s %-7s %9s %9s %9s %8s %8s\n", f[0], f[1], f[2], f[3], f[4], f[5],
           f[6], f[7], f[8]);
    p++;
  }
  const char *d = strstr(t, "\"rx_dropped\":{"), *end;
  if (d) {
    printf("received and dropped:");
    if (!json_counts(d + 13, &end, print_inline, NULL))
      printf(" none");
    printf("\n");
  }
  free(t);
  return 0;
}

/* `myrixen vif set EID [--rate MBPS] [--msg-rate N]`: 0 lifts a limit. */
int cmd_vif(int argc, char **argv)
{
  if (argc < 3 || strcmp(argv[1], "set")) {
    fprintf(stderr, "usage: myrixen vif set EID [--rate MBPS] [--msg-rate N]\n");
    return 2;
  }
  struct ctl_msg m;
  ctl_init(&m, CTL_VIF_SET, 2);
  m.u.vif_set.eid = (uint32_t)atoi(argv[2]);
  for (int i = 3; i < argc; i++) {
    if (!strcmp(argv[i], "--rate") && i + 1 < argc)
      m.u.vif_set.bytes_per_s = (uint64_t)(atof(argv[++i]) * 1e6);
    else if (!strcmp(argv[i], "--msg-rate") && i + 1 < argc)
      m.u.vif_set.msgs_per_s = strtoull(argv[++i], NULL, 10);
    else {
      fprintf(stderr, "myrixen vif set: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  char *err = backend_request(&m);
  if (err) {
    fprintf(stderr, "myrixen vif set: %s\n", err);
    free(err);
    return 1;
  }
  return 0;
}
