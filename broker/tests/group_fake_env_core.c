/* broker/tests/group_fake_env_core.c — the shared core of the group
 * coordinator's fake test environment (see group_fake_env_core.h): the
 * clocks, the in-memory offsets log and the coordinator call plumbing that
 * group_fake_env.c and cgroup_fake_env.c build their helpers on. */
#include "group_fake_env_core.h"

int64_t now_ms = 1000000, wall_ms = 1700000000000LL;
rec recs[4096];
int nrecs;
sl_group_persist *pend[64];
int npend;
bool auto_sync = true;
int16_t append_err;
int16_t sync_err;

static int64_t f_now(void *a)
{
        (void)a;
        return now_ms;
}

static int64_t f_wall(void *a)
{
        (void)a;
        return wall_ms;
}

static int16_t f_append(void *a, int32_t partition, const kp_record_in *r, int32_t n,
                        sl_group_persist *p)
{
        (void)a;
        if (append_err)
                return append_err;
        for (int32_t i = 0; i < n; i++) {
                rec *x = &recs[nrecs++];
                x->partition = partition;
                x->klen = r[i].key.len;
                x->key = malloc((size_t)x->klen);
                memcpy(x->key, r[i].key.p, (size_t)x->klen);
                x->vlen = r[i].value.len;
                x->val = NULL;
                if (r[i].value.len >= 0) {
                        x->val = malloc((size_t)x->vlen + 1);
                        memcpy(x->val, r[i].value.p, (size_t)x->vlen);
                }
        }
        if (p && auto_sync)
                p->cb(p, sync_err);
        else if (p)
                pend[npend++] = p;
        return 0;
}

void sync_all(int16_t err)
{
        while (npend) {
                sl_group_persist *p = pend[0];
                memmove(pend, pend + 1, (size_t)--npend * sizeof(*pend));
                p->cb(p, err);
        }
}

sl_group_env fake_env(void)
{
        sl_group_env env = {f_now, f_wall, f_append, NULL, NULL, NULL, NULL};
        return env;
}

void fake_env_reset(void)
{
        for (int i = 0; i < nrecs; i++) {
                free(recs[i].key);
                free(recs[i].val);
        }
        nrecs = 0;
        npend = 0;
        auto_sync = true;
        append_err = sync_err = 0;
}

static void on_done(sl_group_call *c)
{
        ((call *)c)->done = true;
}

call *call_new(int16_t api, int16_t v)
{
        call *k = calloc(1, sizeof(*k));
        kp_arena_init(&k->a, 4096);
        kp_arena_init(&k->c.arena, 1024);
        k->c.api_key = api;
        k->c.version = v;
        k->c.client_id = kp_str_c("cid");
        k->c.client_host = kp_str_c("/127.0.0.1");
        k->c.done = on_done;
        return k;
}

void call_free(call *k)
{
        kp_arena_release(&k->a);
        kp_arena_release(&k->c.arena);
        free(k);
}

kp_str S(const char *s)
{
        return s ? kp_str_c(s) : KP_STR_NULL;
}

void tick_to(sl_group_coord *gc, int64_t t)
{
        now_ms = t;
        sl_group_coord_tick(gc);
}

int16_t offset_delete_one(sl_group_coord *gc, const char *group, const char *topic, int16_t *perr)
{
        call *k = call_new(47, 0);
        kp_offset_delete_request rq;
        kp_offset_delete_request_init(&rq);
        kp_offset_delete_request_offset_delete_request_topic t;
        kp_offset_delete_request_offset_delete_request_partition p = {0};
        t.name = S(topic);
        t.partitions = &p;
        t.partitions_count = 1;
        rq.group_id = S(group);
        rq.topics = &t;
        rq.topics_count = 1;
        k->c.rq = ROUNDTRIP(k, kp_offset_delete_request, &rq);
        kp_offset_delete_response rs;
        kp_offset_delete_response_init(&rs);
        kp_offset_delete_response_offset_delete_response_topic rt;
        kp_offset_delete_response_offset_delete_response_partition rp = {0, 0};
        rt.name = t.name;
        rt.partitions = &rp;
        rt.partitions_count = 1;
        rs.topics = &rt;
        rs.topics_count = 1;
        k->c.rs = &rs;
        sl_group_offset_delete(gc, &k->c);
        assert_true(k->done);
        *perr = rp.error_code;
        int16_t e = rs.error_code;
        call_free(k);
        return e;
}
