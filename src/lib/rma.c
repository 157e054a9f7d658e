/*
 * rma.c - remote memory access (mx_iput, mx_iget).  MX declared these calls
 * and never implemented them; MyriXen answers as MX did, with an error that
 * says so, never an abort: a program may probe for the feature and fall
 * back to messages.
 */
#include "lib.h"
#include "base.h"

static mx_return_t rma_refused(mx_endpoint_t ep, mx_request_t *request, const char *fn)
{
  if (request)
    *request = NULL;
  return lib_unsupported(ep_valid(ep) ? ep : NULL, fn,
                         "remote memory access is not part of MX; send a message");
}

EXPORT mx_return_t mx_iput(mx_endpoint_t ep, void *local_addr, uint32_t length,
                           mx_endpoint_addr_t dest, uint64_t remote_addr, void *context,
                           mx_request_t *request)
{
  (void)local_addr, (void)length, (void)dest, (void)remote_addr, (void)context;
  return rma_refused(ep, request, "mx_iput");
}

EXPORT mx_return_t mx_iget(mx_endpoint_t ep, void *local_addr, uint32_t length,
                           mx_endpoint_addr_t dest, uint64_t remote_addr, void *context,
                           mx_request_t *request)
{
  (void)local_addr, (void)length, (void)dest, (void)remote_addr, (void)context;
  return rma_refused(ep, request, "mx_iget");
}
