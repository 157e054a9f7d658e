/*
 * test_faults.c - bad input and dying parties: a guest killed mid-transfer,
 * a guest scribbling on its request ring, malformed control messages, a
 * backend stopped under waiting guests.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../src/common/ctl.h"
#include "../../src/lib/base.h"
#include "../harness.h"




static int sleeper_guest(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  harness_connect(ep, 0);
  pause();
  return 0;
}

static int echo_once_guest(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  char buf[64];
  mx_status_t st = harness_recv(ep, buf, sizeof(buf), 0, 0);
  CHECK(st.code == MX_STATUS_SUCCESS);
  harness_send(ep, st.source, buf, st.xfer_length, st.match_info);
  mx_finalize();
  return 0;
}

/* Guest 0: sends to guest 1, which is killed; then talks to its successor. */
static int survivor_guest(int idx, void *arg)
{
  pid_t *victim = arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  mx_endpoint_addr_t peer = harness_connect(ep, 1);
  size_t big = 8 << 20;
  char *buf = malloc(big);
  mx_segment_t s = {buf, (uint32_t)big}, s2 = {buf, 100};
  mx_request_t r1, r2;
  mx_status_t st;
  uint32_t res;
  CHECK_MX(mx_isend(ep, &s, 1, peer, 1, NULL, &r1));  /* rendezvous: waits for a pull */
  CHECK_MX(mx_issend(ep, &s2, 1, peer, 2, NULL, &r2)); /* waits for a match */
  kill(*victim, SIGKILL);
  CHECK_MX(mx_wait(ep, &r1, 10000, &st, &res));
  CHECK(res == 1 && st.code == MX_STATUS_ENDPOINT_CLOSED);
  CHECK_MX(mx_wait(ep, &r2, 10000, &st, &res));
  CHECK(res == 1 && st.code == MX_STATUS_ENDPOINT_CLOSED);
  /* The backend reclaimed the dead guest's endpoint: a successor opens
   * the same id, and we talk to it. */
  peer = harness_connect(ep, 1); /* the test starts a successor once the victim is dead */
  strcpy(buf, "after");
  s2.segment_length = 6;
  CHECK_MX(mx_isend(ep, &s2, 1, peer, 3, NULL, &r1));
  CHECK_MX(mx_wait(ep, &r1, 10000, &st, &res));
  CHECK(res == 1 && st.code == MX_STATUS_SUCCESS);
  char rb[64] = {0};
  mx_segment_t rs = {rb, sizeof(rb)};
  CHECK_MX(mx_irecv(ep, &rs, 1, 3, ~0ull, NULL, &r2));
  CHECK_MX(mx_wait(ep, &r2, 10000, &st, &res));
  CHECK(res == 1 && !strcmp(rb, "after"));
  free(buf);
  mx_finalize();
  return 0;
}

static int killed_case(const char *datapath)
{
  pid_t be = harness_backend_start();
  setenv("MYRIXEN_DATAPATH", datapath, 1);
  pid_t victim = harness_guest(sleeper_guest, 1, NULL);
  pid_t surv = harness_guest(survivor_guest, 0, &victim);
  harness_wait(victim);
  usleep(200000);
  pid_t succ = harness_guest(echo_once_guest, 1, NULL);
  int rc = harness_wait(surv) | harness_wait(succ);
  harness_backend_stop(be);
  return rc;
}

static int test_guest_killed_mid_transfer_fails_peers_requests(void)
{
  return killed_case("engine") || killed_case("direct") || killed_case("copy") ||
         killed_case("copy-batch");
}

static int scribbler_guest(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  char buf[64];
  mx_segment_t s = {buf, sizeof(buf)};
  mx_request_t r;
  mx_status_t st;
  uint32_t res;
  CHECK_MX(mx_irecv(ep, &s, 1, 0, 0, NULL, &r));
  /* Garbage into our own request ring, published as a real producer would. */
  struct msg *slot = &ep->vif->tx.slot[ep->etx.p.prod & (QUEUE_SLOTS - 1)];
  memset(slot, 0xa5, sizeof(*slot));
  slot->type = 77;
  slot->tag = QUEUE_TAG(ep->etx.p.prod);
  ring_publish(&ep->vif->tx.ring, ep->etx.p.prod + 1);
  uint64_t one = 1;
  CHECK(write(lib.engine_doorbell, &one, sizeof(one)) == 8);
  /* Our VIF is failed: the pending receive ends with an error, no hang. */
  CHECK_MX(mx_wait(ep, &r, 10000, &st, &res));
  CHECK(res == 1 && st.code == MX_STATUS_ENDPOINT_CLOSED);
  /* ... and the engine counted it. */
  struct ctl_msg req, rep;
  char *text = NULL;
  ctl_init(&req, CTL_COUNTERS, 0);
  CHECK(ctl_call(&req, &rep, NULL, NULL, &text) == 0 && text);
  CHECK(strstr(text, "\"bad_request\":1") != NULL);
  free(text);
  mx_finalize();
  return 0;
}

static int pair_guest(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  /* Guest 1 sends, guest 2 receives: only the sender connects (it may be
   * done and gone before the receiver would connect). */
  mx_endpoint_addr_t peer = {{0}};
  if (idx == 1)
    peer = harness_connect(ep, 2);
  char buf[40000];
  mx_segment_t s = {buf, sizeof(buf)};
  mx_request_t r;
  mx_status_t st;
  uint32_t res;
  for (int i = 0; i < 50; i++) {
    if (idx == 1) {
      harness_fill(buf, sizeof(buf), (uint64_t)i);
      CHECK_MX(mx_isend(ep, &s, 1, peer, (uint64_t)i, NULL, &r));
    } else {
      CHECK_MX(mx_irecv(ep, &s, 1, (uint64_t)i, ~0ull, NULL, &r));
    }
    CHECK_MX(mx_wait(ep, &r, 10000, &st, &res));
    CHECK(res == 1 && st.code == MX_STATUS_SUCCESS);
    if (idx == 2)
      CHECK(harness_verify(buf, sizeof(buf), (uint64_t)i));
  }
  mx_finalize();
  return 0;
}

static int scribble_case(const char *datapath)
{
  pid_t be = harness_backend_start();
  setenv("MYRIXEN_DATAPATH", datapath, 1);
  pid_t bad = harness_guest(scribbler_guest, 0, NULL);
  pid_t a = harness_guest(pair_guest, 1, NULL), b = harness_guest(pair_guest, 2, NULL);
  int rc = harness_wait(bad) | harness_wait(a) | harness_wait(b);
  harness_backend_stop(be);
  return rc;
}

/* The engine reads the ring on the engine datapath, netback on the copy one. */
static int test_garbage_in_request_ring_fails_only_that_vif(void)
{
  return scribble_case("engine") || scribble_case("copy");
}

static int raw_socket(void)
{
  int s = ctl_connect(ctl_socket_path(), 0);
  CHECK(s >= 0);
  return s;
}

static int test_malformed_control_messages_get_error_replies(void)
{
  pid_t be = harness_backend_start();
  char buf[sizeof(struct ctl_msg) + 512];
  struct ctl_msg *rep = (struct ctl_msg *)buf;
  int fds[CTL_MAX_FDS], n;

  int s = raw_socket();
  CHECK(send(s, "garbage!!!", 10, 0) == 10);
  CHECK(ctl_recv(s, rep, sizeof(buf), fds, &n) > 0);
  CHECK(rep->type == CTL_ERROR && strstr(rep->text, "malformed"));
  struct ctl_msg m;
  ctl_init(&m, CTL_OPEN, 1);
  CHECK(ctl_send(s, &m, NULL, 0) == 0); /* before hello */
  CHECK(ctl_recv(s, rep, sizeof(buf), fds, &n) > 0);
  CHECK(rep->type == CTL_ERROR && rep->status == MX_NOT_INITIALIZED);
  ctl_init(&m, CTL_HELLO, 2);
  m.version = 99;
  CHECK(ctl_send(s, &m, NULL, 0) == 0);
  CHECK(ctl_recv(s, rep, sizeof(buf), fds, &n) > 0);
  CHECK(rep->type == CTL_ERROR && rep->status == MX_BAD_LIB_VERSION && strstr(rep->text, "version 99"));
  close(s);
  /* a hello with an unknown role, then an unknown type after a good hello */
  s = raw_socket();
  ctl_init(&m, CTL_HELLO, 3);
  m.u.hello.role = 42;
  CHECK(ctl_send(s, &m, NULL, 0) == 0);
  CHECK(ctl_recv(s, rep, sizeof(buf), fds, &n) > 0 && rep->type == CTL_ERROR);
  m.u.hello.role = CTL_ROLE_MONITOR;
  CHECK(ctl_send(s, &m, NULL, 0) == 0);
  CHECK(ctl_recv(s, rep, sizeof(buf), fds, &n) > 0 && rep->type == CTL_REPLY);
  ctl_init(&m, 200, 4);
  CHECK(ctl_send(s, &m, NULL, 0) == 0);
  CHECK(ctl_recv(s, rep, sizeof(buf), fds, &n) > 0 && rep->type == CTL_ERROR);
  ctl_init(&m, CTL_OPEN, 5); /* a monitor may not open endpoints */
  CHECK(ctl_send(s, &m, NULL, 0) == 0);
  CHECK(ctl_recv(s, rep, sizeof(buf), fds, &n) > 0 && rep->status == MX_NO_PERM);
  close(s);
  /* the backend still serves guests */
  pid_t a = harness_guest(pair_guest, 1, NULL), b = harness_guest(pair_guest, 2, NULL);
  int rc = harness_wait(a) | harness_wait(b);
  harness_backend_stop(be);
  return rc;
}

/* Post m in our own mailbox as the library would, wait for the reply. */
static struct ctl_msg *mailbox_exchange(const struct ctl_msg *m, uint32_t seq)
{
  memcpy(lib.mbox->req, m, sizeof(*m));
  atomic_store(&lib.mbox->req_seq, seq);
  uint64_t one = 1;
  if (write(lib.mbox_kick, &one, sizeof(one)) != sizeof(one))
    return NULL;
  for (int i = 0; i < 5000 && atomic_load(&lib.mbox->rep_seq) != (seq | CTL_SEQ_MAILBOX); i++)
    usleep(1000);
  return atomic_load(&lib.mbox->rep_seq) == (seq | CTL_SEQ_MAILBOX) ? (struct ctl_msg *)lib.mbox->rep
                                                                   : NULL;
}

static int mailbox_guest(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  uint64_t nic = 0;
  /* an exchange without descriptors goes through the mailbox ("localhost"
   * is this host without asking) */
  CHECK_MX(mx_hostname_to_nic_id("localhost", &nic));
  CHECK(nic == lib.hello.nic_id);
  struct ctl_msg req, rep;
  char *text = NULL;
  ctl_init(&req, CTL_INFO, 0);
  CHECK(ctl_call(&req, &rep, NULL, NULL, &text) == 0 && text);
  CHECK((rep.seq & CTL_SEQ_MAILBOX) && strstr(text, "\"mailbox_calls\":1}"));
  free(text);
  /* garbage, a hello and an open in the mailbox: each gets an error reply */
  struct ctl_msg m;
  memset(&m, 0xa5, sizeof(m));
  struct ctl_msg *r = mailbox_exchange(&m, 1000);
  CHECK(r && r->type == CTL_ERROR && r->status == MX_BAD_BAD_BAD && strstr(r->text, "bad magic"));
  ctl_init(&m, CTL_HELLO, 0);
  r = mailbox_exchange(&m, 1001);
  CHECK(r && r->type == CTL_ERROR && strstr(r->text, "needs the control socket"));
  ctl_init(&m, CTL_OPEN, 0);
  r = mailbox_exchange(&m, 1002);
  CHECK(r && r->type == CTL_ERROR && strstr(r->text, "needs the control socket"));
  /* a good request posted by hand is answered as the library's are */
  ctl_init(&m, CTL_RESOLVE, 0);
  m.u.resolve.by_name = 1;
  snprintf(m.u.resolve.name, sizeof(m.u.resolve.name), "localhost");
  r = mailbox_exchange(&m, 1003);
  CHECK(r && r->type == CTL_REPLY && r->u.resolve.nic_id == nic);
  ctl_init(&req, CTL_INFO, 0); /* the backend counted every exchange, this one too */
  CHECK(ctl_call(&req, &rep, NULL, NULL, &text) == 0 && text);
  CHECK(strstr(text, "\"mailbox_calls\":6}"));
  free(text);
  /* myrixen info lists this guest, with its kind, pid and exchanges */
  char cmd[4200], out[8192] = {0}, line[64];
  snprintf(cmd, sizeof(cmd), "%s info", harness_bin("myrixen"));
  FILE *f = popen(cmd, "r");
  CHECK(f && fread(out, 1, sizeof(out) - 1, f) > 0);
  pclose(f);
  int found = 0;
  for (char *l = strtok(strstr(out, "guests:"), "\n"); l && !strstr(l, "endpoints:");
       l = strtok(NULL, "\n")) {
    int id, pid;
    unsigned long calls;
    char dp[16], kind[16];
    if (sscanf(l, "%d %15s %63s %d %15s %lu", &id, kind, line, &pid, dp, &calls) == 6 &&
        pid == getpid())
      found = !strcmp(kind, "process") && !strcmp(dp, "bypass") && calls == 6;
  }
  CHECK(found);
  /* ... and the guest goes on: its endpoint talks to a peer */
  mx_endpoint_addr_t peer = harness_connect(ep, (uint32_t)idx + 1);
  char buf[64] = "after the mailbox";
  harness_send(ep, peer, buf, sizeof(buf), 7);
  mx_finalize();
  return 0;
}

static int mailbox_peer(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  char buf[64];
  mx_status_t st = harness_recv(ep, buf, sizeof(buf), 7, ~0ull);
  CHECK(st.code == MX_STATUS_SUCCESS && !strcmp(buf, "after the mailbox"));
  mx_finalize();
  return 0;
}

/* The region's control mailbox: real exchanges go through it, bad ones get
 * error replies there, and the backend goes on serving the guest. */
static int test_control_mailbox(void)
{
  pid_t be = harness_backend_start();
  pid_t a = harness_guest(mailbox_guest, 1, NULL), b = harness_guest(mailbox_peer, 2, NULL);
  int rc = harness_wait(a) | harness_wait(b);
  harness_backend_stop(be);
  return rc;
}

static int waiter_guest(int idx, void *arg)
{
  (void)arg;
  mx_endpoint_t ep = harness_open((uint32_t)idx);
  char buf[64];
  mx_status_t st = harness_recv(ep, buf, sizeof(buf), 0, 0);
  CHECK(st.code == MX_STATUS_ENDPOINT_CLOSED);
  return 0;
}

static int test_backend_shutdown_ends_waits_with_error(void)
{
  pid_t be = harness_backend_start();
  pid_t g = harness_guest(waiter_guest, 0, NULL);
  usleep(300000);
  harness_backend_stop(be);
  return harness_wait(g);
}

static const struct harness_test tests[] = {
    {"guest_killed_mid_transfer_fails_peers_requests", test_guest_killed_mid_transfer_fails_peers_requests},
    {"garbage_in_request_ring_fails_only_that_vif", test_garbage_in_request_ring_fails_only_that_vif},
    {"malformed_control_messages_get_error_replies", test_malformed_control_messages_get_error_replies},
    {"backend_shutdown_ends_waits_with_error", test_backend_shutdown_ends_waits_with_error},
    {"control_mailbox", test_control_mailbox},
    {NULL, NULL},
};

int main(int argc, char **argv) { return harness_main(argc, argv, tests); }
