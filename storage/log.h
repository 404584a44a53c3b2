/* storage/log.h — one partition's log: CRC-chained segments on disk.
 *
 * A partition directory holds `<base>.log` segments of Kafka record batches
 * (stored as received, after offset assignment), sparse `<base>.index` and
 * `<base>.timeindex` files, a `leader-epoch-checkpoint` and a `log-start-offset`
 * file; the byte layout is in storage/FORMAT.md. Every batch extends a hash
 * chain (XXH3-128) so damage is detected and located (storage/verify.h).
 *
 * Ownership: an sl_log belongs to one thread (the partition's owner shard).
 * Only sl_sync_job_run() may run on another thread, concurrently with appends.
 * Errors: functions return 0, -errno for OS failures or an SL_E* code below;
 * append results also carry the Kafka error code to put on the wire. */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sl_log sl_log;

/* Our own error codes, in a range that never collides with -errno. */
enum {
        SL_ECORRUPT = -1000,    /* bytes on disk fail a CRC, checksum or the chain */
        SL_EFATAL = -1001,      /* an earlier write/fdatasync failed; reopen the log */
        SL_EINVALID = -1002,    /* a batch handed to append is malformed */
        SL_ETOOLARGE = -1003,   /* a batch exceeds max.message.bytes or a segment */
        SL_EOFFSET = -1004,     /* offset outside [log start, log end] */
        SL_ENOTFOUND = -1005,   /* no such timestamp / epoch */
        SL_ECONFIG = -1006,     /* invalid configuration value */
        SL_EPIN = -1007,        /* too many pinned ranges / unknown fd to release */
        SL_ESTALE_EPOCH = -1008 /* append with a leader epoch below the latest one */
};

/* Names an SL_E* code or a -errno value. */
const char *sl_log_strerror(int err);

/* Topic-level settings, Kafka's names. */
typedef struct sl_log_config {
        int64_t segment_bytes;       /* segment.bytes: roll past this size (1 GiB) */
        int64_t segment_ms;          /* segment.ms: roll a segment older than this (7 days) */
        int64_t segment_index_bytes; /* segment.index.bytes: roll when the index is full (10 MiB) */
        int32_t index_interval_bytes; /* index.interval.bytes: bytes between index entries (4096) */
        int64_t retention_ms;         /* retention.ms, -1 = forever (7 days) */
        int64_t retention_bytes;      /* retention.bytes, -1 = unlimited */
        int64_t flush_messages;       /* flush.messages, -1 = never by count */
        int64_t flush_ms;             /* flush.ms, -1 = never by time */
        bool log_append_time;         /* message.timestamp.type=LogAppendTime */
        int32_t max_message_bytes;    /* max.message.bytes (1048588) */
        /* Page cache (not durability; log_cache.c): start writeback of each
         * writeback_bytes appended (8 MiB; 0 = leave it to the kernel), and
         * drop clean cached data more than cache_retain_bytes behind the log
         * end (log.page.cache.retain.bytes, 64 MiB; 0 = never drop). */
        int64_t writeback_bytes;
        int64_t cache_retain_bytes;
} sl_log_config;

sl_log_config sl_log_config_default(void);
/* 0 if storage can run a log with cfg (segment.bytes 1024..4 GiB, room for four
 * offset-index entries, positive segment.ms, index interval and max message
 * size), else SL_ECONFIG. Admin requests check before persisting a config. */
int sl_log_config_check(const sl_log_config *cfg);

/* What went wrong at open, for logs and operators. */
typedef struct sl_log_error {
        int code;          /* SL_E* or -errno */
        int64_t offset;    /* offending offset, -1 if none */
        int64_t position;  /* byte position in file, -1 if none */
        char file[256];    /* file name (within the directory), "" if none */
        char message[512]; /* human sentence naming file, offset and position */
} sl_log_error;

/* Opens (creating if needed) the partition log in dir and recovers it: the
 * tail past the last index entry is validated (CRC and chain) and a torn last
 * batch truncated; missing/damaged indexes are rebuilt; sealed segments must
 * link into one chain or the open fails with err naming file/offset/position.
 * Allocates. err may be NULL. */
int sl_log_open(const char *dir, const sl_log_config *cfg, int64_t now_ms, sl_log **out,
                sl_log_error *err);

/* Syncs (a clean shutdown leaves everything durable and sealed), writes the
 * index entries and closes every file. Pinned ranges must have been released
 * and every prepared sync job completed first. */
void sl_log_close(sl_log *log);

/* Result of appending one buffer of batches. */
typedef struct sl_append_result {
        int64_t base_offset;     /* offset of the buffer's first record, -1 on error */
        int64_t last_offset;     /* offset of the buffer's last record, -1 on error */
        int64_t log_append_time; /* broker time stamped (LogAppendTime), else -1 */
        int16_t error_code;      /* Kafka error code for the wire, 0 on success */
        int err;                 /* internal code (0, SL_E*, -errno) */
} sl_append_result;

/* One buffer of concatenated record batches, rewritten in place on append.
 * Initialize it whole (designated initializer) so crc_checked is false unless
 * the caller really verified the CRCs. */
typedef struct sl_append_buf {
        uint8_t *p;
        size_t len;
        bool crc_checked; /* caller verified every batch's CRC32C (protocol/record_batch.c
                           * on produce): storage skips re-checksumming the same bytes */
} sl_append_buf;

/* Validates every batch of buf (magic 2, CRC32C, batchLength, recordsCount ==
 * lastOffsetDelta + 1, max.message.bytes), assigns offsets, stamps leader_epoch
 * (leader_epoch < 0 keeps each batch's own epoch: the follower path) and, when
 * configured, LogAppendTime, extends the chain and writes with one pwritev.
 * Returns 0 or the error also stored in res. Nothing is durable until a sync. */
int sl_log_append(sl_log *log, uint8_t *batches, size_t len, int32_t leader_epoch, int64_t now_ms,
                  sl_append_result *res);

/* Appends n buffers with one pwritev per segment touched. A buffer with a bad
 * batch fails alone (res[i]); the others are appended. Returns 0 if every
 * buffer was appended, else the first error. */
int sl_log_append_v(sl_log *log, sl_append_buf *bufs, int n, int32_t leader_epoch, int64_t now_ms,
                    sl_append_result *res);

int64_t sl_log_start_offset(const sl_log *log);
/* Offset the next appended record gets (Kafka's log end offset). */
int64_t sl_log_end_offset(const sl_log *log);
/* Every offset below this is durable (covered by a completed fdatasync). */
int64_t sl_log_flushed_offset(const sl_log *log);
/* True once an I/O failure latched the log: appends fail until reopened. */
bool sl_log_failed(const sl_log *log);

/* Group commit. prepare captures the files with unsynced bytes and the offset
 * they cover (pinning them, so a roll or deletion cannot close them); run does
 * only fdatasync/fsync syscalls and may run on a helper thread while the owner
 * keeps appending; complete (owner thread) advances the flushed offset, or on
 * rc != 0 latches the log fatal (never retry an fsync and carry on). */
/* With more dirty segments than this (tiny segments), a job covers the
 * oldest ones and job.offset says up to where. */
#define SL_SYNC_MAX_FILES 32
/* Page-cache ranges per job (write-behind, drop-behind); more wait a job. */
#define SL_CACHE_MAX_RANGES 8
typedef struct sl_cache_range {
        int fd;
        int64_t off, len;
        void *seg; /* pinned segment (internal) */
} sl_cache_range;
typedef struct sl_sync_job {
        int nfiles;                       /* files to fdatasync */
        int fds[SL_SYNC_MAX_FILES];       /* their descriptors */
        int64_t sizes[SL_SYNC_MAX_FILES]; /* bytes each sync covers */
        void *segs[SL_SYNC_MAX_FILES];    /* pinned segments (internal) */
        int dir_fd;                       /* directory to fsync, or -1 */
        uint64_t dir_gen;                 /* directory change generation covered */
        int64_t offset;                   /* flushed offset once the job succeeds */
        int64_t messages;                 /* records covered (flush.messages) */
        uint64_t trunc_gen;               /* log truncations seen at prepare */
        bool durable;                     /* fdatasync part: complete advances the flushed offset */
        bool cache;                       /* carries page-cache work (below) */
        int nwb;                          /* start writeback of these (no wait) */
        sl_cache_range wb[SL_CACHE_MAX_RANGES];
        int ndrop; /* wait until written back, then drop from the page cache */
        sl_cache_range drop[SL_CACHE_MAX_RANGES];
} sl_sync_job;

/* Returns 1 if there is something to sync (job filled), 0 if not, <0 on a
 * latched log. Every job prepared must be completed. */
int sl_log_sync_prepare(sl_log *log, sl_sync_job *job);
/* Any thread. Returns 0 or -errno of the first failing fdatasync/fsync. */
int sl_sync_job_run(const sl_sync_job *job);
/* The same in two steps, so durability can be reported before the job's
 * page-cache work (log_cache.c) is done: run_durable (fdatasync/fsync) then
 * run_cache (write-behind, drop-behind); complete_durable publishes the
 * first, complete_cache the second. Both completions must happen, in that
 * order, and before a later job of the same log completes (either step may
 * consume the file's writeback error; a failure of either latches the log). */
int sl_sync_job_run_durable(const sl_sync_job *job);
int sl_sync_job_run_cache(const sl_sync_job *job);
int sl_log_sync_complete_durable(sl_log *log, sl_sync_job *job, int rc);
int sl_log_sync_complete_cache(sl_log *log, sl_sync_job *job, int rc);
/* Owner thread. Returns rc, or SL_EFATAL if the log was already latched. */
int sl_log_sync_complete(sl_log *log, sl_sync_job *job, int rc);
/* prepare + run + complete on the calling thread. */
int sl_log_sync(sl_log *log);

/* Write-behind and drop-behind, so a partition's dirty and cached tail stay
 * bounded and the kernel recycles warm pages instead of growing the page
 * cache (log_cache.c says why). A job from sl_log_cache_prepare carries only
 * page-cache work: run it with sl_sync_job_run and finish it with
 * sl_log_sync_complete like any job; it never advances the flushed offset.
 * A durable job (sl_log_sync_prepare) carries the same work when it is due.
 * A range is dropped only after the job itself waited for it to be written
 * back; a failed writeback latches the log like a failed fdatasync. */
/* Owner thread, cheap (after each append): cache work is due and no job
 * carrying some is in flight. */
bool sl_log_cache_due(const sl_log *log);
/* Returns 1 (job filled), 0 (nothing due or a job in flight) or <0 (latched). */
int sl_log_cache_prepare(sl_log *log, sl_sync_job *job);
/* flush.messages / flush.ms policy: true when unsynced data has waited long
 * enough. acks=-1 produces sync regardless (the broker asks). */
bool sl_log_sync_due(const sl_log *log, int64_t now_ms);

/* A byte range of a segment file, ready for sendfile. */
typedef struct sl_file_range {
        int fd;
        int64_t pos;
        int64_t len;
} sl_file_range;

/* File ranges covering whole batches, from the batch that contains offset,
 * below max_offset (exclusive, e.g. the high watermark), at most max_bytes
 * (but the first batch is returned whole even if larger: KIP-74). Each range
 * pins its segment until sl_log_release_ranges(). *n_out = 0 when offset ==
 * max_offset or the log end. Returns SL_EOFFSET outside [start, end]. */
int sl_log_read(sl_log *log, int64_t offset, int64_t max_offset, size_t max_bytes,
                sl_file_range *ranges, int max_ranges, int *n_out);
/* Unpins what sl_log_read returned; a deleted segment's fd closes on the last
 * unpin. */
void sl_log_release_ranges(sl_log *log, const sl_file_range *ranges, int n);

/* ListOffsets by timestamp: the first batch whose maxTimestamp >= ts, giving
 * its base offset and max timestamp (batch granularity: a batch is the unit
 * stored and fetched). SL_ENOTFOUND if none. */
int sl_log_offset_for_timestamp(sl_log *log, int64_t ts, int64_t *offset, int64_t *found_ts);
/* Largest timestamp in the log and the offset of its batch's last record
 * (ListOffsets MAX_TIMESTAMP); -1/-1 for an empty log. */
int sl_log_max_timestamp(sl_log *log, int64_t *ts, int64_t *offset);
/* OffsetForLeaderEpoch: the largest epoch <= epoch and the start offset of
 * the next larger epoch (or the log end). SL_ENOTFOUND when epoch is below
 * every known epoch. */
int sl_log_end_offset_for_epoch(sl_log *log, int32_t epoch, int32_t *found_epoch,
                                int64_t *end_offset);
/* Header fields of one stored batch, for rebuilding state from the log:
 * producer ids and sequences (idempotence), transactional and control batches
 * (last stable offset, aborted transactions). */
typedef struct sl_batch_meta {
        int64_t base_offset;
        int64_t last_offset;
        int64_t max_timestamp;
        int64_t producer_id;    /* -1 if none */
        int16_t producer_epoch; /* -1 if none */
        int32_t base_sequence;  /* -1 if none */
        int16_t attributes;     /* bit 4 transactional, bit 5 control */
        int32_t leader_epoch;
        int32_t size_bytes; /* whole batch */
} sl_batch_meta;

/* Calls fn for every batch with last offset >= from and base offset < to, in
 * order, reading headers only (one pread per 64 KiB). fn returning nonzero
 * stops the walk and is returned. */
int sl_log_for_each_batch(sl_log *log, int64_t from, int64_t to,
                          int (*fn)(void *arg, const sl_batch_meta *m), void *arg);

/* Latest leader epoch stored, -1 if none. */
int32_t sl_log_latest_epoch(const sl_log *log);

/* Removes every record at or above offset (follower truncation on a diverged
 * log, Raft). offset must be >= the high watermark the caller guarantees. */
int sl_log_truncate(sl_log *log, int64_t offset);

/* DeleteRecords: advances the log start offset (persisted) and drops segments
 * wholly below it. SL_EOFFSET if new_start > end. */
int sl_log_delete_records(sl_log *log, int64_t new_start_offset);
/* Deletes whole segments past retention.ms / beyond retention.bytes; never the
 * active segment. Returns the number of segments deleted or <0. */
int sl_log_enforce_retention(sl_log *log, int64_t now_ms);
/* Live topic config change. */
int sl_log_set_config(sl_log *log, const sl_log_config *cfg);
/* Topic deletion: removes a (closed) partition directory and its files. */
int sl_log_remove_dir(const char *dir);

/* Counters for metrics and the bench. */
typedef struct sl_log_stats {
        int64_t segments;        /* open segments */
        int64_t size_bytes;      /* bytes on disk in segments */
        int64_t syncs;           /* completed sync jobs */
        int64_t appends;         /* batches appended */
        int64_t writeback_bytes; /* bytes whose writeback a cache job started */
        int64_t dropped_bytes;   /* bytes dropped from the page cache (clean) */
} sl_log_stats;
void sl_log_get_stats(const sl_log *log, sl_log_stats *st);

/* ---- Log compaction (cleanup.policy=compact), storage/cleaner*.c ----
 * Rewrites the sealed segments below the cleanable end keeping, per key, only
 * the record with the largest offset; tombstones (null value) already in the
 * cleaned part go once older than delete.retention.ms. Offsets are kept (gaps
 * are normal), batches keep their header (base offset, last offset delta,
 * producer id/epoch/sequence); an idempotent producer's last batch survives
 * empty. Small segments merge. The chain rule and the crash-safe swap are in
 * FORMAT.md ("Compaction"). Three steps, like group commit: prepare and
 * complete on the owner thread, run on any thread (reads pinned segments,
 * writes `.cleaned` files; touches no log state). */
typedef struct sl_clean_config {
        double min_cleanable_dirty_ratio; /* min.cleanable.dirty.ratio (0.5) */
        int64_t min_compaction_lag_ms;    /* min.compaction.lag.ms (0) */
        int64_t max_compaction_lag_ms;    /* max.compaction.lag.ms: dirty data this old is
                                           * cleaned whatever the ratio (INT64_MAX) */
        int64_t delete_retention_ms;      /* delete.retention.ms (86400000) */
        int64_t max_offset;  /* clean only below this (high watermark); INT64_MAX: no limit */
        size_t dedupe_bytes; /* offset map memory (log.cleaner.dedupe.buffer.size share; 16 MiB) */
        size_t io_buffer_bytes; /* read/write buffers, each (1 MiB) */
} sl_clean_config;

sl_clean_config sl_clean_config_default(void);

/* What a cleaning did (valid after complete). */
typedef struct sl_clean_stats {
        int64_t segments_in;     /* segments replaced */
        int64_t segments_out;    /* segments written */
        int64_t bytes_in;        /* their sizes before */
        int64_t bytes_out;       /* and after */
        int64_t records_kept;    /* records read and kept */
        int64_t records_dropped; /* superseded by a later record of the key */
        int64_t tombstones_dropped;
        int64_t first_dirty; /* dirty section cleaned: [first_dirty, end) */
        int64_t end;
        double dirty_ratio; /* at prepare */
} sl_clean_stats;

typedef struct sl_clean_job sl_clean_job;

/* Owner thread. Returns 1 with *job (allocated; pins the segments it reads)
 * when the log has something to clean (a dirty section of sealed segments
 * whose records are all older than min.compaction.lag.ms, below max_offset,
 * at least min.cleanable.dirty.ratio of the cleanable bytes), 0 if not, <0
 * on error. Every job prepared must be completed. */
int sl_clean_prepare(sl_log *log, const sl_clean_config *cfg, int64_t now_ms, sl_clean_job **job);
/* Any thread: builds the offset map and writes the cleaned segments as
 * `.cleaned` files (fdatasync'd). Returns 0 or -errno / SL_E*. */
int sl_clean_job_run(sl_clean_job *job);
/* Owner thread: if rc == 0 and the replaced segments are all still there,
 * swaps the cleaned segments in (crash-safe); else removes the `.cleaned`
 * files. Unpins, fills st (may be NULL). Returns rc, 0, or the swap's error
 * (an I/O failure in the swap latches the log). The job must then be freed
 * with sl_clean_job_free. */
int sl_clean_complete(sl_log *log, sl_clean_job *job, int rc, sl_clean_stats *st);
/* Any thread, after complete: the job holds the last descriptors of the
 * replaced segments, so the kernel frees their blocks and page cache (tens of
 * ms for large segments) here, not on the owner thread. */
void sl_clean_job_free(sl_clean_job *job);
/* Any thread: asks a running sl_clean_job_run to stop at the next batch; it
 * then returns -ECANCELED (complete discards its output). */
void sl_clean_job_cancel(sl_clean_job *job);
/* prepare + run + complete on the calling thread: 1 if it cleaned, 0 if
 * there was nothing to do, <0 on error. */
int sl_log_clean(sl_log *log, const sl_clean_config *cfg, int64_t now_ms, sl_clean_stats *st);
/* ---- end of log compaction ---- */

#endif
