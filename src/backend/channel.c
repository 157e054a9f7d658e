/*
 * channel.c - direct guest-to-guest channels on one host.  Only the channel
 * is shared between the two guests, never the rest of either region: a
 * memfd with two queues, two pipes per direction for large messages, and each
 * side's doorbell.  The backend keeps none of it: once passed, the channel
 * belongs to the two guests, and a closed pipe tells one that the other died.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend.h"

#define CHANNEL_PIPE_SIZE (4 << 20)

static void pipe_grow(int fd)
{
  if (fcntl(fd, F_SETPIPE_SZ, CHANNEL_PIPE_SIZE) < 0)
    fcntl(fd, F_SETPIPE_SZ, 1 << 20);
}

/* fds_x[CHANNEL_FDS]: the channel's memfd, the write ends of x's two pipes
 * to the other, the read ends of the other's two pipes to x, the peer's
 * doorbell (region.h).  The caller sends them and closes them. */
int channel_create(const struct engine_vif_info *a, const struct engine_vif_info *b,
                   int fds_a[CHANNEL_FDS], int fds_b[CHANNEL_FDS])
{
  int memfd = -1, p_ab[2][2] = {{-1, -1}, {-1, -1}}, p_ba[2][2] = {{-1, -1}, {-1, -1}};
  struct channel *ch = MAP_FAILED;

  memfd = memfd_create("myrixen-channel", MFD_CLOEXEC);
  if (memfd < 0 || ftruncate(memfd, (off_t)CHANNEL_SIZE) < 0)
    goto fail;
  ch = mmap(NULL, CHANNEL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  if (ch == MAP_FAILED)
    goto fail;
  ch->hdr.magic = CHANNEL_MAGIC;
  ch->hdr.version = CHANNEL_VERSION;
  ch->hdr.eid[0] = a->eid;
  ch->hdr.eid[1] = b->eid;
  munmap(ch, CHANNEL_SIZE);
  for (int k = 0; k < 2; k++) {
    if (pipe2(p_ab[k], O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(p_ba[k], O_CLOEXEC | O_NONBLOCK) < 0)
      goto fail;
    pipe_grow(p_ab[k][1]);
    pipe_grow(p_ba[k][1]);
  }
  fds_a[0] = memfd;
  fds_a[1] = p_ab[0][1];
  fds_a[2] = p_ba[0][0];
  fds_a[3] = dup(b->doorbell);
  fds_a[4] = p_ab[1][1];
  fds_a[5] = p_ba[1][0];
  fds_b[0] = dup(memfd);
  fds_b[1] = p_ba[0][1];
  fds_b[2] = p_ab[0][0];
  fds_b[3] = dup(a->doorbell);
  fds_b[4] = p_ba[1][1];
  fds_b[5] = p_ab[1][0];
  return 0;
fail:;
  int err = -errno;
  if (memfd >= 0)
    close(memfd);
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < 2; i++) {
      if (p_ab[k][i] >= 0)
        close(p_ab[k][i]);
      if (p_ba[k][i] >= 0)
        close(p_ba[k][i]);
    }
  return err;
}
