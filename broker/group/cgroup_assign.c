/* broker/group/cgroup_assign.c — server-side assignors of KIP-848 consumer
 * groups and the sorted topic-partition sets they work on.
 *
 * "uniform" (Kafka's default) balances every member's partition count within
 * one while keeping partitions where they are: each member first keeps the
 * partitions of its previous target it is still subscribed to, the rest go to
 * the least loaded subscriber, then partitions move from the most to the least
 * loaded subscriber until no move narrows the gap. "range" gives each topic's
 * partitions in contiguous ranges to its subscribers sorted by member id (the
 * first partitions % members get one more), like the client-side range
 * assignor. Both are deterministic; groups are small, so plain arrays. */
#include "cgroup.h"

const char *const SL_CG_ASSIGNORS[2] = {"uniform", "range"};

int sl_cg_assignor_index(kp_str name)
{
        for (int i = 0; i < 2; i++)
                if (kp_str_eq(name, kp_str_c(SL_CG_ASSIGNORS[i])))
                        return i;
        return -1;
}

static int ctp_cmp(kp_uuid t, int32_t p, const sl_ctp *b)
{
        int c = memcmp(t.b, b->topic.b, 16);
        if (c)
                return c;
        return p < b->part ? -1 : p > b->part;
}

/* Index of (t, p) or of where it would go (*found false). */
static int32_t ctp_pos(const sl_ctpset *s, kp_uuid t, int32_t p, bool *found)
{
        int32_t lo = 0, hi = s->n;
        while (lo < hi) {
                int32_t mid = (lo + hi) / 2;
                int c = ctp_cmp(t, p, &s->v[mid]);
                if (!c) {
                        *found = true;
                        return mid;
                }
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        *found = false;
        return lo;
}

void sl_ctpset_free(sl_ctpset *s)
{
        free(s->v);
        s->v = NULL;
        s->n = s->cap = 0;
}

void sl_ctpset_clear(sl_ctpset *s)
{
        s->n = 0;
}

bool sl_ctpset_has(const sl_ctpset *s, kp_uuid topic, int32_t part)
{
        bool found;
        ctp_pos(s, topic, part, &found);
        return found;
}

int sl_ctpset_add(sl_ctpset *s, kp_uuid topic, int32_t part)
{
        bool found;
        int32_t i = ctp_pos(s, topic, part, &found);
        if (found)
                return 0;
        if (s->n == s->cap) {
                int32_t ncap = s->cap ? s->cap * 2 : 8;
                sl_ctp *nv = realloc(s->v, (size_t)ncap * sizeof(*nv));
                if (!nv)
                        return -1;
                s->v = nv;
                s->cap = ncap;
        }
        memmove(&s->v[i + 1], &s->v[i], (size_t)(s->n - i) * sizeof(*s->v));
        s->v[i] = (sl_ctp){topic, part};
        s->n++;
        return 0;
}

int sl_ctpset_copy(sl_ctpset *dst, const sl_ctpset *src)
{
        if (dst == src)
                return 0;
        if (src->n > dst->cap) {
                sl_ctp *nv = realloc(dst->v, (size_t)src->n * sizeof(*nv));
                if (!nv)
                        return -1;
                dst->v = nv;
                dst->cap = src->n;
        }
        if (src->n)
                memcpy(dst->v, src->v, (size_t)src->n * sizeof(*src->v));
        dst->n = src->n;
        return 0;
}

bool sl_ctpset_eq(const sl_ctpset *a, const sl_ctpset *b)
{
        return a->n == b->n && (!a->n || !memcmp(a->v, b->v, (size_t)a->n * sizeof(*a->v)));
}

/* ---- assignment ---- */

typedef struct actx {
        sl_cgroup *cg;
        sl_cmember **mem; /* members sorted by id */
        int32_t nmem;
        bool *sub;     /* sub[m * nmeta + t]: member m subscribes to meta topic t */
        int32_t *base; /* first global partition index of meta topic t */
        int32_t total; /* partitions of every subscribed topic */
        int32_t *owner;
        int32_t *count;
} actx;

static int member_cmp(const void *a, const void *b)
{
        const sl_cmember *x = *(sl_cmember *const *)a, *y = *(sl_cmember *const *)b;
        return strcmp(x->id.p ? x->id.p : "", y->id.p ? y->id.p : "");
}

static bool in_sorted(const sl_gstr *v, int32_t n, kp_str topic)
{
        int32_t lo = 0, hi = n;
        while (lo < hi) {
                int32_t mid = (lo + hi) / 2;
                kp_str t = sl_gstr_view(&v[mid]);
                int32_t n = t.len < topic.len ? t.len : topic.len;
                int c = memcmp(t.p, topic.p, (size_t)n);
                if (!c)
                        c = t.len < topic.len ? -1 : t.len > topic.len;
                if (!c)
                        return true;
                if (c > 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return false;
}

bool sl_cmember_subscribes(const sl_cmember *m, kp_str topic)
{
        return in_sorted(m->topics, m->ntopics, topic) || in_sorted(m->rtopics, m->nrtopics, topic);
}

static int32_t meta_of(const sl_cgroup *cg, kp_uuid id)
{
        for (int32_t t = 0; t < cg->nmeta; t++)
                if (!memcmp(cg->meta[t].id.b, id.b, 16))
                        return t;
        return -1;
}

static void topic_of(const actx *a, int32_t gp, int32_t *t, int32_t *p)
{
        int32_t k = 0;
        while (k + 1 < a->cg->nmeta && a->base[k + 1] <= gp)
                k++;
        *t = k;
        *p = gp - a->base[k];
}

/* The least loaded subscriber of meta topic t (lowest id on ties), -1. */
static int32_t least_loaded(const actx *a, int32_t t)
{
        int32_t best = -1;
        for (int32_t m = 0; m < a->nmem; m++)
                if (a->sub[(size_t)m * (size_t)a->cg->nmeta + (size_t)t] &&
                    (best < 0 || a->count[m] < a->count[best]))
                        best = m;
        return best;
}

static void uniform(actx *a)
{
        sl_cgroup *cg = a->cg;
        /* 1. stickiness: keep what each member had and may still have */
        for (int32_t m = 0; m < a->nmem; m++) {
                const sl_ctpset *old = &a->mem[m]->target;
                for (int32_t i = 0; i < old->n; i++) {
                        int32_t t = meta_of(cg, old->v[i].topic);
                        if (t < 0 || old->v[i].part < 0 ||
                            old->v[i].part >= cg->meta[t].partitions ||
                            !a->sub[(size_t)m * (size_t)cg->nmeta + (size_t)t])
                                continue;
                        int32_t gp = a->base[t] + old->v[i].part;
                        if (a->owner[gp] < 0) {
                                a->owner[gp] = m;
                                a->count[m]++;
                        }
                }
        }
        /* 2. the rest to the least loaded subscriber */
        for (int32_t gp = 0; gp < a->total; gp++) {
                if (a->owner[gp] >= 0)
                        continue;
                int32_t t, p;
                topic_of(a, gp, &t, &p);
                int32_t m = least_loaded(a, t);
                if (m >= 0) {
                        a->owner[gp] = m;
                        a->count[m]++;
                }
        }
        /* 3. balance: move from a member to a subscriber holding two fewer */
        bool moved = true;
        while (moved) {
                moved = false;
                for (int32_t gp = a->total - 1; gp >= 0; gp--) {
                        int32_t from = a->owner[gp], t, p;
                        if (from < 0)
                                continue;
                        topic_of(a, gp, &t, &p);
                        int32_t to = least_loaded(a, t);
                        if (to >= 0 && a->count[to] + 1 < a->count[from]) {
                                a->owner[gp] = to;
                                a->count[from]--;
                                a->count[to]++;
                                moved = true;
                        }
                }
        }
}

static void range(actx *a)
{
        sl_cgroup *cg = a->cg;
        for (int32_t t = 0; t < cg->nmeta; t++) {
                int32_t k = 0;
                for (int32_t m = 0; m < a->nmem; m++)
                        k += a->sub[(size_t)m * (size_t)cg->nmeta + (size_t)t];
                if (!k)
                        continue;
                int32_t n = cg->meta[t].partitions, each = n / k, extra = n % k, next = 0, i = 0;
                for (int32_t m = 0; m < a->nmem; m++) {
                        if (!a->sub[(size_t)m * (size_t)cg->nmeta + (size_t)t])
                                continue;
                        int32_t take = each + (i++ < extra ? 1 : 0);
                        for (int32_t j = 0; j < take; j++)
                                a->owner[a->base[t] + next++] = m;
                }
        }
}

int sl_cgroup_assign(sl_cgroup *cg, const char *assignor)
{
        actx a = {.cg = cg, .nmem = cg->nmembers};
        int rc = -1;
        size_t nm = (size_t)(a.nmem > 0 ? a.nmem : 1), nt = (size_t)(cg->nmeta > 0 ? cg->nmeta : 1);
        a.mem = calloc(nm, sizeof(*a.mem));
        a.sub = calloc(nm * nt, sizeof(*a.sub));
        a.base = calloc(nt, sizeof(*a.base));
        a.count = calloc(nm, sizeof(*a.count));
        if (!a.mem || !a.sub || !a.base || !a.count)
                goto out;
        int32_t i = 0;
        for (sl_cmember *m = cg->members; m; m = m->next)
                a.mem[i++] = m;
        qsort(a.mem, (size_t)a.nmem, sizeof(*a.mem), member_cmp);
        for (int32_t t = 0; t < cg->nmeta; t++) {
                a.base[t] = a.total;
                a.total += cg->meta[t].partitions;
                for (int32_t m = 0; m < a.nmem; m++)
                        a.sub[(size_t)m * nt + (size_t)t] =
                            sl_cmember_subscribes(a.mem[m], sl_gstr_view(&cg->meta[t].name));
        }
        a.owner = malloc((size_t)(a.total > 0 ? a.total : 1) * sizeof(*a.owner));
        if (!a.owner)
                goto out;
        for (int32_t gp = 0; gp < a.total; gp++)
                a.owner[gp] = -1;
        if (!strcmp(assignor, "range"))
                range(&a);
        else
                uniform(&a);
        for (int32_t m = 0; m < a.nmem; m++)
                sl_ctpset_clear(&a.mem[m]->target);
        for (int32_t gp = 0; gp < a.total; gp++) {
                if (a.owner[gp] < 0)
                        continue;
                int32_t t, p;
                topic_of(&a, gp, &t, &p);
                if (sl_ctpset_add(&a.mem[a.owner[gp]]->target, cg->meta[t].id, p))
                        goto out;
        }
        rc = 0;
out:
        free(a.mem);
        free(a.sub);
        free(a.base);
        free(a.count);
        free(a.owner);
        return rc;
}
