/* broker/dispatch.c — the ApiKey table and request dispatch.
 *
 * Produce path 2/5: called from broker/conn.c with a request whose header is
 * decoded; checks the version against this table and hands the request to
 * its handler (broker/handle_<api>.c), which decodes the body with the
 * generated codec. ApiVersions (handle_api_versions.c) advertises from this
 * same table. An unknown key or a version outside [min, max] closes the
 * connection without a response, as Kafka does (ENCODING §2.5) — except
 * ApiVersions, whose handler answers too-new versions in v0 form (§2.6). */
#include "dispatch.h"

#include "broker_int.h"

#include <stddef.h>

/* One designated initializer per implemented API: {min, max, advertise 0
 * as min (§5.3), handler}. Keep sorted by key. */
static const sl_api api_table[SL_API_KEY_LIMIT] = {
    [0] = {3, 11, true, sl_handle_produce},
    [1] = {4, 17, false, sl_handle_fetch},
    [2] = {0, 10, false, sl_handle_list_offsets},
    [3] = {0, 12, false, sl_handle_metadata},
    [8] = {1, 9, false, sl_handle_offset_commit},
    [9] = {1, 9, false, sl_handle_offset_fetch},
    [10] = {0, 6, false, sl_handle_find_coordinator},
    [11] = {0, 9, false, sl_handle_join_group},
    [12] = {0, 4, false, sl_handle_heartbeat},
    [13] = {0, 5, false, sl_handle_leave_group},
    [14] = {0, 5, false, sl_handle_sync_group},
    [15] = {0, 5, false, sl_handle_describe_groups},
    [16] = {0, 5, false, sl_handle_list_groups},
    [18] = {0, 4, false, sl_handle_api_versions},
    [19] = {0, 7, false, sl_handle_create_topics},
    [20] = {0, 6, false, sl_handle_delete_topics},
    [21] = {0, 2, false, sl_handle_delete_records},
    [22] = {0, 5, false, sl_handle_init_producer_id},
    [23] = {2, 4, false, sl_handle_offset_for_leader_epoch},
    [32] = {0, 4, false, sl_handle_describe_configs},
    [33] = {0, 2, false, sl_handle_alter_configs},
    [35] = {1, 4, false, sl_handle_describe_log_dirs},
    [37] = {0, 3, false, sl_handle_create_partitions},
    [42] = {0, 2, false, sl_handle_delete_groups},
    [44] = {0, 1, false, sl_handle_incremental_alter_configs},
    [47] = {0, 0, false, sl_handle_offset_delete},
    [60] = {0, 1, false, sl_handle_describe_cluster},
    [61] = {0, 0, false, sl_handle_describe_producers},
    [68] = {0, 1, false, sl_handle_consumer_group_heartbeat},
    [69] = {0, 0, false, sl_handle_consumer_group_describe},
};

/* Tests replace an implemented API's handler to control completion order. */
static sl_handler_fn *overrides[SL_API_KEY_LIMIT];

void sl_dispatch_set_override(int16_t api_key, sl_handler_fn *fn)
{
        if (api_key >= 0 && api_key < SL_API_KEY_LIMIT)
                overrides[api_key] = fn;
}

const sl_api *sl_dispatch_find(int16_t api_key)
{
        if (api_key < 0 || api_key >= SL_API_KEY_LIMIT || !api_table[api_key].handler)
                return NULL;
        return &api_table[api_key];
}

void sl_dispatch(sl_request *req)
{
        const sl_api *a = sl_dispatch_find(req->api_key);
        if (!a) {
                sl_request_close(req, "unknown api key");
                return;
        }
        if (req->api_key != 18 &&
            (req->api_version < a->min_version || req->api_version > a->max_version)) {
                sl_request_close(req, "unsupported api version");
                return;
        }
        if (overrides[req->api_key])
                overrides[req->api_key](req);
        else
                a->handler(req);
}
