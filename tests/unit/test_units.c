/* test_units.c - rings (wrap-around, suppression, full/empty), matching
 * (masks, wildcards, order), segment lists, a VM grant's physical runs. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../src/common/crc32c.h"
#include "../../src/common/fault.h"
#include "../../src/common/iov.h"
#include "../../src/common/queue.h"
#include "../../src/lib/base.h"
#include "../harness.h"

/* A queue with indices starting at start, and a producer and consumer on it. */
static struct queue *ring_fixture(uint32_t start, struct qprod *p, struct qcons *c)
{
  static struct queue q;
  memset(&q, 0, sizeof(q));
  atomic_store(&q.ring.p.prod, start);
  atomic_store(&q.ring.c.cons, start);
  qprod_init(p, &q);
  qcons_init(c, &q);
  return &q;
}

static int test_ring_indices_wrap_around(void)
{
  struct qprod p;
  struct qcons c;
  struct msg m;
  const uint8_t *e;
  uint32_t slots, eslots;
  /* start just below 2^32 so the free-running indices wrap */
  ring_fixture(0xfffffff0u, &p, &c);
  for (uint32_t i = 0; i < 1000; i++) {
    CHECK(qprod_space(&p, &slots, &eslots) == 0 && slots == QUEUE_SLOTS);
    struct msg *s = qprod_slot(&p);
    memset(s, 0, sizeof(*s));
    s->type = MSG_SMALL;
    s->seq = i;
    qprod_commit(&p, 0);
    qprod_flush(&p);
    CHECK(qcons_next(&c, &m, &e) == 1 && m.seq == i);
    qcons_advance(&c, &m);
    qcons_release(&c);
    CHECK(qcons_next(&c, &m, &e) == 0);
  }
  return 0;
}

static int test_ring_full_and_empty(void)
{
  struct qprod p;
  struct qcons c;
  struct msg m;
  const uint8_t *e;
  uint32_t slots, eslots;
  struct queue *q = ring_fixture(0, &p, &c);
  CHECK(qcons_next(&c, &m, &e) == 0);
  for (int i = 0; i < QUEUE_SLOTS; i++) {
    qprod_slot(&p)->type = MSG_SMALL;
    qprod_commit(&p, 0);
  }
  qprod_flush(&p);
  CHECK(qprod_space(&p, &slots, &eslots) == 0 && slots == 0);
  /* a consumer index beyond the producer is a protocol violation */
  atomic_store(&q->ring.c.cons, p.prod + 5);
  CHECK(qprod_space(&p, &slots, &eslots) == -EPROTO);
  /* a consumer takes the whole ring by the tags, and then finds nothing */
  for (int i = 0; i < QUEUE_SLOTS; i++) {
    CHECK(qcons_next(&c, &m, &e) == 1 && m.type == MSG_SMALL);
    qcons_advance(&c, &m);
  }
  CHECK(qcons_next(&c, &m, &e) == 0);
  atomic_store(&q->ring.p.prod, c.cons + 1000); /* producer claims more than the ring holds */
  CHECK(qcons_next(&c, &m, &e) == 0);
  CHECK(qcons_arm(&c) == -EPROTO); /* found before any sleep */
  return 0;
}

/* A slot is ready by its tag: seen before prod is published, never from a
 * stale lap or a zeroed slot, and a published prod with no tag behind it
 * is the producer breaking the protocol. */
static int test_ring_slot_tags(void)
{
  struct qprod p;
  struct qcons c;
  struct msg m;
  const uint8_t *e;
  struct queue *q = ring_fixture(0, &p, &c);
  CHECK(QUEUE_TAG(0) != 0 && QUEUE_TAG(0) != QUEUE_TAG(QUEUE_SLOTS));
  CHECK(QUEUE_TAG(0xffffffffu) != QUEUE_TAG(0xffffffffu + QUEUE_SLOTS));
  struct msg in = {.type = MSG_SMALL, .len = 100, .total = 100, .match = 42};
  for (int i = 0; i < 100; i++)
    in.data[i] = (uint8_t)i;
  qprod_put(&p, &in);
  qprod_commit(&p, 0); /* tagged, not flushed */
  CHECK(atomic_load(&q->ring.p.prod) == 0);
  CHECK(qcons_next(&c, &m, &e) == 1 && m.match == 42 && m.len == 100);
  for (int i = 0; i < 100; i++)
    CHECK(m.data[i] == i); /* the line's 16 bytes and the rest */
  qcons_advance(&c, &m);
  CHECK(qcons_next(&c, &m, &e) == 0); /* prod lags behind cons: not a violation */
  CHECK(qcons_arm(&c) == 0);
  qprod_flush(&p);
  /* a slot of the last lap (or garbage) published as new */
  q->slot[1].tag = QUEUE_TAG(1) ^ 1;
  q->slot[1].type = MSG_SMALL;
  atomic_store(&q->ring.p.prod, 2);
  CHECK(qcons_next(&c, &m, &e) == 0);
  CHECK(qcons_arm(&c) == -EPROTO);
  /* a long message keeps the bytes past its inline bound out of the copy */
  ring_fixture(0, &p, &c);
  memset(&in, 0, sizeof(in));
  in.type = MSG_SMALL;
  in.len = 100000;
  qprod_put(&p, &in);
  qprod_commit(&p, 0);
  CHECK(qcons_next(&c, &m, &e) == 1 && m.len == 100000 && !msg_data_valid(&m, 0));
  return 0;
}

static int test_ring_notification_suppression(void)
{
  struct qprod p;
  struct qcons c;
  struct msg m;
  const uint8_t *e;
  struct queue *q = ring_fixture(0, &p, &c);
  ring_disarm_data_event(&q->ring, c.cons);
  qprod_commit(&p, 0);
  CHECK(!qprod_flush(&p)); /* consumer busy polling: no kick */
  CHECK(qcons_next(&c, &m, &e) == 1);
  qcons_advance(&c, &m);
  CHECK(qcons_arm(&c) == 0); /* nothing pending: may sleep */
  qprod_commit(&p, 0);
  CHECK(qprod_flush(&p)); /* consumer asleep: kick exactly once */
  qprod_commit(&p, 0);
  CHECK(!qprod_flush(&p)); /* already kicked for this event */
  CHECK(qcons_arm(&c) == 1); /* arming with pending work says so */
  return 0;
}

static int test_match_masks_and_order(void)
{
  struct req a = {.match = 0x12, .mask = 0xff}, b = {.match = 0, .mask = 0}, c = {.match = 0x12, .mask = 0xff};
  struct req_list l = {0};
  CHECK(match_accepts(0xab12, 0x12, 0xff));
  CHECK(!match_accepts(0xab13, 0x12, 0xff));
  CHECK(match_accepts(12345, 0, 0)); /* wildcard */
  reqlist_push(&l, &a);
  reqlist_push(&l, &b);
  reqlist_push(&l, &c);
  CHECK(match_find(&l, 0x5512, NULL) == &a); /* first posted wins */
  CHECK(match_find(&l, 0x5513, NULL) == &b);
  reqlist_remove(&l, &a);
  CHECK(match_find(&l, 0x5512, NULL) == &b);
  reqlist_remove(&l, &b);
  CHECK(match_find(&l, 0x5512, NULL) == &c);
  CHECK(match_find(&l, 0x13, NULL) == NULL);
  /* a receive from one source (mx_irecv_from) takes only its messages */
  struct conn p1 = {0}, p2 = {0};
  struct req d = {.match = 0, .mask = 0, .from = &p1};
  reqlist_push(&l, &d);
  CHECK(match_find(&l, 0x13, &p2) == NULL);
  CHECK(match_find(&l, 0x13, &p1) == &d);
  CHECK(match_find(&l, 0x5512, &p1) == &c); /* still in posting order */
  /* unexpected side: the oldest message a receive accepts */
  struct req u1 = {.match = 7, .conn = &p1}, u2 = {.match = 8, .conn = &p2};
  struct req_list ul = {0};
  reqlist_push(&ul, &u1);
  reqlist_push(&ul, &u2);
  CHECK(match_find_unexp(&ul, 8, ~0ull, NULL) == &u2);
  CHECK(match_find_unexp(&ul, 0, 0, NULL) == &u1);
  CHECK(match_find_unexp(&ul, 0, 0, &p2) == &u2);
  CHECK(match_find_unexp(&ul, 7, ~0ull, &p2) == NULL);
  return 0;
}

static int test_segment_scatter_gather(void)
{
  char a[3], b[0 + 1], c[10], src[14], out[14];
  struct iovec s[3] = {{a, 3}, {b, 1}, {c, 10}};
  for (int i = 0; i < 14; i++)
    src[i] = (char)('a' + i);
  CHECK(iov_total(s, 3) == 14);
  seg_scatter(s, 3, 0, src, 14);
  CHECK(!memcmp(a, "abc", 3) && b[0] == 'd' && !memcmp(c, "efghijklmn", 10));
  seg_gather(s, 3, 2, out, 5);
  CHECK(!memcmp(out, "cdefg", 5));
  memset(c, 0, 10);
  seg_scatter(s, 3, 12, "XY", 2);
  CHECK(c[8] == 'X' && c[9] == 'Y' && c[7] == 0);
  return 0;
}

/* The bit-by-bit definition, against which the fast paths are held. */
static uint32_t crc32c_bitwise(const uint8_t *p, size_t len)
{
  uint32_t c = ~0u;
  while (len--) {
    c ^= *p++;
    for (int k = 0; k < 8; k++)
      c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
  }
  return ~c;
}

/* A VM's grant names the guest-physical runs under a buffer (vmdev.c).
 * A process reads its own /proc/self/pagemap the same way (as root: the
 * tests run as root), so the translation is checked here, page by page,
 * against the pagemap read independently. */
static uint64_t frame_of(int pagemap, const void *p)
{
  uint64_t ent = 0;
  CHECK(pread(pagemap, &ent, sizeof(ent), (off_t)((uintptr_t)p / 4096 * 8)) == sizeof(ent));
  return ent & ((1ull << 55) - 1);
}

static int test_physical_runs_cover_a_buffer(void)
{
  enum { PAGES = 64, OFF = 123, LEN = PAGES * 4096 + 100 };
  uint8_t *area = aligned_alloc(4096, (PAGES + 2) * 4096);
  CHECK(area);
  uint8_t *buf = area + OFF;
  struct iovec runs[PAGES + 2];
  int n = vmdev_phys_runs(buf, LEN, 1, runs, PAGES + 2);
  CHECK(n >= 1 && n <= PAGES + 1);
  int pagemap = open("/proc/self/pagemap", O_RDONLY);
  CHECK(pagemap >= 0);
  /* every byte where its page's frame says, in order, nothing more */
  uint64_t at = 0;
  for (int r = 0; r < n; r++) {
    uint64_t phys = (uint64_t)(uintptr_t)runs[r].iov_base;
    for (uint64_t k = 0; k < runs[r].iov_len;) {
      const uint8_t *v = buf + at + k;
      CHECK(frame_of(pagemap, v) * 4096 + (uintptr_t)v % 4096 == phys + k);
      k += 4096 - (uintptr_t)v % 4096; /* the next page's first byte */
    }
    /* runs merge what is contiguous: the next one starts elsewhere */
    if (r + 1 < n)
      CHECK((uint64_t)(uintptr_t)runs[r + 1].iov_base != phys + runs[r].iov_len);
    at += runs[r].iov_len;
  }
  CHECK(at == LEN);
  /* too many runs for the room given: refused, not cut short */
  if (n > 1)
    CHECK(vmdev_phys_runs(buf, LEN, 0, runs, n - 1) < 0 && errno == ENOSPC);
  CHECK(vmdev_phys_runs(buf, 0, 0, runs, 1) == 0);
  close(pagemap);
  munlock(area, (PAGES + 2) * 4096);
  free(area);
  return 0;
}

static int test_crc32c(void)
{
  CHECK(crc32c(0, "123456789", 9) == 0xe3069283u); /* the check value of CRC-32C */
  static uint8_t buf[4099 + 64];
  uint32_t x = 12345;
  for (size_t i = 0; i < sizeof(buf); i++)
    buf[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 16);
  /* Every way this CPU has (the table always; the SSE4.2 instruction's
   * interleaved blocks, 3 x 448 and 3 x 64 bytes; the folds of 256, 64
   * and 16 bytes), at every length around their blocks and odd starts;
   * and a CPU without them is still held to the bit-by-bit definition. */
  int ways = 0;
  for (enum crc32c_impl w = CRC32C_TABLE; w <= CRC32C_FOLD; w++) {
    if (!crc32c_has(w))
      continue;
    ways++;
    for (size_t len = 0; len < 4099; len += len < 1400 ? 1 : 97)
      for (size_t off = 0; off < 3; off++)
        CHECK(crc32c_by(w, 0, buf + off, len) == crc32c_bitwise(buf + off, len));
    for (size_t off = 0; off < 64; off++) /* every alignment of a 512-bit load */
      CHECK(crc32c_by(w, 0, buf + off, 1500) == crc32c_bitwise(buf + off, 1500));
    /* extending a crc equals the crc of the whole (the register carried
     * in: folded into the first bytes by the fold) */
    for (size_t cut = 0; cut <= 1500; cut += 37)
      CHECK(crc32c_by(w, crc32c_by(w, 0, buf, cut), buf + cut, 1500 - cut) ==
            crc32c(0, buf, 1500));
  }
  CHECK(ways >= 1 && crc32c_by(CRC32C_TABLE, 0, buf, 777) == crc32c(0, buf, 777));
  return 0;
}

/* What the fault layer sent below it (fault_pass's and fault_send's xmit). */
static uint32_t fault_sent, fault_sent_len;
static int count_xmit(void *ctx, const void *to, size_t tolen, const void *pkt, size_t len,
                      int flags)
{
  (void)ctx, (void)to, (void)tolen, (void)pkt, (void)flags;
  fault_sent++;
  fault_sent_len = (uint32_t)len;
  return 0;
}

/* fault_pass leaves a batching caller what goes once, unharmed and at
 * once, and does the rest itself, counted: lost, corrupted (its copy
 * sent), duplicated (both copies sent), held (sent when due). */
static int test_fault_pass_leaves_the_batch_what_is_unharmed(void)
{
  static const struct {
    const char *spec;
    int passed;
    uint32_t sent;
  } cases[] = {
      {"seed=1", 1, 0},         {"loss=1,seed=1", 0, 0}, {"corrupt=1,seed=1", 0, 1},
      {"dup=1,seed=1", 0, 2},   {"reorder=1,seed=1", 0, 0},
  };
  uint8_t pkt[100] = {1, 2, 3};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct fault_cfg cfg;
    struct fault f = {0};
    char err[64];
    CHECK(fault_parse(&cfg, cases[i].spec, err, sizeof(err)) == 0);
    CHECK(fault_setup(&f, &cfg, 8) == 0);
    fault_sent = 0;
    CHECK(fault_pass(&f, count_xmit, NULL, "to", 2, pkt, sizeof(pkt), 1000) == cases[i].passed);
    CHECK(fault_sent == cases[i].sent);
    CHECK(f.c.lost == (i == 1) && f.c.corrupted == (i == 2) && f.c.duplicated == (i == 3) &&
          f.c.reordered == (i == 4) && f.nheld == (i == 4));
    if (i == 4) { /* the held one goes when due, once */
      CHECK(fault_flush(&f, count_xmit, NULL, UINT64_MAX) == 1 && fault_sent == 1 &&
            fault_sent_len == sizeof(pkt));
    }
    fault_free(&f);
  }
  return 0;
}

static const struct harness_test tests[] = {
    {"crc32c", test_crc32c},
    {"fault_pass_leaves_the_batch_what_is_unharmed", test_fault_pass_leaves_the_batch_what_is_unharmed},
    {"physical_runs_cover_a_buffer", test_physical_runs_cover_a_buffer},
    {"ring_indices_wrap_around", test_ring_indices_wrap_around},
    {"ring_full_and_empty", test_ring_full_and_empty},
    {"ring_slot_tags", test_ring_slot_tags},
    {"ring_notification_suppression", test_ring_notification_suppression},
    {"match_masks_and_order", test_match_masks_and_order},
    {"segment_scatter_gather", test_segment_scatter_gather},
    {NULL, NULL},
};

int main(int argc, char **argv) { return harness_main(argc, argv, tests); }
