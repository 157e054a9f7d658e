/*
 * myrixen.h - MyriXen's own additions to the MX API.
 *
 * Environment read by libmyrixen (documented here, the one public place):
 *   MYRIXEN_SOCKET     the backend's control socket (default
 *                      /run/myrixen/backend.sock)
 *   MYRIXEN_DATAPATH   bypass (default: direct channel for same-host peers,
 *                      the engine otherwise), direct, or engine
 *   MYRIXEN_SPIN_US    how long a waiter spins before yielding (default 0)
 *   MYRIXEN_YIELD_US   how long it yields before sleeping (default 2000)
 *   MYRIXEN_CONNECT_MS how long mx_iconnect retries a missing peer (10000)
 *   MYRIXEN_SMALL_MAX  largest inline (small) message this guest sends;
 *   MYRIXEN_MEDIUM_MAX largest eager (medium) one; larger ones go by
 *                      rendezvous.  Either can only lower what myrixend
 *                      allows (--small-max, --medium-max); mx_get_info
 *                      reports the values in force (MX_PIO_SEND_MAX,
 *                      MX_COPY_SEND_MAX).
 */
#ifndef MYRIXEN_H
#define MYRIXEN_H

#include "myriexpress.h"

#define MYRIXEN_VERSION_STRING "0.1.0"

#endif
