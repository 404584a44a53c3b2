/* broker/handle_create_topics.c — CreateTopics (key 19), versions 0-7.
 *
 * Checks each topic the way a single KRaft node does (name, partition count,
 * replication factor 1 or -1, manual assignments naming only this node,
 * config overrides through config/topic_config.h), then hands the survivors
 * to the topic registry (topics.h) one sl_topic_op each; shard 0 runs them in
 * order, persists and opens the partitions, and the response is sent once
 * every op is back. validate_only (v1+) runs the same checks in the registry
 * and changes nothing. v5+ answers carry the partition count, the factor and
 * every topic config with its effective value and source; v7 the topic id. */
#include <stdio.h>
#include <string.h>

#include "broker_int.h"
#include "dispatch.h"
#include "gen/kp_messages.h"

typedef kp_create_topics_request_creatable_topic ct_topic;
typedef kp_create_topics_response_creatable_topic_result ct_result;
typedef kp_create_topics_response_creatable_topic_configs ct_config;

/* One topic of the request. */
typedef struct ct_item {
        sl_topic_op op;
        sl_topic_config config; /* overrides as requested (for the v5+ describe) */
        sl_topic_kv *kvs;       /* the overrides with a value, for the registry */
        int32_t nkvs;
} ct_item;

typedef struct ct_ctx {
        sl_request *req;
        kp_create_topics_request in;
        ct_item *items;
        int32_t pending; /* ops not yet back */
} ct_ctx;

static int16_t item_fail(ct_item *it, int16_t err, const char *msg)
{
        it->op.error = err;
        snprintf(it->op.message_buf, sizeof(it->op.message_buf), "%s", msg);
        it->op.error_message = it->op.message_buf;
        return err;
}

static bool same_name_before(const ct_ctx *c, int32_t i)
{
        for (int32_t j = 0; j < c->in.topics_count; j++)
                if (j != i && kp_str_eq(c->in.topics[j].name, c->in.topics[i].name))
                        return true;
        return false;
}

/* Assignments: partitions 0..n-1 each exactly once, each on [this node]. */
static int16_t check_assignments(ct_item *it, const ct_topic *t, int32_t node)
{
        if (t->num_partitions != -1 || t->replication_factor != -1)
                return item_fail(it, KP_ERR_INVALID_REQUEST,
                                 "Both numPartitions or replicationFactor and replicasAssignments "
                                 "were set. Both cannot be used at the same time.");
        int32_t n = t->assignments_count;
        for (int32_t i = 0; i < n; i++) {
                const kp_create_topics_request_creatable_replica_assignment *a = &t->assignments[i];
                if (a->partition_index < 0 || a->partition_index >= n)
                        return item_fail(it, KP_ERR_INVALID_REPLICA_ASSIGNMENT,
                                         "Partitions should be a consecutive 0-based integer "
                                         "sequence.");
                for (int32_t j = 0; j < i; j++)
                        if (t->assignments[j].partition_index == a->partition_index)
                                return item_fail(it, KP_ERR_INVALID_REPLICA_ASSIGNMENT,
                                                 "Partitions should be a consecutive 0-based "
                                                 "integer sequence.");
                if (a->broker_ids_count < 1)
                        return item_fail(it, KP_ERR_INVALID_REPLICA_ASSIGNMENT,
                                         "Empty replica assignment.");
                if (a->broker_ids_count > 1 || a->broker_ids[0] != node) {
                        snprintf(it->op.message_buf, sizeof(it->op.message_buf),
                                 "Partition %d: replicas must be [%d], the only broker.",
                                 a->partition_index, node);
                        it->op.error = KP_ERR_INVALID_REPLICA_ASSIGNMENT;
                        it->op.error_message = it->op.message_buf;
                        return it->op.error;
                }
        }
        return 0;
}

/* Config overrides: validated here too, so the v5+ answer can describe them. */
static int16_t check_configs(ct_ctx *c, ct_item *it, const ct_topic *t)
{
        sl_topic_config_init(&it->config);
        if (t->configs_count <= 0)
                return 0;
        it->kvs = kp_arena_alloc(&c->req->arena, (size_t)t->configs_count, sizeof(*it->kvs));
        if (!it->kvs)
                return item_fail(it, KP_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
        for (int32_t i = 0; i < t->configs_count; i++) {
                const kp_create_topics_request_creatable_topic_config *kv = &t->configs[i];
                for (int32_t j = 0; j < i; j++)
                        if (kp_str_eq(t->configs[j].name, kv->name))
                                return item_fail(it, KP_ERR_INVALID_REQUEST,
                                                 "Duplicate config keys in the request.");
                char key[256], val[1024];
                if (kv->name.len <= 0 || kv->name.len >= (int32_t)sizeof(key) ||
                    kv->value.len >= (int32_t)sizeof(val))
                        return item_fail(it, KP_ERR_INVALID_CONFIG,
                                         "Invalid config name or value.");
                memcpy(key, kv->name.p, (size_t)kv->name.len);
                key[kv->name.len] = 0;
                if (kv->value.len < 0) {
                        snprintf(it->op.message_buf, sizeof(it->op.message_buf),
                                 "Null value not supported for topic configs: %s", key);
                        it->op.error = KP_ERR_INVALID_CONFIG;
                        it->op.error_message = it->op.message_buf;
                        return it->op.error;
                }
                memcpy(val, kv->value.p, (size_t)kv->value.len);
                val[kv->value.len] = 0;
                int16_t e = sl_topic_config_set(&it->config, key, val, it->op.message_buf,
                                                sizeof(it->op.message_buf));
                if (e) {
                        it->op.error = e;
                        it->op.error_message = it->op.message_buf;
                        return e;
                }
                it->kvs[it->nkvs++] = (sl_topic_kv){kv->name, kv->value};
        }
        return 0;
}

/* Kafka refuses names equal to an existing one up to '.' vs '_' (metric names
 * would collide); an identical name is TOPIC_ALREADY_EXISTS (registry). */
static const sl_topic_info *collides(kp_str name)
{
        const sl_topics_snap *snap = sl_topics_current();
        for (int32_t i = 0; i < snap->count; i++) {
                const sl_topic_info *t = &snap->topics[i];
                if (t->name.len != name.len || kp_str_eq(t->name, name))
                        continue;
                int32_t k = 0;
                for (; k < name.len; k++) {
                        char a = t->name.p[k] == '.' ? '_' : t->name.p[k];
                        char b = name.p[k] == '.' ? '_' : name.p[k];
                        if (a != b)
                                break;
                }
                if (k == name.len)
                        return t;
        }
        return NULL;
}

/* Everything that needs no registry state. 0 when the topic may go on. */
static int16_t check_topic(ct_ctx *c, int32_t i)
{
        const sl_config *cfg = sl_shard_config();
        const ct_topic *t = &c->in.topics[i];
        ct_item *it = &c->items[i];
        if (same_name_before(c, i))
                return item_fail(it, KP_ERR_INVALID_REQUEST, "Duplicate topic name.");
        if (sl_topic_name_check(t->name))
                return item_fail(it, KP_ERR_INVALID_TOPIC_EXCEPTION,
                                 "Topic name is illegal: it must be 1-249 characters of "
                                 "[a-zA-Z0-9._-], and not '.' or '..'.");
        const sl_topic_info *other = collides(t->name);
        if (other) {
                snprintf(it->op.message_buf, sizeof(it->op.message_buf),
                         "Topic '%.*s' collides with existing topic: %.*s", (int)t->name.len,
                         t->name.p, (int)other->name.len, other->name.p);
                it->op.error = KP_ERR_INVALID_TOPIC_EXCEPTION;
                it->op.error_message = it->op.message_buf;
                return it->op.error;
        }
        int16_t e;
        if (t->assignments_count > 0) {
                if ((e = check_assignments(it, t, (int32_t)cfg->node_id)))
                        return e;
                it->op.partitions = t->assignments_count;
        } else {
                if (t->num_partitions == 0 || t->num_partitions < -1)
                        return item_fail(it, KP_ERR_INVALID_PARTITIONS,
                                         "Number of partitions was set to an invalid "
                                         "non-positive value.");
                int64_t rf = t->replication_factor == -1 ? cfg->default_replication_factor
                                                         : t->replication_factor;
                if (t->replication_factor == 0 || t->replication_factor < -1)
                        return item_fail(it, KP_ERR_INVALID_REPLICATION_FACTOR,
                                         "Replication factor must be larger than 0, or -1 to use "
                                         "the default value.");
                if (rf != 1) {
                        snprintf(it->op.message_buf, sizeof(it->op.message_buf),
                                 "Unable to replicate the partition %lld time(s): only 1 "
                                 "broker is registered.",
                                 (long long)rf);
                        it->op.error = KP_ERR_INVALID_REPLICATION_FACTOR;
                        it->op.error_message = it->op.message_buf;
                        return it->op.error;
                }
                it->op.partitions = t->num_partitions == -1 ? 0 : t->num_partitions;
        }
        return check_configs(c, it, t);
}

/* The v5+ config list: every topic config with its effective value. */
static int fill_configs(ct_ctx *c, ct_result *r, const sl_topic_config *tc)
{
        const sl_config *cfg = sl_shard_config();
        ct_config *out = kp_arena_alloc(&c->req->arena, SL_TOPIC_KEY_COUNT, sizeof(*out));
        if (!out)
                return -1;
        for (size_t k = 0; k < SL_TOPIC_KEY_COUNT; k++) {
                sl_config_entry e;
                sl_topic_config_describe(tc, cfg, k, &e);
                size_t n = strlen(e.value);
                char *v = kp_arena_alloc(&c->req->arena, n + 1, 1);
                if (!v)
                        return -1;
                memcpy(v, e.value, n);
                out[k].name = kp_str_c(e.name);
                out[k].value = e.sensitive ? KP_STR_NULL : (kp_str){v, (int32_t)n};
                out[k].read_only = e.read_only;
                out[k].config_source = e.source;
                out[k].is_sensitive = e.sensitive;
        }
        r->configs = out;
        r->configs_count = SL_TOPIC_KEY_COUNT;
        return 0;
}

static void respond(ct_ctx *c)
{
        sl_request *req = c->req;
        int32_t n = c->in.topics_count > 0 ? c->in.topics_count : 0;
        ct_result *res = kp_arena_alloc(&req->arena, (size_t)(n ? n : 1), sizeof(*res));
        if (!res)
                goto out_oom;
        int32_t nres = 0;
        for (int32_t i = 0; i < n; i++) {
                const ct_topic *t = &c->in.topics[i];
                ct_item *it = &c->items[i];
                /* A duplicated name is answered once (Kafka keys results by name). */
                bool seen = false;
                for (int32_t j = 0; j < i && !seen; j++)
                        seen = kp_str_eq(c->in.topics[j].name, t->name);
                if (seen)
                        continue;
                ct_result *r = &res[nres++];
                kp_create_topics_response_creatable_topic_result_init(r);
                r->name = t->name;
                r->error_code = it->op.error;
                r->error_message = it->op.error && it->op.error_message
                                       ? kp_str_c(it->op.error_message)
                                       : KP_STR_NULL;
                if (req->api_version < 1)
                        r->error_message = KP_STR_NULL;
                /* Fields a version lacks keep their defaults (the encoder insists). */
                if (it->op.error || req->api_version < 5)
                        continue;
                if (req->api_version >= 7)
                        r->topic_id = it->op.out_id; /* zero for validate_only, as Kafka */
                r->num_partitions = it->op.out_partitions;
                r->replication_factor = 1;
                if (fill_configs(c, r, &it->config) < 0)
                        goto out_oom;
        }
        kp_create_topics_response resp;
        kp_create_topics_response_init(&resp);
        resp.throttle_time_ms = 0;
        resp.topics = res;
        resp.topics_count = nres;
        SL_REQUEST_RESPOND(req, kp_create_topics_response, &resp);
        return;
out_oom:
        sl_request_close(req, "out of memory");
}

static void finish_one(ct_ctx *c)
{
        if (--c->pending == 0)
                respond(c);
}

static void op_done(sl_topic_op *op)
{
        finish_one(op->arg);
}

void sl_handle_create_topics(sl_request *req)
{
        ct_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c) {
                sl_request_close(req, "out of memory");
                return;
        }
        c->req = req;
        if (kp_create_topics_request_decode(&req->body, req->api_version, &c->in) < 0) {
                sl_request_close(req, req->body.why ? req->body.why : "bad CreateTopics body");
                return;
        }
        int32_t n = c->in.topics_count > 0 ? c->in.topics_count : 0;
        c->items = kp_arena_alloc(&req->arena, (size_t)(n ? n : 1), sizeof(*c->items));
        if (!c->items) {
                sl_request_close(req, "out of memory");
                return;
        }
        /* Count first: a registry op may complete before the loop ends. */
        c->pending = 1;
        for (int32_t i = 0; i < n; i++) {
                ct_item *it = &c->items[i];
                if (check_topic(c, i))
                        continue;
                it->op.name = c->in.topics[i].name;
                it->op.configs = it->kvs;
                it->op.config_count = it->nkvs;
                it->op.validate_only = req->api_version >= 1 && c->in.validate_only;
                it->op.done = op_done;
                it->op.arg = c;
                c->pending++;
                sl_topics_create(&it->op);
        }
        finish_one(c);
}
