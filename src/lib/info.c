/*
 * info.c - mx_get_info: the backend's properties as this guest sees them,
 * and this guest's own counters on the board.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib.h"
#include "base.h"

const char *const ep_counter_names[EPC_MAX] = {
  [EPC_SENDS] = "Sends posted",
  [EPC_RECVS] = "Messages received",
  [EPC_BYTES_SENT] = "Bytes sent",
  [EPC_BYTES_RECEIVED] = "Bytes received",
  [EPC_UNEXPECTED] = "Unexpected messages",
  [EPC_HANDLER_CALLS] = "Unexpected handler calls",
  [EPC_TIMEOUTS] = "Requests timed out",
  [EPC_BACKLOGGED] = "Sends backlogged (ring full)",
  [EPC_LANE_TX] = "Lane packets sent",
  [EPC_LANE_TX_ERRORS] = "Lane packets not sent (socket full)",
  [EPC_LANE_RX] = "Lane packets received",
  [EPC_LANE_REFUSED] = "Lane packets refused",
  [EPC_LANE_MALFORMED] = "Lane packets malformed",
  [EPC_LANE_RETRANSMITS] = "Lane packets resent",
  [EPC_LANE_SILENT] = "Lane peers silent a minute",
  [EPC_LANE_TX_RUNS] = "Lane packets sent in runs (GSO)",
  [EPC_LANE_RX_RUNS] = "Lane packets received in runs (GRO)",
  [EPC_LANE_ICMP] = "Lane errors reported by ICMP (tried again)",
  [EPC_LANE_RNDV] = "Large messages whose data came by lane",
  [EPC_LANE_LAST_ACKED] = "Lane packets acknowledged by a closed peer's last ack",
  [EPC_LANE_AHEAD] = "Large messages whose data came by lane ahead of the match",
  [EPC_LANE_AHEAD_MISSED] = "Bytes sent ahead that no receive took (sent again when asked)",
  [EPC_DIRECT_READS] = "Large messages read from the sender (single copy)",
};

/* Sum over this guest's endpoints, open and closed. */
static void counters_sum(uint64_t sum[EPC_MAX])
{
  pthread_mutex_lock(&lib.eps_lock);
  memcpy(sum, lib.closed_counters, sizeof(lib.closed_counters));
  for (struct mx_endpoint *ep = lib.eps; ep; ep = ep->next) {
    pthread_mutex_lock(&ep->lock);
    for (int i = 0; i < EPC_MAX; i++)
      sum[i] += ep->counters[i];
    pthread_mutex_unlock(&ep->lock);
  }
  pthread_mutex_unlock(&lib.eps_lock);
}

void lib_counters_print(void)
{
  uint64_t sum[EPC_MAX];
  counters_sum(sum);
  fprintf(stderr, "libmyrixen counters (pid %d):\n", (int)getpid());
  for (int i = 0; i < EPC_MAX; i++)
    fprintf(stderr, "  %s: %llu\n", ep_counter_names[i], (unsigned long long)sum[i]);
}

/* The keys that take a board number: it must name our one board. */
static mx_return_t check_board(struct mx_endpoint *ep, const void *in, uint32_t in_len)
{
  if (!in || in_len < sizeof(uint32_t))
    return MX_SUCCESS; /* MX programs often pass none: board 0 */
  uint32_t board;
  memcpy(&board, in, sizeof(board));
  if (board != 0)
    return lib_error(ep, MX_BOARD_UNKNOWN, "mx_get_info: board %u (this host has board 0)", board);
  return MX_SUCCESS;
}

static mx_return_t put_string(struct mx_endpoint *ep, void *out, uint32_t out_len, const char *s)
{
  if (!out || out_len < strlen(s) + 1)
    return lib_error(ep, MX_BAD_INFO_LENGTH, "mx_get_info: string needs %zu bytes",
                     strlen(s) + 1);
  memcpy(out, s, strlen(s) + 1);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_get_info(mx_endpoint_t ep, mx_get_info_key_t key, void *in, uint32_t in_len,
                               void *out, uint32_t out_len)
{
  uint32_t v;
  uint64_t sum[EPC_MAX];
  mx_return_t rc;
  if (!lib.initialized)
    return lib_error(NULL, MX_NOT_INITIALIZED, "mx_get_info");
  if (ep && !ep_valid(ep))
    return lib_error(NULL, MX_BAD_ENDPOINT, "mx_get_info: bad endpoint");
  switch (key) {
  case MX_COUNTERS_COUNT:
  case MX_COUNTERS_LABELS:
  case MX_COUNTERS_VALUES:
  case MX_PRODUCT_CODE:
  case MX_PART_NUMBER:
  case MX_SERIAL_NUMBER:
  case MX_PORT_COUNT:
  case MX_NUMA_NODE:
  case MX_NET_TYPE:
  case MX_LINE_SPEED:
    if ((rc = check_board(ep, in, in_len)) != MX_SUCCESS)
      return rc;
    break;
  default:
    break;
  }
  switch (key) {
  case MX_NIC_COUNT: v = 1; break;
  case MX_MAX_NATIVE_ENDPOINTS: v = lib.hello.max_endpoints; break;
  case MX_NATIVE_REQUESTS: v = QUEUE_SLOTS; break;
  case MX_PORT_COUNT: v = 1; break;
  case MX_PIO_SEND_MAX: v = lib.small_max; break;
  case MX_COPY_SEND_MAX: v = lib.medium_max; break;
  case MX_NUMA_NODE: v = 0; break;
  case MX_NET_TYPE: v = MX_NET_ETHER; break;
  case MX_LINE_SPEED: v = MX_SPEED_OPEN_MX; break;
  case MX_COUNTERS_COUNT: v = EPC_MAX; break;
  case MX_NIC_IDS:
    if (!out || out_len < 2 * sizeof(uint64_t))
      return lib_error(ep, MX_BAD_INFO_LENGTH, "mx_get_info(MX_NIC_IDS): needs 2 uint64_t");
    ((uint64_t *)out)[0] = lib.hello.nic_id;
    ((uint64_t *)out)[1] = 0;
    return MX_SUCCESS;
  case MX_COUNTERS_LABELS:
    if (!out || out_len < EPC_MAX * MX_MAX_STR_LEN)
      return lib_error(ep, MX_BAD_INFO_LENGTH, "mx_get_info(MX_COUNTERS_LABELS): needs %d bytes",
                       EPC_MAX * MX_MAX_STR_LEN);
    for (int i = 0; i < EPC_MAX; i++)
      snprintf((char *)out + i * MX_MAX_STR_LEN, MX_MAX_STR_LEN, "%s", ep_counter_names[i]);
    return MX_SUCCESS;
  case MX_COUNTERS_VALUES:
    if (!out || out_len < EPC_MAX * sizeof(uint32_t))
      return lib_error(ep, MX_BAD_INFO_LENGTH, "mx_get_info(MX_COUNTERS_VALUES): needs %zu bytes",
                       EPC_MAX * sizeof(uint32_t));
    counters_sum(sum);
    for (int i = 0; i < EPC_MAX; i++)
      ((uint32_t *)out)[i] = (uint32_t)sum[i]; /* MX counters are 32-bit and wrap */
    return MX_SUCCESS;
  case MX_PRODUCT_CODE:
    return put_string(ep, out, out_len, "MyriXen virtual NIC");
  case MX_PART_NUMBER:
    return put_string(ep, out, out_len, "MYRIXEN-VIF");
  case MX_SERIAL_NUMBER: {
    char serial[32];
    snprintf(serial, sizeof(serial), "%012llx", (unsigned long long)lib.hello.nic_id);
    return put_string(ep, out, out_len, serial);
  }
  default:
    return lib_error(ep, MX_BAD_INFO_KEY, "mx_get_info: unknown key %d", (int)key);
  }
  if (!out || out_len < sizeof(v))
    return lib_error(ep, MX_BAD_INFO_LENGTH, "mx_get_info: out_len %u < 4", out_len);
  memcpy(out, &v, sizeof(v));
  return MX_SUCCESS;
}
