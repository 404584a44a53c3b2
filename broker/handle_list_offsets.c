/* broker/handle_list_offsets.c — ListOffsets (key 2), versions 0-10.
 *
 * Called from broker/dispatch.c; each partition is answered on its owner
 * shard by sl_list_offsets_on_owner (partition_ops.c): -2 earliest (log start
 * offset), -1 latest (high watermark = log end offset on a single node; the
 * last stable offset for read_committed, the same without transactions),
 * -3 max timestamp (v7+), -4 earliest local (= earliest, nothing is tiered),
 * -5 latest tiered (-1), otherwise the first record whose timestamp reaches
 * the target and its timestamp, as Kafka (storage finds the batch, the owner
 * walks its records). v0 answers the old-style offsets array with that
 * one offset (librdkafka < 1.8 asks with MaxNumOffsets 1); Kafka's legacy
 * list of segment base offsets for larger MaxNumOffsets is not reproduced. */
#include <string.h>

#include "broker_int.h"
#include "dispatch.h"
#include "gen/kp_messages.h"
#include "partition_ops.h"

typedef kp_list_offsets_response_list_offsets_partition_response lo_part;
typedef kp_list_offsets_response_list_offsets_topic_response lo_topic;

typedef struct lo_ctx {
        sl_offsets_fanout_ctx fc; /* first: owners read items from it */
        sl_request *req;
        kp_list_offsets_request m;
        kp_list_offsets_response resp;
        lo_part **item_resp;
        int32_t *max_num; /* v0 MaxNumOffsets per item */
        int32_t nitems;
        sl_fanout f;
} lo_ctx;

static void lo_gathered(sl_fanout *f)
{
        lo_ctx *c = f->ctx;
        sl_request *req = c->req;
        for (int32_t i = 0; i < c->nitems; i++) {
                const sl_offsets_item *it = &c->fc.items[i];
                lo_part *pr = c->item_resp[i];
                pr->error_code = it->error_code;
                if (req->api_version == 0) {
                        pr->old_style_offsets_count = 0;
                        if (!it->error_code && it->offset >= 0 && c->max_num[i] > 0) {
                                int64_t *o = kp_arena_alloc(&req->arena, 1, sizeof(*o));
                                if (o) {
                                        *o = it->offset;
                                        pr->old_style_offsets = o;
                                        pr->old_style_offsets_count = 1;
                                }
                        }
                        continue;
                }
                pr->offset = it->error_code ? -1 : it->offset;
                pr->timestamp = it->error_code ? -1 : it->found_timestamp;
                if (req->api_version >= 4) /* the field exists from v4 */
                        pr->leader_epoch = it->error_code ? -1 : it->found_epoch;
        }
        SL_REQUEST_RESPOND(req, kp_list_offsets_response, &c->resp);
}

void sl_handle_list_offsets(sl_request *req)
{
        lo_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c) {
                sl_request_close(req, "out of memory");
                return;
        }
        c->req = req;
        req->user = c;
        kp_list_offsets_request *m = &c->m;
        if (kp_list_offsets_request_decode(&req->body, req->api_version, m) < 0) {
                sl_request_close(req, req->body.why ? req->body.why : "undecodable ListOffsets");
                return;
        }
        int32_t ntopics = m->topics_count > 0 ? m->topics_count : 0;
        int32_t total = 0;
        for (int32_t i = 0; i < ntopics; i++)
                total += m->topics[i].partitions_count > 0 ? m->topics[i].partitions_count : 0;
        kp_list_offsets_response_init(&c->resp);
        c->resp.topics = kp_arena_alloc(&req->arena, (size_t)ntopics + 1, sizeof(lo_topic));
        c->fc.items = kp_arena_alloc(&req->arena, (size_t)total + 1, sizeof(*c->fc.items));
        c->item_resp = kp_arena_alloc(&req->arena, (size_t)total + 1, sizeof(*c->item_resp));
        c->max_num = kp_arena_alloc(&req->arena, (size_t)total + 1, sizeof(*c->max_num));
        sl_shard_id *owners = kp_arena_alloc(&req->arena, (size_t)total + 1, sizeof(*owners));
        if (!c->resp.topics || !c->fc.items || !c->item_resp || !c->max_num || !owners) {
                sl_request_close(req, "out of memory");
                return;
        }
        c->resp.topics_count = ntopics;
        const sl_topics_snap *snap = sl_topics_current();
        for (int32_t i = 0; i < ntopics; i++) {
                const kp_list_offsets_request_list_offsets_topic *rt = &m->topics[i];
                lo_topic *tr = &c->resp.topics[i];
                int32_t np = rt->partitions_count > 0 ? rt->partitions_count : 0;
                kp_list_offsets_response_list_offsets_topic_response_init(tr);
                tr->name = rt->name;
                tr->partitions = kp_arena_alloc(&req->arena, (size_t)np + 1, sizeof(lo_part));
                if (!tr->partitions) {
                        sl_request_close(req, "out of memory");
                        return;
                }
                tr->partitions_count = np;
                const sl_topic_info *t = snap ? sl_topics_find(snap, rt->name) : NULL;
                for (int32_t k = 0; k < np; k++) {
                        const kp_list_offsets_request_list_offsets_partition *rp =
                            &rt->partitions[k];
                        lo_part *pr = &tr->partitions[k];
                        kp_list_offsets_response_list_offsets_partition_response_init(pr);
                        pr->partition_index = rp->partition_index;
                        pr->old_style_offsets_count = 0;
                        if (!t || rp->partition_index < 0 || rp->partition_index >= t->partitions) {
                                pr->error_code = KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                                continue;
                        }
                        sl_offsets_item *it = &c->fc.items[c->nitems];
                        memset(it, 0, sizeof(*it));
                        it->topic_id = t->id;
                        it->partition = rp->partition_index;
                        it->timestamp = rp->timestamp;
                        it->current_leader_epoch = rp->current_leader_epoch;
                        it->read_committed = m->isolation_level == 1;
                        c->item_resp[c->nitems] = pr;
                        c->max_num[c->nitems] = rp->max_num_offsets;
                        owners[c->nitems] = sl_shard_for_partition(t->id, rp->partition_index);
                        c->nitems++;
                }
        }
        if (sl_fanout_plan(&c->f, &req->arena, owners, c->nitems, sl_shard_count()) < 0) {
                sl_request_close(req, "out of memory");
                return;
        }
        sl_fanout_start(&c->f, sl_list_offsets_on_owner, lo_gathered, c);
}
