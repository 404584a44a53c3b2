/* broker/handle_offset_for_leader_epoch.c — OffsetForLeaderEpoch (key 23),
 * versions 2-4.
 *
 * Consumers (Java v3-4, librdkafka >= 2.1 v2) ask, after a leader change or
 * on a fetch position with a known epoch, where their last fetched epoch
 * ends here, to detect log truncation (KIP-320). Each partition is answered
 * on its owner shard by sl_epoch_end_on_owner (partition_ops.c) from the
 * storage epoch cache, with Kafka's rules: current_leader_epoch older than
 * the partition's → FENCED_LEADER_EPOCH, newer → UNKNOWN_LEADER_EPOCH; an
 * epoch above the latest (or an empty log) → epoch -1 / offset -1. The
 * replica_id of v3+ is not used: there are no followers on a single node. */
#include <string.h>

#include "broker_int.h"
#include "dispatch.h"
#include "gen/kp_messages.h"
#include "partition_ops.h"

typedef kp_offset_for_leader_epoch_response_epoch_end_offset ep_part;
typedef kp_offset_for_leader_epoch_response_offset_for_leader_topic_result ep_topic;

typedef struct ep_ctx {
        sl_offsets_fanout_ctx fc; /* first: owners read items from it */
        sl_request *req;
        kp_offset_for_leader_epoch_request m;
        kp_offset_for_leader_epoch_response resp;
        ep_part **item_resp;
        int32_t nitems;
        sl_fanout f;
} ep_ctx;

static void ep_gathered(sl_fanout *f)
{
        ep_ctx *c = f->ctx;
        for (int32_t i = 0; i < c->nitems; i++) {
                const sl_offsets_item *it = &c->fc.items[i];
                ep_part *pr = c->item_resp[i];
                pr->error_code = it->error_code;
                pr->leader_epoch = it->error_code ? -1 : it->found_epoch;
                pr->end_offset = it->error_code ? -1 : it->offset;
        }
        SL_REQUEST_RESPOND(c->req, kp_offset_for_leader_epoch_response, &c->resp);
}

void sl_handle_offset_for_leader_epoch(sl_request *req)
{
        ep_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c) {
                sl_request_close(req, "out of memory");
                return;
        }
        c->req = req;
        req->user = c;
        kp_offset_for_leader_epoch_request *m = &c->m;
        if (kp_offset_for_leader_epoch_request_decode(&req->body, req->api_version, m) < 0) {
                sl_request_close(req, req->body.why ? req->body.why
                                                    : "undecodable OffsetForLeaderEpoch");
                return;
        }
        int32_t ntopics = m->topics_count > 0 ? m->topics_count : 0;
        int32_t total = 0;
        for (int32_t i = 0; i < ntopics; i++)
                total += m->topics[i].partitions_count > 0 ? m->topics[i].partitions_count : 0;
        kp_offset_for_leader_epoch_response_init(&c->resp);
        c->resp.topics = kp_arena_alloc(&req->arena, (size_t)ntopics + 1, sizeof(ep_topic));
        c->fc.items = kp_arena_alloc(&req->arena, (size_t)total + 1, sizeof(*c->fc.items));
        c->item_resp = kp_arena_alloc(&req->arena, (size_t)total + 1, sizeof(*c->item_resp));
        sl_shard_id *owners = kp_arena_alloc(&req->arena, (size_t)total + 1, sizeof(*owners));
        if (!c->resp.topics || !c->fc.items || !c->item_resp || !owners) {
                sl_request_close(req, "out of memory");
                return;
        }
        c->resp.topics_count = ntopics;
        const sl_topics_snap *snap = sl_topics_current();
        for (int32_t i = 0; i < ntopics; i++) {
                const kp_offset_for_leader_epoch_request_offset_for_leader_topic *rt =
                    &m->topics[i];
                ep_topic *tr = &c->resp.topics[i];
                int32_t np = rt->partitions_count > 0 ? rt->partitions_count : 0;
                kp_offset_for_leader_epoch_response_offset_for_leader_topic_result_init(tr);
                tr->topic = rt->topic;
                tr->partitions = kp_arena_alloc(&req->arena, (size_t)np + 1, sizeof(ep_part));
                if (!tr->partitions) {
                        sl_request_close(req, "out of memory");
                        return;
                }
                tr->partitions_count = np;
                const sl_topic_info *t = snap ? sl_topics_find(snap, rt->topic) : NULL;
                for (int32_t k = 0; k < np; k++) {
                        const kp_offset_for_leader_epoch_request_offset_for_leader_partition *rp =
                            &rt->partitions[k];
                        ep_part *pr = &tr->partitions[k];
                        kp_offset_for_leader_epoch_response_epoch_end_offset_init(pr);
                        pr->partition = rp->partition;
                        if (!t || rp->partition < 0 || rp->partition >= t->partitions) {
                                pr->error_code = KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                                continue;
                        }
                        sl_offsets_item *it = &c->fc.items[c->nitems];
                        memset(it, 0, sizeof(*it));
                        it->topic_id = t->id;
                        it->partition = rp->partition;
                        it->leader_epoch = rp->leader_epoch;
                        it->current_leader_epoch = rp->current_leader_epoch;
                        c->item_resp[c->nitems] = pr;
                        owners[c->nitems] = sl_shard_for_partition(t->id, rp->partition);
                        c->nitems++;
                }
        }
        if (sl_fanout_plan(&c->f, &req->arena, owners, c->nitems, sl_shard_count()) < 0) {
                sl_request_close(req, "out of memory");
                return;
        }
        sl_fanout_start(&c->f, sl_epoch_end_on_owner, ep_gathered, c);
}
