/* myrixen.c - the `myrixen` command: info, counters, peers, bench. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../include/myriexpress.h"
#include "tool.h"

void tool_fail(const char *what, int mx_code)
{
  fprintf(stderr, "myrixen bench: %s: %s\n", what, mx_strerror((mx_return_t)mx_code));
  fflush(NULL);
  _exit(1); /* in a forked guest too: the parent's exit handlers are not ours to run */
}

static void usage(FILE *f)
{
  fprintf(f, "usage: myrixen <command> [options]\n"
             "  info [--json]        backend version, ports, guests, endpoints\n"
             "  counters [--json]    per-VIF and engine counters, drops by reason\n"
             "  counters --watch [--interval S] [--count N]\n"
             "                       live rates per VIF, per peer and in total\n"
             "  peers [--json]       ports, other hosts' backends: state, rtt, retransmissions\n"
             "  vif set EID [--rate MBPS] [--msg-rate N]   limit what the engine takes from a VIF\n"
             "  bench pingpong|stream [--sizes LIST] [--iters N] [--datapath D|all]\n"
             "                       [--cpus A,B] [--json] [--spawn-backend]\n"
             "  bench mpi [--rounds N] [--sizes LIST]   Open MPI over MyriXen, vader, tcp\n"
             "  vm image [--out DIR] build a guest image (Debian kernel, busybox, MX programs)\n"
             "  vm run --name NAME [--mem 256M] [--kvm] -- CMD ARGS...\n"
             "                       boot a QEMU VM as a guest, run CMD in it, return its status\n"
             "  run --container [--name NAME] [--bind DIR]... -- CMD ARGS...\n"
             "                       run CMD as a guest in its own user, mount, PID, network\n"
             "                       and UTS namespaces, with only the backend's socket\n"
             "  mpirun [--spawn-backend] MPIRUN-ARGS...\n"
             "                       Open MPI over the myrixen libfabric provider\n"
             "The backend is found at $MYRIXEN_SOCKET or /run/myrixen/backend.sock.\n");
}

int main(int argc, char **argv)
{
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!strcmp(argv[1], "info"))
    return cmd_info(argc - 1, argv + 1);
  if (!strcmp(argv[1], "counters"))
    return cmd_counters(argc - 1, argv + 1);
  if (!strcmp(argv[1], "vif"))
    return cmd_vif(argc - 1, argv + 1);
  if (!strcmp(argv[1], "peers"))
    return cmd_peers(argc - 1, argv + 1);
  if (!strcmp(argv[1], "run"))
    return cmd_run(argc - 1, argv + 1);
  if (!strcmp(argv[1], "mpirun"))
    return cmd_mpirun(argc - 1, argv + 1);
  if (!strcmp(argv[1], "vm"))
    return cmd_vm(argc - 1, argv + 1);
  if (!strcmp(argv[1], "bench"))
    return cmd_bench(argc - 1, argv + 1);
  fprintf(stderr, "myrixen: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
