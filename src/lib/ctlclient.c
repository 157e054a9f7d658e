/*
 * ctlclient.c - the guest's side of the control protocol.  One exchange at
 * a time (lib.ctl_lock).  Messages the backend sends on its own (a peer
 * opened a channel to one of our endpoints) may arrive before a reply; they
 * are queued and taken by their endpoint's progress loop, under that
 * endpoint's lock, so that no thread ever needs two endpoint locks.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../common/doorbell.h"
#include "lib.h"
#include "base.h"

struct async_msg {
  struct async_msg *next;
  int fds[CTL_MAX_FDS];
  int nfds;
  struct ctl_msg m;             /* last: its text[] (never kept here) would follow */
};

static void async_queue(const struct ctl_msg *m, int *fds, int nfds)
{
  struct async_msg *a = calloc(1, sizeof(*a));
  if (!a || m->type != CTL_CHANNEL_ATTACH) {
    ctl_close_fds(fds, nfds);
    free(a);
    return;
  }
  a->m = *m;
  memcpy(a->fds, fds, sizeof(a->fds));
  a->nfds = nfds;
  struct async_msg **pp = &lib.async;
  while (*pp)
    pp = &(*pp)->next;
  *pp = a;
  atomic_store(&lib.async_pending, 1);
}

/* The reply in the mailbox, with its text, into buf. */
static int mbox_take(struct ctl_msg *buf)
{
  struct mailbox *mb = lib.mbox;
  memcpy(buf, mb->rep, sizeof(*buf));
  if (buf->len > MBOX_TEXT_MAX)
    buf->len = MBOX_TEXT_MAX;
  memcpy(buf->text, mb->rep + sizeof(*buf), buf->len);
  return 0;
}

/* In a VM nothing rings: the backend polls the mailbox (every
 * millisecond), and we poll the reply's seq, asleep between looks.  0, or
 * -1 when the backend stopped or its beat stood still. */
static int mbox_poll(uint32_t seq)
{
  struct mailbox *mb = lib.mbox;
  struct region_hdr *hdr = lib.region;
  lib.beat_ns = 0;
  for (uint32_t n = 0; atomic_load_explicit(&mb->rep_seq, memory_order_acquire) != seq; n++) {
    if (atomic_load_explicit(&hdr->backend_state, memory_order_relaxed) != BACKEND_RUNNING ||
        vmdev_backend_silent())
      return -1;
    struct timespec ts = {0, n < 100 ? 20000 : 200000};
    nanosleep(&ts, NULL);
  }
  return 0;
}

/* One exchange through the region's mailbox (region.h): the reply, with
 * its text, into buf.  0, or -1 when the backend is gone. */
static int mbox_call(const struct ctl_msg *req, struct ctl_msg *buf)
{
  struct mailbox *mb = lib.mbox;
  struct region_hdr *hdr = lib.region;
  memcpy(mb->req, req, sizeof(*req));
  atomic_store_explicit(&mb->req_seq, req->seq, memory_order_release);
  if (lib.vm)
    return mbox_poll(req->seq) < 0 ? -1 : mbox_take(buf);
  doorbell_ring(lib.mbox_kick);
  /* The control path: sleep on the bell, and watch the socket only for
   * the backend's death (its messages wait there for ctl_poll_async). */
  while (atomic_load_explicit(&mb->rep_seq, memory_order_acquire) != req->seq) {
    if (atomic_load_explicit(&hdr->backend_state, memory_order_relaxed) != BACKEND_RUNNING)
      return -1;
    struct pollfd p[2] = {{.fd = lib.mbox_bell, .events = POLLIN}, {.fd = lib.sock, .events = 0}};
    if (poll(p, 2, 1000) > 0 && (p[1].revents & (POLLHUP | POLLERR)))
      return -1;
    uint64_t v;
    if (read(lib.mbox_bell, &v, sizeof(v)) < 0) {
      /* EAGAIN: no ring yet */
    }
  }
  return mbox_take(buf);
}

/* One exchange on the socket: send req, read until the reply with its
 * seq (the backend's own messages meanwhile are queued for
 * ctl_poll_async).  0 and the reply in buf with its descriptors, or -1
 * when the backend is gone. */
static int sock_call(const struct ctl_msg *req, int pass_fd, struct ctl_msg *buf, int *fds,
                     int *nfds)
{
  if (ctl_send(lib.sock, req, &pass_fd, pass_fd >= 0) < 0)
    return -1;
  for (;;) {
    ssize_t k = ctl_recv(lib.sock, buf, sizeof(*buf) + CTL_TEXT_MAX, fds, nfds);
    if (k == -EAGAIN || k == -EWOULDBLOCK) {
      struct pollfd p = {.fd = lib.sock, .events = POLLIN};
      poll(&p, 1, 1000);
      continue;
    }
    if (k <= 0)
      return -1;
    if (buf->seq == req->seq && (buf->type == CTL_REPLY || buf->type == CTL_ERROR))
      return 0;
    async_queue(buf, fds, *nfds);
  }
}

int ctl_call(struct ctl_msg *req, struct ctl_msg *rep, int *fds, int *nfds, char **text)
{
  return ctl_call_passing(req, -1, rep, fds, nfds, text);
}

int ctl_call_passing(struct ctl_msg *req, int pass_fd, struct ctl_msg *rep, int *fds, int *nfds,
                     char **text)
{
  int myfds[CTL_MAX_FDS], n = 0, ret;
  for (int i = 0; i < CTL_MAX_FDS; i++)
    myfds[i] = -1;
  struct ctl_msg *buf = malloc(sizeof(*buf) + CTL_TEXT_MAX);
  if (!buf)
    return MX_NO_RESOURCES;
  pthread_mutex_lock(&lib.ctl_lock);
  req->seq = ++lib.ctl_seq & ~CTL_SEQ_MAILBOX;
  int mailbox = lib.mbox && (lib.vm || (!ctl_needs_socket(req) && pass_fd < 0)); /* a VM has
                                                                                   * only that */
  if (mailbox)
    req->seq |= CTL_SEQ_MAILBOX;
  if ((mailbox ? mbox_call(req, buf) : sock_call(req, pass_fd, buf, myfds, &n)) < 0) {
    ret = MX_NO_DRIVER;
    goto out;
  }
  memcpy(rep, buf, sizeof(*rep));
  ret = buf->type == CTL_ERROR ? (buf->status ? buf->status : MX_BAD_BAD_BAD) : 0;
  if (fds) {
    memcpy(fds, myfds, sizeof(myfds));
    *nfds = n;
  } else {
    ctl_close_fds(myfds, n);
  }
  if (text)
    *text = ret == 0 && buf->len ? strndup(buf->text, buf->len) : NULL;
out:
  pthread_mutex_unlock(&lib.ctl_lock);
  free(buf);
  return ret;
}

/* Read whatever the backend sent on its own, without blocking. */
void ctl_poll_async(void)
{
  struct ctl_msg *buf;
  int fds[CTL_MAX_FDS], n;
  if (pthread_mutex_trylock(&lib.ctl_lock) != 0)
    return; /* a caller is reading the socket: it will queue them */
  buf = malloc(sizeof(*buf) + CTL_TEXT_MAX);
  while (buf) {
    ssize_t k = ctl_recv(lib.sock, buf, sizeof(*buf) + CTL_TEXT_MAX, fds, &n);
    if (k <= 0)
      break;
    async_queue(buf, fds, n);
  }
  free(buf);
  pthread_mutex_unlock(&lib.ctl_lock);
}

/* Apply the queued messages addressed to ep (its lock held). */
int ctl_async_take(uint32_t vif, struct ctl_msg *m, int *fds, int *nfds)
{
  pthread_mutex_lock(&lib.ctl_lock);
  struct async_msg *a = NULL;
  for (struct async_msg **pp = &lib.async; *pp; pp = &(*pp)->next)
    if ((*pp)->m.u.attach.vif == vif) {
      a = *pp;
      *pp = a->next;
      break;
    }
  atomic_store(&lib.async_pending, lib.async != NULL);
  pthread_mutex_unlock(&lib.ctl_lock);
  if (!a)
    return 0;
  *m = a->m;
  memcpy(fds, a->fds, sizeof(a->fds));
  *nfds = a->nfds;
  free(a);
  return 1;
}
