/* fault.c - a port's place on the common fault layer (common/fault.h):
 * port_send goes through it, port_flush_delayed sends what it held. */
#include "port.h"

_Static_assert(sizeof(struct port_addr) <= FAULT_TO_MAX, "a held packet keeps its port_addr");

static int xmit(void *ctx, const void *to, size_t tolen, const void *pkt, size_t len, int flags)
{
  (void)tolen;
  return port_xmit(ctx, to, pkt, len, flags);
}

int port_send(struct port *p, const struct port_addr *to, const void *pkt, size_t len,
              uint64_t now_ns, int flags)
{
  return fault_send(&p->fault, xmit, p, to, sizeof(*to), pkt, len, now_ns, flags);
}

int port_flush_delayed(struct port *p, uint64_t now_ns)
{
  return fault_flush(&p->fault, xmit, p, now_ns);
}
