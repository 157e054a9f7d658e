/*
 * pull.c - rendezvous: the engine copies a large message from the sender's
 * grant into the receiver's grant, a chunk per scheduling round so that one
 * 256 MiB message does not starve the other VIFs.
 *
 * Grants are read from each guest's own region (a receiver names the
 * sender's grant, but the engine reads that grant from the sender's table,
 * so a receiver can reach only what the sender granted).  Each run of
 * entries is copied once and checked: index, generation, flags, count, and
 * total length.  Process guests are reached with process_vm_readv/writev
 * through a bounce buffer the size of L2 (two copies, the second from
 * cache); the direct channel does the one-copy path (lib/channel.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "../backend/backend.h"
#include "../common/iov.h"
#include "../common/log.h"

#define PULL_CHUNK (256 * 1024)
#define PULL_MAX_SEGS 256

struct pull_side {
  uint32_t eid, session;
  pid_t pid;
  int nseg;
  struct iovec seg[PULL_MAX_SEGS];
};

struct pull {
  struct pull *next;
  struct pull_side src, dst;
  uint64_t cookie, cookie2;  /* sender's request, receiver's request */
  uint64_t len, done;
  uint32_t status;           /* enum msg_status once finished */
  int finished;
  int told_src, told_dst;
};

static char *pull_bounce;

/* Copy and check the grant run ref of ep's VIF into seg[] (PULL_MAX_SEGS
 * entries).  0 or -1.  Local and remote pulls both load grants here. */
int grant_load_segs(struct be_endpoint *ep, uint32_t ref, uint32_t need_flag, uint64_t len,
                    struct iovec *seg, int *nseg)
{
  uint32_t idx = GRANT_REF_IDX(ref), gen = GRANT_REF_GEN(ref);
  struct grant first, g;
  uint64_t total = 0;

  if (idx >= REGION_GRANTS)
    return -1;
  memcpy(&first, &ep->vif->grants[idx], sizeof(first));
  if (first.gen != gen || first.nseg == 0 || first.nseg > PULL_MAX_SEGS ||
      idx + first.nseg > REGION_GRANTS)
    return -1;
  *nseg = 0;
  for (uint32_t i = 0; i < first.nseg; i++) {
    memcpy(&g, &ep->vif->grants[idx + i], sizeof(g));
    if (g.gen != gen || !(g.flags & need_flag) || g.len > UINT32_MAX)
      return -1;
    seg[*nseg].iov_base = (void *)(uintptr_t)g.addr;
    seg[*nseg].iov_len = g.len;
    (*nseg)++;
    total += g.len;
  }
  return total < len ? -1 : 0;
}

static int grant_load(struct be_endpoint *ep, uint32_t ref, uint32_t need_flag, uint64_t len,
                      struct pull_side *side)
{
  if (grant_load_segs(ep, ref, need_flag, len, side->seg, &side->nseg) < 0)
    return -1;
  side->eid = ep->eid;
  side->session = ep->session;
  side->pid = ep->guest->pid;
  return 0;
}

static void pull_fail_request(struct backend *be, struct be_endpoint *rcv, const struct msg *m,
                              uint32_t status)
{
  struct msg done = {.type = MSG_PULL_DONE, .cookie = m->cookie, .cookie2 = m->cookie2,
                     .status = status, .peer_eid = m->peer_eid, .peer_nic = m->peer_nic};
  engine_post(be, rcv, &done, NULL);
}

/* A receiver asks for the data of a rendezvous: check both grants and
 * queue the copy.  Returns 1 (request consumed) or 0 (retry later). */
int pull_start(struct backend *be, struct be_endpoint *rcv, const struct msg *m)
{
  struct be_endpoint *snd = endpoint_lookup(be, m->peer_nic, m->peer_eid);
  struct pull *p;

  /* A failure is answered in rcv's ring: make sure there is room first. */
  if (qprod_reserve(&rcv->rx, 1, 0) != 1)
    return 0;
  if (!snd || !snd->in_use || atomic_load(&snd->vif->state) != VIF_OPEN) {
    endpoint_count_drop(rcv, DROP_DEST_CLOSED);
    pull_fail_request(be, rcv, m, MSG_ST_CLOSED);
    return 1;
  }
  p = calloc(1, sizeof(*p));
  if (!p)
    return 0;
  if (grant_load(snd, m->grant, GRANT_READ, m->total, &p->src) < 0 ||
      grant_load(rcv, m->grant2, GRANT_WRITE, m->total, &p->dst) < 0) {
    log_warn("pull by endpoint %u from %u: grant check failed", rcv->eid, snd->eid);
    endpoint_count_drop(rcv, DROP_BAD_GRANT);
    pull_fail_request(be, rcv, m, MSG_ST_BAD_GRANT);
    free(p);
    return 1;
  }
  p->cookie = m->cookie;
  p->cookie2 = m->cookie2;
  p->len = m->total;
  p->next = be->pulls;
  be->pulls = p;
  return 1;
}

static struct be_endpoint *side_endpoint(struct backend *be, const struct pull_side *s)
{
  struct be_endpoint *ep = &be->eps[s->eid];
  if (!ep->in_use || ep->session != s->session)
    return NULL;
  return ep;
}

/* One chunk of p.  Returns bytes copied or -1 (status set). */
static int64_t pull_chunk(struct pull *p)
{
  struct iovec riov[PULL_MAX_SEGS], local;
  uint64_t len = p->len - p->done < PULL_CHUNK ? p->len - p->done : PULL_CHUNK;
  int n;

  local.iov_base = pull_bounce;
  local.iov_len = len;
  n = iov_range(p->src.seg, (uint32_t)p->src.nseg, p->done, len, riov, PULL_MAX_SEGS);
  if (process_vm_readv(p->src.pid, &local, 1, riov, (unsigned long)n, 0) != (ssize_t)len)
    return -1;
  n = iov_range(p->dst.seg, (uint32_t)p->dst.nseg, p->done, len, riov, PULL_MAX_SEGS);
  if (process_vm_writev(p->dst.pid, &local, 1, riov, (unsigned long)n, 0) != (ssize_t)len)
    return -1;
  return (int64_t)len;
}

/* Tell both sides how the pull ended; true when both were told. */
static int pull_report(struct backend *be, struct pull *p)
{
  struct be_endpoint *s = side_endpoint(be, &p->src), *d = side_endpoint(be, &p->dst);
  if (!p->told_dst) {
    struct msg m = {.type = MSG_PULL_DONE, .cookie = p->cookie, .cookie2 = p->cookie2,
                    .status = p->status, .total = (uint32_t)p->done,
                    .peer_eid = p->src.eid, .peer_nic = be->cfg.nic_id};
    p->told_dst = !d || engine_post(be, d, &m, NULL) != 0;
  }
  if (!p->told_src) {
    struct msg m = {.type = MSG_NOTIFY, .cookie = p->cookie, .status = p->status,
                    .total = (uint32_t)p->done, .peer_eid = p->dst.eid,
                    .peer_nic = be->cfg.nic_id};
    p->told_src = !s || engine_post(be, s, &m, NULL) != 0;
  }
  return p->told_src && p->told_dst;
}

int pull_progress(struct backend *be)
{
  int work = 0;
  if (!pull_bounce && !(pull_bounce = malloc(PULL_CHUNK)))
    return 0;
  for (struct pull **pp = &be->pulls; *pp;) {
    struct pull *p = *pp;
    if (!p->finished) {
      struct be_endpoint *s = side_endpoint(be, &p->src), *d = side_endpoint(be, &p->dst);
      if (!s || !d) {
        p->status = MSG_ST_ABORTED;
        p->finished = 1;
        if (s)
          endpoint_count_drop(s, DROP_PEER_DIED);
        if (d)
          endpoint_count_drop(d, DROP_PEER_DIED);
      } else if (p->done < p->len) {
        int64_t n = pull_chunk(p);
        if (n < 0) {
          log_warn("pull %u -> %u: copy failed: %s", p->src.eid, p->dst.eid, strerror(errno));
          endpoint_count_drop(d, DROP_COPY_FAULT);
          p->status = MSG_ST_BAD_GRANT;
          p->finished = 1;
        } else {
          p->done += (uint64_t)n;
        }
      }
      if (!p->finished && p->done == p->len) {
        p->finished = 1;
        d->c.pulls++;
        d->c.pull_bytes += p->len;
      }
      work++;
    }
    if (p->finished && pull_report(be, p)) {
      *pp = p->next;
      free(p);
      continue;
    }
    pp = &p->next;
  }
  return work;
}

void pull_abort_endpoint(struct backend *be, struct be_endpoint *ep)
{
  for (struct pull *p = be->pulls; p; p = p->next) {
    if (p->finished)
      continue;
    if ((p->src.eid == ep->eid && p->src.session == ep->session) ||
        (p->dst.eid == ep->eid && p->dst.session == ep->session)) {
      p->status = MSG_ST_ABORTED;
      p->finished = 1;
    }
  }
}
