/* broker/handle_init_producer_id.c — InitProducerId (key 22), versions 0-5.
 *
 * Idempotent producers (null transactional id) get a fresh producer id with
 * epoch 0, as Kafka's TransactionCoordinator does: for a null transactional id
 * Kafka "blindly" hands out a new id even when v3+ carries the current
 * id/epoch (KIP-360's epoch bump is a transactional-id feature; idempotent
 * clients then restart their sequences under the new id). Ids come from the
 * allocator on shard 0 (producer_ids.h), whose block reservations are
 * persisted on its I/O helper thread before any id of a block is used, so ids
 * are never reused after a restart.
 *
 * Transactions are not implemented: a non-null transactional id is answered
 * COORDINATOR_NOT_AVAILABLE (no transaction coordinator exists on this
 * broker, the same answer FindCoordinator gives for transaction keys), an
 * empty one INVALID_REQUEST as Kafka does. */
#include <string.h>

#include "broker_int.h"
#include "dispatch.h"
#include "gen/kp_messages.h"
#include "producer_ids.h"

typedef struct ipid_ctx {
        sl_request *req;
        kp_init_producer_id_request m;
        kp_init_producer_id_response resp;
        sl_xcall x;
        struct ipid_ctx *next; /* shard 0: waiting for a block reservation */
} ipid_ctx;

/* ---- shard 0: the allocator ---- */

typedef struct ids_owner {
        sl_producer_ids ids;
        char dir[SL_CONFIG_PATH_MAX]; /* data dir ids were loaded from (tests restart brokers) */
        ipid_ctx *wait_head, *wait_tail;
        bool reserving;
        sl_xcall io_x;
        /* I/O job in/out (helper thread while reserving) */
        bool job_load;
        int64_t job_end; /* in: block end to store (when !job_load); out: loaded end */
        int job_rc;
} ids_owner;

static ids_owner g_own; /* touched only on shard 0 and its I/O helper */

static void serve(ipid_ctx *c)
{
        int64_t id;
        if (sl_producer_ids_take(&g_own.ids, &id) == 0) {
                c->resp.producer_id = id;
                c->resp.producer_epoch = 0;
                c->resp.error_code = 0;
        } else {
                c->resp.producer_id = -1;
                c->resp.producer_epoch = -1;
                c->resp.error_code = KP_ERR_UNKNOWN_SERVER_ERROR;
        }
        sl_xcall_reply(&c->x);
}

/* Helper thread: read the file (first use), then reserve the next block. */
static void reserve_io(sl_xcall *x)
{
        (void)x;
        ids_owner *o = &g_own;
        const char *dir = g_sl.cfg.data_dir;
        int64_t end = o->job_end;
        o->job_rc = 0;
        if (o->job_load) {
                o->job_rc = sl_producer_ids_load(dir, &end);
                if (o->job_rc < 0)
                        return;
                o->job_end = end;
        }
        o->job_rc = sl_producer_ids_store(dir, end + SL_PRODUCER_ID_BLOCK);
}

static void start_reserve(void);

static void reserve_done(sl_xcall *x)
{
        (void)x;
        ids_owner *o = &g_own;
        o->reserving = false;
        if (o->job_rc < 0) {
                SL_ERROR("producer ids: %s/%s: %s; InitProducerId fails until it can be written",
                         g_sl.cfg.data_dir, SL_PRODUCER_IDS_FILE, sl_log_strerror(o->job_rc));
        } else {
                if (o->job_load) {
                        snprintf(o->dir, sizeof(o->dir), "%s", g_sl.cfg.data_dir);
                        o->ids.next = o->job_end;
                        o->ids.limit = o->job_end;
                        o->ids.loaded = true;
                }
                sl_producer_ids_extend(&o->ids, o->job_end + SL_PRODUCER_ID_BLOCK);
        }
        /* Serve the waiters (failing them if nothing could be reserved). */
        while (o->wait_head) {
                ipid_ctx *c = o->wait_head;
                if (o->job_rc == 0 && o->ids.next >= o->ids.limit) {
                        start_reserve(); /* more waiters than one block */
                        return;
                }
                o->wait_head = c->next;
                if (!o->wait_head)
                        o->wait_tail = NULL;
                serve(c);
        }
}

static void start_reserve(void)
{
        ids_owner *o = &g_own;
        o->reserving = true;
        o->job_load = !o->ids.loaded;
        o->job_end = o->ids.limit;
        memset(&o->io_x, 0, sizeof(o->io_x));
        o->io_x.run = reserve_io;
        o->io_x.done = reserve_done;
        sl_shard_offload(&o->io_x);
}

static void alloc_on_shard0(sl_xcall *x)
{
        ipid_ctx *c = x->arg;
        ids_owner *o = &g_own;
        if (!o->reserving && o->ids.loaded && strcmp(o->dir, g_sl.cfg.data_dir))
                o->ids = (sl_producer_ids){0}; /* another broker in this process (tests) */
        if (!o->reserving && o->ids.loaded && o->ids.next < o->ids.limit) {
                serve(c);
                return;
        }
        c->next = NULL;
        if (o->wait_tail)
                o->wait_tail->next = c;
        else
                o->wait_head = c;
        o->wait_tail = c;
        if (!o->reserving)
                start_reserve();
}

/* ---- the handler (connection's shard) ---- */

static void answered(sl_xcall *x)
{
        ipid_ctx *c = x->arg;
        SL_REQUEST_RESPOND(c->req, kp_init_producer_id_response, &c->resp);
}

void sl_handle_init_producer_id(sl_request *req)
{
        ipid_ctx *c = kp_arena_alloc(&req->arena, 1, sizeof(*c));
        if (!c) {
                sl_request_close(req, "out of memory");
                return;
        }
        c->req = req;
        req->user = c;
        if (kp_init_producer_id_request_decode(&req->body, req->api_version, &c->m) < 0) {
                sl_request_close(req, req->body.why ? req->body.why : "undecodable InitProducerId");
                return;
        }
        kp_init_producer_id_response_init(&c->resp);
        c->resp.producer_id = -1;
        c->resp.producer_epoch = -1;
        kp_str tid = c->m.transactional_id;
        if (tid.len >= 0) {
                c->resp.error_code =
                    tid.len == 0 ? KP_ERR_INVALID_REQUEST : KP_ERR_COORDINATOR_NOT_AVAILABLE;
                SL_REQUEST_RESPOND(req, kp_init_producer_id_response, &c->resp);
                return;
        }
        c->x.run = alloc_on_shard0;
        c->x.done = answered;
        c->x.arg = c;
        sl_shard_call(0, &c->x);
}
