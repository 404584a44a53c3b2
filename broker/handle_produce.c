/* broker/handle_produce.c — Produce (key 0), versions 3-11.
 *
 * Produce path 3/5: called from broker/dispatch.c; decodes with the generated
 * kp_produce_request_decode, validates each partition's batch here on the
 * connection's shard (ENCODING §3.8 via protocol/record_batch.h: one v2
 * batch, CRC-32C, every record after decompression — done here so that
 * decompression cost spreads over connection shards and the owner shard,
 * which serialises a partition's appends, only writes), groups partitions by
 * owner shard (partition_ops.h), hands off to sl_produce_on_owner (4/5), and
 * answers once every owner replied: acks=1 after the local append, acks=-1
 * after the group-commit fdatasync, acks=0 never (a failed acks=0 request
 * closes the connection instead, as Kafka does). v0-2 carry message format
 * v0/v1, which SerpentLog does not store: they close the connection (§5.3).
 *
 * A topic whose compression.type names a codec gets its batches re-encoded
 * here (Kafka does the same); "producer" (the default) stores them as sent.
 *
 * Idempotent batches (producerId >= 0) are deduplicated and sequence-checked
 * on the owner shard (producer_state.h). Transactional ones are refused with
 * INVALID_TXN_STATE (no transaction holds the partition: what Kafka >= 3.6
 * answers): transactions are not implemented. */
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "dispatch.h"
#include "gen/kp_messages.h"
#include "partition_ops.h"
#include "record_batch.h"

typedef kp_produce_response_partition_produce_response pp_resp;
typedef kp_produce_response_batch_index_and_error_message rec_err;

typedef struct produce_ctx {
        sl_produce_fanout_ctx fc; /* first: the owner side reads items from it */
        sl_request *req;
        int16_t acks;
        kp_produce_request m;
        kp_produce_response resp;
        int32_t nitems;
        pp_resp **item_resp; /* response slot of each item */
        sl_fanout f;
} produce_ctx;

/* ---- per-record errors (v8+ RecordErrors) ---- */

/* Lists the indexes of records that fail `bad` (null key, timestamp out of
 * range). Runs only on the error path, so decompressing again is fine. */
typedef bool record_pred(const kp_batch *b, const kp_record *r, const int64_t *bounds);

static void record_errors(sl_request *req, pp_resp *pr, const kp_batch *b, record_pred *bad,
                          const int64_t *bounds, const char *msg)
{
        kp_codec_ctx *cc = sl_dp_codec_ctx();
        const uint8_t *p = b->records.p;
        size_t len = (size_t)b->records.len;
        if (kp_batch_codec(b)) {
                const char *why;
                if (!cc || kp_decompress(cc, kp_batch_codec(b), p, len, &p, &len, &why))
                        return;
        }
        rec_err *errs = kp_arena_alloc(&req->arena, (size_t)b->records_count, sizeof(*errs));
        if (!errs)
                return;
        int32_t n = 0;
        kp_record_iter it;
        kp_record r;
        kp_record_iter_init(&it, p, len, b->records_count);
        while (kp_record_next(&it, &r))
                if (bad(b, &r, bounds))
                        errs[n++] = (rec_err){.batch_index = it.index - 1,
                                              .batch_index_error_message = kp_str_c(msg)};
        pr->record_errors = errs;
        pr->record_errors_count = n;
}

static bool null_key(const kp_batch *b, const kp_record *r, const int64_t *bounds)
{
        (void)b;
        (void)bounds;
        return r->key.len < 0;
}

static bool ts_out_of_range(const kp_batch *b, const kp_record *r, const int64_t *bounds)
{
        int64_t ts = b->base_timestamp + r->timestamp_delta;
        return ts != -1 && (ts < bounds[0] || ts > bounds[1]);
}

/* Kafka's message.timestamp.{before,after}.max.ms window around now
 * (unbounded by default); [INT64_MIN, INT64_MAX] when unbounded. */
static void ts_window(const sl_topic_info *t, int64_t now, int64_t *bounds)
{
        const sl_config *cfg = &g_sl.cfg;
        int64_t before =
            sl_topic_config_i64(&t->config, cfg, SL_TOPIC_MESSAGE_TIMESTAMP_BEFORE_MAX_MS);
        int64_t after =
            sl_topic_config_i64(&t->config, cfg, SL_TOPIC_MESSAGE_TIMESTAMP_AFTER_MAX_MS);
        bounds[0] = before >= 0 && before < now ? now - before : INT64_MIN;
        bounds[1] = after >= 0 && after < INT64_MAX - now ? now + after : INT64_MAX;
}

/* ---- topic compression.type other than "producer": re-encode ---- */

/* The codec a topic forces (KP_CODEC_*), or -1 for "producer". */
static int forced_codec(const sl_topic_info *t)
{
        int64_t ct = sl_topic_config_i64(&t->config, &g_sl.cfg, SL_TOPIC_COMPRESSION_TYPE);
        switch (ct) {
        case SL_COMPRESSION_UNCOMPRESSED:
                return KP_CODEC_NONE;
        case SL_COMPRESSION_GZIP:
                return KP_CODEC_GZIP;
        case SL_COMPRESSION_SNAPPY:
                return KP_CODEC_SNAPPY;
        case SL_COMPRESSION_LZ4:
                return KP_CODEC_LZ4;
        case SL_COMPRESSION_ZSTD:
                return KP_CODEC_ZSTD;
        default:
                return -1;
        }
}

/* Rebuilds a validated batch with another codec into the request arena: the
 * same header (attributes' codec bits, batchLength and CRC updated) and the
 * records area, decompressed and compressed again (ENCODING §3.6). Record
 * bytes are untouched, so offsets deltas, timestamps and keys stay. */
static int16_t reencode(sl_request *req, const kp_batch *b, int codec, kp_bytes *out)
{
        kp_codec_ctx *cc = sl_dp_codec_ctx();
        const uint8_t *raw = b->records.p;
        size_t raw_len = (size_t)b->records.len;
        const char *why;
        if (kp_batch_codec(b) &&
            kp_decompress(cc, kp_batch_codec(b), raw, raw_len, &raw, &raw_len, &why))
                return KP_ERR_CORRUPT_MESSAGE;
        size_t bound = codec ? kp_compress_bound(codec, raw_len) : raw_len;
        uint8_t *nb = kp_arena_alloc(&req->arena, KP_BATCH_HEADER_BYTES + bound, 1);
        if (!nb)
                return KP_ERR_UNKNOWN_SERVER_ERROR;
        memcpy(nb, b->p, KP_BATCH_HEADER_BYTES);
        size_t clen = raw_len;
        if (codec) {
                if (kp_compress(cc, codec, raw, raw_len, nb + KP_BATCH_HEADER_BYTES, bound, &clen))
                        return KP_ERR_UNKNOWN_SERVER_ERROR;
        } else {
                memcpy(nb + KP_BATCH_HEADER_BYTES, raw, raw_len);
        }
        size_t size = KP_BATCH_HEADER_BYTES + clen;
        if (size - KP_BATCH_LOG_OVERHEAD > INT32_MAX)
                return KP_ERR_MESSAGE_TOO_LARGE;
        kp_wr w;
        kp_wr_init(&w, nb + KP_BATCH_OFF_LENGTH, 4);
        kp_wr_i32(&w, (int32_t)(size - KP_BATCH_LOG_OVERHEAD));
        int16_t attrs = (int16_t)((b->attributes & ~KP_BATCH_ATTR_CODEC_MASK) | codec);
        kp_wr_init(&w, nb + KP_BATCH_OFF_ATTRIBUTES, 2);
        kp_wr_i16(&w, attrs);
        kp_wr_init(&w, nb + KP_BATCH_OFF_CRC, 4);
        kp_wr_u32(&w, kp_batch_compute_crc(nb, size));
        *out = (kp_bytes){nb, (int32_t)size};
        return 0;
}

/* ---- validation of one partition (connection shard) ---- */

/* Checks one partition's records; on success *records is what to append
 * (the request's batch, or its re-encoded copy). */
static int16_t check_partition(produce_ctx *c, const sl_topic_info *t,
                               const kp_produce_request_partition_produce_data *pd, pp_resp *pr,
                               int64_t now, kp_bytes *records)
{
        sl_request *req = c->req;
        if (pd->index < 0 || pd->index >= t->partitions)
                return KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        if (t->internal) {
                pr->error_message = kp_str_c("Cannot append to internal topic");
                return KP_ERR_INVALID_TOPIC_EXCEPTION;
        }
        if (pd->records.len <= 0)
                return KP_ERR_INVALID_RECORD;
        const sl_config *cfg = &g_sl.cfg;
        int64_t max_bytes = sl_topic_config_i64(&t->config, cfg, SL_TOPIC_MAX_MESSAGE_BYTES);
        if (pd->records.len > max_bytes)
                return KP_ERR_MESSAGE_TOO_LARGE;
        kp_codec_ctx *cc = sl_dp_codec_ctx();
        if (!cc)
                return KP_ERR_UNKNOWN_SERVER_ERROR;
        kp_batch b;
        kp_batch_info info;
        const char *why = NULL;
        int16_t err = kp_batch_validate_produce(pd->records, req->api_version, cc, &b, &info, &why);
        if (err) {
                if (why)
                        pr->error_message = kp_str_c(why);
                return err;
        }
        /* Idempotent batches are checked on the owner (producer_state.h). */
        if (b.producer_id >= 0 && kp_batch_is_transactional(&b)) {
                pr->error_message = kp_str_c("transactions are not supported yet");
                return KP_ERR_INVALID_TXN_STATE;
        }
        int64_t policy = sl_topic_config_i64(&t->config, cfg, SL_TOPIC_CLEANUP_POLICY);
        if ((policy & SL_CLEANUP_COMPACT) && info.null_key) {
                const char *msg = "Compacted topic cannot accept message without key";
                pr->error_message = kp_str_c(msg);
                record_errors(req, pr, &b, null_key, NULL, msg);
                return KP_ERR_INVALID_RECORD;
        }
        bool create_time = sl_topic_config_i64(&t->config, cfg, SL_TOPIC_MESSAGE_TIMESTAMP_TYPE) ==
                           SL_TS_CREATE_TIME;
        if (create_time && info.records > 0) {
                int64_t bounds[2];
                ts_window(t, now, bounds);
                if ((info.min_timestamp != -1 && info.min_timestamp < bounds[0]) ||
                    info.max_timestamp > bounds[1]) {
                        const char *msg = "Timestamp out of range";
                        pr->error_message = kp_str_c(msg);
                        record_errors(req, pr, &b, ts_out_of_range, bounds, msg);
                        return KP_ERR_INVALID_TIMESTAMP;
                }
        }
        /* CreateTime: maxTimestamp is what the records say, whatever the
         * producer wrote (sarama 1.22 sends -1); offsets-for-times rely on it.
         * The frame is the request's own writable copy. */
        if (create_time && info.records > 0 && b.max_timestamp != info.max_timestamp)
                kp_batch_set_max_timestamp((uint8_t *)b.p, b.size, info.max_timestamp);
        *records = pd->records;
        int codec = forced_codec(t);
        if (codec >= 0 && codec != kp_batch_codec(&b))
                return reencode(req, &b, codec, records);
        return 0;
}

/* ---- answering ---- */

static void produce_answer(produce_ctx *c)
{
        sl_request *req = c->req;
        if (c->acks == 0) {
                /* No response; an error closes the connection so the client
                 * notices and refreshes metadata (ENCODING §2.5). */
                for (int32_t i = 0; i < c->resp.responses_count; i++) {
                        kp_produce_response_topic_produce_response *tr = &c->resp.responses[i];
                        for (int32_t k = 0; k < tr->partition_responses_count; k++) {
                                if (tr->partition_responses[k].error_code) {
                                        sl_request_close(req, "acks=0 produce failed");
                                        return;
                                }
                        }
                }
                sl_request_respond_none(req);
                return;
        }
        SL_REQUEST_RESPOND(req, kp_produce_response, &c->resp);
}

static void produce_gathered(sl_fanout *f)
{
        produce_ctx *c = f->ctx;
        for (int32_t i = 0; i < c->nitems; i++) {
                const sl_produce_item *it = &c->fc.items[i];
                pp_resp *pr = c->item_resp[i];
                pr->error_code = it->error_code;
                pr->base_offset = it->error_code ? -1 : it->base_offset;
                pr->log_append_time_ms = it->error_code ? -1 : it->log_append_time;
                pr->log_start_offset = it->log_start_offset;
        }
        produce_answer(c);
}

void sl_handle_produce(sl_request *req)
{
        if (req->api_version < 3) {
                sl_request_close(req, "Produce v0-2 (message format v0/v1) is not supported");
                return;
        }
        produce_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c) {
                sl_request_close(req, "out of memory");
                return;
        }
        c->req = req;
        req->user = c;
        if (kp_produce_request_decode(&req->body, req->api_version, &c->m) < 0) {
                sl_request_close(req, req->body.why ? req->body.why : "undecodable Produce");
                return;
        }
        kp_produce_request *m = &c->m;
        c->acks = m->acks;
        bool acks_ok = m->acks == 0 || m->acks == 1 || m->acks == -1;
        int32_t ntopics = m->topic_data_count > 0 ? m->topic_data_count : 0;
        int32_t total = 0;
        for (int32_t i = 0; i < ntopics; i++)
                if (m->topic_data[i].partition_data_count > 0)
                        total += m->topic_data[i].partition_data_count;

        kp_produce_response_init(&c->resp);
        c->resp.responses =
            kp_arena_alloc(&req->arena, (size_t)ntopics + 1, sizeof(*c->resp.responses));
        c->fc.items = kp_arena_alloc(&req->arena, (size_t)total + 1, sizeof(*c->fc.items));
        c->item_resp = kp_arena_alloc(&req->arena, (size_t)total + 1, sizeof(*c->item_resp));
        sl_shard_id *owners = kp_arena_alloc(&req->arena, (size_t)total + 1, sizeof(*owners));
        if (!c->resp.responses || !c->fc.items || !c->item_resp || !owners) {
                sl_request_close(req, "out of memory");
                return;
        }
        c->resp.responses_count = ntopics;
        const sl_topics_snap *snap = sl_topics_current();
        int64_t now = sl_wall_ms();
        for (int32_t i = 0; i < ntopics; i++) {
                const kp_produce_request_topic_produce_data *td = &m->topic_data[i];
                kp_produce_response_topic_produce_response *tr = &c->resp.responses[i];
                int32_t np = td->partition_data_count > 0 ? td->partition_data_count : 0;
                tr->name = td->name;
                tr->partition_responses =
                    kp_arena_alloc(&req->arena, (size_t)np + 1, sizeof(*tr->partition_responses));
                if (!tr->partition_responses) {
                        sl_request_close(req, "out of memory");
                        return;
                }
                tr->partition_responses_count = np;
                const sl_topic_info *t = snap ? sl_topics_find(snap, td->name) : NULL;
                for (int32_t k = 0; k < np; k++) {
                        const kp_produce_request_partition_produce_data *pd =
                            &td->partition_data[k];
                        pp_resp *pr = &tr->partition_responses[k];
                        kp_bytes records = pd->records;
                        kp_produce_response_partition_produce_response_init(pr);
                        pr->index = pd->index;
                        pr->base_offset = -1;
                        pr->record_errors_count = 0;
                        if (!acks_ok)
                                pr->error_code = KP_ERR_INVALID_REQUIRED_ACKS;
                        else if (!t)
                                pr->error_code = KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                        else
                                pr->error_code = check_partition(c, t, pd, pr, now, &records);
                        if (pr->error_code)
                                continue;
                        sl_produce_item *it = &c->fc.items[c->nitems];
                        it->topic_id = t->id;
                        it->partition = pd->index;
                        /* The request's own writable frame (or arena copy). */
                        it->records = (uint8_t *)records.p;
                        it->len = (size_t)records.len;
                        it->wait_sync = m->acks == -1;
                        c->item_resp[c->nitems] = pr;
                        owners[c->nitems] = sl_shard_for_partition(t->id, pd->index);
                        c->nitems++;
                }
        }
        if (sl_fanout_plan(&c->f, &req->arena, owners, c->nitems, sl_shard_count()) < 0) {
                sl_request_close(req, "out of memory");
                return;
        }
        sl_fanout_start(&c->f, sl_produce_on_owner, produce_gathered, c);
}
