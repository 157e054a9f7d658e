/*
 * fuzz_wire.c - libFuzzer target: packets from the network, into the
 * engine's real receive path (net_input: framing, checksum, peers and
 * sessions, the reliable stream, connects, data, pulls, notices), beside
 * a local guest whose endpoint sends, grants and pulls.
 *
 * The engine has a UDP port on loopback, in a network namespace of the
 * fuzzer's own: what it answers goes nowhere.  The input's first byte
 * says whether the cluster has a key (bit 0: then the engine checks every
 * packet's MAC and replay window, and the harness seals with that key).
 * The rest is a series of steps [op][len:2][bytes]:
 *   0 a packet exactly as given
 *   1 a packet from one of two fuzzed peers: the harness sets magic,
 *     version, length, nics and a non-zero session, then the checksum, so
 *     that the fuzzer reaches what lies past them
 *   2 engine rounds (timers: retransmits, give-ups)
 *   3 the guest pushes a request to a fuzzed peer's endpoint
 *   4 the guest writes a grant entry
 *   5 the guest takes its events
 * The engine must count and drop what is wrong and stay whole.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/common/clock.h"
#include "../../src/common/wire.h"
#include "../../src/engine/net_int.h"
#include "../../src/port/port.h"
#include "fuzz.h"

#define PEER_NIC 0x00000000be00ull

#define KEY_FILE "/tmp/myrixen-fuzz-wire.key"

static struct backend be;
static struct wire_auth sealer; /* the other hosts' key, when the cluster has one */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  fuzz_private_net();
  int fd = open(KEY_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || write(fd, "the fuzzed cluster's own secret!", 32) != 32)
    abort();
  close(fd);
  return 0;
}

static void packet(const uint8_t *bytes, size_t len, int fix)
{
  static _Alignas(8) uint8_t pkt[WIRE_MAX_PACKET + 64];
  if (len > WIRE_MAX_PACKET - WIRE_MAC_LEN)
    len = WIRE_MAX_PACKET - WIRE_MAC_LEN;
  memcpy(pkt, bytes, len);
  if (fix) {
    if (len < sizeof(struct wire_hdr))
      len = sizeof(struct wire_hdr);
    struct wire_hdr *h = (struct wire_hdr *)pkt;
    uint8_t which = bytes[0] & 1;
    h->magic = WIRE_MAGIC;
    h->version = WIRE_VERSION;
    h->type = (uint8_t)(h->type % WIRE_TYPE_MAX);
    h->len = (uint16_t)(len - sizeof(*h));
    h->src_nic = PEER_NIC + which;
    if (h->type != WIRE_HELLO || h->dst_nic)
      h->dst_nic = be.cfg.eng.nic_id;
    h->src_session = h->src_session % 3 + 1; /* a few incarnations */
    h->flags &= (uint16_t)~WIRE_F_MAC;
    len = wireauth_seal(&sealer, pkt, len);
  }
  struct port_addr from = {0};
  struct sockaddr_in *sin = (struct sockaddr_in *)&from.ss;
  sin->sin_family = AF_INET;
  sin->sin_port = htons(2315);
  sin->sin_addr.s_addr = htonl(0xc6120002 + (bytes[0] & 1)); /* 198.18.0.2-3 */
  from.sslen = sizeof(*sin);
  pthread_mutex_lock(&be.engine->lock);
  net_input(be.engine, 0, pkt, len, &from, clock_now_ns());
  pthread_mutex_unlock(&be.engine->lock);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct fuzz_input in = {data, size};
  struct fuzz_side a = {0};
  char err[256];
  int keyed = fuzz_byte(&in) & 1;
  be.cfg.eng.key_file = keyed ? KEY_FILE : NULL;
  if (wireauth_setup(&sealer, be.cfg.eng.key_file, err, sizeof(err)) < 0)
    abort();
  fuzz_backend_up(&be, "udp:127.0.0.1:2315");
  a.g = fuzz_guest(&be, DP_ENGINE, &a.peer);
  fuzz_side_open(&be, &a, 0, 0x77);
  static uint8_t buf[WIRE_MAX_PACKET + 64];
  while (in.n) {
    struct fuzz_input step;
    uint8_t op = fuzz_step(&in, &step) % 6;
    switch (op) {
    case 0:
    case 1: {
      size_t k = fuzz_take(&step, buf, sizeof(buf));
      if (k)
        packet(buf, k, op == 1);
      break;
    }
    case 2: fuzz_rounds(&be, 3); break;
    case 3: fuzz_side_push(&a, &step, PEER_NIC + (step.n && step.p[0] & 2 ? 1 : 0), 0); break;
    case 4: fuzz_side_grant(&a, &step); break;
    case 5: fuzz_side_events(&a); break;
    }
  }
  fuzz_rounds(&be, 2);
  fuzz_backend_down(&be);
  wireauth_free(&sealer);
  close(a.peer);
  return 0;
}
