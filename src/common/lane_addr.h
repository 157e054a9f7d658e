/*
 * lane_addr.h - a lane's address (ctl_abi.h's struct lane_addr) as a
 * socket address and back, and the bind that gives a lane its port.
 * Used by the backend, which binds a guest's lane, and by the library,
 * which sends to a peer's.
 */
#ifndef MYRIXEN_LANE_ADDR_H
#define MYRIXEN_LANE_ADDR_H

#include <sys/socket.h>

#include "ctl_abi.h"

/* a's IP and port as a socket address (*len its length).  0, or -1 when
 * a's family is neither 4 nor 6. */
int lane_addr_to_sockaddr(const struct lane_addr *a, struct sockaddr_storage *ss,
                          socklen_t *len);

/* ss's IP, port and family into a (its mtu and nonce untouched).  0, or
 * -1 when ss is neither IPv4 nor IPv6. */
int lane_addr_from_sockaddr(struct lane_addr *a, const struct sockaddr_storage *ss);

/* Bind UDP socket fd to ss's IP (ss's port is ignored) on a port that is
 * named in the bind, and return it in ss.  A socket bound to port 0 gives
 * its port up when it is disconnected (connect with AF_UNSPEC), which the
 * library does when a lane gets a second peer (lane.c); another local
 * user could then take the port while peers still trust it.  A port named
 * in the bind is the kernel's to keep for the socket's life.  The port is
 * found by a probe socket bound to port 0 and closed; when another socket
 * takes it meanwhile, another is tried.  0, or -1 with errno set. */
int lane_bind_named_port(int fd, struct sockaddr_storage *ss, socklen_t len);

#endif
