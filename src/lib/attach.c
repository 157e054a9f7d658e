/*
 * attach.c - this guest's attachment to the backend: the control socket,
 * the hello that admits us, the region we map.  mx_init attaches; when the
 * backend dies or stops, every endpoint fails its requests with
 * MX_STATUS_ENDPOINT_CLOSED, and the next mx_open_endpoint attaches again,
 * to the backend that came back (as Xen's netfront reconnects when its
 * backend returns): the program need not start over.
 *
 * In a VM there is no socket: the region is the BAR of an ivshmem device
 * (vmdev.c), every exchange goes through its mailbox, and the backend's
 * death shows as its beat standing still.
 *
 * The region of an earlier attachment stays mapped while endpoints of
 * that attachment are open (their VIFs live in it); the last of them to
 * close unmaps it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib.h"
#include "base.h"

static enum datapath datapath_from_env(void)
{
  const char *d = getenv("MYRIXEN_DATAPATH");
  if (!d)
    return DP_BYPASS;
  for (uint32_t dp = 0; dp < DP_MAX; dp++)
    if (!strcmp(d, datapath_name(dp)))
      return (enum datapath)dp;
  fprintf(stderr, "libmyrixen: MYRIXEN_DATAPATH=%s unknown (bypass, direct, engine, copy, "
                  "copy-batch): using bypass\n", d);
  return DP_BYPASS;
}

/* A guest may lower the backend's class thresholds, never raise them: the
 * engine refuses medium messages beyond its own limit. */
static uint32_t threshold_from_env(const char *name, uint32_t cap)
{
  const char *v = getenv(name);
  if (!v)
    return cap;
  unsigned long n = strtoul(v, NULL, 10);
  return n < cap ? (uint32_t)n : cap;
}

/* What the hello's reply says: thresholds, and the header checked. */
static int attach_accept(const struct ctl_hello_reply *hr, size_t mapped, const char **why)
{
  lib.hello = *hr;
  lib.small_max = threshold_from_env("MYRIXEN_SMALL_MAX", lib.hello.small_max);
  lib.medium_max = threshold_from_env("MYRIXEN_MEDIUM_MAX", lib.hello.medium_max);
  if (lib.medium_max < lib.small_max)
    lib.medium_max = lib.small_max;
  memcpy(&lib.layout, lib.region, sizeof(lib.layout)); /* checked once, then used */
  if (region_check(&lib.layout, mapped) < 0) {
    *why = "region layout does not match";
    return MX_BAD_LIB_VERSION;
  }
  lib.mbox = region_mailbox_at(&lib.layout, lib.region);
  lib.attachment++;
  return MX_SUCCESS;
}

/* In a VM: the region is on the ivshmem device, and the hello goes
 * through its mailbox (the VM's launcher was admitted on the socket). */
static int attach_vm(const char **why)
{
  size_t len;
  lib.region = vmdev_map(&len, why);
  if (!lib.region)
    return MX_NO_DRIVER;
  memcpy(&lib.layout, lib.region, sizeof(lib.layout));
  int r = region_check(&lib.layout, len) < 0 ? MX_BAD_LIB_VERSION : MX_SUCCESS;
  if (r == MX_SUCCESS) {
    lib.region_len = len;
    lib.mbox = region_mailbox_at(&lib.layout, lib.region);
    lib.beat_ns = 0;
    struct ctl_msg req, rep;
    ctl_init(&req, CTL_HELLO, 0);
    req.u.hello.role = CTL_ROLE_GUEST;
    lib.datapath = DP_ENGINE; /* every message through the engine: no direct channels */
    req.u.hello.datapath = lib.datapath;
    snprintf(req.u.hello.name, sizeof(req.u.hello.name), "%s", program_invocation_short_name);
    r = ctl_call(&req, &rep, NULL, NULL, NULL);
    if (r == 0 && rep.u.hello_reply.region_version != REGION_VERSION)
      r = MX_BAD_LIB_VERSION;
    if (r == 0)
      r = attach_accept(&rep.u.hello_reply, len, why);
    if (r == MX_SUCCESS) {
      vmdev_beat_start(lib.region);
      return r;
    }
    *why = r == MX_NO_DRIVER ? "the backend does not answer in the mailbox" : "backend refused us";
  } else {
    *why = "the ivshmem device holds no MyriXen region of this version";
  }
  munmap(lib.region, len);
  lib.region = NULL;
  lib.mbox = NULL;
  return r;
}

int attach_backend(const char **why)
{
  struct ctl_msg req, rep;
  int fds[CTL_MAX_FDS], nfds = 0, r;

  lib.vm = vmdev_platform_vm();
  if (lib.vm)
    return attach_vm(why);
  static char reason[128];
  lib.sock = ctl_connect(ctl_socket_path(), SOCK_NONBLOCK);
  if (lib.sock < 0) {
    snprintf(reason, sizeof(reason), "cannot reach myrixend (%s)", strerror(errno));
    *why = reason;
    return MX_NO_DRIVER;
  }
  lib.mbox = NULL; /* the hello goes on the socket */
  ctl_init(&req, CTL_HELLO, 0);
  req.u.hello.role = CTL_ROLE_GUEST;
  lib.datapath = datapath_from_env();
  req.u.hello.datapath = lib.datapath;
  snprintf(req.u.hello.name, sizeof(req.u.hello.name), "%s", program_invocation_short_name);
  r = ctl_call(&req, &rep, fds, &nfds, NULL);
  if (r == 0 && (nfds != 4 || rep.u.hello_reply.region_version != REGION_VERSION))
    r = MX_BAD_LIB_VERSION;
  if (r != 0) {
    ctl_close_fds(fds, nfds);
    close(lib.sock);
    lib.sock = -1;
    *why = "backend refused us";
    return r;
  }
  lib.engine_doorbell = fds[1];
  lib.mbox_kick = fds[2];
  lib.mbox_bell = fds[3];
  lib.region_len = REGION_SIZE;
  lib.region = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
  close(fds[0]);
  r = lib.region == MAP_FAILED ? MX_BAD_LIB_VERSION : attach_accept(&rep.u.hello_reply, REGION_SIZE, why);
  if (r != MX_SUCCESS) {
    if (lib.region != MAP_FAILED)
      munmap(lib.region, REGION_SIZE);
    else
      *why = "cannot map the region";
    lib.region = NULL;
    lib.mbox = NULL;
    ctl_close_fds(fds + 1, 3);
    lib.engine_doorbell = lib.mbox_kick = lib.mbox_bell = -1;
    close(lib.sock);
    lib.sock = -1;
  }
  return r;
}

int attach_gone(void)
{
  struct region_hdr *hdr = lib.region;
  if (!hdr || (!lib.vm && lib.sock < 0))
    return 1;
  if (atomic_load_explicit(&hdr->backend_state, memory_order_relaxed) != BACKEND_RUNNING)
    return 1; /* it stopped, and said so */
  if (lib.vm)
    return vmdev_backend_silent();
  struct pollfd p = {.fd = lib.sock, .events = 0};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)); /* it died */
}

/* Endpoints open on attachment n. */
static int endpoints_of(uint32_t n)
{
  int k = 0;
  pthread_mutex_lock(&lib.eps_lock);
  for (struct mx_endpoint *ep = lib.eps; ep; ep = ep->next)
    k += ep->attachment == n;
  pthread_mutex_unlock(&lib.eps_lock);
  return k;
}

/* Let go of the current attachment: its descriptors now, its region when
 * no endpoint of it is left (attach_endpoint_closed). */
static void attach_release(void)
{
  /* Its endpoints' progress sees this (the backend's word if it stopped,
   * ours if it died) before their descriptors' numbers go to others. */
  if (lib.region && !lib.vm) /* (a VM's region outlives us: the next program's) */
    atomic_store(&((struct region_hdr *)lib.region)->backend_state, BACKEND_STOPPED);
  if (lib.vm)
    vmdev_beat_stop();
  pthread_mutex_lock(&lib.ctl_lock); /* no exchange is under way on them */
  lib.mbox = NULL;
  if (lib.sock >= 0) {
    close(lib.engine_doorbell);
    close(lib.mbox_kick);
    close(lib.mbox_bell);
    close(lib.sock);
  }
  lib.sock = lib.engine_doorbell = lib.mbox_kick = lib.mbox_bell = -1;
  pthread_mutex_unlock(&lib.ctl_lock);
  if (!lib.region)
    return;
  if (endpoints_of(lib.attachment) == 0) {
    munmap(lib.region, lib.region_len);
  } else if (lib.nstale < ATTACH_STALE_MAX) {
    lib.stale[lib.nstale].region = lib.region;
    lib.stale[lib.nstale].len = lib.region_len;
    lib.stale[lib.nstale++].attachment = lib.attachment;
  } /* else: kept mapped for good (a bounded leak: a program that keeps
     * endpoints of more dead backends than that open) */
  lib.region = NULL;
}

int attach_again(const char **why)
{
  pthread_mutex_lock(&lib.attach_lock);
  int r = MX_SUCCESS;
  if (attach_gone()) {
    attach_release();
    r = attach_backend(why);
  }
  pthread_mutex_unlock(&lib.attach_lock);
  return r;
}

void attach_endpoint_closed(uint32_t attachment)
{
  pthread_mutex_lock(&lib.attach_lock);
  for (int i = 0; i < lib.nstale; i++) {
    if (lib.stale[i].attachment != attachment || endpoints_of(attachment) != 0)
      continue;
    munmap(lib.stale[i].region, lib.stale[i].len);
    lib.stale[i] = lib.stale[--lib.nstale];
    break;
  }
  pthread_mutex_unlock(&lib.attach_lock);
}

void attach_end(void)
{
  pthread_mutex_lock(&lib.attach_lock);
  attach_release();
  for (int i = 0; i < lib.nstale; i++)
    munmap(lib.stale[i].region, lib.stale[i].len);
  lib.nstale = 0;
  pthread_mutex_unlock(&lib.attach_lock);
}
