/*
 * metrics.c - `myrixend --metrics unix:PATH|tcp:ADDR:PORT`: the backend's
 * counters in Prometheus' text exposition format, for a monitoring
 * system to scrape (GET /metrics over HTTP/1.x).
 *
 * A thread of its own answers the scrapes, one connection at a time, and
 * gets the figures as any tool does: a monitor's requests on the backend's
 * control socket (info, counters, peers), on a connection it opened before
 * the backend gave up root (--user) and keeps.  So it shares no state with
 * the control loop or the engine; a scraper that stalls holds up only this
 * thread, 2 s at most a request; and scrapes closer than a second apart
 * get the same text, so a scraper in a loop does not load the backend.
 * Bind a TCP address to loopback unless the network is trusted: the
 * figures name guests and hosts.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/ctl.h"
#include "../common/json.h"
#include "../common/log.h"
#include "backend.h"

#define SCRAPE_DEADLINE_MS 2000
#define CACHE_NS 1000000000ull

struct metrics {
  int lsock;
  int mon;                      /* our monitor connection to the control loop, or -1 */
  const char *control;          /* the backend's control socket */
  /* a unix: listener's path, removed at exit */
  char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
  char *cache;                  /* the last exposition, and when it was made */
  size_t cache_len;
  uint64_t cache_ns;
};

/* spec as an address: unix:PATH, tcp:IPV4:PORT or tcp:[IPV6]:PORT.  0, or
 * -1 with errno EINVAL. */
static int metrics_addr(const char *spec, struct sockaddr_storage *ss, socklen_t *sl)
{
  memset(ss, 0, sizeof(*ss));
  errno = EINVAL;
  if (!strncmp(spec, "unix:", 5)) {
    struct sockaddr_un *a = (struct sockaddr_un *)ss;
    if (!spec[5] || strlen(spec + 5) >= sizeof(a->sun_path))
      return -1;
    a->sun_family = AF_UNIX;
    strcpy(a->sun_path, spec + 5);
    *sl = sizeof(*a);
    return 0;
  }
  if (strncmp(spec, "tcp:", 4))
    return -1;
  char host[64], *end;
  const char *colon = strrchr(spec + 4, ':');
  if (!colon || colon - (spec + 4) >= (int)sizeof(host))
    return -1;
  long port = strtol(colon + 1, &end, 10);
  if (*end || port <= 0 || port > 65535)
    return -1;
  snprintf(host, sizeof(host), "%.*s", (int)(colon - (spec + 4)), spec + 4);
  size_t hl = strlen(host);
  if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    host[hl - 1] = 0;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    *sl = sizeof(*a);
    return inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1 ? 0 : -1;
  }
  struct sockaddr_in *a = (struct sockaddr_in *)ss;
  a->sin_family = AF_INET;
  a->sin_port = htons((uint16_t)port);
  *sl = sizeof(*a);
  return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

int metrics_check(const char *spec)
{
  struct sockaddr_storage ss;
  socklen_t sl;
  return metrics_addr(spec, &ss, &sl);
}

/* Listening at spec; -1 (errno, *why).  A unix: path is never the control
 * socket's nor its lock's, and what is there is replaced only if it is a
 * socket (a stale one of ours): never a file of someone's. */
static int metrics_listen(struct metrics *m, const char *spec, const char **why)
{
  struct sockaddr_storage ss;
  socklen_t sl;
  int one = 1;
  *why = "not unix:PATH or tcp:IPV4:PORT or tcp:[IPV6]:PORT";
  if (metrics_addr(spec, &ss, &sl) < 0)
    return -1;
  if (ss.ss_family == AF_UNIX) {
    const char *path = ((struct sockaddr_un *)&ss)->sun_path;
    char lock[PATH_MAX];
    snprintf(lock, sizeof(lock), "%s.lock", m->control);
    struct stat st;
    *why = "the control socket's own path";
    if (!strcmp(path, m->control) || !strcmp(path, lock))
      return errno = EINVAL, -1;
    *why = "something that is not a socket is there";
    if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
      return errno = EEXIST, -1;
    unlink(path);
    memcpy(m->unix_path, path, strlen(path) + 1); /* it fits: metrics_addr checked */
  }
  *why = "cannot listen there";
  int s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s >= 0 && ss.ss_family != AF_UNIX)
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (s >= 0 && bind(s, (struct sockaddr *)&ss, sl) == 0 && listen(s, 8) == 0)
    return s;
  int e = errno;
  if (s >= 0)
    close(s);
  m->unix_path[0] = 0;
  errno = e;
  return -1;
}

/* The JSON report of one kind, on our monitor connection (opened again
 * if the control loop closed it); NULL. */
static char *report(struct metrics *m, enum ctl_type type)
{
  struct ctl_msg req, *rep = malloc(sizeof(*rep) + CTL_TEXT_MAX);
  char *text = NULL;
  for (int attempt = 0; rep && !text && attempt < 2; attempt++) {
    if (m->mon < 0)
      m->mon = ctl_monitor_open(m->control, "metrics");
    if (m->mon < 0)
      break;
    ctl_init(&req, type, 2);
    if (ctl_monitor_request(m->mon, &req, rep, sizeof(*rep) + CTL_TEXT_MAX) == 0) {
      if (rep->type == CTL_REPLY && rep->len)
        text = strndup(rep->text, rep->len);
      break;
    }
    close(m->mon);
    m->mon = -1;
  }
  free(rep);
  return text;
}

/* A growing text buffer. */
struct out {
  char *p;
  size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int n = vsnprintf(o->p ? o->p + o->len : NULL, o->p ? o->cap - o->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0)
      return;
    if (o->p && o->len + (size_t)n < o->cap) {
      o->len += (size_t)n;
      return;
    }
    size_t cap = (o->cap ? o->cap * 2 : 16384) + (size_t)n;
    char *p = realloc(o->p, cap);
    if (!p)
      return;
    o->p = p;
    o->cap = cap;
  }
}

static void help(struct out *o, const char *name, const char *type, const char *text)
{
  put(o, "# HELP myrixen_%s %s\n# TYPE myrixen_%s %s\n", name, text, name, type);
}

/* Each "name":N of the flat object at obj (its '{') as
 * myrixen_METRIC{LABEL,reason="name"} N. */
struct reasons_arg {
  struct out *o;
  const char *metric, *label;
};

static void reason_line(const char *name, uint64_t v, void *arg)
{
  struct reasons_arg *a = arg;
  put(a->o, "myrixen_%s{%s%sreason=\"%s\"} %llu\n", a->metric, a->label, *a->label ? "," : "",
      name, (unsigned long long)v);
}

static void reasons(struct out *o, const char *metric, const char *label, const char *obj)
{
  struct reasons_arg a = {o, metric, label};
  json_counts(obj, NULL, reason_line, &a);
}

/* A label value: a guest's or a host's name may hold anything. */
static void label_value(char *out, size_t cap, const char *in)
{
  size_t j = 0;
  for (; *in && j + 3 < cap; in++) {
    if (*in == '"' || *in == '\\')
      out[j++] = '\\';
    out[j++] = *in == '\n' ? ' ' : *in;
  }
  out[j] = 0;
}

static void exposition(struct metrics *m, struct out *o)
{
  char *info = report(m, CTL_INFO), *cnt = report(m, CTL_COUNTERS), *peers = report(m, CTL_PEERS);
  put(o, "# myrixend metrics\n");
  help(o, "up", "gauge", "1 when the backend answered this scrape");
  put(o, "myrixen_up %d\n", info && cnt && peers);
  if (info) {
    help(o, "uptime_seconds", "gauge", "Time since the backend started");
    put(o, "myrixen_uptime_seconds %.1f\n", json_get_num(info, "uptime_s"));
    static const char *const kinds[] = {"process", "container", "vm"};
    help(o, "guests", "gauge", "Guests admitted, by kind");
    for (int k = 0; k < 3; k++) {
      int n = 0;
      char kind[32];
      for (const char *p = strstr(info, "\"guests\":"); p && (p = json_get(p, "kind", kind, sizeof(kind)));)
        n += !strcmp(kind, kinds[k]);
      put(o, "myrixen_guests{kind=\"%s\"} %d\n", kinds[k], n);
    }
  }
  if (cnt) {
    /* A family's samples follow its HELP and TYPE, all together: a family
     * at a time, each over every VIF. */
    static const char *const dir_keys[2][2] = {{"tx_msgs", "tx_bytes"}, {"rx_msgs", "rx_bytes"}};
    static const struct {
      const char *name, *help;
    } vif_fams[] = {
        {"vif_messages_total", "Messages through each VIF, by direction"},
        {"vif_bytes_total", "Bytes through each VIF, by direction"},
        {"vif_throttled_total", "Times the VIF's rate limits held it back"},
        {"vif_drops_total", "What the engine refused of each VIF, by reason"},
    };
    for (int f = 0; f < 4; f++) {
      help(o, vif_fams[f].name, "counter", vif_fams[f].help);
      for (const char *p = cnt; (p = strstr(p, "{\"eid\":")); p++) {
        char lab[32];
        snprintf(lab, sizeof(lab), "eid=\"%d\"", (int)json_get_num(p, "eid"));
        if (f == 2)
          put(o, "myrixen_%s{%s} %.0f\n", vif_fams[f].name, lab, json_get_num(p, "throttled"));
        else if (f == 3) {
          const char *dp = strstr(p, "\"drops\":{");
          reasons(o, vif_fams[f].name, lab, dp ? dp + 8 : NULL);
        }
        else
          for (int d = 0; d < 2; d++)
            put(o, "myrixen_%s{%s,direction=\"%s\"} %.0f\n", vif_fams[f].name, lab,
                d ? "rx" : "tx", json_get_num(p, dir_keys[d][f]));
      }
    }
    const char *tot = strstr(cnt, "\"totals\":");
    static const char *const tot_fams[2][2] = {
        {"messages_total", "Messages through the engine, closed endpoints too"},
        {"bytes_total", "Bytes through the engine, closed endpoints too"}};
    for (int f = 0; tot && f < 2; f++) {
      help(o, tot_fams[f][0], "counter", tot_fams[f][1]);
      for (int d = 0; d < 2; d++)
        put(o, "myrixen_%s{direction=\"%s\"} %.0f\n", tot_fams[f][0], d ? "rx" : "tx",
            json_get_num(tot, dir_keys[d][f]));
    }
    const char *eng = strstr(cnt, "\"engine\":");
    help(o, "engine_rounds_total", "counter", "Rounds of the engine thread");
    put(o, "myrixen_engine_rounds_total %.0f\n", json_get_num(eng, "rounds"));
    help(o, "engine_sleeps_total", "counter", "Times the engine thread slept");
    put(o, "myrixen_engine_sleeps_total %.0f\n", json_get_num(eng, "sleeps"));
    help(o, "drops_total", "counter", "Everything the engine refused, closed endpoints too");
    const char *dt = strstr(cnt, "\"drops_total\":{");
    reasons(o, "drops_total", "", dt ? dt + 14 : NULL);
  }
  if (peers) {
    static const struct {
      const char *name, *type, *help;
    } peer_fams[] = {
        {"peer_rtt_seconds", "gauge", "Smoothed round trip time to each peer host"},
        {"peer_retransmits_total", "counter", "Packets sent again to each peer host"},
        {"peer_packets_total", "counter", "Packets to and from each peer host"},
    };
    for (int f = 0; f < 3; f++) {
      help(o, peer_fams[f].name, peer_fams[f].type, peer_fams[f].help);
      for (const char *p = strstr(peers, "\"peers\":"); p && (p = strstr(p, "{\"nic_id\":")); p++) {
        char host[64], nic[32], h[200];
        json_get(p, "hostname", host, sizeof(host));
        json_get(p, "nic_id", nic, sizeof(nic));
        label_value(h, sizeof(h) - 48, host);
        /* a name is what a host says it is: the nic id tells two apart */
        snprintf(h + strlen(h), 48, "\",nic_id=\"%.20s", nic);
        if (f == 0)
          put(o, "myrixen_peer_rtt_seconds{peer=\"%s\"} %g\n", h, json_get_num(p, "rtt_us") / 1e6);
        else if (f == 1)
          put(o, "myrixen_peer_retransmits_total{peer=\"%s\"} %.0f\n", h,
              json_get_num(p, "retransmits"));
        else
          for (int d = 0; d < 2; d++)
            put(o, "myrixen_peer_packets_total{peer=\"%s\",direction=\"%s\"} %.0f\n", h,
                d ? "rx" : "tx", json_get_num(p, d ? "rx_packets" : "tx_packets"));
      }
    }
    help(o, "wire_drops_total", "counter", "Packets received and dropped, by reason");
    const char *rd = strstr(peers, "\"rx_dropped\":{");
    reasons(o, "wire_drops_total", "", rd ? rd + 13 : NULL);
  }
  free(info);
  free(cnt);
  free(peers);
}

/* One scrape: the request (SCRAPE_DEADLINE_MS for all of it, 4 KiB at
 * most: headers are read, not used), then the answer. */
static void serve(struct metrics *m, int c)
{
  struct timeval tv = {SCRAPE_DEADLINE_MS / 1000, 0};
  setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  char req[4096];
  size_t got = 0;
  uint64_t deadline = clock_now_ns() + SCRAPE_DEADLINE_MS * 1000000ull;
  req[0] = 0;
  while (got + 1 < sizeof(req) && !strstr(req, "\r\n\r\n") && !strstr(req, "\n\n")) {
    uint64_t now = clock_now_ns();
    struct pollfd pfd = {.fd = c, .events = POLLIN};
    if (now >= deadline || poll(&pfd, 1, (int)((deadline - now) / 1000000) + 1) <= 0)
      break;
    ssize_t n = recv(c, req + got, sizeof(req) - 1 - got, MSG_DONTWAIT);
    if (n <= 0)
      break;
    got += (size_t)n;
    req[got] = 0;
  }
  struct out body = {0};
  const char *status = "200 OK";
  if (strncmp(req, "GET ", 4)) {
    status = "405 Method Not Allowed";
    put(&body, "GET /metrics\n");
  } else if (m->cache && clock_now_ns() - m->cache_ns < CACHE_NS) {
    put(&body, "%.*s", (int)m->cache_len, m->cache);
  } else {
    exposition(m, &body);
    free(m->cache);
    m->cache = body.p ? strndup(body.p, body.len) : NULL;
    m->cache_len = m->cache ? body.len : 0;
    m->cache_ns = clock_now_ns();
  }
  char head[256];
  int hn = snprintf(head, sizeof(head),
                    "HTTP/1.0 %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                    status, body.len);
  if (send(c, head, (size_t)hn, MSG_NOSIGNAL) == hn && body.len)
    send(c, body.p, body.len, MSG_NOSIGNAL);
  free(body.p);
}

static void *metrics_thread(void *arg)
{
  struct metrics *m = arg;
  if (m->mon >= 0 && ctl_monitor_hello(m->mon, "metrics") < 0) {
    close(m->mon);
    m->mon = -1;
  }
  for (;;) {
    int c = accept4(m->lsock, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EMFILE || errno == ENFILE)
        usleep(10000); /* out of descriptors: not a spin */
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE)
        continue;
      break;
    }
    serve(m, c);
    close(c);
  }
  return NULL;
}

static struct metrics the_metrics = {.lsock = -1, .mon = -1};

int metrics_open(const char *spec, const char *control)
{
  struct metrics *m = &the_metrics;
  const char *why;
  m->control = control;
  m->lsock = metrics_listen(m, spec, &why);
  if (m->lsock < 0) {
    log_err("--metrics %s: %s (%s)", spec, why, strerror(errno));
    return -1;
  }
  /* connected now, while we may (the socket's group and mode may not let
   * the --user we become in); the hello when the control loop runs */
  m->mon = ctl_connect(control, 0);
  if (m->mon < 0)
    log_warn("--metrics: cannot reach our own control socket: myrixen_up will say 0");
  return 0;
}

int metrics_run(void)
{
  struct metrics *m = &the_metrics;
  if (m->lsock < 0)
    return 0;
  pthread_t t;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old); /* signals are the control loop's */
  int rc = pthread_create(&t, NULL, metrics_thread, m);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc) {
    log_err("--metrics: no thread: %s", strerror(rc));
    return -1;
  }
  pthread_detach(t);
  log_info("metrics served");
  return 0;
}

void metrics_stop(void)
{
  if (the_metrics.unix_path[0])
    unlink(the_metrics.unix_path);
}
