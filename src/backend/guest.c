/*
 * guest.c - admission and reclaim of guests.  A guest *is* its region: a
 * memfd the backend creates, sizes, seals and maps, and passes to the
 * guest (a process maps it; a VM's launcher hands it to QEMU, which shows
 * it to the VM as the BAR2 of an ivshmem-plain device).  A VM also gets
 * its RAM from here, a sealed memfd that QEMU maps as the machine's memory
 * and the engine maps to reach the VM's buffers by guest-physical address.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

/* Is pid in our pid namespace: 1 yes, 0 no (a container's), -1 unknown. */
static int in_our_pidns(pid_t pid)
{
  char path[64];
  struct stat mine, its;
  snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
  if (stat("/proc/self/ns/pid", &mine) < 0 || stat(path, &its) < 0)
    return -1;
  return mine.st_ino == its.st_ino && mine.st_dev == its.st_dev;
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
    g->memfd = g->mbox_kick = g->mbox_bell = g->mem_fd = g->ram_fd = -1;
    g->id = ++be->next_guest_id;
    g->pid = cr->pid;
    g->uid = cr->uid;
    g->gid = cr->gid;
    g->pidfd = identity_pidfd(sock, cr->pid);
    g->accepted_ns = clock_now_ns();
    g->kind = "process";
    return g;
  }
  return NULL;
}

/* A sealed memfd of size bytes (it can neither shrink under a mapping,
 * which would fault the engine, nor grow), mapped map_len bytes: 0, or
 * -errno. */
static int sealed_area(const char *name, uint64_t size, uint64_t map_len, int *fd, void **map)
{
  *fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (*fd < 0)
    return -errno;
  if (ftruncate(*fd, (off_t)size) < 0 ||
      fcntl(*fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
    return -errno;
  *map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
  if (*map == MAP_FAILED) {
    *map = NULL;
    return -errno;
  }
  return 0;
}

static void region_publish(struct be_guest *g)
{
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
}

static void guest_name(struct be_guest *g, const char *name)
{
  memcpy(g->name, name, sizeof(g->name));
  g->name[sizeof(g->name) - 1] = 0;
  for (char *c = g->name; *c; c++)
    if (*c < 0x20 || *c > 0x7e)
      *c = '?';
}

/* RAM held by the VMs of user uid (MiB). */
static uint64_t vm_mem_of_user(const struct backend *be, uid_t uid)
{
  uint64_t mb = 0;
  for (int i = 0; i < BE_MAX_GUESTS; i++)
    if (be->guests[i].in_use && be->guests[i].uid == uid)
      mb += be->guests[i].ram_size >> 20;
  return mb;
}

/* A VM: its region (a power of two, for a BAR) and its RAM, within its
 * user's share: the RAM is ours, a memfd, and one user does not take all
 * the host's memory through it. */
static int vm_admit(struct backend *be, struct be_guest *g, const struct ctl_hello *h)
{
  if (h->vm_mem_mb == 0 || h->vm_mem_mb > CTL_VM_MEM_MAX_MB)
    return -EINVAL;
  if (vm_mem_of_user(be, g->uid) + h->vm_mem_mb > be->cfg.vm_mem_per_user_mb) {
    be->vms_refused++;
    return -EDQUOT;
  }
  g->kind = "vm";
  g->vm_polled = !(h->vm_flags & CTL_VM_DOORBELL);
  g->datapath = DP_ENGINE; /* a VM has no descriptors to take a direct channel's */
  g->region_len = region_bar_size();
  g->ram_size = (uint64_t)h->vm_mem_mb << 20;
  int r = sealed_area("myrixen-vm-region", g->region_len, REGION_SIZE, &g->memfd, &g->region);
  if (r == 0)
    r = sealed_area("myrixen-vm-ram", g->ram_size, g->ram_size, &g->ram_fd, &g->ram);
  return r;
}

int guest_admit(struct backend *be, struct be_guest *g, const struct ctl_hello *h,
                struct ctl_hello_reply *r)
{
  g->role = h->role;
  g->datapath = h->datapath;
  guest_name(g, h->name);
  int err;
  if (h->role == CTL_ROLE_MONITOR)
    return 0;
  if (h->role == CTL_ROLE_VM) {
    err = vm_admit(be, g, h);
  } else {
    int here = in_our_pidns(g->pid);
    g->kind = here == 0 ? "container" : "process";
    g->pid_ours = here == 1;
    g->mem_fd = identity_open_memory(g);
    if (g->mem_fd < 0) {
      err = g->mem_fd;
      g->mem_fd = -1;
      return err;
    }
    g->region_len = REGION_SIZE;
    g->mbox_kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    g->mbox_bell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    err = g->mbox_kick < 0 || g->mbox_bell < 0
              ? -EMFILE
              : sealed_area("myrixen-region", REGION_SIZE, REGION_SIZE, &g->memfd, &g->region);
  }
  if (err < 0 || !g->region) {
    err = err < 0 ? err : -ENOMEM; /* (sealed_area maps it when it succeeds) */
    goto fail;
  }
  region_publish(g);
  r->guest_id = g->id;
  r->region_version = REGION_VERSION;
  r->region_size = g->region_len;
  if (h->role == CTL_ROLE_VM)
    log_info("admitted VM %u '%s' (launcher pid %d, %u MiB)", g->id, g->name, (int)g->pid,
             h->vm_mem_mb);
  else
    log_info("admitted guest %u '%s' (%s pid %d, datapath %u)", g->id, g->name, g->kind,
             (int)g->pid, g->datapath);
  return 0;
fail:
  if (g->region)
    munmap(g->region, REGION_SIZE);
  if (g->ram)
    munmap(g->ram, g->ram_size);
  g->region = g->ram = NULL;
  guest_close_fd(&g->memfd);
  guest_close_fd(&g->ram_fd);
  guest_close_fd(&g->mbox_kick);
  guest_close_fd(&g->mbox_bell);
  guest_close_fd(&g->mem_fd);
  return err;
}

void guest_vm_attach(struct backend *be, struct be_guest *g, const struct ctl_hello *h)
{
  if (g->vm_attached)
    log_info("VM %u '%s': a new program attached; the last one's endpoints close", g->id,
             g->name);
  endpoint_close_all(be, g);
  /* the backend's word in the header again, whatever a program left there */
  region_publish(g);
  g->vm_attached = 1; /* the VM keeps its name; the program's is only logged */
  g->vm_beat_seen = atomic_load(&((struct region_hdr *)g->region)->guest_beat);
  g->vm_beat_ns = clock_now_ns();
  char prog[sizeof(h->name)];
  memcpy(prog, h->name, sizeof(prog));
  prog[sizeof(prog) - 1] = 0;
  for (char *c = prog; *c; c++) /* logged, not kept: printable all the same */
    if (*c < 0x20 || *c > 0x7e)
      *c = '?';
  log_info("VM %u '%s': program '%s' attached", g->id, g->name, prog);
}

void guest_vm_check(struct backend *be, struct be_guest *g, uint64_t now)
{
  if (!g->vm_attached)
    return;
  uint32_t beat = atomic_load_explicit(&((struct region_hdr *)g->region)->guest_beat,
                                       memory_order_relaxed);
  if (beat != g->vm_beat_seen) {
    g->vm_beat_seen = beat;
    g->vm_beat_ns = now;
    return;
  }
  if (now - g->vm_beat_ns < REGION_GUEST_BEAT_DEAD_MS * 1000000ull)
    return;
  int open = 0;
  for (uint32_t k = 0; k < REGION_VIFS; k++)
    open += g->vif_eid[k] != 0;
  if (open) /* (none: the program closed them, and ended as it should) */
    log_warn("VM %u '%s': its program's beat stood still for %u ms: its %d endpoints close",
             g->id, g->name, REGION_GUEST_BEAT_DEAD_MS, open);
  endpoint_close_all(be, g);
  g->vm_attached = 0;
}

/* The guest left (or died; a VM: its launcher, and with it QEMU): close
 * its endpoints, unmap its region (and a VM's RAM).  Peers learn through
 * PEER_GONE events; copies in flight are aborted.  Once the engine has
 * closed every VIF it touches the region and the RAM no more. */
void guest_reclaim(struct backend *be, struct be_guest *g)
{
  endpoint_close_all(be, g);
  struct be_guest gone = *g;
  memset(g, 0, sizeof(*g));
  g->memfd = g->sock = g->mbox_kick = g->mbox_bell = g->pidfd = g->mem_fd = g->ram_fd = -1;
  if (gone.region)
    munmap(gone.region, REGION_SIZE);
  if (gone.ram)
    munmap(gone.ram, gone.ram_size);
  /* A VM's launcher may keep its memfds past the VM: whatever it keeps is
   * empty, and the host's memory (which the engine's copies allocated in
   * the backend's name) is given back now. */
  if (gone.ram_fd >= 0)
    fallocate(gone.ram_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)gone.ram_size);
  if (gone.ram_fd >= 0 && gone.memfd >= 0)
    fallocate(gone.memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)gone.region_len);
  guest_close_fd(&gone.memfd);
  guest_close_fd(&gone.ram_fd);
  guest_close_fd(&gone.mbox_kick);
  guest_close_fd(&gone.mbox_bell);
  guest_close_fd(&gone.pidfd);
  guest_close_fd(&gone.mem_fd); /* after the engine closed its VIFs: nothing copies now */
  close(gone.sock);
  if (gone.role == CTL_ROLE_GUEST || gone.role == CTL_ROLE_VM)
    log_info("%s %u '%s' (pid %d) left; region reclaimed", gone.kind, gone.id, gone.name,
             (int)gone.pid);
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
