/* broker/handle_describe_configs.c — DescribeConfigs (key 32), versions 0-4.
 *
 * Answered on the connection's shard: TOPIC from the topic snapshot through
 * sl_topic_config_describe, BROKER ("<node.id>") through sl_config_describe;
 * the empty BROKER name (cluster-wide dynamic defaults, none kept here) gets
 * an empty list. v0 has is_default, v1+ the source and, when asked, synonyms
 * in Kafka's precedence (topic override, broker key in force, its static
 * value); v3+ the type and, when asked, documentation. A key filter drops
 * unknown names, as Kafka does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "dispatch.h"
#include "gen/kp_messages.h"

enum { RES_TOPIC = 2, RES_BROKER = 4 };

typedef kp_describe_configs_request_describe_configs_resource dc_resource;
typedef kp_describe_configs_response_describe_configs_result dc_result;
typedef kp_describe_configs_response_describe_configs_resource_result dc_entry;
typedef kp_describe_configs_response_describe_configs_synonym dc_synonym;

typedef struct dc_ctx {
        sl_request *req;
        const kp_describe_configs_request *in;
        bool oom;
} dc_ctx;

static kp_str copy_str(dc_ctx *c, const char *s)
{
        if (!s)
                return KP_STR_NULL;
        size_t n = strlen(s);
        char *p = kp_arena_alloc(&c->req->arena, n + 1, 1);
        if (!p) {
                c->oom = true;
                return KP_STR_NULL;
        }
        memcpy(p, s, n);
        return (kp_str){p, (int32_t)n};
}

static bool wanted(const dc_resource *r, const char *name)
{
        if (r->configuration_keys_count < 0)
                return true;
        for (int32_t i = 0; i < r->configuration_keys_count; i++)
                if (kp_str_eq(r->configuration_keys[i], kp_str_c(name)))
                        return true;
        return false;
}

/* Index of a broker key by name, or -1. */
static int broker_key(const char *name)
{
        size_t n = sl_config_key_count();
        for (size_t i = 0; i < n; i++) {
                sl_config_entry e;
                sl_config_describe(sl_shard_config(), i, &e);
                if (!strcmp(e.name, name))
                        return (int)i;
        }
        return -1;
}

/* The common part of one entry. */
static void fill_entry(dc_ctx *c, dc_entry *out, const sl_config_entry *e)
{
        kp_describe_configs_response_describe_configs_resource_result_init(out);
        out->name = kp_str_c(e->name);
        out->value = e->sensitive ? KP_STR_NULL : copy_str(c, e->value);
        out->read_only = e->read_only;
        out->is_sensitive = e->sensitive;
        out->synonyms = NULL;
        out->synonyms_count = 0;
        /* Fields a version lacks keep their defaults (the encoder insists). */
        int16_t v = c->req->api_version;
        if (v == 0)
                out->is_default = e->source == SL_CONFIG_SOURCE_DEFAULT;
        else
                out->config_source = e->source;
        if (v >= 3) {
                out->config_type = e->type;
                if (c->in->include_documentation)
                        out->documentation = kp_str_c(e->doc);
        }
}

static void add_synonym(dc_ctx *c, dc_entry *out, const char *name, const char *value,
                        int8_t source)
{
        dc_synonym *s = &out->synonyms[out->synonyms_count++];
        s->name = kp_str_c(name);
        s->value = copy_str(c, value);
        s->source = source;
}

/* A broker key's row; cluster.id is the id in use when it was generated at
 * first start (the config then holds ""). */
static void broker_describe(const sl_config *cfg, size_t k, sl_config_entry *e)
{
        sl_config_describe(cfg, k, e);
        if (!strcmp(e->name, "cluster.id") && !e->value[0])
                e->value = g_sl.cluster_id;
}

/* Broker key k: its value in force, then the static one under it. */
static void add_broker_synonyms(dc_ctx *c, dc_entry *out, size_t k)
{
        sl_config_entry e;
        broker_describe(sl_shard_config(), k, &e);
        add_synonym(c, out, e.name, e.value, e.source);
        if (e.source != SL_CONFIG_SOURCE_DYNAMIC_BROKER)
                return;
        broker_describe(sl_broker_config_static(), k, &e);
        add_synonym(c, out, e.name, e.value, e.source);
}

static void describe_topic(dc_ctx *c, const dc_resource *r, dc_result *res)
{
        const sl_topic_info *t = sl_topics_find(sl_topics_current(), r->resource_name);
        if (!t) {
                res->error_code = sl_topic_name_check(r->resource_name)
                                      ? KP_ERR_INVALID_TOPIC_EXCEPTION
                                      : KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                res->error_message = kp_str_c(res->error_code == KP_ERR_INVALID_TOPIC_EXCEPTION
                                                  ? "Invalid topic name."
                                                  : "The topic does not exist.");
                return;
        }
        const sl_config *cfg = sl_shard_config();
        dc_entry *out = kp_arena_alloc(&c->req->arena, SL_TOPIC_KEY_COUNT, sizeof(*out));
        dc_synonym *syn = kp_arena_alloc(&c->req->arena, 3 * SL_TOPIC_KEY_COUNT, sizeof(*syn));
        if (!out || !syn) {
                c->oom = true;
                return;
        }
        int32_t n = 0;
        for (size_t k = 0; k < SL_TOPIC_KEY_COUNT; k++) {
                sl_config_entry e;
                sl_topic_config_describe(&t->config, cfg, k, &e);
                if (!wanted(r, e.name))
                        continue;
                dc_entry *o = &out[n++];
                fill_entry(c, o, &e);
                if (!c->in->include_synonyms || c->req->api_version < 1)
                        continue;
                o->synonyms = &syn[3 * k];
                if (sl_topic_config_is_set(&t->config, (enum sl_topic_key)k))
                        add_synonym(c, o, e.name, e.value, SL_CONFIG_SOURCE_TOPIC);
                int bk = e.synonym ? broker_key(e.synonym) : -1;
                if (bk >= 0) {
                        add_broker_synonyms(c, o, (size_t)bk);
                } else if (!sl_topic_config_is_set(&t->config, (enum sl_topic_key)k)) {
                        add_synonym(c, o, e.name, e.value, SL_CONFIG_SOURCE_DEFAULT);
                }
        }
        res->configs = out;
        res->configs_count = n;
}

static void describe_broker(dc_ctx *c, const dc_resource *r, dc_result *res)
{
        const sl_config *cfg = sl_shard_config();
        char me[24];
        snprintf(me, sizeof(me), "%lld", (long long)cfg->node_id);
        if (r->resource_name.len == 0) {
                res->configs = NULL;
                res->configs_count = 0; /* no cluster-wide dynamic defaults */
                return;
        }
        if (!kp_str_eq(r->resource_name, kp_str_c(me))) {
                res->error_code = KP_ERR_INVALID_REQUEST;
                res->error_message = copy_str(c, "Unexpected broker id: this broker is node.id "
                                                 "and answers only for itself.");
                return;
        }
        size_t nk = sl_config_key_count();
        dc_entry *out = kp_arena_alloc(&c->req->arena, nk, sizeof(*out));
        dc_synonym *syn = kp_arena_alloc(&c->req->arena, 2 * nk, sizeof(*syn));
        if (!out || !syn) {
                c->oom = true;
                return;
        }
        int32_t n = 0;
        for (size_t k = 0; k < nk; k++) {
                sl_config_entry e;
                broker_describe(cfg, k, &e);
                if (!wanted(r, e.name))
                        continue;
                dc_entry *o = &out[n++];
                fill_entry(c, o, &e);
                if (c->in->include_synonyms && c->req->api_version >= 1) {
                        o->synonyms = &syn[2 * k];
                        add_broker_synonyms(c, o, k);
                }
        }
        res->configs = out;
        res->configs_count = n;
}

void sl_handle_describe_configs(sl_request *req)
{
        kp_describe_configs_request in;
        if (kp_describe_configs_request_decode(&req->body, req->api_version, &in) < 0) {
                sl_request_close(req, req->body.why ? req->body.why : "bad DescribeConfigs body");
                return;
        }
        dc_ctx c = {.req = req, .in = &in};
        int32_t n = in.resources_count > 0 ? in.resources_count : 0;
        dc_result *res = kp_arena_alloc(&req->arena, (size_t)(n ? n : 1), sizeof(*res));
        if (!res)
                goto out_oom;
        for (int32_t i = 0; i < n; i++) {
                const dc_resource *r = &in.resources[i];
                dc_result *o = &res[i];
                kp_describe_configs_response_describe_configs_result_init(o);
                o->error_code = 0;
                o->error_message = KP_STR_NULL;
                o->resource_type = r->resource_type;
                o->resource_name = r->resource_name;
                o->configs = NULL;
                o->configs_count = 0;
                if (r->resource_type == RES_TOPIC) {
                        describe_topic(&c, r, o);
                } else if (r->resource_type == RES_BROKER) {
                        describe_broker(&c, r, o);
                } else {
                        o->error_code = KP_ERR_INVALID_REQUEST;
                        o->error_message = kp_str_c("Unsupported resource type: only TOPIC (2) "
                                                    "and BROKER (4) are described.");
                }
                if (c.oom)
                        goto out_oom;
        }
        kp_describe_configs_response resp;
        kp_describe_configs_response_init(&resp);
        resp.throttle_time_ms = 0;
        resp.results = res;
        resp.results_count = n;
        SL_REQUEST_RESPOND(req, kp_describe_configs_response, &resp);
        return;
out_oom:
        sl_request_close(req, "out of memory");
}
