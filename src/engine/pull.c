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

#include "../common/fifo.h"
#include "../common/iov.h"
#include "../common/log.h"
#include "engine_int.h"

#define PULL_CHUNK (256 * 1024)
/* Bytes all pulls together copy in one engine round: the lock is held
 * while they do, and every other guest's messages wait for it.  A pull
 * copies one chunk a round, and the round after the budget ran out starts
 * with the pulls that got none. */
#define PULL_ROUND_BYTES (4 * PULL_CHUNK)

struct pull_side {
  uint32_t eid, session;
  struct guest_mem mem;
  int nseg;
  struct iovec *seg;         /* grant_load's, freed with the pull */
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

static int pull_side_load(struct engine_vif *v, uint32_t ref, uint32_t need_flag, uint64_t len,
                          const struct grant_puller *puller, struct pull_side *side)
{
  if (grant_load(v, ref, need_flag, len, puller, &side->seg, &side->nseg) < 0)
    return -1;
  side->eid = v->eid;
  side->session = v->session;
  side->mem = guest_mem_of(&v->owner);
  return 0;
}

static void pull_free(struct pull *p)
{
  free(p->src.seg);
  free(p->dst.seg);
  free(p);
}

static void pull_fail_request(struct engine *e, struct engine_vif *rcv, const struct msg *m,
                              uint32_t status)
{
  struct msg done = {.type = MSG_PULL_DONE, .cookie = m->cookie, .cookie2 = m->cookie2,
                     .status = status, .peer_eid = m->peer_eid, .peer_nic = m->peer_nic};
  deliver_post(e, rcv, &done, NULL);
}

/* A receiver asks for the data of a rendezvous: check both grants and
 * queue the copy.  Returns 1 (request consumed) or 0 (retry later). */
int pull_start(struct engine *e, struct engine_vif *rcv, const struct msg *m)
{
  struct engine_vif *snd = vif_lookup(e, m->peer_nic, m->peer_eid);
  struct grant_puller puller = {e->cfg.nic_id, rcv->eid, rcv->session};
  struct pull *p;

  /* A pull netback took before its guest left: nobody waits for it, and
   * its region may be gone. */
  if (!vif_usable(rcv))
    return 1;
  if (rcv->pulls >= VIF_PULLS_MAX)
    return 0; /* it waits in its own ring for one of its pulls to end */
  /* A failure is answered in rcv's ring: make sure there is room first. */
  if (qprod_reserve(&rcv->rx, 1, 0) != 1)
    return 0;
  if (!vif_usable(snd)) {
    vif_count_drop(rcv, DROP_DEST_CLOSED);
    pull_fail_request(e, rcv, m, MSG_ST_CLOSED);
    return 1;
  }
  p = calloc(1, sizeof(*p));
  if (!p)
    return 0;
  if (pull_side_load(snd, m->grant, GRANT_READ, m->total, &puller, &p->src) < 0 ||
      pull_side_load(rcv, m->grant2, GRANT_WRITE, m->total, NULL, &p->dst) < 0) {
    log_warn("pull by endpoint %u from %u: grant check failed", rcv->eid, snd->eid);
    vif_count_drop(rcv, DROP_BAD_GRANT);
    pull_fail_request(e, rcv, m, MSG_ST_BAD_GRANT);
    pull_free(p);
    return 1;
  }
  p->cookie = m->cookie;
  p->cookie2 = m->cookie2;
  p->len = m->total;
  p->next = e->pulls;
  e->pulls = p;
  rcv->pulls++;
  return 1;
}

static struct engine_vif *side_endpoint(struct engine *e, const struct pull_side *s)
{
  return vif_find(e, s->eid, s->session);
}

/* One chunk of p.  Returns bytes copied or -1 (status set). */
static int64_t pull_chunk(struct pull *p, char *bounce)
{
  struct iovec riov[GRANT_MAX_SEGS], local;
  uint64_t len = p->len - p->done < PULL_CHUNK ? p->len - p->done : PULL_CHUNK;
  int n;

  local.iov_base = bounce;
  local.iov_len = len;
  n = iov_range(p->src.seg, (uint32_t)p->src.nseg, p->done, len, riov, GRANT_MAX_SEGS);
  if (guestmem_read(&p->src.mem, &local, 1, riov, (unsigned long)n) != (ssize_t)len)
    return -1;
  n = iov_range(p->dst.seg, (uint32_t)p->dst.nseg, p->done, len, riov, GRANT_MAX_SEGS);
  if (guestmem_write(&p->dst.mem, &local, 1, riov, (unsigned long)n) != (ssize_t)len)
    return -1;
  return (int64_t)len;
}

/* Tell both sides how the pull ended; true when both were told. */
static int pull_report(struct engine *e, struct pull *p)
{
  struct engine_vif *s = side_endpoint(e, &p->src), *d = side_endpoint(e, &p->dst);
  if (!p->told_dst) {
    struct msg m = {.type = MSG_PULL_DONE, .cookie = p->cookie, .cookie2 = p->cookie2,
                    .status = p->status, .total = (uint32_t)p->done,
                    .peer_eid = p->src.eid, .peer_nic = e->cfg.nic_id};
    p->told_dst = !d || deliver_post(e, d, &m, NULL) != 0;
  }
  if (!p->told_src) {
    struct msg m = {.type = MSG_NOTIFY, .cookie = p->cookie, .status = p->status,
                    .total = (uint32_t)p->done, .peer_eid = p->dst.eid,
                    .peer_nic = e->cfg.nic_id};
    p->told_src = !s || deliver_post(e, s, &m, NULL) != 0;
  }
  return p->told_src && p->told_dst;
}

/* Make p the head of the list (those before it go to the tail). */
static void pulls_rotate(struct engine *e, struct pull *p)
{
  struct pull **pp = &e->pulls, *tail;
  if (!p || e->pulls == p)
    return;
  while (*pp && *pp != p)
    pp = &(*pp)->next;
  if (!*pp)
    return;
  *pp = NULL; /* the list ends before p now ... */
  for (tail = p; tail->next; tail = tail->next)
    ;
  tail->next = e->pulls; /* ... and p's run is followed by the old head */
  e->pulls = p;
}

int pull_progress(struct engine *e)
{
  int work = 0;
  uint64_t budget = PULL_ROUND_BYTES;
  struct pull *unserved = NULL; /* the first pull the budget did not reach */
  if (!e->pull_bounce && !(e->pull_bounce = malloc(PULL_CHUNK)))
    return 0;
  for (struct pull **pp = &e->pulls; *pp;) {
    struct pull *p = *pp;
    if (!p->finished && !budget && p->done < p->len) {
      if (!unserved)
        unserved = p;
    } else if (!p->finished) {
      struct engine_vif *s = side_endpoint(e, &p->src), *d = side_endpoint(e, &p->dst);
      if (!s || !d) {
        p->status = MSG_ST_ABORTED;
        p->finished = 1;
        if (s)
          vif_count_drop(s, DROP_PEER_DIED);
        if (d)
          vif_count_drop(d, DROP_PEER_DIED);
      } else if (p->done < p->len) {
        int64_t n = pull_chunk(p, e->pull_bounce);
        if (n < 0) {
          log_warn("pull %u -> %u: copy failed: %s", p->src.eid, p->dst.eid, strerror(errno));
          vif_count_drop(d, DROP_COPY_FAULT);
          p->status = MSG_ST_BAD_GRANT;
          p->finished = 1;
        } else {
          p->done += (uint64_t)n;
          budget -= (uint64_t)n < budget ? (uint64_t)n : budget;
        }
      }
      if (!p->finished && p->done == p->len) {
        p->finished = 1;
        d->c.pulls++;
        d->c.pull_bytes += p->len;
      }
      work++;
    }
    if (p->finished && pull_report(e, p)) {
      struct engine_vif *d = vif_find(e, p->dst.eid, p->dst.session);
      if (d)
        d->pulls--;
      *pp = p->next;
      pull_free(p);
      continue;
    }
    pp = &p->next;
  }
  pulls_rotate(e, unserved);
  return work;
}

void pull_abort_vif(struct engine *e, struct engine_vif *v)
{
  for (struct pull *p = e->pulls; p; p = p->next) {
    if (p->finished)
      continue;
    if ((p->src.eid == v->eid && p->src.session == v->session) ||
        (p->dst.eid == v->eid && p->dst.session == v->session)) {
      p->status = MSG_ST_ABORTED;
      p->finished = 1;
    }
  }
}

void pull_free_all(struct engine *e)
{
  LIST_FREE_ALL(&e->pulls, next);
  free(e->pull_bounce);
  e->pull_bounce = NULL;
}
