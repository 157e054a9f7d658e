/*
 * json.h - the one JSON writer of the reports (myrixen info, counters,
 * peers): objects and arrays nested up to JSON_DEPTH, commas placed by the
 * writer, every string escaped (a guest names itself; its name must not
 * forge a field).
 *
 * Use: json_begin(&j, f); json_obj(&j, NULL); json_u64(&j, "rx", n);
 * json_arr(&j, "vifs"); ... json_end(&j); json_end(&j);
 */
#ifndef MYRIXEN_JSON_H
#define MYRIXEN_JSON_H

#include <stdint.h>
#include <stdio.h>

#define JSON_DEPTH 8

struct json {
  FILE *f;
  int depth;
  uint8_t items[JSON_DEPTH];   /* items written so far at each level */
  char closer[JSON_DEPTH];     /* '}' or ']' */
};

void json_begin(struct json *j, FILE *f);
/* Open an object or an array: a member named key inside an object, or an
 * element (key NULL) inside an array or at the top. */
void json_obj(struct json *j, const char *key);
void json_arr(struct json *j, const char *key);
/* Close the innermost object or array (a newline after the outermost). */
void json_end(struct json *j);

void json_u64(struct json *j, const char *key, uint64_t v);
void json_int(struct json *j, const char *key, int64_t v);
void json_double(struct json *j, const char *key, double v, int decimals);
void json_str(struct json *j, const char *key, const char *s);
void json_strf(struct json *j, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A nic id as every report writes it: 12 hex digits, a string. */
void json_nic(struct json *j, const char *key, uint64_t nic);

/* Run write(arg, &j) into a string (the caller frees it); NULL without memory. */
char *json_to_string(void (*write)(void *arg, struct json *j), void *arg);

/* jsonread.c: reading that JSON back (the tools, the metrics exporter).
 * The value of "key" from `from` on: a string's characters or a number's
 * text into out; returns the point just past the value (to go on
 * scanning), or NULL (out "") when the key is not there. */
const char *json_get(const char *from, const char *key, char *out, size_t cap);
/* A number's value, or 0 when the key is not there. */
double json_get_num(const char *from, const char *key);
/* A flat object of counters {"name":N,...} at obj (its '{', or NULL):
 * each(name, N, arg) for every one, in order (each may be NULL); their
 * sum; where the object ends (past its '}') in *end unless end is NULL. */
uint64_t json_counts(const char *obj, const char **end,
                     void (*each)(const char *name, uint64_t value, void *arg), void *arg);

#endif
