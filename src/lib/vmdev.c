/*
 * vmdev.c - the platform this library runs on, and, in a VM, the region
 * on its ivshmem-plain PCI device and the physical pages of its buffers.
 *
 * In a QEMU VM the region is the BAR2 of an ivshmem device (vendor
 * 0x1af4, device 0x1110: ivshmem-plain, or ivshmem-doorbell, whose
 * Doorbell register rings the engine as a process rings its eventfd).  It is found by its ids, not its slot (the slot
 * differs between machine types), enabled, and mapped through sysfs
 * (resource2): no driver, no hypervisor call.  The engine reaches this
 * VM's memory through its RAM file, by guest-physical address: a grant
 * names the frames under a buffer, read from /proc/self/pagemap (root
 * only: the VM's program runs as root) once the pages are locked.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/clock.h"
#include "lib.h"
#include "base.h"

#define IVSHMEM_VENDOR 0x1af4
#define IVSHMEM_DEVICE 0x1110

static unsigned long sysfs_hex(const char *dir, const char *file)
{
  char path[512], buf[32] = "";
  snprintf(path, sizeof(path), "%s/%s", dir, file);
  FILE *f = fopen(path, "r");
  if (!f)
    return 0;
  if (!fgets(buf, sizeof(buf), f))
    buf[0] = 0;
  fclose(f);
  return strtoul(buf, NULL, 16);
}

/* The sysfs directory of the first ivshmem-plain device: 0, or -1. */
static int vmdev_find(char *dir, size_t len)
{
  const char *root = "/sys/bus/pci/devices";
  DIR *d = opendir(root);
  if (!d)
    return -1;
  int found = -1;
  struct dirent *de;
  while (found < 0 && (de = readdir(d))) {
    if (de->d_name[0] == '.')
      continue;
    snprintf(dir, len, "%s/%s", root, de->d_name);
    if (sysfs_hex(dir, "vendor") == IVSHMEM_VENDOR && sysfs_hex(dir, "device") == IVSHMEM_DEVICE)
      found = 0;
  }
  closedir(d);
  return found;
}

int vmdev_present(void)
{
  char dir[512];
  return vmdev_find(dir, sizeof(dir)) == 0;
}

int vmdev_platform_vm(void)
{
  const char *p = getenv("MYRIXEN_PLATFORM");
  if (p && !strcmp(p, "vm"))
    return 1;
  if (p && !strcmp(p, "process"))
    return 0;
  if (p)
    fprintf(stderr, "libmyrixen: MYRIXEN_PLATFORM=%s unknown (process, vm): detecting\n", p);
  return vmdev_present();
}

/* BAR0 of the device: its registers.  On ivshmem-doorbell, a write of
 * (peer << 16 | vector) to Doorbell makes QEMU ring that peer's eventfd:
 * peer 0 is the backend, its eventfd the engine's doorbell.  On
 * ivshmem-plain the write goes nowhere (there are no peers). */
#define IVSHMEM_REG_DOORBELL 12
#define IVSHMEM_BACKEND_PEER 0
static volatile uint32_t *registers;

static void vmdev_map_registers(const char *dir)
{
  char path[600];
  snprintf(path, sizeof(path), "%s/resource0", dir);
  int fd = open(path, O_RDWR | O_SYNC | O_CLOEXEC);
  if (fd < 0)
    return;
  void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p != MAP_FAILED)
    registers = p;
}

void vmdev_kick(void)
{
  if (registers)
    registers[IVSHMEM_REG_DOORBELL / 4] = IVSHMEM_BACKEND_PEER << 16 | 0;
}

void *vmdev_map(size_t *len, const char **why)
{
  char dir[512], path[600];
  if (vmdev_find(dir, sizeof(dir)) < 0) {
    *why = "no ivshmem device (1af4:1110) in this VM";
    return NULL;
  }
  /* A device the kernel has no driver for starts disabled: its BARs do
   * not decode until it is. */
  snprintf(path, sizeof(path), "%s/enable", dir);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (write(fd, "1", 1) < 0) {
      /* already enabled: EBUSY on some kernels; the map says */
    }
    close(fd);
  }
  if (!registers)
    vmdev_map_registers(dir);
  snprintf(path, sizeof(path), "%s/resource2", dir);
  fd = open(path, O_RDWR | O_SYNC | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0) {
    *why = "cannot open the ivshmem device's BAR2 (resource2; root only)";
    if (fd >= 0)
      close(fd);
    return NULL;
  }
  void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) {
    *why = "cannot map the ivshmem device's BAR2";
    return NULL;
  }
  *len = (size_t)st.st_size;
  return p;
}

#define PAGE 4096ull
#define PFN_MASK ((1ull << 55) - 1)
#define PM_PRESENT (1ull << 63)

/* The guest-physical runs under [addr, addr + len): at most max of them
 * into out (a run per physically contiguous stretch), locked first so that
 * they stay where they are.  write: the engine will write there (the pages
 * must be our own, not the zero page a read leaves).  The number of runs,
 * or -1 (errno: ENOSPC when more than max). */
int vmdev_phys_runs(const void *addr, size_t len, int write, struct iovec *out, int max)
{
  static int pagemap = -1;
  if (len == 0)
    return 0;
  uintptr_t a = (uintptr_t)addr, first = a & ~(PAGE - 1), end = a + len;
  /* Locked pages stay resident (the VM's /init also stops compaction
   * moving them: vm.compact_unevictable_allowed=0).  Locking a writable
   * private mapping faults it in for writing, so every page is our own.
   * They stay locked: mlock does not nest, and an unlock here could undo
   * another request's lock on a shared page. */
  if (mlock((void *)first, end - first) < 0)
    return -1;
  /* The touch is needed: mlock faults the pages in only where it is
   * mlock (a sanitizer's runtime makes it a no-op), and the engine must
   * find its frames present and, to write there, our own. */
  if (write)
    for (uintptr_t p = first; p < end; p += PAGE)
      __atomic_fetch_add((volatile uint8_t *)(p < a ? a : p), 0, __ATOMIC_RELAXED);
  if (pagemap < 0)
    pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (pagemap < 0)
    return -1;
  int n = 0;
  uint64_t ents[512]; /* the pagemap is read 512 pages (2 MiB) at a time */
  uintptr_t have = first, upto = first;
  for (uintptr_t p = first; p < end; p += PAGE) {
    if (p >= upto) {
      size_t k = (end - p + PAGE - 1) / PAGE;
      k = k > 512 ? 512 : k;
      if (pread(pagemap, ents, k * sizeof(ents[0]), (off_t)(p / PAGE * sizeof(ents[0]))) !=
          (ssize_t)(k * sizeof(ents[0])))
        return -1;
      have = p;
      upto = p + k * PAGE;
    }
    uint64_t ent = ents[(p - have) / PAGE];
    if (!(ent & PM_PRESENT) || !(ent & PFN_MASK)) {
      errno = EFAULT; /* not resident, or frame numbers hidden (not root) */
      return -1;
    }
    uint64_t phys = (ent & PFN_MASK) * PAGE + (p < a ? a - p : 0);
    uint64_t stop = p + PAGE < end ? p + PAGE : end;
    uint64_t piece = stop - (p < a ? a : p);
    if (n > 0 && (uint64_t)(uintptr_t)out[n - 1].iov_base + out[n - 1].iov_len == phys) {
      out[n - 1].iov_len += piece;
      continue;
    }
    if (n == max) {
      errno = ENOSPC;
      return -1;
    }
    out[n].iov_base = (void *)(uintptr_t)phys;
    out[n++].iov_len = piece;
  }
  return n;
}

int vmdev_backend_silent(void)
{
  struct region_hdr *hdr = lib.region;
  uint32_t beat = atomic_load_explicit(&hdr->beat, memory_order_relaxed);
  uint64_t now = clock_now_ns();
  uint64_t seen_ns = atomic_load_explicit(&lib.beat_ns, memory_order_relaxed);
  if (beat != atomic_load_explicit(&lib.beat_seen, memory_order_relaxed) || !seen_ns) {
    atomic_store_explicit(&lib.beat_seen, beat, memory_order_relaxed);
    atomic_store_explicit(&lib.beat_ns, now, memory_order_relaxed);
    return 0;
  }
  return now - seen_ns > REGION_BEAT_DEAD_MS * 1000000ull;
}

/* The program's beat: a thread of ours bumps guest_beat while we live
 * (the backend cannot see a program in a VM exit: it closes the program's
 * endpoints, and so revokes its grants, once the beat stands still). */
static pthread_t beat_thread;
static _Atomic int beat_run;
static struct region_hdr *beat_hdr;

static void *beat_main(void *arg)
{
  (void)arg;
  while (atomic_load(&beat_run)) {
    atomic_fetch_add_explicit(&beat_hdr->guest_beat, 1, memory_order_relaxed);
    struct timespec ts = {0, REGION_BEAT_MS * 1000000L};
    nanosleep(&ts, NULL);
  }
  return NULL;
}

void vmdev_beat_start(void *region)
{
  beat_hdr = region;
  atomic_fetch_add(&beat_hdr->guest_beat, 1);
  atomic_store(&beat_run, 1);
  if (pthread_create(&beat_thread, NULL, beat_main, NULL) != 0)
    atomic_store(&beat_run, 0);
}

void vmdev_beat_stop(void)
{
  if (!atomic_exchange(&beat_run, 0))
    return;
  pthread_join(beat_thread, NULL);
}
