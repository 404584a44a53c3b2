/* broker/group/cgroup_describe.c — ConsumerGroupDescribe (KIP-848) of one
 * group on its coordinator: the group and assignment epochs, the assignor
 * the next target would use, its state (Empty, Assigning, Reconciling,
 * Stable), and every member with its subscription, current assignment and
 * target assignment, topic names resolved from the topic ids. A group that
 * does not exist or is a classic group is GROUP_ID_NOT_FOUND, as Kafka
 * answers. Authorized operations are not computed (no ACLs). */
#include "cgroup.h"

typedef kp_consumer_group_describe_response_described_group cgd_group;
typedef kp_consumer_group_describe_response_member cgd_member;
typedef kp_consumer_group_describe_response_assignment cgd_assignment;

/* s grouped by topic, with names; -1 when out of memory. */
static int fill_assignment(sl_group_coord *gc, sl_group_call *c, const sl_ctpset *s,
                           cgd_assignment *out)
{
        kp_consumer_group_describe_response_assignment_init(out);
        int32_t nt = 0;
        for (int32_t i = 0; i < s->n; i++)
                if (!i || memcmp(s->v[i].topic.b, s->v[i - 1].topic.b, 16))
                        nt++;
        if (!nt)
                return 0;
        kp_consumer_group_describe_response_topic_partitions *tp =
            kp_arena_alloc(&c->arena, (size_t)nt, sizeof(*tp));
        int32_t *parts = kp_arena_alloc(&c->arena, (size_t)s->n, sizeof(*parts));
        if (!tp || !parts)
                return -1;
        int32_t t = -1;
        for (int32_t i = 0; i < s->n; i++) {
                if (!i || memcmp(s->v[i].topic.b, s->v[i - 1].topic.b, 16)) {
                        t++;
                        kp_consumer_group_describe_response_topic_partitions_init(&tp[t]);
                        tp[t].topic_id = s->v[i].topic;
                        kp_str name = {"", 0};
                        if (gc->env.topic_by_id &&
                            gc->env.topic_by_id(gc->env.arg, s->v[i].topic, &name) == 0)
                                name = sl_group_call_str(c, name);
                        else
                                name = (kp_str){"", 0};
                        tp[t].topic_name = name;
                        tp[t].partitions = &parts[i];
                        tp[t].partitions_count = 0;
                }
                parts[i] = s->v[i].part;
                tp[t].partitions_count++;
        }
        out->topic_partitions = tp;
        out->topic_partitions_count = nt;
        return 0;
}

static int fill_member(sl_group_coord *gc, sl_group_call *c, const sl_cmember *m, cgd_member *d)
{
        kp_consumer_group_describe_response_member_init(d);
        d->member_id = sl_group_call_str(c, sl_gstr_view(&m->id));
        d->instance_id = sl_group_call_str(c, sl_gstr_view(&m->instance_id));
        d->rack_id = sl_group_call_str(c, sl_gstr_view(&m->rack_id));
        d->member_epoch = m->epoch;
        d->client_id = m->client_id.len >= 0 ? sl_group_call_str(c, sl_gstr_view(&m->client_id))
                                             : (kp_str){"", 0};
        d->client_host = m->client_host.len >= 0
                             ? sl_group_call_str(c, sl_gstr_view(&m->client_host))
                             : (kp_str){"", 0};
        d->subscribed_topic_regex = sl_group_call_str(c, sl_gstr_view(&m->regex));
        d->subscribed_topic_names_count = 0;
        if (m->ntopics) {
                d->subscribed_topic_names =
                    kp_arena_alloc(&c->arena, (size_t)m->ntopics, sizeof(kp_str));
                if (!d->subscribed_topic_names)
                        return -1;
                for (int32_t i = 0; i < m->ntopics; i++)
                        d->subscribed_topic_names[i] =
                            sl_group_call_str(c, sl_gstr_view(&m->topics[i]));
                d->subscribed_topic_names_count = m->ntopics;
        }
        if (fill_assignment(gc, c, &m->assigned, &d->assignment) ||
            fill_assignment(gc, c, &m->target, &d->target_assignment))
                return -1;
        return 0;
}

void sl_cgroup_describe(sl_group_coord *gc, sl_group_call *c)
{
        cgd_group *d = c->rs;
        d->group_id = c->group_id;
        d->group_state = (kp_str){"", 0};
        d->assignor_name = (kp_str){"", 0};
        d->members_count = 0;
        sl_group *g = sl_group_find(gc, c->group_id);
        if (!g || !g->cg) {
                d->error_code = KP_ERR_GROUP_ID_NOT_FOUND;
                d->error_message =
                    kp_str_c(g ? "Group is not a consumer group." : "Group not found.");
                sl_group_call_finish(c);
                return;
        }
        sl_cgroup *cg = g->cg;
        d->group_state = kp_str_c(sl_cgroup_state_name(sl_cgroup_state(cg)));
        d->group_epoch = cg->epoch;
        d->assignment_epoch = cg->assign_epoch;
        d->assignor_name = kp_str_c(sl_cgroup_assignor(gc, cg));
        if (cg->nmembers) {
                d->members = kp_arena_alloc(&c->arena, (size_t)cg->nmembers, sizeof(*d->members));
                if (!d->members)
                        goto oom;
                int32_t i = 0;
                for (sl_cmember *m = cg->members; m; m = m->next)
                        if (fill_member(gc, c, m, &d->members[i++]))
                                goto oom;
                d->members_count = i;
        }
        sl_group_call_finish(c);
        return;
oom:
        d->error_code = KP_ERR_UNKNOWN_SERVER_ERROR;
        d->members_count = 0;
        sl_group_call_finish(c);
}
