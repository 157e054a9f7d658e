/*
 * guestmem.c - reaching a process guest's memory through its
 * /proc/PID/mem, opened by the backend when it admitted the guest.
 *
 * That descriptor is bound to the address space the guest had then, not
 * to its pid: once the guest exits, or execs another program (a setuid
 * one, say), every copy through it fails, and a pid handed to another
 * process since reaches nothing.  (Copies by pid, process_vm_readv/writev,
 * read whatever process had the number and whatever image it ran, with
 * the backend's privileges.)
 *
 * A write moves one remote segment at a time with pwritev on that
 * descriptor.  A read goes by pid (process_vm_readv: it pins pages in
 * batches, where /proc/PID/mem copies a page at a time through a bounce
 * page, at half the speed), and is kept only if a one-byte read through
 * the descriptor succeeds afterwards: then the address space of admission
 * still lives, so the pid named it throughout the read (a pid cannot
 * change hands, nor an image change, while it lives).  A write cannot be
 * taken back, so it never goes by pid.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <sys/uio.h>
#include <unistd.h>

#include "engine_int.h"

#define GUESTMEM_IOV 64

/* Up to GUESTMEM_IOV local pieces covering len bytes from (li, *skip) on;
 * returns how many, and how many bytes they cover in *got. */
static int local_slice(const struct iovec *local, unsigned long nl, unsigned long *li,
                       size_t *skip, size_t len, struct iovec *out, size_t *got)
{
  int n = 0;
  *got = 0;
  while (*got < len && *li < nl && n < GUESTMEM_IOV) {
    size_t avail = local[*li].iov_len - *skip;
    size_t take = avail < len - *got ? avail : len - *got;
    out[n++] = (struct iovec){(char *)local[*li].iov_base + *skip, take};
    *got += take;
    *skip += take;
    if (*skip == local[*li].iov_len) {
      (*li)++;
      *skip = 0;
    }
  }
  return n;
}

static ssize_t guestmem_copy(const struct guest_mem *g, const struct iovec *local,
                             unsigned long nl, const struct iovec *remote, unsigned long nr,
                             int write)
{
  unsigned long li = 0;
  size_t skip = 0;
  ssize_t total = 0;
  if (g->mem_fd < 0) {
    errno = ESRCH;
    return -1;
  }
  for (unsigned long ri = 0; ri < nr; ri++) {
    size_t done = 0;
    while (done < remote[ri].iov_len) {
      struct iovec piece[GUESTMEM_IOV];
      size_t want;
      int n = local_slice(local, nl, &li, &skip, remote[ri].iov_len - done, piece, &want);
      if (n == 0)
        return total; /* the local side is shorter: what fits was copied */
      off_t at = (off_t)((uintptr_t)remote[ri].iov_base + done);
      ssize_t k = write ? pwritev(g->mem_fd, piece, n, at) : preadv(g->mem_fd, piece, n, at);
      if (k <= 0 || (size_t)k != want) {
        errno = k == 0 ? ESRCH : errno; /* 0: the address space is gone */
        return -1;
      }
      done += want;
      total += k;
    }
  }
  return total;
}

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

ssize_t guestmem_write(const struct guest_mem *g, const struct iovec *local, unsigned long nl,
                       const struct iovec *remote, unsigned long nr)
{
  return guestmem_copy(g, local, nl, remote, nr, 1);
}
