/* broker/group/cgroup_log.c — the __consumer_offsets records of KIP-848
 * consumer groups, in Kafka's format, and their replay at load.
 *
 * Keys are int16 version + classic (int16-length) strings; values are int16
 * version 0 then the flexible encoding (compact strings and arrays, uvarint
 * length + 1, a tagged-field count closing every struct):
 *   3 ConsumerGroupMetadata          {group}         -> Epoch int32
 *   4 ConsumerGroupPartitionMetadata {group}         -> Topics [TopicId uuid,
 *         TopicName string, NumPartitions int32, PartitionMetadata [] (empty)]
 *   5 ConsumerGroupMemberMetadata    {group, member} -> InstanceId?, RackId?,
 *         ClientId, ClientHost, SubscribedTopicNames [string],
 *         SubscribedTopicRegex?, RebalanceTimeoutMs int32, ServerAssignor?
 *   6 ConsumerGroupTargetAssignmentMetadata {group}  -> AssignmentEpoch int32
 *   7 ConsumerGroupTargetAssignmentMember {group, member} -> TopicPartitions
 *         [TopicId uuid, Partitions [int32]]
 *   8 ConsumerGroupCurrentMemberAssignment {group, member} -> MemberEpoch,
 *         PreviousMemberEpoch int32, State int8, AssignedPartitions,
 *         PartitionsPendingRevocation (as in 7)
 * A null value (tombstone) deletes. Tagged fields are skipped on read.
 * Below: each group's image of its records and the rollback to it. */
#include "cgroup.h"

#include <xxhash.h>

void sl_crecs_init(sl_crecs *r, kp_arena *a, int64_t ts)
{
        memset(r, 0, sizeof(*r));
        r->arena = a;
        r->ts = ts;
}

static kp_wr *rec_start(sl_crecs *r, kp_wr *w, size_t cap, uint8_t **buf)
{
        *buf = kp_arena_alloc(r->arena, 1, cap);
        kp_wr_init(w, *buf ? *buf : (uint8_t *)"", *buf ? cap : 0);
        if (!*buf)
                kp_wr_fail(w, "out of memory");
        return w;
}

static void rec_push(sl_crecs *r, kp_bytes key, kp_bytes val)
{
        /* an encoding that failed is empty: every value has its version */
        if (r->failed || key.len <= 0 || val.len == 0) {
                r->failed = true;
                return;
        }
        if (r->n == r->cap) {
                int32_t ncap = r->cap ? r->cap * 2 : 16;
                kp_record_in *nv = kp_arena_alloc(r->arena, (size_t)ncap, sizeof(*nv));
                if (!nv) {
                        r->failed = true;
                        return;
                }
                if (r->n)
                        memcpy(nv, r->v, (size_t)r->n * sizeof(*nv));
                r->v = nv;
                r->cap = ncap;
        }
        r->v[r->n++] = (kp_record_in){r->ts, key, val, NULL, 0};
}

static kp_bytes done_wr(kp_wr *w, uint8_t *buf)
{
        if (w->err || !buf)
                return (kp_bytes){NULL, 0};
        return (kp_bytes){buf, (int32_t)(w->p - buf)};
}

static kp_bytes key_of(sl_crecs *r, int16_t version, kp_str group, kp_str member)
{
        kp_wr w;
        uint8_t *buf;
        rec_start(r, &w, 6 + (size_t)group.len + (size_t)(member.len > 0 ? member.len : 0), &buf);
        kp_wr_i16(&w, version);
        kp_wr_string(&w, false, group);
        if (member.len >= 0)
                kp_wr_string(&w, false, member);
        return done_wr(&w, buf);
}

static size_t set_size(const sl_ctpset *s)
{
        return 8 + (size_t)s->n * (16 + 4 + 8 + 1);
}

/* [TopicId, Partitions[int32], tags] grouped by topic. */
static void wr_set(kp_wr *w, const sl_ctpset *s)
{
        int32_t ntopics = 0;
        for (int32_t i = 0; i < s->n; i++)
                if (!i || memcmp(s->v[i].topic.b, s->v[i - 1].topic.b, 16))
                        ntopics++;
        kp_wr_uvarint(w, (uint32_t)ntopics + 1);
        for (int32_t i = 0; i < s->n;) {
                int32_t j = i;
                while (j < s->n && !memcmp(s->v[j].topic.b, s->v[i].topic.b, 16))
                        j++;
                kp_wr_uuid(w, s->v[i].topic);
                kp_wr_uvarint(w, (uint32_t)(j - i) + 1);
                for (int32_t k = i; k < j; k++)
                        kp_wr_i32(w, s->v[k].part);
                kp_wr_uvarint(w, 0);
                i = j;
        }
}

static kp_bytes val_epoch(sl_crecs *r, int32_t epoch)
{
        kp_wr w;
        uint8_t *buf;
        rec_start(r, &w, 8, &buf);
        kp_wr_i16(&w, 0);
        kp_wr_i32(&w, epoch);
        kp_wr_uvarint(&w, 0);
        return done_wr(&w, buf);
}

void sl_crec_group_epoch(sl_crecs *r, kp_str group, const sl_cgroup *cg, bool tombstone)
{
        kp_bytes k = key_of(r, 3, group, KP_STR_NULL);
        rec_push(r, k, tombstone ? KP_BYTES_NULL : val_epoch(r, cg->epoch));
}

void sl_crec_assign_epoch(sl_crecs *r, kp_str group, const sl_cgroup *cg, bool tombstone)
{
        kp_bytes k = key_of(r, 6, group, KP_STR_NULL);
        rec_push(r, k, tombstone ? KP_BYTES_NULL : val_epoch(r, cg->assign_epoch));
}

void sl_crec_meta(sl_crecs *r, kp_str group, const sl_cgroup *cg, bool tombstone)
{
        kp_bytes k = key_of(r, 4, group, KP_STR_NULL);
        if (tombstone) {
                rec_push(r, k, KP_BYTES_NULL);
                return;
        }
        size_t cap = 8;
        for (int32_t i = 0; i < cg->nmeta; i++)
                cap += 16 + 5 + (size_t)cg->meta[i].name.len + 4 + 2;
        kp_wr w;
        uint8_t *buf;
        rec_start(r, &w, cap, &buf);
        kp_wr_i16(&w, 0);
        kp_wr_uvarint(&w, (uint32_t)cg->nmeta + 1);
        for (int32_t i = 0; i < cg->nmeta; i++) {
                kp_wr_uuid(&w, cg->meta[i].id);
                kp_wr_string(&w, true, sl_gstr_view(&cg->meta[i].name));
                kp_wr_i32(&w, cg->meta[i].partitions);
                kp_wr_uvarint(&w, 1); /* PartitionMetadata: empty (no racks) */
                kp_wr_uvarint(&w, 0);
        }
        kp_wr_uvarint(&w, 0);
        rec_push(r, k, done_wr(&w, buf));
}

static size_t gsz(const sl_gstr *s)
{
        return 5 + (size_t)(s->len > 0 ? s->len : 0);
}

void sl_crec_member(sl_crecs *r, kp_str group, const sl_cmember *m, bool tombstone)
{
        kp_bytes k = key_of(r, 5, group, sl_gstr_view(&m->id));
        if (tombstone) {
                rec_push(r, k, KP_BYTES_NULL);
                return;
        }
        size_t cap = 16 + gsz(&m->instance_id) + gsz(&m->rack_id) + gsz(&m->client_id) +
                     gsz(&m->client_host) + gsz(&m->regex) + gsz(&m->assignor);
        for (int32_t i = 0; i < m->ntopics; i++)
                cap += gsz(&m->topics[i]);
        kp_wr w;
        uint8_t *buf;
        rec_start(r, &w, cap, &buf);
        kp_wr_i16(&w, 0);
        kp_wr_string(&w, true, sl_gstr_view(&m->instance_id));
        kp_wr_string(&w, true, sl_gstr_view(&m->rack_id));
        kp_wr_string(&w, true, m->client_id.len >= 0 ? sl_gstr_view(&m->client_id) : kp_str_c(""));
        kp_wr_string(&w, true,
                     m->client_host.len >= 0 ? sl_gstr_view(&m->client_host) : kp_str_c(""));
        kp_wr_uvarint(&w, (uint32_t)m->ntopics + 1);
        for (int32_t i = 0; i < m->ntopics; i++)
                kp_wr_string(&w, true, sl_gstr_view(&m->topics[i]));
        kp_wr_string(&w, true, sl_gstr_view(&m->regex));
        kp_wr_i32(&w, m->rebalance_timeout_ms);
        kp_wr_string(&w, true, sl_gstr_view(&m->assignor));
        kp_wr_uvarint(&w, 0);
        rec_push(r, k, done_wr(&w, buf));
}

void sl_crec_target(sl_crecs *r, kp_str group, const sl_cmember *m, bool tombstone)
{
        kp_bytes k = key_of(r, 7, group, sl_gstr_view(&m->id));
        if (tombstone) {
                rec_push(r, k, KP_BYTES_NULL);
                return;
        }
        kp_wr w;
        uint8_t *buf;
        rec_start(r, &w, 4 + set_size(&m->target), &buf);
        kp_wr_i16(&w, 0);
        wr_set(&w, &m->target);
        kp_wr_uvarint(&w, 0);
        rec_push(r, k, done_wr(&w, buf));
}

void sl_crec_current(sl_crecs *r, kp_str group, const sl_cmember *m, bool tombstone)
{
        kp_bytes k = key_of(r, 8, group, sl_gstr_view(&m->id));
        if (tombstone) {
                rec_push(r, k, KP_BYTES_NULL);
                return;
        }
        kp_wr w;
        uint8_t *buf;
        rec_start(r, &w, 16 + set_size(&m->assigned) + set_size(&m->revoking), &buf);
        kp_wr_i16(&w, 0);
        kp_wr_i32(&w, m->epoch);
        kp_wr_i32(&w, m->prev_epoch);
        kp_wr_i8(&w, m->state);
        wr_set(&w, &m->assigned);
        wr_set(&w, &m->revoking);
        kp_wr_uvarint(&w, 0);
        rec_push(r, k, done_wr(&w, buf));
}

/* ---- replay ---- */

static void skip_tags(kp_rd *rd)
{
        uint32_t n = kp_rd_uvarint(rd, "tag count");
        for (uint32_t i = 0; i < n && !rd->err; i++) {
                (void)kp_rd_uvarint(rd, "tag");
                uint32_t len = kp_rd_uvarint(rd, "tag size");
                (void)kp_rd_take(rd, len, "tag data");
        }
}

static int rd_set(kp_rd *rd, sl_ctpset *s)
{
        sl_ctpset_clear(s);
        int32_t nt = kp_rd_array_len(rd, true, false, 18, "topics");
        for (int32_t i = 0; i < nt && !rd->err; i++) {
                kp_uuid t = kp_rd_uuid(rd, "topic id");
                int32_t np = kp_rd_array_len(rd, true, false, 4, "partitions");
                for (int32_t k = 0; k < np && !rd->err; k++)
                        if (sl_ctpset_add(s, t, kp_rd_i32(rd, "partition")))
                                return -1;
                skip_tags(rd);
        }
        return rd->err ? -1 : 0;
}

static int gset(sl_gstr *s, kp_str v)
{
        return sl_gstr_set(s, v);
}

static int apply_member(sl_cmember *m, kp_rd *rd)
{
        kp_str inst = kp_rd_string(rd, true, true, "instance id");
        kp_str rack = kp_rd_string(rd, true, true, "rack id");
        kp_str cid = kp_rd_string(rd, true, false, "client id");
        kp_str host = kp_rd_string(rd, true, false, "client host");
        int32_t nt = kp_rd_array_len(rd, true, false, 1, "topics");
        if (rd->err || gset(&m->instance_id, inst) || gset(&m->rack_id, rack) ||
            gset(&m->client_id, cid) || gset(&m->client_host, host))
                return -1;
        for (int32_t i = 0; i < m->ntopics; i++)
                sl_gstr_free(&m->topics[i]);
        free(m->topics);
        m->topics = nt > 0 ? calloc((size_t)nt, sizeof(*m->topics)) : NULL;
        m->ntopics = 0;
        if (nt > 0 && !m->topics)
                return -1;
        for (int32_t i = 0; i < nt && !rd->err; i++) {
                m->topics[i].len = -1;
                if (gset(&m->topics[i], kp_rd_string(rd, true, false, "topic")))
                        return -1;
                m->ntopics++;
        }
        kp_str re = kp_rd_string(rd, true, true, "regex");
        int32_t rto = kp_rd_i32(rd, "rebalance timeout");
        kp_str asg = kp_rd_string(rd, true, true, "assignor");
        sl_cmember_set_regex(m, NULL); /* compiled again from m->regex when resolved */
        if (rd->err || gset(&m->regex, re) || gset(&m->assignor, asg))
                return -1;
        m->rebalance_timeout_ms = rto;
        return 0;
}

/* Epochs a log may hold: -2 (static member away) up to far from overflow;
 * anything else marks the record bad (the value read is kept in range). */
static int32_t epoch_ok(int32_t e, int *rc)
{
        if (e >= SL_CG_STATIC_LEAVE_EPOCH && e <= INT32_MAX / 2)
                return e;
        *rc = -1;
        return 0;
}

static sl_cmember *member_get(sl_cgroup *cg, kp_str id)
{
        sl_cmember *m = sl_cmember_find(cg, id);
        if (m)
                return m;
        m = sl_cmember_new(id);
        if (!m)
                return NULL;
        m->next = cg->members;
        cg->members = m;
        cg->nmembers++;
        return m;
}

int sl_cgroup_replay(sl_group_coord *gc, kp_bytes key, kp_bytes value)
{
        kp_rd rd;
        if (key.len < 2)
                return -1;
        kp_rd_init(&rd, key.p, (size_t)key.len, NULL);
        int16_t kv = kp_rd_i16(&rd, "key version");
        if (kv < 3 || kv > 8)
                return 1;
        kp_str group = kp_rd_string(&rd, false, false, "group");
        kp_str member = KP_STR_NULL;
        if (kv == 5 || kv == 7 || kv == 8)
                member = kp_rd_string(&rd, false, false, "member");
        if (rd.err || group.len <= 0)
                return -1;
        sl_group *g = sl_group_find(gc, group);
        bool tomb = value.len < 0;
        if (tomb && (!g || !g->cg))
                return 0;
        if (!g) {
                g = sl_group_get_or_create(gc, group);
                if (!g)
                        return -1;
        }
        if (!g->cg && sl_cgroup_attach(g))
                return -1;
        sl_cgroup *cg = g->cg;
        if (tomb) {
                sl_cmember *m = member.len >= 0 ? sl_cmember_find(cg, member) : NULL;
                if (kv == 3 && !cg->nmembers) {
                        sl_group_remove(gc, g); /* frees g */
                        return 0;
                }
                if (kv == 4) {
                        for (int32_t i = 0; i < cg->nmeta; i++)
                                sl_gstr_free(&cg->meta[i].name);
                        cg->nmeta = 0;
                } else if (kv == 5 && m) {
                        sl_cgroup_unlink(cg, m);
                        sl_cmember_free(m);
                } else if (kv == 7 && m) {
                        sl_ctpset_clear(&m->target);
                } else if (kv == 8 && m) {
                        sl_ctpset_clear(&m->assigned);
                        sl_ctpset_clear(&m->revoking);
                        m->epoch = m->prev_epoch = 0;
                        m->state = SL_CMS_STABLE;
                }
                sl_cgroup_sync_state(gc, g);
                return 0;
        }
        kp_rd_init(&rd, value.p, (size_t)value.len, NULL);
        if (kp_rd_i16(&rd, "value version") != 0)
                return -1;
        sl_cmember *m = member.len >= 0 ? member_get(cg, member) : NULL;
        if (member.len >= 0 && !m)
                return -1;
        int rc = 0;
        switch (kv) {
        case 3:
                cg->epoch = epoch_ok(kp_rd_i32(&rd, "epoch"), &rc);
                break;
        case 6:
                cg->assign_epoch = epoch_ok(kp_rd_i32(&rd, "assignment epoch"), &rc);
                break;
        case 4: {
                int32_t n = kp_rd_array_len(&rd, true, false, 22, "topics");
                sl_cmeta *nm = n > 0 ? calloc((size_t)n, sizeof(*nm)) : NULL;
                if (n > 0 && !nm)
                        return -1;
                int32_t k = 0;
                for (; k < n && !rd.err; k++) {
                        nm[k].id = kp_rd_uuid(&rd, "topic id");
                        nm[k].name.len = -1;
                        rc |= gset(&nm[k].name, kp_rd_string(&rd, true, false, "topic"));
                        nm[k].partitions = kp_rd_i32(&rd, "partitions");
                        int32_t np = kp_rd_array_len(&rd, true, false, 5, "partition metadata");
                        for (int32_t i = 0; i < np && !rd.err; i++) {
                                (void)kp_rd_i32(&rd, "partition");
                                int32_t nr = kp_rd_array_len(&rd, true, false, 1, "racks");
                                for (int32_t j = 0; j < nr && !rd.err; j++)
                                        (void)kp_rd_string(&rd, true, false, "rack");
                                skip_tags(&rd);
                        }
                        skip_tags(&rd);
                }
                if (rd.err || rc) {
                        for (int32_t i = 0; i < k; i++)
                                sl_gstr_free(&nm[i].name);
                        free(nm);
                        return -1;
                }
                for (int32_t i = 0; i < cg->nmeta; i++)
                        sl_gstr_free(&cg->meta[i].name);
                free(cg->meta);
                cg->meta = nm;
                cg->nmeta = n > 0 ? n : 0;
                break;
        }
        case 5:
                rc = apply_member(m, &rd);
                break;
        case 7:
                rc = rd_set(&rd, &m->target);
                break;
        case 8:
                m->epoch = epoch_ok(kp_rd_i32(&rd, "member epoch"), &rc);
                m->prev_epoch = epoch_ok(kp_rd_i32(&rd, "previous epoch"), &rc);
                m->state = kp_rd_i8(&rd, "state");
                if (m->state < SL_CMS_STABLE || m->state > SL_CMS_UNRELEASED)
                        m->state = SL_CMS_UNRELEASED; /* unknown: reconciled again */
                rc |= rd_set(&rd, &m->assigned) || rd_set(&rd, &m->revoking);
                break;
        }
        skip_tags(&rd);
        sl_cgroup_sync_state(gc, g);
        return rc || rd.err ? -1 : 0;
}

/* ---- the image: what the log holds of each consumer group, and the
 * rollback to it ----
 *
 * Kafka applies a consumer group change in memory and reverts it when the
 * records cannot be written. Here every consumer group keeps an image of its
 * records in __consumer_offsets: the last value of each key (versions 3-8),
 * filled at load and after every append that went into the log, a tombstone
 * removing its key. When a change's records do not reach the log (the append
 * is refused, or they could not be built), the group is rebuilt from the
 * image exactly as a restart would replay it, so memory never runs ahead of
 * the log. The image costs about the size of the group's live records; a
 * group whose image could not be kept (out of memory) is not rolled back. */

typedef struct sl_cimg_ent {
        struct sl_cimg_ent *next;
        uint64_t hash;
        int32_t klen, vlen;
        uint8_t data[]; /* key, then value */
} sl_cimg_ent;

typedef struct sl_cimage {
        sl_cimg_ent **tab;
        uint32_t mask; /* buckets - 1 */
        uint32_t n;
        bool broken; /* a record could not be kept: no rollback */
} sl_cimage;

static int16_t key_version(kp_bytes key)
{
        if (key.len < 2)
                return -1;
        return (int16_t)((uint16_t)key.p[0] << 8 | key.p[1]);
}

static int grow(sl_cimage *im)
{
        uint32_t nb = im->tab ? (im->mask + 1) * 2 : 16;
        sl_cimg_ent **t = calloc(nb, sizeof(*t));
        if (!t)
                return -1;
        for (uint32_t i = 0; im->tab && i <= im->mask; i++) {
                for (sl_cimg_ent *e = im->tab[i], *nx; e; e = nx) {
                        nx = e->next;
                        e->next = t[e->hash & (nb - 1)];
                        t[e->hash & (nb - 1)] = e;
                }
        }
        free(im->tab);
        im->tab = t;
        im->mask = nb - 1;
        return 0;
}

void sl_cimage_free(sl_group *g)
{
        sl_cimage *im = g->cimg;
        if (!im)
                return;
        for (uint32_t i = 0; im->tab && i <= im->mask; i++) {
                for (sl_cimg_ent *e = im->tab[i], *nx; e; e = nx) {
                        nx = e->next;
                        free(e);
                }
        }
        free(im->tab);
        free(im);
        g->cimg = NULL;
}

/* Sets key to value in g's image (value null: removes key). */
static void put(sl_group *g, kp_bytes key, kp_bytes value)
{
        if (!g->cimg) {
                if (value.len < 0)
                        return;
                g->cimg = calloc(1, sizeof(*g->cimg));
                if (!g->cimg) {
                        g->cimg_lost = true; /* none would roll back too far */
                        return;
                }
        }
        sl_cimage *im = g->cimg;
        if (im->broken)
                return;
        uint64_t h = XXH3_64bits(key.p, (size_t)key.len);
        sl_cimg_ent **pp = im->tab ? &im->tab[h & im->mask] : NULL;
        for (; pp && *pp; pp = &(*pp)->next) {
                sl_cimg_ent *e = *pp;
                if (e->hash == h && e->klen == key.len && !memcmp(e->data, key.p, (size_t)key.len))
                        break;
        }
        sl_cimg_ent *old = pp ? *pp : NULL;
        if (old) {
                *pp = old->next;
                free(old);
                im->n--;
        }
        if (value.len < 0)
                return;
        if ((!im->tab || im->n >= im->mask + 1) && grow(im))
                goto broken;
        sl_cimg_ent *e = malloc(sizeof(*e) + (size_t)key.len + (size_t)value.len);
        if (!e)
                goto broken;
        e->hash = h;
        e->klen = key.len;
        e->vlen = value.len;
        memcpy(e->data, key.p, (size_t)key.len);
        if (value.len)
                memcpy(e->data + key.len, value.p, (size_t)value.len);
        e->next = im->tab[h & im->mask];
        im->tab[h & im->mask] = e;
        im->n++;
        return;
broken:
        im->broken = true;
}

void sl_cimage_apply(sl_group *g, const kp_record_in *recs, int32_t n)
{
        for (int32_t i = 0; i < n; i++) {
                int16_t kv = key_version(recs[i].key);
                if (kv >= 3 && kv <= 8)
                        put(g, recs[i].key, recs[i].value);
        }
}

void sl_cimage_replayed(sl_group_coord *gc, kp_bytes key, kp_bytes value)
{
        kp_rd rd;
        kp_rd_init(&rd, key.p, (size_t)key.len, NULL);
        (void)kp_rd_i16(&rd, "key version");
        kp_str group = kp_rd_string(&rd, false, false, "group");
        sl_group *g = rd.err ? NULL : sl_group_find(gc, group);
        if (g)
                put(g, key, value);
}

bool sl_cgroup_rollback(sl_group_coord *gc, sl_group *g)
{
        sl_cimage *im = g->cimg;
        if (g->cimg_lost || (im && im->broken))
                return false;
        sl_cgroup_free(g->cg);
        g->cg = NULL;
        if (!im || !im->n) {
                /* never in the log as a consumer group: the Empty group it
                 * was (a classic one keeps its offsets) */
                if (g->state != SL_GS_EMPTY)
                        sl_group_set_state(gc, g, SL_GS_EMPTY);
                return true;
        }
        /* replay the image as a load would (sl_cgroup_replay finds g by the
         * group id of each key and rebuilds g->cg) */
        for (uint32_t i = 0; i <= im->mask; i++) {
                for (sl_cimg_ent *e = im->tab[i]; e; e = e->next) {
                        kp_bytes k = {e->data, e->klen};
                        kp_bytes v = {e->data + e->klen, e->vlen};
                        (void)sl_cgroup_replay(gc, k, v);
                }
        }
        if (!g->cg)
                return true;
        /* as after a load: regexes resolved, fresh sessions */
        sl_cgroup_resolve(gc, g->cg);
        int64_t now = sl_group_now(gc);
        int32_t st = gc->cfg.cg_session_timeout_ms > 0 ? gc->cfg.cg_session_timeout_ms : 45000;
        for (sl_cmember *m = g->cg->members; m; m = m->next) {
                m->session_deadline_ms = now + st;
                sl_group_arm(gc, m->session_deadline_ms);
                m->rebalance_deadline_ms = 0;
                if (m->state == SL_CMS_UNREVOKED) {
                        m->rebalance_deadline_ms =
                            now + (m->rebalance_timeout_ms > 0 ? m->rebalance_timeout_ms : 0);
                        sl_group_arm(gc, m->rebalance_deadline_ms);
                }
        }
        sl_cgroup_sync_state(gc, g);
        return true;
}
