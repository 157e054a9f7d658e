/* crc32c.c - see crc32c.h. */
#include "crc32c.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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
/* From this length on, folding with carry-less multiplies, where the CPU
 * has them 512 bits wide (crc_fold) */
#define CRC_FOLD_MIN 256

static uint32_t table[256];
static uint32_t shift_long[4][256], shift_short[4][256];
static int have[CRC32C_FOLD + 1];
static enum crc32c_impl best = CRC32C_TABLE;

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

/* --- folding ------------------------------------------------------------
 * A buffer is a polynomial over GF(2), its first bit the highest term (the
 * reflected order of CRC-32C), and its CRC depends only on that polynomial
 * modulo P.  Sixteen bytes A followed by d bits more stand for A * x^d;
 * with A = H * x^64 + L (H its first eight bytes, L its last), A * x^d is
 * congruent to H * (x^(d+64) mod P) + L * (x^d mod P), which is at most
 * 96 bits long: so A can be replaced by that, XORed into the sixteen bytes
 * d bits further on, and the buffer keeps its CRC while it shrinks.  Two
 * carry-less multiplies (PCLMULQDQ) do that, sixteen bytes at a time in
 * each 128-bit lane of a 512-bit register, four registers at once: 256
 * bytes a step.  What is left (sixteen bytes) goes through the CRC
 * instruction, with the bytes that did not make a block.  The constants are
 * computed here, at start, from P: fold_k(d). */

/* x^n mod P (P = 0x1edc6f41 with x^32, the normal form), n >= 32 */
static uint32_t xpow_mod(uint32_t n)
{
  uint32_t r = 1;
  while (n--)
    r = r & 0x80000000u ? (r << 1) ^ 0x1edc6f41u : r << 1;
  return r;
}

static uint32_t reflect32(uint32_t v)
{
  uint32_t r = 0;
  for (int i = 0; i < 32; i++)
    r |= ((v >> i) & 1u) << (31 - i);
  return r;
}

/* The pair of constants that folds sixteen bytes by d bits: for H, then
 * for L, each in the upper half of a 64-bit lane (the reflected order),
 * one power of x less than above: the product of two reflected 64-bit
 * lanes comes out one bit short of 128 (its lowest term would be bit
 * 127), and the missing x is the one taken off. */
struct fold_k {
  uint64_t h, l;
};
static struct fold_k fold_k(uint32_t d)
{
  return (struct fold_k){(uint64_t)reflect32(xpow_mod(d + 63)) << 32,
                         (uint64_t)reflect32(xpow_mod(d - 1)) << 32};
}
static struct fold_k k2048, k1536, k1024, k512, k384, k256, k128;

static void fold_init(void)
{
  k2048 = fold_k(2048);
  k1536 = fold_k(1536);
  k1024 = fold_k(1024);
  k512 = fold_k(512);
  k384 = fold_k(384);
  k256 = fold_k(256);
  k128 = fold_k(128);
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
  fold_init();
  have[CRC32C_TABLE] = 1;
#if defined(__x86_64__)
  __builtin_cpu_init();
  have[CRC32C_SSE42] = __builtin_cpu_supports("sse4.2");
  have[CRC32C_FOLD] = have[CRC32C_SSE42] && __builtin_cpu_supports("pclmul") &&
                      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("vpclmulqdq");
#endif
  /* (VPCLMULQDQ came with Ice Lake and Zen 4, whose cores barely slow
   * down for 512-bit work: not the Skylake parts that did) */
  best = have[CRC32C_FOLD] ? CRC32C_FOLD : have[CRC32C_SSE42] ? CRC32C_SSE42 : CRC32C_TABLE;
  /* (MYRIXEN_CRC=table|sse42: a slower one, to measure what the faster gives) */
  const char *e = getenv("MYRIXEN_CRC");
  if (e && !strcmp(e, "table"))
    best = CRC32C_TABLE;
  else if (e && !strcmp(e, "sse42") && have[CRC32C_SSE42])
    best = CRC32C_SSE42;
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

/* What is left after the blocks: eight bytes, then one, at a time. */
__attribute__((target("sse4.2"))) static uint32_t crc_hw_tail(uint64_t c, const uint8_t *p,
                                                               size_t len)
{
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
  return crc_hw_tail(c, p, len);
}

#define FOLD_TARGET "sse4.2,pclmul,avx512f,avx512vl,vpclmulqdq"

/* a * x^d (k: fold_k(d)) ^ b, in each 128-bit lane */
__attribute__((target(FOLD_TARGET))) static inline __m512i fold512(__m512i a, __m512i k,
                                                                   __m512i b)
{
  return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(a, k, 0x00),
                                   _mm512_clmulepi64_epi128(a, k, 0x11), b, 0x96);
}

__attribute__((target(FOLD_TARGET))) static inline __m128i fold128(__m128i a, struct fold_k k,
                                                                   __m128i b)
{
  __m128i kk = _mm_set_epi64x((long long)k.l, (long long)k.h);
  return _mm_ternarylogic_epi64(_mm_clmulepi64_si128(a, kk, 0x00),
                                _mm_clmulepi64_si128(a, kk, 0x11), b, 0x96);
}

__attribute__((target(FOLD_TARGET))) static inline __m512i wide(struct fold_k k)
{
  return _mm512_broadcast_i32x4(_mm_set_epi64x((long long)k.l, (long long)k.h));
}

/* len >= CRC_FOLD_MIN (256) */
__attribute__((target(FOLD_TARGET))) static uint32_t crc_fold(uint32_t crc, const uint8_t *p,
                                                               size_t len)
{
  /* the register's bits are the first 32 of the buffer's: from here on it
   * is 0, and the buffer's first four bytes carry it */
  __m512i a0 = _mm512_mask_xor_epi32(_mm512_loadu_si512(p), 1, _mm512_loadu_si512(p),
                                     _mm512_set1_epi32((int)crc));
  __m512i a1 = _mm512_loadu_si512(p + 64), a2 = _mm512_loadu_si512(p + 128),
          a3 = _mm512_loadu_si512(p + 192);
  p += 256;
  len -= 256;
  __m512i k = wide(k2048);
  for (; len >= 256; p += 256, len -= 256) {
    a0 = fold512(a0, k, _mm512_loadu_si512(p));
    a1 = fold512(a1, k, _mm512_loadu_si512(p + 64));
    a2 = fold512(a2, k, _mm512_loadu_si512(p + 128));
    a3 = fold512(a3, k, _mm512_loadu_si512(p + 192));
  }
  /* four registers into the last: a0 is 192 bytes before a3 */
  __m512i a = fold512(a0, wide(k1536), a3);
  a = fold512(a1, wide(k1024), a);
  a = fold512(a2, wide(k512), a);
  for (k = wide(k512); len >= 64; p += 64, len -= 64)
    a = fold512(a, k, _mm512_loadu_si512(p));
  /* four lanes into the last: lane 0 is 48 bytes before lane 3 */
  __m128i v = fold128(_mm512_extracti32x4_epi32(a, 0), k384, _mm512_extracti32x4_epi32(a, 3));
  v = fold128(_mm512_extracti32x4_epi32(a, 1), k256, v);
  v = fold128(_mm512_extracti32x4_epi32(a, 2), k128, v);
  for (; len >= 16; p += 16, len -= 16)
    v = fold128(v, k128, _mm_loadu_si128((const __m128i *)p));
  /* sixteen bytes congruent to all that came before them, as data */
  uint64_t c = __builtin_ia32_crc32di(0, (uint64_t)_mm_cvtsi128_si64(v));
  c = __builtin_ia32_crc32di(c, (uint64_t)_mm_extract_epi64(v, 1));
  return crc_hw_tail(c, p, len);
}
#endif

static uint32_t crc_by(enum crc32c_impl impl, uint32_t crc, const uint8_t *p, size_t len)
{
#if defined(__x86_64__)
  if (impl == CRC32C_FOLD && len >= CRC_FOLD_MIN)
    return crc_fold(crc, p, len);
  if (impl >= CRC32C_SSE42)
    return crc_hw(crc, p, len);
#endif
  (void)impl;
  return crc_table(crc, p, len);
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
  return ~crc_by(best, ~crc, buf, len);
}

int crc32c_has(enum crc32c_impl impl)
{
  return impl >= CRC32C_TABLE && impl <= CRC32C_FOLD && have[impl];
}

uint32_t crc32c_by(enum crc32c_impl impl, uint32_t crc, const void *buf, size_t len)
{
  return ~crc_by(crc32c_has(impl) ? impl : CRC32C_TABLE, ~crc, buf, len);
}
