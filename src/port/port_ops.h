/* port_ops.h - what each kind of port implements (udp.c, eth.c). */
#ifndef MYRIXEN_PORT_OPS_H
#define MYRIXEN_PORT_OPS_H

#include "port.h"

struct port_ops {
  int (*open)(struct port *p, const char *arg, char *err, size_t errlen);
  int (*parse_addr)(const char *text, struct port_addr *a);
  void (*format_addr)(const struct port_addr *a, char *buf, size_t len);
  int (*equal)(const struct port_addr *a, const struct port_addr *b);
  socklen_t (*sockaddr)(const struct port *p, const struct port_addr *a,
                        struct sockaddr_storage *ss);
  /* The peer's address from the socket address a datagram came from. */
  void (*from_sockaddr)(const struct sockaddr_storage *ss, socklen_t len, struct port_addr *a);
};

extern const struct port_ops udp_ops, eth_ops;

static inline const struct port_ops *ops_of(const struct port *p)
{
  return p->kind == PORT_ETH ? &eth_ops : &udp_ops;
}

/* The MTU of the interface named, or holding address sa; 0 if unknown. */
uint32_t port_ifmtu(const char *ifname, const struct sockaddr *sa);

#endif
