/* broker/group/group_sync.c — SyncGroup, Heartbeat and LeaveGroup.
 *
 * SyncGroup: in CompletingRebalance every member parks its SyncGroup; the
 * leader's carries the assignments, which are written to __consumer_offsets
 * as the group's metadata record and, once durable, the group turns Stable
 * and every parked SyncGroup gets its member's assignment (Kafka answers only
 * after the append too, so a restarted coordinator knows the generation).
 * Heartbeat refreshes the session and tells members about a rebalance
 * (REBALANCE_IN_PROGRESS). LeaveGroup (v3+: a batch, KIP-345) removes members
 * at once instead of waiting for their sessions to expire. */
#include "group_int.h"

/* Fenced static member: the instance id belongs to a different member id. */
static bool fenced(const sl_group *g, kp_str member_id, kp_str instance_id)
{
        if (instance_id.len < 0)
                return false;
        const sl_member *si = sl_member_find_instance(g, instance_id);
        return si && !sl_gstr_eq(&si->id, member_id);
}

static void sync_answer(sl_group *g, sl_member *m, sl_group_call *c)
{
        kp_sync_group_response *rs = c->rs;
        rs->error_code = 0;
        if (c->version >= 5) {
                rs->protocol_type = sl_group_call_str(c, sl_gstr_view(&g->protocol_type));
                rs->protocol_name = sl_group_call_str(c, sl_gstr_view(&g->protocol));
        }
        rs->assignment = sl_group_call_bytes(c, m->assignment, m->assignment_len);
        sl_group_call_finish(c);
}

static void sync_stored(sl_group_persist *p, int16_t err)
{
        sl_group *g = p->arg;
        g->sync_persisting = false;
        if (!g->dead && g->state == SL_GS_COMPLETING && g->generation == g->gm_generation) {
                sl_group_coord *gc = g->gc;
                if (err) {
                        /* Kafka: the store failed, the members must rejoin */
                        sl_group_fail_syncs(g, KP_ERR_COORDINATOR_NOT_AVAILABLE);
                        sl_group_prepare_rebalance(gc, g);
                } else {
                        g->sync_deadline_ms = 0;
                        sl_group_set_state(gc, g, SL_GS_STABLE);
                        for (sl_member *m = g->members; m; m = m->next) {
                                sl_group_call *c = m->sync_call;
                                if (c) {
                                        m->sync_call = NULL;
                                        sync_answer(g, m, c);
                                }
                        }
                }
        }
        sl_group_unref(g);
}

static int set_assignments(sl_group *g, const kp_sync_group_request *rq)
{
        for (sl_member *m = g->members; m; m = m->next) {
                free(m->assignment);
                m->assignment = NULL;
                m->assignment_len = 0;
                for (int32_t i = 0; i < rq->assignments_count; i++) {
                        const kp_bytes a = rq->assignments[i].assignment;
                        if (!sl_gstr_eq(&m->id, rq->assignments[i].member_id) || a.len <= 0)
                                continue;
                        m->assignment = malloc((size_t)a.len);
                        if (!m->assignment)
                                return -1;
                        memcpy(m->assignment, a.p, (size_t)a.len);
                        m->assignment_len = a.len;
                        break;
                }
        }
        return 0;
}

void sl_group_sync(sl_group_coord *gc, sl_group_call *c)
{
        const kp_sync_group_request *rq = c->rq;
        kp_sync_group_response *rs = c->rs;
        kp_str inst = c->version >= 3 ? rq->group_instance_id : KP_STR_NULL;
        rs->assignment = (kp_bytes){(const uint8_t *)"", 0};
        int16_t err = sl_group_id_check(rq->group_id);
        sl_group *g = err ? NULL : sl_group_find(gc, rq->group_id);
        sl_member *m = g ? sl_member_find(g, rq->member_id) : NULL;
        if (!err && g && fenced(g, rq->member_id, inst))
                err = KP_ERR_FENCED_INSTANCE_ID;
        else if (!err && !m)
                err = KP_ERR_UNKNOWN_MEMBER_ID;
        else if (!err && rq->generation_id != g->generation)
                err = KP_ERR_ILLEGAL_GENERATION;
        else if (!err && c->version >= 5 &&
                 ((rq->protocol_type.len >= 0 &&
                   !sl_gstr_eq(&g->protocol_type, rq->protocol_type)) ||
                  (rq->protocol_name.len >= 0 && !sl_gstr_eq(&g->protocol, rq->protocol_name))))
                err = KP_ERR_INCONSISTENT_GROUP_PROTOCOL;
        else if (!err && g->state == SL_GS_EMPTY)
                err = KP_ERR_UNKNOWN_MEMBER_ID;
        else if (!err && g->state == SL_GS_PREPARING)
                err = KP_ERR_REBALANCE_IN_PROGRESS;
        if (err) {
                rs->error_code = err;
                sl_group_call_finish(c);
                return;
        }
        sl_group_heartbeat_member(gc, m);
        if (g->state == SL_GS_STABLE) {
                sync_answer(g, m, c);
                return;
        }
        /* CompletingRebalance */
        if (m->sync_call) {
                ((kp_sync_group_response *)m->sync_call->rs)->error_code =
                    KP_ERR_REBALANCE_IN_PROGRESS;
                sl_group_call_finish(m->sync_call);
        }
        m->sync_call = c;
        c->grp = g;
        if (!sl_gstr_eq(&g->leader, sl_gstr_view(&m->id)) || g->sync_persisting)
                return;
        if (set_assignments(g, rq)) {
                m->sync_call = NULL;
                rs->error_code = KP_ERR_UNKNOWN_SERVER_ERROR;
                sl_group_call_finish(c);
                return;
        }
        g->gm_generation = g->generation;
        g->sync_persist.cb = sync_stored;
        g->sync_persist.arg = g;
        g->sync_persisting = true; /* before: the callback may run inside */
        err = sl_group_store(gc, g, &g->sync_persist);
        if (err) {
                /* Kafka's storeGroup answers a record over the offsets topic's
                 * size limit UNKNOWN_SERVER_ERROR (INVALID_COMMIT_OFFSET_SIZE
                 * is OffsetCommit's answer); the members rejoin */
                g->sync_persisting = false;
                sl_group_fail_syncs(g, err == KP_ERR_INVALID_COMMIT_OFFSET_SIZE
                                           ? KP_ERR_UNKNOWN_SERVER_ERROR
                                           : err);
                sl_group_prepare_rebalance(gc, g);
        }
}

void sl_group_heartbeat(sl_group_coord *gc, sl_group_call *c)
{
        const kp_heartbeat_request *rq = c->rq;
        kp_heartbeat_response *rs = c->rs;
        kp_str inst = c->version >= 3 ? rq->group_instance_id : KP_STR_NULL;
        int16_t err = sl_group_id_check(rq->group_id);
        sl_group *g = err ? NULL : sl_group_find(gc, rq->group_id);
        sl_member *m = g ? sl_member_find(g, rq->member_id) : NULL;
        if (!err && g && fenced(g, rq->member_id, inst))
                err = KP_ERR_FENCED_INSTANCE_ID;
        else if (!err && (!m || g->state == SL_GS_EMPTY))
                err = KP_ERR_UNKNOWN_MEMBER_ID;
        else if (!err && rq->generation_id != g->generation)
                err = KP_ERR_ILLEGAL_GENERATION;
        if (!err) {
                sl_group_heartbeat_member(gc, m);
                if (g->state == SL_GS_PREPARING)
                        err = KP_ERR_REBALANCE_IN_PROGRESS;
        }
        rs->error_code = err;
        sl_group_call_finish(c);
}

/* Removes one member named by (member_id, instance_id); Kafka's rules. */
static int16_t leave_one(sl_group_coord *gc, sl_group *g, kp_str member_id, kp_str inst)
{
        sl_member *m;
        if (inst.len >= 0) {
                m = sl_member_find_instance(g, inst);
                if (!m)
                        return KP_ERR_UNKNOWN_MEMBER_ID;
                if (member_id.len > 0 && !sl_gstr_eq(&m->id, member_id))
                        return KP_ERR_FENCED_INSTANCE_ID;
        } else {
                m = sl_member_find(g, member_id);
                if (!m) {
                        for (sl_pending_id **pp = &g->pending; *pp; pp = &(*pp)->next) {
                                sl_pending_id *p = *pp;
                                if (sl_gstr_eq(&p->id, member_id)) {
                                        *pp = p->next;
                                        sl_gstr_free(&p->id);
                                        free(p);
                                        sl_group_try_complete_join(gc, g);
                                        return 0;
                                }
                        }
                        return KP_ERR_UNKNOWN_MEMBER_ID;
                }
        }
        sl_group_remove_member(gc, g, m, KP_ERR_UNKNOWN_MEMBER_ID);
        return 0;
}

void sl_group_leave(sl_group_coord *gc, sl_group_call *c)
{
        const kp_leave_group_request *rq = c->rq;
        kp_leave_group_response *rs = c->rs;
        int16_t err = sl_group_id_check(rq->group_id);
        sl_group *g = err ? NULL : sl_group_find(gc, rq->group_id);
        if (!err && !g)
                err = KP_ERR_UNKNOWN_MEMBER_ID;
        if (err) {
                rs->error_code = err;
                sl_group_call_finish(c);
                return;
        }
        if (c->version < 3) {
                rs->error_code = leave_one(gc, g, rq->member_id, KP_STR_NULL);
                sl_group_call_finish(c);
                return;
        }
        rs->members_count = 0;
        if (rq->members_count > 0) {
                rs->members =
                    kp_arena_alloc(&c->arena, (size_t)rq->members_count, sizeof(*rs->members));
                if (!rs->members) {
                        rs->error_code = KP_ERR_UNKNOWN_SERVER_ERROR;
                        sl_group_call_finish(c);
                        return;
                }
        }
        for (int32_t i = 0; i < rq->members_count; i++) {
                const kp_leave_group_request_member_identity *id = &rq->members[i];
                kp_leave_group_response_member_response *r = &rs->members[i];
                kp_leave_group_response_member_response_init(r);
                r->member_id = id->member_id;
                r->group_instance_id = id->group_instance_id;
                r->error_code = leave_one(gc, g, id->member_id, id->group_instance_id);
        }
        rs->members_count = rq->members_count;
        sl_group_call_finish(c);
}

void sl_group_cancel(sl_group_coord *gc, sl_group_call *c, int16_t err)
{
        sl_group *g = c->grp;
        if (!g || g->dead)
                return;
        for (sl_member *m = g->members; m; m = m->next) {
                if (m->join_call == c) {
                        m->join_call = NULL;
                        kp_join_group_response *rs = c->rs;
                        rs->error_code = err;
                        rs->generation_id = -1;
                        rs->members_count = 0;
                        c->grp = NULL;
                        sl_group_call_finish(c);
                        /* a member without a pending join may now complete it */
                        sl_group_try_complete_join(gc, g);
                        return;
                }
                if (m->sync_call == c) {
                        m->sync_call = NULL;
                        ((kp_sync_group_response *)c->rs)->error_code = err;
                        c->grp = NULL;
                        sl_group_call_finish(c);
                        return;
                }
        }
}
