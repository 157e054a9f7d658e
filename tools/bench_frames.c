/* bench_frames.c - see bench_frames.h. */
#define _GNU_SOURCE
#include "bench_frames.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../src/common/clock.h"

#define FRAMES_ETHERTYPE 0x88b6 /* IEEE 802 local experimental EtherType 2 */
#define FRAMES_BATCH 64
#define FRAMES_MAX 65536        /* the largest frame payload a link may have */
#define FRAMES_ANSWER_MS 200
#define FRAMES_TRIES 10

/* A frame's first byte: what it is.  The sink answers only a hello or an
 * end of exactly one byte, and its answers are kinds it never answers: two
 * sinks on one link do not answer each other forever (a review looped two
 * with one forged frame). */
enum { F_HELLO = 1, F_DATA = 2, F_END = 3, F_COUNT = 4, F_HELLO_ACK = 5 };

static int frames_socket(int ifindex)
{
  int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(FRAMES_ETHERTYPE));
  struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(FRAMES_ETHERTYPE),
                            .sll_ifindex = ifindex};
  int one = 1, big = 16 << 20;
  /* (FORCE: past rmem_max and wmem_max, as root may; else as large as allowed) */
  if (fd < 0)
    return -1;
  if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
    close(fd);
    return -1;
  }
  setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) < 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
  return fd;
}

static void send_to(int fd, int ifindex, const uint8_t *mac, const void *buf, size_t len)
{
  struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_protocol = htons(FRAMES_ETHERTYPE),
                           .sll_ifindex = ifindex, .sll_halen = 6};
  memcpy(to.sll_addr, mac, 6);
  sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to));
}

/* --- the sink ------------------------------------------------------------ */

static void sink(int fd)
{
  static uint8_t bufs[FRAMES_BATCH][FRAMES_MAX];
  struct mmsghdr mm[FRAMES_BATCH];
  struct iovec iov[FRAMES_BATCH];
  struct sockaddr_ll from[FRAMES_BATCH];
  uint64_t bytes = 0;
  for (;;) {
    for (int i = 0; i < FRAMES_BATCH; i++) {
      iov[i] = (struct iovec){bufs[i], FRAMES_MAX};
      mm[i].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_namelen = sizeof(from[i]),
                                      .msg_iov = &iov[i], .msg_iovlen = 1};
    }
    int n = recvmmsg(fd, mm, FRAMES_BATCH, MSG_WAITFORONE, NULL);
    for (int i = 0; i < n; i++) {
      if (mm[i].msg_len < 1 || from[i].sll_pkttype == PACKET_OUTGOING)
        continue;
      uint8_t kind = bufs[i][0];
      if (kind == F_DATA) {
        bytes += mm[i].msg_len;
      } else if ((kind == F_HELLO || kind == F_END) && mm[i].msg_len == 1) {
        uint8_t answer[1 + sizeof(bytes)] = {kind == F_HELLO ? F_HELLO_ACK : F_COUNT};
        memcpy(answer + 1, &bytes, sizeof(bytes));
        send_to(fd, from[i].sll_ifindex, from[i].sll_addr, answer, sizeof(answer));
        bytes = 0; /* a hello or an end starts the count again */
      }
    }
  }
}

pid_t frames_sink_start(void)
{
  int fd = frames_socket(0); /* every interface */
  if (fd < 0)
    return -1;
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* bench serve's end is ours */
    if (getppid() == 1)
      _exit(0); /* (it ended before we asked) */
    sink(fd);
    _exit(0);
  }
  close(fd);
  return pid;
}

/* --- the client ---------------------------------------------------------- */

/* Send what (broadcast while the sink is not known) until the sink
 * answers with kind; its answer's count in *count.  0, or -1. */
static int ask(struct frames_link *fl, uint8_t what, uint8_t kind, uint64_t *count)
{
  static const uint8_t everyone[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  uint8_t buf[64];
  for (int t = 0; t < FRAMES_TRIES; t++) {
    send_to(fl->fd, fl->ifindex, what == F_HELLO ? everyone : fl->sink, &what, 1);
    uint64_t until = clock_now_ns() + FRAMES_ANSWER_MS * 1000000ull;
    for (;;) {
      struct pollfd p = {.fd = fl->fd, .events = POLLIN};
      uint64_t now = clock_now_ns();
      if (now >= until || poll(&p, 1, (int)((until - now) / 1000000) + 1) <= 0)
        break;
      struct sockaddr_ll from = {0};
      socklen_t fromlen = sizeof(from);
      ssize_t n = recvfrom(fl->fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
                           &fromlen);
      if (n == 1 + (ssize_t)sizeof(*count) && buf[0] == kind &&
          from.sll_pkttype != PACKET_OUTGOING) {
        memcpy(fl->sink, from.sll_addr, 6);
        memcpy(count, buf + 1, sizeof(*count));
        return 0;
      }
    }
  }
  return -1;
}

int frames_open(const char *dev, struct frames_link *fl)
{
  memset(fl, 0, sizeof(*fl));
  struct ifreq ifr = {0};
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
  fl->ifindex = (int)if_nametoindex(dev);
  fl->fd = fl->ifindex ? frames_socket(fl->ifindex) : -1;
  uint64_t ignored;
  if (fl->fd < 0 || ioctl(fl->fd, SIOCGIFMTU, &ifr) < 0 || ifr.ifr_mtu < 64 ||
      ask(fl, F_HELLO, F_HELLO_ACK, &ignored) < 0) {
    if (fl->fd >= 0)
      close(fl->fd);
    fl->fd = -1;
    return -1;
  }
  fl->mtu = ifr.ifr_mtu > FRAMES_MAX ? FRAMES_MAX : (uint32_t)ifr.ifr_mtu;
  return 0;
}

double frames_stream(struct frames_link *fl, uint64_t total)
{
  static uint8_t frame[FRAMES_MAX];
  struct mmsghdr mm[FRAMES_BATCH];
  struct iovec iov[FRAMES_BATCH];
  struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_protocol = htons(FRAMES_ETHERTYPE),
                           .sll_ifindex = fl->ifindex, .sll_halen = 6};
  uint64_t count;
  memcpy(to.sll_addr, fl->sink, 6);
  memset(frame, 0x5a, fl->mtu);
  frame[0] = F_DATA;
  if (ask(fl, F_HELLO, F_HELLO_ACK, &count) < 0) /* the count starts from 0 */
    return -1;
  uint64_t t0 = clock_now_ns(), sent = 0;
  while (sent < total) {
    int k = 0;
    for (; k < FRAMES_BATCH && sent < total; k++) {
      uint32_t len = total - sent < fl->mtu ? (uint32_t)(total - sent) : fl->mtu;
      iov[k] = (struct iovec){frame, len < 1 ? 1 : len};
      mm[k].msg_hdr = (struct msghdr){.msg_name = &to, .msg_namelen = sizeof(to),
                                      .msg_iov = &iov[k], .msg_iovlen = 1};
      sent += len;
    }
    for (int done = 0; done < k;) {
      int r = sendmmsg(fl->fd, mm + done, (unsigned)(k - done), 0);
      if (r < 0 && errno != EINTR && errno != EAGAIN && errno != ENOBUFS)
        return -1;
      done += r > 0 ? r : 0;
    }
  }
  if (ask(fl, F_END, F_COUNT, &count) < 0)
    return -1;
  double secs = (double)(clock_now_ns() - t0) / 1e9;
  return (double)count / secs / 1e6;
}

void frames_close(struct frames_link *fl)
{
  if (fl->fd >= 0)
    close(fl->fd);
  fl->fd = -1;
}
