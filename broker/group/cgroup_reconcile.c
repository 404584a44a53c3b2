/* broker/group/cgroup_reconcile.c — the target assignment and each
 * member's way towards it (Kafka's TargetAssignmentBuilder and
 * CurrentAssignmentBuilder): the assignor of the group (most asked for by
 * members, else the first of group.consumer.assignors), targets recomputed
 * when the group epoch passes the assignment epoch (a record for every
 * member whose target changed), and the member reconciliation: revoke first
 * at the current epoch, then take the target's free partitions at the new
 * one, withholding those another member still owns. */
#include "cgroup.h"

typedef kp_consumer_group_heartbeat_request cgh_rq;

static int sl_cg_default_assignor(const sl_group_coord *gc)
{
        return gc->cfg.cg_nassignors ? gc->cfg.cg_assignors[0] : 0;
}

static bool owned_by_any(const sl_cgroup *cg, kp_uuid t, int32_t p)
{
        for (sl_cmember *m = cg->members; m; m = m->next)
                if (sl_ctpset_has(&m->assigned, t, p) || sl_ctpset_has(&m->revoking, t, p))
                        return true;
        return false;
}

/* Does the request still report a partition of set s as owned? A request
 * without owned partitions (not sent: unchanged) counts as yes. */
static bool owns_any(const cgh_rq *rq, const sl_ctpset *s)
{
        if (rq->topic_partitions_count < 0)
                return true;
        for (int32_t i = 0; i < rq->topic_partitions_count; i++) {
                const kp_consumer_group_heartbeat_request_topic_partitions *t =
                    &rq->topic_partitions[i];
                for (int32_t k = 0; k < t->partitions_count; k++)
                        if (sl_ctpset_has(s, t->topic_id, t->partitions[k]))
                                return true;
        }
        return false;
}

bool sl_cg_owned_subset(const cgh_rq *rq, const sl_ctpset *s)
{
        if (rq->topic_partitions_count < 0)
                return false;
        for (int32_t i = 0; i < rq->topic_partitions_count; i++) {
                const kp_consumer_group_heartbeat_request_topic_partitions *t =
                    &rq->topic_partitions[i];
                for (int32_t k = 0; k < t->partitions_count; k++)
                        if (!sl_ctpset_has(s, t->topic_id, t->partitions[k]))
                                return false;
        }
        return true;
}

static void set_epoch(sl_cmember *m, int32_t epoch)
{
        m->prev_epoch = m->epoch;
        m->epoch = epoch;
}

/* computeNextAssignment: from the partitions m keeps, towards its target. */
static int next_assignment(sl_cgroup *cg, sl_cmember *m, const cgh_rq *rq, int32_t epoch)
{
        sl_ctpset keep = {0}, revoke = {0}, pending = {0};
        bool unreleased = false;
        int rc = -1;
        for (int32_t i = 0; i < m->assigned.n; i++) {
                sl_ctp x = m->assigned.v[i];
                if (sl_ctpset_add(sl_ctpset_has(&m->target, x.topic, x.part) ? &keep : &revoke,
                                  x.topic, x.part))
                        goto out;
        }
        for (int32_t i = 0; i < m->target.n; i++) {
                sl_ctp x = m->target.v[i];
                if (sl_ctpset_has(&keep, x.topic, x.part))
                        continue;
                if (owned_by_any(cg, x.topic, x.part))
                        unreleased = true;
                else if (sl_ctpset_add(&pending, x.topic, x.part))
                        goto out;
        }
        if (revoke.n && owns_any(rq, &revoke)) {
                m->state = SL_CMS_UNREVOKED;
                set_epoch(m, epoch);
                if (sl_ctpset_copy(&m->assigned, &keep) || sl_ctpset_copy(&m->revoking, &revoke))
                        goto out;
        } else {
                for (int32_t i = 0; i < pending.n; i++)
                        if (sl_ctpset_add(&keep, pending.v[i].topic, pending.v[i].part))
                                goto out;
                m->state = unreleased ? SL_CMS_UNRELEASED : SL_CMS_STABLE;
                set_epoch(m, cg->assign_epoch);
                if (sl_ctpset_copy(&m->assigned, &keep))
                        goto out;
                sl_ctpset_clear(&m->revoking);
        }
        rc = 0;
out:
        sl_ctpset_free(&keep);
        sl_ctpset_free(&revoke);
        sl_ctpset_free(&pending);
        return rc;
}

int sl_cmember_reconcile(sl_cgroup *cg, sl_cmember *m, const cgh_rq *rq)
{
        switch (m->state) {
        case SL_CMS_STABLE:
                if (m->epoch == cg->assign_epoch)
                        return 0;
                return next_assignment(cg, m, rq, m->epoch);
        case SL_CMS_UNREVOKED:
                if (owns_any(rq, &m->revoking))
                        return 0;
                sl_ctpset_clear(&m->revoking); /* the member let them go */
                return next_assignment(cg, m, rq, m->epoch + 1);
        default:
                return next_assignment(cg, m, rq, m->epoch);
        }
}

/* The assignor most members ask for, else the configured default. */
const char *sl_cgroup_assignor(const sl_group_coord *gc, const sl_cgroup *cg)
{
        int32_t votes[2] = {0, 0};
        for (sl_cmember *m = cg->members; m; m = m->next) {
                int k =
                    m->assignor.len >= 0 ? sl_cg_assignor_index(sl_gstr_view(&m->assignor)) : -1;
                if (k >= 0)
                        votes[k]++;
        }
        int best = sl_cg_default_assignor(gc);
        for (int k = 0; k < 2; k++)
                if (votes[k] > votes[best])
                        best = k;
        return SL_CG_ASSIGNORS[best];
}

int sl_cgroup_update_target(sl_group_coord *gc, sl_group *g, sl_crecs *r)
{
        sl_cgroup *cg = g->cg;
        int32_t n = cg->nmembers, i = 0;
        sl_ctpset *old = n ? calloc((size_t)n, sizeof(*old)) : NULL;
        if (n && !old)
                return -1;
        int rc = -1;
        for (sl_cmember *m = cg->members; m; m = m->next, i++)
                if (sl_ctpset_copy(&old[i], &m->target))
                        goto out;
        if (sl_cgroup_assign(cg, sl_cgroup_assignor(gc, cg)))
                goto out;
        i = 0;
        for (sl_cmember *m = cg->members; m; m = m->next, i++)
                if (!sl_ctpset_eq(&old[i], &m->target))
                        sl_crec_target(r, sl_gstr_view(&g->id), m, false);
        cg->assign_epoch = cg->epoch;
        sl_crec_assign_epoch(r, sl_gstr_view(&g->id), cg, false);
        rc = 0;
out:
        for (int32_t k = 0; k < n; k++)
                sl_ctpset_free(&old[k]);
        free(old);
        return rc;
}
