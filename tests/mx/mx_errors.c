/*
 * mx_errors - error handling and the calls around connections, as a
 * careful MX program exercises them:
 *  - MX_ERRORS_RETURN, a custom handler (its answer is the call's), an
 *    endpoint's own handler, MX_ERRORS_ARE_FATAL (the process aborts);
 *  - connection keys (MX_BAD_CONNECTION_KEY, MX_STATUS_BAD_KEY), peers not
 *    open yet (mx_iconnect returns at once and completes when the peer
 *    opens), request timeouts (connect and send);
 *  - mx_iput/mx_iget answer MX_FAILURE and never abort;
 *  - mx_get_info keys, names, addresses and their contexts, disconnect.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mx_extensions.h>

#include "mxtest.h"

static char last_msg[256];
static mx_return_t last_code;
static int handler_calls;

static mx_return_t record_and_answer(char *str, mx_return_t ret)
{
  snprintf(last_msg, sizeof(last_msg), "%s", str);
  last_code = ret;
  handler_calls++;
  return MX_BAD_BAD_BAD; /* what the failing call must return */
}

static int endpoint_handler_calls;
static mx_return_t endpoint_handler(char *str, mx_return_t ret)
{
  (void)str;
  endpoint_handler_calls++;
  return ret;
}

/* Run fn in a child process; return its wait status. */
static int in_child(void (*fn)(void))
{
  fflush(NULL);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stderr)) /* the messages are expected */
      _exit(4);
    fn();
    _exit(0);
  }
  int status;
  CHECK(waitpid(pid, &status, 0) == pid);
  return status;
}

static void child_fatal(void)
{
  mx_endpoint_t ep;
  mx_segment_t s = {NULL, 0};
  mx_request_t r;
  CHECK_MX(mx_init());
  CHECK_MX(mx_open_endpoint(0, 40, MXTEST_KEY, NULL, 0, &ep));
  mx_irecv(ep, &s, 0, 0xff, 0x0f, NULL, &r); /* bad mask: the default handler aborts */
  _exit(3);
}

static void child_unsupported(void)
{
  mx_endpoint_t ep;
  mx_request_t r;
  mx_endpoint_addr_t self;
  char b[8];
  CHECK_MX(mx_init());
  CHECK_MX(mx_open_endpoint(0, 41, MXTEST_KEY, NULL, 0, &ep));
  CHECK_MX(mx_get_endpoint_addr(ep, &self));
  /* under MX_ERRORS_ARE_FATAL still: an error, not an abort */
  CHECK(mx_iput(ep, b, sizeof(b), self, 0, NULL, &r) == MX_FAILURE);
  CHECK(mx_iget(ep, b, sizeof(b), self, 0, NULL, &r) == MX_FAILURE);
  CHECK_MX(mx_finalize());
  _exit(0);
}

static mx_status_t wait_status(mx_endpoint_t ep, mx_request_t *r)
{
  mx_status_t st;
  uint32_t result;
  CHECK_MX(mx_wait(ep, r, MXTEST_WAIT_MS, &st, &result));
  CHECK(result == 1);
  return st;
}

static void handlers(void)
{
  mx_endpoint_t ep;
  mx_segment_t s = {NULL, 0};
  mx_request_t r;
  mx_param_t p = {.key = MX_PARAM_ERROR_HANDLER, .val.error_handler = endpoint_handler};

  /* each child is a guest of its own: forked before this one's mx_init */
  int st = in_child(child_fatal);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
  st = in_child(child_unsupported);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

  CHECK_MX(mx_init());
  CHECK(mx_set_error_handler(record_and_answer) == MX_ERRORS_ARE_FATAL);
  CHECK_MX(mx_open_endpoint(0, 3, MXTEST_KEY, NULL, 0, &ep));
  CHECK(mx_irecv(ep, &s, 0, 0xff, 0x0f, NULL, &r) == MX_BAD_BAD_BAD);
  CHECK(handler_calls == 1 && last_code == MX_BAD_MATCH_MASK && strstr(last_msg, "mx_irecv"));
  CHECK(mx_set_error_handler(MX_ERRORS_RETURN) == record_and_answer);
  CHECK(mx_irecv(ep, &s, 0, 0xff, 0x0f, NULL, &r) == MX_BAD_MATCH_MASK);
  CHECK(mx_irecv(ep, &s, MX_MAX_SEGMENTS + 1, 0, 0, NULL, &r) == MX_BAD_SEG_CNT);
  CHECK(mx_test(NULL, &r, NULL, NULL) == MX_BAD_ENDPOINT);
  CHECK_MX(mx_close_endpoint(ep));

  /* an endpoint's own handler takes its calls' errors */
  mx_set_error_handler(record_and_answer);
  CHECK_MX(mx_open_endpoint(0, 3, MXTEST_KEY, &p, 1, &ep));
  CHECK(mx_irecv(ep, &s, 0, 0xff, 0x0f, NULL, &r) == MX_BAD_MATCH_MASK);
  CHECK(endpoint_handler_calls == 1 && handler_calls == 1);
  CHECK_MX(mx_close_endpoint(ep));
  mx_set_error_handler(MX_ERRORS_RETURN);

  for (int c = 0; c <= MX_NOT_SUPPORTED_WITH_CONTEXT_ID; c++)
    CHECK(mx_strerror((mx_return_t)c) && *mx_strerror((mx_return_t)c));
  for (int c = 0; c <= MX_STATUS_NO_RESOURCES; c++)
    CHECK(mx_strstatus((mx_status_code_t)c) && *mx_strstatus((mx_status_code_t)c));
}

static void connections(const char *host, uint64_t nic)
{
  mx_endpoint_t a, b, c;
  mx_endpoint_addr_t addr, back;
  mx_request_t r;
  mx_status_t st;
  uint32_t result, eid, session;
  uint64_t n;
  void *ctx;

  CHECK_MX(mx_open_endpoint(0, 4, MXTEST_KEY, NULL, 0, &a));
  CHECK_MX(mx_open_endpoint(0, 5, MXTEST_KEY, NULL, 0, &b));
  CHECK(mx_connect(a, nic, 5, MXTEST_KEY + 1, 1000, &addr) == MX_BAD_CONNECTION_KEY);
  CHECK(mx_connect(a, nic, 6, MXTEST_KEY, 100, &addr) == MX_TIMEOUT); /* nobody there */
  CHECK_MX(mx_iconnect(a, nic, 5, MXTEST_KEY + 1, 77, (void *)&a, &r));
  st = wait_status(a, &r);
  CHECK(st.code == MX_STATUS_BAD_KEY && st.match_info == 77 && st.context == (void *)&a);

  /* mx_iconnect to a peer not open yet returns at once, and completes
   * once the peer opens */
  CHECK_MX(mx_iconnect(a, nic, 6, MXTEST_KEY, 78, NULL, &r));
  CHECK_MX(mx_test(a, &r, &st, &result));
  CHECK(result == 0);
  CHECK_MX(mx_open_endpoint(0, 6, MXTEST_KEY, NULL, 0, &c));
  st = wait_status(a, &r);
  CHECK(st.code == MX_STATUS_SUCCESS && st.match_info == 78);
  CHECK_MX(mx_decompose_endpoint_addr2(st.source, &n, &eid, &session));
  CHECK(n == nic && eid == 6);

  /* ... and gives up after its request timeout */
  CHECK_MX(mx_iconnect(a, nic, 7, MXTEST_KEY, 79, NULL, &r));
  CHECK_MX(mx_set_request_timeout(a, r, 100));
  st = wait_status(a, &r);
  CHECK(st.code == MX_STATUS_TIMEOUT);

  /* addresses: context pointers, decomposition, disconnect */
  addr = mxtest_connect(a, host, 5);
  CHECK_MX(mx_set_endpoint_addr_context(addr, &b));
  back = mxtest_connect(a, host, 5); /* the same connection */
  CHECK_MX(mx_get_endpoint_addr_context(back, &ctx));
  CHECK(ctx == &b);
  CHECK_MX(mx_decompose_endpoint_addr(addr, &n, &eid));
  CHECK(n == nic && eid == 5);
  CHECK_MX(mx_disconnect(a, addr));
  addr = mxtest_connect(a, host, 5); /* and connecting again works */
  {
    uint8_t m[16] = "after reconnect", got[16];
    mx_segment_t s = {m, sizeof(m)}, g = {got, sizeof(got)};
    mx_request_t sr, rr;
    CHECK_MX(mx_irecv(b, &g, 1, 9, MX_MATCH_MASK_NONE, NULL, &rr));
    CHECK_MX(mx_isend(a, &s, 1, addr, 9, NULL, &sr));
    CHECK_MX(mx_buffered(a, &sr, MXTEST_WAIT_MS, &result));
    CHECK(result == 1);
    mxtest_wait(a, &sr);
    mxtest_wait(b, &rr);
    CHECK(memcmp(got, m, sizeof(m)) == 0);
  }
  CHECK_MX(mx_close_endpoint(c));
  CHECK_MX(mx_close_endpoint(b));
  CHECK_MX(mx_close_endpoint(a));
}

/* Sends to a peer that never takes its messages: those that could not
 * leave time out; none of them is delivered later, all others are. */
static void send_timeouts(const char *host)
{
  enum { N = 4000 }; /* past every ring and queue on the way, on every datapath */
  mx_endpoint_t a, b;
  static mx_request_t r[N];
  static uint8_t m[N][8];
  uint32_t ok = 0, timedout = 0;
  CHECK_MX(mx_open_endpoint(0, 8, MXTEST_KEY, NULL, 0, &a));
  CHECK_MX(mx_open_endpoint(0, 9, MXTEST_KEY, NULL, 0, &b));
  CHECK_MX(mx_set_request_timeout(a, NULL, 200));
  mx_endpoint_addr_t to = mxtest_connect(a, host, 9);
  for (uint32_t i = 0; i < N; i++) {
    mx_segment_t s = {m[i], 8};
    memcpy(m[i], &i, sizeof(i));
    CHECK_MX(mx_isend(a, &s, 1, to, i, NULL, &r[i]));
  }
  for (uint32_t i = 0; i < N; i++) {
    mx_status_t st = wait_status(a, &r[i]);
    CHECK(st.code == MX_STATUS_SUCCESS || st.code == MX_STATUS_TIMEOUT);
    if (st.code == MX_STATUS_SUCCESS) {
      CHECK(timedout == 0); /* a full queue delays the later ones only */
      ok++;
    } else {
      timedout++;
    }
  }
  CHECK(ok > 0 && timedout > 0);
  for (uint32_t i = 0; i < ok; i++) {
    uint8_t got[8];
    mx_segment_t g = {got, 8};
    mx_request_t q;
    CHECK_MX(mx_irecv(b, &g, 1, 0, 0, NULL, &q));
    mx_status_t st = mxtest_wait(b, &q);
    CHECK(st.match_info == i && memcmp(got, &i, sizeof(i)) == 0);
  }
  uint32_t found;
  mx_status_t st;
  usleep(100000);
  CHECK_MX(mx_iprobe(b, 0, 0, &st, &found));
  CHECK(found == 0); /* nothing that timed out arrives */
  uint32_t ncount, *values;
  CHECK_MX(mx_get_info(a, MX_COUNTERS_COUNT, NULL, 0, &ncount, sizeof(ncount)));
  char (*labels)[MX_MAX_STR_LEN] = calloc(ncount, MX_MAX_STR_LEN);
  values = calloc(ncount, sizeof(*values));
  CHECK(labels && values);
  CHECK_MX(mx_get_info(a, MX_COUNTERS_LABELS, NULL, 0, labels, ncount * MX_MAX_STR_LEN));
  CHECK_MX(mx_get_info(a, MX_COUNTERS_VALUES, NULL, 0, values, ncount * sizeof(*values)));
  int seen = 0;
  for (uint32_t i = 0; i < ncount; i++)
    if (strstr(labels[i], "timed out")) {
      seen = 1;
      CHECK(values[i] >= timedout);
    }
  CHECK(seen);
  printf("mx_errors: %u sends delivered, %u timed out\n", ok, timedout);
  free(labels);
  free(values);
  CHECK_MX(mx_close_endpoint(a));
  CHECK_MX(mx_close_endpoint(b));
}

static void info(uint64_t nic)
{
  uint32_t v, board;
  uint64_t ids[4];
  char s[MX_MAX_STR_LEN];
  CHECK_MX(mx_get_info(NULL, MX_NIC_COUNT, NULL, 0, &v, sizeof(v)));
  CHECK(v == 1);
  CHECK_MX(mx_get_info(NULL, MX_NIC_IDS, NULL, 0, ids, sizeof(ids)));
  CHECK(ids[0] == nic && ids[1] == 0);
  CHECK_MX(mx_get_info(NULL, MX_MAX_NATIVE_ENDPOINTS, NULL, 0, &v, sizeof(v)));
  CHECK(v >= 8);
  CHECK_MX(mx_get_info(NULL, MX_PIO_SEND_MAX, NULL, 0, &v, sizeof(v)));
  CHECK(v > 0);
  CHECK_MX(mx_get_info(NULL, MX_COPY_SEND_MAX, NULL, 0, &board, sizeof(board)));
  CHECK(board > v);
  board = 0;
  CHECK_MX(mx_get_info(NULL, MX_PRODUCT_CODE, &board, sizeof(board), s, sizeof(s)));
  CHECK(strlen(s) > 0);
  CHECK_MX(mx_get_info(NULL, MX_LINE_SPEED, &board, sizeof(board), &v, sizeof(v)));
  CHECK(v == MX_SPEED_OPEN_MX);
  board = 1;
  CHECK(mx_get_info(NULL, MX_PORT_COUNT, &board, sizeof(board), &v, sizeof(v)) ==
        MX_BOARD_UNKNOWN);
  CHECK(mx_get_info(NULL, MX_NIC_IDS, NULL, 0, ids, 8) == MX_BAD_INFO_LENGTH);
  CHECK(mx_get_info(NULL, (mx_get_info_key_t)999, NULL, 0, &v, sizeof(v)) == MX_BAD_INFO_KEY);
  CHECK_MX(mx_nic_id_to_board_number(nic, &board));
  CHECK(board == 0);
  CHECK(mx_board_number_to_nic_id(3, ids) == MX_BOARD_UNKNOWN);
  CHECK(mx_hostname_to_nic_id("no-such-host-here", ids) == MX_HOST_NOT_FOUND);
}

int main(void)
{
  char host[MX_MAX_HOSTNAME_LEN];
  uint64_t nic;
  alarm(300);
  handlers();
  CHECK_MX(mx_board_number_to_nic_id(0, &nic));
  CHECK_MX(mx_nic_id_to_hostname(nic, host));
  info(nic);
  connections(host, nic);
  send_timeouts(host);
  CHECK_MX(mx_finalize());
  printf("mx_errors: ok\n");
  return 0;
}
