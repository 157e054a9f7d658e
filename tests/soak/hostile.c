/*
 * hostile.c - a hostile guest for the soak (tests/scripts/soak.sh): for
 * the given seconds, against the backend at MYRIXEN_SOCKET, it writes what
 * it likes into its own request ring and grant table (through the
 * library's internals), pulls grants it was never given, sends to
 * endpoints it never connected to, sends malformed and foreign control
 * messages, scribbles over its control mailbox, and comes and goes.  It checks nothing: the soak checks that
 * the honest guests beside it lose, duplicate and corrupt nothing, and
 * that the backend lives with flat memory.
 *   hostile SECONDS SEED
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../src/common/ctl.h"
#include "../../src/lib/base.h" /* (and lib.h: the library's state) */
#include "../../src/lib/txq.h"

static uint64_t rng;

static uint64_t rnd(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void raw_post(mx_endpoint_t ep, const struct msg *m)
{
  pthread_mutex_lock(&ep->lock);
  txq_send_ctl(ep, &ep->etx, m);
  pthread_mutex_unlock(&ep->lock);
}

/* One misdeed. */
static void misdeed(mx_endpoint_t ep, uint64_t nic, char *buf)
{
  struct msg m = {0};
  uint32_t eid = (uint32_t)(rnd() % 64);
  switch (rnd() % 7) {
  case 6: { /* garbage in the control mailbox, and a spare kick (a VM cannot kick: polled) */
    struct mailbox *mb = lib.mbox;
    if (!mb)
      return;
    pthread_mutex_lock(&lib.ctl_lock);
    for (size_t i = 0; i < sizeof(mb->req); i++)
      mb->req[i] = (uint8_t)rnd();
    atomic_store(&mb->req_seq, (uint32_t)rnd());
    if (lib.mbox_kick >= 0) {
      uint64_t one = 1;
      if (write(lib.mbox_kick, &one, sizeof(one)) < 0) {
        /* saturated: the backend is being kicked anyway */
      }
    }
    pthread_mutex_unlock(&lib.ctl_lock);
    return;
  }
  case 0: /* a pull of somebody's grant, guessed */
    ep->vif->grants[200] = (struct grant){.addr = (uint64_t)(uintptr_t)buf, .len = 65536,
                                          .gen = 3, .nseg = 1, .flags = GRANT_WRITE};
    m = (struct msg){.type = MSG_PULL, .peer_eid = eid, .peer_nic = nic, .total = 65536,
                     .grant = GRANT_REF(rnd() % 8, rnd() % 4), .grant2 = GRANT_REF(200, 3)};
    break;
  case 1: /* data to an endpoint never connected to */
    m = (struct msg){.type = MSG_SMALL, .peer_eid = eid, .peer_nic = nic, .len = 8,
                     .total = 8, .match = rnd()};
    break;
  case 2: /* forged completions */
    m = (struct msg){.type = (uint8_t)(MSG_SYNC_ACK + rnd() % 3), .peer_eid = eid,
                     .peer_nic = nic, .cookie = rnd(), .cookie2 = rnd()};
    break;
  case 3: /* garbage: the VIF fails, we open another */
    for (size_t i = 0; i < sizeof(m); i++)
      ((uint8_t *)&m)[i] = (uint8_t)rnd();
    break;
  case 4: { /* a foreign control message */
    struct ctl_msg req, rep;
    ctl_init(&req, (enum ctl_type)(rnd() % 14), 0);
    for (size_t i = 0; i < sizeof(req.u.raw); i++)
      req.u.raw[i] = (uint8_t)rnd();
    if (req.type == CTL_HELLO || req.type == CTL_OPEN)
      req.type = CTL_VIF_SET; /* throttling someone else's endpoint */
    ctl_call(&req, &rep, NULL, NULL, NULL);
    return;
  }
  default: /* a grant table scribbled over */
    for (int i = 0; i < 8; i++)
      ep->vif->grants[rnd() % REGION_GRANTS] =
          (struct grant){.addr = rnd(), .len = rnd(), .gen = (uint16_t)rnd(), .nseg = 1,
                         .flags = (uint32_t)rnd()};
    return;
  }
  raw_post(ep, &m);
}

int main(int argc, char **argv)
{
  if (argc != 3) {
    fprintf(stderr, "usage: hostile SECONDS SEED\n");
    return 2;
  }
  time_t end = time(NULL) + atoi(argv[1]);
  rng = strtoull(argv[2], NULL, 10) * 2654435761u + 1;
  static char buf[65536];
  long deeds = 0;
  mx_set_error_handler(MX_ERRORS_RETURN);
  while (time(NULL) < end) {
    if (mx_init() != MX_SUCCESS) {
      usleep(100000);
      continue;
    }
    uint64_t nic;
    mx_board_number_to_nic_id(0, &nic);
    mx_endpoint_t ep;
    for (int life = 0; life < 20 && time(NULL) < end; life++) {
      if (mx_open_endpoint(0, MX_ANY_ENDPOINT, (uint32_t)rnd(), NULL, 0, &ep) != MX_SUCCESS) {
        usleep(10000);
        continue;
      }
      for (int i = 0; i < 200; i++, deeds++) {
        misdeed(ep, rnd() % 8 ? nic : rnd() & 0xffffffffffffull, buf);
        mx_progress(ep);
      }
      usleep(5000);
      mx_close_endpoint(ep);
    }
    mx_finalize();
  }
  printf("hostile: %ld misdeeds\n", deeds);
  return 0;
}
