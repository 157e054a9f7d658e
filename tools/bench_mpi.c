/*
 * bench_mpi.c - `myrixen bench mpi`: Open MPI over MyriXen's provider,
 * against Open MPI's own shared memory (pml ob1, btl vader) and Open MPI
 * over libfabric's tcp;ofi_rxm, in one run, rounds alternating between
 * them, both ranks bound to cores the same way for all three.  The MPI
 * program is tools/mpi/mpi_bench.c (ping-pong half round trip, osu_bw
 * window bandwidth).
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
  const char *args;             /* what mpirun needs for it */
};

static const struct transport transports[] = {
  {"myrixen", "--mca pml cm --mca mtl ofi --mca mtl_ofi_provider_include myrixen "
              "-x FI_PROVIDER=myrixen -x FI_PROVIDER_PATH -x MYRIXEN_SOCKET"},
  {"vader", "--mca pml ob1 --mca btl self,vader"},
  /* Open MPI's default exclude list names tcp: naming it includes it. */
  {"tcp-rxm", "--mca pml cm --mca mtl ofi --mca mtl_ofi_provider_include 'tcp;ofi_rxm' "
              "-x FI_PROVIDER='tcp;ofi_rxm'"},
};
#define NT (sizeof(transports) / sizeof(transports[0]))

struct result {
  double lat[MAX_ROUNDS], bw[MAX_ROUNDS];
};

static struct result res[NT][MAX_SIZES];
static unsigned sizes[MAX_SIZES];
static int nsizes;

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

/* One mpirun of mpi_bench over transport t; fills round r.  0 or -1. */
static int run(const char *prog, const struct transport *t, const char *sizelist, int iters,
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
    if (sscanf(line, "%u %lf %lf", &size, &lat, &bw) != 3) {
      fprintf(stderr, "  %s: %s", t->name, line);
      continue;
    }
    for (int k = 0; k < nsizes; k++)
      if (sizes[k] == size) {
        res[t - transports][k].lat[r] = lat;
        res[t - transports][k].bw[r] = bw;
        got++;
      }
  }
  int st = pclose(f);
  return got == nsizes && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int size_index(unsigned s)
{
  for (int k = 0; k < nsizes; k++)
    if (sizes[k] == s)
      return k;
  return -1;
}

int cmd_bench_mpi(int argc, char **argv)
{
  const char *sizelist = "8,64,1024,4096,16384,32768,65536,1048576";
  int rounds = 3, iters = 10000, json = 0, spawn = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--sizes") && i + 1 < argc)
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
                      "                         [--spawn-backend]\n");
      return 2;
    }
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
      double lat = median(res[t][k].lat, rounds), bw = median(res[t][k].bw, rounds);
      if (json)
        printf("{\"pattern\":\"mpi\",\"datapath\":\"%s\",\"size\":%u,\"guests\":2,"
               "\"latency_us\":%.3f,\"bandwidth_MBps\":%.1f,\"rounds\":%d}\n",
               transports[t].name, sizes[k], lat, bw, rounds);
    }
  if (json)
    return 0;
  printf("Open MPI 2 ranks on one host, median of %d alternating rounds\n", rounds);
  printf("%9s", "bytes");
  for (size_t t = 0; t < NT; t++)
    printf(" %10s_us %10s_MBps", transports[t].name, transports[t].name);
  printf("\n");
  for (int k = 0; k < nsizes; k++) {
    printf("%9u", sizes[k]);
    for (size_t t = 0; t < NT; t++)
      printf(" %13.3f %15.1f", median(res[t][k].lat, rounds), median(res[t][k].bw, rounds));
    printf("\n");
  }
  int k8 = size_index(8), k1m = size_index(1048576);
  if (k8 >= 0) {
    printf("8 B latency per round (us): ");
    for (int r = 0; r < rounds; r++)
      printf("%s%.3f/%.3f/%.3f", r ? ", " : "", res[0][k8].lat[r], res[1][k8].lat[r],
             res[2][k8].lat[r]);
    printf("  (myrixen/vader/tcp-rxm)\n");
    double m = median(res[0][k8].lat, rounds), v = median(res[1][k8].lat, rounds),
           tc = median(res[2][k8].lat, rounds);
    printf("8 B: myrixen / vader = %.2f (target <= 1.5); tcp-rxm / myrixen = %.1f (target >= 5)\n",
           m / v, tc / m);
  }
  if (k1m >= 0) {
    printf("1 MiB bandwidth per round (MB/s): ");
    for (int r = 0; r < rounds; r++)
      printf("%s%.0f/%.0f/%.0f", r ? ", " : "", res[0][k1m].bw[r], res[1][k1m].bw[r],
             res[2][k1m].bw[r]);
    printf("  (myrixen/vader/tcp-rxm)\n");
    printf("1 MiB: myrixen / vader = %.2f (target >= 1.0)\n",
           median(res[0][k1m].bw, rounds) / median(res[1][k1m].bw, rounds));
  }
  return 0;
}
