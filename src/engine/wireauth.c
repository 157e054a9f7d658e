/*
 * wireauth.c - the optional cluster key: with it, every packet a backend
 * sends carries a MAC, and a packet without a valid one, or one seen
 * before, changes nothing (docs/security.md, docs/wire.md).
 *
 * The MAC is GMAC: AES-256-GCM over no plaintext, the packet as its
 * additional data (OpenSSL's EVP, which uses AES-NI and carry-less
 * multiplication where the CPU has them: 0.34 us for a 1472-byte packet
 * here, against 0.78 for XChaCha20-Poly1305's, which we tried first and
 * which halved a 1 MiB stream).  Each sender has a key of its own, made
 * from the cluster key and its nic id, and a packet counter as the IV, so
 * that no IV repeats under one key: the counter starts at the sender's
 * wall clock in nanoseconds and counts every packet, across restarts too
 * (a clock stepped back by more than the time since the last start would
 * repeat it: keep a cluster's clocks right, as its logs need anyway).
 * A receiver keeps, per peer, the highest counter seen and a window of
 * WIRE_REPLAY before it; anything older, or in the window already, is a
 * replay.  A peer's window starts WIRE_MAX_AGE_S before the receiver's
 * clock when it is first known (at start-up too): a packet recorded
 * earlier, from a relationship long gone, is refused however new the
 * receiver is.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "net_int.h"

#define TAG_LEN 16
_Static_assert(WIRE_MAC_LEN == 8 + TAG_LEN, "wire trailer: counter, tag");

/* A GCM context keyed for the packets of sender nic. */
static EVP_CIPHER_CTX *sender_ctx(const struct wire_auth *a, uint64_t nic, EVP_CIPHER_CTX *c)
{
  uint8_t seed[sizeof(a->key) + 8], key[32];
  unsigned len = sizeof(key);
  memcpy(seed, a->key, sizeof(a->key));
  memcpy(seed + sizeof(a->key), &nic, 8);
  if (!c && !(c = EVP_CIPHER_CTX_new()))
    return NULL;
  if (!EVP_Digest(seed, sizeof(seed), key, &len, EVP_sha256(), NULL) ||
      !EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, NULL)) {
    EVP_CIPHER_CTX_free(c);
    c = NULL;
  }
  OPENSSL_cleanse(key, sizeof(key));
  OPENSSL_cleanse(seed, sizeof(seed));
  return c;
}

/* The tag of the packet's first len bytes, under c, with counter as IV. */
static int packet_tag(EVP_CIPHER_CTX *c, uint64_t counter, const uint8_t *pkt, size_t len,
                      uint8_t tag[TAG_LEN])
{
  uint8_t iv[12] = {0};
  int out;
  memcpy(iv, &counter, 8);
  return EVP_EncryptInit_ex(c, NULL, NULL, NULL, iv) &&
         EVP_EncryptUpdate(c, NULL, &out, pkt, (int)len) && EVP_EncryptFinal_ex(c, tag, &out) &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag)
             ? 0
             : -1;
}

int wireauth_setup(struct wire_auth *a, const char *key_file, char *err, size_t errlen)
{
  memset(a, 0, sizeof(*a));
  if (!key_file)
    return 0;
  int fd = open(key_file, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) {
    snprintf(err, errlen, "key file %s: %s", key_file, strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    snprintf(err, errlen, "key file %s: readable by others (chmod 600 it)", key_file);
    close(fd);
    return -1;
  }
  uint8_t secret[4096];
  ssize_t n = read(fd, secret, sizeof(secret));
  close(fd);
  unsigned len = sizeof(a->key);
  if (n < 16) {
    snprintf(err, errlen, "key file %s: want at least 16 bytes of secret, as from "
                          "`head -c 32 /dev/urandom`", key_file);
    return -1;
  }
  /* Any secret of the file, of any length, makes a key of the right size. */
  int ok = EVP_Digest(secret, (size_t)n, a->key, &len, EVP_sha256(), NULL);
  OPENSSL_cleanse(secret, sizeof(secret));
  if (!ok || !(a->scratch = EVP_CIPHER_CTX_new())) {
    snprintf(err, errlen, "key file %s: OpenSSL cannot make the key", key_file);
    return -1;
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  a->counter = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
  a->on = 1;
  return 0;
}

void wireauth_free(struct wire_auth *a)
{
  EVP_CIPHER_CTX_free(a->tx);
  EVP_CIPHER_CTX_free(a->scratch);
  OPENSSL_cleanse(a->key, sizeof(a->key));
  memset(a, 0, sizeof(*a));
}

void wireauth_peer_free(void **ctx)
{
  EVP_CIPHER_CTX_free(*ctx);
  *ctx = NULL;
}

size_t wireauth_seal(struct wire_auth *a, uint8_t *pkt, size_t len)
{
  struct wire_hdr *h = (struct wire_hdr *)pkt;
  if (!a->on) {
    wire_seal(h, len);
    return len;
  }
  h->flags |= WIRE_F_MAC;
  h->csum = 0; /* the MAC covers every byte the checksum would */
  if (!a->tx || a->tx_nic != h->src_nic) { /* once: a backend sends as one nic */
    a->tx = sender_ctx(a, h->src_nic, a->tx);
    a->tx_nic = h->src_nic;
  }
  uint64_t counter = ++a->counter;
  memcpy(pkt + len, &counter, 8);
  if (!a->tx || packet_tag(a->tx, counter, pkt, len, pkt + len + 8) < 0)
    memset(pkt + len + 8, 0, TAG_LEN); /* no key to make it with: it will be refused */
  return len + WIRE_MAC_LEN;
}

int wireauth_open(struct wire_auth *a, void **peer_ctx, const uint8_t *pkt, size_t len,
                  uint64_t *counter)
{
  struct wire_hdr h;
  uint8_t tag[TAG_LEN];
  if (len < sizeof(h))
    return -1;
  memcpy(&h, pkt, sizeof(h));
  size_t inner = sizeof(h) + h.len; /* the trailer follows the packet (a frame may be padded) */
  if (inner + WIRE_MAC_LEN > len)
    return -1;
  /* a known peer's key is kept; an unknown sender's is made for its packet */
  EVP_CIPHER_CTX *c = peer_ctx ? *peer_ctx : NULL;
  if (!c) {
    c = sender_ctx(a, h.src_nic, peer_ctx ? NULL : a->scratch);
    if (peer_ctx)
      *peer_ctx = c;
    else
      a->scratch = c;
  }
  memcpy(counter, pkt + inner, 8);
  if (!c || packet_tag(c, *counter, pkt, inner, tag) < 0)
    return -1;
  return CRYPTO_memcmp(tag, pkt + inner + 8, TAG_LEN) == 0 ? 0 : -1;
}

uint64_t wireauth_floor(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec -
         WIRE_MAX_AGE_S * 1000000000ull;
}

int wireauth_replay(struct wire_replay *r, uint64_t counter)
{
  if (counter > r->top) {
    uint64_t shift = counter - r->top;
    if (shift >= WIRE_REPLAY) {
      memset(r->bits, 0, sizeof(r->bits));
    } else {
      for (uint64_t c = r->top + 1; c <= counter; c++) /* clear the slots moved into */
        r->bits[(c / 64) % (WIRE_REPLAY / 64)] &= ~(1ull << (c % 64));
    }
    r->top = counter;
  } else if (r->top - counter >= WIRE_REPLAY) {
    return -1; /* older than the window: cannot tell, so refused */
  }
  uint64_t *word = &r->bits[(counter / 64) % (WIRE_REPLAY / 64)];
  uint64_t bit = 1ull << (counter % 64);
  if (*word & bit)
    return -1;
  *word |= bit;
  return 0;
}
