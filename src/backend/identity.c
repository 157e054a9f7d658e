/*
 * identity.c - who a guest is, fixed when it connects and is admitted:
 * the process that connected (a pidfd: a pid can be recycled, a pidfd
 * cannot), the credentials it connected with, and its memory, as the
 * /proc/PID/mem of that process's address space at admission.  The engine
 * copies grants only through that descriptor: after the guest exits, or
 * execs another program, it reaches nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../common/log.h"
#include "backend.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5; Debian 12's headers predate it */
#endif

int identity_pidfd(int sock, pid_t pid)
{
  int fd = -1;
  socklen_t l = sizeof(fd);
  if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &fd, &l) == 0 && fd >= 0)
    return fd;
  return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* A small /proc file into buf (NUL-terminated), read without the heap:
 * these run for every channel and admission.  Its length, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, buf, cap - 1);
  close(fd);
  if (n < 0)
    return -1;
  buf[n] = 0;
  return n;
}

/* The value after "key" at the start of a line of text, or NULL. */
static const char *line_of(const char *text, const char *key)
{
  size_t k = strlen(key);
  for (const char *p = text; p; p = strchr(p, '\n')) {
    p += *p == '\n';
    if (!strncmp(p, key, k))
      return p + k;
  }
  return NULL;
}

/* True while the process behind pidfd runs (it polls readable once gone). */
static int pidfd_alive(int pidfd)
{
  struct pollfd p = {.fd = pidfd, .events = POLLIN};
  return pidfd >= 0 && poll(&p, 1, 0) == 0;
}

/* True when every one of the process's ids (real, effective, saved, fs)
 * is still the one it connected with: it did not exec a setuid or setgid
 * program since, and gained nothing the backend could lend it. */
static int ids_unchanged(pid_t pid, uid_t uid, gid_t gid)
{
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  char text[4096];
  const char *u, *g;
  unsigned long a, b, c, d;
  int ok_uid = 0, ok_gid = 0;
  if (read_small(path, text, sizeof(text)) < 0)
    return 0;
  if ((u = line_of(text, "Uid:")) && sscanf(u, "%lu %lu %lu %lu", &a, &b, &c, &d) == 4)
    ok_uid = a == uid && b == uid && c == uid && d == uid;
  if ((g = line_of(text, "Gid:")) && sscanf(g, "%lu %lu %lu %lu", &a, &b, &c, &d) == 4)
    ok_gid = a == gid && b == gid && c == gid && d == gid;
  return ok_uid && ok_gid;
}

/* The pidfd's process as /proc names it (the pid namespace of the /proc
 * mount, which need not be ours); 0 when /proc cannot see it. */
static pid_t proc_pid_of(int pidfd)
{
  char path[64], text[1024];
  long pid = 0;
  snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
  const char *v;
  if (pidfd < 0 || read_small(path, text, sizeof(text)) < 0)
    return 0;
  if ((v = line_of(text, "Pid:")))
    sscanf(v, "%ld", &pid);
  return pid > 0 ? (pid_t)pid : 0;
}

int identity_unchanged(const struct be_guest *g)
{
  pid_t pid = proc_pid_of(g->pidfd);
  return pid && pid == g->pid && pidfd_alive(g->pidfd) && ids_unchanged(pid, g->uid, g->gid);
}

int identity_netns_ours(const struct be_guest *g)
{
  char path[64];
  struct stat mine, theirs;
  pid_t pid = proc_pid_of(g->pidfd);
  snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
  /* (a namespace is its device and inode) */
  return pid && stat("/proc/self/ns/net", &mine) == 0 && stat(path, &theirs) == 0 &&
         mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino && identity_unchanged(g);
}

uint64_t identity_caps(const struct be_guest *g)
{
  char path[64];
  unsigned long long caps = ~0ull; /* unknown: as if it held them all */
  pid_t pid = proc_pid_of(g->pidfd);
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  char text[4096];
  const char *v;
  if (!pid || read_small(path, text, sizeof(text)) < 0)
    return caps;
  if ((v = line_of(text, "CapPrm:")))
    sscanf(v, "%llx", &caps);
  return caps;
}

int identity_open_memory(struct be_guest *g)
{
  char path[64];
  pid_t pid = proc_pid_of(g->pidfd);
  if (!pid)
    return -ESRCH;
  snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
  /* Opened as the guest (file system ids: this thread's alone): the file
   * is its own, so a backend without CAP_DAC_OVERRIDE (--user) may open
   * it, and the kernel refuses what the guest could not open itself. */
  uid_t my_fsuid = (uid_t)setfsuid((uid_t)-1);
  gid_t my_fsgid = (gid_t)setfsgid((gid_t)-1);
  setfsgid(g->gid);
  setfsuid(g->uid);
  int fd = open(path, O_RDWR | O_CLOEXEC);
  int err = errno;
  setfsuid(my_fsuid);
  setfsgid(my_fsgid);
  if (fd < 0)
    return -err;
  /* Checked after the open: the descriptor is bound to the address space
   * of whatever process had the pid then.  It is the one that connected
   * if that one still lives (its pid cannot have changed hands), and it is
   * no more privileged than it connected if its ids are unchanged (an
   * exec after the open leaves the descriptor on the old image). */
  if (!pidfd_alive(g->pidfd) || !ids_unchanged(pid, g->uid, g->gid)) {
    log_warn("guest %u (pid %d) is not the process that connected, or changed its ids",
             g->id, (int)g->pid);
    close(fd);
    return -EPERM;
  }
  return fd;
}
