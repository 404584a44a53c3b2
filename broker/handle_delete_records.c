/* broker/handle_delete_records.c — DeleteRecords (key 21), versions 0-2.
 *
 * Moves log start offsets forward: one xcall per owner shard runs
 * sl_log_delete_records there (it persists the start and drops whole
 * segments below it); the answer goes out when every owner has replied.
 * Offset -1 means the high watermark, which with one replica is the log end
 * offset (as in Kafka). Above it or below -1: OFFSET_OUT_OF_RANGE; at or
 * below the current start: no change, that start reported; a latched log:
 * KAFKA_STORAGE_ERROR. */
#include <string.h>

#include "broker_int.h"
#include "dispatch.h"
#include "gen/kp_messages.h"

typedef kp_delete_records_response_delete_records_topic_result dr_topic;
typedef kp_delete_records_response_delete_records_partition_result dr_part;

/* One partition on its way to the owner; written there, read back home. */
typedef struct dr_work {
        kp_uuid topic_id;
        int32_t index;
        int64_t offset;
        dr_part *out; /* response slot (origin arena; written by the owner) */
        sl_shard_id owner;
        bool send; /* goes to the owner (else answered already) */
} dr_work;

typedef struct dr_ctx {
        sl_request *req;
        dr_topic *topics;
        int32_t ntopics;
        dr_work *work;
        int32_t nwork;
        sl_gather g;
        sl_xcall *xs; /* one per shard */
} dr_ctx;

static int16_t delete_one(const dr_work *w, int64_t *low)
{
        sl_partition *p = sl_partition_find(w->topic_id, w->index);
        if (!p)
                return KP_ERR_UNKNOWN_TOPIC_OR_PARTITION; /* deleted meanwhile */
        int64_t hw = sl_log_end_offset(p->log);
        int64_t target = w->offset == -1 ? hw : w->offset;
        if (target < 0 || target > hw)
                return KP_ERR_OFFSET_OUT_OF_RANGE;
        int rc = sl_log_delete_records(p->log, target);
        if (rc == SL_EOFFSET)
                return KP_ERR_OFFSET_OUT_OF_RANGE;
        if (rc < 0) {
                SL_ERROR("%s-%d: DeleteRecords to %lld: %s", p->topic_name, p->index,
                         (long long)target, sl_log_strerror(rc));
                return KP_ERR_KAFKA_STORAGE_ERROR;
        }
        *low = sl_log_start_offset(p->log);
        return 0;
}

/* On an owner shard: every partition of the request it owns. */
static void owner_run(sl_xcall *x)
{
        dr_ctx *c = x->arg;
        sl_shard_id me = sl_shard_index(sl_shard_self());
        for (int32_t i = 0; i < c->nwork; i++) {
                dr_work *w = &c->work[i];
                if (!w->send || w->owner != me)
                        continue;
                int64_t low = -1;
                w->out->error_code = delete_one(w, &low);
                w->out->low_watermark = w->out->error_code ? -1 : low;
        }
        sl_xcall_reply(x);
}

static void gathered(sl_gather *g)
{
        dr_ctx *c = g->arg;
        kp_delete_records_response resp;
        kp_delete_records_response_init(&resp);
        resp.throttle_time_ms = 0;
        resp.topics = c->topics;
        resp.topics_count = c->ntopics;
        SL_REQUEST_RESPOND(c->req, kp_delete_records_response, &resp);
}

void sl_handle_delete_records(sl_request *req)
{
        kp_delete_records_request in;
        if (kp_delete_records_request_decode(&req->body, req->api_version, &in) < 0) {
                sl_request_close(req, req->body.why ? req->body.why : "bad DeleteRecords body");
                return;
        }
        kp_arena *a = &req->arena;
        dr_ctx *c = kp_arena_alloc(a, 1, sizeof(*c));
        uint32_t nshards = sl_shard_count();
        int32_t nt = in.topics_count > 0 ? in.topics_count : 0;
        int32_t total = 0;
        for (int32_t i = 0; i < nt; i++)
                total += in.topics[i].partitions_count > 0 ? in.topics[i].partitions_count : 0;
        if (!c)
                goto out_oom;
        c->req = req;
        c->ntopics = nt;
        c->topics = kp_arena_alloc(a, (size_t)(nt ? nt : 1), sizeof(*c->topics));
        c->work = kp_arena_alloc(a, (size_t)(total ? total : 1), sizeof(*c->work));
        c->xs = kp_arena_alloc(a, nshards, sizeof(*c->xs));
        bool *used = kp_arena_alloc(a, nshards, sizeof(*used));
        if (!c->topics || !c->work || !c->xs || !used)
                goto out_oom;
        const sl_topics_snap *snap = sl_topics_current();
        for (int32_t i = 0; i < nt; i++) {
                const kp_delete_records_request_delete_records_topic *t = &in.topics[i];
                const sl_topic_info *ti = sl_topics_find(snap, t->name);
                int32_t np = t->partitions_count > 0 ? t->partitions_count : 0;
                dr_part *parts = kp_arena_alloc(a, (size_t)(np ? np : 1), sizeof(*parts));
                if (!parts)
                        goto out_oom;
                c->topics[i].name = t->name;
                c->topics[i].partitions = parts;
                c->topics[i].partitions_count = np;
                for (int32_t k = 0; k < np; k++) {
                        const kp_delete_records_request_delete_records_partition *q =
                            &t->partitions[k];
                        dr_work *w = &c->work[c->nwork++];
                        parts[k].partition_index = q->partition_index;
                        parts[k].low_watermark = -1;
                        w->out = &parts[k];
                        if (!ti || q->partition_index < 0 || q->partition_index >= ti->partitions) {
                                parts[k].error_code = KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                                continue;
                        }
                        w->topic_id = ti->id;
                        w->index = q->partition_index;
                        w->offset = q->offset;
                        w->owner = sl_shard_for_partition(ti->id, q->partition_index);
                        w->send = true;
                        used[w->owner] = true;
                }
        }
        sl_gather_init(&c->g, gathered, c);
        for (uint32_t s = 0; s < nshards; s++) {
                if (!used[s])
                        continue;
                c->xs[s].run = owner_run;
                c->xs[s].arg = c;
                sl_gather_call(&c->g, s, &c->xs[s]);
        }
        sl_gather_arm(&c->g);
        return;
out_oom:
        sl_request_close(req, "out of memory");
}
