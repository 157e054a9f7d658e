/*
 * test_privilege.c - myrixend as an unprivileged user (--user nobody):
 * it keeps CAP_SYS_PTRACE, CAP_SETUID and CAP_SETGID and nothing else,
 * serves guests of other users than its own (large messages are pulled
 * out of one guest's memory and written into another's), and the control
 * socket's mode decides who may become a guest at all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>
#include <unistd.h>

#include "../../src/common/ctl.h"
#include "../../src/common/doorbell.h"
#include "../../src/lib/base.h"
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
/* The private backend's socket: a backend run as nobody cannot remove
 * root's file in /tmp when it stops. */
static void forget_socket(void)
{
  const char *sock = getenv("MYRIXEN_SOCKET");
  if (sock)
    unlink(sock);
}

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
  /* The backend listens, then gives its privileges up (user, bounding set,
   * capabilities, in that order): its socket is there a moment before it
   * is nobody (longer under ASan, where a fresh check read uid 0).  It has
   * 5 s to reach the state checked below. */
  for (int i = 0; i < 500 && (status_field(be, "Uid", 10) != 65534 ||
                              status_field(be, "CapEff", 16) != KEPT ||
                              status_field(be, "CapBnd", 16) != KEPT);
       i++)
    usleep(10000);
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
  forget_socket();
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
  forget_socket();
  return rc;
}

/* --- a guest that execs a setuid program: nothing is written into it ----- */

#define VICTIM_EID 5
#define ATTACKER_EID 6
#define SECRET "ROOT-ONLY-SECRET"

static char secret[64]; /* the setuid program's memory */

/* This binary, setuid root: holds a secret, says where, and after a line
 * on its input says what it holds then. */
static int setuid_victim(void)
{
  char line[8];
  snprintf(secret, sizeof(secret), "%s", SECRET);
  printf("%p\n", (void *)secret); /* the layout an attacker would know or leak */
  fflush(stdout);
  if (!fgets(line, sizeof(line), stdin))
    return 1;
  printf("%s\n", secret);
  fflush(stdout);
  return 0;
}

static int ctl_exchange(int s, struct ctl_msg *m, int *fds, int *nfds)
{
  static char buf[sizeof(struct ctl_msg) + CTL_TEXT_MAX];
  struct ctl_msg *r = (struct ctl_msg *)buf;
  if (ctl_send(s, m, NULL, 0) < 0)
    return -1;
  while (ctl_recv(s, r, sizeof(buf), fds, nfds) > 0)
    if (r->seq == m->seq) {
      memcpy(m, r, sizeof(*m));
      return r->type == CTL_REPLY ? 0 : -1;
    }
  return -1;
}

/* The guest: admitted, an endpoint open, its region handed to the
 * attacker (its parent); then it execs the setuid program, keeping its
 * control socket, so that the backend still holds it for a guest. */
static void becomes_setuid(const char *prog, int give, int in, int out)
{
  int s = ctl_connect(ctl_socket_path(), 0), fds[CTL_MAX_FDS], nfds;
  struct ctl_msg m;
  ctl_init(&m, CTL_HELLO, 1);
  m.u.hello.role = CTL_ROLE_GUEST;
  m.u.hello.datapath = DP_ENGINE;
  CHECK(s >= 0 && ctl_exchange(s, &m, fds, &nfds) == 0 && nfds == 4);
  int region = fds[0];
  ctl_init(&m, CTL_OPEN, 2);
  m.u.open.eid = VICTIM_EID;
  m.u.open.key = HARNESS_KEY;
  CHECK(ctl_exchange(s, &m, fds, &nfds) == 0);
  struct ctl_msg give_it;
  ctl_init(&give_it, CTL_REPLY, m.u.open_reply.vif);
  CHECK(ctl_send(give, &give_it, &region, 1) == 0);
  CHECK(fcntl(s, F_SETFD, 0) == 0); /* the socket outlives the exec */
  dup2(in, 0);
  dup2(out, 1);
  execl(prog, prog, "--setuid-victim", (char *)NULL);
  _exit(127);
}

/* A user (the backend's own) that tries to write into the setuid program
 * its guest became, through the engine: a pull into that guest's grant. */
static int writes_through_the_engine(int idx, void *arg)
{
  (void)idx;
  become(65534);
  int give[2], to_v[2], from_v[2];
  CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, give) == 0 && pipe(to_v) == 0 && pipe(from_v) == 0);
  pid_t g = fork();
  if (g == 0)
    becomes_setuid(arg, give[1], to_v[0], from_v[1]);
  FILE *vout = fdopen(from_v[0], "r");
  char line[128];
  CHECK(vout && fgets(line, sizeof(line), vout)); /* it runs, setuid */
  uint64_t addr = strtoull(line, NULL, 16);
  static char buf[sizeof(struct ctl_msg) + CTL_TEXT_MAX];
  int fds[CTL_MAX_FDS], nfds;
  CHECK(ctl_recv(give[0], (struct ctl_msg *)buf, sizeof(buf), fds, &nfds) > 0 && nfds == 1);
  struct vif *gv = region_vif(mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0],
                                   0), ((struct ctl_msg *)buf)->seq);
  mx_endpoint_t ep = harness_open(ATTACKER_EID);
  uint64_t nic = lib.hello.nic_id;
  static char payload[sizeof(SECRET)] = "WRITTEN-BY-NOBODY";
  ep->vif->grants[200] = (struct grant){.addr = (uintptr_t)payload, .len = sizeof(payload),
                                        .gen = 7, .nseg = 1, .flags = GRANT_READ,
                                        .peer_nic = nic, .peer_eid = VICTIM_EID};
  gv->grants[10] = (struct grant){.addr = addr, .len = sizeof(payload), .gen = 9, .nseg = 1,
                                  .flags = GRANT_WRITE};
  struct qprod q;
  qprod_init(&q, &gv->tx);
  struct msg m = {.type = MSG_PULL, .peer_eid = ATTACKER_EID, .peer_nic = nic,
                  .total = sizeof(payload), .cookie = 3, .cookie2 = 4,
                  .grant = GRANT_REF(200, 7), .grant2 = GRANT_REF(10, 9)};
  CHECK(qprod_reserve(&q, 1, 0) == 1);
  qprod_put(&q, &m);
  qprod_commit(&q, 0);
  qprod_flush(&q);
  doorbell_ring(lib.engine_doorbell);
  usleep(500000);
  CHECK(write(to_v[1], "?\n", 2) == 2);
  CHECK(fgets(line, sizeof(line), vout));
  line[strcspn(line, "\n")] = 0;
  fprintf(stderr, "the setuid program holds '%s'\n", line);
  CHECK(!strcmp(line, SECRET)); /* nothing was written into it */
  waitpid(g, NULL, 0);
  mx_finalize();
  return 0;
}

static int test_a_guest_turned_setuid_is_written_nothing(void)
{
  static const char *const opts[] = {"--user", "nobody", NULL};
  char prog[] = "/tmp/myrixen-setuid-XXXXXX", self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  CHECK(n > 0);
  self[n] = 0;
  int out = mkstemp(prog), in = open(self, O_RDONLY);
  CHECK(out >= 0 && in >= 0);
  char chunk[65536];
  while ((n = read(in, chunk, sizeof(chunk))) > 0)
    CHECK(write(out, chunk, (size_t)n) == n);
  close(in);
  CHECK(fchown(out, 0, 0) == 0 && fchmod(out, 04755) == 0); /* setuid root */
  close(out);
  pid_t be = harness_backend_start_with(opts);
  int rc = harness_wait(harness_guest(writes_through_the_engine, 0, prog));
  rc |= kill(be, 0) != 0;
  harness_backend_stop(be);
  unlink(prog);
  forget_socket();
  return rc;
}

/* --- --user must name a user that is not root ----------------------------- */

/* "--user root" would keep CAP_SYS_PTRACE through every switch to a
 * guest's ids (the securebits that keep capabilities), where a root
 * backend's own id change empties it: it is refused at start, with the
 * reason, and leaves no socket behind. */
static int test_user_root_is_refused(void)
{
  char sock[64], out[512] = "";
  snprintf(sock, sizeof(sock), "/tmp/myrixen-test-root-%d.sock", (int)getpid());
  int pipefd[2];
  CHECK(pipe(pipefd) == 0);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    dup2(pipefd[1], 2);
    alarm(5); /* kept across the exec: a backend that runs on is killed, and fails this */
    execl(harness_bin("myrixend"), "myrixend", "--socket", sock, "--user", "root",
          (char *)NULL);
    _exit(127);
  }
  close(pipefd[1]);
  size_t got = 0;
  for (ssize_t k; got < sizeof(out) - 1 && (k = read(pipefd[0], out + got, sizeof(out) - 1 - got)) > 0;)
    got += (size_t)k;
  close(pipefd[0]);
  int st;
  CHECK(waitpid(pid, &st, 0) == pid);
  fprintf(stderr, "myrixend --user root: status %d, said: %s", WEXITSTATUS(st), out);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
  CHECK(strstr(out, "--user root: uid 0 is root"));
  CHECK(access(sock, F_OK) != 0); /* no socket left for guests to find */
  char lock[80];
  snprintf(lock, sizeof(lock), "%s.lock", sock);
  unlink(lock); /* (a backend's lock file stays by design: server.c) */
  return 0;
}

static const struct harness_test tests[] = {
    {"user_root_is_refused", test_user_root_is_refused},
    {"a_guest_turned_setuid_is_written_nothing", test_a_guest_turned_setuid_is_written_nothing},
    {"backend_as_nobody_serves_every_user", test_backend_as_nobody_serves_every_user},
    {"socket_mode_decides_who_is_a_guest", test_socket_mode_decides_who_is_a_guest},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
  if (argc == 2 && !strcmp(argv[1], "--setuid-victim"))
    return setuid_victim();
  return harness_main(argc, argv, tests);
}
