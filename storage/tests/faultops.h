/* storage/tests/faultops.h — failure probes for the storage file-ops table:
 * counts calls per operation and fails a chosen one (storage.fsync,
 * storage.append) with a chosen errno, Redpanda failure_probes style. */
#ifndef SL_TEST_FAULTOPS_H
#define SL_TEST_FAULTOPS_H

#include <stdatomic.h>

enum { FO_PWRITEV, FO_FDATASYNC, FO_FSYNC, FO_OPEN, FO_NOPS };

typedef struct faultops_state {
        atomic_int calls[FO_NOPS]; /* calls made per op */
        atomic_int fail_op;        /* op to fail, -1 none */
        atomic_int fail_after;     /* successful calls of fail_op before failing */
        int fail_errno;            /* e.g. EIO, ENOSPC */
} faultops_state;

extern faultops_state fo;
/* Installs the probing table (all counters reset, no failure armed). */
void faultops_install(void);
void faultops_uninstall(void);
/* Fails op after n more successful calls. */
void faultops_arm(int op, int n, int err);

#endif
