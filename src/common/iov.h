/* iov.h - byte ranges of scatter/gather lists (struct iovec), one walk for
 * every user: segment copies in the library, vmsplice/readv of channels,
 * process_vm_* of the engine's pulls. */
#ifndef MYRIXEN_IOV_H
#define MYRIXEN_IOV_H

#include <stdint.h>
#include <sys/uio.h>

/* The bytes [off, off + len) of in[0..n) as at most max iovecs; returns
 * how many were written (fewer bytes when the list or max runs out). */
int iov_range(const struct iovec *in, uint32_t n, uint64_t off, uint64_t len,
              struct iovec *out, int max);

uint64_t iov_total(const struct iovec *in, uint32_t n);

#endif
