/* broker/group/cgroup.c — ConsumerGroupHeartbeat (KIP-848): members join with
 * epoch 0, the group epoch is bumped when a subscription or the subscribed
 * topics' metadata change, the target assignment is recomputed when the group
 * epoch passes the assignment epoch, and each member reconciles towards its
 * target on its own heartbeats (Kafka's CurrentAssignmentBuilder): partitions
 * it must give up are first revoked (UNREVOKED_PARTITIONS, epoch kept), a
 * partition still owned by another member is withheld (UNRELEASED_PARTITIONS)
 * until that member lets it go. Leaves (-1, static -2), session and
 * revocation timeouts fence members. Every change is written as Kafka's
 * records (cgroup_log.c) and the answer waits until they are durable; a
 * change the log refuses is rolled back to what the log holds. */
#include "cgroup.h"

#include <stdio.h>
#include <xxhash.h>

typedef kp_consumer_group_heartbeat_request cgh_rq;
typedef kp_consumer_group_heartbeat_response cgh_rs;

/* ---- settings (0 in sl_group_cfg: Kafka's defaults) ---- */

static int32_t hb_interval(const sl_group_coord *gc)
{
        return gc->cfg.cg_heartbeat_interval_ms > 0 ? gc->cfg.cg_heartbeat_interval_ms : 5000;
}

static int32_t session_ms(const sl_group_coord *gc)
{
        return gc->cfg.cg_session_timeout_ms > 0 ? gc->cfg.cg_session_timeout_ms : 45000;
}

static bool assignor_enabled(const sl_group_coord *gc, int idx)
{
        if (!gc->cfg.cg_nassignors)
                return idx >= 0;
        for (int32_t i = 0; i < gc->cfg.cg_nassignors; i++)
                if (gc->cfg.cg_assignors[i] == idx)
                        return true;
        return false;
}

/* ---- the heartbeat ---- */

static void hb_fail(sl_group_call *c, int16_t err, const char *msg)
{
        cgh_rs *rs = c->rs;
        rs->error_code = err;
        rs->error_message = msg ? kp_str_c(msg) : KP_STR_NULL;
        rs->member_id = KP_STR_NULL;
        rs->member_epoch = 0;
        rs->heartbeat_interval_ms = 0;
        rs->assignment_present = false;
        sl_group_call_finish(c);
}

static const char *hb_invalid(const sl_group_call *c)
{
        const cgh_rq *rq = c->rq;
        if (rq->group_id.len <= 0)
                return "GroupId can't be empty.";
        if (rq->instance_id.len == 0)
                return "InstanceId can't be empty.";
        if (rq->rack_id.len == 0)
                return "RackId can't be empty.";
        if (c->version >= 1 && rq->member_id.len <= 0)
                return "MemberId can't be empty.";
        int32_t e = rq->member_epoch;
        if ((e > 0 || e == SL_CG_LEAVE_EPOCH) && rq->member_id.len <= 0)
                return "MemberId can't be empty.";
        if (e == 0) {
                if (rq->rebalance_timeout_ms == -1)
                        return "RebalanceTimeoutMs must be provided in first request.";
                if (rq->topic_partitions_count != 0)
                        return "TopicPartitions must be empty when (re-)joining.";
                /* librdkafka sends "" for no regex; Kafka takes an empty one as none */
                if (rq->subscribed_topic_names_count <= 0 && rq->subscribed_topic_regex.len <= 0)
                        return "SubscribedTopicNames or SubscribedTopicRegex must be set in "
                               "first request.";
        } else if (e == SL_CG_STATIC_LEAVE_EPOCH) {
                if (rq->member_id.len <= 0)
                        return "MemberId can't be empty.";
                if (rq->instance_id.len < 0)
                        return "InstanceId can't be null.";
        } else if (e < SL_CG_STATIC_LEAVE_EPOCH) {
                return "MemberEpoch is invalid.";
        }
        return NULL;
}

/* Kafka's Uuid.toString: 22 characters of URL-safe base64. */
static kp_str new_member_id(sl_group_coord *gc, sl_group_call *c)
{
        static _Thread_local uint64_t counter;
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        uint64_t seed[3] = {++counter, (uint64_t)sl_group_wall(gc), (uint64_t)(uintptr_t)c};
        XXH128_hash_t h = XXH3_128bits(seed, sizeof(seed));
        uint8_t b[16];
        memcpy(b, &h.low64, 8);
        memcpy(b + 8, &h.high64, 8);
        char *p = kp_arena_alloc(&c->arena, 1, 22);
        if (!p)
                return (kp_str){NULL, 0};
        for (int i = 0; i < 22; i++) {
                int bit = i * 6, byte = bit / 8, off = bit % 8;
                unsigned v = (unsigned)b[byte] << 8 | (byte + 1 < 16 ? b[byte + 1] : 0);
                p[i] = b64[(v >> (10 - off)) & 63];
        }
        return (kp_str){p, 22};
}

/* Sets m's topics from the request (sorted, duplicates dropped); true when
 * they differ. -1 when out of memory. */
static int set_topics(sl_cmember *m, const cgh_rq *rq, bool *changed)
{
        int32_t n = rq->subscribed_topic_names_count;
        sl_gstr *v = n ? calloc((size_t)n, sizeof(*v)) : NULL;
        if (n && !v)
                return -1;
        int32_t k = 0;
        for (int32_t i = 0; i < n; i++) {
                v[k].len = -1;
                if (sl_gstr_set(&v[k], rq->subscribed_topic_names[i].len < 0
                                           ? kp_str_c("")
                                           : rq->subscribed_topic_names[i])) {
                        for (int32_t j = 0; j < k; j++)
                                sl_gstr_free(&v[j]);
                        free(v);
                        return -1;
                }
                k++;
        }
        if (k > 1)
                qsort(v, (size_t)k, sizeof(*v), sl_gstr_cmp);
        int32_t u = 0;
        for (int32_t i = 0; i < k; i++) {
                if (u && !strcmp(v[u - 1].p, v[i].p))
                        sl_gstr_free(&v[i]);
                else
                        v[u++] = v[i];
        }
        *changed = u != m->ntopics;
        for (int32_t i = 0; !*changed && i < u; i++)
                *changed = strcmp(v[i].p, m->topics[i].p) != 0;
        if (!*changed) {
                for (int32_t i = 0; i < u; i++)
                        sl_gstr_free(&v[i]);
                free(v);
                return 0;
        }
        for (int32_t i = 0; i < m->ntopics; i++)
                sl_gstr_free(&m->topics[i]);
        free(m->topics);
        m->topics = v;
        m->ntopics = u;
        return 0;
}

/* Sets *s to v when v is given and differs; true when it changed. */
static int upd(sl_gstr *s, kp_str v, bool *changed)
{
        if (v.len < 0 || (s->len >= 0 && sl_gstr_eq(s, v)))
                return 0;
        *changed = true;
        return sl_gstr_set(s, v);
}

static void hb_answer(sl_group_call *c, sl_cmember *m, int32_t interval, bool with_assignment)
{
        cgh_rs *rs = c->rs;
        rs->error_code = 0;
        rs->member_id = sl_group_call_str(c, sl_gstr_view(&m->id));
        rs->member_epoch = m->epoch;
        rs->heartbeat_interval_ms = interval;
        rs->assignment_present = with_assignment;
        if (!with_assignment)
                return;
        kp_consumer_group_heartbeat_response_assignment_init(&rs->assignment);
        const sl_ctpset *s = &m->assigned;
        int32_t nt = 0;
        for (int32_t i = 0; i < s->n; i++)
                if (!i || memcmp(s->v[i].topic.b, s->v[i - 1].topic.b, 16))
                        nt++;
        kp_consumer_group_heartbeat_response_topic_partitions *tp =
            nt ? kp_arena_alloc(&c->arena, (size_t)nt, sizeof(*tp)) : NULL;
        int32_t *parts = s->n ? kp_arena_alloc(&c->arena, (size_t)s->n, sizeof(*parts)) : NULL;
        if ((nt && !tp) || (s->n && !parts)) {
                rs->error_code = KP_ERR_UNKNOWN_SERVER_ERROR;
                rs->assignment_present = false;
                return;
        }
        int32_t t = -1;
        for (int32_t i = 0; i < s->n; i++) {
                if (!i || memcmp(s->v[i].topic.b, s->v[i - 1].topic.b, 16)) {
                        t++;
                        kp_consumer_group_heartbeat_response_topic_partitions_init(&tp[t]);
                        tp[t].topic_id = s->v[i].topic;
                        tp[t].partitions = &parts[i];
                        tp[t].partitions_count = 0;
                }
                parts[i] = s->v[i].part;
                tp[t].partitions_count++;
        }
        rs->assignment.topic_partitions = tp;
        rs->assignment.topic_partitions_count = nt;
}

/* A heartbeat waiting for its records. */
typedef struct hb_wait {
        sl_group_call *c;
        sl_group *g;
        int16_t err;
        bool in_append; /* the append has not returned yet */
        bool synced;    /* the records are durable (or failed: err) */
} hb_wait;

static void hb_done(hb_wait *w)
{
        sl_group_call *c = w->c;
        if (w->err)
                ((cgh_rs *)c->rs)->error_code = w->err;
        c->grp = NULL;
        sl_group_unref(w->g);
        sl_group_call_finish(c);
}

/* The records are durable, or their sync failed: they are in the log either
 * way (the image has them), so the change stays, but the client retries. */
static void hb_persisted(sl_group_persist *p, int16_t err)
{
        hb_wait *w = p->arg;
        w->err = err;
        w->synced = true;
        if (!w->in_append)
                hb_done(w);
}

/* Writes r's records, then answers c (at once when there are none). When
 * they cannot be built or the log refuses them, the group goes back to what
 * the log holds (Kafka reverts a failed write too). */
static void hb_commit(sl_group_coord *gc, sl_group *g, sl_group_call *c, sl_crecs *r)
{
        hb_wait *w = r->failed || !r->n ? NULL : kp_arena_alloc(&c->arena, 1, sizeof(*w));
        if (r->failed || (r->n && !w)) {
                ((cgh_rs *)c->rs)->error_code = KP_ERR_UNKNOWN_SERVER_ERROR;
                sl_cgroup_rollback(gc, g);
        }
        if (!w) {
                sl_group_call_finish(c);
                return;
        }
        *w = (hb_wait){c, g, 0, true, false};
        c->grp = g;
        c->persist.cb = hb_persisted;
        c->persist.arg = w;
        g->persisting++;
        int16_t err = gc->env.append(gc->env.arg, g->partition, r->v, r->n, &c->persist);
        w->in_append = false;
        if (err) {
                w->err = err;
                sl_cgroup_rollback(gc, g);
                hb_done(w);
                return;
        }
        /* r's records live in c's arena: keep them before c is answered */
        sl_cimage_apply(g, r->v, r->n);
        if (w->synced)
                hb_done(w);
}

static void hb_leave(sl_group_coord *gc, sl_group_call *c)
{
        const cgh_rq *rq = c->rq;
        sl_group *g = sl_group_find(gc, rq->group_id);
        if (!g || !g->cg) {
                hb_fail(c, KP_ERR_GROUP_ID_NOT_FOUND, "Consumer group not found.");
                return;
        }
        sl_cmember *m = rq->instance_id.len >= 0 ? sl_cmember_find_instance(g->cg, rq->instance_id)
                                                 : sl_cmember_find(g->cg, rq->member_id);
        if (!m) {
                hb_fail(c, KP_ERR_UNKNOWN_MEMBER_ID, NULL);
                return;
        }
        if (!sl_gstr_eq(&m->id, rq->member_id)) {
                hb_fail(c, KP_ERR_FENCED_INSTANCE_ID, NULL);
                return;
        }
        sl_crecs r;
        sl_crecs_init(&r, &c->arena, sl_group_wall(gc));
        cgh_rs *rs = c->rs;
        rs->member_id = sl_group_call_str(c, rq->member_id);
        rs->member_epoch = rq->member_epoch;
        if (rq->member_epoch == SL_CG_STATIC_LEAVE_EPOCH && rq->instance_id.len >= 0) {
                /* the instance comes back within the session: keep its partitions */
                m->epoch = SL_CG_STATIC_LEAVE_EPOCH;
                sl_ctpset_clear(&m->revoking);
                m->rebalance_deadline_ms = 0;
                sl_crec_current(&r, sl_gstr_view(&g->id), m, false);
        } else {
                sl_cgroup_fence(gc, g, m, &r);
        }
        hb_commit(gc, g, c, &r);
}

static int16_t epoch_check(const sl_cmember *m, const cgh_rq *rq)
{
        if (rq->member_epoch > m->epoch)
                return KP_ERR_FENCED_MEMBER_EPOCH;
        if (rq->member_epoch < m->epoch &&
            (rq->member_epoch != m->prev_epoch || !sl_cg_owned_subset(rq, &m->assigned)))
                return KP_ERR_FENCED_MEMBER_EPOCH;
        return 0;
}

/* A known member rejoining with epoch 0 has dropped its partitions. */
static void rejoin(sl_cmember *m)
{
        sl_ctpset_clear(&m->assigned);
        sl_ctpset_clear(&m->revoking);
        m->epoch = m->prev_epoch = 0;
        m->state = SL_CMS_STABLE;
        m->rebalance_deadline_ms = 0;
}

void sl_cgroup_heartbeat(sl_group_coord *gc, sl_group_call *c)
{
        const cgh_rq *rq = c->rq;
        const char *bad = hb_invalid(c);
        if (bad) {
                hb_fail(c, KP_ERR_INVALID_REQUEST, bad);
                return;
        }
        if (rq->group_id.len > SL_GROUP_ID_MAX) {
                hb_fail(c, KP_ERR_INVALID_GROUP_ID, NULL);
                return;
        }
        if (rq->server_assignor.len >= 0 &&
            !assignor_enabled(gc, sl_cg_assignor_index(rq->server_assignor))) {
                hb_fail(c, KP_ERR_UNSUPPORTED_ASSIGNOR, "ServerAssignor is not supported.");
                return;
        }
        if (rq->member_epoch < 0) {
                hb_leave(gc, c);
                return;
        }
        if (rq->subscribed_topic_regex.len > 0) {
                regex_t *re = sl_cg_regex_compile(rq->subscribed_topic_regex);
                if (!re) {
                        hb_fail(c, KP_ERR_INVALID_REGULAR_EXPRESSION,
                                "SubscribedTopicRegex is invalid.");
                        return;
                }
                regfree(re);
                free(re);
        }
        bool join = rq->member_epoch == 0;
        sl_group *g = sl_group_find(gc, rq->group_id);
        sl_crecs r;
        sl_crecs_init(&r, &c->arena, sl_group_wall(gc));
        if (!g && !join) {
                hb_fail(c, KP_ERR_GROUP_ID_NOT_FOUND, "Consumer group not found.");
                return;
        }
        if (g && !g->cg) {
                /* an Empty classic group gives way to the consumer group */
                if (!join || g->state != SL_GS_EMPTY || g->nmembers || g->pending) {
                        hb_fail(c, KP_ERR_GROUP_ID_NOT_FOUND, "Group is not a consumer group.");
                        return;
                }
                if (g->protocol_type.len >= 0) {
                        size_t cap = 4 + (size_t)g->id.len;
                        uint8_t *kb = kp_arena_alloc(&c->arena, 1, cap);
                        size_t kl = kb ? sl_offsets_group_key(kb, cap, sl_gstr_view(&g->id)) : 0;
                        if (kl) {
                                r.v = kp_arena_alloc(&c->arena, 16, sizeof(*r.v));
                                r.cap = r.v ? 16 : 0;
                        }
                        if (!kl || !r.v) {
                                hb_fail(c, KP_ERR_UNKNOWN_SERVER_ERROR, NULL);
                                return;
                        }
                        r.v[r.n++] =
                            (kp_record_in){r.ts, {kb, (int32_t)kl}, KP_BYTES_NULL, NULL, 0};
                }
        }
        if (!g && !(g = sl_group_get_or_create(gc, rq->group_id))) {
                hb_fail(c, KP_ERR_UNKNOWN_SERVER_ERROR, NULL);
                return;
        }
        if (!g->cg && sl_cgroup_attach(g)) {
                hb_fail(c, KP_ERR_UNKNOWN_SERVER_ERROR, NULL);
                return;
        }
        sl_cgroup *cg = g->cg;
        kp_str gid = sl_gstr_view(&g->id);
        kp_str mid = rq->member_id.len > 0 ? rq->member_id : new_member_id(gc, c);
        if (!mid.p) {
                hb_fail(c, KP_ERR_UNKNOWN_SERVER_ERROR, NULL);
                return;
        }
        /* 1. the member */
        sl_cmember *m = NULL;
        bool fresh = false, dirty = false;
        sl_cmember *sm = sl_cmember_find_instance(cg, rq->instance_id);
        if (rq->instance_id.len >= 0 && !join) {
                if (!sm) {
                        hb_fail(c, KP_ERR_UNKNOWN_MEMBER_ID, "Instance id is unknown.");
                        return;
                }
                if (!sl_gstr_eq(&sm->id, mid)) {
                        hb_fail(c, KP_ERR_FENCED_INSTANCE_ID, NULL);
                        return;
                }
        }
        bool same_id = sm && sl_gstr_eq(&sm->id, mid);
        if (sm && join && (!same_id || sm->epoch == SL_CG_STATIC_LEAVE_EPOCH)) {
                if (sm->epoch != SL_CG_STATIC_LEAVE_EPOCH) {
                        hb_fail(c, KP_ERR_UNRELEASED_INSTANCE_ID,
                                "Instance id is owned by another member.");
                        return;
                }
                /* the instance is back under a new member id: it takes over
                 * the old member's assignment */
                if (!same_id) {
                        sl_crec_current(&r, gid, sm, true);
                        sl_crec_target(&r, gid, sm, true);
                        sl_crec_member(&r, gid, sm, true);
                        if (sl_gstr_set(&sm->id, mid)) {
                                hb_fail(c, KP_ERR_UNKNOWN_SERVER_ERROR, NULL);
                                return;
                        }
                        if (sm->target.n)
                                sl_crec_target(&r, gid, sm, false);
                }
                sm->epoch = sm->prev_epoch = 0;
                m = sm;
                dirty = true;
        } else {
                m = sl_cmember_find(cg, mid);
        }
        if (!m) {
                if (!join) {
                        hb_fail(c, KP_ERR_UNKNOWN_MEMBER_ID, NULL);
                        return;
                }
                int32_t max = gc->cfg.cg_max_size > 0 ? gc->cfg.cg_max_size : INT32_MAX;
                if (cg->nmembers >= max) {
                        hb_fail(c, KP_ERR_GROUP_MAX_SIZE_REACHED, NULL);
                        return;
                }
                if (!(m = sl_cmember_new(mid))) {
                        hb_fail(c, KP_ERR_UNKNOWN_SERVER_ERROR, NULL);
                        return;
                }
                m->next = cg->members;
                cg->members = m;
                cg->nmembers++;
                fresh = dirty = true;
        } else if (join && !dirty) {
                rejoin(m);
        } else if (!join) {
                int16_t err = epoch_check(m, rq);
                if (err) {
                        hb_fail(c, err, "The member epoch is not the coordinator's: rejoin.");
                        return;
                }
        }
        /* 2. its subscription; the group epoch moves with subscriptions and
         * the subscribed topics' metadata */
        bool bump = fresh, sub_changed = false, meta_changed = false;
        int oom = 0;
        if (rq->subscribed_topic_names_count >= 0)
                oom |= set_topics(m, rq, &sub_changed);
        kp_str rx = rq->subscribed_topic_regex;
        if (rx.len > 0 ? !sl_gstr_eq(&m->regex, rx) || m->regex.len < 0
                       : rx.len == 0 && m->regex.len >= 0) {
                regex_t *re = rx.len > 0 ? sl_cg_regex_compile(rx) : NULL;
                if (rx.len > 0 && !re)
                        oom = 1;
                sl_cmember_set_regex(m, re);
                oom |= sl_gstr_set(&m->regex, rx.len > 0 ? rx : KP_STR_NULL);
                sub_changed = true;
        }
        /* regex subscriptions follow topic creation and deletion */
        bool resolved = sl_cgroup_resolve(gc, cg);
        bump = bump || sub_changed || resolved;
        dirty = dirty || sub_changed;
        if (rq->rebalance_timeout_ms != -1 && rq->rebalance_timeout_ms != m->rebalance_timeout_ms) {
                m->rebalance_timeout_ms = rq->rebalance_timeout_ms;
                dirty = true;
        }
        oom |= upd(&m->instance_id, rq->instance_id, &dirty);
        oom |= upd(&m->rack_id, rq->rack_id, &dirty);
        oom |= upd(&m->assignor, rq->server_assignor, &dirty);
        oom |= upd(&m->client_id, c->client_id.len >= 0 ? c->client_id : kp_str_c(""), &dirty);
        oom |= upd(&m->client_host, c->client_host, &dirty);
        if (dirty)
                sl_crec_member(&r, gid, m, false);
        oom |= sl_cgroup_meta_refresh(gc, g, NULL, &r, &meta_changed);
        if (bump || meta_changed) {
                cg->epoch++;
                sl_crec_group_epoch(&r, gid, cg, false);
        }
        /* 3. a new target when the group epoch moved past it */
        if (cg->epoch > cg->assign_epoch)
                oom |= sl_cgroup_update_target(gc, g, &r);
        /* 4. the member towards its target */
        sl_ctpset before = {0};
        int32_t e0 = m->epoch, p0 = m->prev_epoch;
        int8_t s0 = m->state;
        sl_ctpset revoking0 = {0};
        oom |= sl_ctpset_copy(&before, &m->assigned) | sl_ctpset_copy(&revoking0, &m->revoking);
        if (!oom)
                oom |= sl_cmember_reconcile(cg, m, rq);
        bool assigned_changed = !sl_ctpset_eq(&before, &m->assigned);
        if (fresh || dirty || assigned_changed || e0 != m->epoch || p0 != m->prev_epoch ||
            s0 != m->state || !sl_ctpset_eq(&revoking0, &m->revoking))
                sl_crec_current(&r, gid, m, false);
        sl_ctpset_free(&before);
        sl_ctpset_free(&revoking0);
        int64_t now = sl_group_now(gc);
        if (m->state == SL_CMS_UNREVOKED) {
                if (s0 != SL_CMS_UNREVOKED || e0 != m->epoch || !m->rebalance_deadline_ms)
                        m->rebalance_deadline_ms =
                            now + (m->rebalance_timeout_ms > 0 ? m->rebalance_timeout_ms : 0);
                sl_group_arm(gc, m->rebalance_deadline_ms);
        } else {
                m->rebalance_deadline_ms = 0;
        }
        m->session_deadline_ms = now + session_ms(gc);
        sl_group_arm(gc, m->session_deadline_ms);
        sl_cgroup_sync_state(gc, g);
        if (oom)
                r.failed = true;
        bool full =
            join || (rq->rebalance_timeout_ms != -1 && rq->subscribed_topic_names_count >= 0 &&
                     rq->topic_partitions_count >= 0);
        hb_answer(c, m, hb_interval(gc), full || assigned_changed);
        hb_commit(gc, g, c, &r);
}
