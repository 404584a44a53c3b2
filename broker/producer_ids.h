/* broker/producer_ids.h — allocation of producer ids (InitProducerId), never
 * reused across restarts.
 *
 * Ids are handed out from blocks of SL_PRODUCER_ID_BLOCK (Kafka's
 * ProducerIdManager reserves blocks of 1000 the same way). Before the first id
 * of a block is given out, the end of the block is persisted in
 * `<data>/producer-ids` (written to a temp file, fsynced, renamed, directory
 * fsynced), so after a crash the next broker starts past every id that may
 * have been used. File format, one line of text:
 *     serpentlog-producer-ids 1 <block_end>\n
 * where block_end is the first id not yet reserved (decimal, >= 0).
 *
 * Owner: shard 0 holds the allocator (handle_init_producer_id.c); the file
 * functions block and run on its I/O helper thread. */
#ifndef SL_PRODUCER_IDS_H
#define SL_PRODUCER_IDS_H

#include <stdbool.h>
#include <stdint.h>

#define SL_PRODUCER_ID_BLOCK 1000
#define SL_PRODUCER_IDS_FILE "producer-ids"

/* In-memory allocator: ids in [next, limit) are reserved on disk. */
typedef struct sl_producer_ids {
        int64_t next;
        int64_t limit;
        bool loaded; /* the file was read (next/limit valid) */
} sl_producer_ids;

/* Reads <data_dir>/producer-ids: *block_end = the reserved end, 0 when the
 * file does not exist. SL_ECORRUPT (storage/log.h) when it cannot be parsed:
 * never guess, a guess could reuse ids. -errno on I/O errors. Blocking. */
int sl_producer_ids_load(const char *data_dir, int64_t *block_end);

/* Persists block_end atomically (temp file, fsync, rename, directory fsync).
 * 0 or -errno. Blocking. */
int sl_producer_ids_store(const char *data_dir, int64_t block_end);

/* Takes the next id: 0 and *id, or -EAGAIN when the reserved block is used up
 * (reserve the next one with sl_producer_ids_store(limit + BLOCK), then call
 * sl_producer_ids_extend). */
int sl_producer_ids_take(sl_producer_ids *a, int64_t *id);
/* After a successful store of new_limit: ids up to new_limit are usable. */
void sl_producer_ids_extend(sl_producer_ids *a, int64_t new_limit);

#endif
