/*
 * port.h - a backend's network ports: where the engine's wire packets
 * leave and arrive.  Kinds: udp (any IP network, IPv4 or IPv6) and eth
 * (raw Ethernet over AF_PACKET with the project's EtherType).  Every port
 * has a fault layer (fault.h) on its way out, off unless configured.
 *
 * Ports are used by the engine with the backend's lock held; they never
 * block (non-blocking sockets).
 */
#ifndef MYRIXEN_PORT_H
#define MYRIXEN_PORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../common/fault.h"

enum port_kind { PORT_UDP = 1, PORT_ETH = 2 };

/* A peer's address on a port. */
struct port_addr {
  struct sockaddr_storage ss; /* udp: the peer's IP and port */
  socklen_t sslen;
  uint8_t mac[6];             /* eth: the peer's MAC */
};

struct port_counters {
  uint64_t tx_packets, tx_bytes, tx_errors;
  uint64_t tx_sends;            /* datagrams or GSO runs handed to the kernel */
  uint64_t rx_packets, rx_bytes;
  uint64_t rx_reads;            /* datagrams or GRO runs read from it, or batches of
                                   frames taken from the ring */
  uint64_t ring_grown;          /* eth: receive rings made again for longer frames */
  uint64_t rx_dropped;          /* eth: dropped by the kernel, our queue or ring full
                                   (PACKET_STATISTICS, as of port_count_drops) */
};

#define PORT_BATCH_PKTS 256           /* packets queued before a flush */
#define PORT_BATCH_BYTES (256 * 1024) /* of copies of packets not PORT_STABLE */

/* port_send flags */
#define PORT_STABLE 0x1 /* the buffer stays as it is until the next port_flush:
                           queued by reference, not copied */

struct port_batch;
struct eth_ring;

#define PORT_RX_BATCH 16              /* datagrams read with one syscall */

/* Datagrams read from the socket, handed out a packet at a time (rx.c):
 * with UDP GRO a datagram is a run of packets from one sender. */
struct port_rx {
  uint8_t *buf;                 /* PORT_RX_BATCH buffers of cap bytes */
  uint32_t cap;
  uint32_t n, i, off;           /* datagrams read; the one handed out; where in it */
  uint32_t len[PORT_RX_BATCH];
  uint32_t seg[PORT_RX_BATCH];  /* size of each packet in it (the last may be shorter) */
  struct port_addr from[PORT_RX_BATCH];
};

struct port {
  enum port_kind kind;
  int fd;
  uint32_t mtu;               /* largest wire packet, header included */
  int ifindex;                /* eth */
  char spec[96];              /* as given: udp:ADDR:PORT or eth:IFNAME */
  int bfd;                    /* udp: bound to the subnet's broadcast address (IPv4) or
                                 to the link's all-nodes group ff02::1 (IPv6), or -1 */
  struct port_addr broadcast; /* where discovery hellos go (valid when has_broadcast) */
  int has_broadcast;
  int gso;                    /* udp: the kernel segments runs of packets (UDP_SEGMENT) */
  int gro;                    /* udp: the kernel hands over runs coalesced (UDP_GRO) */
  struct port_batch *tx;      /* packets waiting for port_flush (batch.c) */
  struct eth_ring *ring;      /* eth: the receive ring shared with the kernel (ring.c),
                                 or NULL: the socket's own queue */
  struct port_rx rx;
  struct fault fault;
  struct port_counters c;
};

/* Open a port from "udp:ADDR:PORT" (ADDR an IPv4 address, or an IPv6 one
 * in brackets) or "eth:IFNAME".  0, or -1 with a reason in err. */
int port_open(struct port *p, const char *spec, char *err, size_t errlen);
void port_close(struct port *p);

/* Parse a peer's address as written in a peers file for this kind of port
 * ("ADDR:PORT", "[ADDR6]:PORT", or a MAC "aa:bb:cc:dd:ee:ff").  0 or -1. */
int port_parse_addr(const struct port *p, const char *text, struct port_addr *a);
/* Print an address as port_parse_addr reads it. */
void port_format_addr(const struct port *p, const struct port_addr *a, char *buf, size_t len);
int port_addr_equal(const struct port *p, const struct port_addr *a, const struct port_addr *b);

/* Send one packet through the fault layer: queued until port_flush, or
 * until the batch is full (copied unless flags has PORT_STABLE).  0, or
 * -1 (counted). */
int port_send(struct port *p, const struct port_addr *to, const void *pkt, size_t len,
              uint64_t now_ns, int flags);
/* Hand the queued packets to the kernel.  0, or -1 when some could not go
 * (counted as tx_errors: the reliable stream resends them). */
int port_flush(struct port *p);
/* Receive one packet: its length, *pkt and its sender *from, valid while
 * port_rx_more (below); 0 when none waits, -1 on error.  A datagram longer
 * than any wire packet is reported with a length above WIRE_MAX_PACKET. */
ssize_t port_recv(struct port *p, const uint8_t **pkt, const struct port_addr **from);
/* True while what port_recv read last holds more packets: what the
 * packets it handed out point to stays valid until it is false. */
static inline int port_rx_more(const struct port *p)
{
  return p->rx.i < p->rx.n;
}
/* The same from the port's broadcast or multicast socket (udp), where discovery hellos
 * arrive. */
ssize_t port_recv_broadcast(struct port *p, void *buf, size_t cap, struct port_addr *from);
/* Bring rx_dropped up to date (a syscall: for reports, not every round). */
void port_count_drops(struct port *p);
/* Send what the fault layer held back and is now due; returns packets sent. */
int port_flush_delayed(struct port *p, uint64_t now_ns);

/* Queue a packet, below the fault layer (fault.c uses it; batch.c). */
int port_xmit(struct port *p, const struct port_addr *to, const void *pkt, size_t len,
              int flags);
int port_batch_init(struct port *p);
void port_batch_free(struct port *p);
int port_rx_init(struct port *p);
void port_rx_free(struct port *p);
/* The eth port's receive ring (ring.c): set up on the port's socket, 0
 * or -1; then port_recv reads it. */
int ring_open(struct port *p);
void ring_close(struct port *p);
ssize_t ring_recv(struct port *p, const uint8_t **pkt, const struct port_addr **from);
/* The socket address of a peer's address on this port (batch.c). */
socklen_t port_sockaddr(const struct port *p, const struct port_addr *a,
                        struct sockaddr_storage *ss);

#endif
