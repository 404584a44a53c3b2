/* broker/conn.c — client connections: accept, framing, header decode, ordered
 * responses, limits.
 *
 * Produce path 1/5: called from the shard's reactor when a socket is readable;
 * reads into the connection's receive buffer, checks each frame's size
 * (negative or above socket.request.max.bytes closes the connection), copies
 * the frame into a pooled request (a frame of SL_CONN_DIRECT_MIN bytes or more,
 * i.e. a produce batch, is read straight into the request's frame buffer,
 * which the shard pools, so big requests cost no extra copy and no fresh
 * pages), decodes the request header and hands the
 * request to broker/dispatch.c. Requests are worked on concurrently but queue
 * on the connection in arrival order; responses are written from the head of
 * that queue only (ENCODING §2.5), batched per loop turn into one writev, with
 * file ranges sent by the backend's send_file. A connection stops reading
 * while it has too many unanswered requests or bytes, or while its shard has
 * cross-shard calls waiting for ring room (backpressure). */
#include "conn_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "send_mode.h"
#include "frame.h"
#include "gen/kp_messages.h"

/* Frame bytes of every request queued on this shard's connections: over
 * sl_conn_shard_budget_bytes no connection reads (STYLE: the shard's request
 * budget), so many connections each under their own cap cannot together
 * exhaust memory. Reading resumes from the before-sleep hook. */
size_t sl_conn_shard_budget_bytes = SL_SHARD_REQUEST_BUDGET;
static _Thread_local size_t t_queued_bytes;
static _Thread_local bool t_budget_resume;
/* Pooled requests of this shard that keep a frame buffer over SL_REQ_FRAME_KEEP. */
static _Thread_local int t_big_frames;

static void budget_release(sl_request *r)
{
        t_queued_bytes -= r->frame_len + 4;
        if (t_queued_bytes <= sl_conn_shard_budget_bytes &&
            t_queued_bytes + r->frame_len + 4 > sl_conn_shard_budget_bytes)
                t_budget_resume = true; /* crossed back under: resume readers */
}

static void conn_update_interest(sl_conn *c);
static void conn_read(sl_conn *c);
static void conn_flush(sl_conn *c);

const char *sl_conn_peer(const sl_conn *c)
{
        return c->peer;
}

const char *sl_conn_client_software(const sl_conn *c)
{
        return c->sw_name;
}

const char *sl_conn_client_software_version(const sl_conn *c)
{
        return c->sw_version;
}

static void copy_str(char *dst, size_t cap, kp_str s)
{
        size_t n = s.len > 0 ? (size_t)s.len : 0;
        if (n >= cap)
                n = cap - 1;
        if (n)
                memcpy(dst, s.p, n);
        dst[n] = 0;
}

void sl_conn_set_client_software(sl_conn *c, kp_str name, kp_str version)
{
        copy_str(c->sw_name, sizeof(c->sw_name), name);
        copy_str(c->sw_version, sizeof(c->sw_version), version);
}

/* --- request pool --- */

static sl_request *request_get(sl_shard *s)
{
        sl_request *r = s->req_free;
        if (r) {
                s->req_free = r->next;
                s->nreq_free--;
                if (r->frame_cap > SL_REQ_FRAME_KEEP)
                        t_big_frames--;
        } else {
                r = calloc(1, sizeof(*r));
                if (!r)
                        return NULL;
                kp_arena_init(&r->arena, 4096);
        }
        r->next = NULL;
        r->shard = s;
        r->user = NULL;
        r->state = SL_REQ_PENDING;
        r->segs = r->seg_inline;
        r->nsegs = 0;
        r->segs_cap = (int)(sizeof(r->seg_inline) / sizeof(r->seg_inline[0]));
        r->resp_len = 0;
        r->send_seg = -1;
        r->send_off = 0;
        r->on_sent = NULL;
        r->on_sent_arg = NULL;
        r->in_queue = false;
        return r;
}

static void request_put(sl_shard *s, sl_request *r)
{
        if (r->on_sent) {
                void (*fn)(sl_request *, void *) = r->on_sent;
                r->on_sent = NULL;
                fn(r, r->on_sent_arg);
        }
        /* Pooled requests keep their arena's largest chunk: not a huge one. */
        if (r->arena.used_bytes > SL_REQ_ARENA_KEEP) {
                kp_arena_release(&r->arena);
                kp_arena_init(&r->arena, 4096);
        } else {
                kp_arena_reset(&r->arena);
        }
        /* A few big frame buffers stay: a steady producer's batches then land
         * in pages already mapped instead of a fresh malloc each time. */
        if (r->frame_cap > SL_REQ_FRAME_KEEP &&
            (r->frame_cap > SL_REQ_BIG_FRAME_MAX || t_big_frames >= SL_REQ_BIG_FRAMES_KEEP ||
             s->nreq_free >= SL_REQ_POOL_KEEP)) {
                free(r->frame);
                r->frame = NULL;
                r->frame_cap = 0;
        }
        r->conn = NULL;
        if (s->nreq_free >= SL_REQ_POOL_KEEP) {
                kp_arena_release(&r->arena);
                free(r->frame);
                free(r);
                return;
        }
        if (r->frame_cap > SL_REQ_FRAME_KEEP)
                t_big_frames++;
        r->next = s->req_free;
        s->req_free = r;
        s->nreq_free++;
}

void sl_request_pool_free(sl_shard *s)
{
        sl_request *r;
        while ((r = s->req_free)) {
                s->req_free = r->next;
                kp_arena_release(&r->arena);
                free(r->frame);
                free(r);
        }
        s->nreq_free = 0;
        t_big_frames = 0;
}

/* --- lifecycle --- */

static void conn_free(sl_conn *c)
{
        sl_shard *s = c->shard;
        if (c->prev)
                c->prev->next = c->next;
        else
                s->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->nconns--;
        free(c->rx);
        free(c);
}

/* Puts c on its shard's list for the before-sleep hook: write what is ready,
 * or free a dead connection. */
static void queue_flush(sl_conn *c)
{
        if (c->flush_queued)
                return;
        c->flush_queued = true;
        c->flush_next = c->shard->flush_head;
        c->shard->flush_head = c;
}

/* Closes the socket now. Requests still being handled keep the connection
 * struct alive (dead) until they complete; finished ones are dropped. */
static void conn_close(sl_conn *c, const char *why)
{
        if (c->dead)
                return;
        SL_DEBUG("closing connection %s: %s", c->peer, why);
        c->dead = true;
        if (c->rx_lent) {
                c->rx = NULL; /* the shard's buffer, not ours to free */
                c->rx_lent = false;
                c->rx_cap = c->rx_len = c->rx_off = 0;
        }
        if (c->rx_req) {
                request_put(c->shard, c->rx_req); /* a partly read frame */
                c->rx_req = NULL;
        }
        c->shard->net.ops->close(&c->shard->net, c->sock);
        c->sock = -1;
        atomic_fetch_sub(&g_sl.nconns, 1);
        sl_request **pp = &c->q_head;
        c->q_tail = NULL;
        while (*pp) {
                sl_request *r = *pp;
                if (r->state != SL_REQ_PENDING) {
                        *pp = r->next;
                        r->in_queue = false;
                        budget_release(r);
                        c->q_count--;
                        request_put(c->shard, r);
                } else {
                        c->q_tail = r;
                        pp = &r->next;
                }
        }
        /* Freed from the before-sleep hook, never under a caller's feet. */
        queue_flush(c);
}

void sl_conn_accept_ready(sl_reactor *r, int fd, void *arg, int mask)
{
        (void)r;
        (void)mask;
        sl_shard *s = arg;
        for (int i = 0; i < 64; i++) {
                char peer[64];
                int sock = s->net.ops->accept(&s->net, fd, peer, sizeof(peer));
                if (sock < 0) {
                        if (sock != -EAGAIN)
                                SL_WARN("accept: %s", strerror(-sock));
                        return;
                }
                if (atomic_fetch_add(&g_sl.nconns, 1) >= sl_shard_config()->max_connections) {
                        atomic_fetch_sub(&g_sl.nconns, 1);
                        SL_WARN("refusing %s: max.connections (%lld) reached", peer,
                                (long long)sl_shard_config()->max_connections);
                        s->net.ops->close(&s->net, sock);
                        continue;
                }
                if (!sl_conn_adopt(s, sock, peer)) {
                        atomic_fetch_sub(&g_sl.nconns, 1);
                        s->net.ops->close(&s->net, sock);
                }
        }
}

sl_conn *sl_conn_adopt(sl_shard *s, int sock, const char *peer)
{
        sl_conn *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->shard = s;
        c->sock = sock;
        snprintf(c->peer, sizeof(c->peer), "%s", peer);
        c->copy_send = sl_send_mode_copies(sl_shard_config()->fetch_send_mode, peer);
        c->next = s->conns;
        if (s->conns)
                s->conns->prev = c;
        s->conns = c;
        s->nconns++;
        c->reading = false;
        conn_update_interest(c);
        return c;
}

/* --- reading and framing --- */

static bool conn_may_read(const sl_conn *c)
{
        if (c->dead || c->draining || sl_shard_backpressured(c->shard))
                return false;
        if (t_queued_bytes > sl_conn_shard_budget_bytes)
                return false;
        if (c->q_count >= SL_CONN_MAX_INFLIGHT)
                return false;
        if ((int64_t)c->unanswered_bytes > g_sl.cfg.connection_max_unanswered_bytes)
                return false;
        return true;
}

static void conn_io(sl_reactor *r, int fd, void *arg, int mask);

static void conn_update_interest(sl_conn *c)
{
        if (c->dead)
                return;
        bool rd = conn_may_read(c);
        int mask = (rd ? SL_READABLE : 0) | (c->writing ? SL_WRITABLE : 0);
        int err = c->shard->net.ops->watch(&c->shard->net, c->sock, mask, conn_io, c);
        if (err < 0) {
                conn_close(c, "watch failed");
                return;
        }
        bool resumed = rd && !c->reading;
        c->reading = rd;
        /* Frames may be waiting in the buffer from before the pause. */
        if (resumed && c->rx_len > c->rx_off)
                conn_read(c);
}

void sl_conn_resume_all(sl_shard *s)
{
        for (sl_conn *c = s->conns, *n; c; c = n) {
                n = c->next;
                if (!c->reading && conn_may_read(c))
                        conn_update_interest(c);
        }
}

/* Request header (ENCODING §1.11): v1 = key, version, correlation id, classic
 * nullable client id; v2 adds a tagged section (none defined: skipped). The
 * header version comes from the spec's flexible range, for ApiVersions by
 * the ">= 3" rule even for versions newer than we know. */
static int decode_header(sl_request *req)
{
        kp_rd *rd = &req->body;
        int16_t key = kp_rd_i16(rd, "api_key");
        int16_t ver = kp_rd_i16(rd, "api_version");
        req->correlation_id = kp_rd_i32(rd, "correlation_id");
        req->api_key = key;
        req->api_version = ver;
        const kp_api_info *info = kp_api_info_find(key);
        bool flexible;
        if (key == 18)
                flexible = ver >= 3;
        else
                flexible = info && info->first_flexible >= 0 && ver >= info->first_flexible;
        int16_t len = kp_rd_i16(rd, "client_id");
        if (len >= 0) {
                const uint8_t *p = kp_rd_take(rd, (size_t)len, "client_id");
                req->client_id = (kp_str){(const char *)p, p ? len : 0};
        } else {
                req->client_id = (kp_str){"", 0};
        }
        if (flexible) {
                uint32_t n = kp_rd_uvarint(rd, "header tags");
                for (uint32_t i = 0; i < n && !rd->err; i++) {
                        kp_rd_uvarint(rd, "header tag");
                        uint32_t sz = kp_rd_uvarint(rd, "header tag size");
                        kp_rd_take(rd, sz, "header tag value");
                }
        }
        /* Response header: v0 for ApiVersions always, else v1 when flexible. */
        bool resp_v1 = key != 18 && flexible;
        req->resp_hdr_len = resp_v1 ? 9 : 8;
        kp_wr w;
        kp_wr_init(&w, req->resp_hdr + 4, 5);
        kp_wr_i32(&w, req->correlation_id);
        if (resp_v1)
                kp_wr_u8(&w, 0);
        return rd->err ? -EINVAL : 0;
}

static void queue_push(sl_conn *c, sl_request *r)
{
        r->next = NULL;
        if (c->q_tail)
                c->q_tail->next = r;
        else
                c->q_head = r;
        c->q_tail = r;
        c->q_count++;
        r->in_queue = true;
        c->unanswered_bytes += r->frame_len + 4;
        t_queued_bytes += r->frame_len + 4;
}

/* A pooled request whose frame buffer holds len bytes, or NULL (connection
 * closed: out of memory). */
static sl_request *frame_request(sl_conn *c, size_t len)
{
        sl_request *r = request_get(c->shard);
        if (!r) {
                conn_close(c, "out of memory");
                return NULL;
        }
        if (r->frame_cap < len) {
                /* Old contents are not needed: free + malloc copies nothing. */
                free(r->frame);
                r->frame = malloc(len);
                r->frame_cap = r->frame ? len : 0;
                if (!r->frame) {
                        request_put(c->shard, r);
                        conn_close(c, "out of memory");
                        return NULL;
                }
        }
        r->frame_len = len;
        return r;
}

static bool frame_ready(sl_conn *c, sl_request *r);

/* One complete frame (after its size prefix). Returns false if the
 * connection was closed. */
static bool handle_frame(sl_conn *c, const uint8_t *p, size_t len)
{
        sl_request *r = frame_request(c, len);
        if (!r)
                return false;
        memcpy(r->frame, p, len);
        return frame_ready(c, r);
}

/* r->frame holds a whole frame: decode its header and dispatch it. */
static bool frame_ready(sl_conn *c, sl_request *r)
{
        size_t len = r->frame_len;
        r->conn = c;
        r->received_ms = sl_now_ms();
        kp_rd_init(&r->body, r->frame, len, &r->arena);
        if (decode_header(r) < 0) {
                request_put(c->shard, r);
                conn_close(c, "undecodable request header");
                return false;
        }
        queue_push(c, r);
        sl_dispatch(r);
        return !c->dead;
}

/* One receive buffer per shard thread, lent to the connection being read
 * (Redis's thread_reusable_qb): a connection whose bytes all formed whole
 * frames hands it back, so idle connections hold no receive memory; one left
 * with a partial frame moves the rest into a buffer of its own, which it
 * keeps (up to SL_CONN_RX_KEEP) so a steady producer does not malloc per
 * request. Freed by sl_conn_close_all when the shard stops. */
static _Thread_local uint8_t *t_rx;

static void rx_lend(sl_conn *c)
{
        if (c->rx)
                return;
        if (!t_rx)
                t_rx = malloc(SL_SHARD_RX_BYTES);
        if (!t_rx)
                return; /* rx_reserve allocates a private buffer instead */
        c->rx = t_rx;
        c->rx_cap = SL_SHARD_RX_BYTES;
        c->rx_len = c->rx_off = 0;
        c->rx_lent = true;
}

/* Gives the shard buffer back, moving unparsed bytes to a private buffer of
 * at least `need` bytes. */
static bool rx_unlend(sl_conn *c, size_t need)
{
        size_t have = c->rx_len - c->rx_off;
        uint8_t *nb = NULL;
        size_t cap = 0;
        if (have || need) {
                cap = SL_CONN_RX_INITIAL;
                while (cap < need || cap < have)
                        cap *= 2;
                nb = malloc(cap);
                if (!nb)
                        return false;
                memcpy(nb, c->rx + c->rx_off, have);
        }
        c->rx = nb;
        c->rx_cap = cap;
        c->rx_len = have;
        c->rx_off = 0;
        c->rx_lent = false;
        return true;
}

static bool rx_reserve(sl_conn *c, size_t need)
{
        if (c->rx_off && c->rx_off == c->rx_len) {
                c->rx_off = c->rx_len = 0;
        }
        if (c->rx_cap - c->rx_off >= need)
                return true;
        if (c->rx_off) {
                memmove(c->rx, c->rx + c->rx_off, c->rx_len - c->rx_off);
                c->rx_len -= c->rx_off;
                c->rx_off = 0;
                if (c->rx_cap >= need)
                        return true;
        }
        if (c->rx_lent)
                return rx_unlend(c, need);
        size_t cap = c->rx_cap ? c->rx_cap : SL_CONN_RX_INITIAL;
        while (cap < need)
                cap *= 2;
        uint8_t *nb = realloc(c->rx, cap);
        if (!nb)
                return false;
        c->rx = nb;
        c->rx_cap = cap;
        return true;
}

/* A big frame's start is buffered: move it into its request, which then
 * receives the rest straight from the socket (rx_direct_read). */
static bool rx_direct_start(sl_conn *c, size_t flen)
{
        size_t have = c->rx_len - c->rx_off - KP_FRAME_PREFIX_BYTES;
        sl_request *r = frame_request(c, flen);
        if (!r)
                return false;
        memcpy(r->frame, c->rx + c->rx_off + KP_FRAME_PREFIX_BYTES, have);
        c->rx_off = c->rx_len = 0;
        c->rx_req = r;
        c->rx_req_have = have;
        return true;
}

/* Reads into the pending big frame. Returns 1 to read on, 0 when the socket
 * is drained or reading must pause, -1 when the connection closed. */
static int rx_direct_read(sl_conn *c)
{
        sl_request *r = c->rx_req;
        size_t room = r->frame_len - c->rx_req_have;
        ssize_t n =
            c->shard->net.ops->read(&c->shard->net, c->sock, r->frame + c->rx_req_have, room);
        if (n == 0) {
                conn_close(c, "peer closed");
                return -1;
        }
        if (n < 0) {
                if (n != -EAGAIN) {
                        conn_close(c, strerror((int)-n));
                        return -1;
                }
                return 0;
        }
        c->rx_req_have += (size_t)n;
        if ((size_t)n < room)
                return 0;
        c->rx_req = NULL;
        if (!frame_ready(c, r))
                return -1;
        return conn_may_read(c) ? 1 : 0;
}

/* Parses every complete buffered frame while reading is allowed. */
static bool parse_frames(sl_conn *c)
{
        int32_t max = (int32_t)g_sl.cfg.socket_request_max_bytes;
        while (conn_may_read(c) && c->rx_len > c->rx_off) {
                int32_t flen = 0;
                int st = kp_frame_peek(c->rx + c->rx_off, c->rx_len - c->rx_off, max, &flen);
                if (st == KP_FRAME_INVALID) {
                        SL_WARN("closing %s: frame size %d outside [%d, %d]", c->peer, flen,
                                KP_FRAME_MIN_REQUEST_BYTES, max);
                        conn_close(c, "bad frame size");
                        return false;
                }
                if (st == KP_FRAME_NEED_MORE) {
                        if (c->rx_len - c->rx_off >= 4 && (size_t)flen >= SL_CONN_DIRECT_MIN)
                                return rx_direct_start(c, (size_t)flen);
                        if (c->rx_len - c->rx_off >= 4 &&
                            !rx_reserve(c, (size_t)flen + KP_FRAME_PREFIX_BYTES)) {
                                conn_close(c, "out of memory");
                                return false;
                        }
                        return true;
                }
                const uint8_t *fp = c->rx + c->rx_off + KP_FRAME_PREFIX_BYTES;
                c->rx_off += (size_t)flen + KP_FRAME_PREFIX_BYTES;
                if (!handle_frame(c, fp, (size_t)flen))
                        return false;
        }
        return true;
}

static void conn_read(sl_conn *c)
{
        rx_lend(c);
        for (int i = 0; i < 8 && !c->dead; i++) {
                if (c->rx_req) {
                        int st = conn_may_read(c) ? rx_direct_read(c) : 0;
                        if (st < 0)
                                return;
                        if (st == 0)
                                break;
                        continue;
                }
                if (!parse_frames(c) || !conn_may_read(c))
                        break;
                if (c->rx_req)
                        continue; /* a big frame started: read into its request */
                /* Room for at least 4 KiB more after what is buffered. */
                if (c->rx_cap - c->rx_len < 4096 && !rx_reserve(c, c->rx_len - c->rx_off + 4096)) {
                        conn_close(c, "out of memory");
                        return;
                }
                size_t room = c->rx_cap - c->rx_len;
                ssize_t n =
                    c->shard->net.ops->read(&c->shard->net, c->sock, c->rx + c->rx_len, room);
                if (n == 0) {
                        conn_close(c, "peer closed");
                        return;
                }
                if (n < 0) {
                        if (n != -EAGAIN)
                                conn_close(c, strerror((int)-n));
                        break;
                }
                c->rx_len += (size_t)n;
                if ((size_t)n < room)
                        break;
        }
        if (c->dead)
                return;
        parse_frames(c);
        if (c->dead)
                return;
        if (c->rx_lent && !rx_unlend(c, 0)) {
                conn_close(c, "out of memory");
                return;
        }
        /* Idle: give back a big buffer. */
        if (c->rx_off == c->rx_len && c->rx_cap > SL_CONN_RX_KEEP) {
                free(c->rx);
                c->rx = NULL;
                c->rx_cap = c->rx_len = c->rx_off = 0;
        }
        if (c->reading != conn_may_read(c))
                conn_update_interest(c);
}

static void conn_io(sl_reactor *r, int fd, void *arg, int mask)
{
        (void)r;
        (void)fd;
        sl_conn *c = arg;
        if (mask & SL_WRITABLE)
                conn_flush(c);
        if (!c->dead && (mask & SL_READABLE))
                conn_read(c);
        if (!c->dead && (mask & SL_HANGUP))
                conn_close(c, "hangup");
}

/* --- writing --- */

/* Called by response.c when req completed (any state). */
void sl_conn_request_completed(sl_request *req)
{
        sl_conn *c = req->conn;
        if (c->dead) {
                /* Unlink and drop: nobody will read the answer. */
                sl_request **pp = &c->q_head;
                c->q_tail = NULL;
                while (*pp && *pp != req) {
                        c->q_tail = *pp;
                        pp = &(*pp)->next;
                }
                if (*pp) {
                        *pp = req->next;
                        c->q_count--;
                        req->in_queue = false;
                        budget_release(req);
                        while (*pp) {
                                c->q_tail = *pp;
                                pp = &(*pp)->next;
                        }
                }
                request_put(c->shard, req);
                if (!c->q_head)
                        queue_flush(c);
                return;
        }
        if (c->q_head == req)
                queue_flush(c);
}

static void request_sent(sl_conn *c, sl_request *r)
{
        c->q_head = r->next;
        if (!c->q_head)
                c->q_tail = NULL;
        c->q_count--;
        c->unanswered_bytes -= r->frame_len + 4;
        r->in_queue = false;
        budget_release(r);
        request_put(c->shard, r);
}

/* Writes as much of the head of the queue as the socket takes. */
static void conn_flush(sl_conn *c)
{
        while (!c->dead && c->q_head) {
                sl_request *r = c->q_head;
                if (r->state == SL_REQ_PENDING)
                        break;
                if (r->state == SL_REQ_NONE) {
                        request_sent(c, r);
                        continue;
                }
                if (r->state == SL_REQ_CLOSE) {
                        conn_close(c, "request asked to close");
                        return;
                }
                ssize_t w = sl_conn_send_ready(c);
                if (w < 0) {
                        if (w == -EAGAIN) {
                                if (!c->writing) {
                                        c->writing = true;
                                        conn_update_interest(c);
                                }
                                return;
                        }
                        conn_close(c, strerror((int)-w));
                        return;
                }
                /* Advance over what was written, popping finished requests. */
                size_t left = (size_t)w;
                for (;;) {
                        r = c->q_head;
                        if (!r || r->state != SL_REQ_DONE)
                                break;
                        if (r->send_seg >= r->nsegs) {
                                request_sent(c, r);
                                continue;
                        }
                        size_t piece = r->send_seg < 0 ? r->resp_hdr_len : r->segs[r->send_seg].len;
                        size_t rest = piece - r->send_off;
                        if (left < rest) {
                                r->send_off += left;
                                left = 0;
                                break;
                        }
                        left -= rest;
                        r->send_seg++;
                        r->send_off = 0;
                        if (r->send_seg >= r->nsegs) {
                                request_sent(c, r);
                                continue;
                        }
                        if (!left)
                                break;
                }
        }
        if (c->dead)
                return;
        if (c->writing) {
                c->writing = false;
                conn_update_interest(c);
        } else if (!c->reading && conn_may_read(c)) {
                conn_update_interest(c);
        }
        if (c->draining && !c->q_head)
                conn_close(c, "shutdown");
}

void sl_conn_flush_all(sl_shard *s)
{
        if (t_budget_resume) {
                t_budget_resume = false;
                sl_conn_resume_all(s);
        }
        sl_conn *c;
        while ((c = s->flush_head)) {
                s->flush_head = c->flush_next;
                c->flush_queued = false;
                if (c->dead) {
                        if (!c->q_head)
                                conn_free(c);
                        continue;
                }
                conn_flush(c);
        }
}

/* --- shutdown --- */

void sl_conn_drain_all(sl_shard *s)
{
        for (sl_conn *c = s->conns, *n; c; c = n) {
                n = c->next;
                if (c->dead)
                        continue;
                c->draining = true;
                if (!c->q_head)
                        conn_close(c, "shutdown");
                else
                        conn_update_interest(c);
        }
}

void sl_conn_close_all(sl_shard *s)
{
        for (sl_conn *c = s->conns, *n; c; c = n) {
                n = c->next;
                conn_close(c, "shutdown");
        }
        free(t_rx);
        t_rx = NULL;
        sl_conn_send_buffers_free();
}
