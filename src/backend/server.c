/*
 * server.c - the backend's control plane: the Unix socket, admission, and
 * the handling of each control message.  One thread, poll(2) over the
 * listening socket, a signalfd and every client.
 *
 * Every message is checked (framing, magic, version, type, each field);
 * a bad one is answered with CTL_ERROR and a text naming the fault, logged
 * and counted, and the backend goes on serving.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/doorbell.h"
#include "../../include/myriexpress.h"
#include "../common/mxerror.h"
#include "../common/log.h"
#include "../engine/net.h"
#include "backend.h"

#define MSGBUF (sizeof(struct ctl_msg) + CTL_TEXT_MAX)

void reply_error(struct backend *be, struct be_guest *g, const struct ctl_msg *req, int status,
                 const char *fmt, ...)
{
  char buf[sizeof(struct ctl_msg) + 256];
  struct ctl_msg *m = (struct ctl_msg *)buf;
  va_list ap;

  ctl_init(m, CTL_ERROR, req ? req->seq : 0);
  m->status = status;
  va_start(ap, fmt);
  int n = vsnprintf(m->text, 256, fmt, ap);
  va_end(ap);
  m->len = (uint32_t)(n < 0 ? 0 : n >= 256 ? 255 : n) + 1;
  log_warn("guest %u (pid %d): %s", g->id, (int)g->pid, m->text);
  be->ctl_errors++;
  guest_send(g, m, NULL, 0);
}

static void reply_text(struct be_guest *g, const struct ctl_msg *req, char *text)
{
  size_t n = text ? strlen(text) + 1 : 1;
  if (n > CTL_TEXT_MAX)
    n = CTL_TEXT_MAX;
  struct ctl_msg *m = calloc(1, sizeof(*m) + n);
  if (!m)
    return;
  ctl_init(m, CTL_REPLY, req->seq);
  m->len = (uint32_t)n;
  if (text)
    memcpy(m->text, text, n - 1);
  guest_send(g, m, NULL, 0);
  free(m);
  free(text);
}

static struct be_endpoint *guest_endpoint(struct backend *be, struct be_guest *g, uint32_t vif)
{
  for (uint32_t i = 0; i < be->cfg.max_endpoints; i++)
    if (be->eps[i].in_use && be->eps[i].guest == g && be->eps[i].vif_idx == vif)
      return &be->eps[i];
  return NULL;
}

static void handle_hello(struct backend *be, struct be_guest *g, const struct ctl_msg *req)
{
  struct ctl_msg rep;
  int fds[4];

  if (g->role) {
    reply_error(be, g, req, MX_BAD_BAD_BAD, "hello sent twice");
    return;
  }
  if (req->u.hello.role != CTL_ROLE_GUEST && req->u.hello.role != CTL_ROLE_MONITOR) {
    reply_error(be, g, req, MX_BAD_BAD_BAD, "hello: unknown role %u", req->u.hello.role);
    return;
  }
  if (req->u.hello.datapath >= DP_MAX) {
    reply_error(be, g, req, MX_BAD_BAD_BAD, "hello: unknown datapath %u", req->u.hello.datapath);
    return;
  }
  ctl_init(&rep, CTL_REPLY, req->seq);
  int r = guest_admit(be, g, &req->u.hello, &rep.u.hello_reply);
  if (r < 0) {
    reply_error(be, g, req, MX_NO_RESOURCES, "cannot create region: %s", strerror(-r));
    g->role = 0;
    return;
  }
  rep.u.hello_reply.nic_id = be->cfg.nic_id;
  rep.u.hello_reply.max_endpoints = be->cfg.max_endpoints;
  rep.u.hello_reply.small_max = be->cfg.small_max;
  rep.u.hello_reply.medium_max = be->cfg.medium_max;
  snprintf(rep.u.hello_reply.hostname, sizeof(rep.u.hello_reply.hostname), "%s",
           be->cfg.hostname);
  fds[0] = g->memfd;
  /* the copy datapaths' requests are taken by netback, which the guest kicks */
  int copy = req->u.hello.datapath == DP_COPY || req->u.hello.datapath == DP_COPY_BATCH;
  fds[1] = copy ? be->nb.doorbell : be->engine_doorbell;
  fds[2] = g->mbox_kick;
  fds[3] = g->mbox_bell;
  guest_send(g, &rep, fds, g->role == CTL_ROLE_GUEST ? 4 : 0);
}

static void handle_open(struct backend *be, struct be_guest *g, const struct ctl_msg *req)
{
  struct ctl_msg rep;
  struct be_endpoint *ep = NULL;

  pthread_mutex_lock(&be->lock);
  int r = endpoint_open(be, g, &req->u.open, &ep);
  pthread_mutex_unlock(&be->lock);
  if (r != MX_SUCCESS) {
    reply_error(be, g, req, r, "open endpoint %u: %s", req->u.open.eid, mxerror_return_text(r));
    return;
  }
  ctl_init(&rep, CTL_REPLY, req->seq);
  rep.u.open_reply.eid = ep->eid;
  rep.u.open_reply.vif = ep->vif_idx;
  rep.u.open_reply.session = ep->session;
  guest_send(g, &rep, &ep->doorbell, 1);
}

static void handle_close(struct backend *be, struct be_guest *g, const struct ctl_msg *req)
{
  struct ctl_msg rep;
  pthread_mutex_lock(&be->lock);
  struct be_endpoint *ep = guest_endpoint(be, g, req->u.close.vif);
  if (ep)
    endpoint_close(be, ep);
  pthread_mutex_unlock(&be->lock);
  if (!ep) {
    reply_error(be, g, req, MX_BAD_ENDPOINT, "close: no endpoint at vif %u", req->u.close.vif);
    return;
  }
  ctl_init(&rep, CTL_REPLY, req->seq);
  guest_send(g, &rep, NULL, 0);
}

/* Tell the target's guest about a new channel: the message waits on its
 * socket; ctl_seq and the doorbell make its progress loop read it. */
static void send_attach(struct be_endpoint *me, struct be_endpoint *peer, int *fds)
{
  struct ctl_msg m;
  ctl_init(&m, CTL_CHANNEL_ATTACH, 0);
  m.u.attach.vif = peer->vif_idx;
  m.u.attach.peer_eid = me->eid;
  m.u.attach.side = 1;
  m.u.attach.peer_session = me->session;
  guest_send(peer->guest, &m, fds, 4);
  atomic_fetch_add(&peer->vif->ctl_seq, 1);
  doorbell_ring(peer->doorbell);
}

static void handle_connect(struct backend *be, struct be_guest *g, const struct ctl_msg *req)
{
  const struct ctl_connect *c = &req->u.connect;
  struct ctl_msg rep;
  int fa[4] = {-1, -1, -1, -1}, fb[4] = {-1, -1, -1, -1};
  int status = MX_SUCCESS;
  const char *why = "";

  ctl_init(&rep, CTL_REPLY, req->seq);
  pthread_mutex_lock(&be->lock);
  struct be_endpoint *me = guest_endpoint(be, g, c->vif);
  struct be_endpoint *peer = endpoint_lookup(be, c->nic_id, c->eid);
  if (!me) {
    status = MX_BAD_ENDPOINT, why = "your endpoint is not open";
  } else if (net_is_remote(be, c->nic_id)) {
    status = net_connect(be, g, req->seq, me, c);
    if (status == MX_SUCCESS) {
      pthread_mutex_unlock(&be->lock);
      return; /* answered when the peer's backend answers */
    }
    why = "remote connect";
  } else if (c->nic_id != be->cfg.nic_id) {
    status = MX_NIC_NOT_FOUND, why = "unknown nic id";
  } else if (c->eid >= be->cfg.max_endpoints) {
    status = MX_BAD_ENDPOINT_ID, why = "endpoint id out of range";
  } else if (!peer || atomic_load(&peer->vif->state) != VIF_OPEN) {
    status = MX_CONNECTION_FAILED, why = "no such endpoint open";
  } else if (peer->key != c->key) {
    status = MX_BAD_CONNECTION_KEY, why = "wrong connection key";
  } else {
    rep.u.connect_reply.eid = peer->eid;
    rep.u.connect_reply.session = peer->session;
    int known = me->chan_with[peer->eid / 8] & (1u << (peer->eid % 8));
    int want = c->want_channel && peer != me && !known &&
               datapath_uses_channels(peer->guest->datapath);
    if (want && channel_create(be, me, peer, fa, fb) == 0) {
      rep.u.connect_reply.has_channel = 1;
      rep.u.connect_reply.side = 0;
      send_attach(me, peer, fb);
    }
  }
  pthread_mutex_unlock(&be->lock);
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
  guest_send(g, &rep, fa, rep.u.connect_reply.has_channel ? 4 : 0);
  ctl_close_fds(fa, 4);
  ctl_close_fds(fb, 4);
}

static void handle_vif_set(struct backend *be, struct be_guest *g, const struct ctl_msg *req)
{
  const struct ctl_vif_set *v = &req->u.vif_set;
  struct ctl_msg rep;
  pthread_mutex_lock(&be->lock);
  struct be_endpoint *ep = v->eid < be->cfg.max_endpoints ? &be->eps[v->eid] : NULL;
  int ok = ep && ep->in_use;
  if (ok)
    limit_set(ep, v->bytes_per_s, v->msgs_per_s);
  pthread_mutex_unlock(&be->lock);
  if (!ok) {
    reply_error(be, g, req, MX_BAD_ENDPOINT, "vif set: endpoint %u is not open", v->eid);
    return;
  }
  log_info("endpoint %u: limits %llu B/s, %llu msgs/s", v->eid,
           (unsigned long long)v->bytes_per_s, (unsigned long long)v->msgs_per_s);
  ctl_init(&rep, CTL_REPLY, req->seq);
  guest_send(g, &rep, NULL, 0);
}

/* Names: this host's, or a peer's (peers file, or learnt from its packets). */
static void handle_resolve(struct backend *be, struct be_guest *g, const struct ctl_msg *req)
{
  struct ctl_msg rep;
  struct ctl_resolve r = req->u.resolve;
  int found;
  r.name[sizeof(r.name) - 1] = 0;
  pthread_mutex_lock(&be->lock);
  if (r.by_name) {
    found = !strcmp(r.name, be->cfg.hostname) || !strcmp(r.name, "localhost");
    if (found)
      r.nic_id = be->cfg.nic_id;
    else
      found = net_resolve_name(be, r.name, &r.nic_id) == 0;
  } else {
    found = r.nic_id == be->cfg.nic_id;
    if (found)
      snprintf(r.name, sizeof(r.name), "%s", be->cfg.hostname);
    else
      found = net_resolve_nic(be, r.nic_id, r.name, sizeof(r.name)) == 0;
  }
  pthread_mutex_unlock(&be->lock);
  if (!found) {
    ctl_init(&rep, CTL_ERROR, req->seq);
    rep.status = r.by_name ? MX_HOST_NOT_FOUND : MX_NIC_NOT_FOUND;
    guest_send(g, &rep, NULL, 0);
    return;
  }
  ctl_init(&rep, CTL_REPLY, req->seq);
  rep.u.resolve = r;
  guest_send(g, &rep, NULL, 0);
}

/* One message from g's socket.  Returns -1 when the connection must be
 * dropped. */
static int handle_message(struct backend *be, struct be_guest *g)
{
  static _Alignas(16) char buf[MSGBUF];
  struct ctl_msg *req = (struct ctl_msg *)buf;
  int fds[CTL_MAX_FDS], nfds;
  ssize_t n = ctl_recv(g->sock, req, sizeof(buf), fds, &nfds);

  if (n == 0 || n == -ECONNRESET)
    return -1;
  if (n == -EAGAIN)
    return 0;
  ctl_close_fds(fds, nfds); /* guests never send us descriptors */
  if (n < 0) {
    reply_error(be, g, NULL, MX_BAD_BAD_BAD, "malformed control message (%s)",
                n == -EBADMSG ? "bad framing or length" : strerror((int)-n));
    return 0;
  }
  req->seq &= ~CTL_SEQ_MAILBOX; /* its reply goes back on the socket */
  return ctl_dispatch(be, g, req);
}

/* A message from g, checked and handled; the reply goes where req->seq
 * says (guest_send).  Returns -1 when g must be dropped. */
int ctl_dispatch(struct backend *be, struct be_guest *g, struct ctl_msg *req)
{
  if (req->magic != CTL_MAGIC) {
    reply_error(be, g, req, MX_BAD_BAD_BAD, "bad magic 0x%08x", req->magic);
    return 0;
  }
  if (req->version != CTL_VERSION) {
    reply_error(be, g, req, MX_BAD_LIB_VERSION,
                "protocol version %u not supported (backend speaks %u)", req->version,
                CTL_VERSION);
    return g->role ? 0 : -1;
  }
  if (!g->role && req->type != CTL_HELLO) {
    reply_error(be, g, req, MX_NOT_INITIALIZED, "message type %u before hello", req->type);
    return 0;
  }
  if ((req->seq & CTL_SEQ_MAILBOX) && ctl_needs_socket(req)) {
    reply_error(be, g, req, MX_BAD_BAD_BAD,
                "message type %u passes descriptors: it needs the control socket", req->type);
    return 0;
  }
  int guest_only = req->type == CTL_OPEN || req->type == CTL_CLOSE || req->type == CTL_CONNECT;
  if (guest_only && g->role != CTL_ROLE_GUEST) {
    reply_error(be, g, req, MX_NO_PERM, "message type %u needs a guest", req->type);
    return 0;
  }
  switch (req->type) {
  case CTL_HELLO:
    handle_hello(be, g, req);
    break;
  case CTL_OPEN:
    handle_open(be, g, req);
    break;
  case CTL_CLOSE:
    handle_close(be, g, req);
    break;
  case CTL_CONNECT:
    handle_connect(be, g, req);
    break;
  case CTL_INFO:
    reply_text(g, req, report_info(be));
    break;
  case CTL_COUNTERS:
    reply_text(g, req, report_counters(be));
    break;
  case CTL_PEERS:
    pthread_mutex_lock(&be->lock);
    reply_text(g, req, net_report(be));
    pthread_mutex_unlock(&be->lock);
    break;
  case CTL_RESOLVE:
    handle_resolve(be, g, req);
    break;
  case CTL_VIF_SET:
    handle_vif_set(be, g, req);
    break;
  default:
    reply_error(be, g, req, MX_BAD_BAD_BAD, "unknown message type %u", req->type);
  }
  return 0;
}

static int accept_guest(struct backend *be, int lsock)
{
  int s = accept4(lsock, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (s < 0)
    return -errno;
  struct ucred cr = {0};
  socklen_t l = sizeof(cr);
  getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &l);
  pthread_mutex_lock(&be->lock); /* the engine reads the table (netconn.c) */
  for (int i = 0; i < BE_MAX_GUESTS; i++) {
    struct be_guest *g = &be->guests[i];
    if (g->in_use)
      continue;
    memset(g, 0, sizeof(*g));
    g->in_use = 1;
    g->sock = s;
    g->memfd = g->mbox_kick = g->mbox_bell = -1;
    g->id = ++be->next_guest_id;
    g->pid = cr.pid;
    g->uid = cr.uid;
    pthread_mutex_unlock(&be->lock);
    return 0;
  }
  pthread_mutex_unlock(&be->lock);
  log_warn("too many guests (%d): refusing one", BE_MAX_GUESTS);
  close(s);
  return 0;
}

static int listen_socket(const char *path)
{
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof(sa.sun_path))
    return -ENAMETOOLONG;
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
  char dir[sizeof(sa.sun_path)];
  snprintf(dir, sizeof(dir), "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir) {
    *slash = 0;
    mkdir(dir, 0755);
  }
  int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0)
    return -errno;
  unlink(path);
  if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 64) < 0) {
    int e = -errno;
    close(s);
    return e;
  }
  chmod(path, 0666);
  return s;
}

/* Tell every guest the backend is going: their libraries fail pending
 * requests with MX_STATUS_ENDPOINT_CLOSED instead of waiting forever. */
static void shutdown_guests(struct backend *be)
{
  pthread_mutex_lock(&be->lock);
  for (int i = 0; i < BE_MAX_GUESTS; i++) {
    struct be_guest *g = &be->guests[i];
    if (g->in_use && g->region)
      atomic_store(&((struct region_hdr *)g->region)->backend_state, BACKEND_STOPPED);
  }
  for (uint32_t i = 0; i < be->cfg.max_endpoints; i++)
    if (be->eps[i].in_use)
      doorbell_ring(be->eps[i].doorbell);
  pthread_mutex_unlock(&be->lock);
  for (int i = 0; i < BE_MAX_GUESTS; i++)
    if (be->guests[i].in_use)
      guest_reclaim(be, &be->guests[i]);
}

int server_run(struct backend *be)
{
  struct pollfd pfd[2 * BE_MAX_GUESTS + 2];
  int map[2 * BE_MAX_GUESTS + 2]; /* guest i: its socket i, its mailbox kick BE_MAX_GUESTS + i */
  sigset_t mask;

  int lsock = listen_socket(be->cfg.socket_path);
  if (lsock < 0) {
    log_err("cannot listen on %s: %s", be->cfg.socket_path, strerror(-lsock));
    return 1;
  }
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
  log_info("listening on %s (nic %012llx, host %s)", be->cfg.socket_path,
           (unsigned long long)be->cfg.nic_id, be->cfg.hostname);

  for (;;) {
    int n = 0;
    pfd[n] = (struct pollfd){.fd = lsock, .events = POLLIN};
    map[n++] = -1;
    pfd[n] = (struct pollfd){.fd = sfd, .events = POLLIN};
    map[n++] = -2;
    for (int i = 0; i < BE_MAX_GUESTS; i++) {
      if (!be->guests[i].in_use)
        continue;
      pfd[n] = (struct pollfd){.fd = be->guests[i].sock, .events = POLLIN};
      map[n++] = i;
      if (be->guests[i].mbox_kick >= 0) {
        pfd[n] = (struct pollfd){.fd = be->guests[i].mbox_kick, .events = POLLIN};
        map[n++] = BE_MAX_GUESTS + i;
      }
    }
    if (poll(pfd, (nfds_t)n, -1) < 0) {
      if (errno == EINTR)
        continue;
      log_err("poll: %s", strerror(errno));
      break;
    }
    if (pfd[1].revents) {
      struct signalfd_siginfo si;
      if (read(sfd, &si, sizeof(si)) > 0)
        log_info("signal %u: shutting down", si.ssi_signo);
      break;
    }
    for (int k = 2; k < n; k++) {
      if (!pfd[k].revents)
        continue;
      if (map[k] >= BE_MAX_GUESTS) {
        struct be_guest *g = &be->guests[map[k] - BE_MAX_GUESTS];
        if (g->in_use && g->mbox_kick == pfd[k].fd)
          mailbox_serve(be, g); /* (not if its socket closed just before, above) */
        continue;
      }
      struct be_guest *g = &be->guests[map[k]];
      if ((pfd[k].revents & POLLIN) && handle_message(be, g) == 0)
        continue;
      if (pfd[k].revents & (POLLHUP | POLLERR | POLLIN))
        guest_reclaim(be, g);
    }
    if (pfd[0].revents & POLLIN)
      accept_guest(be, lsock);
  }
  shutdown_guests(be);
  close(lsock);
  unlink(be->cfg.socket_path);
  close(sfd);
  return 0;
}
