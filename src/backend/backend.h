/*
 * backend.h - myrixend, the control plane: admission, regions, the
 * control socket and mailbox, endpoints as the guests see them, direct
 * channels, reports.  The data path is the engine's (engine/engine.h), a
 * library the backend drives through its calls and its completion queue.
 *
 * Threads: one, the control loop (server.c).  The engine has its own
 * threads and its own lock; the backend's tables are the control loop's
 * alone.
 */
#ifndef MYRIXEN_BACKEND_H
#define MYRIXEN_BACKEND_H

#include <stdint.h>
#include <sys/types.h>

#include "../common/ctl.h"
#include "../common/region.h"
#include "../engine/engine.h"
#include "../../include/myrixen.h"

#define BE_MAX_GUESTS 128
#define BE_LANES_RETIRED_MAX 256      /* closed endpoints' lane sockets kept at once */
#define BE_LANE_RETIRE_MIN_NS 30000000000ull /* ... each for this long at least */
#define BE_CONNS_PER_PROCESS 4        /* control connections one process may hold */
#define BE_HELLO_TIMEOUT_NS 5000000000ull /* a connection says hello within this, or goes */
#define MYRIXEN_VERSION MYRIXEN_VERSION_STRING /* one version: the public header's */

struct be_guest {
  int in_use;
  uint32_t id;                  /* never reused while the backend runs */
  int sock;
  pid_t pid;
  int pidfd;                    /* the process that connected (identity.c) */
  uid_t uid;                    /* ... and its ids then */
  gid_t gid;
  int mem_fd;                   /* its /proc/PID/mem from admission: the engine's only way
                                 * into its memory */
  int memfd;
  void *region;                 /* our mapping of the guest's region */
  uint32_t datapath;            /* what the guest asked for */
  uint32_t role;
  char name[32];
  int mbox_kick;                /* eventfd: the guest posted in its mailbox (we poll it) */
  int mbox_bell;                /* eventfd: a reply waits in its mailbox (it polls it) */
  uint32_t mbox_seen;           /* req_seq of the last request taken */
  uint64_t mbox_calls;          /* exchanges through the mailbox */
  uint32_t vif_eid[REGION_VIFS];/* endpoint id + 1 open on each VIF of the region; 0: free */
  uint64_t accepted_ns;         /* when it connected (it must say hello in time) */
  const char *kind;             /* "process", "container" (other pid namespace), "vm" */
  int pid_ours;                 /* pid is its pid in our pid namespace, seen there: what
                                 * a peer in it may read it by (direct channels) */
  uint64_t region_len;          /* bytes of its region file (a VM's: a power of two) */
  /* A VM (role CTL_ROLE_VM): its launcher holds sock; its RAM is ram_fd,
   * sealed, mapped at ram; the library inside says hello through the
   * mailbox, which the control loop polls (a VM cannot kick). */
  int ram_fd;
  void *ram;
  uint64_t ram_size;
  int vm_attached;              /* the library in the VM said hello */
  int vm_polled;                /* it has no doorbell (ivshmem-plain): the engine polls */
  uint32_t vm_beat_seen;        /* the program's beat (region guest_beat), and when it */
  uint64_t vm_beat_ns;          /* last moved */
};

struct be_config {
  const char *socket_path;
  struct engine_config eng;     /* nic id, hostname, endpoints, ports, ... */
  uint32_t small_max;
  uint32_t endpoints_per_user;  /* endpoints the guests of one uid may hold at once */
  uint64_t vm_mem_per_user_mb;  /* RAM the VMs of one uid may hold at once */
  const char *user;             /* run as this user, with three capabilities (privilege.c) */
  const char *socket_owner;     /* the control socket's owner, group and mode: who may be */
  const char *socket_group;     /* a guest */
  unsigned socket_mode;
  const char *metrics;          /* --metrics unix:PATH|tcp:ADDR:PORT, or NULL */
  int verbose;
  int no_lanes;                 /* --no-lanes: no endpoint gets a lane (docs/lanes.md) */
};

/* options.c: the configuration file, then the command line. */
struct be_options {
  struct be_config *cfg;        /* filled */
  int daemonize, log_level, verbose, check_only;
  int ports_from_flags;         /* the flags named ports: the file's are dropped */
};
/* -1: go on; else the exit status (help printed, --check-config done, or
 * a bad setting reported). */
int options_parse(struct be_options *o, int argc, char **argv);
/* metrics.c: serve Prometheus' text format at spec from a thread of its
 * own, reading the backend's reports on its control socket.  0 or -1. */
int metrics_open(const char *spec, const char *control); /* listen, connect: before --user */
int metrics_run(void);   /* the thread: after --user, so that it runs as the rest */
void metrics_stop(void); /* at exit: a unix: listener's path goes */
int metrics_check(const char *spec); /* a valid address: 0, else -1 */
/* notify.c: tell systemd (Type=notify) that the backend serves. */
void notify_ready(void);

struct backend {
  struct be_config cfg;
  struct engine *engine;
  int lsock;                    /* the control socket (server_listen) */
  struct be_guest guests[BE_MAX_GUESTS];
  uint32_t next_guest_id;
  uint64_t started_ns;
  uint64_t ctl_errors;          /* malformed control messages answered */
  uint64_t conns_refused;       /* connections over a table or per-process limit */
  uint64_t conns_silent;        /* connections closed for saying no hello in time */
  uint64_t endpoints_refused;   /* opens over a user's share (endpoints_per_user) */
  uint64_t vms_refused;         /* VMs over a user's share of RAM (vm_mem_per_user_mb) */
  /* Each open endpoint's lane socket, the backend's own copy, + 1 (0:
   * none); at its close the socket is kept a while longer (retired), so
   * that its port is nobody else's while peers may still send to it
   * (docs/lanes.md). */
  int lane_keep[ENGINE_MAX_ENDPOINTS];
  struct be_retired_lane {
    int fd;
    uint64_t until_ns;
  } retired[BE_LANES_RETIRED_MAX];
  uint32_t nretired;
  uint64_t lanes_made, lanes_released_early;
  uint64_t lanes_refused;       /* guests' sockets not fit to be a lane */
  int passed_fd;                /* the descriptor that came with the control message being
                                 * handled (a CTL_OPEN's lane socket), + 1 (0: none) */
};

/* identity.c */
/* The connecting process of sock as a pidfd (SO_PEERPIDFD, or pidfd_open). */
int identity_pidfd(int sock, pid_t pid);
/* g's memory, once checked to be the process that connected, with the
 * ids it connected with: the descriptor, or -errno. */
int identity_open_memory(struct be_guest *g);
/* The process that connected still runs, with the ids it connected with,
 * and our /proc names it by the pid it connected with (what a peer in our
 * pid namespace reads it by). */
int identity_unchanged(const struct be_guest *g);
/* The process that connected is in the backend's network namespace (and
 * still the one that connected): a socket of ours is no more than one it
 * could make itself. */
int identity_netns_ours(const struct be_guest *g);
/* Its permitted capabilities (all bits when unknown). */
uint64_t identity_caps(const struct be_guest *g);

/* guest.c */
/* A slot for the process cr connected on sock (it owns sock from now
 * on), not yet admitted: it must say hello.  NULL when the table is full. */
struct ucred;
struct be_guest *guest_new(struct backend *be, int sock, const struct ucred *cr);
int guest_admit(struct backend *be, struct be_guest *g, const struct ctl_hello *h,
                struct ctl_hello_reply *r);
void guest_reclaim(struct backend *be, struct be_guest *g);
struct be_guest *guest_by_id(struct backend *be, uint32_t id);
/* A message to g: on its socket, or in its mailbox when the request came
 * there (seq has CTL_SEQ_MAILBOX).  0 or -1. */
int guest_send(struct be_guest *g, const struct ctl_msg *m, const int *fds, int nfds);

/* A VM's library (in the VM, through the mailbox) says hello: whatever an
 * earlier program of that VM left open is closed. */
void guest_vm_attach(struct backend *be, struct be_guest *g, const struct ctl_hello *h);
/* The program in VM g is gone if its beat stood still for
 * REGION_GUEST_BEAT_DEAD_MS: its endpoints close (its grants with them).
 * now: clock_now_ns(). */
void guest_vm_check(struct backend *be, struct be_guest *g, uint64_t now);

/* mailbox.c: the region's control mailbox */
/* 1 when a request was taken, 0 when none waited. */
int mailbox_serve(struct backend *be, struct be_guest *g);
int mailbox_reply(struct be_guest *g, const struct ctl_msg *m);

/* endpoint.c: g's endpoints, each a VIF of its region opened in the engine */
/* An endpoint's lane, when it got one (endpoint_open). */
struct be_lane {
  int fd;                       /* in: the socket the guest passed (taken), or -1 */
  int made;                     /* out: it is the endpoint's lane, bound to addr */
  struct lane_addr addr;
  struct fault_cfg fault;
};
int endpoint_open(struct backend *be, struct be_guest *g, const struct ctl_open *req,
                  uint32_t *vif_idx, struct engine_vif_info *info, struct be_lane *lane);
/* Closed endpoints' lane sockets whose time is up are closed; returns the
 * ms until the next one's (or -1: none kept). */
int endpoint_lanes_expire(struct backend *be);
/* Close the endpoint on VIF vif_idx, telling its peers' hosts where its
 * lane streams stood (acks, the guest's word: engine_vif_close checks).
 * 0, or -1 when no endpoint is open on that VIF. */
int endpoint_close(struct backend *be, struct be_guest *g, uint32_t vif_idx,
                   const struct ctl_lane_last_ack *acks, uint32_t nacks);
void endpoint_close_all(struct backend *be, struct be_guest *g);
/* The endpoint open on g's VIF vif_idx: 0 and *eid, or -1. */
int endpoint_at(const struct be_guest *g, uint32_t vif_idx, uint32_t *eid);
/* The VIF of g that endpoint eid is open on: 0 and *vif_idx, or -1. */
int endpoint_vif(const struct be_guest *g, uint32_t eid, uint32_t *vif_idx);

/* control.c: one checked control message from g (socket or mailbox) */
int control_dispatch(struct backend *be, struct be_guest *g, struct ctl_msg *req);
/* One message from g's socket, checked and dispatched; -1 when g must be
 * dropped (it hung up). */
int control_receive(struct backend *be, struct be_guest *g);
void control_reply_error(struct backend *be, struct be_guest *g, const struct ctl_msg *req,
                     int status, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The engine's answers to requests it took in the background. */
void control_completions(struct backend *be);

/* connect.c: CTL_CONNECT, on this host or through the engine to another */
void connect_handle(struct backend *be, struct be_guest *g, const struct ctl_msg *req);

/* channel.c */
int channel_create(const struct engine_vif_info *a, const struct engine_vif_info *b,
                   int fds_a[CHANNEL_FDS], int fds_b[CHANNEL_FDS]);

/* report.c: JSON of the backend's state */
char *report_info(struct backend *be);
char *report_counters(struct backend *be);
char *report_peers(struct backend *be);

/* server.c */
/* Bind the control socket, give it its group and mode: 0 or -1 (logged). */
int server_listen(struct backend *be);
int server_run(struct backend *be);

/* privilege.c */
int privilege_socket_access(const char *path, const char *owner, const char *group,
                            unsigned mode, char *err,
                            size_t errlen);
/* Become user, keeping CAP_SYS_PTRACE, CAP_SETUID, CAP_SETGID only (before
 * any thread starts).  0, or -1 with err set. */
int privilege_drop(const char *user, char *err, size_t errlen);

#endif
