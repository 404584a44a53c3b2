/* broker/handle_leave_group.c — LeaveGroup (key 13), versions 0-5.
 *
 * v0-2 name one member; v3+ a batch of (member id, group instance id)
 * identities (KIP-345), each answered on its own. Forwarded to the group's
 * coordinator shard (group/group_shard.h, group/group_sync.c). */
#include "dispatch.h"
#include "gen/kp_messages.h"
#include "group/group_shard.h"

typedef struct lg_ctx {
        sl_group_fwd f;
        kp_leave_group_request rq;
        kp_leave_group_response rs;
} lg_ctx;

static void lg_done(sl_group_fwd *f)
{
        lg_ctx *c = f->ctx;
        if (f->call.error) {
                c->rs.error_code = f->call.error;
                c->rs.members_count = 0;
        }
        SL_GROUP_RESPOND(f->req, kp_leave_group_response, &c->rs, sl_group_fwd_release(f));
}

void sl_handle_leave_group(sl_request *req)
{
        lg_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c || kp_leave_group_request_decode(&req->body, req->api_version, &c->rq)) {
                sl_request_close(req, "undecodable LeaveGroup");
                return;
        }
        kp_leave_group_response_init(&c->rs);
        sl_group_fwd_init(&c->f, req, c->rq.group_id, &c->rq, &c->rs);
        c->f.op = sl_group_leave;
        c->f.done = lg_done;
        c->f.ctx = c;
        sl_group_forward(req, &c->f);
}
