/* storage/chain.h — the hash chain that makes a partition log's integrity
 * provable: chain_n = XXH3_128(chain_{n-1} ‖ stored batch bytes), 16 bytes in
 * XXH3's canonical (big-endian) form. Segment headers carry the value before
 * their first batch, seals and index entries the values at their points
 * (storage/FORMAT.md). Public so tools (snapshots, replication, benchmarks)
 * can compute and compare chain heads the same way storage does. */
#ifndef SL_CHAIN_H
#define SL_CHAIN_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_chain {
        uint8_t b[16];
} sl_chain;

/* out = XXH3_128(prev ‖ batch); out may alias prev. Uses AVX-512 or AVX2
 * when the CPU has them (same result either way). No allocation; thread-safe. */
void sl_chain_next(const sl_chain *prev, const void *batch, size_t len, sl_chain *out);
/* The portable implementation (tests compare it with the dispatched one). */
void sl_chain_next_generic(const sl_chain *prev, const void *batch, size_t len, sl_chain *out);

#endif
