/*
 * jsonread.c - reading the backend's and the benches' JSON (src/common/
 * json.c writes it): the value of a key, from a point in the text on.
 * Their JSON has no key inside a string and no nested key of the same
 * name before the one wanted, so a scan for "key": is a reader.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

const char *json_get(const char *from, const char *key, char *out, size_t cap)
{
  char pat[80];
  snprintf(pat, sizeof(pat), "\"%s\":", key);
  const char *p = from ? strstr(from, pat) : NULL;
  if (cap)
    out[0] = 0;
  if (!p)
    return NULL;
  p += strlen(pat);
  int quoted = *p == '"';
  p += quoted;
  size_t i = 0;
  while (*p && (quoted ? *p != '"' : (*p != ',' && *p != '}' && *p != ']'))) {
    if (quoted && *p == '\\' && p[1])
      p++; /* an escaped character stands for itself */
    if (i + 1 < cap)
      out[i++] = *p;
    p++;
  }
  if (cap)
    out[i] = 0;
  return p;
}

double json_get_num(const char *from, const char *key)
{
  char v[64];
  return json_get(from, key, v, sizeof(v)) ? atof(v) : 0;
}

uint64_t json_counts(const char *obj, const char **end,
                     void (*each)(const char *name, uint64_t value, void *arg), void *arg)
{
  uint64_t sum = 0;
  const char *p = obj ? obj + 1 : "";
  while (*p && *p != '}') {
    char name[64];
    unsigned long long v;
    int n = 0;
    if (sscanf(p, " \"%63[^\"]\" : %llu%n", name, &v, &n) != 2 || n == 0)
      break;
    p += n;
    sum += v;
    if (each)
      each(name, v, arg);
    p += *p == ',';
  }
  if (end) {
    const char *close = strchr(p, '}');
    *end = close ? close + 1 : p;
  }
  return sum;
}
