/* send.h - sending (layer 3). */
#ifndef MYRIXEN_LIB_SEND_H
#define MYRIXEN_LIB_SEND_H

#include "lib.h"

/* send.c */
/* imm: the message's immediate (mx_isend_imm), or NULL. */
mx_return_t send_post(struct mx_endpoint *ep, mx_segment_t *segs, uint32_t n,
                      mx_endpoint_addr_t dest, uint64_t match, void *ctx, int sync,
                      const uint32_t *imm, mx_request_t *out);
void send_acked(struct mx_endpoint *ep, const struct msg *m, mx_status_code_t code);

#endif
