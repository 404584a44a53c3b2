/* broker/broker_int.h — private state shared by the files of broker/ (never
 * included from outside the folder): the shard struct, the broker-wide
 * globals set once at startup, and the internal entry points between shard.c,
 * server.c, conn.c, topics*.c and partition.c. */
#ifndef SL_BROKER_INT_H
#define SL_BROKER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "net.h"
#include "reactor.h"
#include "request.h"
#include "ring.h"
#include "shard.h"
#include "topics.h"

#define SL_RING_SLOTS          1024 /* per ordered shard pair; full = backpressure */
#define SL_MAINTENANCE_TICK_MS 1000
#define SL_RETENTION_CHECK_MS  300000

typedef struct sl_conn sl_conn;
typedef struct sl_xcall_fifo {
        sl_xcall *head;
        sl_xcall *tail;
} sl_xcall_fifo;

/* Shutdown phases, advanced by sl_server_stop (broker-wide, g.phase). */
enum { SL_PHASE_RUN = 0, SL_PHASE_DRAIN = 1, SL_PHASE_CLOSE = 2 };

/* One shard. Owned by its thread; other threads touch only the rings' far
 * ends, the reactor's wake/stop, and (under io_mu) the helper queues. */
struct sl_shard {
        sl_shard_id id;
        pthread_t thread;
        sl_reactor *reactor;
        sl_net net;
        int lsock; /* listener, -1 when closed */
        /* cross-shard messaging */
        sl_ring **out;       /* out[j]: this shard -> j (we produce) */
        sl_ring **in;        /* in[j]: j -> this shard (we consume) */
        sl_xcall_fifo *pend; /* per target: waiting for ring room */
        uint32_t pend_count; /* xcalls in all pend FIFOs */
        bool *wake;          /* per target: pushed since the last wake */
        sl_xcall_fifo local; /* calls to ourselves, run from the loop */
        /* I/O helper thread: blocking disk work (sl_shard_offload) */
        pthread_t io_thread;
        pthread_mutex_t io_mu;
        pthread_cond_t io_cv;
        sl_xcall_fifo io_jobs; /* under io_mu */
        sl_xcall_fifo io_done; /* under io_mu */
        bool io_stop;          /* under io_mu */
        /* connections */
        sl_conn *conns; /* list of open connections */
        uint32_t nconns;
        sl_conn *flush_head;  /* connections with responses to write */
        sl_request *req_free; /* pooled requests */
        uint32_t nreq_free;
        const sl_config *cfg; /* broker config in force here (NULL: g_sl.cfg), broker_config.c */
        /* topics and partitions */
        const sl_topics_snap *topics; /* current snapshot */
        sl_partition **ptab;          /* hash table of owned partitions */
        uint32_t ptab_mask;
        uint32_t nparts;
        /* group commit (partition.c) */
        sl_partition *dirty_head;  /* partitions with sync waiters */
        struct sl_commit *commit;  /* batches on the helpers, NULL before the first */
        sl_timer flush_timer;      /* maintenance: flush policy, retention */
        int64_t last_retention_ms; /* wall clock of the last retention pass */
        /* lifecycle */
        int seen_phase; /* last g.phase acted on */
        bool drained;   /* reported to g.drained */
        int start_err;  /* startup failure, 0 if fine */
};

/* Broker-wide state, written before the shard threads start (read-only
 * afterwards, except the atomics). */
typedef struct sl_globals {
        sl_config cfg;
        uint32_t nshards;
        sl_shard **shards;
        char adv_host[SL_CONFIG_ADDR_MAX]; /* advertised host for Metadata */
        int32_t adv_port;                  /* advertised port (the bound one if 0) */
        uint16_t port;                     /* bound listen port */
        char cluster_id[SL_CONFIG_ID_MAX];
        atomic_int phase;                     /* SL_PHASE_* */
        atomic_uint drained;                  /* shards done draining */
        atomic_uint closed;                   /* shards that closed their partitions */
        atomic_int nconns;                    /* open connections, all shards (max.connections) */
        const sl_topics_snap *initial_topics; /* loaded at startup (shard 0 owns) */
} sl_globals;

extern sl_globals g_sl;

/* logging to stderr, one line each */
void sl_logf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define SL_ERROR(...) sl_logf(SL_LOG_ERROR, __VA_ARGS__)
#define SL_WARN(...)  sl_logf(SL_LOG_WARN, __VA_ARGS__)
#define SL_INFO(...)  sl_logf(SL_LOG_INFO, __VA_ARGS__)
#define SL_DEBUG(...) sl_logf(SL_LOG_DEBUG, __VA_ARGS__)

/* shard.c */
int sl_shard_create(sl_shard_id id, sl_shard **out);
void sl_shard_destroy(sl_shard *s);
int sl_shards_link(void); /* rings between every pair */
void sl_shard_bind_thread(sl_shard *s);
void sl_shard_loop_hooks(sl_shard *s);
void sl_shard_io_start(sl_shard *s);
void sl_shard_io_stop(sl_shard *s);

/* conn.c */
void sl_conn_accept_ready(sl_reactor *r, int fd, void *arg, int mask);
/* Takes over a connected nonblocking socket (accept path; tests). The caller
 * has counted it in g_sl.nconns. NULL when out of memory. */
sl_conn *sl_conn_adopt(sl_shard *s, int sock, const char *peer);
void sl_conn_drain_all(sl_shard *s);  /* shutdown: stop reading, close when answered */
void sl_conn_resume_all(sl_shard *s); /* backpressure over: read again */
void sl_conn_close_all(sl_shard *s);
void sl_conn_flush_all(sl_shard *s); /* before sleep: write completed responses */
void sl_request_pool_free(sl_shard *s);

/* dispatch.c: tests only — route an implemented api key to fn (NULL: back
 * to the table's handler). Not thread-safe; set before traffic. */
void sl_dispatch_set_override(int16_t api_key, void (*fn)(sl_request *req));

/* partition.c */
int sl_partitions_open_owned(sl_shard *s, const sl_topics_snap *snap);
int sl_partition_open(sl_shard *s, const sl_topic_info *t, int32_t index, bool fresh);
int sl_partition_remove_dir(const char *dir);
void sl_partition_close(sl_shard *s, sl_partition *p, bool remove_dir);
/* Applies t's (new) config to p's open log (AlterConfigs). */
int sl_partition_reconfigure(sl_partition *p, const sl_topic_info *t);
/* 0 when storage can run a log with these overrides over these broker
 * defaults (sl_log_config_check), else SL_ECONFIG: create/alter refuse it. */
int sl_partition_config_check(const sl_topic_config *tc, const sl_config *broker);
void sl_partitions_close_all(sl_shard *s);
/* Admin changes on the owner shard: opens (fresh: leftover directories are
 * removed first) or closes partitions [from, to) of t that this shard owns,
 * with the disk work on the shard's I/O helper; done(arg, err) runs on the
 * shard after. t must stay valid until then. 0, or -ENOMEM (done not run). */
int sl_partitions_open_async(sl_shard *s, const sl_topic_info *t, int32_t from, int32_t to,
                             void (*done)(void *arg, int err), void *arg);
int sl_partitions_close_async(sl_shard *s, const sl_topic_info *t, int32_t from, int32_t to,
                              bool remove_dirs, void (*done)(void *arg, int err), void *arg);
void sl_commit_before_sleep(sl_shard *s);
bool sl_commit_busy(const sl_shard *s); /* a group commit batch is in flight */
void sl_commit_free(sl_shard *s);
void sl_partitions_start_maintenance(sl_shard *s);
void sl_partition_dir(const sl_topic_info *t, int32_t index, char *buf, size_t len);

/* topics.c / topics_store.c */
const sl_topic_info *sl_topics_snap_find(const sl_topics_snap *s, kp_str name);
sl_topics_snap *sl_topics_snap_build(const sl_topic_info *const *topics, int32_t n,
                                     uint64_t version);
void sl_topics_snap_free(sl_topics_snap *s);
int sl_topics_load(const char *data_dir, sl_topics_snap **out);
int sl_topics_store_save(const char *data_dir, const sl_topic_info *t);
int sl_topics_store_remove(const char *data_dir, kp_str name);
void sl_topics_install_initial(sl_shard *s);
void sl_topics_shutdown(void); /* main thread, after the shards stopped */
kp_uuid sl_uuid_random(void);

/* broker_config.c: dynamic broker configs (AlterConfigs on the BROKER
 * resource). The caller owns the op until done() runs on its shard. */
typedef struct sl_broker_config_op {
        /* in: runs on shard 0 with a copy of the config in force; edits it
         * with sl_config_alter (static_cfg: the values DELETE restores) and
         * returns 0 or a Kafka code with text in message_buf */
        int16_t (*edit)(struct sl_broker_config_op *op, sl_config *cfg,
                        const sl_config *static_cfg);
        bool validate_only; /* check, change nothing */
        void (*done)(struct sl_broker_config_op *op);
        void *arg;
        /* out */
        int16_t error;
        const char *error_message; /* NULL or message_buf */
        char message_buf[160];
        /* internal */
        sl_xcall x;
} sl_broker_config_op;
void sl_broker_config_alter(sl_broker_config_op *op);
/* Before the shards start: applies <data>/broker-dynamic.conf to g_sl.cfg. */
int sl_broker_config_load(void);
/* The config as started (file and flags), before dynamic changes; read-only
 * once the shards run. */
const sl_config *sl_broker_config_static(void);

/* server.c (owns g_sl) */
typedef struct sl_server sl_server;

#endif
