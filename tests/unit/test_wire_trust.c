/*
 * test_wire_trust.c - what the engine believes of a packet: the cluster
 * key's MAC and replay window, keys on data from other hosts, and connect
 * replies from the host that was asked.  The engine runs in this process
 * (tests/fuzz/fuzz.h: a backend, guests whose memory is a sleeping child),
 * with a UDP port in a network namespace of the test's own; packets are
 * made here, as another host (or an attacker on the segment) would, and
 * handed to the engine's receive path.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "../../include/myriexpress.h"
#include "../../src/common/clock.h"
#include "../../src/engine/net_int.h"
#include "../fuzz/fuzz.h"
#include "../harness.h"

#define PEER 0x0000000be001ull
#define OTHER 0x0000000be002ull
#define KEY 0x77
#define EID 0

static struct backend be;
static struct wire_auth peer_auth;  /* what the peer seals with */
static uint32_t peer_seq[2];        /* PEER's and OTHER's position on their streams to us */

static void write_key(const char *path, const char *secret)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  CHECK(fd >= 0 && write(fd, secret, strlen(secret)) == (ssize_t)strlen(secret));
  close(fd);
}

/* An engine with a port (keyed when key_file is set), a guest with an
 * endpoint open, and a peer that seals with peer_key_file. */
static void up(struct fuzz_side *g, const char *key_file, const char *peer_key_file)
{
  char err[256];
  fuzz_private_net();
  be.cfg.eng.key_file = key_file;
  fuzz_backend_up(&be, "udp:127.0.0.1:2315");
  wireauth_free(&peer_auth);
  CHECK(wireauth_setup(&peer_auth, peer_key_file, err, sizeof(err)) == 0);
  peer_seq[0] = peer_seq[1] = 0;
  g->g = fuzz_guest(&be, DP_ENGINE, &g->peer);
  fuzz_side_open(&be, g, EID, KEY);
  CHECK(g->vif);
}

/* A reliable packet from nic, sealed by auth; its length. */
static size_t packet(uint8_t *buf, uint64_t nic, struct wire_auth *auth, uint8_t type,
                     const void *payload, uint16_t len)
{
  struct wire_hdr *h = (struct wire_hdr *)buf;
  memset(h, 0, sizeof(*h));
  h->magic = WIRE_MAGIC;
  h->version = WIRE_VERSION;
  h->type = type;
  h->len = len;
  h->flags = WIRE_F_RELIABLE;
  h->src_session = 7;
  h->seq = peer_seq[nic == OTHER]++;
  h->src_nic = nic;
  h->dst_nic = be.cfg.eng.nic_id;
  memcpy(buf + sizeof(*h), payload, len);
  return wireauth_seal(auth, buf, sizeof(*h) + len);
}

#define PEER_IP 0xc6120002u     /* 198.18.0.2: nowhere, in this namespace */
#define ATTACKER_IP 0xc6130606u /* 198.19.6.6 */

static struct port_addr addr_of(uint32_t ip)
{
  struct port_addr a = {0};
  struct sockaddr_in *sin = (struct sockaddr_in *)&a.ss;
  sin->sin_family = AF_INET;
  sin->sin_port = htons(2315);
  sin->sin_addr.s_addr = htonl(ip);
  a.sslen = sizeof(*sin);
  return a;
}

static void input_from(const uint8_t *pkt, size_t len, uint32_t ip)
{
  struct port_addr from = addr_of(ip);
  pthread_mutex_lock(&be.engine->lock);
  net_input(be.engine, 0, pkt, len, &from, clock_now_ns());
  pthread_mutex_unlock(&be.engine->lock);
  fuzz_rounds(&be, 2);
}

static void input(const uint8_t *pkt, size_t len) { input_from(pkt, len, PEER_IP); }

#define SRC_SESSION 7 /* the remote endpoint's incarnation that connects */

/* A small message from endpoint 3 of nic, in incarnation session. */
static size_t small_from(uint8_t *buf, uint64_t nic, struct wire_auth *auth, const char *text,
                         uint32_t session)
{
  uint8_t p[WIRE_DATA_OVERHEAD + 16] = {0};
  struct wire_desc d = {.type = MSG_SMALL, .len = 16, .total = 16, .match = 0x1234};
  struct wire_data_ext x = {.src_eid = 3, .dst_eid = EID, .piece_len = 16,
                            .src_session = session};
  memcpy(p, &d, sizeof(d));
  memcpy(p + WIRE_DATA_HDR, &x, sizeof(x));
  memcpy(p + WIRE_DATA_OVERHEAD, text, strnlen(text, 16));
  return packet(buf, nic, auth, WIRE_DATA, p, sizeof(p));
}

static size_t small(uint8_t *buf, uint64_t nic, struct wire_auth *auth, const char *text)
{
  return small_from(buf, nic, auth, text, SRC_SESSION);
}

static size_t connect_req(uint8_t *buf, uint32_t key)
{
  struct wire_connect c = {.req_id = 1, .src_eid = 3, .dst_eid = EID, .key = key,
                           .src_session = SRC_SESSION};
  return packet(buf, PEER, &peer_auth, WIRE_CONNECT, &c, sizeof(c));
}

/* Events waiting in the guest's ring, taken. */
static int events(struct fuzz_side *g)
{
  struct msg m;
  const uint8_t *eager;
  int n = 0;
  while (qcons_next(&g->rx, &m, &eager) > 0) {
    n += m.type == MSG_SMALL;
    qcons_advance(&g->rx, &m);
  }
  qcons_release(&g->rx);
  return n;
}

static uint64_t not_connected(void)
{
  struct engine_vif_info info;
  CHECK(engine_vif_get(be.engine, EID, &info) == 0);
  return info.c.drops[DROP_NOT_CONNECTED];
}

static int test_keyed_packets_are_checked_before_anything_counts(void)
{
  struct fuzz_side g = {0};
  struct wire_auth none = {0}, wrong;
  char err[256];
  uint8_t pkt[WIRE_MAX_PACKET], copy[WIRE_MAX_PACKET];
  write_key("/tmp/myrixen-test-key", "the cluster's secret, 32 bytes!!");
  write_key("/tmp/myrixen-test-key2", "somebody else's secret, 32 bytes");
  up(&g, "/tmp/myrixen-test-key", "/tmp/myrixen-test-key");
  CHECK(wireauth_setup(&wrong, "/tmp/myrixen-test-key2", err, sizeof(err)) == 0);
  struct net *n = net_of(be.engine);

  input(pkt, small(pkt, PEER, &none, "no mac"));
  CHECK(n->auth_bad == 1 && !peer_by_nic(n, PEER)); /* no peer learnt from it */
  input(pkt, small(pkt, PEER, &wrong, "another key"));
  CHECK(n->auth_bad == 2 && !peer_by_nic(n, PEER));
  peer_seq[0] = 0; /* what was refused never reached the stream */
  size_t len = connect_req(pkt, KEY);
  memcpy(copy, pkt, len);
  copy[60] ^= 1; /* a bit flipped on the way */
  input(copy, len);
  CHECK(n->auth_bad == 3 && !peer_by_nic(n, PEER));
  input(pkt, len); /* the same packet, as sent */
  CHECK(peer_by_nic(n, PEER) != NULL);
  input(pkt, len); /* and again: a replay */
  CHECK(n->replayed == 1);
  input(pkt, small(pkt, PEER, &peer_auth, "hello, keyed"));
  CHECK(events(&g) == 1 && n->replayed == 1 && n->auth_bad == 3);
  /* An engine without the key hears nothing of a keyed cluster. */
  fuzz_backend_down(&be);
  be.cfg.eng.key_file = NULL;
  fuzz_backend_up(&be, "udp:127.0.0.1:2315");
  n = net_of(be.engine);
  input(pkt, small(pkt, PEER, &peer_auth, "keyed"));
  CHECK(n->auth_unexpected == 1 && !peer_by_nic(n, PEER));
  fuzz_backend_down(&be);
  wireauth_free(&wrong);
  wireauth_free(&peer_auth);
  unlink("/tmp/myrixen-test-key");
  unlink("/tmp/myrixen-test-key2");
  return 0;
}

static int test_replay_window_keeps_order_and_refuses_the_old(void)
{
  struct wire_replay r = {0};
  uint64_t base = 1000000;
  CHECK(wireauth_replay(&r, base) == 0);
  CHECK(wireauth_replay(&r, base) < 0);
  CHECK(wireauth_replay(&r, base + 5) == 0);
  CHECK(wireauth_replay(&r, base + 3) == 0); /* late, inside the window: fine once */
  CHECK(wireauth_replay(&r, base + 3) < 0);
  CHECK(wireauth_replay(&r, base + 5 + WIRE_REPLAY) == 0);
  CHECK(wireauth_replay(&r, base + 5) < 0); /* fell out of the window: refused */
  CHECK(wireauth_replay(&r, base + 6 + 3) == 0); /* slots moved into are clear */
  return 0;
}

static int test_data_from_another_host_needs_a_connect_with_the_key(void)
{
  struct fuzz_side g = {0};
  uint8_t pkt[WIRE_MAX_PACKET];
  up(&g, NULL, NULL);
  input(pkt, small(pkt, PEER, &peer_auth, "uninvited"));
  CHECK(events(&g) == 0 && not_connected() == 1);
  input(pkt, connect_req(pkt, KEY + 1)); /* the wrong key */
  input(pkt, small(pkt, PEER, &peer_auth, "still uninvited"));
  CHECK(events(&g) == 0 && not_connected() == 2);
  input(pkt, connect_req(pkt, KEY));
  input(pkt, small(pkt, PEER, &peer_auth, "connected"));
  CHECK(events(&g) == 1 && not_connected() == 2);
  /* nor the next incarnation of that endpoint (closed and opened again
   * there, by whoever) */
  input(pkt, small_from(pkt, PEER, &peer_auth, "reopened", SRC_SESSION + 1));
  CHECK(events(&g) == 0 && not_connected() == 3);
  /* another host is not let in by that connect */
  input(pkt, small(pkt, OTHER, &peer_auth, "from elsewhere"));
  CHECK(events(&g) == 0 && not_connected() == 4);
  fuzz_backend_down(&be);
  return 0;
}

static int test_connect_replies_come_from_the_host_asked(void)
{
  struct fuzz_side g = {0};
  struct engine_completion c;
  uint8_t pkt[WIRE_MAX_PACKET];
  up(&g, NULL, NULL);
  /* both hosts known (they said something) */
  input(pkt, small(pkt, PEER, &peer_auth, "x"));
  input(pkt, small(pkt, OTHER, &peer_auth, "y"));
  CHECK(engine_connect_remote(be.engine, g.g->id, 42, EID, PEER, 3, KEY) == 0);
  uint32_t req_id = net_of(be.engine)->next_req_id;
  struct wire_connect_reply r = {.req_id = req_id, .status = MX_SUCCESS, .eid = 3,
                                 .ep_session = SRC_SESSION};
  input(pkt, packet(pkt, OTHER, &peer_auth, WIRE_CONNECT_REPLY, &r, sizeof(r)));
  CHECK(engine_completion_take(be.engine, &c) == 0); /* not from the host we asked */
  input(pkt, small(pkt, OTHER, &peer_auth, "z"));
  CHECK(events(&g) == 0); /* and that forged answer let nothing in */
  input(pkt, packet(pkt, PEER, &peer_auth, WIRE_CONNECT_REPLY, &r, sizeof(r)));
  CHECK(engine_completion_take(be.engine, &c) == 1 && c.seq == 42 && c.status == MX_SUCCESS);
  input(pkt, small(pkt, PEER, &peer_auth, "reply"));
  CHECK(events(&g) == 1); /* the host we connected to may answer */
  fuzz_backend_down(&be);
  return 0;
}

/* A host that restarts comes back with its endpoint ids free for anyone:
 * what the old owner of one was allowed is not the new owner's. */
static int test_a_restarted_host_connects_anew(void)
{
  struct fuzz_side g = {0};
  uint8_t pkt[WIRE_MAX_PACKET];
  up(&g, NULL, NULL);
  input(pkt, connect_req(pkt, KEY));
  input(pkt, small(pkt, PEER, &peer_auth, "connected"));
  CHECK(events(&g) == 1);
  peer_seq[0] = 0; /* its new incarnation's stream */
  size_t len = small(pkt, PEER, &peer_auth, "new owner");
  ((struct wire_hdr *)pkt)->src_session = 99;
  wire_seal((struct wire_hdr *)pkt, len);
  input(pkt, len);
  CHECK(peer_by_nic(net_of(be.engine), PEER)->failures == 1); /* it restarted: seen */
  CHECK(events(&g) == 0 && not_connected() == 1);
  fuzz_backend_down(&be);
  return 0;
}

static size_t hello(uint8_t *pkt, struct wire_auth *auth)
{
  struct wire_hdr *h = (struct wire_hdr *)pkt;
  memset(pkt, 0, sizeof(*h) + sizeof(struct wire_hello));
  h->magic = WIRE_MAGIC;
  h->version = WIRE_VERSION;
  h->type = WIRE_HELLO;
  h->len = sizeof(struct wire_hello);
  h->src_session = 1;
  h->src_nic = PEER;
  snprintf(((struct wire_hello *)(pkt + sizeof(*h)))->hostname, 64, "peerhost");
  return wireauth_seal(auth, pkt, sizeof(*h) + sizeof(struct wire_hello));
}

/* Keyed: a hello recorded and sent again from elsewhere takes the peer's
 * address only until the peer's next packet; a packet recorded before the
 * engine's window (a day ago) is refused. */
static int test_recorded_packets_steal_nothing(void)
{
  struct fuzz_side g = {0};
  uint8_t pkt[512];
  write_key("/tmp/myrixen-test-key", "the cluster's secret, 32 bytes!!");
  up(&g, "/tmp/myrixen-test-key", "/tmp/myrixen-test-key");
  struct net *n = net_of(be.engine);
  input_from(pkt, hello(pkt, &peer_auth), ATTACKER_IP); /* replayed by the attacker first */
  input_from(pkt, hello(pkt, &peer_auth), PEER_IP);     /* the peer's next hello */
  struct net_peer *p = peer_by_nic(n, PEER);
  struct port_addr real = addr_of(PEER_IP);
  CHECK(p && port_addr_equal(&n->ports[p->port], &p->addr, &real));
  fuzz_backend_down(&be);
  up(&g, "/tmp/myrixen-test-key", "/tmp/myrixen-test-key");
  n = net_of(be.engine);
  peer_auth.counter -= 86400ull * 1000000000ull; /* sealed yesterday */
  input(pkt, connect_req(pkt, KEY));
  CHECK(!peer_by_nic(n, PEER) && n->replayed == 1);
  fuzz_backend_down(&be);
  wireauth_free(&peer_auth);
  unlink("/tmp/myrixen-test-key");
  return 0;
}

/* A guest's close as its socket carries it: CTL_CLOSE and its last acks. */
static void close_with(struct fuzz_side *g, const struct ctl_lane_last_ack *a, uint32_t n)
{
  struct ctl_msg *m = calloc(1, sizeof(*m) + n * sizeof(*a));
  CHECK(m != NULL);
  ctl_init(m, CTL_CLOSE, 9);
  m->u.close.vif = (uint32_t)g->vif_idx;
  m->len = n * (uint32_t)sizeof(*a);
  memcpy(m->text, a, m->len);
  control_dispatch(&be, g->g, m);
  free(m);
  fuzz_drain(g->peer);
}

/* The last packet the engine put on its stream to p. */
static const struct wire_hdr *last_sent(const struct net_peer *p)
{
  return (const struct wire_hdr *)p->rel.win[(p->rel.snd_next - 1) % p->rel.send_window].buf;
}

/* MSG_PEER_GONE events waiting in the guest's ring, taken: how many, and
 * the last one's last ack (flagged: 1). */
static int gone_events(struct fuzz_side *g, int *flagged, uint64_t *ack)
{
  struct msg m;
  const uint8_t *eager;
  int n = 0;
  *flagged = 0;
  while (qcons_next(&g->rx, &m, &eager) > 0) {
    if (m.type == MSG_PEER_GONE) {
      n++;
      *flagged = !!(m.flags & MSG_F_LAST_ACK);
      *ack = m.cookie2;
    }
    qcons_advance(&g->rx, &m);
  }
  qcons_release(&g->rx);
  return n;
}

static void gone_from(uint8_t *pkt, uint32_t eid, uint32_t session, const struct wire_lane_last_ack *a,
                      uint32_t n)
{
  uint8_t payload[sizeof(struct wire_ep_gone) + 4 * sizeof(*a)];
  struct wire_ep_gone g = {.eid = eid, .session = session};
  CHECK(n <= 4);
  memcpy(payload, &g, sizeof(g));
  memcpy(payload + sizeof(g), a, n * sizeof(*a));
  input(pkt, packet(pkt, PEER, &peer_auth, WIRE_EP_GONE, payload,
                    (uint16_t)(sizeof(g) + n * sizeof(*a))));
}

/* A closing guest's last acks (docs/lanes.md) are its word: the engine
 * tells a host only those naming an endpoint there the closing one had a
 * pair with, in that incarnation, each once; the rest are counted.  The
 * receiving engine passes one on only to the endpoint it names, in its
 * incarnation, and a notice of no incarnation is malformed. */
static int test_a_close_tells_each_pairs_last_ack_once(void)
{
  struct fuzz_side g = {0};
  uint8_t pkt[WIRE_MAX_PACKET];
  up(&g, NULL, NULL);
  struct net *n = net_of(be.engine);
  input(pkt, connect_req(pkt, KEY)); /* PEER's endpoint 3 is a pair of ours */
  struct net_peer *p = peer_by_nic(n, PEER);
  CHECK(p != NULL);
  const struct ctl_lane_last_ack told = {.nic = PEER, .eid = 3, .session = SRC_SESSION, .ack = 42};
  const struct ctl_lane_last_ack a[] = {
      told, told, told,                                          /* the same, thrice */
      {.nic = PEER, .eid = 3, .session = 0, .ack = 1},           /* of no incarnation */
      {.nic = PEER, .eid = 3, .session = SRC_SESSION + 1, .ack = 2}, /* another one */
      {.nic = PEER, .eid = 9, .session = SRC_SESSION, .ack = 3}, /* no pair */
      {.nic = OTHER, .eid = 3, .session = SRC_SESSION, .ack = 4}, /* no pair there */
  };
  close_with(&g, a, sizeof(a) / sizeof(a[0]));
  const struct wire_hdr *h = last_sent(p);
  struct wire_lane_last_ack w;
  CHECK(h->type == WIRE_EP_GONE && h->len == sizeof(struct wire_ep_gone) + sizeof(w));
  memcpy(&w, (const uint8_t *)(h + 1) + sizeof(struct wire_ep_gone), sizeof(w));
  CHECK(w.eid == 3 && w.session == SRC_SESSION && w.ack == 42);
  CHECK(n->last_acks_tx == 1 && n->last_acks_refused == 6);

  /* the other way: PEER's endpoint 3 closed */
  fuzz_side_open(&be, &g, EID, KEY);
  input(pkt, connect_req(pkt, KEY));
  struct engine_vif_info info;
  CHECK(engine_vif_get(be.engine, EID, &info) == 0 && info.session != 0);
  int flagged;
  uint64_t ack = 0, bad = n->malformed;
  struct wire_lane_last_ack ours = {.eid = EID, .session = info.session, .ack = 77};
  gone_from(pkt, 3, 0, &ours, 1); /* of no incarnation: would match every one */
  CHECK(n->malformed == bad + 1 && gone_events(&g, &flagged, &ack) == 0);
  struct wire_lane_last_ack others[] = {{.eid = EID + 1, .session = info.session, .ack = 5},
                                        {.eid = EID, .session = info.session + 1, .ack = 6}};
  gone_from(pkt, 3, SRC_SESSION, others, 2); /* naming another endpoint, another incarnation */
  CHECK(gone_events(&g, &flagged, &ack) == 1 && !flagged);
  fuzz_side_open(&be, &g, EID, KEY);
  input(pkt, connect_req(pkt, KEY));
  CHECK(engine_vif_get(be.engine, EID, &info) == 0);
  ours.session = info.session;
  gone_from(pkt, 3, SRC_SESSION, &ours, 1);
  CHECK(gone_events(&g, &flagged, &ack) == 1 && flagged && ack == 77 && n->last_acks_rx == 1);
  fuzz_backend_down(&be);
  return 0;
}

static const struct harness_test tests[] = {
    {"a_restarted_host_connects_anew", test_a_restarted_host_connects_anew},
    {"recorded_packets_steal_nothing", test_recorded_packets_steal_nothing},
    {"keyed_packets_are_checked_before_anything_counts",
     test_keyed_packets_are_checked_before_anything_counts},
    {"replay_window_keeps_order_and_refuses_the_old",
     test_replay_window_keeps_order_and_refuses_the_old},
    {"data_from_another_host_needs_a_connect_with_the_key",
     test_data_from_another_host_needs_a_connect_with_the_key},
    {"connect_replies_come_from_the_host_asked", test_connect_replies_come_from_the_host_asked},
    {"a_close_tells_each_pairs_last_ack_once", test_a_close_tells_each_pairs_last_ack_once},
    {NULL, NULL},
};

int main(int argc, char **argv) { return harness_main(argc, argv, tests); }
