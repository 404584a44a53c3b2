/* broker/handle_describe_log_dirs.c — DescribeLogDirs (key 35), versions 1-4.
 *
 * kafka-log-dirs.sh: the one log dir (data.dir) with the size on disk of
 * every partition asked for (null topics = all), measured on each owner
 * shard with sl_log_get_stats (one xcall per owner shard, answered when all
 * are back). Unknown topics and partitions are left out, as Kafka does.
 * offset_lag is 0 and is_future_key false: there is one replica and no
 * replica movement. v3+ has a top-level error code; v4 the total and usable
 * bytes of the file system holding the dir (statvfs). */
#include <string.h>
#include <sys/statvfs.h>

#include "broker_int.h"
#include "dispatch.h"
#include "gen/kp_messages.h"

typedef kp_describe_log_dirs_response_describe_log_dirs_result ld_result;
typedef kp_describe_log_dirs_response_describe_log_dirs_topic ld_topic;
typedef kp_describe_log_dirs_response_describe_log_dirs_partition ld_part;

/* One partition measured on its owner. */
typedef struct ld_work {
        kp_uuid topic_id;
        int32_t index;
        sl_shard_id owner;
        ld_part *out;
        bool found; /* written by the owner */
} ld_work;

typedef struct ld_ctx {
        sl_request *req;
        ld_result result;
        ld_work *work;
        int32_t nwork;
        sl_gather g;
        sl_xcall *xs; /* one per shard */
} ld_ctx;

static void owner_run(sl_xcall *x)
{
        ld_ctx *c = x->arg;
        sl_shard_id me = sl_shard_index(sl_shard_self());
        for (int32_t i = 0; i < c->nwork; i++) {
                ld_work *w = &c->work[i];
                if (w->owner != me)
                        continue;
                sl_partition *p = sl_partition_find(w->topic_id, w->index);
                if (!p)
                        continue; /* deleted meanwhile: left out */
                sl_log_stats st;
                sl_log_get_stats(p->log, &st);
                w->out->partition_size = st.size_bytes;
                w->found = true;
        }
        sl_xcall_reply(x);
}

/* Drops partitions that vanished while the request ran. */
static void compact(ld_ctx *c)
{
        int32_t wi = 0;
        for (int32_t i = 0; i < c->result.topics_count; i++) {
                ld_topic *t = &c->result.topics[i];
                int32_t n = 0;
                for (int32_t k = 0; k < t->partitions_count; k++, wi++)
                        if (c->work[wi].found)
                                t->partitions[n++] = t->partitions[k];
                t->partitions_count = n;
        }
}

static void gathered(sl_gather *g)
{
        ld_ctx *c = g->arg;
        compact(c);
        kp_describe_log_dirs_response resp;
        kp_describe_log_dirs_response_init(&resp);
        resp.throttle_time_ms = 0;
        resp.error_code = 0;
        resp.results = &c->result;
        resp.results_count = 1;
        SL_REQUEST_RESPOND(c->req, kp_describe_log_dirs_response, &resp);
}

/* Adds topic t with the asked partitions (nasked < 0: all) to the result. */
static int add_topic(ld_ctx *c, const sl_topic_info *t, const int32_t *asked, int32_t nasked,
                     bool *used)
{
        kp_arena *a = &c->req->arena;
        ld_topic *out = &c->result.topics[c->result.topics_count++];
        int32_t n = nasked >= 0 ? nasked : t->partitions;
        char *name = kp_arena_alloc(a, (size_t)t->name.len + 1, 1);
        out->partitions = kp_arena_alloc(a, (size_t)(n ? n : 1), sizeof(*out->partitions));
        if (!name || !out->partitions)
                return -1;
        memcpy(name, t->name.p, (size_t)t->name.len);
        out->name = (kp_str){name, t->name.len};
        out->partitions_count = 0;
        for (int32_t k = 0; k < n; k++) {
                int32_t idx = nasked >= 0 ? asked[k] : k;
                if (idx < 0 || idx >= t->partitions)
                        continue;
                ld_part *p = &out->partitions[out->partitions_count++];
                p->partition_index = idx;
                p->partition_size = 0;
                p->offset_lag = 0;
                p->is_future_key = false;
                ld_work *w = &c->work[c->nwork++];
                w->topic_id = t->id;
                w->index = idx;
                w->owner = sl_shard_for_partition(t->id, idx);
                w->out = p;
                used[w->owner] = true;
        }
        return 0;
}

void sl_handle_describe_log_dirs(sl_request *req)
{
        kp_describe_log_dirs_request in;
        if (kp_describe_log_dirs_request_decode(&req->body, req->api_version, &in) < 0) {
                sl_request_close(req, req->body.why ? req->body.why : "bad DescribeLogDirs body");
                return;
        }
        kp_arena *a = &req->arena;
        const sl_topics_snap *snap = sl_topics_current();
        uint32_t nshards = sl_shard_count();
        bool all = in.topics_count < 0;
        int32_t ntopics = all ? snap->count : in.topics_count;
        int64_t total = 0;
        for (int32_t i = 0; i < ntopics; i++)
                total +=
                    all ? snap->topics[i].partitions
                        : (in.topics[i].partitions_count > 0 ? in.topics[i].partitions_count : 0);
        ld_ctx *c = kp_arena_alloc(a, 1, sizeof(*c));
        if (!c)
                goto out_oom;
        c->req = req;
        c->work = kp_arena_alloc(a, (size_t)(total ? total : 1), sizeof(*c->work));
        c->xs = kp_arena_alloc(a, nshards, sizeof(*c->xs));
        c->result.topics = kp_arena_alloc(a, (size_t)(ntopics ? ntopics : 1), sizeof(ld_topic));
        bool *used = kp_arena_alloc(a, nshards, sizeof(*used));
        if (!c->work || !c->xs || !c->result.topics || !used)
                goto out_oom;
        const char *dir = sl_shard_config()->data_dir;
        c->result.error_code = 0;
        c->result.log_dir = kp_str_c(dir);
        c->result.total_bytes = -1;
        c->result.usable_bytes = -1;
        struct statvfs vfs;
        if (statvfs(dir, &vfs) < 0)
                c->result.error_code = KP_ERR_KAFKA_STORAGE_ERROR;
        else if (req->api_version >= 4) {
                c->result.total_bytes = (int64_t)vfs.f_blocks * (int64_t)vfs.f_frsize;
                c->result.usable_bytes = (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
        }
        for (int32_t i = 0; i < ntopics; i++) {
                if (all) {
                        if (add_topic(c, &snap->topics[i], NULL, -1, used) < 0)
                                goto out_oom;
                        continue;
                }
                const kp_describe_log_dirs_request_describable_log_dir_topic *q = &in.topics[i];
                const sl_topic_info *t = sl_topics_find(snap, q->topic);
                if (!t)
                        continue;
                int32_t np = q->partitions_count > 0 ? q->partitions_count : 0;
                if (add_topic(c, t, q->partitions, np, used) < 0)
                        goto out_oom;
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
