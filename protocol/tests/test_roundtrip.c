/* protocol/tests/test_roundtrip.c — every generated message at every version.
 *
 * For each case of the generated table (protocol/tests/gen/rt_cases.c: every
 * request, response, header and data spec) and each valid version: fill every
 * field present in that version with a non-default value, encode, decode,
 * re-encode, and require identical bytes, equal size() and a fully consumed
 * frame. Then every proper prefix of the encoding must fail to decode cleanly
 * (sticky error set, no crash), and a version outside validVersions must be
 * refused by both decode and encode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "gen/rt_cases.h"

static size_t g_versions, g_bytes, g_prefixes;

static void fail_case(const rt_case *c, int16_t v, const char *what, const char *why)
{
        fail_msg("%s v%d: %s (%s)", c->name, v, what, why ? why : "-");
}

/* Encodes m at version v into a fresh malloc'd buffer of exactly size() bytes. */
static uint8_t *encode_exact(const rt_case *c, int16_t v, const void *m, size_t *len)
{
        size_t n = c->size(m, v);
        uint8_t *buf = malloc(n ? n : 1);
        assert_non_null(buf);
        kp_wr wr;
        kp_wr_init(&wr, buf, n);
        if (c->encode(&wr, v, m) != 0)
                fail_case(c, v, "encode failed", wr.why);
        if ((size_t)(wr.p - buf) != n)
                fail_case(c, v, "size() differs from bytes written", NULL);
        *len = n;
        return buf;
}

static void check_prefixes(const rt_case *c, int16_t v, const uint8_t *buf, size_t n, void *m,
                           kp_arena *a)
{
        for (size_t cut = 0; cut < n; cut++) {
                /* A copy of exactly 'cut' bytes so ASan sees any over-read. */
                uint8_t *p = malloc(cut ? cut : 1);
                assert_non_null(p);
                memcpy(p, buf, cut);
                kp_rd rd;
                kp_rd_init(&rd, p, cut, a);
                int rc = c->decode(&rd, v, m);
                if (rc != -1 || rd.err == 0)
                        fail_case(c, v, "truncated input decoded", NULL);
                free(p);
                kp_arena_reset(a);
                g_prefixes++;
        }
}

static void roundtrip_version(const rt_case *c, int16_t v, kp_arena *a)
{
        void *m = calloc(1, c->struct_size), *m2 = calloc(1, c->struct_size);
        assert_non_null(m);
        assert_non_null(m2);

        c->init(m);
        size_t n0;
        uint8_t *dflt = encode_exact(c, v, m, &n0);

        c->fill(m, v, a);
        size_t n;
        uint8_t *buf = encode_exact(c, v, m, &n);
        /* The filler must change the encoding unless the version has no fields
         * at all (e.g. ApiVersionsRequest v0: empty body, or only a tag section). */
        if (n0 == n && memcmp(dflt, buf, n) == 0 && n > 1)
                fail_case(c, v, "filled value encodes like the default", NULL);

        kp_arena dec;
        kp_arena_init(&dec, 4096);
        kp_rd rd;
        kp_rd_init(&rd, buf, n, &dec);
        if (c->decode(&rd, v, m2) != 0)
                fail_case(c, v, "decode failed", rd.why);
        if (kp_rd_left(&rd) != 0)
                fail_case(c, v, "decode left bytes", NULL);
        if (c->size(m2, v) != n)
                fail_case(c, v, "size of decoded value differs", NULL);
        size_t n2;
        uint8_t *buf2 = encode_exact(c, v, m2, &n2);
        if (n2 != n || memcmp(buf, buf2, n) != 0)
                fail_case(c, v, "re-encoding differs", NULL);

        check_prefixes(c, v, buf, n, m2, &dec);
        g_versions++;
        g_bytes += n;

        kp_arena_release(&dec);
        free(buf2);
        free(buf);
        free(dflt);
        free(m2);
        free(m);
}

static void test_roundtrip_all(void **state)
{
        (void)state;
        kp_arena a;
        kp_arena_init(&a, 1 << 16);
        assert_true(rt_cases_count >= 186);
        for (size_t i = 0; i < rt_cases_count; i++) {
                const rt_case *c = &rt_cases[i];
                for (int v = c->min_version; v <= c->max_version; v++) {
                        roundtrip_version(c, (int16_t)v, &a);
                        kp_arena_reset(&a);
                }
        }
        kp_arena_release(&a);
        printf("round trip: %zu specs, %zu versions, %zu bytes, %zu truncations\n", rt_cases_count,
               g_versions, g_bytes, g_prefixes);
}

static void test_unsupported_versions(void **state)
{
        (void)state;
        uint8_t buf[64] = {0};
        for (size_t i = 0; i < rt_cases_count; i++) {
                const rt_case *c = &rt_cases[i];
                void *m = calloc(1, c->struct_size);
                assert_non_null(m);
                int16_t bad[] = {-1, (int16_t)(c->max_version + 1)};
                for (size_t j = 0; j < 2; j++) {
                        kp_rd rd;
                        kp_rd_init(&rd, buf, sizeof(buf), NULL);
                        assert_int_equal(c->decode(&rd, bad[j], m), -1);
                        assert_int_equal(rd.err, KP_ERR_UNSUPPORTED_VERSION);
                        c->init(m);
                        kp_wr wr;
                        kp_wr_init(&wr, buf, sizeof(buf));
                        assert_int_equal(c->encode(&wr, bad[j], m), -1);
                        assert_int_not_equal(wr.err, 0);
                }
                free(m);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_roundtrip_all),
            cmocka_unit_test(test_unsupported_versions),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
