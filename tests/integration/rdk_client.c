/*
 * rdk_client: the librdkafka client used by the integration tests.
 *
 * One small command per step of a test, so a Python driver can run librdkafka
 * against a real serpentlog process and check what comes back:
 *   rdk_client create  BOOTSTRAP TOPIC PARTITIONS
 *   rdk_client delete  BOOTSTRAP TOPIC
 *   rdk_client produce BOOTSTRAP TOPIC START COUNT CODEC TS0 [TIMEOUT_MS]
 *        prints "i partition offset" per acknowledged record (acks=all)
 *   rdk_client consume BOOTSTRAP TOPIC PARTITIONS TOTAL
 *        assign()s every partition from the beginning, prints one JSON line per record
 *   rdk_client offset  BOOTSTRAP TOPIC PARTITION TS   (TS -2 earliest, -1 latest)
 * Records are generated exactly as tests/integration/dataset.py describes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#define OP_TIMEOUT_MS 30000

static int delivered_ok;
static int delivered_err;

static void die(const char *what, const char *detail)
{
        fprintf(stderr, "rdk_client: %s: %s\n", what, detail);
        exit(2);
}

static void conf_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
        char err[256];

        if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK)
                die(k, err);
}

static rd_kafka_t *client_new(rd_kafka_type_t type, const char *bootstrap, rd_kafka_conf_t *conf)
{
        char err[512];
        rd_kafka_t *rk;

        if (!conf)
                conf = rd_kafka_conf_new();
        conf_set(conf, "bootstrap.servers", bootstrap);
        conf_set(conf, "client.id", "sl-integ-rdk");
        rk = rd_kafka_new(type, conf, err, sizeof(err));
        if (!rk)
                die("rd_kafka_new", err);
        return rk;
}

/* Record i of the shared dataset (see dataset.py). */
static void make_key(char *buf, size_t n, long i)
{
        snprintf(buf, n, "k%06ld", i);
}

static size_t make_value(char *buf, size_t n, long i)
{
        size_t len = (size_t)snprintf(buf, n, "v%06ld-", i);
        for (long r = 0; r < 8 + i % 5 && len + 11 < n; r++) {
                memcpy(buf + len, "serpentlog-", 11);
                len += 11;
        }
        buf[len] = '\0';
        return len;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        long i = (long)(intptr_t)m->_private;

        (void)rk;
        (void)opaque;
        if (m->err) {
                if (delivered_err++ < 5)
                        fprintf(stderr, "rdk_client: record %ld failed: %s\n", i,
                                rd_kafka_err2str(m->err));
                return;
        }
        delivered_ok++;
        printf("%ld %" PRId32 " %" PRId64 "\n", i, m->partition, m->offset);
        fflush(stdout);
}

static int cmd_produce(const char *bootstrap, const char *topic, long start, long count,
                       const char *codec, int64_t ts0, const char *timeout_ms)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;
        char key[32], val[256], idx[32];

        conf_set(conf, "compression.codec", codec);
        conf_set(conf, "acks", "all");
        conf_set(conf, "linger.ms", "20");
        conf_set(conf, "message.timeout.ms", timeout_ms);
        conf_set(conf, "max.in.flight.requests.per.connection", "1");
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        rk = client_new(RD_KAFKA_PRODUCER, bootstrap, conf);

        for (long i = start; i < start + count; i++) {
                rd_kafka_headers_t *hdrs = rd_kafka_headers_new(2);
                rd_kafka_resp_err_t err;
                size_t vlen = make_value(val, sizeof(val), i);

                make_key(key, sizeof(key), i);
                snprintf(idx, sizeof(idx), "%ld", i);
                rd_kafka_header_add(hdrs, "codec", -1, codec, -1);
                rd_kafka_header_add(hdrs, "idx", -1, idx, -1);
                for (;;) {
                        err = rd_kafka_producev(
                            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(val, vlen),
                            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_TIMESTAMP(ts0 + i),
                            RD_KAFKA_V_OPAQUE((void *)(intptr_t)i), RD_KAFKA_V_END);
                        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                                break;
                        rd_kafka_poll(rk, 50);
                }
                if (err) {
                        rd_kafka_headers_destroy(hdrs);
                        fprintf(stderr, "rdk_client: produce %ld: %s\n", i, rd_kafka_err2str(err));
                        delivered_err++;
                        break;
                }
                rd_kafka_poll(rk, 0);
                if (delivered_err) /* broker gone (kill test): stop feeding */
                        break;
        }
        while (rd_kafka_outq_len(rk) > 0)
                rd_kafka_poll(rk, 100);
        rd_kafka_destroy(rk);
        fprintf(stderr, "rdk_client: %d acknowledged, %d failed\n", delivered_ok, delivered_err);
        return delivered_err ? 1 : 0;
}

static void json_str(const void *p, size_t n)
{
        const unsigned char *s = p;

        putchar('"');
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '"' || s[i] == '\\')
                        printf("\\%c", s[i]);
                else if (s[i] < 0x20 || s[i] >= 0x7f)
                        printf("\\u%04x", s[i]);
                else
                        putchar(s[i]);
        }
        putchar('"');
}

static void print_record(const rd_kafka_message_t *m)
{
        rd_kafka_headers_t *hdrs = NULL;
        rd_kafka_timestamp_type_t tstype;
        int64_t ts = rd_kafka_message_timestamp(m, &tstype);
        const char *hname;
        const void *hval;
        size_t hsize;

        printf("{\"p\":%" PRId32 ",\"o\":%" PRId64 ",\"ts\":%" PRId64 ",\"k\":", m->partition,
               m->offset, ts);
        if (m->key)
                json_str(m->key, m->key_len);
        else
                printf("null");
        printf(",\"v\":");
        if (m->payload)
                json_str(m->payload, m->len);
        else
                printf("null");
        printf(",\"h\":[");
        if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                for (size_t i = 0; !rd_kafka_header_get_all(hdrs, i, &hname, &hval, &hsize); i++) {
                        printf("%s[", i ? "," : "");
                        json_str(hname, strlen(hname));
                        putchar(',');
                        if (hval)
                                json_str(hval, hsize);
                        else
                                printf("null");
                        putchar(']');
                }
        }
        printf("]}\n");
}

static int cmd_consume(const char *bootstrap, const char *topic, int parts, long total)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(parts);
        rd_kafka_t *rk;
        long got = 0;
        int eof = 0, rc = 0;
        time_t last_progress = time(NULL);
        char *at_eof = calloc((size_t)parts, 1);
        rd_kafka_resp_err_t err;

        /* assign() needs a group id, but nothing here joins the group or commits. */
        conf_set(conf, "group.id", "sl-integ-rdk");
        conf_set(conf, "enable.partition.eof", "true");
        conf_set(conf, "enable.auto.commit", "false");
        conf_set(conf, "auto.offset.reset", "error");
        rk = client_new(RD_KAFKA_CONSUMER, bootstrap, conf);
        for (int p = 0; p < parts; p++)
                rd_kafka_topic_partition_list_add(tp, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
        if ((err = rd_kafka_assign(rk, tp)))
                die("assign", rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(tp);

        while (!(got >= total && eof == parts)) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);

                if (time(NULL) - last_progress > 60) {
                        fprintf(stderr, "rdk_client: consume stalled at %ld/%ld\n", got, total);
                        rc = 1;
                        break;
                }
                if (!m)
                        continue;
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        if (m->partition >= 0 && m->partition < parts && !at_eof[m->partition]) {
                                at_eof[m->partition] = 1;
                                eof++;
                        }
                } else if (m->err && !m->rkt) {
                        /* Not about our partitions (e.g. the group coordinator
                         * lookup that assign() does not need): note and go on. */
                        fprintf(stderr, "rdk_client: consumer event: %s\n",
                                rd_kafka_message_errstr(m));
                } else if (m->err) {
                        fprintf(stderr, "rdk_client: consume error on p%" PRId32 ": %s\n",
                                m->partition, rd_kafka_message_errstr(m));
                        rc = 1;
                        rd_kafka_message_destroy(m);
                        break;
                } else {
                        print_record(m);
                        got++;
                        last_progress = time(NULL);
                        if (m->partition >= 0 && m->partition < parts && at_eof[m->partition]) {
                                at_eof[m->partition] = 0;
                                eof--;
                        }
                }
                rd_kafka_message_destroy(m);
        }
        fflush(stdout);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        free(at_eof);
        return rc;
}

static int cmd_offset(const char *bootstrap, const char *topic, int part, int64_t ts)
{
        rd_kafka_t *rk = client_new(RD_KAFKA_CONSUMER, bootstrap, NULL);
        rd_kafka_resp_err_t err;
        int64_t lo, hi, off;

        if (ts < 0) {
                err = rd_kafka_query_watermark_offsets(rk, topic, part, &lo, &hi, OP_TIMEOUT_MS);
                off = ts == -2 ? lo : hi;
        } else {
                rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
                rd_kafka_topic_partition_list_add(tp, topic, part)->offset = ts;
                err = rd_kafka_offsets_for_times(rk, tp, OP_TIMEOUT_MS);
                if (!err)
                        err = tp->elems[0].err;
                off = tp->elems[0].offset;
                rd_kafka_topic_partition_list_destroy(tp);
        }
        rd_kafka_destroy(rk);
        if (err) {
                fprintf(stderr, "rdk_client: offset query: %s\n", rd_kafka_err2str(err));
                return 1;
        }
        printf("%" PRId64 "\n", off);
        return 0;
}

/* Run one admin operation and wait for its result event; returns the topic's error. */
static int admin_topics(const char *bootstrap, const char *topic, int parts)
{
        rd_kafka_t *rk = client_new(RD_KAFKA_PRODUCER, bootstrap, NULL);
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_ANY);
        const rd_kafka_topic_result_t **res;
        rd_kafka_event_t *ev;
        size_t n = 0;
        char err[256];
        int rc = 1;

        rd_kafka_AdminOptions_set_operation_timeout(opts, OP_TIMEOUT_MS, err, sizeof(err));
        rd_kafka_AdminOptions_set_request_timeout(opts, OP_TIMEOUT_MS, err, sizeof(err));
        if (parts > 0) {
                rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, parts, 1, err, sizeof(err));
                if (!nt)
                        die("NewTopic", err);
                rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
                rd_kafka_NewTopic_destroy(nt);
        } else {
                rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(topic);
                rd_kafka_DeleteTopics(rk, &dt, 1, opts, q);
                rd_kafka_DeleteTopic_destroy(dt);
        }
        ev = rd_kafka_queue_poll(q, OP_TIMEOUT_MS + 5000);
        if (!ev) {
                fprintf(stderr, "rdk_client: admin request timed out\n");
                goto out_destroy;
        }
        if (rd_kafka_event_error(ev)) {
                fprintf(stderr, "rdk_client: admin: %s\n", rd_kafka_event_error_string(ev));
                goto out_event;
        }
        if (parts > 0)
                res =
                    rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        else
                res =
                    rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
        if (n != 1) {
                fprintf(stderr, "rdk_client: admin: %zu topic results\n", n);
                goto out_event;
        }
        rc = rd_kafka_topic_result_error(res[0]);
        if (rc)
                fprintf(stderr, "rdk_client: admin %s: %s\n", topic,
                        rd_kafka_topic_result_error_string(res[0]));
out_event:
        rd_kafka_event_destroy(ev);
out_destroy:
        rd_kafka_AdminOptions_destroy(opts);
        rd_kafka_queue_destroy(q);
        rd_kafka_destroy(rk);
        return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
        const char *cmd = argc > 1 ? argv[1] : "";

        if (!strcmp(cmd, "create") && argc == 5)
                return admin_topics(argv[2], argv[3], atoi(argv[4]));
        if (!strcmp(cmd, "delete") && argc == 4)
                return admin_topics(argv[2], argv[3], 0);
        if (!strcmp(cmd, "produce") && (argc == 8 || argc == 9))
                return cmd_produce(argv[2], argv[3], atol(argv[4]), atol(argv[5]), argv[6],
                                   strtoll(argv[7], NULL, 10), argc == 9 ? argv[8] : "30000");
        if (!strcmp(cmd, "consume") && argc == 6)
                return cmd_consume(argv[2], argv[3], atoi(argv[4]), atol(argv[5]));
        if (!strcmp(cmd, "offset") && argc == 6)
                return cmd_offset(argv[2], argv[3], atoi(argv[4]), strtoll(argv[5], NULL, 10));
        fprintf(stderr, "usage: rdk_client create|delete|produce|consume|offset ... "
                        "(see the header of rdk_client.c)\n");
        return 2;
}
