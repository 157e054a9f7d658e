/*
 * fuzz_ring.c - libFuzzer target: what a guest writes in its VIF, its
 * request ring and grants, read by the real engine and netback rounds.
 *
 * Guest A (datapath from the first byte: any, copy ones included) and
 * guest B (engine) each open an endpoint and connect to the other.  Both
 * may be hostile.  The input is a series of steps [op][len:2][bytes]:
 *   0 A writes bytes anywhere in its VIF (offset: the first two bytes)
 *   1 A pushes a request through its ring as a library would (fields fuzzed)
 *   2 A writes a grant entry; its address may point into a buffer that
 *     lives in the guest's memory (the sleeping child: see fuzz.h)
 *   3 engine and netback rounds
 *   4 B takes every event in its event ring
 *   5 B pushes a request (to A, so that A's pulls have something to name)
 *   6 B writes a grant entry
 *   7 A closes its endpoint and opens it again (what was queued is stale)
 * The engine must refuse what is wrong, fail only the guilty VIF, and
 * stay whole (ASan, UBSan, LeakSanitizer at exit).
 */
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

#define EID_A 0
#define EID_B 1
#define KEY_A 0x1111
#define KEY_B 0x2222

static struct backend be;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct fuzz_input in = {data, size};
  struct fuzz_side a = {0}, b = {0};
  fuzz_backend_up(&be, NULL);
  a.g = fuzz_guest(&be, fuzz_byte(&in), &a.peer);
  b.g = fuzz_guest(&be, DP_ENGINE, &b.peer);
  fuzz_side_open(&be, &a, EID_A, KEY_A);
  fuzz_side_open(&be, &b, EID_B, KEY_B);
  fuzz_connect(&be, a.g, (uint32_t)a.vif_idx, EID_B, KEY_B);
  fuzz_connect(&be, b.g, (uint32_t)b.vif_idx, EID_A, KEY_A);
  static uint8_t buf[sizeof(struct vif)];
  while (in.n) {
    struct fuzz_input step;
    uint8_t op = fuzz_step(&in, &step) % 8;
    switch (op) {
    case 0: fuzz_side_scribble(&a, buf, fuzz_take(&step, buf, sizeof(buf))); break;
    case 1: fuzz_side_push(&a, &step, be.cfg.eng.nic_id, EID_B); break;
    case 2: fuzz_side_grant(&a, &step); break;
    case 3: fuzz_rounds(&be, 3); break;
    case 4: fuzz_side_events(&b); break;
    case 5: fuzz_side_push(&b, &step, be.cfg.eng.nic_id, EID_A); break;
    case 6: fuzz_side_grant(&b, &step); break;
    case 7: {
      struct ctl_msg m;
      ctl_init(&m, CTL_CLOSE, 9);
      m.u.close.vif = (uint32_t)a.vif_idx;
      control_dispatch(&be, a.g, &m);
      fuzz_side_open(&be, &a, EID_A, KEY_A);
      break;
    }
    }
  }
  fuzz_rounds(&be, 3);
  fuzz_side_events(&a);
  fuzz_side_events(&b);
  fuzz_rounds(&be, 3);
  fuzz_backend_down(&be);
  close(a.peer);
  close(b.peer);
  return 0;
}
