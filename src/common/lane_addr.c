/* lane_addr.c - see lane_addr.h. */
#include "lane_addr.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

int lane_addr_to_sockaddr(const struct lane_addr *a, struct sockaddr_storage *ss,
                          socklen_t *len)
{
  memset(ss, 0, sizeof(*ss));
  if (a->family == 4) {
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    in->sin_family = AF_INET;
    memcpy(&in->sin_addr, a->ip, 4);
    in->sin_port = a->port;
    *len = sizeof(*in);
    return 0;
  }
  if (a->family == 6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    in6->sin6_family = AF_INET6;
    memcpy(&in6->sin6_addr, a->ip, 16);
    in6->sin6_port = a->port;
    *len = sizeof(*in6);
    return 0;
  }
  return -1;
}

int lane_addr_from_sockaddr(struct lane_addr *a, const struct sockaddr_storage *ss)
{
  memset(a->ip, 0, sizeof(a->ip));
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
    memcpy(a->ip, &in->sin_addr, 4);
    a->port = in->sin_port;
    a->family = 4;
    return 0;
  }
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
    memcpy(a->ip, &in6->sin6_addr, 16);
    a->port = in6->sin6_port;
    a->family = 6;
    return 0;
  }
  return -1;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
  if (ss->ss_family == AF_INET)
    ((struct sockaddr_in *)ss)->sin_port = port;
  else
    ((struct sockaddr_in6 *)ss)->sin6_port = port;
}

#define NAMED_PORT_TRIES 32

int lane_bind_named_port(int fd, struct sockaddr_storage *ss, socklen_t len)
{
  if (ss->ss_family != AF_INET && ss->ss_family != AF_INET6) {
    errno = EAFNOSUPPORT;
    return -1;
  }
  for (int i = 0; i < NAMED_PORT_TRIES; i++) {
    int probe = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    socklen_t got = len;
    set_port(ss, 0);
    if (probe < 0)
      return -1;
    int ok = bind(probe, (struct sockaddr *)ss, len) == 0 &&
             getsockname(probe, (struct sockaddr *)ss, &got) == 0 && got == len;
    int err = errno;
    close(probe);
    if (!ok) {
      errno = err;
      return -1;
    }
    if (bind(fd, (struct sockaddr *)ss, len) == 0)
      return 0;
    if (errno != EADDRINUSE)
      return -1; /* (taken meanwhile: another port) */
  }
  errno = EADDRINUSE;
  return -1;
}
