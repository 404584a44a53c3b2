/* broker/request.h — one in-flight Kafka request and how a handler answers it.
 *
 * Produce path 2/5 hands an sl_request to a handler (broker/dispatch.h). The
 * request lives on the shard of its connection until its response has been
 * written, so everything a handler puts in `arena` (decoded body, response
 * structs, encoded bytes) stays valid until then; the frame bytes too (record
 * batches decoded as views can be sent to other shards and read there until
 * the xcall replies). Requests and their arenas are pooled per shard: no
 * malloc per request in steady state.
 *
 * A handler completes exactly once, possibly later (after cross-shard work or
 * a timer) and always on the request's shard, with one of:
 *   sl_request_respond()       — response built from segments (below);
 *   SL_REQUEST_RESPOND(req, kp_metadata_response, &resp) — the common case;
 *   sl_request_respond_none()  — acks=0 Produce: no response at all;
 *   sl_request_close()         — undecodable body, or a failed acks=0 Produce:
 *                                the connection closes (ENCODING §2.5).
 * Responses leave the connection strictly in request order (broker/conn.c),
 * whatever order handlers complete in.
 *
 * A response body is a list of segments: memory (encoded by the generated
 * codec) or file ranges (Fetch: record bytes go out with sendfile, zero-copy).
 * The response header (correlation id, header version) is added by conn. */
#ifndef SL_REQUEST_H
#define SL_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "wire.h"

typedef struct sl_conn sl_conn;
typedef struct sl_shard sl_shard;
typedef struct sl_request sl_request;

/* One piece of a response body. */
typedef struct sl_seg {
        const uint8_t *p; /* memory, when fd < 0 */
        int fd;           /* file descriptor of a file range, else -1 */
        int64_t off;      /* file offset of a file range */
        size_t len;       /* bytes */
        kp_wr *wr;        /* writer over p (memory segments, in the arena) */
} sl_seg;

struct sl_request {
        /* request header, read-only for handlers */
        int16_t api_key;
        int16_t api_version;
        int32_t correlation_id;
        kp_str client_id; /* "" when null on the wire */
        /* body cursor over the frame (arena = &arena): pass to kp_X_decode */
        kp_rd body;
        kp_arena arena;      /* freed after the response is written */
        sl_shard *shard;     /* the connection's shard */
        sl_conn *conn;       /* for sl_conn_* calls (e.g. client software) */
        int64_t received_ms; /* monotonic ms at frame arrival */
        void *user;          /* handler scratch (e.g. its context in the arena) */

        /* internal (conn.c, response.c) */
        sl_request *next;     /* connection FIFO / free list */
        uint8_t *frame;       /* owned copy of the frame (after the size) */
        size_t frame_cap;     /* capacity of frame */
        size_t frame_len;     /* bytes in frame */
        uint8_t state;        /* SL_REQ_* in conn_int.h */
        uint8_t resp_hdr_len; /* 4 size + 4 corr + 0/1 tagged */
        uint8_t resp_hdr[9];  /* framed response header */
        sl_seg *segs;         /* response segments */
        int nsegs;
        int segs_cap;
        sl_seg seg_inline[3];
        size_t resp_len; /* sum of segment lengths */
        int send_seg;    /* piece being written: -1 header, else segs index */
        size_t send_off; /* bytes of that piece already written */
        bool in_queue;   /* still linked in its connection's FIFO */
        void (*on_sent)(sl_request *req, void *arg);
        void *on_sent_arg;
};

/* Appends a memory segment of exactly `len` bytes to the response and returns
 * a writer over it; encode into it (the generated kp_X_encode). NULL when the
 * arena cannot allocate — then just call sl_request_respond(), which closes
 * the connection. A writer that is not filled exactly fails the response. */
kp_wr *sl_request_body(sl_request *req, size_t len);

/* Appends a file range (sent with sendfile on kernel sockets). The fd must
 * stay open until on_sent runs (pin the segment; release it from on_sent). */
void sl_request_file(sl_request *req, int fd, int64_t off, size_t len);

/* Runs fn(req, arg) on the request's shard once the response has been fully
 * written or the connection closed (release pins, send "unpin" xcalls). */
void sl_request_on_sent(sl_request *req, void (*fn)(sl_request *req, void *arg), void *arg);

/* Completes the request with the segments added so far. */
void sl_request_respond(sl_request *req);
/* Completes the request with no response (Produce acks=0). */
void sl_request_respond_none(sl_request *req);
/* Completes the request by closing its connection (after earlier responses
 * have been written). `why` is logged. */
void sl_request_close(sl_request *req, const char *why);

/* Encodes a generated response message at the request's version and responds.
 * TYPE is the generated name, e.g. kp_metadata_response. */
#define SL_REQUEST_RESPOND(req, TYPE, msg)                                                         \
        do {                                                                                       \
                sl_request *rq_ = (req);                                                           \
                kp_wr *w_ = sl_request_body(rq_, TYPE##_size((msg), rq_->api_version));            \
                if (w_)                                                                            \
                        TYPE##_encode(w_, rq_->api_version, (msg));                                \
                sl_request_respond(rq_);                                                           \
        } while (0)

#endif
