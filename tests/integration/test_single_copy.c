/*
 * test_single_copy.c - large messages on a direct channel read straight
 * from the sender (process_vm_readv), a long one's tail written by the
 * sender meanwhile (process_vm_writev), and the pipes taking over wherever
 * the kernel refuses either: every byte checked, and the receiver's
 * counter of single-copy reads says which way each message went.  A
 * receiver that closes while the sender has yet to write its tail gets
 * nothing written into its buffer afterwards.
 */
#define _GNU_SOURCE
#include <linux/capability.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../harness.h"

/* How the kernel is to treat the pair: both may read and write each
 * other; the receiver may not read the sender; the sender may not write
 * the receiver; the receiver may ptrace anyone, but the sender, which had
 * less when the backend vouched for it, made itself unreadable since (as
 * an exec of a setuid program does): the receiver must not use its right. */
enum rights { BOTH, NO_READ, NO_WRITE, PRIVILEGED_READER };

/* The endpoint's counter whose label contains part. */
static uint32_t counter(mx_endpoint_t ep, const char *part)
{
  uint32_t n, v = 0;
  CHECK_MX(mx_get_info(ep, MX_COUNTERS_COUNT, NULL, 0, &n, sizeof(n)));
  char (*labels)[MX_MAX_STR_LEN] = calloc(n, MX_MAX_STR_LEN);
  uint32_t *values = calloc(n, sizeof(*values));
  CHECK(labels && values);
  CHECK_MX(mx_get_info(ep, MX_COUNTERS_LABELS, NULL, 0, labels, n * MX_MAX_STR_LEN));
  CHECK_MX(mx_get_info(ep, MX_COUNTERS_VALUES, NULL, 0, values, n * sizeof(*values)));
  int seen = 0;
  for (uint32_t i = 0; i < n; i++)
    if (strstr(labels[i], part))
      v = values[i], seen = 1;
  CHECK(seen);
  free(labels);
  free(values);
  return v;
}

/* Take this process's right to ptrace others of its user (as root,
 * CAP_SYS_PTRACE would override the next). */
static void drop_ptrace_cap(void)
{
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  CHECK(syscall(SYS_capget, &h, d) == 0);
  d[CAP_SYS_PTRACE / 32].effective &= ~(1u << (CAP_SYS_PTRACE % 32));
  CHECK(syscall(SYS_capset, &h, d) == 0);
}

/* ... from the permitted set too: the backend sees it lacks the right. */
static void lose_ptrace_cap(void)
{
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  CHECK(syscall(SYS_capget, &h, d) == 0);
  d[CAP_SYS_PTRACE / 32].effective &= ~(1u << (CAP_SYS_PTRACE % 32));
  d[CAP_SYS_PTRACE / 32].permitted &= ~(1u << (CAP_SYS_PTRACE % 32));
  d[CAP_SYS_PTRACE / 32].inheritable &= ~(1u << (CAP_SYS_PTRACE % 32));
  CHECK(syscall(SYS_capset, &h, d) == 0);
}

/* Refuse this process to ptracers without CAP_SYS_PTRACE. */
static void not_dumpable(void) { CHECK(prctl(PR_SET_DUMPABLE, 0) == 0); }

#define BIG (4u << 20)
static const uint32_t lens[] = {32769, 65536, 100000, 1u << 20, BIG};
#define NLENS (sizeof(lens) / sizeof(lens[0]))

/* Guest 0 sends, guest 1 receives: single-segment messages of each
 * length, one with an immediate, one into three segments (read whole,
 * not split), one truncated, one sent from three segments (pipes), and
 * one that arrives before its receive. */
static int pair_guest(int idx, void *arg)
{
  enum rights rights = *(enum rights *)arg;
  if (rights == PRIVILEGED_READER && idx == 0)
    lose_ptrace_cap(); /* before the backend vouches for the pair */
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  mx_endpoint_addr_t peer = harness_connect(ep, (uint32_t)(1 - idx));
  /* the kernel refuses the reader (NO_READ: the receiver; NO_WRITE: the
   * sender, writing) when it lost CAP_SYS_PTRACE and the other is not
   * dumpable */
  int reader = rights == NO_READ ? 1 : 0;
  if (rights == NO_READ || rights == NO_WRITE)
    (idx == reader ? drop_ptrace_cap : not_dumpable)();
  if (rights == PRIVILEGED_READER && idx == 0)
    not_dumpable();
  uint8_t *buf = malloc(BIG);
  CHECK(buf);
  mx_status_t st;
  mx_request_t r;
  uint32_t res;
  if (idx == 0) {
    for (size_t k = 0; k < NLENS; k++) {
      harness_fill(buf, lens[k], k);
      harness_send(ep, peer, buf, lens[k], k);
    }
    uint32_t imm = 0x5eed;
    mx_segment_t one = {buf, 200000};
    harness_fill(buf, 200000, 40);
    CHECK_MX(mx_isend_imm(ep, &one, 1, peer, 40, imm, NULL, &r));
    CHECK_MX(mx_wait(ep, &r, HARNESS_WAIT_MS, &st, &res));
    harness_fill(buf, 300000, 41); /* into three segments */
    harness_send(ep, peer, buf, 300000, 41);
    harness_fill(buf, 400000, 42); /* truncated */
    harness_send(ep, peer, buf, 400000, 42);
    harness_fill(buf, 500000, 43); /* from three segments */
    mx_segment_t three[3] = {{buf, 100000}, {buf + 100000, 150000}, {buf + 250000, 250000}};
    CHECK_MX(mx_isend(ep, three, 3, peer, 43, NULL, &r));
    CHECK_MX(mx_wait(ep, &r, HARNESS_WAIT_MS, &st, &res));
    CHECK(res && st.code == MX_STATUS_SUCCESS);
    harness_fill(buf, 600000, 44); /* unexpected: the receiver waits first */
    harness_send(ep, peer, buf, 600000, 44);
    harness_recv(ep, buf, 0, 99, ~0ull);
  } else {
    for (size_t k = 0; k < NLENS; k++) {
      memset(buf, 0, lens[k]);
      st = harness_recv(ep, buf, lens[k], k, ~0ull);
      CHECK(st.code == MX_STATUS_SUCCESS && st.xfer_length == lens[k]);
      CHECK(harness_verify(buf, lens[k], k));
    }
    mx_segment_t one = {buf, 200000};
    uint32_t imm = 0, has = 0;
    memset(buf, 0, 200000);
    CHECK_MX(mx_irecv(ep, &one, 1, 40, ~0ull, NULL, &r));
    do
      CHECK_MX(mx_test_any_imm(ep, 40, ~0ull, &st, &imm, &has, &res));
    while (!res);
    CHECK(st.code == MX_STATUS_SUCCESS && has && imm == 0x5eed && st.xfer_length == 200000);
    CHECK(harness_verify(buf, 200000, 40));
    memset(buf, 0, 300000);
    mx_segment_t three[3] = {{buf, 1000}, {buf + 1000, 200000}, {buf + 201000, 99000}};
    CHECK_MX(mx_irecv(ep, three, 3, 41, ~0ull, NULL, &r));
    CHECK_MX(mx_wait(ep, &r, HARNESS_WAIT_MS, &st, &res));
    CHECK(res && st.code == MX_STATUS_SUCCESS && st.xfer_length == 300000);
    CHECK(harness_verify(buf, 300000, 41));
    memset(buf, 0, 400000);
    st = harness_recv(ep, buf, 150000, 42, ~0ull);
    CHECK(st.code == MX_STATUS_TRUNCATED && st.msg_length == 400000 && st.xfer_length == 150000);
    CHECK(harness_verify(buf, 150000, 42) && buf[150000] == 0);
    memset(buf, 0, 500000);
    st = harness_recv(ep, buf, 500000, 43, ~0ull);
    CHECK(st.code == MX_STATUS_SUCCESS && harness_verify(buf, 500000, 43));
    usleep(200000); /* 44 arrives unexpected */
    memset(buf, 0, 600000);
    st = harness_recv(ep, buf, 600000, 44, ~0ull);
    CHECK(st.code == MX_STATUS_SUCCESS && harness_verify(buf, 600000, 44));
    /* which way they came: all but the one sent from three segments read
     * straight from the sender, unless the receiver may not read it */
    uint32_t direct = counter(ep, "read from the sender");
    CHECK(direct == (rights == NO_READ || rights == PRIVILEGED_READER ? 0 : NLENS + 4));
    harness_send(ep, peer, buf, 0, 99);
  }
  free(buf);
  CHECK_MX(mx_finalize());
  return 0;
}

static int run(enum rights rights)
{
  pid_t be = harness_backend_start();
  setenv("MYRIXEN_DATAPATH", "direct", 1);
  pid_t a = harness_guest(pair_guest, 0, &rights), b = harness_guest(pair_guest, 1, &rights);
  int ra = harness_wait(a), rb = harness_wait(b);
  harness_backend_stop(be);
  return ra || rb;
}

static int test_read_from_sender_and_tail_written_by_it(void) { return run(BOTH); }

/* Guest 1 receives a long message that guest 0 sends and then stops
 * making progress for longer than 1 waits at its close; 1 closes and
 * reuses its buffer; when 0 goes on, it must see 1's side closed and
 * write nothing. */
static int woke[2]; /* 0 -> 1: I made progress again */
#define LATE_LEN (1u << 20)
static int late_guest(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  mx_endpoint_addr_t peer = harness_connect(ep, (uint32_t)(1 - idx));
  uint8_t *buf = malloc(LATE_LEN);
  CHECK(buf);
  mx_segment_t s = {buf, LATE_LEN};
  mx_request_t r;
  mx_status_t st;
  uint32_t res = 0;
  char c = 1;
  if (idx == 0) {
    harness_fill(buf, LATE_LEN, 5);
    CHECK_MX(mx_isend(ep, &s, 1, peer, 7, NULL, &r));
    sleep(3); /* no progress: the receiver's CTS waits */
    mx_wait(ep, &r, 1000, &st, &res);
    CHECK(write(woke[1], &c, 1) == 1);
  } else {
    CHECK_MX(mx_irecv(ep, &s, 1, 7, ~0ull, NULL, &r));
    CHECK_MX(mx_wait(ep, &r, 500, &st, &res));
    CHECK(res == 0); /* the tail is the sender's to write */
    CHECK_MX(mx_close_endpoint(ep));
    memset(buf, 'R', LATE_LEN); /* the application has its buffer back */
    CHECK(read(woke[0], &c, 1) == 1);
    usleep(100000);
    for (uint32_t i = 0; i < LATE_LEN; i++)
      CHECK(buf[i] == 'R');
  }
  free(buf);
  mx_finalize();
  return 0;
}

static int test_closed_receive_is_never_written(void)
{
  CHECK(pipe(woke) == 0);
  pid_t be = harness_backend_start();
  setenv("MYRIXEN_DATAPATH", "direct", 1);
  pid_t a = harness_guest(late_guest, 0, NULL), b = harness_guest(late_guest, 1, NULL);
  int ra = harness_wait(a), rb = harness_wait(b);
  harness_backend_stop(be);
  return ra || rb;
}
static int test_pipes_when_the_receiver_may_not_read(void) { return run(NO_READ); }
static int test_receiver_reads_tail_the_sender_may_not_write(void) { return run(NO_WRITE); }
static int test_privileged_reader_reads_as_its_peer_could(void) { return run(PRIVILEGED_READER); }

static const struct harness_test tests[] = {
    {"read_from_sender_and_tail_written_by_it", test_read_from_sender_and_tail_written_by_it},
    {"pipes_when_the_receiver_may_not_read", test_pipes_when_the_receiver_may_not_read},
    {"receiver_reads_tail_the_sender_may_not_write", test_receiver_reads_tail_the_sender_may_not_write},
    {"privileged_reader_reads_as_its_peer_could", test_privileged_reader_reads_as_its_peer_could},
    {"closed_receive_is_never_written", test_closed_receive_is_never_written},
    {NULL, NULL},
};

int main(int argc, char **argv) { return harness_main(argc, argv, tests); }
