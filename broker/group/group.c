/* broker/group/group.c — the coordinator's group table and the operations that
 * look at groups as a whole: placement (Kafka's hash), timers (one lower-bound
 * deadline for the whole coordinator, so the host arms a single reactor
 * timer), replay of the offsets log, DescribeGroups, ListGroups and
 * DeleteGroups. The rebalance protocol is in group_join.c/group_sync.c,
 * offsets in group_offsets.c. Owned by one shard; no locks. */
#include "cgroup.h"

#include <stdint.h>
#include <xxhash.h>

const char *sl_group_state_name(int state)
{
        switch (state) {
        case SL_GS_EMPTY:
                return "Empty";
        case SL_GS_PREPARING:
                return "PreparingRebalance";
        case SL_GS_COMPLETING:
                return "CompletingRebalance";
        case SL_GS_STABLE:
                return "Stable";
        default:
                return "Dead";
        }
}

int sl_gstr_set(sl_gstr *s, kp_str v)
{
        char *p = NULL;
        if (v.len >= 0) {
                p = malloc((size_t)v.len + 1);
                if (!p)
                        return -1;
                if (v.len)
                        memcpy(p, v.p, (size_t)v.len);
                p[v.len] = 0;
        }
        free(s->p);
        s->p = p;
        s->len = v.len < 0 ? -1 : v.len;
        return 0;
}

void sl_gstr_free(sl_gstr *s)
{
        free(s->p);
        s->p = NULL;
        s->len = -1;
}

kp_str sl_group_call_str(sl_group_call *c, kp_str s)
{
        if (s.len <= 0)
                return s;
        char *p = kp_arena_alloc(&c->arena, 1, (size_t)s.len);
        if (!p)
                return (kp_str){"", 0};
        memcpy(p, s.p, (size_t)s.len);
        return (kp_str){p, s.len};
}

kp_bytes sl_group_call_bytes(sl_group_call *c, const uint8_t *p, int32_t len)
{
        if (!p || len <= 0)
                return (kp_bytes){(const uint8_t *)"", 0};
        uint8_t *q = kp_arena_alloc(&c->arena, 1, (size_t)len);
        if (!q)
                return (kp_bytes){(const uint8_t *)"", 0};
        memcpy(q, p, (size_t)len);
        return (kp_bytes){q, len};
}

/* Java's String.hashCode: s[0]*31^(n-1) + ... over UTF-16 code units, int32
 * wrap-around. UTF-8 is decoded; a malformed byte counts as itself. */
int32_t sl_group_java_hash(kp_str s)
{
        uint32_t h = 0;
        const uint8_t *p = (const uint8_t *)s.p, *end = p + (s.len > 0 ? s.len : 0);
        while (p < end) {
                uint32_t cp = *p, extra = 0;
                if (cp >= 0xf0 && cp < 0xf8)
                        cp &= 0x07, extra = 3;
                else if (cp >= 0xe0 && cp < 0xf0)
                        cp &= 0x0f, extra = 2;
                else if (cp >= 0xc0 && cp < 0xe0)
                        cp &= 0x1f, extra = 1;
                if (extra && end - p > (ptrdiff_t)extra) {
                        bool ok = true;
                        for (uint32_t i = 1; i <= extra; i++)
                                ok = ok && (p[i] & 0xc0) == 0x80;
                        if (ok) {
                                for (uint32_t i = 1; i <= extra; i++)
                                        cp = (cp << 6) | (p[i] & 0x3f);
                                p += extra;
                        } else {
                                cp = *p;
                        }
                } else if (extra) {
                        cp = *p;
                }
                p++;
                if (cp >= 0x10000) {
                        cp -= 0x10000;
                        h = h * 31 + (0xd800 + (cp >> 10));
                        h = h * 31 + (0xdc00 + (cp & 0x3ff));
                } else {
                        h = h * 31 + cp;
                }
        }
        return (int32_t)h;
}

int32_t sl_group_partition_for(kp_str group_id, int32_t partitions)
{
        int32_t h = sl_group_java_hash(group_id);
        int32_t a = h == INT32_MIN ? 0 : (h < 0 ? -h : h); /* Kafka's Utils.abs */
        return partitions > 0 ? a % partitions : 0;
}

int16_t sl_group_id_check(kp_str group_id)
{
        if (group_id.len <= 0 || group_id.len > SL_GROUP_ID_MAX)
                return KP_ERR_INVALID_GROUP_ID;
        return 0;
}

sl_group_coord *sl_group_coord_new(const sl_group_cfg *cfg, const sl_group_env *env)
{
        sl_group_coord *gc = calloc(1, sizeof(*gc));
        if (!gc)
                return NULL;
        gc->cfg = *cfg;
        gc->env = *env;
        gc->mask = 63;
        gc->tab = calloc(gc->mask + 1, sizeof(*gc->tab));
        if (!gc->tab) {
                free(gc);
                return NULL;
        }
        gc->next_deadline = INT64_MAX;
        return gc;
}

static void group_free(sl_group *g)
{
        while (g->members) {
                sl_member *m = g->members;
                g->members = m->next;
                if (m->join_call) {
                        m->join_call->error = KP_ERR_COORDINATOR_NOT_AVAILABLE;
                        ((kp_join_group_response *)m->join_call->rs)->error_code =
                            KP_ERR_COORDINATOR_NOT_AVAILABLE;
                        sl_group_call_finish(m->join_call);
                }
                if (m->sync_call) {
                        ((kp_sync_group_response *)m->sync_call->rs)->error_code =
                            KP_ERR_COORDINATOR_NOT_AVAILABLE;
                        sl_group_call_finish(m->sync_call);
                }
                sl_member_free(m);
        }
        while (g->pending) {
                sl_pending_id *p = g->pending;
                g->pending = p->next;
                sl_gstr_free(&p->id);
                free(p);
        }
        sl_goffsets_free(g);
        sl_cgroup_free(g->cg);
        sl_cimage_free(g);
        sl_gstr_free(&g->id);
        sl_gstr_free(&g->protocol_type);
        sl_gstr_free(&g->protocol);
        sl_gstr_free(&g->leader);
        free(g);
}

void sl_group_coord_free(sl_group_coord *gc)
{
        if (!gc)
                return;
        for (uint32_t i = 0; i <= gc->mask; i++) {
                while (gc->tab[i]) {
                        sl_group *g = gc->tab[i];
                        gc->tab[i] = g->next;
                        group_free(g);
                }
        }
        free(gc->tab);
        free(gc);
}

static uint32_t slot_of(const sl_group_coord *gc, kp_str id)
{
        return (uint32_t)XXH3_64bits(id.p, id.len > 0 ? (size_t)id.len : 0) & gc->mask;
}

sl_group *sl_group_find(sl_group_coord *gc, kp_str id)
{
        for (sl_group *g = gc->tab[slot_of(gc, id)]; g; g = g->next)
                if (!g->dead && sl_gstr_eq(&g->id, id))
                        return g;
        return NULL;
}

static void grow(sl_group_coord *gc)
{
        uint32_t nmask = gc->mask * 2 + 1;
        sl_group **nt = calloc((size_t)nmask + 1, sizeof(*nt));
        if (!nt)
                return; /* keep the longer chains */
        for (uint32_t i = 0; i <= gc->mask; i++) {
                while (gc->tab[i]) {
                        sl_group *g = gc->tab[i];
                        gc->tab[i] = g->next;
                        uint32_t s = (uint32_t)XXH3_64bits(g->id.p, (size_t)g->id.len) & nmask;
                        g->next = nt[s];
                        nt[s] = g;
                }
        }
        free(gc->tab);
        gc->tab = nt;
        gc->mask = nmask;
}

sl_group *sl_group_get_or_create(sl_group_coord *gc, kp_str id)
{
        sl_group *g = sl_group_find(gc, id);
        if (g)
                return g;
        if (gc->ngroups > gc->mask)
                grow(gc);
        g = calloc(1, sizeof(*g));
        if (!g)
                return NULL;
        g->protocol_type.len = g->protocol.len = g->leader.len = -1;
        if (sl_gstr_set(&g->id, id)) {
                free(g);
                return NULL;
        }
        g->partition = sl_group_partition_for(id, gc->cfg.partitions);
        g->gc = gc;
        g->state = SL_GS_EMPTY;
        g->state_ts = sl_group_wall(gc);
        g->empty_since_ms = g->state_ts;
        uint32_t s = slot_of(gc, id);
        g->next = gc->tab[s];
        gc->tab[s] = g;
        gc->ngroups++;
        return g;
}

/* Unlinks g; frees it now, or once its metadata write has completed. */
void sl_group_remove(sl_group_coord *gc, sl_group *g)
{
        uint32_t s = slot_of(gc, sl_gstr_view(&g->id));
        for (sl_group **pp = &gc->tab[s]; *pp; pp = &(*pp)->next) {
                if (*pp == g) {
                        *pp = g->next;
                        gc->ngroups--;
                        break;
                }
        }
        g->next = NULL;
        g->dead = true;
        g->state = SL_GS_DEAD;
        if (!g->persisting)
                group_free(g);
}

void sl_group_unref(sl_group *g)
{
        if (--g->persisting == 0 && g->dead)
                group_free(g);
}

void sl_group_set_state(sl_group_coord *gc, sl_group *g, int state)
{
        if (g->state == state)
                return;
        g->state = state;
        g->state_ts = sl_group_wall(gc);
        if (state == SL_GS_EMPTY)
                g->empty_since_ms = g->state_ts;
}

void sl_group_arm(sl_group_coord *gc, int64_t deadline_ms)
{
        if (deadline_ms > 0 && deadline_ms < gc->next_deadline)
                gc->next_deadline = deadline_ms;
}

int64_t sl_group_coord_next_deadline(const sl_group_coord *gc)
{
        return gc->next_deadline;
}

#define RETENTION_CHECK_MS 60000 /* how often Empty groups are checked for expiry */

/* sl_group_expire_offsets; an Empty consumer group that goes with its
 * offsets also tombstones its own records (group epoch, subscription
 * metadata, assignment epoch), after the offsets' tombstones. */
static bool expire_offsets(sl_group_coord *gc, sl_group *g, int64_t wall)
{
        if (!g->cg || g->cg->nmembers || g->persisting || g->pending ||
            wall - g->empty_since_ms < gc->cfg.offsets_retention_ms)
                return sl_group_expire_offsets(gc, g, wall);
        kp_arena a;
        kp_record_in recs[3];
        int32_t n = 0, partition = g->partition;
        kp_arena_init(&a, 512);
        bool removed = false;
        if (!sl_cgroup_tombstones(gc, g, &a, recs, &n)) {
                if (g->noffsets) {
                        removed = sl_group_expire_offsets(gc, g, wall); /* may free g */
                } else {
                        sl_group_remove(gc, g);
                        removed = true;
                }
                if (removed)
                        (void)gc->env.append(gc->env.arg, partition, recs, n, NULL);
        }
        kp_arena_release(&a);
        return removed;
}

int64_t sl_group_coord_tick(sl_group_coord *gc)
{
        int64_t now = sl_group_now(gc), wall = sl_group_wall(gc);
        int64_t next = INT64_MAX;
        bool any_empty = false;
        for (uint32_t i = 0; i <= gc->mask; i++) {
                sl_group *g = gc->tab[i];
                while (g) {
                        sl_group *nx = g->next;
                        int64_t d =
                            g->cg ? sl_cgroup_expire(gc, g, now) : sl_group_expire(gc, g, now);
                        if (d < next)
                                next = d;
                        if (g->state == SL_GS_EMPTY && !expire_offsets(gc, g, wall))
                                any_empty = true;
                        g = nx;
                }
        }
        if (any_empty && now + RETENTION_CHECK_MS < next)
                next = now + RETENTION_CHECK_MS;
        gc->next_deadline = next;
        return next;
}

int sl_group_coord_replay(sl_group_coord *gc, kp_bytes key, kp_bytes value, int64_t now_ms)
{
        sl_offsets_key k;
        (void)now_ms;
        int rc = sl_cgroup_replay(gc, key, value);
        if (!rc)
                sl_cimage_replayed(gc, key, value);
        if (rc <= 0)
                return rc; /* a consumer group record (key versions 3-8) */
        if (sl_offsets_key_parse(key, &k) || k.group.len <= 0)
                return -1;
        sl_group *g = sl_group_find(gc, k.group);
        if (k.version == 2) {
                if (value.len < 0) {
                        if (g)
                                sl_group_remove(gc, g);
                        return 0;
                }
                if (!g)
                        g = sl_group_get_or_create(gc, k.group);
                if (!g)
                        return -1;
                if (sl_offsets_group_apply(g, value))
                        return -1;
                if (g->state == SL_GS_EMPTY)
                        g->empty_since_ms = g->state_ts > 0 ? g->state_ts : sl_group_wall(gc);
                return 0;
        }
        if (value.len < 0) {
                if (g)
                        sl_goffset_del(g, k.topic, k.partition);
                return 0;
        }
        sl_offsets_commit oc;
        if (sl_offsets_commit_parse(value, &oc))
                return -1;
        if (!g)
                g = sl_group_get_or_create(gc, k.group);
        if (!g)
                return -1;
        return sl_goffset_put(g, k.topic, k.partition, oc.offset, oc.leader_epoch, oc.metadata,
                              oc.commit_ts);
}

void sl_group_coord_loaded(sl_group_coord *gc)
{
        int64_t now = sl_group_now(gc);
        for (uint32_t i = 0; i <= gc->mask; i++) {
                for (sl_group *g = gc->tab[i]; g; g = g->next) {
                        /* Loaded members get a fresh session, as Kafka does. */
                        for (sl_member *m = g->members; m; m = m->next) {
                                m->deadline_ms = now + m->session_timeout_ms;
                                sl_group_arm(gc, m->deadline_ms);
                        }
                        if (g->cg)
                                sl_cgroup_resolve(gc, g->cg); /* regex subscriptions */
                        for (sl_cmember *m = g->cg ? g->cg->members : NULL; m; m = m->next) {
                                int32_t st = gc->cfg.cg_session_timeout_ms;
                                m->session_deadline_ms = now + (st > 0 ? st : 45000);
                                if (m->state == SL_CMS_UNREVOKED)
                                        m->rebalance_deadline_ms =
                                            now + (m->rebalance_timeout_ms > 0
                                                       ? m->rebalance_timeout_ms
                                                       : 0);
                                sl_group_arm(gc, m->session_deadline_ms);
                        }
                        if (g->state == SL_GS_EMPTY)
                                sl_group_arm(gc, now + RETENTION_CHECK_MS);
                }
        }
}

void sl_group_describe(sl_group_coord *gc, sl_group_call *c)
{
        kp_describe_groups_response_described_group *d = c->rs;
        sl_group *g = sl_group_find(gc, c->group_id);
        d->group_id = c->group_id;
        d->protocol_type = (kp_str){"", 0};
        d->protocol_data = (kp_str){"", 0};
        d->members_count = 0;
        if (!g || g->cg) { /* a consumer group is not a classic one: Dead, as Kafka */
                d->group_state = kp_str_c("Dead");
                sl_group_call_finish(c);
                return;
        }
        d->group_state = kp_str_c(sl_group_state_name(g->state));
        if (g->protocol_type.len >= 0)
                d->protocol_type = sl_group_call_str(c, sl_gstr_view(&g->protocol_type));
        /* Kafka reports the protocol only once one is chosen and stable */
        if (g->state == SL_GS_STABLE && g->protocol.len >= 0)
                d->protocol_data = sl_group_call_str(c, sl_gstr_view(&g->protocol));
        if (g->nmembers) {
                d->members = kp_arena_alloc(&c->arena, (size_t)g->nmembers, sizeof(*d->members));
                if (!d->members) {
                        d->error_code = KP_ERR_UNKNOWN_SERVER_ERROR;
                        sl_group_call_finish(c);
                        return;
                }
                int32_t i = 0;
                for (sl_member *m = g->members; m; m = m->next, i++) {
                        kp_describe_groups_response_described_group_member *dm = &d->members[i];
                        kp_describe_groups_response_described_group_member_init(dm);
                        dm->member_id = sl_group_call_str(c, sl_gstr_view(&m->id));
                        dm->group_instance_id = sl_group_call_str(c, sl_gstr_view(&m->instance_id));
                        dm->client_id = sl_group_call_str(c, sl_gstr_view(&m->client_id));
                        dm->client_host = sl_group_call_str(c, sl_gstr_view(&m->client_host));
                        dm->member_metadata = (kp_bytes){(const uint8_t *)"", 0};
                        dm->member_assignment = (kp_bytes){(const uint8_t *)"", 0};
                        if (g->state == SL_GS_STABLE) {
                                for (int32_t k = 0; k < m->nprotos; k++)
                                        if (sl_gstr_eq(&m->protos[k].name,
                                                       sl_gstr_view(&g->protocol)))
                                                dm->member_metadata = sl_group_call_bytes(
                                                    c, m->protos[k].meta, m->protos[k].meta_len);
                                dm->member_assignment =
                                    sl_group_call_bytes(c, m->assignment, m->assignment_len);
                        }
                }
                d->members_count = g->nmembers;
        }
        sl_group_call_finish(c);
}

static bool filter_has(const kp_str *f, int32_t n, kp_str v)
{
        if (n <= 0)
                return true;
        for (int32_t i = 0; i < n; i++) {
                if (f[i].len != v.len)
                        continue;
                bool eq = true;
                for (int32_t k = 0; k < v.len && eq; k++) {
                        char a = f[i].p[k], b = v.p[k];
                        if (a >= 'A' && a <= 'Z')
                                a = (char)(a - 'A' + 'a');
                        if (b >= 'A' && b <= 'Z')
                                b = (char)(b - 'A' + 'a');
                        eq = a == b;
                }
                if (eq)
                        return true;
        }
        return false;
}

void sl_group_list(sl_group_coord *gc, sl_group_call *c)
{
        const kp_list_groups_request *rq = c->rq;
        kp_list_groups_response *rs = c->rs;
        rs->groups_count = 0;
        rs->groups = NULL;
        if (gc->ngroups) {
                rs->groups = kp_arena_alloc(&c->arena, gc->ngroups, sizeof(*rs->groups));
                if (!rs->groups) {
                        rs->error_code = KP_ERR_UNKNOWN_SERVER_ERROR;
                        sl_group_call_finish(c);
                        return;
                }
        }
        int32_t n = 0;
        for (uint32_t i = 0; i <= gc->mask; i++) {
                for (sl_group *g = gc->tab[i]; g; g = g->next) {
                        kp_str st = kp_str_c(g->cg ? sl_cgroup_state_name(sl_cgroup_state(g->cg))
                                                   : sl_group_state_name(g->state));
                        kp_str type = kp_str_c(g->cg ? "consumer" : "classic");
                        if (c->version >= 4 &&
                            !filter_has(rq->states_filter, rq->states_filter_count, st))
                                continue;
                        if (c->version >= 5 &&
                            !filter_has(rq->types_filter, rq->types_filter_count, type))
                                continue;
                        kp_list_groups_response_listed_group *l = &rs->groups[n++];
                        kp_list_groups_response_listed_group_init(l);
                        l->group_id = sl_group_call_str(c, sl_gstr_view(&g->id));
                        l->protocol_type =
                            g->protocol_type.len >= 0
                                ? sl_group_call_str(c, sl_gstr_view(&g->protocol_type))
                                : (kp_str){"", 0};
                        l->group_state = st;
                        l->group_type = type;
                }
        }
        rs->groups_count = n;
        sl_group_call_finish(c);
}

static void delete_done(sl_group_persist *p, int16_t err)
{
        sl_group_call *c = p->arg;
        if (err)
                c->error = err;
        sl_group_call_finish(c);
}

void sl_group_delete(sl_group_coord *gc, sl_group_call *c)
{
        c->error = sl_group_id_check(c->group_id);
        sl_group *g = c->error ? NULL : sl_group_find(gc, c->group_id);
        if (!c->error && !g)
                c->error = KP_ERR_GROUP_ID_NOT_FOUND;
        else if (g && g->state != SL_GS_EMPTY)
                c->error = KP_ERR_NON_EMPTY_GROUP;
        if (c->error) {
                sl_group_call_finish(c);
                return;
        }
        /* tombstones for every offset and the group, in one batch */
        int32_t n = (int32_t)g->noffsets + 1 + (g->cg ? 3 * g->cg->nmembers + 3 : 0);
        kp_record_in *recs = kp_arena_alloc(&c->arena, (size_t)n, sizeof(*recs));
        if (!recs) {
                c->error = KP_ERR_UNKNOWN_SERVER_ERROR;
                sl_group_call_finish(c);
                return;
        }
        int32_t k = 0;
        int64_t wall = sl_group_wall(gc);
        for (uint32_t i = 0; g->otab && i <= g->omask; i++) {
                for (sl_goffset *o = g->otab[i]; o; o = o->next, k++) {
                        size_t cap = 10 + (size_t)g->id.len + (size_t)o->topic.len;
                        uint8_t *kb = kp_arena_alloc(&c->arena, 1, cap);
                        size_t kl =
                            kb ? sl_offsets_commit_key(kb, cap, sl_gstr_view(&g->id),
                                                       sl_gstr_view(&o->topic), o->partition)
                               : 0;
                        recs[k] = (kp_record_in){wall, {kb, (int32_t)kl}, KP_BYTES_NULL, NULL, 0};
                }
        }
        size_t cap = 4 + (size_t)g->id.len;
        uint8_t *kb = kp_arena_alloc(&c->arena, 1, cap);
        size_t kl = kb ? sl_offsets_group_key(kb, cap, sl_gstr_view(&g->id)) : 0;
        recs[k++] = (kp_record_in){wall, {kb, (int32_t)kl}, KP_BYTES_NULL, NULL, 0};
        if (g->cg && sl_cgroup_tombstones(gc, g, &c->arena, recs, &k))
                recs[0].key.len = 0; /* out of memory: refused below */
        for (int32_t i = 0; i < k; i++) {
                if (recs[i].key.len <= 0) {
                        c->error = KP_ERR_UNKNOWN_SERVER_ERROR;
                        sl_group_call_finish(c);
                        return;
                }
        }
        c->persist.cb = delete_done;
        c->persist.arg = c;
        int16_t err = gc->env.append(gc->env.arg, g->partition, recs, k, &c->persist);
        if (err) {
                c->error = err;
                sl_group_call_finish(c);
                return;
        }
        sl_group_remove(gc, g);
}
