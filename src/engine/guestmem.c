/*
 * guestmem.c - reaching a process guest's memory: by pid, which is fast
 * (process_vm_readv/writev pin pages in batches), and checked against the
 * /proc/PID/mem its client opened when it admitted the guest.
 *
 * That descriptor is bound to the address space the guest had then, not
 * to its pid: once the guest exits or execs another program (a setuid
 * one, say), a read through it fails.  So:
 * - a read by pid is kept only if a one-byte read through the descriptor
 *   succeeds afterwards: the admitted address space lived throughout, so
 *   the pid named it (a pid cannot change hands, nor an image change,
 *   while it lives);
 * - a write by pid is made with the guest's own ids (this thread's only):
 *   the kernel then refuses what the guest itself could not do, such as
 *   writing into the setuid program it just exec'd.  Whatever process has
 *   the pid by then is one the guest's user may write anyway.  And the
 *   same check afterwards fails the pull.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "engine_int.h"

ssize_t guestmem_read(const struct guest_mem *g, const struct iovec *local, unsigned long nl,
                      const struct iovec *remote, unsigned long nr)
{
  if (g->mem_fd < 0 || nr == 0) {
    errno = ESRCH;
    return -1;
  }
  ssize_t n = process_vm_readv(g->pid, local, nl, remote, nr, 0);
  char probe;
  if (n > 0 && pread(g->mem_fd, &probe, 1, (off_t)(uintptr_t)remote[0].iov_base) != 1) {
    errno = ESRCH; /* the admitted address space is gone: what was read may be another's */
    return -1;
  }
  return n;
}

/* This thread takes ids uid/gid for a copy (saved uid 0 kept, so that it
 * can come back): 1 when it switched, 0 when it had nothing to switch (a
 * guest of the backend's own ids, or a backend that is not root). */
static int ids_enter(uid_t uid, gid_t gid)
{
  if (geteuid() != 0 || (uid == 0 && gid == 0))
    return 0;
  if (syscall(SYS_setresgid, gid, gid, 0) < 0 || syscall(SYS_setresuid, uid, uid, 0) < 0) {
    syscall(SYS_setresgid, 0, 0, 0);
    return -1;
  }
  return 1;
}

static void ids_leave(void)
{
  syscall(SYS_setresuid, 0, 0, 0);
  syscall(SYS_setresgid, 0, 0, 0);
}

ssize_t guestmem_write(const struct guest_mem *g, const struct iovec *local, unsigned long nl,
                       const struct iovec *remote, unsigned long nr)
{
  char probe;
  if (g->mem_fd < 0 || nr == 0) {
    errno = ESRCH;
    return -1;
  }
  int switched = ids_enter(g->uid, g->gid);
  if (switched < 0) {
    errno = EPERM;
    return -1;
  }
  ssize_t n = process_vm_writev(g->pid, local, nl, remote, nr, 0);
  int e = errno;
  if (switched)
    ids_leave();
  if (n > 0 && pread(g->mem_fd, &probe, 1, (off_t)(uintptr_t)remote[0].iov_base) != 1) {
    errno = ESRCH;
    return -1;
  }
  errno = e;
  return n;
}
