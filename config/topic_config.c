/* config/topic_config.c — Kafka's topic configs: the table (type, validator,
 * Kafka default, the broker key that supplies the default, documentation),
 * overrides set/deleted by CreateTopics and (Incremental)AlterConfigs, the
 * effective values storage reads, DescribeConfigs rows, and the `name=value`
 * text kept in each topic's directory. Defaults follow Apache Kafka 3.x. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"
#include "kafka_errors.h"
#include "topic_config.h"

#define TOPIC_FILE_MAX 65536 /* far above the ~2 KiB of every key overridden */
#define LMAX           "9223372036854775807"

typedef struct topic_key {
        const char *name;    /* Kafka topic config name */
        cfg_spec spec;       /* type and validator */
        int8_t kafka_type;   /* enum sl_config_type */
        const char *synonym; /* sl_config key supplying the default, or NULL */
        const char *def;     /* Kafka's default when synonym is NULL */
        const char *doc;
} topic_key;

#define INTV(lo, hi, u)                                                                            \
        {                                                                                          \
                .kind = CK_INT, .unit = (u), .min = (lo), .max = (hi)                              \
        }
#define LONGK(lo, u) INTV(lo, INT64_MAX, u), SL_CONFIG_TYPE_LONG
#define INTK(lo, u)  INTV(lo, INT32_MAX, u), SL_CONFIG_TYPE_INT
#define BOOLK        {.kind = CK_BOOL}, SL_CONFIG_TYPE_BOOLEAN

/* Order = enum sl_topic_key. */
static const topic_key topic_keys[] = {
    {"cleanup.policy",
     {.kind = CK_LIST, .names = cfg_cleanup_names},
     SL_CONFIG_TYPE_LIST,
     "log.cleanup.policy",
     "delete",
     "delete old segments, compact to the last record per key, or both."},
    {"compression.type",
     {.kind = CK_ENUM, .names = cfg_compression_names},
     SL_CONFIG_TYPE_STRING,
     "compression.type",
     "producer",
     "Codec of stored batches; producer keeps the producer's."},
    {"delete.retention.ms", LONGK(0, CU_MS), NULL, "86400000",
     "How long tombstones survive compaction (broker: log.cleaner.delete.retention.ms)."},
    {"file.delete.delay.ms", LONGK(0, CU_MS), NULL, "60000",
     "Delay before a deleted segment's files are removed."},
    {"flush.messages", LONGK(1, CU_NONE), "log.flush.interval.messages", LMAX,
     "Force an fsync after this many messages."},
    {"flush.ms", LONGK(0, CU_MS), "log.flush.interval.ms", LMAX,
     "Force an fsync when unsynced data is this old."},
    {"index.interval.bytes", INTK(0, CU_BYTES), "log.index.interval.bytes", "4096",
     "Log bytes between offset index entries."},
    {"local.retention.bytes", LONGK(-2, CU_BYTES), NULL, "-2",
     "Tiered storage local size limit; -2: retention.bytes (no tiered storage here)."},
    {"local.retention.ms", LONGK(-2, CU_MS), NULL, "-2",
     "Tiered storage local time limit; -2: retention.ms (no tiered storage here)."},
    {"max.compaction.lag.ms", LONGK(1, CU_MS), NULL, LMAX,
     "Longest a record may stay uncompacted."},
    {"max.message.bytes", INTK(0, CU_BYTES), "message.max.bytes", "1048588",
     "Largest record batch accepted."},
    {"message.downconversion.enable", BOOLK, NULL, "true",
     "Down-convert batches for old Fetch versions."},
    {"message.timestamp.after.max.ms", LONGK(0, CU_MS), NULL, LMAX,
     "CreateTime may be at most this far ahead of the broker's clock."},
    {"message.timestamp.before.max.ms", LONGK(0, CU_MS), NULL, LMAX,
     "CreateTime may be at most this far behind the broker's clock."},
    {"message.timestamp.type",
     {.kind = CK_ENUM, .names = cfg_ts_names},
     SL_CONFIG_TYPE_STRING,
     "log.message.timestamp.type",
     "CreateTime",
     "CreateTime keeps the producer's timestamp; LogAppendTime stamps the broker's."},
    {"min.cleanable.dirty.ratio",
     {.kind = CK_DOUBLE, .dmin = 0, .dmax = 1},
     SL_CONFIG_TYPE_DOUBLE,
     NULL,
     "0.5",
     "Dirty share of a log that triggers compaction."},
    {"min.compaction.lag.ms", LONGK(0, CU_MS), NULL, "0",
     "Shortest time a record stays uncompacted."},
    {"min.insync.replicas", INTK(1, CU_NONE), "min.insync.replicas", "1",
     "Replicas that must have an acks=all write."},
    {"preallocate", BOOLK, NULL, "false", "Preallocate a new segment's file."},
    {"remote.storage.enable", BOOLK, NULL, "false",
     "Tiered storage; not supported, so only false is accepted."},
    {"retention.bytes", LONGK(-1, CU_BYTES), "log.retention.bytes", "-1",
     "Delete oldest segments while a partition is larger; -1: no limit."},
    {"retention.ms", LONGK(-1, CU_MS), "log.retention.ms", "604800000",
     "Delete segments older than this; -1: keep forever."},
    {"segment.bytes", INTK(14, CU_BYTES), "log.segment.bytes", "1073741824",
     "Segment size that triggers a roll."},
    {"segment.index.bytes", INTK(4, CU_BYTES), NULL, "10485760",
     "Size of a segment's offset index file."},
    {"segment.jitter.ms", LONGK(0, CU_MS), NULL, "0",
     "Random reduction of segment.ms so segments do not all roll at once."},
    {"segment.ms", LONGK(1, CU_MS), "log.roll.ms", "604800000",
     "Segment age that triggers a roll."},
    {"unclean.leader.election.enable", BOOLK, NULL, "false",
     "Let an out-of-sync replica become leader (may lose data)."},
};
_Static_assert(sizeof(topic_keys) / sizeof(topic_keys[0]) == SL_TOPIC_KEY_COUNT,
               "topic_keys[] must match enum sl_topic_key");
_Static_assert(SL_TOPIC_KEY_COUNT <= 64, "sl_topic_config.set is a 64-bit mask");

void sl_topic_config_init(sl_topic_config *tc)
{
        memset(tc, 0, sizeof(*tc));
}

int sl_topic_config_key(const char *name)
{
        for (int i = 0; i < SL_TOPIC_KEY_COUNT; i++) {
                if (strcmp(topic_keys[i].name, name) == 0)
                        return i;
        }
        return -1;
}

const char *sl_topic_config_name(enum sl_topic_key key)
{
        return topic_keys[key].name;
}

int16_t sl_topic_config_set(sl_topic_config *tc, const char *name, const char *value, char *err,
                            size_t errlen)
{
        char why[256];
        cfg_val v;
        int k = sl_topic_config_key(name);
        if (k < 0) {
                cfg_errf(err, errlen, "Unknown topic config name: %s", name);
                return KP_ERR_INVALID_CONFIG;
        }
        if (cfg_parse(&topic_keys[k].spec, value, &v, why, sizeof(why)) != 0) {
                cfg_errf(err, errlen, "%s: %s", name, why);
                return KP_ERR_INVALID_CONFIG;
        }
        if (k == SL_TOPIC_REMOTE_STORAGE_ENABLE && v.i) {
                cfg_errf(err, errlen, "%s: tiered storage is not supported", name);
                return KP_ERR_INVALID_CONFIG;
        }
        tc->i64[k] = v.i;
        tc->dbl[k] = v.d;
        tc->set |= 1ULL << k;
        return KP_ERR_NONE;
}

int16_t sl_topic_config_delete(sl_topic_config *tc, const char *name, char *err, size_t errlen)
{
        int k = sl_topic_config_key(name);
        if (k < 0) {
                cfg_errf(err, errlen, "Unknown topic config name: %s", name);
                return KP_ERR_INVALID_CONFIG;
        }
        tc->set &= ~(1ULL << k);
        tc->i64[k] = 0;
        tc->dbl[k] = 0;
        return KP_ERR_NONE;
}

bool sl_topic_config_is_set(const sl_topic_config *tc, enum sl_topic_key key)
{
        return (tc->set >> key) & 1;
}

/* The effective value of key and where it comes from. */
static cfg_val effective(const sl_topic_config *tc, const sl_config *broker, enum sl_topic_key key,
                         int8_t *source, const char **synonym)
{
        const topic_key *t = &topic_keys[key];
        cfg_val v = {0};
        int b = t->synonym ? cfg_key_find(t->synonym) : -1;
        *synonym = b >= 0 ? t->synonym : NULL;
        if (tc && sl_topic_config_is_set(tc, key)) {
                v.i = tc->i64[key];
                v.d = tc->dbl[key];
                *source = SL_CONFIG_SOURCE_TOPIC;
        } else if (broker && b >= 0) {
                v.i = cfg_key_i64(broker, (size_t)b);
                *source = (int8_t)broker->source[b];
        } else {
                cfg_parse(&t->spec, t->def, &v, NULL, 0); /* defaults are tested to parse */
                *source = SL_CONFIG_SOURCE_DEFAULT;
        }
        return v;
}

int64_t sl_topic_config_i64(const sl_topic_config *tc, const sl_config *broker,
                            enum sl_topic_key key)
{
        int8_t src;
        const char *syn;
        return effective(tc, broker, key, &src, &syn).i;
}

double sl_topic_config_double(const sl_topic_config *tc, const sl_config *broker,
                              enum sl_topic_key key)
{
        int8_t src;
        const char *syn;
        return effective(tc, broker, key, &src, &syn).d;
}

const char *sl_topic_config_text(const sl_topic_config *tc, const sl_config *broker,
                                 enum sl_topic_key key, char *buf, size_t buflen)
{
        int8_t src;
        const char *syn;
        cfg_val v = effective(tc, broker, key, &src, &syn);
        return cfg_format(&topic_keys[key].spec, &v, buf, buflen);
}

void sl_topic_config_describe(const sl_topic_config *tc, const sl_config *broker, size_t idx,
                              sl_config_entry *out)
{
        const topic_key *t = &topic_keys[idx];
        memset(out, 0, sizeof(*out));
        cfg_val v = effective(tc, broker, (enum sl_topic_key)idx, &out->source, &out->synonym);
        out->name = t->name;
        out->value = cfg_format(&t->spec, &v, out->buf, sizeof(out->buf));
        out->doc = t->doc;
        out->type = t->kafka_type;
}

size_t sl_topic_config_format(const sl_topic_config *tc, char *buf, size_t buflen)
{
        char vbuf[64];
        size_t need = 0;
        if (buflen)
                buf[0] = '\0';
        for (int k = 0; k < SL_TOPIC_KEY_COUNT; k++) {
                if (!sl_topic_config_is_set(tc, k))
                        continue;
                cfg_val v = {.i = tc->i64[k], .d = tc->dbl[k]};
                const char *text = cfg_format(&topic_keys[k].spec, &v, vbuf, sizeof(vbuf));
                int n =
                    snprintf(need < buflen ? buf + need : NULL, need < buflen ? buflen - need : 0,
                             "%s=%s\n", topic_keys[k].name, text);
                need += (size_t)n;
        }
        return need;
}

static int set_line(void *ctx, const char *name, const char *value, char *why, size_t whylen)
{
        sl_topic_config *next = ctx;
        int k = sl_topic_config_key(name);
        if (k >= 0 && sl_topic_config_is_set(next, k)) {
                cfg_errf(why, whylen, "%s: duplicate", name);
                return -EINVAL;
        }
        return sl_topic_config_set(next, name, value, why, whylen) == KP_ERR_NONE ? 0 : -EINVAL;
}

int sl_topic_config_parse(sl_topic_config *tc, const char *origin, const char *text, size_t len,
                          char *err, size_t errlen)
{
        sl_topic_config next;
        sl_topic_config_init(&next);
        int rc = cfg_kv_parse(origin, text, len, set_line, &next, err, errlen);
        if (rc == 0)
                *tc = next;
        return rc;
}

int sl_topic_config_save(const sl_topic_config *tc, const char *path, char *err, size_t errlen)
{
        char text[4096];
        size_t len = sl_topic_config_format(tc, text, sizeof(text));
        int rc = len < sizeof(text) ? cfg_file_replace(path, text, len) : -EOVERFLOW;
        if (rc != 0)
                cfg_errf(err, errlen, "%s: %s", path, strerror(-rc));
        return rc;
}

int sl_topic_config_load(sl_topic_config *tc, const char *path, char *err, size_t errlen)
{
        char *text;
        size_t len;
        int rc = cfg_file_read(path, TOPIC_FILE_MAX, &text, &len);
        if (rc == -ENOENT) {
                sl_topic_config_init(tc);
                return 0;
        }
        if (rc != 0) {
                cfg_errf(err, errlen, "%s: %s", path, strerror(-rc));
                return rc;
        }
        rc = sl_topic_config_parse(tc, path, text, len, err, errlen);
        free(text);
        return rc;
}
