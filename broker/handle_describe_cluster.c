/* broker/handle_describe_cluster.c — DescribeCluster (key 60), versions 0-1.
 *
 * The Java Admin's describeCluster: the cluster id (generated at first start
 * and kept in data.dir), this node as the only broker (advertised address)
 * and as the controller. v1 asks for an endpoint type: 1 (brokers) is
 * answered; 2 (controllers) is what a KRaft broker refuses too, since
 * controller endpoints are not served by brokers — INVALID_REQUEST here, as
 * UNSUPPORTED_ENDPOINT_TYPE is not in our error table. There is no
 * authorizer, so when asked the authorized operations are every operation
 * Kafka defines on the CLUSTER resource. */
#include <limits.h>

#include "broker_int.h"
#include "dispatch.h"
#include "gen/kp_messages.h"

enum { ENDPOINT_BROKERS = 1 };

/* AclOperation codes Kafka supports on CLUSTER: CREATE 5, ALTER 7, DESCRIBE
 * 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11,
 * IDEMPOTENT_WRITE 12. */
#define CLUSTER_OPS ((1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12))

void sl_handle_describe_cluster(sl_request *req)
{
        kp_describe_cluster_request in;
        if (kp_describe_cluster_request_decode(&req->body, req->api_version, &in) < 0) {
                sl_request_close(req, req->body.why ? req->body.why : "bad DescribeCluster body");
                return;
        }
        const sl_config *cfg = sl_shard_config();
        kp_describe_cluster_response resp;
        kp_describe_cluster_response_init(&resp);
        kp_describe_cluster_response_describe_cluster_broker *b =
            kp_arena_alloc(&req->arena, 1, sizeof(*b));
        if (!b) {
                sl_request_close(req, "out of memory");
                return;
        }
        resp.throttle_time_ms = 0;
        resp.endpoint_type = in.endpoint_type;
        resp.cluster_id = kp_str_c(g_sl.cluster_id);
        if (req->api_version >= 1 && in.endpoint_type != ENDPOINT_BROKERS) {
                resp.error_code = KP_ERR_INVALID_REQUEST;
                resp.error_message = kp_str_c("Only the broker endpoint type (1) is served "
                                              "by a broker.");
                resp.controller_id = -1;
                resp.brokers = NULL;
                resp.brokers_count = 0;
                SL_REQUEST_RESPOND(req, kp_describe_cluster_response, &resp);
                return;
        }
        b->broker_id = (int32_t)cfg->node_id;
        b->host = kp_str_c(g_sl.adv_host);
        b->port = g_sl.adv_port;
        b->rack = KP_STR_NULL;
        resp.error_code = 0;
        resp.error_message = KP_STR_NULL;
        resp.controller_id = (int32_t)cfg->node_id;
        resp.brokers = b;
        resp.brokers_count = 1;
        resp.cluster_authorized_operations =
            in.include_cluster_authorized_operations ? CLUSTER_OPS : INT32_MIN;
        SL_REQUEST_RESPOND(req, kp_describe_cluster_response, &resp);
}
