/* txq.h - queues descriptors are produced into, with a backlog (layer 1). */
#ifndef MYRIXEN_LIB_TXQ_H
#define MYRIXEN_LIB_TXQ_H

#include "lib.h"

/* txq.c */
void txq_init(struct txq *t, struct queue *q, int kick_fd);
/* r's descriptor line, as every path sends it (the lane too). */
void txq_header(struct msg *s, const struct req *r, uint8_t type);
/* r has left entirely (on any path): complete it, or wait for its answer. */
void txq_emitted(struct mx_endpoint *ep, struct req *r);
void txq_submit(struct mx_endpoint *ep, struct txq *t, struct req *r);
int txq_write_small(struct txq *t, const struct conn *c, const void *buf, uint32_t len,
                    uint64_t match, uint32_t seq, const uint32_t *imm);
void txq_sent_early(struct mx_endpoint *ep, struct txq *t, struct req *r);
/* Publish what txq_write_small wrote, with no request (lib_inject). */
void txq_publish(struct txq *t);
void txq_send_ctl(struct mx_endpoint *ep, struct txq *t, const struct msg *m);
/* A control request carrying a copy of m, for a queue's backlog or a
 * lane's (NULL: no memory). */
struct req *txq_ctl_req(struct mx_endpoint *ep, const struct msg *m);
int txq_drain(struct mx_endpoint *ep, struct txq *t);
/* Complete with MX_STATUS_TIMEOUT the backlogged sends past their deadline
 * that have not started to leave (a half-sent message is never cut). */
int txq_expire(struct mx_endpoint *ep, struct txq *t, uint64_t now);
void txq_fail(struct mx_endpoint *ep, struct txq *t, mx_status_code_t code);
/* The same for any backlog (a lane's): a FIFO of requests on txnext. */
int txq_backlog_expire(struct mx_endpoint *ep, struct req **head, struct req **tail,
                       uint64_t now);
void txq_backlog_fail(struct mx_endpoint *ep, struct req **head, struct req **tail,
                      mx_status_code_t code);

#endif
