/*
 * endpoint.c - a guest's endpoints as the backend sees them: each is one
 * VIF of the guest's region, opened in the engine.  The backend keeps only
 * which endpoint id sits on which VIF; the engine keeps the rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../include/myriexpress.h"
#include "../common/clock.h"
#include "../common/lane_addr.h"
#include "../common/log.h"
#include "backend.h"

#define LANE_SOCKBUF (4 << 20) /* as much as the kernel grants, up to a port's */

int endpoint_at(const struct be_guest *g, uint32_t vif_idx, uint32_t *eid)
{
  if (vif_idx >= REGION_VIFS || !g->vif_eid[vif_idx])
    return -1;
  *eid = g->vif_eid[vif_idx] - 1;
  return 0;
}

int endpoint_vif(const struct be_guest *g, uint32_t eid, uint32_t *vif_idx)
{
  for (uint32_t i = 0; i < REGION_VIFS; i++)
    if (g->vif_eid[i] == eid + 1) {
      *vif_idx = i;
      return 0;
    }
  return -1;
}

/* Endpoints open by guests of user uid. */
static uint32_t endpoints_of_user(const struct backend *be, uid_t uid)
{
  uint32_t n = 0;
  for (int i = 0; i < BE_MAX_GUESTS; i++) {
    const struct be_guest *o = &be->guests[i];
    if (!o->in_use || o->uid != uid)
      continue;
    for (uint32_t k = 0; k < REGION_VIFS; k++)
      n += o->vif_eid[k] != 0;
  }
  return n;
}

/* The guest's socket is fit to be a lane: a UDP socket of family, in our
 * network namespace, new (not bound, not connected), shared with nobody
 * (no SO_REUSEADDR nor SO_REUSEPORT).  Made by the guest, it is the
 * guest's: its user and cgroup, so the host's filters by owner and by
 * cgroup see the guest, not the backend. */
static int lane_socket_fit(struct backend *be, int fd, int family)
{
  int v[3];
  uint64_t cookie = 0, ours = 0;
  socklen_t n = sizeof(v[0]), cn = sizeof(cookie);
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v[0], &n) < 0 || v[0] != family ||
      getsockopt(fd, SOL_SOCKET, SO_TYPE, &v[1], &n) < 0 || v[1] != SOCK_DGRAM ||
      getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v[2], &n) < 0 || v[2] != IPPROTO_UDP)
    return 0;
  if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &cn) < 0 ||
      getsockopt(be->lsock, SOL_SOCKET, SO_NETNS_COOKIE, &ours, &cn) < 0 || cookie != ours)
    return 0;
  if (getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v[0], &n) < 0 || v[0] ||
      getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &v[1], &n) < 0 || v[1])
    return 0;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
      (family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                         : ((struct sockaddr_in6 *)&ss)->sin6_port) != 0)
    return 0; /* bound already */
  len = sizeof(ss);
  return getpeername(fd, (struct sockaddr *)&ss, &len) < 0 && errno == ENOTCONN;
}

/* A lane for an endpoint about to open (docs/lanes.md): the socket the
 * guest passed (lane->fd, taken), checked, and bound by us to the address
 * of the engine's UDP port, any free port, so that its address is what we
 * say it is.  Only for a process in our own network namespace (a
 * container's socket would be in its own network), never for a VM (it
 * has no descriptors), and only when the engine rate-limits nothing (the
 * lane bypasses it).  Before the endpoint opens, so that its VIF has it
 * from its first moment.  -1: no lane, and the engines carry everything,
 * as before lanes. */
static int lane_make(struct backend *be, struct be_guest *g, const struct ctl_open *req,
                     struct be_lane *lane)
{
  struct sockaddr_storage ss;
  socklen_t len;
  int fd = lane->fd, buf = LANE_SOCKBUF;
  lane->fd = -1;
  if (fd < 0)
    return -1;
  if (!req->want_lane || g->role != CTL_ROLE_GUEST || !datapath_uses_channels(g->datapath) ||
      be->cfg.no_lanes || be->cfg.eng.vif_bytes_per_s || be->cfg.eng.vif_msgs_per_s ||
      engine_lane_local(be->engine, &ss, &len, &lane->addr.mtu, &lane->fault) < 0 ||
      !identity_netns_ours(g))
    goto refuse;
  if (!lane_socket_fit(be, fd, ss.ss_family)) {
    be->lanes_refused++;
    log_warn("guest %u: its socket is not fit for a lane (UDP, new, ours, not shared)", g->id);
    goto refuse;
  }
  /* its port named in the bind: kept through a disconnect (lane_addr.h) */
  if (lane_bind_named_port(fd, &ss, len) < 0 || lane_addr_from_sockaddr(&lane->addr, &ss) < 0) {
    log_warn("guest %u: no lane: %s", g->id, strerror(errno));
    goto refuse;
  }
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
  while (getrandom(&lane->addr.nonce, sizeof(lane->addr.nonce), 0) != sizeof(lane->addr.nonce) ||
         !lane->addr.nonce)
    ;
  lane->fd = fd;
  return 0;
refuse:
  close(fd);
  return -1;
}

/* The endpoint opened as eid with the lane made for it: the backend keeps
 * its own hold on the socket (the guest has it already) until the
 * endpoint closes, and a while after (lane_retire). */
static void lane_keep(struct backend *be, uint32_t eid, struct be_lane *lane)
{
  be->lane_keep[eid] = lane->fd + 1;
  lane->fd = -1;
  lane->made = 1;
  be->lanes_made++;
}

/* Endpoint eid closed: its lane's socket is kept two peer timeouts (at
 * least BE_LANE_RETIRE_MIN_NS).  By then every peer heard WIRE_EP_GONE, or
 * its engine gave this host up, and so no peer's library still sends to
 * the port when someone else may bind it. */
static void lane_retire(struct backend *be, uint32_t eid)
{
  int fd = be->lane_keep[eid] - 1;
  if (fd < 0)
    return;
  be->lane_keep[eid] = 0;
  if (be->nretired == BE_LANES_RETIRED_MAX) {
    /* the oldest goes early: an endpoint churner's, as a rule */
    close(be->retired[0].fd);
    memmove(be->retired, be->retired + 1, (BE_LANES_RETIRED_MAX - 1) * sizeof(be->retired[0]));
    be->nretired--;
    be->lanes_released_early++;
    log_warn("a closed endpoint's lane port released early: %u kept already",
             BE_LANES_RETIRED_MAX);
  }
  uint64_t timeout_ms = be->cfg.eng.peer_timeout_ms ? be->cfg.eng.peer_timeout_ms : 10000;
  uint64_t keep = 2 * timeout_ms * 1000000ull;
  be->retired[be->nretired++] = (struct be_retired_lane){
      .fd = fd, .until_ns = clock_now_ns() + (keep > BE_LANE_RETIRE_MIN_NS ? keep : BE_LANE_RETIRE_MIN_NS)};
}

int endpoint_lanes_expire(struct backend *be)
{
  uint64_t now = clock_now_ns();
  uint32_t k = 0;
  while (k < be->nretired && be->retired[k].until_ns <= now)
    close(be->retired[k++].fd); /* (kept in order of their time) */
  if (k) {
    be->nretired -= k;
    memmove(be->retired, be->retired + k, be->nretired * sizeof(be->retired[0]));
  }
  if (!be->nretired)
    return -1;
  return (int)((be->retired[0].until_ns - now) / 1000000 + 1);
}

/* Open an endpoint for g.  Returns MX_SUCCESS or an MX return code. */
int endpoint_open(struct backend *be, struct be_guest *g, const struct ctl_open *req,
                  uint32_t *vif_idx, struct engine_vif_info *info, struct be_lane *lane)
{
  uint32_t idx;
  int r = MX_SUCCESS;
  lane->made = 0;
  for (idx = 0; idx < REGION_VIFS && g->vif_eid[idx]; idx++)
    ;
  if (req->board != 0 && req->board != MX_ANY_NIC)
    r = MX_BOARD_UNKNOWN;
  else if (idx == REGION_VIFS)
    r = MX_NO_RESOURCES;
  else if (endpoints_of_user(be, g->uid) >= be->cfg.endpoints_per_user) {
    be->endpoints_refused++; /* one user does not take every endpoint id */
    r = MX_NO_RESOURCES;
  }
  if (r != MX_SUCCESS) {
    if (lane->fd >= 0)
      close(lane->fd); /* the socket the guest passed */
    lane->fd = -1;
    return r;
  }
  struct engine_owner owner = {.guest_id = g->id, .pid = g->pid, .mem_fd = g->mem_fd,
                               .uid = g->uid, .gid = g->gid,
                               .datapath = g->datapath, .ram = g->ram,
                               .ram_size = g->ram_size, .polled = g->vm_polled};
  _Static_assert(sizeof(owner.name) == sizeof(g->name), "guest names");
  memcpy(owner.name, g->name, sizeof(owner.name));
  if (lane_make(be, g, req, lane) == 0)
    owner.lane = lane->addr;
  r = engine_vif_open(be->engine, &owner, region_vif(g->region, idx), req->eid, req->key,
                          info);
  if (r != MX_SUCCESS) {
    if (lane->fd >= 0)
      close(lane->fd);
    lane->fd = -1;
    return r;
  }
  g->vif_eid[idx] = info->eid + 1;
  *vif_idx = idx;
  if (lane->fd >= 0)
    lane_keep(be, info->eid, lane);
  return MX_SUCCESS;
}

int endpoint_close(struct backend *be, struct be_guest *g, uint32_t vif_idx,
                   const struct ctl_lane_last_ack *acks, uint32_t nacks)
{
  uint32_t eid;
  if (endpoint_at(g, vif_idx, &eid) < 0)
    return -1;
  engine_vif_close(be->engine, eid, acks, nacks);
  lane_retire(be, eid);
  g->vif_eid[vif_idx] = 0;
  return 0;
}

void endpoint_close_all(struct backend *be, struct be_guest *g)
{
  for (uint32_t i = 0; i < REGION_VIFS; i++)
    endpoint_close(be, g, i, NULL, 0);
}
