/* broker/handle_describe_producers.c — DescribeProducers (key 61), version 0
 * (kafka-transactions.sh describe-producers, Admin.describeProducers).
 *
 * Lists the producers of each requested partition from its producer state on
 * the owner shard (producer_state.h): id, epoch, last sequence, timestamp of
 * the last batch; coordinator epoch -1 and no open transaction (transactions
 * are not implemented). Two fan-outs: the first counts each partition's
 * producers, the connection's shard then sizes the arrays in its own arena,
 * the second fills them (so no shard allocates another's memory); producers
 * that appear between the two are left for the next call. */
#include <errno.h>
#include <string.h>

#include "broker_int.h"
#include "dispatch.h"
#include "gen/kp_messages.h"
#include "partition_ops.h"
#include "producer_state.h"

typedef kp_describe_producers_response_topic_response dp_topic;
typedef kp_describe_producers_response_partition_response dp_part;
typedef kp_describe_producers_response_producer_state dp_prod;

typedef struct dp_item {
        kp_uuid topic_id;
        int32_t partition;
        dp_part *out; /* response slot (filled on the owner in the second pass) */
        int32_t cap;  /* second pass: room in out->active_producers */
        int32_t count;
        int16_t error_code;
} dp_item;

typedef struct dp_ctx {
        dp_item *items; /* first: owners read it through f.ctx */
        sl_request *req;
        kp_describe_producers_request m;
        kp_describe_producers_response resp;
        int32_t nitems;
        sl_shard_id *owners;
        sl_fanout f;
} dp_ctx;

static sl_producer_state *state_for(dp_item *it)
{
        sl_partition *p = sl_partition_find(it->topic_id, it->partition);
        if (!p) {
                it->error_code = KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                return NULL;
        }
        int err;
        sl_producer_state *ps = sl_producer_state_of(p, sl_wall_ms(), &err);
        if (!ps)
                it->error_code =
                    err == -ENOMEM ? KP_ERR_UNKNOWN_SERVER_ERROR : KP_ERR_KAFKA_STORAGE_ERROR;
        return ps;
}

static void count_on_owner(sl_xcall *x)
{
        sl_fanout_group *grp = x->arg;
        dp_ctx *c = grp->f->ctx;
        for (int32_t i = 0; i < grp->n; i++) {
                dp_item *it = &c->items[grp->items[i]];
                sl_producer_state *ps = state_for(it);
                it->count = ps ? sl_producer_state_count(ps) : 0;
        }
        sl_xcall_reply(x);
}

static void fill_one(const sl_producer_entry *e, void *arg)
{
        dp_item *it = arg;
        if (it->count >= it->cap || e->n == 0)
                return;
        const sl_producer_batch *b = sl_producer_entry_last(e);
        dp_prod *o = &it->out->active_producers[it->count++];
        kp_describe_producers_response_producer_state_init(o);
        o->producer_id = e->producer_id;
        o->producer_epoch = e->epoch;
        o->last_sequence = b->last_seq;
        o->last_timestamp = b->timestamp;
        o->coordinator_epoch = -1;
        o->current_txn_start_offset = -1;
}

static void fill_on_owner(sl_xcall *x)
{
        sl_fanout_group *grp = x->arg;
        dp_ctx *c = grp->f->ctx;
        for (int32_t i = 0; i < grp->n; i++) {
                dp_item *it = &c->items[grp->items[i]];
                it->count = 0;
                if (it->error_code)
                        continue;
                sl_producer_state *ps = state_for(it);
                if (ps)
                        sl_producer_state_each(ps, fill_one, it);
        }
        sl_xcall_reply(x);
}

static void filled(sl_fanout *f)
{
        dp_ctx *c = f->ctx;
        for (int32_t i = 0; i < c->nitems; i++) {
                dp_item *it = &c->items[i];
                it->out->error_code = it->error_code;
                it->out->active_producers_count = it->error_code ? 0 : it->count;
        }
        SL_REQUEST_RESPOND(c->req, kp_describe_producers_response, &c->resp);
}

static void counted(sl_fanout *f)
{
        dp_ctx *c = f->ctx;
        sl_request *req = c->req;
        for (int32_t i = 0; i < c->nitems; i++) {
                dp_item *it = &c->items[i];
                it->cap = it->error_code ? 0 : it->count;
                it->out->active_producers =
                    kp_arena_alloc(&req->arena, (size_t)it->cap + 1, sizeof(dp_prod));
                if (!it->out->active_producers) {
                        sl_request_close(req, "out of memory");
                        return;
                }
        }
        if (sl_fanout_plan(&c->f, &req->arena, c->owners, c->nitems, sl_shard_count()) < 0) {
                sl_request_close(req, "out of memory");
                return;
        }
        sl_fanout_start(&c->f, fill_on_owner, filled, c);
}

void sl_handle_describe_producers(sl_request *req)
{
        dp_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c) {
                sl_request_close(req, "out of memory");
                return;
        }
        c->req = req;
        req->user = c;
        kp_describe_producers_request *m = &c->m;
        if (kp_describe_producers_request_decode(&req->body, req->api_version, m) < 0) {
                sl_request_close(req,
                                 req->body.why ? req->body.why : "undecodable DescribeProducers");
                return;
        }
        int32_t ntopics = m->topics_count > 0 ? m->topics_count : 0;
        int32_t total = 0;
        for (int32_t i = 0; i < ntopics; i++)
                total += m->topics[i].partition_indexes_count > 0
                             ? m->topics[i].partition_indexes_count
                             : 0;
        kp_describe_producers_response_init(&c->resp);
        c->resp.topics = kp_arena_alloc(&req->arena, (size_t)ntopics + 1, sizeof(dp_topic));
        c->items = kp_arena_alloc(&req->arena, (size_t)total + 1, sizeof(*c->items));
        c->owners = kp_arena_alloc(&req->arena, (size_t)total + 1, sizeof(*c->owners));
        if (!c->resp.topics || !c->items || !c->owners) {
                sl_request_close(req, "out of memory");
                return;
        }
        c->resp.topics_count = ntopics;
        const sl_topics_snap *snap = sl_topics_current();
        for (int32_t i = 0; i < ntopics; i++) {
                const kp_describe_producers_request_topic_request *rt = &m->topics[i];
                dp_topic *tr = &c->resp.topics[i];
                int32_t np = rt->partition_indexes_count > 0 ? rt->partition_indexes_count : 0;
                kp_describe_producers_response_topic_response_init(tr);
                tr->name = rt->name;
                tr->partitions = kp_arena_alloc(&req->arena, (size_t)np + 1, sizeof(dp_part));
                if (!tr->partitions) {
                        sl_request_close(req, "out of memory");
                        return;
                }
                tr->partitions_count = np;
                const sl_topic_info *t = snap ? sl_topics_find(snap, rt->name) : NULL;
                for (int32_t k = 0; k < np; k++) {
                        int32_t idx = rt->partition_indexes[k];
                        dp_part *pr = &tr->partitions[k];
                        kp_describe_producers_response_partition_response_init(pr);
                        pr->partition_index = idx;
                        pr->active_producers_count = 0;
                        if (!t || idx < 0 || idx >= t->partitions) {
                                pr->error_code = KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                                continue;
                        }
                        dp_item *it = &c->items[c->nitems];
                        memset(it, 0, sizeof(*it));
                        it->topic_id = t->id;
                        it->partition = idx;
                        it->out = pr;
                        c->owners[c->nitems] = sl_shard_for_partition(t->id, idx);
                        c->nitems++;
                }
        }
        if (sl_fanout_plan(&c->f, &req->arena, c->owners, c->nitems, sl_shard_count()) < 0) {
                sl_request_close(req, "out of memory");
                return;
        }
        sl_fanout_start(&c->f, count_on_owner, counted, c);
}
