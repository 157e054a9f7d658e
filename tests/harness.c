/* harness.c - see harness.h. */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *harness_bin(const char *name)
{
  static char path[4096];
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n < 0)
    return name;
  exe[n] = 0;
  snprintf(path, sizeof(path), "%s/../bin/%s", dirname(exe), name);
  return path;
}

pid_t harness_backend_start(void)
{
  static char sock[128];
  snprintf(sock, sizeof(sock), "/tmp/myrixen-test-%d-%ld.sock", (int)getpid(), (long)time(NULL));
  setenv("MYRIXEN_SOCKET", sock, 1);
  const char *bin = harness_bin("myrixend");
  pid_t pid = fork();
  if (pid == 0) {
    if (!getenv("MYRIXEN_LOG"))
      setenv("MYRIXEN_LOG", "warn", 1);
    execl(bin, bin, "--socket", sock, (char *)NULL);
    perror("exec myrixend");
    _exit(127);
  }
  for (int i = 0; i < 500; i++) {
    struct stat st;
    if (stat(sock, &st) == 0)
      return pid;
    usleep(10000);
  }
  fprintf(stderr, "backend did not start\n");
  exit(1);
}

void harness_backend_stop(pid_t pid)
{
  kill(pid, SIGTERM);
  harness_wait(pid);
}

pid_t harness_guest(int (*fn)(int, void *), int idx, void *arg)
{
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0)
    _exit(fn(idx, arg));
  return pid;
}

int harness_wait(pid_t pid)
{
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void harness_fill(void *buf, uint64_t len, uint64_t seed)
{
  uint8_t *b = buf;
  for (uint64_t i = 0; i < len; i++)
    b[i] = harness_byte(seed, i);
}

int harness_verify(const void *buf, uint64_t len, uint64_t seed)
{
  const uint8_t *b = buf;
  for (uint64_t i = 0; i < len; i++)
    if (b[i] != harness_byte(seed, i)) {
      fprintf(stderr, "payload mismatch at byte %llu of %llu (seed %llu)\n",
              (unsigned long long)i, (unsigned long long)len, (unsigned long long)seed);
      return 0;
    }
  return 1;
}

int harness_main(int argc, char **argv, const struct harness_test *tests)
{
  int passed = 0, failed = 0;
  signal(SIGPIPE, SIG_IGN);
  for (const struct harness_test *t = tests; t->name; t++) {
    if (argc > 1 && !strstr(t->name, argv[1]))
      continue;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
      _exit(t->fn());
    int rc = harness_wait(pid);
    printf("%s %s\n", rc == 0 ? "ok  " : "FAIL", t->name);
    fflush(stdout);
    rc == 0 ? passed++ : failed++;
  }
  printf("%s: %d passed, %d failed\n", argv[0], passed, failed);
  return failed ? 1 : 0;
}
