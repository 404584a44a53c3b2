/* protocol/frame.h — size-prefixed frame reader for a connection's receive buffer.
 *
 * Every Kafka request and response is an int32 big-endian size followed by that
 * many bytes (header + body). The connection code calls kp_frame_peek on the
 * bytes buffered so far, before reserving memory for the body: it says whether a
 * whole frame is present, how long it is, or that the size is impossible, in
 * which case the connection is closed (Kafka does the same). No allocation, no
 * state: the caller keeps the buffer. */
#ifndef KP_FRAME_H
#define KP_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of the size prefix. */
#define KP_FRAME_PREFIX_BYTES 4
/* Smallest request header (v0: api_key, api_version, correlation_id). */
#define KP_FRAME_MIN_REQUEST_BYTES 8
/* Smallest response header (v0: correlation_id). */
#define KP_FRAME_MIN_RESPONSE_BYTES 4
/* socket.request.max.bytes default (100 MiB). */
#define KP_FRAME_DEFAULT_MAX_BYTES 104857600

enum kp_frame_status {
        KP_FRAME_NEED_MORE = 0, /* read more bytes; *frame_len is set once the prefix is in */
        KP_FRAME_READY = 1,     /* buf holds prefix + *frame_len bytes (or more) */
        KP_FRAME_INVALID = -1,  /* size < minimum or > max_bytes: close the connection */
};

/* Looks at the start of a request receive buffer. *frame_len receives the size
 * field (bytes after the prefix) as soon as the prefix is complete, so the
 * caller can size its buffer; it is left untouched while fewer than 4 bytes are
 * buffered. A request frame needs at least KP_FRAME_MIN_REQUEST_BYTES. */
int kp_frame_peek(const uint8_t *buf, size_t len, int32_t max_bytes, int32_t *frame_len);

/* Same with an explicit minimum, for response frames (clients, tests, the
 * inter-broker RPC). min_bytes must be >= 0. */
int kp_frame_peek_min(const uint8_t *buf, size_t len, int32_t min_bytes, int32_t max_bytes,
                      int32_t *frame_len);

/* Writes the 4-byte size prefix for a frame of frame_len bytes. */
void kp_frame_put_size(uint8_t *prefix, int32_t frame_len);

#endif
