/*
 * main.c - myrixend, the MyriXen backend ("driver domain"): admits guests,
 * gives each a region with its VIFs, and runs the NIC engine.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "backend.h"

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
  struct be_options opt = {.cfg = &be.cfg, .log_level = LOG_INFO};
  int status = options_parse(&opt, argc, argv);
  if (status >= 0)
    return status;
  daemonize = opt.daemonize;
  if (opt.verbose)
    opt.log_level = LOG_DEBUG;
  be.cfg.verbose = opt.log_level >= LOG_DEBUG;
  log_setup("myrixend", (enum log_level)opt.log_level);
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
  if (be.cfg.metrics && metrics_open(be.cfg.metrics, be.cfg.socket_path) < 0) {
    unlink(be.cfg.socket_path);
    engine_destroy(be.engine);
    return 1;
  }
  /* Privileges go before the engine's thread starts: it inherits the ids
   * and capabilities it writes into guests with, and guestmem.c reads
   * them once, at its first write. */
  if (be.cfg.user && privilege_drop(be.cfg.user, err, sizeof(err)) < 0) {
    log_err("%s", err);
    unlink(be.cfg.socket_path);
    engine_destroy(be.engine);
    return 1;
  }
  int r = engine_start(be.engine);
  if (r < 0) {
    log_err("cannot start the engine: %s", strerror(-r));
    engine_destroy(be.engine);
    return 1;
  }
  if (metrics_run() < 0) {
    unlink(be.cfg.socket_path);
    engine_destroy(be.engine);
    return 1;
  }
  notify_ready();
  int rc = server_run(&be);
  metrics_stop();
  engine_destroy(be.engine);
  log_info("stopped");
  return rc;
}
