/* broker/fetch_response.h — encodes a FetchResponse (v4-17) whose record
 * bytes stay in segment files.
 *
 * The generated kp_fetch_response_encode needs the records in memory; the
 * data path sends them with sendfile instead (DESIGN.md "Fetch"). So the
 * response is encoded here as memory holding everything but the record
 * bytes, plus one cut point per partition where that partition's file ranges
 * go: memory[0, cut0) · ranges of partition 0 · memory[cut0, cut1) · ... The
 * layout is exactly the generated codec's (broker/tests/test_fetch_response.c
 * decodes the spliced result with kp_fetch_response_decode).
 *
 * Before such a response is sent, its file ranges must be in the page cache:
 * sendfile runs on the connection's reactor, and a range a lagging consumer
 * asks for may have been dropped (storage/log_cache.c) long ago. The handler
 * offers each range to sl_fresp_range_cached (one cachestat(2) each, nothing
 * else on the hot path); the cold ones are read in by the shard's I/O helper
 * (sl_fresp_cold_fill) while the reactor serves other clients, and only then
 * is the response sent. Responses still leave in request order: the request
 * stays pending on its connection meanwhile, its ranges pinned. */
#ifndef SL_FETCH_RESPONSE_H
#define SL_FETCH_RESPONSE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "log.h"
#include "wire.h"

typedef struct sl_fresp_part {
        int32_t partition_index;
        int16_t error_code;
        int64_t high_watermark;
        int64_t last_stable_offset; /* v4+ */
        int64_t log_start_offset;   /* v5+ */
        int32_t diverging_epoch;    /* v12+ tagged, sent unless -1/-1 */
        int64_t diverging_end_offset;
        bool read_committed;   /* aborted transactions: [] instead of null */
        int64_t records_bytes; /* record bytes spliced in at this partition's cut */
} sl_fresp_part;

typedef struct sl_fresp_topic {
        kp_str name; /* v4-12 */
        kp_uuid id;  /* v13+ */
        sl_fresp_part *parts;
        int32_t nparts;
} sl_fresp_topic;

typedef struct sl_fresp {
        int32_t throttle_time_ms;
        int16_t error_code; /* v7+ */
        int32_t session_id; /* v7+ */
        sl_fresp_topic *topics;
        int32_t ntopics;
} sl_fresp;

/* Bytes of memory the encoding takes (record bytes not included). */
size_t sl_fresp_mem_size(const sl_fresp *r, int16_t version);
/* Encodes into buf (exactly sl_fresp_mem_size bytes); cuts[k] receives the
 * offset in buf where the k-th partition (in topic order) has its record
 * bytes. Returns 0, or -1 if buf is not exactly filled or a value cannot be
 * encoded (version < 4 or > 17). */
int sl_fresp_encode(const sl_fresp *r, int16_t version, uint8_t *buf, size_t len, size_t *cuts);

/* The cold ranges of one response (in its request's arena). */
typedef struct sl_fresp_cold sl_fresp_cold;

/* True when r is in the page cache. Otherwise records it in *cold, which is
 * allocated from a (room for max ranges) at the first cold range, and returns
 * false; also true (send as is) when that allocation fails or max is hit. */
bool sl_fresp_range_cached(kp_arena *a, sl_fresp_cold **cold, int32_t max, const sl_file_range *r);

/* Reads the recorded ranges into the page cache on this shard's I/O helper
 * thread, then runs done(arg) on this shard. The ranges must stay pinned (and
 * cold with them) until done has run. */
void sl_fresp_cold_fill(sl_fresp_cold *cold, void (*done)(void *arg), void *arg);

/* Counters of the cold path, process-wide (for tests and operators). */
typedef struct sl_fresp_cold_stats {
        uint64_t fills;        /* responses that waited for the helper */
        uint64_t ranges;       /* ranges read in */
        uint64_t bytes;        /* bytes of those ranges */
        uint64_t fill_errors;  /* fills that failed (the response is sent anyway) */
        uint64_t header_fills; /* owner reads that waited for a header window */
} sl_fresp_cold_stats;
void sl_fresp_cold_stats_get(sl_fresp_cold_stats *out);
/* Counts one header window brought in for an owner's read (fetch_owner.c). */
void sl_fresp_cold_count_header_fill(void);

/* Test hook: the helper sleeps this long after each fill (0: never), so a
 * test can show the reactor serving others meanwhile. Read only on the cold
 * path. */
extern _Atomic int sl_fresp_cold_delay_ms;

#endif
