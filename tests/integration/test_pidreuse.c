/*
 * test_pidreuse.c - a guest is the address space it was admitted with: the
 * engine must never copy from (or into) another process that got its pid,
 * nor the program it execs later, while its socket lives on.
 *
 * Recycled pid:
 * In a private PID namespace (unshare), where the test picks the next pid
 * itself (ns_last_pid): the victim V starts a large send to R (its grant
 * names V's buffer), forks a child C that keeps V's socket (so the backend
 * keeps V as a guest), and exits.  C forks the impostor I with V's pid;
 * I fills the same buffer address with bytes of its own.  Then R takes
 * the message: the engine pulls from V's grant.  By pid alone it would read
 * I's bytes; with V's pidfd it finds V gone and fails the pull.
 *
 * The same over a direct channel, where R would read V's buffer itself
 * (process_vm_readv, by the pid the backend gave it): with V's pidfd,
 * which came with the pid, R finds V gone and asks the channel's pipes
 * instead, which only the keeper holds (and never feeds).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../harness.h"

#define BIG (1u << 20)
#define DATA 0xda7a
#define VICTIM_SEED 41
#define IMPOSTOR_SEED 99

static char buf[BIG]; /* at the same address in V, C and I: they are forks */
static int ready[2];  /* I -> R: the impostor is in place */
static int done[2];   /* R -> I: R has its answer, I may go */

/* Give the next fork pid `pid` (this namespace's last pid is pid - 1). */
static int next_pid_is(pid_t pid)
{
  int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
  if (fd < 0)
    return -1;
  char b[32];
  int n = snprintf(b, sizeof(b), "%d", (int)pid - 1);
  int ok = write(fd, b, (size_t)n) == n;
  close(fd);
  return ok ? 0 : -1;
}

static void impostor(void)
{
  harness_fill(buf, BIG, IMPOSTOR_SEED);
  char c = 1;
  CHECK(write(ready[1], &c, 1) == 1);
  CHECK(read(done[0], &c, 1) == 1);
  _exit(0);
}

/* V's child: keeps V's socket open, and puts an impostor in V's pid. */
static void keeper(pid_t victim)
{
  while (kill(victim, 0) == 0) /* V exits; as our parent, our init reaps it */
    usleep(1000);
  usleep(50000);
  CHECK(next_pid_is(victim) == 0);
  pid_t i = fork();
  if (i == 0)
    impostor();
  CHECK(i == victim); /* the pid changed hands */
  int st;
  waitpid(i, &st, 0);
  _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

/* The victim's first steps: a rendezvous to R, whose grant names buf. */
static void rendezvous_to_receiver(int idx)
{
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  mx_endpoint_addr_t to = harness_connect(ep, 2);
  harness_fill(buf, BIG, VICTIM_SEED);
  mx_segment_t s = {buf, BIG};
  mx_request_t r;
  CHECK_MX(mx_isend(ep, &s, 1, to, DATA, NULL, &r));
  usleep(100000); /* the announcement reached R */
}

static int victim(int idx, void *arg)
{
  (void)arg;
  rendezvous_to_receiver(idx);
  pid_t me = getpid();
  fflush(NULL);
  if (fork() == 0)
    keeper(me);
  _exit(0); /* no mx_finalize: the socket lives on in the keeper */
}

/* Any page of got that holds the impostor's bytes (a read may have taken
 * only part of the message from it). */
static int impostor_bytes(const uint8_t *got)
{
  for (uint64_t off = 0; off < BIG; off += 4096) {
    uint64_t i = 0;
    while (i < 4096 && got[off + i] == harness_byte(IMPOSTOR_SEED, off + i))
      i++;
    if (i == 4096)
      return 1;
  }
  return 0;
}

static int receiver(int idx, void *arg)
{
  int direct = arg != NULL;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  static uint8_t got[BIG];
  char c;
  CHECK(read(ready[0], &c, 1) == 1);
  mx_segment_t s = {got, BIG};
  mx_request_t r;
  mx_status_t st;
  uint32_t res = 0;
  CHECK_MX(mx_irecv(ep, &s, 1, DATA, ~0ull, NULL, &r));
  CHECK_MX(mx_wait(ep, &r, direct ? 3000 : 20000, &st, &res));
  CHECK(res == 1 || direct); /* direct: the keeper never feeds the pipes */
  int impostors = impostor_bytes(got);
  fprintf(stderr, "receiver: %s, %s\n", res ? mx_strstatus(st.code) : "not completed",
          impostors ? "THE IMPOSTOR'S BYTES" : "no byte of the impostor's");
  CHECK(!impostors);
  CHECK(!res || st.code != MX_STATUS_SUCCESS); /* the sender is gone: nothing comes */
  CHECK(write(done[1], &c, 1) == 1);
  mx_finalize();
  return 0;
}

/* A backend, the receiver (endpoint 2), then the victim (endpoint 1);
 * 0 when both passed and the backend is still there. */
static int run_victim_and_receiver(int (*victim_fn)(int, void *), const char *datapath)
{
  CHECK(pipe(ready) == 0 && pipe(done) == 0);
  pid_t be = harness_backend_start();
  setenv("MYRIXEN_DATAPATH", datapath, 1);
  pid_t r = harness_guest(receiver, 2, strcmp(datapath, "direct") ? NULL : (void *)1);
  usleep(100000);
  pid_t v = harness_guest(victim_fn, 1, NULL);
  int rc = harness_wait(v); /* first: the keeper waits for V to be reaped */
  rc |= harness_wait(r);
  rc |= kill(be, 0) != 0;
  harness_backend_stop(be);
  return rc;
}

/* pid 1 of the namespace: the backend, the guests, and the reaping. */
static int namespace_init(const char *datapath)
{
  /* a /proc of this namespace, as a container has */
  CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
  CHECK(mount("proc", "/proc", "proc", 0, NULL) == 0);
  int rc = run_victim_and_receiver(victim, datapath);
  while (waitpid(-1, NULL, WNOHANG) > 0) /* the keeper and the impostor */
    ;
  return rc;
}

/* In a fork of ours, so that each case has a namespace of its own. */
static int in_new_pid_namespace(const char *datapath)
{
  fflush(NULL);
  pid_t outer = fork();
  if (outer == 0) {
    if (unshare(CLONE_NEWPID | CLONE_NEWNS) < 0) {
      perror("unshare(CLONE_NEWPID | CLONE_NEWNS): this test needs root");
      _exit(1);
    }
    pid_t init = fork();
    if (init == 0)
      _exit(namespace_init(datapath));
    _exit(harness_wait(init));
  }
  return harness_wait(outer);
}

static int test_recycled_pid_gets_no_copy(void) { return in_new_pid_namespace("engine"); }
static int test_recycled_pid_gets_no_direct_read(void) { return in_new_pid_namespace("direct"); }

/* --- a guest that execs another program loses its grants --------------- */

/* The victim: a rendezvous to R, then it execs this very binary as the
 * impostor image (same layout: no address randomisation, see main), which
 * keeps its socket (nothing close-on-exec) and fills the same buffer. */
static int victim_execs(int idx, void *arg)
{
  (void)arg;
  rendezvous_to_receiver(idx);
  for (int fd = 3; fd < 1024; fd++)
    fcntl(fd, F_SETFD, 0);
  char rfd[16], dfd[16];
  snprintf(rfd, sizeof(rfd), "%d", ready[1]);
  snprintf(dfd, sizeof(dfd), "%d", done[0]);
  fflush(NULL);
  execl("/proc/self/exe", "test_pidreuse", "--impostor-image", rfd, dfd, (char *)NULL);
  _exit(127);
}

static int test_exec_ends_a_guests_grants(void)
{
  return run_victim_and_receiver(victim_execs, "engine");
}

static const struct harness_test tests[] = {
    {"recycled_pid_gets_no_copy", test_recycled_pid_gets_no_copy},
    {"recycled_pid_gets_no_direct_read", test_recycled_pid_gets_no_direct_read},
    {"exec_ends_a_guests_grants", test_exec_ends_a_guests_grants},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
  if (argc == 4 && !strcmp(argv[1], "--impostor-image")) {
    ready[1] = atoi(argv[2]);
    done[0] = atoi(argv[3]);
    impostor();
  }
  /* One layout for every exec of this binary, so that the impostor image
   * has the victim's buffer at the victim's address. */
  if (!(personality(0xffffffff) & ADDR_NO_RANDOMIZE)) {
    personality(ADDR_NO_RANDOMIZE);
    execv("/proc/self/exe", argv);
  }
  return harness_main(argc, argv, tests);
}
