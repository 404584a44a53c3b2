/* protocol/record_batch.h — Kafka record batch v2 (magic 2): parse, verify,
 * iterate, rewrite in place, build.
 *
 * Layout (big-endian, offsets from the batch start; ENCODING.md §3.1):
 *    0 baseOffset i64        8 batchLength i32 (bytes after this field)
 *   12 partitionLeaderEpoch i32   16 magic i8 (2)   17 crc u32 (CRC-32C of [21, end))
 *   21 attributes i16       23 lastOffsetDelta i32   27 baseTimestamp i64
 *   35 maxTimestamp i64     43 producerId i64        51 producerEpoch i16
 *   53 baseSequence i32     57 recordsCount i32      61 records (or one compressed blob)
 * Each record: length varint · attributes i8 · timestampDelta varlong ·
 * offsetDelta varint · key (varint length, -1 null) · value (same) ·
 * headerCount varint · headers (key varint length ≥ 0, value varint length).
 *
 * Produce path 3/5 helper: broker/handle_produce.c calls
 * kp_batch_validate_produce on each partition's records, then the storage
 * append rewrites baseOffset / partitionLeaderEpoch (not CRC-covered) and, for
 * LogAppendTime topics, maxTimestamp (CRC recomputed). Everything here works on
 * views of the receive buffer; only decompression writes, into the caller's
 * kp_codec_ctx scratch. */
#ifndef KP_RECORD_BATCH_H
#define KP_RECORD_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compress.h"
#include "wire.h"

#define KP_BATCH_HEADER_BYTES 61 /* fixed header up to the records */
#define KP_BATCH_LOG_OVERHEAD 12 /* baseOffset + batchLength */
#define KP_BATCH_MIN_LENGTH   49 /* smallest batchLength (header, no records) */
#define KP_BATCH_MAGIC        2

/* Field offsets within a batch. */
#define KP_BATCH_OFF_BASE_OFFSET       0
#define KP_BATCH_OFF_LENGTH            8
#define KP_BATCH_OFF_LEADER_EPOCH      12
#define KP_BATCH_OFF_MAGIC             16
#define KP_BATCH_OFF_CRC               17
#define KP_BATCH_OFF_ATTRIBUTES        21
#define KP_BATCH_OFF_LAST_OFFSET_DELTA 23
#define KP_BATCH_OFF_BASE_TIMESTAMP    27
#define KP_BATCH_OFF_MAX_TIMESTAMP     35
#define KP_BATCH_OFF_PRODUCER_ID       43
#define KP_BATCH_OFF_PRODUCER_EPOCH    51
#define KP_BATCH_OFF_BASE_SEQUENCE     53
#define KP_BATCH_OFF_RECORDS_COUNT     57

/* Attribute bits (§3.2). */
#define KP_BATCH_ATTR_CODEC_MASK      0x07
#define KP_BATCH_ATTR_LOG_APPEND_TIME 0x08
#define KP_BATCH_ATTR_TRANSACTIONAL   0x10
#define KP_BATCH_ATTR_CONTROL         0x20
#define KP_BATCH_ATTR_DELETE_HORIZON  0x40

/* Control record types (key: int16 version, int16 type; §3.5). */
#define KP_CONTROL_ABORT  0
#define KP_CONTROL_COMMIT 1

/* A parsed batch header; p/size view the whole batch in the caller's buffer. */
typedef struct kp_batch {
        const uint8_t *p;               /* first byte (baseOffset) */
        size_t size;                    /* 12 + batch_length */
        int64_t base_offset;            /* offset of the first record */
        int32_t batch_length;           /* bytes after the length field */
        int32_t partition_leader_epoch; /* leader epoch at append */
        int8_t magic;                   /* always 2 once parsed */
        uint32_t crc;                   /* stored CRC-32C of [21, end) */
        int16_t attributes;             /* KP_BATCH_ATTR_* */
        int32_t last_offset_delta;      /* last record's offset delta */
        int64_t base_timestamp;         /* first record's timestamp, ms */
        int64_t max_timestamp;          /* max record or append time, ms */
        int64_t producer_id;            /* -1 if not idempotent */
        int16_t producer_epoch;         /* -1 if none */
        int32_t base_sequence;          /* -1 if none */
        int32_t records_count;          /* records in the batch */
        kp_bytes records;               /* bytes after the header (maybe compressed) */
} kp_batch;

static inline int kp_batch_codec(const kp_batch *b)
{
        return b->attributes & KP_BATCH_ATTR_CODEC_MASK;
}
static inline bool kp_batch_is_control(const kp_batch *b)
{
        return (b->attributes & KP_BATCH_ATTR_CONTROL) != 0;
}
static inline bool kp_batch_is_transactional(const kp_batch *b)
{
        return (b->attributes & KP_BATCH_ATTR_TRANSACTIONAL) != 0;
}
/* Offset of the batch's last record. */
static inline int64_t kp_batch_last_offset(const kp_batch *b)
{
        return b->base_offset + b->last_offset_delta;
}

/* Parses the header of the batch at buf (len bytes available): at least 61
 * bytes, magic 2, batchLength ≥ 49 and within len. Does not check the CRC or
 * the records. Returns 0 or KP_ERR_CORRUPT_MESSAGE with *why. */
int16_t kp_batch_parse(const uint8_t *buf, size_t len, kp_batch *b, const char **why);

/* Walks batches laid end to end (a partition's records field, a segment
 * range). kp_batch_next returns false at the end or on a malformed/truncated
 * batch; then err is 0 (clean end) or the Kafka error code and why says what. */
typedef struct kp_batch_iter {
        const uint8_t *p;   /* next batch */
        const uint8_t *end; /* end of the area */
        int16_t err;        /* first error, 0 if none */
        const char *why;    /* its reason */
} kp_batch_iter;

void kp_batch_iter_init(kp_batch_iter *it, const uint8_t *p, size_t len);
bool kp_batch_next(kp_batch_iter *it, kp_batch *b);

/* CRC-32C over [21, end) of a batch of size bytes. */
uint32_t kp_batch_compute_crc(const uint8_t *batch, size_t size);
static inline bool kp_batch_crc_ok(const kp_batch *b)
{
        return kp_batch_compute_crc(b->p, b->size) == b->crc;
}

/* One record, as views into the (decompressed) records area. */
typedef struct kp_record {
        int8_t attributes;       /* unused by Kafka, 0 */
        int64_t timestamp_delta; /* timestamp - baseTimestamp */
        int32_t offset_delta;    /* offset - baseOffset */
        kp_bytes key;            /* len -1: null key */
        kp_bytes value;          /* len -1: null value (tombstone) */
        int32_t header_count;    /* headers in the encoded area below */
        kp_bytes headers;        /* encoded headers, walk with kp_header_iter */
} kp_record;

/* A record header; also the input form for the builder. */
typedef struct kp_header {
        kp_str key;     /* never null */
        kp_bytes value; /* len -1: null */
} kp_header;

/* Reads count records from p[0..len); every length is checked, headers too.
 * kp_record_next returns false after the last record or on an error, which is
 * then in it->rd.err / it->rd.why (bytes left after the last record are an
 * error). */
typedef struct kp_record_iter {
        kp_rd rd;      /* cursor over the records area */
        int32_t left;  /* records still to read */
        int32_t index; /* index of the next record */
} kp_record_iter;

void kp_record_iter_init(kp_record_iter *it, const uint8_t *p, size_t len, int32_t count);
bool kp_record_next(kp_record_iter *it, kp_record *r);

/* Walks a record's headers (already validated by kp_record_next). */
typedef struct kp_header_iter {
        kp_rd rd;     /* cursor over the encoded headers */
        int32_t left; /* headers still to read */
} kp_header_iter;

void kp_header_iter_init(kp_header_iter *it, const kp_record *r);
bool kp_header_next(kp_header_iter *it, kp_header *h);

/* Reads a control record's key; returns 0 and the type, or
 * KP_ERR_CORRUPT_MESSAGE when the key is shorter than 4 bytes. */
int16_t kp_control_record_type(const kp_record *r, int16_t *type, const char **why);

/* What kp_batch_verify learnt from the records. */
typedef struct kp_batch_info {
        int32_t records;           /* records read (== records_count) */
        int64_t max_timestamp;     /* max base + delta; maxTimestamp under
                                    * LogAppendTime; -1 when no records */
        int64_t min_timestamp;     /* min of the same; -1 when no records */
        bool null_key;             /* a record has a null key (compacted topics) */
        size_t uncompressed_bytes; /* records area after decompression */
        int16_t control_type;      /* control batches: the record's type, else -1 */
} kp_batch_info;

/* Flags for kp_batch_verify. */
#define KP_VERIFY_PRODUCE 1 /* producer rules of ENCODING.md §3.8 items 6-9 */

/* Verifies one parsed batch: CRC, header sanity, and every record (after
 * decompressing into cc's scratch). Without flags it accepts what a log may
 * legally hold (compaction leaves gaps: offset deltas strictly ascending up to
 * lastOffsetDelta, possibly zero records; control batches with one well-formed
 * control record). With KP_VERIFY_PRODUCE it applies the append rules:
 * baseOffset 0, recordsCount > 0 and == lastOffsetDelta + 1, offset deltas
 * exactly 0..n-1, no control bit, baseSequence ≥ 0 when producerId ≥ 0, no
 * LogAppendTime bit. Returns 0 or the Kafka error (CORRUPT_MESSAGE for a bad CRC
 * or malformed bytes, INVALID_RECORD for rule violations, INVALID_TIMESTAMP)
 * with *why. info may be NULL. */
int16_t kp_batch_verify(const kp_batch *b, kp_codec_ctx *cc, unsigned flags, kp_batch_info *info,
                        const char **why);

/* The whole produce-side check of one partition's records field: exactly one
 * v2 batch filling the field (INVALID_RECORD), zstd only from Produce v7
 * (UNSUPPORTED_COMPRESSION_TYPE), then kp_batch_verify(KP_VERIFY_PRODUCE).
 * Size limits against topic config are the caller's. *b views the batch. */
int16_t kp_batch_validate_produce(kp_bytes records, int16_t produce_version, kp_codec_ctx *cc,
                                  kp_batch *b, kp_batch_info *info, const char **why);

/* In-place rewrites on a batch in a writable buffer. */
void kp_batch_set_base_offset(uint8_t *batch, int64_t base_offset);
void kp_batch_set_leader_epoch(uint8_t *batch, int32_t epoch);
/* Sets the LogAppendTime bit and maxTimestamp := append_time_ms; recomputes
 * the CRC (both are covered). */
void kp_batch_set_log_append_time(uint8_t *batch, size_t size, int64_t append_time_ms);
/* Sets maxTimestamp (CreateTime); recomputes the CRC only if it changed. */
void kp_batch_set_max_timestamp(uint8_t *batch, size_t size, int64_t max_timestamp_ms);

/* Builder input: one record. */
typedef struct kp_record_in {
        int64_t timestamp;        /* ms */
        kp_bytes key;             /* len -1: null */
        kp_bytes value;           /* len -1: null */
        const kp_header *headers; /* header_count entries */
        int32_t header_count;
} kp_record_in;

/* Builder input: the batch header fields a caller chooses. */
typedef struct kp_batch_spec {
        int64_t base_offset;            /* 0 for a producer batch */
        int32_t partition_leader_epoch; /* -1 or the leader epoch */
        int codec;                      /* KP_CODEC_* */
        int16_t flags;          /* KP_BATCH_ATTR_TRANSACTIONAL | _CONTROL | _LOG_APPEND_TIME */
        int64_t producer_id;    /* -1 if none */
        int16_t producer_epoch; /* -1 if none */
        int32_t base_sequence;  /* -1 if none */
} kp_batch_spec;

/* Worst-case size of the batch kp_batch_build writes for these records. */
size_t kp_batch_build_bound(const kp_batch_spec *spec, const kp_record_in *recs, int32_t n);

/* Builds a batch of n ≥ 1 records (offset deltas 0..n-1, baseTimestamp = the
 * first record's, maxTimestamp = the largest) into out. Compressed batches go
 * through cc's build scratch. Returns 0 and *out_len, -EINVAL (bad codec,
 * n < 1, a negative-length header key), -ENOBUFS (out too small) or the
 * kp_compress error. */
int kp_batch_build(kp_codec_ctx *cc, const kp_batch_spec *spec, const kp_record_in *recs, int32_t n,
                   uint8_t *out, size_t cap, size_t *out_len);

#endif
