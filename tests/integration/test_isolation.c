/*
 * test_isolation.c - hostile guests beside honest ones.  A hostile guest
 * here is a process that writes what it likes into its own request ring
 * and grant table (through the library's internals); each test tries one
 * attack, and asserts that it fails, that the honest guests' traffic
 * completes with the right bytes, and that memory nobody granted the
 * attacker is unchanged (canaries).
 *
 * Guests: 1 the victim (a sender), 2 its honest receiver, 3 the attacker.
 * They go through the engine (MYRIXEN_DATAPATH=engine) and pace each other
 * with small messages (match SIGNAL).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include "../../src/common/ctl.h"
#include "../../src/lib/base.h"
#include "../../src/lib/txq.h"
#include "../harness.h"

#define VICTIM 1
#define RECEIVER 2
#define ATTACKER 3
#define BIG (1u << 20)
#define SIGNAL 0x5100
#define DATA 0xda7a
#define CANARY 0xcc
#define OWN_GRANT_IDX 200 /* the attacker's own write grant, far from the library's */

/* Tell guest `to` that its turn came (a small message), and wait for ours. */
static void signal_to(mx_endpoint_t ep, uint32_t to)
{
  char b[8] = "go";
  harness_send(ep, harness_connect(ep, to), b, sizeof(b), SIGNAL);
}

static void wait_signal(mx_endpoint_t ep)
{
  char b[8];
  mx_status_t st = harness_recv(ep, b, sizeof(b), SIGNAL, ~0ull);
  CHECK(st.code == MX_STATUS_SUCCESS);
}

/* A descriptor into our own request ring, as the engine will read it. */
static void raw_post(mx_endpoint_t ep, const struct msg *m)
{
  pthread_mutex_lock(&ep->lock);
  txq_send_ctl(ep, &ep->etx, m);
  pthread_mutex_unlock(&ep->lock);
}

/* True when the backend's counters report (JSON) holds text. */
static int counters_say(const char *text)
{
  struct ctl_msg req, rep;
  char *report = NULL;
  ctl_init(&req, CTL_COUNTERS, 0);
  CHECK(ctl_call(&req, &rep, NULL, NULL, &report) == 0 && report);
  int found = strstr(report, text) != NULL;
  free(report);
  return found;
}

/* A write grant of our own, for buf: the reference. */
static uint32_t own_write_grant(mx_endpoint_t ep, void *buf, uint32_t len)
{
  struct grant *g = &ep->vif->grants[OWN_GRANT_IDX];
  *g = (struct grant){.addr = (uint64_t)(uintptr_t)buf, .len = len, .gen = 7, .nseg = 1,
                      .flags = GRANT_WRITE};
  return GRANT_REF(OWN_GRANT_IDX, 7);
}

/* Pull from the victim's grants at idx 0 with every generation up to
 * maxgen into buf, then give the engine time to do it. */
static void pull_victim(mx_endpoint_t ep, char *buf, uint32_t len, uint32_t mingen,
                        uint32_t maxgen)
{
  uint32_t mine = own_write_grant(ep, buf, len);
  for (uint32_t gen = mingen; gen <= maxgen; gen++) {
    struct msg m = {.type = MSG_PULL, .peer_eid = VICTIM, .peer_nic = lib.hello.nic_id,
                    .total = len, .cookie = 1, .cookie2 = gen, .grant = GRANT_REF(0, gen),
                    .grant2 = mine};
    raw_post(ep, &m);
  }
  usleep(300000);
  mx_progress(ep);
}

static int all_canary(const char *buf, uint32_t len)
{
  for (uint32_t i = 0; i < len; i++)
    if ((uint8_t)buf[i] != CANARY)
      return 0;
  return 1;
}

/* --- a receiver's rendezvous is pulled by nobody else -------------------- */

static int victim_large_send(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  char *buf = malloc(BIG);
  harness_fill(buf, BIG, 41);
  mx_endpoint_addr_t to = harness_connect(ep, RECEIVER);
  mx_segment_t s = {buf, BIG};
  mx_request_t r;
  mx_status_t st;
  uint32_t res;
  CHECK_MX(mx_isend(ep, &s, 1, to, DATA, NULL, &r)); /* a rendezvous: its grant is live */
  signal_to(ep, ATTACKER);
  CHECK_MX(mx_wait(ep, &r, HARNESS_WAIT_MS, &st, &res));
  CHECK(res == 1 && st.code == MX_STATUS_SUCCESS);
  mx_finalize();
  return 0;
}

static int receiver_after_signal(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  wait_signal(ep);
  char *buf = malloc(BIG);
  mx_status_t st = harness_recv(ep, buf, BIG, DATA, ~0ull);
  CHECK(st.code == MX_STATUS_SUCCESS && st.xfer_length == BIG);
  CHECK(harness_verify(buf, BIG, 41));
  mx_finalize();
  return 0;
}

static int attacker_pulls_live_grant(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  wait_signal(ep);
  char *buf = malloc(BIG);
  memset(buf, CANARY, BIG);
  pull_victim(ep, buf, BIG, 0, 40); /* the victim's first grant: index 0, a small generation */
  CHECK(all_canary(buf, BIG));
  signal_to(ep, RECEIVER);
  mx_finalize();
  return 0;
}

static int run_three(int (*victim)(int, void *), int (*receiver)(int, void *),
                     int (*attacker)(int, void *))
{
  pid_t be = harness_backend_start();
  setenv("MYRIXEN_DATAPATH", "engine", 1);
  pid_t r = harness_guest(receiver, RECEIVER, NULL);
  pid_t a = harness_guest(attacker, ATTACKER, NULL);
  usleep(100000); /* both open before the victim connects */
  pid_t v = harness_guest(victim, VICTIM, NULL);
  int rc = harness_wait(v) | harness_wait(r) | harness_wait(a);
  rc |= kill(be, 0) != 0; /* the backend is still there */
  harness_backend_stop(be);
  return rc;
}

static int test_rendezvous_is_pulled_by_its_receiver_alone(void)
{
  return run_three(victim_large_send, receiver_after_signal, attacker_pulls_live_grant);
}

/* --- the next owner of the receiver's endpoint id pulls nothing --------- */

static int pipe_gone[2]; /* receiver -> next owner: the receiver's endpoint is closed */

/* A large send to the receiver, then no progress for a while: its grant
 * stays live although the receiver leaves (the PEER_GONE that would make
 * the library revoke it waits unread). */
static int victim_sends_and_sleeps(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  char *buf = malloc(BIG);
  harness_fill(buf, BIG, 41);
  mx_endpoint_addr_t to = harness_connect(ep, RECEIVER);
  mx_segment_t s = {buf, BIG};
  mx_request_t r;
  CHECK_MX(mx_isend(ep, &s, 1, to, DATA, NULL, &r));
  signal_to(ep, RECEIVER);
  sleep(2);
  mx_finalize();
  return 0;
}

static int receiver_leaves(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  wait_signal(ep); /* the rendezvous is announced (unexpected here) */
  mx_finalize();
  CHECK(write(pipe_gone[1], "g", 1) == 1);
  return 0;
}

/* Opens the receiver's endpoint id after it, and pulls with every
 * generation of the victim's first grant: the grant names the receiver's
 * incarnation, not just its id. */
static int next_owner_pulls(int idx, void *arg)
{
  (void)idx;
  (void)arg;
  char c;
  CHECK(read(pipe_gone[0], &c, 1) == 1);
  usleep(100000); /* the backend has closed it */
  mx_endpoint_t ep = harness_open(RECEIVER);
  char *buf = malloc(BIG);
  memset(buf, CANARY, BIG);
  pull_victim(ep, buf, BIG, 0, 40);
  CHECK(all_canary(buf, BIG));
  mx_finalize();
  return 0;
}

static int test_the_next_owner_of_an_endpoint_id_pulls_nothing(void)
{
  CHECK(pipe(pipe_gone) == 0);
  pid_t be = harness_backend_start();
  setenv("MYRIXEN_DATAPATH", "engine", 1);
  pid_t r = harness_guest(receiver_leaves, RECEIVER, NULL);
  pid_t a = harness_guest(next_owner_pulls, ATTACKER, NULL);
  usleep(100000);
  pid_t v = harness_guest(victim_sends_and_sleeps, VICTIM, NULL);
  int rc = harness_wait(r) | harness_wait(a) | harness_wait(v);
  rc |= kill(be, 0) != 0;
  harness_backend_stop(be);
  return rc;
}

/* --- a revoked grant reads nothing --------------------------------------- */

static int victim_then_rewrites(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  char *buf = malloc(BIG);
  harness_fill(buf, BIG, 42);
  mx_endpoint_addr_t to = harness_connect(ep, RECEIVER);
  mx_segment_t s = {buf, BIG};
  mx_request_t r;
  mx_status_t st;
  uint32_t res;
  CHECK_MX(mx_isend(ep, &s, 1, to, DATA, NULL, &r));
  CHECK_MX(mx_wait(ep, &r, HARNESS_WAIT_MS, &st, &res));
  CHECK(res == 1 && st.code == MX_STATUS_SUCCESS);
  /* the grant is revoked: the buffer is ours again, with a new secret */
  memset(buf, 0x5e, BIG);
  signal_to(ep, RECEIVER);
  wait_signal(ep); /* the receiver has tried */
  mx_finalize();
  return 0;
}

/* The honest receiver turns hostile once it has its message: it pulls the
 * same grant again, with the revoked generation (0) and the old ones. */
static int receiver_pulls_again(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  char *buf = malloc(BIG);
  mx_status_t st = harness_recv(ep, buf, BIG, DATA, ~0ull);
  CHECK(st.code == MX_STATUS_SUCCESS && harness_verify(buf, BIG, 42));
  wait_signal(ep);
  memset(buf, CANARY, BIG);
  pull_victim(ep, buf, BIG, 0, 40);
  CHECK(all_canary(buf, BIG));
  signal_to(ep, VICTIM);
  mx_finalize();
  return 0;
}

static int idle_guest(int idx, void *arg)
{
  (void)arg;
  harness_open((uint32_t)idx);
  usleep(100000);
  mx_finalize();
  return 0;
}

static int test_revoked_grant_reads_nothing(void)
{
  return run_three(victim_then_rewrites, receiver_pulls_again, idle_guest);
}

/* --- completions come from the peer a request went to -------------------- */

static int victim_sync_send(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  mx_endpoint_addr_t to = harness_connect(ep, RECEIVER);
  char buf[64] = "synchronous";
  mx_segment_t s = {buf, sizeof(buf)};
  mx_request_t r;
  mx_status_t st;
  uint32_t res = 0;
  CHECK_MX(mx_issend(ep, &s, 1, to, DATA, NULL, &r)); /* done only when matched */
  signal_to(ep, ATTACKER);
  wait_signal(ep); /* the attacker has forged its acks */
  CHECK_MX(mx_test(ep, &r, &st, &res));
  CHECK(res == 0); /* nobody matched it yet */
  signal_to(ep, RECEIVER);
  CHECK_MX(mx_wait(ep, &r, HARNESS_WAIT_MS, &st, &res));
  CHECK(res == 1 && st.code == MX_STATUS_SUCCESS);
  mx_finalize();
  return 0;
}

static int receiver_sync(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  wait_signal(ep);
  char buf[64];
  mx_status_t st = harness_recv(ep, buf, sizeof(buf), DATA, ~0ull);
  CHECK(st.code == MX_STATUS_SUCCESS && !strcmp(buf, "synchronous"));
  mx_finalize();
  return 0;
}

/* Sync acks with every cookie the victim's first requests can have. */
static int attacker_forges_acks(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  wait_signal(ep);
  for (uint64_t gen = 0; gen < 16; gen++)
    for (uint64_t handle = 0; handle < 16; handle++) {
      struct msg m = {.type = MSG_SYNC_ACK, .peer_eid = VICTIM, .peer_nic = lib.hello.nic_id,
                      .cookie = gen << 32 | handle};
      raw_post(ep, &m);
    }
  usleep(300000);
  signal_to(ep, VICTIM);
  mx_finalize();
  return 0;
}

static int test_forged_completions_complete_nothing(void)
{
  return run_three(victim_sync_send, receiver_sync, attacker_forges_acks);
}

/* --- a failed VIF stays failed, whatever its guest writes ---------------- */

static int attacker_unfails_its_vif(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  /* garbage into our request ring: the engine fails our VIF */
  struct msg bad = {.type = 77};
  raw_post(ep, &bad);
  for (int i = 0; i < 100 && atomic_load(&ep->vif->state) == VIF_OPEN; i++)
    usleep(10000);
  CHECK(atomic_load(&ep->vif->state) == VIF_FAILED);
  /* ... then we make the bad slot a good message, say the VIF is open
   * again, and kick the engine */
  uint32_t at = ep->etx.p.prod - 1;
  struct msg *slot = &ep->vif->tx.slot[at & (QUEUE_SLOTS - 1)];
  struct msg m = {.tag = QUEUE_TAG(at), .type = MSG_SMALL, .peer_eid = RECEIVER,
                  .peer_nic = lib.hello.nic_id, .match = DATA, .len = 4, .total = 4};
  memcpy(m.data, "evil", 4);
  memcpy(slot, &m, sizeof(m));
  atomic_store(&ep->vif->state, VIF_OPEN);
  uint64_t one = 1;
  CHECK(write(lib.engine_doorbell, &one, sizeof(one)) == 8);
  usleep(300000);
  mx_finalize();
  return 0;
}

static int receiver_hears_nothing(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  char buf[8];
  mx_segment_t s = {buf, sizeof(buf)};
  mx_request_t r;
  mx_status_t st;
  uint32_t res = 0;
  CHECK_MX(mx_irecv(ep, &s, 1, DATA, ~0ull, NULL, &r));
  CHECK_MX(mx_wait(ep, &r, 1500, &st, &res));
  CHECK(res == 0); /* the failed VIF's message never came */
  mx_finalize();
  return 0;
}

static int test_failed_vif_stays_failed(void)
{
  return run_three(idle_guest, receiver_hears_nothing, attacker_unfails_its_vif);
}

/* --- nothing a departed guest queued goes out as the next owner's ------- */

#define OLD 0x01d00000000ull
#define NEW 0x0e700000000ull
#define STALE_EID 5
#define MEDIUM 16384
/* More than the receiver's ring holds (32 of them: two fragments each),
 * fewer than that and netback's queue for the sender (64 fragments) hold
 * together: the sender's library hands every one over and can leave. */
#define OLD_MSGS 60

/* A copy-datapath guest sends more than its receiver's ring holds, and
 * leaves: the rest waits in netback's queue. */
static int departing_sender(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  mx_endpoint_addr_t to = harness_connect(ep, RECEIVER);
  static char buf[MEDIUM];
  mx_request_t r[OLD_MSGS];
  for (uint64_t i = 0; i < OLD_MSGS; i++) {
    mx_segment_t s = {buf, sizeof(buf)};
    CHECK_MX(mx_isend(ep, &s, 1, to, OLD | i, NULL, &r[i]));
  }
  mx_finalize();
  return 0;
}

/* The next owner of the same endpoint id sends three messages of its own. */
static int next_owner(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  mx_endpoint_addr_t to = harness_connect(ep, RECEIVER);
  char buf[16] = "new owner";
  for (uint64_t i = 0; i < 3; i++)
    harness_send(ep, to, buf, sizeof(buf), NEW | i);
  mx_finalize();
  return 0;
}

/* Takes nothing until both have had their turn, then everything. */
static int late_receiver(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  sleep(2);
  static char buf[MEDIUM];
  int old = 0, fresh = 0;
  for (;;) {
    mx_segment_t s = {buf, sizeof(buf)};
    mx_request_t r;
    mx_status_t st;
    uint32_t res = 0;
    CHECK_MX(mx_irecv(ep, &s, 1, 0, 0, NULL, &r));
    CHECK_MX(mx_wait(ep, &r, 1000, &st, &res));
    if (!res)
      break;
    old += (st.match_info & ~0xffffffffull) == OLD;
    fresh += (st.match_info & ~0xffffffffull) == NEW;
  }
  fprintf(stderr, "receiver: %d of the departed guest's messages, %d of the next owner's\n", old,
          fresh);
  CHECK(fresh == 3);
  CHECK(old < OLD_MSGS); /* what was still queued when the id changed hands went nowhere */
  mx_finalize();
  return 0;
}

static int test_departed_guests_requests_never_go_out_as_the_next_owners(void)
{
  pid_t be = harness_backend_start();
  setenv("MYRIXEN_DATAPATH", "engine", 1);
  pid_t r = harness_guest(late_receiver, RECEIVER, NULL);
  usleep(100000);
  setenv("MYRIXEN_DATAPATH", "copy", 1);
  int rc = harness_wait(harness_guest(departing_sender, STALE_EID, NULL));
  usleep(200000); /* the backend has closed its endpoint */
  setenv("MYRIXEN_DATAPATH", "engine", 1);
  rc |= harness_wait(harness_guest(next_owner, STALE_EID, NULL));
  rc |= harness_wait(r);
  rc |= kill(be, 0) != 0;
  harness_backend_stop(be);
  return rc;
}

/* --- one stalled copy-datapath guest stalls nobody else ------------------ */

#define DEAF 2
#define HONEST_RCV 4
#define HONEST_MSGS 100

static int stall_done = -1; /* eventfd: the honest pair finished */

/* Let the deaf and the stalled go (they poll stall_done). */
static void release_stalled(void)
{
  uint64_t one = 1;
  CHECK(write(stall_done, &one, sizeof(one)) == sizeof(one));
}

/* Opens its endpoint and takes nothing, until the honest pair is done:
 * its event ring fills, then netback's queue for whoever sends to it. */
static int deaf_receiver(int idx, void *arg)
{
  (void)arg;
  harness_open((uint32_t)idx);
  struct pollfd p = {.fd = stall_done, .events = POLLIN};
  CHECK(poll(&p, 1, 20000) == 1); /* released by the honest pair, not by the timeout */
  return 0;
}

/* A guest that sends its deaf peer (DEAF, or *arg) more than it can take. */
static int stalled_sender(int idx, void *arg)
{
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  mx_endpoint_addr_t to = harness_connect(ep, arg ? *(uint32_t *)arg : DEAF);
  static char buf[MEDIUM];
  mx_request_t r;
  for (uint64_t i = 0; i < OLD_MSGS; i++) {
    mx_segment_t s = {buf, sizeof(buf)};
    CHECK_MX(mx_isend(ep, &s, 1, to, DATA, NULL, &r));
  }
  struct pollfd p = {.fd = stall_done, .events = POLLIN};
  poll(&p, 1, 20000);
  return 0;
}

/* Another copy-datapath guest, to an honest receiver, meanwhile. */
static int honest_copy_sender(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  mx_endpoint_addr_t to = harness_connect(ep, HONEST_RCV);
  static char buf[MEDIUM];
  for (uint64_t i = 0; i < HONEST_MSGS; i++) {
    harness_fill(buf, sizeof(buf), i);
    harness_send(ep, to, buf, sizeof(buf), DATA + i);
  }
  mx_finalize();
  return 0;
}

static int honest_copy_receiver(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  static char buf[MEDIUM];
  for (uint64_t i = 0; i < HONEST_MSGS; i++) {
    mx_status_t st = harness_recv(ep, buf, sizeof(buf), DATA + i, ~0ull);
    CHECK(st.code == MX_STATUS_SUCCESS && st.xfer_length == sizeof(buf));
    CHECK(harness_verify(buf, sizeof(buf), i));
  }
  release_stalled();
  mx_finalize();
  return 0;
}

static int test_a_stalled_copy_guest_stalls_nobody_else(void)
{
  stall_done = eventfd(0, 0);
  CHECK(stall_done >= 0);
  pid_t be = harness_backend_start();
  setenv("MYRIXEN_DATAPATH", "engine", 1);
  pid_t deaf = harness_guest(deaf_receiver, DEAF, NULL);
  pid_t hr = harness_guest(honest_copy_receiver, HONEST_RCV, NULL);
  usleep(100000);
  setenv("MYRIXEN_DATAPATH", "copy", 1);
  pid_t stalled = harness_guest(stalled_sender, ATTACKER, NULL);
  usleep(300000); /* its messages fill the deaf receiver and netback's queue */
  pid_t hs = harness_guest(honest_copy_sender, VICTIM, NULL);
  int rc = harness_wait(hs);
  rc |= harness_wait(hr);
  release_stalled(); /* even if the honest pair failed */
  rc |= harness_wait(deaf);
  rc |= harness_wait(stalled);
  rc |= kill(be, 0) != 0;
  harness_backend_stop(be);
  close(stall_done);
  return rc;
}

/* --- senders blocked on full receivers let the engine sleep ------------- */

#define DEAF_COPY 5
#define WATCHER 6

/* A counter of the backend's report: the member name inside object obj. */
static uint64_t counter(const char *obj, const char *name)
{
  struct ctl_msg req, rep;
  char *text = NULL, key[64];
  ctl_init(&req, CTL_COUNTERS, 0);
  CHECK(ctl_call(&req, &rep, NULL, NULL, &text) == 0 && text);
  snprintf(key, sizeof(key), "\"%s\":{", obj);
  const char *o = strstr(text, key);
  CHECK(o);
  snprintf(key, sizeof(key), "\"%s\":", name);
  const char *v = strstr(o, key);
  CHECK(v);
  uint64_t n = strtoull(v + strlen(key), NULL, 10);
  free(text);
  return n;
}

/* While both senders wait for deaf receivers, the engine and netback
 * sleep (to their backstop, nothing to wake them), not spin. */
static int watcher(int idx, void *arg)
{
  (void)arg;
  harness_open((uint32_t)idx);
  usleep(500000); /* the senders have filled what there is to fill */
  uint64_t e0 = counter("engine", "sleeps"), n0 = counter("netback", "sleeps");
  sleep(1);
  uint64_t e1 = counter("engine", "sleeps"), n1 = counter("netback", "sleeps");
  fprintf(stderr, "in 1 s with every sender blocked: the engine slept %llu times, netback %llu\n",
          (unsigned long long)(e1 - e0), (unsigned long long)(n1 - n0));
  CHECK(e1 - e0 >= 5); /* its backstop is 100 ms: a thread that spins never sleeps */
  CHECK(n1 - n0 >= 5);
  release_stalled();
  mx_finalize();
  return 0;
}

static int test_blocked_senders_let_the_engine_sleep(void)
{
  stall_done = eventfd(0, 0);
  CHECK(stall_done >= 0);
  pid_t be = harness_backend_start();
  setenv("MYRIXEN_DATAPATH", "engine", 1);
  pid_t deaf = harness_guest(deaf_receiver, DEAF, NULL);
  setenv("MYRIXEN_DATAPATH", "copy", 1);
  pid_t deaf_copy = harness_guest(deaf_receiver, DEAF_COPY, NULL);
  usleep(100000);
  setenv("MYRIXEN_DATAPATH", "engine", 1);
  pid_t s1 = harness_guest(stalled_sender, ATTACKER, NULL);
  setenv("MYRIXEN_DATAPATH", "copy", 1);
  static uint32_t deaf_copy_eid = DEAF_COPY;
  pid_t s2 = harness_guest(stalled_sender, VICTIM, &deaf_copy_eid);
  setenv("MYRIXEN_DATAPATH", "engine", 1);
  int rc = harness_wait(harness_guest(watcher, WATCHER, NULL));
  release_stalled();
  rc |= harness_wait(deaf);
  rc |= harness_wait(deaf_copy);
  rc |= harness_wait(s1);
  rc |= harness_wait(s2);
  rc |= kill(be, 0) != 0;
  harness_backend_stop(be);
  close(stall_done);
  return rc;
}

/* --- one user holds its share of the endpoint ids, no more -------------- */

static int greedy_guest(int idx, void *arg)
{
  (void)idx;
  (void)arg;
  mx_endpoint_t ep[REGION_VIFS];
  int n = 0;
  mx_set_error_handler(MX_ERRORS_RETURN);
  CHECK_MX(mx_init());
  while (n < REGION_VIFS &&
         mx_open_endpoint(0, MX_ANY_ENDPOINT, HARNESS_KEY, NULL, 0, &ep[n]) == MX_SUCCESS)
    n++;
  fprintf(stderr, "one user opened %d endpoints of 8, its share 6\n", n);
  CHECK(n == 6);
  CHECK(counters_say("\"endpoints_refused\":1"));
  mx_finalize();
  return 0;
}

static int test_one_user_holds_its_share_of_endpoints(void)
{
  static const char *const opts[] = {"--max-endpoints", "8", NULL}; /* share: 6 */
  pid_t be = harness_backend_start_with(opts);
  int rc = harness_wait(harness_guest(greedy_guest, 0, NULL));
  rc |= kill(be, 0) != 0;
  harness_backend_stop(be);
  return rc;
}

/* --- a guest tightens its own endpoints' limits, never another's -------- */

static int limit_call(uint32_t eid, uint64_t msgs_per_s)
{
  struct ctl_msg req, rep;
  ctl_init(&req, CTL_VIF_SET, 0);
  req.u.vif_set.eid = eid;
  req.u.vif_set.msgs_per_s = msgs_per_s;
  return ctl_call(&req, &rep, NULL, NULL, NULL);
}

static int attacker_throttles(int idx, void *arg)
{
  (void)arg;
  harness_open((uint32_t)idx);
  usleep(200000); /* the victim is open */
  CHECK(limit_call(VICTIM, 1) == MX_NO_PERM);
  CHECK(limit_call(ATTACKER, 1000) == 0); /* its own: yes */
  CHECK(limit_call(ATTACKER, 2000) == MX_NO_PERM); /* but no looser, */
  CHECK(limit_call(ATTACKER, 0) == MX_NO_PERM);    /* nor lifted: the operator's call */
  CHECK(limit_call(ATTACKER, 500) == 0);
  mx_finalize();
  return 0;
}

static int victim_streams(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  mx_endpoint_addr_t to = harness_connect(ep, RECEIVER);
  usleep(400000); /* the attacker has tried */
  char buf[64] = "unthrottled";
  for (uint64_t i = 0; i < 2000; i++)
    harness_send(ep, to, buf, sizeof(buf), DATA);
  mx_finalize();
  return 0;
}

static int receiver_counts(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  char buf[64];
  for (int i = 0; i < 2000; i++)
    CHECK(harness_recv(ep, buf, sizeof(buf), DATA, ~0ull).code == MX_STATUS_SUCCESS);
  mx_finalize();
  return 0;
}

/* 2000 messages at the 1/s the attacker asked for would take half an hour:
 * the test's own time says the limit was refused. */
static int test_guest_cannot_throttle_another(void)
{
  return run_three(victim_streams, receiver_counts, attacker_throttles);
}

/* --- control connections: bounded, and they leak nothing --------------- */

static int count_fds(pid_t pid)
{
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
  DIR *d = opendir(path);
  int n = 0;
  if (!d)
    return -1;
  while (readdir(d))
    n++;
  closedir(d);
  return n;
}

/* A message of no bytes that carries three descriptors. */
static void send_empty_with_fds(int s)
{
  int fds[3] = {eventfd(0, 0), eventfd(0, 0), eventfd(0, 0)};
  char cbuf[CMSG_SPACE(sizeof(fds))];
  struct iovec iov = {cbuf, 0};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                      .msg_controllen = sizeof(cbuf)};
  struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(fds));
  memcpy(CMSG_DATA(c), fds, sizeof(fds));
  CHECK(sendmsg(s, &mh, 0) == 0);
  for (int i = 0; i < 3; i++)
    close(fds[i]);
}

/* True when the backend closed s within ms. */
static int closed_by_backend(int s, int ms)
{
  struct pollfd p = {.fd = s, .events = POLLIN};
  char b[256];
  return poll(&p, 1, ms) == 1 && recv(s, b, sizeof(b), MSG_DONTWAIT) <= 0;
}

static int test_control_connections_are_bounded_and_leak_nothing(void)
{
  pid_t be = harness_backend_start();
  usleep(100000);
  int before = count_fds(be);
  for (int i = 0; i < 30; i++) {
    int s = ctl_connect(ctl_socket_path(), 0);
    CHECK(s >= 0);
    send_empty_with_fds(s);
    CHECK(closed_by_backend(s, 2000)); /* no bytes: a close */
    close(s);
  }
  usleep(100000);
  int after = count_fds(be);
  fprintf(stderr, "backend descriptors: %d before, %d after 30 empty messages with 3 each\n",
          before, after);
  CHECK(after <= before);
  /* one process holds BE_CONNS_PER_PROCESS connections at most, and one
   * that says no hello is closed after BE_HELLO_TIMEOUT_NS */
  int s[5];
  for (int i = 0; i < 5; i++)
    CHECK((s[i] = ctl_connect(ctl_socket_path(), 0)) >= 0);
  CHECK(closed_by_backend(s[4], 2000));
  for (int i = 0; i < 4; i++)
    CHECK(closed_by_backend(s[i], 8000));
  for (int i = 0; i < 5; i++)
    close(s[i]);
  CHECK(kill(be, 0) == 0);
  harness_backend_stop(be);
  return 0;
}

/* --- what one guest may hold in the engine is bounded ------------------- */

#define RNDV_LEN 65536 /* above medium_max: a rendezvous */

/* Sends a rendezvous to the attacker, then takes no event for a while:
 * its event ring fills, and the engine cannot tell it a pull ended. */
static int victim_deaf_sender(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  mx_endpoint_addr_t to = harness_connect(ep, ATTACKER);
  static char buf[RNDV_LEN];
  mx_segment_t s = {buf, sizeof(buf)};
  mx_request_t r;
  CHECK_MX(mx_isend(ep, &s, 1, to, DATA, NULL, &r));
  signal_to(ep, ATTACKER);
  sleep(2);
  _exit(0);
}

/* Fills the victim's event ring, then pulls the rendezvous addressed to
 * it (a grant it may pull) again and again: each pull copies, and then
 * waits in the engine to tell the victim.  The engine holds
 * VIF_PULLS_MAX of them at most; the rest wait in the attacker's ring. */
static int attacker_hoards_pulls(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  wait_signal(ep);
  char b[8] = "noise";
  for (int i = 0; i < QUEUE_SLOTS - 8; i++) { /* all but a few: the rest would block our ring */
    struct msg m = {.type = MSG_SMALL, .peer_eid = VICTIM, .peer_nic = lib.hello.nic_id,
                    .match = SIGNAL + 1, .len = sizeof(b), .total = sizeof(b)};
    memcpy(m.data, b, sizeof(b));
    raw_post(ep, &m);
  }
  static char dst[RNDV_LEN];
  uint32_t mine = own_write_grant(ep, dst, sizeof(dst));
  for (int i = 0; i < QUEUE_SLOTS; i++) {
    struct msg m = {.type = MSG_PULL, .peer_eid = VICTIM, .peer_nic = lib.hello.nic_id,
                    .total = RNDV_LEN, .cookie = 1, .cookie2 = (uint64_t)i,
                    .grant = GRANT_REF(0, 1), .grant2 = mine};
    raw_post(ep, &m);
  }
  for (int i = 0; i < 700; i++) { /* our backlog into our ring, as the engine takes it */
    mx_progress(ep);
    usleep(1000);
  }
  struct ctl_msg req, rep;
  char *text = NULL;
  ctl_init(&req, CTL_COUNTERS, 0);
  CHECK(ctl_call(&req, &rep, NULL, NULL, &text) == 0 && text);
  const char *me = strstr(text, "{\"eid\":3,");
  const char *held = me ? strstr(me, "\"pulls_in_flight\":") : NULL;
  CHECK(held);
  int n = atoi(held + strlen("\"pulls_in_flight\":"));
  fprintf(stderr, "attacker: %d pulls held by the engine\n", n);
  CHECK(n > 0 && n <= 64);
  free(text);
  _exit(0); /* leaving: the backend reclaims what it held */
}

static int test_pulls_one_guest_holds_are_bounded(void)
{
  return run_three(victim_deaf_sender, idle_guest, attacker_hoards_pulls);
}

/* --- keys are enforced on data, not only at connect --------------------- */

/* Its connect with a wrong key is refused; it sends all the same, raw. */
static int attacker_without_key(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  mx_endpoint_addr_t a;
  mx_set_error_handler(MX_ERRORS_RETURN);
  CHECK(mx_connect(ep, lib.hello.nic_id, RECEIVER, HARNESS_KEY + 1, 1000, &a) ==
        MX_BAD_CONNECTION_KEY);
  struct msg m = {.type = MSG_SMALL, .peer_eid = RECEIVER, .peer_nic = lib.hello.nic_id,
                  .match = DATA, .len = 4, .total = 4};
  memcpy(m.data, "evil", 4);
  raw_post(ep, &m);
  usleep(300000);
  CHECK(counters_say("\"not_connected\":1"));
  /* and `myrixen counters` shows it as a row of its drop reasons, no JSON */
  char cmd[600], line[256];
  snprintf(cmd, sizeof(cmd), "%s counters", harness_bin("myrixen"));
  FILE *f = popen(cmd, "r");
  CHECK(f);
  int row = 0, json = 0;
  while (fgets(line, sizeof(line), f)) {
    char eid[16], reason[32];
    unsigned long long n;
    json |= strchr(line, '"') != NULL;
    row |= sscanf(line, " %15s %31s %llu", eid, reason, &n) == 3 &&
           !strcmp(reason, "not_connected") && n == 1;
  }
  CHECK(pclose(f) == 0 && row && !json);
  mx_finalize();
  return 0;
}

static int test_data_needs_a_connect_with_the_key(void)
{
  return run_three(idle_guest, receiver_hears_nothing, attacker_without_key);
}

static const struct harness_test tests[] = {
    {"rendezvous_is_pulled_by_its_receiver_alone", test_rendezvous_is_pulled_by_its_receiver_alone},
    {"the_next_owner_of_an_endpoint_id_pulls_nothing",
     test_the_next_owner_of_an_endpoint_id_pulls_nothing},
    {"revoked_grant_reads_nothing", test_revoked_grant_reads_nothing},
    {"forged_completions_complete_nothing", test_forged_completions_complete_nothing},
    {"failed_vif_stays_failed", test_failed_vif_stays_failed},
    {"guest_cannot_throttle_another", test_guest_cannot_throttle_another},
    {"data_needs_a_connect_with_the_key", test_data_needs_a_connect_with_the_key},
    {"pulls_one_guest_holds_are_bounded", test_pulls_one_guest_holds_are_bounded},
    {"control_connections_are_bounded_and_leak_nothing",
     test_control_connections_are_bounded_and_leak_nothing},
    {"a_stalled_copy_guest_stalls_nobody_else", test_a_stalled_copy_guest_stalls_nobody_else},
    {"one_user_holds_its_share_of_endpoints", test_one_user_holds_its_share_of_endpoints},
    {"blocked_senders_let_the_engine_sleep", test_blocked_senders_let_the_engine_sleep},
    {"departed_guests_requests_never_go_out_as_the_next_owners",
     test_departed_guests_requests_never_go_out_as_the_next_owners},
    {NULL, NULL},
};

int main(int argc, char **argv) { return harness_main(argc, argv, tests); }
