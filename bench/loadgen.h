/*
 * loadgen.h: shared types of the librdkafka load generator (bench/loadgen*.c).
 *
 * loadgen.c parses options and prints reports; loadgen_produce.c drives a producer
 * (optionally paced at a fixed rate) and measures produce() -> delivery-report latency;
 * loadgen_consume.c drives a consumer and, in end-to-end mode, measures
 * produce() -> consumer-receives latency from a header embedded in each record value.
 */
#ifndef SL_BENCH_LOADGEN_H
#define SL_BENCH_LOADGEN_H

#include <pthread.h>
#include <stdint.h>
#include <librdkafka/rdkafka.h>

#include "hist.h"

enum lg_mode { LG_PRODUCE, LG_CONSUME, LG_E2E };

/* Every produced value starts with this header (if the record is large enough). */
#define LG_MAGIC     0x534c4c47u /* "SLLG" */
#define LG_HDR_BYTES 28          /* magic u32, run id u64, send time ns u64, seq u64 */

typedef struct lg_config {
        enum lg_mode mode;
        const char *bootstrap;
        const char *topic;
        int partitions;   /* > 0: create the topic with this many partitions if missing */
        int replication;  /* replication factor used when creating */
        uint64_t records; /* 0: unlimited (then seconds bounds the run) */
        double seconds;   /* 0: unlimited (then records bounds the run) */
        int record_size;
        const char *acks;
        const char *compression;
        double rate; /* records/s; 0 = as fast as possible */
        int linger_ms;
        int batch_size;
        int passes;         /* consume mode: read the topic this many times (rewinding at EOF) */
        int raw_inflight;   /* > 0: raw produce mode with this many requests in flight */
        int raw_idempotent; /* raw mode: InitProducerId, producer id and sequences */
        int verbose;
        const char *extra_conf[32]; /* key=value pairs passed to librdkafka */
        int n_extra_conf;
        uint64_t run_id;
} lg_config;

/* ProduceRequests as librdkafka sends and completes them, counted by interceptors
 * (per request, never per record). In flight = sent and not yet answered. Written by
 * librdkafka's broker threads under mu; read after the producer is destroyed. */
typedef struct lg_request_stats {
        pthread_mutex_t mu;
        uint64_t sent;          /* ProduceRequests fully written to a socket */
        uint64_t answered;      /* responses (or failures) of those */
        uint64_t bytes;         /* request sizes, framing included */
        uint64_t rtt_us;        /* sum of librdkafka's round-trip times */
        int inflight;           /* now */
        int inflight_max;       /* largest seen */
        uint64_t t_first_ns;    /* first send */
        uint64_t t_last_ns;     /* time of the last change of inflight */
        uint64_t inflight_area; /* integral of inflight over time while > 0, in ns */
        uint64_t busy_ns;       /* time with inflight > 0 */
} lg_request_stats;

typedef struct lg_produce_stats {
        uint64_t attempted;            /* produce() calls accepted */
        uint64_t delivered;            /* successful delivery reports */
        uint64_t failed;               /* failed delivery reports */
        uint64_t queue_full;           /* produce() returned QUEUE_FULL and was retried */
        uint64_t bytes;                /* value bytes delivered */
        uint64_t t_start_ns, t_end_ns; /* first produce() to last delivery report */
        char first_error[256];
        sl_hist dr_lat;       /* produce() (or scheduled send time when paced) -> DR, in ns */
        lg_request_stats req; /* ProduceRequests on the wire (interceptors) */
} lg_produce_stats;

typedef struct lg_consume_stats {
        uint64_t records;
        uint64_t bytes;
        uint64_t foreign; /* records without our header / run id (e2e mode) */
        uint64_t errors;
        uint64_t t_start_ns, t_end_ns; /* first to last record received */
        uint64_t pass_start_ns;        /* first record of the current pass, 0 = none yet */
        uint64_t busy_ns; /* sum over passes of first..last record (excludes rewinds) */
        char first_error[256];
        sl_hist e2e_lat; /* header send time -> received, in ns (e2e mode) */
} lg_consume_stats;

uint64_t lg_now_ns(void);
/* Applies the common client options (bootstrap, extra --conf). 0 or -1 with errstr set. */
int lg_conf_common(rd_kafka_conf_t *conf, const lg_config *cfg, char *errstr, size_t len);
/* Makes sure cfg->topic exists (creating it via the Admin API if cfg->partitions > 0).
 * Returns its partition count, or -1 with a message on stderr. */
int lg_topic_ensure(const lg_config *cfg);

/* Run the producer until cfg's record/time bound; *stop (if set) ends it early. */
int lg_produce_run(const lg_config *cfg, lg_produce_stats *st, volatile int *stop);
/* Raw produce mode: Produce v7 without librdkafka, cfg->raw_inflight requests in flight,
 * batches of cfg->batch_size bytes (default 1000000) to partition 0. 0 when every record
 * was acknowledged, 1 otherwise. */
int lg_raw_produce_run(const lg_config *cfg, lg_produce_stats *st);
/* Consume mode: read the topic from the beginning until the record bound, the time bound
 * or the end of all partitions in the last of cfg->passes passes (rewinding in between),
 * whichever comes first. */
int lg_consume_run(const lg_config *cfg, lg_consume_stats *st, volatile int *stop);
/* End-to-end mode: consumer in this thread, producer in another; both stats filled. */
int lg_e2e_run(const lg_config *cfg, lg_produce_stats *pst, lg_consume_stats *cst);

#endif
