/*
 * bench.c - `myrixen bench pingpong|stream`: guest processes on this host
 * exchanging messages through a backend, on any datapath; each row is
 * printed beside the machine's limits measured in the same run.
 *
 * Two guests by default; --guests N runs N of them, in pairs, or all
 * sending to guest 0 with --to-one.  Every sending guest reports its own
 * row (key "guest"), so that fairness can be computed from the rows; a
 * summary row gives the aggregate rate and Jain's fairness index.  CPU time
 * per message is measured for the guests (getrusage) and the backend
 * (/proc/PID/stat) over the timed part.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../include/myriexpress.h"
#include "../src/common/clock.h"
#include "../src/common/cpu.h"
#include "spawn.h"
#include "measure.h"
#include "tool.h"

#define KEY BENCH_KEY
#define WINDOW BENCH_WINDOW
#define MAX_GUESTS 64

enum role { MEASURE, RESPONDER, SOURCE, SINK };

struct bench_opts {
  int stream;
  int iters;
  int json;
  int guests;
  int to_one;
  int cpu[2];                   /* cores of guest 0 and guest 1 (--cpus) */
  int cpus_given;
  uint32_t sizes[32];
  int nsizes;
  pid_t backend_pid;            /* for its CPU time, 0 when unknown */
};


static int iters_for(const struct bench_opts *o, uint32_t size)
{
  uint64_t cap = size ? (512ull << 20) / size : (uint64_t)o->iters;
  int n = (uint64_t)o->iters < cap ? o->iters : (int)cap;
  return n < 20 ? 20 : n;
}

static enum role role_of(const struct bench_opts *o, int idx)
{
  if (o->to_one)
    return idx == 0 ? SINK : SOURCE;
  return idx % 2 ? RESPONDER : MEASURE;
}

static int measures(const struct bench_opts *o, int idx)
{
  enum role r = role_of(o, idx);
  return r == MEASURE || r == SOURCE;
}

static void wait_one(mx_endpoint_t ep, mx_request_t *r)
{
  mx_status_t st;
  uint32_t res;
  mx_wait(ep, r, MX_INFINITE, &st, &res);
}

/* The other side: answer pings, or take a stream and acknowledge its end.
 * A sink of --to-one serves every source: `sources` of them. */
static void run_receiver(const struct bench_opts *o, mx_endpoint_t ep, uint32_t size, int n,
                         int sources, char *buf)
{
  int warm = n / 10 + 1;
  long total = (long)(n + warm) * sources;
  mx_segment_t seg = {buf, size};
  mx_request_t rq[1], sr;
  mx_status_t st;
  uint32_t res;
  if (!o->stream) {
    for (long i = 0; i < total; i++) {
      mx_irecv(ep, &seg, 1, M_PING, ~0ull, NULL, &rq[0]);
      mx_wait(ep, &rq[0], MX_INFINITE, &st, &res);
      mx_isend(ep, &seg, 1, st.source, M_PING, NULL, &sr);
      wait_one(ep, &sr);
    }
    return;
  }
  /* data (match 2) and ends (match 3) in one wildcard window, a
   * BENCH_WINDOW per source, which their acknowledgements keep enough; a
   * source's end comes after its data (per-pair order), and is answered */
  int posted = WINDOW * sources;
  mx_request_t *rw = calloc((size_t)posted, sizeof(*rw));
  struct stream_acks *acks = calloc(1, sizeof(*acks));
  if (!rw || !acks)
    tool_fail("receiver", MX_NO_RESOURCES);
  for (int w = 0; w < posted; w++)
    mx_irecv(ep, &seg, 1, 0, M_DATA_MASK, NULL, &rw[w]);
  for (int ends = 0, w = 0; ends < sources; w = (w + 1) % posted) {
    mx_wait(ep, &rw[w], MX_INFINITE, &st, &res);
    mx_irecv(ep, &seg, 1, 0, M_DATA_MASK, NULL, &rw[w]);
    if (st.match_info == M_DATA) {
      stream_ack_data(ep, acks, st.source);
      continue;
    }
    stream_ack_end(acks, st.source);
    mx_segment_t z = {buf, 0};
    mx_isend(ep, &z, 1, st.source, M_END, NULL, &sr);
    wait_one(ep, &sr);
    ends++;
  }
  for (int w = 0; w < posted; w++) {
    uint32_t done;
    mx_cancel(ep, &rw[w], &done);
  }
  free(rw);
  free(acks);
}

/* One guest; measuring guests write a row per size to fd, after a barrier
 * with the parent (so that all senders of a size run at once). */
static void guest(int idx, const struct bench_opts *o, int fd, int core)
{
  mx_endpoint_t ep;
  mx_endpoint_addr_t peer, me;
  uint64_t nic;
  uint32_t my_eid, peer_eid;
  mx_return_t r;
  cpu_pin(core);
  if ((r = mx_init()) || (r = mx_open_endpoint(0, MX_ANY_ENDPOINT, KEY, NULL, 0, &ep)))
    tool_fail("open", r);
  mx_get_endpoint_addr(ep, &me);
  mx_decompose_endpoint_addr(me, &nic, &my_eid);
  if (write(fd, &my_eid, 4) != 4 || read(fd, &peer_eid, 4) != 4)
    _exit(1);
  enum role role = role_of(o, idx);
  if (role != SINK && (r = mx_connect(ep, nic, peer_eid, KEY, 10000, &peer)))
    tool_fail("connect", r);
  size_t cap = (((size_t)o->sizes[o->nsizes - 1] + 4095) & ~(size_t)4095) + 4096;
  char *buf = aligned_alloc(4096, cap); /* C11: a multiple of the alignment */
  memset(buf, idx, cap);
  for (int k = 0; k < o->nsizes; k++) {
    uint32_t size = o->sizes[k];
    int n = iters_for(o, size);
    if (role == RESPONDER || role == SINK) {
      run_receiver(o, ep, size, n, role == SINK ? o->guests - 1 : 1, buf);
      continue;
    }
    char go;
    if (write(fd, "R", 1) != 1 || read(fd, &go, 1) != 1)
      _exit(1);
    struct measure row = measure_mx(ep, peer, o->stream, size, n, buf);
    if (write(fd, &row, sizeof(row)) != sizeof(row))
      _exit(1);
  }
  mx_finalize();
  _exit(0);
}

/* CPU time (µs) a process used so far, from /proc. */
static double proc_cpu_us(pid_t pid)
{
  char path[64], buf[1024];
  if (pid <= 0)
    return 0;
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return 0;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  unsigned long ut = 0, st = 0;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
    return 0;
  return (double)(ut + st) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

/* Where guest idx runs.  A direct pair needs a core each; through the
 * engine or netback, the backend's threads need a core of their own, so on
 * a host this small the guests share core 0 and the backend polls on the
 * other.  --cpus A,B overrides it (guests alternate between A and B). */
static int core_of(const struct bench_opts *o, const char *dp, int idx)
{
  if (o->cpus_given)
    return o->cpu[idx % 2];
  if (strcmp(dp, "bypass") && strcmp(dp, "direct"))
    return 0;
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  return (int)(idx % (ncpu > 1 ? ncpu : 1));
}

static void print_row(const struct bench_opts *o, const char *dp, int guest, uint32_t size,
                      const struct measure *row, double be_cpu, const struct limits *lim)
{
  const char *pattern = o->stream ? "stream" : "pingpong";
  if (o->json) {
    printf("{\"pattern\":\"%s\",\"datapath\":\"%s\",\"size\":%u,\"iters\":%d,\"latency_us\":%.3f,"
           "\"bandwidth_MBps\":%.1f,\"msgs_per_s\":%.0f,\"limit_latency_us\":%.3f,"
           "\"limit_bandwidth_MBps\":%.1f,\"limit_switch_us\":%.3f,\"guest\":%d,\"guests\":%d,\"to_one\":%d,"
           "\"guest_cpu_us_per_msg\":%.3f,\"backend_cpu_us_per_msg\":%.3f}\n",
           pattern, dp, size, iters_for(o, size), row->lat_us, row->mbps, row->rate, lim->lat_us,
           lim->bw_MBps, lim->switch_us, guest, o->guests, o->to_one, row->cpu_us, be_cpu);
    return;
  }
  printf("%-9s %-10s %5d %9u %12.3f %14.1f %12.0f %9.3f %9.3f | %9.3f %11.1f  (x%.2f lat, x%.2f bw)\n",
         "", "", guest, size, row->lat_us, row->mbps, row->rate, row->cpu_us, be_cpu, lim->lat_us,
         lim->bw_MBps, row->lat_us / lim->lat_us, row->mbps / lim->bw_MBps);
}

/* Fork the guests (s[i]: the parent's line to guest i) and tell each its
 * peer's endpoint.  0 or 1. */
static int guests_start(const struct bench_opts *o, const char *dp, int s[][2], pid_t *pid)
{
  uint32_t eid[MAX_GUESTS];
  setenv("MYRIXEN_DATAPATH", dp, 1);
  fflush(NULL);
  for (int i = 0; i < o->guests; i++) {
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, s[i]))
      return 1;
    pid[i] = fork();
    if (pid[i] == 0)
      guest(i, o, s[i][1], core_of(o, dp, i));
    close(s[i][1]);
  }
  for (int i = 0; i < o->guests; i++)
    if (read(s[i][0], &eid[i], 4) != 4)
      return 1;
  for (int i = 0; i < o->guests; i++) {
    uint32_t peer = o->to_one ? eid[0] : eid[i ^ 1];
    if (write(s[i][0], &peer, 4) != 4)
      return 1;
  }
  return 0;
}

static void print_header(const struct bench_opts *o, const char *dp, const struct limits *lim)
{
  if (o->json)
    return;
  printf("%-9s %-10s %5s %9s %12s %14s %12s %9s %9s | %9s %11s   %d guests%s\n",
         o->stream ? "stream" : "pingpong", dp, "guest", "size", "latency_us", "bandwidth_MBps",
         "msgs_per_s", "cpu_us/m", "be_us/m", "limit_us", "limit_MBps", o->guests,
         o->to_one ? " to one" : "");
  if (strcmp(dp, "bypass") && strcmp(dp, "direct") && sysconf(_SC_NPROCESSORS_ONLN) < 3)
    printf("%-9s (%ld cores for two guests and a backend thread: each hand-over of a core is a"
           " process switch, %.3f us here)\n",
           "", sysconf(_SC_NPROCESSORS_ONLN), lim->switch_us);
}

/* Jain's index over each sender's own rate; the aggregate over the window
 * from the first start to the last end (not a sum of rates, which would
 * flatter senders that did not overlap). */
static void print_summary(const struct bench_opts *o, const char *dp, uint32_t size,
                          const struct measure *rows, double msgs)
{
  double sum = 0, sum2 = 0;
  uint64_t first = UINT64_MAX, last = 0;
  int m = 0;
  for (int i = 0; i < o->guests; i++) {
    if (!measures(o, i))
      continue;
    sum += rows[i].rate;
    sum2 += rows[i].rate * rows[i].rate;
    first = rows[i].t0 < first ? rows[i].t0 : first;
    last = rows[i].t1 > last ? rows[i].t1 : last;
    m++;
  }
  double jain = sum2 > 0 ? sum * sum / (m * sum2) : 0;
  double aggregate = last > first ? msgs / ((double)(last - first) / 1e9) : 0;
  if (m > 1 && o->json)
    printf("{\"pattern\":\"%s\",\"datapath\":\"%s\",\"size\":%u,\"summary\":1,\"guests\":%d,"
           "\"to_one\":%d,\"senders\":%d,\"aggregate_msgs_per_s\":%.0f,\"jain\":%.4f}\n",
           o->stream ? "stream" : "pingpong", dp, size, o->guests, o->to_one, m, aggregate, jain);
  else if (m > 1)
    printf("%-9s %-10s %5s %9u  aggregate %.0f msgs/s over %d senders, Jain fairness %.4f\n", "",
           "", "all", size, aggregate, m, jain);
}

/* One size: release the measuring guests together, collect their rows.
 * 0, or 1 when a guest failed. */
static int run_size(const struct bench_opts *o, const char *dp, uint32_t size, int s[][2],
                    const struct limits *lim)
{
  struct measure rows[MAX_GUESTS];
  double msgs = 0;
  char c;
  for (int i = 0; i < o->guests; i++)
    if (measures(o, i) && read(s[i][0], &c, 1) != 1)
      return 1;
  double be0 = proc_cpu_us(o->backend_pid);
  for (int i = 0; i < o->guests; i++)
    if (measures(o, i) && write(s[i][0], "G", 1) != 1)
      return 1;
  for (int i = 0; i < o->guests; i++) {
    if (!measures(o, i))
      continue;
    if (read(s[i][0], &rows[i], sizeof(rows[i])) != sizeof(rows[i]))
      return 1;
    msgs += iters_for(o, size);
  }
  double be_cpu = msgs > 0 ? (proc_cpu_us(o->backend_pid) - be0) / msgs : 0;
  for (int i = 0; i < o->guests; i++)
    if (measures(o, i))
      print_row(o, dp, i, size, &rows[i], be_cpu, lim);
  print_summary(o, dp, size, rows, msgs);
  fflush(stdout);
  return 0;
}

static int run_datapath(struct bench_opts *o, const char *dp, const struct limits *lim)
{
  int s[MAX_GUESTS][2];
  pid_t pid[MAX_GUESTS];
  if (guests_start(o, dp, s, pid))
    return 1;
  print_header(o, dp, lim);
  int rc = 0;
  for (int k = 0; k < o->nsizes && !rc; k++)
    if ((rc = run_size(o, dp, o->sizes[k], s, lim)))
      fprintf(stderr, "bench: a guest failed\n");
  for (int i = 0; i < o->guests; i++) {
    int st = 0;
    if (rc)
      kill(pid[i], SIGKILL);
    waitpid(pid[i], &st, 0);
    close(s[i][0]);
    rc |= st != 0;
  }
  return rc;
}

/* The backend's pid, for its CPU time: from `myrixen info`'s JSON. */
static pid_t backend_pid_from_info(void)
{
  char *t = backend_text(CTL_INFO);
  pid_t pid = (pid_t)json_get_num(t, "backend_pid");
  free(t);
  return pid;
}

/* What the command line asks beyond struct bench_opts. */
struct bench_args {
  const char *dpath, *sizes, *remote;
  int spawn;
  struct remote_opts ro;
};

static int bench_usage(void)
{
  fprintf(stderr,
          "usage: myrixen bench pingpong|stream [--sizes LIST] [--iters N] [--json]\n"
          "           [--datapath bypass|direct|engine|copy|copy-batch|all] [--cpus A,B]\n"
          "           [--guests N [--to-one]] [--spawn-backend]\n"
          "           [--remote HOST [--remote-eid N] [--udp-port P] [--no-baselines]\n"
          "                          [--baseline-ip ADDR] [--baseline-dev IF]]\n"
          "       myrixen bench serve [--eid N] [--udp-port P] [--frames]   (on HOST)\n"
          "       myrixen bench report [--quick] [--out DIR]\n");
  return 2;
}

/* One option at argv[*i] (its value taken too): 0, or 2 when unknown. */
static int bench_option(int argc, char **argv, int *i, struct bench_opts *o, struct bench_args *a)
{
  const char *opt = argv[*i];
  const char *val = *i + 1 < argc ? argv[*i + 1] : NULL;
  int takes = val != NULL;
  if (!strcmp(opt, "--to-one"))
    return o->to_one = 1, 0;
  if (!strcmp(opt, "--json"))
    return o->json = 1, 0;
  if (!strcmp(opt, "--spawn-backend"))
    return a->spawn = 1, 0;
  if (!strcmp(opt, "--no-baselines"))
    return a->ro.baselines = 0, 0;
  if (!takes)
    return 2;
  ++*i;
  if (!strcmp(opt, "--sizes"))
    a->sizes = val;
  else if (!strcmp(opt, "--iters"))
    o->iters = atoi(val);
  else if (!strcmp(opt, "--datapath"))
    a->dpath = val;
  else if (!strcmp(opt, "--guests"))
    o->guests = atoi(val);
  else if (!strcmp(opt, "--remote"))
    a->remote = val;
  else if (!strcmp(opt, "--remote-eid"))
    a->ro.eid = (uint32_t)atoi(val);
  else if (!strcmp(opt, "--udp-port"))
    a->ro.udp_port = atoi(val);
  else if (!strcmp(opt, "--baseline-ip"))
    a->ro.baseline_ip = val;
  else if (!strcmp(opt, "--baseline-dev"))
    a->ro.baseline_dev = val;
  else if (!strcmp(opt, "--cpus") && sscanf(val, "%d,%d", &o->cpu[0], &o->cpu[1]) == 2)
    o->cpus_given = 1;
  else
    return --*i, 2; /* the message names the option, not its value */
  return 0;
}

/* The sizes and the guests asked for make sense: 0, or 2 with a message. */
static int bench_check(struct bench_opts *o, const char *sizes)
{
  char *list = strdup(sizes);
  for (char *t = strtok(list, ","); t && o->nsizes < 32; t = strtok(NULL, ","))
    o->sizes[o->nsizes++] = (uint32_t)strtoul(t, NULL, 10);
  free(list);
  for (int i = 1; i < o->nsizes; i++) /* guests size their buffer by the last */
    if (o->sizes[i] < o->sizes[i - 1]) {
      fprintf(stderr, "myrixen bench: --sizes must increase\n");
      return 2;
    }
  if (o->guests < 2 || o->guests > MAX_GUESTS || (!o->to_one && o->guests % 2)) {
    fprintf(stderr, "myrixen bench: --guests takes 2..%d (an even number unless --to-one)\n",
            MAX_GUESTS);
    return 2;
  }
  return o->nsizes == 0 || o->iters < 1 ? 2 : 0;
}

int cmd_bench(int argc, char **argv)
{
  struct bench_opts o = {.iters = 2000, .cpu = {0, 1}, .guests = 2};
  struct bench_args a = {.dpath = "bypass", .sizes = "0,8,64,1024,4096,65536,1048576,4194304",
                         .ro = {.eid = 9, .udp_port = 2399, .baselines = 1}};
  if (argc >= 2 && !strcmp(argv[1], "serve"))
    return cmd_bench_serve(argc, argv);
  if (argc >= 2 && !strcmp(argv[1], "mpi"))
    return cmd_bench_mpi(argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "report"))
    return cmd_bench_report(argc, argv);
  if (argc < 2 || (strcmp(argv[1], "pingpong") && strcmp(argv[1], "stream")))
    return bench_usage();
  o.stream = !strcmp(argv[1], "stream");
  for (int i = 2; i < argc; i++)
    if (bench_option(argc, argv, &i, &o, &a)) {
      fprintf(stderr, "myrixen bench: bad option %s (--cpus takes two cores, e.g. 0,1)\n",
              argv[i]);
      return 2;
    }
  if (bench_check(&o, a.sizes))
    return 2;
  if (a.remote)
    return bench_remote(o.stream, a.remote, o.sizes, o.nsizes, o.iters, o.json, &a.ro);
  pid_t be = a.spawn ? backend_spawn_private("bench") : 0;
  if (be < 0) {
    fprintf(stderr, "myrixen bench: cannot start a backend\n");
    return 1;
  }
  o.backend_pid = be > 0 ? be : backend_pid_from_info();
  struct limits lim = {limit_pingpong_us(20000), limit_memcpy_MBps(), limit_switch_us(20000)};
  int rc = 0;
  if (!strcmp(a.dpath, "all")) {
    static const char *const all[] = {"bypass", "engine", "copy", "copy-batch"};
    for (int i = 0; i < 4; i++)
      rc |= run_datapath(&o, all[i], &lim);
  } else {
    rc = run_datapath(&o, a.dpath, &lim);
  }
  backend_stop(be);
  return rc;
}
