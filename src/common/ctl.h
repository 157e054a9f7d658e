/*
 * ctl.h - the control protocol (ctl_abi.h) over a SOCK_SEQPACKET Unix
 * socket: one message per packet, file descriptors (the region memfd,
 * eventfds, channel memfds and pipes) passed with SCM_RIGHTS.
 *
 * The control path only: hello (admission), endpoints, connections, info.
 * The backend validates every field of every message; a malformed message
 * gets a CTL_ERROR reply naming the fault, never a crash.
 */
#ifndef MYRIXEN_CTL_H
#define MYRIXEN_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ctl_abi.h"

/* Send one message with up to CTL_MAX_FDS descriptors.  0 or -errno. */
int ctl_send(int sock, const struct ctl_msg *m, const int *fds, int nfds);

/* Receive one message into buf (capacity cap bytes, at least
 * sizeof(struct ctl_msg)); descriptors received go to fds[] (CTL_MAX_FDS
 * entries, unused ones -1).  Returns the byte count, 0 on peer close, or
 * -errno; -EBADMSG for a short or badly framed message (its fds closed). */
ssize_t ctl_recv(int sock, struct ctl_msg *buf, size_t cap, int *fds, int *nfds);

/* The backend's socket: $MYRIXEN_SOCKET, else CTL_DEFAULT_SOCKET.  Guests,
 * the tool and the backend itself all find it here. */
const char *ctl_socket_path(void);

/* Connect to the backend's socket at path (flags: SOCK_NONBLOCK or 0).
 * The socket, or -errno. */
int ctl_connect(const char *path, int flags);

/* One request to the backend at path as a monitor (no region, no
 * endpoint: `myrixen info`, the metrics exporter): hello as name, send req,
 * receive the reply into rep (capacity cap, at least sizeof(struct
 * ctl_msg)).  0; -1 no backend answers at path; -2 it refused the hello;
 * -3 no reply to req. */
int ctl_monitor_call(const char *path, const char *name, struct ctl_msg *req,
                     struct ctl_msg *rep, size_t cap);
/* The same in two steps, for a monitor that keeps its connection (the
 * metrics exporter): connected and greeted (the socket, -1 or -2), then
 * any number of requests on it (0 or -3).  Replies wait 5 s at most. */
int ctl_monitor_open(const char *path, const char *name);
/* The hello alone, on a socket connected with ctl_connect: 0 or -2. */
int ctl_monitor_hello(int sock, const char *name);
int ctl_monitor_request(int sock, struct ctl_msg *req, struct ctl_msg *rep, size_t cap);

/* Fill a message header. */
void ctl_init(struct ctl_msg *m, enum ctl_type type, uint32_t seq);

/* Close every descriptor in fds[0..n) that is >= 0. */
void ctl_close_fds(int *fds, int n);

#endif /* MYRIXEN_CTL_H */
