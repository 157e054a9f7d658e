/*
 * completion.c - the engine's completion queue: what its client must
 * learn after a call returned (a remote connect answered), posted by the
 * engine thread and taken by the client's control loop, which polls an
 * eventfd.  The engine never calls into its client: this queue is the
 * only way up.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../common/doorbell.h"
#include "../common/fifo.h"
#include "../common/log.h"
#include "engine_int.h"

/* The client takes completions in its own time; past this many it has
 * stopped taking them, and the oldest answer no longer matters. */
#define COMPLETIONS_MAX 4096

struct completion_item {
  struct completion_item *next;
  struct engine_completion c;
};

int completion_init(struct engine *e)
{
  pthread_mutex_init(&e->done_lock, NULL);
  e->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  return e->done_fd < 0 ? -errno : 0;
}

void completion_fini(struct engine *e)
{
  struct engine_completion c;
  while (engine_completion_take(e, &c) > 0)
    ;
  if (e->done_fd >= 0)
    close(e->done_fd);
  e->done_fd = -1;
  pthread_mutex_destroy(&e->done_lock);
}

void completion_post(struct engine *e, const struct engine_completion *c)
{
  struct completion_item *it = malloc(sizeof(*it));
  if (!it) {
    log_warn("out of memory: a completion for guest %u is lost", c->guest_id);
    return;
  }
  it->c = *c;
  pthread_mutex_lock(&e->done_lock);
  if (e->done_count >= COMPLETIONS_MAX) {
    pthread_mutex_unlock(&e->done_lock);
    free(it);
    e->done_dropped++;
    return;
  }
  FIFO_PUSH(&e->done_head, &e->done_tail, it, next);
  e->done_count++;
  pthread_mutex_unlock(&e->done_lock);
  doorbell_ring(e->done_fd);
}

int engine_completion_fd(struct engine *e)
{
  return e->done_fd;
}

int engine_completion_take(struct engine *e, struct engine_completion *c)
{
  pthread_mutex_lock(&e->done_lock);
  struct completion_item *it = e->done_head ? FIFO_POP(&e->done_head, &e->done_tail, next) : NULL;
  if (it)
    e->done_count--;
  if (!e->done_head) {
    uint64_t v;
    if (read(e->done_fd, &v, sizeof(v)) < 0) {
      /* EAGAIN: nobody rang since the last take */
    }
  }
  pthread_mutex_unlock(&e->done_lock);
  if (!it)
    return 0;
  *c = it->c;
  free(it);
  return 1;
}
