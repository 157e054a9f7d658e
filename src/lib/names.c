/*
 * names.c - hostnames, nic ids and board numbers.
 */
#include <stdio.h>
#include <string.h>

#include "lib.h"
#include "base.h"

/* Ask the backend: it knows its peers (peers file, or learnt). */
static int resolve(struct ctl_resolve *r)
{
  struct ctl_msg req, rep;
  ctl_init(&req, CTL_RESOLVE, 0);
  req.u.resolve = *r;
  int rc = ctl_call(&req, &rep, NULL, NULL, NULL);
  if (rc == 0)
    *r = rep.u.resolve;
  return rc;
}

EXPORT mx_return_t mx_hostname_to_nic_id(char *hostname, uint64_t *nic_id)
{
  char host[MX_MAX_HOSTNAME_LEN];
  if (!lib.initialized)
    return lib_error(NULL, MX_NOT_INITIALIZED, "mx_hostname_to_nic_id");
  if (!hostname || !nic_id)
    return lib_error(NULL, MX_BAD_HOSTNAME_ARGS, "mx_hostname_to_nic_id: NULL argument");
  snprintf(host, sizeof(host), "%s", hostname);
  char *colon = strchr(host, ':');
  if (colon) {
    if (strcmp(colon, ":0"))
      return lib_error(NULL, MX_HOST_NOT_FOUND, "mx_hostname_to_nic_id: %s: no such board", hostname);
    *colon = 0;
  }
  if (!strcmp(host, lib.hello.hostname) || !strcmp(host, "localhost")) {
    *nic_id = lib.hello.nic_id;
    return MX_SUCCESS;
  }
  struct ctl_resolve r = {.by_name = 1};
  snprintf(r.name, sizeof(r.name), "%.63s", host);
  if (resolve(&r) != 0)
    return lib_error(NULL, MX_HOST_NOT_FOUND, "mx_hostname_to_nic_id: %s unknown", hostname);
  *nic_id = r.nic_id;
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_nic_id_to_hostname(uint64_t nic_id, char *hostname)
{
  if (!lib.initialized)
    return lib_error(NULL, MX_NOT_INITIALIZED, "mx_nic_id_to_hostname");
  if (nic_id == lib.hello.nic_id) {
    snprintf(hostname, MX_MAX_HOSTNAME_LEN, "%s:0", lib.hello.hostname);
    return MX_SUCCESS;
  }
  struct ctl_resolve r = {.nic_id = nic_id};
  if (resolve(&r) != 0)
    return lib_error(NULL, MX_NIC_NOT_FOUND, "mx_nic_id_to_hostname: %012llx unknown",
                     (unsigned long long)nic_id);
  snprintf(hostname, MX_MAX_HOSTNAME_LEN, "%.60s:0", r.name);
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_board_number_to_nic_id(uint32_t board, uint64_t *nic_id)
{
  if (board != 0)
    return lib_error(NULL, MX_BOARD_UNKNOWN, "mx_board_number_to_nic_id: board %u", board);
  *nic_id = lib.hello.nic_id;
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_nic_id_to_board_number(uint64_t nic_id, uint32_t *board)
{
  if (nic_id != lib.hello.nic_id)
    return lib_error(NULL, MX_NIC_NOT_FOUND, "mx_nic_id_to_board_number");
  *board = 0;
  return MX_SUCCESS;
}

