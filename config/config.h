/* config/config.h — the broker's static configuration: one flat YAML file of
 * Kafka-named dotted keys, overridden by `serpentlog start` flags, with a
 * built-in default for every key so no file is needed.
 * main.c fills one sl_config at startup (sl_config_parse_args) and hands
 * copies to the shards; DescribeConfigs(BROKER) and (Incremental)AlterConfigs
 * use sl_config_describe / sl_config_alter on the coordinator's copy.
 * Errors come back as text naming file:line:column and the key. */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SL_CONFIG_ADDR_MAX 256  /* HOST:PORT strings, including NUL */
#define SL_CONFIG_PATH_MAX 1024 /* data.dir, including NUL */
#define SL_CONFIG_ID_MAX   64   /* cluster.id, including NUL */
#define SL_CONFIG_MAX_KEYS 64   /* capacity of the per-key source table */

/* sl_config_parse_args returns this when --help was given: print help, exit 0. */
#define SL_CONFIG_HELP 1

enum sl_net_backend { SL_NET_KERNEL = 0, SL_NET_DPDK = 1 };
/* fetch.send.mode: how Fetch record bytes leave a page-cached segment. */
enum sl_fetch_send { SL_FETCH_SEND_AUTO = 0, SL_FETCH_SEND_SENDFILE = 1, SL_FETCH_SEND_COPY = 2 };
enum sl_log_level {
        SL_LOG_ERROR = 0,
        SL_LOG_WARN = 1,
        SL_LOG_INFO = 2,
        SL_LOG_DEBUG = 3,
        SL_LOG_TRACE = 4,
};
enum sl_timestamp_type { SL_TS_CREATE_TIME = 0, SL_TS_LOG_APPEND_TIME = 1 };
/* cleanup.policy is a list: a bitmask of these. */
enum sl_cleanup_policy { SL_CLEANUP_DELETE = 1, SL_CLEANUP_COMPACT = 2 };
enum sl_compression {
        SL_COMPRESSION_PRODUCER = 0, /* keep what the producer sent */
        SL_COMPRESSION_UNCOMPRESSED = 1,
        SL_COMPRESSION_GZIP = 2,
        SL_COMPRESSION_SNAPPY = 3,
        SL_COMPRESSION_LZ4 = 4,
        SL_COMPRESSION_ZSTD = 5,
};

/* DescribeConfigs ConfigSource numbering (Kafka's DescribeConfigsResponse). */
enum sl_config_source {
        SL_CONFIG_SOURCE_UNKNOWN = 0,
        SL_CONFIG_SOURCE_TOPIC = 1,          /* DYNAMIC_TOPIC_CONFIG */
        SL_CONFIG_SOURCE_DYNAMIC_BROKER = 2, /* set by AlterConfigs for this broker */
        SL_CONFIG_SOURCE_STATIC_BROKER = 4,  /* set in the YAML file or by a flag */
        SL_CONFIG_SOURCE_DEFAULT = 5,        /* built-in default */
};

/* DescribeConfigs v3+ ConfigType numbering. */
enum sl_config_type {
        SL_CONFIG_TYPE_UNKNOWN = 0,
        SL_CONFIG_TYPE_BOOLEAN = 1,
        SL_CONFIG_TYPE_STRING = 2,
        SL_CONFIG_TYPE_INT = 3,
        SL_CONFIG_TYPE_SHORT = 4,
        SL_CONFIG_TYPE_LONG = 5,
        SL_CONFIG_TYPE_DOUBLE = 6,
        SL_CONFIG_TYPE_LIST = 7,
        SL_CONFIG_TYPE_CLASS = 8,
        SL_CONFIG_TYPE_PASSWORD = 9,
};

/* A value type: copy it freely. Each field's YAML key is in the comment;
 * defaults are in config_keys.c and in `serpentlog start --help`. */
typedef struct sl_config {
        int64_t node_id;                            /* node.id */
        char cluster_id[SL_CONFIG_ID_MAX];          /* cluster.id; "" = broker generates */
        char listen[SL_CONFIG_ADDR_MAX];            /* listen, HOST:PORT */
        char advertised_listen[SL_CONFIG_ADDR_MAX]; /* advertised.listen; "" = listen */
        char admin_listen[SL_CONFIG_ADDR_MAX];      /* admin.listen; "" = off */
        char data_dir[SL_CONFIG_PATH_MAX];          /* data.dir (Kafka's log.dirs) */
        int64_t cores;                              /* cores: shard threads */
        int network_backend;                        /* network.backend, enum sl_net_backend */
        int fetch_send_mode;                        /* fetch.send.mode, enum sl_fetch_send */
        int log_level;                              /* log.level, enum sl_log_level */
        int64_t num_partitions;                     /* num.partitions */
        int64_t default_replication_factor;         /* default.replication.factor */
        bool auto_create_topics_enable;             /* auto.create.topics.enable */
        bool delete_topic_enable;                   /* delete.topic.enable */
        int64_t socket_request_max_bytes;           /* socket.request.max.bytes */
        int64_t max_connections;                    /* max.connections */
        int64_t connection_max_unanswered_bytes;    /* connection.max.unanswered.bytes */
        int64_t message_max_bytes;                  /* message.max.bytes */
        int compression_type;                       /* compression.type, enum sl_compression */
        int64_t min_insync_replicas;                /* min.insync.replicas */
        int64_t log_segment_bytes;                  /* log.segment.bytes */
        int64_t log_roll_ms;                        /* log.roll.ms */
        int64_t log_retention_ms;                   /* log.retention.ms; -1 = forever */
        int64_t log_retention_bytes;                /* log.retention.bytes; -1 = no limit */
        int64_t log_index_interval_bytes;           /* log.index.interval.bytes */
        int64_t log_flush_interval_messages;        /* log.flush.interval.messages */
        int64_t log_flush_interval_ms;              /* log.flush.interval.ms */
        int log_message_timestamp_type; /* log.message.timestamp.type, enum sl_timestamp_type */
        int log_cleanup_policy;         /* log.cleanup.policy, mask of enum sl_cleanup_policy */
        int64_t log_page_cache_retain_bytes;  /* log.page.cache.retain.bytes; 0 = no drop-behind */
        int64_t offsets_topic_num_partitions; /* offsets.topic.num.partitions */
        int64_t group_initial_rebalance_delay_ms;     /* group.initial.rebalance.delay.ms */
        int64_t group_min_session_timeout_ms;         /* group.min.session.timeout.ms */
        int64_t group_max_session_timeout_ms;         /* group.max.session.timeout.ms */
        int64_t group_max_size;                       /* group.max.size */
        int64_t offsets_retention_minutes;            /* offsets.retention.minutes */
        int64_t offset_metadata_max_bytes;            /* offset.metadata.max.bytes */
        int64_t group_consumer_heartbeat_interval_ms; /* group.consumer.heartbeat.interval.ms */
        int64_t group_consumer_session_timeout_ms;    /* group.consumer.session.timeout.ms */
        int group_consumer_assignors;    /* group.consumer.assignors: bit 0 uniform, bit 1 range */
        int64_t group_consumer_max_size; /* group.consumer.max.size */
        uint8_t source[SL_CONFIG_MAX_KEYS]; /* enum sl_config_source per key (table order) */
} sl_config;

/* One row of DescribeConfigs output (broker or topic). `value` points into
 * `buf` or into the described config; valid while both live and unchanged. */
typedef struct sl_config_entry {
        const char *name;    /* Kafka config name */
        const char *value;   /* current value as text */
        const char *synonym; /* broker key supplying a topic default, or NULL */
        const char *doc;     /* one-line documentation */
        int8_t source;       /* enum sl_config_source */
        int8_t type;         /* enum sl_config_type */
        bool read_only;      /* not alterable at run time */
        bool sensitive;      /* value must be reported as null */
        char buf[32];        /* storage for numeric values */
} sl_config_entry;

/* Fill every key with its built-in default (cores = online CPUs). */
void sl_config_defaults(sl_config *cfg);

/* Apply a YAML file on top of cfg. 0 on success; otherwise -EINVAL (bad
 * content) or -errno (cannot read) and err holds "file:line:col: key: why". */
int sl_config_load_file(sl_config *cfg, const char *path, char *err, size_t errlen);

/* Same for YAML bytes in memory; `name` stands for the file in messages. */
int sl_config_load_buffer(sl_config *cfg, const char *name, const char *data, size_t len, char *err,
                          size_t errlen);

/* The whole `serpentlog start` command line: argv[0] is the command name and
 * is skipped. Resets cfg to defaults, loads --config FILE if given (wherever it
 * appears), then applies the other flags in order: --listen HOST:PORT,
 * --advertised HOST:PORT, --data-dir DIR, --cores N, --set KEY=VALUE (any
 * YAML key). `--flag=value` also works. Returns 0, SL_CONFIG_HELP for
 * -h/--help, or a negative error with err filled. */
int sl_config_parse_args(sl_config *cfg, int argc, char **argv, char *err, size_t errlen);

/* Set one key from text as if it came from the file (source STATIC_BROKER).
 * `origin` prefixes the error message (e.g. "--set"). 0 or -EINVAL. */
int sl_config_set(sl_config *cfg, const char *key, const char *value, const char *origin, char *err,
                  size_t errlen);

/* Help for `serpentlog start`: flags, then every YAML key with its default. */
void sl_config_print_help(FILE *out);

/* Split "host:port" or "[v6addr]:port". 0 or -EINVAL. */
int sl_config_split_hostport(const char *s, char *host, size_t hostlen, uint16_t *port);

/* DescribeConfigs(BROKER): keys are numbered 0..sl_config_key_count()-1. */
size_t sl_config_key_count(void);
void sl_config_describe(const sl_config *cfg, size_t idx, sl_config_entry *out);

/* AlterConfigs(BROKER) for one key. Only keys marked dynamic (read_only =
 * false in describe) may change: the log.* topic defaults, message.max.bytes,
 * compression.type, min.insync.replicas, max.connections, log.level.
 * value == NULL deletes the dynamic value, restoring it from `static_cfg` (the
 * config as started). Returns a Kafka error code: KP_ERR_NONE,
 * KP_ERR_INVALID_CONFIG (unknown key, bad value, or read-only key). */
int16_t sl_config_alter(sl_config *cfg, const sl_config *static_cfg, const char *key,
                        const char *value, char *err, size_t errlen);

/* Dynamic broker values (source DYNAMIC_BROKER) as `name=value\n` lines, so
 * AlterConfigs survive a restart. format returns the length needed (like
 * snprintf). save replaces path atomically (tmp, fsync, rename, fsync dir).
 * load applies a saved file on top of cfg (after sl_config_parse_args) as
 * DYNAMIC_BROKER values; a missing file is no values. 0, -EINVAL or -errno;
 * cfg unchanged on error. */
size_t sl_config_format_dynamic(const sl_config *cfg, char *buf, size_t buflen);
int sl_config_save_dynamic(const sl_config *cfg, const char *path, char *err, size_t errlen);
int sl_config_load_dynamic(sl_config *cfg, const char *path, char *err, size_t errlen);

#endif
