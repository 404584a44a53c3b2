/* broker/tests/harness.h — a one-shard broker runtime inside a test process,
 * driven by hand: the test owns the shard's reactor and turns it, and talks to
 * a connection through a socketpair (its own end is blocking). Used by the
 * conn/dispatch/handler unit tests; the integration test runs the binary. */
#ifndef SL_TEST_HARNESS_H
#define SL_TEST_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker_int.h"
#include "conn_int.h"

typedef struct th {
        sl_shard *s;
        int client; /* test's end of the socketpair */
        sl_conn *conn;
} th;

static inline void th_start(th *t, const sl_config *cfg, sl_topics_snap *snap)
{
        memset(&g_sl, 0, sizeof(g_sl));
        if (cfg)
                g_sl.cfg = *cfg;
        else
                sl_config_defaults(&g_sl.cfg);
        g_sl.cfg.log_level = SL_LOG_ERROR;
        g_sl.nshards = 1;
        g_sl.shards = calloc(1, sizeof(*g_sl.shards));
        snprintf(g_sl.adv_host, sizeof(g_sl.adv_host), "broker.test");
        g_sl.adv_port = 9092;
        snprintf(g_sl.cluster_id, sizeof(g_sl.cluster_id), "test-cluster");
        if (!snap)
                snap = sl_topics_snap_build(NULL, 0, 1);
        g_sl.initial_topics = snap;
        if (sl_shard_create(0, &g_sl.shards[0]) != 0)
                abort();
        t->s = g_sl.shards[0];
        sl_shard_bind_thread(t->s);
        sl_shard_loop_hooks(t->s);
        sl_shard_io_start(t->s);
        sl_topics_install_initial(t->s);
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
                abort();
        fcntl(sv[0], F_SETFL, O_NONBLOCK);
        t->client = sv[1];
        atomic_fetch_add(&g_sl.nconns, 1);
        t->conn = sl_conn_adopt(t->s, sv[0], "test:1");
}

/* One reactor turn without sleeping long. */
static inline void th_turn(th *t)
{
        sl_reactor_turn(t->s->reactor, 5);
}

static inline void th_send(th *t, const void *p, size_t n)
{
        const uint8_t *b = p;
        while (n) {
                ssize_t w = write(t->client, b, n);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        abort();
                }
                b += w;
                n -= (size_t)w;
        }
}

/* Reads exactly n bytes, turning the reactor meanwhile. Returns bytes read
 * before EOF or a ~2 s timeout. */
static inline size_t th_recv(th *t, void *p, size_t n)
{
        size_t got = 0;
        for (int i = 0; i < 400 && got < n; i++) {
                th_turn(t);
                struct pollfd pf = {.fd = t->client, .events = POLLIN};
                if (poll(&pf, 1, 0) <= 0)
                        continue;
                ssize_t r = read(t->client, (uint8_t *)p + got, n - got);
                if (r <= 0)
                        break;
                got += (size_t)r;
        }
        return got;
}

/* True once the broker closed its end (EOF on ours). */
static inline bool th_eof(th *t)
{
        for (int i = 0; i < 400; i++) {
                th_turn(t);
                struct pollfd pf = {.fd = t->client, .events = POLLIN};
                if (poll(&pf, 1, 0) <= 0)
                        continue;
                uint8_t b;
                ssize_t r = read(t->client, &b, 1);
                if (r == 0 || (r < 0 && errno == ECONNRESET))
                        return true;
        }
        return false;
}

/* Reads one response frame into buf (size prefix stripped); returns its length
 * or -1. */
static inline int32_t th_recv_frame(th *t, uint8_t *buf, size_t cap)
{
        uint8_t hdr[4];
        if (th_recv(t, hdr, 4) != 4)
                return -1;
        int32_t len = (int32_t)((uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
                                (uint32_t)hdr[2] << 8 | hdr[3]);
        if (len < 0 || (size_t)len > cap)
                return -1;
        if (th_recv(t, buf, (size_t)len) != (size_t)len)
                return -1;
        return len;
}

/* Appends a framed request: header v1 (or v2 when flexible) + body. */
static inline size_t th_request(uint8_t *out, int16_t key, int16_t ver, int32_t corr, bool flexible,
                                const void *body, size_t body_len)
{
        kp_wr w;
        kp_wr_init(&w, out, 4 + 10 + 5 + 1 + body_len);
        size_t hdr = 2 + 2 + 4 + 2 + 4 + (flexible ? 1 : 0);
        kp_wr_i32(&w, (int32_t)(hdr + body_len));
        kp_wr_i16(&w, key);
        kp_wr_i16(&w, ver);
        kp_wr_i32(&w, corr);
        kp_wr_i16(&w, 4);
        kp_wr_raw(&w, "test", 4);
        if (flexible)
                kp_wr_u8(&w, 0);
        kp_wr_raw(&w, body, body_len);
        return 4 + hdr + body_len;
}

static inline int32_t th_be32(const uint8_t *p)
{
        return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

static inline void th_stop(th *t)
{
        close(t->client);
        for (int i = 0; i < 5; i++)
                th_turn(t);
        sl_conn_close_all(t->s);
        sl_conn_flush_all(t->s);
        sl_partitions_close_all(t->s);
        sl_shard_io_stop(t->s);
        sl_request_pool_free(t->s);
        sl_shard_destroy(t->s);
        free(g_sl.shards);
        g_sl.shards = NULL;
        sl_topics_shutdown();
        g_sl.nshards = 0;
        sl_shard_bind_thread(NULL);
}

#endif
