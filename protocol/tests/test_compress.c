/* protocol/tests/test_compress.c — the batch codecs (compress.h): round trips
 * for every codec and size, snappy xerial framing and raw blocks, concatenated
 * gzip members, zstd frames without a content size, decompression bombs
 * stopped at the cap, and garbage or truncated input reported as
 * CORRUPT_MESSAGE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "compress.h"
#include "kafka_errors.h"

static const int codecs[] = {KP_CODEC_GZIP, KP_CODEC_SNAPPY, KP_CODEC_LZ4, KP_CODEC_ZSTD};
#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

/* Compressible text-like data with some randomness. */
static void fill(uint8_t *p, size_t n, unsigned seed)
{
        static const char words[] = "kafka record batch serpentlog offset partition leader ";
        srand(seed);
        for (size_t i = 0; i < n; i++)
                p[i] =
                    (rand() % 8 == 0) ? (uint8_t)rand() : (uint8_t)words[i % (sizeof(words) - 1)];
}

static uint8_t *compress_alloc(kp_codec_ctx *cc, int codec, const uint8_t *in, size_t n,
                               size_t *out_len)
{
        size_t cap = kp_compress_bound(codec, n);
        assert_true(cap > 0);
        uint8_t *out = malloc(cap);
        assert_non_null(out);
        assert_int_equal(kp_compress(cc, codec, in, n, out, cap, out_len), 0);
        return out;
}

static void test_round_trip(void **state)
{
        (void)state;
        kp_codec_ctx *cc = kp_codec_ctx_new(8 << 20);
        assert_non_null(cc);
        const size_t sizes[] = {0, 1, 100, 4096, 65535, 65536, 65537, 300000, 2 << 20};
        uint8_t *in = malloc(2 << 20);
        assert_non_null(in);
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                fill(in, sizes[s], (unsigned)s);
                for (size_t c = 0; c < NCODECS; c++) {
                        size_t clen;
                        uint8_t *z = compress_alloc(cc, codecs[c], in, sizes[s], &clen);
                        if (sizes[s] >= 4096)
                                assert_true(clen < sizes[s]);
                        const uint8_t *out;
                        size_t out_len;
                        const char *why = NULL;
                        assert_int_equal(
                            kp_decompress(cc, codecs[c], z, clen, &out, &out_len, &why), 0);
                        assert_int_equal(out_len, sizes[s]);
                        if (sizes[s])
                                assert_memory_equal(out, in, sizes[s]);
                        free(z);
                }
        }
        free(in);
        kp_codec_ctx_free(cc);
}

static void test_snappy_xerial(void **state)
{
        (void)state;
        kp_codec_ctx *cc = kp_codec_ctx_new(1 << 20);
        uint8_t in[100000];
        fill(in, sizeof(in), 7);
        /* Two blocks, as snappy-java writes with its 32 KiB input blocks. */
        size_t cut = 32768;
        uint8_t framed[16 + 2 * (4 + 60000)];
        static const uint8_t hdr[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0,
                                        0,    0,   0,   1,   0,   0,   0,   1};
        memcpy(framed, hdr, 16);
        size_t pos = 16;
        const uint8_t *parts[2] = {in, in + cut};
        size_t plen[2] = {cut, sizeof(in) - cut};
        for (int i = 0; i < 2; i++) {
                size_t blen = snappy_max_compressed_length(plen[i]);
                assert_true(pos + 4 + blen <= sizeof(framed));
                assert_int_equal(snappy_compress((const char *)parts[i], plen[i],
                                                 (char *)framed + pos + 4, &blen),
                                 SNAPPY_OK);
                framed[pos] = (uint8_t)(blen >> 24);
                framed[pos + 1] = (uint8_t)(blen >> 16);
                framed[pos + 2] = (uint8_t)(blen >> 8);
                framed[pos + 3] = (uint8_t)blen;
                pos += 4 + blen;
        }
        const uint8_t *out;
        size_t out_len;
        const char *why;
        assert_int_equal(kp_decompress(cc, KP_CODEC_SNAPPY, framed, pos, &out, &out_len, &why), 0);
        assert_int_equal(out_len, sizeof(in));
        assert_memory_equal(out, in, sizeof(in));
        /* A block length running past the end. */
        assert_int_equal(kp_decompress(cc, KP_CODEC_SNAPPY, framed, pos - 1, &out, &out_len, &why),
                         KP_ERR_CORRUPT_MESSAGE);
        /* Header only: zero blocks, empty output. */
        assert_int_equal(kp_decompress(cc, KP_CODEC_SNAPPY, framed, 16, &out, &out_len, &why), 0);
        assert_int_equal(out_len, 0);
        /* A dangling partial length. */
        assert_int_equal(kp_decompress(cc, KP_CODEC_SNAPPY, framed, 18, &out, &out_len, &why),
                         KP_ERR_CORRUPT_MESSAGE);
        kp_codec_ctx_free(cc);
}

static void test_gzip_concatenated(void **state)
{
        (void)state;
        kp_codec_ctx *cc = kp_codec_ctx_new(1 << 20);
        uint8_t a[5000], b[7000];
        fill(a, sizeof(a), 1);
        fill(b, sizeof(b), 2);
        size_t la, lb;
        uint8_t *za = compress_alloc(cc, KP_CODEC_GZIP, a, sizeof(a), &la);
        uint8_t *zb = compress_alloc(cc, KP_CODEC_GZIP, b, sizeof(b), &lb);
        uint8_t *both = malloc(la + lb);
        memcpy(both, za, la);
        memcpy(both + la, zb, lb);
        const uint8_t *out;
        size_t out_len;
        const char *why;
        assert_int_equal(kp_decompress(cc, KP_CODEC_GZIP, both, la + lb, &out, &out_len, &why), 0);
        assert_int_equal(out_len, sizeof(a) + sizeof(b));
        assert_memory_equal(out, a, sizeof(a));
        assert_memory_equal(out + sizeof(a), b, sizeof(b));
        /* Trailing garbage after a member is not another member. */
        both[la] ^= 0xff;
        assert_int_equal(kp_decompress(cc, KP_CODEC_GZIP, both, la + lb, &out, &out_len, &why),
                         KP_ERR_CORRUPT_MESSAGE);
        free(both);
        free(za);
        free(zb);
        kp_codec_ctx_free(cc);
}

static void test_zstd_streamed_frame(void **state)
{
        (void)state;
        kp_codec_ctx *cc = kp_codec_ctx_new(1 << 20);
        uint8_t in[200000];
        fill(in, sizeof(in), 3);
        /* Streaming compression without a pledged size: no content size field. */
        ZSTD_CCtx *z = ZSTD_createCCtx();
        uint8_t out_buf[210000];
        ZSTD_outBuffer ob = {out_buf, sizeof(out_buf), 0};
        /* Feed the input with e_continue first, as a streaming producer does, so
         * the size is unknown when the frame header is written. */
        ZSTD_inBuffer ib = {in, sizeof(in), 0};
        size_t r = ZSTD_compressStream2(z, &ob, &ib, ZSTD_e_continue);
        assert_false(ZSTD_isError(r));
        assert_int_equal(ib.pos, ib.size);
        ZSTD_inBuffer none = {NULL, 0, 0};
        do {
                r = ZSTD_compressStream2(z, &ob, &none, ZSTD_e_end);
                assert_false(ZSTD_isError(r));
        } while (r != 0);
        ZSTD_freeCCtx(z);
        assert_int_equal(ZSTD_getFrameContentSize(out_buf, ob.pos), ZSTD_CONTENTSIZE_UNKNOWN);
        const uint8_t *out;
        size_t out_len;
        const char *why;
        assert_int_equal(kp_decompress(cc, KP_CODEC_ZSTD, out_buf, ob.pos, &out, &out_len, &why),
                         0);
        assert_int_equal(out_len, sizeof(in));
        assert_memory_equal(out, in, sizeof(in));
        kp_codec_ctx_free(cc);
}

static void test_bomb_capped(void **state)
{
        (void)state;
        size_t big = 16 << 20;
        uint8_t *zeros = calloc(1, big);
        assert_non_null(zeros);
        kp_codec_ctx *maker = kp_codec_ctx_new(big);
        kp_codec_ctx *cc = kp_codec_ctx_new(1 << 20);
        for (size_t c = 0; c < NCODECS; c++) {
                size_t clen;
                uint8_t *z = compress_alloc(maker, codecs[c], zeros, big, &clen);
                const uint8_t *out;
                size_t out_len;
                const char *why = NULL;
                assert_int_equal(kp_decompress(cc, codecs[c], z, clen, &out, &out_len, &why),
                                 KP_ERR_CORRUPT_MESSAGE);
                assert_non_null(why);
                /* The same data within the cap of a bigger context. */
                assert_int_equal(kp_decompress(maker, codecs[c], z, clen, &out, &out_len, &why), 0);
                assert_int_equal(out_len, big);
                free(z);
        }
        /* Exactly at the cap is fine. */
        size_t clen;
        uint8_t *z = compress_alloc(maker, KP_CODEC_LZ4, zeros, 1 << 20, &clen);
        const uint8_t *out;
        size_t out_len;
        const char *why;
        assert_int_equal(kp_decompress(cc, KP_CODEC_LZ4, z, clen, &out, &out_len, &why), 0);
        assert_int_equal(out_len, 1 << 20);
        free(z);
        kp_codec_ctx_free(cc);
        kp_codec_ctx_free(maker);
        free(zeros);
}

static void test_garbage_and_truncation(void **state)
{
        (void)state;
        kp_codec_ctx *cc = kp_codec_ctx_new(4 << 20);
        uint8_t in[50000];
        fill(in, sizeof(in), 9);
        for (size_t c = 0; c < NCODECS; c++) {
                size_t clen;
                uint8_t *z = compress_alloc(cc, codecs[c], in, sizeof(in), &clen);
                const uint8_t *out;
                size_t out_len;
                const char *why;
                /* Every truncation point of the first and last 64 bytes. */
                for (size_t cut = 0; cut < clen; cut++) {
                        if (cut > 64 && cut < clen - 64)
                                continue;
                        assert_int_equal(kp_decompress(cc, codecs[c], z, cut, &out, &out_len, &why),
                                         KP_ERR_CORRUPT_MESSAGE);
                }
                /* Random garbage. */
                srand(11);
                uint8_t junk[4096];
                for (int round = 0; round < 50; round++) {
                        for (size_t i = 0; i < sizeof(junk); i++)
                                junk[i] = (uint8_t)rand();
                        assert_int_equal(
                            kp_decompress(cc, codecs[c], junk, sizeof(junk), &out, &out_len, &why),
                            KP_ERR_CORRUPT_MESSAGE);
                }
                /* The context still works after errors. */
                assert_int_equal(kp_decompress(cc, codecs[c], z, clen, &out, &out_len, &why), 0);
                assert_int_equal(out_len, sizeof(in));
                free(z);
        }
        kp_codec_ctx_free(cc);
}

static void test_bad_codec_and_small_buffer(void **state)
{
        (void)state;
        kp_codec_ctx *cc = kp_codec_ctx_new(1 << 20);
        const uint8_t *out;
        size_t out_len;
        const char *why;
        uint8_t x[16] = {0};
        for (int codec = 5; codec < 8; codec++)
                assert_int_equal(kp_decompress(cc, codec, x, sizeof(x), &out, &out_len, &why),
                                 KP_ERR_UNSUPPORTED_COMPRESSION_TYPE);
        assert_int_equal(kp_decompress(cc, KP_CODEC_NONE, x, sizeof(x), &out, &out_len, &why),
                         KP_ERR_UNSUPPORTED_COMPRESSION_TYPE);
        size_t n;
        assert_int_equal(kp_compress(cc, 7, x, sizeof(x), x, sizeof(x), &n), -EINVAL);
        for (size_t c = 0; c < NCODECS; c++)
                assert_int_equal(kp_compress(cc, codecs[c], x, sizeof(x), x, 4, &n), -ENOBUFS);
        assert_string_equal(kp_codec_name(KP_CODEC_ZSTD), "zstd");
        assert_string_equal(kp_codec_name(9), "invalid");
        kp_codec_ctx_free(cc);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_round_trip),
            cmocka_unit_test(test_snappy_xerial),
            cmocka_unit_test(test_gzip_concatenated),
            cmocka_unit_test(test_zstd_streamed_frame),
            cmocka_unit_test(test_bomb_capped),
            cmocka_unit_test(test_garbage_and_truncation),
            cmocka_unit_test(test_bad_codec_and_small_buffer),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
