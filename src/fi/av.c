/*
 * av.c - the address vector: endpoint names (fi_getname) in, fi_addr_t
 * indices out.  An MX address is only valid in the MX endpoint that
 * connected it, so a name is connected (mx_iconnect) once the vector's
 * endpoint exists: at insert, or when an endpoint is bound to it.  The
 * index travels back with every message as the connection's context, which
 * makes FI_SOURCE a lookup of one pointer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fi.h"

static int valid_name(const struct fxn_name *n)
{
  return n->magic == FXN_NAME_MAGIC && n->reserved == 0;
}

/* Connect every entry not connected yet; all connects are posted before
 * any is waited for, so n peers cost one round trip, not n. */
int fxn_av_resolve(struct fxn_av *av)
{
  struct fxn_ep *ep = av->ep;
  if (!ep || !ep->mx)
    return 0;
  size_t n = 0;
  mx_request_t *reqs = calloc(av->n ? av->n : 1, sizeof(*reqs));
  if (!reqs)
    return -FI_ENOMEM;
  for (size_t i = 0; i < av->n; i++) {
    struct av_entry *e = &av->tab[i];
    if (!e->used || e->resolved || e->dead)
      continue;
    if (mx_iconnect(ep->mx, e->name.nic, e->name.eid, e->name.key, 0, (void *)(i + 1),
                    &reqs[n]) == MX_SUCCESS)
      n++;
  }
  int failed = 0;
  for (size_t k = 0; k < n; k++) {
    mx_status_t st;
    uint32_t got = 0;
    if (mx_wait(ep->mx, &reqs[k], MX_INFINITE, &st, &got) != MX_SUCCESS || !got) {
      failed++;
      continue;
    }
    size_t i = (size_t)(uintptr_t)st.context - 1;
    if (st.code != MX_STATUS_SUCCESS) {
      FI_WARN(&fxn_prov, FI_LOG_AV, "connecting to endpoint %u of nic %llx: %s\n",
              av->tab[i].name.eid, (unsigned long long)av->tab[i].name.nic,
              mx_strstatus(st.code));
      av->tab[i].dead = 1; /* not tried again: each try may take the connect timeout */
      failed++;
      continue;
    }
    av->tab[i].addr = st.source;
    av->tab[i].resolved = 1;
    mx_set_endpoint_addr_context(st.source, (void *)(i + 1));
  }
  free(reqs);
  return failed ? -FI_EHOSTUNREACH : 0;
}

const mx_endpoint_addr_t *fxn_av_addr(struct fxn_av *av, fi_addr_t a)
{
  if (!av || a >= av->n || !av->tab[a].used || !av->tab[a].resolved)
    return NULL;
  return &av->tab[a].addr;
}

fi_addr_t fxn_av_source(struct fxn_av *av, mx_endpoint_addr_t source)
{
  void *ctx = NULL;
  if (!av || mx_get_endpoint_addr_context(source, &ctx) != MX_SUCCESS || !ctx)
    return FI_ADDR_NOTAVAIL;
  size_t i = (size_t)(uintptr_t)ctx - 1;
  return i < av->n && av->tab[i].used ? (fi_addr_t)i : FI_ADDR_NOTAVAIL;
}

static int av_insert(struct fid_av *fav, const void *addr, size_t count, fi_addr_t *fi_addr,
                     uint64_t flags, void *context)
{
  (void)flags, (void)context;
  struct fxn_av *av = container_of(fav, struct fxn_av, av);
  const struct fxn_name *names = addr;
  dom_lock(av->dom);
  if (av->n + count > av->cap) {
    size_t cap = av->cap ? av->cap : 16;
    while (cap < av->n + count)
      cap *= 2;
    struct av_entry *t = realloc(av->tab, cap * sizeof(*t));
    if (!t) {
      dom_unlock(av->dom);
      return -FI_ENOMEM;
    }
    memset(t + av->cap, 0, (cap - av->cap) * sizeof(*t));
    av->tab = t;
    av->cap = cap;
  }
  size_t first = av->n;
  for (size_t k = 0; k < count; k++) {
    struct av_entry *e = &av->tab[av->n++];
    memset(e, 0, sizeof(*e));
    e->name = names[k];
    e->used = valid_name(&e->name);
    if (!e->used)
      FI_WARN(&fxn_prov, FI_LOG_AV, "fi_av_insert: entry %zu is not a MyriXen name\n", k);
  }
  fxn_av_resolve(av);
  int inserted = 0;
  for (size_t k = 0; k < count; k++) {
    struct av_entry *e = &av->tab[first + k];
    int ok = e->used && (e->resolved || !av->ep);
    if (fi_addr)
      fi_addr[k] = ok ? (fi_addr_t)(first + k) : FI_ADDR_NOTAVAIL;
    inserted += ok;
  }
  dom_unlock(av->dom);
  return inserted;
}

static int av_insertsvc(struct fid_av *av, const char *node, const char *service,
                        fi_addr_t *fi_addr, uint64_t flags, void *context)
{
  (void)av, (void)node, (void)service, (void)fi_addr, (void)flags, (void)context;
  return -FI_ENOSYS;
}

static int av_insertsym(struct fid_av *av, const char *node, size_t nodecnt,
                        const char *service, size_t svccnt, fi_addr_t *fi_addr, uint64_t flags,
                        void *context)
{
  (void)av, (void)node, (void)nodecnt, (void)service, (void)svccnt, (void)fi_addr, (void)flags,
      (void)context;
  return -FI_ENOSYS;
}

/* A removed entry stays connected (MX keeps connections for the
 * endpoint's life) but no longer names anyone here. */
static int av_remove(struct fid_av *fav, fi_addr_t *fi_addr, size_t count, uint64_t flags)
{
  (void)flags;
  struct fxn_av *av = container_of(fav, struct fxn_av, av);
  int rc = 0;
  dom_lock(av->dom);
  for (size_t k = 0; k < count; k++) {
    if (fi_addr[k] >= av->n || !av->tab[fi_addr[k]].used) {
      rc = -FI_EINVAL;
      continue;
    }
    struct av_entry *e = &av->tab[fi_addr[k]];
    if (e->resolved)
      mx_set_endpoint_addr_context(e->addr, NULL);
    e->used = e->resolved = 0;
  }
  dom_unlock(av->dom);
  return rc;
}

static int av_lookup(struct fid_av *fav, fi_addr_t fi_addr, void *addr, size_t *addrlen)
{
  struct fxn_av *av = container_of(fav, struct fxn_av, av);
  dom_lock(av->dom);
  int found = fi_addr < av->n && av->tab[fi_addr].used;
  struct fxn_name name;
  if (found)
    name = av->tab[fi_addr].name;
  dom_unlock(av->dom);
  if (!found)
    return -FI_ENOENT;
  size_t room = *addrlen;
  *addrlen = sizeof(name);
  memcpy(addr, &name, room < sizeof(name) ? room : sizeof(name));
  return 0;
}

static const char *av_straddr(struct fid_av *av, const void *addr, char *buf, size_t *len)
{
  (void)av;
  const struct fxn_name *n = addr;
  char s[64];
  int w = snprintf(s, sizeof(s), "fi_myrixen://%llx:%u", (unsigned long long)n->nic, n->eid);
  if (buf && *len)
    snprintf(buf, *len, "%s", s);
  *len = (size_t)w + 1;
  return buf;
}

static int no_av_set(struct fid_av *av, struct fi_av_set_attr *attr, struct fid_av_set **av_set,
                     void *context)
{
  (void)av, (void)attr, (void)av_set, (void)context;
  return -FI_ENOSYS;
}

static int av_close(struct fid *fid)
{
  struct fxn_av *av = container_of(fid, struct fxn_av, av.fid);
  dom_lock(av->dom);
  if (av->ep) {
    dom_unlock(av->dom);
    return -FI_EBUSY;
  }
  av->dom->refs--;
  dom_unlock(av->dom);
  free(av->tab);
  free(av);
  return 0;
}

static struct fi_ops av_fi_ops = {
  .size = sizeof(struct fi_ops),
  .close = av_close,
  .bind = fxn_no_bind,
  .control = fxn_no_control,
  .ops_open = fxn_no_ops_open,
  .tostr = fxn_no_tostr,
  .ops_set = fxn_no_ops_set,
};

static struct fi_ops_av av_ops = {
  .size = sizeof(struct fi_ops_av),
  .insert = av_insert,
  .insertsvc = av_insertsvc,
  .insertsym = av_insertsym,
  .remove = av_remove,
  .lookup = av_lookup,
  .straddr = av_straddr,
  .av_set = no_av_set,
};

int fxn_av_open(struct fid_domain *domain, struct fi_av_attr *attr, struct fid_av **fav,
                void *context)
{
  struct fxn_domain *d = container_of(domain, struct fxn_domain, domain);
  if (attr->type != FI_AV_UNSPEC && attr->type != FI_AV_MAP && attr->type != FI_AV_TABLE)
    return -FI_EINVAL;
  if (attr->name || attr->flags & (FI_EVENT | FI_READ))
    return -FI_ENOSYS; /* no named (shared) vectors, no asynchronous inserts */
  struct fxn_av *av = calloc(1, sizeof(*av));
  if (!av)
    return -FI_ENOMEM;
  av->dom = d;
  av->type = attr->type == FI_AV_UNSPEC ? FI_AV_TABLE : attr->type;
  av->av.fid.fclass = FI_CLASS_AV;
  av->av.fid.context = context;
  av->av.fid.ops = &av_fi_ops;
  av->av.ops = &av_ops;
  dom_lock(d);
  d->refs++;
  dom_unlock(d);
  *fav = &av->av;
  return 0;
}
