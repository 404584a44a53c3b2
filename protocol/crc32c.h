/* protocol/crc32c.h — CRC-32C (Castagnoli), the checksum of record batch v2.
 *
 * Every produced batch is checksummed on append (attributes..end, ENCODING.md
 * §3.3), so this runs over every byte a client sends. kp_crc32c picks, once at
 * start-up, the SSE4.2 crc32 instruction (3-way interleaved to hide its 3-cycle
 * latency) or the ARMv8 CRC instructions, and falls back to slicing-by-8 tables.
 * The variants are public for the bench and the tests (hw == table).
 *
 * Calling convention (as zlib's crc32 and librdkafka's rd_crc32c): pass 0 to
 * start, pass the previous result to continue over the next piece. */
#ifndef KP_CRC32C_H
#define KP_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CRC-32C of buf, continuing from crc (0 for a fresh checksum). */
uint32_t kp_crc32c(uint32_t crc, const void *buf, size_t len);

/* Slicing-by-8 table implementation (any CPU). */
uint32_t kp_crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* True when this CPU has CRC-32C instructions (SSE4.2 or ARMv8 CRC). */
bool kp_crc32c_hw_available(void);

/* Hardware implementation; call only when kp_crc32c_hw_available(). */
uint32_t kp_crc32c_hw(uint32_t crc, const void *buf, size_t len);

/* Name of the implementation kp_crc32c uses ("sse4.2", "armv8", "table"). */
const char *kp_crc32c_impl(void);

#endif
