/* port.c - opening ports and dispatching to their kind (see port.h). */
#define _GNU_SOURCE
#include "port.h"

#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../common/wire.h"
#include "port_ops.h"

int port_open(struct port *p, const char *spec, char *err, size_t errlen)
{
  memset(p, 0, sizeof(*p));
  p->fd = -1;
  p->bfd = -1;
  snprintf(p->spec, sizeof(p->spec), "%s", spec);
  if (!strncmp(spec, "udp:", 4))
    p->kind = PORT_UDP;
  else if (!strncmp(spec, "eth:", 4))
    p->kind = PORT_ETH;
  else {
    snprintf(err, errlen, "port '%s': want udp:ADDR:PORT or eth:IFNAME", spec);
    return -1;
  }
  if (ops_of(p)->open(p, spec + 4, err, errlen) < 0)
    return -1;
  if (port_rx_init(p) < 0 || port_batch_init(p) < 0) {
    snprintf(err, errlen, "port '%s': out of memory", spec);
    return -1;
  }
  return 0;
}

void port_close(struct port *p)
{
  ring_close(p); /* before its socket */
  if (p->fd >= 0)
    close(p->fd);
  if (p->bfd >= 0)
    close(p->bfd);
  p->fd = p->bfd = -1;
  fault_free(&p->fault);
  port_batch_free(p);
  port_rx_free(p);
}

int port_parse_addr(const struct port *p, const char *text, struct port_addr *a)
{
  memset(a, 0, sizeof(*a));
  return ops_of(p)->parse_addr(text, a);
}

void port_format_addr(const struct port *p, const struct port_addr *a, char *buf, size_t len)
{
  ops_of(p)->format_addr(a, buf, len);
}

int port_addr_equal(const struct port *p, const struct port_addr *a, const struct port_addr *b)
{
  return ops_of(p)->equal(a, b);
}

socklen_t port_sockaddr(const struct port *p, const struct port_addr *a,
                        struct sockaddr_storage *ss)
{
  return ops_of(p)->sockaddr(p, a, ss);
}

ssize_t port_recv_broadcast(struct port *p, void *buf, size_t cap, struct port_addr *from)
{
  if (p->bfd < 0)
    return 0;
  from->sslen = sizeof(from->ss);
  ssize_t n = recvfrom(p->bfd, buf, cap, MSG_TRUNC | MSG_DONTWAIT, (struct sockaddr *)&from->ss,
                       &from->sslen);
  if (n < 0)
    return 0;
  p->c.rx_packets++;
  return n > (ssize_t)cap ? (ssize_t)cap + 1 : n;
}

void port_count_drops(struct port *p)
{
  struct tpacket_stats st;
  socklen_t len = sizeof(st);
  /* the kernel's counts start again at each read */
  if (p->kind == PORT_ETH && p->fd >= 0 &&
      getsockopt(p->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
    p->c.rx_dropped += st.tp_drops;
}

uint32_t port_ifmtu(const char *ifname, const struct sockaddr *sa)
{
  char name[IF_NAMESIZE] = "";
  struct ifaddrs *ifs, *i;
  if (ifname) {
    snprintf(name, sizeof(name), "%s", ifname);
  } else if (sa && getifaddrs(&ifs) == 0) {
    for (i = ifs; i; i = i->ifa_next) {
      if (!i->ifa_addr || i->ifa_addr->sa_family != sa->sa_family)
        continue;
      if (sa->sa_family == AF_INET &&
          ((const struct sockaddr_in *)sa)->sin_addr.s_addr ==
              ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr)
        break;
      if (sa->sa_family == AF_INET6 &&
          !memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr,
                  &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16))
        break;
    }
    if (i)
      snprintf(name, sizeof(name), "%s", i->ifa_name);
    freeifaddrs(ifs);
  }
  if (!name[0])
    return 0;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return 0;
  int r = ioctl(s, SIOCGIFMTU, &ifr);
  close(s);
  return r < 0 ? 0 : (uint32_t)ifr.ifr_mtu;
}
