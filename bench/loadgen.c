/*
 * loadgen.c: command line and reports of the librdkafka load generator.
 *
 *   loadgen produce|consume|e2e --bootstrap HOST:PORT --topic T [options]
 *
 * Prints a human-readable summary and one machine-readable line starting with
 * "RESULT " followed by space-separated key=value pairs, for scripts (bench/compare.sh).
 * Exit status: 0 all records delivered/received, 1 some failed, 2 usage error.
 */
#include "loadgen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void usage(FILE *f)
{
        fprintf(f, "usage: loadgen produce|consume|e2e --bootstrap HOST:PORT --topic NAME [opts]\n"
                   "  --partitions N     create the topic with N partitions if missing\n"
                   "  --replication N    replication factor when creating (default 1)\n"
                   "  --records N        stop after N records\n"
                   "  --seconds S        stop after S seconds (default 10 if no --records)\n"
                   "  --record-size B    value size in bytes (default 1024)\n"
                   "  --acks 0|1|-1      producer acks (default 1)\n"
                   "  --compression C    none|gzip|snappy|lz4|zstd (default none)\n"
                   "  --rate R           paced: R records/s (default: as fast as possible)\n"
                   "  --linger-ms MS     producer linger.ms (default 5)\n"
                   "  --batch-size B     producer batch.size in bytes\n"
                   "  --passes K         consume: read the topic K times (default 1)\n"
                   "  --conf KEY=VALUE   any librdkafka property (repeatable)\n"
                   "  --raw-inflight N   produce without librdkafka, N requests in flight\n"
                   "  --raw-idempotent   raw mode: idempotent batches (producer id, sequences)\n"
                   "  -v                 verbose\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s || *end || *s == '-')
                return -1;
        *out = v;
        return 0;
}

static int parse_double(const char *s, double *out)
{
        char *end;

        errno = 0;
        *out = strtod(s, &end);
        return errno || end == s || *end || *out < 0 ? -1 : 0;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
        uint64_t v;
        int neg = s[0] == '-';

        if (parse_u64(neg ? s + 1 : s, &v) || v > (uint64_t)hi + (neg ? 1 : 0))
                return -1;
        *out = neg ? -(int)v : (int)v;
        return *out < lo || *out > hi ? -1 : 0;
}

static int parse_args(int argc, char **argv, lg_config *c)
{
        if (argc < 2)
                return -1;
        if (!strcmp(argv[1], "produce"))
                c->mode = LG_PRODUCE;
        else if (!strcmp(argv[1], "consume"))
                c->mode = LG_CONSUME;
        else if (!strcmp(argv[1], "e2e"))
                c->mode = LG_E2E;
        else
                return -1;
        for (int i = 2; i < argc; i++) {
                const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
                int bad = 0, takes = 1;

                if (!strcmp(o, "-v")) {
                        c->verbose = 1;
                        takes = 0;
                } else if (!strcmp(o, "--raw-idempotent")) {
                        c->raw_idempotent = 1;
                        takes = 0;
                } else if (!v) {
                        bad = 1;
                } else if (!strcmp(o, "--bootstrap")) {
                        c->bootstrap = v;
                } else if (!strcmp(o, "--topic")) {
                        c->topic = v;
                } else if (!strcmp(o, "--partitions")) {
                        bad = parse_int(v, 1, 1000000, &c->partitions);
                } else if (!strcmp(o, "--replication")) {
                        bad = parse_int(v, -1, 100, &c->replication);
                } else if (!strcmp(o, "--records")) {
                        bad = parse_u64(v, &c->records);
                } else if (!strcmp(o, "--seconds")) {
                        bad = parse_double(v, &c->seconds);
                } else if (!strcmp(o, "--record-size")) {
                        bad = parse_int(v, 0, 64 << 20, &c->record_size);
                } else if (!strcmp(o, "--acks")) {
                        bad =
                            strcmp(v, "0") && strcmp(v, "1") && strcmp(v, "-1") && strcmp(v, "all");
                        c->acks = v;
                } else if (!strcmp(o, "--compression")) {
                        c->compression = v;
                } else if (!strcmp(o, "--rate")) {
                        bad = parse_double(v, &c->rate);
                } else if (!strcmp(o, "--linger-ms")) {
                        bad = parse_int(v, 0, 900000, &c->linger_ms);
                } else if (!strcmp(o, "--batch-size")) {
                        bad = parse_int(v, 1, 1 << 30, &c->batch_size);
                } else if (!strcmp(o, "--raw-inflight")) {
                        bad = parse_int(v, 1, 64, &c->raw_inflight);
                } else if (!strcmp(o, "--passes")) {
                        bad = parse_int(v, 1, 1000000, &c->passes);
                } else if (!strcmp(o, "--conf")) {
                        bad = c->n_extra_conf ==
                              (int)(sizeof(c->extra_conf) / sizeof(c->extra_conf[0]));
                        if (!bad)
                                c->extra_conf[c->n_extra_conf++] = v;
                } else {
                        bad = 1;
                }
                if (bad) {
                        fprintf(stderr, "loadgen: bad option %s %s\n", o, v ? v : "");
                        return -1;
                }
                i += takes;
        }
        if (!c->bootstrap || !c->topic) {
                fprintf(stderr, "loadgen: --bootstrap and --topic are required\n");
                return -1;
        }
        if (c->mode != LG_CONSUME && !c->records && c->seconds == 0)
                c->seconds = 10;
        return 0;
}

static double cpu_seconds(void)
{
        struct rusage ru;

        getrusage(RUSAGE_SELF, &ru);
        return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double us(uint64_t ns)
{
        return (double)ns / 1e3;
}

static void print_lat(const char *what, const char *key, const sl_hist *h, char *res, size_t len)
{
        size_t used = strlen(res);

        printf("%-10s latency us: p50 %.0f  p99 %.0f  p99.9 %.0f  max %.0f  mean %.0f  (n=%llu)\n",
               what, us(sl_hist_quantile(h, 0.5)), us(sl_hist_quantile(h, 0.99)),
               us(sl_hist_quantile(h, 0.999)), us(h->count ? h->max : 0), sl_hist_mean(h) / 1e3,
               (unsigned long long)h->count);
        snprintf(res + used, len - used,
                 " %s_p50_us=%.0f %s_p99_us=%.0f %s_p999_us=%.0f %s_max_us=%.0f", key,
                 us(sl_hist_quantile(h, 0.5)), key, us(sl_hist_quantile(h, 0.99)), key,
                 us(sl_hist_quantile(h, 0.999)), key, us(h->count ? h->max : 0));
}

/* ProduceRequests: how many, how big, how many in flight while any was. */
static void report_requests(const lg_request_stats *r, char *res, size_t len)
{
        size_t used = strlen(res);
        double mean = r->busy_ns ? (double)r->inflight_area / (double)r->busy_ns : 0;
        double kb = r->sent ? (double)r->bytes / (double)r->sent / 1024 : 0;
        double rtt = r->answered ? (double)r->rtt_us / (double)r->answered : 0;

        printf("produce requests %llu  mean %.1f KiB  in flight: max %d, mean %.2f while busy "
               "(%.0f%% of the time)  rtt mean %.0f us\n",
               (unsigned long long)r->sent, kb, r->inflight_max, mean,
               r->t_last_ns > r->t_first_ns
                   ? 100.0 * (double)r->busy_ns / (double)(r->t_last_ns - r->t_first_ns)
                   : 0,
               rtt);
        snprintf(res + used, len - used,
                 " produce_reqs=%llu req_kib=%.1f inflight_max=%d inflight_mean=%.2f "
                 "rtt_us=%.0f",
                 (unsigned long long)r->sent, kb, r->inflight_max, mean, rtt);
}

static void report(const lg_config *c, const lg_produce_stats *p, const lg_consume_stats *k,
                   double wall_s, double cpu_s)
{
        static const char *names[] = {"produce", "consume", "e2e"};
        char res[1024];
        uint64_t recs = c->mode == LG_CONSUME ? k->records : p->delivered;
        uint64_t bytes = c->mode == LG_CONSUME ? k->bytes : p->bytes;
        uint64_t t0 = c->mode == LG_CONSUME ? k->t_start_ns : p->t_start_ns;
        uint64_t t1 = c->mode == LG_CONSUME ? k->t_end_ns : p->t_end_ns;
        double span = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;

        /* Consume: time spent receiving, without the gaps between rewound passes. */
        if (c->mode == LG_CONSUME)
                span = (double)k->busy_ns / 1e9;
        double rps = span > 0 ? (double)recs / span : 0, mbps = span > 0 ? bytes / span / 1e6 : 0;

        printf("mode %s  topic %s  record-size %d  acks %s  compression %s  rate %s\n",
               names[c->mode], c->topic, c->record_size, c->acks, c->compression,
               c->rate > 0 ? "paced" : "max");
        printf("records %llu  bytes %llu  in %.3f s: %.0f records/s  %.2f MB/s\n",
               (unsigned long long)recs, (unsigned long long)bytes, span, rps, mbps);
        snprintf(res, sizeof(res),
                 "RESULT mode=%s records=%llu bytes=%llu seconds=%.3f rec_per_s=%.0f "
                 "mb_per_s=%.2f cpu_s=%.3f wall_s=%.3f",
                 names[c->mode], (unsigned long long)recs, (unsigned long long)bytes, span, rps,
                 mbps, cpu_s, wall_s);
        if (c->mode != LG_CONSUME) {
                size_t u;

                printf("produced %llu  delivered %llu  failed %llu  queue-full retries %llu\n",
                       (unsigned long long)p->attempted, (unsigned long long)p->delivered,
                       (unsigned long long)p->failed, (unsigned long long)p->queue_full);
                print_lat("delivery", "dr", &p->dr_lat, res, sizeof(res));
                u = strlen(res);
                snprintf(
                    res + u, sizeof(res) - u, " failed=%llu",
                    (unsigned long long)(p->failed + (p->attempted - p->delivered - p->failed)));
                if (p->first_error[0])
                        printf("producer error: %s\n", p->first_error);
                report_requests(&p->req, res, sizeof(res));
        }
        if (c->mode == LG_E2E) {
                size_t u;

                print_lat("end-to-end", "e2e", &k->e2e_lat, res, sizeof(res));
                u = strlen(res);
                snprintf(res + u, sizeof(res) - u, " received=%llu",
                         (unsigned long long)k->records);
        }
        if (c->mode != LG_PRODUCE && k->first_error[0])
                printf("consumer error: %s\n", k->first_error);
        printf("loadgen CPU %.3f s (%.0f%% of %.3f s wall)\n", cpu_s,
               wall_s > 0 ? 100 * cpu_s / wall_s : 0, wall_s);
        printf("%s\n", res);
        fflush(stdout);
}

int main(int argc, char **argv)
{
        static lg_produce_stats pst;
        static lg_consume_stats cst;
        lg_config cfg = {.replication = 1,
                         .record_size = 1024,
                         .acks = "1",
                         .compression = "none",
                         .linger_ms = 5};
        double cpu0, cpu1;
        uint64_t w0;
        int rc;

        if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
                usage(stdout);
                return 0;
        }
        if (parse_args(argc, argv, &cfg)) {
                usage(stderr);
                return 2;
        }
        cfg.run_id = ((uint64_t)getpid() << 32) ^ lg_now_ns();
        sl_hist_init(&pst.dr_lat);
        sl_hist_init(&cst.e2e_lat);

        cpu0 = cpu_seconds();
        w0 = lg_now_ns();
        if (cfg.mode == LG_PRODUCE) {
                if (lg_topic_ensure(&cfg) <= 0)
                        rc = -1;
                else if (cfg.raw_inflight)
                        rc = lg_raw_produce_run(&cfg, &pst);
                else
                        rc = lg_produce_run(&cfg, &pst, NULL);
        } else if (cfg.mode == LG_CONSUME) {
                rc = lg_consume_run(&cfg, &cst, NULL);
        } else {
                rc = lg_e2e_run(&cfg, &pst, &cst);
        }
        cpu1 = cpu_seconds();
        if (rc < 0) {
                fprintf(stderr, "loadgen: run failed\n");
                return 1;
        }
        report(&cfg, &pst, &cst, (double)(lg_now_ns() - w0) / 1e9, cpu1 - cpu0);
        return rc ? 1 : 0;
}
