/*
 * myriexpress.h - the MX (Myrinet Express) message-passing API, as
 * implemented by MyriXen's frontend library (libmyrixen).
 *
 * Names, types and numeric values follow Myricom's MX 1.2 header so that an
 * unmodified MX program compiles against this file and links with
 * -lmyrixen.  Every call returns an mx_return_t; unless the error handler
 * was changed with mx_set_error_handler(), a call that fails reports its
 * error through MX_ERRORS_ARE_FATAL (print and abort), exactly as MX does.
 *
 * Completion model: mx_isend/mx_issend/mx_irecv/mx_iconnect return a request
 * at once; the request completes later and is reaped (exactly once) by
 * mx_test, mx_wait, mx_test_any, mx_wait_any, or forgotten by mx_forget.
 */
#ifndef MYRIEXPRESS_H
#define MYRIEXPRESS_H

/* As Myricom's header: MX programs print and scan match info with
 * PRIx64/SCNx64 and include neither <inttypes.h> nor <stdint.h>. */
#include <inttypes.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MX_API 0x301

/* Opaque handles. */
typedef struct mx_endpoint *mx_endpoint_t;
typedef union mx_request *mx_request_t;

/* An endpoint address: opaque, 16 bytes, valid within the endpoint that
 * obtained it (from mx_connect, mx_get_endpoint_addr or a status' source). */
#define MX_SIZEOF_ADDR 16
typedef struct {
  uint64_t stuff[MX_SIZEOF_ADDR / sizeof(uint64_t)];
} mx_endpoint_addr_t;

#define MX_ANY_NIC 0xffffffffU
#define MX_ANY_ENDPOINT 0xffffffffU

/* Timeouts are in milliseconds; MX_INFINITE waits forever. */
#define MX_INFINITE 0

#define MX_MAX_SEGMENTS 256
#define MX_MATCH_MASK_NONE (~(uint64_t)0)
#define MX_MAX_HOSTNAME_LEN 80
#define MX_MAX_STR_LEN 128

/* Print a uint64_t as two 32-bit halves: printf("%08x%08x", MX_U32(x), MX_L32(x)). */
#define MX_U32(x) ((sizeof(x) == 8) ? ((uint32_t)((uint64_t)(x) >> 32)) : ((void)(x), 0))
#define MX_L32(x) ((uint32_t)(x))

typedef void *mx_segment_ptr_t;
/* One piece of a message buffer; messages are segment lists of up to
 * MX_MAX_SEGMENTS pieces, gathered on send and scattered on receive. */
typedef struct mx_segment {
  mx_segment_ptr_t segment_ptr;
  uint32_t segment_length;
} mx_segment_t;

enum mx_return_code {
  MX_SUCCESS = 0,
  MX_BAD_BAD_BAD = 1,
  MX_FAILURE = 2,
  MX_ALREADY_INITIALIZED = 3,
  MX_NOT_INITIALIZED = 4,
  MX_NO_DEV = 5,
  MX_NO_DRIVER = 6,
  MX_NO_PERM = 7,
  MX_BOARD_UNKNOWN = 8,
  MX_BAD_ENDPOINT = 9,
  MX_BAD_SEG_LIST = 10,
  MX_BAD_SEG_MEM = 11,
  MX_BAD_SEG_CNT = 12,
  MX_BAD_REQUEST = 13,
  MX_BAD_MATCH_MASK = 14,
  MX_NO_RESOURCES = 15,
  MX_BAD_ADDR_LIST = 16,
  MX_BAD_ADDR_COUNT = 17,
  MX_BAD_ROOT = 18,
  MX_NOT_COMPLETED = 19,
  MX_BUSY = 20,
  MX_BAD_INFO_KEY = 21,
  MX_BAD_INFO_VAL = 22,
  MX_BAD_NIC = 23,
  MX_BAD_PARAM_LIST = 24,
  MX_BAD_PARAM_NAME = 25,
  MX_BAD_PARAM_VAL = 26,
  MX_BAD_HOSTNAME_ARGS = 27,
  MX_HOST_NOT_FOUND = 28,
  MX_REQUEST_PENDING = 29,
  MX_TIMEOUT = 30,
  MX_NO_MATCH = 31,
  MX_BAD_ENDPOINT_ID = 32,
  MX_CONNECTION_FAILED = 33,
  MX_BAD_CONNECTION_KEY = 34,
  MX_BAD_INFO_LENGTH = 35,
  MX_NIC_NOT_FOUND = 36,
  MX_BAD_KERNEL_VERSION = 37,
  MX_BAD_LIB_VERSION = 38,
  MX_NIC_DEAD = 39,
  MX_CANCEL_NOT_SUPPORTED = 40,
  MX_CLOSE_IN_HANDLER = 41,
  MX_BAD_MATCHING_FOR_CONTEXT_ID_MASK = 42,
  MX_NOT_SUPPORTED_WITH_CONTEXT_ID = 43
};
typedef enum mx_return_code mx_return_t;

enum mx_status_code {
  MX_STATUS_SUCCESS = 0,
  MX_STATUS_PENDING = 1,
  MX_STATUS_BUFFERED = 2,
  MX_STATUS_REJECTED = 3,
  MX_STATUS_TIMEOUT = 4,
  MX_STATUS_TRUNCATED = 5,
  MX_STATUS_CANCELLED = 6,
  MX_STATUS_ENDPOINT_UNKNOWN = 7,
  MX_STATUS_ENDPOINT_CLOSED = 8,
  MX_STATUS_ENDPOINT_UNREACHABLE = 9,
  MX_STATUS_BAD_SESSION = 10,
  MX_STATUS_BAD_KEY = 11,
  MX_STATUS_BAD_ENDPOINT = 12,
  MX_STATUS_BAD_RDMAWIN = 13,
  MX_STATUS_ABORTED = 14,
  MX_STATUS_EVENTQ_FULL = 15,
  MX_STATUS_NO_RESOURCES = 16
};
typedef enum mx_status_code mx_status_code_t;

/* What a completed request reports. For a receive, source is the sender
 * and msg_length the length it sent; xfer_length is what was delivered
 * (smaller than msg_length when the receive buffer was too short, with
 * code MX_STATUS_TRUNCATED). */
typedef struct mx_status {
  mx_status_code_t code;
  mx_endpoint_addr_t source;
  uint64_t match_info;
  uint32_t msg_length;
  uint32_t xfer_length;
  void *context;
} mx_status_t;

/* Error handlers: called with a message and the code of a failing call;
 * what the handler returns is what the call returns.  The handler of an
 * endpoint (MX_PARAM_ERROR_HANDLER) serves the calls on that endpoint; the
 * global one (mx_set_error_handler) serves every other call. */
typedef mx_return_t (*mx_error_handler_t)(char *str, mx_return_t ret);
extern const mx_error_handler_t MX_ERRORS_ARE_FATAL; /* print, abort */
extern const mx_error_handler_t MX_ERRORS_RETURN;    /* return the code */

enum mx_param_key {
  MX_PARAM_ERROR_HANDLER = 0,
  MX_PARAM_UNEXP_QUEUE_MAX = 1,
  MX_PARAM_CONTEXT_ID = 2
};
typedef enum mx_param_key mx_param_key_t;

/* Parameters of mx_open_endpoint:
 * - MX_PARAM_ERROR_HANDLER: this endpoint's error handler;
 * - MX_PARAM_UNEXP_QUEUE_MAX: accepted and advisory: this library keeps
 *   every unexpected message (none is ever dropped), so the queue is
 *   bounded by memory, not by this value;
 * - MX_PARAM_CONTEXT_ID: bits (<= MX_CONTEXT_ID_BITS_MAX) of the match info
 *   starting at bit shift name a context.  Every receive, test_any, wait_any,
 *   probe and iprobe must then cover all these bits with its mask
 *   (MX_BAD_MATCHING_FOR_CONTEXT_ID_MASK otherwise); mx_ipeek and mx_peek,
 *   which cross contexts, return MX_NOT_SUPPORTED_WITH_CONTEXT_ID. */
typedef struct {
  mx_param_key_t key;
  union {
    mx_error_handler_t error_handler;
    uint32_t unexp_queue_max;
    struct {
      uint8_t bits;
      uint8_t shift;
    } context_id;
  } val;
} mx_param_t;

#define MX_CONTEXT_ID_BITS_MAX 16

typedef enum mx_line_speed { MX_SPEED_2G, MX_SPEED_10G, MX_SPEED_OPEN_MX } mx_line_speed_t;
enum mx_net_type { MX_NET_MYRI, MX_NET_ETHER };
typedef enum mx_net_type mx_net_type_t;

/* Keys of mx_get_info.  Values are the backend's, as this guest sees them;
 * the counters are this guest's own on that board (sends, receives, bytes,
 * unexpected messages, handler calls, request timeouts, backlogged sends). */
enum mx_get_info_key {
  MX_NIC_COUNT = 1,            /* out: uint32_t */
  MX_NIC_IDS = 2,              /* out: uint64_t[count + 1], 0-terminated */
  MX_MAX_NATIVE_ENDPOINTS = 3, /* out: uint32_t */
  MX_NATIVE_REQUESTS = 4,      /* out: uint32_t */
  MX_COUNTERS_COUNT = 5,       /* in: uint32_t board; out: uint32_t */
  MX_COUNTERS_LABELS = 6,      /* in: board; out: char[count][MX_MAX_STR_LEN] */
  MX_COUNTERS_VALUES = 7,      /* in: board; out: uint32_t[count] */
  MX_PRODUCT_CODE = 8,         /* in: board; out: char[MX_MAX_STR_LEN] */
  MX_PART_NUMBER = 9,          /* in: board; out: char[MX_MAX_STR_LEN] */
  MX_SERIAL_NUMBER = 10,       /* in: board; out: char[MX_MAX_STR_LEN] */
  MX_PORT_COUNT = 11,          /* in: board; out: uint32_t */
  MX_PIO_SEND_MAX = 12,        /* out: uint32_t, largest inline message */
  MX_COPY_SEND_MAX = 13,       /* out: uint32_t, largest eager message */
#define MX_HAS_NET_TYPE
  MX_NUMA_NODE = 14,           /* in: board; out: uint32_t */
  MX_NET_TYPE = 15,            /* in: board; out: uint32_t (mx_net_type) */
  MX_LINE_SPEED = 16           /* in: board; out: uint32_t (mx_line_speed) */
};
typedef enum mx_get_info_key mx_get_info_key_t;

/* Initialise the library: reach the backend (myrixend) through the socket
 * named by $MYRIXEN_SOCKET, or /run/myrixen/backend.sock, and be admitted as
 * a guest.  MX_NO_DRIVER when no backend answers; MX_BAD_LIB_VERSION when it
 * speaks another protocol version. */
#define mx_init() mx__init_api(MX_API)
mx_return_t mx__init_api(int api);

/* Close every endpoint still open and leave the backend. */
mx_return_t mx_finalize(void);

/* Keep the unexpected handler and other threads' progress from running on
 * this endpoint until mx_reenable_progression (waits for a handler that is
 * running to return).  Calls made meanwhile still send and complete what
 * needs no incoming event. */
mx_return_t mx_disable_progression(mx_endpoint_t ep);
mx_return_t mx_reenable_progression(mx_endpoint_t ep);

/* Install the handler called on failing calls; returns the previous one. */
mx_error_handler_t mx_set_error_handler(mx_error_handler_t handler);

/* Open an endpoint (a VIF in this guest's region) on board board_number
 * (0 .. MX_NIC_COUNT-1, or MX_ANY_NIC), with id endpoint_id or
 * MX_ANY_ENDPOINT.  Peers must present endpoint_key in mx_connect.
 * MX_BUSY when the id is taken; MX_BAD_ENDPOINT_ID when out of range. */
mx_return_t mx_open_endpoint(uint32_t board_number, uint32_t endpoint_id,
                             uint32_t endpoint_key, mx_param_t *params_array,
                             uint32_t params_count, mx_endpoint_t *endpoint);

/* Close an endpoint: pending requests are dropped, peers see
 * MX_STATUS_ENDPOINT_CLOSED on what they had in flight to it. */
mx_return_t mx_close_endpoint(mx_endpoint_t endpoint);

/* Make every thread blocked in mx_wait, mx_wait_any, mx_peek or mx_probe on
 * this endpoint return at once with *result == 0. */
mx_return_t mx_wakeup(mx_endpoint_t endpoint);

/* Send a message of segments_count segments (0 .. MX_MAX_SEGMENTS) to
 * dest_endpoint with 64-bit match_info.  The buffers must stay untouched
 * until the request completes.  mx_issend completes only once a receive has
 * matched the message at the destination. */
mx_return_t mx_isend(mx_endpoint_t endpoint, mx_segment_t *segments_list,
                     uint32_t segments_count, mx_endpoint_addr_t dest_endpoint,
                     uint64_t match_info, void *context, mx_request_t *request);
mx_return_t mx_issend(mx_endpoint_t endpoint, mx_segment_t *segments_list,
                      uint32_t segments_count, mx_endpoint_addr_t dest_endpoint,
                      uint64_t match_info, void *context, mx_request_t *request);

/* Post a receive for the first message with
 * (message match_info & match_mask) == match_info.  MX_BAD_MATCH_MASK when
 * match_info has bits set outside match_mask. */
mx_return_t mx_irecv(mx_endpoint_t endpoint, mx_segment_t *segments_list,
                     uint32_t segments_count, uint64_t match_info,
                     uint64_t match_mask, void *context, mx_request_t *request);

/* Cancel a receive that has not matched yet: *result is 1 and the request
 * is gone (never to be tested), or 0 when it had already matched. */
mx_return_t mx_cancel(mx_endpoint_t endpoint, mx_request_t *request, uint32_t *result);

/* Test one request: *result 1 and *status filled when it completed (the
 * request is then freed and *request no longer valid), else 0. */
mx_return_t mx_test(mx_endpoint_t ep, mx_request_t *request, mx_status_t *status,
                    uint32_t *result);
/* As mx_test, blocking up to timeout ms (MX_INFINITE: forever). */
mx_return_t mx_wait(mx_endpoint_t endpoint, mx_request_t *request, uint32_t timeout,
                    mx_status_t *status, uint32_t *result);
/* Reap any completed request whose match_info matches under match_mask. */
mx_return_t mx_test_any(mx_endpoint_t endpoint, uint64_t match_info,
                        uint64_t match_mask, mx_status_t *status, uint32_t *result);
mx_return_t mx_wait_any(mx_endpoint_t endpoint, uint32_t timeout, uint64_t match_info,
                        uint64_t match_mask, mx_status_t *status, uint32_t *result);
/* Return (without reaping) the oldest completed request. */
mx_return_t mx_ipeek(mx_endpoint_t endpoint, mx_request_t *request, uint32_t *result);
mx_return_t mx_peek(mx_endpoint_t endpoint, uint32_t timeout, mx_request_t *request,
                     uint32_t *result);
/* Look for an unexpected (arrived, not yet received) message that matches;
 * status tells its source, match_info and msg_length; nothing is consumed. */
mx_return_t mx_iprobe(mx_endpoint_t endpoint, uint64_t match_info, uint64_t match_mask,
                      mx_status_t *status, uint32_t *result);
mx_return_t mx_probe(mx_endpoint_t endpoint, uint32_t timeout, uint64_t match_info,
                     uint64_t match_mask, mx_status_t *status, uint32_t *result);
/* *result 1 when a send's buffers may be reused (the data is buffered). */
mx_return_t mx_ibuffered(mx_endpoint_t endpoint, mx_request_t *request, uint32_t *result);
/* As mx_ibuffered, blocking up to timeout ms. */
mx_return_t mx_buffered(mx_endpoint_t endpoint, mx_request_t *request, uint32_t timeout,
                        uint32_t *result);

/* The context pointer given when the request was posted. */
mx_return_t mx_context(mx_request_t *request, void **context);

/* Query a property; see enum mx_get_info_key for in/out types. */
mx_return_t mx_get_info(mx_endpoint_t ep, mx_get_info_key_t key, void *in_val,
                        uint32_t in_len, void *out_val, uint32_t out_len);

/* Name resolution.  Hostnames are "host" or "host:board". */
mx_return_t mx_hostname_to_nic_id(char *hostname, uint64_t *nic_id);
mx_return_t mx_board_number_to_nic_id(uint32_t board_number, uint64_t *nic_id);
mx_return_t mx_nic_id_to_board_number(uint64_t nic_id, uint32_t *board_number);
mx_return_t mx_nic_id_to_hostname(uint64_t nic_id, char *hostname);

/* Reach endpoint (nic_id, endpoint_id), presenting key; retries until the
 * peer endpoint exists or timeout ms pass (MX_TIMEOUT).
 * MX_BAD_CONNECTION_KEY when the key is wrong. */
mx_return_t mx_connect(mx_endpoint_t endpoint, uint64_t nic_id, uint32_t endpoint_id,
                       uint32_t key, uint32_t timeout, mx_endpoint_addr_t *addr);
mx_return_t mx_decompose_endpoint_addr(mx_endpoint_addr_t endpoint_addr,
                                       uint64_t *nic_id, uint32_t *endpoint_id);
mx_return_t mx_get_endpoint_addr(mx_endpoint_t endpoint, mx_endpoint_addr_t *endpoint_addr);

/* Remote memory access, declared by MX but never implemented by it: these
 * return MX_FAILURE with a message saying so (through the error handler,
 * except that MX_ERRORS_ARE_FATAL does not abort for them: a program may
 * probe for the feature).  mx_register_unexp_callback is MX's deprecated
 * predecessor of mx_register_unexp_handler and answers the same way. */
typedef void (*mx_matching_callback_t)(void *context, uint64_t match_value, int length);
mx_return_t mx_register_unexp_callback(mx_endpoint_t ep, mx_matching_callback_t cb, void *ctxt);
mx_return_t mx_iput(mx_endpoint_t endpoint, void *local_addr, uint32_t length,
                    mx_endpoint_addr_t dest_endpoint, uint64_t remote_addr, void *context,
                    mx_request_t *request);
mx_return_t mx_iget(mx_endpoint_t endpoint, void *local_addr, uint32_t length,
                    mx_endpoint_addr_t dest_endpoint, uint64_t remote_addr, void *context,
                    mx_request_t *request);

/* Text of a return code or a status code (never NULL). */
const char *mx_strerror(mx_return_t return_code);
const char *mx_strstatus(mx_status_code_t status);

#ifdef __cplusplus
}
#endif

#include "mx_extensions.h"

#endif /* MYRIEXPRESS_H */
