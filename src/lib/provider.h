/*
 * provider.h - what libmyrixen offers the libfabric provider (src/fi)
 * beyond the MX API.  The provider is linked with the library's objects;
 * none of this is exported to applications.
 */
#ifndef MYRIXEN_LIB_PROVIDER_H
#define MYRIXEN_LIB_PROVIDER_H

#include <stdint.h>

#include "../../include/myriexpress.h"

/* Nanoseconds a waiter on ep should spin before it yields its core (0:
 * yield from the start); libmyrixen's own waits follow the same rule.  An
 * endpoint with a direct channel is worth a short spin: its peer is
 * another guest polling the same memory, and a yield (~0.3 us here) costs
 * as much as an 8-byte message.  Without one, every message goes through
 * the engine's thread, which may share the waiter's core. */
uint64_t lib_spin_ns(mx_endpoint_t ep);

/* Sends by lane held for a burst's next ones (lane_post) leave now: a read
 * of a completion queue that still has entries makes no progress pass. */
void lib_lane_flush(mx_endpoint_t ep);

/* fi_inject's fast path: a small message (len bytes, and the immediate
 * when imm is not NULL) written straight into a direct channel to dest,
 * with no request, nothing to reap and nothing left to copy.
 * MX_SUCCESS: it is out, ordered after every earlier send to dest.
 * MX_NO_RESOURCES: not this way (no channel, too long, a backlog, a full
 * ring): send it the ordinary way.  Anything else: the endpoint is not
 * valid. */
mx_return_t lib_inject(mx_endpoint_t ep, const void *buf, uint32_t len, mx_endpoint_addr_t dest,
                       uint64_t match, const uint32_t *imm);

#endif
