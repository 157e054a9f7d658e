/* tool.h - subcommands of the `myrixen` command. */
#ifndef MYRIXEN_TOOL_H
#define MYRIXEN_TOOL_H

int cmd_info(int argc, char **argv);
int cmd_counters(int argc, char **argv);
int cmd_counters_watch(int argc, char **argv); /* watch.c */
int cmd_peers(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_vm(int argc, char **argv);       /* vm.c */
int cmd_run(int argc, char **argv);      /* container.c */
int cmd_mpirun(int argc, char **argv);   /* mpirun.c */

/* json_get, json_get_num: reading the backend's JSON */
#include "../src/common/json.h"

/* A bench cannot go on: what failed and the MX code, then exit 1. */
__attribute__((noreturn)) void tool_fail(const char *what, int mx_code);

#include <stddef.h>
#include <stdint.h>

#include "../src/common/ctl.h"

/* control.c: one request to the backend as a monitor; its JSON text
 * (malloc'd), or exit with a message when the backend does not answer. */
char *backend_text(enum ctl_type type);
/* Send one request; NULL when the backend replied CTL_REPLY, else its
 * error text (malloc'd). */
char *backend_request(struct ctl_msg *req);
int cmd_vif(int argc, char **argv);

/* bench_remote.c: across hosts, against `myrixen bench serve` there;
 * baselines: also raw UDP and TCP between the same hosts, alternating */
struct remote_opts {
  uint32_t eid;                 /* bench serve's endpoint */
  int udp_port;                 /* ... and its reflector's port */
  int baselines;
  const char *baseline_ip;      /* where the baselines reach the host when its backend's
                                 * address is not an IP one (an eth port); or NULL */
  const char *baseline_dev;     /* the interface of raw frames' baseline (bench_frames.h),
                                 * beside an eth port's streams; or NULL */
};
int bench_remote(int stream, const char *host, const uint32_t *sizes, int nsizes, int iters,
                 int json, const struct remote_opts *ro);
int cmd_bench_serve(int argc, char **argv);

/* bench_mpi.c: Open MPI over the provider against vader and tcp;ofi_rxm */
int cmd_bench_mpi(int argc, char **argv);

/* report.c: the whole comparison (datapaths, sizes, guest counts, peers) */
int cmd_bench_report(int argc, char **argv);

/* limits.c: the machine's limits, measured in the same run as a bench */
struct limits {
  double lat_us;    /* cache-line ping-pong, half round trip */
  double bw_MBps;   /* memcpy of 64 MiB */
  double switch_us; /* handing a core from one process to another */
};
double limit_pingpong_us(int iters);
double limit_memcpy_MBps(void);
double limit_switch_us(int iters);

#endif
