/* crc32c.c - see crc32c.h. */
#include "crc32c.h"

#include <string.h>

/* The SSE4.2 instruction takes 3 cycles and can start one a cycle: one
 * dependent chain runs at a third of its speed.  So buffers are cut into
 * three blocks, each block's register is computed independently
 * (interleaved), and the three are joined: the register after A||B is
 * M(reg after A) ^ (reg of B from 0), M being the linear map "feed as many
 * zero bytes as B has", kept as four byte tables.  Two block sizes: three
 * long blocks cover a standard-MTU packet's payload (1,344 of its ~1,420
 * bytes), short ones most of what is left of longer buffers. */
#define CRC_LONG 448
#define CRC_SHORT 64

static uint32_t table[256];
static uint32_t shift_long[4][256], shift_short[4][256];
static int have_sse42;

/* The four byte tables of M for n zero bytes. */
static void shift_tables(uint32_t t[4][256], int n)
{
  for (uint32_t k = 0; k < 4; k++)
    for (uint32_t b = 0; b < 256; b++) {
      uint32_t v = b << (8 * k);
      for (int i = 0; i < n; i++)
        v = table[v & 0xff] ^ (v >> 8);
      t[k][b] = v;
    }
}

/* Before main: no thread can race the set-up. */
__attribute__((constructor)) static void crc32c_init(void)
{
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    table[i] = c;
  }
  shift_tables(shift_long, CRC_LONG);
  shift_tables(shift_short, CRC_SHORT);
#if defined(__x86_64__)
  __builtin_cpu_init();
  have_sse42 = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t crc_table(uint32_t crc, const uint8_t *p, size_t len)
{
  while (len--)
    crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return crc;
}

static inline uint32_t shift(const uint32_t t[4][256], uint32_t c)
{
  return t[0][c & 0xff] ^ t[1][(c >> 8) & 0xff] ^ t[2][(c >> 16) & 0xff] ^ t[3][c >> 24];
}

#if defined(__x86_64__)
/* Three blocks of n bytes from p, interleaved, joined. */
__attribute__((target("sse4.2"))) static inline uint64_t crc_hw3(uint64_t c, const uint8_t *p,
                                                                  size_t n,
                                                                  const uint32_t t[4][256])
{
  uint64_t c0 = c, c1 = 0, c2 = 0;
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v0, v1, v2;
    memcpy(&v0, p + i, 8);
    memcpy(&v1, p + n + i, 8);
    memcpy(&v2, p + 2 * n + i, 8);
    c0 = __builtin_ia32_crc32di(c0, v0);
    c1 = __builtin_ia32_crc32di(c1, v1);
    c2 = __builtin_ia32_crc32di(c2, v2);
  }
  c = shift(t, (uint32_t)c0) ^ c1;
  return shift(t, (uint32_t)c) ^ c2;
}

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const uint8_t *p,
                                                          size_t len)
{
  uint64_t c = crc;
  while (len >= 3 * CRC_LONG) {
    c = crc_hw3(c, p, CRC_LONG, shift_long);
    p += 3 * CRC_LONG;
    len -= 3 * CRC_LONG;
  }
  while (len >= 3 * CRC_SHORT) {
    c = crc_hw3(c, p, CRC_SHORT, shift_short);
    p += 3 * CRC_SHORT;
    len -= 3 * CRC_SHORT;
  }
  while (len >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    c = __builtin_ia32_crc32di(c, v);
    p += 8;
    len -= 8;
  }
  uint32_t c32 = (uint32_t)c;
  while (len--)
    c32 = __builtin_ia32_crc32qi(c32, *p++);
  return c32;
}
#endif

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
  crc = ~crc;
#if defined(__x86_64__)
  if (have_sse42)
    return ~crc_hw(crc, buf, len);
#endif
  return ~crc_table(crc, buf, len);
}
