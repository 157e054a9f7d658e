/* progress.h - progress and the adaptive wait (layer 4). */
#ifndef MYRIXEN_LIB_PROGRESS_H
#define MYRIXEN_LIB_PROGRESS_H

#include "lib.h"

struct rel_io;

/* progress.c */
/* What a lane's streams deliver to (lane.h): messages to the receives,
 * acknowledgements to the sends. */
extern const struct rel_io progress_lane_io;
int progress_once(struct mx_endpoint *ep);
/* The pass of a caller that polls (mx_test and its kind): as a waiter's
 * poll, light between full passes. */
int progress_poll(struct mx_endpoint *ep);
/* Wait (lock held) until done(ep, arg) or timeout_ms (0: forever) or an
 * mx_wakeup.  Returns 1 when done, 0 on timeout or wakeup. */
int progress_wait(struct mx_endpoint *ep, uint32_t timeout_ms,
            int (*done)(struct mx_endpoint *, void *), void *arg);
/* The engine's MSG_PEER_GONE (lock held): what was in progress with that
 * peer fails, but what the closed endpoint's last ack on our lane
 * (MSG_F_LAST_ACK) says it took. */
void progress_peer_gone(struct mx_endpoint *ep, const struct msg *m);

#endif
