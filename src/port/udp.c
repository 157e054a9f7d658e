/* udp.c - the udp port: wire packets in UDP datagrams, IPv4 or IPv6. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/gso.h"
#include "../common/wire.h"
#include "port_ops.h"

#define UDP_OVERHEAD_V4 28 /* IP and UDP headers */
#define UDP_OVERHEAD_V6 48

/* "1.2.3.4:PORT" or "[v6]:PORT" into a sockaddr. */
static int udp_parse(const char *text, struct port_addr *a)
{
  char host[INET6_ADDRSTRLEN + 2];
  const char *colon = strrchr(text, ':');
  if (!colon || colon == text || (size_t)(colon - text) >= sizeof(host))
    return -1;
  memcpy(host, text, (size_t)(colon - text));
  host[colon - text] = 0;
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || port <= 0 || port > 65535)
    return -1;
  if (host[0] == '[') {
    size_t n = strlen(host);
    if (n < 3 || host[n - 1] != ']')
      return -1;
    host[n - 1] = 0;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
      return -1;
    a->sslen = sizeof(*s6);
    return 0;
  }
  struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
  s4->sin_family = AF_INET;
  s4->sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
    return -1;
  a->sslen = sizeof(*s4);
  return 0;
}

static void udp_format(const struct port_addr *a, char *buf, size_t len)
{
  char host[INET6_ADDRSTRLEN];
  if (a->ss.ss_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->ss;
    inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
    snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
  } else {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->ss;
    inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
    snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
  }
}

static int udp_equal(const struct port_addr *a, const struct port_addr *b)
{
  return a->sslen == b->sslen && !memcmp(&a->ss, &b->ss, a->sslen);
}

/* The second socket of discovery, bound to where hellos go (and a member
 * of that group, for IPv6); that address becomes the port's broadcast.
 * Any failure leaves the port without discovery, not without a port. */
static void discovery_socket(struct port *p, const struct sockaddr *at, socklen_t len,
                             const struct ipv6_mreq *join)
{
  int one = 1;
  p->bfd = socket(at->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (p->bfd < 0 || setsockopt(p->bfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
      bind(p->bfd, at, len) < 0 ||
      (join && setsockopt(p->bfd, IPPROTO_IPV6, IPV6_JOIN_GROUP, join, sizeof(*join)) < 0)) {
    if (p->bfd >= 0)
      close(p->bfd);
    p->bfd = -1;
    return;
  }
  memcpy(&p->broadcast.ss, at, len);
  p->broadcast.sslen = len;
  p->has_broadcast = 1;
}

/* Discovery: hellos go to the subnet's broadcast address, and a second
 * socket bound to that address receives them (a socket bound to one
 * address does not see broadcasts).  No broadcast address: no discovery. */
static void udp_open_broadcast(struct port *p, const struct sockaddr_in *self)
{
  struct ifaddrs *ifs, *i;
  struct sockaddr_in b = {0};
  if (getifaddrs(&ifs) < 0)
    return;
  for (i = ifs; i; i = i->ifa_next)
    if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && (i->ifa_flags & IFF_BROADCAST) &&
        i->ifa_netmask &&
        ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == self->sin_addr.s_addr) {
      /* the address with the host bits set (an address added without "brd"
       * has no broadcast address of its own) */
      b.sin_addr.s_addr = self->sin_addr.s_addr |
                          ~((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr;
      break;
    }
  freeifaddrs(ifs);
  if (!b.sin_addr.s_addr)
    return;
  b.sin_family = AF_INET;
  b.sin_port = self->sin_port;
  int one = 1;
  setsockopt(p->fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
  discovery_socket(p, (struct sockaddr *)&b, sizeof(b), NULL);
}

/* Discovery over IPv6 (no broadcast there): hellos go to the link's
 * all-nodes group ff02::1 on the interface of our address, and a second
 * socket bound to that group at our port receives them.  The hello's
 * source is our own address and port, which is what a peer learns. */
static void udp_open_multicast(struct port *p, const struct sockaddr_in6 *self)
{
  struct ifaddrs *ifs, *i;
  unsigned ifindex = 0;
  if (getifaddrs(&ifs) < 0)
    return;
  for (i = ifs; i; i = i->ifa_next)
    if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET6 &&
        !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, &self->sin6_addr, 16)) {
      ifindex = if_nametoindex(i->ifa_name);
      break;
    }
  freeifaddrs(ifs);
  if (!ifindex)
    return;
  struct sockaddr_in6 g = {.sin6_family = AF_INET6, .sin6_port = self->sin6_port,
                           .sin6_scope_id = ifindex};
  inet_pton(AF_INET6, "ff02::1", &g.sin6_addr);
  int zero = 0;
  setsockopt(p->fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof(ifindex));
  setsockopt(p->fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &zero, sizeof(zero));
  struct ipv6_mreq mr = {.ipv6mr_interface = ifindex};
  mr.ipv6mr_multiaddr = g.sin6_addr;
  discovery_socket(p, (struct sockaddr *)&g, sizeof(g), &mr);
}

static int udp_open(struct port *p, const char *arg, char *err, size_t errlen)
{
  struct port_addr self;
  memset(&self, 0, sizeof(self));
  if (udp_parse(arg, &self) < 0) {
    snprintf(err, errlen, "port udp:%s: want ADDR:PORT or [ADDR6]:PORT", arg);
    return -1;
  }
  int v6 = self.ss.ss_family == AF_INET6;
  p->fd = socket(self.ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (p->fd < 0 || bind(p->fd, (struct sockaddr *)&self.ss, self.sslen) < 0) {
    snprintf(err, errlen, "port udp:%s: %s", arg, strerror(errno));
    return -1;
  }
  /* Bursts of a window's worth of packets must not overflow the socket. */
  int buf = 8 << 20;
  setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
  setsockopt(p->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
  if (v6)
    udp_open_multicast(p, (const struct sockaddr_in6 *)&self.ss);
  else
    udp_open_broadcast(p, (const struct sockaddr_in *)&self.ss);
  uint32_t ifmtu = port_ifmtu(NULL, (struct sockaddr *)&self.ss);
  if (!ifmtu)
    ifmtu = 1500;
  p->mtu = ifmtu - (v6 ? UDP_OVERHEAD_V6 : UDP_OVERHEAD_V4);
  if (p->mtu > WIRE_MAX_PACKET)
    p->mtu = WIRE_MAX_PACKET;
  /* Runs of packets cross the stack as one buffer each way (batch.c);
   * where the kernel lacks it, packets go and come one by one. */
  p->gso = 1;
  p->gro = gro_set(p->fd, 1);
  return 0;
}

static socklen_t udp_sockaddr(const struct port *p, const struct port_addr *a,
                              struct sockaddr_storage *ss)
{
  (void)p;
  memcpy(ss, &a->ss, a->sslen);
  return a->sslen;
}

static void udp_from_sockaddr(const struct sockaddr_storage *ss, socklen_t len,
                              struct port_addr *a)
{
  memset(a, 0, sizeof(*a));
  memcpy(&a->ss, ss, len);
  a->sslen = len;
}

const struct port_ops udp_ops = {udp_open, udp_parse, udp_format, udp_equal, udp_sockaddr,
                                 udp_from_sockaddr};
