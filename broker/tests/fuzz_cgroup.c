/* broker/tests/fuzz_cgroup.c — libFuzzer harness for the replay of KIP-848
 * consumer group records (broker/group/cgroup_log.c) and what runs on the
 * state it builds: the input is a run of __consumer_offsets records
 * (u16 key length, key, i32 value length or -1 for a tombstone, value) fed
 * to a fresh coordinator as at load; then every group is listed and
 * described, each member heartbeats at its epoch and at 0, and the clock
 * passes every session. A corrupt log must neither crash nor leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "group/group.h"

static int64_t now_ms = 1000000;

static int64_t f_now(void *a)
{
        (void)a;
        return now_ms;
}

static int64_t f_wall(void *a)
{
        (void)a;
        return 1700000000000LL + now_ms;
}

static int16_t f_append(void *a, int32_t partition, const kp_record_in *r, int32_t n,
                        sl_group_persist *p)
{
        (void)a;
        (void)partition;
        (void)r;
        (void)n;
        if (p)
                p->cb(p, 0);
        return 0;
}

static int f_by_name(void *a, kp_str name, kp_uuid *id, int32_t *parts)
{
        (void)a;
        if (name.len != 1)
                return -1;
        memset(id, 0, sizeof(*id));
        id->b[0] = (uint8_t)name.p[0];
        *parts = 1 + (name.p[0] & 7);
        return 0;
}

static int f_by_id(void *a, kp_uuid id, kp_str *name)
{
        (void)a;
        static char names[256];
        names[id.b[0]] = (char)id.b[0];
        *name = (kp_str){&names[id.b[0]], 1};
        return 0;
}

static int f_at(void *a, int32_t i, kp_str *name)
{
        (void)a;
        static const char t[] = "abcxyz";
        if (i < 0 || i >= 6)
                return -1;
        *name = (kp_str){&t[i], 1};
        return 0;
}

static void done(sl_group_call *c)
{
        (void)c;
}

static void call_init(sl_group_call *c, int16_t api, int16_t v, const void *rq, void *rs, kp_str g)
{
        memset(c, 0, sizeof(*c));
        c->api_key = api;
        c->version = v;
        c->rq = rq;
        c->rs = rs;
        c->group_id = g;
        c->client_id = kp_str_c("fuzz");
        c->client_host = kp_str_c("/127.0.0.1");
        c->done = done;
        kp_arena_init(&c->arena, 1024);
}

static void beat(sl_group_coord *gc, kp_str group, kp_str member, int32_t epoch)
{
        kp_consumer_group_heartbeat_request rq;
        kp_consumer_group_heartbeat_request_init(&rq);
        kp_str topics[1] = {kp_str_c("a")};
        rq.group_id = group;
        rq.member_id = member;
        rq.member_epoch = epoch;
        if (epoch == 0) {
                rq.rebalance_timeout_ms = 1000;
                rq.subscribed_topic_names = topics;
                rq.subscribed_topic_names_count = 1;
                rq.topic_partitions_count = 0;
        }
        kp_consumer_group_heartbeat_response rs;
        kp_consumer_group_heartbeat_response_init(&rs);
        sl_group_call c;
        call_init(&c, 68, 1, &rq, &rs, group);
        sl_cgroup_heartbeat(gc, &c);
        kp_arena_release(&c.arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        sl_group_cfg cfg = {4, 0, 6000, 300000, 100, 3600000, 4096, 0, 0, 0, 0, {0, 0}};
        sl_group_env env = {f_now, f_wall, f_append, NULL, f_by_name, f_by_id, f_at};
        sl_group_coord *gc = sl_group_coord_new(&cfg, &env);
        if (!gc)
                return 0;
        size_t off = 0;
        while (size - off >= 6) {
                uint16_t kl = (uint16_t)(data[off] << 8 | data[off + 1]);
                off += 2;
                if (kl > size - off)
                        break;
                kp_bytes key = {data + off, kl};
                off += kl;
                if (size - off < 4)
                        break;
                int32_t vl = (int32_t)((uint32_t)data[off] << 24 | (uint32_t)data[off + 1] << 16 |
                                       (uint32_t)data[off + 2] << 8 | data[off + 3]);
                off += 4;
                kp_bytes val = KP_BYTES_NULL;
                if (vl >= 0) {
                        if ((size_t)vl > size - off)
                                break;
                        val = (kp_bytes){data + off, vl};
                        off += (size_t)vl;
                }
                (void)sl_group_coord_replay(gc, key, val, now_ms);
        }
        sl_group_coord_loaded(gc);
        /* every group: describe, then each member beats at its epoch and at 0 */
        kp_list_groups_request lq;
        kp_list_groups_request_init(&lq);
        kp_list_groups_response lr;
        kp_list_groups_response_init(&lr);
        sl_group_call lc;
        call_init(&lc, 16, 5, &lq, &lr, (kp_str){"", 0});
        sl_group_list(gc, &lc);
        for (int32_t i = 0; i < lr.groups_count && i < 8; i++) {
                kp_str g = lr.groups[i].group_id;
                kp_consumer_group_describe_response_described_group d;
                kp_consumer_group_describe_response_described_group_init(&d);
                sl_group_call dc;
                call_init(&dc, 69, 0, NULL, &d, g);
                sl_cgroup_describe(gc, &dc);
                for (int32_t k = 0; k < d.members_count && k < 8; k++) {
                        beat(gc, g, d.members[k].member_id, d.members[k].member_epoch);
                        beat(gc, g, d.members[k].member_id, 0);
                }
                beat(gc, g, kp_str_c("fuzz-member"), 0);
                kp_arena_release(&dc.arena);
        }
        kp_arena_release(&lc.arena);
        now_ms += 3600000;
        sl_group_coord_tick(gc);
        sl_group_coord_free(gc);
        return 0;
}
