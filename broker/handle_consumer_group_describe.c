/* broker/handle_consumer_group_describe.c — ConsumerGroupDescribe (key 69),
 * version 0 (the generated codec's; v1 is not in its specs).
 *
 * Each group is described by its own coordinator shard
 * (group/cgroup_describe.c) and the answers are gathered here in request
 * order. Unknown and classic groups are GROUP_ID_NOT_FOUND, as Kafka
 * answers; authorized operations are not computed (no ACLs). */
#include "dispatch.h"
#include "gen/kp_messages.h"
#include "group/group_shard.h"

typedef kp_consumer_group_describe_response_described_group cgd_group;

typedef struct cgd_ctx {
        kp_consumer_group_describe_request rq;
        kp_consumer_group_describe_response rs;
        sl_group_fanout fo;
} cgd_ctx;

static void cgd_init(void *ctx, int32_t i, sl_group_fanout_item *it)
{
        cgd_ctx *c = ctx;
        cgd_group *d = &c->rs.groups[i];
        kp_consumer_group_describe_response_described_group_init(d);
        d->group_id = c->rq.group_ids[i];
        d->group_state = (kp_str){"", 0};
        d->assignor_name = (kp_str){"", 0};
        *it = (sl_group_fanout_item){c->rq.group_ids[i], &c->rq, d};
}

static void cgd_fail(void *ctx, int32_t i, int16_t error)
{
        cgd_ctx *c = ctx;
        c->rs.groups[i].error_code = error;
        c->rs.groups[i].members_count = 0;
}

static void cgd_finish(void *ctx)
{
        cgd_ctx *c = ctx;
        SL_GROUP_RESPOND(c->fo.req, kp_consumer_group_describe_response, &c->rs,
                         sl_group_fanout_release(&c->fo));
}

static const sl_group_fanout_ops cgd_ops = {sl_cgroup_describe, cgd_init, cgd_fail, cgd_finish};

void sl_handle_consumer_group_describe(sl_request *req)
{
        cgd_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c || kp_consumer_group_describe_request_decode(&req->body, req->api_version, &c->rq)) {
                sl_request_close(req, "undecodable ConsumerGroupDescribe");
                return;
        }
        kp_consumer_group_describe_response_init(&c->rs);
        if (sl_group_fanout_alloc(&c->fo, req, c->rq.group_ids_count, sizeof(*c->rs.groups))) {
                sl_request_close(req, "out of memory");
                return;
        }
        c->rs.groups = c->fo.results;
        c->rs.groups_count = c->fo.n;
        sl_group_fanout_run(&c->fo, &cgd_ops, c);
}
