/*
 * limits.c - what the machine itself can do, measured in the same run as a
 * benchmark: a cache-line ping-pong between two pinned processes (the
 * floor of any shared-memory latency) and the memcpy rate of a 64 MiB
 * buffer (one copy through memory, the ceiling of any bandwidth).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/common/clock.h"
#include "../src/common/cpu.h"
#include "tool.h"


/* Two processes pass a shared word back and forth, pinned to core_a and
 * core_b; a waiter pauses (busy) or yields the core.  The half round trip
 * in us, timed after 100 warm-up exchanges. */
static double word_pingpong_us(int iters, int core_a, int core_b, int yield)
{
  _Atomic uint32_t *word = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (word == MAP_FAILED)
    return 0;
  atomic_store(word, 0);
  cpu_set_t before;
  sched_getaffinity(0, sizeof(before), &before);
  pid_t pid = fork();
  if (pid == 0) {
    cpu_pin(core_b);
    for (uint32_t i = 0; i < (uint32_t)iters; i++) {
      while (atomic_load_explicit(word, memory_order_acquire) != 2 * i + 1)
        yield ? (void)sched_yield() : cpu_relax();
      atomic_store_explicit(word, 2 * i + 2, memory_order_release);
    }
    _exit(0);
  }
  cpu_pin(core_a);
  uint64_t t0 = 0;
  for (uint32_t i = 0; i < (uint32_t)iters; i++) {
    if (i == 100)
      t0 = clock_now_ns(); /* after warm-up */
    atomic_store_explicit(word, 2 * i + 1, memory_order_release);
    while (atomic_load_explicit(word, memory_order_acquire) != 2 * i + 2)
      yield ? (void)sched_yield() : cpu_relax();
  }
  uint64_t t = clock_now_ns() - t0;
  waitpid(pid, NULL, 0);
  sched_setaffinity(0, sizeof(before), &before);
  munmap((void *)word, 4096);
  return (double)t / 1000.0 / 2.0 / (iters - 100);
}

double limit_pingpong_us(int iters)
{
  return word_pingpong_us(iters, 0, 1, 0);
}

/* The cost of handing a core from one process to another: both on core
 * 0, each yielding until it is its turn.  On a host with fewer cores than
 * busy pollers (the engine path with two guests on two cores), every hop
 * waits for such a switch. */
double limit_switch_us(int iters)
{
  return word_pingpong_us(iters, 0, 0, 1);
}

double limit_memcpy_MBps(void)
{
  size_t n = 64 << 20;
  char *a = malloc(n), *b = malloc(n);
  if (!a || !b) {
    free(a);
    free(b);
    return 0;
  }
  memset(a, 1, n);
  memset(b, 2, n);
  double best = 0;
  for (int k = 0; k < 5; k++) {
    uint64_t t0 = clock_now_ns();
    memcpy(b, a, n);
    uint64_t t = clock_now_ns() - t0;
    double r = (double)n / ((double)t / 1e9) / 1e6;
    if (r > best)
      best = r;
    a[k] = b[n - 1 - k]; /* keep the copy from being optimised away */
  }
  free(a);
  free(b);
  return best;
}
