/* channel.h - direct channels between two guests of one host (layer 2). */
#ifndef MYRIXEN_LIB_CHANNEL_H
#define MYRIXEN_LIB_CHANNEL_H

#include "../common/doorbell.h"
#include "lib.h"

/* channel.c */
/* fds: CHANNEL_FDS, then the peer's pidfd when peer_pid is not 0;
 * peer_covers as the backend said (ctl_connect_reply). */
int chan_attach(struct mx_endpoint *ep, struct conn *c, int side, int *fds, int nfds,
                pid_t peer_pid, int peer_covers);
void chan_close(struct mx_endpoint *ep, struct chan *ch);
/* Receiver: r matched a large message of this channel; the CTS goes out
 * and the data comes through the pipes in CTS order. */
void chan_large_ready(struct mx_endpoint *ep, struct chan *ch, struct req *r);
/* Receiver: take r's data straight from the sender's buffer (MSG_F_CMA),
 * a long one's tail written by the sender meanwhile.  0: r is done or
 * waits for MSG_WRITTEN; -1: take the pipes instead. */
int chan_read_direct(struct mx_endpoint *ep, struct chan *ch, struct req *r);
/* Receiver: the sender wrote (or could not write) r's tail. */
void chan_written(struct mx_endpoint *ep, struct chan *ch, const struct msg *m);
/* Sender: the receiver says it has all of a large send (MSG_LARGE_DONE):
 * may it complete?  Not while the pipes still hold its pages (a hostile
 * receiver's early word): then the word is ignored. */
int chan_large_done(struct mx_endpoint *ep, struct chan *ch, const struct msg *m);
/* The peer is ready for our large send its CTS names. */
void chan_cts(struct mx_endpoint *ep, struct chan *ch, const struct msg *m);
/* Move what the pipes allow and push our backlog: work, -1 when the peer
 * is gone. */
int chan_move(struct mx_endpoint *ep, struct chan *ch);
void chan_arm(struct chan *ch, struct pollfd *pfd, int *n);

/* Reading the peer's messages: inline, as every poll of a waiter runs
 * them (a call each cost the 8-byte ping-pong a tenth of its time). */

/* A peer's descriptor must be one a channel carries, with sane lengths. */
static inline int chan_msg_valid(const struct msg *m)
{
  switch (m->type) {
  case MSG_SMALL:
  case MSG_FRAG:
    return msg_data_valid(m, lib.hello.medium_max);
  case MSG_RNDV:
  case MSG_SYNC_ACK:
  case MSG_CTS:
  case MSG_LARGE_DONE:
  case MSG_WRITTEN:
    return 1;
  default:
    return 0;
  }
}

/* Give the peer back the slots taken so far. */
static inline void chan_release(struct chan *ch)
{
  if (qcons_release(&ch->rx))
    doorbell_ring(ch->peer_doorbell);
}

/* The peer's next message, copied, checked and stamped with the peer's
 * identity: 1, 0 when none waits, -1 when the peer broke the protocol. */
static inline int chan_next(struct chan *ch, struct msg *m, const uint8_t **eager)
{
  int r = qcons_next(&ch->rx, m, eager);
  if (r <= 0)
    return r;
  if (!chan_msg_valid(m))
    return -1;
  m->peer_eid = ch->conn->eid; /* the peer cannot claim to be anyone else */
  m->peer_nic = ch->conn->nic;
  return 1;
}

/* Done with m, the taken-th message of this drain. */
static inline void chan_advance(struct chan *ch, const struct msg *m, int taken)
{
  qcons_advance(&ch->rx, m);
  if (taken % 32 == 0)
    chan_release(ch); /* a long drain gives slots back as it goes */
}

#endif
