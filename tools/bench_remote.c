/*
 * bench_remote.c - benchmarks across hosts.
 *
 *   on host B:  myrixen bench serve [--eid N] [--udp-port P]
 *   on host A:  myrixen bench pingpong|stream --remote B [--sizes ...]
 *
 * The server is a reflector: an MX endpoint that answers every ping of
 * match 1 with the same length, acknowledges the end of a stream (match 3)
 * and stops on match 4; a UDP socket that does the same for the raw
 * socket baselines; and a TCP server on the same port number that either
 * counts a stream's bytes and answers their count (as iperf3 measures a
 * stream) or answers pings (TCP_NODELAY, busy-polled); and, where it may
 * open a packet socket, a sink of raw Ethernet frames (bench_frames.h).
 *
 * The baselines are the kernel's fastest honest versions: UDP both
 * blocking (every datagram wakes a sleeping receiver) and busy-polled
 * (non-blocking receives in a loop on both ends, SO_BUSY_POLL where the
 * device has it, as sockperf --busy-poll measures), TCP ping-pong and
 * stream; beside an eth port (--baseline-dev), raw frames of the link's
 * MTU as fast as the kernel moves them.  The reflector spins only while a busy-polled run asks it to, so
 * it leaves its core to the backend in MyriXen's rounds.  Each ratio is
 * taken against the best baseline of its size, and named.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../include/myriexpress.h"
#include "../src/common/clock.h"
#include "bench_frames.h"
#include "measure.h"
#include "tool.h"

#define KEY BENCH_KEY
#define SERVE_EID 9
#define UDP_PORT 2399
#define MAX_MSG (4u << 20)
#define RWINDOW BENCH_WINDOW
#define UDP_CHUNK 8192 /* a stream's datagrams: one eager fragment's worth */


/* --- the reflector ------------------------------------------------------- */

/* What a TCP baseline connection asks for, its first bytes. */
struct tcp_hello {
  uint64_t total;               /* stream: bytes that follow; ping-pong: pings */
  uint32_t size;                /* ping-pong: bytes per ping */
  uint32_t pingpong;
};

/* Exactly len bytes, spinning (MSG_DONTWAIT) or blocking: 0, or -1. */
static int tcp_full(int s, char *buf, size_t len, int spin, int out)
{
  for (size_t done = 0; done < len;) {
    ssize_t k = out ? send(s, buf + done, len - done, 0)
                    : recv(s, buf + done, len - done, spin ? MSG_DONTWAIT : 0);
    if (k > 0)
      done += (size_t)k;
    else if (k == 0 || (errno != EAGAIN && errno != EINTR))
      return -1;
  }
  return 0;
}

static void busy_poll(int s)
{
  int us = 50;
  setsockopt(s, SOL_SOCKET, SO_BUSY_POLL, &us, sizeof(us)); /* where the device has it */
}

/* TCP: a stream's bytes counted and their count answered, or pings
 * answered with the same bytes, busy-polled as the client does. */
static void tcp_server(int port)
{
  int s = socket(AF_INET6, SOCK_STREAM, 0), off = 0, one = 1;
  setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
                           .sin6_addr = in6addr_any};
  if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 4) < 0)
    _exit(1);
  static char buf[MAX_MSG];
  for (;;) {
    int c = accept(s, NULL, NULL);
    struct tcp_hello h;
    if (c < 0)
      continue;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (tcp_full(c, (char *)&h, sizeof(h), 0, 0) == 0 && h.pingpong && h.size <= MAX_MSG) {
      busy_poll(c);
      for (uint64_t i = 0; i < h.total; i++)
        if (tcp_full(c, buf, h.size, 1, 0) < 0 || tcp_full(c, buf, h.size, 0, 1) < 0)
          break;
    } else if (!h.pingpong) {
      uint64_t got = 0;
      while (got < h.total) {
        ssize_t n = recv(c, buf, sizeof(buf), 0);
        if (n <= 0)
          break;
        got += (uint64_t)n;
      }
      send(c, &got, sizeof(got), 0);
    }
    close(c);
  }
}

/* UDP-only message kinds beside measure.h's: a ping of a busy-polled run
 * (the reflector spins from then on) and the end of that run. */
enum { M_PING_BUSY = 8, M_BUSY_END = 9 };

static void udp_reflector(int port)
{
  int s = socket(AF_INET6, SOCK_DGRAM, 0);
  int off = 0;
  setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)); /* IPv4 too */
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
                           .sin6_addr = in6addr_any};
  int big = 8 << 20;
  setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
    perror("myrixen bench serve: udp");
    _exit(1);
  }
  busy_poll(s);
  static char buf[65536];
  uint64_t stream_bytes = 0, idle = 0, last_ping = 0;
  int spin = 0; /* a busy-polled run is on: poll without sleeping */
  struct sockaddr unbound = {.sa_family = AF_UNSPEC};
  for (;;) {
    struct sockaddr_storage from;
    socklen_t fl = sizeof(from);
    ssize_t n = recvfrom(s, buf, sizeof(buf), spin ? MSG_DONTWAIT : 0, (struct sockaddr *)&from,
                         &fl);
    if (n < 1) {
      /* a client that died mid-run must not leave us spinning */
      if (spin && ++idle % 4096 == 0 && clock_now_ns() - last_ping > 1000000000ull) {
        spin = 0;
        connect(s, &unbound, sizeof(unbound));
      }
      continue;
    }
    idle = 0;
    if (buf[0] == M_PING_BUSY) {
      /* connected to its client for the run, as a lane is to its peer:
       * the fastest way UDP answers (no route looked up per send) */
      if (!spin)
        connect(s, (struct sockaddr *)&from, fl);
      spin = 1;
      last_ping = clock_now_ns();
      send(s, buf, (size_t)n, 0);
      continue;
    }
    if (buf[0] == M_BUSY_END) {
      spin = 0;
      connect(s, &unbound, sizeof(unbound));
    }
    if (buf[0] == M_PING) {
      sendto(s, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
    } else if (buf[0] == M_DATA) {
      stream_bytes += (uint64_t)n;
    } else if (buf[0] == M_END) {
      sendto(s, &stream_bytes, sizeof(stream_bytes), 0, (struct sockaddr *)&from, fl);
      stream_bytes = 0;
    }
  }
}

int cmd_bench_serve(int argc, char **argv)
{
  uint32_t eid = SERVE_EID;
  int port = UDP_PORT, want_frames = 0;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--eid") && i + 1 < argc)
      eid = (uint32_t)atoi(argv[++i]);
    else if (!strcmp(argv[i], "--udp-port") && i + 1 < argc)
      port = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--frames"))
      want_frames = 1;
    else {
      fprintf(stderr, "usage: myrixen bench serve [--eid N] [--udp-port P] [--frames]\n");
      return 2;
    }
  }
  fflush(NULL);
  pid_t udp = fork();
  if (udp == 0)
    udp_reflector(port);
  pid_t tcp = fork();
  if (tcp == 0)
    tcp_server(port);
  /* a root listener of raw frames only when asked (-1: none, or not allowed) */
  pid_t frames = want_frames ? frames_sink_start() : -1;
  mx_endpoint_t ep;
  mx_return_t r;
  if ((r = mx_init()) || (r = mx_open_endpoint(0, eid, KEY, NULL, 0, &ep)))
    tool_fail("serve", r);
  printf("myrixen bench serve: endpoint %u, udp port %d\n", eid, port);
  fflush(stdout);
  /* A window of receives per client, as bench.c's receiver keeps (the
   * stream's acknowledgements bound what is in flight); pings are answered
   * from the buffer they came in, one at a time, so one buffer serves. */
  char *buf = malloc(MAX_MSG);
  struct stream_acks *acks = calloc(1, sizeof(*acks));
  mx_request_t rq[RWINDOW];
  if (!buf || !acks)
    tool_fail("serve", MX_NO_RESOURCES);
  mx_segment_t s = {buf, MAX_MSG};
  for (int w = 0; w < RWINDOW; w++)
    mx_irecv(ep, &s, 1, 0, 0, NULL, &rq[w]);
  for (int w = 0;; w = (w + 1) % RWINDOW) {
    mx_status_t st;
    uint32_t res;
    mx_wait(ep, &rq[w], MX_INFINITE, &st, &res);
    mx_request_t sr;
    mx_segment_t back = {buf, st.xfer_length};
    if (st.match_info == M_QUIT)
      break;
    if (st.code != MX_STATUS_SUCCESS && st.code != MX_STATUS_TRUNCATED) {
      fprintf(stderr, "myrixen bench serve: %s: stopping\n", mx_strstatus(st.code));
      break; /* the backend went away */
    }
    if (st.match_info == M_PING || st.match_info == M_END) {
      /* the answer leaves first, as the UDP reflector's does: the receive
       * posted again is not on the ping's way back */
      if (st.match_info == M_END) {
        stream_ack_end(acks, st.source);
        back.segment_length = 0;
      }
      mx_isend(ep, &back, 1, st.source, st.match_info, NULL, &sr);
      mx_irecv(ep, &s, 1, 0, 0, NULL, &rq[w]);
      mx_wait(ep, &sr, MX_INFINITE, &st, &res);
      continue;
    }
    mx_irecv(ep, &s, 1, 0, 0, NULL, &rq[w]);
    if (st.match_info == M_DATA)
      stream_ack_data(ep, acks, st.source);
  }
  kill(udp, SIGTERM);
  kill(tcp, SIGTERM);
  waitpid(udp, NULL, 0);
  waitpid(tcp, NULL, 0);
  if (frames > 0) {
    kill(frames, SIGTERM);
    waitpid(frames, NULL, 0);
  }
  mx_finalize();
  free(buf);
  free(acks);
  return 0;
}

/* --- the client ---------------------------------------------------------- */

/* The remote host's IP: given, or from the backend's peers list
 * ("address":"IP:PORT"). */
static int remote_ip(const char *host, const char *given, struct sockaddr_storage *ss,
                     socklen_t *len)
{
  char name[64], ip[64] = "";
  if (given) {
    snprintf(ip, sizeof(ip), strchr(given, ':') ? "[%s]:0" : "%s:0", given);
  } else {
    char *t = backend_text(CTL_PEERS);
    for (const char *p = t; (p = json_get(p, "hostname", name, sizeof(name)));)
      if (!strcmp(name, host)) {
        json_get(p, "address", ip, sizeof(ip));
        break;
      }
    free(t);
  }
  char *colon = strrchr(ip, ':');
  if (!colon)
    return -1;
  *colon = 0;
  memset(ss, 0, sizeof(*ss));
  if (ip[0] == '[') {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    ip[strlen(ip) - 1] = 0;
    a->sin6_family = AF_INET6;
    *len = sizeof(*a);
    return inet_pton(AF_INET6, ip + 1, &a->sin6_addr) == 1 ? 0 : -1;
  }
  struct sockaddr_in *a = (struct sockaddr_in *)ss;
  a->sin_family = AF_INET;
  *len = sizeof(*a);
  return inet_pton(AF_INET, ip, &a->sin_addr) == 1 ? 0 : -1;
}

struct remote_row {
  double lat_us, mbps;
};

#define REMOTE_ROUNDS 5
#define REMOTE_WARM_NS 150000000ull /* each transport's untimed start (remote_size) */

/* The median of the figures that exist (a failed round gives -1); -1 if
 * none does. */
static double median_of(const double *v, int n)
{
  double ok[REMOTE_ROUNDS];
  int k = 0;
  for (int i = 0; i < n; i++)
    if (v[i] >= 0) {
      int j = k++;
      for (; j > 0 && ok[j - 1] > v[i]; j--)
        ok[j] = ok[j - 1];
      ok[j] = v[i];
    }
  return k == 0 ? -1 : k % 2 ? ok[k / 2] : (ok[k / 2 - 1] + ok[k / 2]) / 2;
}

static struct remote_row mx_run(mx_endpoint_t ep, mx_endpoint_addr_t peer, int stream,
                                uint32_t size, int n, char *buf)
{
  struct measure m = measure_mx(ep, peer, stream, size, n, buf);
  return (struct remote_row){m.lat_us, m.mbps};
}

/* One datagram of up to len bytes within a second: blocking (poll) or
 * busy-polled (non-blocking receives in a loop).  >= 0, or -1. */
static ssize_t udp_recv(int s, char *buf, size_t len, int busy)
{
  if (!busy) {
    struct pollfd pfd = {.fd = s, .events = POLLIN};
    return poll(&pfd, 1, 1000) <= 0 ? -1 : recv(s, buf, len, 0);
  }
  uint64_t deadline = clock_now_ns() + 1000000000ull;
  for (uint32_t i = 1;; i++) {
    ssize_t k = recv(s, buf, len, MSG_DONTWAIT);
    if (k >= 0 || (errno != EAGAIN && errno != EINTR))
      return k;
    if (i % 1024 == 0 && clock_now_ns() > deadline)
      return -1;
  }
}

/* The raw socket baseline: the same exchange in UDP datagrams (a message
 * larger than UDP_CHUNK goes as several, as MyriXen's fragments do);
 * busy: both ends busy-poll. */
static struct remote_row udp_run(int s, int stream, int busy, uint32_t size, int n, char *buf)
{
  int warm = n / 10 + 1;
  uint64_t t0 = 0;
  uint32_t chunks = size > UDP_CHUNK ? (size + UDP_CHUNK - 1) / UDP_CHUNK : 1;
  uint32_t clen = size > UDP_CHUNK ? UDP_CHUNK : (size ? size : 1);
  char ping = busy ? M_PING_BUSY : M_PING;
  struct remote_row row = {-1, -1}; /* a datagram lost: no figure */
  buf[0] = stream ? M_DATA : ping;
  for (int i = 0; i < n + warm; i++) {
    if (i == warm)
      t0 = clock_now_ns();
    for (uint32_t c = 0; c < chunks; c++)
      if (send(s, buf, clen, 0) < 0)
        goto out;
    if (!stream) {
      for (uint32_t c = 0; c < chunks; c++)
        if (udp_recv(s, buf + 1, UDP_CHUNK, busy) < 0)
          goto out;
      buf[0] = ping;
    }
  }
  uint64_t got = (uint64_t)size * (uint64_t)n;
  if (stream) {
    char end = M_END;
    uint64_t bytes = 0;
    send(s, &end, 1, 0);
    if (udp_recv(s, (char *)&bytes, sizeof(bytes), 0) != sizeof(bytes))
      goto out;
    got = bytes * (uint64_t)n / (uint64_t)(n + warm); /* what arrived, of the timed part */
  }
  double secs = (double)(clock_now_ns() - t0) / 1e9;
  row = (struct remote_row){stream ? secs / n * 1e6 : secs / n / 2 * 1e6,
                            (double)got / secs / 1e6 * (stream ? 1 : 2)};
out:
  if (busy) {
    char end = M_BUSY_END; /* the reflector goes back to sleeping */
    send(s, &end, 1, 0);
  }
  return row;
}

/* The TCP baselines, one connection each: a stream of n messages of size
 * in large writes (as iperf3), or n ping-pongs with TCP_NODELAY, both
 * ends busy-polling. */
static struct remote_row tcp_run(const struct sockaddr_storage *ss, socklen_t sl, int stream,
                                 uint32_t size, int n, char *buf)
{
  struct remote_row row = {-1, -1};
  int s = socket(ss->ss_family, SOCK_STREAM, 0), one = 1;
  if (s < 0 || connect(s, (const struct sockaddr *)ss, sl) < 0) {
    if (s >= 0)
      close(s);
    return row;
  }
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  busy_poll(s);
  uint32_t len = size ? size : 1;
  struct tcp_hello h = {stream ? (uint64_t)size * (uint64_t)n : (uint64_t)n, len, !stream};
  uint64_t t0 = clock_now_ns(), got = 0;
  int ok = tcp_full(s, (char *)&h, sizeof(h), 0, 1) == 0;
  if (stream) {
    for (uint64_t sent = 0; ok && sent < h.total;) {
      size_t chunk = h.total - sent < MAX_MSG ? (size_t)(h.total - sent) : MAX_MSG;
      ssize_t k = send(s, buf, chunk, 0);
      ok = k > 0;
      sent += ok ? (uint64_t)k : 0;
    }
    ok = ok && recv(s, &got, sizeof(got), MSG_WAITALL) == sizeof(got) && got == h.total;
  } else {
    for (int i = 0; ok && i < n; i++)
      ok = tcp_full(s, buf, len, 0, 1) == 0 && tcp_full(s, buf, len, 1, 0) == 0;
  }
  double secs = (double)(clock_now_ns() - t0) / 1e9;
  close(s);
  if (ok)
    row = stream ? (struct remote_row){secs / n * 1e6, (double)h.total / secs / 1e6}
                 : (struct remote_row){secs / n / 2 * 1e6, 2.0 * len * n / secs / 1e6};
  return row;
}

/* A UDP socket connected to the host's reflector, for the baselines; -1
 * when the host's address is not known. */
static int udp_baseline_socket(const char *host, const char *given, int udp_port,
                               struct sockaddr_storage *ss, socklen_t *sl)
{
  if (remote_ip(host, given, ss, sl) < 0)
    return -1;
  ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)udp_port); /* same offset in v6 */
  int s = socket(ss->ss_family, SOCK_DGRAM, 0);
  int big = 8 << 20;
  setsockopt(s, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
  if (s >= 0 && connect(s, (struct sockaddr *)ss, *sl) < 0) {
    close(s);
    s = -1;
  }
  return s;
}

struct remote_link {
  mx_endpoint_t ep;
  mx_endpoint_addr_t peer;
  int udp;                      /* the baseline's socket, or -1 */
  struct frames_link frames;    /* raw frames' (fd -1: not measured) */
  struct sockaddr_storage ss;   /* the host, for the TCP baseline */
  socklen_t sl;
};

/* The baselines, in rows and JSON keys.  The ratios are taken against the
 * best of UDP and TCP, the peers a message layer answers to; raw frames
 * (eth only) are the floor of moving frames of the MTU through the kernel,
 * with no protocol at all, and have a ratio of their own. */
enum { B_UDP, B_UDP_BUSY, B_TCP, B_FRAMES, NBASE, NPEERS = B_FRAMES };
static const char *const base_name[NBASE] = {"udp", "udp-busy", "tcp", "frames"};
static const char *const base_key[NBASE] = {"udp", "udp_busy", "tcp", "frames"};

/* One run of baseline b, or of MyriXen (b < 0); {-1, -1} where b is not
 * measured (no reflector; no busy stream). */
static struct remote_row baseline_or_mx(struct remote_link *l, int b, int stream, uint32_t size,
                                        int per, char *buf)
{
  if (b < 0)
    return mx_run(l->ep, l->peer, stream, size, per, buf);
  if (b == B_FRAMES) {
    double mbps = stream && l->frames.fd >= 0 && size
                      ? frames_stream(&l->frames, (uint64_t)size * (uint64_t)per)
                      : -1;
    return mbps > 0 ? (struct remote_row){size / mbps, mbps} : (struct remote_row){-1, -1};
  }
  if (l->udp >= 0 && b == B_TCP)
    return tcp_run(&l->ss, l->sl, stream, size, per, buf);
  if (l->udp >= 0 && !(stream && b == B_UDP_BUSY))
    return udp_run(l->udp, stream, b == B_UDP_BUSY, size, per, buf);
  return (struct remote_row){-1, -1};
}

/* One size, n messages: rounds alternate MyriXen and the baselines, and
 * the medians are compared: on a shared machine the cores' placement
 * moves every figure several fold within seconds, and alternating exposes
 * all of them to the same moves.  A stream has no busy-polled UDP row:
 * its sender never waits, and its receiver is the reflector.  Raw frames
 * are measured in streams only (a frame's latency is busy UDP's). */
static void remote_size(struct remote_link *l, int stream, const char *host, uint32_t size,
                        int n, int json, char *buf)
{
  int per = n / REMOTE_ROUNDS < 20 ? 20 : n / REMOTE_ROUNDS;
  double ml[REMOTE_ROUNDS], mb[REMOTE_ROUNDS], bl[NBASE][REMOTE_ROUNDS], bb[NBASE][REMOTE_ROUNDS];
  /* Every transport first runs untimed for REMOTE_WARM_NS: a run's first
   * messages are slower than the rest (MyriXen's first 1024 were twice as
   * slow until the engine touched its window at allocation; a few hundred
   * still are), and rounds of a few hundred messages each reported the
   * warm-up, not the path. */
  for (int b = -1; b < NBASE; b++) {
    uint64_t t0 = clock_now_ns();
    do {
      struct remote_row r = baseline_or_mx(l, b, stream, size, per, buf);
      if (r.lat_us < 0 && r.mbps < 0)
        break; /* not measured here (or lost): nothing to warm */
    } while (clock_now_ns() - t0 < REMOTE_WARM_NS);
  }
  for (int round = 0; round < REMOTE_ROUNDS; round++) {
    struct remote_row m = baseline_or_mx(l, -1, stream, size, per, buf);
    ml[round] = m.lat_us;
    mb[round] = m.mbps;
    for (int b = 0; b < NBASE; b++) {
      struct remote_row r = baseline_or_mx(l, b, stream, size, per, buf);
      bl[b][round] = r.lat_us;
      bb[b][round] = r.mbps;
    }
  }
  struct remote_row m = {median_of(ml, REMOTE_ROUNDS), median_of(mb, REMOTE_ROUNDS)}, base[NBASE];
  int best_lat = -1, best_bw = -1;
  for (int b = 0; b < NBASE; b++) {
    base[b] = (struct remote_row){median_of(bl[b], REMOTE_ROUNDS), median_of(bb[b], REMOTE_ROUNDS)};
    if (b >= NPEERS)
      continue;
    if (base[b].lat_us > 0 && (best_lat < 0 || base[b].lat_us < base[best_lat].lat_us))
      best_lat = b;
    if (base[b].mbps > 0 && (best_bw < 0 || base[b].mbps > base[best_bw].mbps))
      best_bw = b;
  }
  double xlat = best_lat >= 0 ? m.lat_us / base[best_lat].lat_us : 0;
  double xbw = best_bw >= 0 ? m.mbps / base[best_bw].mbps : 0;
  const char *nlat = best_lat >= 0 ? base_name[best_lat] : "none";
  const char *nbw = best_bw >= 0 ? base_name[best_bw] : "none";
  double xframes = base[B_FRAMES].mbps > 0 ? m.mbps / base[B_FRAMES].mbps : 0;
  if (json) {
    printf("{\"pattern\":\"%s\",\"datapath\":\"remote\",\"remote\":\"%s\",\"size\":%u,"
           "\"iters\":%d,\"rounds\":%d,\"latency_us\":%.3f,\"bandwidth_MBps\":%.1f,"
           "\"msgs_per_s\":%.0f",
           stream ? "stream" : "pingpong", host, size, per * REMOTE_ROUNDS, REMOTE_ROUNDS,
           m.lat_us, m.mbps, 1e6 / m.lat_us);
    for (int b = 0; b < NBASE; b++)
      printf(",\"%s_latency_us\":%.3f,\"%s_bandwidth_MBps\":%.1f", base_key[b], base[b].lat_us,
             base_key[b], base[b].mbps);
    printf(",\"latency_baseline\":\"%s\",\"latency_ratio\":%.3f,\"bandwidth_baseline\":\"%s\","
           "\"bandwidth_ratio\":%.3f,\"frames_ratio\":%.3f}\n",
           nlat, xlat, nbw, xbw, xframes);
  } else {
    printf("%-9s    %-10s %10u %12.3f %14.1f |", "", "", size, m.lat_us, m.mbps);
    for (int b = 0; b < NBASE; b++)
      printf(" %9.3f %9.1f", base[b].lat_us, base[b].mbps);
    printf(" | %6.2f %-8s %6.2f %-8s %8.2f\n", xlat, nlat, xbw, nbw, xframes);
  }
  fflush(stdout);
}

int bench_remote(int stream, const char *host, const uint32_t *sizes, int nsizes, int iters,
                 int json, const struct remote_opts *ro)
{
  uint32_t eid = ro->eid;
  int udp_port = ro->udp_port, baselines = ro->baselines;
  struct remote_link l = {.udp = -1};
  uint64_t nic;
  mx_return_t r;
  if ((r = mx_init()) || (r = mx_open_endpoint(0, MX_ANY_ENDPOINT, KEY, NULL, 0, &l.ep)))
    tool_fail("open", r);
  if ((r = mx_hostname_to_nic_id((char *)host, &nic)))
    tool_fail(host, r);
  if ((r = mx_connect(l.ep, nic, eid, KEY, 10000, &l.peer)))
    tool_fail("connect (is `myrixen bench serve` running there?)", r);
  if (baselines)
    l.udp = udp_baseline_socket(host, ro->baseline_ip, udp_port, &l.ss, &l.sl);
  l.frames.fd = -1;
  if (baselines && stream && ro->baseline_dev && frames_open(ro->baseline_dev, &l.frames) < 0)
    fprintf(stderr, "myrixen bench: no raw frames' sink answered on %s: no frames baseline\n",
            ro->baseline_dev);
  char *buf = malloc(MAX_MSG + UDP_CHUNK + 1);
  memset(buf, 0x5a, MAX_MSG + UDP_CHUNK + 1);
  if (!json)
    printf("%-9s to %-10s %10s %12s %14s | %9s %9s %9s %9s %9s %9s %9s %9s | %15s %15s %8s\n",
           stream ? "stream" : "pingpong", host, "size", "latency_us", "bandwidth_MBps",
           "udp_us", "udp_MBps", "busy_us", "busy_MBps", "tcp_us", "tcp_MBps", "frm_us", "frm_MBps",
           "x best lat", "x best bw", "x frames");
  for (int k = 0; k < nsizes && sizes[k] <= MAX_MSG; k++) {
    int n = sizes[k] ? (int)((1024ull << 20) / sizes[k]) : iters;
    remote_size(&l, stream, host, sizes[k], n > iters ? iters : n, json, buf);
  }
  if (getenv("MYRIXEN_BENCH_STOP_SERVER")) {
    mx_segment_t z = {buf, 0};
    mx_request_t q;
    mx_status_t st;
    uint32_t res;
    mx_isend(l.ep, &z, 1, l.peer, M_QUIT, NULL, &q);
    mx_wait(l.ep, &q, MX_INFINITE, &st, &res);
  }
  free(buf);
  if (l.udp >= 0)
    close(l.udp);
  frames_close(&l.frames);
  mx_finalize();
  return 0;
}
