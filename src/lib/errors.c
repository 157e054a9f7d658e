/*
 * errors.c - MX error handlers and code texts.  By default (as in MX) a
 * failing call goes to MX_ERRORS_ARE_FATAL, which prints and aborts; the
 * only abort() in the library lives there.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "../common/mxerror.h"
#include "lib.h"
#include "base.h"

static mx_return_t errors_are_fatal(char *str, mx_return_t ret)
{
  fprintf(stderr, "MX: fatal error: %s: %s\n", str, mxerror_return_text(ret));
  abort();
}

static mx_return_t errors_return(char *str, mx_return_t ret)
{
  (void)str;
  return ret;
}

EXPORT const mx_error_handler_t MX_ERRORS_ARE_FATAL = errors_are_fatal;
EXPORT const mx_error_handler_t MX_ERRORS_RETURN = errors_return;

mx_return_t lib_error(struct mx_endpoint *ep, mx_return_t ret, const char *fmt, ...)
{
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  mx_error_handler_t h = ep && ep->handler ? ep->handler : lib.handler;
  if (!h)
    h = errors_are_fatal;
  return h(msg, ret);
}

EXPORT mx_error_handler_t mx_set_error_handler(mx_error_handler_t handler)
{
  mx_error_handler_t old = lib.handler ? lib.handler : errors_are_fatal;
  lib.handler = handler;
  return old;
}

EXPORT const char *mx_strerror(mx_return_t code)
{
  return mxerror_return_text((int)code);
}

EXPORT const char *mx_strstatus(mx_status_code_t code)
{
  return mxerror_status_text((int)code);
}

mx_return_t lib_unsupported(struct mx_endpoint *ep, const char *fn, const char *why)
{
  mx_error_handler_t h = ep && ep->handler ? ep->handler : lib.handler;
  if (!h || h == errors_are_fatal) {
    fprintf(stderr, "MX: %s: not supported: %s\n", fn, why);
    return MX_FAILURE;
  }
  char msg[256];
  snprintf(msg, sizeof(msg), "%s: not supported: %s", fn, why);
  return h(msg, MX_FAILURE);
}
