/* broker/handle_offset_fetch.c — OffsetFetch (key 9), versions 1-9.
 *
 * v1-7 ask for one group, v8 for several (each forwarded to its own
 * coordinator shard and gathered here). The coordinator answers in the v8
 * per-group form (group/group_offsets.c); for v1-7 it is converted back:
 * a group error is the top-level error from v2, per-partition before. v2+
 * null topics mean every committed offset of the group. No offset: -1 with
 * empty metadata. v9 adds a member id and epoch per group, checked by a
 * KIP-848 consumer group (STALE_MEMBER_EPOCH, UNKNOWN_MEMBER_ID). RequireStable
 * (v7+) has nothing to wait for: no transactional offsets here. */
#include "dispatch.h"
#include "gen/kp_messages.h"
#include "group/group_shard.h"

typedef kp_offset_fetch_request_offset_fetch_request_group of_qgroup;
typedef kp_offset_fetch_response_offset_fetch_response_group of_rgroup;

typedef struct of_ctx {
        kp_offset_fetch_request rq;
        kp_offset_fetch_response rs;
        of_qgroup *qg; /* v8 form of each group asked */
        of_rgroup *rg; /* answers: fo.results */
        sl_group_fanout fo;
} of_ctx;

/* v1-7: the single group's v8-form answer back into the old layout. */
static int old_form(of_ctx *c)
{
        kp_offset_fetch_response *rs = &c->rs;
        const of_rgroup *g = &c->rg[0];
        int16_t v = c->fo.req->api_version;
        rs->error_code = v >= 2 ? g->error_code : 0;
        rs->topics_count = 0;
        if (g->error_code && v >= 2)
                return 0;
        /* v1 has no group error: report it on every partition asked */
        const of_qgroup *q = &c->qg[0];
        bool v1_err = g->error_code != 0;
        int32_t nt = v1_err ? q->topics_count : g->topics_count;
        if (nt <= 0)
                return 0;
        rs->topics = kp_arena_alloc(&c->fo.req->arena, (size_t)nt, sizeof(*rs->topics));
        if (!rs->topics)
                return -1;
        for (int32_t i = 0; i < nt; i++) {
                kp_offset_fetch_response_offset_fetch_response_topic *t = &rs->topics[i];
                kp_offset_fetch_response_offset_fetch_response_topic_init(t);
                int32_t np =
                    v1_err ? q->topics[i].partition_indexes_count : g->topics[i].partitions_count;
                t->name = v1_err ? q->topics[i].name : g->topics[i].name;
                t->partitions =
                    np > 0 ? kp_arena_alloc(&c->fo.req->arena, (size_t)np, sizeof(*t->partitions))
                           : NULL;
                if (np > 0 && !t->partitions)
                        return -1;
                for (int32_t k = 0; k < np; k++) {
                        kp_offset_fetch_response_offset_fetch_response_partition *p =
                            &t->partitions[k];
                        kp_offset_fetch_response_offset_fetch_response_partition_init(p);
                        if (v1_err) {
                                p->partition_index = q->topics[i].partition_indexes[k];
                                p->committed_offset = -1;
                                p->metadata = (kp_str){"", 0};
                                p->error_code = g->error_code;
                                continue;
                        }
                        const kp_offset_fetch_response_offset_fetch_response_partitions *s =
                            &g->topics[i].partitions[k];
                        p->partition_index = s->partition_index;
                        p->committed_offset = s->committed_offset;
                        p->committed_leader_epoch = v >= 5 ? s->committed_leader_epoch : -1;
                        p->metadata = s->metadata;
                        p->error_code = s->error_code;
                }
                t->partitions_count = np > 0 ? np : 0;
        }
        rs->topics_count = nt;
        return 0;
}

static void of_init(void *ctx, int32_t i, sl_group_fanout_item *it)
{
        of_ctx *c = ctx;
        kp_offset_fetch_response_offset_fetch_response_group_init(&c->rg[i]);
        c->rg[i].group_id = c->qg[i].group_id;
        *it = (sl_group_fanout_item){c->qg[i].group_id, &c->qg[i], &c->rg[i]};
}

static void of_fail(void *ctx, int32_t i, int16_t error)
{
        of_ctx *c = ctx;
        c->rg[i].error_code = error;
        c->rg[i].topics_count = 0;
}

static void of_finish(void *ctx)
{
        of_ctx *c = ctx;
        if (c->fo.req->api_version >= 8) {
                c->rs.groups = c->rg;
                c->rs.groups_count = c->fo.n;
        } else if (old_form(c)) {
                sl_group_fanout_release(&c->fo);
                sl_request_close(c->fo.req, "out of memory");
                return;
        }
        SL_GROUP_RESPOND(c->fo.req, kp_offset_fetch_response, &c->rs,
                         sl_group_fanout_release(&c->fo));
}

static const sl_group_fanout_ops of_ops = {sl_group_offset_fetch, of_init, of_fail, of_finish};

void sl_handle_offset_fetch(sl_request *req)
{
        of_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c || kp_offset_fetch_request_decode(&req->body, req->api_version, &c->rq)) {
                sl_request_close(req, "undecodable OffsetFetch");
                return;
        }
        kp_offset_fetch_response_init(&c->rs);
        int32_t n;
        if (req->api_version >= 8) {
                n = c->rq.groups_count;
                c->qg = c->rq.groups;
        } else {
                /* the old single-group form, restated as one v8 group */
                n = 1;
                c->qg = kp_arena_alloc(&req->arena, 1, sizeof(*c->qg));
                if (!c->qg)
                        goto oom;
                kp_offset_fetch_request_offset_fetch_request_group_init(c->qg);
                c->qg->group_id = c->rq.group_id;
                c->qg->topics_count = c->rq.topics_count;
                if (c->rq.topics_count > 0) {
                        c->qg->topics = kp_arena_alloc(&req->arena, (size_t)c->rq.topics_count,
                                                       sizeof(*c->qg->topics));
                        if (!c->qg->topics)
                                goto oom;
                        for (int32_t i = 0; i < c->rq.topics_count; i++) {
                                c->qg->topics[i].name = c->rq.topics[i].name;
                                c->qg->topics[i].partition_indexes =
                                    c->rq.topics[i].partition_indexes;
                                c->qg->topics[i].partition_indexes_count =
                                    c->rq.topics[i].partition_indexes_count;
                        }
                }
        }
        if (sl_group_fanout_alloc(&c->fo, req, n, sizeof(*c->rg)))
                goto oom;
        c->rg = c->fo.results;
        sl_group_fanout_run(&c->fo, &of_ops, c);
        return;
oom:
        sl_request_close(req, "out of memory");
}
