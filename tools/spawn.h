/* spawn.h - start a private myrixend (used by `myrixen bench
 * --spawn-backend`, `bench report` and the test harness). */
#ifndef MYRIXEN_SPAWN_H
#define MYRIXEN_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

/* Run the backend binary bin on socket sock (quiet: MYRIXEN_LOG=warn unless
 * set), with the options extra (NULL-terminated, or NULL), and wait until
 * it listens.  Returns its pid, or -1. */
pid_t backend_spawn(const char *bin, const char *sock, const char *const *extra);

/* rel, relative to the directory of this program's binary, into out: 0,
 * or -1 (too long, or no /proc/self/exe). */
int beside_self(const char *rel, char *out, size_t len);

/* The libfabric provider beside this binary (../lib/libfabric, in the build
 * tree and where make install puts it) as FI_PROVIDER_PATH, unless set.
 * -1 when neither is there. */
int provider_path_setenv(void);
/* The MPI bench program (tools/mpi/mpi_bench.c) beside this binary, in the
 * build tree (../mpi) or installed (../lib/myrixen): 0, or -1. */
int mpi_bench_path(char *out, size_t len);

/* A private backend: the myrixend beside this binary, on a socket of its
 * own (/tmp/myrixen-TAG-PID.sock), which MYRIXEN_SOCKET then names for this
 * process and its children.  Its pid, or -1. */
pid_t backend_spawn_private(const char *tag);
/* Stop it (SIGTERM: its guests see their requests end), reap it, and
 * remove its socket and the lock file it leaves. */
void backend_stop(pid_t pid);

#endif
