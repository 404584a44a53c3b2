/* storage/tests/recovery_check.h — the check every crash test makes of a
 * recovered log directory: open accepts it, it holds a prefix of what was
 * written that covers everything synced, appends continue at its end, and
 * verify finds no damage. */
#ifndef SL_TEST_RECOVERY_CHECK_H
#define SL_TEST_RECOVERY_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

/* Batch k of seed, as the test wrote it; returns its size. */
typedef size_t (*rc_gen_fn)(uint64_t seed, int64_t k, uint8_t *buf, size_t cap);

/* Fails the test (cmocka) unless dir, opened with cfg, holds batches 0..
 * of gen(seed, ...) in order, byte for byte past their base offsets, ending
 * at or after `flushed` records and after at most `written` batches (-1: no
 * bound); then appends one batch at the end, syncs, closes and verifies. */
void rc_check_recovered(const char *dir, const sl_log_config *cfg, uint64_t seed, int64_t flushed,
                        int64_t written, rc_gen_fn gen);

#endif
