/* broker/broker_config.c — dynamic broker configs (AlterConfigs and
 * IncrementalAlterConfigs on the BROKER resource).
 *
 * Shards read the broker config through sl_shard_config(): their own pointer
 * (g_sl.cfg until a change). A change runs on shard 0, one at a time: the
 * caller's edit builds the next config in the spare of two buffers, it is
 * written to <data>/broker-dynamic.conf (tmp, fsync, rename, dir fsync, on
 * the I/O helper), then installed on every shard, which re-applies topic
 * defaults to its open logs. At start the file is applied over the static
 * config, so changes persist; DELETE restores a key's static value. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker_int.h"

#define DYN_FILE      "broker-dynamic.conf"
#define DYN_MAX_BYTES 16384

static struct {
        sl_config static_cfg; /* as started, before the file: what DELETE restores */
        sl_config bufs[2];    /* shard 0 builds the next config in the unused one */
        int next;             /* index of the buffer to build into */
        const sl_config *cur; /* installed everywhere (shard 0's view) */
        bool busy;
        sl_xcall_fifo queue;
        /* the change in progress */
        sl_broker_config_op *op;
        sl_config *building;
        int io_err;
        sl_xcall io_x;
        sl_gather g;
        sl_xcall *xs; /* one per shard */
        uint32_t nxs;
        sl_shard **runtime; /* g_sl.shards the state belongs to (tests restart it) */
} dyn;

/* State for the running runtime. sl_broker_config_load does this before the
 * shards exist; in-process runtimes (unit tests, fuzzers) that skip it get it
 * on first use. */
static void dyn_reset(void)
{
        free(dyn.xs);
        memset(&dyn, 0, sizeof(dyn));
        dyn.static_cfg = g_sl.cfg;
        dyn.cur = &g_sl.cfg;
}

static void dyn_path(char *buf, size_t len, const char *suffix)
{
        snprintf(buf, len, "%s/%s%s", g_sl.cfg.data_dir, DYN_FILE, suffix);
}

/* name=value lines of every key whose value was set dynamically. */
static size_t format_dynamic(const sl_config *cfg, char *buf, size_t len)
{
        size_t n = (size_t)snprintf(buf, len, "# serpentlog dynamic broker configs\n");
        for (size_t k = 0; k < sl_config_key_count(); k++) {
                sl_config_entry e;
                sl_config_describe(cfg, k, &e);
                if (e.source != SL_CONFIG_SOURCE_DYNAMIC_BROKER)
                        continue;
                n += (size_t)snprintf(n < len ? buf + n : NULL, n < len ? len - n : 0, "%s=%s\n",
                                      e.name, e.value);
        }
        return n;
}

static int write_all(int fd, const char *p, size_t len)
{
        while (len) {
                ssize_t w = write(fd, p, len);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return -errno;
                p += w;
                len -= (size_t)w;
        }
        return 0;
}

/* I/O helper thread: persist dyn.building. */
static void save_io(sl_xcall *x)
{
        (void)x;
        char path[SL_CONFIG_PATH_MAX + 64], tmp[SL_CONFIG_PATH_MAX + 64];
        char *buf = malloc(DYN_MAX_BYTES);
        dyn.io_err = -ENOMEM;
        if (!buf)
                return;
        size_t n = format_dynamic(dyn.building, buf, DYN_MAX_BYTES);
        dyn_path(path, sizeof(path), "");
        dyn_path(tmp, sizeof(tmp), ".tmp");
        int rc = n < DYN_MAX_BYTES ? 0 : -E2BIG;
        int fd = rc ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (!rc && fd < 0)
                rc = -errno;
        if (!rc)
                rc = write_all(fd, buf, n);
        if (!rc && fsync(fd) < 0)
                rc = -errno;
        if (fd >= 0)
                close(fd);
        if (!rc && rename(tmp, path) < 0)
                rc = -errno;
        if (!rc) {
                int dfd = open(g_sl.cfg.data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd < 0 || fsync(dfd) < 0)
                        rc = -errno;
                if (dfd >= 0)
                        close(dfd);
        }
        if (rc)
                unlink(tmp);
        free(buf);
        dyn.io_err = rc;
}

/* On every shard: switch to the new config, re-apply topic defaults. */
static void install_run(sl_xcall *x)
{
        sl_shard *s = sl_shard_self();
        s->cfg = x->arg;
        for (uint32_t b = 0; s->ptab && b <= s->ptab_mask; b++)
                for (sl_partition *p = s->ptab[b]; p; p = p->hash_next) {
                        const sl_topic_info *t = sl_topics_find_id(s->topics, p->topic_id);
                        int rc = t ? sl_partition_reconfigure(p, t) : 0;
                        if (rc)
                                SL_ERROR("%s-%d: applying broker config: %s", p->topic_name,
                                         p->index, sl_log_strerror(rc));
                }
        sl_xcall_reply(x);
}

static void next_change(void);

static void finish(void)
{
        sl_broker_config_op *op = dyn.op;
        dyn.op = NULL;
        dyn.busy = false;
        sl_xcall_reply(&op->x);
        next_change();
}

static void installed(sl_gather *g)
{
        (void)g;
        dyn.cur = dyn.building;
        dyn.next ^= 1;
        finish();
}

static void saved(sl_xcall *x)
{
        (void)x;
        if (dyn.io_err) {
                SL_ERROR("writing %s/%s: %s", g_sl.cfg.data_dir, DYN_FILE, strerror(-dyn.io_err));
                dyn.op->error = KP_ERR_KAFKA_STORAGE_ERROR;
                snprintf(dyn.op->message_buf, sizeof(dyn.op->message_buf),
                         "cannot persist the broker config");
                finish();
                return;
        }
        if (dyn.nxs < sl_shard_count()) {
                free(dyn.xs);
                dyn.nxs = 0;
                dyn.xs = calloc(sl_shard_count(), sizeof(*dyn.xs));
                if (!dyn.xs) {
                        dyn.op->error = KP_ERR_UNKNOWN_SERVER_ERROR;
                        snprintf(dyn.op->message_buf, sizeof(dyn.op->message_buf), "out of memory");
                        finish();
                        return;
                }
                dyn.nxs = sl_shard_count();
        }
        sl_gather_init(&dyn.g, installed, NULL);
        for (uint32_t j = 0; j < sl_shard_count(); j++) {
                memset(&dyn.xs[j], 0, sizeof(dyn.xs[j]));
                dyn.xs[j].run = install_run;
                dyn.xs[j].arg = dyn.building;
                sl_gather_call(&dyn.g, j, &dyn.xs[j]);
        }
        sl_gather_arm(&dyn.g);
}

/* The log.* defaults must suit storage for every topic that inherits them. */
static int16_t storage_check(sl_broker_config_op *op, const sl_config *cfg)
{
        sl_topic_config none;
        sl_topic_config_init(&none);
        const sl_topics_snap *snap = sl_topics_current();
        const char *bad = NULL;
        if (sl_partition_config_check(&none, cfg))
                bad = "new topics";
        for (int32_t i = 0; !bad && i < snap->count; i++)
                if (sl_partition_config_check(&snap->topics[i].config, cfg))
                        bad = snap->topics[i].name.p;
        if (!bad)
                return 0;
        snprintf(op->message_buf, sizeof(op->message_buf),
                 "These defaults give %s a log config storage cannot run (e.g. segment.bytes "
                 "below 1024).",
                 bad);
        return KP_ERR_INVALID_CONFIG;
}

static void next_change(void)
{
        if (dyn.busy || !dyn.queue.head)
                return;
        sl_xcall *x = dyn.queue.head;
        dyn.queue.head = x->next;
        if (!dyn.queue.head)
                dyn.queue.tail = NULL;
        sl_broker_config_op *op = x->arg;
        dyn.busy = true;
        dyn.op = op;
        dyn.building = &dyn.bufs[dyn.next];
        *dyn.building = *dyn.cur;
        op->error = op->edit(op, dyn.building, &dyn.static_cfg);
        if (!op->error)
                op->error = storage_check(op, dyn.building);
        if (op->error || op->validate_only) {
                finish();
                return;
        }
        memset(&dyn.io_x, 0, sizeof(dyn.io_x));
        dyn.io_x.run = save_io;
        dyn.io_x.done = saved;
        sl_shard_offload(&dyn.io_x);
}

static void start_on_0(sl_xcall *x)
{
        if (!dyn.cur || (dyn.runtime && dyn.runtime != g_sl.shards))
                dyn_reset(); /* no load at start, or a new in-process runtime */
        dyn.runtime = g_sl.shards;
        x->next = NULL;
        if (dyn.queue.tail)
                dyn.queue.tail->next = x;
        else
                dyn.queue.head = x;
        dyn.queue.tail = x;
        next_change();
}

static void done_home(sl_xcall *x)
{
        sl_broker_config_op *op = x->arg;
        if (op->error && op->message_buf[0])
                op->error_message = op->message_buf;
        op->done(op);
}

const sl_config *sl_broker_config_static(void)
{
        return &dyn.static_cfg;
}

void sl_broker_config_alter(sl_broker_config_op *op)
{
        op->error = 0;
        op->error_message = NULL;
        op->message_buf[0] = 0;
        memset(&op->x, 0, sizeof(op->x));
        op->x.run = start_on_0;
        op->x.done = done_home;
        op->x.arg = op;
        sl_shard_call(0, &op->x);
}

/* Applies `key=value` lines of the file to g_sl.cfg. */
static int apply_file(const char *path, char *text)
{
        int lineno = 0;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                lineno++;
                if (line[0] == '#' || !line[0])
                        continue;
                char *eq = strchr(line, '=');
                char err[256];
                if (!eq) {
                        SL_ERROR("%s:%d: expected name=value", path, lineno);
                        return -EINVAL;
                }
                *eq = 0;
                if (sl_config_alter(&g_sl.cfg, &dyn.static_cfg, line, eq + 1, err, sizeof(err))) {
                        SL_ERROR("%s:%d: %s", path, lineno, err);
                        return -EINVAL;
                }
        }
        return 0;
}

int sl_broker_config_load(void)
{
        dyn_reset();
        char path[SL_CONFIG_PATH_MAX + 64];
        dyn_path(path, sizeof(path), "");
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
                return 0;
        if (fd < 0) {
                int rc = -errno;
                SL_ERROR("%s: %s", path, strerror(-rc));
                return rc;
        }
        char *buf = malloc(DYN_MAX_BYTES + 1);
        ssize_t r = buf ? read(fd, buf, DYN_MAX_BYTES) : -1;
        int rc = !buf ? -ENOMEM : r < 0 ? -errno : 0;
        close(fd);
        if (!rc) {
                buf[r] = 0;
                rc = apply_file(path, buf);
        }
        free(buf);
        return rc;
}
