/*
 * container.c - `myrixen run --container -- CMD ARGS...`: a guest in a
 * container of its own.  CMD runs in new user, mount, PID, network and UTS
 * namespaces: it is PID 1 of its PID namespace, has only a loopback
 * interface, is root of its user namespace (mapped to the caller), and
 * sees the host's files but for /run and /tmp, which are empty tmpfs but
 * for the backend's socket, bind-mounted at /run/myrixen/backend.sock, and
 * the directories given with --bind (at their own paths: a program built
 * under /tmp runs there too).
 * It reaches the backend, and through it every other guest, as any guest
 * does; the backend sees a process of another PID namespace and calls it a
 * container (myrixen info).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/common/ctl.h"
#include "tool.h"

#define CONTAINER_SOCKET "/run/myrixen/backend.sock"

static int write_file(const char *path, const char *text)
{
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = write(fd, text, strlen(text));
  close(fd);
  return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Map our ids onto root inside the new user namespace. */
static int map_ids(uid_t uid, gid_t gid)
{
  char m[64];
  snprintf(m, sizeof(m), "0 %u 1\n", (unsigned)uid);
  if (write_file("/proc/self/uid_map", m) < 0)
    return -1;
  if (write_file("/proc/self/setgroups", "deny") < 0 && errno != ENOENT)
    return -1;
  snprintf(m, sizeof(m), "0 %u 1\n", (unsigned)gid);
  return write_file("/proc/self/gid_map", m);
}

#define FAIL(what) do { fprintf(stderr, "myrixen run --container: %s: %s\n", what, strerror(errno)); _exit(126); } while (0)

#define MAX_BINDS 8
struct bind {
  char path[PATH_MAX];
  int fd;                       /* O_PATH, opened before /tmp and /run are covered */
};

/* mkdir -p path (in the container's fresh tmpfs). */
static void make_path(const char *path)
{
  char p[PATH_MAX];
  if ((size_t)snprintf(p, sizeof(p), "%s", path) >= sizeof(p))
    return;
  for (char *c = p + 1; *c; c++)
    if (*c == '/') {
      *c = 0;
      mkdir(p, 0755);
      *c = '/';
    }
  mkdir(p, 0755);
}

/* PID 1 of the container: its file system, then the command. */
static void container_init(const char *stage, const char *name, const struct bind *binds,
                           int nbinds, char **cmd)
{
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    FAIL("private mounts");
  if (mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755") < 0)
    FAIL("a tmpfs on /run");
  if (mkdir("/run/myrixen", 0755) < 0)
    FAIL("/run/myrixen");
  int fd = open(CONTAINER_SOCKET, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    FAIL(CONTAINER_SOCKET);
  close(fd);
  if (mount(stage, CONTAINER_SOCKET, NULL, MS_MOVE, NULL) < 0)
    FAIL("the backend's socket into the container");
  if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
    FAIL("a tmpfs on /tmp");
  /* --bind: the host's directories the command needs, where /tmp or /run
   * now hide them (elsewhere they are visible as they are) */
  for (int i = 0; i < nbinds; i++) {
    char from[64];
    snprintf(from, sizeof(from), "/proc/self/fd/%d", binds[i].fd);
    make_path(binds[i].path);
    if (mount(from, binds[i].path, NULL, MS_BIND | MS_REC, NULL) < 0)
      FAIL(binds[i].path);
    close(binds[i].fd);
  }
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
    FAIL("/proc of the new PID namespace");
  if (sethostname(name, strlen(name)) < 0)
    FAIL("hostname");
  setenv("MYRIXEN_SOCKET", CONTAINER_SOCKET, 1);
  execvp(cmd[0], cmd);
  fprintf(stderr, "myrixen run --container: %s: %s\n", cmd[0], strerror(errno));
  _exit(127);
}

int cmd_run(int argc, char **argv)
{
  const char *name = "container";
  static struct bind binds[MAX_BINDS];
  int i, container = 0, nbinds = 0;
  for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
    if (!strcmp(argv[i], "--container")) {
      container = 1;
    } else if (!strcmp(argv[i], "--name") && i + 1 < argc) {
      name = argv[++i];
    } else if (!strcmp(argv[i], "--bind") && i + 1 < argc && nbinds < MAX_BINDS) {
      struct bind *b = &binds[nbinds];
      if (!realpath(argv[++i], b->path)) {
        fprintf(stderr, "myrixen run: --bind %s: %s\n", argv[i], strerror(errno));
        return 2;
      }
      nbinds++;
    } else {
      break;
    }
  }
  if (!container || i >= argc - 1 || strcmp(argv[i], "--")) {
    fprintf(stderr, "usage: myrixen run --container [--name NAME] [--bind DIR]... -- CMD ARGS...\n");
    return 2;
  }
  char **cmd = argv + i + 1;
  char sock[PATH_MAX], stage[64];
  if (!realpath(ctl_socket_path(), sock)) {
    fprintf(stderr, "myrixen run: no backend socket at %s\n", ctl_socket_path());
    return 1;
  }
  /* The socket is bound (in our mount namespace) onto a file of the
   * host's /tmp, then moved into the container's /run: its own /tmp and
   * /run hide everything else. */
  snprintf(stage, sizeof(stage), "/tmp/myrixen-container-%d.sock", (int)getpid());
  int fd = open(stage, O_CREAT | O_WRONLY | O_CLOEXEC | O_EXCL, 0600);
  if (fd < 0) {
    fprintf(stderr, "myrixen run: %s: %s\n", stage, strerror(errno));
    return 1;
  }
  close(fd);
  /* the container's /tmp covers the host's in our mount namespace too:
   * the stage file is removed through this */
  int tmp = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  uid_t uid = getuid();
  gid_t gid = getgid();
  int rc = 1;
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS) < 0 ||
      map_ids(uid, gid) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
      mount(sock, stage, NULL, MS_BIND, NULL) < 0) {
    fprintf(stderr, "myrixen run --container: namespaces: %s\n", strerror(errno));
    unlink(stage);
    close(tmp);
    return 1;
  }
  /* (opened in the new mount namespace: a bind's source must be its own) */
  for (int b = 0; b < nbinds; b++)
    if ((binds[b].fd = open(binds[b].path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
      fprintf(stderr, "myrixen run --container: --bind %s: %s\n", binds[b].path, strerror(errno));
      unlinkat(tmp, strrchr(stage, '/') + 1, 0);
      return 1;
    }
  pid_t pid = fork(); /* PID 1 of the new PID namespace */
  if (pid == 0)
    container_init(stage, name, binds, nbinds, cmd);
  if (pid > 0) {
    signal(SIGINT, SIG_IGN); /* the container's init has it (a terminal's ^C reaches both) */
    int ws;
    if (waitpid(pid, &ws, 0) == pid)
      rc = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
  }
  unlinkat(tmp, strrchr(stage, '/') + 1, 0);
  close(tmp);
  return rc;
}
