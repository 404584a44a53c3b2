/* broker/handle_find_coordinator.c — FindCoordinator (key 10), versions 0-6.
 *
 * Group keys (key type 0): the coordinator of a group is the leader of its
 * __consumer_offsets partition (Kafka's abs(String.hashCode) % partitions);
 * on a single node that is this broker. The first lookup starts creating the
 * offsets topic and, as Kafka, answers COORDINATOR_NOT_AVAILABLE until it
 * exists (clients retry). v4+ batch keys
 * (coordinator_keys) and answer one entry per key. Transaction keys (type 1)
 * are not served here: COORDINATOR_NOT_AVAILABLE until a transaction
 * coordinator exists; other key types are INVALID_REQUEST. */
#include "broker_int.h"
#include "dispatch.h"
#include "gen/kp_messages.h"
#include "group/group_shard.h"

typedef struct fc_ctx {
        kp_find_coordinator_request rq;
        kp_find_coordinator_response rs;
} fc_ctx;

/* Error and message for one key. */
static int16_t key_error(int8_t key_type, kp_str key, int16_t topic_err, const char **msg)
{
        *msg = NULL;
        if (key_type == 1) {
                *msg = "no transaction coordinator on this broker";
                return KP_ERR_COORDINATOR_NOT_AVAILABLE;
        }
        if (key_type != 0) {
                *msg = "unknown key type";
                return KP_ERR_INVALID_REQUEST;
        }
        if (sl_group_id_check(key)) {
                *msg = "invalid group id";
                return KP_ERR_INVALID_GROUP_ID;
        }
        if (topic_err)
                *msg = "the offsets topic is not available";
        return topic_err;
}

static void fc_answer(sl_request *req, void *arg, int16_t topic_err)
{
        fc_ctx *c = arg;
        kp_find_coordinator_response *rs = &c->rs;
        int32_t node = (int32_t)g_sl.cfg.node_id;
        kp_str host = kp_str_c(g_sl.adv_host);
        if (req->api_version < 4) {
                const char *msg;
                rs->error_code = key_error(c->rq.key_type, c->rq.key, topic_err, &msg);
                rs->error_message = msg ? kp_str_c(msg) : KP_STR_NULL;
                rs->node_id = rs->error_code ? -1 : node;
                rs->host = rs->error_code ? (kp_str){"", 0} : host;
                rs->port = rs->error_code ? -1 : g_sl.adv_port;
        } else {
                int32_t n = c->rq.coordinator_keys_count > 0 ? c->rq.coordinator_keys_count : 0;
                rs->coordinators =
                    n ? kp_arena_alloc(&req->arena, (size_t)n, sizeof(*rs->coordinators)) : NULL;
                if (n && !rs->coordinators) {
                        sl_request_close(req, "out of memory");
                        return;
                }
                for (int32_t i = 0; i < n; i++) {
                        kp_find_coordinator_response_coordinator *co = &rs->coordinators[i];
                        kp_find_coordinator_response_coordinator_init(co);
                        const char *msg;
                        co->key = c->rq.coordinator_keys[i];
                        co->error_code = key_error(c->rq.key_type, co->key, topic_err, &msg);
                        co->error_message = msg ? kp_str_c(msg) : KP_STR_NULL;
                        co->node_id = co->error_code ? -1 : node;
                        co->host = co->error_code ? (kp_str){"", 0} : host;
                        co->port = co->error_code ? -1 : g_sl.adv_port;
                }
                rs->coordinators_count = n;
        }
        SL_REQUEST_RESPOND(req, kp_find_coordinator_response, rs);
}

void sl_handle_find_coordinator(sl_request *req)
{
        fc_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c || kp_find_coordinator_request_decode(&req->body, req->api_version, &c->rq)) {
                sl_request_close(req, "undecodable FindCoordinator");
                return;
        }
        kp_find_coordinator_response_init(&c->rs);
        bool any_group = false;
        if (req->api_version < 4)
                any_group = c->rq.key_type == 0 && !sl_group_id_check(c->rq.key);
        else
                for (int32_t i = 0; i < c->rq.coordinator_keys_count; i++)
                        any_group = any_group || (c->rq.key_type == 0 &&
                                                  !sl_group_id_check(c->rq.coordinator_keys[i]));
        fc_answer(req, c, any_group ? sl_group_ensure_topic() : 0);
}
