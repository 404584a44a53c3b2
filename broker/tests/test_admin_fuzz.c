/* broker/tests/test_admin_fuzz.c — libFuzzer harness for the admin handlers
 * (CreateTopics ... DescribeLogDirs) on a one-shard runtime in this process.
 *
 * Input: byte 0 picks one of the nine admin APIs, byte 1 its version (modulo
 * the served range), the rest is the body. The harness frames it, sends it,
 * turns the reactor until the answer or a close (registry, owner calls and
 * I/O helper included) and checks the connection is freed; sanitizers do the
 * rest. Bodies that would create over 8 topics or partitions are skipped so a
 * run is not spent making directories. Data lives in a temp dir. */
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "gen/kp_messages.h"
#include "harness.h"

typedef struct admin_api {
        int16_t key, min, max, first_flexible;
} admin_api;

static const admin_api apis[] = {
    {19, 0, 7, 5}, /* CreateTopics */
    {20, 0, 6, 4}, /* DeleteTopics */
    {21, 0, 2, 2}, /* DeleteRecords */
    {32, 0, 4, 4}, /* DescribeConfigs */
    {33, 0, 2, 2}, /* AlterConfigs */
    {35, 1, 4, 2}, /* DescribeLogDirs */
    {37, 0, 3, 2}, /* CreatePartitions */
    {44, 0, 1, 1}, /* IncrementalAlterConfigs */
    {60, 0, 1, 0}, /* DescribeCluster */
};

#define MAX_MADE 8 /* topics or partitions one input may create */

static th t;
static bool started;
static char data_dir[] = "/tmp/sl_fuzz_admin_XXXXXX";
static kp_arena arena;

static void remove_data_dir(void)
{
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", data_dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", data_dir);
}

/* False for bodies that would create too much on disk. */
static bool small_enough(int16_t key, int16_t ver, const uint8_t *body, size_t len)
{
        kp_rd rd;
        kp_arena_reset(&arena);
        kp_rd_init(&rd, body, len, &arena);
        if (key == 19) {
                kp_create_topics_request m;
                if (kp_create_topics_request_decode(&rd, ver, &m) < 0)
                        return true; /* the handler closes the connection */
                if (m.topics_count > MAX_MADE)
                        return false;
                for (int32_t i = 0; i < m.topics_count; i++)
                        if (m.topics[i].num_partitions > MAX_MADE ||
                            m.topics[i].assignments_count > MAX_MADE)
                                return false;
        } else if (key == 37) {
                kp_create_partitions_request m;
                if (kp_create_partitions_request_decode(&rd, ver, &m) < 0)
                        return true;
                for (int32_t i = 0; i < m.topics_count; i++)
                        if (m.topics[i].count > MAX_MADE)
                                return false;
        }
        return true;
}

static bool made;

static void created(sl_topic_op *op)
{
        (void)op;
        made = true;
}

static void start_runtime(void)
{
        sl_config cfg;
        sl_config_defaults(&cfg);
        cfg.auto_create_topics_enable = false;
        if (!mkdtemp(data_dir))
                abort();
        atexit(remove_data_dir);
        snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", data_dir);
        char topics[sizeof(data_dir) + 16];
        snprintf(topics, sizeof(topics), "%s/__topics", data_dir);
        mkdir(topics, 0755);
        th_start(&t, &cfg, NULL);
        close(t.client); /* the first connection is not used */
        /* Something to alter, describe and delete records from. */
        static sl_topic_op op;
        op = (sl_topic_op){.name = kp_str_c("fuzz"), .partitions = 2, .done = created};
        sl_topics_create(&op);
        for (int i = 0; i < 2000 && !made; i++)
                sl_reactor_turn(t.s->reactor, 5);
        if (!made || op.error)
                abort();
        started = true;
}

static void put16(uint8_t *p, int16_t v)
{
        p[0] = (uint8_t)((uint16_t)v >> 8);
        p[1] = (uint8_t)v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 2)
                return 0;
        const admin_api *api = &apis[data[0] % (sizeof(apis) / sizeof(apis[0]))];
        int16_t ver = (int16_t)(api->min + data[1] % (api->max - api->min + 1));
        const uint8_t *body = data + 2;
        size_t blen = size - 2;
        if (!started) {
                kp_arena_init(&arena, 4096);
                start_runtime();
        }
        if (blen > 1 << 20 || !small_enough(api->key, ver, body, blen))
                return 0;

        /* size, key, version, correlation id, client id "f", [tags] */
        uint8_t hdr[16];
        size_t hl = 4;
        put16(hdr + hl, api->key);
        put16(hdr + hl + 2, ver);
        memset(hdr + hl + 4, 0, 4);
        put16(hdr + hl + 8, 1);
        hdr[hl + 10] = 'f';
        hl += 11;
        if (ver >= api->first_flexible)
                hdr[hl++] = 0;
        uint32_t total = (uint32_t)(hl - 4 + blen);
        hdr[0] = (uint8_t)(total >> 24);
        hdr[1] = (uint8_t)(total >> 16);
        hdr[2] = (uint8_t)(total >> 8);
        hdr[3] = (uint8_t)total;

        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
                abort();
        fcntl(sv[0], F_SETFL, O_NONBLOCK);
        atomic_fetch_add(&g_sl.nconns, 1);
        if (!sl_conn_adopt(t.s, sv[0], "fuzz:1"))
                abort();
        uint8_t *frame = malloc(hl + blen);
        if (!frame)
                abort();
        memcpy(frame, hdr, hl);
        memcpy(frame + hl, body, blen);
        size_t off = 0, len = hl + blen;
        bool answered = false;
        for (int i = 0; i < 2000 && !answered; i++) {
                if (off < len) {
                        ssize_t w =
                            send(sv[1], frame + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
                        if (w > 0)
                                off += (size_t)w;
                        else if (w < 0 && errno != EAGAIN)
                                break; /* closed */
                }
                sl_reactor_turn(t.s->reactor, off < len ? 0 : 2);
                uint8_t buf[65536];
                ssize_t r = recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT);
                answered = r == 0 || (r > 0 && off == len) || (r < 0 && errno != EAGAIN);
        }
        free(frame);
        close(sv[1]);
        for (int i = 0; i < 200 && t.s->nconns > 1; i++)
                sl_reactor_turn(t.s->reactor, 1);
        if (t.s->nconns > 1)
                abort(); /* a connection leaked */
        return 0;
}
