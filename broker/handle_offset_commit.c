/* broker/handle_offset_commit.c — OffsetCommit (key 8), versions 1-9.
 *
 * The response mirrors the request (every topic and partition in order);
 * partitions of unknown topics are refused here (UNKNOWN_TOPIC_OR_PARTITION),
 * the rest are checked and written by the group's coordinator shard
 * (group/group_offsets.c), which answers once the OffsetCommit records are
 * durable in __consumer_offsets. v9 carries a KIP-848 member epoch in the
 * generation field: a consumer group checks it (group/cgroup_member.c), a
 * classic group takes it as v8. */
#include "dispatch.h"
#include "gen/kp_messages.h"
#include "group/group_shard.h"

typedef kp_offset_commit_response_offset_commit_response_topic oc_rtopic;

typedef struct oc_ctx {
        sl_group_fwd f;
        kp_offset_commit_request rq;
        kp_offset_commit_response rs;
} oc_ctx;

static void oc_done(sl_group_fwd *f)
{
        oc_ctx *c = f->ctx;
        for (int32_t i = 0; f->call.error && i < c->rs.topics_count; i++)
                for (int32_t k = 0; k < c->rs.topics[i].partitions_count; k++)
                        if (!c->rs.topics[i].partitions[k].error_code)
                                c->rs.topics[i].partitions[k].error_code = f->call.error;
        SL_GROUP_RESPOND(f->req, kp_offset_commit_response, &c->rs, sl_group_fwd_release(f));
}

void sl_handle_offset_commit(sl_request *req)
{
        oc_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c || kp_offset_commit_request_decode(&req->body, req->api_version, &c->rq)) {
                sl_request_close(req, "undecodable OffsetCommit");
                return;
        }
        kp_offset_commit_response_init(&c->rs);
        int32_t nt = c->rq.topics_count > 0 ? c->rq.topics_count : 0;
        c->rs.topics = nt ? kp_arena_alloc(&req->arena, (size_t)nt, sizeof(*c->rs.topics)) : NULL;
        if (nt && !c->rs.topics)
                goto oom;
        const sl_topics_snap *snap = sl_topics_current();
        int16_t gerr = sl_group_id_check(c->rq.group_id);
        for (int32_t i = 0; i < nt; i++) {
                const kp_offset_commit_request_offset_commit_request_topic *t = &c->rq.topics[i];
                oc_rtopic *rt = &c->rs.topics[i];
                kp_offset_commit_response_offset_commit_response_topic_init(rt);
                rt->name = t->name;
                int32_t np = t->partitions_count > 0 ? t->partitions_count : 0;
                rt->partitions =
                    np ? kp_arena_alloc(&req->arena, (size_t)np, sizeof(*rt->partitions)) : NULL;
                if (np && !rt->partitions)
                        goto oom;
                const sl_topic_info *ti = sl_topics_find(snap, t->name);
                for (int32_t k = 0; k < np; k++) {
                        kp_offset_commit_response_offset_commit_response_partition *p =
                            &rt->partitions[k];
                        kp_offset_commit_response_offset_commit_response_partition_init(p);
                        p->partition_index = t->partitions[k].partition_index;
                        if (gerr)
                                p->error_code = gerr;
                        else if (!ti || p->partition_index < 0 ||
                                 p->partition_index >= ti->partitions)
                                p->error_code = KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                }
                rt->partitions_count = np;
        }
        c->rs.topics_count = nt;
        sl_group_fwd_init(&c->f, req, c->rq.group_id, &c->rq, &c->rs);
        c->f.op = sl_group_offset_commit;
        c->f.done = oc_done;
        c->f.ctx = c;
        if (gerr) {
                oc_done(&c->f);
                return;
        }
        sl_group_forward(req, &c->f);
        return;
oom:
        sl_request_close(req, "out of memory");
}
