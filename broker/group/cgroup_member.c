/* broker/group/cgroup_member.c — KIP-848 consumer groups and their members
 * as data: creation and freeing, group state, regex subscriptions (POSIX
 * extended regexes over the whole topic name, resolved against the topic
 * table on every heartbeat), the subscription metadata whose changes bump
 * the group epoch, fencing a member out, the session and revocation timers,
 * and the checks OffsetCommit/OffsetFetch/OffsetDelete/JoinGroup make on a
 * consumer group. The heartbeat itself is cgroup.c. */
#include "cgroup.h"

#include <stdio.h>

int sl_gstr_cmp(const void *a, const void *b)
{
        return strcmp(((const sl_gstr *)a)->p, ((const sl_gstr *)b)->p);
}

/* ---- regex subscriptions ---- */

static void rtopics_free(sl_gstr *v, int32_t n)
{
        for (int32_t i = 0; i < n; i++)
                sl_gstr_free(&v[i]);
        free(v);
}

/* Replaces m's compiled regex (NULL: none) and forgets its matches. */
void sl_cmember_set_regex(sl_cmember *m, regex_t *re)
{
        if (m->re) {
                regfree(m->re);
                free(m->re);
        }
        m->re = re;
        rtopics_free(m->rtopics, m->nrtopics);
        m->rtopics = NULL;
        m->nrtopics = 0;
}

regex_t *sl_cg_regex_compile(kp_str pattern)
{
        /* Kafka matches the whole topic name (RE2/J); POSIX ERE is close */
        char *anchored = malloc((size_t)pattern.len + 5);
        regex_t *re = malloc(sizeof(*re));
        if (!anchored || !re) {
                free(anchored);
                free(re);
                return NULL;
        }
        snprintf(anchored, (size_t)pattern.len + 5, "^(%.*s)$", pattern.len, pattern.p);
        int rc = memchr(pattern.p, 0, (size_t)pattern.len)
                     ? REG_BADPAT
                     : regcomp(re, anchored, REG_EXTENDED | REG_NOSUB);
        free(anchored);
        if (rc) {
                free(re);
                return NULL;
        }
        return re;
}

static bool internal_topic(kp_str t)
{
        return kp_str_eq(t, kp_str_c("__consumer_offsets")) ||
               kp_str_eq(t, kp_str_c("__transaction_state"));
}

/* The topics m's regex matches now, sorted; true when they changed. */
static bool resolve_member(sl_group_coord *gc, sl_cmember *m)
{
        if (m->regex.len > 0 && !m->re)
                m->re = sl_cg_regex_compile(sl_gstr_view(&m->regex)); /* replayed */
        if (!m->re || !gc->env.topic_at)
                return false;
        sl_gstr *v = NULL;
        int32_t n = 0, cap = 0;
        kp_str name;
        char buf[256];
        for (int32_t i = 0; gc->env.topic_at(gc->env.arg, i, &name) == 0; i++) {
                if (internal_topic(name) || name.len <= 0 || name.len >= (int32_t)sizeof(buf))
                        continue;
                memcpy(buf, name.p, (size_t)name.len);
                buf[name.len] = 0;
                if (regexec(m->re, buf, 0, NULL, 0))
                        continue;
                if (n == cap) {
                        cap = cap ? cap * 2 : 8;
                        sl_gstr *nv = realloc(v, (size_t)cap * sizeof(*nv));
                        if (!nv)
                                break;
                        v = nv;
                }
                v[n].len = -1;
                v[n].p = NULL;
                if (sl_gstr_set(&v[n], name))
                        break;
                n++;
        }
        if (n > 1)
                qsort(v, (size_t)n, sizeof(*v), sl_gstr_cmp);
        bool same = n == m->nrtopics;
        for (int32_t i = 0; same && i < n; i++)
                same = !strcmp(v[i].p, m->rtopics[i].p);
        if (same) {
                rtopics_free(v, n);
                return false;
        }
        rtopics_free(m->rtopics, m->nrtopics);
        m->rtopics = v;
        m->nrtopics = n;
        return true;
}

bool sl_cgroup_resolve(sl_group_coord *gc, sl_cgroup *cg)
{
        bool changed = false;
        for (sl_cmember *m = cg->members; m; m = m->next)
                changed |= resolve_member(gc, m);
        return changed;
}

/* ---- group and member life ---- */

sl_cgroup *sl_cgroup_new(void)
{
        return calloc(1, sizeof(sl_cgroup));
}

void sl_cmember_free(sl_cmember *m)
{
        if (!m)
                return;
        sl_gstr_free(&m->id);
        sl_gstr_free(&m->instance_id);
        sl_gstr_free(&m->rack_id);
        sl_gstr_free(&m->client_id);
        sl_gstr_free(&m->client_host);
        sl_gstr_free(&m->regex);
        sl_gstr_free(&m->assignor);
        for (int32_t i = 0; i < m->ntopics; i++)
                sl_gstr_free(&m->topics[i]);
        free(m->topics);
        sl_cmember_set_regex(m, NULL);
        sl_ctpset_free(&m->assigned);
        sl_ctpset_free(&m->revoking);
        sl_ctpset_free(&m->target);
        free(m);
}

static void meta_free(sl_cmeta *v, int32_t n)
{
        for (int32_t i = 0; i < n; i++)
                sl_gstr_free(&v[i].name);
        free(v);
}

void sl_cgroup_free(sl_cgroup *cg)
{
        if (!cg)
                return;
        while (cg->members) {
                sl_cmember *m = cg->members;
                cg->members = m->next;
                sl_cmember_free(m);
        }
        meta_free(cg->meta, cg->nmeta);
        free(cg);
}

sl_cmember *sl_cmember_find(const sl_cgroup *cg, kp_str id)
{
        for (sl_cmember *m = cg->members; m; m = m->next)
                if (sl_gstr_eq(&m->id, id))
                        return m;
        return NULL;
}

sl_cmember *sl_cmember_find_instance(const sl_cgroup *cg, kp_str inst)
{
        if (inst.len < 0)
                return NULL;
        for (sl_cmember *m = cg->members; m; m = m->next)
                if (m->instance_id.len >= 0 && sl_gstr_eq(&m->instance_id, inst))
                        return m;
        return NULL;
}

sl_cmember *sl_cmember_new(kp_str id)
{
        sl_cmember *m = calloc(1, sizeof(*m));
        if (!m)
                return NULL;
        m->instance_id.len = m->rack_id.len = m->client_id.len = m->client_host.len = -1;
        m->regex.len = m->assignor.len = m->id.len = -1;
        m->rebalance_timeout_ms = -1;
        if (sl_gstr_set(&m->id, id)) {
                free(m);
                return NULL;
        }
        return m;
}

void sl_cgroup_unlink(sl_cgroup *cg, sl_cmember *m)
{
        for (sl_cmember **pp = &cg->members; *pp; pp = &(*pp)->next) {
                if (*pp == m) {
                        *pp = m->next;
                        cg->nmembers--;
                        return;
                }
        }
}

int sl_cgroup_state(const sl_cgroup *cg)
{
        if (!cg->nmembers)
                return SL_CGS_EMPTY;
        if (cg->epoch > cg->assign_epoch)
                return SL_CGS_ASSIGNING;
        for (sl_cmember *m = cg->members; m; m = m->next)
                if (m->state != SL_CMS_STABLE || m->epoch != cg->assign_epoch)
                        return SL_CGS_RECONCILING;
        return SL_CGS_STABLE;
}

const char *sl_cgroup_state_name(int state)
{
        static const char *const names[] = {"Empty", "Assigning", "Reconciling", "Stable"};
        return state >= 0 && state <= 3 ? names[state] : "Dead";
}

void sl_cgroup_sync_state(sl_group_coord *gc, sl_group *g)
{
        sl_group_set_state(gc, g, g->cg->nmembers ? SL_GS_STABLE : SL_GS_EMPTY);
}

int sl_cgroup_attach(sl_group *g)
{
        g->cg = sl_cgroup_new();
        if (!g->cg)
                return -1;
        sl_gstr_free(&g->protocol_type);
        sl_gstr_free(&g->protocol);
        sl_gstr_free(&g->leader);
        if (sl_gstr_set(&g->protocol_type, kp_str_c("consumer")))
                return -1;
        return 0;
}

/* ---- subscription metadata ---- */

static int meta_cmp(const void *a, const void *b)
{
        return strcmp(((const sl_cmeta *)a)->name.p, ((const sl_cmeta *)b)->name.p);
}

/* The existing topics the members (skip excluded) subscribe to, sorted. */
static int meta_compute(sl_group_coord *gc, sl_cgroup *cg, const sl_cmember *skip, sl_cmeta **out,
                        int32_t *nout)
{
        int32_t cap = 0, n = 0;
        for (sl_cmember *m = cg->members; m; m = m->next)
                cap += m == skip ? 0 : m->ntopics + m->nrtopics;
        sl_cmeta *v = cap ? calloc((size_t)cap, sizeof(*v)) : NULL;
        if (cap && !v)
                return -1;
        for (sl_cmember *m = cg->members; m; m = m->next) {
                if (m == skip || !gc->env.topic_by_name)
                        continue;
                for (int32_t i = 0; i < m->ntopics + m->nrtopics; i++) {
                        kp_str t = sl_gstr_view(i < m->ntopics ? &m->topics[i]
                                                               : &m->rtopics[i - m->ntopics]);
                        bool dup = false;
                        for (int32_t k = 0; k < n && !dup; k++)
                                dup = sl_gstr_eq(&v[k].name, t);
                        kp_uuid id;
                        int32_t parts = 0;
                        if (dup || gc->env.topic_by_name(gc->env.arg, t, &id, &parts))
                                continue;
                        v[n].name.len = -1;
                        if (sl_gstr_set(&v[n].name, t)) {
                                meta_free(v, n);
                                return -1;
                        }
                        v[n].id = id;
                        v[n].partitions = parts;
                        n++;
                }
        }
        if (n > 1)
                qsort(v, (size_t)n, sizeof(*v), meta_cmp);
        *out = v;
        *nout = n;
        return 0;
}

static bool meta_same(const sl_cgroup *cg, const sl_cmeta *v, int32_t n)
{
        if (cg->nmeta != n)
                return false;
        for (int32_t i = 0; i < n; i++)
                if (!sl_gstr_eq(&cg->meta[i].name, sl_gstr_view(&v[i].name)) ||
                    memcmp(cg->meta[i].id.b, v[i].id.b, 16) ||
                    cg->meta[i].partitions != v[i].partitions)
                        return false;
        return true;
}

/* Refreshes cg->meta (without member skip); true when it changed. */
int sl_cgroup_meta_refresh(sl_group_coord *gc, sl_group *g, const sl_cmember *skip, sl_crecs *r,
                           bool *changed)
{
        sl_cgroup *cg = g->cg;
        sl_cmeta *v = NULL;
        int32_t n = 0;
        *changed = false;
        if (meta_compute(gc, cg, skip, &v, &n))
                return -1;
        if (meta_same(cg, v, n)) {
                meta_free(v, n);
                return 0;
        }
        meta_free(cg->meta, cg->nmeta);
        cg->meta = v;
        cg->nmeta = n;
        *changed = true;
        sl_crec_meta(r, sl_gstr_view(&g->id), cg, false);
        return 0;
}

/* Removes m: tombstones of its records, the group epoch bumped (the target
 * is recomputed at the next heartbeat). */
void sl_cgroup_fence(sl_group_coord *gc, sl_group *g, sl_cmember *m, sl_crecs *r)
{
        sl_cgroup *cg = g->cg;
        kp_str gid = sl_gstr_view(&g->id);
        bool changed;
        sl_crec_current(r, gid, m, true);
        sl_crec_target(r, gid, m, true);
        sl_crec_member(r, gid, m, true);
        sl_cgroup_unlink(cg, m);
        if (sl_cgroup_meta_refresh(gc, g, NULL, r, &changed))
                r->failed = true;
        sl_cmember_free(m);
        cg->epoch++;
        sl_crec_group_epoch(r, gid, cg, false);
        sl_cgroup_sync_state(gc, g);
}

/* Silent past its session, or holding partitions past its rebalance timeout. */
static bool expired(const sl_cmember *m, int64_t now)
{
        if (m->session_deadline_ms && m->session_deadline_ms <= now)
                return true;
        return m->state == SL_CMS_UNREVOKED && m->rebalance_deadline_ms &&
               m->rebalance_deadline_ms <= now;
}

int64_t sl_cgroup_expire(sl_group_coord *gc, sl_group *g, int64_t now)
{
        if (!g->cg || !g->cg->nmembers)
                return INT64_MAX;
        bool any = false;
        for (sl_cmember *m = g->cg->members; m && !any; m = m->next)
                any = expired(m, now);
        if (any) {
                kp_arena a;
                kp_arena_init(&a, 1024);
                sl_crecs r;
                sl_crecs_init(&r, &a, sl_group_wall(gc));
                for (sl_cmember *m = g->cg->members, *nx; m; m = nx) {
                        nx = m->next;
                        if (expired(m, now))
                                sl_cgroup_fence(gc, g, m, &r);
                }
                /* fenced members the log does not hear of come back (with a
                 * fresh session) rather than linger in memory only */
                if (r.failed || (r.n && gc->env.append(gc->env.arg, g->partition, r.v, r.n, NULL)))
                        sl_cgroup_rollback(gc, g);
                else
                        sl_cimage_apply(g, r.v, r.n);
                kp_arena_release(&a);
        }
        int64_t next = INT64_MAX;
        for (sl_cmember *m = g->cg ? g->cg->members : NULL; m; m = m->next) {
                if (m->session_deadline_ms && m->session_deadline_ms < next)
                        next = m->session_deadline_ms;
                if (m->state == SL_CMS_UNREVOKED && m->rebalance_deadline_ms &&
                    m->rebalance_deadline_ms < next)
                        next = m->rebalance_deadline_ms;
        }
        return next;
}

int16_t sl_cgroup_tombstones(sl_group_coord *gc, sl_group *g, kp_arena *a, kp_record_in *out,
                             int32_t *n)
{
        sl_crecs r;
        sl_crecs_init(&r, a, sl_group_wall(gc));
        kp_str gid = sl_gstr_view(&g->id);
        for (sl_cmember *m = g->cg->members; m; m = m->next) {
                sl_crec_current(&r, gid, m, true);
                sl_crec_target(&r, gid, m, true);
                sl_crec_member(&r, gid, m, true);
        }
        sl_crec_assign_epoch(&r, gid, g->cg, true);
        sl_crec_meta(&r, gid, g->cg, true);
        sl_crec_group_epoch(&r, gid, g->cg, true);
        if (r.failed)
                return KP_ERR_UNKNOWN_SERVER_ERROR;
        for (int32_t i = 0; i < r.n; i++)
                out[(*n)++] = r.v[i];
        return 0;
}

int16_t sl_cgroup_commit_check(sl_group *g, int16_t version, kp_str member, int32_t epoch)
{
        sl_cgroup *cg = g->cg;
        if (epoch < 0 && !cg->nmembers)
                return 0; /* admin tools and assign() consumers: an empty group */
        sl_cmember *m = sl_cmember_find(cg, member);
        if (!m)
                return KP_ERR_UNKNOWN_MEMBER_ID;
        if (version < 9)
                return KP_ERR_UNSUPPORTED_VERSION;
        return epoch != m->epoch ? KP_ERR_STALE_MEMBER_EPOCH : 0;
}

int16_t sl_cgroup_fetch_check(sl_group *g, kp_str member, int32_t epoch)
{
        if (epoch < 0 && member.len < 0)
                return 0;
        sl_cmember *m = sl_cmember_find(g->cg, member);
        if (!m)
                return KP_ERR_UNKNOWN_MEMBER_ID;
        return epoch != m->epoch ? KP_ERR_STALE_MEMBER_EPOCH : 0;
}

bool sl_cgroup_subscribed(const sl_group *g, kp_str topic)
{
        for (const sl_cmember *m = g->cg->members; m; m = m->next)
                if (sl_cmember_subscribes(m, topic))
                        return true;
        return false;
}

int16_t sl_cgroup_detach(sl_group_coord *gc, sl_group *g)
{
        if (g->cg->nmembers)
                return KP_ERR_INCONSISTENT_GROUP_PROTOCOL;
        kp_arena a;
        kp_record_in recs[3];
        int32_t n = 0;
        kp_arena_init(&a, 512);
        int16_t err = sl_cgroup_tombstones(gc, g, &a, recs, &n);
        if (!err)
                err = gc->env.append(gc->env.arg, g->partition, recs, n, NULL);
        if (!err)
                sl_cimage_apply(g, recs, n);
        kp_arena_release(&a);
        if (err)
                return err;
        sl_cgroup_free(g->cg);
        g->cg = NULL;
        sl_gstr_free(&g->protocol_type);
        return 0;
}
