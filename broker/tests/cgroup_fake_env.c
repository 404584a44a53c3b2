/* broker/tests/cgroup_fake_env.c — the fake environment and codec helpers of
 * the KIP-848 consumer group unit tests (see cgroup_fake_env.h): the clock,
 * the in-memory offsets log and topic table, and heartbeat/describe calls
 * that go through the generated codec at their version. */
#include "cgroup_fake_env.h"
/* ---- fake environment ---- */

int64_t now_ms = 1000000, wall_ms = 1700000000000LL;
rec recs[4096];
int nrecs;
int16_t append_err; /* the fake log refuses appends with this */
int16_t sync_err;   /* appends are written, their sync fails with this */

/* topics t1, t2, t3: ids {1,...}, {2,...}, {3,...}; 0 partitions: absent */
int32_t topic_parts[4] = {0, 6, 5, 0};
static const char *const topic_names[4] = {"", "t1", "t2", "t3"};

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
        (void)partition;
        if (append_err)
                return append_err;
        for (int32_t i = 0; i < n; i++) {
                rec *x = &recs[nrecs++];
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
        if (p)
                p->cb(p, sync_err);
        return 0;
}

static kp_uuid tid(int t)
{
        kp_uuid u = {{0}};
        u.b[0] = (uint8_t)t;
        u.b[15] = 0x42;
        return u;
}

static int f_topic_by_name(void *a, kp_str name, kp_uuid *id, int32_t *parts)
{
        (void)a;
        for (int t = 1; t <= 3; t++) {
                if (topic_parts[t] && kp_str_eq(name, kp_str_c(topic_names[t]))) {
                        *id = tid(t);
                        *parts = topic_parts[t];
                        return 0;
                }
        }
        return -1;
}

static int f_topic_by_id(void *a, kp_uuid id, kp_str *name)
{
        (void)a;
        for (int t = 1; t <= 3; t++) {
                if (topic_parts[t] && !memcmp(id.b, tid(t).b, 16)) {
                        *name = kp_str_c(topic_names[t]);
                        return 0;
                }
        }
        return -1;
}

/* the topic table in order, plus the internal topic regexes must skip */
static int f_topic_at(void *a, int32_t i, kp_str *name)
{
        (void)a;
        if (i == 0) {
                *name = kp_str_c("__consumer_offsets");
                return 0;
        }
        for (int t = 1; t <= 3; t++)
                if (topic_parts[t] && --i == 0) {
                        *name = kp_str_c(topic_names[t]);
                        return 0;
                }
        return -1;
}

sl_group_cfg cfg_default(void)
{
        sl_group_cfg c = {50, 0, 6000, 300000, 100, 3600000, 4096, 0, 0, 0, 0, {0, 0}};
        return c;
}

sl_group_coord *coord(sl_group_cfg c)
{
        sl_group_env env = {f_now,           f_wall,        f_append,  NULL,
                            f_topic_by_name, f_topic_by_id, f_topic_at};
        return sl_group_coord_new(&c, &env);
}

void reset_env(void)
{
        for (int i = 0; i < nrecs; i++) {
                free(recs[i].key);
                free(recs[i].val);
        }
        nrecs = 0;
        append_err = sync_err = 0;
        topic_parts[1] = 6;
        topic_parts[2] = 5;
        topic_parts[3] = 0;
}

sl_group_coord *replayed(sl_group_cfg c)
{
        sl_group_coord *gc = coord(c);
        for (int i = 0; i < nrecs; i++) {
                kp_bytes k = {recs[i].key, recs[i].klen};
                kp_bytes v = {recs[i].val, recs[i].val ? recs[i].vlen : -1};
                assert_int_equal(sl_group_coord_replay(gc, k, v, now_ms), 0);
        }
        sl_group_coord_loaded(gc);
        return gc;
}

/* ---- calls through the codec ---- */

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

hbr hb(sl_group_coord *gc, hbq q)
{
        call *k = call_new(68, q.v0 ? 0 : 1);
        kp_consumer_group_heartbeat_request rq;
        kp_consumer_group_heartbeat_request_init(&rq);
        rq.group_id = S(q.group ? q.group : "g");
        rq.member_id = S(q.member ? q.member : "");
        rq.member_epoch = q.epoch;
        rq.instance_id = S(q.inst);
        rq.rebalance_timeout_ms = q.rto ? q.rto : (q.epoch == 0 ? 30000 : -1);
        kp_str names[8];
        int nn = 0;
        if (q.topics) {
                for (; q.topics[nn]; nn++)
                        names[nn] = S(q.topics[nn]);
                rq.subscribed_topic_names = names;
                rq.subscribed_topic_names_count = nn;
        }
        if (k->c.version >= 1)
                rq.subscribed_topic_regex = S(q.regex);
        rq.server_assignor = S(q.assignor);
        kp_consumer_group_heartbeat_request_topic_partitions tps[2];
        int32_t parts[2][32];
        if (q.owned || q.epoch == 0) {
                rq.topic_partitions = tps;
                rq.topic_partitions_count = 0;
                for (int i = 0; q.owned && q.owned[i] >= 0; i++) {
                        int t = q.owned[i] / 100, p = q.owned[i] % 100, j;
                        for (j = 0; j < rq.topic_partitions_count; j++)
                                if (!memcmp(tps[j].topic_id.b, tid(t).b, 16))
                                        break;
                        if (j == rq.topic_partitions_count) {
                                kp_consumer_group_heartbeat_request_topic_partitions_init(&tps[j]);
                                tps[j].topic_id = tid(t);
                                tps[j].partitions = parts[j];
                                tps[j].partitions_count = 0;
                                rq.topic_partitions_count++;
                        }
                        parts[j][tps[j].partitions_count++] = p;
                }
        }
        k->c.rq = ROUNDTRIP(k, kp_consumer_group_heartbeat_request, &rq);
        k->c.group_id = rq.group_id;
        kp_consumer_group_heartbeat_response *rs = kp_arena_alloc(&k->a, 1, sizeof(*rs));
        kp_consumer_group_heartbeat_response_init(rs);
        k->c.rs = rs;
        sl_cgroup_heartbeat(gc, &k->c);
        assert_true(k->done);
        kp_consumer_group_heartbeat_response *o =
            ROUNDTRIP(k, kp_consumer_group_heartbeat_response, rs);
        hbr r = {0};
        r.err = o->error_code;
        if (o->member_id.len > 0)
                snprintf(r.mid, sizeof(r.mid), "%.*s", o->member_id.len, o->member_id.p);
        r.epoch = o->member_epoch;
        r.interval = o->heartbeat_interval_ms;
        r.has_asg = o->assignment_present;
        for (int32_t i = 0; r.has_asg && i < o->assignment.topic_partitions_count; i++) {
                const kp_consumer_group_heartbeat_response_topic_partitions *t =
                    &o->assignment.topic_partitions[i];
                for (int32_t j = 0; j < t->partitions_count; j++)
                        r.tp[r.n++] = t->topic_id.b[0] * 100 + t->partitions[j];
        }
        call_free(k);
        return r;
}

const char *const T1[] = {"t1", NULL};
const char *const T2[] = {"t2", NULL};

hbr join(sl_group_coord *gc, const char *member, const char *inst)
{
        return hb(gc, (hbq){.member = member, .inst = inst, .epoch = 0, .topics = T1});
}

/* Plain heartbeat: nothing but the epoch (and owned partitions if given). */
hbr beat(sl_group_coord *gc, const char *member, int32_t epoch, const int32_t *owned)
{
        return hb(gc, (hbq){.member = member, .epoch = epoch, .owned = owned});
}

void want_tps(const hbr *r, const int32_t *want)
{
        int n = 0;
        while (want[n] >= 0)
                n++;
        assert_true(r->has_asg);
        assert_int_equal(r->n, n);
        for (int i = 0; i < n; i++)
                assert_int_equal(r->tp[i], want[i]);
}

/* ConsumerGroupDescribe of group `g` into a fresh call (caller frees). */
kp_consumer_group_describe_response_described_group *describe(sl_group_coord *gc, const char *g,
                                                              call **kp)
{
        call *k = call_new(69, 0);
        kp_consumer_group_describe_response_described_group *d =
            kp_arena_alloc(&k->a, 1, sizeof(*d));
        kp_consumer_group_describe_response_described_group_init(d);
        k->c.group_id = S(g);
        k->c.rs = d;
        sl_cgroup_describe(gc, &k->c);
        assert_true(k->done);
        kp_consumer_group_describe_response whole = {0, d, 1};
        kp_consumer_group_describe_response *o =
            ROUNDTRIP(k, kp_consumer_group_describe_response, &whole);
        *kp = k;
        return &o->groups[0];
}

const kp_consumer_group_describe_response_member *
dmember(const kp_consumer_group_describe_response_described_group *d, const char *id)
{
        for (int32_t i = 0; i < d->members_count; i++)
                if (kp_str_eq(d->members[i].member_id, S(id)))
                        return &d->members[i];
        return NULL;
}

int32_t nparts(const kp_consumer_group_describe_response_assignment *a)
{
        int32_t n = 0;
        for (int32_t i = 0; i < a->topic_partitions_count; i++)
                n += a->topic_partitions[i].partitions_count;
        return n;
}

void tick_to(sl_group_coord *gc, int64_t t)
{
        now_ms = t;
        sl_group_coord_tick(gc);
}
