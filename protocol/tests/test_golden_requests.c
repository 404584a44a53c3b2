/* protocol/tests/test_golden_requests.c — requests captured from real clients
 * (golden/, capture_all.py) decode with the generated codec (protocol/gen/):
 * the frame size checks out, the header gives the api key and version of the
 * file name and the client's id, the body decodes to the values the capture
 * scripts used (topic "golden", partition 0, acks, group id, ...) and leaves no
 * byte unread, and re-encoding the decoded struct at the same version gives the
 * captured bytes back exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "frame.h"
#include "gen/kp_messages.h"
#include "golden/golden_manifest.h"

static golden_manifest man;
static kp_arena arena;

static int setup(void **state)
{
        (void)state;
        kp_arena_init(&arena, 64 * 1024);
        return golden_load(&man);
}

static int teardown(void **state)
{
        (void)state;
        kp_arena_release(&arena);
        return 0;
}

static const struct {
        const char *name;
        int16_t key;
} apis[] = {
    {"produce", 0},     {"fetch", 1},         {"list_offsets", 2},
    {"metadata", 3},    {"offset_commit", 8}, {"find_coordinator", 10},
    {"join_group", 11}, {"sync_group", 14},   {"api_versions", 18},
};

static int16_t api_key_of(const char *name)
{
        for (size_t i = 0; i < sizeof(apis) / sizeof(apis[0]); i++)
                if (!strcmp(apis[i].name, name))
                        return apis[i].key;
        return -1;
}

static const char *client_id_of(const char *client)
{
        if (!strcmp(client, "librdkafka"))
                return "rdkafka";
        if (!strcmp(client, "kafka-python"))
                return "golden-kpy";
        if (!strcmp(client, "sarama"))
                return "golden-sarama";
        return "golden-kjs";
}

static void assert_str(kp_str s, const char *want)
{
        if (!kp_str_eq(s, kp_str_c(want)))
                fail_msg("got '%.*s', want '%s'", s.len > 0 ? s.len : 0, s.p ? s.p : "", want);
}

static void check_produce(const golden_row *row, const kp_produce_request *m)
{
        assert_int_equal(m->transactional_id.len, -1);
        assert_int_equal(m->acks, strcmp(row->client, "kafka-python") ? -1 : 1);
        assert_true(m->timeout_ms > 0);
        assert_int_equal(m->topic_data_count, 1);
        assert_str(m->topic_data[0].name, "golden");
        assert_int_equal(m->topic_data[0].partition_data_count, 1);
        assert_int_equal(m->topic_data[0].partition_data[0].index, 0);
        const kp_bytes *rec = &m->topic_data[0].partition_data[0].records;
        assert_true(rec->len > 61);
        assert_int_equal(rec->p[16], 2); /* magic */
        assert_string_equal(kp_codec_name(rec->p[22] & 7), row->codec);
}

static void check_fetch(const kp_fetch_request *m)
{
        assert_int_equal(m->replica_id, -1);
        assert_true(m->max_wait_ms > 0);
        assert_int_equal(m->topics_count, 1);
        assert_str(m->topics[0].topic, "golden");
        assert_int_equal(m->topics[0].partitions_count, 1);
        assert_int_equal(m->topics[0].partitions[0].partition, 0);
        assert_true(m->topics[0].partitions[0].fetch_offset >= 0);
        assert_true(m->topics[0].partitions[0].partition_max_bytes > 0);
}

static void check_list_offsets(const kp_list_offsets_request *m)
{
        assert_int_equal(m->replica_id, -1);
        assert_int_equal(m->topics_count, 1);
        assert_str(m->topics[0].name, "golden");
        assert_int_equal(m->topics[0].partitions_count, 1);
        assert_int_equal(m->topics[0].partitions[0].partition_index, 0);
        /* -2 earliest (kcat -o beginning, auto_offset_reset=earliest) or -1 latest. */
        assert_in_range(m->topics[0].partitions[0].timestamp + 2, 0, 1);
}

static void check_metadata(const kp_metadata_request *m)
{
        /* null or empty = all topics; otherwise the one topic the clients use. */
        for (int32_t i = 0; i < m->topics_count; i++)
                assert_str(m->topics[i].name, "golden");
}

static void check_request(const golden_row *row, int16_t key, int16_t version, void *body)
{
        switch (key) {
        case 0:
                check_produce(row, body);
                break;
        case 1:
                check_fetch(body);
                break;
        case 2:
                check_list_offsets(body);
                break;
        case 3:
                check_metadata(body);
                break;
        case 8: {
                kp_offset_commit_request *m = body;
                assert_str(m->group_id, "golden-group");
                assert_int_equal(m->topics_count, 1);
                assert_str(m->topics[0].name, "golden");
                break;
        }
        case 10: {
                kp_find_coordinator_request *m = body;
                assert_str(m->key, "golden-group");
                assert_int_equal(m->key_type, 0);
                break;
        }
        case 11: {
                kp_join_group_request *m = body;
                assert_str(m->group_id, "golden-group");
                assert_str(m->protocol_type, "consumer");
                assert_true(m->protocols_count >= 1);
                break;
        }
        case 14: {
                kp_sync_group_request *m = body;
                assert_str(m->group_id, "golden-group");
                assert_true(m->member_id.len > 0);
                break;
        }
        case 18:
                if (version >= 3) {
                        kp_api_versions_request *m = body;
                        assert_str(m->client_software_name, "librdkafka");
                        assert_true(m->client_software_version.len > 0);
                }
                break;
        }
}

static void test_decode_all(void **state)
{
        (void)state;
        assert_true(man.count >= 20);
        for (int k = 0; k < man.count; k++) {
                const golden_row *row = &man.rows[k];
                size_t len;
                uint8_t *frame = golden_read(row, &len);
                assert_non_null(frame);
                int32_t flen;
                assert_int_equal(kp_frame_peek(frame, len, KP_FRAME_DEFAULT_MAX_BYTES, &flen),
                                 KP_FRAME_READY);
                assert_int_equal((size_t)flen + 4, len);

                kp_arena_reset(&arena);
                kp_rd rd;
                kp_rd_init(&rd, frame + 4, (size_t)flen, &arena);
                int16_t key = (int16_t)(frame[4] << 8 | frame[5]);
                int16_t version = (int16_t)(frame[6] << 8 | frame[7]);
                int16_t hv = kp_request_header_version(key, version);
                kp_request_header h;
                assert_int_equal(kp_request_header_decode(&rd, hv, &h), 0);
                assert_int_equal(h.request_api_key, api_key_of(row->api));
                char want_suffix[32];
                snprintf(want_suffix, sizeof(want_suffix), "_v%d", version);
                assert_non_null(strstr(row->file, want_suffix));
                assert_str(h.client_id, client_id_of(row->client));
                const uint8_t *body_start = rd.p;

                size_t sz = kp_request_struct_size(key);
                assert_true(sz > 0);
                void *body = kp_arena_alloc(&arena, 1, sz);
                assert_non_null(body);
                if (kp_request_decode_any(&rd, key, version, body) != 0)
                        fail_msg("%s/%s: decode failed: %s", row->client, row->file,
                                 rd.why ? rd.why : "?");
                assert_int_equal(rd.err, 0);
                assert_int_equal(kp_rd_left(&rd), 0);
                check_request(row, key, version, body);

                /* Re-encode: byte-identical to what the client sent. */
                size_t body_len = (size_t)(frame + len - body_start);
                assert_int_equal(kp_request_size_any(key, version, body), body_len);
                uint8_t *again = malloc(body_len + 1);
                kp_wr wr;
                kp_wr_init(&wr, again, body_len);
                assert_int_equal(kp_request_encode_any(&wr, key, version, body), 0);
                assert_int_equal(wr.p - again, (ptrdiff_t)body_len);
                assert_memory_equal(again, body_start, body_len);
                free(again);
                free(frame);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_decode_all),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
