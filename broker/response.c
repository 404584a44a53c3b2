/* broker/response.c — the respond API of request.h: a response is a list of
 * segments (encoded memory from the request's arena, or file ranges for
 * sendfile) plus the framed response header that conn.c writes first.
 * Completion only changes the request's state and tells its connection; the
 * bytes go out from conn.c in request order, batched per loop turn. */
#include "conn_int.h"

#include <stdlib.h>
#include <string.h>

static sl_seg *seg_add(sl_request *req)
{
        if (req->nsegs == req->segs_cap) {
                int cap = req->segs_cap * 2;
                sl_seg *ns = kp_arena_alloc(&req->arena, (size_t)cap, sizeof(*ns));
                if (!ns)
                        return NULL;
                memcpy(ns, req->segs, (size_t)req->nsegs * sizeof(*ns));
                /* Writers handed out earlier point at their own buffers, not at the
                 * seg structs, so moving the array is safe. */
                req->segs = ns;
                req->segs_cap = cap;
        }
        sl_seg *s = &req->segs[req->nsegs++];
        memset(s, 0, sizeof(*s));
        s->fd = -1;
        return s;
}

kp_wr *sl_request_body(sl_request *req, size_t len)
{
        uint8_t *p = len ? kp_arena_alloc(&req->arena, len, 1) : NULL;
        if (len && !p) {
                req->resp_len = SIZE_MAX; /* poisons the response: respond closes */
                return NULL;
        }
        sl_seg *s = seg_add(req);
        if (!s) {
                req->resp_len = SIZE_MAX;
                return NULL;
        }
        s->p = p;
        s->len = len;
        req->resp_len += len;
        kp_wr *w = kp_arena_alloc(&req->arena, 1, sizeof(*w));
        if (!w) {
                req->resp_len = SIZE_MAX;
                return NULL;
        }
        kp_wr_init(w, p, len);
        s->wr = w;
        return w;
}

void sl_request_file(sl_request *req, int fd, int64_t off, size_t len)
{
        if (!len)
                return;
        sl_seg *s = seg_add(req);
        if (!s) {
                req->resp_len = SIZE_MAX;
                return;
        }
        s->fd = fd;
        s->off = off;
        s->len = len;
        req->resp_len += len;
}

void sl_request_on_sent(sl_request *req, void (*fn)(sl_request *req, void *arg), void *arg)
{
        req->on_sent = fn;
        req->on_sent_arg = arg;
}

static void complete(sl_request *req, uint8_t state)
{
        req->state = state;
        sl_conn_request_completed(req);
}

void sl_request_respond(sl_request *req)
{
        bool bad = req->resp_len > (size_t)INT32_MAX - 5;
        for (int i = 0; i < req->nsegs && !bad; i++) {
                const sl_seg *s = &req->segs[i];
                /* An encoder that failed or wrote short would corrupt the stream. */
                if (s->fd < 0 && s->wr && (s->wr->err || s->wr->p != s->wr->end)) {
                        SL_ERROR("api %d v%d: response encoding failed: %s", req->api_key,
                                 req->api_version, s->wr->why ? s->wr->why : "short write");
                        bad = true;
                }
        }
        if (bad) {
                complete(req, SL_REQ_CLOSE);
                return;
        }
        size_t frame = req->resp_hdr_len - 4 + req->resp_len;
        req->resp_hdr[0] = (uint8_t)(frame >> 24);
        req->resp_hdr[1] = (uint8_t)(frame >> 16);
        req->resp_hdr[2] = (uint8_t)(frame >> 8);
        req->resp_hdr[3] = (uint8_t)frame;
        complete(req, SL_REQ_DONE);
}

void sl_request_respond_none(sl_request *req)
{
        complete(req, SL_REQ_NONE);
}

void sl_request_close(sl_request *req, const char *why)
{
        SL_INFO("closing connection %s: api %d v%d: %s", req->conn ? sl_conn_peer(req->conn) : "?",
                req->api_key, req->api_version, why);
        complete(req, SL_REQ_CLOSE);
}
