/*
 * guest.c - admission and reclaim of guests.  A guest *is* its region: a
 * memfd the backend creates, sizes and maps, and passes to the guest.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "backend.h"

static void guest_close_fd(int *fd)
{
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

struct be_guest *guest_new(struct backend *be, int sock, const struct ucred *cr)
{
  for (int i = 0; i < BE_MAX_GUESTS; i++) {
    struct be_guest *g = &be->guests[i];
    if (g->in_use)
      continue;
    memset(g, 0, sizeof(*g));
    g->in_use = 1;
    g->sock = sock;
    g->memfd = g->mbox_kick = g->mbox_bell = g->mem_fd = -1;
    g->id = ++be->next_guest_id;
    g->pid = cr->pid;
    g->uid = cr->uid;
    g->gid = cr->gid;
    g->pidfd = identity_pidfd(sock, cr->pid);
    g->accepted_ns = clock_now_ns();
    return g;
  }
  return NULL;
}

int guest_admit(struct backend *be, struct be_guest *g, const struct ctl_hello *h,
                struct ctl_hello_reply *r)
{
  (void)be;
  g->role = h->role;
  g->datapath = h->datapath;
  memcpy(g->name, h->name, sizeof(g->name));
  g->name[sizeof(g->name) - 1] = 0;
  for (char *c = g->name; *c; c++)
    if (*c < 0x20 || *c > 0x7e)
      *c = '?';
  if (h->role != CTL_ROLE_GUEST)
    return 0;
  g->mem_fd = identity_open_memory(g);
  if (g->mem_fd < 0) {
    int err = g->mem_fd;
    g->mem_fd = -1;
    return err;
  }

  g->memfd = memfd_create("myrixen-region", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (g->memfd < 0)
    return -errno;
  g->mbox_kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  g->mbox_bell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (g->mbox_kick < 0 || g->mbox_bell < 0)
    goto fail;
  if (ftruncate(g->memfd, (off_t)REGION_SIZE) < 0 ||
      fcntl(g->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
    goto fail;
  g->region = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, g->memfd, 0);
  if (g->region == MAP_FAILED) {
    g->region = NULL;
    goto fail;
  }
  struct region_hdr *hdr = g->region;
  hdr->magic = REGION_MAGIC;
  hdr->version = REGION_VERSION;
  hdr->guest_id = g->id;
  hdr->size = REGION_SIZE;
  hdr->nvif = REGION_VIFS;
  hdr->vif_offset = REGION_VIF_OFFSET;
  hdr->vif_stride = sizeof(struct vif);
  hdr->mbox_offset = REGION_MBOX_OFFSET;
  atomic_store(&hdr->backend_state, BACKEND_RUNNING);

  r->guest_id = g->id;
  r->region_version = REGION_VERSION;
  r->region_size = REGION_SIZE;
  log_info("admitted guest %u '%s' (pid %d, datapath %u)", g->id, g->name, (int)g->pid,
           g->datapath);
  return 0;
fail:;
  int err = -errno;
  close(g->memfd);
  g->memfd = -1;
  guest_close_fd(&g->mbox_kick);
  guest_close_fd(&g->mbox_bell);
  guest_close_fd(&g->mem_fd);
  return err;
}

/* The guest left (or died): close its endpoints, unmap its region.  Peers
 * learn through PEER_GONE events; copies in flight are aborted.  Once the
 * engine has closed every VIF it touches the region no more. */
void guest_reclaim(struct backend *be, struct be_guest *g)
{
  endpoint_close_all(be, g);
  struct be_guest gone = *g;
  memset(g, 0, sizeof(*g));
  g->memfd = g->sock = g->mbox_kick = g->mbox_bell = g->pidfd = g->mem_fd = -1;
  if (gone.region)
    munmap(gone.region, REGION_SIZE);
  guest_close_fd(&gone.memfd);
  guest_close_fd(&gone.mbox_kick);
  guest_close_fd(&gone.mbox_bell);
  guest_close_fd(&gone.pidfd);
  guest_close_fd(&gone.mem_fd); /* after the engine closed its VIFs: nothing copies now */
  close(gone.sock);
  if (gone.role == CTL_ROLE_GUEST)
    log_info("guest %u '%s' (pid %d) left; region reclaimed", gone.id, gone.name, (int)gone.pid);
}

struct be_guest *guest_by_id(struct backend *be, uint32_t id)
{
  for (int i = 0; i < BE_MAX_GUESTS; i++)
    if (be->guests[i].in_use && be->guests[i].id == id)
      return &be->guests[i];
  return NULL;
}

int guest_send(struct be_guest *g, const struct ctl_msg *m, const int *fds, int nfds)
{
  if (!(m->seq & CTL_SEQ_MAILBOX))
    return ctl_send(g->sock, m, fds, nfds);
  if (nfds)
    return -1; /* control_dispatch refuses such requests before any handler runs */
  return mailbox_reply(g, m);
}
