/* broker/tests/test_fetch_session.c — the KIP-227 session cache alone
 * (fetch_session.c): Kafka's newContext rules for (session id, epoch),
 * epochs advancing, partitions added/updated/forgotten in order, change
 * detection for incremental responses, ids carrying the shard number, and
 * bounded capacity with LRU eviction (idle, or smaller than the newcomer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "fetch_session.h"
#include "kafka_errors.h"

static kp_uuid uid(uint8_t b)
{
        kp_uuid u = {{0}};
        u.b[0] = b;
        u.b[15] = 7;
        return u;
}

static void test_context_rules(void **state)
{
        (void)state;
        sl_fsess_cache c;
        assert_int_equal(sl_fsess_cache_init(&c, 4, 3, 12345), 0);
        int kind;
        sl_fsess *s;
        /* Sessionless: epoch -1. */
        assert_int_equal(sl_fsess_begin(&c, 0, -1, 2, 0, &kind, &s), 0);
        assert_int_equal(kind, SL_FSESS_NONE);
        assert_null(s);
        /* Full fetch creates a session; its id carries the shard. */
        assert_int_equal(sl_fsess_begin(&c, 0, 0, 2, 0, &kind, &s), 0);
        assert_int_equal(kind, SL_FSESS_FULL);
        assert_non_null(s);
        int32_t id = s->id;
        assert_true(id > 0);
        assert_int_equal(id & ((1 << SL_FSESS_SHARD_BITS) - 1), 3);
        assert_int_equal(s->epoch, 1);
        /* Incremental with the right epoch advances it. */
        assert_int_equal(sl_fsess_begin(&c, id, 1, 0, 10, &kind, &s), 0);
        assert_int_equal(kind, SL_FSESS_INCREMENTAL);
        assert_int_equal(s->id, id);
        assert_int_equal(s->epoch, 2);
        assert_int_equal(sl_fsess_begin(&c, id, 1, 0, 10, &kind, &s),
                         KP_ERR_INVALID_FETCH_SESSION_EPOCH);
        assert_int_equal(sl_fsess_begin(&c, id, 3, 0, 10, &kind, &s),
                         KP_ERR_INVALID_FETCH_SESSION_EPOCH);
        assert_int_equal(sl_fsess_begin(&c, id + 128, 2, 0, 10, &kind, &s),
                         KP_ERR_FETCH_SESSION_ID_NOT_FOUND);
        assert_int_equal(sl_fsess_begin(&c, 0, 1, 0, 10, &kind, &s),
                         KP_ERR_FETCH_SESSION_ID_NOT_FOUND);
        assert_int_equal(sl_fsess_begin(&c, id, -2, 0, 10, &kind, &s),
                         KP_ERR_INVALID_FETCH_SESSION_EPOCH);
        /* Epoch 0 with the id: closes it and opens a new one. */
        assert_int_equal(sl_fsess_begin(&c, id, 0, 1, 20, &kind, &s), 0);
        assert_int_equal(kind, SL_FSESS_FULL);
        assert_int_not_equal(s->id, id);
        assert_null(sl_fsess_find(&c, id));
        int32_t id2 = s->id;
        /* Epoch -1 with the id: closes it, no new session. */
        assert_int_equal(sl_fsess_begin(&c, id2, -1, 1, 30, &kind, &s), 0);
        assert_int_equal(kind, SL_FSESS_NONE);
        assert_null(sl_fsess_find(&c, id2));
        assert_int_equal(c.count, 0);
        sl_fsess_cache_free(&c);
}

static void test_partitions(void **state)
{
        (void)state;
        sl_fsess_cache c;
        assert_int_equal(sl_fsess_cache_init(&c, 4, 0, 1), 0);
        int kind;
        sl_fsess *s;
        assert_int_equal(sl_fsess_begin(&c, 0, 0, 1, 0, &kind, &s), 0);
        /* Grows past the hint; same (topic, partition) is the same entry. */
        for (int32_t p = 0; p < 20; p++) {
                sl_fsess_part *sp = sl_fsess_upsert(s, uid(p % 3), kp_str_c(p % 3 ? "b" : "a"), p);
                assert_non_null(sp);
                sp->fetch_offset = p * 10;
        }
        assert_int_equal(s->nparts, 20);
        assert_int_equal(s->ntopics, 3);
        sl_fsess_part *again = sl_fsess_upsert(s, uid(1), kp_str_c("b"), 4);
        assert_int_equal(again->fetch_offset, 40);
        assert_int_equal(s->nparts, 20);
        assert_int_equal(sl_fsess_topic_by_name(s, kp_str_c("a")), 0);
        assert_int_equal(sl_fsess_topic_by_name(s, kp_str_c("zz")), -1);
        /* Forget keeps the order of the others. */
        sl_fsess_forget(s, uid(1), 4);
        sl_fsess_forget(s, uid(1), 999); /* unknown: nothing */
        sl_fsess_forget(s, uid(9), 4);
        assert_int_equal(s->nparts, 19);
        for (int32_t i = 1; i < s->nparts; i++)
                assert_true(s->parts[i].partition > s->parts[i - 1].partition);
        /* Change detection. */
        sl_fsess_part *p = &s->parts[0];
        assert_true(sl_fsess_part_changed(p, false, 0, 5, 0)); /* first time */
        assert_false(sl_fsess_part_changed(p, false, 0, 5, 0));
        assert_true(sl_fsess_part_changed(p, true, 0, 5, 0));  /* records */
        assert_true(sl_fsess_part_changed(p, false, 1, 5, 0)); /* error */
        assert_true(sl_fsess_part_changed(p, false, 0, 6, 0)); /* high watermark */
        assert_true(sl_fsess_part_changed(p, false, 0, 6, 2)); /* log start */
        assert_false(sl_fsess_part_changed(p, false, 0, 6, 2));
        /* Rotation: marked partitions go last, both groups keep their order. */
        bool moved[32] = {false};
        sl_fsess_part scratch[32];
        int32_t before[32];
        for (int32_t i = 0; i < s->nparts; i++)
                before[i] = s->parts[i].partition;
        moved[1] = moved[3] = true;
        sl_fsess_rotate(s, moved, scratch);
        assert_int_equal(s->nparts, 19);
        assert_int_equal(s->parts[0].partition, before[0]);
        assert_int_equal(s->parts[1].partition, before[2]);
        assert_int_equal(s->parts[17].partition, before[1]);
        assert_int_equal(s->parts[18].partition, before[3]);
        sl_fsess_cache_free(&c);
}

static void test_capacity_and_eviction(void **state)
{
        (void)state;
        sl_fsess_cache c;
        assert_int_equal(sl_fsess_cache_init(&c, 3, 1, 99), 0);
        int kind;
        sl_fsess *s;
        int32_t ids[3];
        for (int i = 0; i < 3; i++) {
                assert_int_equal(sl_fsess_begin(&c, 0, 0, 5, 1000 + i, &kind, &s), 0);
                assert_int_equal(kind, SL_FSESS_FULL);
                for (int32_t p = 0; p < 5; p++)
                        assert_non_null(sl_fsess_upsert(s, uid(1), kp_str_c("a"), p));
                ids[i] = s->id;
        }
        assert_int_equal(c.count, 3);
        /* Full, nobody idle, newcomer not bigger: no session. */
        assert_int_equal(sl_fsess_begin(&c, 0, 0, 5, 2000, &kind, &s), 0);
        assert_int_equal(kind, SL_FSESS_NONE);
        /* Touch the oldest: the LRU is now ids[1]. */
        assert_int_equal(sl_fsess_begin(&c, ids[0], 1, 0, 2001, &kind, &s), 0);
        /* A bigger newcomer evicts the LRU. */
        assert_int_equal(sl_fsess_begin(&c, 0, 0, 50, 2002, &kind, &s), 0);
        assert_int_equal(kind, SL_FSESS_FULL);
        assert_null(sl_fsess_find(&c, ids[1]));
        assert_non_null(sl_fsess_find(&c, ids[0]));
        /* An idle LRU is evicted for anyone. */
        assert_int_equal(sl_fsess_begin(&c, 0, 0, 1, 2002 + SL_FSESS_EVICT_MS, &kind, &s), 0);
        assert_int_equal(kind, SL_FSESS_FULL);
        assert_null(sl_fsess_find(&c, ids[2]));
        assert_int_equal(c.count, 3);
        /* Ids are unique and keep the shard. */
        for (sl_fsess *x = c.lru_head; x; x = x->lru_next) {
                assert_int_equal(x->id & 127, 1);
                for (sl_fsess *y = x->lru_next; y; y = y->lru_next)
                        assert_int_not_equal(x->id, y->id);
        }
        sl_fsess_cache_free(&c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_context_rules),
            cmocka_unit_test(test_partitions),
            cmocka_unit_test(test_capacity_and_eviction),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
