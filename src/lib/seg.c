/* seg.c - a request's segments: gather on send, scatter on receive. */
#include <string.h>

#include "../common/iov.h"
#include "lib.h"
#include "base.h"

/* Copy len bytes from src into the list at byte offset off (bounded by the
 * list's capacity: the caller computed len against it). */
void seg_scatter(const struct iovec *segs, uint32_t n, uint64_t off, const void *src, uint64_t len)
{
  if (n == 1) { /* the common case, without the general walk */
    memcpy((char *)segs[0].iov_base + off, src, len);
    return;
  }
  struct iovec part[MX_MAX_SEGMENTS];
  const char *s = src;
  int k = iov_range(segs, n, off, len, part, MX_MAX_SEGMENTS);
  for (int i = 0; i < k; i++) {
    memcpy(part[i].iov_base, s, part[i].iov_len);
    s += part[i].iov_len;
  }
}

/* Copy len bytes at byte offset off of the list into dst. */
void seg_gather(const struct iovec *segs, uint32_t n, uint64_t off, void *dst, uint64_t len)
{
  if (n == 1) {
    memcpy(dst, (const char *)segs[0].iov_base + off, len);
    return;
  }
  struct iovec part[MX_MAX_SEGMENTS];
  char *d = dst;
  int k = iov_range(segs, n, off, len, part, MX_MAX_SEGMENTS);
  for (int i = 0; i < k; i++) {
    memcpy(d, part[i].iov_base, part[i].iov_len);
    d += part[i].iov_len;
  }
}

mx_return_t seg_args_check(struct mx_endpoint *ep, const mx_segment_t *segs, uint32_t n,
                           const mx_request_t *out, const char *fn)
{
  if (n > MX_MAX_SEGMENTS)
    return lib_error(ep, MX_BAD_SEG_CNT, "%s: %u segments (max %d)", fn, n, MX_MAX_SEGMENTS);
  if (n && !segs)
    return lib_error(ep, MX_BAD_SEG_LIST, "%s: NULL segment list", fn);
  if (!out)
    return lib_error(ep, MX_BAD_REQUEST, "%s: NULL request pointer", fn);
  return MX_SUCCESS;
}
