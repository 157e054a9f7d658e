/*
 * net_vmbench - the split-driver baseline inside VMs: the guest kernel's
 * sockets over virtio-net, at their fastest.
 *   UDP ping-pong, both ends busy-polling a non-blocking socket:
 *     server: net_vmbench -u PORT          client: net_vmbench -u PORT -c ADDR [-l LEN] [-n N]
 *   TCP stream, one connection, large writes (as iperf3):
 *     server: net_vmbench -t PORT          client: net_vmbench -t PORT -c ADDR [-l LEN] [-n N]
 * The client prints a line starting "net_vmbench"; an empty datagram (or
 * the end of the connection) stops the server.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DIE(what) do { perror(what); exit(1); } while (0)

static double now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static struct sockaddr_in addr_of(const char *ip, int port)
{
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = ip ? inet_addr(ip) : INADDR_ANY;
  return a;
}

/* A datagram, spun for on a non-blocking socket. */
static ssize_t spin_recv(int s, void *buf, size_t len, struct sockaddr_in *from)
{
  socklen_t fl = sizeof(*from);
  for (;;) {
    ssize_t n = recvfrom(s, buf, len, MSG_DONTWAIT, (struct sockaddr *)from, &fl);
    if (n >= 0)
      return n;
    if (errno != EAGAIN && errno != EINTR)
      DIE("recvfrom");
  }
}

static void udp(int port, const char *peer, size_t len, int iters)
{
  static char buf[65536];
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in me = addr_of(NULL, peer ? 0 : port), from;
  if (s < 0 || bind(s, (struct sockaddr *)&me, sizeof(me)) < 0)
    DIE("udp socket");
  if (!peer) {
    for (;;) {
      ssize_t n = spin_recv(s, buf, sizeof(buf), &from);
      sendto(s, buf, (size_t)n, 0, (struct sockaddr *)&from, sizeof(from));
      if (n == 0)
        return;
    }
  }
  struct sockaddr_in to = addr_of(peer, port);
  memset(buf, 0x5a, len);
  /* the server may not be up yet: the first datagram is sent again until
   * it is answered */
  for (int answered = 0; !answered;) {
    if (sendto(s, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
      DIE("sendto");
    socklen_t fl = sizeof(from);
    for (double t = now_us(); !answered && now_us() - t < 200000;)
      answered = recvfrom(s, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl) >= 0;
  }
  double t0 = 0;
  for (int i = -iters / 10 - 1; i < iters; i++) {
    if (i == 0)
      t0 = now_us();
    if (sendto(s, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
      DIE("sendto");
    if (spin_recv(s, buf, sizeof(buf), &from) != (ssize_t)len)
      DIE("short echo");
  }
  double us = (now_us() - t0) / iters / 2;
  sendto(s, buf, 0, 0, (struct sockaddr *)&to, sizeof(to));
  printf("net_vmbench udp pingpong %zu B: %.2f us half round trip (%d iterations, busy-poll)\n",
         len, us, iters);
}

static void tcp(int port, const char *peer, size_t len, int iters)
{
  char *buf = malloc(len);
  if (!buf)
    DIE("malloc");
  int one = 1;
  if (!peer) {
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in me = addr_of(NULL, port);
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (l < 0 || bind(l, (struct sockaddr *)&me, sizeof(me)) < 0 || listen(l, 1) < 0)
      DIE("tcp listen");
    int c = accept(l, NULL, NULL);
    uint64_t total = 0;
    ssize_t n;
    while ((n = read(c, buf, len)) > 0)
      total += (uint64_t)n;
    if (write(c, &total, sizeof(total)) < 0)
      DIE("write");
    close(c);
    close(l);
    return;
  }
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in to = addr_of(peer, port);
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  for (int k = 0; connect(s, (struct sockaddr *)&to, sizeof(to)) < 0; k++) {
    if (k == 100)
      DIE("connect");
    usleep(100000);
  }
  memset(buf, 0x5a, len);
  double t0 = now_us();
  for (int i = 0; i < iters; i++)
    for (size_t off = 0; off < len;) {
      ssize_t n = write(s, buf + off, len - off);
      if (n <= 0)
        DIE("write");
      off += (size_t)n;
    }
  shutdown(s, SHUT_WR);
  uint64_t total = 0;
  if (read(s, &total, sizeof(total)) != sizeof(total) || total != (uint64_t)len * iters)
    DIE("the server's count");
  double us = now_us() - t0;
  printf("net_vmbench tcp stream %zu B: %.1f MB/s (%d writes)\n", len, (double)total / us, iters);
}

int main(int argc, char **argv)
{
  int uport = 0, tport = 0, iters = 1000, c;
  size_t len = 8;
  const char *peer = NULL;
  while ((c = getopt(argc, argv, "u:t:c:l:n:")) != -1) {
    switch (c) {
    case 'u': uport = atoi(optarg); break;
    case 't': tport = atoi(optarg); break;
    case 'c': peer = optarg; break;
    case 'l': len = strtoul(optarg, NULL, 0); break;
    case 'n': iters = atoi(optarg); break;
    default:
      fprintf(stderr, "usage: %s -u PORT|-t PORT [-c ADDR [-l LEN] [-n N]]\n", argv[0]);
      return 2;
    }
  }
  if ((!uport) == (!tport) || iters <= 0 || (uport && len > 65507)) {
    fprintf(stderr, "%s: one of -u PORT or -t PORT (UDP: up to 65507 bytes)\n", argv[0]);
    return 2;
  }
  if (uport)
    udp(uport, peer, len, iters);
  else
    tcp(tport, peer, len, iters);
  return 0;
}
