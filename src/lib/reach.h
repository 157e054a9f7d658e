/* reach.h - reaching peers (layer 3). */
#ifndef MYRIXEN_LIB_REACH_H
#define MYRIXEN_LIB_REACH_H

#include "lib.h"

/* reach.c */
#define REACH_RETRY_NS 5000000ull /* a pending mx_iconnect is tried again this often */
/* One connect exchange with the backend.  0 and *out, or an MX code. */
int reach_once(struct mx_endpoint *ep, uint64_t nic, uint32_t eid, uint32_t key,
               struct conn **out);
/* One attempt for a pending mx_iconnect: 0 to try again later, or 1 and
 * the status it finished with (not yet reported). */
int reach_try(struct mx_endpoint *ep, struct req *r, uint64_t now, mx_status_code_t *code);
/* Retry pending mx_iconnect requests (progress, lock held). */
int reach_progress(struct mx_endpoint *ep, uint64_t now);
/* Attach the channels peers opened to us. */
void reach_take_attached(struct mx_endpoint *ep);

#endif
