/*
 * state.c - the library's one global state (struct lib_state, lib.h):
 * the backend connection, the region, the thresholds, the open endpoints.
 * Set up by mx_init (init.c); read by every layer.
 */
#include "lib.h"

struct lib_state lib = {
    .sock = -1,
    .engine_doorbell = -1,
    .mbox_kick = -1,
    .mbox_bell = -1,
    .attach_lock = PTHREAD_MUTEX_INITIALIZER,
    .ctl_lock = PTHREAD_MUTEX_INITIALIZER,
    .eps_lock = PTHREAD_MUTEX_INITIALIZER,
};
