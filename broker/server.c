/* broker/server.c — the broker runtime's lifecycle: start the shards, run,
 * and shut down gracefully.
 *
 * Start (main thread): load the topic registry, create `cores` shards and the
 * rings between them, bind one SO_REUSEPORT listener per shard on the same
 * port, then start one pinned thread per shard; each opens the partition
 * logs it owns before the broker reports ready. Stop: phase DRAIN (listeners
 * closed, connections stop reading and close once their requests are
 * answered; shards keep serving cross-shard calls), then phase CLOSE (the
 * rest of the connections closed, then the quiescence barrier: every shard
 * keeps answering until no cross-shard call is in flight anywhere, and all
 * leave their loops together; every log synced and closed, threads joined,
 * everything freed). */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker_int.h"
#include "conn_int.h"
#include "shard_lanes.h"

sl_globals g_sl;

/* How long the shutdown barrier waits for the shards to finish the
 * cross-shard work in flight (a topic creation's disk work, a group commit). */
#define SL_QUIESCE_MS 15000

static struct {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        uint32_t ready; /* shards started (or failed) */
} boot = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

uint16_t sl_server_port(void)
{
        return g_sl.port;
}

/* The shard thread on its CPU (shard.c chose it from the CPUs allowed at
 * startup), named for top and perf. Its disk helpers, started after this,
 * pin themselves to the other CPUs (shard_lanes.h). */
static void pin_thread(sl_shard *s)
{
        char name[16];
        snprintf(name, sizeof(name), "sl-shard%u", s->id);
        pthread_setname_np(pthread_self(), name);
        int cpu = sl_shard_cpu(s);
        if (cpu < 0)
                return;
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
        if (rc)
                SL_WARN("cannot pin shard %u to cpu %d: %s", s->id, cpu, strerror(rc));
}

static void boot_report(sl_shard *s, int err)
{
        pthread_mutex_lock(&boot.mu);
        s->start_err = err;
        boot.ready++;
        pthread_cond_broadcast(&boot.cv);
        pthread_mutex_unlock(&boot.mu);
}

/* Acts on a phase change and reports drain completion. Returns false when
 * the loop must end. */
static bool shard_phase(sl_shard *s)
{
        int phase = atomic_load(&g_sl.phase);
        if (phase != s->seen_phase) {
                s->seen_phase = phase;
                if (phase >= SL_PHASE_DRAIN && s->lsock >= 0) {
                        s->net.ops->close(&s->net, s->lsock);
                        s->lsock = -1;
                        sl_conn_drain_all(s);
                }
        }
        if (phase == SL_PHASE_DRAIN && !s->drained && s->nconns == 0) {
                s->drained = true;
                atomic_fetch_add(&g_sl.drained, 1);
        }
        return phase < SL_PHASE_CLOSE;
}

static void *shard_main(void *arg)
{
        sl_shard *s = arg;
        sl_shard_bind_thread(s);
        pin_thread(s);
        sl_shard_loop_hooks(s);
        sl_shard_io_start(s);
        sl_topics_install_initial(s);
        int rc = sl_partitions_open_owned(s, s->topics);
        if (!rc)
                rc = s->net.ops->watch(&s->net, s->lsock, SL_READABLE, sl_conn_accept_ready, s);
        if (!rc)
                sl_partitions_start_maintenance(s);
        boot_report(s, rc);
        if (rc) {
                /* Wait for the main thread to stop everyone. */
                while (atomic_load(&g_sl.phase) < SL_PHASE_CLOSE)
                        sl_reactor_turn(s->reactor, 100);
        } else {
                /* Stop wakes us. While draining, a connection closed in a turn
                 * leaves nconns in that turn's before-sleep hook (conn.c), after
                 * shard_phase looked: look again soon rather than at the next
                 * timer (up to a maintenance tick per stop). */
                while (shard_phase(s))
                        sl_reactor_turn(s->reactor,
                                        s->seen_phase == SL_PHASE_DRAIN && !s->drained ? 5 : -1);
        }
        /* CLOSE: no new work from here on (connections closed, no maintenance,
         * the registry refuses changes); what is in flight to or from this
         * shard is answered before any shard leaves (shard.c's barrier). */
        sl_conn_close_all(s);
        sl_timer_stop(s->reactor, &s->flush_timer);
        sl_shard_quiesce(s);
        sl_partitions_close_all(s);
        sl_shard_io_stop(s);
        /* A log the helper opened for a job still queued when a barrier timed
         * out entered the table in the completions just run. */
        sl_partitions_close_all(s);
        atomic_fetch_add(&g_sl.closed, 1);
        return NULL;
}

static int setup_cluster_id(void)
{
        if (g_sl.cfg.cluster_id[0]) {
                snprintf(g_sl.cluster_id, sizeof(g_sl.cluster_id), "%s", g_sl.cfg.cluster_id);
                return 0;
        }
        char path[SL_CONFIG_PATH_MAX + 32];
        snprintf(path, sizeof(path), "%s/cluster.id", g_sl.cfg.data_dir);
        FILE *f = fopen(path, "r");
        if (f) {
                char buf[SL_CONFIG_ID_MAX] = "";
                bool ok = fgets(buf, sizeof(buf), f) != NULL;
                fclose(f);
                buf[strcspn(buf, "\r\n")] = 0;
                if (ok && buf[0]) {
                        snprintf(g_sl.cluster_id, sizeof(g_sl.cluster_id), "%s", buf);
                        return 0;
                }
        }
        /* Kafka style: the base64url of a random UUID, 22 characters. */
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        kp_uuid u = sl_uuid_random();
        uint8_t in[18] = {0};
        memcpy(in, u.b, 16);
        int o = 0;
        for (int i = 0; i < 18 && o < 22; i += 3) {
                uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
                for (int k = 3; k >= 0 && o < 22; k--)
                        g_sl.cluster_id[o++] = b64[(v >> (6 * k)) & 63];
        }
        g_sl.cluster_id[o] = 0;
        char tmp[SL_CONFIG_PATH_MAX + 40];
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        f = fopen(tmp, "w");
        if (!f)
                return -errno;
        fprintf(f, "%s\n", g_sl.cluster_id);
        int rc = fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : -errno;
        fclose(f);
        if (!rc && rename(tmp, path) < 0)
                rc = -errno;
        return rc;
}

static int setup_addresses(char *host, size_t hostlen)
{
        uint16_t port;
        if (sl_config_split_hostport(g_sl.cfg.listen, host, hostlen, &port) < 0) {
                SL_ERROR("listen: cannot parse \"%s\" as HOST:PORT", g_sl.cfg.listen);
                return -EINVAL;
        }
        g_sl.port = port;
        const char *adv =
            g_sl.cfg.advertised_listen[0] ? g_sl.cfg.advertised_listen : g_sl.cfg.listen;
        uint16_t aport;
        if (sl_config_split_hostport(adv, g_sl.adv_host, sizeof(g_sl.adv_host), &aport) < 0) {
                SL_ERROR("advertised.listen: cannot parse \"%s\" as HOST:PORT", adv);
                return -EINVAL;
        }
        g_sl.adv_port = aport;
        if (!g_sl.adv_host[0] || !strcmp(g_sl.adv_host, "0.0.0.0") || !strcmp(g_sl.adv_host, "::"))
                if (gethostname(g_sl.adv_host, sizeof(g_sl.adv_host) - 1) < 0)
                        snprintf(g_sl.adv_host, sizeof(g_sl.adv_host), "localhost");
        return 0;
}

/* Two brokers on one data dir would corrupt it: like Kafka's .lock, an
 * exclusive flock held for the process's life. */
static int lock_fd = -1;

static int lock_data_dir(const char *dir)
{
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
                int rc = -errno;
                SL_ERROR("data.dir %s: %s", dir, strerror(-rc));
                return rc;
        }
        char path[SL_CONFIG_PATH_MAX + 16];
        snprintf(path, sizeof(path), "%s/.lock", dir);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
                int rc = -errno;
                SL_ERROR("%s: %s", path, strerror(-rc));
                return rc;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
                SL_ERROR("data.dir %s is in use by another serpentlog process", dir);
                close(fd);
                return rc;
        }
        lock_fd = fd;
        return 0;
}

static void unlock_data_dir(void)
{
        if (lock_fd >= 0)
                close(lock_fd); /* releases the flock */
        lock_fd = -1;
}

static void free_everything(void)
{
        for (uint32_t i = 0; i < g_sl.nshards; i++) {
                sl_shard *s = g_sl.shards[i];
                if (!s)
                        continue;
                /* Threads are gone: drop what dead connections still queue. */
                sl_conn *c;
                while ((c = s->conns)) {
                        s->conns = c->next;
                        sl_request *r;
                        while ((r = c->q_head)) {
                                c->q_head = r->next;
                                kp_arena_release(&r->arena);
                                free(r->frame);
                                free(r);
                        }
                        free(c->rx);
                        free(c);
                }
                sl_request_pool_free(s);
                if (s->lsock >= 0)
                        close(s->lsock);
        }
        for (uint32_t i = 0; i < g_sl.nshards; i++)
                sl_shard_destroy(g_sl.shards[i]);
        free(g_sl.shards);
        g_sl.shards = NULL;
        sl_topics_shutdown();
        unlock_data_dir();
        g_sl.nshards = 0;
}

/* Phase CLOSE, the quiescence barrier, then the threads end. */
static void join_all(uint32_t started)
{
        atomic_store(&g_sl.phase, SL_PHASE_CLOSE);
        for (uint32_t i = 0; i < started; i++)
                sl_reactor_wake(g_sl.shards[i]->reactor);
        if (!sl_shards_quiesce(started, SL_QUIESCE_MS))
                SL_WARN("shutdown: shards left the barrier with work in flight (see above)");
        for (uint32_t i = 0; i < started; i++)
                pthread_join(g_sl.shards[i]->thread, NULL);
}

int sl_server_start(const sl_config *cfg)
{
        memset(&g_sl, 0, sizeof(g_sl));
        g_sl.cfg = *cfg;
        boot.ready = 0;
        int rc = sl_broker_config_load();
        if (rc)
                return rc;
        char host[SL_CONFIG_ADDR_MAX];
        rc = setup_addresses(host, sizeof(host));
        if (rc)
                return rc;
        sl_topics_snap *snap = NULL;
        rc = lock_data_dir(cfg->data_dir);
        if (rc)
                return rc;
        rc = sl_topics_load(cfg->data_dir, &snap);
        if (rc) {
                SL_ERROR("loading topics from %s: %s", cfg->data_dir, strerror(-rc));
                unlock_data_dir();
                return rc;
        }
        g_sl.initial_topics = snap;
        rc = setup_cluster_id();
        if (rc) {
                SL_ERROR("writing %s/cluster.id: %s", cfg->data_dir, strerror(-rc));
                sl_topics_shutdown();
                unlock_data_dir();
                return rc;
        }
        uint32_t n = cfg->cores > 0 ? (uint32_t)cfg->cores : 1;
        g_sl.shards = calloc(n, sizeof(*g_sl.shards));
        if (!g_sl.shards) {
                sl_topics_shutdown();
                unlock_data_dir();
                return -ENOMEM;
        }
        g_sl.nshards = n;
        for (uint32_t i = 0; i < n && !rc; i++)
                rc = sl_shard_create(i, &g_sl.shards[i]);
        if (!rc)
                rc = sl_shards_link();
        for (uint32_t i = 0; i < n && !rc; i++) {
                sl_shard *s = g_sl.shards[i];
                int fd = s->net.ops->listen(&s->net, host, g_sl.port, 1024, i == 0);
                if (fd < 0) {
                        SL_ERROR("listen on %s: %s", g_sl.cfg.listen, strerror(-fd));
                        rc = fd;
                        break;
                }
                s->lsock = fd;
                if (g_sl.port == 0) {
                        int p = s->net.ops->local_port(&s->net, fd);
                        if (p < 0) {
                                rc = p;
                                break;
                        }
                        g_sl.port = (uint16_t)p;
                }
        }
        if (!rc && g_sl.adv_port == 0)
                g_sl.adv_port = g_sl.port;
        if (rc) {
                free_everything();
                return rc;
        }
        uint32_t started = 0;
        for (; started < n; started++) {
                sl_shard *s = g_sl.shards[started];
                if ((rc = -pthread_create(&s->thread, NULL, shard_main, s)))
                        break;
        }
        pthread_mutex_lock(&boot.mu);
        while (boot.ready < started)
                pthread_cond_wait(&boot.cv, &boot.mu);
        pthread_mutex_unlock(&boot.mu);
        for (uint32_t i = 0; i < started && !rc; i++)
                rc = g_sl.shards[i]->start_err;
        if (rc) {
                join_all(started);
                free_everything();
                return rc;
        }
        SL_INFO("serpentlog node %lld listening on %s:%u (advertised %s:%d), %u shards, %d topics, "
                "cluster %s",
                (long long)cfg->node_id, host, g_sl.port, g_sl.adv_host, g_sl.adv_port, n,
                snap->count, g_sl.cluster_id);
        return 0;
}

void sl_server_stop(int64_t drain_ms)
{
        if (!g_sl.nshards)
                return;
        atomic_store(&g_sl.phase, SL_PHASE_DRAIN);
        for (uint32_t i = 0; i < g_sl.nshards; i++)
                sl_reactor_wake(g_sl.shards[i]->reactor);
        int64_t deadline = sl_now_ms() + drain_ms;
        while (atomic_load(&g_sl.drained) < g_sl.nshards && sl_now_ms() < deadline) {
                struct timespec ts = {0, 5 * 1000000};
                nanosleep(&ts, NULL);
        }
        if (atomic_load(&g_sl.drained) < g_sl.nshards)
                SL_WARN("drain timed out after %lld ms; closing remaining connections",
                        (long long)drain_ms);
        join_all(g_sl.nshards);
        SL_INFO("all logs synced and closed");
        free_everything();
}
