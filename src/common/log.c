/* log.c - see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *log_name = "myrixen";
static enum log_level log_max = LOG_WARN;

void log_setup(const char *name, enum log_level level)
{
  const char *env = getenv("MYRIXEN_LOG");
  log_name = name;
  log_max = level;
  if (!env)
    return;
  if (!strcmp(env, "debug"))
    log_max = LOG_DEBUG;
  else if (!strcmp(env, "info"))
    log_max = LOG_INFO;
  else if (!strcmp(env, "warn"))
    log_max = LOG_WARN;
  else if (!strcmp(env, "err"))
    log_max = LOG_ERR;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
  static const char *const tag[] = {"error", "warn", "info", "debug"};
  char line[1024];
  struct timespec ts;
  va_list ap;
  int n;

  if (level > log_max)
    return;
  clock_gettime(CLOCK_REALTIME, &ts);
  n = snprintf(line, sizeof(line), "%s[%ld.%03ld] %s: ", log_name, (long)(ts.tv_sec % 100000),
               ts.tv_nsec / 1000000, tag[level]);
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s\n", line);
}
