/* broker/tests/test_producer_load.c — the idempotent producer state rebuild
 * (a scan of every batch header of a partition, seconds on a big log) runs on
 * the shard's I/O helper thread, never on the reactor, in a one-shard broker
 * (dp_harness.h) with a test hook that slows the scan.
 *
 * While it runs, produces to that partition wait and are answered in order
 * (a retry of the last stored batch gets its original offset: dedup holds as
 * after a restart) and the shard keeps answering another connection's
 * produces to other partitions, including another partition's own rebuild.
 * A partition deleted mid-rebuild answers its waiting produces with
 * UNKNOWN_TOPIC_OR_PARTITION. */
#include <poll.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>

#include "dp_harness.h"
#include "producer_state.h"

#define PID       4242
#define NB        40    /* idempotent batches stored before the first produce */
#define DELAY     20000 /* µs per batch header: a 0.8 s rebuild */
#define OTHER_PID 777

static uint8_t buf[1 << 16];

static int64_t mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One idempotent batch of one record for PID/epoch 0 at seq. */
static size_t idem_batch(int64_t pid, int32_t seq)
{
        static kp_codec_ctx *cc;
        if (!cc)
                cc = kp_codec_ctx_new(1 << 20);
        char val[16];
        int vl = snprintf(val, sizeof(val), "s%d", seq);
        kp_record_in rec = {.timestamp = 1000, .key = KP_BYTES_NULL, .value = {(uint8_t *)val, vl}};
        kp_batch_spec spec = {.base_offset = 0,
                              .partition_leader_epoch = -1,
                              .codec = KP_CODEC_NONE,
                              .producer_id = pid,
                              .producer_epoch = 0,
                              .base_sequence = seq};
        size_t len = 0;
        assert_int_equal(kp_batch_build(cc, &spec, &rec, 1, buf, sizeof(buf), &len), 0);
        return len;
}

/* Stores NB idempotent batches straight into the log, as a previous broker
 * run would have: this run has no producer state for the partition yet. */
static void store_history(kp_uuid id)
{
        sl_partition *p = sl_partition_find(id, 0);
        assert_non_null(p);
        for (int32_t i = 0; i < NB; i++) {
                size_t len = idem_batch(PID, i);
                sl_append_result res;
                assert_int_equal(sl_log_append(p->log, buf, len, p->leader_epoch, 1000, &res), 0);
                assert_int_equal(res.base_offset, i);
        }
}

/* A second client connection to the same shard. */
static th second_conn(th *t)
{
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        fcntl(sv[0], F_SETFL, O_NONBLOCK);
        atomic_fetch_add(&g_sl.nconns, 1);
        th t2 = {.s = t->s, .client = sv[1], .conn = sl_conn_adopt(t->s, sv[0], "test:2")};
        assert_non_null(t2.conn);
        return t2;
}

static bool readable(int fd)
{
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        return poll(&pf, 1, 0) > 0;
}

static void test_rebuild_on_helper_shard_keeps_serving(void **state)
{
        (void)state;
        th t;
        dp_start(&t);
        kp_uuid big = dp_topic(&t, "big", 1, NULL, NULL);
        dp_topic(&t, "other", 2, NULL, NULL);
        store_history(big);
        atomic_store(&sl_producer_load_tid, 0);
        atomic_store(&sl_producer_load_delay_us, DELAY);

        /* A retry of the last stored batch and the next batch: both wait for
         * the rebuild, which starts now. */
        size_t len = idem_batch(PID, NB - 1);
        dp_produce_send(&t, 9, 1, "big", 0, 1, buf, len);
        len = idem_batch(PID, NB);
        dp_produce_send(&t, 9, 2, "big", 0, 1, buf, len);
        th_turn(&t);

        /* Meanwhile another client is served: a plain produce and an
         * idempotent one (whose small partition rebuilds on its own). */
        th t2 = second_conn(&t);
        int64_t t0 = mono_ms();
        size_t l2 = dp_batch(buf, sizeof(buf), 3, KP_CODEC_NONE, false, 1000, -1, false);
        dp_produced r = dp_produce(&t2, 9, "other", 0, 1, buf, l2);
        assert_int_equal(r.error, 0);
        assert_int_equal(r.base_offset, 0);
        len = idem_batch(OTHER_PID, 0);
        r = dp_produce(&t2, 9, "other", 1, 1, buf, len);
        assert_int_equal(r.error, 0);
        assert_int_equal(r.base_offset, 0);
        r = dp_produce(&t2, 9, "other", 1, 1, buf, len); /* its retry */
        assert_int_equal(r.error, 0);
        assert_int_equal(r.base_offset, 0);
        int64_t served_ms = mono_ms() - t0;
        /* Well inside the 0.8 s rebuild, and "big" has not answered yet. */
        assert_true(served_ms < NB * DELAY / 1000 / 2);
        assert_false(readable(t.client));

        /* Then "big" answers, in order: the retry gets its original offset,
         * the new batch goes after the stored ones. */
        r = dp_produce_recv(&t, 9, 1);
        assert_int_equal(r.error, 0);
        assert_int_equal(r.base_offset, NB - 1);
        r = dp_produce_recv(&t, 9, 2);
        assert_int_equal(r.error, 0);
        assert_int_equal(r.base_offset, NB);
        int64_t total_ms = mono_ms() - t0;
        assert_true(total_ms >= NB * DELAY / 1000 / 2);
        assert_int_equal(sl_log_end_offset(sl_partition_find(big, 0)->log), NB + 1);
        /* The scan ran on another thread than this one (the reactor's). */
        int tid = atomic_load(&sl_producer_load_tid);
        assert_true(tid != 0);
        assert_true(tid != (int)syscall(SYS_gettid));
        atomic_store(&sl_producer_load_delay_us, 0);

        /* Ready now: the next retry is answered at once from the state. */
        r = dp_produce(&t, 9, "big", 0, 1, buf, idem_batch(PID, NB));
        assert_int_equal(r.base_offset, NB);
        close(t2.client);
        dp_stop(&t);
}

static bool deleted;
static void delete_done(sl_topic_op *op)
{
        (void)op;
        deleted = true;
}

static void test_delete_during_rebuild(void **state)
{
        (void)state;
        th t;
        dp_start(&t);
        kp_uuid big = dp_topic(&t, "big", 1, NULL, NULL);
        store_history(big);
        atomic_store(&sl_producer_load_delay_us, DELAY);
        /* Rounds of a few batches: the deletion's own I/O helper work (and
         * the close) gets in between two of them. */
        atomic_store(&sl_producer_load_round_bytes, 300);
        size_t len = idem_batch(PID, NB);
        dp_produce_send(&t, 9, 3, "big", 0, 1, buf, len);
        for (int i = 0; i < 5; i++)
                th_turn(&t);
        assert_false(readable(t.client));
        sl_topic_op del = {.name = KP_STR_NULL, .id = big, .done = delete_done};
        deleted = false;
        sl_topics_delete(&del);
        dp_produced r = dp_produce_recv(&t, 9, 3);
        assert_int_equal(r.error, KP_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        for (int i = 0; i < 400 && !deleted; i++)
                th_turn(&t);
        assert_true(deleted);
        assert_int_equal(del.error, 0);
        atomic_store(&sl_producer_load_delay_us, 0);
        atomic_store(&sl_producer_load_round_bytes, 32 << 20);
        dp_stop(&t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_rebuild_on_helper_shard_keeps_serving),
            cmocka_unit_test(test_delete_during_rebuild),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
