/*
 * ep.c - the reliable datagram endpoint: one MX endpoint, opened with a
 * random key that only holders of its name (fi_getname) know.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "fi.h"

static int ep_bind(struct fid *fid, struct fid *bfid, uint64_t flags)
{
  struct fxn_ep *ep = container_of(fid, struct fxn_ep, ep.fid);
  int rc = 0;
  dom_lock(ep->dom);
  switch (bfid->fclass) {
  case FI_CLASS_AV: {
    struct fxn_av *av = container_of(bfid, struct fxn_av, av.fid);
    if (ep->av || (av->ep && av->ep != ep)) {
      rc = -FI_EINVAL; /* one vector per endpoint, one endpoint per vector */
      break;
    }
    ep->av = av;
    av->ep = ep;
    break;
  }
  case FI_CLASS_CQ: {
    struct fxn_cq *cq = container_of(bfid, struct fxn_cq, cq.fid);
    if (!(flags & (FI_TRANSMIT | FI_RECV))) {
      rc = -FI_EINVAL;
      break;
    }
    if (((flags & FI_TRANSMIT) && ep->txcq) || ((flags & FI_RECV) && ep->rxcq)) {
      rc = -FI_EINVAL;
      break;
    }
    if ((rc = fxn_cq_bind_ep(cq, ep)) < 0)
      break;
    if (flags & FI_TRANSMIT) {
      ep->txcq = cq;
      ep->tx_selective = !!(flags & FI_SELECTIVE_COMPLETION);
    }
    if (flags & FI_RECV) {
      ep->rxcq = cq;
      ep->rx_selective = !!(flags & FI_SELECTIVE_COMPLETION);
    }
    break;
  }
  case FI_CLASS_EQ:
    break; /* a reliable datagram endpoint has no connection events */
  default:
    rc = -FI_ENOSYS; /* counters */
  }
  dom_unlock(ep->dom);
  return rc;
}

static int ep_control(struct fid *fid, int command, void *arg)
{
  (void)arg;
  struct fxn_ep *ep = container_of(fid, struct fxn_ep, ep.fid);
  if (command != FI_ENABLE)
    return -FI_ENOSYS;
  dom_lock(ep->dom);
  int rc = 0;
  if (!ep->av)
    rc = -FI_ENOAV;
  else if (((ep->caps & FI_SEND) && !ep->txcq) || ((ep->caps & FI_RECV) && !ep->rxcq))
    rc = -FI_ENOCQ; /* it would have nowhere to report */
  else {
    ep->enabled = 1;
    fxn_av_resolve(ep->av);
  }
  dom_unlock(ep->dom);
  return rc;
}

static int ep_close(struct fid *fid)
{
  struct fxn_ep *ep = container_of(fid, struct fxn_ep, ep.fid);
  struct fxn_domain *d = ep->dom;
  dom_lock(d);
  if (ep->txcq)
    fxn_cq_unbind_ep(ep->txcq, ep);
  if (ep->rxcq && ep->rxcq != ep->txcq)
    fxn_cq_unbind_ep(ep->rxcq, ep);
  if (ep->av)
    ep->av->ep = NULL;
  for (struct fxn_ep **pp = &d->eps; *pp; pp = &(*pp)->next)
    if (*pp == ep) {
      *pp = ep->next;
      break;
    }
  /* Closing drops every request still pending: their records go too. */
  mx_close_endpoint(ep->mx);
  fxn_open_endpoints--;
  for (struct op *o; (o = oplist_pop(&ep->active)) || (o = oplist_pop(&ep->claims));) {
    if (o->kind == OP_CLAIM && o->claimer) { /* its receive is on no list */
      free(o->claimer->iov);
      op_free(d, o->claimer);
    }
    free(o->iov);
    op_free(d, o);
  }
  d->refs--;
  dom_unlock(d);
  free(ep);
  return 0;
}

static struct fi_ops ep_fi_ops = {
  .size = sizeof(struct fi_ops),
  .close = ep_close,
  .bind = ep_bind,
  .control = ep_control,
  .ops_open = fxn_no_ops_open,
  .tostr = fxn_no_tostr,
  .ops_set = fxn_no_ops_set,
};

/* fi_cancel: a posted receive that has not matched yet is withdrawn and
 * reported as FI_ECANCELED; one that matched completes as usual. */
static ssize_t ep_cancel(fid_t fid, void *context)
{
  struct fxn_ep *ep = container_of(fid, struct fxn_ep, ep.fid);
  ssize_t rc = -FI_ENOENT;
  dom_lock(ep->dom);
  for (struct op *o = ep->active.head; o; o = o->next) {
    if (o->kind != OP_RECV || o->ctx != context)
      continue;
    uint32_t gone = 0;
    rc = 0;
    if (mx_cancel(ep->mx, &o->req, &gone) == MX_SUCCESS && gone && o->cq) {
      oplist_remove(&ep->active, o);
      o->req = NULL;
      o->err = FI_ECANCELED;
      o->status.code = MX_STATUS_CANCELLED;
      o->len = 0;
      fxn_cq_push(o->cq, o);
    }
    break;
  }
  dom_unlock(ep->dom);
  return rc;
}

static int ep_getopt(fid_t fid, int level, int optname, void *optval, size_t *optlen)
{
  (void)fid, (void)level, (void)optname, (void)optval, (void)optlen;
  return -FI_ENOPROTOOPT;
}

static int ep_setopt(fid_t fid, int level, int optname, const void *optval, size_t optlen)
{
  (void)fid, (void)level, (void)optname, (void)optval, (void)optlen;
  return -FI_ENOPROTOOPT;
}

static int no_tx_ctx(struct fid_ep *sep, int index, struct fi_tx_attr *attr,
                     struct fid_ep **tx_ep, void *context)
{
  (void)sep, (void)index, (void)attr, (void)tx_ep, (void)context;
  return -FI_ENOSYS;
}

static int no_rx_ctx(struct fid_ep *sep, int index, struct fi_rx_attr *attr,
                     struct fid_ep **rx_ep, void *context)
{
  (void)sep, (void)index, (void)attr, (void)rx_ep, (void)context;
  return -FI_ENOSYS;
}

static ssize_t size_left(struct fid_ep *ep)
{
  (void)ep;
  return -FI_ENOSYS; /* deprecated by libfabric */
}

static struct fi_ops_ep ep_ops = {
  .size = sizeof(struct fi_ops_ep),
  .cancel = ep_cancel,
  .getopt = ep_getopt,
  .setopt = ep_setopt,
  .tx_ctx = no_tx_ctx,
  .rx_ctx = no_rx_ctx,
  .rx_size_left = size_left,
  .tx_size_left = size_left,
};

/* --- names ------------------------------------------------------------- */

static int ep_getname(fid_t fid, void *addr, size_t *addrlen)
{
  struct fxn_ep *ep = container_of(fid, struct fxn_ep, ep.fid);
  size_t room = *addrlen;
  *addrlen = sizeof(ep->name);
  if (room < sizeof(ep->name))
    return -FI_ETOOSMALL;
  memcpy(addr, &ep->name, sizeof(ep->name));
  return 0;
}

static int no_setname(fid_t fid, void *addr, size_t addrlen)
{
  (void)fid, (void)addr, (void)addrlen;
  return -FI_ENOSYS;
}

static int no_getpeer(struct fid_ep *ep, void *addr, size_t *addrlen)
{
  (void)ep, (void)addr, (void)addrlen;
  return -FI_ENOSYS;
}

static int no_connect(struct fid_ep *ep, const void *addr, const void *param, size_t paramlen)
{
  (void)ep, (void)addr, (void)param, (void)paramlen;
  return -FI_ENOSYS;
}

static int no_listen(struct fid_pep *pep)
{
  (void)pep;
  return -FI_ENOSYS;
}

static int no_accept(struct fid_ep *ep, const void *param, size_t paramlen)
{
  (void)ep, (void)param, (void)paramlen;
  return -FI_ENOSYS;
}

static int no_reject(struct fid_pep *pep, fid_t handle, const void *param, size_t paramlen)
{
  (void)pep, (void)handle, (void)param, (void)paramlen;
  return -FI_ENOSYS;
}

static int no_shutdown(struct fid_ep *ep, uint64_t flags)
{
  (void)ep, (void)flags;
  return -FI_ENOSYS;
}

static int no_join(struct fid_ep *ep, const void *addr, uint64_t flags, struct fid_mc **mc,
                   void *context)
{
  (void)ep, (void)addr, (void)flags, (void)mc, (void)context;
  return -FI_ENOSYS;
}

static struct fi_ops_cm ep_cm_ops = {
  .size = sizeof(struct fi_ops_cm),
  .setname = no_setname,
  .getname = ep_getname,
  .getpeer = no_getpeer,
  .connect = no_connect,
  .listen = no_listen,
  .accept = no_accept,
  .reject = no_reject,
  .shutdown = no_shutdown,
  .join = no_join,
};

int fxn_ep_open(struct fid_domain *domain, struct fi_info *info, struct fid_ep **fep,
                void *context)
{
  struct fxn_domain *d = container_of(domain, struct fxn_domain, domain);
  if (!info || !info->ep_attr || info->ep_attr->type != FI_EP_RDM)
    return -FI_EINVAL;
  struct fxn_ep *ep = calloc(1, sizeof(*ep));
  if (!ep)
    return -FI_ENOMEM;
  uint32_t key;
  if (getrandom(&key, sizeof(key), 0) != sizeof(key)) {
    free(ep);
    return -FI_EIO;
  }
  mx_param_t param = {.key = MX_PARAM_ERROR_HANDLER, .val.error_handler = MX_ERRORS_RETURN};
  mx_return_t rc = mx_open_endpoint(d->board, MX_ANY_ENDPOINT, key, &param, 1, &ep->mx);
  if (rc != MX_SUCCESS) {
    FI_WARN(&fxn_prov, FI_LOG_EP_CTRL, "mx_open_endpoint: %s\n", mx_strerror(rc));
    free(ep);
    return rc == MX_NO_RESOURCES || rc == MX_BUSY ? -FI_EAGAIN : -FI_ENODEV;
  }
  fxn_open_endpoints++;
  mx_endpoint_addr_t self;
  mx_get_endpoint_addr(ep->mx, &self);
  ep->name.magic = FXN_NAME_MAGIC;
  ep->name.key = key;
  mx_decompose_endpoint_addr(self, &ep->name.nic, &ep->name.eid);
  ep->dom = d;
  ep->caps = info->caps ? info->caps : FI_MSG | FI_TAGGED | FI_SEND | FI_RECV | FI_SOURCE;
  if (!(ep->caps & (FI_SEND | FI_RECV)))
    ep->caps |= FI_SEND | FI_RECV;
  ep->tx_op_flags = info->tx_attr ? info->tx_attr->op_flags : 0;
  ep->inject_size = info->tx_attr ? info->tx_attr->inject_size : 0;
  ep->rx_op_flags = info->rx_attr ? info->rx_attr->op_flags : 0;
  ep->ep.fid.fclass = FI_CLASS_EP;
  ep->ep.fid.context = context;
  ep->ep.fid.ops = &ep_fi_ops;
  ep->ep.ops = &ep_ops;
  ep->ep.cm = &ep_cm_ops;
  ep->ep.msg = &fxn_msg_ops;
  ep->ep.tagged = &fxn_tagged_ops;
  dom_lock(d);
  d->refs++;
  ep->next = d->eps;
  d->eps = ep;
  dom_unlock(d);
  *fep = &ep->ep;
  return 0;
}
