/* seg.c - segment lists: gather on send, scatter on receive. */
#include <string.h>

#include "lib.h"

uint64_t seg_total(const mx_segment_t *segs, uint32_t n)
{
  uint64_t t = 0;
  for (uint32_t i = 0; i < n; i++)
    t += segs[i].segment_length;
  return t;
}

/* Copy len bytes from src into the list at byte offset off (bounded by the
 * list's capacity: the caller computed len against it). */
void seg_scatter(const mx_segment_t *segs, uint32_t n, uint64_t off, const void *src, uint64_t len)
{
  const char *s = src;
  for (uint32_t i = 0; i < n && len; i++) {
    uint64_t l = segs[i].segment_length;
    if (off >= l) {
      off -= l;
      continue;
    }
    uint64_t take = l - off < len ? l - off : len;
    memcpy((char *)segs[i].segment_ptr + off, s, take);
    s += take;
    len -= take;
    off = 0;
  }
}

/* Copy len bytes at byte offset off of the list into dst. */
void seg_gather(const mx_segment_t *segs, uint32_t n, uint64_t off, void *dst, uint64_t len)
{
  char *d = dst;
  for (uint32_t i = 0; i < n && len; i++) {
    uint64_t l = segs[i].segment_length;
    if (off >= l) {
      off -= l;
      continue;
    }
    uint64_t take = l - off < len ? l - off : len;
    memcpy(d, (const char *)segs[i].segment_ptr + off, take);
    d += take;
    len -= take;
    off = 0;
  }
}
