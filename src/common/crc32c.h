/* crc32c.h - CRC-32C (Castagnoli), the checksum of every wire packet: the
 * fastest way the CPU has (carry-less multiplies 512 bits wide, the SSE4.2
 * instruction, or a table); MYRIXEN_CRC=sse42|table picks a slower one, to
 * measure the difference. */
#ifndef MYRIXEN_CRC32C_H
#define MYRIXEN_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend crc (0 to start) over len bytes. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/* The ways, slowest first, for the tests: whether this CPU has one, and
 * the same CRC by it (by the table when it has not). */
enum crc32c_impl { CRC32C_TABLE, CRC32C_SSE42, CRC32C_FOLD };
int crc32c_has(enum crc32c_impl impl);
uint32_t crc32c_by(enum crc32c_impl impl, uint32_t crc, const void *buf, size_t len);

#endif
