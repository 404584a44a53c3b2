/* protocol/compress.h — record batch compression codecs (ENCODING.md §3.6).
 *
 * A compressed batch replaces its records with one blob: gzip (RFC 1952),
 * snappy (raw block as librdkafka/sarama write, or xerial/snappy-java framing
 * as the Java client and kafka-python write — both are read, raw is written),
 * lz4 (standard LZ4 frame) or zstd (standard frame, possibly without a content
 * size). Decompression writes into a scratch buffer owned by the context and
 * never grows it past max_out_bytes, so a decompression bomb costs at most that
 * much memory. One context per shard/thread: the zlib, LZ4F and zstd states and
 * the scratch buffers are reused from batch to batch. */
#ifndef KP_COMPRESS_H
#define KP_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

/* Attribute bits 0-2 of a v2 batch. */
enum kp_codec {
        KP_CODEC_NONE = 0,
        KP_CODEC_GZIP = 1,
        KP_CODEC_SNAPPY = 2,
        KP_CODEC_LZ4 = 3,
        KP_CODEC_ZSTD = 4,
};

typedef struct kp_codec_ctx kp_codec_ctx;

/* Creates a context whose decompressed output is capped at max_out_bytes
 * (e.g. a multiple of max.message.bytes). NULL when out of memory. */
kp_codec_ctx *kp_codec_ctx_new(size_t max_out_bytes);
void kp_codec_ctx_free(kp_codec_ctx *cc);

/* Name of a codec ("none", "gzip", ...) or "invalid". */
const char *kp_codec_name(int codec);

/* Decompresses in[0..in_len) with codec into the context's scratch buffer;
 * *out and *out_len point at the result, valid until the next call on cc.
 * Returns 0, KP_ERR_CORRUPT_MESSAGE (bad data, truncated stream, or output
 * above max_out_bytes) or KP_ERR_UNSUPPORTED_COMPRESSION_TYPE (codec 5-7 or
 * NONE); *why gets a short static reason. Allocates only when the scratch
 * buffer must grow beyond its previous high-water mark. */
int16_t kp_decompress(kp_codec_ctx *cc, int codec, const uint8_t *in, size_t in_len,
                      const uint8_t **out, size_t *out_len, const char **why);

/* Upper bound of kp_compress output for in_len bytes, 0 for a bad codec. */
size_t kp_compress_bound(int codec, size_t in_len);

/* Compresses in[0..in_len) into out (capacity out_cap, which should be at
 * least kp_compress_bound). Snappy is written raw (one block), lz4 as a frame
 * with independent 64 KiB blocks, gzip at zlib's default level, zstd at level
 * 3 by default. Returns 0, -EINVAL for a bad codec, -ENOBUFS when out_cap is
 * too small, -ENOMEM or -EIO on a library failure. */
int kp_compress(kp_codec_ctx *cc, int codec, const uint8_t *in, size_t in_len, uint8_t *out,
                size_t out_cap, size_t *out_len);

/* Scratch buffer for callers that build batches (record_build.c): at least
 * len bytes, reused between calls, separate from the decompression output.
 * NULL when out of memory. */
uint8_t *kp_codec_build_scratch(kp_codec_ctx *cc, size_t len);

#endif
