/* storage/tests/test_format.c — the on-disk encodings: segment header, seal,
 * index entries round-trip and reject any single flipped bit; segment names;
 * batch header checks; and the chain step equals XXH3-128 of (prev ‖ batch)
 * in every implementation (AVX2 dispatch and portable). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xxhash.h>

#include "batchgen.h"
#include "format_int.h"

static void test_header_and_seal(void **state)
{
        (void)state;
        uint8_t b[SL_SEG_HDR_BYTES];
        sl_seg_hdr h = {.base_offset = 123456789, .created_ms = 42}, g;
        for (int i = 0; i < 16; i++)
                h.prev_chain.b[i] = (uint8_t)(i * 17);
        sl_seg_hdr_encode(b, &h);
        assert_null(sl_seg_hdr_decode(b, &g));
        assert_int_equal(g.base_offset, h.base_offset);
        assert_int_equal(g.created_ms, 42);
        assert_true(sl_chain_eq(&g.prev_chain, &h.prev_chain));
        for (int bit = 0; bit < SL_SEG_HDR_BYTES * 8; bit++) {
                b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                assert_non_null(sl_seg_hdr_decode(b, &g));
                b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        uint8_t s[SL_SEAL_BYTES];
        sl_seal seal = {.chain = h.prev_chain, .last_offset = 99, .max_ts = 7, .max_ts_offset = 98},
                out;
        sl_seal_encode(s, &seal);
        assert_true(sl_seal_prefix(s));
        assert_true(sl_seal_decode(s, &out));
        assert_int_equal(out.last_offset, 99);
        assert_int_equal(out.max_ts, 7);
        assert_int_equal(out.max_ts_offset, 98);
        for (int bit = 0; bit < SL_SEAL_BYTES * 8; bit++) {
                s[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                assert_false(sl_seal_decode(s, &out));
                s[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
}

static void test_index_entries(void **state)
{
        (void)state;
        uint8_t b[SL_OIDX_BYTES];
        sl_oidx_entry e = {.rel_offset = 77, .pos = 4096, .max_ts_before = 5, .max_ts_rel = 3}, g;
        memset(e.chain.b, 0xab, 16);
        sl_oidx_encode(b, &e);
        assert_true(sl_oidx_decode(b, &g));
        assert_int_equal(g.rel_offset, 77);
        assert_int_equal(g.pos, 4096);
        assert_int_equal(g.max_ts_before, 5);
        assert_int_equal(g.max_ts_rel, 3);
        for (int bit = 0; bit < SL_OIDX_BYTES * 8; bit++) {
                b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                assert_false(sl_oidx_decode(b, &g));
                b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        uint8_t t[SL_TIDX_BYTES];
        sl_tidx_entry te = {.ts = 1700000000000, .rel_offset = 9}, tg;
        sl_tidx_encode(t, &te);
        assert_true(sl_tidx_decode(t, &tg));
        assert_int_equal(tg.ts, te.ts);
        assert_int_equal(tg.rel_offset, 9);
        t[3] ^= 1;
        assert_false(sl_tidx_decode(t, &tg));
}

static void test_names(void **state)
{
        (void)state;
        char n[64];
        int64_t base;
        sl_seg_name(n, sizeof(n), 42, "log");
        assert_string_equal(n, "00000000000000000042.log");
        assert_true(sl_seg_name_parse(n, "log", &base));
        assert_int_equal(base, 42);
        assert_false(sl_seg_name_parse(n, "index", &base));
        assert_false(sl_seg_name_parse("0000000000000000042.log", "log", &base));
        assert_false(sl_seg_name_parse("99999999999999999999.log", "log", &base));
        assert_false(sl_seg_name_parse("0000000000000000004x.log", "log", &base));
}

static void test_batch_checks(void **state)
{
        (void)state;
        uint8_t b[4096];
        size_t len = bg_batch(b, sizeof(b), 3, 40, 5, 1);
        sl_batch_hdr h;
        sl_batch_hdr_decode(b, &h);
        assert_null(sl_batch_hdr_check(&h));
        assert_int_equal(h.records, 3);
        assert_int_equal(h.last_offset_delta, 2);
        assert_int_equal(h.max_ts, 7);
        assert_true(sl_batch_crc_ok(b, len));
        b[30] ^= 4;
        assert_false(sl_batch_crc_ok(b, len));
        sl_batch_crc_store(b, len);
        assert_true(sl_batch_crc_ok(b, len));
        b[16] = 1;
        sl_batch_hdr_decode(b, &h);
        assert_non_null(sl_batch_hdr_check(&h));
}

static void test_chain_is_xxh3_128(void **state)
{
        (void)state;
        uint64_t rs = 5;
        static uint8_t buf[1 << 16];
        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (uint8_t)bg_rand(&rs);
        sl_chain prev;
        memcpy(prev.b, buf, 16);
        size_t lens[] = {0, 1, 15, 16, 17, 128, 129, 240, 241, 1000, 4096, 65536 - 16};
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
                sl_chain a, g;
                sl_chain_next(&prev, buf + 16, lens[i], &a);
                sl_chain_next_generic(&prev, buf + 16, lens[i], &g);
                /* One-shot XXH3-128 over the concatenation, canonical bytes. */
                XXH128_canonical_t c;
                XXH128_canonicalFromHash(&c, XXH3_128bits(buf, 16 + lens[i]));
                assert_memory_equal(a.b, c.digest, 16);
                assert_memory_equal(g.b, c.digest, 16);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_header_and_seal),
            cmocka_unit_test(test_index_entries),
            cmocka_unit_test(test_names),
            cmocka_unit_test(test_batch_checks),
            cmocka_unit_test(test_chain_is_xxh3_128),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
