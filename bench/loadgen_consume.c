/*
 * loadgen_consume.c: the consumer side of the load generator, and end-to-end mode.
 *
 * The consumer uses explicit partition assignment (Metadata, ListOffsets, Fetch only; no
 * group coordinator), so it works against brokers without consumer-group support.
 * Consume mode reads every partition from the beginning until the record bound, the
 * time bound or end of all partitions; --passes K rewinds and rereads K times (useful
 * when a broker retains only a few MB, as librdkafka's mock cluster does). End-to-end mode pins the
 * start offsets to the current high watermarks, then starts the producer in a second thread and
 * measures produce() -> received latency from the header in each value (same process, same
 * monotonic clock, so no clock skew).
 */
#include "loadgen.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Close the current pass's busy span (first to last record). */
static void end_pass(lg_consume_stats *st)
{
        if (st->pass_start_ns)
                st->busy_ns += st->t_end_ns - st->pass_start_ns;
        st->pass_start_ns = 0;
}

static uint32_t get_u32(const uint8_t *p)
{
        uint32_t v;

        memcpy(&v, p, 4);
        return v;
}

static uint64_t get_u64(const uint8_t *p)
{
        uint64_t v;

        memcpy(&v, p, 8);
        return v;
}

static rd_kafka_t *make_consumer(const lg_config *cfg)
{
        char errstr[512], group[64];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;
        int bad = lg_conf_common(conf, cfg, errstr, sizeof(errstr));

        /* group.id is required by the API; nothing is committed and no group is joined. */
        snprintf(group, sizeof(group), "sl-loadgen-%016llx", (unsigned long long)cfg->run_id);
        bad = bad || rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr));
        bad = bad || rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr));
        bad =
            bad || rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof(errstr));
        if (bad) {
                fprintf(stderr, "loadgen: consumer config: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "loadgen: rd_kafka_new: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        rd_kafka_poll_set_consumer(rk);
        return rk;
}

/* Assign partitions 0..n-1 at `start` (RD_KAFKA_OFFSET_BEGINNING) or, if start_at_high,
 * at each partition's current high watermark. */
static int assign_all(rd_kafka_t *rk, const lg_config *cfg, int n, int start_at_high)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
        rd_kafka_resp_err_t err;
        int rc = -1;

        for (int p = 0; p < n; p++) {
                int64_t off = RD_KAFKA_OFFSET_BEGINNING;

                if (start_at_high) {
                        int64_t lo, hi;

                        err = rd_kafka_query_watermark_offsets(rk, cfg->topic, p, &lo, &hi, 10000);
                        if (err) {
                                fprintf(stderr, "loadgen: watermarks %s[%d]: %s\n", cfg->topic, p,
                                        rd_kafka_err2str(err));
                                goto out;
                        }
                        off = hi;
                }
                rd_kafka_topic_partition_list_add(l, cfg->topic, p)->offset = off;
        }
        err = rd_kafka_assign(rk, l);
        if (err) {
                fprintf(stderr, "loadgen: assign: %s\n", rd_kafka_err2str(err));
                goto out;
        }
        rc = 0;
out:
        rd_kafka_topic_partition_list_destroy(l);
        return rc;
}

/* Seek every assigned partition back to its beginning (re-assigning the same
 * partitions while their fetchers run trips an assertion in librdkafka 2.0). */
static int rewind_all(rd_kafka_t *rk, const lg_config *cfg, int n)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
        rd_kafka_error_t *error;
        int rc = 0;

        for (int p = 0; p < n; p++)
                rd_kafka_topic_partition_list_add(l, cfg->topic, p)->offset =
                    RD_KAFKA_OFFSET_BEGINNING;
        error = rd_kafka_seek_partitions(rk, l, 10000);
        /* librdkafka 2.0.2 gives up waiting after about 10 ms whatever the timeout (seen
         * when a long-polled Fetch is still out). The seek itself stays queued and takes
         * effect: poll() drops messages of the old fetch version, so a pass still starts at
         * the beginning. Only a real failure ends the run. */
        if (error && rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR__TIMED_OUT) {
                rd_kafka_error_destroy(error);
                error = NULL;
                for (int p = 0; p < l->cnt; p++)
                        if (l->elems[p].err == RD_KAFKA_RESP_ERR__TIMED_OUT)
                                l->elems[p].err = RD_KAFKA_RESP_ERR_NO_ERROR;
        }
        if (error) {
                fprintf(stderr, "loadgen: rewind: %s\n", rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
                rc = -1;
        }
        for (int p = 0; p < l->cnt && !rc; p++) {
                if (l->elems[p].err) {
                        fprintf(stderr, "loadgen: rewind %s[%d]: %s\n", cfg->topic, p,
                                rd_kafka_err2str(l->elems[p].err));
                        rc = -1;
                }
        }
        rd_kafka_topic_partition_list_destroy(l);
        return rc;
}

/* Account one consumed message. Returns 1 if it was a partition EOF. */
static int on_message(const lg_config *cfg, lg_consume_stats *st, const rd_kafka_message_t *m,
                      int e2e)
{
        uint64_t now;

        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                return 1;
        if (m->err) {
                st->errors++;
                if (!st->first_error[0])
                        snprintf(st->first_error, sizeof(st->first_error), "%s",
                                 rd_kafka_message_errstr(m));
                return 0;
        }
        now = lg_now_ns();
        if (!st->records)
                st->t_start_ns = now;
        if (!st->pass_start_ns)
                st->pass_start_ns = now;
        st->t_end_ns = now;
        if (e2e) {
                const uint8_t *v = m->payload;

                if (m->len < LG_HDR_BYTES || get_u32(v) != LG_MAGIC ||
                    get_u64(v + 4) != cfg->run_id) {
                        st->foreign++;
                        return 0;
                }
                sl_hist_record(&st->e2e_lat, now - get_u64(v + 12));
        }
        st->records++;
        st->bytes += m->len;
        return 0;
}

int lg_consume_run(const lg_config *cfg, lg_consume_stats *st, volatile int *stop)
{
        int n = lg_topic_ensure(cfg), rc = -1, eofs = 0, pass = 1;
        rd_kafka_t *rk = NULL;
        uint8_t *at_eof = NULL;
        uint64_t deadline;

        if (n <= 0)
                return -1;
        at_eof = calloc((size_t)n, 1);
        rk = make_consumer(cfg);
        if (!rk || !at_eof || assign_all(rk, cfg, n, 0))
                goto out;
        deadline = cfg->seconds > 0 ? lg_now_ns() + (uint64_t)(cfg->seconds * 1e9) : UINT64_MAX;
        while (!(stop && *stop) && (!cfg->records || st->records < cfg->records) &&
               lg_now_ns() < deadline) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
                int p;

                if (!m)
                        continue;
                p = m->partition;
                if (on_message(cfg, st, m, 0)) {
                        if (p >= 0 && p < n && !at_eof[p]) {
                                at_eof[p] = 1;
                                eofs++;
                        }
                } else if (!m->err && p >= 0 && p < n && at_eof[p]) {
                        at_eof[p] = 0;
                        eofs--;
                }
                rd_kafka_message_destroy(m);
                if (eofs < n)
                        continue;
                /* Every partition at its end: rewind for another pass, or finish. */
                if (pass >= cfg->passes)
                        break;
                pass++;
                end_pass(st);
                memset(at_eof, 0, (size_t)n);
                eofs = 0;
                if (rewind_all(rk, cfg, n))
                        goto out;
        }
        end_pass(st);
        rc = st->errors ? 1 : 0;
out:
        if (rk) {
                rd_kafka_consumer_close(rk);
                rd_kafka_destroy(rk);
        }
        free(at_eof);
        return rc;
}

struct producer_thread {
        const lg_config *cfg;
        lg_produce_stats *st;
        volatile int stop;
        volatile int done;
        int rc;
};

static void *producer_main(void *arg)
{
        struct producer_thread *pt = arg;

        pt->rc = lg_produce_run(pt->cfg, pt->st, &pt->stop);
        __atomic_store_n(&pt->done, 1, __ATOMIC_RELEASE);
        return NULL;
}

int lg_e2e_run(const lg_config *cfg, lg_produce_stats *pst, lg_consume_stats *cst)
{
        struct producer_thread pt = {.cfg = cfg, .st = pst};
        pthread_t tid;
        int n = lg_topic_ensure(cfg), rc = -1, started = 0;
        uint64_t drain_deadline = 0;
        rd_kafka_t *rk = NULL;

        if (n <= 0)
                return -1;
        if (cfg->record_size < LG_HDR_BYTES) {
                fprintf(stderr, "loadgen: e2e needs --record-size >= %d\n", LG_HDR_BYTES);
                return -1;
        }
        rk = make_consumer(cfg);
        if (!rk || assign_all(rk, cfg, n, 1))
                goto out;
        if (pthread_create(&tid, NULL, producer_main, &pt))
                goto out;
        started = 1;
        for (;;) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
                uint64_t now;

                if (m) {
                        on_message(cfg, cst, m, 1);
                        rd_kafka_message_destroy(m);
                }
                if (!__atomic_load_n(&pt.done, __ATOMIC_ACQUIRE))
                        continue;
                /* Producer finished: drain what was delivered, give up 10 s later. */
                now = lg_now_ns();
                if (!drain_deadline)
                        drain_deadline = now + 10000000000ull;
                if (cst->records >= pst->delivered || now >= drain_deadline)
                        break;
        }
        rc = pt.rc || cst->errors || cst->records < pst->delivered ? 1 : 0;
        if (cst->records < pst->delivered && !cst->first_error[0])
                snprintf(cst->first_error, sizeof(cst->first_error),
                         "received %llu of %llu delivered records",
                         (unsigned long long)cst->records, (unsigned long long)pst->delivered);
out:
        if (started) {
                pt.stop = 1;
                pthread_join(tid, NULL);
        }
        if (rk) {
                rd_kafka_consumer_close(rk);
                rd_kafka_destroy(rk);
        }
        return rc;
}
