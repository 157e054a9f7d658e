/* cpu.c - see cpu.h. */
#define _GNU_SOURCE
#include "cpu.h"

#include <sched.h>
#include <unistd.h>

int cpu_pin(int cpu)
{
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu % (int)sysconf(_SC_NPROCESSORS_ONLN), &s);
  return sched_setaffinity(0, sizeof(s), &s);
}
