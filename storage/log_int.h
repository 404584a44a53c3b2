/* storage/log_int.h — private structures of the partition log: segments, their
 * in-memory indexes, the leader-epoch cache and the sl_log handle.
 *
 * Everything here is owned by the partition's owner thread. The one exception
 * is a pinned segment's fd, which a sync job may fdatasync on a helper thread;
 * pins (refs) keep the fd open across a roll or a deletion. */
#ifndef SL_LOG_INT_H
#define SL_LOG_INT_H

#include "format_int.h"
#include "log.h"

#include <stdio.h>

/* Sparse offset index + time index of one segment, in memory; entries at
 * [persisted, n) are not yet written to the index file (written in bulk). */
typedef struct sl_index {
        sl_oidx_entry *oe;    /* offset entries, ascending offset and position */
        uint32_t on, ocap;    /* count, capacity */
        uint32_t o_persisted; /* entries already in <base>.index */
        sl_tidx_entry *te;    /* time entries, ascending timestamp */
        uint32_t tn, tcap;    /* count, capacity */
        uint32_t t_persisted; /* entries already in <base>.timeindex */
        bool loaded;          /* sealed segments load lazily on first lookup */
        int ofd, tfd;         /* index files while open (active segment), else -1 */
        int64_t bytes_since;  /* batch bytes since the last offset entry */
} sl_index;

typedef struct sl_segment {
        int64_t base_offset;   /* offset of its first record */
        int64_t next_offset;   /* one past its last record */
        int64_t data_end;      /* end of the last batch (the seal starts here) */
        int64_t size;          /* file bytes that belong to the log (incl. seal) */
        int64_t synced_size;   /* bytes covered by a completed fdatasync */
        int64_t wb_size;       /* writeback started (write-behind) up to here */
        int64_t dropped_size;  /* written back and dropped from the page cache below this */
        int64_t prealloc_end;  /* blocks reserved (KEEP_SIZE) up to here */
        int64_t created_ms;    /* from the header; segment.ms */
        int64_t max_ts;        /* largest batch maxTimestamp, -1 if none */
        int64_t max_ts_offset; /* last offset of the batch holding max_ts */
        sl_chain prev_chain;   /* from the header */
        sl_chain chain;        /* after its last batch */
        int fd;                /* the .log file, O_RDWR */
        int refs;              /* pins: reads in flight and sync jobs */
        bool sealed;           /* rolled: no more appends */
        bool seal_written;     /* the seal is in the file (after the data was synced) */
        bool deleted;          /* unlinked; freed on the last unpin */
        bool corrupt;          /* a lazy index rebuild found the chain broken */
        bool hdr_bad;          /* last segment's header torn; rewritten at open */
        bool cleaned;          /* written by the cleaner: offset gaps, link_out */
        sl_chain link_out;     /* cleaned: chain value the next header may name */
        sl_index idx;
} sl_segment;

typedef struct sl_epoch_entry {
        int32_t epoch;
        int64_t start_offset;
} sl_epoch_entry;

struct sl_log {
        char *dir;  /* partition directory (owned copy) */
        int dir_fd; /* for fsync after creating/removing files */
        sl_log_config cfg;
        sl_segment **segs; /* ascending base offset; last is active */
        int nsegs, segcap;
        sl_segment **zombies; /* deleted but still pinned */
        int nzombies, zombiecap;
        int64_t start_offset;       /* log start offset (DeleteRecords, retention) */
        int64_t end_offset;         /* next offset to assign */
        int64_t flushed_offset;     /* durable below this */
        int64_t unflushed_msgs;     /* records appended since the last prepare */
        int64_t unflushed_since_ms; /* time of the first such append, -1 if none */
        uint64_t dir_gen;           /* bumps on every file creation/removal */
        uint64_t dir_synced_gen;    /* generation covered by the last dir fsync */
        uint64_t trunc_gen;         /* bumps on sl_log_truncate */
        bool fatal;                 /* latched after a failed write or sync */
        int fatal_err;
        sl_epoch_entry *epochs; /* leader-epoch cache, ascending */
        int nepochs, epochcap;
        uint64_t epoch_gen;        /* bumps on every checkpoint rewrite */
        uint64_t epoch_synced_gen; /* rewrite covered by a completed sync job */
        struct iovec *iov;         /* pwritev vector for append_v, reused */
        int iovcap;
        int64_t syncs, appends;          /* stats */
        int64_t cache_unsent;            /* bytes appended since the last cache job */
        bool cache_busy;                 /* a job with cache work is in flight */
        uint64_t cache_trunc_gen;        /* truncations the cache positions account for */
        int64_t wb_bytes, dropped_bytes; /* stats */
};

/* ---- segment.c ---- */
/* Path of a file in the log directory. */
void sl_log_path(const sl_log *log, char *buf, size_t cap, int64_t base, const char *ext);
/* Creates <base>.log with its header (and empty index files). Allocates. */
int sl_segment_create(sl_log *log, int64_t base, const sl_chain *prev, int64_t now_ms,
                      sl_segment **out);
/* Writes the seal after the last batch (marks the segment sealed). */
int sl_segment_seal(sl_log *log, sl_segment *seg);
/* Writes the seals of rolled segments whose data is now durable. */
int sl_segment_write_due_seals(sl_log *log);
/* Seals the active segment and starts a new one at the log end offset. */
int sl_segment_roll(sl_log *log, int64_t now_ms);
/* Writes index entries [persisted, n) to the index files (no fsync). */
int sl_segment_flush_index(sl_log *log, sl_segment *seg);
/* Unlinks the segment's files and frees it (or parks it while pinned). */
int sl_segment_delete(sl_log *log, sl_segment *seg);
void sl_segment_unpin(sl_log *log, sl_segment *seg);
void sl_segment_free(sl_segment *seg);
/* Accounts one batch of size bytes at pos about to be stored in seg: adds an
 * offset index entry when index.interval.bytes have passed since the last one
 * (always for the first batch), updates the segment's max timestamp and adds
 * a time index entry when it grew. chain_before: the chain before the batch. */
int sl_index_note_batch(sl_segment *seg, int64_t interval, int64_t base_offset, int64_t last_offset,
                        int64_t max_ts, int64_t pos, int64_t size, const sl_chain *chain_before);
/* Index entry with the largest offset <= offset (or the first). */
const sl_oidx_entry *sl_index_floor(const sl_segment *seg, int64_t offset);
/* Loads the index files and scans from the last good entry: for the active
 * segment truncates a torn tail; for a sealed one the scan must end at the
 * seal with its chain value, else SL_ECORRUPT (seg->corrupt). */
int sl_segment_recover(sl_log *log, sl_segment *seg, bool active, sl_log_error *err);
void sl_segment_close_index(sl_segment *seg);
/* Loads a sealed segment's index files, rebuilding them if damaged. */
int sl_segment_load_index(sl_log *log, sl_segment *seg);
/* Index of the segment holding offset (last with base <= offset), or -1. */
int sl_log_find_segment(const sl_log *log, int64_t offset);

/* ---- scan.c: walking batches on disk ---- */
typedef struct sl_scan {
        /* in */
        int fd;
        int64_t pos;            /* where to start (a batch boundary) */
        int64_t file_size;      /* stop here */
        int64_t next_offset;    /* offset the first batch must start at */
        sl_chain chain;         /* chain value before the first batch */
        bool allow_seal;        /* a seal may end the data */
        bool allow_gaps;        /* cleaned segment: baseOffset may skip offsets */
        sl_segment *index_into; /* feed index entries into this segment, or NULL */
        int64_t index_interval;
        /* out (updated per batch) */
        int64_t batches;
        int64_t max_ts, max_ts_offset;
        int32_t last_epoch;
        bool sealed;
        sl_seal seal;
        /* first failure: why, and where */
        const char *why;
        int64_t bad_pos;
        int64_t bad_offset;
        /* optional per-batch hook (verify, epoch rebuild); a reason stops */
        const char *(*on_batch)(void *arg, const sl_batch_hdr *h, int64_t pos,
                                const sl_chain *before);
        void *arg;
} sl_scan;

/* Walks batches from s->pos checking framing, magic, CRC32C and offset
 * continuity, extending the chain. Stops at the first bad batch (why set), at
 * a seal, or at file_size. Returns 0 or -errno/-ENOMEM (I/O, not data). */
int sl_scan_run(sl_scan *s);

/* ---- epoch.c ---- */
int sl_epoch_load(sl_log *log);
/* Rewrites the checkpoint (temp file + rename). durable=false leaves its
 * fdatasync and the directory fsync to the next sync job (log_sync.c), which
 * does them before any data fdatasync; durable=true does them here. */
int sl_epoch_store(sl_log *log, bool durable);
/* Opens the checkpoint for a sync job to fdatasync (fd or -errno). */
int sl_epoch_open_for_sync(const sl_log *log);
/* Records that epoch starts at offset; a new one rewrites the checkpoint
 * without syncing (the sync job that makes its data durable syncs it). */
int sl_epoch_assign(sl_log *log, int32_t epoch, int64_t offset);
/* Drops entries at or above end offset. */
int sl_epoch_truncate(sl_log *log, int64_t end_offset);
/* Expected epoch of offset per the cache, or -1 if unknown. */
int32_t sl_epoch_for_offset(const sl_epoch_entry *e, int n, int64_t offset);
int sl_epoch_parse_file(const char *path, sl_epoch_entry **out, int *n);
/* sl_scan hook adding each new epoch met to log's cache (arg = log). */
const char *sl_epoch_scan_hook(void *arg, const sl_batch_hdr *h, int64_t pos,
                               const sl_chain *before);
/* Rebuilds the cache from every batch header (when the checkpoint is lost). */
int sl_epoch_rebuild(sl_log *log);

/* ---- cleaner_swap.c ---- */
/* Does a segment whose header names prev_chain continue a? (a's final chain,
 * or for a cleaned segment also the link-out value in its header.) */
static inline bool sl_segment_links_to(const sl_segment *a, const sl_chain *prev_chain)
{
        return sl_chain_eq(&a->chain, prev_chain) ||
               (a->cleaned && sl_chain_eq(&a->link_out, prev_chain));
}
/* Open pass 0: deletes half-written `.cleaned` files and finishes committed
 * `.swap` replacements (see FORMAT.md, "Compaction"). */
int sl_clean_finish_swaps(sl_log *log);
/* End offset (seal last offset + 1) of a committed `<base>.log.swap` at path,
 * after checking its header and seal; SL_ECORRUPT if they are not valid. */
int sl_clean_swap_end(const char *path, int64_t base, int64_t *end);

/* ---- log_start.c helpers (in retention.c) ---- */
int sl_log_start_store(sl_log *log);
int sl_log_start_load(sl_log *log, int64_t *start);

int sl_log_config_check(const sl_log_config *c);

/* ---- log_cache.c: write-behind / drop-behind ranges of a sync job ---- */
/* Adds the page-cache ranges due to job (pinning their segments). */
void sl_log_cache_fill(sl_log *log, sl_sync_job *job);
/* Records what the job's ranges did (rc == 0) and unpins them. */
void sl_log_cache_complete(sl_log *log, sl_sync_job *job, int rc);

/* Latches the log after an I/O failure; returns SL_EFATAL. */
int sl_log_latch(sl_log *log, int err);

/* Grows *arr to hold at least need elements of size sz. */
int sl_grow(void **arr, uint32_t *cap, uint32_t need, size_t sz);

#endif
