/* broker/handle_list_groups.c — ListGroups (key 16), versions 0-5.
 *
 * Every shard coordinates the groups of the __consumer_offsets partitions it
 * owns, so the request is gathered from all shards (sl_group_forward_shard)
 * and the lists concatenated. v4 filters by state (case-insensitive, as
 * Kafka), v5 by type: "classic" or "consumer" (KIP-848). Without an offsets
 * topic there are no groups. */
#include "broker_int.h"
#include "dispatch.h"
#include "gen/kp_messages.h"
#include "group/group_shard.h"

typedef struct lgp_ctx {
        kp_list_groups_request rq;
        kp_list_groups_response rs;
        kp_list_groups_response *part; /* per shard */
        sl_group_fwd *f;               /* per shard */
        uint32_t n;
        sl_gather g;
        sl_request *req;
} lgp_ctx;

static void release_all(lgp_ctx *c)
{
        for (uint32_t i = 0; i < c->n; i++)
                sl_group_fwd_release(&c->f[i]);
}

static void lgp_gathered(sl_gather *g)
{
        lgp_ctx *c = g->arg;
        sl_request *req = c->req;
        int32_t total = 0;
        for (uint32_t i = 0; i < c->n; i++) {
                if (c->f[i].call.error || c->part[i].error_code)
                        c->rs.error_code =
                            c->f[i].call.error ? c->f[i].call.error : c->part[i].error_code;
                total += c->part[i].groups_count;
        }
        c->rs.groups =
            total ? kp_arena_alloc(&req->arena, (size_t)total, sizeof(*c->rs.groups)) : NULL;
        if (total && !c->rs.groups) {
                c->rs.error_code = KP_ERR_UNKNOWN_SERVER_ERROR;
                total = 0;
        }
        int32_t k = 0;
        for (uint32_t i = 0; i < c->n && k < total; i++)
                for (int32_t j = 0; j < c->part[i].groups_count; j++)
                        c->rs.groups[k++] = c->part[i].groups[j];
        c->rs.groups_count = k;
        SL_GROUP_RESPOND(req, kp_list_groups_response, &c->rs, release_all(c));
}

void sl_handle_list_groups(sl_request *req)
{
        lgp_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c || kp_list_groups_request_decode(&req->body, req->api_version, &c->rq)) {
                sl_request_close(req, "undecodable ListGroups");
                return;
        }
        kp_list_groups_response_init(&c->rs);
        c->req = req;
        if (!sl_topics_find(sl_topics_current(), kp_str_c(SL_OFFSETS_TOPIC))) {
                SL_REQUEST_RESPOND(req, kp_list_groups_response, &c->rs);
                return;
        }
        c->n = sl_shard_count();
        c->part = kp_arena_alloc(&req->arena, c->n, sizeof(*c->part));
        c->f = kp_arena_alloc(&req->arena, c->n, sizeof(*c->f));
        if (!c->part || !c->f) {
                sl_request_close(req, "out of memory");
                return;
        }
        sl_gather_init(&c->g, lgp_gathered, c);
        for (uint32_t i = 0; i < c->n; i++) {
                kp_list_groups_response_init(&c->part[i]);
                sl_group_fwd_init(&c->f[i], req, (kp_str){"", 0}, &c->rq, &c->part[i]);
                c->f[i].ctx = c;
                sl_group_forward_shard(&c->f[i], i, &c->g);
        }
        sl_gather_arm(&c->g);
}
