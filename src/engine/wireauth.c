/*
 * wireauth.c - the optional cluster key: with it, every packet a backend
 * sends carries a MAC, and a packet without a valid one, or one seen
 * before, changes nothing (docs/security.md, docs/wire.md).
 *
 * The MAC is Poly1305 (libsodium's crypto_onetimeauth) under a key used
 * once: the first 32 bytes of XChaCha20 under the cluster key, with the
 * sender's nic id and a packet counter as nonce.  The counter starts at
 * the sender's wall clock in nanoseconds and counts every packet, so it
 * never repeats for one sender, across restarts too (a clock stepped back
 * by more than the time since the last start would repeat it: keep the
 * clocks of a cluster right, as its logs need anyway).  A receiver keeps,
 * per peer, the highest counter seen and a window of the WIRE_REPLAY
 * before it; anything older, or in the window already, is a replay.
 *
 * Why Poly1305: the MAC is computed over every byte of every packet, at
 * the line rate; it is among the fastest MACs there are, and libsodium's
 * is vectorised.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "net_int.h"

_Static_assert(WIRE_MAC_LEN == 8 + crypto_onetimeauth_BYTES, "wire trailer: counter, tag");

int wireauth_setup(struct wire_auth *a, const char *key_file, char *err, size_t errlen)
{
  memset(a, 0, sizeof(*a));
  if (!key_file)
    return 0;
  if (sodium_init() < 0) {
    snprintf(err, errlen, "libsodium cannot start");
    return -1;
  }
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
  if (n < 16) {
    snprintf(err, errlen, "key file %s: want at least 16 bytes of secret, as from "
                          "`head -c 32 /dev/urandom`", key_file);
    return -1;
  }
  /* Any secret of the file, of any length, makes a key of the right size. */
  crypto_generichash(a->key, sizeof(a->key), secret, (size_t)n, NULL, 0);
  sodium_memzero(secret, sizeof(secret));
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  a->counter = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
  a->on = 1;
  return 0;
}

/* The one-time Poly1305 key of packet (nic, counter). */
static void packet_key(const struct wire_auth *a, uint64_t nic, uint64_t counter,
                       uint8_t out[crypto_onetimeauth_KEYBYTES])
{
  uint8_t nonce[crypto_stream_xchacha20_NONCEBYTES] = {0};
  memcpy(nonce, &nic, 8);
  memcpy(nonce + 8, &counter, 8);
  crypto_stream_xchacha20(out, crypto_onetimeauth_KEYBYTES, nonce, a->key);
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
  uint64_t counter = ++a->counter;
  uint8_t key[crypto_onetimeauth_KEYBYTES];
  packet_key(a, h->src_nic, counter, key);
  memcpy(pkt + len, &counter, 8);
  crypto_onetimeauth(pkt + len + 8, pkt, len, key);
  return len + WIRE_MAC_LEN;
}

int wireauth_open(const struct wire_auth *a, const uint8_t *pkt, size_t len, uint64_t *counter)
{
  struct wire_hdr h;
  if (len < sizeof(h))
    return -1;
  memcpy(&h, pkt, sizeof(h));
  size_t inner = sizeof(h) + h.len; /* the trailer follows the packet (a frame may be padded) */
  if (inner + WIRE_MAC_LEN > len)
    return -1;
  uint8_t key[crypto_onetimeauth_KEYBYTES];
  memcpy(counter, pkt + inner, 8);
  packet_key(a, h.src_nic, *counter, key);
  return crypto_onetimeauth_verify(pkt + inner + 8, pkt, inner, key) == 0 ? 0 : -1;
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
