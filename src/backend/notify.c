/*
 * notify.c - systemd's readiness protocol (sd_notify(3)), without
 * libsystemd: under Type=notify, systemd names a datagram socket in
 * NOTIFY_SOCKET, and "READY=1" sent there says the backend serves (its
 * socket listens and its engine runs).  Elsewhere it does nothing.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/log.h"
#include "backend.h"

void notify_ready(void)
{
  const char *path = getenv("NOTIFY_SOCKET");
  if (!path || (path[0] != '/' && path[0] != '@'))
    return;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  size_t len = strlen(path);
  if (len >= sizeof(sa.sun_path))
    return;
  memcpy(sa.sun_path, path, len);
  if (path[0] == '@')
    sa.sun_path[0] = 0; /* an abstract socket */
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  char msg[64];
  int n = snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%d", (int)getpid());
  if (s < 0 || sendto(s, msg, (size_t)n, 0, (struct sockaddr *)&sa,
                      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
    log_warn("cannot tell systemd we are ready (%s)", path);
  if (s >= 0)
    close(s);
}
