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

EXPORT mx_return_t mx__init_api(int api)
{
  if (lib.initialized)
    return MX_ALREADY_INITIALIZED;
  if (api > MX_API)
    return lib_error(NULL, MX_BAD_LIB_VERSION, "mx_init: API 0x%x is newer than 0x%x", api, MX_API);
  const char *why = NULL;
  mx_return_t r = attach_backend(&why);
  if (r != MX_SUCCESS)
    return lib_error(NULL, r, "mx_init: %s", why);
  /* No pure spin: a guest polls with sched_yield from the start.  Alone on
   * its core the yield returns at once (8-byte direct ping-pong 0.378 ->
   * 0.420 us, within noise); sharing a core with the engine or another
   * guest it hands the core over at once (engine path 78 -> 1.6 us). */
  poll_policy_from_env(&lib.wait_policy, 0, 2000);
  /* A direct channel is polled by its two guests alone: there a short spin
   * pays (no engine thread needs the core); without one, waiting yields at
   * once so the engine gets the core.  MYRIXEN_SPIN_US sets both. */
  lib.channel_spin_ns = getenv("MYRIXEN_SPIN_US") ? lib.wait_policy.spin_ns : CHANNEL_SPIN_NS;
  const char *lanes = getenv("MYRIXEN_LANES");
  lib.lanes = !lanes || strcmp(lanes, "0") != 0;
  const char *rndv = getenv("MYRIXEN_LANE_RNDV_MAX");
  lib.lane_rndv_max = rndv ? strtoull(rndv, NULL, 10) : LANE_RNDV_MAX;
  const char *ahead = getenv("MYRIXEN_LANE_RNDV_AHEAD");
  lib.lane_rndv_ahead = ahead ? strtoull(ahead, NULL, 10) : LANE_RNDV_AHEAD;
  const char *hold = getenv("MYRIXEN_LANE_HOLD");
  lib.lane_hold = !hold || strcmp(hold, "0") != 0;
  lib.initialized = 1;
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_finalize(void)
{
  if (!lib.initialized)
    return lib_error(NULL, MX_NOT_INITIALIZED, "mx_finalize: not initialized");
  while (lib.eps)
    mx_close_endpoint(lib.eps);
  if (getenv("MYRIXEN_COUNTERS"))
    lib_counters_print(); /* what this process's endpoints did, for tests and users */
  attach_end();
  lib.initialized = 0;
  return MX_SUCCESS;
}
