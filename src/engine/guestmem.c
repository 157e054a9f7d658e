/*
 * guestmem.c - reaching a process guest's memory: process_vm_readv/writev
 * on its pid, checked against its pidfd, which cannot be recycled.  A pid
 * can: once the guest has exited, another process may get the same number,
 * and a copy by pid alone would read or write that process.
 *
 * A read is kept only if the guest is still alive after it: a process
 * alive then was alive throughout (its pid could not have changed hands).
 * A write is done only if the guest is alive just before it; the window
 * between that check and the write is the one place a recycled pid could
 * slip in, and it needs the guest to exit, be reaped, and its pid be
 * handed out again within microseconds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sys/uio.h>

#include "engine_int.h"

/* True while the process behind pidfd runs (a pidfd polls readable once
 * it has exited).  No pidfd: no way to tell, so no. */
static int guestmem_alive(const struct guest_mem *g)
{
  if (g->pidfd < 0)
    return 0;
  struct pollfd p = {.fd = g->pidfd, .events = POLLIN};
  return poll(&p, 1, 0) == 0;
}

ssize_t guestmem_read(const struct guest_mem *g, const struct iovec *local, unsigned long nl,
                      const struct iovec *remote, unsigned long nr)
{
  ssize_t n = process_vm_readv(g->pid, local, nl, remote, nr, 0);
  if (n >= 0 && !guestmem_alive(g)) {
    errno = ESRCH; /* what was read may be another process's */
    return -1;
  }
  return n;
}

ssize_t guestmem_write(const struct guest_mem *g, const struct iovec *local, unsigned long nl,
                       const struct iovec *remote, unsigned long nr)
{
  if (!guestmem_alive(g)) {
    errno = ESRCH;
    return -1;
  }
  return process_vm_writev(g->pid, local, nl, remote, nr, 0);
}
