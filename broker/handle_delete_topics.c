/* broker/handle_delete_topics.c — DeleteTopics (key 20), versions 0-6.
 *
 * v0-5 name topics; v6 names or topic ids (one of the two per entry). Each
 * topic becomes one registry delete (topics.h): shard 0 drops it from the
 * snapshot every shard reads, removes its metadata file, then the owner
 * shards close the partition logs and remove their directories, so the data
 * is gone when the answer is sent. Unknown names get
 * UNKNOWN_TOPIC_OR_PARTITION, unknown ids UNKNOWN_TOPIC_ID, a topic named
 * twice INVALID_REQUEST; delete.topic.enable=false gives
 * TOPIC_DELETION_DISABLED (from the registry). */
#include <stdio.h>
#include <string.h>

#include "broker_int.h"
#include "dispatch.h"
#include "gen/kp_messages.h"

typedef kp_delete_topics_response_deletable_topic_result dt_result;

typedef struct dt_item {
        sl_topic_op op;
        kp_str name; /* as asked, or the name found for an id (copied) */
        kp_uuid id;  /* as asked (v6) */
        bool by_id;
} dt_item;

typedef struct dt_ctx {
        sl_request *req;
        dt_item *items;
        int32_t n;
        int32_t pending;
} dt_ctx;

static const kp_uuid zero_id;

static void item_fail(dt_item *it, int16_t err, const char *msg)
{
        it->op.error = err;
        it->op.error_message = msg;
}

static bool is_dup(const dt_ctx *c, int32_t i)
{
        const dt_item *a = &c->items[i];
        for (int32_t j = 0; j < c->n; j++) {
                const dt_item *b = &c->items[j];
                if (j == i || a->by_id != b->by_id)
                        continue;
                if (a->by_id ? !memcmp(a->id.b, b->id.b, 16) : kp_str_eq(a->name, b->name))
                        return true;
        }
        return false;
}

static void respond(dt_ctx *c)
{
        sl_request *req = c->req;
        dt_result *res = kp_arena_alloc(&req->arena, (size_t)(c->n ? c->n : 1), sizeof(*res));
        if (!res) {
                sl_request_close(req, "out of memory");
                return;
        }
        for (int32_t i = 0; i < c->n; i++) {
                const dt_item *it = &c->items[i];
                dt_result *r = &res[i];
                kp_delete_topics_response_deletable_topic_result_init(r);
                r->name = it->name;
                if (r->name.len < 0 && req->api_version < 6)
                        r->name = kp_str_c("");
                if (req->api_version >= 6)
                        r->topic_id = it->op.error ? it->id : it->op.out_id;
                r->error_code = it->op.error;
                if (req->api_version >= 5 && it->op.error && it->op.error_message)
                        r->error_message = kp_str_c(it->op.error_message);
        }
        kp_delete_topics_response resp;
        kp_delete_topics_response_init(&resp);
        resp.throttle_time_ms = 0;
        resp.responses = res;
        resp.responses_count = c->n;
        SL_REQUEST_RESPOND(req, kp_delete_topics_response, &resp);
}

static void finish_one(dt_ctx *c)
{
        if (--c->pending == 0)
                respond(c);
}

static void op_done(sl_topic_op *op)
{
        finish_one(op->arg);
}

/* Copies the name of the topic with this id (the snapshot may change before
 * the answer is encoded). Null when unknown here. */
static kp_str name_for_id(sl_request *req, kp_uuid id)
{
        const sl_topic_info *t = sl_topics_find_id(sl_topics_current(), id);
        if (!t)
                return KP_STR_NULL;
        char *p = kp_arena_alloc(&req->arena, (size_t)t->name.len + 1, 1);
        if (!p)
                return KP_STR_NULL;
        memcpy(p, t->name.p, (size_t)t->name.len);
        return (kp_str){p, t->name.len};
}

void sl_handle_delete_topics(sl_request *req)
{
        kp_delete_topics_request in;
        dt_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c) {
                sl_request_close(req, "out of memory");
                return;
        }
        c->req = req;
        if (kp_delete_topics_request_decode(&req->body, req->api_version, &in) < 0) {
                sl_request_close(req, req->body.why ? req->body.why : "bad DeleteTopics body");
                return;
        }
        bool v6 = req->api_version >= 6;
        int32_t n = v6 ? in.topics_count : in.topic_names_count;
        c->n = n > 0 ? n : 0;
        c->items = kp_arena_alloc(&req->arena, (size_t)(c->n ? c->n : 1), sizeof(*c->items));
        if (!c->items) {
                sl_request_close(req, "out of memory");
                return;
        }
        for (int32_t i = 0; i < c->n; i++) {
                dt_item *it = &c->items[i];
                if (!v6) {
                        it->name = in.topic_names[i];
                        continue;
                }
                const kp_delete_topics_request_delete_topic_state *s = &in.topics[i];
                it->id = s->topic_id;
                it->name = s->name;
                it->by_id = s->name.len < 0;
        }
        c->pending = 1;
        for (int32_t i = 0; i < c->n; i++) {
                dt_item *it = &c->items[i];
                bool has_id = memcmp(it->id.b, zero_id.b, 16) != 0;
                if (v6 && !it->by_id && has_id) {
                        item_fail(it, KP_ERR_INVALID_REQUEST,
                                  "You may not specify both topic name and topic id.");
                        continue;
                }
                if (it->by_id && !has_id) {
                        item_fail(it, KP_ERR_INVALID_REQUEST,
                                  "Neither topic name nor id were specified.");
                        continue;
                }
                if (is_dup(c, i)) {
                        item_fail(it, KP_ERR_INVALID_REQUEST,
                                  it->by_id ? "Duplicate topic id." : "Duplicate topic name.");
                        continue;
                }
                if (it->by_id) {
                        it->name = name_for_id(req, it->id);
                        it->op.name = KP_STR_NULL;
                        it->op.id = it->id;
                } else {
                        it->op.name = it->name;
                }
                it->op.done = op_done;
                it->op.arg = c;
                c->pending++;
                sl_topics_delete(&it->op);
        }
        finish_one(c);
}
