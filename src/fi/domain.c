/*
 * domain.c - the domain (one MX board), its lock, and the records of the
 * operations in flight.
 */
#include <stdlib.h>
#include <string.h>

#include "fi.h"

void oplist_push(struct op_list *l, struct op *o)
{
  o->next = NULL;
  o->prev = l->tail;
  if (l->tail)
    l->tail->next = o;
  else
    l->head = o;
  l->tail = o;
}

void oplist_remove(struct op_list *l, struct op *o)
{
  if (o->prev)
    o->prev->next = o->next;
  else
    l->head = o->next;
  if (o->next)
    o->next->prev = o->prev;
  else
    l->tail = o->prev;
  o->prev = o->next = NULL;
}

struct op *oplist_pop(struct op_list *l)
{
  struct op *o = l->head;
  if (o)
    oplist_remove(l, o);
  return o;
}

/* Records are reused: the data path allocates nothing once warm. */
struct op *op_new(struct fxn_domain *d, enum op_kind kind, struct fxn_ep *ep, void *ctx)
{
  struct op *o = d->free_ops;
  if (o)
    d->free_ops = o->next;
  else if (!(o = malloc(sizeof(*o))))
    return NULL;
  memset(o, 0, offsetof(struct op, inline_copy));
  o->kind = kind;
  o->ep = ep;
  o->ctx = ctx;
  o->src = FI_ADDR_NOTAVAIL;
  return o;
}

void op_free(struct fxn_domain *d, struct op *o)
{
  if (o->bounce != o->inline_copy)
    free(o->bounce);
  o->bounce = NULL;
  o->next = d->free_ops;
  d->free_ops = o;
}

static int domain_close(struct fid *fid)
{
  struct fxn_domain *d = container_of(fid, struct fxn_domain, domain.fid);
  if (d->refs)
    return -FI_EBUSY;
  while (d->free_ops) {
    struct op *o = d->free_ops;
    d->free_ops = o->next;
    free(o);
  }
  pthread_mutex_destroy(&d->lock);
  pthread_cond_destroy(&d->woke);
  free(d);
  return 0;
}

static struct fi_ops domain_fi_ops = {
  .size = sizeof(struct fi_ops),
  .close = domain_close,
  .bind = fxn_no_bind,
  .control = fxn_no_control,
  .ops_open = fxn_no_ops_open,
  .tostr = fxn_no_tostr,
  .ops_set = fxn_no_ops_set,
};

/* --- memory registration: none is needed (mr_mode 0: libmyrixen grants
 * memory per message), but a caller may still register; it gets a
 * descriptor that means nothing. */

static int mr_close(struct fid *fid)
{
  free(container_of(fid, struct fid_mr, fid));
  return 0;
}

static struct fi_ops mr_fi_ops = {
  .size = sizeof(struct fi_ops),
  .close = mr_close,
  .bind = fxn_no_bind,
  .control = fxn_no_control,
  .ops_open = fxn_no_ops_open,
  .tostr = fxn_no_tostr,
  .ops_set = fxn_no_ops_set,
};

static int mr_reg(struct fid *fid, const void *buf, size_t len, uint64_t access,
                  uint64_t offset, uint64_t requested_key, uint64_t flags, struct fid_mr **mr,
                  void *context)
{
  (void)fid, (void)buf, (void)len, (void)access, (void)offset, (void)flags;
  struct fid_mr *m = calloc(1, sizeof(*m));
  if (!m)
    return -FI_ENOMEM;
  m->fid.fclass = FI_CLASS_MR;
  m->fid.context = context;
  m->fid.ops = &mr_fi_ops;
  m->key = requested_key;
  *mr = m;
  return 0;
}

static int mr_regv(struct fid *fid, const struct iovec *iov, size_t count, uint64_t access,
                   uint64_t offset, uint64_t requested_key, uint64_t flags, struct fid_mr **mr,
                   void *context)
{
  (void)iov, (void)count;
  return mr_reg(fid, NULL, 0, access, offset, requested_key, flags, mr, context);
}

static int mr_regattr(struct fid *fid, const struct fi_mr_attr *attr, uint64_t flags,
                      struct fid_mr **mr)
{
  return mr_reg(fid, NULL, 0, attr->access, attr->offset, attr->requested_key, flags, mr,
                attr->context);
}

static struct fi_ops_mr mr_ops = {
  .size = sizeof(struct fi_ops_mr),
  .reg = mr_reg,
  .regv = mr_regv,
  .regattr = mr_regattr,
};

/* --- what the domain does not offer ------------------------------------ */

static int no_scalable_ep(struct fid_domain *domain, struct fi_info *info, struct fid_ep **sep,
                          void *context)
{
  (void)domain, (void)info, (void)sep, (void)context;
  return -FI_ENOSYS;
}

static int no_cntr_open(struct fid_domain *domain, struct fi_cntr_attr *attr,
                        struct fid_cntr **cntr, void *context)
{
  (void)domain, (void)attr, (void)cntr, (void)context;
  return -FI_ENOSYS;
}

static int no_poll_open(struct fid_domain *domain, struct fi_poll_attr *attr,
                        struct fid_poll **pollset)
{
  (void)domain, (void)attr, (void)pollset;
  return -FI_ENOSYS;
}

static int no_stx_ctx(struct fid_domain *domain, struct fi_tx_attr *attr, struct fid_stx **stx,
                      void *context)
{
  (void)domain, (void)attr, (void)stx, (void)context;
  return -FI_ENOSYS;
}

static int no_srx_ctx(struct fid_domain *domain, struct fi_rx_attr *attr, struct fid_ep **rx_ep,
                      void *context)
{
  (void)domain, (void)attr, (void)rx_ep, (void)context;
  return -FI_ENOSYS;
}

static int no_query_atomic(struct fid_domain *domain, enum fi_datatype datatype, enum fi_op op,
                           struct fi_atomic_attr *attr, uint64_t flags)
{
  (void)domain, (void)datatype, (void)op, (void)attr, (void)flags;
  return -FI_EOPNOTSUPP;
}

static int no_query_collective(struct fid_domain *domain, enum fi_collective_op coll,
                               struct fi_collective_attr *attr, uint64_t flags)
{
  (void)domain, (void)coll, (void)attr, (void)flags;
  return -FI_EOPNOTSUPP;
}

static int endpoint2(struct fid_domain *domain, struct fi_info *info, struct fid_ep **ep,
                     uint64_t flags, void *context)
{
  return flags ? -FI_EINVAL : fxn_ep_open(domain, info, ep, context);
}

static struct fi_ops_domain domain_ops = {
  .size = sizeof(struct fi_ops_domain),
  .av_open = fxn_av_open,
  .cq_open = fxn_cq_open,
  .endpoint = fxn_ep_open,
  .scalable_ep = no_scalable_ep,
  .cntr_open = no_cntr_open,
  .poll_open = no_poll_open,
  .stx_ctx = no_stx_ctx,
  .srx_ctx = no_srx_ctx,
  .query_atomic = no_query_atomic,
  .query_collective = no_query_collective,
  .endpoint2 = endpoint2,
};

int fxn_domain_open(struct fid_fabric *fabric, struct fi_info *info, struct fid_domain **dom,
                    void *context)
{
  uint32_t board = 0;
  const char *name = info && info->domain_attr ? info->domain_attr->name : NULL;
  if (name) {
    char *end;
    if (strncmp(name, FXN_NAME, strlen(FXN_NAME)))
      return -FI_EINVAL;
    board = (uint32_t)strtoul(name + strlen(FXN_NAME), &end, 10);
    if (*end)
      return -FI_EINVAL;
  }
  struct fxn_domain *d = calloc(1, sizeof(*d));
  if (!d)
    return -FI_ENOMEM;
  pthread_mutex_init(&d->lock, NULL);
  pthread_cond_init(&d->woke, NULL);
  d->fab = container_of(fabric, struct fxn_fabric, fabric);
  d->board = board;
  d->locking = !info || !info->domain_attr || info->domain_attr->threading != FI_THREAD_DOMAIN;
  d->domain.fid.fclass = FI_CLASS_DOMAIN;
  d->domain.fid.context = context;
  d->domain.fid.ops = &domain_fi_ops;
  d->domain.ops = &domain_ops;
  d->domain.mr = &mr_ops;
  *dom = &d->domain;
  return 0;
}
