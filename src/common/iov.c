/* iov.c - see iov.h. */
#include "iov.h"

int iov_range(const struct iovec *in, uint32_t n, uint64_t off, uint64_t len,
              struct iovec *out, int max)
{
  int k = 0;
  for (uint32_t i = 0; i < n && len > 0 && k < max; i++) {
    uint64_t l = in[i].iov_len;
    if (off >= l) {
      off -= l;
      continue;
    }
    uint64_t take = l - off < len ? l - off : len;
    /* an address in another process (a guest's grant), maybe 0: integer
     * arithmetic, never a pointer's */
    out[k].iov_base = (void *)((uintptr_t)in[i].iov_base + off);
    out[k].iov_len = take;
    k++;
    len -= take;
    off = 0;
  }
  return k;
}

uint64_t iov_total(const struct iovec *in, uint32_t n)
{
  uint64_t t = 0;
  for (uint32_t i = 0; i < n; i++)
    t += in[i].iov_len;
  return t;
}
