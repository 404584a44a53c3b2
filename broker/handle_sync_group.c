/* broker/handle_sync_group.c — SyncGroup (key 14), versions 0-5.
 *
 * Forwarded to the group's coordinator shard (group/group_shard.h); members
 * wait there until the leader's assignment is durable, then each gets its own
 * (group/group_sync.c). */
#include "dispatch.h"
#include "gen/kp_messages.h"
#include "group/group_shard.h"

typedef struct sg_ctx {
        sl_group_fwd f;
        kp_sync_group_request rq;
        kp_sync_group_response rs;
} sg_ctx;

static void sg_done(sl_group_fwd *f)
{
        sg_ctx *c = f->ctx;
        if (f->call.error)
                c->rs.error_code = f->call.error;
        if (c->rs.error_code)
                c->rs.assignment = (kp_bytes){(const uint8_t *)"", 0};
        SL_GROUP_RESPOND(f->req, kp_sync_group_response, &c->rs, sl_group_fwd_release(f));
}

void sl_handle_sync_group(sl_request *req)
{
        sg_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c || kp_sync_group_request_decode(&req->body, req->api_version, &c->rq)) {
                sl_request_close(req, "undecodable SyncGroup");
                return;
        }
        kp_sync_group_response_init(&c->rs);
        c->rs.assignment = (kp_bytes){(const uint8_t *)"", 0};
        sl_group_fwd_init(&c->f, req, c->rq.group_id, &c->rq, &c->rs);
        c->f.op = sl_group_sync;
        c->f.done = sg_done;
        c->f.ctx = c;
        sl_group_forward(req, &c->f);
}
