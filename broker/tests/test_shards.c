/* broker/tests/test_shards.c — cross-shard machinery on a real 4-shard runtime
 * (threads, rings, eventfd wake-ups) started in-process. A test handler
 * installed in place of Metadata does the cross-shard work and answers over
 * TCP: a gather to every shard (run sees the right shard; one reply comes
 * later from a timer), 5000 calls through a 1024-slot ring (the overflow FIFO
 * and backpressure engage and nothing is lost or reordered), 5000 calls the
 * target answers only once all arrived (the overflow drains because the
 * consumer wakes the producer when it makes room), and a topic
 * creation from a shard other than 0 whose completion already sees the new
 * snapshot on the calling shard. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker_int.h"
#include "server.h"

#define NSHARDS 4
#define FLOOD   5000

/* --- handler side (runs on shard threads) --- */

typedef struct fan_ctx {
        sl_request *req;
        sl_gather g;
        sl_xcall x[FLOOD];
        sl_timer timers[NSHARDS];
        uint8_t out[64];
        int next_expected; /* flood: replies must come back in send order */
        bool in_order;
        bool saw_backpressure;
        sl_topic_op op;
} fan_ctx;

static void reply_later(sl_timer *t)
{
        sl_xcall_reply(t->arg);
}

static void where_am_i(sl_xcall *x)
{
        fan_ctx *c = x->arg;
        uint32_t me = sl_shard_index(sl_shard_self());
        x->result = (int)me;
        if (me == 2) { /* an asynchronous reply */
                sl_timer *t = &c->timers[me];
                sl_timer_init(t, reply_later, x);
                sl_timer_start(sl_shard_reactor(sl_shard_self()), t, 20);
                return;
        }
        sl_xcall_reply(x);
}

static void respond_bytes(sl_request *req, const uint8_t *p, size_t n)
{
        kp_wr *w = sl_request_body(req, n);
        kp_wr_raw(w, p, n);
        sl_request_respond(req);
}

static void fan_gathered(sl_gather *g)
{
        fan_ctx *c = g->arg;
        for (int i = 0; i < NSHARDS; i++)
                c->out[i] = (uint8_t)c->x[i].result;
        respond_bytes(c->req, c->out, NSHARDS);
}

static void flood_one_done(sl_xcall *x)
{
        fan_ctx *c = x->arg;
        if (x - c->x != c->next_expected)
                c->in_order = false;
        c->next_expected++;
}

static void flood_run(sl_xcall *x)
{
        x->result = 1;
        sl_xcall_reply(x);
}

static void flood_gathered(sl_gather *g)
{
        fan_ctx *c = g->arg;
        int sum = 0;
        for (int i = 0; i < FLOOD; i++)
                sum += c->x[i].result;
        uint8_t out[4] = {(uint8_t)(sum >> 8), (uint8_t)sum, c->in_order, c->saw_backpressure};
        respond_bytes(c->req, out, 4);
}

/* Held calls: the target replies to none until all have arrived, so the
 * origin's overflow FIFO can only drain if the target wakes it when it makes
 * room in the ring (nothing else would). Touched by the target thread only. */
static sl_xcall *held[FLOOD];
static int nheld;

static void hold_run(sl_xcall *x)
{
        held[nheld++] = x;
        if (nheld < FLOOD)
                return;
        for (int i = 0; i < FLOOD; i++)
                sl_xcall_reply(held[i]);
        nheld = 0;
}

static void created(sl_topic_op *op)
{
        fan_ctx *c = op->arg;
        const sl_topic_info *t = sl_topics_find(sl_topics_current(), kp_str_c("from_shard"));
        uint8_t out[3] = {(uint8_t)op->error, t != NULL, (uint8_t)sl_shard_index(sl_shard_self())};
        respond_bytes(c->req, out, 3);
}

/* Metadata v1: gather; v2: flood; v4: held flood; v3: create a topic. */
static void test_handler(sl_request *req)
{
        fan_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        c->req = req;
        c->in_order = true;
        uint32_t me = sl_shard_index(req->shard);
        if (req->api_version == 1) {
                sl_gather_init(&c->g, fan_gathered, c);
                for (uint32_t i = 0; i < NSHARDS; i++) {
                        c->x[i].run = where_am_i;
                        c->x[i].arg = c;
                        sl_gather_call(&c->g, i, &c->x[i]);
                }
                sl_gather_arm(&c->g);
        } else if (req->api_version == 2) {
                sl_gather_init(&c->g, flood_gathered, c);
                for (int i = 0; i < FLOOD; i++) {
                        c->x[i].run = flood_run;
                        c->x[i].done = flood_one_done;
                        c->x[i].arg = c;
                        sl_gather_call(&c->g, (me + 1) % NSHARDS, &c->x[i]);
                }
                c->saw_backpressure = sl_shard_backpressured(req->shard);
                sl_gather_arm(&c->g);
        } else if (req->api_version == 4) {
                sl_gather_init(&c->g, flood_gathered, c);
                for (int i = 0; i < FLOOD; i++) {
                        c->x[i].run = hold_run;
                        c->x[i].done = flood_one_done;
                        c->x[i].arg = c;
                        c->x[i].result = 1;
                        sl_gather_call(&c->g, (me + 1) % NSHARDS, &c->x[i]);
                }
                c->saw_backpressure = sl_shard_backpressured(req->shard);
                sl_gather_arm(&c->g);
        } else {
                c->op.name = kp_str_c("from_shard");
                c->op.partitions = 8;
                c->op.done = created;
                c->op.arg = c;
                sl_topics_create(&c->op);
        }
}

/* --- client side (test thread) --- */

static int connect_to(uint16_t port)
{
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
        struct timeval tv = {10, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        return fd;
}

static size_t call(int fd, int16_t version, uint8_t *out, size_t cap)
{
        uint8_t req[32];
        kp_wr w;
        kp_wr_init(&w, req, sizeof(req));
        kp_wr_i32(&w, 2 + 2 + 4 + 2 + 4);
        kp_wr_i16(&w, 3);
        kp_wr_i16(&w, version);
        kp_wr_i32(&w, 77);
        kp_wr_i16(&w, -1);
        kp_wr_i32(&w, -1); /* null topics */
        assert_int_equal(write(fd, req, (size_t)(w.p - req)), w.p - req);
        uint8_t hdr[8];
        size_t got = 0;
        while (got < 8) {
                ssize_t r = read(fd, hdr + got, 8 - got);
                assert_true(r > 0);
                got += (size_t)r;
        }
        size_t n = (size_t)((uint32_t)hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3]) - 4;
        assert_true(n <= cap);
        got = 0;
        while (got < n) {
                ssize_t r = read(fd, out + got, n - got);
                assert_true(r > 0);
                got += (size_t)r;
        }
        return n;
}

static char data_dir[64];

static int setup(void **state)
{
        (void)state;
        snprintf(data_dir, sizeof(data_dir), "/tmp/sl_test_shards_XXXXXX");
        if (!mkdtemp(data_dir))
                return -1;
        sl_config cfg;
        sl_config_defaults(&cfg);
        cfg.cores = NSHARDS;
        cfg.log_level = SL_LOG_WARN;
        snprintf(cfg.listen, sizeof(cfg.listen), "127.0.0.1:0");
        snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", data_dir);
        sl_dispatch_set_override(3, test_handler);
        return sl_server_start(&cfg);
}

static int teardown(void **state)
{
        (void)state;
        sl_server_stop(5000);
        sl_dispatch_set_override(3, NULL);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", data_dir);
        return system(cmd);
}

static void test_gather_every_shard(void **state)
{
        (void)state;
        for (int k = 0; k < 8; k++) {
                int fd = connect_to(sl_server_port());
                uint8_t out[16];
                assert_int_equal(call(fd, 1, out, sizeof(out)), NSHARDS);
                for (int i = 0; i < NSHARDS; i++)
                        assert_int_equal(out[i], i);
                close(fd);
        }
}

static void test_flood_backpressure(void **state)
{
        (void)state;
        int fd = connect_to(sl_server_port());
        uint8_t out[16];
        assert_int_equal(call(fd, 2, out, sizeof(out)), 4);
        assert_int_equal(out[0] << 8 | out[1], FLOOD);
        assert_int_equal(out[2], 1); /* FIFO order kept through the overflow */
        assert_int_equal(out[3], 1); /* the ring filled: backpressure engaged */
        /* The connection reads again afterwards. */
        assert_int_equal(call(fd, 1, out, sizeof(out)), NSHARDS);
        close(fd);
}

static void test_overflow_drains_without_replies(void **state)
{
        (void)state;
        int fd = connect_to(sl_server_port());
        uint8_t out[16];
        int64_t start = sl_now_ms();
        assert_int_equal(call(fd, 4, out, sizeof(out)), 4);
        /* Well under the once-a-second maintenance tick, the only other
         * thing that would wake the origin. */
        int64_t took = sl_now_ms() - start;
        if (took > 700)
                fail_msg("held flood took %lld ms", (long long)took);
        assert_int_equal(out[0] << 8 | out[1], FLOOD);
        assert_int_equal(out[2], 1);
        assert_int_equal(out[3], 1);
        close(fd);
}

static void test_create_from_any_shard(void **state)
{
        (void)state;
        int fd = connect_to(sl_server_port());
        uint8_t out[16];
        assert_int_equal(call(fd, 3, out, sizeof(out)), 3);
        assert_int_equal(out[0], 0);
        assert_int_equal(out[1], 1);
        close(fd);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_gather_every_shard),
            cmocka_unit_test(test_flood_backpressure),
            cmocka_unit_test(test_overflow_drains_without_replies),
            cmocka_unit_test(test_create_from_any_shard),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
