/* mxerror.c - see mxerror.h.  Indexed by MX's numeric values. */
#include "mxerror.h"

static const char *const return_text[] = {
    "Success", "Bad bad bad (internal error)", "Failure", "Already initialized",
    "Not initialized", "No device", "No backend (is myrixend running?)", "Permission denied",
    "Board unknown", "Bad endpoint", "Bad segment list", "Bad segment memory",
    "Bad segment count", "Bad request", "Bad match mask (match info has bits outside the mask)",
    "No resources", "Bad address list", "Bad address count", "Bad root", "Not completed",
    "Busy", "Bad info key", "Bad info value", "Bad NIC", "Bad parameter list",
    "Bad parameter name", "Bad parameter value", "Bad hostname arguments", "Host not found",
    "Request pending", "Timeout", "No match", "Bad endpoint id", "Connection failed",
    "Bad connection key", "Bad info length", "NIC not found", "Bad kernel version",
    "Bad library version (backend speaks another protocol)", "NIC dead",
    "Cancel not supported", "Close in handler", "Bad matching for context id mask",
    "Not supported with context id",
};

static const char *const status_text[] = {
    "Success", "Pending", "Buffered", "Rejected", "Timeout", "Truncated", "Cancelled",
    "Endpoint unknown", "Endpoint closed", "Endpoint unreachable", "Bad session", "Bad key",
    "Bad endpoint", "Bad RDMA window", "Aborted", "Event queue full", "No resources",
};

const char *mxerror_return_text(int code)
{
  if (code < 0 || code >= (int)(sizeof(return_text) / sizeof(return_text[0])))
    return "Unknown return code";
  return return_text[code];
}

const char *mxerror_status_text(int code)
{
  if (code < 0 || code >= (int)(sizeof(status_text) / sizeof(status_text[0])))
    return "Unknown status code";
  return status_text[code];
}
