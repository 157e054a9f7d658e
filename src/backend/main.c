/*
 * main.c - myrixend, the MyriXen backend ("driver domain"): admits guests,
 * gives each a region with its VIFs, and runs the NIC engine.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "../common/wire.h"
#include "backend.h"

static void usage(FILE *f)
{
  fprintf(f,
          "usage: myrixend [options]\n"
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
          "  --port SPEC         a network port: udp:ADDR:PORT, udp:[ADDR6]:PORT or eth:IFNAME\n"
          "                      (repeat for several, up to 4); none: this host only\n"
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
          "  --vif-rate MBPS     limit what the engine takes from each VIF (MB/s; 0: none)\n"
          "  --vif-msg-rate N    ... and how many messages a second (0: none)\n"
          "  --user NAME         run as NAME once ports and socket are open, keeping only\n"
          "                      CAP_SYS_PTRACE, CAP_SETUID and CAP_SETGID (docs/security.md)\n"
          "  --socket-group G    the control socket's group (with --socket-mode 0660: only\n"
          "                      its members may become guests)\n"
          "  --socket-mode MODE  the control socket's mode, octal (default 0666)\n"
          "  --daemon            detach and run in the background\n"
          "  -v, --verbose       log every guest and endpoint event\n",
          CTL_DEFAULT_SOCKET, ENGINE_MAX_ENDPOINTS, MSG_INLINE_MAX, EAGER_SLOTS * EAGER_SIZE / 2);
}

/* The command line into cfg.  -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, struct be_config *cfg, int *daemonize)
{
  static const struct option opts[] = {
      {"socket", 1, 0, 's'},   {"nic-id", 1, 0, 'n'},     {"hostname", 1, 0, 'H'},
      {"max-endpoints", 1, 0, 'e'}, {"small-max", 1, 0, 'S'}, {"medium-max", 1, 0, 'M'},
      {"daemon", 0, 0, 'd'},   {"cpu", 1, 0, 'c'},   {"verbose", 0, 0, 'v'},    {"help", 0, 0, 'h'},
      {"port", 1, 0, 'p'},     {"peers", 1, 0, 'P'}, {"fault", 1, 0, 'f'},
      {"peer-timeout-ms", 1, 0, 'T'}, {"vif-rate", 1, 0, 'r'}, {"vif-msg-rate", 1, 0, 'm'},
      {"no-discovery", 0, 0, 'D'}, {"key-file", 1, 0, 'K'}, {"endpoints-per-user", 1, 0, 'U'},
      {"user", 1, 0, 'u'}, {"socket-group", 1, 0, 'g'}, {"socket-mode", 1, 0, 'o'},
      {"vm-mem-per-user", 1, 0, 'V'}, {0, 0, 0, 0}};
  struct engine_config *ec = &cfg->eng;
  int c;
  while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
    switch (c) {
    case 's': cfg->socket_path = optarg; break;
    case 'n': ec->nic_id = strtoull(optarg, NULL, 16) & 0xffffffffffffull; break;
    case 'H': snprintf(ec->hostname, sizeof(ec->hostname), "%s", optarg); break;
    case 'e': ec->max_endpoints = (uint32_t)atoi(optarg); break;
    case 'S': cfg->small_max = (uint32_t)atoi(optarg); break;
    case 'M': ec->medium_max = (uint32_t)atoi(optarg); break;
    case 'd': *daemonize = 1; break;
    case 'c': ec->engine_cpu = atoi(optarg); break;
    case 'v': cfg->verbose = 1; break;
    case 'p':
      if (ec->nports == ENGINE_MAX_PORTS) {
        fprintf(stderr, "myrixend: at most %d ports\n", ENGINE_MAX_PORTS);
        return 2;
      }
      ec->ports[ec->nports++] = optarg;
      break;
    case 'P': ec->peers_file = optarg; break;
    case 'K': ec->key_file = optarg; break;
    case 'U': cfg->endpoints_per_user = (uint32_t)atoi(optarg); break;
    case 'V': cfg->vm_mem_per_user_mb = strtoull(optarg, NULL, 10); break;
    case 'u': cfg->user = optarg; break;
    case 'g': cfg->socket_group = optarg; break;
    case 'o': cfg->socket_mode = (unsigned)strtoul(optarg, NULL, 8) & 0777; break;
    case 'f': ec->fault = optarg; break;
    case 'T': ec->peer_timeout_ms = (uint32_t)atoi(optarg); break;
    case 'D': ec->no_discovery = 1; break;
    case 'r': ec->vif_bytes_per_s = (uint64_t)(atof(optarg) * 1e6); break;
    case 'm': ec->vif_msgs_per_s = strtoull(optarg, NULL, 10); break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (ec->max_endpoints == 0 || ec->max_endpoints > ENGINE_MAX_ENDPOINTS ||
      cfg->small_max > MSG_INLINE_MAX || ec->medium_max < cfg->small_max ||
      ec->medium_max > EAGER_SLOTS * EAGER_SIZE / 2) {
    fprintf(stderr, "myrixend: option out of range\n");
    usage(stderr);
    return 2;
  }
  if (!ec->nic_id)
    ec->nic_id = wire_nic_from_name(ec->hostname);
  if (!cfg->vm_mem_per_user_mb)
    cfg->vm_mem_per_user_mb = 8192;
  if (!cfg->endpoints_per_user)
    cfg->endpoints_per_user = ec->max_endpoints - ec->max_endpoints / 4;
  return -1;
}

int main(int argc, char **argv)
{
  static struct backend be;
  struct engine_config *ec = &be.cfg.eng;
  char err[256];
  int daemonize = 0;
  sigset_t mask;

  be.cfg.socket_path = ctl_socket_path();
  ec->max_endpoints = 64;
  be.cfg.small_max = 128;
  ec->medium_max = 32768;
  ec->engine_cpu = -1;
  be.cfg.socket_mode = 0666;
  gethostname(ec->hostname, sizeof(ec->hostname) - 1);
  int status = parse_options(argc, argv, &be.cfg, &daemonize);
  if (status >= 0)
    return status;
  log_setup("myrixend", be.cfg.verbose ? LOG_DEBUG : LOG_INFO);
  if (daemonize && daemon(0, 0) < 0) {
    perror("daemon");
    return 1;
  }
  /* Signals are read by the control loop (signalfd); block them in every
   * thread, the engine's included. */
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &mask, NULL);
  signal(SIGPIPE, SIG_IGN);
  be.started_ns = clock_now_ns();
  if (engine_create(ec, &be.engine, err, sizeof(err)) < 0) {
    log_err("%s", err);
    return 1;
  }
  if (server_listen(&be) < 0) {
    engine_destroy(be.engine);
    return 1;
  }
  if (be.cfg.user && privilege_drop(be.cfg.user, err, sizeof(err)) < 0) {
    log_err("%s", err);
    engine_destroy(be.engine);
    return 1;
  }
  int r = engine_start(be.engine);
  if (r < 0) {
    log_err("cannot start the engine: %s", strerror(-r));
    engine_destroy(be.engine);
    return 1;
  }
  int rc = server_run(&be);
  engine_destroy(be.engine);
  log_info("stopped");
  return rc;
}
