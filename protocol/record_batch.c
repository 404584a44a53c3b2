/* protocol/record_batch.c — record batch v2 header parsing, batch and record
 * iteration, and the in-place rewrites the broker does on append
 * (record_batch.h has the byte layout).
 *
 * Record decoding follows Kafka's DefaultRecord.readFrom checks: the declared
 * record length must be consumed exactly, key/value lengths are -1 or within
 * the record, header counts and header key lengths are non-negative, and no
 * read leaves the records area. Verification of whole batches is in
 * record_verify.c; building batches in record_build.c. */
#include "record_batch.h"

#include "crc32c.h"

static inline uint32_t get_u32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t get_u64(const uint8_t *p)
{
        return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}
static inline void put_u32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
}
static inline void put_u64(uint8_t *p, uint64_t v)
{
        put_u32(p, (uint32_t)(v >> 32));
        put_u32(p + 4, (uint32_t)v);
}

int16_t kp_batch_parse(const uint8_t *buf, size_t len, kp_batch *b, const char **why)
{
        if (len < KP_BATCH_HEADER_BYTES) {
                *why = "batch shorter than its 61-byte header";
                return KP_ERR_CORRUPT_MESSAGE;
        }
        int32_t batch_length = (int32_t)get_u32(buf + KP_BATCH_OFF_LENGTH);
        if (batch_length < KP_BATCH_MIN_LENGTH) {
                *why = "batchLength below 49";
                return KP_ERR_CORRUPT_MESSAGE;
        }
        if ((size_t)batch_length > len - KP_BATCH_LOG_OVERHEAD) {
                *why = "batchLength past the end of the data";
                return KP_ERR_CORRUPT_MESSAGE;
        }
        if ((int8_t)buf[KP_BATCH_OFF_MAGIC] != KP_BATCH_MAGIC) {
                *why = "magic is not 2";
                return KP_ERR_CORRUPT_MESSAGE;
        }
        b->p = buf;
        b->size = KP_BATCH_LOG_OVERHEAD + (size_t)batch_length;
        b->base_offset = (int64_t)get_u64(buf + KP_BATCH_OFF_BASE_OFFSET);
        b->batch_length = batch_length;
        b->partition_leader_epoch = (int32_t)get_u32(buf + KP_BATCH_OFF_LEADER_EPOCH);
        b->magic = (int8_t)buf[KP_BATCH_OFF_MAGIC];
        b->crc = get_u32(buf + KP_BATCH_OFF_CRC);
        b->attributes =
            (int16_t)(buf[KP_BATCH_OFF_ATTRIBUTES] << 8 | buf[KP_BATCH_OFF_ATTRIBUTES + 1]);
        b->last_offset_delta = (int32_t)get_u32(buf + KP_BATCH_OFF_LAST_OFFSET_DELTA);
        b->base_timestamp = (int64_t)get_u64(buf + KP_BATCH_OFF_BASE_TIMESTAMP);
        b->max_timestamp = (int64_t)get_u64(buf + KP_BATCH_OFF_MAX_TIMESTAMP);
        b->producer_id = (int64_t)get_u64(buf + KP_BATCH_OFF_PRODUCER_ID);
        b->producer_epoch =
            (int16_t)(buf[KP_BATCH_OFF_PRODUCER_EPOCH] << 8 | buf[KP_BATCH_OFF_PRODUCER_EPOCH + 1]);
        b->base_sequence = (int32_t)get_u32(buf + KP_BATCH_OFF_BASE_SEQUENCE);
        b->records_count = (int32_t)get_u32(buf + KP_BATCH_OFF_RECORDS_COUNT);
        b->records.p = buf + KP_BATCH_HEADER_BYTES;
        b->records.len = batch_length - (KP_BATCH_HEADER_BYTES - KP_BATCH_LOG_OVERHEAD);
        return 0;
}

void kp_batch_iter_init(kp_batch_iter *it, const uint8_t *p, size_t len)
{
        it->p = p;
        it->end = p + len;
        it->err = 0;
        it->why = NULL;
}

bool kp_batch_next(kp_batch_iter *it, kp_batch *b)
{
        if (it->err || it->p == it->end)
                return false;
        const char *why = NULL;
        int16_t err = kp_batch_parse(it->p, (size_t)(it->end - it->p), b, &why);
        if (err) {
                it->err = err;
                it->why = why;
                it->p = it->end;
                return false;
        }
        it->p += b->size;
        return true;
}

uint32_t kp_batch_compute_crc(const uint8_t *batch, size_t size)
{
        return kp_crc32c(0, batch + KP_BATCH_OFF_ATTRIBUTES, size - KP_BATCH_OFF_ATTRIBUTES);
}

void kp_record_iter_init(kp_record_iter *it, const uint8_t *p, size_t len, int32_t count)
{
        kp_rd_init(&it->rd, p, len, NULL);
        it->left = count;
        it->index = 0;
}

/* A varint length that is -1 (null) or a non-negative count of bytes taken
 * from r; sets the error otherwise. */
static kp_bytes read_nullable(kp_rd *r, const char *what)
{
        int32_t n = kp_rd_varint(r, what);
        if (n == -1 || r->err)
                return KP_BYTES_NULL;
        if (n < 0) {
                kp_rd_fail(r, KP_ERR_CORRUPT_MESSAGE, what);
                return KP_BYTES_NULL;
        }
        const uint8_t *p = kp_rd_take(r, (size_t)n, what);
        return p ? (kp_bytes){p, n} : KP_BYTES_NULL;
}

/* Reads one header from r, checking every length. */
static void read_header(kp_rd *r, kp_header *h)
{
        int32_t klen = kp_rd_varint(r, "header key length");
        if (klen < 0) {
                kp_rd_fail(r, KP_ERR_CORRUPT_MESSAGE, "negative header key length");
                return;
        }
        const uint8_t *k = kp_rd_take(r, (size_t)klen, "header key");
        h->key = (kp_str){(const char *)k, k ? klen : 0};
        h->value = read_nullable(r, "header value");
}

bool kp_record_next(kp_record_iter *it, kp_record *rec)
{
        kp_rd *rd = &it->rd;
        if (rd->err)
                return false;
        if (it->left <= 0) {
                if (kp_rd_left(rd))
                        kp_rd_fail(rd, KP_ERR_CORRUPT_MESSAGE, "bytes after the last record");
                return false;
        }
        int32_t len = kp_rd_varint(rd, "record length");
        if (rd->err)
                return false;
        if (len < 0) {
                kp_rd_fail(rd, KP_ERR_CORRUPT_MESSAGE, "negative record length");
                return false;
        }
        const uint8_t *body = kp_rd_take(rd, (size_t)len, "record past the end of the batch");
        if (!body)
                return false;
        /* Fields are read within the record's declared length only. */
        kp_rd r;
        kp_rd_init(&r, body, (size_t)len, NULL);
        rec->attributes = kp_rd_i8(&r, "record attributes");
        rec->timestamp_delta = kp_rd_varlong(&r, "record timestampDelta");
        rec->offset_delta = kp_rd_varint(&r, "record offsetDelta");
        rec->key = read_nullable(&r, "record key");
        rec->value = read_nullable(&r, "record value");
        rec->header_count = kp_rd_varint(&r, "record header count");
        if (!r.err && rec->header_count < 0)
                kp_rd_fail(&r, KP_ERR_CORRUPT_MESSAGE, "negative header count");
        /* Each header takes at least two bytes (two one-byte varints). */
        kp_rd_count_fits(&r, rec->header_count, 2, "header count above the record size");
        rec->headers.p = r.p;
        for (int32_t i = 0; i < rec->header_count && !r.err; i++) {
                kp_header h;
                read_header(&r, &h);
        }
        rec->headers.len = (int32_t)(r.p - rec->headers.p);
        if (!r.err && kp_rd_left(&r))
                kp_rd_fail(&r, KP_ERR_CORRUPT_MESSAGE, "record length larger than its fields");
        if (r.err) {
                kp_rd_fail(rd, r.err, r.why);
                return false;
        }
        it->left--;
        it->index++;
        return true;
}

void kp_header_iter_init(kp_header_iter *it, const kp_record *r)
{
        kp_rd_init(&it->rd, r->headers.p, r->headers.len > 0 ? (size_t)r->headers.len : 0, NULL);
        it->left = r->header_count;
}

bool kp_header_next(kp_header_iter *it, kp_header *h)
{
        if (it->left <= 0 || it->rd.err)
                return false;
        read_header(&it->rd, h);
        it->left--;
        return !it->rd.err;
}

int16_t kp_control_record_type(const kp_record *r, int16_t *type, const char **why)
{
        if (r->key.len < 4) {
                *why = "control record key shorter than 4 bytes";
                return KP_ERR_CORRUPT_MESSAGE;
        }
        /* Key version (bytes 0-1) is read as version 0 whatever it says (§3.5). */
        *type = (int16_t)(r->key.p[2] << 8 | r->key.p[3]);
        return 0;
}

void kp_batch_set_base_offset(uint8_t *batch, int64_t base_offset)
{
        put_u64(batch + KP_BATCH_OFF_BASE_OFFSET, (uint64_t)base_offset);
}

void kp_batch_set_leader_epoch(uint8_t *batch, int32_t epoch)
{
        put_u32(batch + KP_BATCH_OFF_LEADER_EPOCH, (uint32_t)epoch);
}

void kp_batch_set_log_append_time(uint8_t *batch, size_t size, int64_t append_time_ms)
{
        batch[KP_BATCH_OFF_ATTRIBUTES + 1] |= KP_BATCH_ATTR_LOG_APPEND_TIME;
        put_u64(batch + KP_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)append_time_ms);
        put_u32(batch + KP_BATCH_OFF_CRC, kp_batch_compute_crc(batch, size));
}

void kp_batch_set_max_timestamp(uint8_t *batch, size_t size, int64_t max_timestamp_ms)
{
        if ((int64_t)get_u64(batch + KP_BATCH_OFF_MAX_TIMESTAMP) == max_timestamp_ms)
                return;
        put_u64(batch + KP_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)max_timestamp_ms);
        put_u32(batch + KP_BATCH_OFF_CRC, kp_batch_compute_crc(batch, size));
}
