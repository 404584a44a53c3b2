/* tests/fuzz/fuzz_request.c — libFuzzer harness for the generated request codec.
 *
 * Input: one size-prefixed request frame, as a broker reads it off a socket.
 * Checks the size prefix, decodes the request header at the version the api
 * key/version imply, then the body with kp_request_decode_any (unknown keys
 * and versions are rejected). Whatever decodes must re-encode to exactly
 * size() bytes, decode again, and encode to the same bytes a second time;
 * anything else (or any sanitizer report) aborts. Seeds: corpus/request/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gen/kp_messages.h"

static kp_arena g_arena, g_arena2;
static int g_ready;

static uint8_t *encode_body(int16_t key, int16_t version, const void *body, size_t *len)
{
        size_t n = kp_request_size_any(key, version, body);
        uint8_t *buf = malloc(n ? n : 1);
        if (!buf)
                abort();
        kp_wr wr;
        kp_wr_init(&wr, buf, n);
        if (kp_request_encode_any(&wr, key, version, body) != 0 || (size_t)(wr.p - buf) != n)
                abort(); /* a decoded value must always be encodable, in size() bytes */
        *len = n;
        return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (!g_ready) {
                kp_arena_init(&g_arena, 1 << 16);
                kp_arena_init(&g_arena2, 1 << 16);
                g_ready = 1;
        }
        if (size < 4)
                return 0;
        int32_t flen = (int32_t)((uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
                                 (uint32_t)data[2] << 8 | data[3]);
        if (flen < 8 || (size_t)flen > size - 4)
                return 0; /* a broker closes (negative/too small) or waits for more */
        const uint8_t *frame = data + 4;
        int16_t key = (int16_t)(frame[0] << 8 | frame[1]);
        int16_t version = (int16_t)(frame[2] << 8 | frame[3]);

        kp_rd rd;
        kp_rd_init(&rd, frame, (size_t)flen, &g_arena);
        kp_request_header h;
        if (kp_request_header_decode(&rd, kp_request_header_version(key, version), &h) != 0) {
                if (rd.err == 0 || rd.why == NULL)
                        abort();
                goto out;
        }
        if (h.request_api_key != key || h.request_api_version != version)
                abort();
        size_t sz = kp_request_struct_size(key);
        if (sz == 0) {
                if (kp_request_decode_any(&rd, key, version, NULL) != -1 || rd.err == 0)
                        abort(); /* unknown keys must be refused */
                goto out;
        }
        void *body = kp_arena_alloc(&g_arena, 1, sz);
        void *body2 = kp_arena_alloc(&g_arena2, 1, sz);
        if (!body || !body2)
                abort();
        if (kp_request_decode_any(&rd, key, version, body) != 0) {
                if (rd.err == 0 || rd.why == NULL)
                        abort();
                goto out;
        }

        size_t n1, n2;
        uint8_t *b1 = encode_body(key, version, body, &n1);
        kp_rd rd2;
        kp_rd_init(&rd2, b1, n1, &g_arena2);
        if (kp_request_decode_any(&rd2, key, version, body2) != 0 || kp_rd_left(&rd2) != 0)
                abort(); /* our own encoding must decode, completely */
        uint8_t *b2 = encode_body(key, version, body2, &n2);
        if (n1 != n2 || memcmp(b1, b2, n1) != 0)
                abort(); /* and re-encode to the same bytes */
        free(b2);
        free(b1);
out:
        kp_arena_reset(&g_arena);
        kp_arena_reset(&g_arena2);
        return 0;
}
