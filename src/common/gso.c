/* gso.c - see gso.h. */
#define _GNU_SOURCE
#include "gso.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>

uint32_t gso_run(const struct iovec *iov, uint32_t i, uint32_t n,
                 int (*same)(const void *ctx, uint32_t i, uint32_t j), const void *ctx)
{
  size_t seg = iov[i].iov_len, total = seg;
  uint32_t j = i + 1;
  while (j < n && j - i < GSO_MAX_SEGS && iov[j - 1].iov_len == seg && iov[j].iov_len <= seg &&
         total + iov[j].iov_len <= GSO_MAX_BYTES && (!same || same(ctx, i, j))) {
    total += iov[j].iov_len;
    j++;
  }
  return j - i;
}

void gso_set_segment(struct msghdr *h, struct gso_ctl *ctl, uint16_t seg)
{
  h->msg_control = ctl->buf;
  h->msg_controllen = sizeof(ctl->buf);
  struct cmsghdr *c = CMSG_FIRSTHDR(h);
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  memcpy(CMSG_DATA(c), &seg, sizeof(seg));
}

uint32_t gro_segment(struct msghdr *h)
{
  uint32_t seg = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c))
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
      int s;
      memcpy(&s, CMSG_DATA(c), sizeof(s));
      seg = s > 0 ? (uint32_t)s : 0;
    }
  return seg;
}

int gro_set(int fd, int on)
{
  return setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on)) == 0;
}

int gso_unsupported(int err)
{
  return err == EINVAL || err == EIO || err == ENOPROTOOPT || err == EOPNOTSUPP;
}
