/* broker/group/offsets_log.c — the record format of __consumer_offsets.
 *
 * Kafka-compatible (the schemas of Kafka's group coordinator, which are not in
 * the protocol specs): every record is a key and a value, big-endian, strings
 * as int16 length + bytes (-1 = null), bytes as int32 length + bytes.
 *
 *   OffsetCommitKey   : int16 version (1; 0 read too) | string group |
 *                       string topic | int32 partition
 *   OffsetCommitValue : int16 version (3 written; 0-3 read)
 *                       v0: int64 offset | string metadata | int64 commit_ts
 *                       v1: v0 + int64 expire_ts (ignored)
 *                       v2: as v0
 *                       v3: int64 offset | int32 leader_epoch | string metadata
 *                           | int64 commit_ts
 *   GroupMetadataKey  : int16 version (2) | string group
 *   GroupMetadataValue: int16 version (3 written; 1-3 read)
 *                       string protocol_type | int32 generation |
 *                       nullable string protocol | nullable string leader |
 *                       [v2+] int64 state_ts | int32 count, then per member:
 *                       string member_id | [v3+] nullable string instance_id |
 *                       string client_id | string client_host |
 *                       [v1+] int32 rebalance_timeout | int32 session_timeout |
 *                       bytes subscription | bytes assignment
 * Validity: 1. a key shorter than its fields is skipped; 2. a null value
 * (tombstone) deletes the offset or the group; 3. an unknown version or
 * trailing garbage in a value skips the record; 4. replay order is log order,
 * the last record of a key wins (what compaction would keep).
 * At the end: sl_group_store, which writes a group's metadata record. */
#include "group_int.h"

static size_t str_size(kp_str s)
{
        return 2 + (s.len > 0 ? (size_t)s.len : 0);
}

size_t sl_offsets_commit_key(uint8_t *buf, size_t cap, kp_str group, kp_str topic,
                             int32_t partition)
{
        kp_wr w;
        kp_wr_init(&w, buf, cap);
        kp_wr_i16(&w, 1);
        kp_wr_string(&w, false, group);
        kp_wr_string(&w, false, topic);
        kp_wr_i32(&w, partition);
        return w.err ? 0 : (size_t)(w.p - buf);
}

size_t sl_offsets_commit_value(uint8_t *buf, size_t cap, int64_t offset, int32_t leader_epoch,
                               kp_str metadata, int64_t commit_ts)
{
        kp_wr w;
        kp_wr_init(&w, buf, cap);
        kp_wr_i16(&w, 3);
        kp_wr_i64(&w, offset);
        kp_wr_i32(&w, leader_epoch);
        kp_wr_string(&w, false, metadata.len < 0 ? kp_str_c("") : metadata);
        kp_wr_i64(&w, commit_ts);
        return w.err ? 0 : (size_t)(w.p - buf);
}

size_t sl_offsets_group_key(uint8_t *buf, size_t cap, kp_str group)
{
        kp_wr w;
        kp_wr_init(&w, buf, cap);
        kp_wr_i16(&w, 2);
        kp_wr_string(&w, false, group);
        return w.err ? 0 : (size_t)(w.p - buf);
}

/* The selected protocol's metadata of m (its subscription). */
static kp_bytes member_subscription(const sl_group *g, const sl_member *m)
{
        for (int32_t i = 0; i < m->nprotos; i++)
                if (g->protocol.len >= 0 &&
                    sl_gstr_eq(&m->protos[i].name, sl_gstr_view(&g->protocol)))
                        return (kp_bytes){m->protos[i].meta, m->protos[i].meta_len};
        return (kp_bytes){NULL, 0};
}

size_t sl_offsets_group_value(uint8_t *buf, size_t cap, const sl_group *g, int64_t wall)
{
        kp_str ptype = g->protocol_type.len < 0 ? kp_str_c("") : sl_gstr_view(&g->protocol_type);
        size_t need = 2 + str_size(ptype) + 4 + str_size(sl_gstr_view(&g->protocol)) +
                      str_size(sl_gstr_view(&g->leader)) + 8 + 4;
        for (const sl_member *m = g->members; m; m = m->next) {
                kp_bytes sub = member_subscription(g, m);
                need += str_size(sl_gstr_view(&m->id)) + str_size(sl_gstr_view(&m->instance_id)) +
                        str_size(sl_gstr_view(&m->client_id)) +
                        str_size(sl_gstr_view(&m->client_host)) + 4 + 4 + 4 +
                        (size_t)(sub.len > 0 ? sub.len : 0) + 4 +
                        (size_t)(m->assignment_len > 0 ? m->assignment_len : 0);
        }
        if (need > cap)
                return need;
        kp_wr w;
        kp_wr_init(&w, buf, cap);
        kp_wr_i16(&w, 3);
        kp_wr_string(&w, false, ptype);
        kp_wr_i32(&w, g->generation);
        kp_wr_string(&w, false, sl_gstr_view(&g->protocol));
        kp_wr_string(&w, false, sl_gstr_view(&g->leader));
        kp_wr_i64(&w, wall);
        kp_wr_i32(&w, g->nmembers);
        for (const sl_member *m = g->members; m; m = m->next) {
                kp_wr_string(&w, false, sl_gstr_view(&m->id));
                kp_wr_string(&w, false, sl_gstr_view(&m->instance_id));
                kp_wr_string(&w, false, sl_gstr_view(&m->client_id));
                kp_wr_string(&w, false, sl_gstr_view(&m->client_host));
                kp_wr_i32(&w, m->rebalance_timeout_ms);
                kp_wr_i32(&w, m->session_timeout_ms);
                kp_wr_bytes(&w, false, member_subscription(g, m));
                kp_wr_bytes(&w, false,
                            (kp_bytes){m->assignment, m->assignment ? m->assignment_len : 0});
        }
        return w.err ? 0 : (size_t)(w.p - buf);
}

int sl_offsets_key_parse(kp_bytes key, sl_offsets_key *out)
{
        kp_rd rd;
        if (key.len < 2)
                return -1;
        kp_rd_init(&rd, key.p, (size_t)key.len, NULL);
        memset(out, 0, sizeof(*out));
        out->version = kp_rd_i16(&rd, "key version");
        out->group = kp_rd_string(&rd, false, false, "group");
        if (out->version == 0 || out->version == 1) {
                out->topic = kp_rd_string(&rd, false, false, "topic");
                out->partition = kp_rd_i32(&rd, "partition");
        } else if (out->version != 2) {
                return -1;
        }
        return rd.err ? -1 : 0;
}

int sl_offsets_commit_parse(kp_bytes value, sl_offsets_commit *out)
{
        kp_rd rd;
        if (value.len < 2)
                return -1;
        kp_rd_init(&rd, value.p, (size_t)value.len, NULL);
        int16_t v = kp_rd_i16(&rd, "value version");
        if (v < 0 || v > 3)
                return -1;
        out->offset = kp_rd_i64(&rd, "offset");
        out->leader_epoch = v >= 3 ? kp_rd_i32(&rd, "leader epoch") : -1;
        out->metadata = kp_rd_string(&rd, false, true, "metadata");
        out->commit_ts = kp_rd_i64(&rd, "commit timestamp");
        if (v == 1)
                (void)kp_rd_i64(&rd, "expire timestamp");
        return rd.err || kp_rd_left(&rd) ? -1 : 0;
}

static int gstr_from(sl_gstr *s, kp_str v)
{
        return sl_gstr_set(s, v);
}

int sl_offsets_group_apply(sl_group *g, kp_bytes value)
{
        kp_rd rd;
        if (value.len < 2)
                return -1;
        kp_rd_init(&rd, value.p, (size_t)value.len, NULL);
        int16_t v = kp_rd_i16(&rd, "value version");
        if (v < 0 || v > 3)
                return -1;
        kp_str ptype = kp_rd_string(&rd, false, false, "protocol type");
        int32_t gen = kp_rd_i32(&rd, "generation");
        kp_str proto = kp_rd_string(&rd, false, true, "protocol");
        kp_str leader = kp_rd_string(&rd, false, true, "leader");
        int64_t ts = v >= 2 ? kp_rd_i64(&rd, "state timestamp") : -1;
        int32_t n = kp_rd_i32(&rd, "members");
        if (rd.err || n < 0 || (size_t)n > kp_rd_left(&rd) / 16 + 1)
                return -1;
        /* parse everything before changing g */
        sl_member *head = NULL, **tail = &head;
        int32_t count = 0;
        for (int32_t i = 0; i < n; i++) {
                kp_str id = kp_rd_string(&rd, false, false, "member id");
                kp_str inst = v >= 3 ? kp_rd_string(&rd, false, true, "instance id") : KP_STR_NULL;
                kp_str cid = kp_rd_string(&rd, false, false, "client id");
                kp_str host = kp_rd_string(&rd, false, false, "client host");
                int32_t rto = v >= 1 ? kp_rd_i32(&rd, "rebalance timeout") : 0;
                int32_t sto = kp_rd_i32(&rd, "session timeout");
                kp_bytes sub = kp_rd_bytes(&rd, false, false, "subscription");
                kp_bytes asg = kp_rd_bytes(&rd, false, false, "assignment");
                if (rd.err)
                        break;
                sl_member *m = calloc(1, sizeof(*m));
                if (!m)
                        goto fail;
                *tail = m;
                tail = &m->next;
                count++;
                m->protos = calloc(1, sizeof(*m->protos));
                if (!m->protos || gstr_from(&m->id, id) || gstr_from(&m->instance_id, inst) ||
                    gstr_from(&m->client_id, cid) || gstr_from(&m->client_host, host) ||
                    gstr_from(&m->protos[0].name, proto.len < 0 ? kp_str_c("") : proto))
                        goto fail;
                m->nprotos = 1;
                m->session_timeout_ms = sto;
                m->rebalance_timeout_ms = v >= 1 ? rto : sto;
                if (sub.len > 0) {
                        m->protos[0].meta = malloc((size_t)sub.len);
                        if (!m->protos[0].meta)
                                goto fail;
                        memcpy(m->protos[0].meta, sub.p, (size_t)sub.len);
                        m->protos[0].meta_len = sub.len;
                }
                if (asg.len > 0) {
                        m->assignment = malloc((size_t)asg.len);
                        if (!m->assignment)
                                goto fail;
                        memcpy(m->assignment, asg.p, (size_t)asg.len);
                        m->assignment_len = asg.len;
                }
        }
        if (rd.err || kp_rd_left(&rd))
                goto fail;
        sl_gstr np = {0}, nl = {0}, nt = {0};
        if (gstr_from(&nt, ptype) || gstr_from(&np, proto) || gstr_from(&nl, leader)) {
                sl_gstr_free(&nt);
                sl_gstr_free(&np);
                sl_gstr_free(&nl);
                goto fail;
        }
        while (g->members) {
                sl_member *m = g->members;
                g->members = m->next;
                sl_member_free(m);
        }
        sl_gstr_free(&g->protocol_type);
        sl_gstr_free(&g->protocol);
        sl_gstr_free(&g->leader);
        g->protocol_type = nt;
        g->protocol = np;
        g->leader = nl;
        g->generation = gen;
        g->members = head;
        g->nmembers = count;
        g->state = count ? SL_GS_STABLE : SL_GS_EMPTY;
        g->state_ts = ts;
        return 0;
fail:
        while (head) {
                sl_member *m = head;
                head = m->next;
                sl_member_free(m);
        }
        return -1;
}

/* ---- writing a group's metadata record ---- */

static void store_done(sl_group_persist *p, int16_t err)
{
        (void)err;
        sl_group_unref(p->arg);
}

int16_t sl_group_store(sl_group_coord *gc, sl_group *g, sl_group_persist *p)
{
        int64_t wall = sl_group_wall(gc);
        size_t need = sl_offsets_group_value(NULL, 0, g, wall);
        size_t klen = 4 + (size_t)g->id.len;
        uint8_t *buf = malloc(need + klen);
        if (!buf)
                return KP_ERR_UNKNOWN_SERVER_ERROR;
        size_t vl = sl_offsets_group_value(buf, need, g, wall);
        size_t kl = sl_offsets_group_key(buf + need, klen, sl_gstr_view(&g->id));
        kp_record_in r = {wall, {buf + need, (int32_t)kl}, {buf, (int32_t)vl}, NULL, 0};
        int16_t err = KP_ERR_UNKNOWN_SERVER_ERROR;
        if (vl && kl) {
                if (!p) {
                        p = &g->gm_persist;
                        /* fire and forget, but keep g alive until the sync */
                        if (g->persisting) {
                                err = gc->env.append(gc->env.arg, g->partition, &r, 1, NULL);
                                free(buf);
                                return err;
                        }
                        p->cb = store_done;
                        p->arg = g;
                }
                g->persisting++; /* before: p->cb may run inside append */
                err = gc->env.append(gc->env.arg, g->partition, &r, 1, p);
                if (err)
                        g->persisting--;
        }
        free(buf);
        return err;
}
