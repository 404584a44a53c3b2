/*
 * hist.h: a log-bucketed latency histogram (HdrHistogram-like) for the benchmarks.
 *
 * Values (nanoseconds, or any uint64) land in 2^SL_HIST_SUB_BITS linear sub-buckets per
 * power of two, so every recorded value is kept to within 1/64 (~1.6%) relative error
 * from 1 ns to 2^64. Recording is a few integer ops into a fixed array: no allocation,
 * no lock; one histogram per thread, merged at the end.
 */
#ifndef SL_BENCH_HIST_H
#define SL_BENCH_HIST_H

#include <stdint.h>

#define SL_HIST_SUB_BITS 6
#define SL_HIST_SUB      (1u << SL_HIST_SUB_BITS)
/* Values below SL_HIST_SUB are exact; each higher exponent adds SL_HIST_SUB buckets. */
#define SL_HIST_BUCKETS ((64 - SL_HIST_SUB_BITS + 1) * SL_HIST_SUB)

typedef struct sl_hist {
        uint64_t count;
        uint64_t min;
        uint64_t max;
        double sum;
        uint64_t buckets[SL_HIST_BUCKETS];
} sl_hist;

void sl_hist_init(sl_hist *h);
void sl_hist_record(sl_hist *h, uint64_t value);
void sl_hist_merge(sl_hist *dst, const sl_hist *src);
/* Value at quantile q in [0, 1] (upper edge of its bucket, clamped to max); 0 if empty. */
uint64_t sl_hist_quantile(const sl_hist *h, double q);
double sl_hist_mean(const sl_hist *h);

/* Bucket index of a value, and the largest value a bucket holds (exposed for tests). */
unsigned sl_hist_index(uint64_t value);
uint64_t sl_hist_bucket_high(unsigned index);

#endif
