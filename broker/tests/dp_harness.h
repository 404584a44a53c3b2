/* broker/tests/dp_harness.h — helpers for the data-path handler tests
 * (test_produce.c, test_fetch.c): a one-shard broker with a temp data dir
 * and topics (harness.h), record batches built with protocol/record_batch.h,
 * and request/response round trips through the real connection, encoded and
 * decoded with the generated codec. */
#ifndef SL_TEST_DP_HARNESS_H
#define SL_TEST_DP_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "gen/kp_messages.h"
#include "harness.h"
#include "record_batch.h"

static uint8_t dp_resp[1 << 20];
static uint8_t dp_req[1 << 16];
static kp_arena dp_arena;
static char dp_dir[64];

static bool dp_op_finished;
static void dp_op_done(sl_topic_op *op)
{
        (void)op;
        dp_op_finished = true;
}

/* Starts a one-shard broker with an empty registry in a fresh data dir. */
static inline void dp_start(th *t)
{
        snprintf(dp_dir, sizeof(dp_dir), "/tmp/sl_test_dp_XXXXXX");
        assert_non_null(mkdtemp(dp_dir));
        sl_config cfg;
        sl_config_defaults(&cfg);
        snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", dp_dir);
        sl_topics_snap *snap = NULL;
        assert_int_equal(sl_topics_load(dp_dir, &snap), 0);
        th_start(t, &cfg, snap);
        kp_arena_init(&dp_arena, 65536);
}

static inline void dp_stop(th *t)
{
        th_stop(t);
        kp_arena_release(&dp_arena);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dp_dir);
        assert_int_equal(system(cmd), 0);
}

/* Creates a topic; kv = optional "name", "value" pair. Returns its id. */
static inline kp_uuid dp_topic(th *t, const char *name, int32_t partitions, const char *key,
                               const char *value)
{
        sl_topic_kv kv = {kp_str_c(key), kp_str_c(value)};
        sl_topic_op op = {.name = kp_str_c(name),
                          .partitions = partitions,
                          .configs = key ? &kv : NULL,
                          .config_count = key ? 1 : 0,
                          .done = dp_op_done};
        dp_op_finished = false;
        sl_topics_create(&op);
        for (int i = 0; i < 400 && !dp_op_finished; i++)
                th_turn(t);
        assert_true(dp_op_finished);
        assert_int_equal(op.error, 0);
        return op.out_id;
}

/* Builds a producer batch of n records "v<i>" (keys "k<i>", or null keys),
 * timestamps ts0 + i. Returns its length in out. */
static inline size_t dp_batch(uint8_t *out, size_t cap, int n, int codec, bool null_keys,
                              int64_t ts0, int64_t producer_id, bool transactional)
{
        static kp_codec_ctx *cc;
        if (!cc)
                cc = kp_codec_ctx_new(1 << 24);
        kp_record_in recs[64];
        static char keys[64][8], vals[64][300];
        assert_true(n <= 64);
        for (int i = 0; i < n; i++) {
                int kl = snprintf(keys[i], sizeof(keys[i]), "k%d", i);
                /* Compressible values so codecs really compress. */
                int vl = snprintf(vals[i], sizeof(vals[i]), "v%d-%s", i,
                                  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
                recs[i] = (kp_record_in){.timestamp = ts0 + i,
                                         .key = null_keys ? KP_BYTES_NULL
                                                          : (kp_bytes){(uint8_t *)keys[i], kl},
                                         .value = {(uint8_t *)vals[i], vl}};
        }
        kp_batch_spec spec = {.base_offset = 0,
                              .partition_leader_epoch = -1,
                              .codec = codec,
                              .flags = transactional ? KP_BATCH_ATTR_TRANSACTIONAL : 0,
                              .producer_id = producer_id,
                              .producer_epoch = producer_id >= 0 ? 0 : -1,
                              .base_sequence = producer_id >= 0 ? 0 : -1};
        size_t len = 0;
        assert_int_equal(kp_batch_build(cc, &spec, recs, n, out, cap, &len), 0);
        return len;
}

static inline bool dp_flexible(int16_t key, int16_t ver)
{
        const kp_api_info *info = kp_api_info_find(key);
        return info->first_flexible >= 0 && ver >= info->first_flexible;
}

/* Sends an encoded body as request (key, ver, corr). */
static inline void dp_send(th *t, int16_t key, int16_t ver, int32_t corr, const void *body,
                           size_t len)
{
        size_t n = th_request(dp_req, key, ver, corr, dp_flexible(key, ver), body, len);
        th_send(t, dp_req, n);
}

/* Receives one response; checks its correlation id; returns a reader over
 * the body (after the header). */
static inline kp_rd dp_recv(th *t, int16_t key, int16_t ver, int32_t corr)
{
        int32_t rl = th_recv_frame(t, dp_resp, sizeof(dp_resp));
        assert_true(rl >= 4);
        assert_int_equal(th_be32(dp_resp), corr);
        size_t skip = 4 + (dp_flexible(key, ver) ? 1 : 0);
        kp_rd rd;
        kp_arena_reset(&dp_arena);
        kp_rd_init(&rd, dp_resp + skip, (size_t)rl - skip, &dp_arena);
        return rd;
}

/* Encodes a generated request message into a static buffer. */
#define DP_ENCODE(TYPE, msg, ver, out_len)                                                         \
        ({                                                                                         \
                static uint8_t b_[1 << 16];                                                        \
                size_t n_ = TYPE##_size((msg), (ver));                                             \
                assert_true(n_ <= sizeof(b_));                                                     \
                kp_wr w_;                                                                          \
                kp_wr_init(&w_, b_, n_);                                                           \
                assert_int_equal(TYPE##_encode(&w_, (ver), (msg)), 0);                             \
                *(out_len) = n_;                                                                   \
                (const uint8_t *)b_;                                                               \
        })

/* ---- Produce ---- */

typedef struct dp_produced {
        int16_t error;
        int64_t base_offset;
        int64_t log_append_time;
        int64_t log_start_offset;
        int32_t record_errors; /* count (v8+) */
        int32_t first_bad;     /* first record error's batch index, -1 */
} dp_produced;

static inline void dp_produce_send(th *t, int16_t ver, int32_t corr, const char *topic,
                                   int32_t partition, int16_t acks, const uint8_t *batch,
                                   size_t len)
{
        kp_produce_request_partition_produce_data pd = {.index = partition,
                                                        .records = {batch, (int32_t)len}};
        kp_produce_request_topic_produce_data td = {
            .name = kp_str_c(topic), .partition_data = &pd, .partition_data_count = 1};
        kp_produce_request q;
        kp_produce_request_init(&q);
        q.acks = acks;
        q.timeout_ms = 1000;
        q.topic_data = &td;
        q.topic_data_count = 1;
        size_t n;
        const uint8_t *body = DP_ENCODE(kp_produce_request, &q, ver, &n);
        dp_send(t, 0, ver, corr, body, n);
}

static inline dp_produced dp_produce_recv(th *t, int16_t ver, int32_t corr)
{
        kp_rd rd = dp_recv(t, 0, ver, corr);
        kp_produce_response r;
        assert_int_equal(kp_produce_response_decode(&rd, ver, &r), 0);
        assert_int_equal(kp_rd_left(&rd), 0);
        assert_int_equal(r.responses_count, 1);
        assert_int_equal(r.responses[0].partition_responses_count, 1);
        const kp_produce_response_partition_produce_response *p =
            &r.responses[0].partition_responses[0];
        dp_produced out = {.error = p->error_code,
                           .base_offset = p->base_offset,
                           .log_append_time = p->log_append_time_ms,
                           .log_start_offset = p->log_start_offset,
                           .record_errors = p->record_errors_count,
                           .first_bad =
                               p->record_errors_count > 0 ? p->record_errors[0].batch_index : -1};
        return out;
}

static inline dp_produced dp_produce(th *t, int16_t ver, const char *topic, int32_t partition,
                                     int16_t acks, const uint8_t *batch, size_t len)
{
        static int32_t corr = 1000;
        corr++;
        dp_produce_send(t, ver, corr, topic, partition, acks, batch, len);
        return dp_produce_recv(t, ver, corr);
}

#endif
