/* broker/tests/test_handlers.c — ApiVersions and Metadata as a client sees
 * them, through the real connection and dispatch path: every version decodes
 * with the generated codec; ApiVersions advertises exactly the dispatch table
 * (Produce from 0 when implemented), answers a too-new version with the v0
 * UNSUPPORTED_VERSION bytes of ENCODING §2.6 and checks KIP-511 software
 * names; Metadata lists brokers/controller/cluster, all topics (v0 empty
 * list, v1+ null), named topics, unknown and invalid names and topic ids, and
 * auto-creation (as KRaft Kafka: UNKNOWN_TOPIC_OR_PARTITION first; never for
 * internal names or when the v4+ request disallows it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "dispatch.h"
#include "gen/kp_messages.h"
#include "harness.h"

static uint8_t resp[65536];
static kp_arena arena;

/* Sends one request and returns the response body (after the correlation id
 * and, for flexible non-ApiVersions responses, the header tag byte). */
static kp_rd roundtrip(th *t, int16_t key, int16_t ver, const void *body, size_t len)
{
        static uint8_t req[4096];
        const kp_api_info *info = kp_api_info_find(key);
        bool flex = key == 18 ? ver >= 3 : ver >= info->first_flexible;
        size_t n = th_request(req, key, ver, 42, flex, body, len);
        th_send(t, req, n);
        int32_t rl = th_recv_frame(t, resp, sizeof(resp));
        assert_true(rl >= 4);
        assert_int_equal(th_be32(resp), 42);
        size_t skip = 4 + ((key != 18 && flex) ? 1 : 0);
        kp_rd rd;
        kp_arena_reset(&arena);
        kp_rd_init(&rd, resp + skip, (size_t)rl - skip, &arena);
        return rd;
}

static void test_api_versions_all_versions(void **state)
{
        (void)state;
        th t;
        th_start(&t, NULL, NULL);
        for (int16_t v = 0; v <= 4; v++) {
                kp_api_versions_request q;
                kp_api_versions_request_init(&q);
                q.client_software_name = kp_str_c("librdkafka");
                q.client_software_version = kp_str_c("2.0.2");
                uint8_t body[64];
                kp_wr w;
                kp_wr_init(&w, body, kp_api_versions_request_size(&q, v));
                kp_api_versions_request_encode(&w, v, &q);
                kp_rd rd = roundtrip(&t, 18, v, body, (size_t)(w.p - body));
                kp_api_versions_response r;
                assert_int_equal(kp_api_versions_response_decode(&rd, v, &r), 0);
                assert_int_equal(kp_rd_left(&rd), 0);
                assert_int_equal(r.error_code, 0);
                int want = 0;
                for (int16_t k = 0; k < SL_API_KEY_LIMIT; k++)
                        want += sl_dispatch_find(k) != NULL;
                assert_int_equal(r.api_keys_count, want);
                bool md = false, av = false;
                for (int32_t i = 0; i < r.api_keys_count; i++) {
                        const sl_api *a = sl_dispatch_find(r.api_keys[i].api_key);
                        assert_non_null(a);
                        assert_int_equal(r.api_keys[i].min_version,
                                         a->advertise_min_0 ? 0 : a->min_version);
                        assert_int_equal(r.api_keys[i].max_version, a->max_version);
                        if (i)
                                assert_true(r.api_keys[i].api_key > r.api_keys[i - 1].api_key);
                        md |= r.api_keys[i].api_key == 3 && r.api_keys[i].max_version == 12;
                        av |= r.api_keys[i].api_key == 18 && r.api_keys[i].max_version == 4;
                }
                assert_true(md && av);
                if (v >= 3) {
                        assert_string_equal(sl_conn_client_software(t.conn), "librdkafka");
                        assert_string_equal(sl_conn_client_software_version(t.conn), "2.0.2");
                }
        }
        /* Produce, when implemented, is advertised from 0 (ENCODING §5.3). */
        const sl_api *produce = sl_dispatch_find(0);
        if (produce)
                assert_true(produce->advertise_min_0);
        th_stop(&t);
}

static void test_api_versions_too_new(void **state)
{
        (void)state;
        th t;
        th_start(&t, NULL, NULL);
        /* Header v2 (>= 3 rule) with a body we cannot know. */
        const uint8_t junk[] = {0x99, 0x98, 0x97};
        uint8_t req[64];
        size_t n = th_request(req, 18, 127, 1, true, junk, sizeof(junk));
        th_send(&t, req, n);
        const uint8_t expect[] = {0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x23,
                                  0x00, 0x00, 0x00, 0x01, 0x00, 0x12, 0x00, 0x00, 0x00, 0x04};
        uint8_t got[sizeof(expect)];
        assert_int_equal(th_recv(&t, got, sizeof(got)), sizeof(got));
        assert_memory_equal(got, expect, sizeof(expect));
        /* The connection stays usable: v0 next. */
        kp_rd rd = roundtrip(&t, 18, 0, NULL, 0);
        kp_api_versions_response r;
        assert_int_equal(kp_api_versions_response_decode(&rd, 0, &r), 0);
        assert_int_equal(r.error_code, 0);
        th_stop(&t);
}

static void test_api_versions_encoding_example(void **state)
{
        (void)state;
        th t;
        th_start(&t, NULL, NULL);
        /* ENCODING §2.6: ApiVersions v3 from librdkafka 2.0.2, byte for byte. */
        const uint8_t req[] = {0x00, 0x00, 0x00, 0x24, 0x00, 0x12, 0x00, 0x03, 0x00, 0x00,
                               0x00, 0x01, 0x00, 0x07, 0x72, 0x64, 0x6b, 0x61, 0x66, 0x6b,
                               0x61, 0x00, 0x0b, 0x6c, 0x69, 0x62, 0x72, 0x64, 0x6b, 0x61,
                               0x66, 0x6b, 0x61, 0x06, 0x32, 0x2e, 0x30, 0x2e, 0x32, 0x00};
        th_send(&t, req, sizeof(req));
        int32_t rl = th_recv_frame(&t, resp, sizeof(resp));
        assert_true(rl > 4);
        assert_int_equal(th_be32(resp), 1);
        kp_rd rd;
        kp_arena_reset(&arena);
        kp_rd_init(&rd, resp + 4, (size_t)rl - 4, &arena); /* header v0 */
        kp_api_versions_response r;
        assert_int_equal(kp_api_versions_response_decode(&rd, 3, &r), 0);
        assert_int_equal(r.error_code, 0);
        assert_string_equal(sl_conn_client_software(t.conn), "librdkafka");
        th_stop(&t);
}

static void test_api_versions_bad_software(void **state)
{
        (void)state;
        th t;
        th_start(&t, NULL, NULL);
        const char *bad[] = {"-lead", "trail.", "sp ace", ""};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                kp_api_versions_request q;
                kp_api_versions_request_init(&q);
                q.client_software_name = kp_str_c(bad[i]);
                q.client_software_version = kp_str_c("1.0");
                uint8_t body[64];
                kp_wr w;
                kp_wr_init(&w, body, kp_api_versions_request_size(&q, 3));
                kp_api_versions_request_encode(&w, 3, &q);
                kp_rd rd = roundtrip(&t, 18, 3, body, (size_t)(w.p - body));
                kp_api_versions_response r;
                assert_int_equal(kp_api_versions_response_decode(&rd, 3, &r), 0);
                assert_int_equal(r.error_code, KP_ERR_INVALID_REQUEST);
        }
        th_stop(&t);
}

static sl_topics_snap *two_topics(void)
{
        sl_topic_info a = {.name = kp_str_c("alpha"), .partitions = 3};
        sl_topic_info b = {.name = kp_str_c("beta"), .partitions = 1};
        a.id.b[0] = 0xaa;
        b.id.b[0] = 0xbb;
        const sl_topic_info *ptrs[] = {&b, &a};
        return sl_topics_snap_build(ptrs, 2, 1);
}

static kp_metadata_response metadata(th *t, int16_t v, const kp_metadata_request *q)
{
        uint8_t body[1024];
        kp_wr w;
        kp_wr_init(&w, body, kp_metadata_request_size(q, v));
        assert_int_equal(kp_metadata_request_encode(&w, v, q), 0);
        kp_rd rd = roundtrip(t, 3, v, body, (size_t)(w.p - body));
        kp_metadata_response r;
        assert_int_equal(kp_metadata_response_decode(&rd, v, &r), 0);
        assert_int_equal(kp_rd_left(&rd), 0);
        assert_int_equal(r.brokers_count, 1);
        assert_int_equal(r.brokers[0].node_id, 0);
        assert_int_equal(r.brokers[0].port, 9092);
        assert_true(kp_str_eq(r.brokers[0].host, kp_str_c("broker.test")));
        if (v >= 1)
                assert_int_equal(r.controller_id, 0);
        if (v >= 2)
                assert_true(kp_str_eq(r.cluster_id, kp_str_c("test-cluster")));
        return r;
}

static void test_metadata_all_versions(void **state)
{
        (void)state;
        sl_config cfg;
        sl_config_defaults(&cfg);
        cfg.auto_create_topics_enable = false;
        th t;
        th_start(&t, &cfg, two_topics());
        for (int16_t v = 0; v <= 12; v++) {
                kp_metadata_request q;
                kp_metadata_request_init(&q);
                q.topics_count = v == 0 ? 0 : -1; /* all topics */
                kp_metadata_response r = metadata(&t, v, &q);
                assert_int_equal(r.topics_count, 2);
                assert_true(kp_str_eq(r.topics[0].name, kp_str_c("alpha")));
                assert_int_equal(r.topics[0].error_code, 0);
                assert_int_equal(r.topics[0].partitions_count, 3);
                for (int32_t p = 0; p < 3; p++) {
                        assert_int_equal(r.topics[0].partitions[p].partition_index, p);
                        assert_int_equal(r.topics[0].partitions[p].leader_id, 0);
                        assert_int_equal(r.topics[0].partitions[p].isr_nodes_count, 1);
                }
                if (v >= 10)
                        assert_int_equal(r.topics[1].topic_id.b[0], 0xbb);
                /* v1+: an empty list means no topics */
                if (v >= 1) {
                        q.topics_count = 0;
                        r = metadata(&t, v, &q);
                        assert_int_equal(r.topics_count, 0);
                }
        }
        th_stop(&t);
}

static void test_metadata_named(void **state)
{
        (void)state;
        sl_config cfg;
        sl_config_defaults(&cfg);
        cfg.auto_create_topics_enable = false;
        th t;
        th_start(&t, &cfg, two_topics());
        kp_metadata_request_metadata_request_topic qt[4] = {0};
        qt[0].name = kp_str_c("beta");
        qt[1].name = kp_str_c("nope");
        qt[2].name = kp_str_c("bad/name");
        qt[3].name = KP_STR_NULL; /* by id (v12) */
        qt[3].topic_id.b[0] = 0xaa;
        kp_metadata_request q;
        kp_metadata_request_init(&q);
        q.topics = qt;
        q.topics_count = 3;
        kp_metadata_response r = metadata(&t, 4, &q);
        assert_int_equal(r.topics_count, 3);
        assert_int_equal(r.topics[0].error_code, 0);
        assert_int_equal(r.topics[0].partitions_count, 1);
        assert_int_equal(r.topics[1].error_code, KP_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        assert_int_equal(r.topics[2].error_code, KP_ERR_INVALID_TOPIC_EXCEPTION);
        q.topics_count = 4;
        r = metadata(&t, 12, &q);
        assert_int_equal(r.topics[3].error_code, 0);
        assert_true(kp_str_eq(r.topics[3].name, kp_str_c("alpha")));
        qt[3].topic_id.b[0] = 0x11;
        r = metadata(&t, 12, &q);
        assert_int_equal(r.topics[3].error_code, KP_ERR_UNKNOWN_TOPIC_ID);
        assert_int_equal(r.topics[3].name.len, -1);
        th_stop(&t);
}

static void test_metadata_auto_create(void **state)
{
        (void)state;
        char dir[] = "/tmp/sl_test_handlers_XXXXXX";
        assert_non_null(mkdtemp(dir));
        sl_config cfg;
        sl_config_defaults(&cfg);
        cfg.auto_create_topics_enable = true;
        cfg.num_partitions = 3;
        snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", dir);
        sl_topics_snap *snap = NULL;
        assert_int_equal(sl_topics_load(dir, &snap), 0);
        th t;
        th_start(&t, &cfg, snap);
        kp_metadata_request_metadata_request_topic qt[3] = {0};
        qt[0].name = kp_str_c("fresh");
        qt[1].name = kp_str_c("__internal");
        qt[2].name = kp_str_c("not_allowed");
        kp_metadata_request q;
        kp_metadata_request_init(&q);
        q.topics = qt;
        q.topics_count = 2;
        q.allow_auto_topic_creation = true;
        kp_metadata_response r = metadata(&t, 4, &q);
        assert_int_equal(r.topics[0].error_code, KP_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        assert_int_equal(r.topics[1].error_code, KP_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        q.topics = &qt[2];
        q.topics_count = 1;
        q.allow_auto_topic_creation = false; /* v4+: the client says no */
        r = metadata(&t, 4, &q);
        assert_int_equal(r.topics[0].error_code, KP_ERR_UNKNOWN_TOPIC_OR_PARTITION);
        for (int i = 0; i < 400 && !sl_topics_find(sl_topics_current(), kp_str_c("fresh")); i++)
                th_turn(&t);
        for (int i = 0; i < 50; i++)
                th_turn(&t); /* give any wrong creation time to happen */
        const sl_topics_snap *cur = sl_topics_current();
        assert_non_null(sl_topics_find(cur, kp_str_c("fresh")));
        assert_null(sl_topics_find(cur, kp_str_c("__internal")));
        assert_null(sl_topics_find(cur, kp_str_c("not_allowed")));
        q.topics = qt;
        q.topics_count = 1;
        r = metadata(&t, 4, &q);
        assert_int_equal(r.topics[0].error_code, 0);
        assert_int_equal(r.topics[0].partitions_count, 3);
        th_stop(&t);
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

int main(void)
{
        kp_arena_init(&arena, 65536);
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_api_versions_all_versions),
            cmocka_unit_test(test_api_versions_too_new),
            cmocka_unit_test(test_api_versions_encoding_example),
            cmocka_unit_test(test_api_versions_bad_software),
            cmocka_unit_test(test_metadata_all_versions),
            cmocka_unit_test(test_metadata_named),
            cmocka_unit_test(test_metadata_auto_create),
        };
        int rc = cmocka_run_group_tests(tests, NULL, NULL);
        kp_arena_release(&arena);
        return rc;
}
