/*
 * fuzz_common.c - the backend, guests and memory the fuzz targets share
 * (fuzz.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/common/log.h"
#include "../../src/engine/engine_int.h"
#include "fuzz.h"

size_t fuzz_take(struct fuzz_input *in, void *out, size_t len)
{
  size_t k = in->n < len ? in->n : len;
  memcpy(out, in->p, k);
  memset((char *)out + k, 0, len - k);
  in->p += k;
  in->n -= k;
  return k;
}

uint8_t fuzz_byte(struct fuzz_input *in)
{
  uint8_t b;
  fuzz_take(in, &b, 1);
  return b;
}

uint16_t fuzz_u16(struct fuzz_input *in)
{
  uint16_t v;
  fuzz_take(in, &v, 2);
  return v;
}

uint8_t fuzz_step(struct fuzz_input *in, struct fuzz_input *step)
{
  uint8_t op = fuzz_byte(in);
  size_t len = fuzz_u16(in);
  *step = (struct fuzz_input){in->p, len < in->n ? len : in->n};
  in->p += step->n;
  in->n -= step->n;
  return op;
}

static pid_t memory_pid;

pid_t fuzz_memory_pid(void)
{
  int status;
  if (memory_pid > 0 && waitpid(memory_pid, &status, WNOHANG) == 0)
    return memory_pid;
  /* A fuzzed grant may have written over the last one until it died. */
  int ready[2];
  if (pipe(ready) < 0)
    abort();
  memory_pid = fork();
  if (memory_pid < 0) {
    perror("fork");
    abort();
  }
  if (memory_pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* it goes with the fuzzer */
    /* it holds none of the fuzzer's sockets (a port must be free to
     * open again), and says so before the fuzzer goes on */
    int w = ready[1];
    syscall(SYS_close_range, 3, (unsigned)w - 1, 0);
    syscall(SYS_close_range, (unsigned)w + 1, ~0u, 0);
    if (write(w, "", 1) != 1)
      _exit(1);
    close(w);
    for (;;)
      pause();
  }
  close(ready[1]);
  char c;
  if (read(ready[0], &c, 1) != 1)
    abort();
  close(ready[0]);
  return memory_pid;
}

void fuzz_private_net(void)
{
  if (unshare(CLONE_NEWNET) < 0) {
    fprintf(stderr, "fuzz: unshare(CLONE_NEWNET): %s: the wire target runs as root, "
                    "in a network of its own\n", strerror(errno));
    exit(2);
  }
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr = {0};
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
  if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ||
      (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) < 0)) {
    fprintf(stderr, "fuzz: cannot bring up lo: %s\n", strerror(errno));
    exit(2);
  }
  close(s);
}

void fuzz_backend_up(struct backend *be, const char *port)
{
  static int logs_set;
  char err[256];
  if (!logs_set) {
    log_setup("fuzz", LOG_ERR); /* the refusals are the point: not their lines */
    signal(SIGPIPE, SIG_IGN);
    logs_set = 1;
  }
  const char *key_file = be->cfg.eng.key_file; /* the caller's choice, kept */
  memset(be, 0, sizeof(*be));
  struct engine_config *ec = &be->cfg.eng;
  ec->key_file = key_file;
  ec->nic_id = 0x0000fa11fa11ull;
  snprintf(ec->hostname, sizeof(ec->hostname), "fuzzhost");
  ec->max_endpoints = 8;
  ec->medium_max = 32768;
  ec->engine_cpu = -1;
  ec->peer_timeout_ms = 1000;
  if (port) {
    ec->ports[0] = port;
    ec->nports = 1;
  }
  be->cfg.small_max = 128;
  be->cfg.endpoints_per_user = 6; /* of 8: the refusal is reached too */
  be->cfg.vm_mem_per_user_mb = 2; /* two VMs of 1 MiB, not three */
  for (int i = 0; i < BE_MAX_GUESTS; i++)
    be->guests[i].sock = -1;
  if (engine_create(ec, &be->engine, err, sizeof(err)) < 0) {
    fprintf(stderr, "fuzz: engine: %s\n", err);
    abort();
  }
}

void fuzz_backend_down(struct backend *be)
{
  for (int i = 0; i < BE_MAX_GUESTS; i++)
    if (be->guests[i].in_use)
      guest_reclaim(be, &be->guests[i]);
  engine_destroy(be->engine);
  be->engine = NULL;
}

void fuzz_drain(int peer)
{
  static char buf[sizeof(struct ctl_msg) + CTL_TEXT_MAX];
  int fds[CTL_MAX_FDS], nfds;
  while (ctl_recv(peer, (struct ctl_msg *)buf, sizeof(buf), fds, &nfds) > 0)
    ctl_close_fds(fds, nfds);
}

/* A VM guest: its launcher's hello on the socket, then the VM's own
 * through the mailbox (its RAM: 1 MiB, the backend's memfd). */
static void fuzz_vm_hello(struct backend *be, struct be_guest *g)
{
  struct ctl_msg m;
  ctl_init(&m, CTL_HELLO, 1);
  m.u.hello.role = CTL_ROLE_VM;
  m.u.hello.datapath = DP_ENGINE;
  m.u.hello.vm_mem_mb = 1;
  snprintf(m.u.hello.name, sizeof(m.u.hello.name), "fuzzvm");
  control_dispatch(be, g, &m);
  if (!g->region)
    return;
  ctl_init(&m, CTL_HELLO, 1 | CTL_SEQ_MAILBOX);
  m.u.hello.role = CTL_ROLE_GUEST;
  snprintf(m.u.hello.name, sizeof(m.u.hello.name), "fuzz");
  control_dispatch(be, g, &m);
}

struct be_guest *fuzz_guest(struct backend *be, uint32_t dp, int *peer)
{
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
    abort();
  struct ucred cr = {.pid = fuzz_memory_pid(), .uid = getuid(), .gid = getgid()};
  struct be_guest *g = guest_new(be, sv[0], &cr);
  if (!g)
    abort();
  /* the guest is the child: its memory is what the engine copies */
  if (g->pidfd >= 0)
    close(g->pidfd);
  g->pidfd = (int)syscall(SYS_pidfd_open, cr.pid, 0);
  *peer = sv[1];
  struct ctl_msg m;
  if (dp % (DP_MAX + 1) == FUZZ_VM) {
    fuzz_vm_hello(be, g);
  } else {
    ctl_init(&m, CTL_HELLO, 1);
    m.u.hello.role = CTL_ROLE_GUEST;
    m.u.hello.datapath = dp % (DP_MAX + 1);
    snprintf(m.u.hello.name, sizeof(m.u.hello.name), "fuzz");
    control_dispatch(be, g, &m);
  }
  if (!g->region && waitpid(memory_pid, &(int){0}, WNOHANG) != 0) {
    /* The memory child died between our look and the admission (a fuzzed
     * pull the engine was still writing over it): the backend rightly
     * refused a guest that is gone.  Another guest, with a new child. */
    guest_reclaim(be, g);
    close(*peer);
    return fuzz_guest(be, dp, peer);
  }
  if (!g->region) { /* an honest hello must be admitted: say why not */
    static char buf[sizeof(struct ctl_msg) + CTL_TEXT_MAX];
    int fds[CTL_MAX_FDS], nfds;
    struct ctl_msg *rep = (struct ctl_msg *)buf;
    if (ctl_recv(*peer, rep, sizeof(buf), fds, &nfds) > 0 && rep->type == CTL_ERROR)
      fprintf(stderr, "fuzz: hello refused: %.*s\n", (int)rep->len, rep->text);
    abort();
  }
  fuzz_drain(*peer);
  return g;
}

/* A VM speaks only through its mailbox. */
static uint32_t fuzz_seq(const struct be_guest *g, uint32_t seq)
{
  return g->role == CTL_ROLE_VM ? seq | CTL_SEQ_MAILBOX : seq;
}

int fuzz_open(struct backend *be, struct be_guest *g, uint32_t eid, uint32_t key)
{
  struct ctl_msg m;
  ctl_init(&m, CTL_OPEN, fuzz_seq(g, 2));
  m.u.open.eid = eid;
  m.u.open.key = key;
  control_dispatch(be, g, &m);
  uint32_t vif;
  return endpoint_vif(g, eid, &vif) == 0 ? (int)vif : -1;
}

void fuzz_connect(struct backend *be, struct be_guest *g, uint32_t vif, uint32_t eid,
                  uint32_t key)
{
  struct ctl_msg m;
  ctl_init(&m, CTL_CONNECT, fuzz_seq(g, 3));
  m.u.connect.vif = vif;
  m.u.connect.eid = eid;
  m.u.connect.nic_id = be->cfg.eng.nic_id;
  m.u.connect.key = key;
  control_dispatch(be, g, &m);
}

void fuzz_rounds(struct backend *be, int n)
{
  struct engine *e = be->engine;
  uint32_t rr = 0;
  int batching;
  for (int i = 0; i < n; i++) {
    pthread_mutex_lock(&e->lock);
    engine_round(e, &rr);
    netback_round(e, &batching);
    pthread_mutex_unlock(&e->lock);
  }
}

/* A buffer at the same address in the guest's memory (the child is a
 * fork of this process): grants that name it are honest, others not. */
static uint8_t guest_area[1 << 16];

void fuzz_side_open(struct backend *be, struct fuzz_side *s, uint32_t eid, uint32_t key)
{
  s->vif_idx = fuzz_open(be, s->g, eid, key);
  s->vif = s->vif_idx < 0 ? NULL : region_vif(s->g->region, (uint32_t)s->vif_idx);
  if (s->vif) {
    qprod_init(&s->tx, &s->vif->tx);
    qcons_init(&s->rx, &s->vif->rx);
  }
  fuzz_drain(s->peer);
}

void fuzz_side_push(struct fuzz_side *s, struct fuzz_input *in, uint64_t nic, uint32_t eid)
{
  struct msg m;
  uint8_t how = fuzz_byte(in);
  fuzz_take(in, &m, MSG_LINE); /* the descriptor; inline data past it stays 0 */
  memset((char *)&m + MSG_LINE, 0, sizeof(m) - MSG_LINE);
  if (!s->vif)
    return;
  if (how & 1) { /* addressed as a library would */
    m.peer_nic = nic;
    m.peer_eid = eid;
  }
  int eager = m.type == MSG_FRAG;
  if (qprod_reserve(&s->tx, 1, eager) != 1)
    return;
  if (eager)
    memset(qprod_eager(&s->tx), how, EAGER_SIZE);
  qprod_put(&s->tx, &m);
  qprod_commit(&s->tx, eager);
  qprod_flush(&s->tx);
}

void fuzz_side_grant(struct fuzz_side *s, struct fuzz_input *in)
{
  struct grant gr;
  uint8_t idx = fuzz_byte(in), how = fuzz_byte(in);
  fuzz_take(in, &gr, sizeof(gr));
  if (!s->vif)
    return;
  if ((how & 1) && s->g->ram) { /* a VM: inside its RAM (guest-physical) */
    gr.addr %= s->g->ram_size;
    gr.len %= s->g->ram_size - gr.addr + 1;
  } else if (how & 1) { /* inside the guest's own buffer */
    uint64_t off = gr.addr % sizeof(guest_area);
    gr.addr = (uint64_t)(uintptr_t)guest_area + off;
    gr.len %= sizeof(guest_area) - off + 1;
  }
  memcpy(&s->vif->grants[idx % REGION_GRANTS], &gr, sizeof(gr));
}

void fuzz_side_scribble(struct fuzz_side *s, const uint8_t *bytes, size_t len)
{
  if (!s->vif || len < 2)
    return;
  size_t off = (bytes[0] | (size_t)bytes[1] << 8) * 64 % sizeof(struct vif);
  size_t k = len - 2;
  if (k > sizeof(struct vif) - off)
    k = sizeof(struct vif) - off;
  memcpy((char *)s->vif + off, bytes + 2, k);
}

void fuzz_side_events(struct fuzz_side *s)
{
  struct msg m;
  const uint8_t *eager;
  if (!s->vif)
    return;
  while (qcons_next(&s->rx, &m, &eager) > 0)
    qcons_advance(&s->rx, &m);
  qcons_release(&s->rx);
}
