/* broker/conn_int.h — the connection struct and request states, shared by
 * conn.c (reading, framing, ordering, writing) and response.c (the respond
 * API handlers call). Private to broker/. */
#ifndef SL_CONN_INT_H
#define SL_CONN_INT_H

#include "broker_int.h"
#include "conn.h"

/* Request states: a request is queued on its connection from arrival until
 * its response has been written (or it turned out to need none). */
enum {
        SL_REQ_PENDING = 0, /* handler working */
        SL_REQ_DONE = 1,    /* response segments ready */
        SL_REQ_NONE = 2,    /* no response (acks=0) */
        SL_REQ_CLOSE = 3,   /* close the connection when this reaches the head */
};

/* Pipelined requests a connection may have unanswered before it stops
 * reading: bounds per-connection memory together with
 * connection.max.unanswered.bytes (librdkafka alone keeps up to 1M in flight). */
#define SL_CONN_MAX_INFLIGHT    512
#define SL_CONN_RX_INITIAL      16384        /* private buffer for a partial frame */
#define SL_SHARD_RX_BYTES       65536        /* the shard's reusable receive buffer */
#define SL_SHARD_TX_STAGE_BYTES (1u << 20)   /* the shard's buffer for copied file ranges */
#define SL_CONN_RX_KEEP         (1u << 20)   /* larger buffers are freed once empty */
#define SL_REQ_POOL_KEEP        256          /* idle pooled requests kept per shard */
#define SL_REQ_FRAME_KEEP       65536        /* larger frame copies are freed on reuse, */
#define SL_REQ_BIG_FRAMES_KEEP  2            /* except this many per shard, */
#define SL_REQ_BIG_FRAME_MAX    (2u << 20)   /* up to this size (produce batches) */
#define SL_CONN_DIRECT_MIN      32768        /* bigger frames are read straight into a request */
#define SL_REQ_ARENA_KEEP       (256u << 10) /* bigger request arenas are freed on reuse */
#define SL_SHARD_REQUEST_BUDGET (512u << 20) /* queued request bytes per shard */

/* One client connection. Owned by the shard that accepted it. */
struct sl_conn {
        sl_shard *shard;
        int sock;
        char peer[64];
        sl_conn *prev, *next; /* shard's connection list */
        /* receive */
        uint8_t *rx;  /* own buffer, or the shard's while rx_lent */
        bool rx_lent; /* rx is the shard's reusable buffer (conn.c) */
        size_t rx_cap;
        size_t rx_len;      /* bytes buffered */
        size_t rx_off;      /* start of the first unparsed frame */
        sl_request *rx_req; /* big frame being read straight into its request */
        size_t rx_req_have; /* frame bytes of rx_req read so far */
        /* requests in arrival order; responses leave from the head */
        sl_request *q_head, *q_tail;
        uint32_t q_count;
        size_t unanswered_bytes; /* frame bytes of queued requests */
        /* state */
        bool reading;      /* read interest on */
        bool writing;      /* write interest on (socket was full) */
        bool draining;     /* shutdown: no new requests, close when answered */
        bool dead;         /* socket closed; freed when the queue empties */
        bool flush_queued; /* on the shard's flush list */
        bool copy_send;    /* file ranges go out copied, not sendfile (fetch.send.mode) */
        sl_conn *flush_next;
        char sw_name[64];
        char sw_version[64];
};

/* conn.c */
extern size_t sl_conn_shard_budget_bytes; /* SL_SHARD_REQUEST_BUDGET; tests lower it */
void sl_conn_request_completed(sl_request *req);

/* conn_send.c: one write of c's finished responses from the head of its
 * queue (which must be SL_REQ_DONE): bytes written, or -errno (-EAGAIN: the
 * socket is full). The shard's staging buffer is freed when it stops. */
ssize_t sl_conn_send_ready(sl_conn *c);
void sl_conn_send_buffers_free(void);

#endif
