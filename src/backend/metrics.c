/*
 * metrics.c - `myrixend --metrics unix:PATH|tcp:ADDR:PORT`: the backend's
 * counters in Prometheus' text exposition format, for a monitoring
 * system to scrape (GET /metrics over HTTP/1.x).
 *
 * A thread of its own answers the scrapes, one connection at a time, and
 * gets the figures as any tool does: a monitor's request on the backend's
 * own control socket (info, counters, peers).  So it shares no state with
 * the control loop or the engine, and a scraper that stalls holds up only
 * this thread (for at most its receive timeout).  Bind a TCP address to
 * loopback unless the network is trusted: the figures name guests.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/ctl.h"
#include "../common/json.h"
#include "../common/log.h"
#include "backend.h"

struct metrics {
  int lsock;
  const char *control;          /* the backend's control socket */
};

/* unix:PATH or tcp:ADDR:PORT (ADDR IPv4, or [IPv6]), listening; -1. */
static int metrics_listen(const char *spec)
{
  int s = -1, one = 1;
  if (!strncmp(spec, "unix:", 5)) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(spec + 5) >= sizeof(sa.sun_path) || !spec[5])
      return -1;
    strcpy(sa.sun_path, spec + 5);
    unlink(sa.sun_path);
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(s, 8) == 0)
      return s;
  } else if (!strncmp(spec, "tcp:", 4)) {
    char host[64];
    const char *colon = strrchr(spec + 4, ':');
    if (!colon || colon - (spec + 4) >= (int)sizeof(host))
      return -1;
    snprintf(host, sizeof(host), "%.*s", (int)(colon - (spec + 4)), spec + 4);
    int port = atoi(colon + 1);
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    size_t hl = strlen(host);
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
      struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
      host[hl - 1] = 0;
      a->sin6_family = AF_INET6;
      a->sin6_port = htons((uint16_t)port);
      sl = sizeof(*a);
      if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
        return -1;
    } else {
      struct sockaddr_in *a = (struct sockaddr_in *)&ss;
      a->sin_family = AF_INET;
      a->sin_port = htons((uint16_t)port);
      sl = sizeof(*a);
      if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
        return -1;
    }
    if (port <= 0 || port > 65535)
      return -1;
    s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s >= 0)
      setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (s >= 0 && bind(s, (struct sockaddr *)&ss, sl) == 0 && listen(s, 8) == 0)
      return s;
  }
  if (s >= 0)
    close(s);
  return -1;
}

/* The JSON report of one kind, from the backend's control socket; NULL. */
static char *report(const struct metrics *m, enum ctl_type type)
{
  struct ctl_msg req, *rep = malloc(sizeof(*rep) + CTL_TEXT_MAX);
  ctl_init(&req, type, 2);
  char *text = NULL;
  if (rep && ctl_monitor_call(m->control, "metrics", &req, rep, sizeof(*rep) + CTL_TEXT_MAX) == 0 &&
      rep->type == CTL_REPLY && rep->len)
    text = strndup(rep->text, rep->len);
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

/* Each "name":N of the flat object at obj (its '{') as name{label,reason}. */
static void reasons(struct out *o, const char *metric, const char *label, const char *obj)
{
  const char *end = obj ? strchr(obj, '}') : NULL;
  for (const char *p = obj ? obj + 1 : NULL; p && p < end;) {
    char name[64];
    unsigned long long v;
    int n = 0;
    if (sscanf(p, " \"%63[^\"]\" : %llu%n", name, &v, &n) != 2 || !n)
      break;
    put(o, "myrixen_%s{%s%sreason=\"%s\"} %llu\n", metric, label, *label ? "," : "", name, v);
    p += n;
    p += *p == ',';
  }
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

static void exposition(const struct metrics *m, struct out *o)
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
        char host[64], h[140];
        json_get(p, "hostname", host, sizeof(host));
        label_value(h, sizeof(h), host);
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

/* One scrape: the request (its first line is enough), then the answer. */
static void serve(const struct metrics *m, int c)
{
  struct timeval tv = {2, 0}; /* a scraper that stalls holds us this long */
  setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  char req[4096];
  size_t got = 0;
  while (got + 1 < sizeof(req)) {
    ssize_t n = recv(c, req + got, sizeof(req) - 1 - got, 0);
    if (n <= 0)
      break;
    got += (size_t)n;
    req[got] = 0;
    if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
      break;
  }
  req[got] = 0;
  struct out body = {0};
  const char *status = "200 OK";
  if (strncmp(req, "GET ", 4)) {
    status = "405 Method Not Allowed";
    put(&body, "GET /metrics\n");
  } else {
    exposition(m, &body);
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
  for (;;) {
    int c = accept4(m->lsock, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE)
        continue;
      break;
    }
    serve(m, c);
    close(c);
  }
  return NULL;
}

int metrics_start(const char *spec, const char *control)
{
  static struct metrics m;
  m.control = control;
  m.lsock = metrics_listen(spec);
  if (m.lsock < 0) {
    log_err("--metrics %s: cannot listen there (unix:PATH or tcp:ADDR:PORT): %s", spec,
            strerror(errno));
    return -1;
  }
  pthread_t t;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old); /* signals are the control loop's */
  int rc = pthread_create(&t, NULL, metrics_thread, &m);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc) {
    log_err("--metrics: no thread: %s", strerror(rc));
    close(m.lsock);
    return -1;
  }
  pthread_detach(t);
  log_info("metrics at %s", spec);
  return 0;
}
