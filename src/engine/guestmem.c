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
#include <linux/capability.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "engine_int.h"

/* A VM's memory: between local buffers and guest-physical ranges of its
 * RAM mapping, each range checked to lie inside it (the grant check did
 * too; this is the copy's own guard).  One copy, no hypervisor: the
 * vhost-user way.  to_ram: write the VM's memory. */
static ssize_t ram_copy(const struct guest_mem *g, const struct iovec *local, unsigned long nl,
                        const struct iovec *remote, unsigned long nr, int to_ram)
{
  size_t done = 0, li = 0, loff = 0;
  for (unsigned long r = 0; r < nr; r++) {
    uint64_t addr = (uint64_t)(uintptr_t)remote[r].iov_base, len = remote[r].iov_len;
    if (!guestmem_covers(g, addr, len)) {
      errno = EFAULT;
      return -1;
    }
    uint8_t *p = g->ram + addr;
    while (len && li < nl) {
      size_t n = local[li].iov_len - loff;
      if (n > len)
        n = len;
      uint8_t *l = (uint8_t *)local[li].iov_base + loff;
      memcpy(to_ram ? p : l, to_ram ? l : p, n);
      p += n, len -= n, done += n, loff += n;
      if (loff == local[li].iov_len)
        li++, loff = 0;
    }
  }
  return (ssize_t)done;
}

ssize_t guestmem_read(const struct guest_mem *g, const struct iovec *local, unsigned long nl,
                      const struct iovec *remote, unsigned long nr)
{
  if (g->ram)
    return ram_copy(g, local, nl, remote, nr, 0);
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

/* This thread's own ids and permitted capabilities, read once: each
 * ids_enter is undone by its ids_leave within the same write, and the
 * backend drops its privileges (privilege.c) before its engine starts,
 * so they stay what they were at this thread's first write.  Reading them
 * per write cost two to four syscalls of a microsecond each, as many as
 * the copy itself, on every batch of packets bound for a guest. */
struct thread_ids {
  int known, caps_known;
  uid_t euid;
  gid_t egid;
  struct __user_cap_data_struct caps[2];
};

static __thread struct thread_ids self_ids;

static const struct thread_ids *thread_ids(void)
{
  struct thread_ids *t = &self_ids;
  if (!t->known) {
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    t->caps_known = syscall(SYS_capget, &hdr, t->caps) == 0;
    t->euid = geteuid();
    t->egid = getegid();
    t->known = 1;
  }
  return t;
}

/* This thread's effective capabilities: all it is permitted, or those
 * less CAP_SYS_PTRACE.  (A backend run as root gets the same from the
 * kernel: its effective set empties as its euid leaves 0.) */
static int ptrace_cap(int on)
{
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  const struct thread_ids *self = thread_ids();
  if (!self->caps_known)
    return -1;
  memcpy(data, self->caps, sizeof(data));
  data[0].effective = data[0].permitted & (on ? ~0u : ~(1u << CAP_SYS_PTRACE));
  data[1].effective = data[1].permitted;
  return (int)syscall(SYS_capset, &hdr, data);
}

/* What ids_enter changed, for ids_leave to undo. */
enum { IDS_SWITCHED = 1, IDS_PTRACE_OFF = 2 };

/* This thread writes as the guest of ids uid/gid: it takes those ids (its
 * own kept as the saved ones, to come back to), and an unprivileged
 * backend (privilege.c: its uid changes leave its capabilities alone)
 * puts CAP_SYS_PTRACE off, even for a guest of its own ids: the kernel
 * must refuse what the guest itself could not do, such as writing into
 * the setuid program it exec'd (run as root, the kernel empties the
 * effective set as the euid leaves 0).  Root's guests are written as root:
 * root could write anywhere itself.  What changed (IDS_*), or -1 when the
 * backend may not (one of a user, without CAP_SETUID, serves that user's
 * guests only). */
static int ids_enter(uid_t uid, gid_t gid)
{
  const struct thread_ids *self = thread_ids();
  uid_t me = self->euid;
  int done = 0;
  if (me != 0 && uid != 0) {
    if (ptrace_cap(0) < 0)
      return -1;
    done |= IDS_PTRACE_OFF;
  }
  if (uid == me && gid == self->egid)
    return done;
  if (syscall(SYS_setresgid, gid, gid, -1) < 0 || syscall(SYS_setresuid, uid, uid, -1) < 0) {
    syscall(SYS_setresgid, self->egid, self->egid, -1);
    if (done & IDS_PTRACE_OFF)
      ptrace_cap(1);
    return -1;
  }
  return done | IDS_SWITCHED;
}

static void ids_leave(int done)
{
  if (done & IDS_SWITCHED) {
    const struct thread_ids *self = thread_ids(); /* kept as the saved ids by ids_enter */
    syscall(SYS_setresuid, self->euid, self->euid, -1);
    syscall(SYS_setresgid, self->egid, self->egid, -1);
  }
  if (done & IDS_PTRACE_OFF)
    ptrace_cap(1);
}

ssize_t guestmem_write(const struct guest_mem *g, const struct iovec *local, unsigned long nl,
                       const struct iovec *remote, unsigned long nr)
{
  char probe;
  if (g->ram)
    return ram_copy(g, local, nl, remote, nr, 1);
  if (g->mem_fd < 0 || nr == 0) {
    errno = ESRCH;
    return -1;
  }
  int done = ids_enter(g->uid, g->gid);
  if (done < 0) {
    errno = EPERM;
    return -1;
  }
  ssize_t n = process_vm_writev(g->pid, local, nl, remote, nr, 0);
  int e = errno;
  ids_leave(done);
  if (n > 0 && pread(g->mem_fd, &probe, 1, (off_t)(uintptr_t)remote[0].iov_base) != 1) {
    errno = ESRCH;
    return -1;
  }
  errno = e;
  return n;
}
