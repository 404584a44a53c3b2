/*
 * loadgen_client.c: librdkafka plumbing shared by the load generator's modes:
 * the monotonic clock, common client configuration, and making sure the benchmark
 * topic exists (Metadata first, CreateTopics through the Admin API only when missing).
 */
#include "loadgen.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

uint64_t lg_now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v, char *errstr, size_t len)
{
        if (rd_kafka_conf_set(conf, k, v, errstr, len) != RD_KAFKA_CONF_OK)
                return -1;
        return 0;
}

int lg_conf_common(rd_kafka_conf_t *conf, const lg_config *cfg, char *errstr, size_t len)
{
        if (conf_set(conf, "bootstrap.servers", cfg->bootstrap, errstr, len))
                return -1;
        for (int i = 0; i < cfg->n_extra_conf; i++) {
                char key[256];
                const char *kv = cfg->extra_conf[i], *eq = strchr(kv, '=');

                if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key)) {
                        snprintf(errstr, len, "--conf wants key=value, got '%s'", kv);
                        return -1;
                }
                memcpy(key, kv, (size_t)(eq - kv));
                key[eq - kv] = '\0';
                if (conf_set(conf, key, eq + 1, errstr, len))
                        return -1;
        }
        return 0;
}

/* Partition count of the topic, 0 if the broker says it does not exist, -1 on failure. */
static int topic_partitions(rd_kafka_t *rk, const char *topic)
{
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err;
        int n = -1;

        if (!rkt)
                return -1;
        err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
        if (err) {
                fprintf(stderr, "loadgen: metadata for %s: %s\n", topic, rd_kafka_err2str(err));
                goto out;
        }
        if (md->topic_cnt != 1) {
                n = 0;
                goto out;
        }
        if (md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
            md->topics[0].partition_cnt == 0)
                n = 0;
        else if (md->topics[0].err)
                fprintf(stderr, "loadgen: metadata for %s: %s\n", topic,
                        rd_kafka_err2str(md->topics[0].err));
        else
                n = md->topics[0].partition_cnt;
out:
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        return n;
}

static int create_topic(rd_kafka_t *rk, const lg_config *cfg)
{
        char errstr[512];
        rd_kafka_NewTopic_t *nt;
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_event_t *ev = NULL;
        int rc = -1;

        nt = rd_kafka_NewTopic_new(cfg->topic, cfg->partitions, cfg->replication, errstr,
                                   sizeof(errstr));
        if (!nt) {
                fprintf(stderr, "loadgen: NewTopic: %s\n", errstr);
                goto out;
        }
        rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
        ev = rd_kafka_queue_poll(q, 15000);
        if (!ev) {
                fprintf(stderr, "loadgen: CreateTopics timed out\n");
                goto out;
        }
        if (rd_kafka_event_error(ev)) {
                fprintf(stderr, "loadgen: CreateTopics: %s\n", rd_kafka_event_error_string(ev));
                goto out;
        }
        {
                const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
                size_t cnt = 0;
                const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &cnt);

                for (size_t i = 0; i < cnt; i++) {
                        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);

                        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                                fprintf(stderr, "loadgen: CreateTopics %s: %s\n",
                                        rd_kafka_topic_result_name(tr[i]),
                                        rd_kafka_topic_result_error_string(tr[i]));
                                goto out;
                        }
                }
        }
        rc = 0;
out:
        if (ev)
                rd_kafka_event_destroy(ev);
        if (nt)
                rd_kafka_NewTopic_destroy(nt);
        rd_kafka_queue_destroy(q);
        return rc;
}

int lg_topic_ensure(const lg_config *cfg)
{
        char errstr[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;
        int n = -1;

        /* Metadata must not auto-create the topic behind our back. */
        if (lg_conf_common(conf, cfg, errstr, sizeof(errstr)) ||
            rd_kafka_conf_set(conf, "allow.auto.create.topics", "false", errstr, sizeof(errstr)) !=
                RD_KAFKA_CONF_OK) {
                fprintf(stderr, "loadgen: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "loadgen: rd_kafka_new: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        n = topic_partitions(rk, cfg->topic);
        if (n == 0 && cfg->partitions > 0) {
                if (create_topic(rk, cfg) == 0) {
                        /* Leaders may take a moment to appear after creation. */
                        for (int i = 0; i < 50 && n <= 0; i++) {
                                n = topic_partitions(rk, cfg->topic);
                                if (n <= 0) {
                                        struct timespec d = {0, 100000000};

                                        nanosleep(&d, NULL);
                                }
                        }
                } else {
                        n = -1;
                }
        }
        if (n == 0)
                fprintf(stderr, "loadgen: topic %s does not exist (use --partitions N)\n",
                        cfg->topic);
        else if (n > 0 && cfg->partitions > 0 && n != cfg->partitions)
                fprintf(stderr, "loadgen: note: topic %s has %d partitions, not %d\n", cfg->topic,
                        n, cfg->partitions);
        rd_kafka_destroy(rk);
        return n > 0 ? n : -1;
}
