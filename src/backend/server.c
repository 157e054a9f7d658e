/*
 * server.c - the backend's control loop: the Unix socket guests and tools
 * connect to, their mailboxes, the engine's completions and the signals
 * that stop it.  One thread, poll(2) over all of them; each message goes
 * to control.c.  A message that is not even framed right is answered
 * here, counted, and the backend goes on serving.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/doorbell.h"
#include "../../include/myriexpress.h"
#include "../common/mxerror.h"
#include "../common/log.h"
#include "backend.h"

static int accept_guest(struct backend *be, int lsock)
{
  int s = accept4(lsock, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (s < 0)
    return -errno;
  struct ucred cr = {0};
  socklen_t l = sizeof(cr);
  getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &l);
  int mine = 0;
  for (int i = 0; i < BE_MAX_GUESTS; i++)
    mine += be->guests[i].in_use && be->guests[i].pid == cr.pid;
  if (mine >= BE_CONNS_PER_PROCESS) {
    /* one process does not take the table (or every endpoint id) */
    log_warn("process %d has %d connections already: refusing one", (int)cr.pid, mine);
    be->conns_refused++;
    close(s);
    return 0;
  }
  if (guest_new(be, s, &cr))
    return 0;
  log_warn("too many guests (%d): refusing one", BE_MAX_GUESTS);
  be->conns_refused++;
  close(s);
  return 0;
}

/* The directory of path, made if missing (/run/myrixen without systemd's
 * RuntimeDirectory): the socket and its lock go there. */
static void make_parent_dir(const char *path)
{
  char dir[PATH_MAX];
  snprintf(dir, sizeof(dir), "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir) {
    *slash = 0;
    mkdir(dir, 0755);
  }
}

/* The control socket, listening, at path; it appears there (a rename)
 * only once it listens and has its group and mode, so that a client that
 * sees the file can connect, and none connects to it unguarded. */
static int listen_socket(const char *path, const char *owner, const char *group,
                         unsigned mode)
{
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  char tmp[sizeof(sa.sun_path)];
  if (strlen(path) + 5 >= sizeof(sa.sun_path))
    return -ENAMETOOLONG;
  snprintf(tmp, sizeof(tmp), "%s.new", path);
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", tmp);
  make_parent_dir(path);
  int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0)
    return -errno;
  unlink(tmp);
  char err[256];
  if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 64) < 0 ||
      privilege_socket_access(tmp, owner, group, mode, err, sizeof(err)) < 0 || rename(tmp, path) < 0) {
    int e = -errno;
    close(s);
    unlink(tmp);
    return e ? e : -EPERM;
  }
  return s;
}

/* One backend per socket: a live backend holds an exclusive lock on
 * PATH.lock (with its pid in it) for as long as it runs, so a second one
 * refuses instead of taking the socket and orphaning the first one's
 * guests.  A backend that died released its lock with its descriptors:
 * its socket is stale and is taken over.  The lock file stays (removing it
 * would let two newcomers lock two different files). */
static int claim_socket(const char *path)
{
  char lock[PATH_MAX];
  if (snprintf(lock, sizeof(lock), "%s.lock", path) >= (int)sizeof(lock))
    return -ENAMETOOLONG;
  make_parent_dir(path);
  /* Not through a link, and ours alone: in a directory others may write,
   * a link planted there would have us truncate its target, and a lock
   * others may open would let them hold it against our next start. */
  int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
      ((st.st_mode & 077) && fchmod(fd, 0600) < 0)) {
    log_err("cannot use %s as our lock: %s", lock,
            fd < 0 ? strerror(errno) : "not a regular file of ours");
    if (fd >= 0)
      close(fd);
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    char pid[32] = "";
    ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
    pid[n > 0 ? n : 0] = 0;
    pid[strcspn(pid, "\n")] = 0;
    log_err("a backend already serves %s, pid %s: not starting a second one", path,
            pid[0] ? pid : "unknown");
    close(fd);
    return -1;
  }
  char pid[32];
  int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
  if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n)
    log_warn("cannot write our pid into %s: %s", lock, strerror(errno));
  return fd; /* held, and never closed, until we exit */
}

int server_listen(struct backend *be)
{
  if (claim_socket(be->cfg.socket_path) < 0)
    return -1;
  be->lsock = listen_socket(be->cfg.socket_path, be->cfg.socket_owner, be->cfg.socket_group,
                           be->cfg.socket_mode);
  if (be->lsock < 0) {
    log_err("cannot listen on %s (group %s, mode %o): %s", be->cfg.socket_path,
            be->cfg.socket_group ? be->cfg.socket_group : "-", be->cfg.socket_mode,
            strerror(-be->lsock));
    return -1;
  }
  return 0;
}

/* Tell every guest the backend is going: their libraries fail pending
 * requests with MX_STATUS_ENDPOINT_CLOSED instead of waiting forever. */
static void shutdown_guests(struct backend *be)
{
  for (int i = 0; i < BE_MAX_GUESTS; i++) {
    struct be_guest *g = &be->guests[i];
    if (g->in_use && g->region)
      atomic_store(&((struct region_hdr *)g->region)->backend_state, BACKEND_STOPPED);
  }
  engine_wake_all(be->engine);
  for (int i = 0; i < BE_MAX_GUESTS; i++)
    if (be->guests[i].in_use)
      guest_reclaim(be, &be->guests[i]);
}

/* What the loop polls: fixed entries first, then each guest's socket and
 * mailbox kick (map: guest i's socket is i, its kick BE_MAX_GUESTS + i). */
enum { POLL_LISTEN, POLL_SIGNAL, POLL_ENGINE, POLL_FIXED };
#define POLL_MAX (POLL_FIXED + 2 * BE_MAX_GUESTS)

static int poll_set(struct backend *be, struct pollfd *pfd, int *map, const int fixed[POLL_FIXED])
{
  int n = 0;
  for (; n < POLL_FIXED; n++) {
    pfd[n] = (struct pollfd){.fd = fixed[n], .events = POLLIN};
    map[n] = -1;
  }
  for (int i = 0; i < BE_MAX_GUESTS; i++) {
    if (!be->guests[i].in_use)
      continue;
    pfd[n] = (struct pollfd){.fd = be->guests[i].sock, .events = POLLIN};
    map[n++] = i;
    if (be->guests[i].mbox_kick >= 0) {
      pfd[n] = (struct pollfd){.fd = be->guests[i].mbox_kick, .events = POLLIN};
      map[n++] = BE_MAX_GUESTS + i;
    }
  }
  return n;
}

/* A guest's socket or mailbox woke the loop. */
static void serve_guest(struct backend *be, const struct pollfd *pfd, int map)
{
  if (map >= BE_MAX_GUESTS) {
    struct be_guest *g = &be->guests[map - BE_MAX_GUESTS];
    if (g->in_use && g->mbox_kick == pfd->fd)
      mailbox_serve(be, g); /* (not if its socket closed just before) */
    return;
  }
  struct be_guest *g = &be->guests[map];
  if (!g->in_use || g->sock != pfd->fd)
    return;
  if ((pfd->revents & POLLIN) && control_receive(be, g) == 0)
    return;
  if (pfd->revents & (POLLHUP | POLLERR | POLLIN))
    guest_reclaim(be, g);
}

static int signal_fd(void)
{
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  return signalfd(-1, &mask, SFD_CLOEXEC);
}

/* Connections that said no hello in time hold a slot for nothing: closed.
 * Returns how long the loop may sleep before the next one is due (ms). */
static int close_silent(struct backend *be)
{
  uint64_t now = clock_now_ns(), next = UINT64_MAX;
  for (int i = 0; i < BE_MAX_GUESTS; i++) {
    struct be_guest *g = &be->guests[i];
    if (!g->in_use || g->role)
      continue;
    uint64_t due = g->accepted_ns + BE_HELLO_TIMEOUT_NS;
    if (now >= due) {
      log_warn("guest %u (pid %d) said no hello in %llu s: closed", g->id, (int)g->pid,
               BE_HELLO_TIMEOUT_NS / 1000000000ull);
      be->conns_silent++;
      guest_reclaim(be, g);
    } else if (due < next) {
      next = due;
    }
  }
  return next == UINT64_MAX ? -1 : (int)((next - now) / 1000000 + 1);
}

/* VMs cannot kick: their mailboxes are polled while a VM is admitted,
 * every VM_POLL_MS while they talk (a request in the last VM_BUSY_MS),
 * every VM_IDLE_POLL_MS otherwise; and their regions' beats are bumped (a
 * VM learns that the backend died by its beat standing still).  Returns
 * how long the loop may sleep (ms), or -1 with no VM. */
#define VM_POLL_MS 1
#define VM_IDLE_POLL_MS 10
#define VM_BUSY_MS 200
static int serve_vms(struct backend *be)
{
  static uint64_t last_beat, last_request;
  uint64_t now = clock_now_ns();
  int beat = now - last_beat >= REGION_BEAT_MS * 1000000ull, vms = 0;
  if (beat)
    last_beat = now;
  for (int i = 0; i < BE_MAX_GUESTS; i++) {
    struct be_guest *g = &be->guests[i];
    if (!g->in_use || g->role != CTL_ROLE_VM || !g->region)
      continue;
    vms++;
    if (beat) {
      atomic_fetch_add(&((struct region_hdr *)g->region)->beat, 1);
      guest_vm_check(be, g, now);
    }
    if (mailbox_serve(be, g))
      last_request = now;
  }
  if (!vms)
    return -1;
  return now - last_request < VM_BUSY_MS * 1000000ull ? VM_POLL_MS : VM_IDLE_POLL_MS;
}

static int min_timeout(int a, int b)
{
  return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

int server_run(struct backend *be)
{
  struct pollfd pfd[POLL_MAX];
  int map[POLL_MAX];
  int lsock = be->lsock;
  int fixed[POLL_FIXED] = {lsock, signal_fd(), engine_completion_fd(be->engine)};
  log_info("listening on %s (nic %012llx, host %s)", be->cfg.socket_path,
           (unsigned long long)be->cfg.eng.nic_id, be->cfg.eng.hostname);
  for (;;) {
    int n = poll_set(be, pfd, map, fixed);
    int ms = min_timeout(min_timeout(close_silent(be), serve_vms(be)), endpoint_lanes_expire(be));
    if (poll(pfd, (nfds_t)n, ms) < 0) {
      if (errno == EINTR)
        continue;
      log_err("poll: %s", strerror(errno));
      break;
    }
    if (pfd[POLL_SIGNAL].revents) {
      struct signalfd_siginfo si;
      if (read(fixed[POLL_SIGNAL], &si, sizeof(si)) > 0)
        log_info("signal %u: shutting down", si.ssi_signo);
      break;
    }
    if (pfd[POLL_ENGINE].revents)
      control_completions(be);
    for (int k = POLL_FIXED; k < n; k++)
      if (pfd[k].revents)
        serve_guest(be, &pfd[k], map[k]);
    if ((pfd[POLL_LISTEN].revents & POLLIN) && accept_guest(be, lsock) < 0 &&
        (errno == EMFILE || errno == ENFILE)) {
      /* out of descriptors: the pending connection stays readable, and
       * polling again at once would spin; guests that leave free some */
      log_warn("out of file descriptors: a connection waits");
      usleep(10000);
    }
  }
  shutdown_guests(be);
  close(lsock);
  unlink(be->cfg.socket_path);
  close(fixed[POLL_SIGNAL]);
  return 0;
}
