/* broker/handle_describe_groups.c — DescribeGroups (key 15), versions 0-5.
 *
 * Each group is described by its own coordinator shard (group/group.c,
 * sl_group_describe) and the answers are gathered here, on the connection's
 * shard, in request order. Unknown groups, and KIP-848 consumer groups
 * (ConsumerGroupDescribe's), are reported as Dead with no members, as Kafka
 * does before DescribeGroups v6. Authorized operations (v3+) are not computed
 * (no ACLs): INT32_MIN, Kafka's "not requested" value. */
#include "dispatch.h"
#include "gen/kp_messages.h"
#include "group/group_shard.h"

typedef kp_describe_groups_response_described_group dg_group;

typedef struct dg_ctx {
        kp_describe_groups_request rq;
        kp_describe_groups_response rs;
        sl_group_fanout fo;
} dg_ctx;

static void dg_init(void *ctx, int32_t i, sl_group_fanout_item *it)
{
        dg_ctx *c = ctx;
        dg_group *d = &c->rs.groups[i];
        kp_describe_groups_response_described_group_init(d);
        d->group_id = c->rq.groups[i];
        d->group_state = (kp_str){"", 0};
        d->protocol_type = (kp_str){"", 0};
        d->protocol_data = (kp_str){"", 0};
        *it = (sl_group_fanout_item){c->rq.groups[i], &c->rq, d};
}

static void dg_fail(void *ctx, int32_t i, int16_t error)
{
        dg_ctx *c = ctx;
        c->rs.groups[i].error_code = error;
        c->rs.groups[i].group_state = (kp_str){"", 0};
}

static void dg_finish(void *ctx)
{
        dg_ctx *c = ctx;
        SL_GROUP_RESPOND(c->fo.req, kp_describe_groups_response, &c->rs,
                         sl_group_fanout_release(&c->fo));
}

static const sl_group_fanout_ops dg_ops = {sl_group_describe, dg_init, dg_fail, dg_finish};

void sl_handle_describe_groups(sl_request *req)
{
        dg_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c || kp_describe_groups_request_decode(&req->body, req->api_version, &c->rq)) {
                sl_request_close(req, "undecodable DescribeGroups");
                return;
        }
        kp_describe_groups_response_init(&c->rs);
        if (sl_group_fanout_alloc(&c->fo, req, c->rq.groups_count, sizeof(*c->rs.groups))) {
                sl_request_close(req, "out of memory");
                return;
        }
        c->rs.groups = c->fo.results;
        c->rs.groups_count = c->fo.n;
        sl_group_fanout_run(&c->fo, &dg_ops, c);
}
