/*
 * test_messaging.c - guests exchanging messages through a real backend:
 * every class on every datapath with payload checks, truncation, issend,
 * cancel, probe, timeouts, wakeup, ordering across 8 guests.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/resource.h>
#include <string.h>
#include <unistd.h>

#include "../../src/common/clock.h"
#include "../harness.h"

static const uint32_t sizes[] = {0, 1, 32, 128, 129, 4096, 8192, 8193, 32768, 32769,
                                 100000, 1 << 20, 4 << 20, 16 << 20};





/* Guest idx of a pair: 0 sends every size, 1 receives and echoes back
 * (the echo comes back through a 3-segment receive). */
static int classes_guest(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  mx_endpoint_addr_t peer = harness_connect(ep, (uint32_t)(1 - idx));
  uint8_t *buf = malloc(256u << 20);
  CHECK(buf);
  for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
    uint32_t len = sizes[k];
    if (idx == 0) {
      harness_fill(buf, len, k);
      harness_send(ep, peer, buf, len, 0x1000 + k);
      memset(buf, 0, len);
      /* the echo, scattered into three segments */
      mx_segment_t seg[3] = {{buf, len / 3}, {buf + len / 3, len / 3}, {buf + 2 * (len / 3), len - 2 * (len / 3)}};
      mx_request_t r;
      mx_status_t st;
      uint32_t res;
      CHECK_MX(mx_irecv(ep, seg, 3, 0x2000 + k, ~0ull, NULL, &r));
      CHECK_MX(mx_wait(ep, &r, HARNESS_WAIT_MS, &st, &res));
      CHECK(res && st.code == MX_STATUS_SUCCESS && st.msg_length == len && st.xfer_length == len);
      CHECK(harness_verify(buf, len, k + 100));
    } else {
      mx_status_t st = harness_recv(ep, buf, len, 0x1000 + k, ~0ull);
      CHECK(st.code == MX_STATUS_SUCCESS && st.msg_length == len && st.match_info == 0x1000 + k);
      CHECK(harness_verify(buf, len, k));
      harness_fill(buf, len, k + 100);
      /* the reply goes to the status' source, without mx_connect */
      harness_send(ep, st.source, buf, len, 0x2000 + k);
    }
  }
  if (idx == 0) {
    /* One 256 MiB message, as the MX semantics of large messages demand. */
    harness_fill(buf, 256u << 20, 7);
    harness_send(ep, peer, buf, 256u << 20, 0x3000);
  } else {
    memset(buf, 0, 256u << 20);
    mx_status_t st = harness_recv(ep, buf, 256u << 20, 0x3000, ~0ull);
    CHECK(st.code == MX_STATUS_SUCCESS && st.xfer_length == (256u << 20));
    CHECK(harness_verify(buf, 256u << 20, 7));
  }
  free(buf);
  CHECK_MX(mx_finalize());
  return 0;
}

static int run_pair(int (*fn)(int, void *), const char *datapath)
{
  pid_t be = harness_backend_start();
  if (datapath)
    setenv("MYRIXEN_DATAPATH", datapath, 1);
  pid_t a = harness_guest(fn, 0, NULL), b = harness_guest(fn, 1, NULL);
  int ra = harness_wait(a), rb = harness_wait(b);
  harness_backend_stop(be);
  return ra || rb;
}

static int test_every_class_engine_path(void) { return run_pair(classes_guest, "engine"); }
static int test_every_class_direct_path(void) { return run_pair(classes_guest, "direct"); }
static int test_every_class_copy_path(void) { return run_pair(classes_guest, "copy"); }
static int test_every_class_copy_batch_path(void) { return run_pair(classes_guest, "copy-batch"); }

/* Both guests send each other several large messages at once: on a
 * direct channel each side's pipe to the other fills while the other's
 * pipe to it fills too (a guest that stopped at its own full pipe never
 * read the other one: both waited forever). */
#define BOTH_WAYS_N 8
#define BOTH_WAYS_LEN (4u << 20)
static int both_ways_guest(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  mx_endpoint_addr_t peer = harness_connect(ep, (uint32_t)(1 - idx));
  uint8_t *in = malloc(BOTH_WAYS_N * BOTH_WAYS_LEN), *out = malloc(BOTH_WAYS_N * BOTH_WAYS_LEN);
  CHECK(in && out);
  mx_request_t r[2 * BOTH_WAYS_N];
  for (int k = 0; k < BOTH_WAYS_N; k++) {
    mx_segment_t seg = {in + (size_t)k * BOTH_WAYS_LEN, BOTH_WAYS_LEN};
    CHECK_MX(mx_irecv(ep, &seg, 1, (uint64_t)k, ~0ull, NULL, &r[k]));
  }
  for (int k = 0; k < BOTH_WAYS_N; k++) {
    uint8_t *b = out + (size_t)k * BOTH_WAYS_LEN;
    harness_fill(b, BOTH_WAYS_LEN, (uint64_t)(idx * 100 + k));
    mx_segment_t seg = {b, BOTH_WAYS_LEN};
    CHECK_MX(mx_isend(ep, &seg, 1, peer, (uint64_t)k, NULL, &r[BOTH_WAYS_N + k]));
  }
  for (int k = 0; k < 2 * BOTH_WAYS_N; k++) {
    mx_status_t st;
    uint32_t res = 0;
    CHECK_MX(mx_wait(ep, &r[k], HARNESS_WAIT_MS, &st, &res));
    CHECK(res && st.code == MX_STATUS_SUCCESS);
  }
  for (int k = 0; k < BOTH_WAYS_N; k++)
    CHECK(harness_verify(in + (size_t)k * BOTH_WAYS_LEN, BOTH_WAYS_LEN,
                         (uint64_t)((1 - idx) * 100 + k)));
  free(in);
  free(out);
  CHECK_MX(mx_finalize());
  return 0;
}

static int test_large_messages_both_ways_direct(void) { return run_pair(both_ways_guest, "direct"); }
static int test_large_messages_both_ways_engine(void) { return run_pair(both_ways_guest, "engine"); }

/* mx_irecv_from and mx_iprobe_from: guests 1 and 2 send guest 0 messages
 * with the same match info; a receive from guest 2 takes only guest 2's,
 * though guest 1's arrived first, and leaves guest 1's in order. */
static int from_guest(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  uint8_t buf[64];
  if (idx > 0) {
    mx_endpoint_addr_t zero = harness_connect(ep, 0);
    if (idx == 2) /* after guest 1's messages are in */
      harness_recv(ep, buf, sizeof(buf), 0x77, ~0ull);
    for (int k = 0; k < 2; k++) {
      harness_fill(buf, sizeof(buf), (uint64_t)(idx * 10 + k));
      harness_send(ep, zero, buf, sizeof(buf), 0x42);
    }
    harness_recv(ep, buf, sizeof(buf), 0x99, ~0ull); /* stay until guest 0 is done */
    CHECK_MX(mx_finalize());
    return 0;
  }
  mx_endpoint_addr_t one = harness_connect(ep, 1), two = harness_connect(ep, 2);
  mx_status_t st;
  uint32_t res = 0;
  while (!res) /* guest 1's first message */
    CHECK_MX(mx_iprobe_from(ep, 0x42, ~0ull, &one, &st, NULL, NULL, &res));
  res = 0;
  CHECK_MX(mx_iprobe_from(ep, 0x42, ~0ull, &two, &st, NULL, NULL, &res));
  CHECK(!res); /* guest 2 has sent nothing yet */
  harness_send(ep, two, buf, 0, 0x77);
  mx_request_t r;
  mx_segment_t seg = {buf, sizeof(buf)};
  for (int k = 0; k < 2; k++) {
    CHECK_MX(mx_irecv_from(ep, &seg, 1, 0x42, ~0ull, &two, NULL, &r));
    CHECK_MX(mx_wait(ep, &r, HARNESS_WAIT_MS, &st, &res));
    uint64_t nic;
    uint32_t eid;
    mx_decompose_endpoint_addr(st.source, &nic, &eid);
    CHECK(res && st.code == MX_STATUS_SUCCESS && eid == 2);
    CHECK(harness_verify(buf, sizeof(buf), (uint64_t)(20 + k)));
  }
  for (int k = 0; k < 2; k++) {
    st = harness_recv(ep, buf, sizeof(buf), 0x42, ~0ull);
    CHECK(harness_verify(buf, sizeof(buf), (uint64_t)(10 + k))); /* guest 1's, in order */
  }
  mx_set_error_handler(MX_ERRORS_RETURN);
  CHECK(mx_irecv_from(ep, &seg, 1, 0x42, ~0ull, &(mx_endpoint_addr_t){{0, 0}}, NULL, &r) ==
        MX_BAD_ADDR_LIST);
  harness_send(ep, one, buf, 0, 0x99);
  harness_send(ep, two, buf, 0, 0x99);
  CHECK_MX(mx_finalize());
  return 0;
}

static int test_receive_from_one_source(void)
{
  pid_t be = harness_backend_start();
  int rc = 0;
  pid_t g[3];
  for (int i = 0; i < 3; i++)
    g[i] = harness_guest(from_guest, i, NULL);
  for (int i = 0; i < 3; i++)
    rc |= harness_wait(g[i]);
  harness_backend_stop(be);
  return rc;
}

/* Immediates (mx_isend_imm): every class, expected and unexpected,
 * probed, truncated, synchronous; lengths are the application's and the
 * immediate comes back whole. */
static int imm_guest(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  mx_endpoint_addr_t peer = harness_connect(ep, (uint32_t)(1 - idx));
  uint8_t *buf = malloc(4u << 20);
  CHECK(buf);
  mx_request_t r;
  mx_status_t st;
  uint32_t res, imm, has;
  for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]) && sizes[k] <= (4u << 20); k++) {
    uint32_t len = sizes[k], want = 0xabc00000u + (uint32_t)k;
    if (idx == 0) {
      harness_fill(buf, len, k);
      mx_segment_t seg = {buf, len};
      CHECK_MX((k % 2 ? mx_issend_imm : mx_isend_imm)(ep, &seg, 1, peer, 0x500 + k, want, NULL, &r));
      CHECK_MX(mx_wait(ep, &r, HARNESS_WAIT_MS, &st, &res));
      CHECK(res && st.code == MX_STATUS_SUCCESS && st.msg_length == len);
      harness_recv(ep, buf, 0, 0x600 + k, ~0ull); /* the receiver's go-ahead */
      continue;
    }
    /* the first message of each size arrives unexpected: probe it */
    res = 0;
    while (!res)
      CHECK_MX(mx_iprobe_from(ep, 0x500 + k, ~0ull, &peer, &st, &imm, &has, &res));
    CHECK(st.msg_length == len && has == 1 && imm == want);
    memset(buf, 0, len);
    mx_segment_t seg = {buf, len};
    CHECK_MX(mx_irecv(ep, &seg, 1, 0x500 + k, ~0ull, NULL, &r));
    res = 0;
    while (!res)
      CHECK_MX(mx_test_any_imm(ep, 0x500 + k, ~0ull, &st, &imm, &has, &res));
    CHECK(st.code == MX_STATUS_SUCCESS && st.msg_length == len && st.xfer_length == len);
    CHECK(has == 1 && imm == want && harness_verify(buf, len, k));
    harness_send(ep, peer, buf, 0, 0x600 + k);
  }
  /* truncated: 100000 bytes into 1000 */
  if (idx == 0) {
    harness_fill(buf, 100000, 3);
    mx_segment_t seg = {buf, 100000};
    CHECK_MX(mx_isend_imm(ep, &seg, 1, peer, 0x700, 77, NULL, &r));
    CHECK_MX(mx_wait(ep, &r, HARNESS_WAIT_MS, &st, &res));
    /* and one without an immediate: it has none */
    harness_send(ep, peer, buf, 10, 0x701);
  } else {
    mx_segment_t seg = {buf, 1000};
    CHECK_MX(mx_irecv(ep, &seg, 1, 0x700, ~0ull, NULL, &r));
    res = 0;
    while (!res)
      CHECK_MX(mx_test_any_imm(ep, 0x700, ~0ull, &st, &imm, &has, &res));
    CHECK(st.code == MX_STATUS_TRUNCATED && st.msg_length == 100000 && st.xfer_length == 1000);
    CHECK(has && imm == 77 && harness_verify(buf, 1000, 3));
    CHECK_MX(mx_irecv(ep, &seg, 1, 0x701, ~0ull, NULL, &r));
    res = 0;
    while (!res)
      CHECK_MX(mx_test_any_imm(ep, 0x701, ~0ull, &st, &imm, &has, &res));
    CHECK(st.msg_length == 10 && !has);
  }
  free(buf);
  CHECK_MX(mx_finalize());
  return 0;
}

static int test_immediates_engine_path(void) { return run_pair(imm_guest, "engine"); }
static int test_immediates_direct_path(void) { return run_pair(imm_guest, "direct"); }
static int test_immediates_copy_path(void) { return run_pair(imm_guest, "copy"); }

static int truncation_guest(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  mx_endpoint_addr_t peer = harness_connect(ep, (uint32_t)(1 - idx));
  static const uint32_t lens[] = {100, 1000, 20000, 300000};
  uint8_t *buf = malloc(300000);
  for (int k = 0; k < 4; k++) {
    if (idx == 0) {
      harness_fill(buf, lens[k], (uint64_t)k);
      harness_send(ep, peer, buf, lens[k], (uint64_t)k);
    } else {
      memset(buf, 0, 300000);
      mx_status_t st = harness_recv(ep, buf, 50, (uint64_t)k, ~0ull);
      CHECK(st.msg_length == lens[k] && st.xfer_length == 50);
      CHECK(st.code == MX_STATUS_TRUNCATED);
      CHECK(harness_verify(buf, 50, (uint64_t)k));
      CHECK(buf[50] == 0);
    }
  }
  free(buf);
  mx_finalize();
  return 0;
}

static int test_truncated_recv_reports_xfer_length(void)
{
  return run_pair(truncation_guest, "engine") || run_pair(truncation_guest, "direct");
}

static int issend_guest(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  mx_endpoint_addr_t peer = harness_connect(ep, (uint32_t)(1 - idx));
  char buf[64] = "sync";
  mx_segment_t s = {buf, sizeof(buf)};
  mx_request_t r;
  mx_status_t st;
  uint32_t res;
  if (idx == 0) {
    CHECK_MX(mx_issend(ep, &s, 1, peer, 42, NULL, &r));
    CHECK_MX(mx_wait(ep, &r, 300, &st, &res));
    CHECK(res == 0); /* the receiver has not posted: not complete */
    CHECK_MX(mx_wait(ep, &r, HARNESS_WAIT_MS, &st, &res));
    CHECK(res == 1 && st.code == MX_STATUS_SUCCESS);
  } else {
    usleep(800000);
    harness_recv(ep, buf, sizeof(buf), 42, ~0ull);
    usleep(100000);
  }
  mx_finalize();
  return 0;
}

static int test_issend_completes_only_after_match(void)
{
  return run_pair(issend_guest, "engine") || run_pair(issend_guest, "direct");
}

static void *wake_later(void *arg)
{
  usleep(200000);
  mx_wakeup(arg);
  return NULL;
}

static int local_guest(int idx, void *arg)
{
  (void)idx;
  (void)arg;
  mx_endpoint_t ep = harness_open(5);
  mx_endpoint_addr_t self;
  char buf[16] = "hello", rbuf[16];
  mx_segment_t s = {rbuf, sizeof(rbuf)};
  mx_request_t r;
  mx_status_t st;
  uint32_t res;

  mx_set_error_handler(MX_ERRORS_RETURN);
  CHECK(mx_irecv(ep, &s, 1, 0x10, 0x01, NULL, &r) == MX_BAD_MATCH_MASK);
  /* cancel a posted receive */
  CHECK_MX(mx_irecv(ep, &s, 1, 7, ~0ull, NULL, &r));
  CHECK_MX(mx_cancel(ep, &r, &res));
  CHECK(res == 1);
  /* a wait with a timeout returns without completion, and spent the time */
  CHECK_MX(mx_irecv(ep, &s, 1, 8, ~0ull, NULL, &r));
  uint64_t t0 = clock_now_ns();
  CHECK_MX(mx_wait(ep, &r, 100, &st, &res));
  CHECK(res == 0 && clock_now_ns() - t0 >= 100000000ull);
  /* wakeup from another thread ends an infinite wait */
  pthread_t th;
  pthread_create(&th, NULL, wake_later, ep);
  CHECK_MX(mx_wait(ep, &r, MX_INFINITE, &st, &res));
  CHECK(res == 0);
  pthread_join(th, NULL);
  /* probe sees an unexpected message; the posted receive (match 8) does not take it */
  CHECK_MX(mx_get_endpoint_addr(ep, &self));
  CHECK_MX(mx_iprobe(ep, 9, ~0ull, &st, &res));
  CHECK(res == 0);
  harness_send(ep, self, buf, 6, 9);
  CHECK_MX(mx_probe(ep, 1000, 9, ~0ull, &st, &res));
  CHECK(res == 1 && st.msg_length == 6 && st.match_info == 9);
  mx_request_t r2;
  mx_segment_t s2 = {rbuf, sizeof(rbuf)};
  CHECK_MX(mx_irecv(ep, &s2, 1, 0, 0, NULL, &r2)); /* wildcard */
  CHECK_MX(mx_wait(ep, &r2, 1000, &st, &res));
  CHECK(res == 1 && !strcmp(rbuf, "hello"));
  /* test_any picks the completed request whose match fits */
  harness_send(ep, self, buf, 6, 8);
  CHECK_MX(mx_wait_any(ep, 1000, 8, ~0ull, &st, &res));
  CHECK(res == 1 && st.match_info == 8);
  uint64_t nic;
  uint32_t eid;
  CHECK_MX(mx_decompose_endpoint_addr(self, &nic, &eid));
  CHECK(eid == 5);
  char host[MX_MAX_HOSTNAME_LEN];
  CHECK_MX(mx_nic_id_to_hostname(nic, host));
  CHECK(strstr(host, ":0") != NULL);
  CHECK(mx_open_endpoint(0, 5, HARNESS_KEY, NULL, 0, &ep) == MX_BUSY);
  CHECK(strcmp(mx_strstatus(MX_STATUS_TRUNCATED), "Truncated") == 0);
  mx_finalize();
  return 0;
}

/* With MYRIXEN_SMALL_MAX=MYRIXEN_MEDIUM_MAX=0 every message is large: the
 * engine must have pulled the 1000 bytes into the receiver. */
static int threshold_guest(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  mx_endpoint_addr_t peer = harness_connect(ep, (uint32_t)(1 - idx));
  char buf[1000];
  uint32_t v = 1;
  CHECK_MX(mx_get_info(ep, MX_PIO_SEND_MAX, NULL, 0, &v, sizeof(v)));
  CHECK(v == 0);
  CHECK_MX(mx_get_info(ep, MX_COPY_SEND_MAX, NULL, 0, &v, sizeof(v)));
  CHECK(v == 0);
  if (idx == 0) {
    harness_fill(buf, sizeof(buf), 5);
    harness_send(ep, peer, buf, sizeof(buf), 5);
    harness_recv(ep, buf, 1, 6, ~0ull); /* the receiver has looked at the counters */
  } else {
    mx_status_t st = harness_recv(ep, buf, sizeof(buf), 5, ~0ull);
    CHECK(st.code == MX_STATUS_SUCCESS && harness_verify(buf, sizeof(buf), 5));
    char cmd[4200], out[8192] = {0};
    snprintf(cmd, sizeof(cmd), "%s counters --json", harness_bin("myrixen"));
    FILE *f = popen(cmd, "r");
    CHECK(f && fread(out, 1, sizeof(out) - 1, f) > 0);
    pclose(f);
    const char *me = strstr(out, "{\"eid\":1,");
    CHECK(me && strstr(me, "\"pulls\":1,") != NULL);
    harness_send(ep, peer, buf, 1, 6);
  }
  mx_finalize();
  return 0;
}

static int test_lowered_thresholds_send_by_rendezvous(void)
{
  setenv("MYRIXEN_SMALL_MAX", "0", 1);
  setenv("MYRIXEN_MEDIUM_MAX", "0", 1);
  int rc = run_pair(threshold_guest, "engine");
  unsetenv("MYRIXEN_SMALL_MAX");
  unsetenv("MYRIXEN_MEDIUM_MAX");
  return rc;
}

static int burst_guest(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  /* Only the sender connects: it may be done and gone before the receiver
   * would, and receiving needs no connection. */
  mx_endpoint_addr_t peer = {{0}};
  if (idx == 0)
    peer = harness_connect(ep, 1);
  char buf[64];
  for (uint64_t i = 0; i < 20; i++) {
    if (idx == 0)
      harness_send(ep, peer, buf, sizeof(buf), i);
    else
      harness_recv(ep, buf, sizeof(buf), i, ~0ull);
  }
  mx_finalize();
  return 0;
}

/* Endpoints opened while the engine sleeps must wake it with their first
 * request; the engine counts a wake-up by its timeout that found work. */
static int test_engine_wakes_for_new_endpoints(void)
{
  pid_t be = harness_backend_start();
  usleep(300000); /* long idle: the engine is asleep */
  setenv("MYRIXEN_DATAPATH", "engine", 1);
  pid_t a = harness_guest(burst_guest, 0, NULL), b = harness_guest(burst_guest, 1, NULL);
  int rc = harness_wait(a) | harness_wait(b);
  char cmd[4200], out[8192] = {0};
  snprintf(cmd, sizeof(cmd), "%s counters --json", harness_bin("myrixen"));
  FILE *f = popen(cmd, "r");
  CHECK(f && fread(out, 1, sizeof(out) - 1, f) > 0);
  pclose(f);
  harness_backend_stop(be);
  if (!strstr(out, "\"late_wakeups\":0,")) {
    fprintf(stderr, "engine slept through requests: %s", out);
    return 1;
  }
  return rc;
}

static double cpu_seconds_self(void)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double cpu_seconds_of(pid_t pid)
{
  char path[64];
  unsigned long ut = 0, st = 0;
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  CHECK(f);
  CHECK(fscanf(f, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2);
  fclose(f);
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

#define IDLE_MS 1500
#define IDLE_CPU_MAX 0.15 /* seconds of CPU in IDLE_MS: polling briefly, then asleep */

static int idle_guest(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  char buf[8];
  mx_segment_t s = {buf, sizeof(buf)};
  mx_request_t r;
  mx_status_t st;
  uint32_t res;
  CHECK_MX(mx_irecv(ep, &s, 1, 1, ~0ull, NULL, &r));
  double c0 = cpu_seconds_self();
  CHECK_MX(mx_wait(ep, &r, IDLE_MS, &st, &res));
  CHECK(res == 0);
  double used = cpu_seconds_self() - c0;
  if (used > IDLE_CPU_MAX)
    fprintf(stderr, "idle mx_wait used %.3f s of CPU in %d ms\n", used, IDLE_MS);
  CHECK(used <= IDLE_CPU_MAX);
  mx_finalize();
  return 0;
}

static int test_idle_wait_and_idle_engine_sleep(void)
{
  pid_t be = harness_backend_start();
  pid_t g = harness_guest(idle_guest, 0, NULL);
  usleep(200000); /* the guest has opened its endpoint and waits */
  double c0 = cpu_seconds_of(be);
  usleep(IDLE_MS * 1000 - 400000);
  double used = cpu_seconds_of(be) - c0;
  if (used > IDLE_CPU_MAX)
    fprintf(stderr, "idle backend used %.3f s of CPU\n", used);
  int rc = harness_wait(g);
  harness_backend_stop(be);
  return rc || used > IDLE_CPU_MAX;
}

static int test_cancel_probe_timeout_wakeup(void)
{
  pid_t be = harness_backend_start();
  int rc = harness_wait(harness_guest(local_guest, 0, NULL));
  harness_backend_stop(be);
  return rc;
}

#define NGUESTS 8
#define NMSG 300

/* Guests in pairs; each sends NMSG random-size messages tagged with a
 * sequence number, the partner checks payloads and per-pair order. */
static int ordering_guest(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  uint32_t peer_id = (uint32_t)(idx ^ 1);
  mx_endpoint_addr_t peer = harness_connect(ep, peer_id);
  uint8_t *sbuf = malloc(2 << 20), *rbuf = malloc(2 << 20);
  unsigned seed = (unsigned)idx * 77u + 1;
  mx_request_t sreq;
  uint32_t next_expected = 0;
  for (int i = 0; i < NMSG; i++) {
    uint32_t cls = (uint32_t)rand_r(&seed) % 4;
    uint32_t len = cls == 0 ? (uint32_t)rand_r(&seed) % 129
                 : cls == 1 ? 129 + (uint32_t)rand_r(&seed) % 32000
                 : cls == 2 ? 32769 + (uint32_t)rand_r(&seed) % 200000
                            : (uint32_t)rand_r(&seed) % 1024;
    uint64_t tag = ((uint64_t)idx << 32) | (uint32_t)i;
    harness_fill(sbuf, len, tag);
    mx_segment_t s = {sbuf, len};
    CHECK_MX(mx_isend(ep, &s, 1, peer, tag, NULL, &sreq));
    /* receive the partner's next message with a wildcard */
    mx_status_t st = harness_recv(ep, rbuf, 2 << 20, 0, 0);
    CHECK(st.code == MX_STATUS_SUCCESS);
    CHECK((st.match_info >> 32) == peer_id);
    CHECK((uint32_t)st.match_info == next_expected);
    next_expected++;
    CHECK(harness_verify(rbuf, st.xfer_length, st.match_info));
    mx_status_t sst;
    uint32_t res;
    CHECK_MX(mx_wait(ep, &sreq, HARNESS_WAIT_MS, &sst, &res));
    CHECK(res && sst.code == MX_STATUS_SUCCESS);
  }
  free(sbuf);
  free(rbuf);
  mx_finalize();
  return 0;
}

static int test_eight_guests_random_sizes_in_order(void)
{
  pid_t be = harness_backend_start();
  pid_t g[NGUESTS];
  int rc = 0;
  for (int i = 0; i < NGUESTS; i++) {
    setenv("MYRIXEN_DATAPATH", i < 4 ? "engine" : "bypass", 1);
    g[i] = harness_guest(ordering_guest, i, NULL);
  }
  for (int i = 0; i < NGUESTS; i++)
    rc |= harness_wait(g[i]);
  harness_backend_stop(be);
  return rc;
}

#define NQUEUED 200

/* Guest 0 queues NQUEUED eager messages and finalizes at once; guest 1
 * starts receiving only later: every message must still arrive. */
static int finalize_guest(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  /* Only the sender connects: it may be done and gone before the receiver
   * would, and receiving needs no connection. */
  mx_endpoint_addr_t peer = {{0}};
  if (idx == 0)
    peer = harness_connect(ep, 1);
  static char bufs[NQUEUED][1000]; /* MX: a send buffer is the library's until completion */
  char *buf = bufs[0];
  if (idx == 0) {
    for (int i = 0; i < NQUEUED; i++) {
      mx_segment_t s = {bufs[i], (uint32_t)(i % 2 ? 100 : sizeof(bufs[i]))}; /* small and medium */
      mx_request_t r;
      harness_fill(bufs[i], s.segment_length, (uint64_t)i);
      CHECK_MX(mx_isend(ep, &s, 1, peer, (uint64_t)i, NULL, &r));
      CHECK_MX(mx_forget(ep, &r));
    }
  } else {
    usleep(500000);
    for (int i = 0; i < NQUEUED; i++) {
      mx_status_t st = harness_recv(ep, buf, sizeof(bufs[0]), (uint64_t)i, ~0ull);
      CHECK(st.code == MX_STATUS_SUCCESS && harness_verify(buf, st.xfer_length, (uint64_t)i));
    }
  }
  mx_finalize();
  return 0;
}

static int test_messages_queued_before_finalize_are_delivered(void)
{
  return run_pair(finalize_guest, "engine") || run_pair(finalize_guest, "direct");
}

#define NBACKLOG 700
#define WARM 60

/* Guest 0 sends more than its ring and eager slots hold, small and medium
 * mixed, while guest 1 is not yet receiving: the overflow waits in the
 * backlog, and a small send that could go straight to the ring (the
 * latency path) must not overtake it.  Guest 1 then takes everything with
 * a wildcard and checks the order. */
static int backlog_guest(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  static char bufs[NBACKLOG][600];
  if (idx == 0) {
    mx_endpoint_addr_t peer = harness_connect(ep, 1);
    /* The first WARM sends are waited for together: that leaves as many
     * freed requests, which is what the latency path needs to run (it
     * never allocates) while the others wait in the backlog. */
    mx_request_t warm[WARM];
    for (int i = 0; i < NBACKLOG; i++) {
      mx_segment_t s = {bufs[i], (uint32_t)(i % 3 == 2 ? 600 : 8)};
      mx_request_t r;
      harness_fill(bufs[i], s.segment_length, (uint64_t)i);
      CHECK_MX(mx_isend(ep, &s, 1, peer, (uint64_t)i, NULL, i < WARM ? &warm[i] : &r));
      if (i >= WARM)
        CHECK_MX(mx_forget(ep, &r));
      for (int k = 0; i == WARM - 1 && k < WARM; k++) {
        mx_status_t st;
        uint32_t res;
        CHECK_MX(mx_wait(ep, &warm[k], HARNESS_WAIT_MS, &st, &res));
        CHECK(res && st.code == MX_STATUS_SUCCESS);
      }
    }
    mx_status_t st = harness_recv(ep, bufs[0], sizeof(bufs[0]), NBACKLOG, ~0ull);
    CHECK(st.code == MX_STATUS_SUCCESS); /* the receiver has them all */
  } else {
    mx_endpoint_addr_t peer = harness_connect(ep, 0);
    usleep(300000);
    for (int i = 0; i < NBACKLOG; i++) {
      mx_status_t st = harness_recv(ep, bufs[0], sizeof(bufs[0]), 0, 0);
      CHECK(st.code == MX_STATUS_SUCCESS && st.match_info == (uint64_t)i);
      CHECK(harness_verify(bufs[0], st.xfer_length, (uint64_t)i));
    }
    harness_send(ep, peer, bufs[0], 0, NBACKLOG);
  }
  mx_finalize();
  return 0;
}

static int test_backlogged_sends_keep_their_order(void)
{
  return run_pair(backlog_guest, "direct") || run_pair(backlog_guest, "engine");
}

static const struct harness_test tests[] = {
    {"messages_queued_before_finalize_are_delivered", test_messages_queued_before_finalize_are_delivered},
    {"backlogged_sends_keep_their_order", test_backlogged_sends_keep_their_order},
    {"every_class_engine_path", test_every_class_engine_path},
    {"large_messages_both_ways_direct", test_large_messages_both_ways_direct},
    {"large_messages_both_ways_engine", test_large_messages_both_ways_engine},
    {"receive_from_one_source", test_receive_from_one_source},
    {"immediates_engine_path", test_immediates_engine_path},
    {"immediates_direct_path", test_immediates_direct_path},
    {"immediates_copy_path", test_immediates_copy_path},
    {"every_class_direct_path", test_every_class_direct_path},
    {"every_class_copy_path", test_every_class_copy_path},
    {"every_class_copy_batch_path", test_every_class_copy_batch_path},
    {"truncated_recv_reports_xfer_length", test_truncated_recv_reports_xfer_length},
    {"issend_completes_only_after_match", test_issend_completes_only_after_match},
    {"cancel_probe_timeout_wakeup", test_cancel_probe_timeout_wakeup},
    {"lowered_thresholds_send_by_rendezvous", test_lowered_thresholds_send_by_rendezvous},
    {"idle_wait_and_idle_engine_sleep", test_idle_wait_and_idle_engine_sleep},
    {"engine_wakes_for_new_endpoints", test_engine_wakes_for_new_endpoints},
    {"eight_guests_random_sizes_in_order", test_eight_guests_random_sizes_in_order},
    {NULL, NULL},
};

int main(int argc, char **argv) { return harness_main(argc, argv, tests); }
