/* broker/topics.c — registry changes on shard 0 and snapshot distribution.
 *
 * A change (create, delete, add partitions) is an sl_topic_op sent to shard 0,
 * which runs changes one at a time, each as a small sequence of steps:
 *   create:  validate → build the new snapshot → persist the .meta file (I/O
 *            helper) → owners open the partition logs → install the snapshot
 *            on every shard → reply.
 *   add:     the same with only the new partitions opened.
 *   delete:  validate → install a snapshot without the topic (no new request
 *            finds it) → remove the .meta file → owners close the logs and
 *            remove the partition directories → reply.
 * The meta file is removed before the directories, so a crash in between
 * leaves orphan directories and never a topic without data; create removes
 * any leftover directory before opening (partition.c), and startup removes
 * the `<topic>-<n>.<tag>.deleted` directories a fetch still held at a crash
 * (topics_store.c). If opening fails the
 * create is rolled back (logs closed and removed, meta file removed). At
 * shutdown changes not yet started are refused (NOT_CONTROLLER). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"

enum op_kind { OP_CREATE, OP_DELETE, OP_ADD, OP_ALTER };

/* Values topic_config.h accepts but the log cannot run with. */
#define STORAGE_LIMITS                                                                             \
        "Config outside what log storage supports (segment.bytes < 1024, segment.index.bytes "     \
        "< 160, or zero segment.ms, index.interval.bytes, max.message.bytes)."

/* Work on one shard's partitions of one topic. */
typedef struct part_job {
        const sl_topic_info *t;
        int32_t from, to; /* partition range */
        bool close;       /* close (and remove dirs) instead of open */
        bool reconfigure; /* apply t's config to open logs instead */
        int err;          /* first failure */
} part_job;

/* One change in progress on shard 0. */
typedef struct reg_work {
        sl_topic_op *op;
        enum op_kind kind;
        int step;
        sl_topics_snap *old_snap;
        sl_topics_snap *new_snap;
        const sl_topic_info *t; /* the topic in new_snap (create/add) or old (delete) */
        int32_t from, to;
        sl_gather g;
        sl_xcall io_x;
        int io_err;
        sl_xcall *xs;   /* one per shard */
        part_job *jobs; /* one per shard */
} reg_work;

/* Shard 0 only. */
static struct {
        sl_topics_snap *master;
        uint64_t version;
        bool busy;
        sl_xcall_fifo queue;
} reg;

const sl_topics_snap *sl_topics_current(void)
{
        return sl_shard_self()->topics;
}

void sl_topics_install_initial(sl_shard *s)
{
        s->topics = g_sl.initial_topics;
        if (s->id == 0) {
                reg.master = (sl_topics_snap *)g_sl.initial_topics;
                reg.version = reg.master->version;
        }
}

void sl_topics_shutdown(void)
{
        if (reg.master)
                sl_topics_snap_free(reg.master);
        else if (g_sl.initial_topics)
                sl_topics_snap_free((sl_topics_snap *)g_sl.initial_topics);
        memset(&reg, 0, sizeof(reg));
        g_sl.initial_topics = NULL;
}

/* --- entry points (any shard) --- */

static void op_start_on_0(sl_xcall *x);

static void op_done_home(sl_xcall *x)
{
        sl_topic_op *op = x->arg;
        if (op->done)
                op->done(op);
}

static void op_send(sl_topic_op *op, enum op_kind kind)
{
        op->error = 0;
        op->error_message = NULL;
        op->message_buf[0] = 0;
        memset(&op->x, 0, sizeof(op->x));
        op->x.run = op_start_on_0;
        op->x.done = op_done_home;
        op->x.arg = op;
        op->x.result = kind;
        sl_shard_call(0, &op->x);
}

void sl_topics_create(sl_topic_op *op)
{
        op_send(op, OP_CREATE);
}

void sl_topics_delete(sl_topic_op *op)
{
        op_send(op, OP_DELETE);
}

void sl_topics_add_partitions(sl_topic_op *op)
{
        op_send(op, OP_ADD);
}

void sl_topics_alter_config(sl_topic_op *op)
{
        op_send(op, OP_ALTER);
}

/* --- shard 0: the queue --- */

static void work_run(reg_work *w);

/* Shutdown (phase CLOSE): a change not started yet is refused, so no disk
 * work begins while the shards wait to leave together; one under way runs to
 * its end (the shards keep answering its calls, see shard.c's barrier). */
static bool shutting_down(void)
{
        return atomic_load(&g_sl.phase) >= SL_PHASE_CLOSE;
}

static void refuse(sl_xcall *x)
{
        sl_topic_op *op = x->arg;
        op->error = KP_ERR_NOT_CONTROLLER; /* retriable: ask again after the restart */
        op->error_message = "The broker is shutting down.";
        sl_xcall_reply(x);
}

static void next_op(void)
{
        if (reg.busy || !reg.queue.head)
                return;
        sl_xcall *x = reg.queue.head;
        reg.queue.head = x->next;
        if (!reg.queue.head)
                reg.queue.tail = NULL;
        x->next = NULL;
        if (shutting_down()) {
                refuse(x);
                next_op();
                return;
        }
        reg_work *w = calloc(1, sizeof(*w));
        uint32_t n = sl_shard_count();
        if (w) {
                w->xs = calloc(n, sizeof(*w->xs));
                w->jobs = calloc(n, sizeof(*w->jobs));
        }
        sl_topic_op *op = x->arg;
        if (!w || !w->xs || !w->jobs) {
                if (w) {
                        free(w->xs);
                        free(w->jobs);
                        free(w);
                }
                op->error = KP_ERR_UNKNOWN_SERVER_ERROR;
                op->error_message = "out of memory";
                sl_xcall_reply(x);
                next_op();
                return;
        }
        reg.busy = true;
        w->op = op;
        w->kind = (enum op_kind)x->result;
        work_run(w);
}

static void op_start_on_0(sl_xcall *x)
{
        x->next = NULL;
        if (reg.queue.tail)
                reg.queue.tail->next = x;
        else
                reg.queue.head = x;
        reg.queue.tail = x;
        next_op();
}

static void work_finish(reg_work *w)
{
        sl_topic_op *op = w->op;
        if (op->error && !op->error_message && op->message_buf[0])
                op->error_message = op->message_buf;
        free(w->xs);
        free(w->jobs);
        free(w);
        reg.busy = false;
        sl_xcall_reply(&op->x);
        next_op();
}

static void fail(reg_work *w, int16_t err, const char *msg)
{
        w->op->error = err;
        if (msg)
                snprintf(w->op->message_buf, sizeof(w->op->message_buf), "%s", msg);
}

/* --- shard 0: gathers over shards --- */

static void gathered(sl_gather *g)
{
        work_run(g->arg);
}

static void install_run(sl_xcall *x)
{
        sl_shard_self()->topics = x->arg;
        sl_xcall_reply(x);
}

static void install_everywhere(reg_work *w, sl_topics_snap *snap)
{
        sl_gather_init(&w->g, gathered, w);
        for (uint32_t j = 0; j < sl_shard_count(); j++) {
                memset(&w->xs[j], 0, sizeof(w->xs[j]));
                w->xs[j].run = install_run;
                w->xs[j].arg = snap;
                sl_gather_call(&w->g, j, &w->xs[j]);
        }
        sl_gather_arm(&w->g);
}

static void part_job_done(void *arg, int err)
{
        sl_xcall *x = arg;
        part_job *j = x->arg;
        if (err && !j->err)
                j->err = err;
        sl_xcall_reply(x);
}

static void part_job_run(sl_xcall *x)
{
        part_job *j = x->arg;
        sl_shard *s = sl_shard_self();
        if (!j->reconfigure) {
                /* Disk work on this shard's I/O helper; reply when it is done. */
                int rc =
                    j->close
                        ? sl_partitions_close_async(s, j->t, j->from, j->to, true, part_job_done, x)
                        : sl_partitions_open_async(s, j->t, j->from, j->to, part_job_done, x);
                if (rc < 0)
                        part_job_done(x, rc);
                return;
        }
        for (int32_t i = j->from; i < j->to; i++) {
                if (sl_shard_for_partition(j->t->id, i) != s->id)
                        continue;
                sl_partition *p = sl_partition_find(j->t->id, i);
                int rc = p ? sl_partition_reconfigure(p, j->t) : 0;
                if (rc && !j->err)
                        j->err = rc;
        }
        sl_xcall_reply(x);
}

/* Opens or closes partitions [from, to) of t on their owner shards. */
static void partitions_everywhere(reg_work *w, const sl_topic_info *t, int32_t from, int32_t to,
                                  bool close)
{
        sl_gather_init(&w->g, gathered, w);
        for (uint32_t j = 0; j < sl_shard_count(); j++) {
                w->jobs[j] = (part_job){.t = t, .from = from, .to = to, .close = close};
                memset(&w->xs[j], 0, sizeof(w->xs[j]));
                w->xs[j].run = part_job_run;
                w->xs[j].arg = &w->jobs[j];
                sl_gather_call(&w->g, j, &w->xs[j]);
        }
        sl_gather_arm(&w->g);
}

/* Applies w->t's config to its open logs on their owner shards. */
static void reconfigure_everywhere(reg_work *w)
{
        sl_gather_init(&w->g, gathered, w);
        for (uint32_t j = 0; j < sl_shard_count(); j++) {
                w->jobs[j] = (part_job){.t = w->t, .to = w->t->partitions, .reconfigure = true};
                memset(&w->xs[j], 0, sizeof(w->xs[j]));
                w->xs[j].run = part_job_run;
                w->xs[j].arg = &w->jobs[j];
                sl_gather_call(&w->g, j, &w->xs[j]);
        }
        sl_gather_arm(&w->g);
}

static int jobs_error(reg_work *w)
{
        for (uint32_t j = 0; j < sl_shard_count(); j++)
                if (w->jobs[j].err)
                        return w->jobs[j].err;
        return 0;
}

/* --- shard 0: I/O helper steps --- */

static void io_done(sl_xcall *x)
{
        work_run(x->arg);
}

static void save_meta_io(sl_xcall *x)
{
        reg_work *w = x->arg;
        w->io_err = sl_topics_store_save(g_sl.cfg.data_dir, w->t);
}

static void remove_meta_io(sl_xcall *x)
{
        reg_work *w = x->arg;
        w->io_err = sl_topics_store_remove(g_sl.cfg.data_dir, w->t->name);
}

static void offload(reg_work *w, sl_xcall_fn *fn)
{
        memset(&w->io_x, 0, sizeof(w->io_x));
        w->io_x.run = fn;
        w->io_x.done = io_done;
        w->io_x.arg = w;
        sl_shard_offload(&w->io_x);
}

/* --- shard 0: building snapshots --- */

/* master with `add` added and/or `drop` removed. */
static sl_topics_snap *snap_with(const sl_topic_info *add, const sl_topic_info *drop)
{
        const sl_topics_snap *m = reg.master;
        const sl_topic_info **ptrs = malloc((size_t)(m->count + 1) * sizeof(*ptrs));
        if (!ptrs)
                return NULL;
        int32_t n = 0;
        for (int32_t i = 0; i < m->count; i++)
                if (&m->topics[i] != drop)
                        ptrs[n++] = &m->topics[i];
        if (add)
                ptrs[n++] = add;
        sl_topics_snap *s = sl_topics_snap_build(ptrs, n, reg.version + 1);
        free(ptrs);
        return s;
}

static int16_t build_create(reg_work *w)
{
        sl_topic_op *op = w->op;
        const sl_config *cfg = sl_shard_config();
        if (sl_topic_name_check(op->name)) {
                fail(w, KP_ERR_INVALID_TOPIC_EXCEPTION, "invalid topic name");
                return op->error;
        }
        if (sl_topics_find(reg.master, op->name)) {
                snprintf(op->message_buf, sizeof(op->message_buf), "Topic '%.*s' already exists.",
                         (int)op->name.len, op->name.p);
                op->error = KP_ERR_TOPIC_ALREADY_EXISTS;
                return op->error;
        }
        sl_topic_info t = {0};
        t.name = op->name;
        t.partitions = op->partitions > 0 ? op->partitions : (int32_t)cfg->num_partitions;
        if (t.partitions < 1 || t.partitions > 100000) {
                fail(w, KP_ERR_INVALID_PARTITIONS, "partition count must be 1..100000");
                return op->error;
        }
        sl_topic_config_init(&t.config);
        for (int32_t i = 0; i < op->config_count; i++) {
                const sl_topic_kv *kv = &op->configs[i];
                char key[256], val[1024];
                if (kv->key.len <= 0 || kv->key.len >= (int32_t)sizeof(key) ||
                    kv->value.len >= (int32_t)sizeof(val)) {
                        fail(w, KP_ERR_INVALID_CONFIG, "config name or value too long");
                        return op->error;
                }
                if (kv->value.len < 0)
                        continue; /* null value: keep the default */
                memcpy(key, kv->key.p, (size_t)kv->key.len);
                key[kv->key.len] = 0;
                memcpy(val, kv->value.p, (size_t)kv->value.len);
                val[kv->value.len] = 0;
                int16_t e = sl_topic_config_set(&t.config, key, val, op->message_buf,
                                                sizeof(op->message_buf));
                if (e) {
                        op->error = e;
                        return e;
                }
        }
        if (sl_partition_config_check(&t.config, cfg)) {
                fail(w, KP_ERR_INVALID_CONFIG, STORAGE_LIMITS);
                return op->error;
        }
        op->out_partitions = t.partitions;
        if (op->validate_only)
                return 0;
        t.id = sl_uuid_random();
        op->out_id = t.id;
        w->new_snap = snap_with(&t, NULL);
        if (!w->new_snap) {
                fail(w, KP_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
                return op->error;
        }
        w->t = sl_topics_find(w->new_snap, op->name);
        w->from = 0;
        w->to = t.partitions;
        return 0;
}

static const sl_topic_info *find_target(reg_work *w)
{
        sl_topic_op *op = w->op;
        const sl_topic_info *t = op->name.len >= 0 ? sl_topics_find(reg.master, op->name)
                                                   : sl_topics_find_id(reg.master, op->id);
        if (!t)
                fail(w,
                     op->name.len >= 0 ? KP_ERR_UNKNOWN_TOPIC_OR_PARTITION
                                       : KP_ERR_UNKNOWN_TOPIC_ID,
                     "This server does not host this topic.");
        return t;
}

static int16_t build_add(reg_work *w)
{
        sl_topic_op *op = w->op;
        const sl_topic_info *old = find_target(w);
        if (!old)
                return op->error;
        if (op->partitions <= old->partitions || op->partitions > 100000) {
                snprintf(op->message_buf, sizeof(op->message_buf),
                         "Topic currently has %d partitions, %d would not be an increase.",
                         old->partitions, op->partitions);
                op->error = KP_ERR_INVALID_PARTITIONS;
                return op->error;
        }
        op->out_id = old->id;
        op->out_partitions = op->partitions;
        if (op->validate_only)
                return 0;
        sl_topic_info t = *old;
        t.partitions = op->partitions;
        w->new_snap = snap_with(&t, old);
        if (!w->new_snap) {
                fail(w, KP_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
                return op->error;
        }
        w->t = sl_topics_find(w->new_snap, old->name);
        w->from = old->partitions;
        w->to = op->partitions;
        return 0;
}

static int16_t build_delete(reg_work *w)
{
        sl_topic_op *op = w->op;
        if (!sl_shard_config()->delete_topic_enable) {
                fail(w, 73 /* TOPIC_DELETION_DISABLED */, "Topic deletion is disabled.");
                return op->error;
        }
        const sl_topic_info *old = find_target(w);
        if (!old)
                return op->error;
        op->out_id = old->id;
        op->out_partitions = old->partitions;
        if (op->validate_only)
                return 0;
        w->new_snap = snap_with(NULL, old);
        if (!w->new_snap) {
                fail(w, KP_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
                return op->error;
        }
        w->t = old; /* stays valid: the old master is freed at the end */
        w->from = 0;
        w->to = old->partitions;
        return 0;
}

static int16_t build_alter(reg_work *w)
{
        sl_topic_op *op = w->op;
        const sl_topic_info *old = find_target(w);
        if (!old)
                return op->error;
        sl_topic_info t = *old;
        int16_t e = op->edit_config(op, &t.config);
        if (e) {
                op->error = e;
                return e;
        }
        if (sl_partition_config_check(&t.config, sl_shard_config())) {
                fail(w, KP_ERR_INVALID_CONFIG, STORAGE_LIMITS);
                return op->error;
        }
        op->out_id = old->id;
        op->out_partitions = old->partitions;
        if (op->validate_only)
                return 0;
        w->new_snap = snap_with(&t, old);
        if (!w->new_snap) {
                fail(w, KP_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
                return op->error;
        }
        w->t = sl_topics_find(w->new_snap, old->name);
        return 0;
}

/* The new snapshot becomes master once installed everywhere. */
static void adopt_new_snap(reg_work *w)
{
        w->old_snap = reg.master;
        reg.master = w->new_snap;
        reg.version = w->new_snap->version;
        w->new_snap = NULL;
}

/* --- shard 0: the step machine --- */

static void work_run(reg_work *w)
{
        sl_topic_op *op = w->op;
        switch (w->kind) {
        case OP_CREATE:
        case OP_ADD:
                switch (w->step++) {
                case 0:
                        if ((w->kind == OP_CREATE ? build_create(w) : build_add(w)) ||
                            op->validate_only)
                                break;
                        offload(w, save_meta_io);
                        return;
                case 1:
                        if (w->io_err) {
                                fail(w, KP_ERR_KAFKA_STORAGE_ERROR, "cannot write topic metadata");
                                SL_ERROR("topic %.*s: saving metadata: %s", (int)op->name.len,
                                         op->name.p, strerror(-w->io_err));
                                sl_topics_snap_free(w->new_snap);
                                break;
                        }
                        partitions_everywhere(w, w->t, w->from, w->to, false);
                        return;
                case 2:
                        if (jobs_error(w)) {
                                int rc = jobs_error(w);
                                SL_ERROR("topic %.*s: opening partitions: %s", (int)op->name.len,
                                         op->name.p, sl_log_strerror(rc));
                                fail(w, KP_ERR_KAFKA_STORAGE_ERROR, "cannot create partition logs");
                                w->step = 10; /* roll back */
                                partitions_everywhere(w, w->t, w->from, w->to, true);
                                return;
                        }
                        install_everywhere(w, w->new_snap);
                        return;
                case 3:
                        adopt_new_snap(w);
                        sl_topics_snap_free(w->old_snap);
                        break;
                case 10: /* rolled back the logs; now the meta file */
                        if (w->kind == OP_CREATE) {
                                offload(w, remove_meta_io);
                                return;
                        }
                        /* add: the saved meta has the new count; restore the old one */
                        w->t = sl_topics_find(reg.master, w->t->name);
                        offload(w, save_meta_io);
                        return;
                case 11:
                        sl_topics_snap_free(w->new_snap);
                        break;
                }
                break;
        case OP_ALTER:
                switch (w->step++) {
                case 0:
                        if (build_alter(w) || op->validate_only)
                                break;
                        offload(w, save_meta_io);
                        return;
                case 1:
                        if (w->io_err) {
                                fail(w, KP_ERR_KAFKA_STORAGE_ERROR, "cannot write topic metadata");
                                SL_ERROR("topic %.*s: saving metadata: %s", (int)w->t->name.len,
                                         w->t->name.p, strerror(-w->io_err));
                                sl_topics_snap_free(w->new_snap);
                                break;
                        }
                        install_everywhere(w, w->new_snap);
                        return;
                case 2:
                        adopt_new_snap(w);
                        sl_topics_snap_free(w->old_snap);
                        reconfigure_everywhere(w);
                        return;
                case 3:
                        if (jobs_error(w))
                                SL_ERROR("topic %.*s: applying config to open logs: %s",
                                         (int)w->t->name.len, w->t->name.p,
                                         sl_log_strerror(jobs_error(w)));
                        break;
                }
                break;
        case OP_DELETE:
                switch (w->step++) {
                case 0:
                        if (build_delete(w) || op->validate_only)
                                break;
                        install_everywhere(w, w->new_snap);
                        return;
                case 1:
                        adopt_new_snap(w);
                        offload(w, remove_meta_io);
                        return;
                case 2:
                        if (w->io_err)
                                SL_ERROR("topic %.*s: removing metadata: %s", (int)w->t->name.len,
                                         w->t->name.p, strerror(-w->io_err));
                        partitions_everywhere(w, w->t, w->from, w->to, true);
                        return;
                case 3:
                        sl_topics_snap_free(w->old_snap);
                        break;
                }
                break;
        }
        work_finish(w);
}
