/* broker/group/group_offsets.c — committed offsets: OffsetCommit, OffsetFetch,
 * OffsetDelete and the retention of an Empty group's offsets.
 *
 * A commit is checked against the group (Kafka's order: fenced static member,
 * a generation-less commit to an Empty or absent group is a "simple" commit
 * from assign() consumers and admin tools, then member, generation and
 * state), written to the group's __consumer_offsets partition as one batch of
 * OffsetCommit records, and applied to memory and answered only once the
 * batch is durable (acks=-1). Offsets live in a per-group hash table keyed by
 * (topic, partition); OffsetFetch reads it. offsets.retention.minutes counts
 * from the moment the group became Empty (Kafka ≥ 2.1, KIP-211), or for a
 * simple group that never had members from each offset's commit. */
#include "group_int.h"

#include <xxhash.h>

#define EXPIRY_CHECK_MS 60000 /* as group.c's retention check cadence */

static uint32_t okey(kp_str topic, int32_t partition)
{
        return (uint32_t)XXH3_64bits_withSeed(topic.p, topic.len > 0 ? (size_t)topic.len : 0,
                                              (uint64_t)(uint32_t)partition);
}

sl_goffset *sl_goffset_find(const sl_group *g, kp_str topic, int32_t partition)
{
        if (!g->otab)
                return NULL;
        for (sl_goffset *o = g->otab[okey(topic, partition) & g->omask]; o; o = o->next)
                if (o->partition == partition && sl_gstr_eq(&o->topic, topic))
                        return o;
        return NULL;
}

static void ogrow(sl_group *g)
{
        uint32_t nmask = g->otab ? g->omask * 2 + 1 : 15;
        sl_goffset **nt = calloc((size_t)nmask + 1, sizeof(*nt));
        if (!nt)
                return;
        for (uint32_t i = 0; g->otab && i <= g->omask; i++) {
                while (g->otab[i]) {
                        sl_goffset *o = g->otab[i];
                        g->otab[i] = o->next;
                        uint32_t s = okey(sl_gstr_view(&o->topic), o->partition) & nmask;
                        o->next = nt[s];
                        nt[s] = o;
                }
        }
        free(g->otab);
        g->otab = nt;
        g->omask = nmask;
}

int sl_goffset_put(sl_group *g, kp_str topic, int32_t partition, int64_t offset,
                   int32_t leader_epoch, kp_str metadata, int64_t commit_ts)
{
        sl_goffset *o = sl_goffset_find(g, topic, partition);
        if (!o) {
                if (!g->otab || g->noffsets > g->omask)
                        ogrow(g);
                if (!g->otab)
                        return -1;
                o = calloc(1, sizeof(*o));
                if (!o)
                        return -1;
                o->metadata.len = o->topic.len = -1;
                if (sl_gstr_set(&o->topic, topic)) {
                        free(o);
                        return -1;
                }
                o->partition = partition;
                uint32_t s = okey(topic, partition) & g->omask;
                o->next = g->otab[s];
                g->otab[s] = o;
                g->noffsets++;
        }
        o->offset = offset;
        o->leader_epoch = leader_epoch;
        o->commit_ts = commit_ts;
        return sl_gstr_set(&o->metadata, metadata.len < 0 ? kp_str_c("") : metadata);
}

void sl_goffset_del(sl_group *g, kp_str topic, int32_t partition)
{
        if (!g->otab)
                return;
        for (sl_goffset **pp = &g->otab[okey(topic, partition) & g->omask]; *pp;
             pp = &(*pp)->next) {
                sl_goffset *o = *pp;
                if (o->partition == partition && sl_gstr_eq(&o->topic, topic)) {
                        *pp = o->next;
                        sl_gstr_free(&o->topic);
                        sl_gstr_free(&o->metadata);
                        free(o);
                        g->noffsets--;
                        return;
                }
        }
}

void sl_goffsets_free(sl_group *g)
{
        for (uint32_t i = 0; g->otab && i <= g->omask; i++) {
                while (g->otab[i]) {
                        sl_goffset *o = g->otab[i];
                        g->otab[i] = o->next;
                        sl_gstr_free(&o->topic);
                        sl_gstr_free(&o->metadata);
                        free(o);
                }
        }
        free(g->otab);
        g->otab = NULL;
        g->noffsets = 0;
}

typedef kp_offset_commit_request_offset_commit_request_topic oc_topic;
typedef kp_offset_commit_response_offset_commit_response_topic oc_rtopic;

static void commit_set_errors(const kp_offset_commit_request *rq, kp_offset_commit_response *rs,
                              int16_t err, bool only_ok)
{
        for (int32_t i = 0; i < rq->topics_count && i < rs->topics_count; i++)
                for (int32_t k = 0; k < rs->topics[i].partitions_count; k++)
                        if (!only_ok || !rs->topics[i].partitions[k].error_code)
                                rs->topics[i].partitions[k].error_code = err;
}

static void commit_done(sl_group_persist *p, int16_t err)
{
        sl_group_call *c = p->arg;
        const kp_offset_commit_request *rq = c->rq;
        kp_offset_commit_response *rs = c->rs;
        sl_group *g = c->grp;
        if (err) {
                commit_set_errors(rq, rs, err, true);
        } else if (!g->dead) {
                int64_t now = sl_group_wall(g->gc);
                for (int32_t i = 0; i < rq->topics_count; i++) {
                        const oc_topic *t = &rq->topics[i];
                        for (int32_t k = 0; k < t->partitions_count; k++) {
                                if (rs->topics[i].partitions[k].error_code)
                                        continue;
                                const kp_offset_commit_request_offset_commit_request_partition *pp =
                                    &t->partitions[k];
                                int64_t ts = c->version == 1 && pp->commit_timestamp >= 0
                                                 ? pp->commit_timestamp
                                                 : now;
                                if (sl_goffset_put(
                                        g, t->name, pp->partition_index, pp->committed_offset,
                                        c->version >= 6 ? pp->committed_leader_epoch : -1,
                                        pp->committed_metadata, ts))
                                        rs->topics[i].partitions[k].error_code =
                                            KP_ERR_UNKNOWN_SERVER_ERROR;
                        }
                }
                /* the retention of an Empty group's offsets runs on the
                 * coordinator's tick: make sure one comes, a simple group has
                 * no session or rebalance deadline to bring it */
                if (g->state == SL_GS_EMPTY)
                        sl_group_arm(g->gc, sl_group_now(g->gc) + EXPIRY_CHECK_MS);
        }
        c->grp = NULL;
        sl_group_unref(g);
        sl_group_call_finish(c);
}

static int16_t commit_check(sl_group_coord *gc, sl_group_call *c, sl_group **gp)
{
        const kp_offset_commit_request *rq = c->rq;
        int32_t gen = c->version >= 1 ? rq->generation_id_or_member_epoch : -1;
        kp_str member = c->version >= 1 ? rq->member_id : (kp_str){"", 0};
        kp_str inst = c->version >= 7 ? rq->group_instance_id : KP_STR_NULL;
        int16_t err = sl_group_id_check(rq->group_id);
        if (err)
                return err;
        sl_group *g = sl_group_find(gc, rq->group_id);
        if (!g) {
                if (gen >= 0)
                        return KP_ERR_ILLEGAL_GENERATION; /* its generation is gone */
                g = sl_group_get_or_create(gc, rq->group_id);
                if (!g)
                        return KP_ERR_UNKNOWN_SERVER_ERROR;
                *gp = g;
                return 0;
        }
        *gp = g;
        if (g->cg) /* a KIP-848 consumer group: member epochs */
                return sl_cgroup_commit_check(g, c->version, member, gen);
        if (inst.len >= 0) {
                const sl_member *si = sl_member_find_instance(g, inst);
                if (si && !sl_gstr_eq(&si->id, member))
                        return KP_ERR_FENCED_INSTANCE_ID;
        }
        if (gen < 0 && g->state == SL_GS_EMPTY)
                return 0;
        sl_member *m = sl_member_find(g, member);
        if (!m)
                return g->state == SL_GS_EMPTY && gen >= 0 ? KP_ERR_ILLEGAL_GENERATION
                                                           : KP_ERR_UNKNOWN_MEMBER_ID;
        if (gen != g->generation)
                return KP_ERR_ILLEGAL_GENERATION;
        if (g->state == SL_GS_COMPLETING)
                return KP_ERR_REBALANCE_IN_PROGRESS;
        sl_group_heartbeat_member(gc, m);
        return 0;
}

void sl_group_offset_commit(sl_group_coord *gc, sl_group_call *c)
{
        const kp_offset_commit_request *rq = c->rq;
        kp_offset_commit_response *rs = c->rs;
        sl_group *g = NULL;
        int16_t err = commit_check(gc, c, &g);
        if (err) {
                commit_set_errors(rq, rs, err, false);
                sl_group_call_finish(c);
                return;
        }
        int32_t n = 0;
        for (int32_t i = 0; i < rq->topics_count; i++)
                n += rq->topics[i].partitions_count;
        kp_record_in *recs = n ? kp_arena_alloc(&c->arena, (size_t)n, sizeof(*recs)) : NULL;
        if (n && !recs) {
                commit_set_errors(rq, rs, KP_ERR_UNKNOWN_SERVER_ERROR, false);
                sl_group_call_finish(c);
                return;
        }
        int64_t now = sl_group_wall(gc);
        int32_t k = 0;
        for (int32_t i = 0; i < rq->topics_count; i++) {
                const oc_topic *t = &rq->topics[i];
                for (int32_t j = 0; j < t->partitions_count; j++) {
                        const kp_offset_commit_request_offset_commit_request_partition *pp =
                            &t->partitions[j];
                        int16_t *perr = &rs->topics[i].partitions[j].error_code;
                        if (*perr)
                                continue; /* refused by the handler (unknown topic) */
                        if (pp->committed_metadata.len > gc->cfg.offset_metadata_max) {
                                *perr = KP_ERR_OFFSET_METADATA_TOO_LARGE;
                                continue;
                        }
                        if (t->name.len <= 0) {
                                *perr = KP_ERR_UNKNOWN_TOPIC_OR_PARTITION;
                                continue;
                        }
                        size_t kcap = 10 + (size_t)rq->group_id.len + (size_t)t->name.len;
                        size_t vcap = 24 + (size_t)(pp->committed_metadata.len > 0
                                                        ? pp->committed_metadata.len
                                                        : 0);
                        uint8_t *kb = kp_arena_alloc(&c->arena, 1, kcap + vcap);
                        if (!kb) {
                                *perr = KP_ERR_UNKNOWN_SERVER_ERROR;
                                continue;
                        }
                        int64_t ts = c->version == 1 && pp->commit_timestamp >= 0
                                         ? pp->commit_timestamp
                                         : now;
                        size_t kl = sl_offsets_commit_key(kb, kcap, rq->group_id, t->name,
                                                          pp->partition_index);
                        size_t vl = sl_offsets_commit_value(
                            kb + kcap, vcap, pp->committed_offset,
                            c->version >= 6 ? pp->committed_leader_epoch : -1,
                            pp->committed_metadata, ts);
                        recs[k++] = (kp_record_in){
                            now, {kb, (int32_t)kl}, {kb + kcap, (int32_t)vl}, NULL, 0};
                }
        }
        if (!k) {
                sl_group_call_finish(c);
                return;
        }
        c->grp = g;
        c->persist.cb = commit_done;
        c->persist.arg = c;
        g->persisting++;
        err = gc->env.append(gc->env.arg, g->partition, recs, k, &c->persist);
        if (err) {
                commit_set_errors(rq, rs, err, true);
                c->grp = NULL;
                sl_group_unref(g);
                sl_group_call_finish(c);
        }
}

typedef kp_offset_fetch_response_offset_fetch_response_topics of_rtopic;
typedef kp_offset_fetch_response_offset_fetch_response_partitions of_rpart;

static void fetch_fill(of_rpart *p, const sl_goffset *o, sl_group_call *c)
{
        kp_offset_fetch_response_offset_fetch_response_partitions_init(p);
        if (o) {
                p->partition_index = o->partition;
                p->committed_offset = o->offset;
                p->committed_leader_epoch = o->leader_epoch;
                p->metadata = sl_group_call_str(c, sl_gstr_view(&o->metadata));
        } else {
                p->committed_offset = -1;
                p->committed_leader_epoch = -1;
                p->metadata = (kp_str){"", 0};
        }
}

void sl_group_offset_fetch(sl_group_coord *gc, sl_group_call *c)
{
        const kp_offset_fetch_request_offset_fetch_request_group *rq = c->rq;
        kp_offset_fetch_response_offset_fetch_response_group *rs = c->rs;
        rs->topics_count = 0;
        rs->error_code = sl_group_id_check(rq->group_id);
        if (rs->error_code) {
                sl_group_call_finish(c);
                return;
        }
        sl_group *g = sl_group_find(gc, rq->group_id);
        if (g && g->cg && c->version >= 9) {
                /* v9 names the member of a KIP-848 consumer group */
                rs->error_code = sl_cgroup_fetch_check(g, rq->member_id, rq->member_epoch);
                if (rs->error_code) {
                        sl_group_call_finish(c);
                        return;
                }
        }
        if (rq->topics_count >= 0) {
                rs->topics = rq->topics_count ? kp_arena_alloc(&c->arena, (size_t)rq->topics_count,
                                                               sizeof(*rs->topics))
                                              : NULL;
                if (rq->topics_count && !rs->topics)
                        goto oom;
                for (int32_t i = 0; i < rq->topics_count; i++) {
                        const kp_offset_fetch_request_offset_fetch_request_topics *t =
                            &rq->topics[i];
                        of_rtopic *rt = &rs->topics[i];
                        kp_offset_fetch_response_offset_fetch_response_topics_init(rt);
                        rt->name = t->name;
                        rt->partitions_count = 0;
                        if (t->partition_indexes_count > 0) {
                                rt->partitions =
                                    kp_arena_alloc(&c->arena, (size_t)t->partition_indexes_count,
                                                   sizeof(*rt->partitions));
                                if (!rt->partitions)
                                        goto oom;
                        }
                        for (int32_t k = 0; k < t->partition_indexes_count; k++) {
                                int32_t pi = t->partition_indexes[k];
                                fetch_fill(&rt->partitions[k],
                                           g ? sl_goffset_find(g, t->name, pi) : NULL, c);
                                rt->partitions[k].partition_index = pi;
                        }
                        rt->partitions_count = t->partition_indexes_count;
                }
                rs->topics_count = rq->topics_count;
                sl_group_call_finish(c);
                return;
        }
        /* all committed offsets of the group, grouped by topic */
        if (!g || !g->noffsets) {
                sl_group_call_finish(c);
                return;
        }
        rs->topics = kp_arena_alloc(&c->arena, g->noffsets, sizeof(*rs->topics));
        int32_t *cap = kp_arena_alloc(&c->arena, g->noffsets, sizeof(*cap));
        if (!rs->topics || !cap)
                goto oom;
        int32_t nt = 0;
        for (uint32_t i = 0; i <= g->omask; i++) {
                for (sl_goffset *o = g->otab[i]; o; o = o->next) {
                        int32_t t = 0;
                        while (t < nt && !kp_str_eq(rs->topics[t].name, sl_gstr_view(&o->topic)))
                                t++;
                        of_rtopic *rt = &rs->topics[t];
                        if (t == nt) {
                                kp_offset_fetch_response_offset_fetch_response_topics_init(rt);
                                rt->name = sl_group_call_str(c, sl_gstr_view(&o->topic));
                                rt->partitions_count = 0;
                                cap[t] = 0;
                                nt++;
                        }
                        if (rt->partitions_count == cap[t]) {
                                int32_t ncap = cap[t] ? cap[t] * 2 : 8;
                                of_rpart *np = kp_arena_alloc(&c->arena, (size_t)ncap, sizeof(*np));
                                if (!np)
                                        goto oom;
                                if (rt->partitions_count)
                                        memcpy(np, rt->partitions,
                                               (size_t)rt->partitions_count * sizeof(*np));
                                rt->partitions = np;
                                cap[t] = ncap;
                        }
                        fetch_fill(&rt->partitions[rt->partitions_count++], o, c);
                }
        }
        rs->topics_count = nt;
        sl_group_call_finish(c);
        return;
oom:
        rs->topics_count = 0;
        rs->error_code = KP_ERR_UNKNOWN_SERVER_ERROR;
        sl_group_call_finish(c);
}

/* Does some member of a consumer-protocol group subscribe to topic? */
static bool subscribed(sl_group_call *c, const sl_group *g, kp_str topic)
{
        if (g->cg)
                return sl_cgroup_subscribed(g, topic);
        for (const sl_member *m = g->members; m; m = m->next) {
                for (int32_t i = 0; i < m->nprotos; i++) {
                        const sl_gproto *p = &m->protos[i];
                        if (g->protocol.len >= 0 &&
                            !sl_gstr_eq(&p->name, sl_gstr_view(&g->protocol)))
                                continue;
                        if (p->meta_len < 2)
                                continue;
                        kp_rd rd;
                        kp_rd_init(&rd, p->meta, (size_t)p->meta_len, &c->arena);
                        int16_t v = kp_rd_i16(&rd, "version");
                        kp_consumer_protocol_subscription sub;
                        /* later versions only append fields: read what we know */
                        if (v < 0 ||
                            kp_consumer_protocol_subscription_decode(&rd, v > 3 ? 3 : v, &sub))
                                return true; /* unreadable: assume it does */
                        for (int32_t k = 0; k < sub.topics_count; k++)
                                if (kp_str_eq(sub.topics[k], topic))
                                        return true;
                }
        }
        return false;
}

static void odelete_done(sl_group_persist *p, int16_t err)
{
        sl_group_call *c = p->arg;
        const kp_offset_delete_request *rq = c->rq;
        kp_offset_delete_response *rs = c->rs;
        sl_group *g = c->grp;
        for (int32_t i = 0; i < rq->topics_count; i++) {
                for (int32_t k = 0; k < rq->topics[i].partitions_count; k++) {
                        int16_t *e = &rs->topics[i].partitions[k].error_code;
                        if (*e)
                                continue;
                        if (err)
                                *e = err;
                        else if (!g->dead)
                                sl_goffset_del(g, rq->topics[i].name,
                                               rq->topics[i].partitions[k].partition_index);
                }
        }
        c->grp = NULL;
        sl_group_unref(g);
        sl_group_call_finish(c);
}

void sl_group_offset_delete(sl_group_coord *gc, sl_group_call *c)
{
        const kp_offset_delete_request *rq = c->rq;
        kp_offset_delete_response *rs = c->rs;
        rs->error_code = sl_group_id_check(rq->group_id);
        sl_group *g = rs->error_code ? NULL : sl_group_find(gc, rq->group_id);
        if (!rs->error_code && !g)
                rs->error_code = KP_ERR_GROUP_ID_NOT_FOUND;
        else if (g && g->state != SL_GS_EMPTY &&
                 !sl_gstr_eq(&g->protocol_type, kp_str_c("consumer")))
                rs->error_code = KP_ERR_NON_EMPTY_GROUP;
        if (rs->error_code) {
                sl_group_call_finish(c);
                return;
        }
        int32_t n = 0;
        for (int32_t i = 0; i < rq->topics_count; i++)
                n += rq->topics[i].partitions_count;
        kp_record_in *recs = n ? kp_arena_alloc(&c->arena, (size_t)n, sizeof(*recs)) : NULL;
        int32_t k = 0;
        int64_t now = sl_group_wall(gc);
        for (int32_t i = 0; i < rq->topics_count; i++) {
                const kp_offset_delete_request_offset_delete_request_topic *t = &rq->topics[i];
                bool sub = g->state != SL_GS_EMPTY && subscribed(c, g, t->name);
                for (int32_t j = 0; j < t->partitions_count; j++) {
                        int16_t *e = &rs->topics[i].partitions[j].error_code;
                        int32_t pi = t->partitions[j].partition_index;
                        if (sub) {
                                *e = KP_ERR_GROUP_SUBSCRIBED_TO_TOPIC;
                                continue;
                        }
                        if (!sl_goffset_find(g, t->name, pi))
                                continue; /* nothing to delete: no error, as Kafka */
                        size_t cap = 10 + (size_t)g->id.len + (size_t)t->name.len;
                        uint8_t *kb = recs ? kp_arena_alloc(&c->arena, 1, cap) : NULL;
                        if (!kb) {
                                *e = KP_ERR_UNKNOWN_SERVER_ERROR;
                                continue;
                        }
                        size_t kl = sl_offsets_commit_key(kb, cap, rq->group_id, t->name, pi);
                        recs[k++] = (kp_record_in){now, {kb, (int32_t)kl}, KP_BYTES_NULL, NULL, 0};
                }
        }
        if (!k) {
                sl_group_call_finish(c);
                return;
        }
        c->grp = g;
        c->persist.cb = odelete_done;
        c->persist.arg = c;
        g->persisting++;
        int16_t err = gc->env.append(gc->env.arg, g->partition, recs, k, &c->persist);
        if (err)
                odelete_done(&c->persist, err);
}

/* Kafka's expiry base of one offset of an Empty group: a group that had
 * members (a protocol type) counts from the moment it emptied, a simple
 * (commit-only) group from each offset's commit, so a simple consumer that
 * keeps committing keeps its offsets. */
static bool offset_due(const sl_group_coord *gc, const sl_group *g, const sl_goffset *o,
                       int64_t wall)
{
        int64_t base = g->protocol_type.len > 0 ? g->empty_since_ms : o->commit_ts;
        return wall - base >= gc->cfg.offsets_retention_ms;
}

/* Unlinks and frees the offsets that are due (their tombstones are written). */
static void drop_due(const sl_group_coord *gc, sl_group *g, int64_t wall)
{
        for (uint32_t i = 0; g->otab && i <= g->omask; i++) {
                for (sl_goffset **pp = &g->otab[i]; *pp;) {
                        sl_goffset *o = *pp;
                        if (!offset_due(gc, g, o, wall)) {
                                pp = &o->next;
                                continue;
                        }
                        *pp = o->next;
                        sl_gstr_free(&o->topic);
                        sl_gstr_free(&o->metadata);
                        free(o);
                        g->noffsets--;
                }
        }
}

bool sl_group_expire_offsets(sl_group_coord *gc, sl_group *g, int64_t wall)
{
        if (g->state != SL_GS_EMPTY || g->persisting || g->pending)
                return false;
        uint32_t ndue = 0;
        for (uint32_t i = 0; g->otab && i <= g->omask; i++)
                for (sl_goffset *o = g->otab[i]; o; o = o->next)
                        ndue += offset_due(gc, g, o, wall);
        bool all = ndue == g->noffsets;
        if (all && wall - g->empty_since_ms < gc->cfg.offsets_retention_ms)
                return false; /* the group itself goes retention after it emptied */
        if (!ndue && !all)
                return false;
        /* one batch of tombstones: the due offsets, then the group if none is left */
        kp_arena a;
        kp_arena_init(&a, 4096);
        int32_t n = (int32_t)ndue + 1, k = 0;
        kp_record_in *recs = kp_arena_alloc(&a, (size_t)n, sizeof(*recs));
        bool ok = recs != NULL;
        for (uint32_t i = 0; ok && g->otab && i <= g->omask; i++) {
                for (sl_goffset *o = g->otab[i]; ok && o; o = o->next) {
                        if (!offset_due(gc, g, o, wall))
                                continue;
                        size_t cap = 10 + (size_t)g->id.len + (size_t)o->topic.len;
                        uint8_t *kb = kp_arena_alloc(&a, 1, cap);
                        size_t kl =
                            kb ? sl_offsets_commit_key(kb, cap, sl_gstr_view(&g->id),
                                                       sl_gstr_view(&o->topic), o->partition)
                               : 0;
                        recs[k++] = (kp_record_in){wall, {kb, (int32_t)kl}, KP_BYTES_NULL, NULL, 0};
                        ok = kl > 0;
                }
        }
        if (ok && all) {
                size_t cap = 4 + (size_t)g->id.len;
                uint8_t *kb = kp_arena_alloc(&a, 1, cap);
                size_t kl = kb ? sl_offsets_group_key(kb, cap, sl_gstr_view(&g->id)) : 0;
                recs[k++] = (kp_record_in){wall, {kb, (int32_t)kl}, KP_BYTES_NULL, NULL, 0};
                ok = kl > 0;
        }
        if (ok)
                ok = !gc->env.append(gc->env.arg, g->partition, recs, k, NULL);
        kp_arena_release(&a);
        if (!ok)
                return false;
        if (!all) {
                drop_due(gc, g, wall);
                return false; /* still there: checked again later */
        }
        sl_group_remove(gc, g);
        return true;
}
