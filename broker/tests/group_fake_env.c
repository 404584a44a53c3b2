/* broker/tests/group_fake_env.c — the fake environment and codec round-trip
 * helpers of the group coordinator unit tests (see group_fake_env.h): the
 * shared fake environment (group_fake_env_core.c) with this suite's
 * defaults, and one function per request kind that encodes it, decodes it at
 * its version and hands it to the coordinator. */
#include "group_fake_env.h"

sl_group_cfg cfg_default(void)
{
        sl_group_cfg c = {50, 0, 6000, 300000, 3, 3600000, 4096, 0, 0, 0, 0, {0, 0}};
        return c;
}

sl_group_coord *coord(sl_group_cfg c)
{
        sl_group_env env = fake_env();
        return sl_group_coord_new(&c, &env);
}

void reset_env(void)
{
        fake_env_reset();
}

/* JoinGroup v`v` with protocols `proto` (default "range", metadata `meta`)
 * and "roundrobin", session timeout `st` ms. */
call *join_st(sl_group_coord *gc, int16_t v, const char *group, const char *member,
              const char *inst, const char *proto, const char *meta, int32_t st)
{
        call *k = call_new(11, v);
        kp_join_group_request rq;
        kp_join_group_request_init(&rq);
        kp_join_group_request_join_group_request_protocol pr[2];
        kp_join_group_request_join_group_request_protocol_init(&pr[0]);
        kp_join_group_request_join_group_request_protocol_init(&pr[1]);
        pr[0].name = S(proto ? proto : "range");
        pr[0].metadata = (kp_bytes){(const uint8_t *)meta, (int32_t)strlen(meta)};
        pr[1].name = S("roundrobin");
        pr[1].metadata = (kp_bytes){(const uint8_t *)"rr", 2};
        rq.group_id = S(group);
        rq.session_timeout_ms = st;
        rq.rebalance_timeout_ms = 30000;
        rq.member_id = S(member ? member : "");
        if (v >= 5)
                rq.group_instance_id = S(inst);
        rq.protocol_type = S("consumer");
        rq.protocols = pr;
        rq.protocols_count = 2;
        k->c.rq = ROUNDTRIP_RQ(k, kp_join_group_request, &rq);
        k->c.group_id = rq.group_id;
        kp_join_group_response *rs = kp_arena_alloc(&k->a, 1, sizeof(*rs));
        kp_join_group_response_init(rs);
        k->c.rs = rs;
        sl_group_join(gc, &k->c);
        return k;
}

call *join(sl_group_coord *gc, int16_t v, const char *group, const char *member, const char *inst,
           const char *proto, const char *meta)
{
        return join_st(gc, v, group, member, inst, proto, meta, 10000);
}

kp_join_group_response *join_rs(call *k)
{
        assert_true(k->done);
        kp_join_group_response *rs = k->c.rs;
        if (rs->protocol_name.len < 0 && k->c.version < 7)
                rs->protocol_name = S("");
        return ROUNDTRIP_RS(k, kp_join_group_response);
}

char *dup_str(kp_str s)
{
        char *p = malloc((size_t)s.len + 1);
        memcpy(p, s.p, (size_t)s.len);
        p[s.len] = 0;
        return p;
}

/* Joins with v5: MEMBER_ID_REQUIRED, then with the id. Returns the parked or
 * answered second call; *id gets the member id. */
call *join2(sl_group_coord *gc, const char *group, char **id)
{
        call *k = join(gc, 5, group, "", NULL, NULL, "m");
        kp_join_group_response *rs = join_rs(k);
        assert_int_equal(rs->error_code, KP_ERR_MEMBER_ID_REQUIRED);
        assert_true(rs->member_id.len > 0);
        *id = dup_str(rs->member_id);
        call_free(k);
        return join(gc, 5, group, *id, NULL, NULL, "m");
}

call *sync_(sl_group_coord *gc, int16_t v, const char *group, int32_t gen, const char *member,
            const char *inst, int nass, const char **ids, const char **ass)
{
        call *k = call_new(14, v);
        kp_sync_group_request rq;
        kp_sync_group_request_init(&rq);
        kp_sync_group_request_sync_group_request_assignment a[4];
        for (int i = 0; i < nass; i++) {
                kp_sync_group_request_sync_group_request_assignment_init(&a[i]);
                a[i].member_id = S(ids[i]);
                a[i].assignment = (kp_bytes){(const uint8_t *)ass[i], (int32_t)strlen(ass[i])};
        }
        rq.group_id = S(group);
        rq.generation_id = gen;
        rq.member_id = S(member);
        if (v >= 3)
                rq.group_instance_id = S(inst);
        rq.assignments = a;
        rq.assignments_count = nass;
        k->c.rq = ROUNDTRIP_RQ(k, kp_sync_group_request, &rq);
        k->c.group_id = rq.group_id;
        kp_sync_group_response *rs = kp_arena_alloc(&k->a, 1, sizeof(*rs));
        kp_sync_group_response_init(rs);
        k->c.rs = rs;
        sl_group_sync(gc, &k->c);
        return k;
}

int16_t heartbeat(sl_group_coord *gc, const char *group, int32_t gen, const char *member,
                  const char *inst)
{
        call *k = call_new(12, 4);
        kp_heartbeat_request rq;
        kp_heartbeat_request_init(&rq);
        rq.group_id = S(group);
        rq.generation_id = gen;
        rq.member_id = S(member);
        rq.group_instance_id = S(inst);
        k->c.rq = ROUNDTRIP_RQ(k, kp_heartbeat_request, &rq);
        kp_heartbeat_response rs;
        kp_heartbeat_response_init(&rs);
        k->c.rs = &rs;
        sl_group_heartbeat(gc, &k->c);
        assert_true(k->done);
        int16_t e = ROUNDTRIP_RS(k, kp_heartbeat_response)->error_code;
        call_free(k);
        return e;
}

/* OffsetCommit of topic partitions 0..np-1 at offsets off.., partition i
 * with metadata metas[i]. */
call *commit_metas(sl_group_coord *gc, int16_t v, const char *group, int32_t gen,
                   const char *member, int64_t off, const char *const *metas, int np)
{
        call *k = call_new(8, v);
        kp_offset_commit_request rq;
        kp_offset_commit_request_init(&rq);
        kp_offset_commit_request_offset_commit_request_topic t;
        kp_offset_commit_request_offset_commit_request_topic_init(&t);
        kp_offset_commit_request_offset_commit_request_partition p[8];
        for (int i = 0; i < np; i++) {
                kp_offset_commit_request_offset_commit_request_partition_init(&p[i]);
                p[i].partition_index = i;
                p[i].committed_offset = off + i;
                p[i].committed_leader_epoch = v >= 6 ? 3 : -1;
                p[i].committed_metadata = S(metas[i]);
        }
        t.name = S("topic");
        t.partitions = p;
        t.partitions_count = np;
        rq.group_id = S(group);
        rq.generation_id_or_member_epoch = gen;
        rq.member_id = S(member);
        rq.topics = &t;
        rq.topics_count = 1;
        const kp_offset_commit_request *d = ROUNDTRIP_RQ(k, kp_offset_commit_request, &rq);
        k->c.rq = d;
        kp_offset_commit_response *rs = kp_arena_alloc(&k->a, 1, sizeof(*rs));
        kp_offset_commit_response_init(rs);
        rs->topics = kp_arena_alloc(&k->a, 1, sizeof(*rs->topics));
        rs->topics_count = 1;
        rs->topics[0].name = d->topics[0].name;
        rs->topics[0].partitions =
            kp_arena_alloc(&k->a, (size_t)np, sizeof(*rs->topics[0].partitions));
        rs->topics[0].partitions_count = np;
        for (int i = 0; i < np; i++)
                rs->topics[0].partitions[i].partition_index = i;
        k->c.rs = rs;
        sl_group_offset_commit(gc, &k->c);
        return k;
}

call *commit(sl_group_coord *gc, int16_t v, const char *group, int32_t gen, const char *member,
             int64_t off, const char *meta, int np)
{
        const char *metas[8];
        for (int i = 0; i < np; i++)
                metas[i] = meta;
        return commit_metas(gc, v, group, gen, member, off, metas, np);
}

int16_t commit_err(call *k, int i)
{
        return ROUNDTRIP_RS(k, kp_offset_commit_response)->topics[0].partitions[i].error_code;
}

/* OffsetFetch (v8 group form) of topic partitions 0..np-1; returns offsets. */
void fetch(sl_group_coord *gc, const char *group, int np, int64_t *out, int32_t *epochs)
{
        call *k = call_new(9, 8);
        kp_offset_fetch_request_offset_fetch_request_group q;
        kp_offset_fetch_request_offset_fetch_request_group_init(&q);
        kp_offset_fetch_request_offset_fetch_request_topics t;
        int32_t idx[8];
        for (int i = 0; i < np; i++)
                idx[i] = i;
        t.name = S("topic");
        t.partition_indexes = idx;
        t.partition_indexes_count = np;
        q.group_id = S(group);
        q.topics = &t;
        q.topics_count = 1;
        k->c.rq = &q;
        kp_offset_fetch_response_offset_fetch_response_group g;
        kp_offset_fetch_response_offset_fetch_response_group_init(&g);
        k->c.rs = &g;
        sl_group_offset_fetch(gc, &k->c);
        assert_true(k->done);
        assert_int_equal(g.error_code, 0);
        assert_int_equal(g.topics_count, 1);
        for (int i = 0; i < np; i++) {
                out[i] = g.topics[0].partitions[i].committed_offset;
                if (epochs)
                        epochs[i] = g.topics[0].partitions[i].committed_leader_epoch;
        }
        call_free(k);
}

/* LeaveGroup v3 of one member. */
int16_t leave1(sl_group_coord *gc, const char *group, const char *member)
{
        call *k = call_new(13, 3);
        kp_leave_group_request lq;
        kp_leave_group_request_init(&lq);
        kp_leave_group_request_member_identity mi;
        kp_leave_group_request_member_identity_init(&mi);
        mi.member_id = S(member);
        lq.group_id = S(group);
        lq.members = &mi;
        lq.members_count = 1;
        k->c.rq = ROUNDTRIP_RQ(k, kp_leave_group_request, &lq);
        kp_leave_group_response lr;
        kp_leave_group_response_init(&lr);
        k->c.rs = &lr;
        sl_group_leave(gc, &k->c);
        assert_true(k->done);
        kp_leave_group_response *r = ROUNDTRIP_RS(k, kp_leave_group_response);
        int16_t e = r->error_code ? r->error_code : r->members[0].error_code;
        call_free(k);
        return e;
}

/* One member joined and synced; returns its id. */
char *stable1(sl_group_coord *gc, const char *group)
{
        char *id;
        call *j = join2(gc, group, &id);
        kp_join_group_response *r = join_rs(j);
        assert_int_equal(r->error_code, 0);
        int32_t gen = r->generation_id;
        call_free(j);
        const char *ids[] = {id};
        const char *as[] = {"A"};
        call *s = sync_(gc, 5, group, gen, id, NULL, 1, ids, as);
        assert_int_equal(ROUNDTRIP_RS(s, kp_sync_group_response)->error_code, 0);
        call_free(s);
        return id;
}
