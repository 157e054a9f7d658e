/*
 * fabric.c - the fabric object, and the event queue that reliable
 * datagram endpoints never use (fi_pingpong opens one all the same).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fi.h"

static int fabric_close(struct fid *fid)
{
  free(container_of(fid, struct fxn_fabric, fabric.fid));
  return 0;
}

static struct fi_ops fabric_fi_ops = {
  .size = sizeof(struct fi_ops),
  .close = fabric_close,
  .bind = fxn_no_bind,
  .control = fxn_no_control,
  .ops_open = fxn_no_ops_open,
  .tostr = fxn_no_tostr,
  .ops_set = fxn_no_ops_set,
};

static int no_passive_ep(struct fid_fabric *fabric, struct fi_info *info, struct fid_pep **pep,
                         void *context)
{
  (void)fabric, (void)info, (void)pep, (void)context;
  return -FI_ENOSYS;
}

static int no_wait_open(struct fid_fabric *fabric, struct fi_wait_attr *attr,
                        struct fid_wait **waitset)
{
  (void)fabric, (void)attr, (void)waitset;
  return -FI_ENOSYS;
}

static int domain2(struct fid_fabric *fabric, struct fi_info *info, struct fid_domain **dom,
                   uint64_t flags, void *context)
{
  return flags ? -FI_EINVAL : fxn_domain_open(fabric, info, dom, context);
}

static struct fi_ops_fabric fabric_ops = {
  .size = sizeof(struct fi_ops_fabric),
  .domain = fxn_domain_open,
  .passive_ep = no_passive_ep,
  .eq_open = fxn_eq_open,
  .wait_open = no_wait_open,
  .trywait = fxn_trywait,
  .domain2 = domain2,
};

int fxn_fabric_open(struct fi_fabric_attr *attr, struct fid_fabric **fabric, void *context)
{
  if (attr->name && strcmp(attr->name, FXN_NAME))
    return -FI_ENODATA;
  if (!fxn_mx_ready())
    return -FI_ENODEV;
  struct fxn_fabric *f = calloc(1, sizeof(*f));
  if (!f)
    return -FI_ENOMEM;
  f->fabric.fid.fclass = FI_CLASS_FABRIC;
  f->fabric.fid.context = context;
  f->fabric.fid.ops = &fabric_fi_ops;
  f->fabric.ops = &fabric_ops;
  *fabric = &f->fabric;
  return 0;
}

/* fi_trywait: a completion queue may be waited on (its fd) only when it
 * holds nothing. */
int fxn_trywait(struct fid_fabric *fabric, struct fid **fids, int count)
{
  (void)fabric;
  for (int i = 0; i < count; i++) {
    if (fids[i]->fclass != FI_CLASS_CQ)
      return -FI_EINVAL;
    int ready = fxn_cq_ready(container_of(fids[i], struct fxn_cq, cq.fid));
    if (ready < 0)
      return ready;
    if (ready)
      return -FI_EAGAIN;
  }
  return 0;
}

/* --- the event queue: reliable datagram endpoints have no connection
 * events, so it never holds any. */

struct fxn_eq {
  struct fid_eq eq;
};

static int eq_close(struct fid *fid)
{
  free(container_of(fid, struct fxn_eq, eq.fid));
  return 0;
}

static ssize_t eq_read(struct fid_eq *eq, uint32_t *event, void *buf, size_t len,
                       uint64_t flags)
{
  (void)eq, (void)event, (void)buf, (void)len, (void)flags;
  return -FI_EAGAIN;
}

static ssize_t eq_readerr(struct fid_eq *eq, struct fi_eq_err_entry *buf, uint64_t flags)
{
  (void)eq, (void)buf, (void)flags;
  return -FI_EAGAIN;
}

static ssize_t eq_write(struct fid_eq *eq, uint32_t event, const void *buf, size_t len,
                        uint64_t flags)
{
  (void)eq, (void)event, (void)buf, (void)len, (void)flags;
  return -FI_ENOSYS;
}

static ssize_t eq_sread(struct fid_eq *eq, uint32_t *event, void *buf, size_t len, int timeout,
                        uint64_t flags)
{
  (void)eq, (void)event, (void)buf, (void)len, (void)flags;
  if (timeout > 0) {
    struct timespec ts = {timeout / 1000, (long)(timeout % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
  return -FI_EAGAIN;
}

static const char *eq_strerror(struct fid_eq *eq, int prov_errno, const void *err_data,
                               char *buf, size_t len)
{
  (void)eq, (void)err_data;
  const char *s = mx_strstatus((mx_status_code_t)prov_errno);
  if (buf && len) {
    strncpy(buf, s, len - 1);
    buf[len - 1] = 0;
  }
  return s;
}

static struct fi_ops eq_fi_ops = {
  .size = sizeof(struct fi_ops),
  .close = eq_close,
  .bind = fxn_no_bind,
  .control = fxn_no_control,
  .ops_open = fxn_no_ops_open,
  .tostr = fxn_no_tostr,
  .ops_set = fxn_no_ops_set,
};

static struct fi_ops_eq eq_ops = {
  .size = sizeof(struct fi_ops_eq),
  .read = eq_read,
  .readerr = eq_readerr,
  .write = eq_write,
  .sread = eq_sread,
  .strerror = eq_strerror,
};

int fxn_eq_open(struct fid_fabric *fabric, struct fi_eq_attr *attr, struct fid_eq **eq,
                void *context)
{
  (void)fabric;
  if (attr->wait_obj != FI_WAIT_NONE && attr->wait_obj != FI_WAIT_UNSPEC)
    return -FI_ENOSYS;
  struct fxn_eq *q = calloc(1, sizeof(*q));
  if (!q)
    return -FI_ENOMEM;
  q->eq.fid.fclass = FI_CLASS_EQ;
  q->eq.fid.context = context;
  q->eq.fid.ops = &eq_fi_ops;
  q->eq.ops = &eq_ops;
  *eq = &q->eq;
  return 0;
}
