/*
 * hist_test.c: unit tests of the benchmark latency histogram (bench/hist.c).
 *
 * The latency figures in every benchmark report come from this histogram, so its bucket
 * arithmetic (index/upper-edge round trip, bounded relative error) and its quantile
 * definition are checked here against exact answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "hist.h"

/* Every value maps into a bucket whose range contains it, with error <= 1/64. */
static void test_buckets_contain_values(void **state)
{
        uint64_t v = 0;

        (void)state;
        for (int i = 0; i < 200000; i++) {
                unsigned idx = sl_hist_index(v);
                uint64_t hi = sl_hist_bucket_high(idx);

                assert_true(idx < SL_HIST_BUCKETS);
                assert_true(hi >= v);
                assert_true((double)(hi - v) <= (double)v / SL_HIST_SUB + 0.5);
                if (idx > 0)
                        assert_true(sl_hist_bucket_high(idx - 1) < v);
                v = v < 1000 ? v + 1 : v + v / 97 + 1;
                if (v > UINT64_MAX / 2)
                        break;
        }
        assert_int_equal(sl_hist_index(UINT64_MAX), SL_HIST_BUCKETS - 1);
        assert_true(sl_hist_bucket_high(SL_HIST_BUCKETS - 1) == UINT64_MAX);
}

static void test_small_values_exact(void **state)
{
        (void)state;
        for (uint64_t v = 0; v < 2 * SL_HIST_SUB; v++)
                assert_int_equal(sl_hist_bucket_high(sl_hist_index(v)), v);
}

static void test_quantiles_uniform(void **state)
{
        sl_hist *h = malloc(sizeof(*h));

        (void)state;
        assert_non_null(h);
        sl_hist_init(h);
        for (uint64_t v = 1; v <= 100000; v++)
                sl_hist_record(h, v * 1000);
        assert_int_equal(h->count, 100000);
        assert_int_equal(h->min, 1000);
        assert_int_equal(h->max, 100000000);
        /* Exact quantile q is q * 1e8; allow the bucket's 1/64 relative width. */
        for (double q = 0.01; q < 0.999; q += 0.01) {
                double want = q * 1e8, got = (double)sl_hist_quantile(h, q);

                assert_true(got >= want - 1000);
                assert_true(got <= want * (1.0 + 1.0 / SL_HIST_SUB) + 1000);
        }
        assert_int_equal(sl_hist_quantile(h, 1.0), 100000000);
        assert_int_equal(sl_hist_quantile(h, 0.0), 1000);
        assert_true(sl_hist_mean(h) > 50000000.0 && sl_hist_mean(h) < 50001000.0);
        free(h);
}

static void test_tail_and_merge(void **state)
{
        sl_hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));

        (void)state;
        assert_non_null(a);
        assert_non_null(b);
        sl_hist_init(a);
        sl_hist_init(b);
        /* 999 fast samples and one slow one: p99.9 is fast, max is slow. */
        for (int i = 0; i < 999; i++)
                sl_hist_record(a, 50);
        sl_hist_record(b, 7000000);
        assert_int_equal(sl_hist_quantile(b, 0.5), 7000000);
        sl_hist_merge(a, b);
        assert_int_equal(a->count, 1000);
        assert_int_equal(sl_hist_quantile(a, 0.999), 50);
        assert_int_equal(sl_hist_quantile(a, 0.9995), 7000000);
        assert_int_equal(a->max, 7000000);
        assert_int_equal(a->min, 50);
        free(a);
        free(b);
}

static void test_empty(void **state)
{
        sl_hist h;

        (void)state;
        sl_hist_init(&h);
        assert_int_equal(sl_hist_quantile(&h, 0.99), 0);
        assert_true(sl_hist_mean(&h) == 0.0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_buckets_contain_values),
            cmocka_unit_test(test_small_values_exact),
            cmocka_unit_test(test_quantiles_uniform),
            cmocka_unit_test(test_tail_and_merge),
            cmocka_unit_test(test_empty),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
