/* storage/chain_step_int.h — the chain step's one body, included by chain.c,
 * chain_avx2.c and chain_avx512.c after each picks its XXH_VECTOR, so the
 * three per-CPU builds come from a single source. Private to storage/. */
#ifndef SL_CHAIN_STEP_INT_H
#define SL_CHAIN_STEP_INT_H

#include <stdbool.h>
#include <string.h>

#include "chain.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

/* chain_n = XXH3_128(chain_{n-1} ‖ batch). The streaming state is per thread:
 * a log is used by one owner thread at a time. */
static inline void chain_step(const sl_chain *prev, const void *batch, size_t len, sl_chain *out)
{
        static _Thread_local XXH3_state_t st;
        static _Thread_local bool ready;
        if (!ready) {
                XXH3_INITSTATE(&st);
                ready = true;
        }
        XXH3_128bits_reset(&st);
        XXH3_128bits_update(&st, prev->b, 16);
        XXH3_128bits_update(&st, batch, len);
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&st));
        memcpy(out->b, c.digest, 16);
}

#endif
