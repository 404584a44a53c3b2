/* broker/tests/test_fetch.c — Fetch through the real connection and dispatch
 * path of a one-shard broker (dp_harness.h). Every version 4-17 decodes with
 * the generated codec (so the hand-written file-backed encoder of
 * fetch_response.c matches it byte for byte, record bytes spliced in by
 * sendfile); high watermark, log start, mid-batch starts; errors
 * (OFFSET_OUT_OF_RANGE, unknown topic by name and by id, leader epochs,
 * KIP-320 divergence); KIP-74 size limits; long polls that time out or are
 * woken by a produce pipelined behind them on the same connection; KIP-227
 * sessions (full, incremental, forgotten topics, bad epochs, close). */
#include "dp_harness.h"

static uint8_t batch[1 << 16];

typedef struct fq {
        const char *topic;
        kp_uuid id;
        int32_t partition;
        int64_t offset;
        int32_t max_bytes;
        int32_t current_epoch;
        int32_t last_fetched_epoch;
} fq;

typedef struct fopts {
        int32_t session_id;
        int32_t epoch;
        int32_t max_wait;
        int32_t min_bytes;
        int32_t max_bytes;
        int8_t isolation;
        const fq *forget;
        int nforget;
} fopts;

static void fetch_send(th *t, int16_t v, int32_t corr, const fopts *o, const fq *q, int n)
{
        kp_fetch_request_fetch_topic topics[8];
        kp_fetch_request_fetch_partition parts[8];
        kp_fetch_request_forgotten_topic forg[8];
        int32_t fparts[8];
        assert_true(n <= 8 && o->nforget <= 8);
        for (int i = 0; i < n; i++) {
                kp_fetch_request_fetch_partition_init(&parts[i]);
                parts[i].partition = q[i].partition;
                parts[i].fetch_offset = q[i].offset;
                parts[i].partition_max_bytes = q[i].max_bytes ? q[i].max_bytes : 1 << 20;
                parts[i].current_leader_epoch = q[i].current_epoch;
                parts[i].last_fetched_epoch = q[i].last_fetched_epoch;
                kp_fetch_request_fetch_topic_init(&topics[i]);
                topics[i].topic = kp_str_c(q[i].topic);
                topics[i].topic_id = q[i].id;
                topics[i].partitions = &parts[i];
                topics[i].partitions_count = 1;
        }
        for (int i = 0; i < o->nforget; i++) {
                kp_fetch_request_forgotten_topic_init(&forg[i]);
                forg[i].topic = kp_str_c(o->forget[i].topic);
                forg[i].topic_id = o->forget[i].id;
                fparts[i] = o->forget[i].partition;
                forg[i].partitions = &fparts[i];
                forg[i].partitions_count = 1;
        }
        kp_fetch_request r;
        kp_fetch_request_init(&r);
        r.replica_id = -1;
        r.max_wait_ms = o->max_wait;
        r.min_bytes = o->min_bytes;
        r.max_bytes = o->max_bytes ? o->max_bytes : 50 << 20;
        r.isolation_level = o->isolation;
        r.session_id = o->session_id;
        r.session_epoch = o->epoch;
        r.topics = topics;
        r.topics_count = n;
        r.forgotten_topics_data = forg;
        r.forgotten_topics_data_count = o->nforget;
        size_t len;
        const uint8_t *body = DP_ENCODE(kp_fetch_request, &r, v, &len);
        dp_send(t, 1, v, corr, body, len);
}

static kp_fetch_response fetch_recv(th *t, int16_t v, int32_t corr)
{
        kp_rd rd = dp_recv(t, 1, v, corr);
        kp_fetch_response r;
        assert_int_equal(kp_fetch_response_decode(&rd, v, &r), 0);
        assert_int_equal(kp_rd_left(&rd), 0);
        return r;
}

static kp_fetch_response fetch(th *t, int16_t v, const fopts *o, const fq *q, int n)
{
        static int32_t corr = 100;
        fetch_send(t, v, ++corr, o, q, n);
        return fetch_recv(t, v, corr);
}

static const fopts quick = {.epoch = -1, .min_bytes = 1};

/* Base offsets and record counts of the complete batches in records. */
static int batches_in(kp_bytes rec, int64_t *bases, int max)
{
        kp_batch_iter it;
        kp_batch b;
        int n = 0;
        kp_batch_iter_init(&it, rec.p, rec.len > 0 ? (size_t)rec.len : 0);
        while (n < max && kp_batch_next(&it, &b)) {
                assert_true(kp_batch_crc_ok(&b));
                bases[n++] = b.base_offset;
        }
        return n;
}

static kp_uuid setup(th *t)
{
        kp_uuid id = dp_topic(t, "t", 2, NULL, NULL);
        for (int b = 0; b < 3; b++) {
                size_t len =
                    dp_batch(batch, sizeof(batch), 3, b % 2 ? KP_CODEC_ZSTD : KP_CODEC_NONE, false,
                             1000 * (b + 1), -1, false);
                assert_int_equal(dp_produce(t, 9, "t", 0, 1, batch, len).error, 0);
        }
        return id;
}

static void test_fetch_versions(void **state)
{
        (void)state;
        th t;
        dp_start(&t);
        kp_uuid id = setup(&t);
        for (int16_t v = 4; v <= 17; v++) {
                fq q[2] = {{"t", id, 0, 0, 0, -1, -1}, {"t", id, 1, 0, 0, -1, -1}};
                kp_fetch_response r = fetch(&t, v, &quick, q, 2);
                assert_int_equal(r.error_code, 0);
                assert_int_equal(r.responses_count, 1); /* same topic: one entry */
                assert_int_equal(r.responses[0].partitions_count, 2);
                if (v >= 13)
                        assert_memory_equal(r.responses[0].topic_id.b, id.b, 16);
                else
                        assert_true(kp_str_eq(r.responses[0].topic, kp_str_c("t")));
                const kp_fetch_response_partition_data *p = &r.responses[0].partitions[0];
                assert_int_equal(p->error_code, 0);
                assert_int_equal(p->high_watermark, 9);
                assert_int_equal(p->last_stable_offset, 9);
                if (v >= 5)
                        assert_int_equal(p->log_start_offset, 0);
                assert_int_equal(p->preferred_read_replica, -1);
                assert_int_equal(p->aborted_transactions_count, -1);
                int64_t bases[8];
                assert_int_equal(batches_in(p->records, bases, 8), 3);
                assert_int_equal(bases[0], 0);
                assert_int_equal(bases[2], 6);
                const kp_fetch_response_partition_data *p1 = &r.responses[0].partitions[1];
                assert_int_equal(p1->partition_index, 1);
                assert_int_equal(p1->high_watermark, 0);
                assert_int_equal(p1->records.len, 0);
                /* Mid-batch start: the batch holding offset 4 comes first. */
                q[0].offset = 4;
                r = fetch(&t, v, &quick, q, 1);
                p = &r.responses[0].partitions[0];
                assert_int_equal(batches_in(p->records, bases, 8), 2);
                assert_int_equal(bases[0], 3);
        }
        /* read_committed: an empty aborted-transactions list, same data (no
         * transactions: the last stable offset is the high watermark). */
        fq q = {"t", id, 0, 0, 0, -1, -1};
        fopts rc = {.epoch = -1, .min_bytes = 1, .isolation = 1};
        kp_fetch_response r = fetch(&t, 11, &rc, &q, 1);
        assert_int_equal(r.responses[0].partitions[0].aborted_transactions_count, 0);
        assert_int_equal(r.responses[0].partitions[0].last_stable_offset, 9);
        int64_t bases[8];
        assert_int_equal(batches_in(r.responses[0].partitions[0].records, bases, 8), 3);
        dp_stop(&t);
}

static void test_fetch_errors(void **state)
{
        (void)state;
        th t;
        dp_start(&t);
        kp_uuid id = setup(&t);
        fq q = {"t", id, 0, 100, 0, -1, -1};
        kp_fetch_response r = fetch(&t, 11, &quick, &q, 1);
        assert_int_equal(r.responses[0].partitions[0].error_code, KP_ERR_OFFSET_OUT_OF_RANGE);
        assert_int_equal(r.responses[0].partitions[0].high_watermark, 9);
        q.offset = -1;
        r = fetch(&t, 11, &quick, &q, 1);
        assert_int_equal(r.responses[0].partitions[0].error_code, KP_ERR_OFFSET_OUT_OF_RANGE);
        q = (fq){"nope", id, 0, 0, 0, -1, -1};
        r = fetch(&t, 12, &quick, &q, 1);
        assert_int_equal(r.responses[0].partitions[0].error_code,
                         KP_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        kp_uuid other = id;
        other.b[0] ^= 1;
        q = (fq){"t", other, 0, 0, 0, -1, -1};
        r = fetch(&t, 13, &quick, &q, 1);
        assert_int_equal(r.responses[0].partitions[0].error_code, KP_ERR_UNKNOWN_TOPIC_ID);
        assert_memory_equal(r.responses[0].topic_id.b, other.b, 16);
        q = (fq){"t", id, 5, 0, 0, -1, -1};
        r = fetch(&t, 12, &quick, &q, 1);
        assert_int_equal(r.responses[0].partitions[0].error_code,
                         KP_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        q = (fq){"t", id, 0, 0, 0, 2, -1};
        r = fetch(&t, 9, &quick, &q, 1);
        assert_int_equal(r.responses[0].partitions[0].error_code, KP_ERR_UNKNOWN_LEADER_EPOCH);
        /* KIP-320: last fetched epoch 0 past the log end diverges at (0, 9),
         * answered at once despite the long max_wait. */
        fopts slow = {.epoch = -1, .min_bytes = 1, .max_wait = 5000};
        q = (fq){"t", id, 0, 12, 0, 0, 0};
        int64_t t0 = sl_now_ms();
        r = fetch(&t, 12, &slow, &q, 1);
        assert_true(sl_now_ms() - t0 < 2000);
        assert_int_equal(r.responses[0].partitions[0].error_code, 0);
        assert_int_equal(r.responses[0].partitions[0].diverging_epoch.epoch, 0);
        assert_int_equal(r.responses[0].partitions[0].diverging_epoch.end_offset, 9);
        assert_int_equal(r.responses[0].partitions[0].records.len, 0);
        /* Not diverging: same epoch, offset within it. */
        q.offset = 9;
        q.last_fetched_epoch = 0;
        r = fetch(&t, 12, &quick, &q, 1);
        assert_int_equal(r.responses[0].partitions[0].diverging_epoch.epoch, -1);
        dp_stop(&t);
}

static void test_fetch_limits(void **state)
{
        (void)state;
        th t;
        dp_start(&t);
        kp_uuid id = setup(&t);
        size_t len = dp_batch(batch, sizeof(batch), 3, KP_CODEC_NONE, false, 1, -1, false);
        assert_int_equal(dp_produce(&t, 9, "t", 1, 1, batch, len).error, 0);
        int64_t bases[8];
        /* partition_max_bytes 1: the first batch still comes whole (KIP-74). */
        fq q[2] = {{"t", id, 0, 0, 1, -1, -1}, {"t", id, 1, 0, 0, -1, -1}};
        kp_fetch_response r = fetch(&t, 11, &quick, q, 1);
        assert_int_equal(batches_in(r.responses[0].partitions[0].records, bases, 8), 1);
        assert_int_equal(r.responses[0].partitions[0].records.len, (int32_t)len);
        /* max_bytes 1 over two partitions: only the first gets data. */
        fopts tight = {.epoch = -1, .min_bytes = 1, .max_bytes = 1};
        q[0].max_bytes = 0;
        r = fetch(&t, 11, &tight, q, 2);
        assert_int_equal(batches_in(r.responses[0].partitions[0].records, bases, 8), 1);
        assert_int_equal(r.responses[0].partitions[1].records.len, 0);
        assert_int_equal(r.responses[0].partitions[1].high_watermark, 3);
        /* min_bytes not reached: waits max_wait, then answers what there is. */
        fopts greedy = {.epoch = -1, .min_bytes = 1 << 20, .max_wait = 150};
        int64_t t0 = sl_now_ms();
        r = fetch(&t, 11, &greedy, q, 2);
        assert_true(sl_now_ms() - t0 >= 140);
        assert_int_equal(batches_in(r.responses[0].partitions[0].records, bases, 8), 3);
        assert_int_equal(batches_in(r.responses[0].partitions[1].records, bases, 8), 1);
        dp_stop(&t);
}

static void test_fetch_long_poll(void **state)
{
        (void)state;
        th t;
        dp_start(&t);
        kp_uuid id = setup(&t);
        /* Nothing comes: empty answer after max_wait. */
        fopts wait200 = {.epoch = -1, .min_bytes = 1, .max_wait = 200};
        fq q = {"t", id, 0, 9, 0, -1, -1};
        int64_t t0 = sl_now_ms();
        kp_fetch_response r = fetch(&t, 12, &wait200, &q, 1);
        int64_t waited = sl_now_ms() - t0;
        assert_true(waited >= 190 && waited < 1500);
        assert_int_equal(r.responses[0].partitions[0].records.len, 0);
        /* A produce pipelined behind the waiting fetch on the same connection
         * wakes it; the answers still leave in request order. */
        fopts wait5s = {.epoch = -1, .min_bytes = 1, .max_wait = 5000};
        fetch_send(&t, 12, 1, &wait5s, &q, 1);
        size_t len = dp_batch(batch, sizeof(batch), 2, KP_CODEC_GZIP, false, 1, -1, false);
        t0 = sl_now_ms();
        dp_produce_send(&t, 9, 2, "t", 0, 1, batch, len);
        r = fetch_recv(&t, 12, 1);
        assert_true(sl_now_ms() - t0 < 1000);
        int64_t bases[4];
        assert_int_equal(batches_in(r.responses[0].partitions[0].records, bases, 4), 1);
        assert_int_equal(bases[0], 9);
        assert_int_equal(r.responses[0].partitions[0].high_watermark, 11);
        dp_produced pr = dp_produce_recv(&t, 9, 2);
        assert_int_equal(pr.error, 0);
        assert_int_equal(pr.base_offset, 9);
        dp_stop(&t);
}

/* A client that hangs up during a long poll: the fetch ends within a few
 * timer ticks and the connection is freed, not held for max_wait. */
static void test_fetch_long_poll_hangup(void **state)
{
        (void)state;
        th t;
        dp_start(&t);
        kp_uuid id = setup(&t);
        fopts wait10s = {.epoch = -1, .min_bytes = 1, .max_wait = 10000};
        fq q = {"t", id, 0, 9, 0, -1, -1};
        fetch_send(&t, 12, 1, &wait10s, &q, 1);
        for (int i = 0; i < 10; i++)
                th_turn(&t);
        assert_int_equal(t.s->nconns, 1);
        close(t.client);
        t.client = -1;
        int64_t t0 = sl_now_ms();
        while (t.s->nconns > 0 && sl_now_ms() - t0 < 2000)
                th_turn(&t);
        assert_int_equal(t.s->nconns, 0);
        assert_true(sl_now_ms() - t0 < 1000);
        dp_stop(&t);
}

static const kp_fetch_response_partition_data *find_part(const kp_fetch_response *r, int32_t p)
{
        for (int32_t i = 0; i < r->responses_count; i++)
                for (int32_t k = 0; k < r->responses[i].partitions_count; k++)
                        if (r->responses[i].partitions[k].partition_index == p)
                                return &r->responses[i].partitions[k];
        return NULL;
}

static int count_parts(const kp_fetch_response *r)
{
        int n = 0;
        for (int32_t i = 0; i < r->responses_count; i++)
                n += r->responses[i].partitions_count;
        return n;
}

static void sessions_at(int16_t v)
{
        th t;
        dp_start(&t);
        kp_uuid id = setup(&t);
        fq q[2] = {{"t", id, 0, 9, 0, -1, -1}, {"t", id, 1, 0, 0, -1, -1}};
        fopts o = {.session_id = 0, .epoch = 0, .min_bytes = 1};
        kp_fetch_response r = fetch(&t, v, &o, q, 2);
        assert_int_equal(r.error_code, 0);
        int32_t sid = r.session_id;
        assert_true(sid != 0);
        assert_int_equal(count_parts(&r), 2);
        /* Incremental, nothing new: no partitions. */
        o = (fopts){.session_id = sid, .epoch = 1, .min_bytes = 1};
        r = fetch(&t, v, &o, NULL, 0);
        assert_int_equal(r.error_code, 0);
        assert_int_equal(r.session_id, sid);
        assert_int_equal(count_parts(&r), 0);
        /* A produce to partition 1: only it comes back, with the record. */
        size_t len = dp_batch(batch, sizeof(batch), 2, KP_CODEC_NONE, false, 1, -1, false);
        assert_int_equal(dp_produce(&t, 9, "t", 1, 1, batch, len).error, 0);
        o.epoch = 2;
        r = fetch(&t, v, &o, NULL, 0);
        assert_int_equal(count_parts(&r), 1);
        assert_non_null(find_part(&r, 1));
        assert_int_equal(find_part(&r, 1)->records.len, (int32_t)len);
        /* Wrong epoch, unknown id. */
        r = fetch(&t, v, &o, NULL, 0);
        assert_int_equal(r.error_code, KP_ERR_INVALID_FETCH_SESSION_EPOCH);
        assert_int_equal(r.responses_count, 0);
        fopts bad = {.session_id = sid ^ 0x100, .epoch = 3, .min_bytes = 1};
        r = fetch(&t, v, &bad, NULL, 0);
        assert_int_equal(r.error_code, KP_ERR_FETCH_SESSION_ID_NOT_FOUND);
        /* The client advances partition 1's offset (it read the record). */
        fq adv = {"t", id, 1, 2, 0, -1, -1};
        o.epoch = 3;
        r = fetch(&t, v, &o, &adv, 1);
        assert_int_equal(count_parts(&r), 0);
        /* Forget partition 1: a produce there no longer shows. */
        o = (fopts){.session_id = sid, .epoch = 4, .min_bytes = 1, .forget = &q[1], .nforget = 1};
        r = fetch(&t, v, &o, NULL, 0);
        assert_int_equal(r.error_code, 0);
        assert_int_equal(dp_produce(&t, 9, "t", 1, 1, batch, len).error, 0);
        o = (fopts){.session_id = sid, .epoch = 5, .min_bytes = 1};
        r = fetch(&t, v, &o, NULL, 0);
        assert_int_equal(count_parts(&r), 0);
        /* Partition 0 still in the session. */
        assert_int_equal(dp_produce(&t, 9, "t", 0, 1, batch, len).error, 0);
        o.epoch = 6;
        r = fetch(&t, v, &o, NULL, 0);
        assert_int_equal(count_parts(&r), 1);
        assert_int_equal(find_part(&r, 0)->records.len, (int32_t)len);
        /* An incremental fetch long-polls like any other. */
        o = (fopts){.session_id = sid, .epoch = 7, .min_bytes = 1, .max_wait = 150};
        fq p0 = {"t", id, 0, 11, 0, -1, -1};
        int64_t t0 = sl_now_ms();
        r = fetch(&t, v, &o, &p0, 1);
        assert_true(sl_now_ms() - t0 >= 140);
        assert_int_equal(count_parts(&r), 0);
        /* Close (epoch -1): session id 0, then the old id is gone. */
        o = (fopts){.session_id = sid, .epoch = -1, .min_bytes = 1};
        r = fetch(&t, v, &o, q, 1);
        assert_int_equal(r.session_id, 0);
        o = (fopts){.session_id = sid, .epoch = 8, .min_bytes = 1};
        r = fetch(&t, v, &o, NULL, 0);
        assert_int_equal(r.error_code, KP_ERR_FETCH_SESSION_ID_NOT_FOUND);
        dp_stop(&t);
}

/* A partition cut by max_bytes comes first in the next incremental fetch. */
static void test_fetch_session_fairness(void **state)
{
        (void)state;
        th t;
        dp_start(&t);
        kp_uuid id = setup(&t);
        size_t len = dp_batch(batch, sizeof(batch), 3, KP_CODEC_NONE, false, 1, -1, false);
        assert_int_equal(dp_produce(&t, 9, "t", 1, 1, batch, len).error, 0);
        fq q[2] = {{"t", id, 0, 0, 0, -1, -1}, {"t", id, 1, 0, 0, -1, -1}};
        fopts o = {.session_id = 0, .epoch = 0, .min_bytes = 1, .max_bytes = 1};
        kp_fetch_response r = fetch(&t, 12, &o, q, 2);
        int32_t sid = r.session_id;
        assert_true(sid != 0);
        assert_true(find_part(&r, 0)->records.len > 0);
        assert_int_equal(find_part(&r, 1)->records.len, 0);
        o = (fopts){.session_id = sid, .epoch = 1, .min_bytes = 1, .max_bytes = 1};
        r = fetch(&t, 12, &o, NULL, 0);
        assert_non_null(find_part(&r, 1));
        assert_int_equal(find_part(&r, 1)->records.len, (int32_t)len);
        assert_int_equal(r.responses[0].partitions[0].partition_index, 1);
        dp_stop(&t);
}

/* compression.type other than "producer": batches are stored re-encoded. */
static void test_produce_reencode(void **state)
{
        (void)state;
        th t;
        dp_start(&t);
        kp_uuid rz = dp_topic(&t, "rz", 1, "compression.type", "zstd");
        kp_uuid ru = dp_topic(&t, "ru", 1, "compression.type", "uncompressed");
        kp_codec_ctx *cc = kp_codec_ctx_new(1 << 24);
        struct {
                const char *name;
                kp_uuid id;
                int in, out;
        } cases[] = {{"rz", rz, KP_CODEC_GZIP, KP_CODEC_ZSTD},
                     {"ru", ru, KP_CODEC_LZ4, KP_CODEC_NONE},
                     {"rz", rz, KP_CODEC_ZSTD, KP_CODEC_ZSTD}};
        for (int i = 0; i < 3; i++) {
                size_t len = dp_batch(batch, sizeof(batch), 5, cases[i].in, false, 1, -1, false);
                assert_int_equal(dp_produce(&t, 9, cases[i].name, 0, 1, batch, len).error, 0);
                fq q = {cases[i].name, cases[i].id, 0, 0, 0, -1, -1};
                kp_fetch_response r = fetch(&t, 12, &quick, &q, 1);
                kp_bytes rec = r.responses[0].partitions[0].records;
                kp_batch_iter it;
                kp_batch b;
                int n = 0;
                kp_batch_iter_init(&it, rec.p, (size_t)rec.len);
                while (kp_batch_next(&it, &b)) {
                        kp_batch_info info;
                        const char *why;
                        assert_int_equal(kp_batch_verify(&b, cc, 0, &info, &why), 0);
                        assert_int_equal(kp_batch_codec(&b), cases[i].out);
                        assert_int_equal(info.records, 5);
                        n++;
                }
                assert_int_equal(n, i == 2 ? 2 : 1);
        }
        kp_codec_ctx_free(cc);
        dp_stop(&t);
}

static void test_fetch_sessions(void **state)
{
        (void)state;
        sessions_at(7);
        sessions_at(12);
        sessions_at(13);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_fetch_versions),   cmocka_unit_test(test_fetch_errors),
            cmocka_unit_test(test_fetch_limits),     cmocka_unit_test(test_fetch_long_poll),
            cmocka_unit_test(test_fetch_sessions),   cmocka_unit_test(test_fetch_session_fairness),
            cmocka_unit_test(test_produce_reencode), cmocka_unit_test(test_fetch_long_poll_hangup),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
