/*
 * mailbox.c - the region's control mailbox (region.h): requests taken
 * from it, replies written into it (guest_send routes them here).
 *
 * A guest may make any exchange that passes no descriptors through its
 * mailbox instead of its socket; a VM guest, which has no socket, makes
 * all of them there, and cannot kick: the control loop polls its mailbox.  The request is copied out of the region once and
 * goes through the same checks and handlers as a socket message
 * (control_dispatch); its seq is marked CTL_SEQ_MAILBOX, so every reply to it,
 * even one the engine sends later (a remote connect), comes back here.
 */
#include <string.h>
#include <unistd.h>

#include "../common/doorbell.h"
#include "../common/log.h"
#include "backend.h"

int mailbox_reply(struct be_guest *g, const struct ctl_msg *m)
{
  if (!g->region)
    return -1;
  struct mailbox *mb = region_mailbox(g->region);
  struct ctl_msg hdr = *m;
  if (hdr.len > MBOX_TEXT_MAX)
    hdr.len = MBOX_TEXT_MAX;
  memcpy(mb->rep, &hdr, sizeof(hdr));
  memcpy(mb->rep + sizeof(hdr), m->text, hdr.len);
  atomic_store_explicit(&mb->rep_seq, m->seq, memory_order_release);
  doorbell_ring(g->mbox_bell);
  return 0;
}

int mailbox_serve(struct backend *be, struct be_guest *g)
{
  uint64_t kicks;
  if (g->mbox_kick >= 0 && read(g->mbox_kick, &kicks, sizeof(kicks)) < 0) {
    /* EAGAIN: a kick already taken; the sequence number decides anyway */
  }
  if (!g->region)
    return 0; /* a monitor has no mailbox */
  struct mailbox *mb = region_mailbox(g->region);
  uint32_t seq = atomic_load_explicit(&mb->req_seq, memory_order_acquire);
  if (seq == g->mbox_seen)
    return 0; /* nothing new: a spare kick */
  g->mbox_seen = seq;
  g->mbox_calls++;
  struct ctl_msg req;
  memcpy(&req, mb->req, sizeof(req)); /* once: the guest may go on writing */
  req.seq = seq | CTL_SEQ_MAILBOX;    /* the reply comes back here, whatever it says */
  req.len = 0;                        /* requests carry no text */
  control_dispatch(be, g, &req);
  return 1;
}
