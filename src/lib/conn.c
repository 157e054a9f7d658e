/*
 * conn.c - the endpoint's table of peers, and the opaque 16-byte
 * mx_endpoint_addr_t: word 0 the peer's nic id (48 bits) and endpoint id
 * (16 bits), word 1 the connection record, checked before use.
 */
#include <stdlib.h>

#include "lib.h"
#include "base.h"
#include "channel.h"
#include "conn.h"
#include "lane.h"

struct conn *conn_get(struct mx_endpoint *ep, uint64_t nic, uint32_t eid, int create)
{
  for (struct conn *c = ep->conns; c; c = c->next)
    if (c->nic == nic && c->eid == eid)
      return c;
  if (!create)
    return NULL;
  struct conn *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  c->magic = CONN_MAGIC;
  c->nic = nic;
  c->remote = nic != lib.hello.nic_id;
  c->eid = eid;
  c->ep = ep;
  c->next = ep->conns;
  ep->conns = c;
  return c;
}

void conn_to_addr(const struct conn *c, mx_endpoint_addr_t *a)
{
  a->stuff[0] = (c->nic & 0xffffffffffffull) | ((uint64_t)(c->eid & 0xffff) << 48);
  a->stuff[1] = (uint64_t)(uintptr_t)c;
}

struct conn *conn_from_addr(struct mx_endpoint *ep, const mx_endpoint_addr_t *a)
{
  uint64_t nic = a->stuff[0] & 0xffffffffffffull;
  uint32_t eid = (uint32_t)(a->stuff[0] >> 48);
  for (struct conn *c = ep->conns; c; c = c->next)
    if (c == (struct conn *)(uintptr_t)a->stuff[1])
      return c->nic == nic && c->eid == eid ? c : NULL;
  /* An address obtained on another endpoint of this process. */
  return nic == lib.hello.nic_id ? conn_get(ep, nic, eid, 1) : NULL;
}

/* The peer is gone: everything in flight with it ends with code. */
void conn_fail(struct mx_endpoint *ep, struct conn *c, mx_status_code_t code)
{
  if (c->ch) {
    struct chan *ch = c->ch;
    c->ch = NULL;
    ch->conn = NULL;
    chan_close(ep, ch);
  }
  c->dead = 1;
  lane_fail(ep, c, code);
  req_fail_active(ep, c, code);
  /* Receives that take only this peer's messages will get none. */
  for (struct req *r = ep->posted.head, *nx; r; r = nx) {
    nx = r->next;
    if (r->from == c) {
      reqlist_remove(&ep->posted, r);
      req_complete(ep, r, code);
    }
  }
  for (struct req *u = ep->unexp.head, *nx; u; u = nx) {
    nx = u->next;
    if (u->conn == c && u->got < u->msg_len && u->type != MSG_RNDV) {
      partial_remove(ep, u);
      reqlist_remove(&ep->unexp, u);
      ep->unexp_count--;
      req_free(ep, u);
    } else if (u->conn == c && u->type == MSG_RNDV) {
      /* Its data can never be pulled now. */
      reqlist_remove(&ep->unexp, u);
      ep->unexp_count--;
      req_free(ep, u);
    }
  }
}

EXPORT mx_return_t mx_decompose_endpoint_addr(mx_endpoint_addr_t a, uint64_t *nic, uint32_t *eid)
{
  if (nic)
    *nic = a.stuff[0] & 0xffffffffffffull;
  if (eid)
    *eid = (uint32_t)(a.stuff[0] >> 48);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_decompose_endpoint_addr2(mx_endpoint_addr_t a, uint64_t *nic,
                                               uint32_t *eid, uint32_t *session)
{
  struct conn *c = (struct conn *)(uintptr_t)a.stuff[1];
  mx_decompose_endpoint_addr(a, nic, eid);
  if (session)
    *session = c && c->magic == CONN_MAGIC ? c->session : 0;
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_set_endpoint_addr_context(mx_endpoint_addr_t a, void *context)
{
  struct conn *c = (struct conn *)(uintptr_t)a.stuff[1];
  if (!c || c->magic != CONN_MAGIC)
    return lib_error(NULL, MX_BAD_ENDPOINT, "mx_set_endpoint_addr_context: bad address");
  c->context = context;
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_get_endpoint_addr_context(mx_endpoint_addr_t a, void **context)
{
  struct conn *c = (struct conn *)(uintptr_t)a.stuff[1];
  if (!c || c->magic != CONN_MAGIC)
    return lib_error(NULL, MX_BAD_ENDPOINT, "mx_get_endpoint_addr_context: bad address");
  *context = c->context;
  return MX_SUCCESS;
}
