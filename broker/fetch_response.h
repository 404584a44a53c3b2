/* broker/fetch_response.h — encodes a FetchResponse (v4-17) whose record
 * bytes stay in segment files.
 *
 * The generated kp_fetch_response_encode needs the records in memory; the
 * data path sends them with sendfile instead (DESIGN.md "Fetch"). So the
 * response is encoded here as memory holding everything but the record
 * bytes, plus one cut point per partition where that partition's file ranges
 * go: memory[0, cut0) · ranges of partition 0 · memory[cut0, cut1) · ... The
 * layout is exactly the generated codec's (broker/tests/test_fetch_response.c
 * decodes the spliced result with kp_fetch_response_decode). */
#ifndef SL_FETCH_RESPONSE_H
#define SL_FETCH_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

#endif
