/* storage/tests/crashfs.c — see crashfs.h. Files are tracked by path; the
 * directory fd (opened by the log with plain open(), unknown to this layer)
 * is recognised in fsync and marks every tracked entry durable. Renames are
 * treated as atomic; the library fsyncs the directory right after each. */
#include "crashfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batchgen.h"
#include "fileops_int.h"

#define MAX_FILES 4096
#define MAX_FD    4096
#define SECTOR    512

typedef struct cf_file {
        char path[512];
        bool live;          /* exists (not unlinked) */
        bool entry_durable; /* directory entry synced */
        int64_t durable;    /* bytes made durable */
} cf_file;

static cf_file files[MAX_FILES];
static int nfiles;
static int fdmap[MAX_FD];

static int find(const char *path)
{
        for (int i = 0; i < nfiles; i++)
                if (files[i].live && strcmp(files[i].path, path) == 0)
                        return i;
        return -1;
}

static int add(const char *path, bool exists)
{
        if (nfiles == MAX_FILES)
                abort();
        cf_file *f = &files[nfiles];
        memset(f, 0, sizeof(*f));
        strncpy(f->path, path, sizeof(f->path) - 1);
        f->live = true;
        f->entry_durable = exists;
        if (exists) {
                struct stat st;
                f->durable = stat(path, &st) == 0 ? st.st_size : 0;
        }
        return nfiles++;
}

static int c_open(const char *path, int flags, int mode)
{
        bool existed = access(path, F_OK) == 0;
        int fd = sl_fileops_posix.open(path, flags, mode);
        if (fd < 0 || fd >= MAX_FD)
                return fd;
        int i = find(path);
        if (i < 0)
                i = add(path, existed);
        if (flags & O_TRUNC)
                files[i].durable = 0;
        fdmap[fd] = i;
        return fd;
}

static int c_close(int fd)
{
        if (fd >= 0 && fd < MAX_FD)
                fdmap[fd] = -1;
        return sl_fileops_posix.close(fd);
}

static void mark_synced(int fd)
{
        if (fd < 0 || fd >= MAX_FD || fdmap[fd] < 0) {
                /* The directory: every entry created so far is durable. */
                for (int i = 0; i < nfiles; i++)
                        files[i].entry_durable = true;
                return;
        }
        struct stat st;
        if (fstat(fd, &st) == 0)
                files[fdmap[fd]].durable = st.st_size;
}

static int c_fdatasync(int fd)
{
        int rc = sl_fileops_posix.fdatasync(fd);
        if (rc == 0)
                mark_synced(fd);
        return rc;
}

static int c_fsync(int fd)
{
        int rc = sl_fileops_posix.fsync(fd);
        if (rc == 0)
                mark_synced(fd);
        return rc;
}

static int c_ftruncate(int fd, int64_t len)
{
        int rc = sl_fileops_posix.ftruncate(fd, len);
        if (rc == 0 && fd >= 0 && fd < MAX_FD && fdmap[fd] >= 0 && files[fdmap[fd]].durable > len)
                files[fdmap[fd]].durable = len;
        return rc;
}

static int c_unlink(const char *path)
{
        int i = find(path);
        if (i >= 0)
                files[i].live = false;
        return sl_fileops_posix.unlink(path);
}

static int c_rename(const char *from, const char *to)
{
        int rc = sl_fileops_posix.rename(from, to);
        if (rc < 0)
                return rc;
        int t = find(to);
        if (t >= 0)
                files[t].live = false;
        int f = find(from);
        if (f >= 0)
                strncpy(files[f].path, to, sizeof(files[f].path) - 1);
        return 0;
}

static sl_fileops crash_ops;

void crashfs_install(void)
{
        nfiles = 0;
        for (int i = 0; i < MAX_FD; i++)
                fdmap[i] = -1;
        crash_ops = sl_fileops_posix;
        crash_ops.open = c_open;
        crash_ops.close = c_close;
        crash_ops.fdatasync = c_fdatasync;
        crash_ops.fsync = c_fsync;
        crash_ops.ftruncate = c_ftruncate;
        crash_ops.unlink = c_unlink;
        crash_ops.rename = c_rename;
        sl_fileops_set(&crash_ops);
}

void crashfs_uninstall(void)
{
        sl_fileops_set(NULL);
}

void crashfs_crash(uint64_t *rng)
{
        for (int i = 0; i < nfiles; i++) {
                cf_file *f = &files[i];
                if (!f->live)
                        continue;
                if (!f->entry_durable && bg_rand(rng) % 3 == 0) {
                        unlink(f->path);
                        continue;
                }
                struct stat st;
                if (stat(f->path, &st) != 0 || st.st_size <= f->durable)
                        continue;
                int64_t span = st.st_size - f->durable;
                int64_t cut = f->durable + (int64_t)(bg_rand(rng) % (uint64_t)(span + 1));
                int fd = open(f->path, O_RDWR);
                if (fd < 0)
                        continue;
                /* Whole sectors past the durable point may be lost or torn. */
                for (int64_t s = f->durable / SECTOR * SECTOR; s < cut; s += SECTOR) {
                        uint32_t r = bg_rand(rng) % 12;
                        if (r > 1)
                                continue;
                        uint8_t buf[SECTOR];
                        for (int k = 0; k < SECTOR; k++)
                                buf[k] = r == 0 ? 0 : (uint8_t)bg_rand(rng);
                        int64_t from = s < f->durable ? f->durable : s;
                        int64_t to = s + SECTOR < cut ? s + SECTOR : cut;
                        if (to > from && pwrite(fd, buf, (size_t)(to - from), from) < 0)
                                abort();
                }
                if (ftruncate(fd, cut) < 0)
                        abort();
                close(fd);
        }
}
