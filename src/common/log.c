/* log.c - see log.h. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Guests cause most log lines (a bad request, a refused connect), and a
 * hostile one could cause them as fast as it likes: lines below LOG_ERR
 * pass a token bucket of LOG_RATE a second (LOG_BURST at once), and what
 * it holds back is counted in the next line that passes. */
#define LOG_RATE 50.0
#define LOG_BURST 100.0

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static double log_tokens = LOG_BURST;
static struct timespec log_refilled;
static unsigned long log_suppressed;

/* True when a line may go; *held: how many were held back before it. */
static int log_allowed(unsigned long *held)
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  pthread_mutex_lock(&log_lock);
  double dt = (double)(now.tv_sec - log_refilled.tv_sec) +
              (double)(now.tv_nsec - log_refilled.tv_nsec) / 1e9;
  log_refilled = now;
  log_tokens += dt * LOG_RATE;
  if (log_tokens > LOG_BURST)
    log_tokens = LOG_BURST;
  int ok = log_tokens >= 1;
  if (ok) {
    log_tokens -= 1;
    *held = log_suppressed;
    log_suppressed = 0;
  } else {
    log_suppressed++;
  }
  pthread_mutex_unlock(&log_lock);
  return ok;
}

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

/* The component of a source path: the name of its directory ("src/engine/
 * pull.c" -> "engine"), at most 15 characters. */
static void component_of(const char *file, char *out, size_t cap)
{
  const char *end = strrchr(file, '/'), *start = end;
  while (start && start > file && start[-1] != '/')
    start--;
  size_t n = end && start ? (size_t)(end - start) : 0;
  if (n >= cap)
    n = cap - 1;
  memcpy(out, n ? start : "main", n ? n : 5);
  out[n ? n : 4] = 0;
}

void log_msg(enum log_level level, const char *file, const char *fmt, ...)
{
  static const char *const tag[] = {"error", "warn", "info", "debug"};
  char line[1024];
  struct timespec ts;
  va_list ap;
  int n;

  unsigned long held = 0;
  if (level > log_max || (level > LOG_ERR && !log_allowed(&held)))
    return;
  if (held)
    fprintf(stderr, "%s: %lu log lines suppressed (more than %.0f a second)\n", log_name, held,
            LOG_RATE);
  /* Under systemd stderr is the journal's (JOURNAL_STREAM): the level goes
   * as a syslog priority it reads ("<3>"), and it keeps its own time. */
  static const int priority[] = {3, 4, 6, 7};
  char comp[16];
  component_of(file, comp, sizeof(comp));
  if (getenv("JOURNAL_STREAM")) {
    n = snprintf(line, sizeof(line), "<%d>%s %s: ", priority[level], tag[level], comp);
  } else {
    clock_gettime(CLOCK_REALTIME, &ts);
    n = snprintf(line, sizeof(line), "%s[%ld.%03ld] %s %s: ", log_name,
                 (long)(ts.tv_sec % 100000), ts.tv_nsec / 1000000, tag[level], comp);
  }
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s\n", line);
}
