/* broker/handle_alter_configs.c — AlterConfigs (key 33, v0-2) and
 * IncrementalAlterConfigs (key 44, v0-1), TOPIC and BROKER resources.
 *
 * A topic becomes one registry "alter config" op (topics.h) whose edit runs
 * on shard 0 against the registry's copy (concurrent alters lose nothing);
 * the registry persists, installs and re-configures the open logs before the
 * answer. The broker (named by node.id) goes through broker_config.c the same
 * way. AlterConfigs replaces every override (a key left out returns to its
 * default); IncrementalAlterConfigs applies SET/DELETE/APPEND/SUBTRACT (the
 * last two on list configs only). Bad values: INVALID_CONFIG, nothing changes. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "broker_int.h"
#include "dispatch.h"
#include "gen/kp_messages.h"

enum { RES_TOPIC = 2, RES_BROKER = 4 };
enum { OP_SET = 0, OP_DELETE = 1, OP_APPEND = 2, OP_SUBTRACT = 3 };

/* One config change of a resource (both APIs). */
typedef struct ac_entry {
        kp_str name;
        kp_str value;
        int8_t op;
} ac_entry;

/* One resource of the request. op must stay first: the edit callback gets
 * the op and finds its item from it. */
typedef struct ac_item {
        sl_topic_op op;          /* TOPIC; its error fields hold every result */
        sl_broker_config_op bop; /* BROKER */
        int8_t type;
        kp_str name;
        ac_entry *entries;
        int32_t n;
        bool replace; /* AlterConfigs: start from no overrides */
} ac_item;

typedef struct ac_ctx {
        sl_request *req;
        ac_item *items;
        int32_t n;
        int32_t pending;
        bool incremental;
} ac_ctx;

static int16_t item_fail(ac_item *it, int16_t err, const char *msg)
{
        it->op.error = err;
        snprintf(it->op.message_buf, sizeof(it->op.message_buf), "%s", msg);
        it->op.error_message = it->op.message_buf;
        return err;
}

static int16_t opfail(sl_topic_op *op, int16_t err, const char *fmt, const char *key)
{
        snprintf(op->message_buf, sizeof(op->message_buf), fmt, key);
        return err;
}

static bool list_has(const char *list, const char *v)
{
        size_t n = strlen(v);
        for (const char *p = list; *p;) {
                const char *e = strchr(p, ',');
                size_t len = e ? (size_t)(e - p) : strlen(p);
                if (len == n && !memcmp(p, v, n))
                        return true;
                p = e ? e + 1 : p + len;
        }
        return false;
}

/* APPEND/SUBTRACT on a list config: cur (comma-separated) with the values of
 * `arg` added (those not present) or removed, into out. */
static void list_edit(const char *cur, const char *arg, bool add, char *out, size_t outlen)
{
        size_t o = 0;
        out[0] = 0;
        const char *srcs[2] = {cur, add ? arg : ""};
        for (int s = 0; s < 2; s++) {
                for (const char *p = srcs[s]; *p;) {
                        const char *e = strchr(p, ',');
                        size_t len = e ? (size_t)(e - p) : strlen(p);
                        char item[128];
                        if (len > 0 && len < sizeof(item)) {
                                memcpy(item, p, len);
                                item[len] = 0;
                                bool drop = (!add && list_has(arg, item)) || list_has(out, item);
                                if (!drop && o + len + 2 < outlen)
                                        o += (size_t)snprintf(out + o, outlen - o, "%s%s",
                                                              o ? "," : "", item);
                        }
                        p = e ? e + 1 : p + len;
                }
        }
}

static int16_t apply_entry(sl_topic_op *op, sl_topic_config *tc, const ac_entry *e)
{
        char key[256], val[1024];
        if (e->name.len <= 0 || e->name.len >= (int32_t)sizeof(key) ||
            e->value.len >= (int32_t)sizeof(val))
                return opfail(op, KP_ERR_INVALID_CONFIG, "Invalid config name or value%s.", "");
        memcpy(key, e->name.p, (size_t)e->name.len);
        key[e->name.len] = 0;
        if (e->value.len >= 0)
                memcpy(val, e->value.p, (size_t)e->value.len);
        val[e->value.len > 0 ? e->value.len : 0] = 0;
        int k = sl_topic_config_key(key);
        switch (e->op) {
        case OP_SET:
                if (e->value.len < 0)
                        return opfail(op, KP_ERR_INVALID_REQUEST,
                                      "Null value not supported for: %s", key);
                return sl_topic_config_set(tc, key, val, op->message_buf, sizeof(op->message_buf));
        case OP_DELETE:
                return sl_topic_config_delete(tc, key, op->message_buf, sizeof(op->message_buf));
        case OP_APPEND:
        case OP_SUBTRACT: {
                if (k < 0)
                        return opfail(op, KP_ERR_INVALID_CONFIG, "Unknown topic config: %s", key);
                sl_config_entry d;
                sl_topic_config_describe(tc, sl_shard_config(), (size_t)k, &d);
                if (d.type != SL_CONFIG_TYPE_LIST)
                        return opfail(op, KP_ERR_INVALID_CONFIG,
                                      "Config value append/subtract is not allowed for config "
                                      "key: %s",
                                      key);
                if (e->value.len < 0)
                        return opfail(op, KP_ERR_INVALID_REQUEST,
                                      "Null value not supported for: %s", key);
                char cur[256], next[512];
                snprintf(cur, sizeof(cur), "%s", d.value);
                list_edit(cur, val, e->op == OP_APPEND, next, sizeof(next));
                return sl_topic_config_set(tc, key, next, op->message_buf, sizeof(op->message_buf));
        }
        default:
                return opfail(op, KP_ERR_INVALID_REQUEST, "Unknown config operation%s.", "");
        }
}

/* Shard 0, against the registry's copy; tc is changed only on success. */
static int16_t edit_config(sl_topic_op *op, sl_topic_config *tc)
{
        const ac_item *it = (const ac_item *)op;
        sl_topic_config next = *tc;
        if (it->replace)
                sl_topic_config_init(&next);
        for (int32_t i = 0; i < it->n; i++) {
                int16_t e = apply_entry(op, &next, &it->entries[i]);
                if (e)
                        return e;
        }
        *tc = next;
        return 0;
}

/* Both responses have the same shape under two generated names. */
#define FILL_RESULTS(res, c)                                                                       \
        for (int32_t i = 0; i < (c)->n; i++) {                                                     \
                const ac_item *it_ = &(c)->items[i];                                               \
                (res)[i].error_code = it_->op.error;                                               \
                (res)[i].error_message = it_->op.error && it_->op.error_message                    \
                                             ? kp_str_c(it_->op.error_message)                     \
                                             : KP_STR_NULL;                                        \
                (res)[i].resource_type = it_->type;                                                \
                (res)[i].resource_name = it_->name;                                                \
        }

/* Index of a broker key, or -1. */
static int broker_key(const sl_config *cfg, const char *name, sl_config_entry *e)
{
        for (size_t k = 0; k < sl_config_key_count(); k++) {
                sl_config_describe(cfg, k, e);
                if (!strcmp(e->name, name))
                        return (int)k;
        }
        return -1;
}

static bool item_names(const ac_item *it, const char *name)
{
        for (int32_t i = 0; i < it->n; i++)
                if (kp_str_eq(it->entries[i].name, kp_str_c(name)))
                        return true;
        return false;
}

static int16_t apply_broker_entry(sl_broker_config_op *op, sl_config *cfg, const sl_config *st,
                                  const ac_entry *e)
{
        char key[256], val[1024], *msg = op->message_buf;
        size_t ml = sizeof(op->message_buf);
        if (e->name.len <= 0 || e->name.len >= (int32_t)sizeof(key) ||
            e->value.len >= (int32_t)sizeof(val)) {
                snprintf(msg, ml, "Invalid config name or value.");
                return KP_ERR_INVALID_CONFIG;
        }
        memcpy(key, e->name.p, (size_t)e->name.len);
        key[e->name.len] = 0;
        if (e->value.len >= 0)
                memcpy(val, e->value.p, (size_t)e->value.len);
        val[e->value.len > 0 ? e->value.len : 0] = 0;
        if (e->op != OP_DELETE && e->value.len < 0) {
                snprintf(msg, ml, "Null value not supported for: %s", key);
                return KP_ERR_INVALID_REQUEST;
        }
        switch (e->op) {
        case OP_SET:
                return sl_config_alter(cfg, st, key, val, msg, ml);
        case OP_DELETE:
                return sl_config_alter(cfg, st, key, NULL, msg, ml);
        case OP_APPEND:
        case OP_SUBTRACT: {
                sl_config_entry d;
                if (broker_key(cfg, key, &d) < 0 || d.type != SL_CONFIG_TYPE_LIST) {
                        snprintf(msg, ml,
                                 "Config value append/subtract is not allowed for config key: %s",
                                 key);
                        return KP_ERR_INVALID_CONFIG;
                }
                char cur[256], next[512];
                snprintf(cur, sizeof(cur), "%s", d.value);
                list_edit(cur, val, e->op == OP_APPEND, next, sizeof(next));
                return sl_config_alter(cfg, st, key, next, msg, ml);
        }
        default:
                snprintf(msg, ml, "Unknown config operation.");
                return KP_ERR_INVALID_REQUEST;
        }
}

/* Shard 0, on a copy of the config in force (discarded on error). */
static int16_t edit_broker(sl_broker_config_op *bop, sl_config *cfg, const sl_config *st)
{
        const ac_item *it = (const ac_item *)((char *)bop - offsetof(ac_item, bop));
        if (it->replace) {
                /* Legacy AlterConfigs: dynamic values not named return to static. */
                for (size_t k = 0; k < sl_config_key_count(); k++) {
                        sl_config_entry e;
                        sl_config_describe(cfg, k, &e);
                        if (e.source == SL_CONFIG_SOURCE_DYNAMIC_BROKER &&
                            !item_names(it, e.name)) {
                                char ign[64];
                                sl_config_alter(cfg, st, e.name, NULL, ign, sizeof(ign));
                        }
                }
        }
        for (int32_t i = 0; i < it->n; i++) {
                int16_t err = apply_broker_entry(bop, cfg, st, &it->entries[i]);
                if (err)
                        return err;
        }
        return 0;
}

static void respond(ac_ctx *c)
{
        sl_request *req = c->req;
        size_t n = (size_t)(c->n ? c->n : 1);
        if (c->incremental) {
                kp_incremental_alter_configs_response resp;
                kp_incremental_alter_configs_response_init(&resp);
                resp.responses = kp_arena_alloc(&req->arena, n, sizeof(*resp.responses));
                if (!resp.responses)
                        goto out_oom;
                FILL_RESULTS(resp.responses, c);
                resp.responses_count = c->n;
                SL_REQUEST_RESPOND(req, kp_incremental_alter_configs_response, &resp);
                return;
        }
        kp_alter_configs_response resp;
        kp_alter_configs_response_init(&resp);
        resp.responses = kp_arena_alloc(&req->arena, n, sizeof(*resp.responses));
        if (!resp.responses)
                goto out_oom;
        FILL_RESULTS(resp.responses, c);
        resp.responses_count = c->n;
        SL_REQUEST_RESPOND(req, kp_alter_configs_response, &resp);
        return;
out_oom:
        sl_request_close(req, "out of memory");
}

static void finish_one(ac_ctx *c)
{
        if (--c->pending == 0)
                respond(c);
}

static void op_done(sl_topic_op *op)
{
        finish_one(op->arg);
}

static void bop_done(sl_broker_config_op *bop)
{
        ac_item *it = (ac_item *)((char *)bop - offsetof(ac_item, bop));
        it->op.error = bop->error;
        if (bop->error) {
                memcpy(it->op.message_buf, bop->message_buf, sizeof(it->op.message_buf));
                it->op.error_message = it->op.message_buf;
        }
        finish_one(bop->arg);
}

/* A BROKER resource: this node only. */
static void start_broker(ac_ctx *c, ac_item *it, bool validate_only)
{
        char me[24];
        snprintf(me, sizeof(me), "%lld", (long long)sl_shard_config()->node_id);
        if (it->name.len == 0) {
                item_fail(it, KP_ERR_INVALID_REQUEST,
                          "Cluster-wide default broker configs are not supported; name the "
                          "broker by its node.id.");
                return;
        }
        if (!kp_str_eq(it->name, kp_str_c(me))) {
                item_fail(it, KP_ERR_INVALID_REQUEST, "Unexpected broker id.");
                return;
        }
        it->bop.edit = edit_broker;
        it->bop.validate_only = validate_only;
        it->bop.done = bop_done;
        it->bop.arg = c;
        c->pending++;
        sl_broker_config_alter(&it->bop);
}

/* Request-level checks, then one registry op per topic resource. */
static void start(ac_ctx *c, bool validate_only)
{
        c->pending = 1;
        for (int32_t i = 0; i < c->n; i++) {
                ac_item *it = &c->items[i];
                bool dup = false;
                for (int32_t j = 0; j < c->n && !dup; j++)
                        dup = j != i && c->items[j].type == it->type &&
                              kp_str_eq(c->items[j].name, it->name);
                if (dup) {
                        item_fail(it, KP_ERR_INVALID_REQUEST, "Duplicate resource in request.");
                        continue;
                }
                for (int32_t a = 0; a < it->n && !dup; a++)
                        for (int32_t b = 0; b < a && !dup; b++)
                                dup = kp_str_eq(it->entries[a].name, it->entries[b].name);
                if (dup) {
                        item_fail(it, KP_ERR_INVALID_REQUEST,
                                  "Error due to duplicate config keys.");
                        continue;
                }
                if (it->type == RES_BROKER) {
                        start_broker(c, it, validate_only);
                        continue;
                }
                if (it->type != RES_TOPIC) {
                        item_fail(it, KP_ERR_INVALID_REQUEST, "Unsupported resource type.");
                        continue;
                }
                if (sl_topic_name_check(it->name)) {
                        item_fail(it, KP_ERR_INVALID_TOPIC_EXCEPTION, "Invalid topic name.");
                        continue;
                }
                it->op.name = it->name;
                it->op.validate_only = validate_only;
                it->op.edit_config = edit_config;
                it->op.done = op_done;
                it->op.arg = c;
                c->pending++;
                sl_topics_alter_config(&it->op);
        }
        finish_one(c);
}

static ac_ctx *ctx_new(sl_request *req, int32_t n)
{
        ac_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c)
                return NULL;
        c->req = req;
        c->n = n > 0 ? n : 0;
        c->items = kp_arena_alloc(&req->arena, (size_t)(c->n ? c->n : 1), sizeof(*c->items));
        return c->items ? c : NULL;
}

void sl_handle_alter_configs(sl_request *req)
{
        kp_alter_configs_request in;
        if (kp_alter_configs_request_decode(&req->body, req->api_version, &in) < 0) {
                sl_request_close(req, req->body.why ? req->body.why : "bad AlterConfigs body");
                return;
        }
        ac_ctx *c = ctx_new(req, in.resources_count);
        if (!c)
                goto out_oom;
        for (int32_t i = 0; i < c->n; i++) {
                const kp_alter_configs_request_alter_configs_resource *r = &in.resources[i];
                ac_item *it = &c->items[i];
                it->type = r->resource_type;
                it->name = r->resource_name;
                it->replace = true;
                it->n = r->configs_count > 0 ? r->configs_count : 0;
                it->entries =
                    kp_arena_alloc(&req->arena, (size_t)(it->n ? it->n : 1), sizeof(*it->entries));
                if (!it->entries)
                        goto out_oom;
                for (int32_t k = 0; k < it->n; k++)
                        it->entries[k] =
                            (ac_entry){r->configs[k].name, r->configs[k].value, OP_SET};
        }
        start(c, in.validate_only);
        return;
out_oom:
        sl_request_close(req, "out of memory");
}

void sl_handle_incremental_alter_configs(sl_request *req)
{
        kp_incremental_alter_configs_request in;
        if (kp_incremental_alter_configs_request_decode(&req->body, req->api_version, &in) < 0) {
                sl_request_close(req, req->body.why ? req->body.why
                                                    : "bad IncrementalAlterConfigs body");
                return;
        }
        ac_ctx *c = ctx_new(req, in.resources_count);
        if (!c)
                goto out_oom;
        c->incremental = true;
        for (int32_t i = 0; i < c->n; i++) {
                const kp_incremental_alter_configs_request_alter_configs_resource *r =
                    &in.resources[i];
                ac_item *it = &c->items[i];
                it->type = r->resource_type;
                it->name = r->resource_name;
                it->n = r->configs_count > 0 ? r->configs_count : 0;
                it->entries =
                    kp_arena_alloc(&req->arena, (size_t)(it->n ? it->n : 1), sizeof(*it->entries));
                if (!it->entries)
                        goto out_oom;
                for (int32_t k = 0; k < it->n; k++)
                        it->entries[k] = (ac_entry){r->configs[k].name, r->configs[k].value,
                                                    r->configs[k].config_operation};
        }
        start(c, in.validate_only);
        return;
out_oom:
        sl_request_close(req, "out of memory");
}
