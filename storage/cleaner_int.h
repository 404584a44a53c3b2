/* storage/cleaner_int.h — private parts of log compaction (cleaner*.c): the
 * bounded offset map (key hash -> last offset), the producer table (pid ->
 * base offset of its last batch) and the clean job itself.
 *
 * A job is prepared on the owner thread (sources pinned, plan fixed), run on
 * any thread (reads only the pinned sources, writes only `.cleaned` files and
 * the job's own memory) and completed on the owner thread (the swap). */
#ifndef SL_CLEANER_INT_H
#define SL_CLEANER_INT_H

#include "log_int.h"

#include <stdatomic.h>
#include "record_batch.h"

/* ---- cleaner_map.c ---- */
/* Open addressing, linear probing; 24 bytes a slot (XXH3-128 of the key and
 * the offset), filled to at most 90% (Kafka's load factor). */
typedef struct cl_map {
        uint8_t *slots;  /* cap * CL_SLOT_BYTES; offset -1 = empty */
        uint64_t cap;    /* power of two */
        uint64_t n;      /* keys held */
        uint64_t max_n;  /* 90% of cap */
        uint64_t probes; /* stats: slots looked at */
} cl_map;
#define CL_SLOT_BYTES 24

/* Sized from bytes (at least 1024 slots). 0 or -ENOMEM. */
int cl_map_init(cl_map *m, size_t bytes);
void cl_map_free(cl_map *m);
/* Records offset as the latest for key (a larger offset replaces a smaller
 * one). Returns 0, or -ENOSPC when the map is full (nothing changed). */
int cl_map_put(cl_map *m, const uint8_t *key, size_t len, int64_t offset);
/* Latest offset of key, -1 if unknown. */
int64_t cl_map_get(const cl_map *m, const uint8_t *key, size_t len);

/* Producer id -> base offset of its last batch in the cleaned range. */
typedef struct cl_pids {
        int64_t *pid; /* -1 = empty */
        int64_t *base;
        uint32_t cap, n;
} cl_pids;
int cl_pids_put(cl_pids *t, int64_t pid, int64_t base_offset);
int64_t cl_pids_last(const cl_pids *t, int64_t pid);
void cl_pids_free(cl_pids *t);

/* ---- the job ---- */
typedef struct cl_src {
        sl_segment *seg; /* pinned until complete */
        int fd;
        int64_t base, next, data_end, size;
        int64_t time_ms;      /* largest timestamp (else creation time) */
        int64_t created_ms;   /* from its header */
        sl_chain prev_chain;  /* from its header: the chain before its first batch */
        sl_chain chain;       /* from its seal: the chain after its last batch */
        sl_chain link_out;    /* from its header (cleaned sources) */
        sl_chain next_prev;   /* what the segment after it names in its header */
        bool cleaned;         /* already a cleaned segment */
        bool dirty;           /* in the dirty section: feeds the offset map */
        bool drop_tombstones; /* clean section, older than delete.retention.ms */
} cl_src;

typedef struct cl_out {
        int first, count;   /* sources [first, first + count) */
        int64_t base, next; /* offsets it covers */
        sl_chain link_out;  /* what the segment after it names */
        int64_t created_ms;
        bool written;    /* `.cleaned` files exist */
        bool changed;    /* differs from its only source: swap it in */
        sl_segment *seg; /* the new segment in memory (index built), fd -1 */
} cl_out;

struct sl_clean_job {
        char *dir;
        sl_clean_config cfg;
        int64_t segment_bytes;
        int32_t index_interval;
        int64_t now_ms;
        uint64_t trunc_gen;
        cl_src *src;
        int nsrc;        /* sources pinned (clean section + dirty section) */
        int first_dirty; /* index of the first dirty source */
        int nclean;      /* sources the map covered: the ones rewritten */
        cl_out *out;
        int nout;
        cl_map map;
        cl_pids pids;
        kp_codec_ctx *cc;
        uint8_t *rbuf, *wbuf, *kbuf, *zbuf; /* read, write, kept records, compressed */
        size_t rcap, wcap, kcap, zcap;
        sl_clean_stats st;
        atomic_int cancel; /* sl_clean_job_cancel: run stops at the next batch */
        int *hold_fds;     /* dups of the sources' fds: their last close is ours */
};

/* ---- cleaner_write.c ---- */
/* Writes out[k]'s `.cleaned` files from its sources (offset map and producer
 * table already built). 0 or -errno / SL_E*. */
int cl_write_output(sl_clean_job *j, int k);
/* Reads the batch at *pos of src into the job's read buffer (*p, *size).
 * Returns 1, 0 at the end of the data, or -errno / SL_ECORRUPT. */
int cl_read_batch(sl_clean_job *j, const cl_src *s, int64_t *pos, int64_t *win_at, size_t *win_len,
                  const uint8_t **p, size_t *size);
/* Records area of a parsed batch, decompressed if needed (valid until the
 * next call on j->cc). 0 or SL_ECORRUPT. */
int cl_batch_records(sl_clean_job *j, const kp_batch *b, const uint8_t **recs, size_t *len);
/* "<dir>/<20-digit base>.<ext>" */
void cl_path(const sl_clean_job *j, char *buf, size_t cap, int64_t base, const char *ext);

/* ---- cleaner_swap.c ---- */
int cl_swap_in(sl_log *log, sl_clean_job *j);
void cl_discard_outputs(sl_clean_job *j);

#endif
