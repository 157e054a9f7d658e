/*
 * test_restart.c - guests and backends that die.
 *
 * The backend killed (or stopped) under live guests: their pending
 * requests end with MX_STATUS_ENDPOINT_CLOSED, nothing hangs, and once a
 * backend is back on the same socket a new mx_open_endpoint works in the
 * same program, which then talks again (every payload checked).
 *
 * Thousands of guest lifetimes, some killed at random points: the backend
 * keeps no descriptor, region or memory of them (/proc), and a guest that
 * attaches and detaches a thousand times keeps none either.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../tools/spawn.h"
#include "../harness.h"

#define SENDER 1
#define RECEIVER 2
#define BIG (1u << 20)
#define DATA 0xda7a
#define UNTAKEN 0x7e7e  /* the sender's large send: the receiver never asks for it */
#define UNSENT 0x7e7f   /* the receiver's receive: nobody sends it */
#define ROUNDS 20

static int ready[2]; /* guests -> test: their requests are pending */

static void exchange(mx_endpoint_t ep, int sending, uint64_t seed)
{
  static char buf[BIG];
  uint32_t sizes[] = {8, 20000, BIG};
  for (int i = 0; i < ROUNDS; i++) {
    uint32_t len = sizes[i % 3];
    if (sending) {
      mx_endpoint_addr_t to = harness_connect(ep, RECEIVER);
      harness_fill(buf, len, seed + (uint64_t)i);
      harness_send(ep, to, buf, len, DATA + (uint64_t)i);
    } else {
      mx_status_t st = harness_recv(ep, buf, len, DATA + (uint64_t)i, ~0ull);
      CHECK(st.code == MX_STATUS_SUCCESS && st.xfer_length == len);
      CHECK(harness_verify(buf, len, seed + (uint64_t)i));
    }
  }
}

/* Both guests: talk, leave a request pending, lose the backend, open
 * again on the one that comes back, talk again. */
static int survivor(int idx, void *arg)
{
  (void)arg;
  int sending = idx == SENDER;
  static char buf[BIG];
  mx_set_error_handler(MX_ERRORS_RETURN);
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  exchange(ep, sending, 100);
  mx_request_t pending;
  mx_segment_t s = {buf, BIG};
  if (sending) /* a large send nobody takes: its pull never comes */
    CHECK_MX(mx_isend(ep, &s, 1, harness_connect(ep, RECEIVER), UNTAKEN, NULL, &pending));
  else
    CHECK_MX(mx_irecv(ep, &s, 1, UNSENT, ~0ull, NULL, &pending));
  CHECK(write(ready[1], "r", 1) == 1);
  mx_status_t st = {0};
  uint32_t result = 0;
  if (sending) { /* one only polls (it never sleeps on the socket), one waits */
    time_t give_up = time(NULL) + 20;
    while (!result && time(NULL) < give_up)
      CHECK_MX(mx_test(ep, &pending, &st, &result));
  } else {
    CHECK_MX(mx_wait(ep, &pending, 20000, &st, &result));
  }
  if (!(result == 1 && st.code == MX_STATUS_ENDPOINT_CLOSED))
    fprintf(stderr, "guest %d: result %u, status %d (%s)\n", idx, result, (int)st.code, mx_strstatus(st.code));
  CHECK(result == 1 && st.code == MX_STATUS_ENDPOINT_CLOSED); /* told, not hung */
  mx_endpoint_t again;
  mx_return_t r = MX_NO_DRIVER;
  for (int tries = 0; tries < 200 && r != MX_SUCCESS; tries++) {
    r = mx_open_endpoint(0, (uint32_t)idx, HARNESS_KEY, NULL, 0, &again);
    if (r != MX_SUCCESS)
      usleep(50000); /* not back yet */
  }
  CHECK_MX(r);
  exchange(again, sending, 200);
  CHECK_MX(mx_close_endpoint(ep)); /* the old one, of the backend that went */
  mx_finalize();
  return 0;
}

static int backend_lost(int sig)
{
  CHECK(pipe(ready) == 0);
  pid_t be = harness_backend_start();
  const char *sock = getenv("MYRIXEN_SOCKET");
  setenv("MYRIXEN_DATAPATH", "engine", 1);
  pid_t r = harness_guest(survivor, RECEIVER, NULL);
  pid_t s = harness_guest(survivor, SENDER, NULL);
  char c;
  CHECK(read(ready[0], &c, 1) == 1 && read(ready[0], &c, 1) == 1);
  usleep(100000);
  kill(be, sig);
  waitpid(be, NULL, 0);
  usleep(300000); /* the guests find it gone, and try to open meanwhile */
  be = backend_spawn(harness_bin("myrixend"), sock, NULL); /* on the same socket */
  CHECK(be > 0);
  int rc = harness_wait(s);
  rc |= harness_wait(r);
  rc |= kill(be, 0) != 0;
  harness_backend_stop(be);
  return rc;
}

static int test_backend_killed_under_live_guests(void) { return backend_lost(SIGKILL); }
static int test_backend_stopped_under_live_guests(void) { return backend_lost(SIGTERM); }

/* --- lifetimes ---------------------------------------------------------- */

static int count_fds(pid_t pid)
{
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
  DIR *d = opendir(path);
  int n = 0;
  CHECK(d);
  while (readdir(d))
    n++;
  closedir(d);
  return n;
}

static long status_kb(pid_t pid, const char *field)
{
  char path[64], line[256];
  long v = -1;
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  CHECK(f);
  while (fgets(line, sizeof(line), f))
    if (!strncmp(line, field, strlen(field)))
      v = atol(line + strlen(field) + 1);
  fclose(f);
  return v;
}

/* Regions mapped in pid's address space. */
static int regions_mapped(pid_t pid)
{
  char path[64], line[512];
  int n = 0;
  snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
  FILE *f = fopen(path, "r");
  CHECK(f);
  while (fgets(line, sizeof(line), f))
    n += strstr(line, "myrixen-region") != NULL;
  fclose(f);
  return n;
}

/* One lifetime: attach, open, say something to the resident receiver,
 * leave (or be killed by the test somewhere on the way). */
static int short_life(int idx, void *arg)
{
  (void)arg;
  mx_set_error_handler(MX_ERRORS_RETURN);
  if (mx_init() != MX_SUCCESS)
    return 0; /* refused while the table was full of the dying: fine */
  mx_endpoint_t ep;
  if (mx_open_endpoint(0, MX_ANY_ENDPOINT, HARNESS_KEY, NULL, 0, &ep) == MX_SUCCESS) {
    mx_endpoint_addr_t to;
    uint64_t nic;
    char host[MX_MAX_HOSTNAME_LEN];
    gethostname(host, sizeof(host));
    if (mx_hostname_to_nic_id(host, &nic) == MX_SUCCESS &&
        mx_connect(ep, nic, RECEIVER, HARNESS_KEY, 2000, &to) == MX_SUCCESS) {
      char b[64] = "a short life";
      mx_segment_t s = {b, idx % 2 ? 64 : 8};
      mx_request_t r;
      mx_status_t st;
      uint32_t res;
      if (mx_isend(ep, &s, 1, to, DATA, NULL, &r) == MX_SUCCESS)
        mx_wait(ep, &r, 2000, &st, &res);
    }
  }
  mx_finalize();
  return 0;
}

static int resident(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  char b[64];
  for (;;) { /* takes whatever comes, until killed */
    mx_segment_t s = {b, sizeof(b)};
    mx_request_t r;
    mx_status_t st;
    uint32_t res;
    CHECK_MX(mx_irecv(ep, &s, 1, 0, 0, NULL, &r));
    CHECK_MX(mx_wait(ep, &r, MX_INFINITE, &st, &res));
  }
  return 0;
}

#define LIFETIMES 1000

static int test_guest_lifetimes_leak_nothing(void)
{
  pid_t be = harness_backend_start();
  pid_t res = harness_guest(resident, RECEIVER, NULL);
  usleep(200000);
  int fds0 = count_fds(be);
  long rss0 = status_kb(be, "VmRSS:");
  srand(7);
  int killed = 0;
  for (int i = 0; i < LIFETIMES; i++) {
    pid_t g = harness_guest(short_life, i, NULL);
    if (i % 4 == 0) { /* killed somewhere on the way */
      usleep((useconds_t)(rand() % 3000));
      kill(g, SIGKILL);
      killed++;
    }
    waitpid(g, NULL, 0);
  }
  usleep(300000); /* the last hang-ups are reclaimed */
  int fds1 = count_fds(be);
  long rss1 = status_kb(be, "VmRSS:");
  fprintf(stderr, "%d lifetimes (%d killed): backend descriptors %d -> %d, RSS %ld -> %ld kB, "
                  "regions mapped %d\n", LIFETIMES, killed, fds0, fds1, rss0, rss1,
          regions_mapped(be));
  CHECK(fds1 == fds0);
  CHECK(regions_mapped(be) == 1); /* the resident guest's */
  CHECK(rss1 - rss0 < 8 * 1024); /* flat: no memory per lifetime (1000 x 8 kB would show) */
  CHECK(kill(be, 0) == 0);
  kill(res, SIGKILL);
  waitpid(res, NULL, 0);
  harness_backend_stop(be);
  return 0;
}

static int attach_detach(int idx, void *arg)
{
  (void)idx;
  (void)arg;
  CHECK_MX(mx_init());
  mx_finalize();
  int fds0 = count_fds(getpid());
  for (int i = 0; i < LIFETIMES; i++) {
    CHECK_MX(mx_init());
    mx_endpoint_t ep;
    CHECK_MX(mx_open_endpoint(0, MX_ANY_ENDPOINT, HARNESS_KEY, NULL, 0, &ep));
    if (i % 2)
      CHECK_MX(mx_close_endpoint(ep)); /* else mx_finalize closes it */
    mx_finalize();
  }
  fprintf(stderr, "guest: descriptors %d -> %d after %d attachments, regions mapped %d\n",
          fds0, count_fds(getpid()), LIFETIMES, regions_mapped(getpid()));
  CHECK(count_fds(getpid()) == fds0);
  CHECK(regions_mapped(getpid()) == 0);
  return 0;
}

static int test_a_guest_attaching_a_thousand_times_keeps_nothing(void)
{
  pid_t be = harness_backend_start();
  int rc = harness_wait(harness_guest(attach_detach, 0, NULL));
  harness_backend_stop(be);
  return rc;
}

static const struct harness_test tests[] = {
    {"backend_killed_under_live_guests", test_backend_killed_under_live_guests},
    {"backend_stopped_under_live_guests", test_backend_stopped_under_live_guests},
    {"guest_lifetimes_leak_nothing", test_guest_lifetimes_leak_nothing},
    {"a_guest_attaching_a_thousand_times_keeps_nothing",
     test_a_guest_attaching_a_thousand_times_keeps_nothing},
    {NULL, NULL},
};

int main(int argc, char **argv) { return harness_main(argc, argv, tests); }
