/* ivshmem_server.h - a VM launcher as the ivshmem server of its VM's
 * ivshmem-doorbell device (ivshmem_server.c). */
#ifndef MYRIXEN_IVSHMEM_SERVER_H
#define MYRIXEN_IVSHMEM_SERVER_H

/* The backend's peer id: the guest library writes (IVSHMEM_BACKEND_PEER
 * << 16 | 0) to the Doorbell register to ring it (src/lib/vmdev.c). */
#define IVSHMEM_BACKEND_PEER 0

struct ivshmem_server {
  char dir[64];                 /* a private directory for ... */
  char path[96];                /* ... the socket QEMU connects to */
  int lsock, conn, own;
};

/* Listen on a new socket (s->path): 0, or -1. */
int ivshmem_listen(struct ivshmem_server *s);
/* Take QEMU's connection (within timeout_ms) and tell it its id, the
 * shared memory shm_fd, and the backend's doorbell: 0, or -1. */
int ivshmem_serve(struct ivshmem_server *s, int shm_fd, int backend_doorbell, int timeout_ms);
/* Close everything, remove the socket and its directory. */
void ivshmem_close(struct ivshmem_server *s);

#endif
