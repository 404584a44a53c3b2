/* broker/handle_create_partitions.c — CreatePartitions (key 37), versions 0-3.
 *
 * Raises a topic's partition count: each topic becomes one registry "add
 * partitions" op (topics.h), which persists the new count, has the owner
 * shards open the new logs and installs the snapshot before answering.
 * A count that does not increase gets INVALID_PARTITIONS (from the
 * registry, which sees the authoritative count); manual assignments must
 * list exactly the new partitions, each on [this node]
 * (INVALID_REPLICA_ASSIGNMENT otherwise); a topic named twice gets
 * INVALID_REQUEST. validate_only checks everything and changes nothing. */
#include <stdio.h>
#include <string.h>

#include "broker_int.h"
#include "dispatch.h"
#include "gen/kp_messages.h"

typedef kp_create_partitions_request_create_partitions_topic cp_topic;
typedef kp_create_partitions_response_create_partitions_topic_result cp_result;

typedef struct cp_ctx {
        sl_request *req;
        kp_create_partitions_request in;
        sl_topic_op *ops; /* one per topic */
        int32_t n;
        int32_t pending;
} cp_ctx;

static void op_fail(sl_topic_op *op, int16_t err, const char *msg)
{
        op->error = err;
        snprintf(op->message_buf, sizeof(op->message_buf), "%s", msg);
        op->error_message = op->message_buf;
}

static void respond(cp_ctx *c)
{
        sl_request *req = c->req;
        cp_result *res = kp_arena_alloc(&req->arena, (size_t)(c->n ? c->n : 1), sizeof(*res));
        if (!res) {
                sl_request_close(req, "out of memory");
                return;
        }
        int32_t nres = 0;
        for (int32_t i = 0; i < c->n; i++) {
                bool seen = false;
                for (int32_t j = 0; j < i && !seen; j++)
                        seen = kp_str_eq(c->in.topics[j].name, c->in.topics[i].name);
                if (seen)
                        continue; /* a duplicated name is answered once */
                const sl_topic_op *op = &c->ops[i];
                cp_result *r = &res[nres++];
                kp_create_partitions_response_create_partitions_topic_result_init(r);
                r->name = c->in.topics[i].name;
                r->error_code = op->error;
                r->error_message =
                    op->error && op->error_message ? kp_str_c(op->error_message) : KP_STR_NULL;
        }
        kp_create_partitions_response resp;
        kp_create_partitions_response_init(&resp);
        resp.throttle_time_ms = 0;
        resp.results = res;
        resp.results_count = nres;
        SL_REQUEST_RESPOND(req, kp_create_partitions_response, &resp);
}

static void finish_one(cp_ctx *c)
{
        if (--c->pending == 0)
                respond(c);
}

static void op_done(sl_topic_op *op)
{
        finish_one(op->arg);
}

/* Checks what the registry cannot: duplicates and manual assignments. The
 * count against the current one is checked by the registry (authoritative);
 * the shard's snapshot serves only to size the assignment list. */
static bool check_topic(cp_ctx *c, int32_t i)
{
        const cp_topic *t = &c->in.topics[i];
        sl_topic_op *op = &c->ops[i];
        for (int32_t j = 0; j < c->n; j++)
                if (j != i && kp_str_eq(c->in.topics[j].name, t->name)) {
                        op_fail(op, KP_ERR_INVALID_REQUEST, "Duplicate topic in request.");
                        return false;
                }
        if (t->assignments_count < 0)
                return true;
        const sl_topic_info *ti = sl_topics_find(sl_topics_current(), t->name);
        if (!ti)
                return true; /* the registry answers UNKNOWN_TOPIC_OR_PARTITION */
        int32_t want = t->count - ti->partitions;
        if (want > 0 && t->assignments_count != want) {
                snprintf(op->message_buf, sizeof(op->message_buf),
                         "Increasing the number of partitions by %d but %d assignments provided.",
                         want, t->assignments_count);
                op->error = KP_ERR_INVALID_REPLICA_ASSIGNMENT;
                op->error_message = op->message_buf;
                return false;
        }
        int32_t node = (int32_t)sl_shard_config()->node_id;
        for (int32_t k = 0; k < t->assignments_count; k++) {
                const kp_create_partitions_request_create_partitions_assignment *a =
                    &t->assignments[k];
                if (a->broker_ids_count != 1 || a->broker_ids[0] != node) {
                        snprintf(op->message_buf, sizeof(op->message_buf),
                                 "Assignment %d: replicas must be [%d], the only broker.", k, node);
                        op->error = KP_ERR_INVALID_REPLICA_ASSIGNMENT;
                        op->error_message = op->message_buf;
                        return false;
                }
        }
        return true;
}

void sl_handle_create_partitions(sl_request *req)
{
        cp_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c) {
                sl_request_close(req, "out of memory");
                return;
        }
        c->req = req;
        if (kp_create_partitions_request_decode(&req->body, req->api_version, &c->in) < 0) {
                sl_request_close(req, req->body.why ? req->body.why : "bad CreatePartitions body");
                return;
        }
        c->n = c->in.topics_count > 0 ? c->in.topics_count : 0;
        c->ops = kp_arena_alloc(&req->arena, (size_t)(c->n ? c->n : 1), sizeof(*c->ops));
        if (!c->ops) {
                sl_request_close(req, "out of memory");
                return;
        }
        c->pending = 1;
        for (int32_t i = 0; i < c->n; i++) {
                sl_topic_op *op = &c->ops[i];
                if (!check_topic(c, i))
                        continue;
                op->name = c->in.topics[i].name;
                op->partitions = c->in.topics[i].count;
                op->validate_only = c->in.validate_only;
                op->done = op_done;
                op->arg = c;
                c->pending++;
                sl_topics_add_partitions(op);
        }
        finish_one(c);
}
