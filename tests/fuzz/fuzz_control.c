/*
 * fuzz_control.c - libFuzzer target: control messages, on the socket and
 * through the mailbox, into the real handlers (control_receive,
 * mailbox_serve, control_dispatch).
 *
 * Two guests are admitted honestly first; the input is then a series of
 * steps, each [op][len:2][bytes]:
 *   op % 6 == 0, 1: a datagram of len bytes on guest A's or B's socket
 *   op % 6 == 2, 3: a mailbox request of A or B (its 152 bytes, zero-padded)
 *   op % 6 == 4:    engine and netback rounds (what a request set going)
 *   op % 6 == 5:    A hangs up
 * The backend must answer or refuse each, and stay whole (ASan, UBSan).
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"

static struct backend be;

static void socket_step(struct be_guest **g, int *peer, const uint8_t *bytes, size_t len)
{
  if (!*g)
    return;
  if (send(*peer, bytes, len, MSG_DONTWAIT) < 0)
    return; /* too large for a datagram: the kernel refused it, not us */
  if (control_receive(&be, *g) < 0) {
    guest_reclaim(&be, *g);
    close(*peer);
    *g = NULL;
    return;
  }
  fuzz_drain(*peer);
}

static void mailbox_step(struct be_guest *g, const uint8_t *bytes, size_t len)
{
  if (!g || !g->region)
    return;
  struct mailbox *mb = region_mailbox(g->region);
  size_t k = len < sizeof(mb->req) ? len : sizeof(mb->req);
  memset(mb->req, 0, sizeof(mb->req));
  memcpy(mb->req, bytes, k);
  atomic_fetch_add(&mb->req_seq, 1);
  mailbox_serve(&be, g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct fuzz_input in = {data, size};
  int peer[2];
  fuzz_backend_up(&be, NULL);
  struct be_guest *g[2];
  g[0] = fuzz_guest(&be, fuzz_byte(&in), &peer[0]);
  g[1] = fuzz_guest(&be, DP_ENGINE, &peer[1]);
  static uint8_t buf[sizeof(struct ctl_msg) + CTL_TEXT_MAX + 64];
  while (in.n) {
    uint8_t op = fuzz_byte(&in) % 6;
    size_t len = fuzz_u16(&in) % sizeof(buf);
    len = fuzz_take(&in, buf, len);
    switch (op) {
    case 0:
    case 1: socket_step(&g[op], &peer[op], buf, len); break;
    case 2:
    case 3: mailbox_step(g[op - 2], buf, len); break;
    case 4: fuzz_rounds(&be, 4); break;
    case 5:
      if (g[0]) {
        close(peer[0]);
        if (control_receive(&be, g[0]) < 0) /* as the loop sees a hang-up */
          guest_reclaim(&be, g[0]);
        g[0] = NULL;
      }
      break;
    }
  }
  fuzz_rounds(&be, 2);
  fuzz_backend_down(&be);
  for (int i = 0; i < 2; i++)
    if (g[i])
      close(peer[i]);
  return 0;
}
