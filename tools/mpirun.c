/*
 * mpirun.c - `myrixen mpirun ARGS...`: Open MPI's mpirun over the myrixen
 * libfabric provider.  It adds what Open MPI needs to pick the provider
 * (pml cm, mtl ofi, the provider by name) and what the ranks need to find
 * it and the backend (FI_PROVIDER_PATH, FI_PROVIDER, MYRIXEN_SOCKET, and
 * MYRIXEN_DATAPATH if set), and with --spawn-backend runs the job against
 * a private backend, as `myrixen bench --spawn-backend` does.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"
#include "tool.h"

static const char *const mca[] = {
  "--mca", "pml", "cm",
  "--mca", "mtl", "ofi",
  "--mca", "mtl_ofi_provider_include", "myrixen",
  "-x", "FI_PROVIDER",
  "-x", "FI_PROVIDER_PATH",
  "-x", "MYRIXEN_SOCKET",
};
#define NMCA (sizeof(mca) / sizeof(mca[0]))

static void usage(FILE *f)
{
  fprintf(f, "usage: myrixen mpirun [--spawn-backend] [--dry-run] MPIRUN-ARGS...\n"
             "  runs Open MPI's mpirun with the myrixen libfabric provider:\n"
             "  --mca pml cm --mca mtl ofi --mca mtl_ofi_provider_include myrixen,\n"
             "  FI_PROVIDER=myrixen, FI_PROVIDER_PATH (the provider beside this binary,\n"
             "  ../lib/libfabric, unless set) and MYRIXEN_SOCKET passed to every rank.\n"
             "  --spawn-backend  run the job against a private backend of its own\n"
             "  --dry-run        print the mpirun command line and exit\n");
}

int cmd_mpirun(int argc, char **argv)
{
  int spawn = 0, dry = 0, first = 1;
  for (; first < argc; first++) {
    if (!strcmp(argv[first], "--spawn-backend"))
      spawn = 1;
    else if (!strcmp(argv[first], "--dry-run"))
      dry = 1;
    else if (!strcmp(argv[first], "-h") || !strcmp(argv[first], "--help")) {
      usage(stdout);
      return 0;
    } else
      break;
  }
  if (first == argc) {
    usage(stderr);
    return 2;
  }
  if (provider_path_setenv() < 0) {
    fprintf(stderr, "myrixen mpirun: cannot find the provider; set FI_PROVIDER_PATH\n");
    return 1;
  }
  setenv("FI_PROVIDER", "myrixen", 1);
  if (!getenv("MYRIXEN_SOCKET"))
    setenv("MYRIXEN_SOCKET", "/run/myrixen/backend.sock", 1);
  int extra = getenv("MYRIXEN_DATAPATH") ? 2 : 0;
  const char **av = calloc((size_t)(argc - first) + NMCA + (size_t)extra + 2, sizeof(*av));
  if (!av)
    return 1;
  int n = 0;
  av[n++] = "mpirun";
  for (size_t i = 0; i < NMCA; i++)
    av[n++] = mca[i];
  if (extra) {
    av[n++] = "-x";
    av[n++] = "MYRIXEN_DATAPATH";
  }
  for (int i = first; i < argc; i++)
    av[n++] = argv[i];
  av[n] = NULL;
  if (dry) {
    printf("FI_PROVIDER_PATH=%s FI_PROVIDER=myrixen MYRIXEN_SOCKET=%s", getenv("FI_PROVIDER_PATH"),
           spawn ? "(private)" : getenv("MYRIXEN_SOCKET"));
    for (int i = 0; i < n; i++)
      printf(" %s", av[i]);
    printf("\n");
    free(av);
    return 0;
  }
  pid_t backend = -1;
  if (spawn && (backend = backend_spawn_private("mpirun")) < 0) {
    fprintf(stderr, "myrixen mpirun: the private backend did not start\n");
    free(av);
    return 1;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    execvp("mpirun", (char **)av);
    fprintf(stderr, "myrixen mpirun: mpirun: %s (Debian: apt-get install openmpi-bin)\n",
            strerror(errno));
    _exit(127);
  }
  free(av);
  int status = 0, rc = 1;
  /* mpirun forwards Ctrl-C to its ranks itself; we only wait for it. */
  signal(SIGINT, SIG_IGN);
  if (pid > 0 && waitpid(pid, &status, 0) == pid)
    rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (backend > 0)
    backend_stop(backend);
  return rc;
}
