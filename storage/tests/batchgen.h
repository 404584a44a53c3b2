/* storage/tests/batchgen.h — test fixture: builds valid Kafka v2 record
 * batches (real varint records, CRC32C) with deterministic contents, and
 * helpers to read back what a log returns, so tests state what they append
 * as a list instead of hand-making files. */
#ifndef SL_TEST_BATCHGEN_H
#define SL_TEST_BATCHGEN_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

/* Builds a batch of nrec records with value_len-byte values derived from
 * seed, timestamps base_ts + i. Returns its size, 0 if cap is too small. */
size_t bg_batch(uint8_t *buf, size_t cap, int nrec, size_t value_len, int64_t base_ts,
                uint32_t seed);
/* Writes v as a zigzag varint (Kafka record encoding); returns its length. */
size_t bg_put_varint(uint8_t *p, int64_t v);
/* Reads the bytes of ranges into a malloc'd buffer (*len set). */
uint8_t *bg_read_ranges(const sl_file_range *r, int n, size_t *len);
/* Makes an empty temp directory; returns a malloc'd path. */
char *bg_tempdir(void);
/* Removes a directory tree made by bg_tempdir (files only, one level). */
void bg_rmdir(const char *dir);
/* Small deterministic PRNG. */
uint32_t bg_rand(uint64_t *state);
/* Segment file path: dir/<20-digit base>.<ext> into buf. */
void bg_seg_path(char *buf, size_t cap, const char *dir, int64_t base, const char *ext);
/* Lists segment bases of dir (ascending) into out (cap); returns count. */
int bg_list_segments(const char *dir, int64_t *out, int cap);
/* Flips one bit of a file. */
void bg_flip_bit(const char *path, int64_t pos, int bit);
int64_t bg_file_size(const char *path);

#endif
