/* broker/tests/test_fetch_cold.c — a lagging consumer's Fetch never waits for
 * the disk on the reactor: a one-shard broker (dp_harness.h) with a
 * partition's segment files synced and dropped from the page cache
 * (POSIX_FADV_DONTNEED), a Fetch of it is answered with exactly the file's
 * bytes after the shard's I/O helper read them in (fetch_response.h's cold
 * counters move), while another connection's acks=1 Produce to another
 * partition of the same shard is answered at once. The helper's fill is made
 * slow by the test hook sl_fresp_cold_delay_ms (300 ms), so "at once" can be
 * told from "after the disk". A produce pipelined behind the cold fetch on the
 * same connection is answered after it (responses stay in request order). A
 * fetch of cached data takes no helper trip. The owner's batch-header read
 * also goes through the helper when its window is not cached. */
#include <ftw.h>
#include <poll.h>
#include <time.h>

#include "dp_harness.h"
#include "fetch_response.h"
#include "log.h"
#include "residency.h"

#define DELAY_MS   300
#define PART_BYTES (512 << 10) /* one response fits dp_resp */

static uint8_t batch[1 << 16];

static int64_t mono_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool readable(int fd)
{
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        return poll(&pf, 1, 0) > 0;
}

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

/* fdatasync + DONTNEED every segment file under the data dir. */
static int drop_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st;
        (void)ftw;
        size_t n = strlen(path);
        if (flag != FTW_F || n < 4 || strcmp(path + n - 4, ".log"))
                return 0;
        int fd = open(path, O_RDONLY);
        assert_true(fd >= 0);
        assert_int_equal(fdatasync(fd), 0);
        assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
        close(fd);
        return 0;
}

static void drop_page_cache(void)
{
        assert_int_equal(nftw(dp_dir, drop_one, 16, FTW_PHYS), 0);
}

static void fetch_send(th *t, int32_t corr, kp_uuid id, int32_t partition, int64_t offset)
{
        kp_fetch_request_fetch_partition part;
        kp_fetch_request_fetch_partition_init(&part);
        part.partition = partition;
        part.fetch_offset = offset;
        part.partition_max_bytes = PART_BYTES;
        kp_fetch_request_fetch_topic topic;
        kp_fetch_request_fetch_topic_init(&topic);
        topic.topic = kp_str_c("cold");
        topic.topic_id = id;
        topic.partitions = &part;
        topic.partitions_count = 1;
        kp_fetch_request r;
        kp_fetch_request_init(&r);
        r.replica_id = -1;
        r.max_wait_ms = 500;
        r.min_bytes = 1;
        r.max_bytes = PART_BYTES;
        r.session_epoch = -1;
        r.topics = &topic;
        r.topics_count = 1;
        size_t len;
        const uint8_t *body = DP_ENCODE(kp_fetch_request, &r, 12, &len);
        dp_send(t, 1, 12, corr, body, len);
}

/* The records of a v12 Fetch response (one partition). */
static kp_bytes fetch_recv(th *t, int32_t corr)
{
        kp_rd rd = dp_recv(t, 1, 12, corr);
        kp_fetch_response r;
        assert_int_equal(kp_fetch_response_decode(&rd, 12, &r), 0);
        assert_int_equal(kp_rd_left(&rd), 0);
        assert_int_equal(r.responses_count, 1);
        assert_int_equal(r.responses[0].partitions_count, 1);
        assert_int_equal(r.responses[0].partitions[0].error_code, 0);
        return r.responses[0].partitions[0].records;
}

/* ~2 MiB in partition 0 of "cold"; returns the bytes a 512 KiB read from
 * offset 0 covers, as the log holds them (malloc'd), and the range. */
static uint8_t *fill_partition(th *t, kp_uuid id, size_t *len, sl_file_range *range)
{
        size_t bl = dp_batch(batch, sizeof(batch), 64, KP_CODEC_NONE, false, 1000, -1, false);
        for (int i = 0; i < 2 * 1024 * 1024 / (int)bl; i++)
                assert_int_equal(dp_produce(t, 9, "cold", 0, 1, batch, bl).error, 0);
        sl_log *log = sl_partition_find(id, 0)->log;
        int n = 0;
        assert_int_equal(sl_log_read(log, 0, sl_log_end_offset(log), PART_BYTES, range, 1, &n), 0);
        assert_int_equal(n, 1);
        uint8_t *want = malloc((size_t)range->len);
        assert_int_equal(pread(range->fd, want, (size_t)range->len, range->pos), range->len);
        sl_log_release_ranges(log, range, 1);
        *len = (size_t)range->len;
        return want;
}

static void test_cold_fetch_served_off_reactor(void **state)
{
        (void)state;
        th t;
        dp_start(&t);
        kp_uuid id = dp_topic(&t, "cold", 2, NULL, NULL);
        size_t want_len;
        sl_file_range range;
        uint8_t *want = fill_partition(&t, id, &want_len, &range);
        drop_page_cache();
        if (sl_residency_check(range.fd, range.pos, range.len)) {
                /* This file system keeps its pages (tmpfs): nothing to test. */
                free(want);
                dp_stop(&t);
                skip();
        }
        sl_fresp_cold_stats before, after;
        sl_fresp_cold_stats_get(&before);
        atomic_store(&sl_fresp_cold_delay_ms, DELAY_MS);

        int64_t t0 = mono_ms();
        fetch_send(&t, 7, id, 0, 0);
        for (int i = 0; i < 3; i++)
                th_turn(&t);
        /* Another client's acks=1 produce to partition 1 of the same shard is
         * answered while the fetch waits for the helper. */
        th t2 = second_conn(&t);
        size_t bl = dp_batch(batch, sizeof(batch), 3, KP_CODEC_NONE, false, 1000, -1, false);
        int64_t p0 = mono_ms();
        dp_produced pr = dp_produce(&t2, 9, "cold", 1, 1, batch, bl);
        int64_t produce_ms = mono_ms() - p0;
        assert_int_equal(pr.error, 0);
        assert_int_equal(pr.base_offset, 0);
        print_message("produce answered in %lld ms during the cold fetch\n", (long long)produce_ms);
        assert_true(produce_ms < 50);
        assert_false(readable(t.client)); /* the fetch is still out */

        /* The fetch: exactly the file's bytes, after the helper's fill. */
        kp_bytes rec = fetch_recv(&t, 7);
        int64_t fetch_ms = mono_ms() - t0;
        assert_int_equal(rec.len, (int32_t)want_len);
        assert_memory_equal(rec.p, want, want_len);
        assert_true(fetch_ms >= DELAY_MS);
        sl_fresp_cold_stats_get(&after);
        assert_int_equal(after.fills, before.fills + 1);
        assert_int_equal(after.ranges, before.ranges + 1);
        assert_int_equal(after.bytes, before.bytes + want_len);
        assert_int_equal(after.fill_errors, before.fill_errors);
        /* The owner did not read the first batch header from disk either:
         * the helper brought its window in first (fetch_owner.c). */
        assert_true(after.header_fills >= before.header_fills + 1);

        /* Read in once, the same range is cached: no helper trip. */
        int64_t h0 = mono_ms();
        fetch_send(&t, 8, id, 0, 0);
        rec = fetch_recv(&t, 8);
        assert_memory_equal(rec.p, want, want_len);
        assert_true(mono_ms() - h0 < DELAY_MS);
        sl_fresp_cold_stats_get(&before);
        assert_int_equal(before.fills, after.fills);

        atomic_store(&sl_fresp_cold_delay_ms, 0);
        close(t2.client);
        free(want);
        dp_stop(&t);
}

static void test_cold_fetch_keeps_response_order(void **state)
{
        (void)state;
        th t;
        dp_start(&t);
        kp_uuid id = dp_topic(&t, "cold", 2, NULL, NULL);
        size_t want_len;
        sl_file_range range;
        uint8_t *want = fill_partition(&t, id, &want_len, &range);
        drop_page_cache();
        if (sl_residency_check(range.fd, range.pos, range.len)) {
                free(want);
                dp_stop(&t);
                skip();
        }
        atomic_store(&sl_fresp_cold_delay_ms, DELAY_MS);
        /* Fetch, then a produce pipelined behind it on the same connection:
         * the produce is done at once, but its answer waits its turn. */
        fetch_send(&t, 21, id, 0, 0);
        size_t bl = dp_batch(batch, sizeof(batch), 3, KP_CODEC_NONE, false, 1000, -1, false);
        dp_produce_send(&t, 9, 22, "cold", 1, 1, batch, bl);
        kp_bytes rec = fetch_recv(&t, 21); /* dp_recv checks the correlation id */
        assert_int_equal(rec.len, (int32_t)want_len);
        assert_memory_equal(rec.p, want, want_len);
        dp_produced pr = dp_produce_recv(&t, 9, 22);
        assert_int_equal(pr.error, 0);
        atomic_store(&sl_fresp_cold_delay_ms, 0);
        free(want);
        dp_stop(&t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_cold_fetch_served_off_reactor),
            cmocka_unit_test(test_cold_fetch_keeps_response_order),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
