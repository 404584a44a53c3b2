/* broker/dispatch.h — the ApiKey table: which APIs and versions this broker serves.
 *
 * Produce path 2/5: broker/conn.c decodes a request header and calls
 * sl_dispatch(), which checks the version against this table and calls the
 * handler (librdkafka mock style). ApiVersions answers from the same table, so
 * only what has a handler is advertised (ENCODING §5.3).
 *
 * Adding a handler = one new file broker/handle_<api>.c defining
 * `void sl_handle_<api>(sl_request *req)` (its prototype is below), one line
 * in the table in broker/dispatch.c, one line in broker/CMakeLists.txt. */
#ifndef SL_DISPATCH_H
#define SL_DISPATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "request.h"

/* A handler decodes req->body with the generated kp_X_decode (at
 * req->api_version, allocating from &req->arena), does its work, and
 * completes the request once (see request.h). Runs on the request's shard. */
typedef void sl_handler_fn(sl_request *req);

typedef struct sl_api {
        int16_t min_version;  /* lowest version served; lower ones close the connection */
        int16_t max_version;  /* highest version served */
        bool advertise_min_0; /* advertise 0 as the minimum anyway (Produce, §5.3) */
        sl_handler_fn *handler;
} sl_api;

#define SL_API_KEY_LIMIT 128 /* api keys are < this */

/* The entry for api_key, or NULL when not implemented. */
const sl_api *sl_dispatch_find(int16_t api_key);

/* Calls the handler, or closes the connection for an unknown key or an
 * unsupported version (ApiVersions excepted: conn answers it in v0 form). */
void sl_dispatch(sl_request *req);

/* Handlers. Declared here so that the table line is all a new API needs;
 * only those listed in dispatch.c's table must exist. */
sl_handler_fn sl_handle_produce, sl_handle_fetch, sl_handle_list_offsets, sl_handle_metadata,
    sl_handle_offset_commit, sl_handle_offset_fetch, sl_handle_find_coordinator,
    sl_handle_join_group, sl_handle_heartbeat, sl_handle_leave_group, sl_handle_sync_group,
    sl_handle_describe_groups, sl_handle_list_groups, sl_handle_sasl_handshake,
    sl_handle_api_versions, sl_handle_create_topics, sl_handle_delete_topics,
    sl_handle_delete_records, sl_handle_init_producer_id, sl_handle_offset_for_leader_epoch,
    sl_handle_add_partitions_to_txn, sl_handle_add_offsets_to_txn, sl_handle_end_txn,
    sl_handle_txn_offset_commit, sl_handle_describe_acls, sl_handle_create_acls,
    sl_handle_delete_acls, sl_handle_describe_configs, sl_handle_alter_configs,
    sl_handle_describe_log_dirs, sl_handle_sasl_authenticate, sl_handle_create_partitions,
    sl_handle_delete_groups, sl_handle_elect_leaders, sl_handle_incremental_alter_configs,
    sl_handle_alter_partition_reassignments, sl_handle_list_partition_reassignments,
    sl_handle_offset_delete, sl_handle_describe_client_quotas, sl_handle_alter_client_quotas,
    sl_handle_describe_user_scram_credentials, sl_handle_alter_user_scram_credentials,
    sl_handle_describe_cluster, sl_handle_describe_producers, sl_handle_describe_transactions,
    sl_handle_list_transactions, sl_handle_consumer_group_heartbeat,
    sl_handle_consumer_group_describe, sl_handle_describe_topic_partitions;

#endif
