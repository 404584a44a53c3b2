/* storage/format.c — encode/decode of segment headers, seals, index entries,
 * record batch headers, and the chain step (layouts in format_int.h and
 * FORMAT.md).
 *
 * Everything that reads bytes from disk validates them here first: a decode
 * returns false / a reason instead of trusting a field. */
#include "format_int.h"

#include "crc32c.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <xxhash.h>

#define batch_crc32c(p, n) kp_crc32c(0, (p), (n))

void sl_batch_hdr_decode(const uint8_t *p, sl_batch_hdr *h)
{
        h->base_offset = (int64_t)sl_be64(p);
        h->batch_len = (int32_t)sl_be32(p + 8);
        h->epoch = (int32_t)sl_be32(p + 12);
        h->magic = (int8_t)p[16];
        h->crc = sl_be32(p + 17);
        h->attributes = (int16_t)sl_be16(p + 21);
        h->last_offset_delta = (int32_t)sl_be32(p + 23);
        h->max_ts = (int64_t)sl_be64(p + 35);
        h->records = (int32_t)sl_be32(p + 57);
}

bool sl_batch_crc_ok(const uint8_t *p, size_t size)
{
        return batch_crc32c(p + 21, size - 21) == sl_be32(p + 17);
}

void sl_batch_crc_store(uint8_t *p, size_t size)
{
        sl_put32(p + 17, batch_crc32c(p + 21, size - 21));
}

const char *sl_batch_hdr_check(const sl_batch_hdr *h)
{
        if (h->magic != 2)
                return "magic is not 2";
        if (h->batch_len < SL_BATCH_MIN_LEN)
                return "batchLength below the 61-byte header";
        if (h->base_offset < 0)
                return "negative baseOffset";
        if (h->last_offset_delta < 0)
                return "negative lastOffsetDelta";
        return NULL;
}

static uint32_t xx32(const uint8_t *p, size_t n)
{
        return XXH32(p, n, 0);
}

void sl_seg_hdr_encode(uint8_t out[SL_SEG_HDR_BYTES], const sl_seg_hdr *h)
{
        memset(out, 0, SL_SEG_HDR_BYTES);
        sl_put32(out, SL_SEG_MAGIC);
        sl_put16(out + 4, SL_SEG_VERSION);
        sl_put16(out + 6, SL_SEG_HDR_BYTES);
        sl_put64(out + 8, (uint64_t)h->base_offset);
        memcpy(out + 16, h->prev_chain.b, 16);
        sl_put64(out + 32, (uint64_t)h->created_ms);
        sl_put32(out + 40, h->flags);
        memcpy(out + 44, h->link_out.b, 16);
        sl_put32(out + 60, xx32(out, 60));
}

const char *sl_seg_hdr_decode(const uint8_t in[SL_SEG_HDR_BYTES], sl_seg_hdr *h)
{
        /* 1. The magic says this is a SerpentLog segment. */
        if (sl_be32(in) != SL_SEG_MAGIC)
                return "bad segment magic";
        /* 2. The checksum covers every other header byte. */
        if (sl_be32(in + 60) != xx32(in, 60))
                return "segment header checksum mismatch";
        /* 3. Only the version and header size we write are understood. */
        if (sl_be16(in + 4) != SL_SEG_VERSION || sl_be16(in + 6) != SL_SEG_HDR_BYTES)
                return "unsupported segment format version";
        h->base_offset = (int64_t)sl_be64(in + 8);
        /* 4. Offsets are never negative. */
        if (h->base_offset < 0)
                return "negative base offset in segment header";
        memcpy(h->prev_chain.b, in + 16, 16);
        h->created_ms = (int64_t)sl_be64(in + 32);
        /* 5. Only flags we know (a cleaned segment, storage/cleaner.c). */
        h->flags = sl_be32(in + 40);
        if (h->flags & ~SL_SEG_FLAG_CLEANED)
                return "unknown segment header flags";
        memcpy(h->link_out.b, in + 44, 16);
        return NULL;
}

void sl_seal_encode(uint8_t out[SL_SEAL_BYTES], const sl_seal *s)
{
        memset(out, 0, SL_SEAL_BYTES);
        sl_put64(out, UINT64_MAX);
        sl_put32(out + 8, SL_SEAL_BYTES - 12);
        sl_put32(out + 12, SL_SEAL_MAGIC);
        memcpy(out + 16, s->chain.b, 16);
        sl_put64(out + 32, (uint64_t)s->last_offset);
        sl_put64(out + 40, (uint64_t)s->max_ts);
        sl_put64(out + 48, (uint64_t)s->max_ts_offset);
        sl_put32(out + 60, xx32(out, 60));
}

bool sl_seal_prefix(const uint8_t in[12])
{
        return sl_be64(in) == UINT64_MAX && sl_be32(in + 8) == SL_SEAL_BYTES - 12;
}

bool sl_seal_decode(const uint8_t in[SL_SEAL_BYTES], sl_seal *s)
{
        if (!sl_seal_prefix(in) || sl_be32(in + 12) != SL_SEAL_MAGIC)
                return false;
        if (sl_be32(in + 60) != xx32(in, 60))
                return false;
        memcpy(s->chain.b, in + 16, 16);
        s->last_offset = (int64_t)sl_be64(in + 32);
        s->max_ts = (int64_t)sl_be64(in + 40);
        s->max_ts_offset = (int64_t)sl_be64(in + 48);
        return s->last_offset >= -1;
}

void sl_oidx_encode(uint8_t out[SL_OIDX_BYTES], const sl_oidx_entry *e)
{
        sl_put32(out, e->rel_offset);
        sl_put32(out + 4, e->pos);
        memcpy(out + 8, e->chain.b, 16);
        sl_put64(out + 24, (uint64_t)e->max_ts_before);
        sl_put32(out + 32, e->max_ts_rel);
        sl_put32(out + 36, xx32(out, 36));
}

bool sl_oidx_decode(const uint8_t in[SL_OIDX_BYTES], sl_oidx_entry *e)
{
        if (sl_be32(in + 36) != xx32(in, 36))
                return false;
        e->rel_offset = sl_be32(in);
        e->pos = sl_be32(in + 4);
        memcpy(e->chain.b, in + 8, 16);
        e->max_ts_before = (int64_t)sl_be64(in + 24);
        e->max_ts_rel = sl_be32(in + 32);
        return e->pos >= SL_SEG_HDR_BYTES;
}

void sl_tidx_encode(uint8_t out[SL_TIDX_BYTES], const sl_tidx_entry *e)
{
        sl_put64(out, (uint64_t)e->ts);
        sl_put32(out + 8, e->rel_offset);
        sl_put32(out + 12, xx32(out, 12));
}

bool sl_tidx_decode(const uint8_t in[SL_TIDX_BYTES], sl_tidx_entry *e)
{
        if (sl_be32(in + 12) != xx32(in, 12))
                return false;
        e->ts = (int64_t)sl_be64(in);
        e->rel_offset = sl_be32(in + 8);
        return true;
}

void sl_chain_hex(const sl_chain *c, char *buf)
{
        for (int i = 0; i < 8; i++)
                snprintf(buf + 2 * i, 3, "%02x", c->b[i]);
}

void sl_seg_name(char *buf, size_t cap, int64_t base, const char *ext)
{
        snprintf(buf, cap, "%020" PRId64 ".%s", base, ext);
}

bool sl_seg_name_parse(const char *name, const char *ext, int64_t *base)
{
        int64_t v = 0;
        for (int i = 0; i < 20; i++) {
                if (name[i] < '0' || name[i] > '9')
                        return false;
                if (v > (INT64_MAX - 9) / 10)
                        return false;
                v = v * 10 + (name[i] - '0');
        }
        if (name[20] != '.' || strcmp(name + 21, ext) != 0)
                return false;
        *base = v;
        return true;
}
