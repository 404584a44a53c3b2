/* broker/handle_metadata.c — Metadata (key 3), versions 0-12.
 *
 * Answers from the shard's topic snapshot (topics.h): this node is the only
 * broker (its advertised address), the controller (sarama sends admin
 * requests there) and the leader of every partition, with replicas and ISR
 * [this node]. Which topics (ENCODING §5.2): v0 with an empty list and v1+
 * with a null list mean all topics; v10+ may name topics by id.
 * Unknown topics: with auto.create.topics.enable (and AllowAutoTopicCreation
 * on v4+) creation is started through the registry and the topic is reported
 * as UNKNOWN_TOPIC_OR_PARTITION this time, as a KRaft Kafka broker does
 * (DefaultAutoTopicCreationManager); clients retry metadata. Invalid names
 * get INVALID_TOPIC_EXCEPTION and are never created, nor are internal ("__")
 * topics, which their coordinators create with their own settings. */
#include <stdlib.h>
#include <string.h>

#include "broker_int.h"
#include "dispatch.h"
#include "gen/kp_messages.h"

typedef kp_metadata_response_metadata_response_topic md_topic;
typedef kp_metadata_response_metadata_response_partition md_part;

/* A fire-and-forget auto-creation: owns a copy of the name. */
typedef struct auto_create {
        sl_topic_op op;
        char name[SL_TOPIC_NAME_MAX + 1];
} auto_create;

static void auto_create_done(sl_topic_op *op)
{
        auto_create *ac = op->arg;
        if (op->error && op->error != KP_ERR_TOPIC_ALREADY_EXISTS)
                SL_WARN("auto-creating topic %s failed: error %d%s%s", ac->name, op->error,
                        op->error_message ? ": " : "", op->error_message ? op->error_message : "");
        free(ac);
}

static void auto_create_start(kp_str name)
{
        auto_create *ac = calloc(1, sizeof(*ac));
        if (!ac)
                return;
        memcpy(ac->name, name.p, (size_t)name.len);
        ac->op.name = (kp_str){ac->name, name.len};
        ac->op.partitions = 0; /* num.partitions */
        ac->op.done = auto_create_done;
        ac->op.arg = ac;
        sl_topics_create(&ac->op);
}

static int fill_topic(sl_request *req, md_topic *out, const sl_topic_info *t, const int32_t *node)
{
        out->error_code = 0;
        out->name = t->name;
        out->topic_id = t->id;
        out->is_internal = t->internal;
        md_part *parts = kp_arena_alloc(&req->arena, (size_t)t->partitions, sizeof(*parts));
        if (t->partitions && !parts)
                return -1;
        for (int32_t i = 0; i < t->partitions; i++) {
                md_part *p = &parts[i];
                p->error_code = 0;
                p->partition_index = i;
                p->leader_id = *node;
                p->leader_epoch = 0; /* single node: leadership never moves */
                p->replica_nodes = (int32_t *)node;
                p->replica_nodes_count = 1;
                p->isr_nodes = (int32_t *)node;
                p->isr_nodes_count = 1;
                p->offline_replicas = NULL;
                p->offline_replicas_count = 0;
        }
        out->partitions = parts;
        out->partitions_count = t->partitions;
        return 0;
}

static void fill_error(md_topic *out, int16_t err, kp_str name, kp_uuid id)
{
        out->error_code = err;
        out->name = name;
        out->topic_id = id;
        out->is_internal = false;
        out->partitions = NULL;
        out->partitions_count = 0;
}

void sl_handle_metadata(sl_request *req)
{
        int16_t ver = req->api_version;
        kp_metadata_request m;
        if (kp_metadata_request_decode(&req->body, ver, &m) < 0) {
                sl_request_close(req, req->body.why ? req->body.why : "bad Metadata body");
                return;
        }
        const sl_config *cfg = sl_shard_config();
        const sl_topics_snap *snap = sl_topics_current();
        bool all = (ver == 0 && m.topics_count == 0) || (ver >= 1 && m.topics_count < 0);
        bool may_create =
            cfg->auto_create_topics_enable && (ver < 4 || m.allow_auto_topic_creation);

        kp_metadata_response resp;
        kp_metadata_response_init(&resp);
        int32_t *node = kp_arena_alloc(&req->arena, 1, sizeof(*node));
        kp_metadata_response_metadata_response_broker *b =
            kp_arena_alloc(&req->arena, 1, sizeof(*b));
        int32_t ntopics = all ? snap->count : (m.topics_count > 0 ? m.topics_count : 0);
        md_topic *topics = kp_arena_alloc(&req->arena, (size_t)ntopics, sizeof(*topics));
        if (!node || !b || (ntopics && !topics))
                goto out_oom;
        *node = (int32_t)cfg->node_id;
        b->node_id = *node;
        b->host = kp_str_c(g_sl.adv_host);
        b->port = g_sl.adv_port;
        b->rack = KP_STR_NULL;
        resp.throttle_time_ms = 0;
        resp.brokers = b;
        resp.brokers_count = 1;
        resp.cluster_id = kp_str_c(g_sl.cluster_id);
        resp.controller_id = *node;

        for (int32_t i = 0; i < ntopics; i++) {
                md_topic *out = &topics[i];
                out->topic_authorized_operations = INT32_MIN;
                if (all) {
                        if (fill_topic(req, out, &snap->topics[i], node) < 0)
                                goto out_oom;
                        continue;
                }
                const kp_metadata_request_metadata_request_topic *q = &m.topics[i];
                if (q->name.len < 0) {
                        /* v10+ lookup by id (only v12 may answer with a null name). */
                        const sl_topic_info *t = sl_topics_find_id(snap, q->topic_id);
                        if (t) {
                                if (fill_topic(req, out, t, node) < 0)
                                        goto out_oom;
                        } else {
                                fill_error(out, KP_ERR_UNKNOWN_TOPIC_ID,
                                           ver >= 12 ? KP_STR_NULL : kp_str_c(""), q->topic_id);
                        }
                        continue;
                }
                const sl_topic_info *t = sl_topics_find(snap, q->name);
                if (t) {
                        if (fill_topic(req, out, t, node) < 0)
                                goto out_oom;
                        continue;
                }
                kp_uuid zero = {{0}};
                if (sl_topic_name_check(q->name) != 0) {
                        fill_error(out, KP_ERR_INVALID_TOPIC_EXCEPTION, q->name, zero);
                        continue;
                }
                fill_error(out, KP_ERR_UNKNOWN_TOPIC_OR_PARTITION, q->name, zero);
                /* Internal topics ("__consumer_offsets"...) are created by their
                 * coordinators with their own settings, never with defaults. */
                bool internal = q->name.len >= 2 && q->name.p[0] == '_' && q->name.p[1] == '_';
                if (may_create && !internal)
                        auto_create_start(q->name);
        }
        resp.topics = topics;
        resp.topics_count = ntopics;
        SL_REQUEST_RESPOND(req, kp_metadata_response, &resp);
        return;

out_oom:
        sl_request_close(req, "out of memory");
}
