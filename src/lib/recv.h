/* recv.h - receiving (layer 3). */
#ifndef MYRIXEN_LIB_RECV_H
#define MYRIXEN_LIB_RECV_H

#include "lib.h"

/* recv.c */
void recv_incoming(struct mx_endpoint *ep, struct chan *via, const struct msg *m,
                   const uint8_t *eager);
void recv_matched(struct mx_endpoint *ep, struct req *r, struct req *u);
void recv_start_large(struct mx_endpoint *ep, struct req *r);
void recv_event(struct mx_endpoint *ep, const struct msg *m);

#endif
