/* broker/handle_heartbeat.c — Heartbeat (key 12), versions 0-4.
 *
 * Forwarded to the group's coordinator shard (group/group_shard.h), which
 * refreshes the member's session and reports a rebalance in progress
 * (group/group_sync.c). */
#include "dispatch.h"
#include "gen/kp_messages.h"
#include "group/group_shard.h"

typedef struct hb_ctx {
        sl_group_fwd f;
        kp_heartbeat_request rq;
        kp_heartbeat_response rs;
} hb_ctx;

static void hb_done(sl_group_fwd *f)
{
        hb_ctx *c = f->ctx;
        if (f->call.error)
                c->rs.error_code = f->call.error;
        SL_GROUP_RESPOND(f->req, kp_heartbeat_response, &c->rs, sl_group_fwd_release(f));
}

void sl_handle_heartbeat(sl_request *req)
{
        hb_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c || kp_heartbeat_request_decode(&req->body, req->api_version, &c->rq)) {
                sl_request_close(req, "undecodable Heartbeat");
                return;
        }
        kp_heartbeat_response_init(&c->rs);
        sl_group_fwd_init(&c->f, req, c->rq.group_id, &c->rq, &c->rs);
        c->f.op = sl_group_heartbeat;
        c->f.done = hb_done;
        c->f.ctx = c;
        sl_group_forward(req, &c->f);
}
