/* spawn.h - start a private myrixend (used by `myrixen bench
 * --spawn-backend` and by the test harness). */
#ifndef MYRIXEN_SPAWN_H
#define MYRIXEN_SPAWN_H

#include <sys/types.h>

/* Run the backend binary bin on socket sock (quiet: MYRIXEN_LOG=warn unless
 * set) and wait until it listens.  Returns its pid, or -1. */
pid_t backend_spawn(const char *bin, const char *sock);

#endif
