/* broker/handle_consumer_group_heartbeat.c — ConsumerGroupHeartbeat (key 68),
 * versions 0-1: the KIP-848 consumer group protocol (group.protocol=consumer).
 *
 * Forwarded to the group's coordinator shard (group/group_shard.h), where
 * group/cgroup.c joins, reconciles or removes the member and answers once the
 * group's records are durable in __consumer_offsets. v1 differs only in that
 * the client generates its member id (and may send a regex, refused there). */
#include "dispatch.h"
#include "gen/kp_messages.h"
#include "group/group_shard.h"

typedef struct cgh_ctx {
        sl_group_fwd f;
        kp_consumer_group_heartbeat_request rq;
        kp_consumer_group_heartbeat_response rs;
} cgh_ctx;

static void cgh_done(sl_group_fwd *f)
{
        cgh_ctx *c = f->ctx;
        if (f->call.error) {
                c->rs.error_code = f->call.error;
                c->rs.assignment_present = false;
        }
        SL_GROUP_RESPOND(f->req, kp_consumer_group_heartbeat_response, &c->rs,
                         sl_group_fwd_release(f));
}

void sl_handle_consumer_group_heartbeat(sl_request *req)
{
        cgh_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c ||
            kp_consumer_group_heartbeat_request_decode(&req->body, req->api_version, &c->rq)) {
                sl_request_close(req, "undecodable ConsumerGroupHeartbeat");
                return;
        }
        kp_consumer_group_heartbeat_response_init(&c->rs);
        sl_group_fwd_init(&c->f, req, c->rq.group_id, &c->rq, &c->rs);
        c->f.op = sl_cgroup_heartbeat;
        c->f.done = cgh_done;
        c->f.ctx = c;
        if (c->rq.group_id.len <= 0) {
                /* no coordinator for an empty id: the coordinator's own check answers */
                c->rs.error_code = KP_ERR_INVALID_REQUEST;
                c->rs.error_message = kp_str_c("GroupId can't be empty.");
                cgh_done(&c->f);
                return;
        }
        sl_group_forward(req, &c->f);
}
