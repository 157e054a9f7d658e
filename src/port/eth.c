/* eth.c - the eth port: wire packets in raw Ethernet frames of EtherType
 * WIRE_ETHERTYPE, through an AF_PACKET datagram socket bound to one
 * interface (the kernel writes the Ethernet header); arriving frames land
 * in a ring shared with the kernel (ring.c), or where it cannot be set up
 * (or MYRIXEN_ETH_RING=0) in the socket's queue. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/wire.h"
#include "port_ops.h"

static int eth_parse(const char *text, struct port_addr *a)
{
  unsigned m[6];
  char tail;
  if (sscanf(text, "%x:%x:%x:%x:%x:%x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &tail) != 6)
    return -1;
  for (int i = 0; i < 6; i++) {
    if (m[i] > 255)
      return -1;
    a->mac[i] = (uint8_t)m[i];
  }
  return 0;
}

static void eth_format(const struct port_addr *a, char *buf, size_t len)
{
  snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", a->mac[0], a->mac[1], a->mac[2],
           a->mac[3], a->mac[4], a->mac[5]);
}

static int eth_equal(const struct port_addr *a, const struct port_addr *b)
{
  return !memcmp(a->mac, b->mac, 6);
}

/* p->fd: a packet socket for our EtherType on p's interface.  0 or -1. */
static int eth_socket(struct port *p)
{
  p->fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(WIRE_ETHERTYPE));
  struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(WIRE_ETHERTYPE),
                            .sll_ifindex = p->ifindex};
  return p->fd < 0 || bind(p->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ? -1 : 0;
}

static int eth_open(struct port *p, const char *ifname, char *err, size_t errlen)
{
  p->ifindex = (int)if_nametoindex(ifname);
  if (!p->ifindex) {
    snprintf(err, errlen, "port eth:%s: no such interface", ifname);
    return -1;
  }
  p->mtu = port_ifmtu(ifname, NULL);
  if (!p->mtu)
    p->mtu = 1500;
  if (p->mtu > WIRE_MAX_PACKET)
    p->mtu = WIRE_MAX_PACKET;
  memset(p->broadcast.mac, 0xff, 6); /* discovery hellos: to every station */
  p->has_broadcast = 1;
  if (eth_socket(p) < 0) {
    snprintf(err, errlen, "port eth:%s: %s (needs CAP_NET_RAW)", ifname, strerror(errno));
    return -1;
  }
  int buf = 8 << 20;
  setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
  setsockopt(p->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
  const char *want = getenv("MYRIXEN_ETH_RING");
  if (!want || strcmp(want, "0")) {
    if (ring_open(p) == 0)
      log_info("port eth:%s: receive ring", ifname);
    else
      log_warn("port eth:%s: no receive ring (%s): the socket's queue instead", ifname,
               strerror(errno));
  }
  return 0;
}

static socklen_t eth_sockaddr(const struct port *p, const struct port_addr *a,
                              struct sockaddr_storage *ss)
{
  struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(WIRE_ETHERTYPE),
                            .sll_ifindex = p->ifindex, .sll_halen = 6};
  memcpy(sll.sll_addr, a->mac, 6);
  memcpy(ss, &sll, sizeof(sll));
  return sizeof(sll);
}

static void eth_from_sockaddr(const struct sockaddr_storage *ss, socklen_t len,
                              struct port_addr *a)
{
  struct sockaddr_ll sll;
  memset(a, 0, sizeof(*a));
  memset(&sll, 0, sizeof(sll));
  memcpy(&sll, ss, len < sizeof(sll) ? len : sizeof(sll));
  memcpy(a->mac, sll.sll_addr, 6);
}

const struct port_ops eth_ops = {eth_open, eth_parse, eth_format, eth_equal, eth_sockaddr,
                                 eth_from_sockaddr};
