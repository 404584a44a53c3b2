/* storage/format_int.h — on-disk layouts of the partition log (FORMAT.md).
 *
 * Segment header (64 bytes, at position 0 of <base>.log), all big-endian:
 *    0 u32 magic "SLOG"          4 u16 format version (1)   6 u16 header size (64)
 *    8 i64 base offset          16 16B previous segment's final chain value
 *   32 i64 creation time (ms)   40 u32 flags (bit 0: cleaned, see cleaner.c)
 *   44 16B link-out chain value (cleaned segments; zero otherwise)
 *   60 u32 XXH32 (seed 0) of bytes [0, 60)
 * Then record batches (v2) end to end. A sealed segment ends with a seal
 * (64 bytes) shaped like a batch prefix so a scan meets it where a batch would be:
 *    0 i64 -1 (no batch has a negative base offset)   8 i32 52 (bytes after this)
 *   12 u32 magic "SEAL"         16 16B final chain value
 *   32 i64 last offset          40 i64 max timestamp     48 i64 offset of max ts
 *   56 u32 zero                 60 u32 XXH32 of bytes [0, 60)
 * Offset index entry (40 bytes): 0 u32 offset - base, 4 u32 position of that
 *   batch, 8 16B chain value before that batch, 24 i64 max timestamp of the
 *   segment before that batch (-1 none), 32 u32 relative last offset of the
 *   batch holding it, 36 u32 XXH32 of [0, 36).
 * Time index entry (16 bytes): 0 i64 max timestamp so far, 8 u32 relative
 *   offset of the batch holding it, 12 u32 XXH32 of [0, 12).
 * Chain: chain_n = XXH3_128(chain_{n-1} (16 bytes, canonical) ‖ batch bytes). */
#ifndef SL_FORMAT_INT_H
#define SL_FORMAT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chain.h"

#define SL_SEG_MAGIC       0x534C4F47u /* "SLOG" */
#define SL_SEAL_MAGIC      0x5345414Cu /* "SEAL" */
#define SL_SEG_VERSION     1
#define SL_SEG_HDR_BYTES   64
#define SL_SEAL_BYTES      64
#define SL_OIDX_BYTES      40
#define SL_TIDX_BYTES      16
#define SL_BATCH_HDR_BYTES 61
#define SL_BATCH_MIN_LEN   49 /* smallest batchLength */

#define SL_ATTR_LOG_APPEND_TIME 0x08

/* Decoded record batch header (fields we use). */
typedef struct sl_batch_hdr {
        int64_t base_offset;
        int32_t batch_len; /* bytes after the length field */
        int32_t epoch;
        int8_t magic;
        uint32_t crc;
        int16_t attributes;
        int32_t last_offset_delta;
        int64_t max_ts;
        int32_t records;
} sl_batch_hdr;

/* Header flag: a segment written by the cleaner (offset gaps allowed; link_out
 * is the chain value the next segment's header may name instead of the seal's). */
#define SL_SEG_FLAG_CLEANED 1u

typedef struct sl_seg_hdr {
        int64_t base_offset;
        sl_chain prev_chain;
        int64_t created_ms;
        uint32_t flags;    /* SL_SEG_FLAG_* */
        sl_chain link_out; /* with SL_SEG_FLAG_CLEANED, else zero */
} sl_seg_hdr;

typedef struct sl_seal {
        sl_chain chain;
        int64_t last_offset;
        int64_t max_ts;
        int64_t max_ts_offset;
} sl_seal;

typedef struct sl_oidx_entry {
        uint32_t rel_offset;
        uint32_t pos;
        sl_chain chain;        /* chain value before the batch at pos */
        int64_t max_ts_before; /* segment max timestamp before this batch, -1 if none */
        uint32_t max_ts_rel;   /* relative last offset of the batch holding it */
} sl_oidx_entry;

typedef struct sl_tidx_entry {
        int64_t ts;
        uint32_t rel_offset;
} sl_tidx_entry;

static inline uint16_t sl_be16(const uint8_t *p)
{
        return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t sl_be32(const uint8_t *p)
{
        return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t sl_be64(const uint8_t *p)
{
        return ((uint64_t)sl_be32(p) << 32) | sl_be32(p + 4);
}
static inline void sl_put16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}
static inline void sl_put32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
}
static inline void sl_put64(uint8_t *p, uint64_t v)
{
        sl_put32(p, (uint32_t)(v >> 32));
        sl_put32(p + 4, (uint32_t)v);
}

/* p holds at least SL_BATCH_HDR_BYTES. */
void sl_batch_hdr_decode(const uint8_t *p, sl_batch_hdr *h);
/* CRC32C of the batch's [21, size) against its crc field. */
bool sl_batch_crc_ok(const uint8_t *p, size_t size);
/* Recomputes and stores the crc field after a rewrite of [21, size). */
void sl_batch_crc_store(uint8_t *p, size_t size);

/* Structural checks that need only the header (magic, lengths, counts).
 * Returns NULL if fine, else a static reason. */
const char *sl_batch_hdr_check(const sl_batch_hdr *h);

void sl_seg_hdr_encode(uint8_t out[SL_SEG_HDR_BYTES], const sl_seg_hdr *h);
/* Returns NULL if valid, else a static reason. */
const char *sl_seg_hdr_decode(const uint8_t in[SL_SEG_HDR_BYTES], sl_seg_hdr *h);

void sl_seal_encode(uint8_t out[SL_SEAL_BYTES], const sl_seal *s);
/* True if the 64 bytes are a valid seal. */
bool sl_seal_decode(const uint8_t in[SL_SEAL_BYTES], sl_seal *s);
/* True if the first 12 bytes look like a seal (base -1, length 52). */
bool sl_seal_prefix(const uint8_t in[12]);

void sl_oidx_encode(uint8_t out[SL_OIDX_BYTES], const sl_oidx_entry *e);
bool sl_oidx_decode(const uint8_t in[SL_OIDX_BYTES], sl_oidx_entry *e);
void sl_tidx_encode(uint8_t out[SL_TIDX_BYTES], const sl_tidx_entry *e);
bool sl_tidx_decode(const uint8_t in[SL_TIDX_BYTES], sl_tidx_entry *e);

static inline bool sl_chain_eq(const sl_chain *a, const sl_chain *b)
{
        for (int i = 0; i < 16; i++)
                if (a->b[i] != b->b[i])
                        return false;
        return true;
}
/* Short hex prefix of a chain value for messages (buf >= 17 bytes). */
void sl_chain_hex(const sl_chain *c, char *buf);

/* "<20-digit base>.<ext>" into buf. */
void sl_seg_name(char *buf, size_t cap, int64_t base, const char *ext);
/* Parses a 20-digit "<base>.log" name; returns false otherwise. */
bool sl_seg_name_parse(const char *name, const char *ext, int64_t *base);

#endif
