/*
 * fifo.h - intrusive singly linked FIFOs: a head and a tail pointer, and a
 * link field in each element (named by the caller, so that one element
 * can sit in several queues), and freeing a whole list.  The one shape behind netback's buffer
 * queues and the library's backlogs and channel pipe queues.
 */
#ifndef MYRIXEN_FIFO_H
#define MYRIXEN_FIFO_H

#include <stddef.h>

/* Append item at the tail. */
#define FIFO_PUSH(head, tail, item, link)                                                      \
  do {                                                                                         \
    (item)->link = NULL;                                                                       \
    if (*(tail))                                                                               \
      (*(tail))->link = (item);                                                                \
    else                                                                                       \
      *(head) = (item);                                                                        \
    *(tail) = (item);                                                                          \
  } while (0)

/* Take the head off a non-empty FIFO; evaluates to it. */
#define FIFO_POP(head, tail, link)                                                             \
  ({                                                                                           \
    __typeof__(*(head)) fifo_first_ = *(head);                                                 \
    *(head) = fifo_first_->link;                                                               \
    if (!*(head))                                                                              \
      *(tail) = NULL;                                                                          \
    fifo_first_;                                                                               \
  })

/* Free every element of a singly linked list (or FIFO) at *head. */
#define LIST_FREE_ALL(head, link)                                                              \
  do {                                                                                         \
    while (*(head)) {                                                                          \
      __typeof__(*(head)) list_next_ = (*(head))->link;                                        \
      free(*(head));                                                                           \
      *(head) = list_next_;                                                                    \
    }                                                                                          \
  } while (0)

#endif
