/* bench/codec_bench.c — throughput of the generated Kafka codec on big frames.
 *
 * Two loops, each timed over many iterations of a 1 MiB-payload frame:
 *  1. Produce v9 request (16 partitions x 64 KiB of record bytes): decode the
 *     request header and body (records stay views into the frame), size(),
 *     and re-encode into a reusable buffer (the only copy of record bytes).
 *  2. Fetch v12 response for 16 partitions x 64 KiB of batches: size() and
 *     encode header + body (record bytes memcpy'd once by the encoder).
 * Prints GB/s of frame bytes for each (the target: >= 2 GB/s).
 * Usage: codec_bench [iterations]   (build without sanitizers to measure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen/kp_messages.h"

#define PARTS      16
#define PART_BYTES (64 * 1024)

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint8_t *make_records(void)
{
        uint8_t *r = malloc((size_t)PARTS * PART_BYTES);
        if (!r)
                exit(1);
        for (size_t i = 0; i < (size_t)PARTS * PART_BYTES; i++)
                r[i] = (uint8_t)(i * 131u + 7u);
        return r;
}

/* Builds a size-prefixed Produce v9 frame carrying PARTS x PART_BYTES records. */
static uint8_t *build_produce(const uint8_t *records, size_t *len)
{
        static kp_produce_request_partition_produce_data parts[PARTS];
        kp_produce_request_topic_produce_data topic;
        kp_produce_request req;
        kp_produce_request_init(&req);
        kp_produce_request_topic_produce_data_init(&topic);
        for (int i = 0; i < PARTS; i++) {
                kp_produce_request_partition_produce_data_init(&parts[i]);
                parts[i].index = i;
                parts[i].records = (kp_bytes){records + (size_t)i * PART_BYTES, PART_BYTES};
        }
        topic.name = kp_str_c("bench-topic");
        topic.partition_data = parts;
        topic.partition_data_count = PARTS;
        req.acks = -1;
        req.timeout_ms = 30000;
        req.topic_data = &topic;
        req.topic_data_count = 1;
        kp_request_header h;
        kp_request_header_init(&h);
        h.request_api_key = 0;
        h.request_api_version = 9;
        h.correlation_id = 42;
        h.client_id = kp_str_c("codec-bench");
        size_t n = kp_request_header_size(&h, 2) + kp_produce_request_size(&req, 9);
        uint8_t *buf = malloc(n + 4);
        kp_wr wr;
        kp_wr_init(&wr, buf, n + 4);
        kp_wr_i32(&wr, (int32_t)n);
        if (kp_request_header_encode(&wr, 2, &h) || kp_produce_request_encode(&wr, 9, &req)) {
                fprintf(stderr, "produce encode: %s\n", wr.why);
                exit(1);
        }
        *len = n + 4;
        return buf;
}

static void bench_produce(const uint8_t *records, int iters)
{
        size_t len;
        uint8_t *frame = build_produce(records, &len);
        uint8_t *out = malloc(len);
        kp_arena arena;
        kp_arena_init(&arena, 1 << 16);
        double t0 = now_s(), t_dec = 0;
        for (int it = 0; it < iters; it++) {
                double d0 = now_s();
                kp_rd rd;
                kp_rd_init(&rd, frame + 4, len - 4, &arena);
                kp_request_header h;
                kp_produce_request req;
                if (kp_request_header_decode(&rd, kp_request_header_version(0, 9), &h) ||
                    kp_produce_request_decode(&rd, h.request_api_version, &req)) {
                        fprintf(stderr, "produce decode: %s\n", rd.why);
                        exit(1);
                }
                t_dec += now_s() - d0;
                kp_wr wr;
                size_t n = kp_request_header_size(&h, 2) + kp_produce_request_size(&req, 9);
                kp_wr_init(&wr, out, len);
                kp_wr_i32(&wr, (int32_t)n);
                if (kp_request_header_encode(&wr, 2, &h) ||
                    kp_produce_request_encode(&wr, 9, &req) || (size_t)(wr.p - out) != len) {
                        fprintf(stderr, "produce re-encode failed\n");
                        exit(1);
                }
                kp_arena_reset(&arena);
        }
        double dt = now_s() - t0;
        if (memcmp(frame, out, len) != 0) {
                fprintf(stderr, "produce re-encoding differs\n");
                exit(1);
        }
        double bytes = (double)len * iters;
        printf("produce v9 %zu-byte frame: decode+size+encode %.2f GB/s, decode alone %.1f GB/s "
               "(%.2f us/frame)\n",
               len, bytes / dt / 1e9, bytes / t_dec / 1e9, dt / iters * 1e6);
        kp_arena_release(&arena);
        free(out);
        free(frame);
}

static void bench_fetch(const uint8_t *records, int iters)
{
        static kp_fetch_response_partition_data parts[PARTS];
        kp_fetch_response_fetchable_topic_response topic;
        kp_fetch_response resp;
        kp_fetch_response_init(&resp);
        kp_fetch_response_fetchable_topic_response_init(&topic);
        for (int i = 0; i < PARTS; i++) {
                kp_fetch_response_partition_data_init(&parts[i]);
                parts[i].partition_index = i;
                parts[i].high_watermark = 1000000 + i;
                parts[i].last_stable_offset = 1000000 + i;
                parts[i].log_start_offset = 0;
                parts[i].records = (kp_bytes){records + (size_t)i * PART_BYTES, PART_BYTES};
        }
        topic.topic = kp_str_c("bench-topic");
        topic.partitions = parts;
        topic.partitions_count = PARTS;
        resp.responses = &topic;
        resp.responses_count = 1;
        kp_response_header rh;
        kp_response_header_init(&rh);
        rh.correlation_id = 42;
        int16_t hv = kp_response_header_version(1, 12);
        size_t cap = 4 + kp_response_header_size(&rh, hv) + kp_fetch_response_size(&resp, 12);
        uint8_t *out = malloc(cap);
        double t0 = now_s();
        size_t len = 0;
        for (int it = 0; it < iters; it++) {
                size_t n = kp_response_header_size(&rh, hv) + kp_fetch_response_size(&resp, 12);
                kp_wr wr;
                kp_wr_init(&wr, out, cap);
                kp_wr_i32(&wr, (int32_t)n);
                if (kp_response_header_encode(&wr, hv, &rh) ||
                    kp_fetch_response_encode(&wr, 12, &resp)) {
                        fprintf(stderr, "fetch encode: %s\n", wr.why);
                        exit(1);
                }
                len = (size_t)(wr.p - out);
        }
        double dt = now_s() - t0;
        double bytes = (double)len * iters;
        printf("fetch v12 %zu-byte response: size+encode %.2f GB/s (%.2f us/frame)\n", len,
               bytes / dt / 1e9, dt / iters * 1e6);
        free(out);
}

int main(int argc, char **argv)
{
        int iters = argc > 1 ? atoi(argv[1]) : 2000;
        if (iters <= 0)
                iters = 1;
        uint8_t *records = make_records();
        bench_produce(records, iters);
        bench_fetch(records, iters);
        free(records);
        return 0;
}
