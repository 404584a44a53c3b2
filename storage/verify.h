/* storage/verify.h — `serpentlog verify`'s core: proves a partition
 * directory's integrity without trusting anything in it.
 *
 * Every segment is read in full: header and seal checksums, each batch's
 * framing, magic, CRC32C, offset continuity and leader epoch (against the
 * leader-epoch checkpoint), the chain value at every index entry and at the
 * seal, and the link from each segment to the previous one. The first break is
 * reported with file, offset and byte position. Read-only: nothing is changed
 * (a log being verified may be open by a broker; its unsealed tail may be torn
 * mid-write, which is reported separately from damage). */
#ifndef SL_VERIFY_H
#define SL_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

typedef struct sl_verify_report {
        bool ok;                /* no damage found (a torn active tail is not damage) */
        int64_t segments;       /* segments read */
        int64_t batches;        /* batches verified */
        int64_t bytes;          /* segment bytes read */
        int64_t first_offset;   /* first offset found, -1 if empty */
        int64_t next_offset;    /* one past the last verified offset */
        bool torn_tail;         /* the active segment ends in a partial batch */
        int64_t index_problems; /* damaged/stale index entries (rebuilt at open) */
        /* first damage, when !ok */
        int code;          /* SL_ECORRUPT, or -errno for an I/O failure */
        char file[256];    /* file name within the directory */
        int64_t offset;    /* offset of the damaged batch (or expected there) */
        int64_t position;  /* byte position of the damage's start in file */
        char message[512]; /* what failed, naming file, offset and position */
} sl_verify_report;

/* Verifies one partition directory. Returns 0 when ok, SL_ECORRUPT when
 * damage was found, -errno when the directory could not be read. */
int sl_verify_dir(const char *dir, sl_verify_report *rep);

#endif
