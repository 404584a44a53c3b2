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
 *
 * Raw mode (--raw-inflight N) produces without librdkafka: Produce v7 requests with a
 * fixed number in flight, idempotent or not (--raw-idempotent), to compare the two on
 * the broker with the client's request pattern held equal.
 */
#include "loadgen.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

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

/* ---- raw mode: a pipelined producer speaking the protocol itself ---- */

/* librdkafka's idempotent producer keeps one ProduceRequest in flight per partition
 * and polls without sleeping while it waits (see bench/README.md), so it cannot
 * show what idempotence costs the broker. Raw mode sends the same v2 record batches
 * (Produce v7, one partition) with a fixed number of requests in flight; with
 * --raw-idempotent the batches carry a producer id from InitProducerId and
 * consecutive sequences, otherwise producer id -1. Nothing else differs. */

#define RAW_TOPIC_MAX  249
#define RAW_INFLIGHT   64
#define RAW_BATCH_HDR  61
#define RAW_REQ_PREFIX (64 + RAW_TOPIC_MAX)

static void be16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
        be16(p, (uint16_t)(v >> 16));
        be16(p + 2, (uint16_t)v);
}

static void be64(uint8_t *p, uint64_t v)
{
        be32(p, (uint32_t)(v >> 32));
        be32(p + 4, (uint32_t)v);
}

static uint32_t rd32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static size_t put_varint(uint8_t *p, int64_t v)
{
        uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        size_t n = 0;

        while (z >= 0x80) {
                p[n++] = (uint8_t)(z | 0x80);
                z >>= 7;
        }
        p[n++] = (uint8_t)z;
        return n;
}

/* CRC-32C (Castagnoli), SSE4.2 when the CPU has it. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t c, const uint8_t *p, size_t n)
{
        uint64_t c64 = c;

        for (; n >= 8; n -= 8, p += 8) {
                uint64_t w;

                memcpy(&w, p, 8);
                c64 = __builtin_ia32_crc32di(c64, w);
        }
        c = (uint32_t)c64;
        for (; n; n--)
                c = __builtin_ia32_crc32qi(c, *p++);
        return c;
}

static uint32_t crc32c(const uint8_t *p, size_t n)
{
        uint32_t c = 0xffffffffu;

        if (__builtin_cpu_supports("sse4.2"))
                return ~crc32c_hw(c, p, n);
        for (; n; n--) {
                c ^= *p++;
                for (int k = 0; k < 8; k++)
                        c = c >> 1 ^ (0x82f63b78u & (0u - (c & 1)));
        }
        return ~c;
}

static int raw_connect(const char *bootstrap)
{
        char host[256], *colon;
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
        size_t n = strcspn(bootstrap, ",");
        int fd = -1, one = 1;

        if (n >= sizeof(host))
                return -1;
        memcpy(host, bootstrap, n);
        host[n] = '\0';
        colon = strrchr(host, ':');
        if (!colon)
                return -1;
        *colon = '\0';
        if (getaddrinfo(host, colon + 1, &hints, &ai))
                return -1;
        fd = socket(ai->ai_family, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
                close(fd);
                fd = -1;
        }
        freeaddrinfo(ai);
        if (fd >= 0)
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        return fd;
}

static int write_all(int fd, struct iovec *iov, int n)
{
        while (n > 0) {
                ssize_t w = writev(fd, iov, n);

                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return -1;
                while (n > 0 && (size_t)w >= iov->iov_len) {
                        w -= (ssize_t)iov->iov_len;
                        iov++;
                        n--;
                }
                if (n > 0) {
                        iov->iov_base = (uint8_t *)iov->iov_base + w;
                        iov->iov_len -= (size_t)w;
                }
        }
        return 0;
}

static int read_all(int fd, uint8_t *p, size_t n)
{
        while (n > 0) {
                ssize_t r = read(fd, p, n);

                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return -1;
                p += r;
                n -= (size_t)r;
        }
        return 0;
}

/* Reads one response frame into buf (cap bytes); its length, or -1. */
static ssize_t read_frame(int fd, uint8_t *buf, size_t cap)
{
        uint8_t sz[4];
        uint32_t n;

        if (read_all(fd, sz, 4))
                return -1;
        n = rd32(sz);
        if (n < 4 || n > cap || read_all(fd, buf, n))
                return -1;
        return (ssize_t)n;
}

/* Request header v1: api key, version, correlation id, client id. Returns bytes. */
static size_t req_header(uint8_t *p, int16_t key, int16_t ver, int32_t corr)
{
        be16(p + 4, (uint16_t)key);
        be16(p + 6, (uint16_t)ver);
        be32(p + 8, (uint32_t)corr);
        be16(p + 12, 7);
        memcpy(p + 14, "loadgen", 7);
        return 21;
}

/* InitProducerId v0 without a transactional id: *pid and *epoch. */
static int raw_init_pid(int fd, int64_t *pid, int16_t *epoch, char *err, size_t len)
{
        uint8_t b[64];
        size_t n = req_header(b, 22, 0, 1);
        struct iovec iov = {.iov_base = b};
        ssize_t r;

        be16(b + n, 0xffff); /* transactional_id: null */
        be32(b + n + 2, 60000);
        n += 6;
        be32(b, (uint32_t)(n - 4));
        iov.iov_len = n;
        if (write_all(fd, &iov, 1) || (r = read_frame(fd, b, sizeof(b))) < 20) {
                snprintf(err, len, "InitProducerId: connection failed");
                return -1;
        }
        if (rd32(b + 8) >> 16) {
                snprintf(err, len, "InitProducerId: error %u", rd32(b + 8) >> 16);
                return -1;
        }
        *pid = (int64_t)((uint64_t)rd32(b + 10) << 32 | rd32(b + 14));
        *epoch = (int16_t)(rd32(b + 18) >> 16);
        return 0;
}

/* One v2 batch of nrec copies of val, producer fields set, sequence 0. Returns bytes. */
static size_t raw_batch(uint8_t *b, int nrec, const uint8_t *val, size_t vlen, int64_t pid,
                        int16_t epoch)
{
        size_t n = RAW_BATCH_HDR;

        memset(b, 0, RAW_BATCH_HDR);
        be32(b + 12, 0xffffffffu); /* partitionLeaderEpoch */
        b[16] = 2;                 /* magic */
        be32(b + 23, (uint32_t)(nrec - 1));
        be64(b + 43, (uint64_t)pid);
        be16(b + 51, (uint16_t)epoch);
        be32(b + 53, pid >= 0 ? 0 : 0xffffffffu);
        be32(b + 57, (uint32_t)nrec);
        for (int i = 0; i < nrec; i++) {
                uint8_t body[32];
                size_t m = 0;

                body[m++] = 0;                 /* attributes */
                m += put_varint(body + m, 0);  /* timestamp delta */
                m += put_varint(body + m, i);  /* offset delta */
                m += put_varint(body + m, -1); /* key: null */
                m += put_varint(body + m, (int64_t)vlen);
                n += put_varint(b + n, (int64_t)(m + vlen + 1));
                memcpy(b + n, body, m);
                memcpy(b + n + m, val, vlen);
                n += m + vlen;
                b[n++] = 0; /* headers: none */
        }
        be32(b + 8, (uint32_t)(n - 12));
        return n;
}

/* Stamps sequence and time into the batch and recomputes its CRC. */
static void raw_stamp(uint8_t *b, size_t n, int64_t pid, int32_t seq, int64_t ts_ms)
{
        if (pid >= 0)
                be32(b + 53, (uint32_t)seq);
        be64(b + 27, (uint64_t)ts_ms);
        be64(b + 35, (uint64_t)ts_ms);
        be32(b + 17, crc32c(b + 21, n - 21));
}

/* Checks one Produce v7 response (one topic, one partition). 0, or the error. */
static int raw_check(const uint8_t *b, size_t n, int32_t corr, char *err, size_t len)
{
        size_t tl;
        uint16_t code;

        if (n < 14 || (int32_t)rd32(b) != corr) {
                snprintf(err, len, "Produce: response out of order");
                return -1;
        }
        tl = rd32(b + 8) >> 16;
        if (n < 12 + tl + 10) {
                snprintf(err, len, "Produce: short response");
                return -1;
        }
        code = (uint16_t)(rd32(b + 10 + tl + 4 + 4) >> 16);
        if (code) {
                snprintf(err, len, "Produce: error %u", code);
                return -1;
        }
        return 0;
}

int lg_raw_produce_run(const lg_config *cfg, lg_produce_stats *st)
{
        size_t vlen = (size_t)cfg->record_size, tlen = strlen(cfg->topic);
        int per_batch = (cfg->batch_size > 0 ? cfg->batch_size : 1000000) / (int)(vlen + 12);
        int inflight = cfg->raw_inflight < RAW_INFLIGHT ? cfg->raw_inflight : RAW_INFLIGHT;
        int16_t acks = (int16_t)atoi(cfg->acks), epoch = 0;
        uint64_t sent_at[RAW_INFLIGHT], t0, deadline, seq = 0;
        uint8_t *val = malloc(vlen ? vlen : 1), *batch = NULL, pre[RAW_REQ_PREFIX], resp[512];
        int64_t pid = -1;
        int32_t corr = 1, acked = 1;
        int fd = -1, rc = -1, out = 0;
        size_t blen, plen;

        if (!strcmp(cfg->acks, "all"))
                acks = -1;
        if (per_batch < 1)
                per_batch = 1;
        if (!val || tlen > RAW_TOPIC_MAX || acks == 0) {
                snprintf(st->first_error, sizeof(st->first_error),
                         "raw mode: needs acks 1 or -1 and a topic name <= %d bytes",
                         RAW_TOPIC_MAX);
                goto done;
        }
        fill_payload(val, vlen, cfg->run_id);
        batch = malloc(RAW_BATCH_HDR + (size_t)per_batch * (vlen + 32));
        fd = raw_connect(cfg->bootstrap);
        if (!batch || fd < 0) {
                snprintf(st->first_error, sizeof(st->first_error), "raw mode: cannot connect");
                goto done;
        }
        if (cfg->raw_idempotent &&
            raw_init_pid(fd, &pid, &epoch, st->first_error, sizeof(st->first_error)))
                goto done;
        blen = raw_batch(batch, per_batch, val, vlen, pid, epoch);

        /* Produce v7 up to the records bytes: transactional id, acks, timeout, one
         * topic with one partition. */
        plen = req_header(pre, 0, 7, 0);
        be16(pre + plen, 0xffff);
        be16(pre + plen + 2, (uint16_t)acks);
        be32(pre + plen + 4, 30000);
        be32(pre + plen + 8, 1);
        be16(pre + plen + 12, (uint16_t)tlen);
        memcpy(pre + plen + 14, cfg->topic, tlen);
        plen += 14 + tlen;
        be32(pre + plen, 1);
        be32(pre + plen + 4, 0); /* partition 0 */
        be32(pre + plen + 8, (uint32_t)blen);
        plen += 12;
        be32(pre, (uint32_t)(plen - 4 + blen));

        t0 = lg_now_ns();
        st->t_start_ns = t0;
        deadline = cfg->seconds > 0 ? t0 + (uint64_t)(cfg->seconds * 1e9) : UINT64_MAX;
        for (;;) {
                bool more = (!cfg->records || seq < cfg->records) && lg_now_ns() < deadline;

                if (more && out < inflight) {
                        struct iovec iov[2] = {{pre, plen}, {batch, blen}};

                        be32(pre + 8, (uint32_t)corr);
                        raw_stamp(batch, blen, pid, (int32_t)(seq & 0x7fffffff),
                                  (int64_t)(time(NULL) * 1000));
                        if (write_all(fd, iov, 2)) {
                                snprintf(st->first_error, sizeof(st->first_error),
                                         "Produce: send failed");
                                break;
                        }
                        sent_at[corr % RAW_INFLIGHT] = lg_now_ns();
                        on_request_sent(NULL, fd, NULL, 0, API_PRODUCE, 7, corr, plen + blen,
                                        &st->req);
                        st->attempted += (uint64_t)per_batch;
                        seq += (uint64_t)per_batch;
                        corr++;
                        out++;
                        continue;
                }
                if (!out) {
                        rc = 0;
                        break;
                }
                ssize_t n = read_frame(fd, resp, sizeof(resp));

                if (n < 0) {
                        snprintf(st->first_error, sizeof(st->first_error),
                                 "Produce: connection closed");
                        break;
                }
                if (raw_check(resp, (size_t)n, acked, st->first_error, sizeof(st->first_error)))
                        break;
                uint64_t now = lg_now_ns();

                on_response_received(NULL, fd, NULL, 0, API_PRODUCE, 7, acked, (size_t)n,
                                     (int64_t)(now - sent_at[acked % RAW_INFLIGHT]) / 1000, 0,
                                     &st->req);
                st->delivered += (uint64_t)per_batch;
                st->bytes += (uint64_t)per_batch * vlen;
                st->t_end_ns = now;
                acked++;
                out--;
        }
        if (rc == 0)
                rc = st->delivered == st->attempted ? 0 : 1;
        else
                st->failed = st->attempted - st->delivered;
done:
        if (fd >= 0)
                close(fd);
        free(batch);
        free(val);
        return rc < 0 ? 1 : rc;
}
