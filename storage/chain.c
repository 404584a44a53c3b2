/* storage/chain.c — the chain step, chain_n = XXH3_128(chain_{n-1} ‖ batch),
 * with Debian's libxxhash inlined (XXH_INLINE_ALL) so the compiler can use the
 * best vector unit: chain_avx512.c and chain_avx2.c are the same code built
 * with -mavx512f / -mavx2, picked at run time by what the CPU has (XXH3 runs
 * about 19, 28 and 41 GB/s with SSE2, AVX2 and AVX-512 on the bench machine). XXH3's output does
 * not depend on the implementation, so logs written with one verify with the other.
 *
 * Every appended byte is hashed once here, so its speed is append's budget
 * (the issue allows the chain 10% of append CPU). The step's body is in
 * chain_step_int.h. */
#include "chain_step_int.h"

#if defined(__x86_64__)
void sl_chain_next_avx2(const sl_chain *prev, const void *batch, size_t len, sl_chain *out);
void sl_chain_next_avx512(const sl_chain *prev, const void *batch, size_t len, sl_chain *out);
#endif

void sl_chain_next_generic(const sl_chain *prev, const void *batch, size_t len, sl_chain *out)
{
        chain_step(prev, batch, len, out);
}

typedef void (*chain_fn)(const sl_chain *, const void *, size_t, sl_chain *);

static chain_fn pick(void)
{
#if defined(__x86_64__)
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw"))
                return sl_chain_next_avx512;
        if (__builtin_cpu_supports("avx2"))
                return sl_chain_next_avx2;
#endif
        return sl_chain_next_generic;
}

void sl_chain_next(const sl_chain *prev, const void *batch, size_t len, sl_chain *out)
{
        static chain_fn fn;
        if (!fn)
                fn = pick(); /* idempotent: a race picks the same function */
        fn(prev, batch, len, out);
}
