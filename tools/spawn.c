/* spawn.c - see spawn.h. */
#include "spawn.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SPAWN_WAIT_TRIES 500 /* 10 ms each */
#define SPAWN_MAX 8          /* backends one program runs at once */

/* The sockets of the backends we started, so that stopping one also
 * removes the lock file it leaves by design (server.c: claim_socket).
 * The socket is private to us; nobody else will contend for it. */
static struct {
  pid_t pid;
  char sock[256];
} spawned[SPAWN_MAX];

static void remember(pid_t pid, const char *sock)
{
  for (int i = 0; i < SPAWN_MAX; i++) /* (a backend started again on its socket: its place) */
    if (spawned[i].pid <= 0 || !strcmp(spawned[i].sock, sock)) {
      spawned[i].pid = pid;
      snprintf(spawned[i].sock, sizeof(spawned[i].sock), "%s", sock);
      return;
    }
}

static void forget(pid_t pid)
{
  for (int i = 0; i < SPAWN_MAX; i++)
    if (spawned[i].pid == pid) {
      char lock[sizeof(spawned[i].sock) + 8];
      snprintf(lock, sizeof(lock), "%s.lock", spawned[i].sock);
      unlink(spawned[i].sock);
      unlink(lock);
      spawned[i].pid = 0;
    }
}

pid_t backend_spawn(const char *bin, const char *sock, const char *const *extra)
{
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    const char *level = getenv("MYRIXEN_LOG");
    setenv("MYRIXEN_LOG", level ? level : "warn", 1);
    const char *argv[32] = {bin, "--socket", sock};
    int n = 3;
    for (; extra && *extra && n < 31; extra++)
      argv[n++] = *extra;
    argv[n] = NULL;
    execv(bin, (char *const *)argv);
    perror("exec myrixend");
    _exit(127);
  }
  for (int i = 0; i < SPAWN_WAIT_TRIES; i++) {
    struct stat st;
    if (stat(sock, &st) == 0) {
      remember(pid, sock);
      return pid;
    }
    usleep(10000);
  }
  kill(pid, SIGKILL); /* it never listened: nothing of it stays behind */
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
  return -1;
}

int provider_path_setenv(void)
{
  char path[4096];
  if (getenv("FI_PROVIDER_PATH"))
    return 0;
  if (beside_self("../lib/libfabric", path, sizeof(path)) < 0)
    return -1;
  return setenv("FI_PROVIDER_PATH", path, 1);
}

int mpi_bench_path(char *out, size_t len)
{
  static const char *const where[] = {"../mpi/mpi_bench", "../lib/myrixen/mpi_bench"};
  for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++)
    if (beside_self(where[i], out, len) == 0 && access(out, X_OK) == 0)
      return 0;
  return -1;
}

int beside_self(const char *rel, char *out, size_t len)
{
  char exe[2048];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0)
    return -1;
  exe[n] = 0;
  char *slash = strrchr(exe, '/');
  if (!slash)
    return -1;
  *slash = 0;
  return (size_t)snprintf(out, len, "%s/%s", exe, rel) < len ? 0 : -1;
}

pid_t backend_spawn_private(const char *tag)
{
  static char sock[96], exe[4096];
  snprintf(sock, sizeof(sock), "/tmp/myrixen-%s-%d.sock", tag, (int)getpid());
  if (beside_self("myrixend", exe, sizeof(exe)) < 0)
    return -1;
  setenv("MYRIXEN_SOCKET", sock, 1);
  return backend_spawn(exe, sock, NULL);
}

void backend_stop(pid_t pid)
{
  if (pid <= 0)
    return;
  kill(pid, SIGTERM);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
  forget(pid);
}
