/*
 * doorbell.h - the event channel's kick: an eventfd that a sleeper polls.
 * Ringing it adds one; a counter that is already high (or saturated, when
 * write fails with EAGAIN) wakes the sleeper all the same, so a failed
 * write loses nothing.
 */
#ifndef MYRIXEN_DOORBELL_H
#define MYRIXEN_DOORBELL_H

#include <stdint.h>
#include <unistd.h>

static inline void doorbell_ring(int fd)
{
  uint64_t one = 1;
  if (write(fd, &one, sizeof(one)) < 0) {
    /* saturated: the sleeper is being woken anyway */
  }
}

#endif
