/*
 * test_privilege.c - myrixend as an unprivileged user (--user nobody):
 * it keeps CAP_SYS_PTRACE, CAP_SETUID and CAP_SETGID and nothing else,
 * serves guests of other users than its own (large messages are pulled
 * out of one guest's memory and written into another's), and the control
 * socket's mode decides who may become a guest at all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>
#include <unistd.h>

#include "../harness.h"

#define BIG (1u << 20)
#define DATA 0xda7a
#define OTHER_UID 12345 /* a user that is neither root nor the backend's */
#define KEPT ((1ull << CAP_SYS_PTRACE) | (1ull << CAP_SETUID) | (1ull << CAP_SETGID))

/* A field of /proc/PID/status, as a number of the given base. */
static unsigned long long status_field(pid_t pid, const char *name, int base)
{
  char path[64], line[256];
  unsigned long long v = ~0ull;
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  CHECK(f);
  while (fgets(line, sizeof(line), f))
    if (!strncmp(line, name, strlen(name)) && line[strlen(name)] == ':')
      v = strtoull(line + strlen(name) + 1, NULL, base);
  fclose(f);
  return v;
}

/* A process of user uid, as one started by that user would be (a change
 * of ids leaves a process undumpable: its memory then is root's alone). */
static void become(uid_t uid)
{
  CHECK(setresgid(uid, uid, uid) == 0 && setresuid(uid, uid, uid) == 0);
  CHECK(prctl(PR_SET_DUMPABLE, 1) == 0);
}

/* Guest 1, of user *arg: sends a large message and a medium one. */
static int sender(int idx, void *arg)
{
  become(*(uid_t *)arg);
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  mx_endpoint_addr_t to = harness_connect(ep, 2);
  char *buf = malloc(BIG);
  harness_fill(buf, BIG, 41);
  harness_send(ep, to, buf, BIG, DATA);
  harness_fill(buf, 20000, 42);
  harness_send(ep, to, buf, 20000, DATA + 1);
  free(buf);
  mx_finalize();
  return 0;
}

/* Guest 2, of user *arg: takes both and checks every byte. */
static int receiver(int idx, void *arg)
{
  become(*(uid_t *)arg);
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  char *buf = malloc(BIG);
  mx_status_t st = harness_recv(ep, buf, BIG, DATA, ~0ull);
  CHECK(st.code == MX_STATUS_SUCCESS && st.xfer_length == BIG && harness_verify(buf, BIG, 41));
  st = harness_recv(ep, buf, BIG, DATA + 1, ~0ull);
  CHECK(st.code == MX_STATUS_SUCCESS && st.xfer_length == 20000 &&
        harness_verify(buf, 20000, 42));
  free(buf);
  mx_finalize();
  return 0;
}

/* One user's guest sends to another's, the backend being neither. */
static int run_pair(const char *datapath, uid_t from, uid_t to)
{
  setenv("MYRIXEN_DATAPATH", datapath, 1);
  pid_t r = harness_guest(receiver, 2, &to);
  usleep(100000);
  int rc = harness_wait(harness_guest(sender, 1, &from));
  return rc | harness_wait(r);
}

static int test_backend_as_nobody_serves_every_user(void)
{
  static const char *const opts[] = {"--user", "nobody", NULL};
  pid_t be = harness_backend_start_with(opts);
  unsigned long long eff = status_field(be, "CapEff", 16), prm = status_field(be, "CapPrm", 16);
  unsigned long long bnd = status_field(be, "CapBnd", 16), uid = status_field(be, "Uid", 10);
  fprintf(stderr, "backend: uid %llu, capabilities effective %llx permitted %llx bounding %llx\n",
          uid, eff, prm, bnd);
  CHECK(uid == 65534 && eff == KEPT && prm == KEPT && bnd == KEPT);
  int rc = run_pair("engine", OTHER_UID, 0);
  rc |= run_pair("engine", 0, OTHER_UID);
  rc |= run_pair("copy", OTHER_UID, 0);
  rc |= run_pair("bypass", 0, OTHER_UID);
  rc |= kill(be, 0) != 0;
  harness_backend_stop(be);
  unlink(getenv("MYRIXEN_SOCKET")); /* nobody could not remove root's file in /tmp */
  return rc;
}

static int locked_out(int idx, void *arg)
{
  (void)idx;
  (void)arg;
  become(OTHER_UID);
  mx_set_error_handler(MX_ERRORS_RETURN);
  CHECK(mx_init() != MX_SUCCESS); /* the socket is root's alone */
  return 0;
}

static int test_socket_mode_decides_who_is_a_guest(void)
{
  static const char *const opts[] = {"--user", "nobody", "--socket-mode", "0600", NULL};
  pid_t be = harness_backend_start_with(opts);
  int rc = harness_wait(harness_guest(locked_out, 1, NULL));
  rc |= kill(be, 0) != 0;
  harness_backend_stop(be);
  unlink(getenv("MYRIXEN_SOCKET"));
  return rc;
}

static const struct harness_test tests[] = {
    {"backend_as_nobody_serves_every_user", test_backend_as_nobody_serves_every_user},
    {"socket_mode_decides_who_is_a_guest", test_socket_mode_decides_who_is_a_guest},
    {NULL, NULL},
};

int main(int argc, char **argv) { return harness_main(argc, argv, tests); }
