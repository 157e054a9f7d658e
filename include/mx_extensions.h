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

/* Reap a request without reporting it: it is freed when it completes. */
mx_return_t mx_forget(mx_endpoint_t endpoint, mx_request_t *request);

/* Non-blocking mx_connect: the request completes with status.source set to
 * the peer's address, status.code MX_STATUS_SUCCESS, MX_STATUS_BAD_KEY or
 * MX_STATUS_TIMEOUT.  match_info is reported back in status.match_info. */
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

/* Run the progress engine of the endpoint once, without blocking. */
mx_return_t mx_progress(mx_endpoint_t endpoint);

#ifdef __cplusplus
}
#endif

#endif /* MX_EXTENSIONS_H */
