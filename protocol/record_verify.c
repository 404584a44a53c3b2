/* protocol/record_verify.c — whole-batch verification: the broker's append
 * checks (ENCODING.md §3.8 items 3, 4, 6-9) and the looser checks that hold for
 * any batch a log may contain (storage recovery, fetch-side tools, fuzzing).
 *
 * Order follows Kafka: structure, codec, CRC (so a corrupted batch is reported
 * as CORRUPT_MESSAGE before any field of it is trusted), header sanity, then
 * the records, decompressed into the caller's kp_codec_ctx scratch: no memory
 * is allocated per batch or per record. */
#include "record_batch.h"

#define FAIL(code, msg)                                                                            \
        do {                                                                                       \
                *why = (msg);                                                                      \
                return (code);                                                                     \
        } while (0)

/* Header rules for a producer's batch (§3.8 item 7, LogAppendTime of item 9). */
static int16_t check_produce_header(const kp_batch *b, const char **why)
{
        if (b->base_offset != 0)
                FAIL(KP_ERR_INVALID_RECORD, "producer batch baseOffset is not 0");
        if (b->records_count <= 0)
                FAIL(KP_ERR_INVALID_RECORD, "producer batch has no records");
        if ((int64_t)b->last_offset_delta + 1 != b->records_count)
                FAIL(KP_ERR_INVALID_RECORD, "lastOffsetDelta + 1 != recordsCount");
        if (kp_batch_is_control(b))
                FAIL(KP_ERR_INVALID_RECORD, "clients may not produce control batches");
        if (b->producer_id >= 0 && b->base_sequence < 0)
                FAIL(KP_ERR_INVALID_RECORD, "producerId set but baseSequence negative");
        if (b->attributes & KP_BATCH_ATTR_LOG_APPEND_TIME)
                FAIL(KP_ERR_INVALID_TIMESTAMP, "producer batch has the LogAppendTime bit");
        return 0;
}

/* Header rules for a stored batch: compaction may drop records (fewer than
 * lastOffsetDelta + 1, even none) but never adds any. */
static int16_t check_log_header(const kp_batch *b, const char **why)
{
        if (b->records_count < 0)
                FAIL(KP_ERR_CORRUPT_MESSAGE, "negative recordsCount");
        if (b->last_offset_delta < 0)
                FAIL(KP_ERR_CORRUPT_MESSAGE, "negative lastOffsetDelta");
        if ((int64_t)b->records_count > (int64_t)b->last_offset_delta + 1)
                FAIL(KP_ERR_CORRUPT_MESSAGE, "recordsCount above lastOffsetDelta + 1");
        if (kp_batch_is_control(b) && b->records_count != 1)
                FAIL(KP_ERR_CORRUPT_MESSAGE, "control batch without exactly one record");
        return 0;
}

/* Control record rules (§3.5): key version/type; transaction markers need
 * the transactional bit and a value of version + coordinatorEpoch. */
static int16_t check_control_record(const kp_batch *b, const kp_record *r, int16_t *type,
                                    const char **why)
{
        int16_t err = kp_control_record_type(r, type, why);
        if (err)
                return err;
        if (*type == KP_CONTROL_ABORT || *type == KP_CONTROL_COMMIT) {
                if (!kp_batch_is_transactional(b))
                        FAIL(KP_ERR_CORRUPT_MESSAGE,
                             "transaction marker without transactional bit");
                if (r->value.len < 6)
                        FAIL(KP_ERR_CORRUPT_MESSAGE, "transaction marker value shorter than 6");
        }
        return 0;
}

int16_t kp_batch_verify(const kp_batch *b, kp_codec_ctx *cc, unsigned flags, kp_batch_info *info,
                        const char **why)
{
        bool produce = flags & KP_VERIFY_PRODUCE;
        int codec = kp_batch_codec(b);
        if (codec > KP_CODEC_ZSTD)
                FAIL(KP_ERR_CORRUPT_MESSAGE, "unknown compression codec");
        if (!kp_batch_crc_ok(b))
                FAIL(KP_ERR_CORRUPT_MESSAGE, "CRC-32C mismatch");
        int16_t err = produce ? check_produce_header(b, why) : check_log_header(b, why);
        if (err)
                return err;

        const uint8_t *area = b->records.p;
        size_t area_len = (size_t)b->records.len;
        /* A batch emptied by compaction keeps its header and may keep its
         * codec bits while holding no bytes at all: nothing to decompress. */
        bool empty = b->records_count == 0 && b->records.len == 0;
        if (codec != KP_CODEC_NONE && !empty) {
                if (kp_batch_is_control(b))
                        FAIL(KP_ERR_CORRUPT_MESSAGE, "compressed control batch");
                err = kp_decompress(cc, codec, b->records.p, (size_t)b->records.len, &area,
                                    &area_len, why);
                if (err)
                        return err == KP_ERR_UNSUPPORTED_COMPRESSION_TYPE ? KP_ERR_CORRUPT_MESSAGE
                                                                          : err;
        }
        /* A record takes at least 7 bytes (length, attributes, timestampDelta,
         * offsetDelta, key and value lengths, header count): rejects absurd
         * counts before iterating. */
        if ((uint64_t)b->records_count > area_len / 7)
                FAIL(KP_ERR_CORRUPT_MESSAGE, "recordsCount above what the bytes can hold");

        kp_batch_info local;
        kp_batch_info *in = info ? info : &local;
        in->records = 0;
        in->max_timestamp = -1;
        in->min_timestamp = -1;
        in->null_key = false;
        in->uncompressed_bytes = area_len;
        in->control_type = -1;

        kp_record_iter it;
        kp_record_iter_init(&it, area, area_len, b->records_count);
        kp_record r;
        int64_t prev_delta = -1;
        while (kp_record_next(&it, &r)) {
                if (produce
                        ? r.offset_delta != it.index - 1
                        : (r.offset_delta <= prev_delta || r.offset_delta > b->last_offset_delta))
                        FAIL(KP_ERR_INVALID_RECORD,
                             produce ? "offsetDelta not 0..n-1" : "offsetDelta not ascending");
                prev_delta = r.offset_delta;
                int64_t ts = (int64_t)((uint64_t)b->base_timestamp + (uint64_t)r.timestamp_delta);
                if (in->records == 0 || ts > in->max_timestamp)
                        in->max_timestamp = ts;
                if (in->records == 0 || ts < in->min_timestamp)
                        in->min_timestamp = ts;
                if (r.key.len < 0)
                        in->null_key = true;
                if (kp_batch_is_control(b)) {
                        err = check_control_record(b, &r, &in->control_type, why);
                        if (err)
                                return err;
                }
                in->records++;
        }
        if (it.rd.err)
                FAIL(it.rd.err, it.rd.why);
        /* With LogAppendTime every record's timestamp is the batch maxTimestamp. */
        if ((b->attributes & KP_BATCH_ATTR_LOG_APPEND_TIME) && in->records > 0)
                in->max_timestamp = in->min_timestamp = b->max_timestamp;
        return 0;
}

int16_t kp_batch_validate_produce(kp_bytes records, int16_t produce_version, kp_codec_ctx *cc,
                                  kp_batch *b, kp_batch_info *info, const char **why)
{
        if (records.len < 0 || records.p == NULL)
                FAIL(KP_ERR_INVALID_RECORD, "null records");
        size_t len = (size_t)records.len;
        if (len < KP_BATCH_HEADER_BYTES)
                FAIL(KP_ERR_INVALID_RECORD, "records shorter than one batch header");
        if ((int8_t)records.p[KP_BATCH_OFF_MAGIC] != KP_BATCH_MAGIC)
                FAIL(KP_ERR_INVALID_RECORD, "Produce v3+ needs magic 2 batches");
        int16_t err = kp_batch_parse(records.p, len, b, why);
        if (err)
                return KP_ERR_INVALID_RECORD;
        if (b->size != len)
                FAIL(KP_ERR_INVALID_RECORD, "records must hold exactly one batch");
        if (kp_batch_codec(b) == KP_CODEC_ZSTD && produce_version < 7)
                FAIL(KP_ERR_UNSUPPORTED_COMPRESSION_TYPE, "zstd needs Produce v7+");
        return kp_batch_verify(b, cc, KP_VERIFY_PRODUCE, info, why);
}
