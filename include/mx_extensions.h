/*
 * mx_extensions.h - MX 1.2 extensions to the core API, as libmyrixen
 * implements them.  Included by myriexpress.h.
 */
#ifndef MX_EXTENSIONS_H
#define MX_EXTENSIONS_H

#include "myriexpress.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MX_HAS_ICONNECT_V2 1

/* What an unexpected handler tells the library about the message. */
enum mx_unexp_handler_action {
  MX_RECV_CONTINUE = 0, /* go on: match a receive (one the handler may just
                           have posted) or keep the message as unexpected */
  MX_RECV_FINISHED      /* the handler consumed it: drop it (a rendezvous
                           sender completes as if a 0-byte receive matched) */
};
typedef enum mx_unexp_handler_action mx_unexp_handler_action_t;

/* Called when a message arrives that no posted receive matches, before it
 * is queued as unexpected: source, match info and length of the message,
 * and its bytes when they arrived whole with the first packet (small
 * messages, single-fragment medium ones), else NULL.  It runs in the thread
 * that made progress, with the endpoint's other progress held off; it may
 * post receives and sends, but must not wait, nor close the endpoint
 * (MX_CLOSE_IN_HANDLER). */
typedef mx_unexp_handler_action_t (*mx_unexp_handler_t)(void *context, mx_endpoint_addr_t source,
                                                        uint64_t match_value, uint32_t length,
                                                        void *data_if_available);

/* Install (or, with NULL, remove) the endpoint's unexpected handler. */
mx_return_t mx_register_unexp_handler(mx_endpoint_t ep, mx_unexp_handler_t handler, void *context);

/* Give up on requests not acknowledged within milli_seconds: a send still
 * waiting for room on its way to the peer (the peer does not take its
 * messages), or a connect whose peer never opens, completes with
 * MX_STATUS_TIMEOUT.  request NULL sets the endpoint's default for requests
 * posted later; 0 means no limit (the default).  A message that has reached
 * the peer is never taken back: once acknowledged, a send does not time out
 * while it waits for its match. */
mx_return_t mx_set_request_timeout(mx_endpoint_t endpoint, mx_request_t request,
                                   uint32_t milli_seconds);

/* Reap a request without reporting it: it is freed when it completes. */
mx_return_t mx_forget(mx_endpoint_t endpoint, mx_request_t *request);

/* Non-blocking mx_connect: returns at once; progress retries a peer that is
 * not open yet.  The request completes with status.source set to the
 * peer's address and status.code MX_STATUS_SUCCESS, MX_STATUS_BAD_KEY,
 * MX_STATUS_BAD_ENDPOINT or MX_STATUS_TIMEOUT (after the request timeout,
 * or 10 s, or $MYRIXEN_CONNECT_MS).  match_info comes back in
 * status.match_info, context in status.context. */
mx_return_t mx_iconnect(mx_endpoint_t endpoint, uint64_t nic_id, uint32_t endpoint_id,
                        uint32_t key, uint64_t match_info, void *context,
                        mx_request_t *request);

/* Forget a connection; its address must not be used to send afterwards. */
mx_return_t mx_disconnect(mx_endpoint_t endpoint, mx_endpoint_addr_t addr);

/* As mx_decompose_endpoint_addr, plus the peer's session id (which changes
 * when the peer endpoint is closed and opened again). */
mx_return_t mx_decompose_endpoint_addr2(mx_endpoint_addr_t endpoint_addr,
                                        uint64_t *nic_id, uint32_t *endpoint_id,
                                        uint32_t *session_id);

/* Attach an application pointer to a peer address (kept per connection). */
mx_return_t mx_set_endpoint_addr_context(mx_endpoint_addr_t endpoint_addr, void *context);
mx_return_t mx_get_endpoint_addr_context(mx_endpoint_addr_t endpoint_addr, void **context);

/* MyriXen: a receive, and a probe, that take only messages from source
 * (an address of this endpoint; NULL: any source, as mx_irecv and
 * mx_iprobe).  The source is the one the engine or the direct channel
 * stamped on the message, never what the sender claims.  A receive from
 * one source does not overtake that source's older messages, and leaves
 * other sources' messages to other receives.  MX_BAD_ADDR_LIST when source
 * is not an address of this endpoint. */
#define MYRIXEN_HAS_IRECV_FROM 1
mx_return_t mx_irecv_from(mx_endpoint_t endpoint, mx_segment_t *segments_list,
                          uint32_t segments_count, uint64_t match_info, uint64_t match_mask,
                          const mx_endpoint_addr_t *source, void *context,
                          mx_request_t *request);
mx_return_t mx_iprobe_from(mx_endpoint_t endpoint, uint64_t match_info, uint64_t match_mask,
                           const mx_endpoint_addr_t *source, mx_status_t *status,
                           uint32_t *imm, uint32_t *has_imm, uint32_t *result);

/* MyriXen: a 32-bit immediate with a message, outside its match info and
 * its data (what libfabric calls remote CQ data).  Lengths reported on
 * either side are the application's, without it.  mx_test_any_imm is
 * mx_test_any that also gives the reaped request's immediate (*has_imm 1
 * when its message had one; a send reports its own); mx_iprobe_from gives
 * the probed message's.  imm and has_imm may be NULL.  At most
 * MX_MAX_SEGMENTS - 1 segments with an immediate. */
#define MYRIXEN_HAS_IMM 1
mx_return_t mx_isend_imm(mx_endpoint_t endpoint, mx_segment_t *segments_list,
                         uint32_t segments_count, mx_endpoint_addr_t dest_endpoint,
                         uint64_t match_info, uint32_t imm, void *context, mx_request_t *request);
mx_return_t mx_issend_imm(mx_endpoint_t endpoint, mx_segment_t *segments_list,
                          uint32_t segments_count, mx_endpoint_addr_t dest_endpoint,
                          uint64_t match_info, uint32_t imm, void *context,
                          mx_request_t *request);
mx_return_t mx_test_any_imm(mx_endpoint_t endpoint, uint64_t match_info, uint64_t match_mask,
                            mx_status_t *status, uint32_t *imm, uint32_t *has_imm,
                            uint32_t *result);

/* Run the progress engine of the endpoint once, without blocking. */
mx_return_t mx_progress(mx_endpoint_t endpoint);

#ifdef __cplusplus
}
#endif

#endif /* MX_EXTENSIONS_H */
