/*
 * mxtest.h - what the MX test programs share: assertions and a payload
 * pattern.  The programs themselves include only the public MX headers and
 * are written as MX users wrote theirs (command-line peers, mx_connect by
 * hostname, segment lists, match info).
 */
#ifndef MXTEST_H
#define MXTEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <myriexpress.h>

#define CHECK(cond)                                                                        \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);             \
      exit(1);                                                                             \
    }                                                                                      \
  } while (0)

#define CHECK_MX(call)                                                                     \
  do {                                                                                     \
    mx_return_t rc_ = (call);                                                              \
    if (rc_ != MX_SUCCESS) {                                                               \
      fprintf(stderr, "%s:%d: %s -> %s\n", __FILE__, __LINE__, #call, mx_strerror(rc_));   \
      exit(1);                                                                             \
    }                                                                                      \
  } while (0)

#define MXTEST_KEY 0x4d58 /* every program's endpoint key */
#define MXTEST_WAIT_MS 60000 /* a lost message fails, it does not hang */

static inline uint8_t mxtest_byte(uint64_t seed, uint64_t i)
{
  return (uint8_t)(seed * 2654435761u + i * 31 + (i >> 9));
}

static inline void mxtest_fill(void *buf, uint64_t len, uint64_t seed)
{
  for (uint64_t i = 0; i < len; i++)
    ((uint8_t *)buf)[i] = mxtest_byte(seed, i);
}

static inline int mxtest_verify(const void *buf, uint64_t len, uint64_t seed)
{
  for (uint64_t i = 0; i < len; i++)
    if (((const uint8_t *)buf)[i] != mxtest_byte(seed, i))
      return 0;
  return 1;
}

/* Resolve "host" or "host:board" and connect to its endpoint eid. */
static inline mx_endpoint_addr_t mxtest_connect(mx_endpoint_t ep, const char *host, uint32_t eid)
{
  uint64_t nic;
  mx_endpoint_addr_t addr;
  CHECK_MX(mx_hostname_to_nic_id((char *)host, &nic));
  CHECK_MX(mx_connect(ep, nic, eid, MXTEST_KEY, MXTEST_WAIT_MS, &addr));
  return addr;
}

/* Wait for one request; it must succeed. */
static inline mx_status_t mxtest_wait(mx_endpoint_t ep, mx_request_t *req)
{
  mx_status_t st;
  uint32_t result;
  CHECK_MX(mx_wait(ep, req, MXTEST_WAIT_MS, &st, &result));
  CHECK(result == 1);
  if (st.code != MX_STATUS_SUCCESS)
    fprintf(stderr, "request ended with %s\n", mx_strstatus(st.code));
  CHECK(st.code == MX_STATUS_SUCCESS);
  return st;
}

#endif
