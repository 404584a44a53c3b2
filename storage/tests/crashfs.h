/* storage/tests/crashfs.h — a crash-simulating file layer for the storage
 * file-ops table (SQLite's test6.c idea): it remembers, per file, how much was
 * made durable by fdatasync/fsync and whether its directory entry was synced;
 * crashfs_crash() then does to the unsynced part what a power cut may do:
 * files whose creation was never synced may vanish, and each file keeps a
 * random prefix of its unsynced bytes with some sectors zeroed or garbled. */
#ifndef SL_TEST_CRASHFS_H
#define SL_TEST_CRASHFS_H

#include <stdint.h>

/* Installs the layer (forgetting earlier state). */
void crashfs_install(void);
void crashfs_uninstall(void);
/* Applies a crash to every tracked file, driven by *rng. */
void crashfs_crash(uint64_t *rng);

#endif
