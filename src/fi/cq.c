/*
 * cq.c - completion queues: the reaped operations of the endpoints bound
 * to it, in order, and a separate queue of failed ones (fi_cq_readerr).
 * Entries are the operation records themselves, so a queue cannot
 * overrun.  Reading a queue makes progress on its endpoints first: the
 * fast path is the reader's own thread, with no helper.
 *
 * Blocking: fi_cq_sread sleeps in mx_peek; an FI_WAIT_FD queue gets a
 * helper thread on first demand (fi_control FI_GETWAIT, fi_trywait) that
 * sleeps in mx_peek and makes the descriptor readable while entries wait.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../lib/provider.h"
#include "fi.h"

/* An empty read looks at the clock every CQ_CLOCK_EVERY times (a clock
 * read costs as much as a read of an empty queue). */
#define CQ_CLOCK_EVERY 16

static size_t entry_size(enum fi_cq_format f)
{
  switch (f) {
  case FI_CQ_FORMAT_UNSPEC:
  case FI_CQ_FORMAT_CONTEXT:
    return sizeof(struct fi_cq_entry);
  case FI_CQ_FORMAT_MSG:
    return sizeof(struct fi_cq_msg_entry);
  case FI_CQ_FORMAT_DATA:
    return sizeof(struct fi_cq_data_entry);
  case FI_CQ_FORMAT_TAGGED:
    return sizeof(struct fi_cq_tagged_entry);
  }
  return 0;
}

/* The descriptor of an FI_WAIT_FD queue is readable exactly while the
 * queue holds entries. */
static void efd_update(struct fxn_cq *cq)
{
  if (cq->efd < 0)
    return;
  int want = cq->done.head || cq->errors.head;
  if (want && !cq->efd_set) {
    uint64_t one = 1;
    if (write(cq->efd, &one, sizeof(one)) == sizeof(one))
      cq->efd_set = 1;
  } else if (!want && cq->efd_set) {
    uint64_t v;
    if (read(cq->efd, &v, sizeof(v)) == sizeof(v) || errno == EAGAIN)
      cq->efd_set = 0;
    pthread_cond_broadcast(&cq->drained);
  }
}

/* Threads asleep for cq wake up: an entry came that their own endpoint's
 * requests would not tell them of (another thread reaped it). */
static void wake_sleepers(struct fxn_cq *cq)
{
  for (int i = 0; i < cq->neps; i++)
    if (cq->eps[i]->sleepers)
      mx_wakeup(cq->eps[i]->mx);
}

void fxn_cq_push(struct fxn_cq *cq, struct op *o)
{
  oplist_push(o->err ? &cq->errors : &cq->done, o);
  efd_update(cq);
  if (cq->sleepers)
    wake_sleepers(cq);
}

/* With the domain's lock held; dropped while asleep. */
void fxn_sleep_on(struct fxn_domain *d, struct fxn_ep *ep, uint32_t ms)
{
  if (!ms || ms > CQ_SLEEP_SLICE_MS)
    ms = CQ_SLEEP_SLICE_MS;
  mx_endpoint_t mx = ep->mx;
  ep->sleepers++;
  dom_unlock(d);
  mx_request_t r;
  uint32_t got = 0;
  mx_peek(mx, ms, &r, &got);
  dom_lock(d);
  ep->sleepers--;
  pthread_cond_broadcast(&d->woke);
}

/* Every endpoint of the domain, not only those bound to this queue: an
 * endpoint whose own queue nobody reads (a sender that posted and went on)
 * still has its part done, such as a same-host rendezvous' copy. */
static void progress_all(struct fxn_cq *cq)
{
  for (struct fxn_ep *ep = cq->dom->eps; ep; ep = ep->next)
    fxn_progress(ep);
}

int fxn_cq_bind_ep(struct fxn_cq *cq, struct fxn_ep *ep)
{
  for (int i = 0; i < cq->neps; i++)
    if (cq->eps[i] == ep)
      return 0;
  if (cq->neps == CQ_EPS_MAX)
    return -FI_ENOSPC;
  cq->eps[cq->neps++] = ep;
  return 0;
}

void fxn_cq_unbind_ep(struct fxn_cq *cq, struct fxn_ep *ep)
{
  for (int i = 0; i < cq->neps; i++)
    if (cq->eps[i] == ep) {
      cq->eps[i] = cq->eps[--cq->neps];
      break;
    }
  /* Let every thread asleep on this endpoint leave before it closes. */
  while (ep->sleepers && cq->dom->locking) {
    mx_wakeup(ep->mx);
    pthread_cond_wait(&cq->dom->woke, &cq->dom->lock);
  }
}

static void write_entry(struct fxn_cq *cq, void *buf, const struct op *o)
{
  struct fi_cq_tagged_entry e = {
    .op_context = o->ctx,
    .flags = o->flags,
    .len = o->len,
    .buf = (o->flags & FI_RECV) ? o->buf : NULL,
    .data = o->data,
    .tag = o->tag,
  };
  memcpy(buf, &e, cq->entry_size);
}

/* The reader found the queue empty again: does it yield the core now?
 * It spins as long as libmyrixen's own waiters would on these endpoints
 * (lib_spin_ns): for direct channels, whose peer is a guest on another
 * core, a yield costs as much as the message; for the engine, which may
 * share the reader's core, the reader yields from the start, or messages
 * through it wait for the scheduler's tick (2 ms per round trip on this
 * 2-core machine). */
static int idle_yields(struct fxn_cq *cq)
{
  if (++cq->empty_reads % CQ_CLOCK_EVERY)
    return 0;
  uint64_t now = clock_now_ns();
  if (!cq->idle_since) {
    cq->idle_since = now;
    cq->spin_ns = UINT64_MAX;
    for (struct fxn_ep *ep = cq->dom->eps; ep; ep = ep->next) {
      uint64_t ns = ep->mx ? lib_spin_ns(ep->mx) : 0;
      cq->spin_ns = ns < cq->spin_ns ? ns : cq->spin_ns;
    }
  }
  return now - cq->idle_since >= cq->spin_ns;
}

static ssize_t cq_readfrom(struct fid_cq *fcq, void *buf, size_t count, fi_addr_t *src)
{
  struct fxn_cq *cq = container_of(fcq, struct fxn_cq, cq);
  ssize_t n = 0;
  dom_lock(cq->dom);
  if (!cq->done.head)
    progress_all(cq);
  else
    for (struct fxn_ep *ep = cq->dom->eps; ep; ep = ep->next)
      if (ep->mx)
        lib_lane_flush(ep->mx);
  for (struct op *o; (size_t)n < count && (o = oplist_pop(&cq->done)); n++) {
    write_entry(cq, (char *)buf + (size_t)n * cq->entry_size, o);
    if (src)
      src[n] = o->src;
    op_free(cq->dom, o);
  }
  if (cq->errors.head)
    n = n ? n : -FI_EAVAIL; /* an error is reported at the next read at the latest */
  else if (!n)
    n = -FI_EAGAIN;
  efd_update(cq);
  int yield = 0;
  if (n == -FI_EAGAIN)
    yield = idle_yields(cq);
  else {
    cq->empty_reads = 0;
    cq->idle_since = 0;
  }
  dom_unlock(cq->dom);
  if (yield)
    sched_yield();
  return n;
}

static ssize_t cq_read(struct fid_cq *fcq, void *buf, size_t count)
{
  return cq_readfrom(fcq, buf, count, NULL);
}

static ssize_t cq_readerr(struct fid_cq *fcq, struct fi_cq_err_entry *buf, uint64_t flags)
{
  (void)flags;
  struct fxn_cq *cq = container_of(fcq, struct fxn_cq, cq);
  dom_lock(cq->dom);
  struct op *o = oplist_pop(&cq->errors);
  if (!o) {
    dom_unlock(cq->dom);
    return -FI_EAGAIN;
  }
  size_t room = buf->err_data_size;
  buf->op_context = o->ctx;
  buf->flags = o->flags;
  buf->len = o->len;
  buf->buf = (o->flags & FI_RECV) ? o->buf : NULL;
  buf->data = o->data;
  buf->tag = o->tag;
  buf->olen = o->olen;
  buf->err = o->err;
  buf->prov_errno = o->status.code;
  (void)room; /* no provider error data: the MX status says it all */
  buf->err_data = NULL;
  buf->err_data_size = 0;
  op_free(cq->dom, o);
  efd_update(cq);
  dom_unlock(cq->dom);
  return 1;
}

static uint64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sleep until an MX request of cq's endpoint completes, or an entry is
 * pushed, up to ms (0: a slice); with several endpoints, a short nap. */
static void cq_sleep(struct fxn_cq *cq, uint32_t ms)
{
  if (cq->neps != 1) {
    dom_unlock(cq->dom);
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
    dom_lock(cq->dom);
    return;
  }
  cq->sleepers++;
  fxn_sleep_on(cq->dom, cq->eps[0], ms);
  cq->sleepers--;
}

static ssize_t cq_sreadfrom(struct fid_cq *fcq, void *buf, size_t count, fi_addr_t *src,
                            const void *cond, int timeout)
{
  (void)cond;
  struct fxn_cq *cq = container_of(fcq, struct fxn_cq, cq);
  uint64_t deadline = timeout >= 0 ? now_ms() + (uint64_t)timeout : 0;
  for (;;) {
    ssize_t n = cq_readfrom(fcq, buf, count, src);
    if (n != -FI_EAGAIN)
      return n;
    dom_lock(cq->dom);
    if (cq->signals) {
      cq->signals--;
      dom_unlock(cq->dom);
      return -FI_EAGAIN;
    }
    uint32_t ms = 0;
    if (timeout >= 0) {
      uint64_t t = now_ms();
      if (t >= deadline) {
        dom_unlock(cq->dom);
        return -FI_EAGAIN;
      }
      ms = (uint32_t)(deadline - t);
    }
    cq_sleep(cq, ms);
    dom_unlock(cq->dom);
  }
}

static ssize_t cq_sread(struct fid_cq *fcq, void *buf, size_t count, const void *cond,
                        int timeout)
{
  return cq_sreadfrom(fcq, buf, count, NULL, cond, timeout);
}

static int cq_signal(struct fid_cq *fcq)
{
  struct fxn_cq *cq = container_of(fcq, struct fxn_cq, cq);
  dom_lock(cq->dom);
  cq->signals++;
  wake_sleepers(cq);
  dom_unlock(cq->dom);
  return 0;
}

static const char *cq_strerror(struct fid_cq *cq, int prov_errno, const void *err_data,
                               char *buf, size_t len)
{
  (void)cq, (void)err_data;
  const char *s = mx_strstatus((mx_status_code_t)prov_errno);
  if (buf && len) {
    strncpy(buf, s, len - 1);
    buf[len - 1] = 0;
    return buf;
  }
  return s;
}

/* --- FI_WAIT_FD: the helper ------------------------------------------- */

static void *waiter_main(void *arg)
{
  struct fxn_cq *cq = arg;
  dom_lock(cq->dom);
  while (!cq->closing) {
    if (cq->done.head || cq->errors.head || !cq->neps) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 10000000;
      if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
      }
      pthread_cond_timedwait(&cq->drained, &cq->dom->lock, &ts);
      progress_all(cq);
      continue;
    }
    fxn_sleep_on(cq->dom, cq->eps[0], CQ_SLEEP_SLICE_MS);
    progress_all(cq);
  }
  dom_unlock(cq->dom);
  return NULL;
}

static int waiter_start(struct fxn_cq *cq)
{
  if (cq->efd < 0)
    return -FI_ENOSYS;
  if (cq->waiter_running)
    return 0;
  if (!cq->dom->locking) {
    /* A thread of ours will share the domain from now on: lock, here
     * already (our caller's unlock is the matching one). */
    pthread_mutex_lock(&cq->dom->lock);
    cq->dom->locking = 1;
  }
  if (pthread_create(&cq->waiter, NULL, waiter_main, cq))
    return -FI_ENOMEM;
  cq->waiter_running = 1;
  return 0;
}

int fxn_cq_ready(struct fxn_cq *cq)
{
  dom_lock(cq->dom);
  progress_all(cq);
  int rc = waiter_start(cq);
  if (rc == 0)
    rc = cq->done.head || cq->errors.head;
  efd_update(cq);
  dom_unlock(cq->dom);
  return rc;
}

static int cq_control(struct fid *fid, int command, void *arg)
{
  struct fxn_cq *cq = container_of(fid, struct fxn_cq, cq.fid);
  int rc = 0;
  dom_lock(cq->dom);
  switch (command) {
  case FI_GETWAIT:
    rc = waiter_start(cq);
    if (rc == 0)
      *(int *)arg = cq->efd;
    break;
  case FI_GETWAITOBJ:
    *(enum fi_wait_obj *)arg = cq->efd >= 0 ? FI_WAIT_FD : FI_WAIT_NONE;
    break;
  default:
    rc = -FI_ENOSYS;
  }
  dom_unlock(cq->dom);
  return rc;
}

static int cq_close(struct fid *fid)
{
  struct fxn_cq *cq = container_of(fid, struct fxn_cq, cq.fid);
  dom_lock(cq->dom);
  if (cq->neps) {
    dom_unlock(cq->dom);
    return -FI_EBUSY;
  }
  cq->closing = 1;
  pthread_cond_broadcast(&cq->drained);
  int joined = cq->waiter_running;
  dom_unlock(cq->dom);
  if (joined)
    pthread_join(cq->waiter, NULL);
  dom_lock(cq->dom);
  for (struct op *o; (o = oplist_pop(&cq->done)) || (o = oplist_pop(&cq->errors));)
    op_free(cq->dom, o);
  cq->dom->refs--;
  dom_unlock(cq->dom);
  if (cq->efd >= 0)
    close(cq->efd);
  pthread_cond_destroy(&cq->drained);
  free(cq);
  return 0;
}

static struct fi_ops cq_fi_ops = {
  .size = sizeof(struct fi_ops),
  .close = cq_close,
  .bind = fxn_no_bind,
  .control = cq_control,
  .ops_open = fxn_no_ops_open,
  .tostr = fxn_no_tostr,
  .ops_set = fxn_no_ops_set,
};

static struct fi_ops_cq cq_ops = {
  .size = sizeof(struct fi_ops_cq),
  .read = cq_read,
  .readfrom = cq_readfrom,
  .readerr = cq_readerr,
  .sread = cq_sread,
  .sreadfrom = cq_sreadfrom,
  .signal = cq_signal,
  .strerror = cq_strerror,
};

int fxn_cq_open(struct fid_domain *domain, struct fi_cq_attr *attr, struct fid_cq **fcq,
                void *context)
{
  struct fxn_domain *d = container_of(domain, struct fxn_domain, domain);
  size_t esz = entry_size(attr->format);
  if (!esz)
    return -FI_ENOSYS;
  switch (attr->wait_obj) {
  case FI_WAIT_NONE:
  case FI_WAIT_UNSPEC:
  case FI_WAIT_FD:
  case FI_WAIT_MUTEX_COND:
  case FI_WAIT_YIELD:
    break;
  default:
    return -FI_ENOSYS; /* wait sets and pollfd sets */
  }
  if (attr->flags & FI_AFFINITY)
    return -FI_ENOSYS;
  struct fxn_cq *cq = calloc(1, sizeof(*cq));
  if (!cq)
    return -FI_ENOMEM;
  cq->dom = d;
  cq->format = attr->format;
  cq->entry_size = esz;
  cq->wait_obj = attr->wait_obj;
  cq->efd = -1;
  if (attr->wait_obj == FI_WAIT_FD &&
      (cq->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
    free(cq);
    return -FI_EMFILE;
  }
  pthread_cond_init(&cq->drained, NULL);
  cq->cq.fid.fclass = FI_CLASS_CQ;
  cq->cq.fid.context = context;
  cq->cq.fid.ops = &cq_fi_ops;
  cq->cq.ops = &cq_ops;
  dom_lock(d);
  d->refs++;
  dom_unlock(d);
  *fcq = &cq->cq;
  return 0;
}
