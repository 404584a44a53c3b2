/*
 * hist.c: log-bucketed histogram used for delivery and end-to-end latency.
 *
 * Layout: bucket i < SUB holds exactly the value i. Above that, a value v with highest set
 * bit e (e >= SUB_BITS) goes to group g = e - SUB_BITS + 1, sub-bucket
 * (v >> (e - SUB_BITS)) - SUB, i.e. the SUB_BITS bits below the leading one.
 */
#include "hist.h"

#include <string.h>

void sl_hist_init(sl_hist *h)
{
        memset(h, 0, sizeof(*h));
        h->min = UINT64_MAX;
}

unsigned sl_hist_index(uint64_t v)
{
        unsigned e, shift;

        if (v < SL_HIST_SUB)
                return (unsigned)v;
        e = 63u - (unsigned)__builtin_clzll(v);
        shift = e - SL_HIST_SUB_BITS;
        return (shift + 1) * SL_HIST_SUB + (unsigned)((v >> shift) - SL_HIST_SUB);
}

uint64_t sl_hist_bucket_high(unsigned index)
{
        unsigned group = index / SL_HIST_SUB, sub = index % SL_HIST_SUB, shift;
        uint64_t low;

        if (group == 0)
                return index;
        shift = group - 1;
        low = ((uint64_t)SL_HIST_SUB + sub) << shift;
        return low + ((1ull << shift) - 1);
}

void sl_hist_record(sl_hist *h, uint64_t v)
{
        h->buckets[sl_hist_index(v)]++;
        h->count++;
        h->sum += (double)v;
        if (v < h->min)
                h->min = v;
        if (v > h->max)
                h->max = v;
}

void sl_hist_merge(sl_hist *dst, const sl_hist *src)
{
        for (unsigned i = 0; i < SL_HIST_BUCKETS; i++)
                dst->buckets[i] += src->buckets[i];
        dst->count += src->count;
        dst->sum += src->sum;
        if (src->min < dst->min)
                dst->min = src->min;
        if (src->max > dst->max)
                dst->max = src->max;
}

uint64_t sl_hist_quantile(const sl_hist *h, double q)
{
        uint64_t rank, seen = 0;

        if (!h->count)
                return 0;
        if (q <= 0)
                return h->min;
        if (q >= 1)
                return h->max;
        /* Smallest value such that at least ceil(q * count) samples are <= it. */
        rank = (uint64_t)(q * (double)h->count);
        if ((double)rank < q * (double)h->count)
                rank++;
        if (rank == 0)
                rank = 1;
        for (unsigned i = 0; i < SL_HIST_BUCKETS; i++) {
                seen += h->buckets[i];
                if (seen >= rank) {
                        uint64_t hi = sl_hist_bucket_high(i);

                        if (hi > h->max)
                                hi = h->max;
                        if (hi < h->min)
                                hi = h->min;
                        return hi;
                }
        }
        return h->max;
}

double sl_hist_mean(const sl_hist *h)
{
        return h->count ? h->sum / (double)h->count : 0.0;
}
