/*
 * connect.c - CTL_CONNECT: a guest's endpoint asks to talk to another.  On
 * this host the backend checks the peer's endpoint and key and, when both
 * sides' datapaths use them, sets up a direct channel between the two
 * guests; for another host the engine asks the peer's backend, and the
 * answer comes back through the engine's completion queue.
 */
#include <fcntl.h>

#include "../../include/myriexpress.h"
#include "../common/doorbell.h"
#include "../common/log.h"
#include "backend.h"

/* Tell the target's guest about a new channel: the message waits on its
 * socket; ctl_seq and the doorbell make its progress loop read it. */
static void send_attach(struct be_guest *pg, const struct engine_vif_info *me,
                        const struct engine_vif_info *peer, int *fds, int nfds, pid_t my_pid,
                        int i_cover)
{
  uint32_t vif_idx;
  if (!pg || endpoint_vif(pg, peer->eid, &vif_idx) < 0)
    return;
  struct ctl_msg m;
  ctl_init(&m, CTL_CHANNEL_ATTACH, 0);
  m.u.attach.vif = vif_idx;
  m.u.attach.peer_eid = me->eid;
  m.u.attach.side = 1;
  m.u.attach.peer_session = me->session;
  m.u.attach.peer_pid = (uint32_t)my_pid;
  m.u.attach.peer_covers = (uint32_t)i_cover;
  guest_send(pg, &m, fds, nfds);
  atomic_fetch_add(&region_vif(pg->region, vif_idx)->ctl_seq, 1);
  doorbell_ring(peer->doorbell);
}

/* The pids two guests of a channel may read each other's sends by: both
 * seen in our pid namespace (then each pid is the one the other knows it
 * by), of one user and group (across users the kernel refuses all but a
 * privileged reader, which is the one not to lend a pid to), and each the
 * process that connected, with the ids it connected with.  Else none, and
 * the channel's pipes carry every large message.  Each gets the other's
 * pidfd too, to check before every read that the pid is still its peer's. */
static int channel_pids(const struct be_guest *g, const struct be_guest *pg, pid_t *g_pid,
                        pid_t *pg_pid)
{
  /* (identity_unchanged: the pid each is read by is the one its pidfd names here) */
  int ok = g && pg && g->pid_ours && pg->pid_ours && g->uid == pg->uid && g->gid == pg->gid &&
           g->pidfd >= 0 && pg->pidfd >= 0 && identity_unchanged(g) && identity_unchanged(pg);
  *g_pid = ok ? g->pid : 0;
  *pg_pid = ok ? pg->pid : 0;
  return ok;
}

/* A direct channel between me (guest g) and peer when both want one: fa
 * gets my side's descriptors (-1s without), peer's guest is sent the
 * other; *peer_pid is what I may read the peer's sends by, or 0. */
static int channel_offer(struct backend *be, struct be_guest *g, const struct ctl_connect *c,
                         const struct engine_vif_info *me, const struct engine_vif_info *peer,
                         int fa[CTL_MAX_FDS], pid_t *peer_pid, int *peer_covers)
{
  int fb[CTL_MAX_FDS] = {-1, -1, -1, -1, -1, -1, -1};
  int want = c->want_channel && peer->eid != me->eid &&
             !engine_vif_has_channel(be->engine, me->eid, peer->eid) &&
             datapath_uses_channels(peer->owner.datapath);
  if (!want || channel_create(me, peer, fa, fb) < 0)
    return 0;
  engine_vif_channel(be->engine, me->eid, peer->eid);
  struct be_guest *pg = guest_by_id(be, peer->owner.guest_id);
  pid_t my_pid;
  int single = channel_pids(g, pg, &my_pid, peer_pid);
  int i_cover = 0;
  if (single) {
    /* A reader that may ptrace anyone reads with that right dropped unless
     * the peer already held all it holds (then nothing the peer becomes,
     * an exec of a setuid program included, is beyond its reach before). */
    uint64_t mine = identity_caps(g), its = identity_caps(pg);
    *peer_covers = (its & mine) == mine;
    i_cover = (mine & its) == its;
    fa[CHANNEL_FDS] = fcntl(pg->pidfd, F_DUPFD_CLOEXEC, 0);
    fb[CHANNEL_FDS] = fcntl(g->pidfd, F_DUPFD_CLOEXEC, 0);
    if (fa[CHANNEL_FDS] < 0 || fb[CHANNEL_FDS] < 0)
      single = 0, *peer_pid = my_pid = 0;
  }
  log_info("direct channel %u <-> %u%s", me->eid, peer->eid, single ? " (single-copy reads)" : "");
  if (pg)
    send_attach(pg, me, peer, fb, single ? CHANNEL_FDS + 1 : CHANNEL_FDS, my_pid, i_cover);
  ctl_close_fds(fb, CTL_MAX_FDS);
  return 1;
}

/* The status of a connect on this host; *why says what failed. */
static int connect_check(struct backend *be, const struct ctl_connect *c, int peer_open,
                         const struct engine_vif_info *peer, const char **why)
{
  if (c->nic_id != be->cfg.eng.nic_id)
    return *why = "unknown nic id", MX_NIC_NOT_FOUND;
  if (c->eid >= be->cfg.eng.max_endpoints)
    return *why = "endpoint id out of range", MX_BAD_ENDPOINT_ID;
  if (!peer_open || peer->state != VIF_OPEN)
    return *why = "no such endpoint open", MX_CONNECTION_FAILED;
  if (peer->key != c->key)
    return *why = "wrong connection key", MX_BAD_CONNECTION_KEY;
  return MX_SUCCESS;
}

void connect_handle(struct backend *be, struct be_guest *g, const struct ctl_msg *req)
{
  const struct ctl_connect *c = &req->u.connect;
  struct engine_vif_info me, peer;
  int fa[CTL_MAX_FDS] = {-1, -1, -1, -1, -1, -1, -1};
  const char *why = "";
  uint32_t my_eid;
  int status;

  if (endpoint_at(g, c->vif, &my_eid) < 0 || engine_vif_get(be->engine, my_eid, &me) < 0) {
    status = MX_BAD_ENDPOINT, why = "your endpoint is not open";
  } else if (engine_is_remote(be->engine, c->nic_id)) {
    status = engine_connect_remote(be->engine, g->id, req->seq, my_eid, c->nic_id, c->eid,
                                   c->key);
    if (status == MX_SUCCESS)
      return; /* answered when the peer's backend answers (control_completions) */
    why = "remote connect";
  } else {
    int open = c->eid < ENGINE_MAX_ENDPOINTS && engine_vif_get(be->engine, c->eid, &peer) == 0;
    status = connect_check(be, c, open, &peer, &why);
  }
  struct ctl_msg rep;
  if (status != MX_SUCCESS) {
    /* A missing peer is routine (the library retries until its timeout):
     * answer without counting it as a protocol error. */
    ctl_init(&rep, CTL_ERROR, req->seq);
    rep.status = status;
    if (status != MX_CONNECTION_FAILED)
      log_info("guest %u: connect to %u: %s", g->id, c->eid, why);
    guest_send(g, &rep, NULL, 0);
    return;
  }
  engine_vif_connect(be->engine, me.eid, peer.eid);
  ctl_init(&rep, CTL_REPLY, req->seq);
  rep.u.connect_reply.eid = peer.eid;
  rep.u.connect_reply.session = peer.session;
  pid_t peer_pid = 0;
  int covers = 0;
  rep.u.connect_reply.has_channel =
      (uint32_t)channel_offer(be, g, c, &me, &peer, fa, &peer_pid, &covers);
  rep.u.connect_reply.peer_covers = (uint32_t)covers;
  rep.u.connect_reply.side = 0;
  rep.u.connect_reply.peer_pid = (uint32_t)peer_pid;
  int nfa = !rep.u.connect_reply.has_channel ? 0 : peer_pid ? CHANNEL_FDS + 1 : CHANNEL_FDS;
  guest_send(g, &rep, fa, nfa);
  ctl_close_fds(fa, CTL_MAX_FDS);
}
