/* protocol/record_build.c — builds record batches v2 from an array of records
 * (record_batch.h): used by tests, the bench, and brokers writing their own
 * batches (consumer offsets, transaction markers).
 *
 * Records are sized first (the record length varint precedes the record),
 * written uncompressed either straight into the output or, for a compressed
 * batch, into the codec context's reusable build scratch, which is then
 * compressed behind the header; the CRC is computed last over [21, end). */
#include "record_batch.h"

#include <errno.h>

static size_t nullable_size(kp_bytes b)
{
        return b.len < 0 ? kp_varint_size(-1) : kp_varint_size(b.len) + (size_t)b.len;
}

/* Bytes of a record after its length varint. */
static size_t record_body_size(const kp_record_in *r, int64_t ts_delta, int32_t offset_delta)
{
        size_t n = 1 + kp_varlong_size(ts_delta) + kp_varint_size(offset_delta);
        n += nullable_size(r->key) + nullable_size(r->value);
        n += kp_varint_size(r->header_count);
        for (int32_t i = 0; i < r->header_count; i++) {
                n += kp_varint_size(r->headers[i].key.len) + (size_t)r->headers[i].key.len;
                n += nullable_size(r->headers[i].value);
        }
        return n;
}

static bool records_valid(const kp_record_in *recs, int32_t n)
{
        for (int32_t i = 0; i < n; i++) {
                if (recs[i].header_count < 0 || (recs[i].header_count && !recs[i].headers))
                        return false;
                for (int32_t h = 0; h < recs[i].header_count; h++)
                        if (recs[i].headers[h].key.len < 0)
                                return false;
        }
        return true;
}

static size_t records_size(const kp_record_in *recs, int32_t n)
{
        size_t total = 0;
        for (int32_t i = 0; i < n; i++) {
                int64_t delta =
                    (int64_t)((uint64_t)recs[i].timestamp - (uint64_t)recs[0].timestamp);
                size_t body = record_body_size(&recs[i], delta, i);
                total += kp_varint_size((int32_t)body) + body;
        }
        return total;
}

size_t kp_batch_build_bound(const kp_batch_spec *spec, const kp_record_in *recs, int32_t n)
{
        if (n < 1 || !records_valid(recs, n))
                return 0;
        size_t raw = records_size(recs, n);
        if (spec->codec == KP_CODEC_NONE)
                return KP_BATCH_HEADER_BYTES + raw;
        size_t bound = kp_compress_bound(spec->codec, raw);
        return bound ? KP_BATCH_HEADER_BYTES + bound : 0;
}

static void write_nullable(kp_wr *w, kp_bytes b)
{
        if (b.len < 0) {
                kp_wr_varint(w, -1);
                return;
        }
        kp_wr_varint(w, b.len);
        kp_wr_raw(w, b.p, (size_t)b.len);
}

static void write_records(kp_wr *w, const kp_record_in *recs, int32_t n)
{
        for (int32_t i = 0; i < n; i++) {
                const kp_record_in *r = &recs[i];
                int64_t delta = (int64_t)((uint64_t)r->timestamp - (uint64_t)recs[0].timestamp);
                kp_wr_varint(w, (int32_t)record_body_size(r, delta, i));
                kp_wr_i8(w, 0);
                kp_wr_varlong(w, delta);
                kp_wr_varint(w, i);
                write_nullable(w, r->key);
                write_nullable(w, r->value);
                kp_wr_varint(w, r->header_count);
                for (int32_t h = 0; h < r->header_count; h++) {
                        kp_wr_varint(w, r->headers[h].key.len);
                        kp_wr_raw(w, r->headers[h].key.p, (size_t)r->headers[h].key.len);
                        write_nullable(w, r->headers[h].value);
                }
        }
}

int kp_batch_build(kp_codec_ctx *cc, const kp_batch_spec *spec, const kp_record_in *recs, int32_t n,
                   uint8_t *out, size_t cap, size_t *out_len)
{
        if (n < 1 || spec->codec < KP_CODEC_NONE || spec->codec > KP_CODEC_ZSTD ||
            !records_valid(recs, n))
                return -EINVAL;
        if (cap < KP_BATCH_HEADER_BYTES)
                return -ENOBUFS;
        size_t raw = records_size(recs, n);
        size_t records_len;
        if (spec->codec == KP_CODEC_NONE) {
                if (cap - KP_BATCH_HEADER_BYTES < raw)
                        return -ENOBUFS;
                kp_wr w;
                kp_wr_init(&w, out + KP_BATCH_HEADER_BYTES, raw);
                write_records(&w, recs, n);
                if (w.err || w.p != w.end)
                        return -EINVAL;
                records_len = raw;
        } else {
                uint8_t *scratch = kp_codec_build_scratch(cc, raw);
                if (!scratch)
                        return -ENOMEM;
                kp_wr w;
                kp_wr_init(&w, scratch, raw);
                write_records(&w, recs, n);
                if (w.err || w.p != w.end)
                        return -EINVAL;
                int rc = kp_compress(cc, spec->codec, scratch, raw, out + KP_BATCH_HEADER_BYTES,
                                     cap - KP_BATCH_HEADER_BYTES, &records_len);
                if (rc)
                        return rc;
        }
        size_t size = KP_BATCH_HEADER_BYTES + records_len;
        if (size - KP_BATCH_LOG_OVERHEAD > INT32_MAX)
                return -EINVAL;

        int64_t max_ts = recs[0].timestamp;
        for (int32_t i = 1; i < n; i++)
                if (recs[i].timestamp > max_ts)
                        max_ts = recs[i].timestamp;
        int16_t attributes = (int16_t)(spec->codec | (spec->flags & (KP_BATCH_ATTR_LOG_APPEND_TIME |
                                                                     KP_BATCH_ATTR_TRANSACTIONAL |
                                                                     KP_BATCH_ATTR_CONTROL)));
        kp_wr w;
        kp_wr_init(&w, out, KP_BATCH_HEADER_BYTES);
        kp_wr_i64(&w, spec->base_offset);
        kp_wr_i32(&w, (int32_t)(size - KP_BATCH_LOG_OVERHEAD));
        kp_wr_i32(&w, spec->partition_leader_epoch);
        kp_wr_i8(&w, KP_BATCH_MAGIC);
        kp_wr_u32(&w, 0); /* CRC, filled below */
        kp_wr_i16(&w, attributes);
        kp_wr_i32(&w, n - 1);
        kp_wr_i64(&w, recs[0].timestamp);
        kp_wr_i64(&w, max_ts);
        kp_wr_i64(&w, spec->producer_id);
        kp_wr_i16(&w, spec->producer_epoch);
        kp_wr_i32(&w, spec->base_sequence);
        kp_wr_i32(&w, n);
        uint32_t crc = kp_batch_compute_crc(out, size);
        kp_wr_init(&w, out + KP_BATCH_OFF_CRC, 4);
        kp_wr_u32(&w, crc);
        *out_len = size;
        return 0;
}
