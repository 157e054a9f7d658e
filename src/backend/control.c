/*
 * control.c - the handling of each control message, from a guest's socket
 * or its region's mailbox alike.  Every message is checked (magic,
 * version, type, each field); a bad one is answered with CTL_ERROR and a
 * text naming the fault, logged and counted, and the backend goes on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../include/myriexpress.h"
#include "../common/log.h"
#include "../common/mxerror.h"
#include "backend.h"

void control_reply_error(struct backend *be, struct be_guest *g, const struct ctl_msg *req,
                     int status, const char *fmt, ...)
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

/* A reply carrying text (the caller's, freed here). */
static void reply_text(struct be_guest *g, const struct ctl_msg *req, char *text)
{
  size_t n = text ? strlen(text) + 1 : 1;
  if (n > CTL_TEXT_MAX)
    n = CTL_TEXT_MAX;
  struct ctl_msg *m = calloc(1, sizeof(*m) + n);
  if (m) {
    ctl_init(m, CTL_REPLY, req->seq);
    m->len = (uint32_t)n;
    if (text)
      memcpy(m->text, text, n - 1);
    guest_send(g, m, NULL, 0);
    free(m);
  }
  free(text);
}

static void reply_ok(struct be_guest *g, const struct ctl_msg *req)
{
  struct ctl_msg rep;
  ctl_init(&rep, CTL_REPLY, req->seq);
  guest_send(g, &rep, NULL, 0);
}

/* The backend's side of the hello reply: what a guest needs to know. */
static void hello_fill(struct backend *be, struct ctl_hello_reply *hr)
{
  hr->nic_id = be->cfg.eng.nic_id;
  hr->max_endpoints = be->cfg.eng.max_endpoints;
  hr->small_max = be->cfg.small_max;
  hr->medium_max = be->cfg.eng.medium_max;
  struct sockaddr_storage ss;
  socklen_t len;
  uint32_t mtu;
  struct fault_cfg fault;
  if (!be->cfg.no_lanes && engine_lane_local(be->engine, &ss, &len, &mtu, &fault) == 0)
    hr->lane_family = ss.ss_family == AF_INET6 ? 6 : 4;
  snprintf(hr->hostname, sizeof(hr->hostname), "%s", be->cfg.eng.hostname);
}

/* The library inside a VM, through its mailbox: the VM's launcher said
 * hello on the socket already. */
static void hello_from_vm(struct backend *be, struct be_guest *g, const struct ctl_msg *req)
{
  struct ctl_msg rep;
  if (req->u.hello.role != CTL_ROLE_GUEST) {
    control_reply_error(be, g, req, MX_BAD_BAD_BAD, "hello: a VM's program is a guest");
    return;
  }
  guest_vm_attach(be, g, &req->u.hello);
  ctl_init(&rep, CTL_REPLY, req->seq);
  struct ctl_hello_reply *hr = &rep.u.hello_reply;
  hr->guest_id = g->id;
  hr->region_version = REGION_VERSION;
  hr->region_size = g->region_len;
  hello_fill(be, hr);
  guest_send(g, &rep, NULL, 0);
}

static void handle_hello(struct backend *be, struct be_guest *g, const struct ctl_msg *req)
{
  const struct ctl_hello *h = &req->u.hello;
  struct ctl_msg rep;
  if (g->role == CTL_ROLE_VM && (req->seq & CTL_SEQ_MAILBOX)) {
    hello_from_vm(be, g, req);
    return;
  }
  if (g->role) {
    control_reply_error(be, g, req, MX_BAD_BAD_BAD, "hello sent twice");
    return;
  }
  if (h->role != CTL_ROLE_GUEST && h->role != CTL_ROLE_MONITOR && h->role != CTL_ROLE_VM) {
    control_reply_error(be, g, req, MX_BAD_BAD_BAD, "hello: unknown role %u", h->role);
    return;
  }
  if (h->datapath >= DP_MAX) {
    control_reply_error(be, g, req, MX_BAD_BAD_BAD, "hello: unknown datapath %u", h->datapath);
    return;
  }
  if (h->role == CTL_ROLE_VM && (h->vm_mem_mb == 0 || h->vm_mem_mb > CTL_VM_MEM_MAX_MB)) {
    control_reply_error(be, g, req, MX_BAD_BAD_BAD, "hello: VM memory %u MiB (1..%u)",
                        h->vm_mem_mb, CTL_VM_MEM_MAX_MB);
    return;
  }
  ctl_init(&rep, CTL_REPLY, req->seq);
  int r = guest_admit(be, g, h, &rep.u.hello_reply);
  if (r < 0) {
    control_reply_error(be, g, req, r == -EPERM ? MX_NO_PERM : MX_NO_RESOURCES,
                        "cannot admit this guest: %s",
                        r == -EDQUOT ? "its user's VMs would hold more RAM than "
                                       "--vm-mem-per-user allows" : strerror(-r));
    g->role = 0;
    return;
  }
  hello_fill(be, &rep.u.hello_reply);
  if (g->role == CTL_ROLE_VM) {
    int fds[3] = {g->memfd, g->ram_fd, engine_doorbell(be->engine, DP_ENGINE)};
    guest_send(g, &rep, fds, 3);
    return;
  }
  int fds[4] = {g->memfd, engine_doorbell(be->engine, h->datapath), g->mbox_kick, g->mbox_bell};
  guest_send(g, &rep, fds, g->role == CTL_ROLE_GUEST ? 4 : 0);
}

static void handle_open(struct backend *be, struct be_guest *g, const struct ctl_msg *req)
{
  struct ctl_msg rep;
  struct engine_vif_info info;
  uint32_t vif_idx;
  struct be_lane lane = {.fd = be->passed_fd - 1};
  be->passed_fd = 0; /* ours now: endpoint_open keeps it as the lane, or closes it */
  int r = endpoint_open(be, g, &req->u.open, &vif_idx, &info, &lane);
  if (r != MX_SUCCESS) {
    control_reply_error(be, g, req, r, "open endpoint %u: %s", req->u.open.eid,
                    mxerror_return_text(r));
    return;
  }
  ctl_init(&rep, CTL_REPLY, req->seq);
  rep.u.open_reply.eid = info.eid;
  rep.u.open_reply.vif = vif_idx;
  rep.u.open_reply.session = info.session;
  if (lane.made) {
    rep.u.open_reply.has_lane = 1;
    rep.u.open_reply.lane = lane.addr;
    rep.u.open_reply.fault = lane.fault;
    /* each lane its own faults, as reproducible as a port's */
    rep.u.open_reply.fault.seed ^= info.eid * 0x9e3779b1ull ^ info.session;
  }
  /* a VM has no use for a doorbell: it polls */
  guest_send(g, &rep, &info.doorbell, g->role == CTL_ROLE_VM ? 0 : 1);
}

static void handle_close(struct backend *be, struct be_guest *g, const struct ctl_msg *req)
{
  /* The text is the lane streams' last acks (ctl_lane_last_ack): whole
   * entries, or the close is refused (the endpoint stays open). */
  if (req->len % sizeof(struct ctl_lane_last_ack)) {
    control_reply_error(be, g, req, MX_BAD_BAD_BAD, "close: %u bytes of last acks", req->len);
    return;
  }
  const struct ctl_lane_last_ack *acks = (const struct ctl_lane_last_ack *)req->text;
  if (endpoint_close(be, g, req->u.close.vif, acks, req->len / (uint32_t)sizeof(*acks)) < 0) {
    control_reply_error(be, g, req, MX_BAD_ENDPOINT, "close: no endpoint at vif %u",
                    req->u.close.vif);
    return;
  }
  reply_ok(g, req);
}

/* Who may limit an endpoint: its own guest, or the operator (a monitor
 * running as root or as the backend's user); no guest limits another. */
static int is_operator(const struct be_guest *g)
{
  return g->role == CTL_ROLE_MONITOR && (g->uid == 0 || g->uid == geteuid());
}

static int may_set_limits(const struct be_guest *g, uint32_t eid)
{
  uint32_t vif_idx;
  if (g->role == CTL_ROLE_GUEST || g->role == CTL_ROLE_VM)
    return endpoint_vif(g, eid, &vif_idx) == 0;
  return is_operator(g);
}

/* A guest may tighten its own limits, never loosen them (0: none). */
static int tighter(uint64_t now, uint64_t want)
{
  return now == 0 || (want != 0 && want <= now);
}

static void handle_vif_set(struct backend *be, struct be_guest *g, const struct ctl_msg *req)
{
  const struct ctl_vif_set *v = &req->u.vif_set;
  if (!may_set_limits(g, v->eid)) {
    control_reply_error(be, g, req, MX_NO_PERM, "vif set: endpoint %u is not yours", v->eid);
    return;
  }
  struct engine_vif_info info;
  if (!is_operator(g) && engine_vif_get(be->engine, v->eid, &info) == 0 &&
      (!tighter(info.limit_bytes_per_s, v->bytes_per_s) ||
       !tighter(info.limit_msgs_per_s, v->msgs_per_s))) {
    control_reply_error(be, g, req, MX_NO_PERM,
                        "vif set: endpoint %u may lower its limits, not raise them", v->eid);
    return;
  }
  if (engine_vif_set_limit(be->engine, v->eid, v->bytes_per_s, v->msgs_per_s) < 0) {
    control_reply_error(be, g, req, MX_BAD_ENDPOINT, "vif set: endpoint %u is not open", v->eid);
    return;
  }
  if (v->bytes_per_s || v->msgs_per_s)
    engine_vif_set_lane(be->engine, v->eid, NULL); /* limited: no new peer gets its lane */
  log_info("endpoint %u: limits %llu B/s, %llu msgs/s", v->eid,
           (unsigned long long)v->bytes_per_s, (unsigned long long)v->msgs_per_s);
  reply_ok(g, req);
}

/* Names: this host's, or a peer's (peers file, or learnt from its packets). */
static void handle_resolve(struct backend *be, struct be_guest *g, const struct ctl_msg *req)
{
  struct ctl_msg rep;
  struct ctl_resolve r = req->u.resolve;
  const struct engine_config *ec = &be->cfg.eng;
  int found;
  r.name[sizeof(r.name) - 1] = 0;
  if (r.by_name) {
    found = !strcmp(r.name, ec->hostname) || !strcmp(r.name, "localhost");
    if (found)
      r.nic_id = ec->nic_id;
    else
      found = engine_resolve_name(be->engine, r.name, &r.nic_id) == 0;
  } else {
    found = r.nic_id == ec->nic_id;
    if (found)
      snprintf(r.name, sizeof(r.name), "%s", ec->hostname);
    else
      found = engine_resolve_nic(be->engine, r.nic_id, r.name, sizeof(r.name)) == 0;
  }
  ctl_init(&rep, found ? CTL_REPLY : CTL_ERROR, req->seq);
  if (found)
    rep.u.resolve = r;
  else
    rep.status = r.by_name ? MX_HOST_NOT_FOUND : MX_NIC_NOT_FOUND;
  guest_send(g, &rep, NULL, 0);
}

/* The checks every message passes before its handler: 0 to go on, 1 when
 * answered with an error, -1 when g must be dropped. */
static int ctl_admissible(struct backend *be, struct be_guest *g, struct ctl_msg *req)
{
  if (req->magic != CTL_MAGIC) {
    control_reply_error(be, g, req, MX_BAD_BAD_BAD, "bad magic 0x%08x", req->magic);
    return 1;
  }
  if (req->version != CTL_VERSION) {
    control_reply_error(be, g, req, MX_BAD_LIB_VERSION,
                    "protocol version %u not supported (backend speaks %u)", req->version,
                    CTL_VERSION);
    return g->role ? 1 : -1;
  }
  if (!g->role && req->type != CTL_HELLO) {
    control_reply_error(be, g, req, MX_NOT_INITIALIZED, "message type %u before hello", req->type);
    return 1;
  }
  /* A VM's mailbox is its only channel: it makes every exchange there,
   * and its replies carry no descriptors (no doorbell, no direct channel). */
  int vm = g->role == CTL_ROLE_VM;
  if (vm && (req->seq & CTL_SEQ_MAILBOX) && req->type == CTL_CONNECT)
    req->u.connect.want_channel = 0;
  if (!vm && (req->seq & CTL_SEQ_MAILBOX) && ctl_needs_socket(req)) {
    control_reply_error(be, g, req, MX_BAD_BAD_BAD,
                    "message type %u passes descriptors: it needs the control socket", req->type);
    return 1;
  }
  if (vm && (req->seq & CTL_SEQ_MAILBOX) && !g->vm_attached && req->type != CTL_HELLO) {
    control_reply_error(be, g, req, MX_NOT_INITIALIZED, "message type %u before hello", req->type);
    return 1;
  }
  /* What the backend knows of other guests is the host's business, not a
   * VM's (its launcher, on the host, may ask) */
  int report = req->type == CTL_INFO || req->type == CTL_COUNTERS || req->type == CTL_PEERS;
  if (vm && (req->seq & CTL_SEQ_MAILBOX) && report) {
    control_reply_error(be, g, req, MX_NO_PERM, "message type %u: not from inside a VM", req->type);
    return 1;
  }
  /* a VM's endpoints are the VM's business, not its launcher's */
  int guest = g->role == CTL_ROLE_GUEST || (vm && (req->seq & CTL_SEQ_MAILBOX));
  int guest_only = req->type == CTL_OPEN || req->type == CTL_CLOSE || req->type == CTL_CONNECT;
  if (guest_only && !guest) {
    control_reply_error(be, g, req, MX_NO_PERM, "message type %u needs a guest", req->type);
    return 1;
  }
  return 0;
}

int control_dispatch(struct backend *be, struct be_guest *g, struct ctl_msg *req)
{
  int r = ctl_admissible(be, g, req);
  if (r)
    return r < 0 ? -1 : 0;
  switch (req->type) {
  case CTL_HELLO: handle_hello(be, g, req); break;
  case CTL_OPEN: handle_open(be, g, req); break;
  case CTL_CLOSE: handle_close(be, g, req); break;
  case CTL_CONNECT: connect_handle(be, g, req); break;
  case CTL_INFO: reply_text(g, req, report_info(be)); break;
  case CTL_COUNTERS: reply_text(g, req, report_counters(be)); break;
  case CTL_PEERS: reply_text(g, req, report_peers(be)); break;
  case CTL_RESOLVE: handle_resolve(be, g, req); break;
  case CTL_VIF_SET: handle_vif_set(be, g, req); break;
  default:
    control_reply_error(be, g, req, MX_BAD_BAD_BAD, "unknown message type %u", req->type);
  }
  return 0;
}

#define MSGBUF (sizeof(struct ctl_msg) + CTL_TEXT_MAX)

int control_receive(struct backend *be, struct be_guest *g)
{
  static _Alignas(16) char buf[MSGBUF];
  struct ctl_msg *req = (struct ctl_msg *)buf;
  int fds[CTL_MAX_FDS], nfds;
  ssize_t n = ctl_recv(g->sock, req, sizeof(buf), fds, &nfds);

  if (n == 0 || n == -ECONNRESET)
    return -1;
  if (n == -EAGAIN)
    return 0;
  /* Guests send us no descriptors but a CTL_OPEN's lane socket, which
   * handle_open takes (and checks); the rest are closed unread. */
  int lane_fd = n > 0 && nfds == 1 && req->type == CTL_OPEN ? fds[0] : -1;
  if (lane_fd < 0)
    ctl_close_fds(fds, nfds);
  if (n < 0) {
    control_reply_error(be, g, NULL, MX_BAD_BAD_BAD, "malformed control message (%s)",
                        n == -EBADMSG ? "bad framing or length" : strerror((int)-n));
    return 0;
  }
  req->seq &= ~CTL_SEQ_MAILBOX; /* its reply goes back on the socket */
  be->passed_fd = lane_fd + 1;
  int r = control_dispatch(be, g, req);
  if (be->passed_fd)
    close(be->passed_fd - 1); /* not taken (a refused open) */
  be->passed_fd = 0;
  return r;
}

void control_completions(struct backend *be)
{
  struct engine_completion c;
  while (engine_completion_take(be->engine, &c) > 0) {
    struct be_guest *g = guest_by_id(be, c.guest_id);
    if (!g || c.type != ENGINE_DONE_CONNECT)
      continue; /* it left meanwhile */
    struct ctl_msg rep;
    ctl_init(&rep, c.status == MX_SUCCESS ? CTL_REPLY : CTL_ERROR, c.seq);
    rep.status = c.status;
    rep.u.connect_reply.eid = c.eid;
    rep.u.connect_reply.session = c.session;
    rep.u.connect_reply.lane = c.lane;
    guest_send(g, &rep, NULL, 0); /* on its socket, or in its mailbox if it asked there */
  }
}
