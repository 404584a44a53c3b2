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
        sl_group_fwd *f; /* one per group */
        int32_t pending;
        sl_request *req;
} dg_ctx;

static void release_all(dg_ctx *c)
{
        for (int32_t i = 0; i < c->rq.groups_count; i++)
                sl_group_fwd_release(&c->f[i]);
}

static void dg_finish(dg_ctx *c)
{
        SL_GROUP_RESPOND(c->req, kp_describe_groups_response, &c->rs, release_all(c));
}

static void dg_done(sl_group_fwd *f)
{
        dg_ctx *c = f->ctx;
        dg_group *d = f->call.rs;
        if (f->call.error) {
                d->error_code = f->call.error;
                d->group_state = (kp_str){"", 0};
        }
        if (--c->pending == 0)
                dg_finish(c);
}

void sl_handle_describe_groups(sl_request *req)
{
        dg_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c || kp_describe_groups_request_decode(&req->body, req->api_version, &c->rq)) {
                sl_request_close(req, "undecodable DescribeGroups");
                return;
        }
        kp_describe_groups_response_init(&c->rs);
        c->req = req;
        int32_t n = c->rq.groups_count > 0 ? c->rq.groups_count : 0;
        c->rs.groups = n ? kp_arena_alloc(&req->arena, (size_t)n, sizeof(*c->rs.groups)) : NULL;
        c->f = n ? kp_arena_alloc(&req->arena, (size_t)n, sizeof(*c->f)) : NULL;
        if (n && (!c->rs.groups || !c->f)) {
                sl_request_close(req, "out of memory");
                return;
        }
        c->rs.groups_count = n;
        c->pending = 1;
        for (int32_t i = 0; i < n; i++) {
                dg_group *d = &c->rs.groups[i];
                kp_describe_groups_response_described_group_init(d);
                d->group_id = c->rq.groups[i];
                d->group_state = (kp_str){"", 0};
                d->protocol_type = (kp_str){"", 0};
                d->protocol_data = (kp_str){"", 0};
                sl_group_fwd_init(&c->f[i], req, c->rq.groups[i], &c->rq, d);
                c->f[i].op = sl_group_describe;
                c->f[i].done = dg_done;
                c->f[i].ctx = c;
                d->error_code = sl_group_id_check(c->rq.groups[i]);
                if (d->error_code)
                        continue;
                c->pending++;
                sl_group_forward(req, &c->f[i]);
        }
        if (--c->pending == 0)
                dg_finish(c);
}
