/* storage/tests/faultops.c — see faultops.h. */
#include "faultops.h"

#include <errno.h>
#include <string.h>

#include "fileops_int.h"

faultops_state fo;

static int should_fail(int op)
{
        atomic_fetch_add(&fo.calls[op], 1);
        if (atomic_load(&fo.fail_op) != op)
                return 0;
        return atomic_fetch_sub(&fo.fail_after, 1) <= 0;
}

static ssize_t f_pwritev(int fd, const struct iovec *iov, int n, int64_t off)
{
        if (should_fail(FO_PWRITEV))
                return -fo.fail_errno;
        return sl_fileops_posix.pwritev(fd, iov, n, off);
}

static int f_fdatasync(int fd)
{
        if (should_fail(FO_FDATASYNC))
                return -fo.fail_errno;
        return sl_fileops_posix.fdatasync(fd);
}

static int f_fsync(int fd)
{
        if (should_fail(FO_FSYNC))
                return -fo.fail_errno;
        return sl_fileops_posix.fsync(fd);
}

static int f_open(const char *p, int flags, int mode)
{
        if (should_fail(FO_OPEN))
                return -fo.fail_errno;
        return sl_fileops_posix.open(p, flags, mode);
}

static sl_fileops probe_ops;

void faultops_install(void)
{
        for (int i = 0; i < FO_NOPS; i++)
                atomic_store(&fo.calls[i], 0);
        atomic_store(&fo.fail_op, -1);
        probe_ops = sl_fileops_posix;
        probe_ops.pwritev = f_pwritev;
        probe_ops.fdatasync = f_fdatasync;
        probe_ops.fsync = f_fsync;
        probe_ops.open = f_open;
        sl_fileops_set(&probe_ops);
}

void faultops_uninstall(void)
{
        sl_fileops_set(NULL);
}

void faultops_arm(int op, int n, int err)
{
        fo.fail_errno = err;
        atomic_store(&fo.fail_after, n);
        atomic_store(&fo.fail_op, op);
}
