/*
 * mx_threads - MX's thread-safety promise, in one process with two
 * endpoints connected to each other:
 *  1. receiver threads each post and wait on their own receives on one
 *     endpoint while two sender threads send on the other;
 *  2. threads reap completions of one endpoint with mx_wait_any, each its
 *     own match class, while the main thread posts the receives;
 *  3. a thread blocked forever in mx_wait_any, mx_peek or mx_probe returns
 *     when another calls mx_wakeup.
 *   mx_threads [-t THREADS] [-k MSGS_PER_THREAD]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <unistd.h>

#include "mxtest.h"

#define CLASS(t) ((uint64_t)(t) << 56)
#define CLASS_MASK (0xffull << 56)
#define MAX_THREADS 8
#define MSG_LEN(seq) (((seq) * 97) % 20000) /* small and medium */

static mx_endpoint_t ep_a, ep_b;
static mx_endpoint_addr_t a_to_b;
static uint32_t nthreads = 4, k = 200;

struct sender_arg {
  uint32_t first, step; /* this sender takes classes first, first+step, ... */
};

static void *sender(void *p)
{
  struct sender_arg *a = p;
  uint8_t *buf = malloc(20000);
  CHECK(buf);
  for (uint32_t seq = 0; seq < k; seq++)
    for (uint32_t t = a->first; t < nthreads; t += a->step) {
      mx_segment_t s = {buf, MSG_LEN(seq)};
      mx_request_t r;
      mxtest_fill(buf, s.segment_length, CLASS(t) | seq);
      CHECK_MX(mx_isend(ep_a, &s, 1, a_to_b, CLASS(t) | seq, NULL, &r));
      mxtest_wait(ep_a, &r); /* buffer reused: wait before refilling */
    }
  free(buf);
  return NULL;
}

static void start_senders(pthread_t *th, struct sender_arg *args)
{
  for (uint32_t i = 0; i < 2; i++) {
    args[i] = (struct sender_arg){i, 2};
    CHECK(pthread_create(&th[i], NULL, sender, &args[i]) == 0);
  }
}

/* 1: each thread posts and waits on its own receives. */
static void *own_receiver(void *p)
{
  uint32_t t = (uint32_t)(uintptr_t)p;
  uint8_t *buf = malloc(20000);
  CHECK(buf);
  for (uint32_t seq = 0; seq < k; seq++) {
    mx_segment_t s = {buf, 20000};
    mx_request_t r;
    CHECK_MX(mx_irecv(ep_b, &s, 1, CLASS(t), CLASS_MASK, NULL, &r));
    mx_status_t st = mxtest_wait(ep_b, &r);
    CHECK(st.match_info == (CLASS(t) | seq)); /* per-class order */
    CHECK(st.xfer_length == MSG_LEN(seq));
    CHECK(mxtest_verify(buf, st.xfer_length, st.match_info));
  }
  free(buf);
  return NULL;
}

/* 2: each thread reaps its class's completions with mx_wait_any. */
static uint8_t *bufs;
static void *any_reaper(void *p)
{
  uint32_t t = (uint32_t)(uintptr_t)p;
  for (uint32_t n = 0; n < k; n++) {
    mx_status_t st;
    uint32_t result = 0;
    CHECK_MX(mx_wait_any(ep_b, MXTEST_WAIT_MS, CLASS(t), CLASS_MASK, &st, &result));
    CHECK(result == 1 && st.code == MX_STATUS_SUCCESS);
    CHECK((st.match_info & CLASS_MASK) == CLASS(t));
    uint32_t seq = (uint32_t)st.match_info;
    CHECK((uintptr_t)st.context == ((uintptr_t)t << 20 | seq)); /* its own receive */
    CHECK(mxtest_verify(bufs + ((size_t)t * k + seq) * 20000, st.xfer_length, st.match_info));
  }
  return NULL;
}

static void run_phase(void *(*fn)(void *), int post_for_them)
{
  pthread_t th[MAX_THREADS], snd[2];
  struct sender_arg args[2];
  for (uint32_t t = 0; t < nthreads; t++)
    CHECK(pthread_create(&th[t], NULL, fn, (void *)(uintptr_t)t) == 0);
  if (post_for_them)
    for (uint32_t seq = 0; seq < k; seq++)
      for (uint32_t t = 0; t < nthreads; t++) {
        mx_segment_t s = {bufs + ((size_t)t * k + seq) * 20000, 20000};
        mx_request_t r;
        CHECK_MX(mx_irecv(ep_b, &s, 1, CLASS(t) | seq, MX_MATCH_MASK_NONE,
                          (void *)((uintptr_t)t << 20 | seq), &r));
      }
  start_senders(snd, args);
  for (uint32_t t = 0; t < nthreads; t++)
    CHECK(pthread_join(th[t], NULL) == 0);
  for (int i = 0; i < 2; i++)
    CHECK(pthread_join(snd[i], NULL) == 0);
}

/* 3: blocked forever, woken by another thread. */
static void *blocked(void *p)
{
  uint32_t which = (uint32_t)(uintptr_t)p, result = 7;
  mx_status_t st;
  mx_request_t r;
  if (which == 0)
    CHECK_MX(mx_wait_any(ep_b, MX_INFINITE, CLASS(0x7f), CLASS_MASK, &st, &result));
  else if (which == 1)
    CHECK_MX(mx_peek(ep_b, MX_INFINITE, &r, &result));
  else
    CHECK_MX(mx_probe(ep_b, MX_INFINITE, CLASS(0x7f), CLASS_MASK, &st, &result));
  CHECK(result == 0);
  return NULL;
}

static void wakeup_phase(void)
{
  for (uint32_t which = 0; which < 3; which++) {
    pthread_t th;
    CHECK(pthread_create(&th, NULL, blocked, (void *)(uintptr_t)which) == 0);
    /* A wakeup that comes before the thread waits is lost (as in MX), so
     * wake it until it has returned. */
    do {
      usleep(50000);
      CHECK_MX(mx_wakeup(ep_b));
    } while (pthread_tryjoin_np(th, NULL) != 0);
  }
}

int main(int argc, char **argv)
{
  int c;
  while ((c = getopt(argc, argv, "t:k:")) != -1) {
    switch (c) {
    case 't': nthreads = (uint32_t)atoi(optarg); break;
    case 'k': k = (uint32_t)atoi(optarg); break;
    default: fprintf(stderr, "usage: %s [-t threads] [-k msgs]\n", argv[0]); return 2;
    }
  }
  CHECK(nthreads >= 1 && nthreads <= MAX_THREADS);
  alarm(300); /* a lost wakeup fails the test instead of hanging it */
  char host[MX_MAX_HOSTNAME_LEN];
  uint64_t nic;
  CHECK_MX(mx_init());
  CHECK_MX(mx_open_endpoint(0, 1, MXTEST_KEY, NULL, 0, &ep_a));
  CHECK_MX(mx_open_endpoint(0, 2, MXTEST_KEY, NULL, 0, &ep_b));
  CHECK_MX(mx_board_number_to_nic_id(0, &nic));
  CHECK_MX(mx_nic_id_to_hostname(nic, host));
  a_to_b = mxtest_connect(ep_a, host, 2);
  bufs = malloc((size_t)nthreads * k * 20000);
  CHECK(bufs);
  run_phase(own_receiver, 0);
  run_phase(any_reaper, 1);
  wakeup_phase();
  free(bufs);
  CHECK_MX(mx_close_endpoint(ep_a));
  CHECK_MX(mx_close_endpoint(ep_b));
  CHECK_MX(mx_finalize());
  printf("mx_threads: %u threads x %u messages: ok\n", nthreads, k);
  return 0;
}
