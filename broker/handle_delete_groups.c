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
        sl_group_fwd *f;
        int32_t pending;
        sl_request *req;
} dlg_ctx;

static void release_all(dlg_ctx *c)
{
        for (int32_t i = 0; i < c->rs.results_count; i++)
                sl_group_fwd_release(&c->f[i]);
}

static void dlg_finish(dlg_ctx *c)
{
        SL_GROUP_RESPOND(c->req, kp_delete_groups_response, &c->rs, release_all(c));
}

static void dlg_done(sl_group_fwd *f)
{
        dlg_ctx *c = f->ctx;
        int32_t i = (int32_t)(f - c->f);
        c->rs.results[i].error_code = f->call.error;
        if (--c->pending == 0)
                dlg_finish(c);
}

void sl_handle_delete_groups(sl_request *req)
{
        dlg_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c || kp_delete_groups_request_decode(&req->body, req->api_version, &c->rq)) {
                sl_request_close(req, "undecodable DeleteGroups");
                return;
        }
        kp_delete_groups_response_init(&c->rs);
        c->req = req;
        int32_t n = c->rq.groups_names_count > 0 ? c->rq.groups_names_count : 0;
        c->rs.results = n ? kp_arena_alloc(&req->arena, (size_t)n, sizeof(*c->rs.results)) : NULL;
        c->f = n ? kp_arena_alloc(&req->arena, (size_t)n, sizeof(*c->f)) : NULL;
        if (n && (!c->rs.results || !c->f)) {
                sl_request_close(req, "out of memory");
                return;
        }
        c->rs.results_count = n;
        c->pending = 1;
        for (int32_t i = 0; i < n; i++) {
                kp_delete_groups_response_deletable_group_result_init(&c->rs.results[i]);
                c->rs.results[i].group_id = c->rq.groups_names[i];
                sl_group_fwd_init(&c->f[i], req, c->rq.groups_names[i], &c->rq, NULL);
                c->f[i].op = sl_group_delete;
                c->f[i].done = dlg_done;
                c->f[i].ctx = c;
                c->rs.results[i].error_code = sl_group_id_check(c->rq.groups_names[i]);
                if (c->rs.results[i].error_code)
                        continue;
                c->pending++;
                sl_group_forward(req, &c->f[i]);
        }
        if (--c->pending == 0)
                dlg_finish(c);
}
