/*
 * bench.c - `myrixen bench pingpong|stream`: two guest processes on this
 * host, pinned to different cores, exchanging messages through a backend;
 * each row is printed beside the machine's limits of the same run.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../include/myriexpress.h"
#include "../src/common/clock.h"
#include "../src/common/cpu.h"
#include "spawn.h"
#include "tool.h"

#define KEY 0xbe4c
#define WINDOW 8

struct bench_opts {
  int stream;
  int iters;
  int json;
  int cpu[2];                   /* cores of guest 0 and guest 1 */
  int cpus_given;               /* --cpus: else each datapath's own placement */
  uint32_t sizes[32];
  int nsizes;
};


static int iters_for(const struct bench_opts *o, uint32_t size)
{
  uint64_t cap = size ? (512ull << 20) / size : (uint64_t)o->iters;
  int n = (uint64_t)o->iters < cap ? o->iters : (int)cap;
  return n < 20 ? 20 : n;
}

static void die(const char *what, mx_return_t r)
{
  fprintf(stderr, "bench guest: %s: %s\n", what, mx_strerror(r));
  _exit(1);
}

/* One guest of the pair; guest 0 measures and writes rows to fd. */
static void guest(int idx, const struct bench_opts *o, int fd)
{
  mx_endpoint_t ep;
  mx_endpoint_addr_t peer;
  uint64_t nic;
  mx_return_t r;
  cpu_pin(o->cpu[idx]);
  if ((r = mx_init()) || (r = mx_open_endpoint(0, MX_ANY_ENDPOINT, KEY, NULL, 0, &ep)))
    die("open", r);
  mx_endpoint_addr_t me;
  uint32_t my_eid;
  mx_get_endpoint_addr(ep, &me);
  mx_decompose_endpoint_addr(me, &nic, &my_eid);
  /* Exchange endpoint ids through the pipe pair set up by the parent. */
  uint32_t peer_eid;
  if (write(fd, &my_eid, 4) != 4 || read(fd, &peer_eid, 4) != 4)
    _exit(1);
  if ((r = mx_connect(ep, nic, peer_eid, KEY, 10000, &peer)))
    die("connect", r);
  char *buf = aligned_alloc(4096, (size_t)o->sizes[o->nsizes - 1] + 4096);
  memset(buf, idx, (size_t)o->sizes[o->nsizes - 1] + 4096);
  for (int k = 0; k < o->nsizes; k++) {
    uint32_t size = o->sizes[k];
    int n = iters_for(o, size), warm = n / 10 + 1;
    mx_segment_t seg = {buf, size};
    mx_request_t rq[WINDOW], sr;
    mx_status_t st;
    uint32_t res;
    uint64_t t0 = 0;
    if (!o->stream) {
      for (int i = 0; i < n + warm; i++) {
        if (i == warm)
          t0 = clock_now_ns();
        if (idx == 0) {
          mx_isend(ep, &seg, 1, peer, 1, NULL, &sr);
          mx_irecv(ep, &seg, 1, 1, ~0ull, NULL, &rq[0]);
          mx_wait(ep, &sr, MX_INFINITE, &st, &res);
          mx_wait(ep, &rq[0], MX_INFINITE, &st, &res);
        } else {
          mx_irecv(ep, &seg, 1, 1, ~0ull, NULL, &rq[0]);
          mx_wait(ep, &rq[0], MX_INFINITE, &st, &res);
          mx_isend(ep, &seg, 1, peer, 1, NULL, &sr);
          mx_wait(ep, &sr, MX_INFINITE, &st, &res);
        }
      }
    } else {
      /* guest 0 streams n messages, WINDOW in flight; guest 1 acks the end */
      for (int i = 0; i < n + warm; i++) {
        if (i == warm)
          t0 = clock_now_ns();
        int w = i % WINDOW;
        if (i >= WINDOW)
          mx_wait(ep, &rq[w], MX_INFINITE, &st, &res);
        if (idx == 0)
          mx_isend(ep, &seg, 1, peer, 2, NULL, &rq[w]);
        else
          mx_irecv(ep, &seg, 1, 2, ~0ull, NULL, &rq[w]);
      }
      for (int i = 0; i < WINDOW && i < n + warm; i++)
        mx_wait(ep, &rq[(n + warm + i) % WINDOW], MX_INFINITE, &st, &res);
      mx_segment_t z = {buf, 0};
      if (idx == 1) {
        mx_isend(ep, &z, 1, peer, 3, NULL, &sr);
      } else {
        mx_irecv(ep, &z, 1, 3, ~0ull, NULL, &sr);
      }
      mx_wait(ep, &sr, MX_INFINITE, &st, &res);
    }
    double secs = (double)(clock_now_ns() - t0) / 1e9;
    if (idx == 0) {
      double lat = o->stream ? secs / n * 1e6 : secs / n / 2 * 1e6;
      double row[3] = {lat, (double)size * n / secs / 1e6 * (o->stream ? 1 : 2), n / secs};
      if (write(fd, row, sizeof(row)) != sizeof(row))
        _exit(1);
    }
  }
  mx_finalize();
  _exit(0);
}

/* A private backend next to this binary, for --spawn-backend. */
static pid_t spawn_backend(void)
{
  static char sock[96], exe[4096];
  snprintf(sock, sizeof(sock), "/tmp/myrixen-bench-%d.sock", (int)getpid());
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 16);
  if (n < 0)
    return -1;
  exe[n] = 0;
  strcpy(strrchr(exe, '/') + 1, "myrixend");
  setenv("MYRIXEN_SOCKET", sock, 1);
  return backend_spawn(exe, sock);
}

/* Where the two guests run, unless --cpus says.  A direct pair needs a
 * core each; through the engine, three parties take turns and the engine
 * needs a core of its own, so on a host this small the guests share core 0
 * and the engine polls on another (it migrates there by itself). */
static void place_guests(struct bench_opts *o, const char *dp)
{
  if (o->cpus_given)
    return;
  o->cpu[0] = 0;
  o->cpu[1] = !strcmp(dp, "engine") ? 0 : 1;
}

static int run_datapath(struct bench_opts *o, const char *dp, double lim_lat, double lim_bw)
{
  place_guests(o, dp);
  int s0[2], s1[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, s0) || socketpair(AF_UNIX, SOCK_STREAM, 0, s1))
    return 1;
  setenv("MYRIXEN_DATAPATH", dp, 1);
  fflush(NULL);
  pid_t g0 = fork();
  if (g0 == 0)
    guest(0, o, s0[1]);
  pid_t g1 = fork();
  if (g1 == 0)
    guest(1, o, s1[1]);
  uint32_t e0, e1;
  if (read(s0[0], &e0, 4) != 4 || read(s1[0], &e1, 4) != 4 || write(s0[0], &e1, 4) != 4 ||
      write(s1[0], &e0, 4) != 4)
    return 1;
  const char *pattern = o->stream ? "stream" : "pingpong";
  if (!o->json)
    printf("%-9s %-8s %10s %12s %14s %12s | %10s %12s   guests on cores %d,%d\n", pattern, dp,
           "size", "latency_us", "bandwidth_MBps", "msgs_per_s", "limit_us", "limit_MBps",
           o->cpu[0], o->cpu[1]);
  for (int k = 0; k < o->nsizes; k++) {
    double row[3];
    if (read(s0[0], row, sizeof(row)) != sizeof(row)) {
      fprintf(stderr, "bench: guest failed\n");
      kill(g1, SIGKILL);
      return 1;
    }
    if (o->json)
      printf("{\"pattern\":\"%s\",\"datapath\":\"%s\",\"size\":%u,\"iters\":%d,\"latency_us\":%.3f,"
             "\"bandwidth_MBps\":%.1f,\"msgs_per_s\":%.0f,\"limit_latency_us\":%.3f,"
             "\"limit_bandwidth_MBps\":%.1f,\"cpus\":[%d,%d]}\n",
             pattern, dp, o->sizes[k], iters_for(o, o->sizes[k]), row[0], row[1], row[2], lim_lat,
             lim_bw, o->cpu[0], o->cpu[1]);
    else
      printf("%-9s %-8s %10u %12.3f %14.1f %12.0f | %10.3f %12.1f  (x%.2f lat, x%.2f bw)\n", "",
             "", o->sizes[k], row[0], row[1], row[2], lim_lat, lim_bw, row[0] / lim_lat,
             row[1] / lim_bw);
    fflush(stdout);
  }
  int a = 0, b = 0;
  waitpid(g0, &a, 0);
  waitpid(g1, &b, 0);
  return a || b;
}

int cmd_bench(int argc, char **argv)
{
  struct bench_opts o = {.iters = 2000, .cpu = {0, 1}};
  const char *dpath = "bypass", *sizes = "0,8,64,1024,4096,65536,1048576,4194304";
  int spawn = 0;
  const char *remote = NULL;
  uint32_t remote_eid = 9;
  int udp_port = 2399;
  if (argc >= 2 && !strcmp(argv[1], "serve"))
    return cmd_bench_serve(argc, argv);
  if (argc < 2 || (strcmp(argv[1], "pingpong") && strcmp(argv[1], "stream"))) {
    fprintf(stderr, "usage: myrixen bench pingpong|stream [--sizes LIST] [--iters N] "
                    "[--datapath bypass|direct|engine|all] [--cpus A,B] [--json] [--spawn-backend]\n"
                    "                             [--remote HOST [--remote-eid N] [--udp-port P]]\n"
                    "       myrixen bench serve [--eid N] [--udp-port P]   (on HOST)\n");
    return 2;
  }
  o.stream = !strcmp(argv[1], "stream");
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--sizes") && i + 1 < argc)
      sizes = argv[++i];
    else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
      o.iters = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--datapath") && i + 1 < argc)
      dpath = argv[++i];
    else if (!strcmp(argv[i], "--cpus") && i + 1 < argc) {
      o.cpus_given = 1;
      if (sscanf(argv[++i], "%d,%d", &o.cpu[0], &o.cpu[1]) != 2) {
        fprintf(stderr, "myrixen bench: --cpus takes two cores, e.g. 0,1\n");
        return 2;
      }
    } else if (!strcmp(argv[i], "--json"))
      o.json = 1;
    else if (!strcmp(argv[i], "--spawn-backend"))
      spawn = 1;
    else if (!strcmp(argv[i], "--remote") && i + 1 < argc)
      remote = argv[++i];
    else if (!strcmp(argv[i], "--remote-eid") && i + 1 < argc)
      remote_eid = (uint32_t)atoi(argv[++i]);
    else if (!strcmp(argv[i], "--udp-port") && i + 1 < argc)
      udp_port = atoi(argv[++i]);
    else {
      fprintf(stderr, "myrixen bench: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  char *list = strdup(sizes);
  for (char *t = strtok(list, ","); t && o.nsizes < 32; t = strtok(NULL, ","))
    o.sizes[o.nsizes++] = (uint32_t)strtoul(t, NULL, 10);
  free(list);
  for (int i = 1; i < o.nsizes; i++) /* guests size their buffer by the last */
    if (o.sizes[i] < o.sizes[i - 1]) {
      fprintf(stderr, "myrixen bench: --sizes must increase\n");
      return 2;
    }
  if (o.nsizes == 0 || o.iters < 1)
    return 2;
  if (remote)
    return bench_remote(o.stream, remote, o.sizes, o.nsizes, o.iters, o.json, remote_eid,
                        udp_port);
  pid_t be = spawn ? spawn_backend() : 0;
  if (be < 0) {
    fprintf(stderr, "myrixen bench: cannot start a backend\n");
    return 1;
  }
  double lim_lat = limit_pingpong_us(20000), lim_bw = limit_memcpy_MBps();
  int rc = 0;
  if (!strcmp(dpath, "all")) {
    rc |= run_datapath(&o, "bypass", lim_lat, lim_bw);
    rc |= run_datapath(&o, "engine", lim_lat, lim_bw);
  } else {
    rc = run_datapath(&o, dpath, lim_lat, lim_bw);
  }
  if (be > 0) {
    kill(be, SIGTERM);
    waitpid(be, NULL, 0);
  }
  return rc;
}
