/* broker/handle_join_group.c — JoinGroup (key 11), versions 0-9.
 *
 * Decodes the request and forwards it to the group's coordinator shard
 * (group/group_shard.h); the answer comes back when the rebalance completes
 * (or at once for an error, MEMBER_ID_REQUIRED from v4, or a member that
 * rejoins an unchanged group). The state machine is group/group_join.c. */
#include "dispatch.h"
#include "gen/kp_messages.h"
#include "group/group_shard.h"

typedef struct jg_ctx {
        sl_group_fwd f;
        kp_join_group_request rq;
        kp_join_group_response rs;
} jg_ctx;

static void jg_done(sl_group_fwd *f)
{
        jg_ctx *c = f->ctx;
        if (f->call.error) {
                c->rs.error_code = f->call.error;
                c->rs.member_id = c->rq.member_id;
        }
        if (c->rs.protocol_name.len < 0 && f->call.version < 7)
                c->rs.protocol_name = (kp_str){"", 0};
        if (c->rs.leader.len < 0)
                c->rs.leader = (kp_str){"", 0};
        if (c->rs.member_id.len < 0)
                c->rs.member_id = (kp_str){"", 0};
        SL_GROUP_RESPOND(f->req, kp_join_group_response, &c->rs, sl_group_fwd_release(f));
}

void sl_handle_join_group(sl_request *req)
{
        jg_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c || kp_join_group_request_decode(&req->body, req->api_version, &c->rq)) {
                sl_request_close(req, "undecodable JoinGroup");
                return;
        }
        kp_join_group_response_init(&c->rs);
        c->rs.protocol_name = (kp_str){"", 0};
        c->rs.leader = (kp_str){"", 0};
        sl_group_fwd_init(&c->f, req, c->rq.group_id, &c->rq, &c->rs);
        c->f.op = sl_group_join;
        c->f.done = jg_done;
        c->f.ctx = c;
        sl_group_forward(req, &c->f);
}
