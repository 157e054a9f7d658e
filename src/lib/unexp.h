/* unexp.h - the unexpected handler (layer 3). */
#ifndef MYRIXEN_LIB_UNEXP_H
#define MYRIXEN_LIB_UNEXP_H

#include "lib.h"

/* unexp.c: run the unexpected handler on a message no receive matched.
 * Returns the receive that takes it now (posted by the handler, or an
 * internal one that discards it), or NULL to keep it as unexpected. */
struct req *unexp_handler_run(struct mx_endpoint *ep, struct conn *c, const struct msg *m,
                              const uint8_t *eager);

#endif
