/* protocol/compress.c — gzip, snappy, lz4 and zstd for record batches
 * (compress.h, ENCODING.md §3.6).
 *
 * Decoders stream into a scratch buffer that doubles up to max_out_bytes and
 * then stops with CORRUPT_MESSAGE, so the output bound is enforced before
 * memory is spent, whatever sizes the compressed data claims. Library states
 * (z_stream, LZ4F contexts, zstd contexts) are created on first use and reset,
 * not recreated, for each batch. */
#include "compress.h"

#include <errno.h>
#include <limits.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "kafka_errors.h"

#define FIRST_SCRATCH_BYTES (64 * 1024)
#define ZSTD_LEVEL          3
/* zstd's default decoder window limit (ZSTD_WINDOWLOG_LIMIT_DEFAULT, which is
 * only visible with ZSTD_STATIC_LINKING_ONLY). */
#define ZSTD_WINDOW_LOG_LIMIT 27

/* snappy-java ("xerial") stream header: magic, then int32 version and int32
 * minimum compatible version. */
static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
#define XERIAL_HEADER_BYTES 16

struct kp_codec_ctx {
        size_t max_out;     /* decompressed output cap */
        uint8_t *out;       /* decompression scratch */
        size_t out_cap;     /* its capacity */
        uint8_t *build;     /* kp_codec_build_scratch buffer */
        size_t build_cap;   /* its capacity */
        z_stream inflate;   /* gzip decoder, valid when inflate_ready */
        bool inflate_ready; /* inflateInit2 done */
        z_stream deflate;   /* gzip encoder, valid when deflate_ready */
        bool deflate_ready; /* deflateInit2 done */
        LZ4F_dctx *lz4_d;   /* created on first lz4 decompress */
        LZ4F_cctx *lz4_c;   /* created on first lz4 compress */
        ZSTD_DCtx *zstd_d;  /* created on first zstd decompress */
        ZSTD_CCtx *zstd_c;  /* created on first zstd compress */
};

kp_codec_ctx *kp_codec_ctx_new(size_t max_out_bytes)
{
        kp_codec_ctx *cc = calloc(1, sizeof(*cc));
        if (!cc)
                return NULL;
        cc->max_out = max_out_bytes;
        return cc;
}

void kp_codec_ctx_free(kp_codec_ctx *cc)
{
        if (!cc)
                return;
        if (cc->inflate_ready)
                inflateEnd(&cc->inflate);
        if (cc->deflate_ready)
                deflateEnd(&cc->deflate);
        LZ4F_freeDecompressionContext(cc->lz4_d);
        LZ4F_freeCompressionContext(cc->lz4_c);
        ZSTD_freeDCtx(cc->zstd_d);
        ZSTD_freeCCtx(cc->zstd_c);
        free(cc->out);
        free(cc->build);
        free(cc);
}

const char *kp_codec_name(int codec)
{
        switch (codec) {
        case KP_CODEC_NONE:
                return "none";
        case KP_CODEC_GZIP:
                return "gzip";
        case KP_CODEC_SNAPPY:
                return "snappy";
        case KP_CODEC_LZ4:
                return "lz4";
        case KP_CODEC_ZSTD:
                return "zstd";
        default:
                return "invalid";
        }
}

/* Makes the scratch at least need bytes (and at most max_out); grows
 * geometrically so a stream that needs repeated growth costs O(log n) reallocs. */
static bool scratch_reserve(kp_codec_ctx *cc, size_t need)
{
        if (need > cc->max_out)
                return false;
        if (need <= cc->out_cap)
                return true;
        size_t cap = cc->out_cap ? cc->out_cap : FIRST_SCRATCH_BYTES;
        while (cap < need)
                cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        if (cap > cc->max_out)
                cap = cc->max_out;
        uint8_t *p = realloc(cc->out, cap);
        if (!p)
                return false;
        cc->out = p;
        cc->out_cap = cap;
        return true;
}

/* The scratch is full: double it, unless it already holds max_out bytes. */
static bool scratch_grow(kp_codec_ctx *cc)
{
        if (cc->out_cap >= cc->max_out)
                return false;
        size_t need = cc->out_cap ? cc->out_cap + 1 : FIRST_SCRATCH_BYTES;
        return scratch_reserve(cc, need < cc->max_out ? need : cc->max_out);
}

uint8_t *kp_codec_build_scratch(kp_codec_ctx *cc, size_t len)
{
        if (len <= cc->build_cap)
                return cc->build;
        uint8_t *p = realloc(cc->build, len);
        if (!p)
                return NULL;
        cc->build = p;
        cc->build_cap = len;
        return p;
}

#define CORRUPT(msg)                                                                               \
        do {                                                                                       \
                *why = (msg);                                                                      \
                return KP_ERR_CORRUPT_MESSAGE;                                                     \
        } while (0)

static const char *const too_big = "decompressed size above the limit";

/* ---- gzip ---- */

static int16_t gunzip(kp_codec_ctx *cc, const uint8_t *in, size_t in_len, size_t *produced,
                      const char **why)
{
        z_stream *z = &cc->inflate;
        if (!cc->inflate_ready) {
                memset(z, 0, sizeof(*z));
                if (inflateInit2(z, 16 + MAX_WBITS) != Z_OK)
                        CORRUPT("gzip: inflateInit2 failed");
                cc->inflate_ready = true;
        } else if (inflateReset(z) != Z_OK) {
                CORRUPT("gzip: inflateReset failed");
        }
        if (in_len > UINT_MAX)
                CORRUPT("gzip: input too large");
        z->next_in = (Bytef *)(uintptr_t)in;
        z->avail_in = (uInt)in_len;
        size_t pos = 0;
        for (;;) {
                if (pos == cc->out_cap && !scratch_grow(cc))
                        CORRUPT(too_big);
                size_t room = cc->out_cap - pos;
                z->next_out = cc->out + pos;
                z->avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
                uInt before = z->avail_out;
                int ret = inflate(z, Z_NO_FLUSH);
                pos += before - z->avail_out;
                if (ret == Z_STREAM_END) {
                        if (z->avail_in == 0)
                                break;
                        /* Concatenated gzip members are one stream (RFC 1952 §2.2). */
                        if (inflateReset(z) != Z_OK)
                                CORRUPT("gzip: inflateReset failed");
                        continue;
                }
                if (ret == Z_BUF_ERROR && z->avail_in == 0 && z->avail_out > 0)
                        CORRUPT("gzip: truncated stream");
                if (ret != Z_OK && ret != Z_BUF_ERROR)
                        CORRUPT("gzip: invalid data");
        }
        *produced = pos;
        return 0;
}

/* ---- snappy ---- */

/* Appends one raw snappy block at *pos. */
static int16_t unsnappy_block(kp_codec_ctx *cc, const uint8_t *in, size_t in_len, size_t *pos,
                              const char **why)
{
        size_t ulen;
        if (snappy_uncompressed_length((const char *)in, in_len, &ulen) != SNAPPY_OK)
                CORRUPT("snappy: bad block header");
        if (ulen > cc->max_out - *pos)
                CORRUPT(too_big);
        if (!scratch_reserve(cc, *pos + ulen))
                CORRUPT(too_big);
        size_t got = cc->out_cap - *pos;
        if (snappy_uncompress((const char *)in, in_len, (char *)cc->out + *pos, &got) !=
                SNAPPY_OK ||
            got != ulen)
                CORRUPT("snappy: invalid block");
        *pos += got;
        return 0;
}

static int16_t unsnappy(kp_codec_ctx *cc, const uint8_t *in, size_t in_len, size_t *produced,
                        const char **why)
{
        size_t pos = 0;
        if (in_len < XERIAL_HEADER_BYTES || memcmp(in, xerial_magic, sizeof(xerial_magic)) != 0) {
                int16_t err = unsnappy_block(cc, in, in_len, &pos, why);
                *produced = pos;
                return err;
        }
        /* xerial: header, then (int32 BE length, raw block) repeated. */
        size_t off = XERIAL_HEADER_BYTES;
        while (off < in_len) {
                if (in_len - off < 4)
                        CORRUPT("snappy: truncated xerial block length");
                uint32_t blen = (uint32_t)in[off] << 24 | (uint32_t)in[off + 1] << 16 |
                                (uint32_t)in[off + 2] << 8 | in[off + 3];
                off += 4;
                if (blen > in_len - off)
                        CORRUPT("snappy: xerial block past the end");
                int16_t err = unsnappy_block(cc, in + off, blen, &pos, why);
                if (err)
                        return err;
                off += blen;
        }
        *produced = pos;
        return 0;
}

/* ---- lz4 ---- */

static int16_t unlz4(kp_codec_ctx *cc, const uint8_t *in, size_t in_len, size_t *produced,
                     const char **why)
{
        if (!cc->lz4_d) {
                if (LZ4F_isError(LZ4F_createDecompressionContext(&cc->lz4_d, LZ4F_VERSION)))
                        CORRUPT("lz4: cannot create context");
        } else {
                LZ4F_resetDecompressionContext(cc->lz4_d);
        }
        if (in_len == 0)
                CORRUPT("lz4: empty input");
        size_t pos = 0, off = 0;
        for (;;) {
                if (pos == cc->out_cap && !scratch_grow(cc))
                        CORRUPT(too_big);
                size_t dst = cc->out_cap - pos, src = in_len - off;
                size_t r = LZ4F_decompress(cc->lz4_d, cc->out + pos, &dst, in + off, &src, NULL);
                if (LZ4F_isError(r))
                        CORRUPT("lz4: invalid frame");
                pos += dst;
                off += src;
                if (r == 0 && off == in_len)
                        break; /* frame complete, input used up */
                if (off == in_len && pos < cc->out_cap)
                        CORRUPT("lz4: truncated frame");
                if (r != 0 && src == 0 && dst == 0 && pos < cc->out_cap)
                        CORRUPT("lz4: no progress");
        }
        *produced = pos;
        return 0;
}

/* ---- zstd ---- */

/* Window cap: enough for any frame whose output fits max_out, at least 16 MiB
 * (what producers use is far below), at most zstd's own default limit. */
static int zstd_window_log(size_t max_out)
{
        int log = 24;
        while (log < ZSTD_WINDOW_LOG_LIMIT && ((size_t)1 << log) < max_out)
                log++;
        return log;
}

static int16_t unzstd(kp_codec_ctx *cc, const uint8_t *in, size_t in_len, size_t *produced,
                      const char **why)
{
        if (!cc->zstd_d) {
                cc->zstd_d = ZSTD_createDCtx();
                if (!cc->zstd_d)
                        CORRUPT("zstd: cannot create context");
                ZSTD_DCtx_setParameter(cc->zstd_d, ZSTD_d_windowLogMax,
                                       zstd_window_log(cc->max_out));
        } else {
                ZSTD_DCtx_reset(cc->zstd_d, ZSTD_reset_session_only);
        }
        if (in_len == 0)
                CORRUPT("zstd: empty input");
        ZSTD_inBuffer ib = {in, in_len, 0};
        size_t pos = 0;
        for (;;) {
                if (pos == cc->out_cap && !scratch_grow(cc))
                        CORRUPT(too_big);
                ZSTD_outBuffer ob = {cc->out, cc->out_cap, pos};
                size_t r = ZSTD_decompressStream(cc->zstd_d, &ob, &ib);
                if (ZSTD_isError(r))
                        CORRUPT("zstd: invalid frame");
                pos = ob.pos;
                if (ib.pos == ib.size) {
                        if (r == 0)
                                break; /* last frame complete */
                        if (ob.pos < ob.size)
                                CORRUPT("zstd: truncated frame");
                }
        }
        *produced = pos;
        return 0;
}

int16_t kp_decompress(kp_codec_ctx *cc, int codec, const uint8_t *in, size_t in_len,
                      const uint8_t **out, size_t *out_len, const char **why)
{
        size_t n = 0;
        int16_t err;
        switch (codec) {
        case KP_CODEC_GZIP:
                err = gunzip(cc, in, in_len, &n, why);
                break;
        case KP_CODEC_SNAPPY:
                err = unsnappy(cc, in, in_len, &n, why);
                break;
        case KP_CODEC_LZ4:
                err = unlz4(cc, in, in_len, &n, why);
                break;
        case KP_CODEC_ZSTD:
                err = unzstd(cc, in, in_len, &n, why);
                break;
        default:
                *why = "not a compression codec";
                return KP_ERR_UNSUPPORTED_COMPRESSION_TYPE;
        }
        if (err)
                return err;
        *out = cc->out;
        *out_len = n;
        return 0;
}

/* ---- compression ---- */

static const LZ4F_preferences_t lz4_prefs = {
    .frameInfo = {.blockSizeID = LZ4F_max64KB, .blockMode = LZ4F_blockIndependent},
};

size_t kp_compress_bound(int codec, size_t in_len)
{
        switch (codec) {
        case KP_CODEC_GZIP:
                /* zlib's compressBound plus the gzip header/trailer over zlib's. */
                return (size_t)compressBound((uLong)in_len) + 32;
        case KP_CODEC_SNAPPY:
                return snappy_max_compressed_length(in_len);
        case KP_CODEC_LZ4:
                return LZ4F_compressFrameBound(in_len, &lz4_prefs);
        case KP_CODEC_ZSTD:
                return ZSTD_compressBound(in_len);
        default:
                return 0;
        }
}

static int gzip_compress(kp_codec_ctx *cc, const uint8_t *in, size_t in_len, uint8_t *out,
                         size_t out_cap, size_t *out_len)
{
        z_stream *z = &cc->deflate;
        if (!cc->deflate_ready) {
                memset(z, 0, sizeof(*z));
                if (deflateInit2(z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                                 Z_DEFAULT_STRATEGY) != Z_OK)
                        return -ENOMEM;
                cc->deflate_ready = true;
        } else if (deflateReset(z) != Z_OK) {
                return -EIO;
        }
        if (in_len > UINT_MAX || out_cap > UINT_MAX)
                return -EINVAL;
        z->next_in = (Bytef *)(uintptr_t)in;
        z->avail_in = (uInt)in_len;
        z->next_out = out;
        z->avail_out = (uInt)out_cap;
        if (deflate(z, Z_FINISH) != Z_STREAM_END)
                return -ENOBUFS;
        *out_len = out_cap - z->avail_out;
        return 0;
}

static int lz4_compress(kp_codec_ctx *cc, const uint8_t *in, size_t in_len, uint8_t *out,
                        size_t out_cap, size_t *out_len)
{
        if (!cc->lz4_c && LZ4F_isError(LZ4F_createCompressionContext(&cc->lz4_c, LZ4F_VERSION)))
                return -ENOMEM;
        size_t pos = LZ4F_compressBegin(cc->lz4_c, out, out_cap, &lz4_prefs);
        if (LZ4F_isError(pos))
                return -EIO;
        size_t n = LZ4F_compressUpdate(cc->lz4_c, out + pos, out_cap - pos, in, in_len, NULL);
        if (LZ4F_isError(n))
                return -EIO;
        pos += n;
        n = LZ4F_compressEnd(cc->lz4_c, out + pos, out_cap - pos, NULL);
        if (LZ4F_isError(n))
                return -EIO;
        *out_len = pos + n;
        return 0;
}

static int zstd_compress(kp_codec_ctx *cc, const uint8_t *in, size_t in_len, uint8_t *out,
                         size_t out_cap, size_t *out_len)
{
        if (!cc->zstd_c) {
                cc->zstd_c = ZSTD_createCCtx();
                if (!cc->zstd_c)
                        return -ENOMEM;
                ZSTD_CCtx_setParameter(cc->zstd_c, ZSTD_c_compressionLevel, ZSTD_LEVEL);
        } else {
                ZSTD_CCtx_reset(cc->zstd_c, ZSTD_reset_session_only);
        }
        size_t n = ZSTD_compress2(cc->zstd_c, out, out_cap, in, in_len);
        if (ZSTD_isError(n))
                return -EIO;
        *out_len = n;
        return 0;
}

int kp_compress(kp_codec_ctx *cc, int codec, const uint8_t *in, size_t in_len, uint8_t *out,
                size_t out_cap, size_t *out_len)
{
        size_t bound = kp_compress_bound(codec, in_len);
        if (!bound)
                return -EINVAL;
        if (out_cap < bound)
                return -ENOBUFS;
        switch (codec) {
        case KP_CODEC_GZIP:
                return gzip_compress(cc, in, in_len, out, out_cap, out_len);
        case KP_CODEC_SNAPPY:
                *out_len = out_cap;
                if (snappy_compress((const char *)in, in_len, (char *)out, out_len) != SNAPPY_OK)
                        return -EIO;
                return 0;
        case KP_CODEC_LZ4:
                return lz4_compress(cc, in, in_len, out, out_cap, out_len);
        default:
                return zstd_compress(cc, in, in_len, out, out_cap, out_len);
        }
}
