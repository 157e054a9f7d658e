/* harness.c - see harness.h. */
#define _GNU_SOURCE
#include "harness.h"

#include "../tools/spawn.h"

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <string.h>
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
  return harness_backend_start_with(NULL);
}

pid_t harness_backend_start_with(const char *const *options)
{
  static char sock[128];
  snprintf(sock, sizeof(sock), "/tmp/myrixen-test-%d-%ld.sock", (int)getpid(), (long)time(NULL));
  setenv("MYRIXEN_SOCKET", sock, 1);
  pid_t pid = backend_spawn(harness_bin("myrixend"), sock, options);
  if (pid < 0) {
    fprintf(stderr, "backend did not start\n");
    exit(1);
  }
  return pid;
}

mx_endpoint_t harness_open(uint32_t eid)
{
  mx_endpoint_t ep;
  CHECK_MX(mx_init());
  CHECK_MX(mx_open_endpoint(0, eid, HARNESS_KEY, NULL, 0, &ep));
  return ep;
}

mx_endpoint_addr_t harness_connect(mx_endpoint_t ep, uint32_t eid)
{
  uint64_t nic, board_nic;
  mx_endpoint_addr_t a;
  char host[MX_MAX_HOSTNAME_LEN];
  CHECK(gethostname(host, sizeof(host)) == 0);
  CHECK_MX(mx_hostname_to_nic_id(host, &nic));
  CHECK_MX(mx_board_number_to_nic_id(0, &board_nic));
  CHECK(nic == board_nic);
  CHECK_MX(mx_connect(ep, nic, eid, HARNESS_KEY, 10000, &a));
  return a;
}

void harness_send(mx_endpoint_t ep, mx_endpoint_addr_t to, void *buf, uint32_t len, uint64_t match)
{
  mx_segment_t s = {buf, len};
  mx_request_t r;
  mx_status_t st;
  uint32_t res;
  CHECK_MX(mx_isend(ep, &s, 1, to, match, NULL, &r));
  CHECK_MX(mx_wait(ep, &r, HARNESS_WAIT_MS, &st, &res));
  CHECK(res == 1 && st.code == MX_STATUS_SUCCESS);
}

mx_status_t harness_recv(mx_endpoint_t ep, void *buf, uint32_t len, uint64_t match, uint64_t mask)
{
  mx_segment_t s = {buf, len};
  mx_request_t r;
  mx_status_t st;
  uint32_t res;
  CHECK_MX(mx_irecv(ep, &s, 1, match, mask, NULL, &r));
  CHECK_MX(mx_wait(ep, &r, HARNESS_WAIT_MS, &st, &res));
  CHECK(res == 1);
  return st;
}

void harness_backend_stop(pid_t pid)
{
  backend_stop(pid);
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
    if (pid == 0) {
      setpgid(0, 0); /* the test, its backend and its guests: one group */
      _exit(t->fn());
    }
    setpgid(pid, pid);
    int rc = harness_wait(pid);
    /* A test that failed half-way leaves its backend and guests behind:
     * they go with it, rather than hold the runner's output open. */
    kill(-pid, SIGKILL);
    printf("%s %s\n", rc == 0 ? "ok  " : "FAIL", t->name);
    fflush(stdout);
    rc == 0 ? passed++ : failed++;
  }
  printf("%s: %d passed, %d failed\n", argv[0], passed, failed);
  return failed ? 1 : 0;
}
