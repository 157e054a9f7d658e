/*
 * report.c - `myrixen bench report`: the whole comparison in one run.
 *
 * Datapaths (bypass, engine, copy, copy-batch) x sizes for ping-pong and
 * stream with two guests, then the engine shared by more and more guests
 * (aggregate small-message rate and Jain fairness), and, where installed,
 * libfabric's own providers measured by fi_pingpong on the same host.  Each
 * measurement is a child `myrixen bench ... --json` against a private
 * backend; a progress bar shows on stderr.  Written to DIR (default
 * ./results): results.json (every row), results.md (tables and the targets
 * with their ratios), and latency, bandwidth and scaling plots as PNG and
 * SVG drawn by gnuplot from .dat files kept beside them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "../src/common/clock.h"
#include "spawn.h"
#include "tool.h"

#define MAX_ROWS 4096

static const char *const datapaths[] = {"bypass", "engine", "copy", "copy-batch"};
#define NDP 4
/* the peers measured beside ours, where they can be */
static const char *const peers[] = {"fi-shm", "fi-tcp", "fi-udp", "sock-udp"};
#define NPEERS 4

struct row {
  char pattern[16], datapath[16];
  unsigned size;
  int guests, summary;
  double lat, bw, rate, agg, jain;
  /* --remote rows: the best baseline of the size, by latency and by
   * bandwidth (bench_remote.c names it), its figure and MyriXen's ratio */
  char lat_base[16], bw_base[16];
  double base_lat, base_bw, xlat, xbw;
  char json[1024];
};

static struct row rows[MAX_ROWS];

/* A baseline's figure in a --remote row: "udp-busy" is keyed udp_busy_. */
static double baseline_num(const char *line, const char *base, const char *what)
{
  char key[64];
  snprintf(key, sizeof(key), "%s_%s", base, what);
  for (char *c = key; *c; c++)
    *c = *c == '-' ? '_' : *c;
  return json_get_num(line, key);
}

static void remote_baselines(struct row *r, const char *line)
{
  json_get(line, "latency_baseline", r->lat_base, sizeof(r->lat_base));
  json_get(line, "bandwidth_baseline", r->bw_base, sizeof(r->bw_base));
  r->base_lat = baseline_num(line, r->lat_base, "latency_us");
  r->base_bw = baseline_num(line, r->bw_base, "bandwidth_MBps");
  r->xlat = json_get_num(line, "latency_ratio");
  r->xbw = json_get_num(line, "bandwidth_ratio");
}
static int nrows;

/* A bar redrawn in place on a terminal; elsewhere (a pipe, a log) one
 * plain line a step, not a line of carriage returns. */
static void progress(int done, int total, const char *what)
{
  if (!isatty(2)) {
    fprintf(stderr, "myrixen bench report: %d/%d %s\n", done, total, what);
    return;
  }
  char bar[41];
  int fill = total ? done * 40 / total : 40;
  for (int i = 0; i < 40; i++)
    bar[i] = i < fill ? '#' : '.';
  bar[40] = 0;
  fprintf(stderr, "\r[%s] %3d/%d %-40.40s", bar, done, total, what);
  if (done == total)
    fprintf(stderr, "\n");
}

/* Run one `myrixen bench` and keep its JSON rows.  0 or -1. */
static int measure(char *const argv[])
{
  int p[2];
  if (pipe(p) < 0)
    return -1;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(p[1], 1);
    close(p[0]);
    close(p[1]);
    execv("/proc/self/exe", argv);
    _exit(127);
  }
  close(p[1]);
  FILE *f = fdopen(p[0], "r");
  char line[1024];
  while (f && fgets(line, sizeof(line), f) && nrows < MAX_ROWS) {
    if (line[0] != '{')
      continue;
    struct row *r = &rows[nrows++];
    line[strcspn(line, "\n")] = 0;
    snprintf(r->json, sizeof(r->json), "%s", line);
    json_get(line, "pattern", r->pattern, sizeof(r->pattern));
    json_get(line, "datapath", r->datapath, sizeof(r->datapath));
    r->size = (unsigned)json_get_num(line, "size");
    r->guests = (int)json_get_num(line, "guests");
    r->summary = (int)json_get_num(line, "summary");
    r->lat = json_get_num(line, "latency_us");
    r->bw = json_get_num(line, "bandwidth_MBps");
    r->rate = json_get_num(line, "msgs_per_s");
    r->agg = json_get_num(line, "aggregate_msgs_per_s");
    r->jain = json_get_num(line, "jain");
    if (!strcmp(r->datapath, "remote"))
      remote_baselines(r, line);
  }
  if (f)
    fclose(f);
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* libfabric's fi_pingpong on this host, where installed: its rows sit
 * beside ours as datapath "fi-PROVIDER". */
static void fabric_peer(const char *name, const char *args, const unsigned *sizes, int nsizes,
                        int iters)
{
  if (system("command -v fi_pingpong >/dev/null 2>&1") != 0)
    return;
  for (int k = 0; k < nsizes; k++) {
    char cmd[512], line[512];
    snprintf(cmd, sizeof(cmd),
             "(timeout 30 fi_pingpong %s -S %u -I %d >/dev/null 2>&1 & sleep 0.3; "
             "timeout 30 fi_pingpong %s -S %u -I %d 127.0.0.1 2>/dev/null; wait)",
             args, sizes[k], iters, args, sizes[k], iters);
    FILE *f = popen(cmd, "r");
    if (!f)
      return;
    while (fgets(line, sizeof(line), f)) {
      /* "bytes #sent #ack total time MB/sec usec/xfer Mxfers/sec" */
      char bytes[32], sent[32], ack[32], total[32], time_[32];
      double mbps, usec, mx;
      if (sscanf(line, "%31s %31s %31s %31s %31s %lf %lf %lf", bytes, sent, ack, total, time_,
                 &mbps, &usec, &mx) == 8 &&
          nrows < MAX_ROWS) {
        struct row *r = &rows[nrows++];
        snprintf(r->pattern, sizeof(r->pattern), "pingpong");
        snprintf(r->datapath, sizeof(r->datapath), "%s", name);
        r->size = sizes[k];
        r->guests = 2;
        r->lat = usec; /* one transfer: the half round trip */
        r->bw = mbps;
        r->rate = usec > 0 ? 1e6 / usec : 0;
        snprintf(r->json, sizeof(r->json),
                 "{\"pattern\":\"pingpong\",\"datapath\":\"%s\",\"size\":%u,"
                 "\"latency_us\":%.3f,\"bandwidth_MBps\":%.1f,\"msgs_per_s\":%.0f,\"peer\":1}",
                 name, sizes[k], r->lat, r->bw, r->rate);
      }
    }
    pclose(f);
  }
}

/* The raw socket baseline on this host: a UDP ping-pong over loopback
 * between two processes (datagrams up to 64 KiB). */
static void socket_peer(const unsigned *sizes, int nsizes, int iters)
{
  for (int k = 0; k < nsizes && nrows < MAX_ROWS; k++) {
    if (sizes[k] > 65000)
      continue;
    int s = socket(AF_INET, SOCK_DGRAM, 0), e = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (s < 0 || e < 0 || bind(e, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(e, (struct sockaddr *)&a, &al) < 0 || connect(s, (struct sockaddr *)&a, al) < 0)
      return;
    static char buf[65536];
    int n = iters, warm = n / 10 + 1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
      struct sockaddr_in from;
      for (int i = 0; i < n + warm; i++) {
        socklen_t fl = sizeof(from);
        ssize_t got = recvfrom(e, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        if (got < 0 || sendto(e, buf, (size_t)got, 0, (struct sockaddr *)&from, fl) < 0)
          _exit(1);
      }
      _exit(0);
    }
    struct timeval tv = {1, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    uint64_t t0 = 0;
    int ok = 1;
    for (int i = 0; i < n + warm && ok; i++) {
      if (i == warm)
        t0 = clock_now_ns();
      ok = send(s, buf, sizes[k] ? sizes[k] : 1, 0) >= 0 && recv(s, buf, sizeof(buf), 0) >= 0;
    }
    double secs = (double)(clock_now_ns() - t0) / 1e9;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(s);
    close(e);
    if (!ok)
      continue;
    struct row *r = &rows[nrows++];
    snprintf(r->pattern, sizeof(r->pattern), "pingpong");
    snprintf(r->datapath, sizeof(r->datapath), "sock-udp");
    r->size = sizes[k];
    r->guests = 2;
    r->lat = secs / n / 2 * 1e6;
    r->bw = (double)sizes[k] * n * 2 / secs / 1e6;
    r->rate = n / secs;
    snprintf(r->json, sizeof(r->json),
             "{\"pattern\":\"pingpong\",\"datapath\":\"sock-udp\",\"size\":%u,"
             "\"latency_us\":%.3f,\"bandwidth_MBps\":%.1f,\"msgs_per_s\":%.0f,\"peer\":1}",
             sizes[k], r->lat, r->bw, r->rate);
  }
}

static const struct row *find(const char *pattern, const char *dp, unsigned size, int guests,
                              int summary)
{
  for (int i = 0; i < nrows; i++)
    if (!strcmp(rows[i].pattern, pattern) && !strcmp(rows[i].datapath, dp) &&
        rows[i].size == size && rows[i].guests == guests && rows[i].summary == summary)
      return &rows[i];
  return NULL;
}

/* name.dat: a row a size, a column each of cols (filled here; the
 * header line is a comment for readers, the plot names its lines itself:
 * gnuplot's columnhead would take the first data row for titles). */
static int write_dat(const char *dir, const char *name, const char *pattern, const unsigned *sizes,
                     int nsizes, int latency, const char **cols)
{
  char path[512];
  snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  fprintf(f, "# size");
  int ncols = 0;
  for (int d = 0; d < NDP; d++)
    cols[ncols++] = datapaths[d];
  for (int q = 0; latency && q < NPEERS; q++)
    if (find("pingpong", peers[q], sizes[0], 2, 0))
      cols[ncols++] = peers[q];
  for (int c = 0; c < ncols; c++)
    fprintf(f, " %s", cols[c]);
  fprintf(f, "\n");
  for (int k = 0; k < nsizes; k++) {
    fprintf(f, "%u", sizes[k] ? sizes[k] : 1);
    for (int c = 0; c < ncols; c++) {
      const struct row *r = find(pattern, cols[c], sizes[k], 2, 0);
      fprintf(f, " %.4f", r ? (latency ? r->lat : r->bw) : 0.0);
    }
    fprintf(f, "\n");
  }
  fclose(f);
  return ncols;
}

/* Draw the plots a gnuplot script describes: 0, or -1. */
static int gnuplot(const char *script)
{
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "gnuplot '%s' 2>/dev/null", script);
  return system(cmd) == 0 ? 0 : -1;
}

static int plot(const char *dir, const char *name, const char *title, const char *ylabel,
                const char **cols, int ncols, const char *xlabel, int logx)
{
  char path[512];
  snprintf(path, sizeof(path), "%s/%s.gp", dir, name);
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  for (int fmt = 0; fmt < 2; fmt++) {
    fprintf(f, "set terminal %s size 800,500\nset output '%s/%s.%s'\n",
            fmt ? "svg" : "pngcairo", dir, name, fmt ? "svg" : "png");
    fprintf(f, "set title '%s'\nset xlabel '%s'\nset ylabel '%s'\nset key left top\nset grid\n",
            title, xlabel, ylabel);
    if (logx)
      fprintf(f, "set logscale x 2\nset logscale y 10\n");
    for (int c = 0; c < ncols; c++)
      fprintf(f, "%s '%s/%s.dat' using 1:%d with linespoints title '%s'", c ? "," : "plot", dir,
              name, c + 2, cols[c]);
    fprintf(f, "\n");
  }
  fclose(f);
  return gnuplot(path);
}

/* The same-host tables: a column a datapath (and the peers, for ping-pong). */
static void md_datapaths(FILE *f, const unsigned *sizes, int nsizes)
{
  const char *pat[2] = {"pingpong", "stream"};
  for (int p = 0; p < 2; p++) {
    fprintf(f, "## %s: %s\n\n| size |", pat[p], p ? "bandwidth (MB/s)" : "half round trip (µs)");
    for (int d = 0; d < NDP; d++)
      fprintf(f, " %s |", datapaths[d]);
    for (int q = 0; !p && q < NPEERS; q++)
      fprintf(f, " %s |", peers[q]);
    fprintf(f, "\n|---|");
    for (int d = 0; d < NDP + (p ? 0 : NPEERS); d++)
      fprintf(f, "---|");
    fprintf(f, "\n");
    for (int k = 0; k < nsizes; k++) {
      fprintf(f, "| %u |", sizes[k]);
      for (int d = 0; d < NDP + (p ? 0 : NPEERS); d++) {
        const char *dp = d < NDP ? datapaths[d] : peers[d - NDP];
        const struct row *r = find(pat[p], dp, sizes[k], 2, 0);
        if (r)
          fprintf(f, " %.3f |", p ? r->bw : r->lat);
        else
          fprintf(f, " — |");
      }
      fprintf(f, "\n");
    }
    fprintf(f, "\n");
  }
}

static void md_remote(FILE *f)
{
  int any_remote = 0;
  for (int i = 0; i < nrows; i++)
    any_remote |= !strcmp(rows[i].datapath, "remote");
  if (!any_remote)
    return;
  fprintf(f, "## Across hosts (bypass datapath, the engine's reliable stream) beside the best "
             "socket baseline\n\n"
             "Baselines of the same run: UDP blocking (udp) and busy-polled (udp-busy), TCP "
             "(ping-pong with TCP_NODELAY, busy-polled; stream in large writes). Each ratio is "
             "against the best of them for the size, named.\n\n"
             "| pattern | size | MyriXen µs | best µs | baseline | ratio | MyriXen MB/s | best MB/s "
             "| baseline | ratio |\n"
             "|---|---|---|---|---|---|---|---|---|---|\n");
  for (int i = 0; i < nrows; i++) {
    const struct row *r = &rows[i];
    if (strcmp(r->datapath, "remote"))
      continue;
    fprintf(f, "| %s | %u | %.3f | %.3f | %s | %.2f | %.1f | %.1f | %s | %.2f |\n", r->pattern,
            r->size, r->lat, r->base_lat, r->lat_base, r->xlat, r->bw, r->base_bw, r->bw_base,
            r->xbw);
  }
  fprintf(f, "\n");
}

static void md_scaling(FILE *f, const int *gcounts, int ng)
{
  fprintf(f, "## The engine shared by more guests (stream, 64 B, pairs)\n\n"
             "| guests | aggregate msgs/s | Jain fairness |\n|---|---|---|\n");
  for (int g = 0; g < ng; g++) {
    const struct row *r = find("stream", "engine", 64, gcounts[g], gcounts[g] > 2);
    if (gcounts[g] == 2)
      r = find("stream", "engine", 64, 2, 0);
    fprintf(f, "| %d | %.0f | %.4f |\n", gcounts[g], r ? (gcounts[g] > 2 ? r->agg : r->rate) : 0,
            r ? (gcounts[g] > 2 ? r->jain : 1.0) : 0);
  }
}

/* The targets, as ratios of this run's figures. */
static void md_targets(FILE *f, const int *gcounts, int ng)
{
  const struct row *b8 = find("pingpong", "bypass", 8, 2, 0), *c8 = find("pingpong", "copy", 8, 2, 0);
  const struct row *cs = find("stream", "copy", 64, 2, 0), *bs = find("stream", "copy-batch", 64, 2, 0);
  const struct row *e2 = find("stream", "engine", 64, 2, 0);
  int gt = 16; /* the target's guest count, or the largest one run */
  const struct row *en = find("stream", "engine", 64, gt, 1);
  if (!en && ng > 1)
    en = find("stream", "engine", 64, gt = gcounts[ng - 1], 1);
  const struct row *e40 = find("stream", "engine", 64, 40, 1);
  const struct row *fs = find("pingpong", "fi-shm", 8, 2, 0);
  fprintf(f, "\n## Targets\n\n| target | this run |\n|---|---|\n");
  if (b8 && c8)
    fprintf(f, "| bypass 8 B ≥ 3× lower than copy | copy/bypass = %.2f |\n", c8->lat / b8->lat);
  if (cs && bs)
    fprintf(f, "| copy-batch small-message rate ≥ 2× copy | %.2f× |\n", bs->rate / cs->rate);
  if (e2 && en)
    fprintf(f, "| %d guests on the engine: aggregate ≥ 0.8× that of 2, Jain ≥ 0.95 | %.2f×, Jain %.4f |\n",
            gt, en->agg / e2->rate, en->jain);
  if (e40)
    fprintf(f, "| 40 guests run to completion | yes: %.0f msgs/s, Jain %.4f |\n", e40->agg,
            e40->jain);
  if (b8 && fs)
    fprintf(f, "| bypass beats libfabric shm at 8 B | shm/bypass = %.2f |\n", fs->lat / b8->lat);
  else
    fprintf(f, "| bypass beats libfabric shm at 8 B | fi_pingpong not installed: not measured |\n");
  const struct row *bm = find("pingpong", "bypass", 1048576, 2, 0),
                   *fm = find("pingpong", "fi-shm", 1048576, 2, 0);
  if (bm && fm)
    fprintf(f, "| bypass beats libfabric shm at 1 MiB (ping-pong bandwidth) | bypass/shm = %.2f |\n",
            bm->bw / fm->bw);
}

static const char *const mpi_transports[] = {"myrixen", "vader", "tcp-rxm"};
#define NMPI 3

static void md_mpi(FILE *f, const unsigned *sizes, int nsizes)
{
  if (!find("mpi", "myrixen", sizes[0], 2, 0)) {
    fprintf(f, "## MPI\n\nOpen MPI or the MPI bench program is not installed: not measured.\n\n");
    return;
  }
  fprintf(f, "## MPI: Open MPI, 2 ranks on this host (`myrixen bench mpi`)\n\n"
             "| size | myrixen µs | vader µs | tcp;ofi_rxm µs | myrixen MB/s | vader MB/s | "
             "tcp;ofi_rxm MB/s |\n|---|---|---|---|---|---|---|\n");
  for (int k = 0; k < nsizes; k++) {
    fprintf(f, "| %u |", sizes[k]);
    for (int p = 0; p < 2; p++)
      for (int t = 0; t < NMPI; t++) {
        const struct row *r = find("mpi", mpi_transports[t], sizes[k], 2, 0);
        if (!r)
          fprintf(f, " — |");
        else
          fprintf(f, p ? " %.1f |" : " %.3f |", p ? r->bw : r->lat);
      }
    fprintf(f, "\n");
  }
  const struct row *m8 = find("mpi", "myrixen", 8, 2, 0), *v8 = find("mpi", "vader", 8, 2, 0),
                   *t8 = find("mpi", "tcp-rxm", 8, 2, 0);
  const struct row *m1 = find("mpi", "myrixen", 1048576, 2, 0),
                   *v1 = find("mpi", "vader", 1048576, 2, 0);
  fprintf(f, "\n| MPI target | this run |\n|---|---|\n");
  if (m8 && v8 && t8)
    fprintf(f, "| 8 B ≤ 1.5× vader | %.2f× |\n| 8 B ≥ 5× lower than tcp;ofi_rxm | %.1f× |\n",
            m8->lat / v8->lat, t8->lat / m8->lat);
  if (m1 && v1)
    fprintf(f, "| 1 MiB bandwidth ≥ 1.0× vader | %.2f× |\n", m1->bw / v1->bw);
  fprintf(f, "\n");
}

static void write_md(const char *dir, const unsigned *sizes, int nsizes, const int *gcounts,
                     int ng)
{
  char path[512];
  snprintf(path, sizeof(path), "%s/results.md", dir);
  FILE *f = fopen(path, "w");
  if (!f)
    return;
  fprintf(f, "# MyriXen datapaths compared\n\nSame host, two guests; every figure from one run "
             "(`myrixen bench report`).\n\n");
  md_datapaths(f, sizes, nsizes);
  md_remote(f);
  md_scaling(f, gcounts, ng);
  md_targets(f, gcounts, ng);
  fprintf(f, "\n");
  md_mpi(f, sizes, nsizes);
  fprintf(f, "Plots: latency.png/svg, bandwidth.png/svg, scaling.png/svg, mpi.png/svg; every row "
             "in results.json.\n");
  fclose(f);
}

/* What one report measures. */
struct plan {
  const char *dir, *remote;
  int quick;
  const unsigned *sizes;
  int nsizes;
  const int *gcounts;
  int ng;
  const char *iters;
  char sizelist[256];
  int done, total;              /* the progress bar */
};

static int plan_from_args(struct plan *pl, int argc, char **argv)
{
  static const unsigned full_sizes[] = {8, 64, 1024, 4096, 65536, 1048576, 4194304};
  static const unsigned quick_sizes[] = {8, 64, 65536};
  static const int full_g[] = {2, 4, 8, 16, 40}, quick_g[] = {2, 4};
  memset(pl, 0, sizeof(*pl));
  pl->dir = "results";
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--quick"))
      pl->quick = 1;
    else if (!strcmp(argv[i], "--out") && i + 1 < argc)
      pl->dir = argv[++i];
    else if (!strcmp(argv[i], "--remote") && i + 1 < argc)
      pl->remote = argv[++i];
    else
      return -1;
  }
  pl->sizes = pl->quick ? quick_sizes : full_sizes;
  pl->nsizes = pl->quick ? 3 : 7;
  pl->gcounts = pl->quick ? quick_g : full_g;
  pl->ng = pl->quick ? 2 : 5;
  pl->iters = pl->quick ? "200" : "3000";
  for (int k = 0; k < pl->nsizes; k++)
    snprintf(pl->sizelist + strlen(pl->sizelist), sizeof(pl->sizelist) - strlen(pl->sizelist),
             "%s%u", k ? "," : "", pl->sizes[k]);
  pl->total = 2 * NDP + pl->ng + 5 + (pl->remote ? 2 : 0);
  return 0;
}

static void step(struct plan *pl, const char *what)
{
  progress(pl->done++, pl->total, what);
}

static const char *const patterns[2] = {"pingpong", "stream"};

/* Cross-host rows, through the backend the caller named (it has ports). */
static int run_remote_rows(struct plan *pl)
{
  int failed = 0;
  for (int p = 0; pl->remote && p < 2; p++) {
    char what[96];
    snprintf(what, sizeof(what), "%s to %s", patterns[p], pl->remote);
    step(pl, what);
    char *av[] = {"myrixen", "bench", (char *)patterns[p], "--json", "--remote",
                  (char *)pl->remote, "--sizes", pl->sizelist, "--iters", (char *)pl->iters, NULL};
    failed |= measure(av) < 0;
  }
  return failed;
}

/* Same-host rows: every datapath, then the engine shared by N guests. */
static int run_datapath_rows(struct plan *pl)
{
  int failed = 0;
  for (int p = 0; p < 2; p++)
    for (int d = 0; d < NDP; d++) {
      char what[64];
      snprintf(what, sizeof(what), "%s %s", patterns[p], datapaths[d]);
      step(pl, what);
      char *av[] = {"myrixen", "bench", (char *)patterns[p], "--json", "--datapath",
                    (char *)datapaths[d], "--sizes", pl->sizelist, "--iters", (char *)pl->iters,
                    NULL};
      failed |= measure(av) < 0;
    }
  for (int g = 0; g < pl->ng; g++) {
    char what[64], gs[16];
    snprintf(what, sizeof(what), "engine shared by %d guests", pl->gcounts[g]);
    snprintf(gs, sizeof(gs), "%d", pl->gcounts[g]);
    step(pl, what);
    char *av[] = {"myrixen", "bench", "stream", "--json", "--datapath", "engine", "--sizes", "64",
                  "--iters", pl->quick ? "500" : "20000", "--guests", gs, NULL};
    if (pl->gcounts[g] != 2 || !find("stream", "engine", 64, 2, 0))
      failed |= measure(av) < 0;
  }
  return failed;
}

static void run_peer_rows(struct plan *pl)
{
  int iters = pl->quick ? 200 : 3000;
  step(pl, "libfabric shm (fi_pingpong)");
  fabric_peer("fi-shm", "-p shm -e rdm -m tagged", pl->sizes, pl->nsizes, iters);
  step(pl, "libfabric tcp (fi_pingpong)");
  fabric_peer("fi-tcp", "-p 'tcp;ofi_rxm' -e rdm -m tagged", pl->sizes, pl->nsizes, iters);
  step(pl, "libfabric udp (fi_pingpong)");
  fabric_peer("fi-udp", "-p 'udp;ofi_rxd' -e rdm -m tagged", pl->sizes, pl->nsizes, iters);
  step(pl, "raw UDP sockets");
  socket_peer(pl->sizes, pl->nsizes, iters);
  progress(pl->done, pl->total, "done");
}

/* Open MPI over the provider beside vader and tcp;ofi_rxm, where Open MPI
 * and the MPI bench program are there (`myrixen bench mpi`). */
static int mpi_available(void)
{
  char prog[4096];
  return mpi_bench_path(prog, sizeof(prog)) == 0 &&
         system("command -v mpirun >/dev/null 2>&1") == 0;
}

static int run_mpi_rows(struct plan *pl)
{
  step(pl, "Open MPI: myrixen, vader, tcp;ofi_rxm");
  if (!mpi_available())
    return 0;
  char *av[] = {"myrixen", "bench", "mpi", "--json", "--rounds", pl->quick ? "1" : "3",
                "--transports", "myrixen,vader,tcp-rxm", "--sizes", pl->sizelist,
                "--iters", pl->quick ? "1000" : "10000", NULL};
  return measure(av) < 0;
}

/* mpi.png/svg: latency and bandwidth by size, a line a transport. */
static int plot_mpi(const struct plan *pl)
{
  if (!find("mpi", "myrixen", pl->sizes[0], 2, 0))
    return 0;
  char path[512];
  FILE *f;
  snprintf(path, sizeof(path), "%s/mpi.dat", pl->dir);
  if (!(f = fopen(path, "w")))
    return 1;
  fprintf(f, "# size, then latency_us and bandwidth_MBps of myrixen, vader, tcp-rxm\n");
  for (int k = 0; k < pl->nsizes; k++) {
    fprintf(f, "%u", pl->sizes[k]);
    for (int p = 0; p < 2; p++)
      for (int t = 0; t < NMPI; t++) {
        const struct row *r = find("mpi", mpi_transports[t], pl->sizes[k], 2, 0);
        fprintf(f, " %.4f", r ? (p ? r->bw : r->lat) : 0.0);
      }
    fprintf(f, "\n");
  }
  fclose(f);
  snprintf(path, sizeof(path), "%s/mpi.gp", pl->dir);
  if (!(f = fopen(path, "w")))
    return 1;
  for (int fmt = 0; fmt < 2; fmt++)
    fprintf(f,
            "set terminal %s size 1000,450\nset output '%s/mpi.%s'\nset multiplot layout 1,2\n"
            "set logscale x 2\nset logscale y 10\nset grid\nset key left top\nset xlabel 'bytes'\n"
            "set title 'MPI ping-pong, half round trip'\nset ylabel 'us'\n"
            "plot '%s/mpi.dat' using 1:2 with linespoints title 'myrixen', "
            "'' using 1:3 with linespoints title 'vader', '' using 1:4 with linespoints title 'tcp;ofi_rxm'\n"
            "set title 'MPI bandwidth (osu_bw window)'\nset ylabel 'MB/s'\n"
            "plot '%s/mpi.dat' using 1:5 with linespoints title 'myrixen', "
            "'' using 1:6 with linespoints title 'vader', '' using 1:7 with linespoints title 'tcp;ofi_rxm'\n"
            "unset multiplot\n",
            fmt ? "svg" : "pngcairo", pl->dir, fmt ? "svg" : "png", pl->dir, pl->dir);
  fclose(f);
  return gnuplot(path) != 0;
}

static void write_json(const struct plan *pl)
{
  char path[512];
  snprintf(path, sizeof(path), "%s/results.json", pl->dir);
  FILE *f = fopen(path, "w");
  if (!f)
    return;
  fprintf(f, "[\n");
  for (int i = 0; i < nrows; i++)
    fprintf(f, "  %s%s\n", rows[i].json, i + 1 < nrows ? "," : "");
  fprintf(f, "]\n");
  fclose(f);
}

/* The scaling plot: aggregate rate and fairness by guest count.  0 when drawn. */
static int plot_scaling(const struct plan *pl)
{
  char path[512];
  FILE *f;
  snprintf(path, sizeof(path), "%s/scaling.dat", pl->dir);
  if ((f = fopen(path, "w"))) {
    fprintf(f, "# guests aggregate_msgs_per_s jain\n");
    for (int g = 0; g < pl->ng; g++) {
      int n = pl->gcounts[g];
      const struct row *r = n > 2 ? find("stream", "engine", 64, n, 1)
                                  : find("stream", "engine", 64, 2, 0);
      fprintf(f, "%d %.0f %.4f\n", n, r ? (n > 2 ? r->agg : r->rate) : 0,
              r ? (n > 2 ? r->jain : 1.0) : 0);
    }
    fclose(f);
  }
  snprintf(path, sizeof(path), "%s/scaling.gp", pl->dir);
  if (!(f = fopen(path, "w")))
    return 1;
  for (int fmt = 0; fmt < 2; fmt++)
    fprintf(f,
            "set terminal %s size 800,500\nset output '%s/scaling.%s'\n"
            "set title 'engine shared by N guests (stream, 64 B)'\nset xlabel 'guests'\n"
            "set ylabel 'aggregate msgs/s'\nset y2label 'Jain fairness'\nset y2range [0:1.05]\n"
            "set ytics nomirror\nset y2tics\nset grid\n"
            "plot '%s/scaling.dat' using 1:2 with linespoints title 'aggregate rate', "
            "'' using 1:3 axes x1y2 with linespoints title 'Jain fairness'\n",
            fmt ? "svg" : "pngcairo", pl->dir, fmt ? "svg" : "png", pl->dir);
  fclose(f);
  return gnuplot(path) != 0;
}

/* Every file of the report; 0 when every plot was drawn. */
static int write_outputs(const struct plan *pl)
{
  write_json(pl);
  write_md(pl->dir, pl->sizes, pl->nsizes, pl->gcounts, pl->ng);
  const char *lcols[NDP + NPEERS], *bcols[NDP + NPEERS];
  int nl = write_dat(pl->dir, "latency", "pingpong", pl->sizes, pl->nsizes, 1, lcols);
  int nb = write_dat(pl->dir, "bandwidth", "stream", pl->sizes, pl->nsizes, 0, bcols);
  int plots = plot(pl->dir, "latency", "ping-pong, half round trip", "us", lcols, nl, "bytes", 1);
  plots |= plot(pl->dir, "bandwidth", "stream bandwidth", "MB/s", bcols, nb, "bytes", 1);
  plots |= plot_scaling(pl);
  plots |= plot_mpi(pl);
  return plots;
}

int cmd_bench_report(int argc, char **argv)
{
  struct plan pl;
  if (plan_from_args(&pl, argc, argv) < 0) {
    fprintf(stderr, "usage: myrixen bench report [--quick] [--out DIR] [--remote HOST]\n"
                    "  --remote HOST: add cross-host rows against `myrixen bench serve` on\n"
                    "  HOST, through the backend at $MYRIXEN_SOCKET (which has ports)\n");
    return 2;
  }
  if (mkdir(pl.dir, 0755) < 0 && errno != EEXIST) {
    fprintf(stderr, "myrixen bench report: %s: %s\n", pl.dir, strerror(errno));
    return 1;
  }
  int failed = run_remote_rows(&pl);
  pid_t be = backend_spawn_private("report");
  if (be < 0) {
    fprintf(stderr, "myrixen bench report: cannot start a backend\n");
    return 1;
  }
  failed |= run_datapath_rows(&pl);
  failed |= run_mpi_rows(&pl);
  run_peer_rows(&pl);
  backend_stop(be);
  int plots = write_outputs(&pl);
  printf("myrixen bench report: %d rows in %s/results.json, tables in %s/results.md%s\n", nrows,
         pl.dir, pl.dir, plots ? " (gnuplot missing or failed: no plots)" : ", plots as PNG and SVG");
  return failed || plots ? 1 : 0;
}
