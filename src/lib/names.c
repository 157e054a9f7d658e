/*
 * names.c - hostnames, nic ids and board numbers.
 */
#include <stdio.h>
#include <string.h>

#include "lib.h"

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
  if (strcmp(host, lib.hello.hostname) && strcmp(host, "localhost"))
    return lib_error(NULL, MX_HOST_NOT_FOUND, "mx_hostname_to_nic_id: %s unknown", hostname);
  *nic_id = lib.hello.nic_id;
  return MX_SUCCESS;
}

EXPORT mx_return_t mx_nic_id_to_hostname(uint64_t nic_id, char *hostname)
{
  if (!lib.initialized)
    return lib_error(NULL, MX_NOT_INITIALIZED, "mx_nic_id_to_hostname");
  if (nic_id != lib.hello.nic_id)
    return lib_error(NULL, MX_NIC_NOT_FOUND, "mx_nic_id_to_hostname: %012llx unknown",
                     (unsigned long long)nic_id);
  snprintf(hostname, MX_MAX_HOSTNAME_LEN, "%s:0", lib.hello.hostname);
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

