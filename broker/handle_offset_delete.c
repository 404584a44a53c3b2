/* broker/handle_offset_delete.c — OffsetDelete (key 47), version 0.
 *
 * Deletes committed offsets of a group (kafka-consumer-groups --delete-offsets):
 * refused per partition with GROUP_SUBSCRIBED_TO_TOPIC while a member of a
 * live consumer group subscribes to the topic, for the whole group with
 * NON_EMPTY_GROUP for a live group of another protocol type, and
 * GROUP_ID_NOT_FOUND for an unknown group (group/group_offsets.c). */
#include "dispatch.h"
#include "gen/kp_messages.h"
#include "group/group_shard.h"

typedef struct od_ctx {
        sl_group_fwd f;
        kp_offset_delete_request rq;
        kp_offset_delete_response rs;
} od_ctx;

static void od_done(sl_group_fwd *f)
{
        od_ctx *c = f->ctx;
        if (f->call.error)
                c->rs.error_code = f->call.error;
        if (c->rs.error_code)
                c->rs.topics_count = 0; /* Kafka: a group error answers no topics */
        SL_GROUP_RESPOND(f->req, kp_offset_delete_response, &c->rs, sl_group_fwd_release(f));
}

void sl_handle_offset_delete(sl_request *req)
{
        od_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c || kp_offset_delete_request_decode(&req->body, req->api_version, &c->rq)) {
                sl_request_close(req, "undecodable OffsetDelete");
                return;
        }
        kp_offset_delete_response_init(&c->rs);
        int32_t nt = c->rq.topics_count > 0 ? c->rq.topics_count : 0;
        c->rs.topics = nt ? kp_arena_alloc(&req->arena, (size_t)nt, sizeof(*c->rs.topics)) : NULL;
        if (nt && !c->rs.topics)
                goto oom;
        for (int32_t i = 0; i < nt; i++) {
                const kp_offset_delete_request_offset_delete_request_topic *t = &c->rq.topics[i];
                kp_offset_delete_response_offset_delete_response_topic *rt = &c->rs.topics[i];
                kp_offset_delete_response_offset_delete_response_topic_init(rt);
                rt->name = t->name;
                int32_t np = t->partitions_count > 0 ? t->partitions_count : 0;
                rt->partitions =
                    np ? kp_arena_alloc(&req->arena, (size_t)np, sizeof(*rt->partitions)) : NULL;
                if (np && !rt->partitions)
                        goto oom;
                for (int32_t k = 0; k < np; k++) {
                        kp_offset_delete_response_offset_delete_response_partition_init(
                            &rt->partitions[k]);
                        rt->partitions[k].partition_index = t->partitions[k].partition_index;
                }
                rt->partitions_count = np;
        }
        c->rs.topics_count = nt;
        sl_group_fwd_init(&c->f, req, c->rq.group_id, &c->rq, &c->rs);
        c->f.op = sl_group_offset_delete;
        c->f.done = od_done;
        c->f.ctx = c;
        c->rs.error_code = sl_group_id_check(c->rq.group_id);
        if (c->rs.error_code) {
                od_done(&c->f);
                return;
        }
        sl_group_forward(req, &c->f);
        return;
oom:
        sl_request_close(req, "out of memory");
}
