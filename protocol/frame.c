/* protocol/frame.c — the size check that runs before any request byte is
 * decoded (see frame.h). A negative size, one smaller than the smallest header
 * or one above socket.request.max.bytes closes the connection before the body
 * is buffered, so a hostile 2 GiB size never reserves 2 GiB. */
#include "frame.h"

int kp_frame_peek_min(const uint8_t *buf, size_t len, int32_t min_bytes, int32_t max_bytes,
                      int32_t *frame_len)
{
        if (len < KP_FRAME_PREFIX_BYTES)
                return KP_FRAME_NEED_MORE;
        uint32_t raw = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 |
                       (uint32_t)buf[3];
        int32_t size = (int32_t)raw;
        if (size < 0 || size < min_bytes || size > max_bytes)
                return KP_FRAME_INVALID;
        *frame_len = size;
        if (len - KP_FRAME_PREFIX_BYTES < (size_t)size)
                return KP_FRAME_NEED_MORE;
        return KP_FRAME_READY;
}

int kp_frame_peek(const uint8_t *buf, size_t len, int32_t max_bytes, int32_t *frame_len)
{
        return kp_frame_peek_min(buf, len, KP_FRAME_MIN_REQUEST_BYTES, max_bytes, frame_len);
}

void kp_frame_put_size(uint8_t *prefix, int32_t frame_len)
{
        uint32_t v = (uint32_t)frame_len;
        prefix[0] = (uint8_t)(v >> 24);
        prefix[1] = (uint8_t)(v >> 16);
        prefix[2] = (uint8_t)(v >> 8);
        prefix[3] = (uint8_t)v;
}
