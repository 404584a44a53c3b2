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
        sl_group_fwd *f; /* one per group */
        int32_t pending;
        sl_request *req;
} cgd_ctx;

static void release_all(cgd_ctx *c)
{
        for (int32_t i = 0; i < c->rs.groups_count; i++)
                sl_group_fwd_release(&c->f[i]);
}

static void cgd_finish(cgd_ctx *c)
{
        SL_GROUP_RESPOND(c->req, kp_consumer_group_describe_response, &c->rs, release_all(c));
}

static void cgd_done(sl_group_fwd *f)
{
        cgd_ctx *c = f->ctx;
        cgd_group *d = f->call.rs;
        if (f->call.error) {
                d->error_code = f->call.error;
                d->members_count = 0;
        }
        if (--c->pending == 0)
                cgd_finish(c);
}

void sl_handle_consumer_group_describe(sl_request *req)
{
        cgd_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c || kp_consumer_group_describe_request_decode(&req->body, req->api_version, &c->rq)) {
                sl_request_close(req, "undecodable ConsumerGroupDescribe");
                return;
        }
        kp_consumer_group_describe_response_init(&c->rs);
        c->req = req;
        int32_t n = c->rq.group_ids_count > 0 ? c->rq.group_ids_count : 0;
        c->rs.groups = n ? kp_arena_alloc(&req->arena, (size_t)n, sizeof(*c->rs.groups)) : NULL;
        c->f = n ? kp_arena_alloc(&req->arena, (size_t)n, sizeof(*c->f)) : NULL;
        if (n && (!c->rs.groups || !c->f)) {
                sl_request_close(req, "out of memory");
                return;
        }
        c->rs.groups_count = n;
        c->pending = 1;
        for (int32_t i = 0; i < n; i++) {
                cgd_group *d = &c->rs.groups[i];
                kp_consumer_group_describe_response_described_group_init(d);
                d->group_id = c->rq.group_ids[i];
                d->group_state = (kp_str){"", 0};
                d->assignor_name = (kp_str){"", 0};
                sl_group_fwd_init(&c->f[i], req, c->rq.group_ids[i], &c->rq, d);
                c->f[i].op = sl_cgroup_describe;
                c->f[i].done = cgd_done;
                c->f[i].ctx = c;
                d->error_code = sl_group_id_check(c->rq.group_ids[i]);
                if (d->error_code)
                        continue;
                c->pending++;
                sl_group_forward(req, &c->f[i]);
        }
        if (--c->pending == 0)
                cgd_finish(c);
}
