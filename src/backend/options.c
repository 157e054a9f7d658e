/*
 * options.c - myrixend's settings, from its configuration file and its
 * command line: every flag is also a key of the file (without its "--"),
 * the file is read first and the flags win.  One table names them all and
 * one function applies a value, whichever side it came from, so a value is
 * checked the same way in both.
 *
 * The file (default /etc/myrixen/myrixend.conf, or --config FILE) is lines
 * of `key = value`; '#' starts a comment; a flag without a value (daemon,
 * no-discovery, verbose) takes yes/no, true/false or 1/0.  An unknown key
 * or a bad value stops the backend with the file's name and line number.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/region.h"
#include "../common/wire.h"
#include "backend.h"

#define DEFAULT_CONFIG "/etc/myrixen/myrixend.conf"

enum opt_code {
  O_SOCKET = 256, O_NIC_ID, O_HOSTNAME, O_MAX_ENDPOINTS, O_SMALL_MAX, O_MEDIUM_MAX, O_DAEMON,
  O_CPU, O_VERBOSE, O_HELP, O_PORT, O_PEERS, O_FAULT, O_PEER_TIMEOUT, O_VIF_RATE,
  O_VIF_MSG_RATE, O_NO_DISCOVERY, O_KEY_FILE, O_ENDPOINTS_PER_USER, O_USER, O_SOCKET_OWNER,
  O_SOCKET_GROUP, O_SOCKET_MODE, O_VM_MEM, O_LOG_LEVEL, O_METRICS, O_SPIN, O_YIELD, O_CONFIG,
  O_CHECK_CONFIG, O_NO_LANES,
};

/* has_arg: 1 a value; 0 a switch (in the file: a yes/no value). file: a
 * key of the configuration file too. */
static const struct {
  const char *name;
  int has_arg, code, file;
} options[] = {
    {"socket", 1, O_SOCKET, 1},           {"nic-id", 1, O_NIC_ID, 1},
    {"hostname", 1, O_HOSTNAME, 1},       {"max-endpoints", 1, O_MAX_ENDPOINTS, 1},
    {"small-max", 1, O_SMALL_MAX, 1},     {"medium-max", 1, O_MEDIUM_MAX, 1},
    {"daemon", 0, O_DAEMON, 1},           {"cpu", 1, O_CPU, 1},
    {"verbose", 0, O_VERBOSE, 1},         {"help", 0, O_HELP, 0},
    {"port", 1, O_PORT, 1},               {"peers", 1, O_PEERS, 1},
    {"fault", 1, O_FAULT, 1},             {"peer-timeout-ms", 1, O_PEER_TIMEOUT, 1},
    {"vif-rate", 1, O_VIF_RATE, 1},       {"vif-msg-rate", 1, O_VIF_MSG_RATE, 1},
    {"no-discovery", 0, O_NO_DISCOVERY, 1}, {"key-file", 1, O_KEY_FILE, 1},
    {"endpoints-per-user", 1, O_ENDPOINTS_PER_USER, 1}, {"user", 1, O_USER, 1},
    {"socket-owner", 1, O_SOCKET_OWNER, 1}, {"socket-group", 1, O_SOCKET_GROUP, 1},
    {"socket-mode", 1, O_SOCKET_MODE, 1}, {"vm-mem-per-user", 1, O_VM_MEM, 1},
    {"log-level", 1, O_LOG_LEVEL, 1},     {"metrics", 1, O_METRICS, 1},
    {"engine-spin-us", 1, O_SPIN, 1},     {"engine-yield-us", 1, O_YIELD, 1},
    {"config", 1, O_CONFIG, 0},
    {"check-config", 0, O_CHECK_CONFIG, 0}, {"no-lanes", 0, O_NO_LANES, 1},
};
#define NOPTIONS (int)(sizeof(options) / sizeof(options[0]))

static void usage(FILE *f)
{
  fprintf(f,
          "usage: myrixend [options]\n"
          "  --config FILE       settings, key = value (default %s if it exists);\n"
          "                      every option below is also a key, and the option wins\n"
          "  --check-config      check the configuration file and the options, then exit\n"
          "  --socket PATH       control socket (default %s, env MYRIXEN_SOCKET)\n"
          "  --nic-id HEX        48-bit nic id of board 0 (default: from the hostname)\n"
          "  --hostname NAME     name peers resolve (default: gethostname)\n"
          "  --max-endpoints N   endpoints on this host (default 64, max %d)\n"
          "  --endpoints-per-user N  endpoints the guests of one user may hold at once\n"
          "                      (default: three quarters of --max-endpoints)\n"
          "  --vm-mem-per-user MB  RAM the VM guests of one user may hold at once\n"
          "                      (default 8192; a VM's RAM is the backend's memfd)\n"
          "  --small-max BYTES   largest inline message (default 128, max %d)\n"
          "  --medium-max BYTES  largest eager message (default 32768, max %d)\n"
          "  --cpu N             pin the engine thread to core N (give it a core of its own)\n"
          "  --engine-spin-us N, --engine-yield-us N  how long the idle engine spins, then\n"
          "                      yields its core, before it sleeps (defaults: 50 and 200;\n"
          "                      0 and 20 with network ports)\n"
          "  --port SPEC         a network port: udp:ADDR:PORT, udp:[ADDR6]:PORT or eth:IFNAME\n"
          "                      (repeat for several, up to %d); none: this host only\n"
          "  --peers FILE        other hosts: lines NIC_ID|- HOSTNAME udp:ADDR:PORT|eth:MAC\n"
          "                      (and key-file PATH: the cluster key, as --key-file)\n"
          "  --key-file FILE     the cluster key: a secret every host of the cluster shares\n"
          "                      (mode 600; e.g. head -c 32 /dev/urandom); every packet then\n"
          "                      carries a MAC, and one without it, or replayed, is dropped.\n"
          "                      Without a key, the wire trusts the segment\n"
          "  --fault SPEC        inject faults on every port (env MYRIXEN_FAULT), e.g.\n"
          "                      loss=0.05,dup=0.01,reorder=0.02,delay_us=200,corrupt=0.001,seed=7\n"
          "  --peer-timeout-ms N give up on a peer that acknowledges nothing for N ms (10000)\n"
          "  --no-discovery      do not announce this host on the ports' segments every 2 s,\n"
          "                      nor learn hosts from their announcements\n"
          "  --no-lanes          no lanes: guests' messages to other hosts all go through the\n"
          "                      engines (docs/lanes.md)\n"
          "  --vif-rate MBPS     limit what the engine takes from each VIF (MB/s; 0: none)\n"
          "  --vif-msg-rate N    ... and how many messages a second (0: none)\n"
          "  --user NAME         run as NAME once ports and socket are open, keeping only\n"
          "                      CAP_SYS_PTRACE, CAP_SETUID and CAP_SETGID (docs/security.md)\n"
          "  --socket-owner U    the control socket's owner\n"
          "  --socket-group G    the control socket's group (with --socket-mode 0660: only\n"
          "                      its members may become guests)\n"
          "  --socket-mode MODE  the control socket's mode, octal (default 0666)\n"
          "  --log-level L       error, warn, info (default) or debug\n"
          "  --metrics ADDR      serve Prometheus metrics (GET /metrics) at unix:PATH or\n"
          "                      tcp:ADDR:PORT (e.g. tcp:127.0.0.1:9477; they name guests)\n"
          "  --daemon            detach and run in the background\n"
          "  -v, --verbose       log every guest and endpoint event (--log-level debug)\n",
          DEFAULT_CONFIG, CTL_DEFAULT_SOCKET, ENGINE_MAX_ENDPOINTS, MSG_INLINE_MAX,
          EAGER_SLOTS * EAGER_SIZE / 2, ENGINE_MAX_PORTS);
}

/* Whole-string numbers, or -1 (and *why). */
static int parse_u64(const char *v, int base, uint64_t max, uint64_t *out)
{
  char *end;
  errno = 0;
  unsigned long long x = strtoull(v, &end, base);
  if (!*v || *end || errno || v[0] == '-' || x > max)
    return -1;
  *out = x;
  return 0;
}

static int parse_double(const char *v, double *out)
{
  char *end;
  double x = strtod(v, &end);
  if (!*v || *end || !(x >= 0) || x > 1e9)
    return -1;
  *out = x;
  return 0;
}

static int parse_bool(const char *v, int *out)
{
  static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false", "off", "0"};
  for (int i = 0; i < 4; i++) {
    if (!strcasecmp(v, yes[i]))
      return *out = 1, 0;
    if (!strcasecmp(v, no[i]))
      return *out = 0, 0;
  }
  return -1;
}

static int parse_level(const char *v, int *out)
{
  static const char *const names[] = {"error", "warn", "info", "debug"};
  for (int i = 0; i < 4; i++)
    if (!strcasecmp(v, names[i]))
      return *out = i, 0;
  return -1;
}

/* Apply one setting.  from_file: the value came from the file (a switch
 * then has a yes/no value).  0, or -1 with what is wrong in why. */
static int apply(struct be_options *o, int code, const char *v, int from_file, const char **why)
{
  struct be_config *cfg = o->cfg;
  struct engine_config *ec = &cfg->eng;
  uint64_t n = 0;
  double d = 0;
  int b = 1;
  *why = "not a valid value";
  switch (code) {
  case O_DAEMON:
  case O_VERBOSE:
  case O_NO_DISCOVERY:
  case O_NO_LANES:
    if (from_file && parse_bool(v, &b) < 0)
      return *why = "not yes or no", -1;
    if (code == O_DAEMON)
      o->daemonize = b;
    else if (code == O_VERBOSE)
      o->verbose = b; /* debug whatever log-level says */
    else if (code == O_NO_LANES)
      cfg->no_lanes = b;
    else
      ec->no_discovery = b;
    return 0;
  case O_SOCKET: cfg->socket_path = strdup(v); return 0;
  case O_NIC_ID:
    if (parse_u64(v, 16, 0xffffffffffffull, &n) < 0 || !n)
      return *why = "not a 48-bit hexadecimal nic id", -1;
    ec->nic_id = n;
    return 0;
  case O_HOSTNAME:
    if (!*v || strlen(v) >= sizeof(ec->hostname))
      return *why = "empty or too long", -1;
    snprintf(ec->hostname, sizeof(ec->hostname), "%s", v);
    return 0;
  case O_MAX_ENDPOINTS:
    if (parse_u64(v, 10, ENGINE_MAX_ENDPOINTS, &n) < 0 || !n)
      return *why = "not between 1 and the engine's maximum", -1;
    ec->max_endpoints = (uint32_t)n;
    return 0;
  case O_SMALL_MAX:
    if (parse_u64(v, 10, MSG_INLINE_MAX, &n) < 0)
      return *why = "not a size up to the inline maximum", -1;
    cfg->small_max = (uint32_t)n;
    return 0;
  case O_MEDIUM_MAX:
    if (parse_u64(v, 10, EAGER_SLOTS * EAGER_SIZE / 2, &n) < 0)
      return *why = "not a size up to half the eager ring", -1;
    ec->medium_max = (uint32_t)n;
    return 0;
  case O_CPU:
    if (parse_u64(v, 10, 4095, &n) < 0)
      return *why = "not a core number", -1;
    ec->engine_cpu = (int)n;
    return 0;
  case O_PORT:
    if (!from_file && !o->ports_from_flags) {
      ec->nports = 0; /* the flags' ports replace the file's */
      o->ports_from_flags = 1;
    }
    if (ec->nports == ENGINE_MAX_PORTS)
      return *why = "more ports than the engine has", -1;
    if (strncmp(v, "udp:", 4) && strncmp(v, "eth:", 4))
      return *why = "not udp:ADDR:PORT or eth:IFNAME", -1;
    ec->ports[ec->nports++] = strdup(v);
    return 0;
  case O_PEERS: ec->peers_file = strdup(v); return 0;
  case O_KEY_FILE: ec->key_file = strdup(v); return 0;
  case O_FAULT: ec->fault = strdup(v); return 0;
  case O_PEER_TIMEOUT:
    if (parse_u64(v, 10, UINT32_MAX, &n) < 0 || !n)
      return *why = "not a positive number of milliseconds", -1;
    ec->peer_timeout_ms = (uint32_t)n;
    return 0;
  case O_VIF_RATE:
    if (parse_double(v, &d) < 0 || (d > 0 && d * 1e6 < 1))
      return *why = "not a rate in MB/s (0: none; at least a byte a second)", -1;
    ec->vif_bytes_per_s = (uint64_t)(d * 1e6);
    return 0;
  case O_VIF_MSG_RATE:
    if (parse_u64(v, 10, UINT32_MAX, &n) < 0)
      return *why = "not a number of messages a second", -1;
    ec->vif_msgs_per_s = n;
    return 0;
  case O_ENDPOINTS_PER_USER:
    if (parse_u64(v, 10, ENGINE_MAX_ENDPOINTS, &n) < 0 || !n)
      return *why = "not between 1 and the engine's maximum", -1;
    cfg->endpoints_per_user = (uint32_t)n;
    return 0;
  case O_VM_MEM:
    if (parse_u64(v, 10, 1ull << 30, &n) < 0 || !n)
      return *why = "not a positive number of MB", -1;
    cfg->vm_mem_per_user_mb = n;
    return 0;
  case O_USER: cfg->user = strdup(v); return 0;
  case O_SOCKET_OWNER: cfg->socket_owner = strdup(v); return 0;
  case O_SOCKET_GROUP: cfg->socket_group = strdup(v); return 0;
  case O_SOCKET_MODE:
    if (parse_u64(v, 8, 0777, &n) < 0)
      return *why = "not an octal mode", -1;
    cfg->socket_mode = (unsigned)n;
    return 0;
  case O_SPIN:
  case O_YIELD:
    if (parse_u64(v, 10, 1000000, &n) < 0)
      return *why = "not a number of microseconds up to a second", -1;
    if (code == O_SPIN) {
      ec->has_spin = 1;
      ec->spin_us = (uint32_t)n;
    } else {
      ec->has_yield = 1;
      ec->yield_us = (uint32_t)n;
    }
    return 0;
  case O_METRICS:
    if (metrics_check(v) < 0)
      return *why = "not unix:PATH or tcp:IPV4:PORT or tcp:[IPV6]:PORT", -1;
    cfg->metrics = strdup(v);
    return 0;
  case O_LOG_LEVEL:
    if (parse_level(v, &b) < 0)
      return *why = "not error, warn, info or debug", -1;
    o->log_level = b;
    return 0;
  }
  return *why = "not a setting", -1;
}

static char *trim(char *s)
{
  while (*s == ' ' || *s == '\t')
    s++;
  char *e = s + strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
    *--e = 0;
  return s;
}

/* The file's settings; 0, or -1 with the file, line and reason on stderr. */
static int read_file(struct be_options *o, const char *path, int must_exist)
{
  FILE *f = fopen(path, "r");
  if (!f) {
    if (!must_exist && errno == ENOENT)
      return 1; /* no file: the defaults */
    fprintf(stderr, "myrixend: %s: %s\n", path, strerror(errno));
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int ln = 0, rc = 0;
  while ((len = getline(&line, &cap, f)) >= 0) {
    ln++;
    if ((size_t)len != strlen(line)) {
      fprintf(stderr, "myrixend: %s:%d: a NUL byte in the line\n", path, ln);
      rc = -1;
      continue;
    }
    char *hash = strchr(line, '#');
    if (hash)
      *hash = 0;
    char *key = trim(line);
    if (!*key)
      continue;
    char *eq = strchr(key, '=');
    const char *why = "not key = value";
    int code = -1;
    if (eq) {
      *eq = 0;
      char *k = trim(key), *v = trim(eq + 1);
      why = "unknown key";
      for (int i = 0; i < NOPTIONS; i++)
        if (options[i].file && !strcmp(options[i].name, k))
          code = options[i].code;
      if (code >= 0 && !*v)
        why = "no value";
      else if (code >= 0 && apply(o, code, v, 1, &why) == 0)
        continue;
      fprintf(stderr, "myrixend: %s:%d: %s: %s\n", path, ln, k, why);
    } else {
      fprintf(stderr, "myrixend: %s:%d: %s\n", path, ln, why);
    }
    rc = -1; /* every bad line is reported, then the backend stops */
  }
  free(line);
  fclose(f);
  return rc;
}

int options_parse(struct be_options *o, int argc, char **argv)
{
  struct option lo[NOPTIONS + 1];
  for (int i = 0; i < NOPTIONS; i++)
    lo[i] = (struct option){options[i].name, options[i].has_arg, 0, options[i].code};
  lo[NOPTIONS] = (struct option){0, 0, 0, 0};
  /* First the file (named by --config, or the default), then the flags. */
  /* A first pass for --config and --check-config, read as the second
   * reads them (getopt takes unambiguous abbreviations: --check, --conf). */
  const char *config = NULL;
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
    if (c == O_CONFIG)
      config = optarg;
    else if (c == O_CHECK_CONFIG)
      o->check_only = 1;
  }
  optind = 0; /* the second pass from the start, getopt's state reset */
  int read = read_file(o, config ? config : DEFAULT_CONFIG, config != NULL);
  if (read < 0)
    return 2;
  const char *why;
  while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
    if (c == 'h' || c == O_HELP)
      return usage(stdout), 0;
    if (c == 'v')
      c = O_VERBOSE;
    if (c == O_CONFIG || c == O_CHECK_CONFIG)
      continue;
    if (c == '?' || c == ':') {
      fprintf(stderr, "myrixend: %s: unknown option or missing value\n", argv[optind - 1]);
      return usage(stderr), 2;
    }
    if (apply(o, c, optarg, 0, &why) < 0) {
      const char *name = "?";
      for (int i = 0; i < NOPTIONS; i++)
        name = options[i].code == c ? options[i].name : name;
      fprintf(stderr, "myrixend: --%s %s: %s\n", name, optarg ? optarg : "", why);
      return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "myrixend: unexpected argument %s\n", argv[optind]);
    return usage(stderr), 2;
  }
  struct be_config *cfg = o->cfg;
  struct engine_config *ec = &cfg->eng;
  if (ec->medium_max < cfg->small_max) {
    fprintf(stderr, "myrixend: medium-max %u is below small-max %u\n", ec->medium_max,
            cfg->small_max);
    return 2;
  }
  if (!ec->nic_id)
    ec->nic_id = wire_nic_from_name(ec->hostname);
  if (!cfg->vm_mem_per_user_mb)
    cfg->vm_mem_per_user_mb = 8192;
  if (!cfg->endpoints_per_user)
    cfg->endpoints_per_user = ec->max_endpoints - ec->max_endpoints / 4;
  if (o->check_only) {
    if (read == 1)
      printf("myrixend: no configuration file (%s); the options are valid\n", DEFAULT_CONFIG);
    else
      printf("myrixend: configuration %s is valid\n", config ? config : DEFAULT_CONFIG);
    return 0;
  }
  return -1;
}
