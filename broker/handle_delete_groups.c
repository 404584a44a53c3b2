/* broker/handle_delete_groups.c — DeleteGroups (key 42), versions 0-2.
 *
 * Each group is deleted by its coordinator shard (group/group.c,
 * sl_group_delete): only Empty groups (NON_EMPTY_GROUP otherwise,
 * GROUP_ID_NOT_FOUND if unknown); tombstones for its offsets and metadata
 * are written and synced before the answer. */
#include "dispatch.h"
#include "gen/kp_messages.h"
#include "group/group_shard.h"

typedef struct dlg_ctx {
        kp_delete_groups_request rq;
        kp_delete_groups_response rs;
        sl_group_fanout fo;
} dlg_ctx;

static void dlg_init(void *ctx, int32_t i, sl_group_fanout_item *it)
{
        dlg_ctx *c = ctx;
        kp_delete_groups_response_deletable_group_result_init(&c->rs.results[i]);
        c->rs.results[i].group_id = c->rq.groups_names[i];
        *it = (sl_group_fanout_item){c->rq.groups_names[i], &c->rq, NULL};
}

static void dlg_fail(void *ctx, int32_t i, int16_t error)
{
        dlg_ctx *c = ctx;
        c->rs.results[i].error_code = error;
}

static void dlg_finish(void *ctx)
{
        dlg_ctx *c = ctx;
        SL_GROUP_RESPOND(c->fo.req, kp_delete_groups_response, &c->rs,
                         sl_group_fanout_release(&c->fo));
}

static const sl_group_fanout_ops dlg_ops = {sl_group_delete, dlg_init, dlg_fail, dlg_finish};

void sl_handle_delete_groups(sl_request *req)
{
        dlg_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c || kp_delete_groups_request_decode(&req->body, req->api_version, &c->rq)) {
                sl_request_close(req, "undecodable DeleteGroups");
                return;
        }
        kp_delete_groups_response_init(&c->rs);
        if (sl_group_fanout_alloc(&c->fo, req, c->rq.groups_names_count, sizeof(*c->rs.results))) {
                sl_request_close(req, "out of memory");
                return;
        }
        c->rs.results = c->fo.results;
        c->rs.results_count = c->fo.n;
        sl_group_fanout_run(&c->fo, &dlg_ops, c);
}
