/* protocol/wire.h — bounds-checked Kafka wire primitives.
 *
 * Every decoder (generated in protocol/gen/ and hand-written) reads through a
 * kp_rd cursor with a sticky error: a read past the end, an absurd length or a
 * bad varint records the first error (a Kafka error code to answer with and a
 * short reason), moves the cursor to the end and returns 0/empty, so later
 * reads fail harmlessly and callers test rd->err once per message or element.
 * Strings and bytes are views into the frame, never copies.
 *
 * Writers (kp_wr) are used after the encoded size is known; a write past the
 * end sets err instead of overflowing. */
#ifndef KP_WIRE_H
#define KP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "kafka_errors.h"

/* A byte view; len == -1 means null. */
typedef struct kp_bytes {
        const uint8_t *p;
        int32_t len;
} kp_bytes;

/* A string view (not NUL-terminated); len == -1 means null. */
typedef struct kp_str {
        const char *p;
        int32_t len;
} kp_str;

typedef struct kp_uuid {
        uint8_t b[16];
} kp_uuid;

#define KP_STR_NULL   ((kp_str){NULL, -1})
#define KP_BYTES_NULL ((kp_bytes){NULL, -1})
/* A kp_str from a C string literal or NUL-terminated string. */
static inline kp_str kp_str_c(const char *s)
{
        return (kp_str){s, s ? (int32_t)strlen(s) : -1};
}
static inline bool kp_str_eq(kp_str a, kp_str b)
{
        return a.len == b.len && (a.len <= 0 || memcmp(a.p, b.p, (size_t)a.len) == 0);
}

/* Decode cursor over one frame. */
typedef struct kp_rd {
        const uint8_t *p;   /* next byte */
        const uint8_t *end; /* one past the frame's last byte */
        int16_t err;        /* 0, or the Kafka error code to answer with */
        const char *why;    /* static reason for err, e.g. "TopicName: length" */
        kp_arena *arena;    /* where decoded arrays go; released in one call */
} kp_rd;

static inline void kp_rd_init(kp_rd *rd, const void *p, size_t len, kp_arena *arena)
{
        rd->p = (const uint8_t *)p;
        rd->end = rd->p + len;
        rd->err = 0;
        rd->why = NULL;
        rd->arena = arena;
}

static inline size_t kp_rd_left(const kp_rd *rd)
{
        return (size_t)(rd->end - rd->p);
}

/* Records the first error only and stops all further reads. */
static inline void kp_rd_fail(kp_rd *rd, int16_t err, const char *why)
{
        if (!rd->err) {
                rd->err = err;
                rd->why = why;
        }
        rd->p = rd->end;
}

static inline bool kp_rd_need(kp_rd *rd, size_t n, const char *what)
{
        if (kp_rd_left(rd) < n) {
                kp_rd_fail(rd, KP_ERR_CORRUPT_MESSAGE, what);
                return false;
        }
        return true;
}

static inline uint8_t kp_rd_u8(kp_rd *rd, const char *what)
{
        if (!kp_rd_need(rd, 1, what))
                return 0;
        return *rd->p++;
}
static inline int8_t kp_rd_i8(kp_rd *rd, const char *what)
{
        return (int8_t)kp_rd_u8(rd, what);
}
static inline bool kp_rd_bool(kp_rd *rd, const char *what)
{
        return kp_rd_u8(rd, what) != 0;
}
static inline uint16_t kp_rd_u16(kp_rd *rd, const char *what)
{
        if (!kp_rd_need(rd, 2, what))
                return 0;
        uint16_t v = (uint16_t)((uint16_t)rd->p[0] << 8 | rd->p[1]);
        rd->p += 2;
        return v;
}
static inline int16_t kp_rd_i16(kp_rd *rd, const char *what)
{
        return (int16_t)kp_rd_u16(rd, what);
}
static inline uint32_t kp_rd_u32(kp_rd *rd, const char *what)
{
        if (!kp_rd_need(rd, 4, what))
                return 0;
        uint32_t v = (uint32_t)rd->p[0] << 24 | (uint32_t)rd->p[1] << 16 | (uint32_t)rd->p[2] << 8 |
                     rd->p[3];
        rd->p += 4;
        return v;
}
static inline int32_t kp_rd_i32(kp_rd *rd, const char *what)
{
        return (int32_t)kp_rd_u32(rd, what);
}
static inline uint64_t kp_rd_u64(kp_rd *rd, const char *what)
{
        uint64_t hi = kp_rd_u32(rd, what);
        return hi << 32 | kp_rd_u32(rd, what);
}
static inline int64_t kp_rd_i64(kp_rd *rd, const char *what)
{
        return (int64_t)kp_rd_u64(rd, what);
}
static inline double kp_rd_f64(kp_rd *rd, const char *what)
{
        uint64_t bits = kp_rd_u64(rd, what);
        double d;
        memcpy(&d, &bits, sizeof(d));
        return d;
}
static inline kp_uuid kp_rd_uuid(kp_rd *rd, const char *what)
{
        kp_uuid u = {{0}};
        if (kp_rd_need(rd, 16, what)) {
                memcpy(u.b, rd->p, 16);
                rd->p += 16;
        }
        return u;
}

/* Unsigned varint, at most 5 bytes (uint32). */
static inline uint32_t kp_rd_uvarint(kp_rd *rd, const char *what)
{
        uint32_t v = 0;
        for (int i = 0; i < 5; i++) {
                if (!kp_rd_need(rd, 1, what))
                        return 0;
                uint8_t b = *rd->p++;
                if (i == 4 && (b & 0xf0)) {
                        kp_rd_fail(rd, KP_ERR_CORRUPT_MESSAGE, what);
                        return 0;
                }
                v |= (uint32_t)(b & 0x7f) << (7 * i);
                if (!(b & 0x80))
                        return v;
        }
        kp_rd_fail(rd, KP_ERR_CORRUPT_MESSAGE, what);
        return 0;
}

/* Zig-zag varint (int32), at most 5 bytes. */
static inline int32_t kp_rd_varint(kp_rd *rd, const char *what)
{
        uint32_t z = kp_rd_uvarint(rd, what);
        return (int32_t)((z >> 1) ^ (~(z & 1) + 1));
}

/* Zig-zag varlong (int64), at most 10 bytes. */
static inline int64_t kp_rd_varlong(kp_rd *rd, const char *what)
{
        uint64_t z = 0;
        for (int i = 0; i < 10; i++) {
                if (!kp_rd_need(rd, 1, what))
                        return 0;
                uint8_t b = *rd->p++;
                if (i == 9 && (b & 0xfe)) {
                        kp_rd_fail(rd, KP_ERR_CORRUPT_MESSAGE, what);
                        return 0;
                }
                z |= (uint64_t)(b & 0x7f) << (7 * i);
                if (!(b & 0x80))
                        return (int64_t)((z >> 1) ^ (~(z & 1) + 1));
        }
        kp_rd_fail(rd, KP_ERR_CORRUPT_MESSAGE, what);
        return 0;
}

/* Takes n raw bytes as a view. */
static inline const uint8_t *kp_rd_take(kp_rd *rd, size_t n, const char *what)
{
        if (!kp_rd_need(rd, n, what))
                return NULL;
        const uint8_t *p = rd->p;
        rd->p += n;
        return p;
}

/* Array count already read from the wire, checked against the bytes left given
 * the smallest encoding of one element, before anything is allocated.
 * Returns false (and sets the error) when it cannot fit. */
static inline bool kp_rd_count_fits(kp_rd *rd, int64_t count, size_t min_elem_bytes,
                                    const char *what)
{
        if (count < 0 || (min_elem_bytes && (uint64_t)count > kp_rd_left(rd) / min_elem_bytes)) {
                kp_rd_fail(rd, KP_ERR_CORRUPT_MESSAGE, what);
                return false;
        }
        return true;
}

/* Writer over a buffer sized by the encoded-size function. */
typedef struct kp_wr {
        uint8_t *p;   /* next byte to write */
        uint8_t *end; /* one past the buffer */
        int err;      /* non-zero after an overflow or an unencodable value */
        const char *why;
} kp_wr;

static inline void kp_wr_init(kp_wr *wr, void *buf, size_t len)
{
        wr->p = (uint8_t *)buf;
        wr->end = wr->p + len;
        wr->err = 0;
        wr->why = NULL;
}
static inline void kp_wr_fail(kp_wr *wr, const char *why)
{
        if (!wr->err) {
                wr->err = -1;
                wr->why = why;
        }
        wr->p = wr->end;
}
static inline bool kp_wr_room(kp_wr *wr, size_t n)
{
        if ((size_t)(wr->end - wr->p) < n) {
                kp_wr_fail(wr, "buffer too small");
                return false;
        }
        return true;
}
static inline void kp_wr_raw(kp_wr *wr, const void *src, size_t n)
{
        if (n && kp_wr_room(wr, n)) {
                memcpy(wr->p, src, n);
                wr->p += n;
        }
}
static inline void kp_wr_u8(kp_wr *wr, uint8_t v)
{
        if (kp_wr_room(wr, 1))
                *wr->p++ = v;
}
static inline void kp_wr_i8(kp_wr *wr, int8_t v)
{
        kp_wr_u8(wr, (uint8_t)v);
}
static inline void kp_wr_bool(kp_wr *wr, bool v)
{
        kp_wr_u8(wr, v ? 1 : 0);
}
static inline void kp_wr_u16(kp_wr *wr, uint16_t v)
{
        if (kp_wr_room(wr, 2)) {
                wr->p[0] = (uint8_t)(v >> 8);
                wr->p[1] = (uint8_t)v;
                wr->p += 2;
        }
}
static inline void kp_wr_i16(kp_wr *wr, int16_t v)
{
        kp_wr_u16(wr, (uint16_t)v);
}
static inline void kp_wr_u32(kp_wr *wr, uint32_t v)
{
        if (kp_wr_room(wr, 4)) {
                wr->p[0] = (uint8_t)(v >> 24);
                wr->p[1] = (uint8_t)(v >> 16);
                wr->p[2] = (uint8_t)(v >> 8);
                wr->p[3] = (uint8_t)v;
                wr->p += 4;
        }
}
static inline void kp_wr_i32(kp_wr *wr, int32_t v)
{
        kp_wr_u32(wr, (uint32_t)v);
}
static inline void kp_wr_u64(kp_wr *wr, uint64_t v)
{
        kp_wr_u32(wr, (uint32_t)(v >> 32));
        kp_wr_u32(wr, (uint32_t)v);
}
static inline void kp_wr_i64(kp_wr *wr, int64_t v)
{
        kp_wr_u64(wr, (uint64_t)v);
}
static inline void kp_wr_f64(kp_wr *wr, double d)
{
        uint64_t bits;
        memcpy(&bits, &d, sizeof(bits));
        kp_wr_u64(wr, bits);
}
static inline void kp_wr_uuid(kp_wr *wr, kp_uuid u)
{
        kp_wr_raw(wr, u.b, 16);
}
static inline void kp_wr_uvarint(kp_wr *wr, uint32_t v)
{
        while (v >= 0x80) {
                kp_wr_u8(wr, (uint8_t)(v | 0x80));
                v >>= 7;
        }
        kp_wr_u8(wr, (uint8_t)v);
}
static inline void kp_wr_varint(kp_wr *wr, int32_t v)
{
        kp_wr_uvarint(wr, ((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}
static inline void kp_wr_varlong(kp_wr *wr, int64_t v)
{
        uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        while (z >= 0x80) {
                kp_wr_u8(wr, (uint8_t)(z | 0x80));
                z >>= 7;
        }
        kp_wr_u8(wr, (uint8_t)z);
}

/* Encoded sizes of varints, for the size functions. */
static inline size_t kp_uvarint_size(uint32_t v)
{
        size_t n = 1;
        while (v >= 0x80) {
                v >>= 7;
                n++;
        }
        return n;
}
static inline size_t kp_varint_size(int32_t v)
{
        return kp_uvarint_size(((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}
static inline size_t kp_varlong_size(int64_t v)
{
        uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        size_t n = 1;
        while (z >= 0x80) {
                z >>= 7;
                n++;
        }
        return n;
}

/* ---- Helpers for the generated codec (protocol/gen/) ----
 * Variable-length fields in either encoding: classic (int16/int32 length or
 * count, -1 = null) or compact (uvarint of length+1, 0 = null). A null where
 * the version does not allow one is INVALID_REQUEST; a bad length is
 * CORRUPT_MESSAGE. Writers refuse strings longer than KP_STRING_MAX. */
#define KP_STRING_MAX 32767

static inline bool kp_uuid_is_zero(kp_uuid u)
{
        static const kp_uuid zero;
        return memcmp(u.b, zero.b, 16) == 0;
}

/* Reads a length (compact or classic int16/int32 per 'wide'); -1 for null,
 * -2 after an error (rd->err set). */
static inline int64_t kp_rd_len(kp_rd *rd, bool compact, bool wide, bool nullable, const char *what)
{
        int64_t len;
        if (compact)
                len = (int64_t)kp_rd_uvarint(rd, what) - 1;
        else
                len = wide ? kp_rd_i32(rd, what) : kp_rd_i16(rd, what);
        if (rd->err)
                return -2;
        if (len == -1 && !nullable) {
                kp_rd_fail(rd, KP_ERR_INVALID_REQUEST, what);
                return -2;
        }
        if (len < -1 || len > INT32_MAX) {
                kp_rd_fail(rd, KP_ERR_CORRUPT_MESSAGE, what);
                return -2;
        }
        return len;
}

static inline kp_str kp_rd_string(kp_rd *rd, bool compact, bool nullable, const char *what)
{
        int64_t len = kp_rd_len(rd, compact, false, nullable, what);
        if (len == -1)
                return KP_STR_NULL;
        if (len < 0)
                return (kp_str){NULL, 0};
        if (len > KP_STRING_MAX) {
                kp_rd_fail(rd, KP_ERR_CORRUPT_MESSAGE, what);
                return (kp_str){NULL, 0};
        }
        const uint8_t *p = kp_rd_take(rd, (size_t)len, what);
        if (rd->err)
                return (kp_str){NULL, 0};
        return (kp_str){(const char *)p, (int32_t)len};
}

static inline kp_bytes kp_rd_bytes(kp_rd *rd, bool compact, bool nullable, const char *what)
{
        int64_t len = kp_rd_len(rd, compact, true, nullable, what);
        if (len == -1)
                return KP_BYTES_NULL;
        if (len < 0)
                return (kp_bytes){NULL, 0};
        const uint8_t *p = kp_rd_take(rd, (size_t)len, what);
        if (rd->err)
                return (kp_bytes){NULL, 0};
        return (kp_bytes){p, (int32_t)len};
}

/* Reads an array count and checks it against the bytes left (each element
 * takes at least min_elem_bytes, and at least one) before anything is
 * allocated. Returns the count, -1 for null, or 0 with rd->err set. */
static inline int32_t kp_rd_array_len(kp_rd *rd, bool compact, bool nullable, size_t min_elem_bytes,
                                      const char *what)
{
        int64_t n = kp_rd_len(rd, compact, true, nullable, what);
        if (n == -1)
                return -1;
        if (n < 0 || !kp_rd_count_fits(rd, n, min_elem_bytes ? min_elem_bytes : 1, what))
                return 0;
        return (int32_t)n;
}

/* Zeroed room for n decoded elements from the reader's arena. */
static inline void *kp_rd_alloc(kp_rd *rd, size_t n, size_t size, const char *what)
{
        void *p = rd->arena ? kp_arena_alloc(rd->arena, n, size) : NULL;
        if (!p)
                kp_rd_fail(rd, KP_ERR_UNKNOWN_SERVER_ERROR, what);
        return p;
}

static inline size_t kp_len_size(bool compact, bool wide, int64_t len)
{
        if (len < 0)
                return compact ? 1 : (wide ? 4 : 2);
        return compact ? kp_uvarint_size((uint32_t)len + 1) : (wide ? 4 : 2);
}
static inline void kp_wr_len(kp_wr *wr, bool compact, bool wide, int64_t len)
{
        if (compact)
                kp_wr_uvarint(wr, len < 0 ? 0 : (uint32_t)len + 1);
        else if (wide)
                kp_wr_i32(wr, len < 0 ? -1 : (int32_t)len);
        else
                kp_wr_i16(wr, len < 0 ? -1 : (int16_t)len);
}

static inline size_t kp_string_size(bool compact, kp_str s)
{
        return kp_len_size(compact, false, s.len) + (s.len > 0 ? (size_t)s.len : 0);
}
static inline void kp_wr_string(kp_wr *wr, bool compact, kp_str s)
{
        if (s.len > KP_STRING_MAX) {
                kp_wr_fail(wr, "string longer than 32767 bytes");
                return;
        }
        kp_wr_len(wr, compact, false, s.len);
        if (s.len > 0)
                kp_wr_raw(wr, s.p, (size_t)s.len);
}
static inline size_t kp_bytes_size(bool compact, kp_bytes b)
{
        return kp_len_size(compact, true, b.len) + (b.len > 0 ? (size_t)b.len : 0);
}
static inline void kp_wr_bytes(kp_wr *wr, bool compact, kp_bytes b)
{
        kp_wr_len(wr, compact, true, b.len);
        if (b.len > 0)
                kp_wr_raw(wr, b.p, (size_t)b.len);
}

#endif
