/* conn.h - connections to peers (layer 2). */
#ifndef MYRIXEN_LIB_CONN_H
#define MYRIXEN_LIB_CONN_H

#include "lib.h"

/* conn.c */
struct conn *conn_get(struct mx_endpoint *ep, uint64_t nic, uint32_t eid, int create);
struct conn *conn_from_addr(struct mx_endpoint *ep, const mx_endpoint_addr_t *a);
void conn_to_addr(const struct conn *c, mx_endpoint_addr_t *a);
void conn_fail(struct mx_endpoint *ep, struct conn *c, mx_status_code_t code);

#endif
