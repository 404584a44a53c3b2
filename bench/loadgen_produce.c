/*
 * loadgen_produce.c: the producer side of the load generator.
 *
 * Produces fixed-size records as fast as librdkafka accepts them, or paced by the
 * monotonic clock at --rate records/s. Each record carries its send time as the message
 * opaque (no allocation of ours per record) and, in the value, a small header
 * (magic, run id, send time, sequence) for end-to-end latency. Delivery latency is
 * measured from the produce() call to the delivery-report callback; when paced it is
 * measured from the record's *scheduled* send time, so a stall that delays later sends
 * shows up in their latency (no coordinated omission).
 */
#include "loadgen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void put_u32(uint8_t *p, uint32_t v)
{
        memcpy(p, &v, 4);
}

static void put_u64(uint8_t *p, uint64_t v)
{
        memcpy(p, &v, 8);
}

/* Delivery-report callback: runs on the thread that calls rd_kafka_poll/flush. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        lg_produce_stats *st = opaque;
        uint64_t now = lg_now_ns(), sent = (uint64_t)(uintptr_t)m->_private;

        (void)rk;
        st->t_end_ns = now;
        if (m->err) {
                st->failed++;
                if (!st->first_error[0])
                        snprintf(st->first_error, sizeof(st->first_error), "%s",
                                 rd_kafka_err2str(m->err));
                return;
        }
        st->delivered++;
        st->bytes += m->len;
        sl_hist_record(&st->dr_lat, now > sent ? now - sent : 0);
}

/* Fill the value with compressible-but-not-trivial text (64-symbol alphabet). */
static void fill_payload(uint8_t *buf, size_t n, uint64_t seed)
{
        static const char alpha[] =
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
        uint64_t x = seed | 1;

        for (size_t i = 0; i < n; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf[i] = (uint8_t)alpha[x & 63];
        }
}

/* ---- ProduceRequests in flight (interceptors, broker threads) ---- */

#define API_PRODUCE 0

/* Accounts the time since the last change at the current in-flight count. */
static void req_tick(lg_request_stats *r, uint64_t now)
{
        if (r->inflight > 0 && now > r->t_last_ns) {
                r->inflight_area += (uint64_t)r->inflight * (now - r->t_last_ns);
                r->busy_ns += now - r->t_last_ns;
        }
        r->t_last_ns = now;
}

static rd_kafka_resp_err_t on_request_sent(rd_kafka_t *rk, int sockfd, const char *brokername,
                                           int32_t brokerid, int16_t api_key, int16_t api_version,
                                           int32_t corr_id, size_t size, void *opaque)
{
        lg_request_stats *r = opaque;

        (void)rk, (void)sockfd, (void)brokername, (void)brokerid, (void)api_version;
        (void)corr_id;
        if (api_key != API_PRODUCE)
                return RD_KAFKA_RESP_ERR_NO_ERROR;
        pthread_mutex_lock(&r->mu);
        req_tick(r, lg_now_ns());
        if (!r->sent)
                r->t_first_ns = r->t_last_ns;
        r->sent++;
        r->bytes += size;
        if (++r->inflight > r->inflight_max)
                r->inflight_max = r->inflight;
        pthread_mutex_unlock(&r->mu);
        return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static rd_kafka_resp_err_t on_response_received(rd_kafka_t *rk, int sockfd, const char *brokername,
                                                int32_t brokerid, int16_t api_key,
                                                int16_t api_version, int32_t corr_id, size_t size,
                                                int64_t rtt, rd_kafka_resp_err_t err, void *opaque)
{
        lg_request_stats *r = opaque;

        (void)rk, (void)sockfd, (void)brokername, (void)brokerid, (void)api_version;
        (void)corr_id, (void)size, (void)err;
        if (api_key != API_PRODUCE)
                return RD_KAFKA_RESP_ERR_NO_ERROR;
        pthread_mutex_lock(&r->mu);
        req_tick(r, lg_now_ns());
        /* A request that failed before it was sent is answered without a send. */
        if (r->inflight > 0) {
                r->inflight--;
                r->answered++;
                r->rtt_us += rtt > 0 ? (uint64_t)rtt : 0;
        }
        pthread_mutex_unlock(&r->mu);
        return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static rd_kafka_resp_err_t on_new(rd_kafka_t *rk, const rd_kafka_conf_t *conf, void *opaque,
                                  char *errstr, size_t len)
{
        rd_kafka_resp_err_t err;

        (void)conf, (void)errstr, (void)len;
        err = rd_kafka_interceptor_add_on_request_sent(rk, "loadgen", on_request_sent, opaque);
        if (!err)
                err = rd_kafka_interceptor_add_on_response_received(rk, "loadgen",
                                                                    on_response_received, opaque);
        return err;
}

static int set(rd_kafka_conf_t *c, const char *k, const char *v, char *err, size_t len)
{
        return rd_kafka_conf_set(c, k, v, err, len) == RD_KAFKA_CONF_OK ? 0 : -1;
}

static rd_kafka_t *make_producer(const lg_config *cfg, lg_produce_stats *st)
{
        char errstr[512], num[32];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;
        int bad = lg_conf_common(conf, cfg, errstr, sizeof(errstr));

        bad = bad || set(conf, "acks", cfg->acks, errstr, sizeof(errstr));
        bad = bad || set(conf, "compression.type", cfg->compression, errstr, sizeof(errstr));
        snprintf(num, sizeof(num), "%d", cfg->linger_ms);
        bad = bad || set(conf, "linger.ms", num, errstr, sizeof(errstr));
        if (cfg->batch_size > 0) {
                snprintf(num, sizeof(num), "%d", cfg->batch_size);
                bad = bad || set(conf, "batch.size", num, errstr, sizeof(errstr));
        }
        /* A deep local queue: the benchmark measures the broker, not our backpressure. */
        bad = bad || set(conf, "queue.buffering.max.messages", "1000000", errstr, sizeof(errstr));
        bad = bad || set(conf, "queue.buffering.max.kbytes", "1048576", errstr, sizeof(errstr));
        if (bad) {
                fprintf(stderr, "loadgen: producer config: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        pthread_mutex_init(&st->req.mu, NULL);
        if (rd_kafka_conf_interceptor_add_on_new(conf, "loadgen", on_new, &st->req)) {
                fprintf(stderr, "loadgen: cannot add the request interceptors\n");
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_opaque(conf, st);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "loadgen: rd_kafka_new: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
        }
        return rk;
}

static void sleep_until(uint64_t t_ns)
{
        struct timespec ts = {.tv_sec = (time_t)(t_ns / 1000000000ull),
                              .tv_nsec = (long)(t_ns % 1000000000ull)};

        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
}

/* Produce one record, retrying while the local queue is full. 0, or -1 on a hard error. */
static int produce_one(rd_kafka_t *rk, rd_kafka_topic_t *rkt, lg_produce_stats *st, uint8_t *val,
                       size_t len, uint64_t sent_ns, volatile int *stop)
{
        for (;;) {
                if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, val, len,
                                     NULL, 0, (void *)(uintptr_t)sent_ns) == 0) {
                        st->attempted++;
                        return 0;
                }
                if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                        snprintf(st->first_error, sizeof(st->first_error), "produce: %s",
                                 rd_kafka_err2str(rd_kafka_last_error()));
                        return -1;
                }
                st->queue_full++;
                rd_kafka_poll(rk, 5);
                if (stop && *stop)
                        return -1;
        }
}

int lg_produce_run(const lg_config *cfg, lg_produce_stats *st, volatile int *stop)
{
        size_t len = (size_t)cfg->record_size;
        uint8_t *val = malloc(len ? len : 1);
        rd_kafka_t *rk = NULL;
        rd_kafka_topic_t *rkt = NULL;
        uint64_t t0, deadline, seq = 0;
        double period_ns = cfg->rate > 0 ? 1e9 / cfg->rate : 0;
        int rc = -1;

        if (!val)
                return -1;
        fill_payload(val, len, cfg->run_id);
        rk = make_producer(cfg, st);
        if (!rk)
                goto out;
        rkt = rd_kafka_topic_new(rk, cfg->topic, NULL);
        if (!rkt)
                goto out;

        t0 = lg_now_ns();
        st->t_start_ns = t0;
        deadline = cfg->seconds > 0 ? t0 + (uint64_t)(cfg->seconds * 1e9) : UINT64_MAX;
        while ((!cfg->records || seq < cfg->records) && !(stop && *stop)) {
                uint64_t now = lg_now_ns(), sent;

                if (now >= deadline)
                        break;
                if (period_ns > 0) {
                        sent = t0 + (uint64_t)((double)seq * period_ns);
                        if (sent > now) {
                                rd_kafka_poll(rk, 0);
                                sleep_until(sent);
                        }
                } else {
                        sent = now;
                }
                if (len >= LG_HDR_BYTES) {
                        put_u32(val, LG_MAGIC);
                        put_u64(val + 4, cfg->run_id);
                        put_u64(val + 12, sent);
                        put_u64(val + 20, seq);
                }
                if (produce_one(rk, rkt, st, val, len, sent, stop))
                        break;
                seq++;
                if ((seq & 255) == 0)
                        rd_kafka_poll(rk, 0);
        }
        if (rd_kafka_flush(rk, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                int left = rd_kafka_outq_len(rk);

                if (!st->first_error[0])
                        snprintf(st->first_error, sizeof(st->first_error),
                                 "%d records undelivered after 60 s flush", left);
        }
        rc = st->failed || st->delivered != st->attempted ? 1 : 0;
out:
        if (rkt)
                rd_kafka_topic_destroy(rkt);
        if (rk)
                rd_kafka_destroy(rk);
        free(val);
        return rc;
}
