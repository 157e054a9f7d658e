/*
 * bench_mpi.c - `myrixen bench mpi`: Open MPI over MyriXen's provider,
 * against Open MPI's own shared memory (pml ob1, btl vader) and Open MPI
 * over libfabric's tcp;ofi_rxm, in one run, rounds alternating between
 * them, both ranks bound to cores the same way for all three.  The MPI
 * program is tools/mpi/mpi_bench.c (ping-pong half round trip, osu_bw
 * window bandwidth).  The row "mx" is MyriXen without MPI: `myrixen bench
 * pingpong|stream` (whose stream has osu_bw's pattern) between two guests
 * on the same two cores, for the medium sizes' target against vader.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"
#include "tool.h"

#define MAX_SIZES 16
#define MAX_ROUNDS 20

struct transport {
  const char *name;             /* as in rows and tables */
  const char *args;             /* what mpirun needs for it; NULL: native MX */
};

static const struct transport transports[] = {
  {"myrixen", "--mca pml cm --mca mtl ofi --mca mtl_ofi_provider_include myrixen "
              "-x FI_PROVIDER=myrixen -x FI_PROVIDER_PATH -x MYRIXEN_SOCKET"},
  {"vader", "--mca pml ob1 --mca btl self,vader"},
  /* Open MPI's default exclude list names tcp: naming it includes it. */
  {"tcp-rxm", "--mca pml cm --mca mtl ofi --mca mtl_ofi_provider_include 'tcp;ofi_rxm' "
              "-x FI_PROVIDER='tcp;ofi_rxm'"},
  {"mx", NULL},
};
#define NT (sizeof(transports) / sizeof(transports[0]))
enum { T_MYRIXEN, T_VADER, T_TCP, T_MX }; /* their places in the table */

struct result {
  double lat[MAX_ROUNDS], bw[MAX_ROUNDS];
};

static struct result res[NT][MAX_SIZES];
static unsigned sizes[MAX_SIZES];
static int nsizes;
static int chosen[NT];           /* --transports */

static int cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
  double t[MAX_ROUNDS];
  memcpy(t, v, sizeof(double) * (size_t)n);
  qsort(t, (size_t)n, sizeof(double), cmp);
  return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static int size_index(unsigned s)
{
  for (int k = 0; k < nsizes; k++)
    if (sizes[k] == s)
      return k;
  return -1;
}

/* One mpirun of mpi_bench over transport t; fills round r.  0 or -1. */
static int run_mpi(const char *prog, const struct transport *t, const char *sizelist, int iters,
                   int r)
{
  char cmd[9000];
  snprintf(cmd, sizeof(cmd),
           "timeout 600 mpirun %s -np 2 --bind-to core --map-by core %s %s -s %s -i %d 2>&1",
           getuid() == 0 ? "--allow-run-as-root" : "", t->args, prog, sizelist, iters);
  FILE *f = popen(cmd, "r");
  if (!f)
    return -1;
  char line[512];
  int got = 0;
  while (fgets(line, sizeof(line), f)) {
    unsigned size;
    double lat, bw;
    int k;
    if (sscanf(line, "%u %lf %lf", &size, &lat, &bw) != 3) {
      fprintf(stderr, "  %s: %s", t->name, line);
      continue;
    }
    if ((k = size_index(size)) >= 0) {
      res[t - transports][k].lat[r] = lat;
      res[t - transports][k].bw[r] = bw;
      got++;
    }
  }
  int st = pclose(f);
  return got == nsizes && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* The same sizes between two MX guests on cores 0 and 1 (where mpirun
 * binds the ranks): latency from a ping-pong, bandwidth from a stream, as
 * mpi_bench takes them.  0 or -1. */
static int run_native(const struct transport *t, const char *sizelist, int iters, int r)
{
  char self[4096], cmd[9000];
  if (beside_self("myrixen", self, sizeof(self)) < 0)
    return -1;
  int got = 0, failed = 0;
  for (int stream = 0; stream < 2; stream++) {
    /* mpi_bench's -i counts osu_bw windows of 64 for bandwidth */
    snprintf(cmd, sizeof(cmd),
             "timeout 600 '%s' bench %s --json --datapath bypass --cpus 0,1 --sizes %s --iters %d",
             self, stream ? "stream" : "pingpong", sizelist, stream ? iters * 64 : iters);
    FILE *f = popen(cmd, "r");
    if (!f)
      return -1;
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
      int k = size_index((unsigned)json_get_num(line, "size"));
      if (k < 0 || !strstr(line, "\"latency_us\""))
        continue;
      if (stream)
        res[t - transports][k].bw[r] = json_get_num(line, "bandwidth_MBps");
      else
        res[t - transports][k].lat[r] = json_get_num(line, "latency_us");
      got++;
    }
    int st = pclose(f);
    failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
  }
  return got == 2 * nsizes && !failed ? 0 : -1;
}

static int run(const char *prog, const struct transport *t, const char *sizelist, int iters,
               int r)
{
  return t->args ? run_mpi(prog, t, sizelist, iters, r) : run_native(t, sizelist, iters, r);
}

/* --transports: names from the table, comma-separated.  0 or -1. */
static int choose(const char *list)
{
  char buf[256];
  snprintf(buf, sizeof(buf), "%s", list);
  for (char *save = NULL, *n = strtok_r(buf, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
    size_t t = 0;
    while (t < NT && strcmp(transports[t].name, n))
      t++;
    if (t == NT)
      return -1;
    chosen[t] = 1;
  }
  return 0;
}

/* The medium sizes' target (4 KiB to 32 KiB): transport t's osu_bw
 * bandwidth >= vader's in every round, and its spread across rounds (max
 * over min) <= 1.5. */
static void medium_summary(size_t t, int rounds)
{
  int any = 0, met = 1;
  for (int k = 0; k < nsizes; k++) {
    if (sizes[k] < 4096 || sizes[k] > 32768)
      continue;
    if (!any++)
      printf("%s / vader bandwidth per round, 4-32 KiB (target >= 1.0 in every round, "
             "spread <= 1.5):\n", transports[t].name);
    double lo = 1e30, hi = 0, worst = 1e30;
    printf("%9u ", sizes[k]);
    for (int r = 0; r < rounds; r++) {
      double b = res[t][k].bw[r], q = b / res[T_VADER][k].bw[r];
      lo = b < lo ? b : lo;
      hi = b > hi ? b : hi;
      worst = q < worst ? q : worst;
      printf(" %.2f", q);
    }
    int ok = worst >= 1.0 && hi / lo <= 1.5;
    met &= ok;
    printf("   worst %.2f, spread %.2f%s\n", worst, hi / lo, ok ? "" : "  (not met)");
  }
  if (any)
    printf("%s medium sizes: target %s over %d rounds\n", transports[t].name,
           met ? "met" : "NOT met", rounds);
}

int cmd_bench_mpi(int argc, char **argv)
{
  const char *sizelist = "8,64,1024,4096,16384,32768,65536,1048576";
  const char *chosen_list = "myrixen,vader,tcp-rxm,mx";
  int rounds = 3, iters = 10000, json = 0, spawn = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--transports") && i + 1 < argc)
      chosen_list = argv[++i];
    else if (!strcmp(argv[i], "--sizes") && i + 1 < argc)
      sizelist = argv[++i];
    else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
      rounds = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
      iters = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--json"))
      json = 1;
    else if (!strcmp(argv[i], "--spawn-backend"))
      spawn = 1;
    else {
      fprintf(stderr, "usage: myrixen bench mpi [--sizes LIST] [--rounds N] [--iters N] [--json]\n"
                      "                         [--transports myrixen,vader,tcp-rxm,mx]\n"
                      "                         [--spawn-backend]\n");
      return 2;
    }
  }
  if (choose(chosen_list) < 0) {
    fprintf(stderr, "myrixen bench mpi: --transports: a list of myrixen, vader, tcp-rxm, mx\n");
    return 2;
  }
  if (rounds < 1 || rounds > MAX_ROUNDS || iters < 1) {
    fprintf(stderr, "myrixen bench mpi: rounds 1..%d, iters >= 1\n", MAX_ROUNDS);
    return 2;
  }
  char list[256];
  snprintf(list, sizeof(list), "%s", sizelist);
  for (char *save = NULL, *t = strtok_r(list, ",", &save); t && nsizes < MAX_SIZES;
       t = strtok_r(NULL, ",", &save))
    sizes[nsizes++] = (unsigned)strtoul(t, NULL, 10);
  char prog[4096];
  if (mpi_bench_path(prog, sizeof(prog)) < 0) {
    fprintf(stderr, "myrixen bench mpi: no mpi_bench beside this binary (make mpiprogs)\n");
    return 1;
  }
  if (system("command -v mpirun >/dev/null 2>&1") != 0) {
    fprintf(stderr, "myrixen bench mpi: no mpirun (Debian: apt-get install openmpi-bin)\n");
    return 1;
  }
  provider_path_setenv(); /* (else libfabric's own default, or the caller's) */
  pid_t backend = spawn ? backend_spawn_private("bench-mpi") : -1;
  if (spawn && backend < 0) {
    fprintf(stderr, "myrixen bench mpi: the private backend did not start\n");
    return 1;
  }
  int failed = 0;
  for (int r = 0; r < rounds; r++)
    for (size_t t = 0; t < NT; t++) {
      /* alternate the order too: no transport always runs first */
      const struct transport *tr = &transports[(t + (size_t)r) % NT];
      if (!chosen[tr - transports])
        continue;
      if (!json)
        fprintf(stderr, "round %d/%d: %s\n", r + 1, rounds, tr->name);
      if (run(prog, tr, sizelist, iters, r) < 0) {
        fprintf(stderr, "myrixen bench mpi: %s failed in round %d\n", tr->name, r + 1);
        failed = 1;
      }
    }
  if (backend > 0)
    backend_stop(backend);
  if (failed)
    return 1;
  for (int k = 0; k < nsizes; k++)
    for (size_t t = 0; t < NT; t++) {
      if (!chosen[t])
        continue;
      double lat = median(res[t][k].lat, rounds), bw = median(res[t][k].bw, rounds);
      if (json)
        printf("{\"pattern\":\"mpi\",\"datapath\":\"%s\",\"size\":%u,\"guests\":2,"
               "\"latency_us\":%.3f,\"bandwidth_MBps\":%.1f,\"rounds\":%d}\n",
               transports[t].name, sizes[k], lat, bw, rounds);
    }
  if (json)
    return 0;
  printf("Open MPI 2 ranks on one host (mx: MX guests, no MPI), median of %d alternating "
         "rounds\n", rounds);
  printf("%9s", "bytes");
  for (size_t t = 0; t < NT; t++)
    if (chosen[t])
      printf(" %10s_us %10s_MBps", transports[t].name, transports[t].name);
  printf("\n");
  for (int k = 0; k < nsizes; k++) {
    printf("%9u", sizes[k]);
    for (size_t t = 0; t < NT; t++)
      if (chosen[t])
        printf(" %13.3f %15.1f", median(res[t][k].lat, rounds), median(res[t][k].bw, rounds));
    printf("\n");
  }
  int k8 = size_index(8), k1m = size_index(1048576);
  if (k8 >= 0 && chosen[T_MYRIXEN] && chosen[T_VADER] && chosen[T_TCP]) {
    printf("8 B latency per round (us): ");
    for (int r = 0; r < rounds; r++)
      printf("%s%.3f/%.3f/%.3f", r ? ", " : "", res[T_MYRIXEN][k8].lat[r],
             res[T_VADER][k8].lat[r], res[T_TCP][k8].lat[r]);
    printf("  (myrixen/vader/tcp-rxm)\n");
    double m = median(res[T_MYRIXEN][k8].lat, rounds), v = median(res[T_VADER][k8].lat, rounds),
           tc = median(res[T_TCP][k8].lat, rounds);
    printf("8 B: myrixen / vader = %.2f (target <= 1.5); tcp-rxm / myrixen = %.1f (target >= 5)\n",
           m / v, tc / m);
  }
  if (k1m >= 0 && chosen[T_MYRIXEN] && chosen[T_VADER]) {
    printf("1 MiB bandwidth per round (MB/s): ");
    for (int r = 0; r < rounds; r++)
      printf("%s%.0f/%.0f", r ? ", " : "", res[T_MYRIXEN][k1m].bw[r], res[T_VADER][k1m].bw[r]);
    printf("  (myrixen/vader)\n");
    printf("1 MiB: myrixen / vader = %.2f (target >= 1.0)\n",
           median(res[T_MYRIXEN][k1m].bw, rounds) / median(res[T_VADER][k1m].bw, rounds));
  }
  if (chosen[T_VADER])
    for (size_t t = 0; t < NT; t++)
      if (chosen[t] && t != T_VADER && t != T_TCP)
        medium_summary(t, rounds);
  return 0;
}
