/*
 * json.c - the reports' JSON writer (json.h).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdlib.h>

#include "json.h"

void json_begin(struct json *j, FILE *f)
{
  j->f = f;
  j->depth = 0;
  j->items[0] = 0;
}

static void put_string(FILE *f, const char *s)
{
  fputc('"', f);
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c == '"' || *c == '\\')
      fprintf(f, "\\%c", *c);
    else if (*c < 0x20 || *c == 0x7f)
      fprintf(f, "\\u%04x", *c);
    else
      fputc(*c, f);
  }
  fputc('"', f);
}

/* The comma before an item and its key, if any. */
static void item(struct json *j, const char *key)
{
  if (j->items[j->depth]++)
    fputc(',', j->f);
  if (key) {
    put_string(j->f, key);
    fputc(':', j->f);
  }
}

static void open_level(struct json *j, const char *key, char opener, char closer)
{
  item(j, key);
  fputc(opener, j->f);
  if (j->depth + 1 < JSON_DEPTH) {
    j->depth++;
    j->items[j->depth] = 0;
    j->closer[j->depth] = closer;
  }
}

void json_obj(struct json *j, const char *key)
{
  open_level(j, key, '{', '}');
}

void json_arr(struct json *j, const char *key)
{
  open_level(j, key, '[', ']');
}

void json_end(struct json *j)
{
  if (j->depth == 0)
    return;
  fputc(j->closer[j->depth], j->f);
  if (--j->depth == 0)
    fputc('\n', j->f);
}

void json_u64(struct json *j, const char *key, uint64_t v)
{
  item(j, key);
  fprintf(j->f, "%llu", (unsigned long long)v);
}

void json_int(struct json *j, const char *key, int64_t v)
{
  item(j, key);
  fprintf(j->f, "%lld", (long long)v);
}

void json_double(struct json *j, const char *key, double v, int decimals)
{
  item(j, key);
  fprintf(j->f, "%.*f", decimals, v);
}

void json_str(struct json *j, const char *key, const char *s)
{
  item(j, key);
  put_string(j->f, s);
}

void json_strf(struct json *j, const char *key, const char *fmt, ...)
{
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  json_str(j, key, buf);
}

void json_nic(struct json *j, const char *key, uint64_t nic)
{
  json_strf(j, key, "%012llx", (unsigned long long)nic);
}

char *json_to_string(void (*write)(void *arg, struct json *j), void *arg)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  struct json j;
  if (!f)
    return NULL;
  json_begin(&j, f);
  write(arg, &j);
  fclose(f);
  return buf;
}
