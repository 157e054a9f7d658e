/*
 * report.c - the backend's state and counters as JSON, for `myrixen info`,
 * `counters` and `peers`: the backend's own part, then the engine's.
 */
#include <unistd.h>

#include "../common/clock.h"
#include "../common/json.h"
#include "backend.h"

static void write_guest(struct json *j, const struct be_guest *g)
{
  json_obj(j, NULL);
  json_u64(j, "id", g->id);
  json_str(j, "kind", g->kind);
  json_str(j, "name", g->name);
  json_int(j, "pid", g->pid); /* a VM's: its launcher's */
  if (g->ram)
    json_u64(j, "vm_mem_mb", g->ram_size >> 20);
  json_str(j, "datapath", datapath_name(g->datapath));
  json_u64(j, "mailbox_calls", g->mbox_calls);
  json_end(j);
}

static void write_info(void *arg, struct json *j)
{
  struct backend *be = arg;
  const struct engine_config *ec = &be->cfg.eng;
  json_obj(j, NULL);
  json_str(j, "backend", "myrixend");
  json_str(j, "version", MYRIXEN_VERSION);
  json_int(j, "protocol", CTL_VERSION);
  json_int(j, "region_version", REGION_VERSION);
  json_str(j, "hostname", ec->hostname);
  json_nic(j, "nic_id", ec->nic_id);
  json_double(j, "uptime_s", (double)(clock_now_ns() - be->started_ns) / 1e9, 1);
  json_int(j, "backend_pid", getpid());
  json_arr(j, "ports");
  json_obj(j, NULL);
  json_int(j, "board", 0);
  json_str(j, "type", "loop");
  json_nic(j, "nic_id", ec->nic_id);
  json_end(j);
  json_end(j);
  json_obj(j, "thresholds");
  json_u64(j, "small_max", be->cfg.small_max);
  json_u64(j, "medium_max", ec->medium_max);
  json_end(j);
  json_arr(j, "guests");
  for (int i = 0; i < BE_MAX_GUESTS; i++)
    if (be->guests[i].in_use &&
        (be->guests[i].role == CTL_ROLE_GUEST || be->guests[i].role == CTL_ROLE_VM))
      write_guest(j, &be->guests[i]);
  json_end(j);
  engine_write_endpoints(be->engine, j);
  json_end(j);
}

static void write_counters(void *arg, struct json *j)
{
  struct backend *be = arg;
  json_obj(j, NULL);
  engine_write_counters(be->engine, j);
  json_obj(j, "control");
  json_u64(j, "errors", be->ctl_errors);
  json_u64(j, "connections_refused", be->conns_refused);
  json_u64(j, "connections_silent", be->conns_silent);
  json_u64(j, "endpoints_refused", be->endpoints_refused);
  json_u64(j, "vms_refused", be->vms_refused);
  json_u64(j, "lanes_made", be->lanes_made);
  json_u64(j, "lanes_retired", be->nretired);
  json_u64(j, "lanes_released_early", be->lanes_released_early);
  json_end(j);
  json_end(j);
}

static void write_peers(void *arg, struct json *j)
{
  struct backend *be = arg;
  json_obj(j, NULL);
  engine_write_peers(be->engine, j);
  json_end(j);
}

char *report_info(struct backend *be) { return json_to_string(write_info, be); }
char *report_counters(struct backend *be) { return json_to_string(write_counters, be); }
char *report_peers(struct backend *be) { return json_to_string(write_peers, be); }
