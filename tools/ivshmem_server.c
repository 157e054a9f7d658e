/*
 * ivshmem_server.c - the server side of QEMU's ivshmem protocol
 * (docs/specs/ivshmem-spec in QEMU), for one VM: its launcher serves it.
 *
 * An ivshmem-doorbell device connects to a Unix socket and is told, each
 * message an 8-byte little-endian number with at most one descriptor:
 * the protocol version (0), its own id, -1 with the shared memory, then
 * for each peer its id once per interrupt vector with the eventfd that
 * rings it, and last its own id with its own vectors' eventfds.  Here the
 * shared memory is the VM's region and the one peer, id 0, is the
 * backend, whose eventfd is the engine's doorbell: a guest's write of 0
 * to the Doorbell register wakes the engine, as a process's write to the
 * same eventfd does.  Debian ships no ivshmem-server; this is all of it
 * that one VM needs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ivshmem_server.h"

#define IVSHMEM_PROTOCOL_VERSION 0
#define VM_PEER_ID 1

int ivshmem_listen(struct ivshmem_server *s)
{
  snprintf(s->dir, sizeof(s->dir), "/tmp/myrixen-vm-XXXXXX");
  if (!mkdtemp(s->dir))
    return -1;
  snprintf(s->path, sizeof(s->path), "%s/ivshmem.sock", s->dir);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->path);
  s->lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  s->conn = s->own = -1;
  if (s->lsock < 0 || bind(s->lsock, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
      listen(s->lsock, 1) < 0) {
    ivshmem_close(s);
    return -1;
  }
  return 0;
}

/* One message: a number and maybe a descriptor. */
static int send_msg(int sock, int64_t v, int fd)
{
  struct iovec iov = {&v, sizeof(v)};
  char ctl[CMSG_SPACE(sizeof(int))];
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
  if (fd >= 0) {
    memset(ctl, 0, sizeof(ctl));
    mh.msg_control = ctl;
    mh.msg_controllen = sizeof(ctl);
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(v) ? 0 : -1;
}

int ivshmem_serve(struct ivshmem_server *s, int shm_fd, int backend_doorbell, int timeout_ms)
{
  struct pollfd p = {.fd = s->lsock, .events = POLLIN};
  if (poll(&p, 1, timeout_ms) <= 0)
    return -1; /* QEMU never connected */
  s->conn = accept4(s->lsock, NULL, NULL, SOCK_CLOEXEC);
  s->own = eventfd(0, EFD_CLOEXEC); /* the VM's own vector: nobody rings it */
  if (s->conn < 0 || s->own < 0)
    return -1;
  return send_msg(s->conn, IVSHMEM_PROTOCOL_VERSION, -1) || send_msg(s->conn, VM_PEER_ID, -1) ||
                 send_msg(s->conn, -1, shm_fd) ||
                 send_msg(s->conn, IVSHMEM_BACKEND_PEER, backend_doorbell) ||
                 send_msg(s->conn, VM_PEER_ID, s->own)
             ? -1
             : 0;
}

void ivshmem_close(struct ivshmem_server *s)
{
  if (s->conn >= 0)
    close(s->conn);
  if (s->own >= 0)
    close(s->own);
  if (s->lsock >= 0)
    close(s->lsock);
  s->conn = s->own = s->lsock = -1;
  if (s->path[0])
    unlink(s->path);
  if (s->dir[0])
    rmdir(s->dir);
  s->path[0] = s->dir[0] = 0;
}
