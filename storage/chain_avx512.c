/* storage/chain_avx512.c — the chain step built with -mavx512f (see chain.c, which
 * calls it only on CPUs with AVX-512F). Same XXH3-128 result as the others. */
#if defined(__x86_64__)
#include "chain.h"

#include <stdbool.h>
#include <string.h>

#define XXH_INLINE_ALL
#define XXH_VECTOR XXH_AVX512
#include <xxhash.h>

void sl_chain_next_avx512(const sl_chain *prev, const void *batch, size_t len, sl_chain *out);

void sl_chain_next_avx512(const sl_chain *prev, const void *batch, size_t len, sl_chain *out)
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
#else
typedef int sl_chain_avx512_unused; /* ISO C forbids an empty file */
#endif
