/* ctl.c - framing of control messages and descriptor passing. */
#include "ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

void ctl_init(struct ctl_msg *m, enum ctl_type type, uint32_t seq)
{
  memset(m, 0, sizeof(*m));
  m->magic = CTL_MAGIC;
  m->version = CTL_VERSION;
  m->type = (uint16_t)type;
  m->seq = seq;
}

void ctl_close_fds(int *fds, int n)
{
  for (int i = 0; i < n; i++) {
    if (fds[i] >= 0)
      close(fds[i]);
    fds[i] = -1;
  }
}

int ctl_send(int sock, const struct ctl_msg *m, const int *fds, int nfds)
{
  struct iovec iov = {.iov_base = (void *)m, .iov_len = sizeof(*m) + m->len};
  union {
    char buf[CMSG_SPACE(sizeof(int) * CTL_MAX_FDS)];
    struct cmsghdr align;
  } cbuf;
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

  if (nfds < 0 || nfds > CTL_MAX_FDS)
    return -EINVAL;
  if (nfds > 0) {
    memset(&cbuf, 0, sizeof(cbuf));
    mh.msg_control = cbuf.buf;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
  }
  for (;;) {
    ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    if (n >= 0)
      return 0;
    if (errno != EINTR)
      return -errno;
  }
}

ssize_t ctl_recv(int sock, struct ctl_msg *buf, size_t cap, int *fds, int *nfds)
{
  struct iovec iov = {.iov_base = buf, .iov_len = cap};
  union {
    char buf[CMSG_SPACE(sizeof(int) * CTL_MAX_FDS)];
    struct cmsghdr align;
  } cbuf;
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                      .msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf)};
  ssize_t n;

  *nfds = 0;
  for (int i = 0; i < CTL_MAX_FDS; i++)
    fds[i] = -1;
  do
    n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    return -errno;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
      continue;
    size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < cnt; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      if (*nfds < CTL_MAX_FDS)
        fds[(*nfds)++] = fd;
      else
        close(fd);
    }
  }
  if (n == 0) {
    /* a peer's close, or a message of no bytes that still carried
     * descriptors: none of them is kept */
    ctl_close_fds(fds, *nfds);
    *nfds = 0;
    return 0;
  }
  if ((size_t)n < sizeof(*buf) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
      buf->len != (size_t)n - sizeof(*buf)) {
    ctl_close_fds(fds, *nfds);
    *nfds = 0;
    return -EBADMSG;
  }
  return n;
}

const char *ctl_socket_path(void)
{
  const char *path = getenv("MYRIXEN_SOCKET");
  return path && *path ? path : CTL_DEFAULT_SOCKET;
}

int ctl_connect(const char *path, int flags)
{
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof(sa.sun_path))
    return -ENAMETOOLONG;
  memcpy(sa.sun_path, path, strlen(path) + 1);
  int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | flags, 0);
  if (s < 0)
    return -errno;
  if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
    int e = -errno;
    close(s);
    return e;
  }
  return s;
}

int ctl_monitor_open(const char *path, const char *name)
{
  int s = ctl_connect(path, 0);
  if (s < 0)
    return -1;
  if (ctl_monitor_hello(s, name) < 0) {
    close(s);
    return -2;
  }
  return s;
}

int ctl_monitor_hello(int s, const char *name)
{
  /* a control loop that does not answer holds us this long, not forever */
  struct timeval tv = {5, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  struct ctl_msg m, rep;
  ctl_init(&m, CTL_HELLO, 1);
  m.u.hello.role = CTL_ROLE_MONITOR;
  snprintf(m.u.hello.name, sizeof(m.u.hello.name), "%s", name);
  int fds[CTL_MAX_FDS], n = 0;
  ssize_t k = ctl_send(s, &m, NULL, 0) < 0 ? -1 : ctl_recv(s, &rep, sizeof(rep), fds, &n);
  ctl_close_fds(fds, n);
  return k > 0 && rep.type == CTL_REPLY ? 0 : -2;
}

int ctl_monitor_request(int s, struct ctl_msg *req, struct ctl_msg *rep, size_t cap)
{
  int fds[CTL_MAX_FDS], n = 0;
  req->seq = 2;
  ssize_t k = ctl_send(s, req, NULL, 0) < 0 ? -1 : ctl_recv(s, rep, cap, fds, &n);
  ctl_close_fds(fds, n); /* a monitor takes none */
  return k > 0 ? 0 : -3;
}

int ctl_monitor_call(const char *path, const char *name, struct ctl_msg *req,
                     struct ctl_msg *rep, size_t cap)
{
  int s = ctl_monitor_open(path, name);
  if (s < 0)
    return s;
  int rc = ctl_monitor_request(s, req, rep, cap);
  close(s);
  return rc;
}
