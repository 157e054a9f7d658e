/* crc32c.h - CRC-32C (Castagnoli), the checksum of every wire packet: the
 * SSE4.2 instruction where the CPU has it, a table otherwise. */
#ifndef MYRIXEN_CRC32C_H
#define MYRIXEN_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend crc (0 to start) over len bytes. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

#endif
