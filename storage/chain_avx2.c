/* storage/chain_avx2.c — the chain step built with -mavx2 (see chain.c, which
 * calls it only on CPUs that have it). Same XXH3-128 result as the others. */
#if defined(__x86_64__)
#define XXH_VECTOR XXH_AVX2
#include "chain_step_int.h"

void sl_chain_next_avx2(const sl_chain *prev, const void *batch, size_t len, sl_chain *out);

void sl_chain_next_avx2(const sl_chain *prev, const void *batch, size_t len, sl_chain *out)
{
        chain_step(prev, batch, len, out);
}
#else
typedef int sl_chain_avx2_unused; /* ISO C forbids an empty file */
#endif
