/* broker/producer_ids.c — the producer id allocator and its block
 * reservation file (format in producer_ids.h).
 *
 * The file is tiny and written once per SL_PRODUCER_ID_BLOCK ids, always
 * before any id of the new block is handed out, so a restarted broker (even
 * after kill -9 or power loss) never hands out an id twice: producer state on
 * every partition is keyed by producer id, and a reused id would make a new
 * producer's batches look like duplicates or sequence gaps of an old one. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "producer_ids.h"

#define MAGIC "serpentlog-producer-ids 1 "

int sl_producer_ids_load(const char *data_dir, int64_t *block_end)
{
        char path[4200];
        snprintf(path, sizeof(path), "%s/%s", data_dir, SL_PRODUCER_IDS_FILE);
        *block_end = 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        char buf[128];
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        int rc = n < 0 ? -errno : 0;
        close(fd);
        if (rc < 0)
                return rc;
        buf[n] = 0;
        size_t ml = strlen(MAGIC);
        if ((size_t)n <= ml + 1 || memcmp(buf, MAGIC, ml) || buf[n - 1] != '\n')
                return SL_ECORRUPT;
        int64_t v = 0;
        for (size_t i = ml; i < (size_t)n - 1; i++) {
                if (buf[i] < '0' || buf[i] > '9' || v > (INT64_MAX - 9) / 10)
                        return SL_ECORRUPT;
                v = v * 10 + (buf[i] - '0');
        }
        *block_end = v;
        return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
        while (n) {
                ssize_t w = write(fd, p, n);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

int sl_producer_ids_store(const char *data_dir, int64_t block_end)
{
        char path[4200], tmp[4220], line[64];
        snprintf(path, sizeof(path), "%s/%s", data_dir, SL_PRODUCER_IDS_FILE);
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        int len = snprintf(line, sizeof(line), MAGIC "%" PRId64 "\n", block_end);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        int rc = write_all(fd, line, (size_t)len);
        if (!rc && fsync(fd) < 0)
                rc = -errno;
        if (close(fd) < 0 && !rc)
                rc = -errno;
        if (rc)
                goto remove_tmp;
        if (rename(tmp, path) < 0) {
                rc = -errno;
                goto remove_tmp;
        }
        int dfd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        rc = fsync(dfd) < 0 ? -errno : 0;
        close(dfd);
        return rc;
remove_tmp:
        unlink(tmp);
        return rc;
}

int sl_producer_ids_take(sl_producer_ids *a, int64_t *id)
{
        if (!a->loaded || a->next >= a->limit)
                return -EAGAIN;
        *id = a->next++;
        return 0;
}

void sl_producer_ids_extend(sl_producer_ids *a, int64_t new_limit)
{
        if (new_limit > a->limit)
                a->limit = new_limit;
}
