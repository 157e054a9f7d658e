/*
 * net.h - the engine across hosts: ports, peers, the reliable stream per
 * peer, and the mapping of VIF messages to wire packets (docs/wire.md).
 *
 * Everything here runs with be->lock held, in the engine thread (the
 * control thread only starts connects and reads reports).  A backend
 * without ports has no network: every call is then cheap and says so.
 */
#ifndef MYRIXEN_NET_H
#define MYRIXEN_NET_H

#include <poll.h>
#include <stdint.h>

#include "../common/ctl.h"
#include "../common/region.h"

struct backend;
struct be_endpoint;
struct be_guest;

struct net_config {
  const char *ports[4];        /* --port specs */
  int nports;
  const char *peers_file;      /* --peers */
  const char *fault;           /* --fault or $MYRIXEN_FAULT */
  uint32_t peer_timeout_ms;    /* give up on an unanswering peer after this */
  int no_discovery;            /* --no-discovery: peers from the file (or their packets) only */
};

/* Open ports, arm faults, read the peers file.  0, or -1 with err set. */
int net_setup(struct backend *be, const struct net_config *cfg, char *err, size_t errlen);
void net_teardown(struct backend *be);

/* True when nic names another host this backend can reach (or try to). */
int net_is_remote(struct backend *be, uint64_t nic);

/* Engine round: packets in, timers (retransmission, delayed acks, held
 * faults), remote pulls out.  Returns the work done. */
int net_progress(struct backend *be);
/* True while packets are in flight or a remote pull streams: the next
 * packet (an ack, the next window) is a round trip away, not an idle link. */
int net_busy(struct backend *be);
/* Hand every packet queued on the ports to the kernel (net_progress does
 * at its start and end; a sender outside the engine's round calls it). */
void net_flush(struct backend *be);
/* Before sleeping: the descriptors to watch, and how long until a timer
 * needs the engine (ms; -1: none). */
int net_poll_fds(struct backend *be, struct pollfd *pfd, int max);
int net_next_timer_ms(struct backend *be);

/* A guest's request for a remote destination.  1: consumed (sent, or
 * refused with a NACK); 0: the peer's window is full, retry later. */
int net_send_msg(struct backend *be, struct be_endpoint *src, struct msg *m,
                 const uint8_t *eager);
/* A guest's MSG_PULL of a remote rendezvous.  1 consumed, 0 retry. */
int net_pull_start(struct backend *be, struct be_endpoint *rcv, const struct msg *m);

/* A guest connects to a remote endpoint: the reply (CTL_REPLY or
 * CTL_ERROR with seq) is sent to the guest when the peer answers, or
 * MX_CONNECTION_FAILED after a second.  Returns 0, or an MX code to answer
 * at once. */
int net_connect(struct backend *be, struct be_guest *g, uint32_t seq, struct be_endpoint *me,
                const struct ctl_connect *c);

/* Names of the hosts this backend knows (peers file, or learnt). */
int net_resolve_name(struct backend *be, const char *host, uint64_t *nic);
int net_resolve_nic(struct backend *be, uint64_t nic, char *host, size_t len);

/* JSON: ports (with fault counters) and peers (state, rtt, counters). */
char *net_report(struct backend *be);

/* 48-bit nic id of a host name, as every backend derives it by default. */
uint64_t net_nic_from_name(const char *name);

#endif
