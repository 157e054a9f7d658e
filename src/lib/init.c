/*
 * init.c - mx_init / mx_finalize: reach the backend, be admitted as a
 * guest, and map the region it gives us.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
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

EXPORT mx_return_t mx__init_api(int api)
{
  struct ctl_msg req, rep;
  int fds[CTL_MAX_FDS], nfds = 0, r;

  if (lib.initialized)
    return MX_ALREADY_INITIALIZED;
  if (api > MX_API)
    return lib_error(NULL, MX_BAD_LIB_VERSION, "mx_init: API 0x%x is newer than 0x%x", api, MX_API);
  lib.sock = ctl_connect(ctl_socket_path(), SOCK_NONBLOCK);
  if (lib.sock < 0)
    return lib_error(NULL, MX_NO_DRIVER, "mx_init: cannot reach myrixend (%s)", strerror(errno));
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
    return lib_error(NULL, r, "mx_init: backend refused us");
  }
  lib.hello = rep.u.hello_reply;
  lib.small_max = threshold_from_env("MYRIXEN_SMALL_MAX", lib.hello.small_max);
  lib.medium_max = threshold_from_env("MYRIXEN_MEDIUM_MAX", lib.hello.medium_max);
  if (lib.medium_max < lib.small_max)
    lib.medium_max = lib.small_max;
  lib.engine_doorbell = fds[1];
  lib.mbox_kick = fds[2];
  lib.mbox_bell = fds[3];
  lib.region = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
  close(fds[0]);
  if (lib.region != MAP_FAILED)
    memcpy(&lib.layout, lib.region, sizeof(lib.layout)); /* checked once, then used */
  if (lib.region == MAP_FAILED || region_check(&lib.layout, REGION_SIZE) < 0) {
    if (lib.region != MAP_FAILED)
      munmap(lib.region, REGION_SIZE);
    ctl_close_fds(fds + 1, 3);
    close(lib.sock);
    lib.sock = -1;
    return lib_error(NULL, MX_BAD_LIB_VERSION, "mx_init: region layout does not match");
  }
  lib.mbox = region_mailbox_at(&lib.layout, lib.region);
  /* No pure spin: a guest polls with sched_yield from the start.  Alone on
   * its core the yield returns at once (8-byte direct ping-pong 0.378 ->
   * 0.420 us, within noise); sharing a core with the engine or another
   * guest it hands the core over at once (engine path 78 -> 1.6 us). */
  poll_policy_from_env(&lib.wait_policy, 0, 2000);
  /* A direct channel is polled by its two guests alone: there a short spin
   * pays (no engine thread needs the core); without one, waiting yields at
   * once so the engine gets the core.  MYRIXEN_SPIN_US sets both. */
  lib.channel_spin_ns = getenv("MYRIXEN_SPIN_US") ? lib.wait_policy.spin_ns : CHANNEL_SPIN_NS;
  lib.initialized = 1;
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_finalize(void)
{
  if (!lib.initialized)
    return lib_error(NULL, MX_NOT_INITIALIZED, "mx_finalize: not initialized");
  while (lib.eps)
    mx_close_endpoint(lib.eps);
  lib.mbox = NULL;
  munmap(lib.region, REGION_SIZE);
  close(lib.engine_doorbell);
  close(lib.mbox_kick);
  close(lib.mbox_bell);
  close(lib.sock);
  lib.sock = -1;
  lib.initialized = 0;
  return MX_SUCCESS;
}
