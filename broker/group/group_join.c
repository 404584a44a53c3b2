/* broker/group/group_join.c — JoinGroup and the rebalance it drives (Kafka's
 * classic GroupCoordinator): member ids (MEMBER_ID_REQUIRED from v4, KIP-394),
 * static membership (group.instance.id, KIP-345: a rejoin with a known
 * instance id takes over its member, the old id is fenced), the
 * PreparingRebalance phase (ends when every member has rejoined, at the
 * largest rebalance timeout, or after group.initial.rebalance.delay.ms for a
 * group that was Empty), protocol selection by vote among the protocols every
 * member supports, and the JoinGroup answers (the leader gets every member's
 * metadata for the chosen protocol; the broker never reads assignments). */
#include "group_int.h"

#include <stdio.h>
#include <xxhash.h>

sl_member *sl_member_find(const sl_group *g, kp_str id)
{
        for (sl_member *m = g->members; m; m = m->next)
                if (sl_gstr_eq(&m->id, id))
                        return m;
        return NULL;
}

sl_member *sl_member_find_instance(const sl_group *g, kp_str instance_id)
{
        if (instance_id.len < 0)
                return NULL;
        for (sl_member *m = g->members; m; m = m->next)
                if (m->instance_id.len >= 0 && sl_gstr_eq(&m->instance_id, instance_id))
                        return m;
        return NULL;
}

static void protos_free(sl_member *m)
{
        for (int32_t i = 0; i < m->nprotos; i++) {
                sl_gstr_free(&m->protos[i].name);
                free(m->protos[i].meta);
        }
        free(m->protos);
        m->protos = NULL;
        m->nprotos = 0;
}

void sl_member_free(sl_member *m)
{
        protos_free(m);
        sl_gstr_free(&m->id);
        sl_gstr_free(&m->instance_id);
        sl_gstr_free(&m->client_id);
        sl_gstr_free(&m->client_host);
        free(m->assignment);
        free(m);
}

/* Replaces m's protocols with the request's. -1 when out of memory. */
static int protos_set(sl_member *m, const kp_join_group_request *rq)
{
        sl_gproto *p = calloc((size_t)rq->protocols_count, sizeof(*p));
        if (!p)
                return -1;
        for (int32_t i = 0; i < rq->protocols_count; i++) {
                p[i].name.len = -1;
                kp_bytes md = rq->protocols[i].metadata;
                if (sl_gstr_set(&p[i].name, rq->protocols[i].name))
                        goto fail;
                if (md.len > 0) {
                        p[i].meta = malloc((size_t)md.len);
                        if (!p[i].meta)
                                goto fail;
                        memcpy(p[i].meta, md.p, (size_t)md.len);
                        p[i].meta_len = md.len;
                }
        }
        protos_free(m);
        m->protos = p;
        m->nprotos = rq->protocols_count;
        return 0;
fail:
        for (int32_t i = 0; i < rq->protocols_count; i++) {
                sl_gstr_free(&p[i].name);
                free(p[i].meta);
        }
        free(p);
        return -1;
}

static bool protos_same(const sl_member *m, const kp_join_group_request *rq)
{
        if (m->nprotos != rq->protocols_count)
                return false;
        for (int32_t i = 0; i < m->nprotos; i++) {
                kp_bytes md = rq->protocols[i].metadata;
                int32_t ml = md.len > 0 ? md.len : 0;
                if (!sl_gstr_eq(&m->protos[i].name, rq->protocols[i].name) ||
                    m->protos[i].meta_len != ml ||
                    (ml && memcmp(m->protos[i].meta, md.p, (size_t)ml) != 0))
                        return false;
        }
        return true;
}

static bool member_supports(const sl_member *m, kp_str name)
{
        for (int32_t i = 0; i < m->nprotos; i++)
                if (sl_gstr_eq(&m->protos[i].name, name))
                        return true;
        return false;
}

/* Kafka's supportsProtocols: the type matches and some protocol of the
 * request is supported by every other member. */
static bool compatible(const sl_group *g, const sl_member *self, const kp_join_group_request *rq)
{
        int32_t others = g->nmembers - (self ? 1 : 0);
        if (others <= 0)
                return true;
        if (!sl_gstr_eq(&g->protocol_type, rq->protocol_type))
                return false;
        for (int32_t i = 0; i < rq->protocols_count; i++) {
                int32_t n = 0;
                for (sl_member *m = g->members; m; m = m->next)
                        if (m != self && member_supports(m, rq->protocols[i].name))
                                n++;
                if (n == others)
                        return true;
        }
        return false;
}

void sl_group_heartbeat_member(sl_group_coord *gc, sl_member *m)
{
        m->deadline_ms = sl_group_now(gc) + m->session_timeout_ms;
        sl_group_arm(gc, m->deadline_ms);
}

static int new_member_id(sl_group_coord *gc, kp_str prefix, sl_gstr *out)
{
        static _Thread_local uint64_t counter; /* per shard: no sharing */
        char buf[SL_GROUP_ID_MAX + 64];
        uint64_t r = XXH3_64bits_withSeed(&counter, sizeof(counter),
                                          (uint64_t)sl_group_wall(gc) ^ (uintptr_t)gc);
        counter++;
        int plen =
            prefix.len > 0 ? (prefix.len > SL_GROUP_ID_MAX ? SL_GROUP_ID_MAX : prefix.len) : 0;
        int n = snprintf(buf, sizeof(buf), "%.*s-%08x-%04x-%04x-%012llx", plen,
                         plen ? prefix.p : "", (unsigned)(r >> 32), (unsigned)(r >> 16) & 0xffff,
                         (unsigned)r & 0xffff, (unsigned long long)(counter & 0xffffffffffffULL));
        return sl_gstr_set(out, (kp_str){buf, n});
}

/* Fills a JoinGroup answer for m in g's current generation. */
static void join_answer(sl_group_coord *gc, sl_group *g, sl_member *m, sl_group_call *c)
{
        kp_join_group_response *rs = c->rs;
        (void)gc;
        rs->error_code = 0;
        rs->generation_id = g->generation;
        rs->protocol_type = sl_group_call_str(c, sl_gstr_view(&g->protocol_type));
        rs->protocol_name = sl_group_call_str(c, sl_gstr_view(&g->protocol));
        rs->leader = sl_group_call_str(c, sl_gstr_view(&g->leader));
        rs->member_id = sl_group_call_str(c, sl_gstr_view(&m->id));
        rs->members_count = 0;
        if (!sl_gstr_eq(&g->leader, sl_gstr_view(&m->id)) || !g->nmembers)
                return;
        rs->members = kp_arena_alloc(&c->arena, (size_t)g->nmembers, sizeof(*rs->members));
        if (!rs->members) {
                rs->error_code = KP_ERR_UNKNOWN_SERVER_ERROR;
                return;
        }
        int32_t i = 0;
        for (sl_member *x = g->members; x; x = x->next) {
                kp_join_group_response_join_group_response_member *jm = &rs->members[i++];
                kp_join_group_response_join_group_response_member_init(jm);
                jm->member_id = sl_group_call_str(c, sl_gstr_view(&x->id));
                jm->group_instance_id = sl_group_call_str(c, sl_gstr_view(&x->instance_id));
                jm->metadata = (kp_bytes){(const uint8_t *)"", 0};
                for (int32_t k = 0; k < x->nprotos; k++)
                        if (sl_gstr_eq(&x->protos[k].name, sl_gstr_view(&g->protocol)))
                                jm->metadata = sl_group_call_bytes(c, x->protos[k].meta,
                                                                   x->protos[k].meta_len);
        }
        rs->members_count = i;
}

static void join_fail(sl_group_call *c, int16_t err)
{
        kp_join_group_response *rs = c->rs;
        rs->error_code = err;
        rs->generation_id = -1;
        rs->protocol_name = c->version >= 7 ? KP_STR_NULL : (kp_str){"", 0};
        rs->leader = (kp_str){"", 0};
        rs->members_count = 0;
        sl_group_call_finish(c);
}

void sl_group_fail_syncs(sl_group *g, int16_t err)
{
        for (sl_member *m = g->members; m; m = m->next) {
                if (m->sync_call) {
                        sl_group_call *c = m->sync_call;
                        m->sync_call = NULL;
                        ((kp_sync_group_response *)c->rs)->error_code = err;
                        sl_group_call_finish(c);
                }
        }
}

static int32_t max_rebalance_timeout(const sl_group *g)
{
        int32_t t = 0;
        for (sl_member *m = g->members; m; m = m->next)
                if (m->rebalance_timeout_ms > t)
                        t = m->rebalance_timeout_ms;
        return t;
}

void sl_group_prepare_rebalance(sl_group_coord *gc, sl_group *g)
{
        int64_t now = sl_group_now(gc);
        if (g->state == SL_GS_COMPLETING) {
                sl_group_fail_syncs(g, KP_ERR_REBALANCE_IN_PROGRESS);
                g->sync_deadline_ms = 0;
        }
        for (sl_member *m = g->members; m; m = m->next) {
                free(m->assignment);
                m->assignment = NULL;
                m->assignment_len = 0;
        }
        if (g->state == SL_GS_EMPTY && gc->cfg.initial_rebalance_delay_ms > 0) {
                /* KIP-134: let more members arrive before the first generation */
                int64_t delay = gc->cfg.initial_rebalance_delay_ms;
                int64_t cap = now + max_rebalance_timeout(g);
                g->initial_deadline_ms = cap > now + delay ? cap : now + delay;
                g->join_deadline_ms = now + delay;
        } else {
                g->initial_deadline_ms = 0;
                g->join_deadline_ms = now + max_rebalance_timeout(g);
        }
        sl_group_set_state(gc, g, SL_GS_PREPARING);
        sl_group_arm(gc, g->join_deadline_ms);
}

static bool all_joined(const sl_group *g)
{
        if (g->pending)
                return false;
        for (sl_member *m = g->members; m; m = m->next)
                if (!m->join_call)
                        return false;
        return true;
}

void sl_group_try_complete_join(sl_group_coord *gc, sl_group *g)
{
        if (g->state == SL_GS_PREPARING && !g->initial_deadline_ms && all_joined(g))
                sl_group_complete_join(gc, g);
}

/* Each member votes for its most preferred protocol that all support. */
static kp_str select_protocol(const sl_group *g)
{
        const sl_member *first = g->members;
        int32_t best_votes = -1;
        kp_str best = KP_STR_NULL;
        for (int32_t i = 0; i < first->nprotos; i++) {
                kp_str cand = sl_gstr_view(&first->protos[i].name);
                bool all = true;
                for (sl_member *m = g->members; m && all; m = m->next)
                        all = member_supports(m, cand);
                if (!all)
                        continue;
                int32_t votes = 0;
                for (sl_member *m = g->members; m; m = m->next) {
                        for (int32_t k = 0; k < m->nprotos; k++) {
                                kp_str p = sl_gstr_view(&m->protos[k].name);
                                bool ok = true;
                                for (sl_member *o = g->members; o && ok; o = o->next)
                                        ok = member_supports(o, p);
                                if (ok) {
                                        if (kp_str_eq(p, cand))
                                                votes++;
                                        break;
                                }
                        }
                }
                if (votes > best_votes) {
                        best_votes = votes;
                        best = cand;
                }
        }
        return best;
}

static void unlink_member(sl_group *g, sl_member *m)
{
        for (sl_member **pp = &g->members; *pp; pp = &(*pp)->next) {
                if (*pp == m) {
                        *pp = m->next;
                        g->nmembers--;
                        break;
                }
        }
        if (g->leader.len >= 0 && sl_gstr_eq(&g->leader, sl_gstr_view(&m->id)))
                sl_gstr_free(&g->leader);
}

void sl_group_complete_join(sl_group_coord *gc, sl_group *g)
{
        /* members that did not rejoin in time leave the group */
        for (sl_member *m = g->members, *nx; m; m = nx) {
                nx = m->next;
                if (!m->join_call) {
                        unlink_member(g, m);
                        if (m->sync_call) {
                                ((kp_sync_group_response *)m->sync_call->rs)->error_code =
                                    KP_ERR_UNKNOWN_MEMBER_ID;
                                sl_group_call_finish(m->sync_call);
                        }
                        sl_member_free(m);
                }
        }
        while (g->pending) {
                sl_pending_id *p = g->pending;
                g->pending = p->next;
                sl_gstr_free(&p->id);
                free(p);
        }
        g->join_deadline_ms = 0;
        g->initial_deadline_ms = 0;
        g->generation++;
        if (!g->nmembers) {
                sl_gstr_free(&g->protocol);
                sl_gstr_free(&g->leader);
                sl_group_set_state(gc, g, SL_GS_EMPTY);
                sl_group_store(gc, g, NULL);
                return;
        }
        kp_str proto = select_protocol(g);
        if (sl_gstr_set(&g->protocol, proto) ||
            (g->leader.len < 0 && sl_gstr_set(&g->leader, sl_gstr_view(&g->members->id)))) {
                /* out of memory: everyone retries */
                for (sl_member *m = g->members; m; m = m->next) {
                        sl_group_call *c = m->join_call;
                        m->join_call = NULL;
                        join_fail(c, KP_ERR_UNKNOWN_SERVER_ERROR);
                }
                return;
        }
        sl_group_set_state(gc, g, SL_GS_COMPLETING);
        g->sync_deadline_ms = sl_group_now(gc) + max_rebalance_timeout(g);
        sl_group_arm(gc, g->sync_deadline_ms);
        for (sl_member *m = g->members; m; m = m->next) {
                sl_group_call *c = m->join_call;
                m->join_call = NULL;
                m->is_new = false;
                sl_group_heartbeat_member(gc, m);
                join_answer(gc, g, m, c);
                sl_group_call_finish(c);
        }
}

void sl_group_remove_member(sl_group_coord *gc, sl_group *g, sl_member *m, int16_t err)
{
        unlink_member(g, m);
        if (m->join_call)
                join_fail(m->join_call, err);
        if (m->sync_call) {
                ((kp_sync_group_response *)m->sync_call->rs)->error_code = err;
                sl_group_call_finish(m->sync_call);
        }
        sl_member_free(m);
        if (g->state == SL_GS_STABLE || g->state == SL_GS_COMPLETING)
                sl_group_prepare_rebalance(gc, g);
        sl_group_try_complete_join(gc, g);
}

static sl_member *member_add(sl_group_coord *gc, sl_group *g, const sl_group_call *c,
                             const kp_join_group_request *rq, kp_str id, int32_t rto)
{
        sl_member *m = calloc(1, sizeof(*m));
        if (!m)
                return NULL;
        m->id.len = m->instance_id.len = m->client_id.len = m->client_host.len = -1;
        if (sl_gstr_set(&m->id, id) ||
            sl_gstr_set(&m->instance_id, c->version >= 5 ? rq->group_instance_id : KP_STR_NULL) ||
            sl_gstr_set(&m->client_id, c->client_id.len >= 0 ? c->client_id : kp_str_c("")) ||
            sl_gstr_set(&m->client_host, c->client_host.len >= 0 ? c->client_host : kp_str_c("")) ||
            protos_set(m, rq)) {
                sl_member_free(m);
                return NULL;
        }
        m->session_timeout_ms = rq->session_timeout_ms;
        m->rebalance_timeout_ms = rto;
        m->is_new = true;
        if (!g->nmembers && sl_gstr_set(&g->protocol_type, rq->protocol_type)) {
                sl_member_free(m);
                return NULL;
        }
        m->next = NULL;
        sl_member **tail = &g->members;
        while (*tail)
                tail = &(*tail)->next;
        *tail = m;
        g->nmembers++;
        sl_group_heartbeat_member(gc, m);
        return m;
}

/* Kafka's acceptJoiningMember. Only members that really joined count, never
 * the ids handed out with MEMBER_ID_REQUIRED: in PreparingRebalance the
 * members that have (re)joined so far (a lowered group.max.size then turns
 * away the last to rejoin), in CompletingRebalance/Stable the members. m is
 * the joining member if known; a static instance rejoining without its
 * member id is passed as m too, as it replaces its member rather than grows
 * the group (Kafka counts it as new there and may refuse it). */
static bool accept_joining(const sl_group_coord *gc, const sl_group *g, const sl_member *m)
{
        switch (g->state) {
        case SL_GS_PREPARING: {
                if (m && m->join_call)
                        return true;
                int32_t awaiting = 0;
                for (const sl_member *x = g->members; x; x = x->next)
                        if (x->join_call)
                                awaiting++;
                return awaiting < gc->cfg.max_size;
        }
        case SL_GS_COMPLETING:
        case SL_GS_STABLE:
                return m || g->nmembers < gc->cfg.max_size;
        default: /* Empty */
                return true;
        }
}

/* A join refused by accept_joining: the member or pending id it names leaves
 * the group (Kafka's group.remove), which may let the rebalance complete. */
static void refuse_joining(sl_group_coord *gc, sl_group *g, sl_member *m, sl_group_call *c)
{
        const kp_join_group_request *rq = c->rq;
        if (m) {
                sl_group_remove_member(gc, g, m, KP_ERR_UNKNOWN_MEMBER_ID);
        } else if (rq->member_id.len > 0) {
                for (sl_pending_id **pp = &g->pending; *pp; pp = &(*pp)->next) {
                        sl_pending_id *p = *pp;
                        if (sl_gstr_eq(&p->id, rq->member_id)) {
                                *pp = p->next;
                                sl_gstr_free(&p->id);
                                free(p);
                                sl_group_try_complete_join(gc, g);
                                break;
                        }
                }
        }
        ((kp_join_group_response *)c->rs)->member_id = (kp_str){"", 0};
        join_fail(c, KP_ERR_GROUP_MAX_SIZE_REACHED);
}

/* Parks c on m and moves the rebalance along. */
static void park_join(sl_group_coord *gc, sl_group *g, sl_member *m, sl_group_call *c)
{
        if (m->join_call && m->join_call != c)
                join_fail(m->join_call, KP_ERR_REBALANCE_IN_PROGRESS);
        m->join_call = c;
        c->grp = g;
        if (g->state != SL_GS_PREPARING) {
                sl_group_prepare_rebalance(gc, g);
        } else if (g->initial_deadline_ms && m->is_new) {
                /* a newcomer during the initial delay: wait a little longer */
                int64_t d = sl_group_now(gc) + gc->cfg.initial_rebalance_delay_ms;
                g->join_deadline_ms = d < g->initial_deadline_ms ? d : g->initial_deadline_ms;
                sl_group_arm(gc, g->join_deadline_ms);
        }
        sl_group_try_complete_join(gc, g);
}

/* A static member's new member id waiting for its record (Kafka's
 * updateStaticMemberThenRebalanceOrCompleteJoin in Stable): on failure the
 * old id and timeouts come back and the rejoin gets the append's error. */
typedef struct static_undo {
        sl_group_call *c;
        sl_group *g;
        kp_str old_id, new_id, instance_id; /* copies in c's arena */
        int32_t session_timeout_ms, rebalance_timeout_ms;
} static_undo;

/* Kafka's appendGroupMetadataErrorToResponseError for our log's errors. */
static int16_t store_error(int16_t err)
{
        return err == KP_ERR_INVALID_COMMIT_OFFSET_SIZE ? KP_ERR_UNKNOWN_SERVER_ERROR : err;
}

static void static_finish(sl_group_coord *gc, const static_undo *u, int16_t err)
{
        sl_member *m = u->g->dead ? NULL : sl_member_find_instance(u->g, u->instance_id);
        bool ours = m && sl_gstr_eq(&m->id, u->new_id);
        if (err && ours) {
                sl_gstr nid = m->id;
                m->id = (sl_gstr){NULL, -1};
                if (sl_gstr_set(&m->id, u->old_id)) {
                        m->id = nid; /* out of memory: the new id stays */
                } else {
                        sl_gstr_free(&nid);
                        m->session_timeout_ms = u->session_timeout_ms;
                        m->rebalance_timeout_ms = u->rebalance_timeout_ms;
                }
        }
        if (err)
                join_fail(u->c, store_error(err));
        else if (!ours) /* fenced again, or gone, while the record was written */
                join_fail(u->c, u->g->dead ? KP_ERR_COORDINATOR_NOT_AVAILABLE
                                           : KP_ERR_FENCED_INSTANCE_ID);
        else {
                join_answer(gc, u->g, m, u->c);
                sl_group_call_finish(u->c);
        }
}

static void static_stored(sl_group_persist *p, int16_t err)
{
        static_undo *u = p->arg;
        sl_group *g = u->g;
        static_finish(g->gc, u, err);
        sl_group_unref(g);
}

static void static_store(sl_group_coord *gc, sl_group *g, sl_group_call *c, const static_undo *undo)
{
        static_undo *u = kp_arena_alloc(&c->arena, 1, sizeof(*u));
        if (!u || undo->old_id.len <= 0 || undo->new_id.len <= 0) {
                /* out of memory: the client rejoins (and is replaced again) */
                join_fail(c, KP_ERR_UNKNOWN_SERVER_ERROR);
                return;
        }
        *u = *undo;
        c->persist.cb = static_stored;
        c->persist.arg = u;
        int16_t err = sl_group_store(gc, g, &c->persist);
        if (err)
                static_finish(gc, u, err);
}

static void join_static_known(sl_group_coord *gc, sl_group *g, sl_member *old, sl_group_call *c,
                              const kp_join_group_request *rq, int32_t rto)
{
        sl_gstr nid = {NULL, -1};
        if (new_member_id(gc, rq->group_instance_id, &nid)) {
                join_fail(c, KP_ERR_UNKNOWN_SERVER_ERROR);
                return;
        }
        bool was_leader = sl_gstr_eq(&g->leader, sl_gstr_view(&old->id));
        if (old->join_call) {
                join_fail(old->join_call, KP_ERR_FENCED_INSTANCE_ID);
                old->join_call = NULL;
        }
        if (old->sync_call) {
                ((kp_sync_group_response *)old->sync_call->rs)->error_code =
                    KP_ERR_FENCED_INSTANCE_ID;
                sl_group_call_finish(old->sync_call);
                old->sync_call = NULL;
        }
        bool same = protos_same(old, rq);
        static_undo undo = {c,
                            g,
                            sl_group_call_str(c, sl_gstr_view(&old->id)),
                            sl_group_call_str(c, sl_gstr_view(&nid)),
                            sl_group_call_str(c, rq->group_instance_id),
                            old->session_timeout_ms,
                            old->rebalance_timeout_ms};
        sl_gstr_free(&old->id);
        old->id = nid;
        if (was_leader)
                sl_gstr_set(&g->leader, sl_gstr_view(&nid));
        old->session_timeout_ms = rq->session_timeout_ms;
        old->rebalance_timeout_ms = rto;
        sl_group_heartbeat_member(gc, old);
        if (g->state == SL_GS_STABLE && same && !was_leader) {
                /* KIP-345: a restarted static member gets its old assignment,
                 * once the new member id is durable */
                static_store(gc, g, c, &undo);
                return;
        }
        if (!same && protos_set(old, rq)) {
                join_fail(c, KP_ERR_UNKNOWN_SERVER_ERROR);
                return;
        }
        park_join(gc, g, old, c);
}

void sl_group_join(sl_group_coord *gc, sl_group_call *c)
{
        const kp_join_group_request *rq = c->rq;
        kp_join_group_response *rs = c->rs;
        rs->member_id = rq->member_id;
        int16_t err = sl_group_id_check(rq->group_id);
        if (!err && (rq->session_timeout_ms < gc->cfg.min_session_timeout_ms ||
                     rq->session_timeout_ms > gc->cfg.max_session_timeout_ms))
                err = KP_ERR_INVALID_SESSION_TIMEOUT;
        if (!err && (rq->protocol_type.len <= 0 || rq->protocols_count <= 0))
                err = KP_ERR_INCONSISTENT_GROUP_PROTOCOL;
        int64_t meta = 0;
        for (int32_t i = 0; !err && i < rq->protocols_count; i++) {
                if (rq->protocols[i].name.len <= 0)
                        err = KP_ERR_INCONSISTENT_GROUP_PROTOCOL;
                meta += rq->protocols[i].metadata.len > 0 ? rq->protocols[i].metadata.len : 0;
        }
        if (!err && meta > SL_GROUP_MEMBER_META_MAX)
                err = KP_ERR_INVALID_REQUEST;
        if (err) {
                join_fail(c, err);
                return;
        }
        int32_t rto = c->version >= 1 && rq->rebalance_timeout_ms > 0 ? rq->rebalance_timeout_ms
                                                                      : rq->session_timeout_ms;
        kp_str inst = c->version >= 5 ? rq->group_instance_id : KP_STR_NULL;
        sl_group *g = sl_group_find(gc, rq->group_id);
        if (g && g->cg) {
                /* KIP-848 consumer group: an Empty one turns classic, a live one
                 * has no room for classic members */
                err = sl_cgroup_detach(gc, g);
                if (err) {
                        join_fail(c, err);
                        return;
                }
        }
        if (!g && rq->member_id.len > 0) {
                join_fail(c, KP_ERR_UNKNOWN_MEMBER_ID);
                return;
        }
        if (!g)
                g = sl_group_get_or_create(gc, rq->group_id);
        if (!g) {
                join_fail(c, KP_ERR_UNKNOWN_SERVER_ERROR);
                return;
        }
        sl_member *m = rq->member_id.len > 0 ? sl_member_find(g, rq->member_id) : NULL;
        sl_member *si = sl_member_find_instance(g, inst);
        if (!accept_joining(gc, g, m ? m : rq->member_id.len <= 0 ? si : NULL)) {
                refuse_joining(gc, g, m, c);
                return;
        }
        if (!compatible(g, m ? m : si, rq)) {
                join_fail(c, KP_ERR_INCONSISTENT_GROUP_PROTOCOL);
                return;
        }
        if (rq->member_id.len <= 0) {
                if (si) {
                        join_static_known(gc, g, si, c, rq, rto);
                        return;
                }
                sl_gstr nid = {NULL, -1};
                if (new_member_id(gc, inst.len >= 0 ? inst : c->client_id, &nid)) {
                        join_fail(c, KP_ERR_UNKNOWN_SERVER_ERROR);
                        return;
                }
                if (c->version >= 4 && inst.len < 0) {
                        /* KIP-394: the client must come back with this id */
                        sl_pending_id *p = calloc(1, sizeof(*p));
                        if (!p) {
                                sl_gstr_free(&nid);
                                join_fail(c, KP_ERR_UNKNOWN_SERVER_ERROR);
                                return;
                        }
                        p->id = nid;
                        p->deadline_ms = sl_group_now(gc) + rq->session_timeout_ms;
                        p->next = g->pending;
                        g->pending = p;
                        sl_group_arm(gc, p->deadline_ms);
                        join_fail(c, KP_ERR_MEMBER_ID_REQUIRED);
                        rs->member_id = sl_group_call_str(c, sl_gstr_view(&nid));
                        return;
                }
                m = member_add(gc, g, c, rq, sl_gstr_view(&nid), rto);
                sl_gstr_free(&nid);
                if (!m) {
                        join_fail(c, KP_ERR_UNKNOWN_SERVER_ERROR);
                        return;
                }
                park_join(gc, g, m, c);
                return;
        }
        if (!m) {
                for (sl_pending_id **pp = &g->pending; *pp; pp = &(*pp)->next) {
                        sl_pending_id *p = *pp;
                        if (!sl_gstr_eq(&p->id, rq->member_id))
                                continue;
                        m = member_add(gc, g, c, rq, rq->member_id, rto);
                        if (!m) {
                                join_fail(c, KP_ERR_UNKNOWN_SERVER_ERROR);
                                return;
                        }
                        *pp = p->next;
                        sl_gstr_free(&p->id);
                        free(p);
                        park_join(gc, g, m, c);
                        return;
                }
                join_fail(c, si ? KP_ERR_FENCED_INSTANCE_ID : KP_ERR_UNKNOWN_MEMBER_ID);
                return;
        }
        if (inst.len >= 0 && (m->instance_id.len < 0 || !sl_gstr_eq(&m->instance_id, inst))) {
                join_fail(c, KP_ERR_FENCED_INSTANCE_ID);
                return;
        }
        bool same = protos_same(m, rq);
        m->session_timeout_ms = rq->session_timeout_ms;
        m->rebalance_timeout_ms = rto;
        sl_group_heartbeat_member(gc, m);
        switch (g->state) {
        case SL_GS_PREPARING:
                if (!same && protos_set(m, rq)) {
                        join_fail(c, KP_ERR_UNKNOWN_SERVER_ERROR);
                        return;
                }
                park_join(gc, g, m, c);
                return;
        case SL_GS_COMPLETING:
        case SL_GS_STABLE:
                if (same && (g->state == SL_GS_COMPLETING ||
                             !sl_gstr_eq(&g->leader, sl_gstr_view(&m->id)))) {
                        /* the member missed our answer: repeat it */
                        join_answer(gc, g, m, c);
                        sl_group_call_finish(c);
                        return;
                }
                if (!same && protos_set(m, rq)) {
                        join_fail(c, KP_ERR_UNKNOWN_SERVER_ERROR);
                        return;
                }
                park_join(gc, g, m, c);
                return;
        default:
                join_fail(c, KP_ERR_UNKNOWN_MEMBER_ID);
                return;
        }
}

int64_t sl_group_expire(sl_group_coord *gc, sl_group *g, int64_t now)
{
        for (sl_pending_id **pp = &g->pending; *pp;) {
                sl_pending_id *p = *pp;
                if (p->deadline_ms <= now) {
                        *pp = p->next;
                        sl_gstr_free(&p->id);
                        free(p);
                } else {
                        pp = &p->next;
                }
        }
        if (g->state == SL_GS_PREPARING && g->join_deadline_ms && g->join_deadline_ms <= now)
                sl_group_complete_join(gc, g);
        if (g->state == SL_GS_COMPLETING && g->sync_deadline_ms && g->sync_deadline_ms <= now) {
                /* the leader never sent its assignment: members that did not
                 * sync leave, the rest rebalance again */
                g->sync_deadline_ms = 0;
                for (sl_member *m = g->members, *nx; m; m = nx) {
                        nx = m->next;
                        if (!m->sync_call) {
                                unlink_member(g, m);
                                sl_member_free(m);
                        }
                }
                sl_group_prepare_rebalance(gc, g);
                sl_group_try_complete_join(gc, g);
        }
        bool again = true;
        while (again) {
                again = false;
                for (sl_member *m = g->members; m; m = m->next) {
                        if (!m->join_call && m->deadline_ms <= now) {
                                sl_group_remove_member(gc, g, m, KP_ERR_UNKNOWN_MEMBER_ID);
                                again = true;
                                break;
                        }
                }
        }
        int64_t next = INT64_MAX;
        for (sl_pending_id *p = g->pending; p; p = p->next)
                if (p->deadline_ms < next)
                        next = p->deadline_ms;
        for (sl_member *m = g->members; m; m = m->next)
                if (!m->join_call && m->deadline_ms < next)
                        next = m->deadline_ms;
        if (g->state == SL_GS_PREPARING && g->join_deadline_ms && g->join_deadline_ms < next)
                next = g->join_deadline_ms;
        if (g->state == SL_GS_COMPLETING && g->sync_deadline_ms && g->sync_deadline_ms < next)
                next = g->sync_deadline_ms;
        return next;
}
