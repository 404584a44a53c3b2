/* broker/tests/test_producer_state_broker.c — idempotent producers through
 * the real connection, dispatch, Produce owner path and InitProducerId /
 * DescribeProducers handlers of a one-shard broker (dp_harness.h): producer
 * ids from a persisted block, a duplicate answered with the original offset
 * (and, for acks=-1, only once the original is durable), gaps and fenced
 * epochs refused, other partitions independent, transactional ids refused,
 * DescribeProducers listing the state. */
#include <inttypes.h>

#include "dp_harness.h"

static uint8_t buf[1 << 16];

/* An idempotent batch of n records for pid/epoch starting at seq. */
static size_t idem_batch(int64_t pid, int16_t epoch, int32_t seq, int n)
{
        static kp_codec_ctx *cc;
        if (!cc)
                cc = kp_codec_ctx_new(1 << 20);
        kp_record_in recs[16];
        static char vals[16][16];
        for (int i = 0; i < n; i++) {
                int vl = snprintf(vals[i], sizeof(vals[i]), "s%d", seq + i);
                recs[i] = (kp_record_in){
                    .timestamp = 1000 + i, .key = KP_BYTES_NULL, .value = {(uint8_t *)vals[i], vl}};
        }
        kp_batch_spec spec = {.base_offset = 0,
                              .partition_leader_epoch = -1,
                              .codec = KP_CODEC_NONE,
                              .producer_id = pid,
                              .producer_epoch = epoch,
                              .base_sequence = seq};
        size_t len = 0;
        assert_int_equal(kp_batch_build(cc, &spec, recs, n, buf, sizeof(buf), &len), 0);
        return len;
}

static kp_init_producer_id_response init_pid(th *t, int16_t ver, const char *txn)
{
        static int32_t corr = 500;
        kp_init_producer_id_request q;
        kp_init_producer_id_request_init(&q);
        q.transactional_id = txn ? kp_str_c(txn) : (kp_str){NULL, -1};
        q.transaction_timeout_ms = 60000;
        size_t n;
        const uint8_t *body = DP_ENCODE(kp_init_producer_id_request, &q, ver, &n);
        dp_send(t, 22, ver, ++corr, body, n);
        kp_rd rd = dp_recv(t, 22, ver, corr);
        kp_init_producer_id_response r;
        assert_int_equal(kp_init_producer_id_response_decode(&rd, ver, &r), 0);
        return r;
}

static void test_init_producer_id(void **state)
{
        (void)state;
        th t;
        dp_start(&t);
        int64_t last = -1;
        for (int16_t v = 0; v <= 5; v++) {
                kp_init_producer_id_response r = init_pid(&t, v, NULL);
                assert_int_equal(r.error_code, 0);
                assert_int_equal(r.producer_epoch, 0);
                assert_true(r.producer_id > last);
                last = r.producer_id;
        }
        /* The block was reserved on disk before any id of it was used. */
        char path[128], line[64] = {0};
        snprintf(path, sizeof(path), "%s/producer-ids", dp_dir);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        assert_non_null(fgets(line, sizeof(line), f));
        fclose(f);
        int64_t end = 0;
        assert_int_equal(sscanf(line, "serpentlog-producer-ids 1 %" SCNd64, &end), 1);
        assert_true(end > last);
        /* Transactions are not implemented: no coordinator; "" is invalid. */
        kp_init_producer_id_response r = init_pid(&t, 3, "txn");
        assert_int_equal(r.error_code, KP_ERR_COORDINATOR_NOT_AVAILABLE);
        assert_int_equal(r.producer_id, -1);
        assert_int_equal(init_pid(&t, 1, "").error_code, KP_ERR_INVALID_REQUEST);
        dp_stop(&t);
}

static void test_produce_dedup(void **state)
{
        (void)state;
        th t;
        dp_start(&t);
        kp_uuid id = dp_topic(&t, "t", 2, NULL, NULL);
        int64_t pid = init_pid(&t, 4, NULL).producer_id;
        size_t len = idem_batch(pid, 0, 0, 3);
        dp_produced r = dp_produce(&t, 9, "t", 0, 1, buf, len);
        assert_int_equal(r.error, 0);
        assert_int_equal(r.base_offset, 0);
        /* acks=-1 retry of a batch appended with acks=1: the original offset,
         * answered once it is durable. */
        r = dp_produce(&t, 9, "t", 0, -1, buf, len);
        assert_int_equal(r.error, 0);
        assert_int_equal(r.base_offset, 0);
        sl_partition *p = sl_partition_find(id, 0);
        assert_non_null(p);
        assert_true(sl_log_flushed_offset(p->log) >= 3);
        assert_int_equal(sl_log_end_offset(p->log), 3);
        len = idem_batch(pid, 0, 3, 2);
        assert_int_equal(dp_produce(&t, 3, "t", 0, 1, buf, len).base_offset, 3);
        assert_int_equal(dp_produce(&t, 11, "t", 0, 1, buf, len).base_offset, 3);
        len = idem_batch(pid, 0, 6, 1);
        assert_int_equal(dp_produce(&t, 9, "t", 0, 1, buf, len).error,
                         KP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
        /* The other partition has its own sequence space. */
        len = idem_batch(pid, 0, 0, 1);
        r = dp_produce(&t, 9, "t", 1, 1, buf, len);
        assert_int_equal(r.error, 0);
        assert_int_equal(r.base_offset, 0);
        /* Epoch bump, then the old epoch is fenced. */
        len = idem_batch(pid, 1, 0, 1);
        assert_int_equal(dp_produce(&t, 9, "t", 0, 1, buf, len).base_offset, 5);
        len = idem_batch(pid, 0, 5, 1);
        assert_int_equal(dp_produce(&t, 9, "t", 0, 1, buf, len).error,
                         KP_ERR_INVALID_PRODUCER_EPOCH);
        assert_int_equal(sl_log_end_offset(p->log), 6);

        /* DescribeProducers v0 sees the producer on both partitions. */
        int32_t parts[3] = {0, 1, 9};
        kp_describe_producers_request_topic_request tr = {
            .name = kp_str_c("t"), .partition_indexes = parts, .partition_indexes_count = 3};
        kp_describe_producers_request q = {.topics = &tr, .topics_count = 1};
        size_t n;
        const uint8_t *body = DP_ENCODE(kp_describe_producers_request, &q, 0, &n);
        dp_send(&t, 61, 0, 77, body, n);
        kp_rd rd = dp_recv(&t, 61, 0, 77);
        kp_describe_producers_response resp;
        assert_int_equal(kp_describe_producers_response_decode(&rd, 0, &resp), 0);
        assert_int_equal(resp.topics_count, 1);
        assert_int_equal(resp.topics[0].partitions_count, 3);
        const kp_describe_producers_response_partition_response *pr = resp.topics[0].partitions;
        assert_int_equal(pr[0].error_code, 0);
        assert_int_equal(pr[0].active_producers_count, 1);
        assert_int_equal(pr[0].active_producers[0].producer_id, pid);
        assert_int_equal(pr[0].active_producers[0].producer_epoch, 1);
        assert_int_equal(pr[0].active_producers[0].last_sequence, 0);
        assert_int_equal(pr[1].active_producers_count, 1);
        assert_int_equal(pr[1].active_producers[0].producer_epoch, 0);
        assert_int_equal(pr[2].error_code, KP_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        dp_stop(&t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_init_producer_id),
            cmocka_unit_test(test_produce_dedup),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
