/*
 * channel.c - the direct guest-to-guest channel of two endpoints on one
 * host: the fast path of the bypass datapath.
 *
 * Small and medium messages go through the channel's queues exactly as they
 * would through a VIF (same descriptors, same eager slots), but the peer's
 * library consumes them: no engine, no backend, no syscall.  Large messages
 * use two pipes per direction: after the receiver's CTS, the sender
 * vmsplices its pages into them (no copy), a piece into each in turn, and
 * the receiver reads them straight into its buffer: one copy, by the
 * receiver, and no access by either guest to anything but what the other
 * put in the channel.  (With one pipe, the pipe's mutex made the sender's
 * pinning and the receiver's copy take turns.)
 *
 * The peer is not trusted: every descriptor is copied, checked and stamped
 * with the peer's identity (it cannot claim to be anyone else).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/fifo.h"
#include "../common/doorbell.h"
#include "../common/iov.h"
#include "lib.h"
#include "base.h"
#include "txq.h"
#include "channel.h"

#define CHAN_IOV 64

/* Does this process hold CAP_SYS_PTRACE (permitted: a thread may raise it)? */
static int may_ptrace_anyone(void)
{
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) < 0)
    return 1; /* unknown: as if it did */
  return !!(d[CAP_SYS_PTRACE / 32].permitted & (1u << (CAP_SYS_PTRACE % 32)));
}

int chan_attach(struct mx_endpoint *ep, struct conn *c, int side, int *fds, int nfds,
                pid_t peer_pid, int peer_covers)
{
  int pidfd = nfds > CHANNEL_FDS ? fds[CHANNEL_FDS] : -1;
  for (int i = CHANNEL_FDS + 1; i < nfds; i++)
    close(fds[i]);
  if (pidfd < 0)
    peer_pid = 0; /* no way to tell that the pid is still the peer's */
  struct chan *ch = calloc(1, sizeof(*ch));
  struct channel *mem = mmap(NULL, CHANNEL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
  close(fds[0]);
  if (!ch || mem == MAP_FAILED || side < 0 || side > 1 || mem->hdr.magic != CHANNEL_MAGIC ||
      mem->hdr.version != CHANNEL_VERSION || mem->hdr.eid[side] != ep->eid ||
      mem->hdr.eid[1 - side] != c->eid) {
    if (mem != MAP_FAILED)
      munmap(mem, CHANNEL_SIZE);
    free(ch);
    for (int i = 1; i < CHANNEL_FDS; i++)
      close(fds[i]);
    if (pidfd >= 0)
      close(pidfd);
    return -1;
  }
  ch->mem = mem;
  ch->side = side;
  ch->pipe_out[0] = fds[1];
  ch->pipe_in[0] = fds[2];
  ch->peer_doorbell = fds[3];
  ch->peer_pid = peer_pid;
  ch->peer_pidfd = pidfd;
  ch->may_ptrace = peer_pid && !peer_covers && may_ptrace_anyone();
  ch->pipe_out[1] = fds[4];
  ch->pipe_in[1] = fds[5];
  txq_init(&ch->tx, &mem->q[side], ch->peer_doorbell);
  qcons_init(&ch->rx, &mem->q[1 - side]);
  ch->conn = c;
  c->ch = ch;
  ch->next = ep->chans;
  ep->chans = ch;
  return 0;
}

/* The peer process the backend vouched for still runs: its pid names it.
 * Once it does not, never again (the pid may be another's). */
static int peer_alive(struct chan *ch)
{
  struct pollfd p = {.fd = ch->peer_pidfd, .events = POLLIN};
  if (ch->peer_pid && poll(&p, 1, 0) == 0)
    return 1;
  ch->peer_pid = 0;
  return 0;
}

/* The peer closed its side of the channel (its pipes to us hung up). */
static int peer_closed(const struct chan *ch)
{
  struct pollfd p = {.fd = ch->pipe_in[0], .events = POLLIN};
  return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR));
}

/* Closing with receives whose tail the peer is still to write: their
 * buffers go back to the application, so wait (a while) for the peer's
 * MSG_WRITTEN, unless it died or closed its side.  After that, the peer
 * sees our side closed before it writes (write_tail).  The channel may
 * already be cut from its connection (conn_fail): only the queue is read,
 * and only MSG_WRITTEN taken, which names nobody. */
static void wait_for_writes(struct mx_endpoint *ep, struct chan *ch)
{
  uint64_t until = clock_now_ns() + 2000000000ull;
  while (ch->splits && peer_alive(ch) && !peer_closed(ch) && clock_now_ns() < until) {
    struct msg m;
    const uint8_t *eager;
    int r = 0, taken = 0;
    while (ch->splits && clock_now_ns() < until && (r = qcons_next(&ch->rx, &m, &eager)) > 0) {
      if (m.type == MSG_WRITTEN)
        chan_written(ep, ch, &m); /* anything else is dropped with the channel */
      chan_advance(ch, &m, ++taken);
    }
    chan_release(ch);
    if (r < 0)
      break;
    sched_yield();
  }
}

void chan_close(struct mx_endpoint *ep, struct chan *ch)
{
  if (ch->splits)
    wait_for_writes(ep, ch);
  for (struct chan **pp = &ep->chans; *pp; pp = &(*pp)->next)
    if (*pp == ch) {
      *pp = ch->next;
      break;
    }
  txq_fail(ep, &ch->tx, MX_STATUS_ENDPOINT_CLOSED);
  ch->splice_head = ch->read_head = NULL;
  if (ch->conn)
    ch->conn->ch = NULL;
  munmap(ch->mem, CHANNEL_SIZE);
  for (int k = 0; k < 2; k++) {
    close(ch->pipe_out[k]);
    close(ch->pipe_in[k]);
  }
  close(ch->peer_doorbell);
  if (ch->peer_pidfd >= 0)
    close(ch->peer_pidfd);
  free(ch);
}

void chan_large_ready(struct mx_endpoint *ep, struct chan *ch, struct req *r)
{
  struct msg cts = {.type = MSG_CTS, .cookie = r->peer_cookie, .cookie2 = req_cookie(r),
                    .total = (uint32_t)r->xfer};
  r->got = 0;
  FIFO_PUSH(&ch->read_head, &ch->read_tail, r, lnext);
  txq_send_ctl(ep, &ch->tx, &cts);
}

/* Messages from this long on are copied by both cores (region.h). */
#define CHAN_SPLIT_MIN (32u << 10)

/* Read r's bytes [from, to) out of the sender's buffer.  0 or -1. */
/* One process_vm_readv (or _writev) on the peer, made as an unprivileged
 * process of our user would make it.  With CAP_SYS_PTRACE in effect we
 * would go on reading and writing the peer after it became privileged (an
 * exec of a setuid program keeps its pid and its pidfd), where the kernel
 * refuses one that may not: so the capability leaves this thread's
 * effective set for the call. */
static ssize_t peer_copy(struct chan *ch, int write, const struct iovec *iov, int n,
                         const struct iovec *remote)
{
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct saved[2], lowered[2];
  const int w = CAP_SYS_PTRACE / 32;
  const uint32_t bit = 1u << (CAP_SYS_PTRACE % 32);
  int drop = ch->may_ptrace && syscall(SYS_capget, &h, saved) == 0 && (saved[w].effective & bit);
  if (drop) {
    memcpy(lowered, saved, sizeof(saved));
    lowered[w].effective &= ~bit;
    h = (struct __user_cap_header_struct){_LINUX_CAPABILITY_VERSION_3, 0};
    if (syscall(SYS_capset, &h, lowered) < 0) {
      errno = EPERM;
      return -1;
    }
  }
  ssize_t k = write ? process_vm_writev(ch->peer_pid, iov, (unsigned long)n, remote, 1, 0)
                    : process_vm_readv(ch->peer_pid, iov, (unsigned long)n, remote, 1, 0);
  int err = errno;
  if (drop) {
    h = (struct __user_cap_header_struct){_LINUX_CAPABILITY_VERSION_3, 0};
    syscall(SYS_capset, &h, saved);
  }
  errno = err;
  return k;
}

static int read_range(struct chan *ch, struct req *r, uint64_t from, uint64_t to)
{
  struct iovec iov[CHAN_IOV];
  /* An immediate came in the announcement; the address is the data's
   * after it (the sender's immediate is not in its buffer). */
  uint64_t skip = r->has_imm ? 4 : 0;
  if (!peer_alive(ch))
    return -1;
  for (uint64_t done = from; done < to;) {
    int n = iov_range(r->segs, r->nseg, done, to - done, iov, CHAN_IOV);
    struct iovec src = {(void *)(uintptr_t)(r->peer_addr + done - skip),
                        (size_t)iov_total(iov, (uint32_t)n)};
    ssize_t k = peer_copy(ch, 0, iov, n, &src);
    if (k <= 0) {
      /* not allowed (another user, Yama), or the sender named memory it
       * does not have: the pipes then carry this message (and, unless
       * the address was the fault, every later one) */
      if (k < 0 && errno != EFAULT)
        ch->peer_pid = 0;
      return -1;
    }
    done += (uint64_t)k;
  }
  /* had the peer died meanwhile, its pid might have named another process
   * for part of the read: none of it is taken */
  return peer_alive(ch) ? 0 : -1;
}

static void read_done(struct mx_endpoint *ep, struct chan *ch, struct req *r)
{
  struct msg fin = {.type = MSG_LARGE_DONE, .cookie = r->peer_cookie, .total = (uint32_t)r->xfer};
  txq_send_ctl(ep, &ch->tx, &fin);
  ep->counters[EPC_DIRECT_READS]++;
  req_complete(ep, r, MX_STATUS_SUCCESS);
}

/* Where the sender may write r's tail: from half-way (a page boundary)
 * when that is one segment of ours (*tail), else 0. */
static uint64_t split_point(const struct req *r, struct iovec *tail)
{
  if (r->xfer < CHAN_SPLIT_MIN)
    return 0;
  uint64_t at = (r->xfer / 2 + 4095) & ~4095ull;
  if (iov_range(r->segs, r->nseg, at, r->xfer - at, tail, 1) != 1 ||
      tail->iov_len != r->xfer - at)
    return 0;
  return at;
}

int chan_read_direct(struct mx_endpoint *ep, struct chan *ch, struct req *r)
{
  uint64_t skip = r->has_imm ? 4 : 0;
  if (!peer_alive(ch) || r->xfer < skip)
    return -1;
  struct iovec tail;
  uint64_t at = split_point(r, &tail);
  if (at) {
    struct msg cts = {.type = MSG_CTS, .flags = MSG_F_CMA, .cookie = r->peer_cookie,
                      .cookie2 = req_cookie(r), .total = (uint32_t)r->xfer,
                      .grant = (uint32_t)at, .match = (uint64_t)(uintptr_t)tail.iov_base};
    txq_send_ctl(ep, &ch->tx, &cts); /* the sender copies the tail meanwhile */
  }
  if (read_range(ch, r, skip, at ? at : r->xfer) < 0) {
    if (!at)
      return -1;
    /* the sender writes the tail all the same: read ours through the
     * pipes would race it, so read the head once more at MSG_WRITTEN */
    r->got = 0;
  } else {
    r->got = at ? at : r->xfer;
  }
  if (skip)
    seg_scatter(r->segs, r->nseg, 0, &r->imm, skip);
  if (at) {
    r->split = at; /* MSG_WRITTEN finishes it */
    ch->splits++;
    return 0;
  }
  read_done(ep, ch, r);
  return 0;
}

void chan_written(struct mx_endpoint *ep, struct chan *ch, const struct msg *m)
{
  struct req *r = req_from_cookie(ep, m->cookie, REQ_RECV);
  if (!r || r->state != RS_ACTIVE || r->via != ch || !r->split)
    return; /* stale or forged: nothing of ours */
  uint64_t at = r->split, skip = r->has_imm ? 4 : 0;
  r->split = 0;
  ch->splits--;
  /* what is not in yet, we read ourselves: a head our read missed, a tail
   * the sender could not write */
  if ((r->got < at && read_range(ch, r, skip, at) < 0) ||
      (m->status != MSG_ST_OK && read_range(ch, r, at, r->xfer) < 0)) {
    chan_large_ready(ep, ch, r); /* all of it through the pipes, then */
    return;
  }
  read_done(ep, ch, r);
}

/* The bytes of r's current piece still to move at offset got: a message
 * is cut into CHANNEL_PIECE pieces from its start, the same on both sides,
 * and the pieces of the channel alternate between its two pipes. */
static uint64_t piece_left(const struct req *r)
{
  uint64_t in_piece = CHANNEL_PIECE - r->got % CHANNEL_PIECE;
  return r->xfer - r->got < in_piece ? r->xfer - r->got : in_piece;
}

/* Move what the pipes allow.  Returns work done, -1 when the peer is gone. */
static int chan_pipes(struct mx_endpoint *ep, struct chan *ch)
{
  struct iovec iov[CHAN_IOV];
  int work = 0;

  while (ch->splice_head) {
    struct req *r = ch->splice_head;
    while (r->got < r->xfer) {
      uint64_t want = piece_left(r);
      int n = iov_range(r->segs, r->nseg, r->got, want, iov, CHAN_IOV);
      ssize_t k = vmsplice(ch->pipe_out[ch->piece_out & 1], iov, (unsigned long)n,
                           SPLICE_F_NONBLOCK);
      if (k < 0 && errno != EAGAIN)
        return -1;
      /* A full pipe must not keep us from reading ours: the peer may be
       * waiting for room in its own pipe to us (both sides sending large
       * messages at once deadlocked here). */
      if (k < 0)
        goto read;
      r->got += (uint64_t)k;
      work++;
      int pipe = (int)(ch->piece_out & 1);
      ch->spliced[pipe] += (uint64_t)k;
      r->pipe_end[pipe] = ch->spliced[pipe];
      if ((uint64_t)k == want)
        ch->piece_out++; /* the next piece goes into the other pipe */
    }
    /* All spliced: the sender completes at LARGE_DONE, when the receiver
     * has read the pages (the pipe holds references to them until then). */
    FIFO_POP(&ch->splice_head, &ch->splice_tail, lnext);
  }
read:
  while (ch->read_head) {
    struct req *r = ch->read_head;
    while (r->got < r->xfer) {
      uint64_t want = piece_left(r);
      int n = iov_range(r->segs, r->nseg, r->got, want, iov, CHAN_IOV);
      ssize_t k = readv(ch->pipe_in[ch->piece_in & 1], iov, n);
      if (k == 0 || (k < 0 && errno != EAGAIN))
        return -1;
      if (k < 0)
        return work;
      r->got += (uint64_t)k;
      work++;
      if ((uint64_t)k == want)
        ch->piece_in++;
    }
    FIFO_POP(&ch->read_head, &ch->read_tail, lnext);
    struct msg done = {.type = MSG_LARGE_DONE, .cookie = r->peer_cookie,
                       .total = (uint32_t)r->xfer};
    txq_send_ctl(ep, &ch->tx, &done);
    req_complete(ep, r, MX_STATUS_SUCCESS);
  }
  return work;
}

/* Sender: write r's bytes [at, end) to the receiver's buffer at addr.
 * 0 or -1. */
static int write_tail(struct chan *ch, struct req *r, uint64_t at, uint64_t end, uint64_t addr)
{
  struct iovec iov[CHAN_IOV];
  /* the receiver still runs, and still has its side open: a receive it
   * gave up (closing) gets nothing written into its buffer */
  struct pollfd side = {.fd = ch->pipe_out[0], .events = POLLOUT};
  if (!peer_alive(ch) || poll(&side, 1, 0) < 0 || (side.revents & (POLLERR | POLLHUP)))
    return -1;
  for (uint64_t done = at; done < end;) {
    int n = iov_range(r->segs, r->nseg, done, end - done, iov, CHAN_IOV);
    struct iovec dst = {(void *)(uintptr_t)(addr + done - at), (size_t)iov_total(iov, (uint32_t)n)};
    ssize_t k = peer_copy(ch, 1, iov, n, &dst);
    if (k <= 0)
      return -1;
    done += (uint64_t)k;
  }
  return 0;
}

void chan_cts(struct mx_endpoint *ep, struct chan *ch, const struct msg *m)
{
  struct req *r = req_from_cookie(ep, m->cookie, REQ_SEND);
  if (!r || r->state != RS_ACTIVE || r->type != MSG_RNDV || r->conn != ch->conn)
    return;
  /* A receiver asks for the tail once, before anything else, and for the
   * pipes once: more would make us copy without end, or splice twice. */
  uint8_t kind = (m->flags & MSG_F_CMA) ? CTS_CMA : CTS_PIPES;
  if ((r->cts_taken & kind) || (kind == CTS_CMA && r->cts_taken))
    return;
  r->cts_taken |= kind;
  if (kind == CTS_CMA) {
    /* the receiver reads the head and asks us for the tail */
    uint64_t end = m->total < r->len ? m->total : r->len;
    int ok = m->grant <= end && write_tail(ch, r, m->grant, end, m->match) == 0;
    struct msg w = {.type = MSG_WRITTEN, .cookie = m->cookie2,
                    .status = ok ? MSG_ST_OK : MSG_ST_NOT_WRITTEN};
    txq_send_ctl(ep, &ch->tx, &w);
    return;
  }
  r->xfer = m->total < r->len ? m->total : r->len;
  r->got = 0;
  FIFO_PUSH(&ch->splice_head, &ch->splice_tail, r, lnext);
}

int chan_large_done(struct mx_endpoint *ep, struct chan *ch, const struct msg *m)
{
  struct req *r = req_from_cookie(ep, m->cookie, REQ_SEND);
  if (!r || r->conn != ch->conn || !(r->cts_taken & CTS_PIPES))
    return 1; /* send_acked checks the rest */
  for (struct req *q = ch->splice_head; q; q = q->lnext)
    if (q == r)
      return 0; /* not all spliced yet: the receiver cannot have it all */
  /* vmsplice lent the pipes our pages: until the receiver has read them,
   * completing would let it read what the application writes there next */
  for (int k = 0; k < 2; k++) {
    int unread = 0;
    if (ioctl(ch->pipe_out[k], FIONREAD, &unread) < 0 ||
        ch->spliced[k] - (uint64_t)unread < r->pipe_end[k])
      return 0;
  }
  return 1;
}

int chan_move(struct mx_endpoint *ep, struct chan *ch)
{
  if (ch->tx.broken)
    return -1;
  int work = chan_pipes(ep, ch);
  if (work < 0)
    return -1;
  return work + txq_drain(ep, &ch->tx);
}

/* Before sleeping: ask for the peer's events and watch the pipes. */
void chan_arm(struct chan *ch, struct pollfd *pfd, int *n)
{
  if (ch->read_head)
    pfd[(*n)++] = (struct pollfd){.fd = ch->pipe_in[ch->piece_in & 1], .events = POLLIN};
  if (ch->splice_head)
    pfd[(*n)++] = (struct pollfd){.fd = ch->pipe_out[ch->piece_out & 1], .events = POLLOUT};
}
