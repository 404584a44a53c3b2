/* broker/tests/cgroup_fake_env.c — the fake environment and codec helpers of
 * the KIP-848 consumer group unit tests (see cgroup_fake_env.h): the shared
 * fake environment (group_fake_env_core.c) with this suite's defaults and a
 * topic table, and heartbeat/describe calls that go through the generated
 * codec at their version. */
#include "cgroup_fake_env.h"
/* topics t1, t2, t3: ids {1,...}, {2,...}, {3,...}; 0 partitions: absent */
int32_t topic_parts[4] = {0, 6, 5, 0};
static const char *const topic_names[4] = {"", "t1", "t2", "t3"};

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
        sl_group_env env = fake_env();
        env.topic_by_name = f_topic_by_name;
        env.topic_by_id = f_topic_by_id;
        env.topic_at = f_topic_at;
        return sl_group_coord_new(&c, &env);
}

void reset_env(void)
{
        fake_env_reset();
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
